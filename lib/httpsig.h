/* SPDX-License-Identifier: ISC */
/*
 * httpsig.h: the signing half of kpool's profile of HTTP Message
 * Signatures (RFC 9421) and Content-Digest (RFC 9530), internal to
 * libkpool; the verifying half is public in kpool-httpsig.h.  Both
 * halves are built in httpsig.c, over one construction of the
 * signature base.
 */
#ifndef KP_HTTPSIG_H
#define KP_HTTPSIG_H

#include <stddef.h>
#include <stdint.h>

#include "kpool.h"
#include "kpool-httpsig.h"

#define KP_HTTPSIG_LABEL	"kpool"
#define KP_HTTPSIG_MAX_PATH	2048
#define KP_HTTPSIG_DIGEST_LEN	56	/* "sha-256=:" 44 ":" NUL, rounded */

/* The three headers of a signed request. */
struct kp_httpsig {
	char	digest[KP_HTTPSIG_DIGEST_LEN];	/* Content-Digest */
	char	input[256 + KP_MAX_PRINCIPAL];	/* Signature-Input */
	char	signature[128];			/* Signature */
};

/*
 * kp_httpsig_digest: the Content-Digest value "sha-256=:B64:" of body
 * (len may be 0; a NULL body is the empty one whatever len says) into
 * out.
 */
void kp_httpsig_digest(const void *body, size_t len,
    char out[KP_HTTPSIG_DIGEST_LEN]);

/*
 * kp_httpsig_sign: sign a request as keyid with the Ed25519 secret key
 * sk (libsodium's 64-byte form) at time created, with a fresh random
 * nonce.  path is the absolute path, query the raw query without its
 * '?' ("" when none).  Fills *out.  KP_EINVAL when a part is too long
 * or keyid is not a valid user name.
 */
int kp_httpsig_sign(const char *method, const char *path, const char *query,
    const void *body, size_t len, const char *keyid, const uint8_t sk[64],
    int64_t created, struct kp_httpsig *out) KP_WUR;

#endif /* KP_HTTPSIG_H */
