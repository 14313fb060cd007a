/* SPDX-License-Identifier: ISC */
/*
 * keypackage.c: RFC 9420 KeyPackages: generate, decode, encode and
 * validate (§10.1, §7.3), KeyPackageRef and accessors.
 *
 * A decoded KeyPackage keeps its exact bytes; every field is a span into
 * them, so re-encoding the fields gives the input back byte for byte.
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "crypto.h"
#include "mls.h"
#include "tls.h"

#define DEFAULT_LIFETIME	(14 * 86400 + 3600)
#define DEFAULT_BACKDATE	3600
#define KP_SIG_LABEL		"KeyPackageTBS"
#define REF_LABEL		"MLS 1.0 KeyPackage Reference"

struct kp_keypackage {
	struct kp_kpfields	 f;
	uint8_t			 ref[KP_REF_LEN];
	size_t			 len;
	uint8_t			 raw[];		/* the unwrapped bytes */
};

int
kp_u16_list_has(struct kp_span body, uint16_t v)
{
	size_t	i;

	for (i = 0; i + 1 < body.n; i += 2)
		if ((uint16_t)(body.p[i] << 8 | body.p[i + 1]) == v)
			return 1;
	return 0;
}

int
kp_exts_check(struct kp_span body)
{
	struct kp_rd	 r, s;
	uint16_t	 type, t2;
	const uint8_t	*p;
	size_t		 n, at, count = 0;
	int		 rc;

	kp_rd_init(&r, body.p, body.n);
	while (kp_rd_left(&r) > 0) {
		at = r.off;
		if ((rc = kp_rd_u16(&r, &type)) != KP_OK ||
		    (rc = kp_rd_vec(&r, &p, &n)) != KP_OK)
			return rc == KP_ETRUNC ? KP_EMALFORMED : rc;
		if (++count > KP_MAX_EXTS)
			return KP_ETOOBIG;
		/* no type twice: look through the ones before this one */
		kp_rd_init(&s, body.p, at);
		while (kp_rd_left(&s) > 0) {
			if (kp_rd_u16(&s, &t2) != KP_OK ||
			    kp_rd_vec(&s, &p, &n) != KP_OK)
				return KP_EMALFORMED;
			if (t2 == type)
				return KP_EMALFORMED;
		}
	}
	return KP_OK;
}

int
kp_exts_find(struct kp_span body, uint16_t type, struct kp_span *data)
{
	struct kp_rd	 r;
	uint16_t	 t;
	const uint8_t	*p;
	size_t		 n;

	kp_rd_init(&r, body.p, body.n);
	while (kp_rd_left(&r) > 0) {
		if (kp_rd_u16(&r, &t) != KP_OK || kp_rd_vec(&r, &p, &n) != KP_OK)
			return 0;
		if (t == type) {
			if (data != NULL) {
				data->p = p;
				data->n = n;
			}
			return 1;
		}
	}
	return 0;
}

/* A uint16 vector<V>: its body, of even length. */
static int
rd_u16_list(struct kp_rd *r, struct kp_span *s)
{
	int	rc;

	if ((rc = kp_rd_vec(r, &s->p, &s->n)) != KP_OK)
		return rc;
	return s->n % 2 == 0 ? KP_OK : KP_EMALFORMED;
}

int
kp_nested(int rc)
{
	return rc == KP_ETRUNC || rc == KP_ETRAILING ? KP_EMALFORMED : rc;
}

int
kp_rd_span(struct kp_rd *r, struct kp_span *s)
{
	return kp_rd_vec(r, &s->p, &s->n);
}

/* Credential (RFC 9420 §5.3): basic and x509 are the types we parse. */
static int
rd_credential(struct kp_rd *r, struct kp_leaf *l)
{
	struct kp_rd	 certs;
	const uint8_t	*start = kp_rd_pos(r), *p;
	size_t		 n;
	int		 rc;

	if ((rc = kp_rd_u16(r, &l->cred_type)) != KP_OK)
		return rc;
	switch (l->cred_type) {
	case KP_CRED_BASIC:
		if ((rc = kp_rd_span(r, &l->identity)) != KP_OK)
			return rc;
		break;
	case KP_CRED_X509:
		if ((rc = kp_rd_sub(r, &certs)) != KP_OK)
			return rc;
		l->identity.p = certs.p;
		l->identity.n = certs.len;
		while (kp_rd_left(&certs) > 0)
			if (kp_rd_vec(&certs, &p, &n) != KP_OK)
				return KP_ECRED;
		break;
	default:
		return KP_ECRED;
	}
	l->cred.p = start;
	l->cred.n = (size_t)(kp_rd_pos(r) - start);
	return KP_OK;
}

int
kp_leaf_read(struct kp_rd *r, struct kp_leaf *l)
{
	int	rc;

	memset(l, 0, sizeof(*l));
	l->start = kp_rd_pos(r);
	if ((rc = kp_rd_span(r, &l->enc_key)) != KP_OK ||
	    (rc = kp_rd_span(r, &l->sig_key)) != KP_OK ||
	    (rc = rd_credential(r, l)) != KP_OK ||
	    (rc = rd_u16_list(r, &l->cap_versions)) != KP_OK ||
	    (rc = rd_u16_list(r, &l->cap_suites)) != KP_OK ||
	    (rc = rd_u16_list(r, &l->cap_exts)) != KP_OK ||
	    (rc = rd_u16_list(r, &l->cap_props)) != KP_OK ||
	    (rc = rd_u16_list(r, &l->cap_creds)) != KP_OK ||
	    (rc = kp_rd_u8(r, &l->source)) != KP_OK)
		return rc;
	switch (l->source) {
	case KP_LEAF_KEY_PACKAGE:
		if ((rc = kp_rd_u64(r, &l->not_before)) != KP_OK ||
		    (rc = kp_rd_u64(r, &l->not_after)) != KP_OK)
			return rc;
		break;
	case KP_LEAF_UPDATE:
		break;
	case KP_LEAF_COMMIT:
		if ((rc = kp_rd_span(r, &l->parent_hash)) != KP_OK)
			return rc;
		break;
	default:
		return KP_EMALFORMED;
	}
	if ((rc = kp_rd_span(r, &l->exts)) != KP_OK)
		return rc;
	l->tbs_len = (size_t)(kp_rd_pos(r) - l->start);
	if ((rc = kp_rd_span(r, &l->sig)) != KP_OK)
		return rc;
	l->len = (size_t)(kp_rd_pos(r) - l->start);
	return kp_exts_check(l->exts);
}

int
kp_kp_read(struct kp_rd *r, struct kp_kpfields *f)
{
	const uint8_t	*start = kp_rd_pos(r);
	int		 rc;

	memset(f, 0, sizeof(*f));
	if ((rc = kp_rd_u16(r, &f->version)) != KP_OK ||
	    (rc = kp_rd_u16(r, &f->suite)) != KP_OK ||
	    (rc = kp_rd_span(r, &f->init_key)) != KP_OK ||
	    (rc = kp_leaf_read(r, &f->leaf)) != KP_OK ||
	    (rc = kp_rd_span(r, &f->exts)) != KP_OK)
		return rc;
	f->tbs_len = (size_t)(kp_rd_pos(r) - start);
	if ((rc = kp_rd_span(r, &f->sig)) != KP_OK)
		return rc;
	return kp_exts_check(f->exts);
}

/*
 * The signature<V> over w's bytes from start: made with sk under label,
 * or the given one when sk is NULL.
 */
static int
put_sig(struct kp_wb *w, size_t start, const uint8_t *sk, const char *label,
    struct kp_span given)
{
	uint8_t	sig[KP_SIG_LEN];
	int	rc;

	if (w->err != KP_OK)
		return w->err;
	if (sk == NULL) {
		kp_wb_vec(w, given.p, given.n);
		return w->err;
	}
	if ((rc = kp_sign_with_label(sk, label, w->buf + start,
	    w->len - start, sig)) != KP_OK)
		return rc;
	kp_wb_vec(w, sig, sizeof(sig));
	return w->err;
}

int
kp_leaf_write(struct kp_wb *w, const struct kp_leaf *l, const uint8_t *sk)
{
	size_t	start = w->len;

	kp_wb_vec(w, l->enc_key.p, l->enc_key.n);
	kp_wb_vec(w, l->sig_key.p, l->sig_key.n);
	kp_wb_bytes(w, l->cred.p, l->cred.n);
	kp_wb_vec(w, l->cap_versions.p, l->cap_versions.n);
	kp_wb_vec(w, l->cap_suites.p, l->cap_suites.n);
	kp_wb_vec(w, l->cap_exts.p, l->cap_exts.n);
	kp_wb_vec(w, l->cap_props.p, l->cap_props.n);
	kp_wb_vec(w, l->cap_creds.p, l->cap_creds.n);
	kp_wb_u8(w, l->source);
	switch (l->source) {
	case KP_LEAF_KEY_PACKAGE:
		kp_wb_u64(w, l->not_before);
		kp_wb_u64(w, l->not_after);
		break;
	case KP_LEAF_COMMIT:
		kp_wb_vec(w, l->parent_hash.p, l->parent_hash.n);
		break;
	}
	kp_wb_vec(w, l->exts.p, l->exts.n);
	return put_sig(w, start, sk, KP_LEAF_SIG_LABEL, l->sig);
}

int
kp_kp_write(struct kp_wb *w, const struct kp_kpfields *f, const uint8_t *sk)
{
	size_t	start = w->len;
	int	rc;

	kp_wb_u16(w, f->version);
	kp_wb_u16(w, f->suite);
	kp_wb_vec(w, f->init_key.p, f->init_key.n);
	if ((rc = kp_leaf_write(w, &f->leaf, sk)) != KP_OK)
		return rc;
	kp_wb_vec(w, f->exts.p, f->exts.n);
	return put_sig(w, start, sk, KP_SIG_LABEL, f->sig);
}

int
kp_leaf_verify(const struct kp_leaf *l)
{
	return kp_verify_with_label(l->sig_key.p, l->sig_key.n,
	    KP_LEAF_SIG_LABEL, l->start, l->tbs_len, l->sig.p, l->sig.n);
}

int
kp_keypackage_ref_compute(uint16_t suite, const uint8_t *buf, size_t len,
    uint8_t ref[KP_REF_LEN])
{
	if (kp_suite_find(suite) == NULL)
		return KP_ESUITE;
	return kp_ref_hash(REF_LABEL, buf, len, ref);
}

int
kp_keypackage_decode(const uint8_t *buf, size_t len, int allow_mlsmessage,
    struct kp_keypackage **out)
{
	struct kp_keypackage	*kp = NULL;
	struct kp_rd		 r;
	size_t			 skip = 0;
	int			 rc, wrc = KP_OK;

	*out = NULL;
	if (buf == NULL && len > 0)
		return KP_EINVAL;
	if (len > KP_MAX_KEYPACKAGE + 4)
		return KP_ETOOBIG;
	if (allow_mlsmessage && len >= 4 && buf[0] == 0x00 && buf[1] == 0x01 &&
	    buf[2] == 0x00 && buf[3] == KP_WF_KEY_PACKAGE)
		skip = 4;
	if (len - skip > KP_MAX_KEYPACKAGE)
		return KP_ETOOBIG;
	/* room for the whole input: a wrapper that fails is retried raw */
	if ((kp = malloc(sizeof(*kp) + len + 1)) == NULL)
		return KP_ENOMEM;
	for (;;) {
		kp->len = len - skip;
		if (kp->len > 0)
			memcpy(kp->raw, buf + skip, kp->len);
		kp_rd_init(&r, kp->raw, kp->len);
		if ((rc = kp_kp_read(&r, &kp->f)) == KP_OK)
			rc = kp_rd_end(&r);
		if (rc == KP_OK || skip == 0)
			break;
		/*
		 * Not a wrapped KeyPackage: maybe a raw one whose suite
		 * happens to be 0x0005.  Report the wrapper's error if
		 * neither parses.
		 */
		wrc = rc;
		skip = 0;
		if (len > KP_MAX_KEYPACKAGE)
			break;
	}
	if (rc != KP_OK) {
		rc = wrc != KP_OK ? wrc : rc;
		goto out;
	}
	if ((rc = kp_ref_hash(REF_LABEL, kp->raw, kp->len, kp->ref)) != KP_OK)
		goto out;
	*out = kp;
	kp = NULL;
out:
	free(kp);
	return rc;
}

void
kp_keypackage_free(struct kp_keypackage *kp)
{
	free(kp);
}

/* kp_exts_listed: see mls.h. */
int
kp_exts_listed(struct kp_span exts, struct kp_span caps)
{
	struct kp_rd	 r;
	uint16_t	 t;
	const uint8_t	*p;
	size_t		 n;

	kp_rd_init(&r, exts.p, exts.n);
	while (kp_rd_left(&r) > 0) {
		if (kp_rd_u16(&r, &t) != KP_OK || kp_rd_vec(&r, &p, &n) != KP_OK)
			return KP_EMALFORMED;
		/*
		 * The default types need no listing (§7.2); GREASE values
		 * do, as any other type in use (§13.5).
		 */
		if (t >= KP_EXT_APPLICATION_ID && t <= KP_EXT_EXTERNAL_SENDERS)
			continue;
		if (!kp_u16_list_has(caps, t))
			return KP_ECAPS;
	}
	return KP_OK;
}

int
kp_keypackage_validate(const struct kp_keypackage *kp, uint64_t now)
{
	const struct kp_kpfields *f;
	const struct kp_leaf	 *l;
	int			  rc;

	if (kp == NULL)
		return KP_EINVAL;
	if ((rc = kp_crypto_init()) != KP_OK)
		return rc;
	f = &kp->f;
	l = &f->leaf;
	if (f->version != KP_MLS10)
		return KP_EVERSION;
	if (kp_suite_find(f->suite) == NULL)
		return KP_ESUITE;
	if (f->init_key.n != KP_KEY_LEN || l->enc_key.n != KP_KEY_LEN ||
	    l->sig_key.n != KP_SIGN_PK_LEN || f->sig.n != KP_SIG_LEN ||
	    l->sig.n != KP_SIG_LEN)
		return KP_EMALFORMED;
	if (l->source != KP_LEAF_KEY_PACKAGE)
		return KP_ELEAFSRC;
	if (l->cred_type != KP_CRED_BASIC || l->identity.n == 0 ||
	    l->identity.n > KP_MAX_IDENTITY)
		return KP_ECRED;
	if (!kp_u16_list_has(l->cap_versions, KP_MLS10) ||
	    !kp_u16_list_has(l->cap_suites, f->suite) ||
	    !kp_u16_list_has(l->cap_creds, l->cred_type))
		return KP_ECAPS;
	if ((rc = kp_exts_listed(l->exts, l->cap_exts)) != KP_OK ||
	    (rc = kp_exts_listed(f->exts, l->cap_exts)) != KP_OK)
		return rc;
	if (sodium_memcmp(f->init_key.p, l->enc_key.p, KP_KEY_LEN) == 0)
		return KP_ESAMEKEY;
	/* the KEM cannot encrypt to a key of small order */
	if (kp_x25519_small_order(f->init_key.p) ||
	    kp_x25519_small_order(l->enc_key.p))
		return KP_EWEAKKEY;
	if (l->not_before > l->not_after)
		return KP_ELIFETIME;
	if (now < l->not_before)
		return KP_ENOTYET;
	if (now > l->not_after)
		return KP_EEXPIRED;
	if (kp_leaf_verify(l) != KP_OK)
		return KP_ELEAFSIG;
	if (kp_verify_with_label(l->sig_key.p, l->sig_key.n, KP_SIG_LABEL,
	    kp->raw, f->tbs_len, f->sig.p, f->sig.n) != KP_OK)
		return KP_EKPSIG;
	return KP_OK;
}

/*
 * The Ed25519 public key of a seed, remembered per thread: deriving it
 * costs a scalar multiplication, as much as a signature, and a pool
 * signs many KeyPackages with one key.  The cache holds a hash of the
 * seed, never the seed.
 */
static int
sign_key(const uint8_t seed[KP_SIGN_SEED_LEN], uint8_t sk[KP_SIGN_SK_LEN])
{
	static _Thread_local uint8_t	tag[32], pk[32];
	static _Thread_local int	valid;
	uint8_t				t[32];
	int				rc = KP_OK;

	if (crypto_generichash(t, sizeof(t), seed, KP_SIGN_SEED_LEN,
	    NULL, 0) != 0) {
		rc = KP_ECRYPTO;
		goto out;
	}
	if (!valid || sodium_memcmp(t, tag, sizeof(t)) != 0) {
		valid = 0;
		if (crypto_sign_seed_keypair(pk, sk, seed) != 0) {
			rc = KP_ECRYPTO;
			goto out;
		}
		memcpy(tag, t, sizeof(t));
		valid = 1;
		goto out;
	}
	memcpy(sk, seed, KP_SIGN_SEED_LEN);
	memcpy(sk + KP_SIGN_SEED_LEN, pk, sizeof(pk));
out:
	if (rc != KP_OK)
		sodium_memzero(sk, KP_SIGN_SK_LEN);
	sodium_memzero(t, sizeof(t));
	return rc;
}

/* A uint16 list as its big-endian vector body. */
static int
u16_body(const uint16_t *v, size_t n, uint8_t *buf, size_t *len)
{
	size_t	i;

	if (n > KP_MAX_CAPS)
		return KP_EINVAL;
	for (i = 0; i < n; i++) {
		buf[2 * i] = (uint8_t)(v[i] >> 8);
		buf[2 * i + 1] = (uint8_t)v[i];
	}
	*len = 2 * n;
	return KP_OK;
}

/* 1 when the n values of v include one in lo..hi. */
static int
u16_any_in(const uint16_t *v, size_t n, uint16_t lo, uint16_t hi)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (v[i] >= lo && v[i] <= hi)
			return 1;
	return 0;
}

/* 1 when a value occurs twice among the n values of v. */
static int
u16_dup(const uint16_t *v, size_t n)
{
	size_t	i, j;

	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (v[i] == v[j])
				return 1;
	return 0;
}

/* One capabilities list of opts: NULL/0, or 1 .. KP_MAX_CAPS values. */
static int
caps_list_ok(const uint16_t *v, size_t n)
{
	return n <= KP_MAX_CAPS && (v != NULL || n == 0);
}

int
kp_kpopts_check(const struct kp_kpopts *o, const char **why)
{
	const char	*w;
	int		 rc = KP_EINVAL;

	if (o == NULL) {
		w = "no options";
		goto out;
	}
	if (o->suite != 0 && kp_suite_find(o->suite) == NULL) {
		w = "cipher suite not supported (0x0001 or 0x0003)";
		rc = KP_ESUITE;
		goto out;
	}
	if (o->identity == NULL || o->identity_len == 0 ||
	    o->identity_len > KP_MAX_IDENTITY) {
		w = "identity must be 1 to 255 bytes";
		goto out;
	}
	if (o->not_before > o->not_after) {
		w = "not_before is after not_after";
		rc = KP_ELIFETIME;
		goto out;
	}
	if (!caps_list_ok(o->cap_credentials, o->ncap_credentials) ||
	    !caps_list_ok(o->cap_extensions, o->ncap_extensions) ||
	    !caps_list_ok(o->cap_proposals, o->ncap_proposals)) {
		w = "a capabilities list is NULL or longer than 64 entries";
		goto out;
	}
	/* RFC 9420 §7.2 lists hold each type once; 0x0000 is reserved */
	if (u16_dup(o->cap_credentials, o->ncap_credentials) ||
	    u16_dup(o->cap_extensions, o->ncap_extensions) ||
	    u16_dup(o->cap_proposals, o->ncap_proposals)) {
		w = "a capabilities list holds a type twice";
		goto out;
	}
	if (u16_any_in(o->cap_credentials, o->ncap_credentials, 0, 0) ||
	    u16_any_in(o->cap_extensions, o->ncap_extensions, 0, 0) ||
	    u16_any_in(o->cap_proposals, o->ncap_proposals, 0, 0)) {
		w = "a capabilities list holds the reserved type 0x0000";
		goto out;
	}
	/* RFC 9420 §7.2: the credential type in use must be listed */
	if (o->ncap_credentials > 0 && !u16_any_in(o->cap_credentials,
	    o->ncap_credentials, KP_CRED_BASIC, KP_CRED_BASIC)) {
		w = "capabilities.credentials does not list basic (0x0001), "
		    "the credential type in use";
		goto out;
	}
	/* RFC 9420 §7.2: the default types must not be listed */
	if (u16_any_in(o->cap_extensions, o->ncap_extensions,
	    KP_EXT_APPLICATION_ID, KP_EXT_EXTERNAL_SENDERS)) {
		w = "capabilities.extensions lists a default extension type "
		    "(0x0001 to 0x0005), which RFC 9420 section 7.2 forbids";
		goto out;
	}
	if (u16_any_in(o->cap_proposals, o->ncap_proposals, 0x0001,
	    KP_PROPOSAL_DEFAULT_MAX)) {
		w = "capabilities.proposals lists a default proposal type "
		    "(0x0001 to 0x0007), which RFC 9420 section 7.2 forbids";
		goto out;
	}
	w = NULL;
	rc = KP_OK;
out:
	if (why != NULL)
		*why = w;
	return rc;
}

int
kp_keypackage_generate(const struct kp_kpopts *opts,
    const uint8_t sign_seed[KP_SIGN_SEED_LEN], uint8_t **out, size_t *outlen,
    uint8_t ref[KP_REF_LEN], struct kp_kpsecrets *sec)
{
	static const struct kp_kpopts	 defaults;
	static const uint8_t		 mls10[2] = { 0x00, 0x01 };
	static const uint8_t		 basic[2] = { 0x00, 0x01 };
	static const uint8_t		 lastres[3] = { 0x00, 0x0a, 0x00 };
	struct kp_kpfields		 f;
	struct kp_wb			 w;
	uint8_t				 sk[KP_SIGN_SK_LEN];
	uint8_t				 privs[2 * KP_KEY_LEN];
	uint8_t				 init_pub[KP_KEY_LEN], enc_pub[KP_KEY_LEN];
	uint8_t				 suites[2], creds[2 * KP_MAX_CAPS];
	uint8_t				 exts[2 * KP_MAX_CAPS + 2];
	uint8_t				 props[2 * KP_MAX_CAPS];
	uint8_t				 cred[4 + KP_MAX_IDENTITY];
	size_t				 n, credlen;
	uint64_t			 nb, na;
	uint16_t			 suite;
	int				 rc;

	*out = NULL;
	*outlen = 0;
	kp_wb_init(&w, KP_MAX_KEYPACKAGE);
	if ((rc = kp_crypto_init()) != KP_OK)
		goto out;
	if (opts == NULL)
		opts = &defaults;
	if ((rc = kp_kpopts_check(opts, NULL)) != KP_OK)
		goto out;
	suite = opts->suite == 0 ? KP_SUITE_X25519_AES128GCM : opts->suite;
	nb = opts->not_before;
	na = opts->not_after;
	if (nb == 0 && na == 0) {
		uint64_t now = (uint64_t)time(NULL);

		nb = now > DEFAULT_BACKDATE ? now - DEFAULT_BACKDATE : 0;
		na = nb + DEFAULT_LIFETIME;
	}
	/* not_before > not_after: refused by kp_kpopts_check */

	memset(&f, 0, sizeof(f));
	f.version = KP_MLS10;
	f.suite = suite;
	suites[0] = (uint8_t)(suite >> 8);
	suites[1] = (uint8_t)suite;
	f.leaf.cap_versions.p = mls10;
	f.leaf.cap_versions.n = sizeof(mls10);
	f.leaf.cap_suites.p = suites;
	f.leaf.cap_suites.n = sizeof(suites);
	if (opts->cap_credentials != NULL && opts->ncap_credentials > 0) {
		if ((rc = u16_body(opts->cap_credentials,
		    opts->ncap_credentials, creds, &n)) != KP_OK)
			goto out;
		f.leaf.cap_creds.p = creds;
		f.leaf.cap_creds.n = n;
	} else {
		f.leaf.cap_creds.p = basic;
		f.leaf.cap_creds.n = sizeof(basic);
	}
	n = 0;
	if (opts->cap_extensions != NULL &&
	    (rc = u16_body(opts->cap_extensions, opts->ncap_extensions, exts,
	    &n)) != KP_OK)
		goto out;
	f.leaf.cap_exts.p = exts;
	f.leaf.cap_exts.n = n;
	if (opts->last_resort) {
		if (!kp_u16_list_has(f.leaf.cap_exts, KP_EXT_LAST_RESORT)) {
			exts[n] = 0x00;
			exts[n + 1] = KP_EXT_LAST_RESORT;
			f.leaf.cap_exts.n = n + 2;
		}
		f.exts.p = lastres;
		f.exts.n = sizeof(lastres);
	}
	n = 0;
	if (opts->cap_proposals != NULL &&
	    (rc = u16_body(opts->cap_proposals, opts->ncap_proposals, props,
	    &n)) != KP_OK)
		goto out;
	f.leaf.cap_props.p = props;
	f.leaf.cap_props.n = n;

	/* basic credential: type, identity<V> */
	cred[0] = 0x00;
	cred[1] = KP_CRED_BASIC;
	credlen = 2;
	if (opts->identity_len < 0x40)
		cred[credlen++] = (uint8_t)opts->identity_len;
	else {
		cred[credlen++] = (uint8_t)(0x40 | opts->identity_len >> 8);
		cred[credlen++] = (uint8_t)opts->identity_len;
	}
	memcpy(cred + credlen, opts->identity, opts->identity_len);
	credlen += opts->identity_len;
	f.leaf.cred.p = cred;
	f.leaf.cred.n = credlen;
	f.leaf.cred_type = KP_CRED_BASIC;
	f.leaf.source = KP_LEAF_KEY_PACKAGE;
	f.leaf.not_before = nb;
	f.leaf.not_after = na;

	if ((rc = sign_key(sign_seed, sk)) != KP_OK)
		goto out;
	randombytes_buf(privs, sizeof(privs));
	if (crypto_scalarmult_base(init_pub, privs) != 0 ||
	    crypto_scalarmult_base(enc_pub, privs + KP_KEY_LEN) != 0) {
		rc = KP_ECRYPTO;
		goto out;
	}
	f.init_key.p = init_pub;
	f.init_key.n = sizeof(init_pub);
	f.leaf.enc_key.p = enc_pub;
	f.leaf.enc_key.n = sizeof(enc_pub);
	f.leaf.sig_key.p = sk + KP_SIGN_SEED_LEN;
	f.leaf.sig_key.n = KP_SIGN_PK_LEN;

	kp_wb_reserve(&w, 320 + credlen + f.leaf.cap_exts.n +
	    f.leaf.cap_props.n + f.leaf.cap_creds.n);
	if ((rc = kp_kp_write(&w, &f, sk)) != KP_OK)
		goto out;
	if ((rc = kp_ref_hash(REF_LABEL, w.buf, w.len, ref)) != KP_OK)
		goto out;
	if ((rc = kp_wb_finish(&w, out, outlen)) != KP_OK)
		goto out;
	if (sec != NULL) {
		memcpy(sec->init_priv, privs, KP_KEY_LEN);
		memcpy(sec->encryption_priv, privs + KP_KEY_LEN, KP_KEY_LEN);
	}
out:
	kp_wb_free(&w);
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(privs, sizeof(privs));
	return rc;
}

/* Accessors. */

const uint8_t *
kp_keypackage_bytes(const struct kp_keypackage *kp, size_t *len)
{
	*len = kp->len;
	return kp->raw;
}

const uint8_t *
kp_keypackage_ref(const struct kp_keypackage *kp)
{
	return kp->ref;
}

uint16_t
kp_keypackage_suite(const struct kp_keypackage *kp)
{
	return kp->f.suite;
}

uint16_t
kp_keypackage_credential_type(const struct kp_keypackage *kp)
{
	return kp->f.leaf.cred_type;
}

const uint8_t *
kp_keypackage_identity(const struct kp_keypackage *kp, size_t *len)
{
	*len = kp->f.leaf.identity.n;
	return kp->f.leaf.identity.p;
}

const uint8_t *
kp_keypackage_init_key(const struct kp_keypackage *kp, size_t *len)
{
	*len = kp->f.init_key.n;
	return kp->f.init_key.p;
}

const uint8_t *
kp_keypackage_encryption_key(const struct kp_keypackage *kp, size_t *len)
{
	*len = kp->f.leaf.enc_key.n;
	return kp->f.leaf.enc_key.p;
}

const uint8_t *
kp_keypackage_signature_key(const struct kp_keypackage *kp, size_t *len)
{
	*len = kp->f.leaf.sig_key.n;
	return kp->f.leaf.sig_key.p;
}

uint64_t
kp_keypackage_not_before(const struct kp_keypackage *kp)
{
	return kp->f.leaf.not_before;
}

uint64_t
kp_keypackage_not_after(const struct kp_keypackage *kp)
{
	return kp->f.leaf.not_after;
}

int
kp_keypackage_has_extension(const struct kp_keypackage *kp, uint16_t type)
{
	return kp_exts_find(kp->f.exts, type, NULL);
}

void
kp_credential_hash(const struct kp_keypackage *kp, uint8_t out[32])
{
	kp_sha256(kp->f.leaf.cred.p, kp->f.leaf.cred.n, out);
}
