/* SPDX-License-Identifier: ISC */
/*
 * crypto.h: the MLS cipher suites kpool supports and the RFC 9420 §5
 * helpers built on them.  Internal to libkpool.
 *
 * Both suites (0x0001 and 0x0003) use SHA-256, HMAC-SHA256, X25519 and
 * Ed25519; they differ only in the AEAD.  Every secret buffer the
 * functions use is wiped before they return.
 */
#ifndef KP_CRYPTO_H
#define KP_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "kpool.h"

#define KP_HASH_LEN	32	/* Nh: SHA-256 */
#define KP_SIG_LEN	64	/* Ed25519 */
#define KP_SIGN_SK_LEN	64	/* libsodium's seed || public key */
#define KP_NONCE_LEN	12	/* Nn of both AEADs */
#define KP_TAG_LEN	16	/* Nt of both AEADs */
#define KP_AEAD_MAXKEY	32

/* HPKE AEAD identifiers (RFC 9180 §7.3). */
#define KP_AEAD_AES128GCM	0x0001
#define KP_AEAD_CHACHA20	0x0003

struct kp_suite {
	uint16_t	id;		/* MLS cipher suite */
	uint16_t	aead;		/* KP_AEAD_* */
	size_t		nh;		/* hash and KDF output */
	size_t		nk;		/* AEAD key */
	size_t		nn;		/* AEAD nonce */
};

/*
 * kp_crypto_init: run sodium_init() and fetch the OpenSSL algorithms,
 * once per process whichever thread comes first.  Every entry point of
 * the library that uses libsodium's RNG or primitives calls it first.
 * KP_OK, or KP_ECRYPTO when a library does not initialise.
 */
int	kp_crypto_init(void) KP_WUR;

/* kp_suite_find: the suite with this id, or NULL when unsupported. */
const struct kp_suite *kp_suite_find(uint16_t id);

/*
 * kp_x25519_small_order: 1 when pk is an X25519 public key of small
 * order (an all-zero shared secret with any private key), else 0.
 */
int	kp_x25519_small_order(const uint8_t pk[KP_KEY_LEN]);
/* kp_sha256: out = SHA-256(buf); needs no kp_crypto_init(). */
void	kp_sha256(const void *buf, size_t len, uint8_t out[KP_HASH_LEN]);
/* kp_hmac: out = HMAC-SHA256(key, msg). */
int	kp_hmac(const uint8_t *key, size_t klen, const uint8_t *msg,
	    size_t mlen, uint8_t out[KP_HASH_LEN]) KP_WUR;
/* kp_hkdf_extract: RFC 5869 Extract; an empty salt means Nh zeros. */
int	kp_hkdf_extract(const uint8_t *salt, size_t slen, const uint8_t *ikm,
	    size_t ilen, uint8_t prk[KP_HASH_LEN]) KP_WUR;
/* kp_hkdf_expand: RFC 5869 Expand of olen (<= 255 * Nh) bytes. */
int	kp_hkdf_expand(const uint8_t *prk, size_t plen, const uint8_t *info,
	    size_t ilen, uint8_t *out, size_t olen) KP_WUR;

/* kp_expand_with_label: ExpandWithLabel (RFC 9420 §8). */
int	kp_expand_with_label(const uint8_t *secret, size_t slen,
	    const char *label, const uint8_t *ctx, size_t clen, uint8_t *out,
	    size_t olen) KP_WUR;
/* kp_derive_secret: DeriveSecret = ExpandWithLabel(s, label, "", Nh). */
int	kp_derive_secret(const uint8_t *secret, size_t slen,
	    const char *label, uint8_t out[KP_HASH_LEN]) KP_WUR;
/* kp_ref_hash: RefHash(label, value) = H(label<V> || value<V>). */
int	kp_ref_hash(const char *label, const uint8_t *value, size_t vlen,
	    uint8_t out[KP_HASH_LEN]) KP_WUR;

/*
 * kp_sign_with_label: SignWithLabel (RFC 9420 §5.1.2) with the libsodium
 * Ed25519 secret key sk (seed || public key).
 */
int	kp_sign_with_label(const uint8_t sk[KP_SIGN_SK_LEN], const char *label,
	    const uint8_t *content, size_t clen, uint8_t sig[KP_SIG_LEN]) KP_WUR;
/*
 * kp_verify_with_label: VerifyWithLabel; KP_OK when it verifies,
 * KP_ECRYPTO when it does not (callers map it to their own code).
 */
int	kp_verify_with_label(const uint8_t *pk, size_t pklen, const char *label,
	    const uint8_t *content, size_t clen, const uint8_t *sig,
	    size_t siglen) KP_WUR;

/*
 * kp_aead_seal: encrypt pt into ct (ptlen + KP_TAG_LEN bytes) with the
 * AEAD aead (KP_AEAD_*), a key of its size and a 12-byte nonce.
 */
int	kp_aead_seal(uint16_t aead, const uint8_t *key,
	    const uint8_t nonce[KP_NONCE_LEN], const uint8_t *aad,
	    size_t aadlen, const uint8_t *pt, size_t ptlen, uint8_t *ct) KP_WUR;
/* kp_aead_open: decrypt ct into pt (ctlen - KP_TAG_LEN); KP_EDECRYPT. */
int	kp_aead_open(uint16_t aead, const uint8_t *key,
	    const uint8_t nonce[KP_NONCE_LEN], const uint8_t *aad,
	    size_t aadlen, const uint8_t *ct, size_t ctlen, uint8_t *pt) KP_WUR;
/* kp_aead_keylen: Nk of aead, 0 when unknown. */
size_t	kp_aead_keylen(uint16_t aead);

#endif /* KP_CRYPTO_H */
