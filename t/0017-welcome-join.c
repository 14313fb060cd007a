/* SPDX-License-Identifier: ISC */
/*
 * 0017-welcome-join: the joining checks of RFC 9420 §12.4.3.1, §7.3 and
 * §7.9.2 in kp_welcome_open, each against a Welcome that kp_welcome_build
 * makes good in every way but one (t/support/group.c): the exact code
 * for each, in both suites and with the committer at each of the four
 * leaves.  Then groups of 2 to 16 leaves, some blank, which open.
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "kpool.h"
#include "kptest.h"
#include "tap.h"

static const struct twin {
	int		 flags;
	int		 want;		/* kp_welcome_open */
	int		 any;		/* with KP_WELCOME_ANY_LIFETIME */
	const char	*what;
} twins[] = {
	{ 0, KP_OK, KP_OK, "a Commit with a path (path_secret, parent "
	    "hashes)" },
	{ KP_WB_NO_PATH, KP_OK, KP_OK, "a Commit without a path" },
	{ KP_WB_TREE_UNMERGED, KP_OK, KP_OK, "the joiner unmerged below "
	    "another member's parent" },
	{ KP_WB_REQCAPS_BASIC, KP_OK, KP_OK, "required_capabilities every "
	    "leaf meets" },
	{ KP_WB_LATE_MEMBER, KP_OK, KP_OK, "a member who joined after the "
	    "path, unmerged on it" },
	{ KP_WB_LATE_HIDDEN, KP_EPARENTHASH, KP_EPARENTHASH, "a member who "
	    "joined after the path, not unmerged on it" },
	{ KP_WB_NO_TREE, KP_ENOTREE, KP_ENOTREE, "no ratchet tree" },
	{ KP_WB_BAD_PARENT_HASH, KP_EPARENTHASH, KP_EPARENTHASH,
	    "a parent_hash byte flipped" },
	{ KP_WB_BAD_PATH_SECRET, KP_EPATHSECRET, KP_EPATHSECRET,
	    "a path_secret not the committer's" },
	{ KP_WB_X509_MEMBER, KP_ECREDTYPE, KP_ECREDTYPE, "a member's x509 "
	    "credential, which the others do not support" },
	{ KP_WB_UNLISTED_EXT, KP_ECAPS, KP_ECAPS, "a member's extension "
	    "not in its capabilities" },
	{ KP_WB_GREASE_EXT, KP_ECAPS, KP_ECAPS, "a member's GREASE "
	    "extension not in its capabilities" },
	{ KP_WB_REQCAPS, KP_ECAPS, KP_ECAPS, "required_capabilities no "
	    "leaf meets" },
	{ KP_WB_EXPIRED, KP_EEXPIRED, KP_OK, "a member's lifetime ended" },
	{ KP_WB_NOTYET, KP_ENOTYET, KP_OK, "a member's lifetime not begun" },
	{ KP_WB_BAD_GISIG, KP_EGISIG, KP_EGISIG, "a GroupInfo signature "
	    "bit flipped" },
	{ KP_WB_TREE_OTHER, KP_EGISIG, KP_EGISIG, "the GroupInfo naming the "
	    "joiner as its signer" },
	{ KP_WB_TREE_BADLEAF, KP_ELEAFSIG, KP_ELEAFSIG, "the committer's "
	    "leaf signature broken" },
	{ KP_WB_TREE_DUP, KP_ETREE, KP_ETREE, "the joiner's leaf twice" },
	{ KP_WB_TREE_BADUNMERGED, KP_ETREE, KP_ETREE, "an unmerged leaf "
	    "the tree does not have" },
	{ KP_WB_BAD_TAG, KP_ECONFIRM, KP_ECONFIRM, "a confirmation_tag bit "
	    "flipped" },
};

static uint8_t			*kp;
static size_t			 kl;
static struct kp_kpsecrets	 sec;
static uint8_t			 gseed[32];

static void
keypackage(uint16_t cs)
{
	struct kp_kpopts	o;
	uint8_t			seed[32], ref[KP_REF_LEN];

	memset(&o, 0, sizeof(o));
	o.suite = cs;
	o.identity = (const uint8_t *)"joiner";
	o.identity_len = 6;
	randombytes_buf(seed, sizeof(seed));
	randombytes_buf(gseed, sizeof(gseed));
	free(kp);
	if (kp_keypackage_generate(&o, seed, &kp, &kl, ref, &sec) != KP_OK)
		bail("generate");
	sodium_memzero(seed, sizeof(seed));
}

/* kp_welcome_build_ex's arguments for our KeyPackage and group gid. */
static void
args(struct kp_wb_args *a, const char *gid, uint32_t signer, int flags)
{
	memset(a, 0, sizeof(*a));
	a->kp = kp;
	a->kplen = kl;
	a->group_id = (const uint8_t *)gid;
	a->gidlen = strlen(gid);
	a->epoch = 7;
	a->seed = gseed;
	a->signer = signer;
	a->flags = flags;
}

/* Each twin with the committer at each of the four leaves. */
static void
twin_cases(uint16_t cs)
{
	struct kp_welcome_info	 info;
	uint8_t			*w, *tree;
	size_t			 wl, tl, k, bad, badany;
	uint32_t		 s;
	int			 rc;

	for (k = 0; k < sizeof(twins) / sizeof(twins[0]); k++) {
		bad = badany = 0;
		for (s = 0; s < 4; s++) {
			struct kp_wb_args	a;

			args(&a, "join", s, twins[k].flags);
			if (kp_welcome_build_ex(&a, &w, &wl, &tree, &tl) !=
			    KP_OK)
				bail("build %s, committer %u", twins[k].what,
				    s);
			rc = kp_welcome_open(w, wl, kp, kl, sec.init_priv,
			    NULL, 0, 0, &info);
			if (rc != twins[k].want) {
				diag("committer %u: %s", s, kp_strerror(rc));
				bad++;
			}
			kp_welcome_info_free(&info);
			rc = kp_welcome_open(w, wl, kp, kl, sec.init_priv,
			    NULL, 0, KP_WELCOME_ANY_LIFETIME, &info);
			if (rc != twins[k].any) {
				diag("committer %u, any lifetime: %s", s,
				    kp_strerror(rc));
				badany++;
			}
			kp_welcome_info_free(&info);
			free(w);
			free(tree);
		}
		is_int(bad, 0, "suite %u: %s: %s", cs, twins[k].what,
		    kp_strerror(twins[k].want));
		is_int(badany, 0, "suite %u: %s, any lifetime: %s", cs,
		    twins[k].what, kp_strerror(twins[k].any));
	}
}

/* The tree beside the Welcome, as a caller supplies it. */
static void
supplied(uint16_t cs)
{
	struct kp_welcome_info	 info;
	struct kp_wb_args	 a;
	uint8_t			*w, *tree;
	size_t			 wl, tl;

	args(&a, "beside", 1, KP_WB_NO_TREE);
	if (kp_welcome_build_ex(&a, &w, &wl, &tree, &tl) != KP_OK)
		bail("build");
	is_int(kp_welcome_open(w, wl, kp, kl, sec.init_priv, tree, tl, 0x80,
	    &info), KP_EINVAL, "suite %u: an unknown flag: KP_EINVAL", cs);
	is_int(kp_welcome_open(w, wl, kp, kl, sec.init_priv, tree, tl, 0,
	    &info), KP_OK, "suite %u: no tree inside, the tree given: KP_OK",
	    cs);
	is_blob(info.group_id, info.group_id_len, "beside", 6,
	    "suite %u: ... its group_id", cs);
	kp_welcome_info_free(&info);
	tree[tl - 1] ^= 0x01;
	is_int(kp_welcome_open(w, wl, kp, kl, sec.init_priv, tree, tl, 0,
	    &info), KP_ETREE, "suite %u: the given tree with a bit flipped: "
	    "KP_ETREE", cs);
	is_int(kp_welcome_open(w, wl, kp, kl, sec.init_priv, tree, tl - 1, 0,
	    &info), KP_ETRUNC, "suite %u: the given tree a byte short: "
	    "KP_ETRUNC", cs);
	free(w);
	free(tree);
	/* a tree inside wins over the one given */
	a.flags = 0;
	if (kp_welcome_build_ex(&a, &w, &wl, &tree, &tl) != KP_OK)
		bail("build");
	is_int(kp_welcome_open(w, wl, kp, kl, sec.init_priv, kp, kl, 0,
	    &info), KP_OK, "suite %u: a tree inside and garbage given: "
	    "the inside one counts", cs);
	kp_welcome_info_free(&info);
	free(w);
	free(tree);
}

/*
 * Groups of 2 to 16 leaves with blanks: the committer's filtered direct
 * path skips the parents over blank subtrees, and the joiner's common
 * ancestor with it is anywhere on it.
 */
static void
shapes(uint16_t cs)
{
	struct kp_welcome_info	 info;
	struct kp_wb_args	 a;
	uint8_t			*w;
	size_t			 wl, n = 0, bad = 0;
	uint32_t		 leaves, s, j, mask;

	for (leaves = 2; leaves <= 16; leaves *= 2)
		for (s = 0; s < leaves; s++) {
			args(&a, "shape", s, n % 2 ? KP_WB_NO_PATH : 0);
			a.leaves = leaves;
			j = s < leaves / 2 ? leaves - 1 : leaves / 2 - 1;
			/* a random half of the others blank */
			mask = randombytes_uniform(1U << (leaves - 1)) &
			    ~(1U << s) & ~(1U << j);
			a.blank = mask;
			if (kp_welcome_build_ex(&a, &w, &wl, NULL, NULL) !=
			    KP_OK)
				bail("build %u leaves, committer %u", leaves,
				    s);
			if (kp_welcome_open(w, wl, kp, kl, sec.init_priv,
			    NULL, 0, 0, &info) != KP_OK) {
				diag("%u leaves, committer %u, blank %#x",
				    leaves, s, mask);
				bad++;
			}
			kp_welcome_info_free(&info);
			free(w);
			n++;
		}
	is_int(bad, 0, "suite %u: %zu groups of 2 to 16 leaves, some blank, "
	    "with and without a path: all open", cs, n);
}

int
main(void)
{
	uint16_t	cs[] = { KP_SUITE_X25519_AES128GCM,
			    KP_SUITE_X25519_CHACHA20 };
	size_t		i;

	if (sodium_init() < 0)
		bail("sodium_init");
	for (i = 0; i < 2; i++) {
		keypackage(cs[i]);
		twin_cases(cs[i]);
		supplied(cs[i]);
		shapes(cs[i]);
	}
	sodium_memzero(&sec, sizeof(sec));
	sodium_memzero(gseed, sizeof(gseed));
	free(kp);
	return done_testing();
}
