/* SPDX-License-Identifier: ISC */
/*
 * 0015-tree-hash: the tree hash of every node of the 28 ratchet trees of
 * tree-validation.json (RFC 9420 §7.8) and the refusals of a malformed
 * tree.  t/0005 checks kp_welcome_open against the GroupInfo's
 * tree_hash on the passive-client-welcome.json Welcomes.
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

static void
vectors(void)
{
	json_t	*root, *v, *x;
	size_t	 i, j, run = 0;

	root = vec_load("tree-validation.json");
	json_array_foreach(root, i, v) {
		uint8_t	*tree, *hashes, *want;
		size_t	 tl, w, wl, bad = 0;
		json_t	*th = json_object_get(v, "tree_hashes");

		tree = hexf(v, "tree", &tl);
		if (!is_int(kp_tree_hashes(tree, tl, &hashes, &w), KP_OK,
		    "tree #%zu: hashes", i)) {
			free(tree);
			continue;
		}
		is_int(w, json_array_size(th), "tree #%zu: %zu nodes", i,
		    json_array_size(th));
		json_array_foreach(th, j, x) {
			want = tap_unhex(json_string_value(x), &wl);
			if (j >= w || wl != 32 ||
			    memcmp(hashes + 32 * j, want, 32) != 0) {
				diag("tree #%zu node %zu differs", i, j);
				bad++;
			}
			free(want);
		}
		is_int(bad, 0, "tree #%zu: every node's tree hash", i);
		free(hashes);
		free(tree);
		run++;
	}
	is_int(run, 28, "tree-validation.json: all 28 trees");
	json_decref(root);
}

static void
bad(const char *hex, int want, const char *what)
{
	uint8_t	*b, *h = NULL;
	size_t	 n, w = 99;

	b = tap_unhex(hex, &n);
	is_int(kp_tree_hashes(b, n, &h, &w), want, "%s: %s", what,
	    kp_strerror(want));
	ok(h == NULL && w == 0, "%s: nothing out", what);
	free(b);
}

int
main(void)
{
	vectors();
	bad("", KP_ETRUNC, "empty input");
	bad("00", KP_EMALFORMED, "no nodes");
	bad("0100", KP_EMALFORMED, "one blank leaf");
	bad("0102", KP_EMALFORMED, "optional flag 2");
	bad("020102", KP_EMALFORMED, "a parent at a leaf's index");
	bad("0101", KP_EMALFORMED, "a leaf node cut short");
	bad("00" "00", KP_ETRAILING, "a byte after the vector");
	{
		/* 65537 blank nodes: one more than a tree may have */
		uint8_t	*b, *h = NULL;
		size_t	 n = 4 + 65537, w = 99;

		if ((b = calloc(1, n)) == NULL)
			bail("oom");
		b[0] = 0x80;
		b[1] = 0x01;
		b[2] = 0x00;
		b[3] = 0x01;
		is_int(kp_tree_hashes(b, n, &h, &w), KP_ETOOBIG,
		    "65537 nodes: KP_ETOOBIG");
		ok(h == NULL && w == 0, "65537 nodes: nothing out");
		free(b);
	}
	return done_testing();
}
