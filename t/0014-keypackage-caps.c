/* SPDX-License-Identifier: ISC */
/*
 * 0014-keypackage-caps: capabilities a caller configures.  RFC 9420 §7.2
 * says the default extension types (1..5) and proposal types (1..7) must
 * not be listed: generation refuses them with KP_EINVAL and a sentence.
 * §7.3 lists no such check for a received LeafNode and §13 says unknown
 * capabilities are ignored, so a received KeyPackage that lists them
 * still validates.
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
#define NOW	(NB + 60)

static const uint8_t	seed[KP_SIGN_SEED_LEN] = { 7, 7, 7 };

static void
opts(struct kp_kpopts *o)
{
	memset(o, 0, sizeof(*o));
	o->identity = (const uint8_t *)"carol";
	o->identity_len = 5;
	o->not_before = NB;
	o->not_after = NB + 86400;
}

/* generate with o: want rc, and on failure no output and *why == msg. */
static void
gen(const struct kp_kpopts *o, int want, const char *msg, const char *what)
{
	uint8_t		*buf = NULL, ref[KP_REF_LEN];
	size_t		 len = 99;
	const char	*why = "unset";
	int		 rc;

	rc = kp_keypackage_generate(o, seed, &buf, &len, ref, NULL);
	is_int(rc, want, "%s: generate gives %s", what, kp_strerror(want));
	if (want != KP_OK)
		ok(buf == NULL && len == 0, "%s: no output", what);
	free(buf);
	is_int(kp_kpopts_check(o, &why), want, "%s: kp_kpopts_check agrees",
	    what);
	if (msg == NULL)
		ok(why == NULL, "%s: no reason given", what);
	else
		is_string(why, msg, "%s: the reason", what);
}

static void
generation(void)
{
	static const char	*ext_msg = "capabilities.extensions lists a "
	    "default extension type (0x0001 to 0x0005), which RFC 9420 "
	    "section 7.2 forbids";
	static const char	*prop_msg = "capabilities.proposals lists a "
	    "default proposal type (0x0001 to 0x0007), which RFC 9420 "
	    "section 7.2 forbids";
	struct kp_kpopts	 o;
	uint16_t		 list[3];
	uint16_t		 t;
	char			 what[64];

	opts(&o);
	gen(&o, KP_OK, NULL, "no lists");
	for (t = 1; t <= 5; t++) {
		opts(&o);
		list[0] = 0x0a0a;	/* GREASE first: the scan goes on */
		list[1] = t;
		o.cap_extensions = list;
		o.ncap_extensions = 2;
		snprintf(what, sizeof(what), "extension type %u listed", t);
		gen(&o, KP_EINVAL, ext_msg, what);
	}
	for (t = 1; t <= 7; t++) {
		opts(&o);
		list[0] = t;
		o.cap_proposals = list;
		o.ncap_proposals = 1;
		snprintf(what, sizeof(what), "proposal type %u listed", t);
		gen(&o, KP_EINVAL, prop_msg, what);
	}
	opts(&o);
	list[0] = 0x0006;
	list[1] = KP_EXT_LAST_RESORT;
	list[2] = 0x0a0a;
	o.cap_extensions = list;
	o.ncap_extensions = 3;
	gen(&o, KP_OK, NULL, "extension types 6, 10 and GREASE");
	opts(&o);
	list[0] = 0x0008;
	o.cap_proposals = list;
	o.ncap_proposals = 1;
	gen(&o, KP_OK, NULL, "proposal type 8");
	opts(&o);
	o.cap_extensions = NULL;
	o.ncap_extensions = 2;
	gen(&o, KP_EINVAL, "a capabilities list is NULL or longer than 64 "
	    "entries", "a NULL list with a count");
	opts(&o);
	o.suite = 2;
	gen(&o, KP_ESUITE, "cipher suite not supported (0x0001 or 0x0003)",
	    "suite 2");
	opts(&o);
	o.identity_len = 0;
	gen(&o, KP_EINVAL, "identity must be 1 to 255 bytes", "no identity");
	opts(&o);
	o.not_after = NB - 1;
	gen(&o, KP_ELIFETIME, "not_before is after not_after",
	    "inverted lifetime");
	is_int(kp_kpopts_check(NULL, NULL), KP_EINVAL,
	    "kp_kpopts_check(NULL): KP_EINVAL, why may be NULL");
}

/* A received KeyPackage whose capabilities list default types. */
static void
received(void)
{
	static const uint8_t	 exts[] = { 0x00, 0x01, 0x00, 0x02, 0x00,
				    0x05 };
	static const uint8_t	 props[] = { 0x00, 0x01, 0x00, 0x07 };
	struct kp_kpopts	 o;
	struct kp_kpfields	 f;
	struct kp_keypackage	*kp = NULL;
	struct kp_rd		 r;
	struct kp_wb		 w;
	uint8_t			 pk[32], sk[64], *good, *b, ref[KP_REF_LEN];
	size_t			 goodlen, n;

	opts(&o);
	if (kp_keypackage_generate(&o, seed, &good, &goodlen, ref, NULL) !=
	    KP_OK)
		bail("generate");
	crypto_sign_seed_keypair(pk, sk, seed);
	kp_rd_init(&r, good, goodlen);
	if (kp_kp_read(&r, &f) != KP_OK)
		bail("kp_kp_read");
	f.leaf.cap_exts.p = exts;
	f.leaf.cap_exts.n = sizeof(exts);
	f.leaf.cap_props.p = props;
	f.leaf.cap_props.n = sizeof(props);
	kp_wb_init(&w, KP_MAX_KEYPACKAGE);
	if (kp_kp_write(&w, &f, sk) != KP_OK || kp_wb_finish(&w, &b, &n) !=
	    KP_OK)
		bail("kp_kp_write");
	is_int(kp_keypackage_decode(b, n, 0, &kp), KP_OK,
	    "received, default types listed: decodes");
	is_int(kp_keypackage_validate(kp, NOW), KP_OK,
	    "received, default types listed: validates (RFC 9420 §7.3, §13)");
	kp_keypackage_free(kp);
	free(b);
	free(good);
	sodium_memzero(sk, sizeof(sk));
}

int
main(void)
{
	generation();
	received();
	return done_testing();
}
