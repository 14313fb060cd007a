/* SPDX-License-Identifier: ISC */
/*
 * httpsig.c: kpool's RFC 9421 signature profile and RFC 9530
 * Content-Digest; see httpsig.h.  The signature base is built in one
 * place (base()) for both the signer and the verifier.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto.h"
#include "httpsig.h"

#define COMPONENTS	"(\"@method\" \"@path\" \"@query\" \"content-digest\")"
#define B64V		sodium_base64_VARIANT_ORIGINAL

void
kp_httpsig_digest(const void *body, size_t len,
    char out[KP_HTTPSIG_DIGEST_LEN])
{
	uint8_t	h[crypto_hash_sha256_BYTES];
	char	b64[sodium_base64_ENCODED_LEN(crypto_hash_sha256_BYTES, B64V)];

	/* "sha-256=:" 44 ":" NUL always fits: the snprintf cannot cut */
	_Static_assert(KP_HTTPSIG_DIGEST_LEN >= sizeof("sha-256=::") +
	    sizeof(b64) - 1, "KP_HTTPSIG_DIGEST_LEN too small");
	crypto_hash_sha256(h, body == NULL ? (const uint8_t *)"" : body,
	    body == NULL ? 0 : len);
	sodium_bin2base64(b64, sizeof(b64), h, sizeof(h), B64V);
	(void)snprintf(out, KP_HTTPSIG_DIGEST_LEN, "sha-256=:%s:", b64);
}

/* keyid_valid: 1 when keyid is a principal (user, or user/device). */
static int
keyid_valid(const char *keyid)
{
	char	u[KP_MAX_USERNAME + 1], d[KP_MAX_DEVICE + 1];

	return kp_principal_parse(keyid, u, d) == KP_OK;
}

/*
 * base: the RFC 9421 signature base of our four components and the
 * signature parameters, into a malloc'd buffer.
 */
static int
base(const char *method, const char *path, const char *query,
    const char *digest, const char *params, char **out, size_t *outlen)
{
	char	*b;
	size_t	 cap;
	int	 n;

	*out = NULL;
	if (strlen(path) > KP_HTTPSIG_MAX_PATH ||
	    strlen(query) > KP_HTTPSIG_MAX_PATH || strlen(method) > 16)
		return KP_EINVAL;
	cap = strlen(method) + strlen(path) + strlen(query) + strlen(digest) +
	    strlen(params) + 128;
	if ((b = malloc(cap)) == NULL)
		return KP_ENOMEM;
	n = snprintf(b, cap, "\"@method\": %s\n\"@path\": %s\n"
	    "\"@query\": ?%s\n\"content-digest\": %s\n"
	    "\"@signature-params\": %s", method, *path ? path : "/", query,
	    digest, params);
	if (n < 0 || (size_t)n >= cap) {
		free(b);
		return KP_EINVAL;
	}
	*out = b;
	*outlen = (size_t)n;
	return KP_OK;
}

int
kp_httpsig_sign(const char *method, const char *path, const char *query,
    const void *body, size_t len, const char *keyid, const uint8_t sk[64],
    int64_t created, struct kp_httpsig *out)
{
	uint8_t	 nonce[16], sig[crypto_sign_BYTES];
	char	 nhex[33], params[sizeof(out->input)];
	char	 b64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES, B64V)];
	char	*b = NULL;
	size_t	 blen;
	int	 n, rc;

	if (!keyid_valid(keyid))
		return KP_EINVAL;
	if ((rc = kp_crypto_init()) != KP_OK)
		return rc;
	kp_httpsig_digest(body, len, out->digest);
	randombytes_buf(nonce, sizeof(nonce));
	kp_hex(nonce, sizeof(nonce), nhex);
	n = snprintf(params, sizeof(params), "%s;created=%" PRId64
	    ";nonce=\"%s\";keyid=\"%s\";alg=\"ed25519\"", COMPONENTS, created,
	    nhex, keyid);
	if (n < 0 || (size_t)n >= sizeof(params))
		return KP_EINVAL;
	if ((rc = base(method, path, query, out->digest, params, &b,
	    &blen)) != KP_OK)
		goto out;
	if (crypto_sign_detached(sig, NULL, (const uint8_t *)b, blen,
	    sk) != 0) {
		rc = KP_ECRYPTO;
		goto out;
	}
	sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig), B64V);
	n = snprintf(out->input, sizeof(out->input), KP_HTTPSIG_LABEL "=%s",
	    params);
	if (n < 0 || (size_t)n >= sizeof(out->input)) {
		rc = KP_EINVAL;
		goto out;
	}
	n = snprintf(out->signature, sizeof(out->signature),
	    KP_HTTPSIG_LABEL "=:%s:", b64);
	if (n < 0 || (size_t)n >= sizeof(out->signature)) {
		rc = KP_EINVAL;
		goto out;
	}
	rc = KP_OK;
out:
	free(b);
	return rc;
}

/*
 * sfstring: parse an RFC 8941 sf-string (no escapes allowed in our
 * profile) at *pp into out (cap bytes); advance *pp.
 */
static int
sfstring(const char **pp, char *out, size_t cap)
{
	const char	*p = *pp;
	size_t		 n = 0;

	if (*p++ != '"')
		return -1;
	while (*p != '"') {
		if (*p < 0x20 || *p > 0x7e || *p == '\\' || n + 1 >= cap)
			return -1;
		out[n++] = *p++;
	}
	out[n] = '\0';
	*pp = p + 1;
	return 0;
}

int
kp_httpsig_parse(const char *input, const char *signature,
    struct kp_httpsig_params *out, const char **why)
{
	const char	*p, *s;
	char		 alg[16];
	size_t		 plen, siglen;
	int		 have_created = 0, have_nonce = 0, have_keyid = 0;
	int		 have_alg = 0;

	memset(out, 0, sizeof(*out));
	*why = "missing Signature-Input header";
	if (input == NULL)
		return KP_EAUTH;
	*why = "missing Signature header";
	if (signature == NULL)
		return KP_EAUTH;
	*why = "Signature-Input is not kpool=(\"@method\" \"@path\" "
	    "\"@query\" \"content-digest\");created;nonce;keyid;alg";
	if (strncmp(input, KP_HTTPSIG_LABEL "=", 6) != 0)
		return KP_EAUTH;
	p = input + 6;
	plen = strlen(p);
	if (plen >= sizeof(out->params))
		return KP_EAUTH;
	memcpy(out->params, p, plen + 1);
	if (strncmp(p, COMPONENTS, strlen(COMPONENTS)) != 0)
		return KP_EAUTH;
	p += strlen(COMPONENTS);
	while (*p == ';') {
		p++;
		if (strncmp(p, "created=", 8) == 0 && !have_created) {
			int64_t	v = 0;

			p += 8;
			if (*p < '0' || *p > '9')
				return KP_EAUTH;
			for (; *p >= '0' && *p <= '9'; p++) {
				if (v > (INT64_MAX - 9) / 10)
					return KP_EAUTH;
				v = v * 10 + (*p - '0');
			}
			out->created = v;
			have_created = 1;
		} else if (strncmp(p, "nonce=", 6) == 0 && !have_nonce) {
			p += 6;
			if (sfstring(&p, out->nonce, sizeof(out->nonce)) != 0 ||
			    strlen(out->nonce) < 8)
				return KP_EAUTH;
			have_nonce = 1;
		} else if (strncmp(p, "keyid=", 6) == 0 && !have_keyid) {
			p += 6;
			if (sfstring(&p, out->keyid, sizeof(out->keyid)) != 0 ||
			    !keyid_valid(out->keyid))
				return KP_EAUTH;
			have_keyid = 1;
		} else if (strncmp(p, "alg=", 4) == 0 && !have_alg) {
			p += 4;
			if (sfstring(&p, alg, sizeof(alg)) != 0 ||
			    strcmp(alg, "ed25519") != 0)
				return KP_EAUTH;
			have_alg = 1;
		} else
			return KP_EAUTH;
	}
	if (*p != '\0' || !have_created || !have_nonce || !have_keyid ||
	    !have_alg)
		return KP_EAUTH;

	*why = "Signature is not kpool=:BASE64 of 64 bytes:";
	if (strncmp(signature, KP_HTTPSIG_LABEL "=:", 7) != 0)
		return KP_EAUTH;
	s = signature + 7;
	plen = strlen(s);
	if (plen < 2 || s[plen - 1] != ':' || plen - 1 != 88)
		return KP_EAUTH;
	if (sodium_base642bin(out->sig, sizeof(out->sig), s, plen - 1, NULL,
	    &siglen, NULL, B64V) != 0 || siglen != sizeof(out->sig))
		return KP_EAUTH;
	*why = NULL;
	return KP_OK;
}

int
kp_httpsig_check_digest(const char *header, const void *body, size_t len,
    const char **why)
{
	char	want[KP_HTTPSIG_DIGEST_LEN];

	*why = "missing Content-Digest header";
	if (header == NULL)
		return KP_EAUTH;
	*why = "Content-Digest is not sha-256=:BASE64: of the body";
	kp_httpsig_digest(body, len, want);
	if (strlen(header) != strlen(want) ||
	    sodium_memcmp(header, want, strlen(want)) != 0)
		return KP_EAUTH;
	*why = NULL;
	return KP_OK;
}

int
kp_httpsig_verify(const struct kp_httpsig_params *p, const char *method,
    const char *path, const char *query, const char *digest,
    const uint8_t pk[32], const char **why)
{
	char	*b = NULL;
	size_t	 blen;
	int	 rc;

	*why = "a request component is missing, or Content-Digest too long";
	if (method == NULL || path == NULL || query == NULL ||
	    digest == NULL ||
	    strnlen(digest, KP_HTTPSIG_DIGEST_LEN) >= KP_HTTPSIG_DIGEST_LEN)
		return KP_EAUTH;
	*why = "crypto library does not initialise";
	if ((rc = kp_crypto_init()) != KP_OK)
		return rc;
	*why = "request target too long";
	if ((rc = base(method, path, query, digest, p->params, &b,
	    &blen)) != KP_OK) {
		rc = rc == KP_ENOMEM ? rc : KP_EAUTH;
		goto out;
	}
	*why = "signature does not verify";
	if (crypto_sign_verify_detached(p->sig, (const uint8_t *)b, blen,
	    pk) != 0) {
		rc = KP_EAUTH;
		goto out;
	}
	*why = NULL;
	rc = KP_OK;
out:
	free(b);
	return rc;
}
