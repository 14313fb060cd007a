/* SPDX-License-Identifier: ISC */
/*
 * 0006-tree-leaves: the LeafNodes inside the ratchet trees of
 * tree-validation.json: each decodes, re-encodes byte for byte and its
 * signature verifies (key_package leaves alone, update and commit leaves
 * with group_id and leaf_index), and kp_tree_signature_key finds it.
 */

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kpool.h"
#include "crypto.h"
#include "mls.h"
#include "tls.h"
#include "tree.h"
#include "welcome.h"
#include "kptest.h"
#include "tap.h"
#include "0-vectors.h"

/* Verify a leaf: LeafNodeTBS, with group_id and leaf_index for some. */
static int
leaf_ok(const struct kp_leaf *l, const uint8_t *gid, size_t gidlen,
    uint32_t index)
{
	struct kp_wb	w;
	int		rc;

	if (l->source == KP_LEAF_KEY_PACKAGE)
		return kp_leaf_verify(l) == KP_OK;
	kp_wb_init(&w, 1 << 20);
	kp_wb_bytes(&w, l->start, l->tbs_len);
	kp_wb_vec(&w, gid, gidlen);
	kp_wb_u32(&w, index);
	rc = w.err == KP_OK && kp_verify_with_label(l->sig_key.p, l->sig_key.n,
	    "LeafNodeTBS", w.buf, w.len, l->sig.p, l->sig.n) == KP_OK;
	kp_wb_free(&w);
	return rc;
}

int
main(void)
{
	json_t		*root, *v;
	size_t		 i, total = 0, bad_rt = 0, bad_sig = 0, bad_key = 0;
	size_t		 srcs[4] = { 0 };

	root = vec_load("tree-validation.json");
	json_array_foreach(root, i, v) {
		struct kp_rd	 r, body;
		struct kp_leaf	 l;
		struct kp_span	 key, a, b, c;
		struct kp_wb	 w;
		uint8_t		*tree, *gid, present, type;
		size_t		 tl, gl, node, leaves = 0;
		int		 fail = 0;

		tree = hexf(v, "tree", &tl);
		gid = hexf(v, "group_id", &gl);
		kp_rd_init(&r, tree, tl);
		if (kp_rd_sub(&r, &body) != KP_OK || kp_rd_end(&r) != KP_OK)
			bail("tree %zu: not a vector", i);
		for (node = 0; kp_rd_left(&body) > 0 && !fail; node++) {
			if (kp_rd_u8(&body, &present) != KP_OK)
				fail = 1;
			else if (!present)
				continue;
			else if (kp_rd_u8(&body, &type) != KP_OK)
				fail = 1;
			else if (type == 2) {
				if (kp_rd_vec(&body, &a.p, &a.n) != KP_OK ||
				    kp_rd_vec(&body, &b.p, &b.n) != KP_OK ||
				    kp_rd_vec(&body, &c.p, &c.n) != KP_OK)
					fail = 1;
			} else if (type == 1) {
				uint8_t	*enc;
				size_t	 el;

				if (kp_leaf_read(&body, &l) != KP_OK) {
					fail = 1;
					break;
				}
				leaves++;
				srcs[l.source]++;
				kp_wb_init(&w, 1 << 20);
				if (kp_leaf_write(&w, &l, NULL) != KP_OK ||
				    kp_wb_finish(&w, &enc, &el) != KP_OK)
					bail("kp_leaf_write");
				if (el != l.len || memcmp(enc, l.start, el) != 0)
					bad_rt++;
				free(enc);
				if (!leaf_ok(&l, gid, gl, (uint32_t)(node / 2)))
					bad_sig++;
				if (kp_tree_signature_key(tree, tl,
				    (uint32_t)(node / 2), &key) != KP_OK ||
				    key.p != l.sig_key.p)
					bad_key++;
			} else
				fail = 1;
		}
		ok(!fail, "tree %zu (suite %lld): %zu nodes, %zu leaves parse",
		    i, json_integer_value(json_object_get(v, "cipher_suite")),
		    node, leaves);
		total += leaves;
		free(tree);
		free(gid);
	}
	is_int(total, 322, "322 leaves in all");
	is_int(bad_rt, 0, "every leaf re-encodes byte for byte");
	is_int(bad_sig, 0, "every leaf signature verifies");
	is_int(bad_key, 0, "kp_tree_signature_key finds every leaf's key");
	diag("leaf sources: key_package %zu, update %zu, commit %zu",
	    srcs[1], srcs[2], srcs[3]);
	json_decref(root);
	return done_testing();
}
