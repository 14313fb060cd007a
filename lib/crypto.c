/* SPDX-License-Identifier: ISC */
/*
 * crypto.c: cipher suites and the RFC 9420 §5 helpers (ExpandWithLabel,
 * DeriveSecret, RefHash, SignWithLabel, ...).  SHA-256, X25519, Ed25519
 * and ChaCha20-Poly1305 come from libsodium; HMAC and AES-128-GCM from
 * OpenSSL 3.  HKDF is written on HMAC rather than EVP_KDF because
 * OpenSSL 3.0 caps the HKDF info at 1024 bytes, and ExpandWithLabel's
 * context (a GroupContext) can be longer.
 */

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>

#include "crypto.h"
#include "tls.h"

#define LABEL_PREFIX	"MLS 1.0 "
#define MAX_LABEL	255

static const struct kp_suite suites[] = {
	{ KP_SUITE_X25519_AES128GCM, KP_AEAD_AES128GCM, 32, 16, 12 },
	{ KP_SUITE_X25519_CHACHA20, KP_AEAD_CHACHA20, 32, 32, 12 },
};

static pthread_once_t	 once = PTHREAD_ONCE_INIT;
static EVP_MAC		*hmac_alg;
static EVP_CIPHER	*gcm_alg;
static int		 sodium_ok;

static void
crypto_init(void)
{
	sodium_ok = sodium_init() >= 0;
	hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
	gcm_alg = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
}

int
kp_crypto_init(void)
{
	if (pthread_once(&once, crypto_init) != 0)
		return KP_ECRYPTO;
	if (!sodium_ok || hmac_alg == NULL || gcm_alg == NULL)
		return KP_ECRYPTO;
	return KP_OK;
}

const struct kp_suite *
kp_suite_find(uint16_t id)
{
	size_t	i;

	for (i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		if (suites[i].id == id)
			return &suites[i];
	return NULL;
}

/*
 * The X25519 public keys of small order (RFC 7748 §6.1): the u
 * coordinates 0, 1 and p - 1, the two points of order 8, and p and
 * p + 1, the other 255-bit encodings of 0 and 1.  Little endian, with
 * the top bit cleared as X25519 ignores it.
 */
static const uint8_t small_order[][KP_KEY_LEN] = {
	{ 0 },
	{ 1 },
	{ 0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
	{ 0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3,
	  0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32,
	  0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00 },
	{ 0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1,
	  0x55, 0x9c, 0x83, 0xef, 0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c,
	  0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57 },
	{ 0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
	{ 0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
};

int
kp_x25519_small_order(const uint8_t pk[KP_KEY_LEN])
{
	uint8_t	k[KP_KEY_LEN];
	size_t	i;
	int	hit = 0;

	memcpy(k, pk, sizeof(k));
	k[KP_KEY_LEN - 1] &= 0x7f;
	for (i = 0; i < sizeof(small_order) / sizeof(small_order[0]); i++)
		hit |= sodium_memcmp(k, small_order[i], sizeof(k)) == 0;
	return hit;
}

void
kp_sha256(const void *buf, size_t len, uint8_t out[KP_HASH_LEN])
{
	crypto_hash_sha256(out, buf, len);
}

/* An HMAC-SHA256 context keyed with key; NULL on failure. */
static EVP_MAC_CTX *
hmac_new(const uint8_t *key, size_t klen)
{
	static const uint8_t	 zero[KP_HASH_LEN];
	EVP_MAC_CTX		*ctx;
	OSSL_PARAM		 params[2];

	/* HMAC pads the key with zeros: an empty key is Nh zero bytes. */
	if (klen == 0) {
		key = zero;
		klen = sizeof(zero);
	}
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_MAC_CTX_new(hmac_alg)) == NULL)
		return NULL;
	if (!EVP_MAC_init(ctx, key, klen, params)) {
		EVP_MAC_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int
kp_hmac(const uint8_t *key, size_t klen, const uint8_t *msg, size_t mlen,
    uint8_t out[KP_HASH_LEN])
{
	EVP_MAC_CTX		*ctx = NULL;
	size_t			 outl = 0;
	int			 rc = KP_ECRYPTO;

	if (kp_crypto_init() != KP_OK)
		return KP_ECRYPTO;
	if ((ctx = hmac_new(key, klen)) == NULL)
		goto out;
	if (!EVP_MAC_update(ctx, msg, mlen) ||
	    !EVP_MAC_final(ctx, out, &outl, KP_HASH_LEN) ||
	    outl != KP_HASH_LEN)
		goto out;
	rc = KP_OK;
out:
	if (rc != KP_OK)
		sodium_memzero(out, KP_HASH_LEN);	/* maybe a part */
	EVP_MAC_CTX_free(ctx);
	return rc;
}

int
kp_hkdf_extract(const uint8_t *salt, size_t slen, const uint8_t *ikm,
    size_t ilen, uint8_t prk[KP_HASH_LEN])
{
	return kp_hmac(salt, slen, ikm, ilen, prk);
}

int
kp_hkdf_expand(const uint8_t *prk, size_t plen, const uint8_t *info,
    size_t ilen, uint8_t *out, size_t olen)
{
	EVP_MAC_CTX		*base = NULL, *ctx = NULL;
	uint8_t			 t[KP_HASH_LEN];
	size_t			 done = 0, n, outl;
	uint8_t			 i;
	int			 rc = KP_ECRYPTO;

	if (olen > 255 * KP_HASH_LEN)
		return KP_EINVAL;
	if (kp_crypto_init() != KP_OK)
		return KP_ECRYPTO;
	if ((base = hmac_new(prk, plen)) == NULL)
		goto out;
	for (i = 1; done < olen; i++) {
		EVP_MAC_CTX_free(ctx);
		if ((ctx = EVP_MAC_CTX_dup(base)) == NULL)
			goto out;
		if ((i > 1 && !EVP_MAC_update(ctx, t, sizeof(t))) ||
		    !EVP_MAC_update(ctx, info, ilen) ||
		    !EVP_MAC_update(ctx, &i, 1) ||
		    !EVP_MAC_final(ctx, t, &outl, sizeof(t)) ||
		    outl != sizeof(t))
			goto out;
		n = olen - done < sizeof(t) ? olen - done : sizeof(t);
		memcpy(out + done, t, n);
		done += n;
	}
	rc = KP_OK;
out:
	if (rc != KP_OK)
		sodium_memzero(out, olen);
	sodium_memzero(t, sizeof(t));
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_CTX_free(base);
	return rc;
}

/* The label<V> = "MLS 1.0 " + label of the RFC 9420 §5 structs. */
static void
put_label(struct kp_wb *w, const char *label)
{
	size_t	n = strlen(label);

	kp_wb_varint(w, sizeof(LABEL_PREFIX) - 1 + n);
	kp_wb_bytes(w, LABEL_PREFIX, sizeof(LABEL_PREFIX) - 1);
	kp_wb_bytes(w, label, n);
}

int
kp_expand_with_label(const uint8_t *secret, size_t slen, const char *label,
    const uint8_t *ctx, size_t clen, uint8_t *out, size_t olen)
{
	struct kp_wb	 w;
	int		 rc;

	if (olen > 0xffff || strlen(label) > MAX_LABEL)
		return KP_EINVAL;
	kp_wb_init(&w, (size_t)1 << 30);
	kp_wb_u16(&w, (uint16_t)olen);
	put_label(&w, label);
	kp_wb_vec(&w, ctx, clen);
	if ((rc = w.err) == KP_OK)
		rc = kp_hkdf_expand(secret, slen, w.buf, w.len, out, olen);
	kp_wb_free(&w);
	return rc;
}

int
kp_derive_secret(const uint8_t *secret, size_t slen, const char *label,
    uint8_t out[KP_HASH_LEN])
{
	return kp_expand_with_label(secret, slen, label, NULL, 0, out,
	    KP_HASH_LEN);
}

int
kp_ref_hash(const char *label, const uint8_t *value, size_t vlen,
    uint8_t out[KP_HASH_LEN])
{
	crypto_hash_sha256_state st;
	uint8_t			 hdr[4];
	size_t			 n = strlen(label);

	if (n > MAX_LABEL || vlen > KP_VARINT_MAX)
		return KP_EINVAL;
	if (kp_crypto_init() != KP_OK)
		return KP_ECRYPTO;
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, hdr, kp_varint_put(hdr, n));
	crypto_hash_sha256_update(&st, (const uint8_t *)label, n);
	crypto_hash_sha256_update(&st, hdr, kp_varint_put(hdr, vlen));
	crypto_hash_sha256_update(&st, value, vlen);
	crypto_hash_sha256_final(&st, out);
	return KP_OK;
}

/*
 * The SignContent struct {label<V>, content<V>} in buf when it fits,
 * else in a malloc'd buffer; *out points at whichever holds it.
 */
static int
sign_content(const char *label, const uint8_t *content, size_t clen,
    uint8_t *buf, size_t bufsz, uint8_t **out, size_t *olen, uint8_t **heap)
{
	size_t	ln = strlen(label), pl = sizeof(LABEL_PREFIX) - 1, need, off;
	size_t	lv, cv;

	*heap = NULL;
	if (ln > MAX_LABEL || clen > KP_VARINT_MAX)
		return KP_EINVAL;
	lv = kp_varint_size(pl + ln);
	cv = kp_varint_size(clen);
	need = lv + pl + ln + cv + clen;
	if (need > bufsz) {
		if ((*heap = malloc(need)) == NULL)
			return KP_ENOMEM;
		buf = *heap;
	}
	off = kp_varint_put(buf, pl + ln);
	memcpy(buf + off, LABEL_PREFIX, pl);
	off += pl;
	memcpy(buf + off, label, ln);
	off += ln;
	off += kp_varint_put(buf + off, clen);
	if (clen > 0)
		memcpy(buf + off, content, clen);
	*out = buf;
	*olen = need;
	return KP_OK;
}

int
kp_sign_with_label(const uint8_t sk[KP_SIGN_SK_LEN], const char *label,
    const uint8_t *content, size_t clen, uint8_t sig[KP_SIG_LEN])
{
	uint8_t	 stack[1024], *msg, *heap = NULL;
	size_t	 mlen;
	int	 rc;

	if (kp_crypto_init() != KP_OK)
		return KP_ECRYPTO;
	if ((rc = sign_content(label, content, clen, stack, sizeof(stack),
	    &msg, &mlen, &heap)) != KP_OK)
		return rc;
	if (crypto_sign_detached(sig, NULL, msg, mlen, sk) != 0)
		rc = KP_ECRYPTO;
	free(heap);
	return rc;
}

int
kp_verify_with_label(const uint8_t *pk, size_t pklen, const char *label,
    const uint8_t *content, size_t clen, const uint8_t *sig, size_t siglen)
{
	uint8_t	 stack[1024], *msg, *heap = NULL;
	size_t	 mlen;
	int	 rc;

	if (pklen != crypto_sign_PUBLICKEYBYTES || siglen != KP_SIG_LEN)
		return KP_ECRYPTO;
	if (kp_crypto_init() != KP_OK)
		return KP_ECRYPTO;
	if ((rc = sign_content(label, content, clen, stack, sizeof(stack),
	    &msg, &mlen, &heap)) != KP_OK)
		return rc;
	if (crypto_sign_verify_detached(sig, msg, mlen, pk) != 0)
		rc = KP_ECRYPTO;
	free(heap);
	return rc;
}

size_t
kp_aead_keylen(uint16_t aead)
{
	switch (aead) {
	case KP_AEAD_AES128GCM:
		return 16;
	case KP_AEAD_CHACHA20:
		return crypto_aead_chacha20poly1305_ietf_KEYBYTES;
	}
	return 0;
}

static int
gcm(int enc, const uint8_t *key, const uint8_t nonce[KP_NONCE_LEN],
    const uint8_t *aad, size_t aadlen, const uint8_t *in, size_t inlen,
    uint8_t *out, uint8_t tag[KP_TAG_LEN])
{
	EVP_CIPHER_CTX	*ctx = NULL;
	int		 n, rc = enc ? KP_ECRYPTO : KP_EDECRYPT;

	if (inlen > INT_MAX || aadlen > INT_MAX)
		return KP_ETOOBIG;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return KP_ENOMEM;
	if (!EVP_CipherInit_ex(ctx, gcm_alg, NULL, NULL, NULL, enc) ||
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, KP_NONCE_LEN,
	    NULL) ||
	    !EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc))
		goto out;
	if (aadlen > 0 && !EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aadlen))
		goto out;
	if (inlen > 0 && !EVP_CipherUpdate(ctx, out, &n, in, (int)inlen))
		goto out;
	if (!enc && !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG,
	    KP_TAG_LEN, tag))
		goto out;
	if (!EVP_CipherFinal_ex(ctx, out + inlen, &n))
		goto out;
	if (enc && !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG,
	    KP_TAG_LEN, tag))
		goto out;
	rc = KP_OK;
out:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

int
kp_aead_seal(uint16_t aead, const uint8_t *key,
    const uint8_t nonce[KP_NONCE_LEN], const uint8_t *aad, size_t aadlen,
    const uint8_t *pt, size_t ptlen, uint8_t *ct)
{
	unsigned long long	clen;

	if (kp_crypto_init() != KP_OK)
		return KP_ECRYPTO;
	switch (aead) {
	case KP_AEAD_AES128GCM:
		return gcm(1, key, nonce, aad, aadlen, pt, ptlen, ct,
		    ct + ptlen);
	case KP_AEAD_CHACHA20:
		if (crypto_aead_chacha20poly1305_ietf_encrypt(ct, &clen, pt,
		    ptlen, aad, aadlen, NULL, nonce, key) != 0)
			return KP_ECRYPTO;
		return KP_OK;
	}
	return KP_ESUITE;
}

int
kp_aead_open(uint16_t aead, const uint8_t *key,
    const uint8_t nonce[KP_NONCE_LEN], const uint8_t *aad, size_t aadlen,
    const uint8_t *ct, size_t ctlen, uint8_t *pt)
{
	unsigned long long	plen;
	uint8_t			tag[KP_TAG_LEN];
	int			rc;

	if (ctlen < KP_TAG_LEN)
		return KP_EDECRYPT;
	if (kp_crypto_init() != KP_OK)
		return KP_ECRYPTO;
	switch (aead) {
	case KP_AEAD_AES128GCM:
		memcpy(tag, ct + ctlen - KP_TAG_LEN, KP_TAG_LEN);
		rc = gcm(0, key, nonce, aad, aadlen, ct, ctlen - KP_TAG_LEN,
		    pt, tag);
		if (rc != KP_OK)
			sodium_memzero(pt, ctlen - KP_TAG_LEN);
		return rc;
	case KP_AEAD_CHACHA20:
		if (crypto_aead_chacha20poly1305_ietf_decrypt(pt, &plen, NULL,
		    ct, ctlen, aad, aadlen, nonce, key) != 0)
			return KP_EDECRYPT;
		return KP_OK;
	}
	return KP_ESUITE;
}
