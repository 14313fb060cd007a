/* SPDX-License-Identifier: ISC */
/*
 * 0011-keypackage-bad: bad twins of a good KeyPackage, each refused with
 * its own code.  Modified structures are re-signed, so that each twin
 * fails the check it was made for and no other.
 */

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "kpool.h"
#include "crypto.h"
#include "mls.h"
#include "tls.h"
#include "tap.h"

#define NB	1700000000ULL
#define NA	(NB + 14 * 86400ULL)
#define NOW	(NB + 60)

static uint8_t	 seed[KP_SIGN_SEED_LEN], pk[32], sk[64];
static uint8_t	*good;
static size_t	 goodlen;

/* Encode f, signing the leaf and the KeyPackage when asked. */
static void
build(const struct kp_kpfields *f, int sign_leaf, int sign_kp, uint8_t **out,
    size_t *len)
{
	struct kp_wb	w;
	uint8_t		sig[KP_SIG_LEN];

	kp_wb_init(&w, KP_MAX_KEYPACKAGE);
	kp_wb_u16(&w, f->version);
	kp_wb_u16(&w, f->suite);
	kp_wb_vec(&w, f->init_key.p, f->init_key.n);
	if (kp_leaf_write(&w, &f->leaf, sign_leaf ? sk : NULL) != KP_OK)
		bail("kp_leaf_write");
	kp_wb_vec(&w, f->exts.p, f->exts.n);
	if (sign_kp) {
		if (kp_sign_with_label(sk, "KeyPackageTBS", w.buf, w.len,
		    sig) != KP_OK)
			bail("sign");
		kp_wb_vec(&w, sig, sizeof(sig));
	} else
		kp_wb_vec(&w, f->sig.p, f->sig.n);
	if (kp_wb_finish(&w, out, len) != KP_OK)
		bail("kp_wb_finish");
}

/* The fields of the good KeyPackage (spans into good). */
static void
fields(struct kp_kpfields *f)
{
	struct kp_rd	r;

	kp_rd_init(&r, good, goodlen);
	if (kp_kp_read(&r, f) != KP_OK)
		bail("kp_kp_read");
}

/* Decode buf; expect decode code dec, then (if it decoded) validate val. */
static void
expect(const uint8_t *buf, size_t len, int dec, int val, const char *what)
{
	struct kp_keypackage	*kp = NULL;
	int			 rc;

	rc = kp_keypackage_decode(buf, len, 0, &kp);
	if (dec != KP_OK) {
		is_int(rc, dec, "%s: decode refuses with %s", what,
		    kp_strerror(dec));
		ok(kp == NULL, "%s: nothing decoded", what);
		return;
	}
	if (!is_int(rc, KP_OK, "%s: decodes", what)) {
		skip(1, "did not decode");
		return;
	}
	is_int(kp_keypackage_validate(kp, NOW), val,
	    "%s: validate refuses with %s", what, kp_strerror(val));
	kp_keypackage_free(kp);
}

/* Re-sign f and expect validate to give val. */
static void
twin(const struct kp_kpfields *f, int sign_leaf, int sign_kp, int dec,
    int val, const char *what)
{
	uint8_t	*b;
	size_t	 n;

	build(f, sign_leaf, sign_kp, &b, &n);
	expect(b, n, dec, val, what);
	free(b);
}

static void
setup(void)
{
	struct kp_kpopts	o;
	uint8_t			ref[KP_REF_LEN];

	memset(seed, 0x42, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
	memset(&o, 0, sizeof(o));
	o.identity = (const uint8_t *)"alice";
	o.identity_len = 5;
	o.not_before = NB;
	o.not_after = NA;
	if (kp_keypackage_generate(&o, seed, &good, &goodlen, ref, NULL) !=
	    KP_OK)
		bail("generate");
}

static void
truncations(void)
{
	struct kp_keypackage	*kp = NULL;
	uint8_t			*b, *w;
	size_t			 i, bad = 0, badw = 0;
	int			 rc;

	expect(good, goodlen, KP_OK, KP_OK, "the good KeyPackage");
	for (i = 0; i < goodlen; i++) {
		if ((b = malloc(i + 1)) == NULL)
			bail("oom");
		memcpy(b, good, i);
		rc = kp_keypackage_decode(b, i, 0, &kp);
		if (rc != KP_ETRUNC || kp != NULL) {
			diag("cut at %zu: %s", i, kp_strerror(rc));
			bad++;
		}
		free(b);
	}
	is_int(bad, 0, "cut at each of %zu offsets: KP_ETRUNC", goodlen);
	if ((w = malloc(goodlen + 4)) == NULL)
		bail("oom");
	memcpy(w, "\0\1\0\5", 4);
	memcpy(w + 4, good, goodlen);
	for (i = 4; i < goodlen + 4; i++) {
		rc = kp_keypackage_decode(w, i, 1, &kp);
		if (rc != KP_ETRUNC || kp != NULL) {
			diag("wrapped, cut at %zu: %s", i, kp_strerror(rc));
			badw++;
		}
	}
	is_int(badw, 0, "MLSMessage form cut at each offset: KP_ETRUNC");
	free(w);
	if ((w = malloc(goodlen + 5)) == NULL)
		bail("oom");
	memcpy(w, "\0\1\0\5", 4);
	memcpy(w + 4, good, goodlen);
	w[goodlen + 4] = 0x00;
	kp = NULL;
	is_int(kp_keypackage_decode(w, goodlen + 5, 1, &kp), KP_ETRAILING,
	    "MLSMessage form, one trailing byte: KP_ETRAILING");
	ok(kp == NULL, "MLSMessage form, one trailing byte: nothing decoded");
	free(w);

	if ((b = malloc(goodlen + 1)) == NULL)
		bail("oom");
	memcpy(b, good, goodlen);
	b[goodlen] = 0x00;
	expect(b, goodlen + 1, KP_ETRAILING, 0, "one trailing byte");
	free(b);
	is_int(kp_keypackage_decode(good, KP_MAX_KEYPACKAGE + 5, 0, &kp),
	    KP_ETOOBIG, "a length over KP_MAX_KEYPACKAGE: KP_ETOOBIG");
}

static void
varint(void)
{
	struct kp_kpfields	 f;
	uint8_t			*b;
	size_t			 at;

	/* the identity's length, 05, written as the 2-byte 40 05 */
	fields(&f);
	at = (size_t)(f.leaf.identity.p - good) - 1;
	if (good[at] != 5)
		bail("identity length not where expected");
	if ((b = malloc(goodlen + 1)) == NULL)
		bail("oom");
	memcpy(b, good, at);
	b[at] = 0x40;
	memcpy(b + at + 1, good + at, goodlen - at);
	expect(b, goodlen + 1, KP_EVARINT, 0, "non-minimal identity length");
	b[at] = 0xc0;
	expect(b, goodlen + 1, KP_EVARINT, 0, "8-byte form length prefix");
	free(b);

	/* init_key's length, 20, written as the 4-byte 80 00 00 20 */
	at = (size_t)(f.init_key.p - good) - 1;
	if (good[at] != 0x20)
		bail("init_key length not where expected");
	if ((b = malloc(goodlen + 3)) == NULL)
		bail("oom");
	memcpy(b, good, at);
	memcpy(b + at, "\x80\x00\x00\x20", 4);
	memcpy(b + at + 4, good + at + 1, goodlen - at - 1);
	expect(b, goodlen + 3, KP_EVARINT, 0,
	    "non-minimal init_key length (4-byte form)");
	free(b);
}

static void
signatures(void)
{
	struct kp_kpfields	 f;
	uint8_t			 sig[KP_SIG_LEN], *b;
	size_t			 i, n, badl = 0, badk = 0;
	struct kp_keypackage	*kp;

	fields(&f);
	/* a bit flipped in the leaf signature, KeyPackage re-signed */
	for (i = 0; i < KP_SIG_LEN * 8; i++) {
		memcpy(sig, f.leaf.sig.p, sizeof(sig));
		sig[i / 8] ^= (uint8_t)(1 << (i % 8));
		f.leaf.sig.p = sig;
		build(&f, 0, 1, &b, &n);
		kp = NULL;
		if (kp_keypackage_decode(b, n, 0, &kp) != KP_OK ||
		    kp_keypackage_validate(kp, NOW) != KP_ELEAFSIG)
			badl++;
		kp_keypackage_free(kp);
		free(b);
		fields(&f);
	}
	is_int(badl, 0, "a flipped bit in the LeafNode signature: "
	    "KP_ELEAFSIG (each of the 512 bits)");
	for (i = 0; i < KP_SIG_LEN * 8; i++) {
		if ((b = malloc(goodlen)) == NULL)
			bail("oom");
		memcpy(b, good, goodlen);
		b[goodlen - KP_SIG_LEN + i / 8] ^= (uint8_t)(1 << (i % 8));
		kp = NULL;
		if (kp_keypackage_decode(b, goodlen, 0, &kp) != KP_OK ||
		    kp_keypackage_validate(kp, NOW) != KP_EKPSIG)
			badk++;
		kp_keypackage_free(kp);
		free(b);
	}
	is_int(badk, 0, "a flipped bit in the KeyPackage signature: "
	    "KP_EKPSIG (each of the 512 bits)");
	/* a field changed after signing: both signatures cover it */
	fields(&f);
	f.leaf.not_after = NA + 1;
	twin(&f, 0, 1, KP_OK, KP_ELEAFSIG, "lifetime changed, leaf not re-signed");
	twin(&f, 1, 0, KP_OK, KP_EKPSIG, "lifetime changed, KeyPackage not "
	    "re-signed");
	twin(&f, 1, 1, KP_OK, KP_OK, "lifetime changed, both re-signed");
	/* signed by another key */
	{
		uint8_t	pk2[32], sk2[64], save[64];

		crypto_sign_keypair(pk2, sk2);
		memcpy(save, sk, sizeof(save));
		memcpy(sk, sk2, sizeof(sk));
		fields(&f);
		twin(&f, 1, 1, KP_OK, KP_ELEAFSIG,
		    "signed with a key other than signature_key");
		memcpy(sk, save, sizeof(save));
		sodium_memzero(sk2, sizeof(sk2));
	}
}

static void
fields_bad(void)
{
	static const uint8_t	 suite3[] = { 0x00, 0x03 };
	static const uint8_t	 x509cap[] = { 0x00, 0x02 };
	static const uint8_t	 v2[] = { 0x00, 0x02 };
	static const uint8_t	 x509cred[] = { 0x00, 0x02, 0x06, 0x05, 'h',
				    'e', 'l', 'l', 'o' };
	static const uint8_t	 emptycred[] = { 0x00, 0x01, 0x00 };
	static const uint8_t	 oddcred[] = { 0x00, 0x07, 0x00 };
	static const uint8_t	 lastres[] = { 0x00, 0x0a, 0x00 };
	static const uint8_t	 grease[] = { 0x3a, 0x3a, 0x00 };
	static const uint8_t	 greasecap[] = { 0x3a, 0x3a };
	static const uint8_t	 vmany[] = { 0x00, 0x00, 0x00, 0x01, 0x00,
				    0x02, 0x0a, 0x0a, 0xff, 0xff };
	static const uint8_t	 dup[] = { 0x00, 0x0a, 0x00, 0x00, 0x0a, 0x00 };
	static const uint8_t	 odd[] = { 0x00, 0x01, 0x00 };
	static const uint8_t	 lrcap[] = { 0x00, 0x0a };
	uint8_t			 short_key[31];
	struct kp_kpfields	 f;

	fields(&f);
	f.version = 2;
	twin(&f, 1, 1, KP_OK, KP_EVERSION, "version 2");
	fields(&f);
	f.suite = 0x0002;
	twin(&f, 1, 1, KP_OK, KP_ESUITE, "suite 2");
	fields(&f);
	f.suite = 0x0005;
	{
		struct kp_keypackage	*kp = NULL;
		uint8_t			*b, ik[32];
		size_t			 n;

		/*
		 * Starts 00 01 00 05 like an MLSMessage(KeyPackage).  Read
		 * as one, init_key's fourth byte is the inner init_key's
		 * length: 28 would land on the real encryption_key and the
		 * wrapped reading would parse (once a run in 256).  0xc0
		 * is the 8-byte varint form, always refused.
		 */
		if (f.init_key.n != sizeof(ik))
			bail("init_key of %zu bytes", f.init_key.n);
		memcpy(ik, f.init_key.p, sizeof(ik));
		ik[3] = 0xc0;
		f.init_key.p = ik;
		build(&f, 1, 1, &b, &n);
		is_int(kp_keypackage_decode(b, n, 1, &kp), KP_OK,
		    "a raw suite-5 KeyPackage decodes with allow_mlsmessage");
		if (kp != NULL) {
			is_int(kp_keypackage_suite(kp), 5, "as suite 5");
			is_int(kp_keypackage_validate(kp, NOW), KP_ESUITE,
			    "and is refused with KP_ESUITE");
		} else
			skip(2, "did not decode");
		kp_keypackage_free(kp);
		free(b);
	}
	fields(&f);
	f.suite = 0x0003;
	twin(&f, 1, 1, KP_OK, KP_ECAPS,
	    "suite 3 while capabilities list suite 1");
	fields(&f);
	f.leaf.cap_suites.p = suite3;
	f.leaf.cap_suites.n = sizeof(suite3);
	twin(&f, 1, 1, KP_OK, KP_ECAPS, "suite missing from capabilities");
	fields(&f);
	f.leaf.cap_versions.p = v2;
	f.leaf.cap_versions.n = sizeof(v2);
	twin(&f, 1, 1, KP_OK, KP_ECAPS, "mls10 missing from capabilities");
	fields(&f);
	f.leaf.cap_creds.p = x509cap;
	f.leaf.cap_creds.n = sizeof(x509cap);
	twin(&f, 1, 1, KP_OK, KP_ECAPS, "basic missing from capabilities");
	fields(&f);
	f.exts.p = lastres;
	f.exts.n = sizeof(lastres);
	twin(&f, 1, 1, KP_OK, KP_ECAPS,
	    "last_resort extension not in capabilities");
	f.leaf.cap_exts.p = lrcap;
	f.leaf.cap_exts.n = sizeof(lrcap);
	twin(&f, 1, 1, KP_OK, KP_OK, "last_resort listed: valid");
	fields(&f);
	f.leaf.exts.p = lastres;
	f.leaf.exts.n = sizeof(lastres);
	twin(&f, 1, 1, KP_OK, KP_ECAPS,
	    "leaf extension not in capabilities");
	/* GREASE types in use are listed like any other (§7.2, §13.5) */
	fields(&f);
	f.leaf.exts.p = grease;
	f.leaf.exts.n = sizeof(grease);
	twin(&f, 1, 1, KP_OK, KP_ECAPS,
	    "a GREASE leaf extension not in capabilities");
	f.leaf.cap_exts.p = greasecap;
	f.leaf.cap_exts.n = sizeof(greasecap);
	twin(&f, 1, 1, KP_OK, KP_OK, "a GREASE leaf extension listed: valid");
	fields(&f);
	f.exts.p = grease;
	f.exts.n = sizeof(grease);
	twin(&f, 1, 1, KP_OK, KP_ECAPS,
	    "a GREASE KeyPackage extension not in capabilities");
	f.leaf.cap_exts.p = greasecap;
	f.leaf.cap_exts.n = sizeof(greasecap);
	twin(&f, 1, 1, KP_OK, KP_OK,
	    "a GREASE KeyPackage extension listed: valid");
	/* unknown versions in capabilities are ignored (§13) */
	fields(&f);
	f.leaf.cap_versions.p = vmany;
	f.leaf.cap_versions.n = sizeof(vmany);
	twin(&f, 1, 1, KP_OK, KP_OK,
	    "versions 0, mls10, 2, GREASE and 0xffff listed: valid");
	f.leaf.cap_versions.p = vmany + 4;
	f.leaf.cap_versions.n = sizeof(vmany) - 4;
	twin(&f, 1, 1, KP_OK, KP_ECAPS,
	    "versions 2, GREASE and 0xffff, no mls10: KP_ECAPS");
	fields(&f);
	f.exts.p = dup;
	f.exts.n = sizeof(dup);
	twin(&f, 1, 1, KP_EMALFORMED, 0, "an extension type twice");
	fields(&f);
	f.leaf.cap_suites.p = odd;
	f.leaf.cap_suites.n = sizeof(odd);
	twin(&f, 1, 1, KP_EMALFORMED, 0, "capabilities of odd length");
	fields(&f);
	f.init_key = f.leaf.enc_key;
	twin(&f, 1, 1, KP_OK, KP_ESAMEKEY, "init_key == encryption_key");
	fields(&f);
	memset(short_key, 9, sizeof(short_key));
	f.init_key.p = short_key;
	f.init_key.n = sizeof(short_key);
	twin(&f, 1, 1, KP_OK, KP_EMALFORMED, "a 31-byte init_key");
	fields(&f);
	f.leaf.source = KP_LEAF_UPDATE;
	twin(&f, 1, 1, KP_OK, KP_ELEAFSRC, "leaf_node_source update");
	fields(&f);
	f.leaf.source = KP_LEAF_COMMIT;
	f.leaf.parent_hash.p = pk;
	f.leaf.parent_hash.n = 32;
	twin(&f, 1, 1, KP_OK, KP_ELEAFSRC, "leaf_node_source commit");
	fields(&f);
	f.leaf.source = 9;
	twin(&f, 1, 1, KP_EMALFORMED, 0, "leaf_node_source 9");
	fields(&f);
	f.leaf.cred.p = x509cred;
	f.leaf.cred.n = sizeof(x509cred);
	twin(&f, 1, 1, KP_OK, KP_ECRED, "an x509 credential");
	fields(&f);
	f.leaf.cred.p = emptycred;
	f.leaf.cred.n = sizeof(emptycred);
	twin(&f, 1, 1, KP_OK, KP_ECRED, "an empty basic identity");
	fields(&f);
	f.leaf.cred.p = oddcred;
	f.leaf.cred.n = sizeof(oddcred);
	twin(&f, 1, 1, KP_ECRED, 0, "credential type 7");
	fields(&f);
	f.leaf.not_before = NOW + 1;
	twin(&f, 1, 1, KP_OK, KP_ENOTYET, "not_before in the future");
	fields(&f);
	f.leaf.not_after = NOW - 1;
	twin(&f, 1, 1, KP_OK, KP_EEXPIRED, "not_after in the past");
	fields(&f);
	f.leaf.not_before = NA + 1;
	twin(&f, 1, 1, KP_OK, KP_ELIFETIME, "not_before after not_after");
	/* the lifetime is inclusive at both ends (RFC 9420 §7.2) */
	fields(&f);
	f.leaf.not_before = NOW;
	twin(&f, 1, 1, KP_OK, KP_OK, "not_before == now: valid");
	fields(&f);
	f.leaf.not_after = NOW;
	twin(&f, 1, 1, KP_OK, KP_OK, "not_after == now: valid");
	fields(&f);
	f.leaf.not_before = f.leaf.not_after = NOW;
	twin(&f, 1, 1, KP_OK, KP_OK, "a one-second lifetime at now: valid");
	fields(&f);
	f.leaf.not_before = 0;
	f.leaf.not_after = UINT64_MAX;
	twin(&f, 1, 1, KP_OK, KP_OK, "lifetime 0 .. 2^64-1: valid");
}

/*
 * init_key or encryption_key of small order: the KEM cannot encrypt to
 * it (KP_EWEAKKEY).  Each point, and its encoding with the top bit set,
 * which X25519 ignores; libsodium refuses the same points.
 */
static void
weak_keys(void)
{
	static const char	*hex[] = {
	    "0000000000000000000000000000000000000000000000000000000000000000",
	    "0100000000000000000000000000000000000000000000000000000000000000",
	    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
	    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
	    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	};
	struct kp_kpfields	 f;
	uint8_t			*pt, key[32], out[32], sc[32];
	char			 what[128];
	size_t			 i, n, top, sodium_bad = 0;

	randombytes_buf(sc, sizeof(sc));
	for (i = 0; i < sizeof(hex) / sizeof(hex[0]); i++)
		for (top = 0; top < 2; top++) {
			pt = tap_unhex(hex[i], &n);
			memcpy(key, pt, sizeof(key));
			free(pt);
			key[31] |= (uint8_t)(top << 7);
			if (crypto_scalarmult(out, sc, key) != -1)
				sodium_bad++;
			fields(&f);
			f.init_key.p = key;
			snprintf(what, sizeof(what), "init_key %.8s..%s: "
			    "KP_EWEAKKEY", hex[i], top ? " (top bit set)" : "");
			twin(&f, 1, 1, KP_OK, KP_EWEAKKEY, what);
			fields(&f);
			f.leaf.enc_key.p = key;
			snprintf(what, sizeof(what), "encryption_key %.8s..%s: "
			    "KP_EWEAKKEY", hex[i], top ? " (top bit set)" : "");
			twin(&f, 1, 1, KP_OK, KP_EWEAKKEY, what);
		}
	is_int(sodium_bad, 0, "libsodium's crypto_scalarmult refuses the "
	    "same 14 encodings");
	/* p + 2, the next encoding: not of small order */
	memset(key, 0xff, sizeof(key));
	key[0] = 0xef;
	key[31] = 0x7f;
	ok(crypto_scalarmult(out, sc, key) == 0, "libsodium takes p + 2");
	fields(&f);
	f.init_key.p = key;
	twin(&f, 1, 1, KP_OK, KP_OK, "init_key p + 2: valid");
	sodium_memzero(sc, sizeof(sc));
}

int
main(void)
{
	if (sodium_init() < 0)
		bail("sodium_init");
	setup();
	truncations();
	varint();
	signatures();
	fields_bad();
	weak_keys();
	free(good);
	sodium_memzero(sk, sizeof(sk));
	return done_testing();
}
