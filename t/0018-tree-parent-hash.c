/* SPDX-License-Identifier: ISC */
/*
 * 0018-tree-parent-hash: RFC 9420 §7.9.2 on the ratchet trees of the
 * vectors: every non-blank parent of the 28 trees of tree-validation.json
 * and of the 16 passive-client-welcome.json groups is parent-hash valid
 * (known answers), and each tree with a byte flipped in one parent's
 * parent_hash or encryption_key, or with a parent's unmerged leaf listed
 * twice, is refused.  t/0017 checks the same through kp_welcome_open.
 */

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kpool.h"
#include "mls.h"
#include "tls.h"
#include "tree.h"
#include "welcome.h"
#include "tap.h"
#include "0-vectors.h"

/* kp_tree_parent_hashes of the serialized tree b. */
static int
check(const uint8_t *b, size_t n)
{
	struct kp_tree	t;
	int		rc;

	if ((rc = kp_tree_load(b, n, &t)) != KP_OK)
		return rc;
	rc = kp_tree_parent_hashes(&t);
	kp_tree_free(&t);
	return rc;
}

/*
 * Flip the last byte of field k (0 encryption_key, 1 parent_hash) of
 * the first non-blank parent of tree b whose field k is not empty; the
 * parent's index, or 0 when there is none.
 */
static size_t
flip(uint8_t *b, size_t n, int k)
{
	struct kp_tree	 t;
	struct kp_span	 f[3];
	size_t		 p, at = 0;

	if (kp_tree_load(b, n, &t) != KP_OK)
		bail("tree does not load");
	for (p = 1; p < t.count && at == 0; p += 2) {
		if (t.nodes[p].p == NULL ||
		    kp_tree_parent(t.nodes[p], &f[0], &f[1], &f[2]) != KP_OK ||
		    f[k].n == 0)
			continue;
		at = (size_t)(f[k].p - b) + f[k].n - 1;
		b[at] ^= 0x01;
		at = p;
	}
	kp_tree_free(&t);
	return at;
}

/* The known answer and the bad twins of one tree. */
static void
tree_case(uint8_t *b, size_t n, const char *what, size_t *parents)
{
	size_t	p;

	is_int(check(b, n), KP_OK, "%s: every parent is parent-hash valid",
	    what);
	if ((p = flip(b, n, 1)) != 0) {
		is_int(check(b, n), KP_EPARENTHASH, "%s: a parent_hash byte "
		    "of node %zu flipped: KP_EPARENTHASH", what, p);
		flip(b, n, 1);
		(*parents)++;
	}
	if ((p = flip(b, n, 0)) != 0) {
		is_int(check(b, n), KP_EPARENTHASH, "%s: an encryption_key "
		    "byte of node %zu flipped: KP_EPARENTHASH", what, p);
		flip(b, n, 0);
	}
}

static void
validation(void)
{
	json_t	*root, *v;
	size_t	 i, run = 0, flipped = 0;
	char	 what[64];

	root = vec_load("tree-validation.json");
	json_array_foreach(root, i, v) {
		uint8_t	*tree;
		size_t	 tl;

		tree = hexf(v, "tree", &tl);
		snprintf(what, sizeof(what), "tree-validation #%zu", i);
		tree_case(tree, tl, what, &flipped);
		free(tree);
		run++;
	}
	is_int(run, 28, "tree-validation.json: all 28 trees");
	ok(flipped > 0, "tree-validation.json: %zu trees with a parent_hash "
	    "to flip", flipped);
	json_decref(root);
}

static void
passive(void)
{
	json_t	*root, *v;
	size_t	 i, run = 0, flipped = 0;
	char	 what[64];

	root = vec_load("passive-client-welcome.json");
	json_array_foreach(root, i, v) {
		struct kp_welcome_state	 st;
		struct kp_psk		 psks[8];
		struct kp_span		 ext;
		uint8_t			*kpb, *wb, *ip, *tree = NULL, *bufs[16];
		size_t			 kl, wl, il, tl = 0, np;

		snprintf(what, sizeof(what), "passive #%zu", i);
		kpb = hexf(v, "key_package", &kl);
		wb = hexf(v, "welcome", &wl);
		ip = hexf(v, "init_priv", &il);
		np = vec_psks(v, psks, bufs);
		if (json_is_string(json_object_get(v, "ratchet_tree")))
			tree = hexf(v, "ratchet_tree", &tl);
		else {
			/* the tree from the GroupInfo's extension */
			if (kp_welcome_decrypt(wb, wl, kpb, kl, ip, psks, np,
			    &st) != KP_OK)
				bail("%s: does not decrypt", what);
			if (!kp_exts_find(st.gi.exts, KP_EXT_RATCHET_TREE,
			    &ext))
				bail("%s: no ratchet_tree extension", what);
			tl = ext.n;
			if ((tree = malloc(tl)) == NULL)
				bail("oom");
			memcpy(tree, ext.p, tl);
			kp_welcome_state_free(&st);
		}
		tree_case(tree, tl, what, &flipped);
		vec_psks_free(bufs, np);
		free(tree);
		free(kpb);
		free(wb);
		free(ip);
		run++;
	}
	is_int(run, 16, "passive-client-welcome.json: all 16 trees");
	ok(flipped > 0, "passive-client-welcome.json: %zu trees with a "
	    "parent_hash to flip", flipped);
	json_decref(root);
}

/* A ParentNode listing leaf 1 twice as unmerged: refused. */
static void
twice(void)
{
	uint8_t		 node[1 + 32 + 1 + 1 + 8];
	uint32_t	*um = NULL;
	size_t		 n = 0;
	struct kp_span	 s;

	memset(node, 0, sizeof(node));
	node[0] = 32;			/* encryption_key<V> */
	node[33] = 0;			/* parent_hash<V>, empty */
	node[34] = 8;			/* unmerged_leaves<V>: 1, 1 */
	node[38] = 1;
	node[42] = 1;
	s.p = node;
	s.n = sizeof(node);
	is_int(kp_tree_unmerged(s, &um, &n), KP_ETREE,
	    "a parent listing leaf 1 twice as unmerged: KP_ETREE");
	ok(um == NULL && n == 0, "... and nothing out");
	node[42] = 2;
	is_int(kp_tree_unmerged(s, &um, &n), KP_OK, "leaves 1 and 2: KP_OK");
	ok(n == 2 && um[0] == 1 && um[1] == 2, "... sorted");
	free(um);
}

int
main(void)
{
	validation();
	passive();
	twice();
	return done_testing();
}
