/* SPDX-License-Identifier: ISC */
/*
 * 0005-welcome-vectors: open the Welcomes of welcome.json and
 * passive-client-welcome.json: keys, GroupSecrets, GroupInfo signature,
 * confirmation tag and epoch_authenticator; and the refusals.
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "kpool.h"
#include "crypto.h"
#include "mls.h"
#include "tls.h"
#include "welcome.h"
#include "kptest.h"
#include "tap.h"
#include "0-vectors.h"

/* a time inside the lifetimes of passive-client-welcome.json's leaves */
#define IN_LIFETIME	1690000000ULL

static void
welcome_json(void)
{
	json_t			*root, *v;
	size_t			 i, run = 0;

	root = vec_load("welcome.json");
	is_int(json_array_size(root), 2, "welcome.json: two suites");
	json_array_foreach(root, i, v) {
		int	cs = (int)json_integer_value(json_object_get(v,
			    "cipher_suite"));
		struct kp_keypackage	*kp = NULL;
		struct kp_welcome_info	 info;
		uint8_t			*priv, *spub, *kpb, *wb, *refs, x[32];
		uint8_t			 bad[32], *other;
		const uint8_t		*p;
		size_t			 pl, sl, kl, wl, n, j, olen, cuts;
		int			 rc;

		priv = hexf(v, "init_priv", &pl);
		spub = hexf(v, "signer_pub", &sl);
		if (sl != 32)
			bail("signer_pub of %zu bytes", sl);
		kpb = hexf(v, "key_package", &kl);
		wb = hexf(v, "welcome", &wl);
		if (kp_keypackage_decode(kpb, kl, 1, &kp) != KP_OK)
			bail("key_package does not decode");
		crypto_scalarmult_base(x, priv);
		p = kp_keypackage_init_key(kp, &n);
		is_blob(x, 32, p, n, "suite %d: X25519(init_priv) == init_key",
		    cs);
		is_int(kp_welcome_refs(wb, wl, &refs, &n), KP_OK,
		    "suite %d: kp_welcome_refs", cs);
		ok(n == 1 && memcmp(refs, kp_keypackage_ref(kp), 32) == 0,
		    "suite %d: the Welcome names our KeyPackageRef", cs);
		free(refs);

		/*
		 * No ratchet tree in these Welcomes: a joiner cannot check
		 * the GroupInfo (RFC 9420 §12.4.3.1), so kp_welcome_open
		 * refuses them once they decrypt.  The rest of the join
		 * is checked with the vector's signer key.
		 */
		is_int(kp_welcome_open(wb, wl, kpb, kl, priv, NULL, 0, 0,
		    &info), KP_ENOTREE, "suite %d: no ratchet tree: "
		    "KP_ENOTREE", cs);
		rc = kp_welcome_open_signer(wb, wl, kpb, kl, priv, spub, &info);
		is_int(rc, KP_OK, "suite %d: opens with signer_pub", cs);
		is_int(info.signature_checked, 1,
		    "suite %d: GroupInfo signature verified", cs);
		is_int(info.suite, cs, "suite %d: GroupInfo suite", cs);
		ok(info.group_id_len > 0, "suite %d: group_id of %zu bytes",
		    cs, info.group_id_len);
		kp_welcome_info_free(&info);

		/* the raw KeyPackage works as well as the wrapped one */
		p = kp_keypackage_bytes(kp, &n);
		is_int(kp_welcome_open_signer(wb, wl, p, n, priv, spub, &info),
		    KP_OK, "suite %d: opens with the raw KeyPackage", cs);
		kp_welcome_info_free(&info);

		memcpy(bad, spub, 32);
		bad[0] ^= 1;
		is_int(kp_welcome_open_signer(wb, wl, kpb, kl, priv, bad,
		    &info), KP_EGISIG, "suite %d: another signer key: "
		    "KP_EGISIG", cs);
		memcpy(bad, priv, 32);
		bad[5] ^= 1;
		is_int(kp_welcome_open(wb, wl, kpb, kl, bad, NULL, 0, 0, &info),
		    KP_EDECRYPT, "suite %d: another init key: KP_EDECRYPT", cs);

		/* a KeyPackage the Welcome is not for */
		{
			struct kp_kpopts	o;
			struct kp_kpsecrets	sec;
			uint8_t			seed[32] = { 9 }, ref[32];

			memset(&o, 0, sizeof(o));
			o.suite = (uint16_t)cs;
			o.identity = (const uint8_t *)"x";
			o.identity_len = 1;
			if (kp_keypackage_generate(&o, seed, &other, &olen,
			    ref, &sec) != KP_OK)
				bail("generate");
			is_int(kp_welcome_open(wb, wl, other, olen,
			    sec.init_priv, NULL, 0, 0, &info), KP_ENOTOURS,
			    "suite %d: not our KeyPackage: KP_ENOTOURS", cs);
			sodium_memzero(&sec, sizeof(sec));
			free(other);
		}

		/* framing */
		cuts = 0;
		for (j = 0; j < wl; j++) {
			rc = kp_welcome_refs(wb, j, &refs, &n);
			if (rc != KP_ETRUNC) {
				diag("cut at %zu: %s", j, kp_strerror(rc));
				cuts++;
			}
		}
		is_int(cuts, 0, "suite %d: Welcome cut at each of %zu "
		    "offsets: KP_ETRUNC", cs, wl);
		{
			uint8_t	*t = malloc(wl + 1);

			if (t == NULL)
				bail("oom");
			memcpy(t, wb, wl);
			t[wl] = 0;
			is_int(kp_welcome_open(t, wl + 1, kpb, kl, priv, NULL,
			    0, 0, &info), KP_ETRAILING,
			    "suite %d: a trailing byte: KP_ETRAILING", cs);
			t[3] = 5;
			is_int(kp_welcome_refs(t, wl, &refs, &n), KP_EWIREFMT,
			    "suite %d: wire_format 5: KP_EWIREFMT", cs);
			t[3] = 3;
			t[1] = 2;
			is_int(kp_welcome_refs(t, wl, &refs, &n), KP_EVERSION,
			    "suite %d: version 2: KP_EVERSION", cs);
			t[1] = 1;
			t[5] = 2;
			is_int(kp_welcome_open(t, wl, kpb, kl, priv, NULL, 0, 0,
			    &info), KP_ESUITE,
			    "suite %d: Welcome for suite 2: KP_ESUITE", cs);
			t[5] = (uint8_t)cs;
			/* the last byte of the encrypted GroupInfo */
			t[wl - 1] ^= 1;
			is_int(kp_welcome_open(t, wl, kpb, kl, priv, NULL, 0, 0,
			    &info), KP_EDECRYPT,
			    "suite %d: a flipped GroupInfo bit: KP_EDECRYPT",
			    cs);
			free(t);
		}
		kp_keypackage_free(kp);
		sodium_memzero(priv, pl);
		free(priv);
		free(spub);
		free(kpb);
		free(wb);
		run++;
	}
	is_int(run, 2, "welcome.json: both cases run");
	json_decref(root);
}

static void
passive(void)
{
	json_t	*root, *v;
	size_t	 i, run = 0, flipped = 0, with_path = 0;

	root = vec_load("passive-client-welcome.json");
	json_array_foreach(root, i, v) {
		int	cs = (int)json_integer_value(json_object_get(v,
			    "cipher_suite"));
		struct kp_keypackage	*kp = NULL;
		struct kp_welcome_info	 info;
		struct kp_welcome_args	 args;
		struct kp_kpfields	 f;
		struct kp_rd		 r;
		struct kp_psk		 psks[8];
		uint8_t			*sp, *ep, *ip, *kpb, *wb, *tree = NULL;
		uint8_t			*want, pk[32], sk[64], xk[32];
		uint8_t			*bufs[16];
		const uint8_t		*raw;
		size_t			 spl, epl, ipl, kl, wl, tl = 0, wantl;
		size_t			 rawlen, np;
		char			 what[64];

		snprintf(what, sizeof(what), "passive #%zu (suite %d)", i, cs);
		sp = hexf(v, "signature_priv", &spl);
		ep = hexf(v, "encryption_priv", &epl);
		ip = hexf(v, "init_priv", &ipl);
		kpb = hexf(v, "key_package", &kl);
		wb = hexf(v, "welcome", &wl);
		want = hexf(v, "initial_epoch_authenticator", &wantl);
		if (json_is_string(json_object_get(v, "ratchet_tree")))
			tree = hexf(v, "ratchet_tree", &tl);
		if (kp_keypackage_decode(kpb, kl, 1, &kp) != KP_OK)
			bail("%s: key_package does not decode", what);
		raw = kp_keypackage_bytes(kp, &rawlen);
		kp_rd_init(&r, raw, rawlen);
		if (kp_kp_read(&r, &f) != KP_OK)
			bail("kp_kp_read");
		crypto_scalarmult_base(xk, ip);
		is_blob(xk, 32, f.init_key.p, f.init_key.n,
		    "%s: init_priv matches init_key", what);
		crypto_scalarmult_base(xk, ep);
		is_blob(xk, 32, f.leaf.enc_key.p, f.leaf.enc_key.n,
		    "%s: encryption_priv matches encryption_key", what);
		crypto_sign_seed_keypair(pk, sk, sp);
		is_blob(pk, 32, f.leaf.sig_key.p, f.leaf.sig_key.n,
		    "%s: signature_priv matches signature_key", what);
		ok(kp_leaf_verify(&f.leaf) == KP_OK &&
		    kp_verify_with_label(f.leaf.sig_key.p, f.leaf.sig_key.n,
		    "KeyPackageTBS", raw, f.tbs_len, f.sig.p, f.sig.n) == KP_OK,
		    "%s: both signatures verify", what);

		np = vec_psks(v, psks, bufs);
		memset(&args, 0, sizeof(args));
		args.tree = tree;
		args.treelen = tl;
		args.psks = psks;
		args.npsks = np;
		args.now = IN_LIFETIME;
		is_int(kp_welcome_open_ex(wb, wl, kpb, kl, ip, &args, &info),
		    KP_OK, "%s: joins (%zu PSKs, tree %s)", what, np,
		    tree != NULL ? "given" : "in the Welcome");
		is_int(info.signature_checked, 1,
		    "%s: signature checked against the signer's leaf", what);
		is_blob(info.epoch_authenticator, 32, want, wantl,
		    "%s: epoch_authenticator", what);
		is_int(info.tree_checked, 1,
		    "%s: tree hash and our leaf checked", what);
		kp_welcome_info_free(&info);
		{
			struct kp_welcome_state	st;

			if (kp_welcome_decrypt(wb, wl, kpb, kl, ip, psks, np,
			    &st) != KP_OK)
				bail("%s: kp_welcome_decrypt", what);
			with_path += st.gs.has_path;
			kp_welcome_state_free(&st);
		}
		/* the leaves' lifetimes: 2023-03 to 2024-03 */
		args.now = (uint64_t)time(NULL);
		is_int(kp_welcome_open_ex(wb, wl, kpb, kl, ip, &args, &info),
		    KP_EEXPIRED, "%s: today its leaves expired: KP_EEXPIRED",
		    what);
		args.flags = KP_WELCOME_ANY_LIFETIME;
		is_int(kp_welcome_open_ex(wb, wl, kpb, kl, ip, &args, &info),
		    KP_OK, "%s: with KP_WELCOME_ANY_LIFETIME it joins", what);
		kp_welcome_info_free(&info);
		args.flags = 0;
		args.now = 1600000000;
		is_int(kp_welcome_open_ex(wb, wl, kpb, kl, ip, &args, &info),
		    KP_ENOTYET, "%s: in 2020, not yet valid: KP_ENOTYET", what);
		args.now = IN_LIFETIME;
		if (tree != NULL) {
			/* a given tree with a bit flipped: not the group's */
			tree[tl - 1] ^= 0x01;
			is_int(kp_welcome_open_ex(wb, wl, kpb, kl, ip, &args,
			    &info), KP_ETREE,
			    "%s: a bit flipped in the tree: KP_ETREE", what);
			tree[tl - 1] ^= 0x01;
			flipped++;
		}
		if (np > 0) {
			is_int(kp_welcome_open(wb, wl, kpb, kl, ip, tree, tl,
			    KP_WELCOME_ANY_LIFETIME, &info), KP_EPSK,
			    "%s: without the PSK: KP_EPSK", what);
			psks[0].psk = ep;	/* the wrong PSK value */
			psks[0].psklen = 32;
			is_int(kp_welcome_open_ex(wb, wl, kpb, kl, ip, &args,
			    &info), KP_EDECRYPT, "%s: a wrong PSK: KP_EDECRYPT",
			    what);
		} else {
			is_int(kp_welcome_open(wb, wl, kpb, kl, ip, tree, tl,
			    KP_WELCOME_ANY_LIFETIME, &info), KP_OK,
			    "%s: kp_welcome_open", what);
			is_blob(info.epoch_authenticator, 32, want, wantl,
			    "%s: same epoch_authenticator", what);
			kp_welcome_info_free(&info);
			if (tree != NULL)
				is_int(kp_welcome_open(wb, wl, kpb, kl, ip,
				    NULL, 0, KP_WELCOME_ANY_LIFETIME, &info),
				    KP_ENOTREE, "%s: without its tree: "
				    "KP_ENOTREE", what);
		}
		vec_psks_free(bufs, np);
		kp_keypackage_free(kp);
		sodium_memzero(sk, sizeof(sk));
		free(sp);
		free(ep);
		free(ip);
		free(kpb);
		free(wb);
		free(want);
		free(tree);
		run++;
	}
	is_int(run, 16, "passive-client-welcome.json: all 16 cases run");
	is_int(flipped, 8, "8 of them with the tree beside the Welcome");
	is_int(with_path, 16, "all 16 carry a path_secret, checked");
	json_decref(root);
}

/*
 * Welcomes we build ourselves for a generated KeyPackage (t/0017 has the
 * twins of the joining checks).
 */
static void
own(uint16_t cs)
{
	static const uint8_t	 zero[32];
	struct kp_kpopts	 o;
	struct kp_kpsecrets	 sec;
	struct kp_welcome_info	 info;
	struct kp_welcome_args	 args;
	struct kp_psk		 psk = { (const uint8_t *)"psk", 3, zero, 32 };
	uint8_t			 seed[32], gseed[32];
	uint8_t			 ref[32], *kp, *w, *refs;
	size_t			 kl, wl, n;

	memset(&o, 0, sizeof(o));
	o.suite = cs;
	o.identity = (const uint8_t *)"alice";
	o.identity_len = 5;
	randombytes_buf(seed, sizeof(seed));
	randombytes_buf(gseed, sizeof(gseed));
	if (kp_keypackage_generate(&o, seed, &kp, &kl, ref, &sec) != KP_OK)
		bail("generate");
	is_int(kp_welcome_build(kp, kl, (const uint8_t *)"group-1", 7, 42,
	    gseed, 3, 0, &w, &wl), KP_OK, "suite %u: build a Welcome", cs);
	is_int(kp_welcome_refs(w, wl, &refs, &n), KP_OK,
	    "suite %u: its refs", cs);
	ok(n == 1 && memcmp(refs, ref, 32) == 0,
	    "suite %u: it names our ref", cs);
	free(refs);
	is_int(kp_welcome_open(w, wl, kp, kl, sec.init_priv, NULL, 0, 0,
	    &info), KP_OK, "suite %u: it opens", cs);
	is_blob(info.group_id, info.group_id_len, "group-1", 7,
	    "suite %u: group_id", cs);
	is_int(info.epoch, 42, "suite %u: epoch", cs);
	is_int(info.suite, cs, "suite %u: suite", cs);
	ok(info.signature_checked && info.tree_checked,
	    "suite %u: signature and tree checked", cs);
	kp_welcome_info_free(&info);
	free(w);

	is_int(kp_welcome_build(kp, kl, (const uint8_t *)"g", 1, 1, gseed, 0,
	    KP_WB_BAD_TAG, &w, &wl), KP_OK, "suite %u: a bad-tag twin", cs);
	is_int(kp_welcome_open(w, wl, kp, kl, sec.init_priv, NULL, 0, 0,
	    &info), KP_ECONFIRM, "suite %u: bad confirmation_tag: "
	    "KP_ECONFIRM", cs);
	free(w);

	is_int(kp_welcome_build(kp, kl, (const uint8_t *)"g", 1, 1, gseed, 0,
	    KP_WB_PSK, &w, &wl), KP_OK, "suite %u: a PSK twin", cs);
	is_int(kp_welcome_open(w, wl, kp, kl, sec.init_priv, NULL, 0, 0,
	    &info), KP_EPSK, "suite %u: needs a PSK: KP_EPSK", cs);
	memset(&args, 0, sizeof(args));
	args.psks = &psk;
	args.npsks = 1;
	args.now = (uint64_t)time(NULL);
	is_int(kp_welcome_open_ex(w, wl, kp, kl, sec.init_priv, &args, &info),
	    KP_OK, "suite %u: opens with the PSK", cs);
	kp_welcome_info_free(&info);
	free(w);

	/*
	 * Structures nested in the Welcome that do not fit their field are
	 * KP_EMALFORMED; KP_ETRUNC and KP_ETRAILING are for the caller's
	 * buffer.
	 */
	{
		static const struct {
			int		 flag;
			const char	*what;
		} nest[] = {
			{ KP_WB_TREE_CUT, "a ratchet_tree running past its "
			    "extension" },
			{ KP_WB_TREE_TRAIL, "a byte after the ratchet_tree" },
			{ KP_WB_GI_TRAIL, "a byte after the GroupInfo" },
			{ KP_WB_GS_TRAIL, "a byte after the GroupSecrets" },
		};
		size_t	 k;

		for (k = 0; k < sizeof(nest) / sizeof(nest[0]); k++) {
			if (kp_welcome_build(kp, kl, (const uint8_t *)"g", 1,
			    1, gseed, 0, nest[k].flag, &w, &wl) != KP_OK)
				bail("kp_welcome_build %s", nest[k].what);
			is_int(kp_welcome_open(w, wl, kp, kl, sec.init_priv,
			    NULL, 0, 0, &info), KP_EMALFORMED,
			    "suite %u: %s: KP_EMALFORMED", cs, nest[k].what);
			free(w);
		}
	}

	sodium_memzero(&sec, sizeof(sec));
	free(kp);
}

int
main(void)
{
	if (sodium_init() < 0)
		bail("sodium_init");
	welcome_json();
	passive();
	own(KP_SUITE_X25519_AES128GCM);
	own(KP_SUITE_X25519_CHACHA20);
	return done_testing();
}
