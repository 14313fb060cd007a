/* SPDX-License-Identifier: ISC */
/*
 * hpke.h: RFC 9180 HPKE in base mode with DHKEM(X25519, HKDF-SHA256),
 * HKDF-SHA256 and AES-128-GCM or ChaCha20-Poly1305, and the MLS
 * EncryptWithLabel/DecryptWithLabel on top (RFC 9420 §5.1.3).
 * Internal to libkpool.
 */
#ifndef KP_HPKE_H
#define KP_HPKE_H

#include <stddef.h>
#include <stdint.h>

#include "kpool.h"
#include "crypto.h"

#define KP_HPKE_KEM_X25519	0x0020
#define KP_HPKE_KDF_SHA256	0x0001
#define KP_HPKE_ENC_LEN		32

/* An HPKE context (RFC 9180 §5.1); wipe it with kp_hpke_ctx_wipe(). */
struct kp_hpke_ctx {
	uint16_t	aead;
	size_t		nk;
	uint8_t		key[KP_AEAD_MAXKEY];
	uint8_t		base_nonce[KP_NONCE_LEN];
	uint8_t		exporter_secret[KP_HASH_LEN];
	uint64_t	seq;
	/* key schedule intermediates, kept for the test vectors */
	uint8_t		ksc[1 + 2 * KP_HASH_LEN];
	uint8_t		secret[KP_HASH_LEN];
};

/* kp_hpke_derive_keypair: DeriveKeyPair(ikm) of DHKEM(X25519). */
int	kp_hpke_derive_keypair(const uint8_t *ikm, size_t ilen,
	    uint8_t sk[KP_KEY_LEN], uint8_t pk[KP_KEY_LEN]) KP_WUR;
/*
 * kp_hpke_encap: Encap(pkR) with the ephemeral skE, or a random one when
 * skE is NULL; fills the shared secret and enc.
 */
int	kp_hpke_encap(const uint8_t pkR[KP_KEY_LEN], const uint8_t *skE,
	    uint8_t shared[KP_HASH_LEN], uint8_t enc[KP_HPKE_ENC_LEN]) KP_WUR;
/* kp_hpke_decap: Decap(enc, skR); KP_EDECRYPT for a bad enc. */
int	kp_hpke_decap(const uint8_t *enc, size_t enclen,
	    const uint8_t skR[KP_KEY_LEN], uint8_t shared[KP_HASH_LEN]) KP_WUR;
/* kp_hpke_key_schedule: KeyScheduleS/R in base mode. */
int	kp_hpke_key_schedule(uint16_t aead, const uint8_t shared[KP_HASH_LEN],
	    const uint8_t *info, size_t ilen, struct kp_hpke_ctx *ctx) KP_WUR;
/* kp_hpke_seal: Seal at ctx->seq, then seq++; ct holds ptlen + 16. */
int	kp_hpke_seal(struct kp_hpke_ctx *ctx, const uint8_t *aad,
	    size_t aadlen, const uint8_t *pt, size_t ptlen, uint8_t *ct) KP_WUR;
/* kp_hpke_open: Open at ctx->seq, then seq++; KP_EDECRYPT. */
int	kp_hpke_open(struct kp_hpke_ctx *ctx, const uint8_t *aad,
	    size_t aadlen, const uint8_t *ct, size_t ctlen, uint8_t *pt) KP_WUR;
/* kp_hpke_export: Export(exporter_context, L). */
int	kp_hpke_export(const struct kp_hpke_ctx *ctx, const uint8_t *ectx,
	    size_t elen, uint8_t *out, size_t olen) KP_WUR;
/* kp_hpke_ctx_wipe: wipe every secret of ctx. */
void	kp_hpke_ctx_wipe(struct kp_hpke_ctx *ctx);

/*
 * kp_encrypt_with_label: EncryptWithLabel(pub, label, context, pt).
 * kem_output gets enc; *ct is malloc'd (ptlen + 16 bytes), caller frees.
 */
int	kp_encrypt_with_label(const struct kp_suite *s,
	    const uint8_t pub[KP_KEY_LEN], const char *label,
	    const uint8_t *context, size_t clen, const uint8_t *pt,
	    size_t ptlen, uint8_t kem_output[KP_HPKE_ENC_LEN], uint8_t **ct,
	    size_t *ctlen) KP_WUR;
/*
 * kp_decrypt_with_label: DecryptWithLabel(priv, label, context,
 * kem_output, ct) into pt (at least ctlen bytes); *ptlen its length.
 * KP_EDECRYPT when it does not open.
 */
int	kp_decrypt_with_label(const struct kp_suite *s,
	    const uint8_t priv[KP_KEY_LEN], const char *label,
	    const uint8_t *context, size_t clen, const uint8_t *kem_output,
	    size_t kemlen, const uint8_t *ct, size_t ctlen, uint8_t *pt,
	    size_t *ptlen) KP_WUR;

#endif /* KP_HPKE_H */
