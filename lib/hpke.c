/* SPDX-License-Identifier: ISC */
/*
 * hpke.c: RFC 9180 HPKE, base mode, DHKEM(X25519, HKDF-SHA256) with
 * HKDF-SHA256 and AES-128-GCM or ChaCha20-Poly1305; and the MLS
 * EncryptWithLabel/DecryptWithLabel built on it.
 */

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "hpke.h"
#include "tls.h"

#define HPKE_V1		"HPKE-v1"
#define MLS_PREFIX	"MLS 1.0 "

/* suite_id of the KEM alone ("KEM" || kem_id) or of HPKE. */
static size_t
suite_id(uint8_t *buf, int kem, uint16_t aead)
{
	if (kem) {
		memcpy(buf, "KEM\x00\x20", 5);
		return 5;
	}
	memcpy(buf, "HPKE\x00\x20\x00\x01", 8);
	buf[8] = (uint8_t)(aead >> 8);
	buf[9] = (uint8_t)aead;
	return 10;
}

/* LabeledExtract(salt, label, ikm) of RFC 9180 §4. */
static int
labeled_extract(const uint8_t *sid, size_t sidlen, const uint8_t *salt,
    size_t slen, const char *label, const uint8_t *ikm, size_t ilen,
    uint8_t out[KP_HASH_LEN])
{
	struct kp_wb	w;
	int		rc;

	kp_wb_init(&w, (size_t)1 << 30);
	kp_wb_bytes(&w, HPKE_V1, sizeof(HPKE_V1) - 1);
	kp_wb_bytes(&w, sid, sidlen);
	kp_wb_bytes(&w, label, strlen(label));
	kp_wb_bytes(&w, ikm, ilen);
	if ((rc = w.err) == KP_OK)
		rc = kp_hkdf_extract(salt, slen, w.buf, w.len, out);
	kp_wb_free(&w);
	return rc;
}

/* LabeledExpand(prk, label, info, L) of RFC 9180 §4. */
static int
labeled_expand(const uint8_t *sid, size_t sidlen, const uint8_t *prk,
    const char *label, const uint8_t *info, size_t ilen, uint8_t *out,
    size_t olen)
{
	struct kp_wb	w;
	int		rc;

	if (olen > 0xffff)
		return KP_EINVAL;
	kp_wb_init(&w, (size_t)1 << 30);
	kp_wb_u16(&w, (uint16_t)olen);
	kp_wb_bytes(&w, HPKE_V1, sizeof(HPKE_V1) - 1);
	kp_wb_bytes(&w, sid, sidlen);
	kp_wb_bytes(&w, label, strlen(label));
	kp_wb_bytes(&w, info, ilen);
	if ((rc = w.err) == KP_OK)
		rc = kp_hkdf_expand(prk, KP_HASH_LEN, w.buf, w.len, out, olen);
	kp_wb_free(&w);
	return rc;
}

int
kp_hpke_derive_keypair(const uint8_t *ikm, size_t ilen,
    uint8_t sk[KP_KEY_LEN], uint8_t pk[KP_KEY_LEN])
{
	uint8_t	sid[10], prk[KP_HASH_LEN];
	size_t	sl = suite_id(sid, 1, 0);
	int	rc;

	if ((rc = labeled_extract(sid, sl, NULL, 0, "dkp_prk", ikm, ilen,
	    prk)) != KP_OK)
		goto out;
	if ((rc = labeled_expand(sid, sl, prk, "sk", NULL, 0, sk,
	    KP_KEY_LEN)) != KP_OK)
		goto out;
	if (crypto_scalarmult_base(pk, sk) != 0)
		rc = KP_ECRYPTO;
out:
	if (rc != KP_OK)
		sodium_memzero(sk, KP_KEY_LEN);
	sodium_memzero(prk, sizeof(prk));
	return rc;
}

/* ExtractAndExpand(dh, kem_context) of DHKEM. */
static int
extract_and_expand(const uint8_t dh[KP_KEY_LEN], const uint8_t *enc,
    const uint8_t *pkR, uint8_t shared[KP_HASH_LEN])
{
	uint8_t	sid[10], prk[KP_HASH_LEN], kctx[2 * KP_KEY_LEN];
	size_t	sl = suite_id(sid, 1, 0);
	int	rc;

	memcpy(kctx, enc, KP_KEY_LEN);
	memcpy(kctx + KP_KEY_LEN, pkR, KP_KEY_LEN);
	if ((rc = labeled_extract(sid, sl, NULL, 0, "eae_prk", dh, KP_KEY_LEN,
	    prk)) == KP_OK)
		rc = labeled_expand(sid, sl, prk, "shared_secret", kctx,
		    sizeof(kctx), shared, KP_HASH_LEN);
	sodium_memzero(prk, sizeof(prk));
	return rc;
}

int
kp_hpke_encap(const uint8_t pkR[KP_KEY_LEN], const uint8_t *skE,
    uint8_t shared[KP_HASH_LEN], uint8_t enc[KP_HPKE_ENC_LEN])
{
	uint8_t	sk[KP_KEY_LEN], dh[KP_KEY_LEN];
	int	rc;

	if ((rc = kp_crypto_init()) != KP_OK)
		return rc;
	rc = KP_ECRYPTO;
	if (skE != NULL)
		memcpy(sk, skE, KP_KEY_LEN);
	else
		randombytes_buf(sk, sizeof(sk));
	if (crypto_scalarmult_base(enc, sk) != 0 ||
	    crypto_scalarmult(dh, sk, pkR) != 0)
		goto out;
	rc = extract_and_expand(dh, enc, pkR, shared);
out:
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(dh, sizeof(dh));
	return rc;
}

int
kp_hpke_decap(const uint8_t *enc, size_t enclen,
    const uint8_t skR[KP_KEY_LEN], uint8_t shared[KP_HASH_LEN])
{
	uint8_t	pkR[KP_KEY_LEN], dh[KP_KEY_LEN];
	int	rc;

	if (enclen != KP_HPKE_ENC_LEN)
		return KP_EDECRYPT;
	if ((rc = kp_crypto_init()) != KP_OK)
		return rc;
	rc = KP_EDECRYPT;
	/* an all-zero shared secret (small-order enc) is refused */
	if (crypto_scalarmult(dh, skR, enc) != 0 ||
	    crypto_scalarmult_base(pkR, skR) != 0)
		goto out;
	rc = extract_and_expand(dh, enc, pkR, shared);
out:
	sodium_memzero(dh, sizeof(dh));
	return rc;
}

int
kp_hpke_key_schedule(uint16_t aead, const uint8_t shared[KP_HASH_LEN],
    const uint8_t *info, size_t ilen, struct kp_hpke_ctx *ctx)
{
	uint8_t	sid[10];
	size_t	sl = suite_id(sid, 0, aead);
	int	rc;

	memset(ctx, 0, sizeof(*ctx));
	ctx->aead = aead;
	if ((ctx->nk = kp_aead_keylen(aead)) == 0)
		return KP_ESUITE;
	ctx->ksc[0] = 0x00;	/* mode_base */
	if ((rc = labeled_extract(sid, sl, NULL, 0, "psk_id_hash", NULL, 0,
	    ctx->ksc + 1)) != KP_OK ||
	    (rc = labeled_extract(sid, sl, NULL, 0, "info_hash", info, ilen,
	    ctx->ksc + 1 + KP_HASH_LEN)) != KP_OK ||
	    (rc = labeled_extract(sid, sl, shared, KP_HASH_LEN, "secret",
	    NULL, 0, ctx->secret)) != KP_OK ||
	    (rc = labeled_expand(sid, sl, ctx->secret, "key", ctx->ksc,
	    sizeof(ctx->ksc), ctx->key, ctx->nk)) != KP_OK ||
	    (rc = labeled_expand(sid, sl, ctx->secret, "base_nonce", ctx->ksc,
	    sizeof(ctx->ksc), ctx->base_nonce, KP_NONCE_LEN)) != KP_OK ||
	    (rc = labeled_expand(sid, sl, ctx->secret, "exp", ctx->ksc,
	    sizeof(ctx->ksc), ctx->exporter_secret, KP_HASH_LEN)) != KP_OK)
		kp_hpke_ctx_wipe(ctx);
	return rc;
}

static int
nonce(const struct kp_hpke_ctx *ctx, uint8_t out[KP_NONCE_LEN])
{
	int	i;

	if (ctx->seq == UINT64_MAX)
		return KP_ECRYPTO;	/* MessageLimitReachedError */
	memcpy(out, ctx->base_nonce, KP_NONCE_LEN);
	for (i = 0; i < 8; i++)
		out[KP_NONCE_LEN - 1 - i] ^= (uint8_t)(ctx->seq >> (8 * i));
	return KP_OK;
}

/* Seal or open at ctx->seq with the nonce of RFC 9180 §5.2; seq++. */
static int
hpke_crypt(struct kp_hpke_ctx *ctx, int seal, const uint8_t *aad,
    size_t aadlen, const uint8_t *in, size_t inlen, uint8_t *out)
{
	uint8_t	n[KP_NONCE_LEN];
	int	rc;

	if ((rc = nonce(ctx, n)) != KP_OK)
		return rc;
	rc = seal ? kp_aead_seal(ctx->aead, ctx->key, n, aad, aadlen, in,
	    inlen, out) : kp_aead_open(ctx->aead, ctx->key, n, aad, aadlen,
	    in, inlen, out);
	if (rc == KP_OK)
		ctx->seq++;
	return rc;
}

int
kp_hpke_seal(struct kp_hpke_ctx *ctx, const uint8_t *aad, size_t aadlen,
    const uint8_t *pt, size_t ptlen, uint8_t *ct)
{
	return hpke_crypt(ctx, 1, aad, aadlen, pt, ptlen, ct);
}

int
kp_hpke_open(struct kp_hpke_ctx *ctx, const uint8_t *aad, size_t aadlen,
    const uint8_t *ct, size_t ctlen, uint8_t *pt)
{
	return hpke_crypt(ctx, 0, aad, aadlen, ct, ctlen, pt);
}

int
kp_hpke_export(const struct kp_hpke_ctx *ctx, const uint8_t *ectx,
    size_t elen, uint8_t *out, size_t olen)
{
	uint8_t	sid[10];
	size_t	sl = suite_id(sid, 0, ctx->aead);

	return labeled_expand(sid, sl, ctx->exporter_secret, "sec", ectx,
	    elen, out, olen);
}

void
kp_hpke_ctx_wipe(struct kp_hpke_ctx *ctx)
{
	sodium_memzero(ctx, sizeof(*ctx));
}

/* EncryptContext {label<V> = "MLS 1.0 " + label, context<V>} as info. */
static int
encrypt_context(const char *label, const uint8_t *context, size_t clen,
    struct kp_wb *w)
{
	size_t	ln = strlen(label);

	kp_wb_init(w, (size_t)1 << 30);
	kp_wb_varint(w, sizeof(MLS_PREFIX) - 1 + ln);
	kp_wb_bytes(w, MLS_PREFIX, sizeof(MLS_PREFIX) - 1);
	kp_wb_bytes(w, label, ln);
	kp_wb_vec(w, context, clen);
	return w->err;
}

int
kp_encrypt_with_label(const struct kp_suite *s, const uint8_t pub[KP_KEY_LEN],
    const char *label, const uint8_t *context, size_t clen, const uint8_t *pt,
    size_t ptlen, uint8_t kem_output[KP_HPKE_ENC_LEN], uint8_t **ct,
    size_t *ctlen)
{
	struct kp_hpke_ctx	 ctx;
	struct kp_wb		 info;
	uint8_t			 shared[KP_HASH_LEN], *c = NULL;
	int			 rc;

	*ct = NULL;
	*ctlen = 0;
	memset(&ctx, 0, sizeof(ctx));
	if (ptlen > KP_VARINT_MAX)
		return KP_ETOOBIG;
	if ((rc = encrypt_context(label, context, clen, &info)) != KP_OK)
		goto out;
	if ((rc = kp_hpke_encap(pub, NULL, shared, kem_output)) != KP_OK ||
	    (rc = kp_hpke_key_schedule(s->aead, shared, info.buf, info.len,
	    &ctx)) != KP_OK)
		goto out;
	if ((c = malloc(ptlen + KP_TAG_LEN)) == NULL) {
		rc = KP_ENOMEM;
		goto out;
	}
	if ((rc = kp_hpke_seal(&ctx, NULL, 0, pt, ptlen, c)) != KP_OK)
		goto out;
	*ct = c;
	*ctlen = ptlen + KP_TAG_LEN;
	c = NULL;
out:
	free(c);
	kp_wb_free(&info);
	kp_hpke_ctx_wipe(&ctx);
	sodium_memzero(shared, sizeof(shared));
	return rc;
}

int
kp_decrypt_with_label(const struct kp_suite *s, const uint8_t priv[KP_KEY_LEN],
    const char *label, const uint8_t *context, size_t clen,
    const uint8_t *kem_output, size_t kemlen, const uint8_t *ct, size_t ctlen,
    uint8_t *pt, size_t *ptlen)
{
	struct kp_hpke_ctx	 ctx;
	struct kp_wb		 info;
	uint8_t			 shared[KP_HASH_LEN];
	int			 rc;

	*ptlen = 0;
	memset(&ctx, 0, sizeof(ctx));
	if (ctlen < KP_TAG_LEN)
		return KP_EDECRYPT;
	if ((rc = encrypt_context(label, context, clen, &info)) != KP_OK)
		goto out;
	if ((rc = kp_hpke_decap(kem_output, kemlen, priv, shared)) != KP_OK ||
	    (rc = kp_hpke_key_schedule(s->aead, shared, info.buf, info.len,
	    &ctx)) != KP_OK ||
	    (rc = kp_hpke_open(&ctx, NULL, 0, ct, ctlen, pt)) != KP_OK)
		goto out;
	*ptlen = ctlen - KP_TAG_LEN;
out:
	kp_wb_free(&info);
	kp_hpke_ctx_wipe(&ctx);
	sodium_memzero(shared, sizeof(shared));
	return rc;
}
