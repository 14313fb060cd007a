/* SPDX-License-Identifier: ISC */
/*
 * 0010-keypackage-gen: generate KeyPackages in both suites, validate
 * them, decode and re-encode them, and check every option.
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "kpool.h"
#include "mls.h"
#include "tls.h"
#include "tap.h"

static const uint8_t	seed[KP_SIGN_SEED_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8 };

static struct kp_keypackage *
gen(const struct kp_kpopts *o, const uint8_t *s, struct kp_kpsecrets *sec,
    const char *what)
{
	struct kp_keypackage	*kp = NULL;
	uint8_t			*buf, ref[KP_REF_LEN];
	size_t			 len;
	int			 rc;

	if ((rc = kp_keypackage_generate(o, s, &buf, &len, ref, sec)) !=
	    KP_OK)
		bail("%s: generate: %s", what, kp_strerror(rc));
	if ((rc = kp_keypackage_decode(buf, len, 0, &kp)) != KP_OK)
		bail("%s: decode: %s", what, kp_strerror(rc));
	is_blob(kp_keypackage_ref(kp), KP_REF_LEN, ref, sizeof(ref),
	    "%s: the returned ref is the decoded one", what);
	free(buf);
	return kp;
}

static void
suite(uint16_t id)
{
	struct kp_kpopts	 o;
	struct kp_kpsecrets	 sec;
	struct kp_keypackage	*kp;
	struct kp_kpfields	 f;
	struct kp_rd		 r;
	struct kp_wb		 w;
	uint8_t			 pk[32], sk[64], x[32], *enc, *wrapped;
	const uint8_t		*p, *raw;
	size_t			 n, rawlen, enclen;
	uint64_t		 now = (uint64_t)time(NULL);
	struct kp_keypackage	*kp2 = NULL;

	memset(&o, 0, sizeof(o));
	o.suite = id;
	o.identity = (const uint8_t *)"alice";
	o.identity_len = 5;
	kp = gen(&o, seed, &sec, "default");
	is_int(kp_keypackage_validate(kp, now), KP_OK,
	    "suite %u: a fresh KeyPackage validates", id);
	is_int(kp_keypackage_suite(kp), id, "suite %u: suite", id);
	is_int(kp_keypackage_credential_type(kp), KP_CRED_BASIC,
	    "suite %u: basic credential", id);
	p = kp_keypackage_identity(kp, &n);
	is_blob(p, n, "alice", 5, "suite %u: identity", id);
	p = kp_keypackage_init_key(kp, &n);
	crypto_scalarmult_base(x, sec.init_priv);
	is_blob(p, n, x, 32, "suite %u: init_key is X25519(init_priv)", id);
	p = kp_keypackage_encryption_key(kp, &n);
	crypto_scalarmult_base(x, sec.encryption_priv);
	is_blob(p, n, x, 32,
	    "suite %u: encryption_key is X25519(encryption_priv)", id);
	crypto_sign_seed_keypair(pk, sk, seed);
	p = kp_keypackage_signature_key(kp, &n);
	is_blob(p, n, pk, 32, "suite %u: signature_key is the seed's", id);
	ok(kp_keypackage_not_before(kp) <= now &&
	    kp_keypackage_not_before(kp) + 3600 >= now - 5,
	    "suite %u: not_before is an hour back", id);
	is_int(kp_keypackage_not_after(kp) - kp_keypackage_not_before(kp),
	    14 * 86400 + 3600, "suite %u: lifetime 14 days + 1 h", id);
	is_int(kp_keypackage_has_extension(kp, KP_EXT_LAST_RESORT), 0,
	    "suite %u: no last_resort by default", id);

	raw = kp_keypackage_bytes(kp, &rawlen);
	kp_rd_init(&r, raw, rawlen);
	if (kp_kp_read(&r, &f) != KP_OK)
		bail("kp_kp_read");
	is_blob(f.leaf.cap_versions.p, f.leaf.cap_versions.n, "\0\1", 2,
	    "suite %u: capabilities.versions = mls10", id);
	ok(f.leaf.cap_suites.n == 2 && kp_u16_list_has(f.leaf.cap_suites, id),
	    "suite %u: capabilities.cipher_suites = the suite", id);
	is_blob(f.leaf.cap_creds.p, f.leaf.cap_creds.n, "\0\1", 2,
	    "suite %u: capabilities.credentials = basic", id);
	is_int(f.leaf.cap_exts.n + f.leaf.cap_props.n + f.exts.n +
	    f.leaf.exts.n, 0, "suite %u: no extensions or proposals", id);
	is_int(f.leaf.source, KP_LEAF_KEY_PACKAGE,
	    "suite %u: leaf_node_source key_package", id);

	kp_wb_init(&w, KP_MAX_KEYPACKAGE);
	is_int(kp_kp_write(&w, &f, NULL), KP_OK, "suite %u: re-encodes", id);
	if (kp_wb_finish(&w, &enc, &enclen) != KP_OK)
		bail("finish");
	is_blob(enc, enclen, raw, rawlen, "suite %u: byte for byte", id);
	free(enc);

	/* MLSMessage wrapper */
	if ((wrapped = malloc(rawlen + 4)) == NULL)
		bail("oom");
	memcpy(wrapped, "\0\1\0\5", 4);
	memcpy(wrapped + 4, raw, rawlen);
	is_int(kp_keypackage_decode(wrapped, rawlen + 4, 1, &kp2), KP_OK,
	    "suite %u: the MLSMessage form decodes", id);
	if (kp2 != NULL) {
		is_blob(kp_keypackage_ref(kp2), KP_REF_LEN,
		    kp_keypackage_ref(kp), KP_REF_LEN,
		    "suite %u: to the same ref", id);
		p = kp_keypackage_bytes(kp2, &n);
		is_blob(p, n, raw, rawlen, "suite %u: bytes unwrapped", id);
		kp_keypackage_free(kp2);
	}
	kp2 = NULL;
	ok(kp_keypackage_decode(wrapped, rawlen + 4, 0, &kp2) != KP_OK &&
	    kp2 == NULL, "suite %u: not without allow_mlsmessage", id);
	free(wrapped);

	is_int(kp_keypackage_validate(kp, kp_keypackage_not_before(kp)),
	    KP_OK, "suite %u: valid at not_before", id);
	is_int(kp_keypackage_validate(kp, kp_keypackage_not_after(kp)),
	    KP_OK, "suite %u: valid at not_after", id);
	is_int(kp_keypackage_validate(kp, kp_keypackage_not_before(kp) - 1),
	    KP_ENOTYET, "suite %u: not yet valid a second before", id);
	is_int(kp_keypackage_validate(kp, kp_keypackage_not_after(kp) + 1),
	    KP_EEXPIRED, "suite %u: expired a second after", id);
	kp_keypackage_free(kp);
	sodium_memzero(&sec, sizeof(sec));
	sodium_memzero(sk, sizeof(sk));
}

static void
options(void)
{
	static const uint16_t	 creds[] = { KP_CRED_BASIC, KP_CRED_X509 };
	static const uint16_t	 x509[] = { KP_CRED_X509 };
	static const uint16_t	 exts[] = { 0x0a0a, 0xf000 };
	static const uint16_t	 props[] = { 0x0008, 0xfff0 };
	static const uint16_t	 many[KP_MAX_CAPS + 1];
	uint8_t			 seed2[KP_SIGN_SEED_LEN], pk[32], sk[64];
	struct kp_kpopts	 o;
	struct kp_keypackage	*kp, *kp2;
	struct kp_kpfields	 f;
	struct kp_rd		 r;
	const uint8_t		*p, *raw;
	uint8_t			*buf, ref[KP_REF_LEN];
	size_t			 n, rawlen;

	memset(&o, 0, sizeof(o));
	o.identity = (const uint8_t *)"bob";
	o.identity_len = 3;
	o.not_before = 1000;
	o.not_after = 5000;
	o.last_resort = 1;
	o.cap_credentials = creds;
	o.ncap_credentials = 2;
	o.cap_extensions = exts;
	o.ncap_extensions = 2;
	o.cap_proposals = props;
	o.ncap_proposals = 2;
	kp = gen(&o, seed, NULL, "options");
	is_int(kp_keypackage_suite(kp), KP_SUITE_X25519_AES128GCM,
	    "suite 0 means the default suite");
	is_int(kp_keypackage_not_before(kp), 1000, "not_before as given");
	is_int(kp_keypackage_not_after(kp), 5000, "not_after as given");
	is_int(kp_keypackage_has_extension(kp, KP_EXT_LAST_RESORT), 1,
	    "last_resort extension present");
	is_int(kp_keypackage_validate(kp, 3000), KP_OK,
	    "a last-resort KeyPackage validates");
	raw = kp_keypackage_bytes(kp, &rawlen);
	kp_rd_init(&r, raw, rawlen);
	if (kp_kp_read(&r, &f) != KP_OK)
		bail("kp_kp_read");
	is_blob(f.leaf.cap_exts.p, f.leaf.cap_exts.n,
	    "\x0a\x0a\xf0\x00\x00\x0a", 6,
	    "capabilities.extensions: given, then last_resort");
	is_blob(f.leaf.cap_props.p, f.leaf.cap_props.n, "\x00\x08\xff\xf0", 4,
	    "capabilities.proposals as given");
	is_blob(f.leaf.cap_creds.p, f.leaf.cap_creds.n, "\0\1\0\2", 4,
	    "capabilities.credentials basic, x509");
	is_blob(f.exts.p, f.exts.n, "\x00\x0a\x00", 3,
	    "KeyPackage extensions: last_resort, empty");
	kp_keypackage_free(kp);

	/* last_resort already listed: not listed twice */
	{
		static const uint16_t lr[] = { KP_EXT_LAST_RESORT };

		o.cap_extensions = lr;
		o.ncap_extensions = 1;
		kp = gen(&o, seed, NULL, "listed");
		raw = kp_keypackage_bytes(kp, &rawlen);
		kp_rd_init(&r, raw, rawlen);
		if (kp_kp_read(&r, &f) != KP_OK)
			bail("kp_kp_read");
		is_blob(f.leaf.cap_exts.p, f.leaf.cap_exts.n, "\x00\x0a", 2,
		    "last_resort listed once");
		kp_keypackage_free(kp);
	}

	/*
	 * credentials capability without basic, the type in use: refused,
	 * as validation would refuse the KeyPackage (KP_ECAPS)
	 */
	memset(&o, 0, sizeof(o));
	o.identity = (const uint8_t *)"bob";
	o.identity_len = 3;
	o.cap_credentials = x509;
	o.ncap_credentials = 1;
	{
		uint8_t		*b = NULL;
		size_t		 bl = 0;
		const char	*why = NULL;

		is_int(kp_keypackage_generate(&o, seed, &b, &bl, ref, NULL),
		    KP_EINVAL, "capabilities.credentials x509 only: KP_EINVAL");
		ok(b == NULL && bl == 0, "x509 only: nothing made");
		is_int(kp_kpopts_check(&o, &why), KP_EINVAL,
		    "x509 only: kp_kpopts_check agrees");
		is_string(why, "capabilities.credentials does not list basic "
		    "(0x0001), the credential type in use", "x509 only: why");
	}

	/* another seed: the public key cache follows the seed */
	memset(&o, 0, sizeof(o));
	o.identity = (const uint8_t *)"carol";
	o.identity_len = 5;
	memset(seed2, 0x77, sizeof(seed2));
	kp = gen(&o, seed2, NULL, "seed2");
	kp2 = gen(&o, seed, NULL, "seed1");
	crypto_sign_seed_keypair(pk, sk, seed2);
	p = kp_keypackage_signature_key(kp, &n);
	is_blob(p, n, pk, 32, "a second seed signs with its own key");
	is_int(kp_keypackage_validate(kp, (uint64_t)time(NULL)), KP_OK,
	    "and validates");
	crypto_sign_seed_keypair(pk, sk, seed);
	p = kp_keypackage_signature_key(kp2, &n);
	is_blob(p, n, pk, 32, "back to the first seed");
	is_int(kp_keypackage_validate(kp2, (uint64_t)time(NULL)), KP_OK,
	    "and validates");
	ok(memcmp(kp_keypackage_ref(kp), kp_keypackage_ref(kp2), 32) != 0,
	    "different KeyPackages, different refs");
	kp_keypackage_free(kp);
	kp_keypackage_free(kp2);
	sodium_memzero(sk, sizeof(sk));

	/* bad options */
	memset(&o, 0, sizeof(o));
	o.identity = (const uint8_t *)"bob";
	o.identity_len = 3;
	o.suite = 0x0002;
	is_int(kp_keypackage_generate(&o, seed, &buf, &n, ref, NULL),
	    KP_ESUITE, "suite 2: KP_ESUITE");
	o.suite = 0;
	o.not_before = 10;
	o.not_after = 9;
	is_int(kp_keypackage_generate(&o, seed, &buf, &n, ref, NULL),
	    KP_ELIFETIME, "not_before after not_after: KP_ELIFETIME");
	o.not_before = o.not_after = 0;
	o.identity_len = 0;
	is_int(kp_keypackage_generate(&o, seed, &buf, &n, ref, NULL),
	    KP_EINVAL, "empty identity: KP_EINVAL");
	o.identity_len = KP_MAX_IDENTITY + 1;
	is_int(kp_keypackage_generate(&o, seed, &buf, &n, ref, NULL),
	    KP_EINVAL, "identity over KP_MAX_IDENTITY: KP_EINVAL");
	o.identity_len = 3;
	o.cap_proposals = many;
	o.ncap_proposals = KP_MAX_CAPS + 1;
	is_int(kp_keypackage_generate(&o, seed, &buf, &n, ref, NULL),
	    KP_EINVAL, "too many capabilities: KP_EINVAL");
	is_int(kp_keypackage_generate(NULL, seed, &buf, &n, ref, NULL),
	    KP_EINVAL, "no options (no identity): KP_EINVAL");
	{
		uint8_t	id[KP_MAX_IDENTITY];

		memset(id, 'z', sizeof(id));
		memset(&o, 0, sizeof(o));
		o.identity = id;
		o.identity_len = sizeof(id);
		kp = gen(&o, seed, NULL, "long identity");
		p = kp_keypackage_identity(kp, &n);
		is_blob(p, n, id, sizeof(id),
		    "a %d-byte identity (2-byte length)", KP_MAX_IDENTITY);
		is_int(kp_keypackage_validate(kp, (uint64_t)time(NULL)), KP_OK,
		    "and validates");
		kp_keypackage_free(kp);
	}
}

int
main(void)
{
	if (sodium_init() < 0)
		bail("sodium_init");
	suite(KP_SUITE_X25519_AES128GCM);
	suite(KP_SUITE_X25519_CHACHA20);
	options();
	return done_testing();
}
