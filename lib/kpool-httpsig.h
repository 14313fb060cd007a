/* SPDX-License-Identifier: ISC */
/*
 * kpool-httpsig.h: the verifying half of kpool's profile of HTTP Message
 * Signatures (RFC 9421) with Content-Digest (RFC 9530), public for the
 * server that checks what libkpool's client signs:
 *
 *	Content-Digest: sha-256=:B64:
 *	Signature-Input: kpool=("@method" "@path" "@query" "content-digest");
 *	    created=UNIX;nonce="RANDOM";keyid="USERNAME";alg="ed25519"
 *	Signature: kpool=:B64:
 */
#ifndef KPOOL_HTTPSIG_H
#define KPOOL_HTTPSIG_H

#include <stddef.h>
#include <stdint.h>

#include "kpool.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KP_HTTPSIG_WINDOW	300	/* seconds a signature stays fresh */
#define KP_HTTPSIG_MAX_NONCE	64	/* characters of a nonce */

/* What a verifier learns from parsing Signature-Input and Signature. */
struct kp_httpsig_params {
	char	 keyid[KP_MAX_PRINCIPAL + 1];	/* user or user/device */
	char	 nonce[KP_HTTPSIG_MAX_NONCE + 1];
	int64_t	 created;
	char	 params[256 + KP_MAX_PRINCIPAL];	/* @signature-params value */
	uint8_t	 sig[64];
};

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

#ifdef __cplusplus
}
#endif

#endif /* KPOOL_HTTPSIG_H */
