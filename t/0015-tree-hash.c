/* SPDX-License-Identifier: ISC */
/*
 * 0015-tree-hash: the tree hash of every node of the 28 ratchet trees of
 * tree-validation.json (RFC 9420 §7.8), the refusals of a malformed tree,
 * and kp_welcome_open checking the ratchet tree against the GroupInfo's
 * tree_hash on the passive-client-welcome.json Welcomes.
 */

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "kpool.h"
#include "mls.h"
#include "tls.h"
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

/*
 * The passive-client Welcomes: every one has a tree, in the GroupInfo or
 * beside it, and opening checks it; a tree given beside the Welcome
 * with one bit flipped no longer hashes to the GroupInfo's tree_hash.
 */
static void
passive(void)
{
	json_t	*root, *v, *ps, *x;
	size_t	 i, j, run = 0, flipped = 0;

	root = vec_load("passive-client-welcome.json");
	json_array_foreach(root, i, v) {
		struct kp_welcome_info	 info;
		struct kp_psk		 psks[8];
		uint8_t			*ids[8], *keys[8];
		uint8_t			*ip, *kpb, *wb, *tree = NULL;
		size_t			 ipl, kl, wl, tl = 0, np;

		ip = hexf(v, "init_priv", &ipl);
		kpb = hexf(v, "key_package", &kl);
		wb = hexf(v, "welcome", &wl);
		if (json_is_string(json_object_get(v, "ratchet_tree")))
			tree = hexf(v, "ratchet_tree", &tl);
		ps = json_object_get(v, "external_psks");
		if ((np = json_array_size(ps)) > 8)
			bail("too many PSKs");
		json_array_foreach(ps, j, x) {
			ids[j] = hexf(x, "psk_id", &psks[j].idlen);
			keys[j] = hexf(x, "psk", &psks[j].psklen);
			psks[j].id = ids[j];
			psks[j].psk = keys[j];
		}
		is_int(kp_welcome_open_ex(wb, wl, kpb, kl, ip, NULL, 0, tree,
		    tl, psks, np, &info), KP_OK, "passive #%zu: opens", i);
		is_int(info.tree_checked, 1, "passive #%zu: tree %s checked",
		    i, tree != NULL ? "given" : "in the GroupInfo");
		kp_welcome_info_free(&info);
		if (tree != NULL) {
			tree[tl - 1] ^= 0x01;
			is_int(kp_welcome_open_ex(wb, wl, kpb, kl, ip, NULL, 0,
			    tree, tl, psks, np, &info), KP_ETREE,
			    "passive #%zu: a bit flipped in the tree: KP_ETREE",
			    i);
			flipped++;
		}
		for (j = 0; j < np; j++) {
			free(ids[j]);
			free(keys[j]);
		}
		sodium_memzero(ip, ipl);
		free(ip);
		free(kpb);
		free(wb);
		free(tree);
		run++;
	}
	is_int(run, 16, "passive-client-welcome.json: all 16 cases");
	is_int(flipped, 8, "8 of them with the tree beside the Welcome");
	json_decref(root);
}

int
main(void)
{
	vectors();
	passive();
	bad("", KP_ETRUNC, "empty input");
	bad("00", KP_EMALFORMED, "no nodes");
	bad("0100", KP_EMALFORMED, "one blank leaf");
	bad("0102", KP_EMALFORMED, "optional flag 2");
	bad("020102", KP_EMALFORMED, "a parent at a leaf's index");
	bad("0101", KP_EMALFORMED, "a leaf node cut short");
	bad("00" "00", KP_ETRAILING, "a byte after the vector");
	return done_testing();
}
