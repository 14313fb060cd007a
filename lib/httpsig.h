/* SPDX-License-Identifier: ISC */
/*
 * httpsig.h: kpool's profile of HTTP Message Signatures (RFC 9421) and
 * Content-Digest (RFC 9530), internal to libkpool and kpool-server.
 *
 *	Content-Digest: sha-256=:B64:
 *	Signature-Input: kpool=("@method" "@path" "@query" "content-digest");
 *	    created=UNIX;nonce="RANDOM";keyid="USERNAME";alg="ed25519"
 *	Signature: kpool=:B64:
 *
 * Both halves live here: the client signs, the server parses and
 * verifies, over one construction of the signature base.
 */
#ifndef KP_HTTPSIG_H
#define KP_HTTPSIG_H

#include <stddef.h>
#include <stdint.h>

#include "kpool.h"

#define KP_HTTPSIG_LABEL	"kpool"
#define KP_HTTPSIG_WINDOW	300	/* seconds a signature stays fresh */
#define KP_HTTPSIG_MAX_NONCE	64
#define KP_HTTPSIG_MAX_PATH	2048
#define KP_HTTPSIG_DIGEST_LEN	56	/* "sha-256=:" 44 ":" NUL, rounded */

/* The three headers of a signed request. */
struct kp_httpsig {
	char	digest[KP_HTTPSIG_DIGEST_LEN];	/* Content-Digest */
	char	input[256 + KP_MAX_USERNAME];	/* Signature-Input */
	char	signature[128];			/* Signature */
};

/* What the server learns from parsing Signature-Input and Signature. */
struct kp_httpsig_params {
	char	 keyid[KP_MAX_USERNAME + 1];
	char	 nonce[KP_HTTPSIG_MAX_NONCE + 1];
	int64_t	 created;
	char	 params[256 + KP_MAX_USERNAME];	/* @signature-params value */
	uint8_t	 sig[64];
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

/*
 * kp_httpsig_parse: parse the Signature-Input and Signature values of
 * a request into *out.  Anything but the exact profile is KP_EAUTH,
 * with a static reason in *why.
 */
int kp_httpsig_parse(const char *input, const char *signature,
    struct kp_httpsig_params *out, const char **why) KP_WUR;

/*
 * kp_httpsig_check_digest: KP_OK when header is the Content-Digest of
 * body, else KP_EAUTH with a static reason in *why.
 */
int kp_httpsig_check_digest(const char *header, const void *body,
    size_t len, const char **why) KP_WUR;

/*
 * kp_httpsig_verify: verify the parsed signature p over the request's
 * components with the Ed25519 public key pk.  The caller checks the
 * freshness of p->created and the nonce.  A NULL component or a digest
 * longer than a Content-Digest of ours is refused before anything is
 * built.  KP_OK or KP_EAUTH (*why);
 * KP_ECRYPTO when libsodium does not initialise.
 */
int kp_httpsig_verify(const struct kp_httpsig_params *p, const char *method,
    const char *path, const char *query, const char *digest,
    const uint8_t pk[32], const char **why) KP_WUR;

#endif /* KP_HTTPSIG_H */
