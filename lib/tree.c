/* SPDX-License-Identifier: ISC */
/*
 * tree.c: the ratchet tree a Welcome carries (RFC 9420 §7.8, §7.9.2,
 * §12.4.3.1): its nodes, their tree hashes, the signature key of a leaf,
 * and the checks a joiner makes before it trusts the tree.
 */

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto.h"
#include "mls.h"
#include "tls.h"
#include "tree.h"

#define MAX_TREE_NODES	(1 << 16)	/* nodes in a ratchet tree */
#define MAX_LEAF_TBS	(1 << 20)	/* a LeafNodeTBS we build */

int
kp_tree_signature_key(const uint8_t *tree, size_t len, uint32_t leaf,
    struct kp_span *key)
{
	struct kp_rd	 r, body;
	struct kp_leaf	 l;
	struct kp_span	 a, b, c;
	uint64_t	 want = 2 * (uint64_t)leaf, i;
	uint8_t		 present, type;
	int		 rc;

	kp_rd_init(&r, tree, len);
	if ((rc = kp_rd_sub(&r, &body)) != KP_OK)
		return rc;
	if ((rc = kp_rd_end(&r)) != KP_OK)
		return rc;
	for (i = 0; kp_rd_left(&body) > 0; i++) {
		if ((rc = kp_rd_u8(&body, &present)) != KP_OK)
			return KP_EMALFORMED;
		if (present > 1)
			return KP_EMALFORMED;
		if (!present) {
			if (i == want)
				return KP_ENOTFOUND;
			continue;
		}
		if ((rc = kp_rd_u8(&body, &type)) != KP_OK)
			return KP_EMALFORMED;
		if (type == 1) {
			if ((rc = kp_leaf_read(&body, &l)) != KP_OK)
				return kp_nested(rc);
			if (i % 2 != 0)
				return KP_EMALFORMED;
			if (i == want) {
				*key = l.sig_key;
				return KP_OK;
			}
		} else if (type == 2) {
			if (kp_rd_span(&body, &a) != KP_OK ||
			    kp_rd_span(&body, &b) != KP_OK ||
			    kp_rd_span(&body, &c) != KP_OK || c.n % 4 != 0 ||
			    i % 2 != 1)
				return KP_EMALFORMED;
		} else
			return KP_EMALFORMED;
	}
	return KP_ENOTFOUND;
}

/*
 * The nodes of a serialized ratchet tree (optional<Node> ratchet_tree<V>,
 * RFC 9420 §12.4.3.3): nodes[i] spans node i's optional<Node> content
 * after its node_type, with p == NULL for a blank node.
 */
static int
tree_nodes(const uint8_t *tree, size_t len, struct kp_span **out,
    size_t *count)
{
	struct kp_rd	 r, body;
	struct kp_span	*nodes = NULL, a, b, c;
	struct kp_leaf	 l;
	const uint8_t	*start;
	size_t		 n = 0, i, cap;
	uint8_t		 present, type;
	int		 rc;

	*out = NULL;
	*count = 0;
	kp_rd_init(&r, tree, len);
	if ((rc = kp_rd_sub(&r, &body)) != KP_OK ||
	    (rc = kp_rd_end(&r)) != KP_OK)
		return rc;
	for (i = 0, cap = 0; kp_rd_left(&body) > 0; i++) {
		if (i == cap) {
			struct kp_span	*nn;

			if (cap == MAX_TREE_NODES) {
				rc = KP_ETOOBIG;
				goto out;
			}
			cap = cap == 0 ? 64 : 2 * cap;
			if ((nn = reallocarray(nodes, cap,
			    sizeof(*nodes))) == NULL) {
				rc = KP_ENOMEM;
				goto out;
			}
			nodes = nn;
		}
		nodes[i].p = NULL;
		nodes[i].n = 0;
		if (kp_rd_u8(&body, &present) != KP_OK || present > 1) {
			rc = KP_EMALFORMED;
			goto out;
		}
		n = i + 1;
		if (!present)
			continue;
		if (kp_rd_u8(&body, &type) != KP_OK) {
			rc = KP_EMALFORMED;
			goto out;
		}
		start = kp_rd_pos(&body);
		if (type == 1 && i % 2 == 0) {
			if ((rc = kp_leaf_read(&body, &l)) != KP_OK) {
				rc = kp_nested(rc);
				goto out;
			}
		} else if (type == 2 && i % 2 == 1) {
			if (kp_rd_span(&body, &a) != KP_OK ||
			    kp_rd_span(&body, &b) != KP_OK ||
			    kp_rd_span(&body, &c) != KP_OK || c.n % 4 != 0) {
				rc = KP_EMALFORMED;
				goto out;
			}
		} else {
			rc = KP_EMALFORMED;
			goto out;
		}
		nodes[i].p = start;
		nodes[i].n = (size_t)(kp_rd_pos(&body) - start);
	}
	/* trailing blank nodes are left out, so the last one is a leaf */
	if (n == 0 || n % 2 == 0 || nodes[n - 1].p == NULL) {
		rc = KP_EMALFORMED;
		goto out;
	}
	*out = nodes;
	*count = n;
	nodes = NULL;
	rc = KP_OK;
out:
	free(nodes);
	return rc;
}

/* The tree hashes of the nodes tree_nodes() found; see kp_tree_hashes. */
static int
hash_nodes(const struct kp_span *nodes, size_t count, uint8_t **hashes,
    size_t *width)
{
	crypto_hash_sha256_state st;
	uint8_t		*h = NULL, hdr[5];
	size_t		 leaves, w, x, half;
	unsigned	 level;
	int		 rc;

	/* the full tree: leaves a power of two */
	for (leaves = 1; 2 * leaves - 1 < count; leaves *= 2)
		;
	w = 2 * leaves - 1;
	if ((h = malloc(w * KP_HASH_LEN)) == NULL) {
		rc = KP_ENOMEM;
		goto out;
	}
	/* TreeHashInput, leaves first, then each level up (RFC 9420 §7.8) */
	for (level = 0, half = 0; ((size_t)1 << level) <= leaves; level++) {
		for (x = ((size_t)1 << level) - 1; x < w;
		    x += (size_t)2 << level) {
			crypto_hash_sha256_init(&st);
			if (level == 0) {
				hdr[0] = 1;
				hdr[1] = (uint8_t)((x / 2) >> 24);
				hdr[2] = (uint8_t)((x / 2) >> 16);
				hdr[3] = (uint8_t)((x / 2) >> 8);
				hdr[4] = (uint8_t)(x / 2);
				crypto_hash_sha256_update(&st, hdr, 5);
			} else {
				hdr[0] = 2;
				crypto_hash_sha256_update(&st, hdr, 1);
			}
			hdr[0] = x < count && nodes[x].p != NULL;
			crypto_hash_sha256_update(&st, hdr, 1);
			if (hdr[0])
				crypto_hash_sha256_update(&st, nodes[x].p,
				    nodes[x].n);
			if (level > 0) {
				hdr[0] = KP_HASH_LEN;
				crypto_hash_sha256_update(&st, hdr, 1);
				crypto_hash_sha256_update(&st,
				    h + (x - half) * KP_HASH_LEN, KP_HASH_LEN);
				crypto_hash_sha256_update(&st, hdr, 1);
				crypto_hash_sha256_update(&st,
				    h + (x + half) * KP_HASH_LEN, KP_HASH_LEN);
			}
			crypto_hash_sha256_final(&st, h + x * KP_HASH_LEN);
		}
		half = (size_t)1 << level;
	}
	*hashes = h;
	*width = w;
	h = NULL;
	rc = KP_OK;
out:
	free(h);
	return rc;
}

int
kp_tree_hashes(const uint8_t *tree, size_t len, uint8_t **hashes,
    size_t *width)
{
	struct kp_span	*nodes = NULL;
	size_t		 count;
	int		 rc;

	*hashes = NULL;
	*width = 0;
	if ((rc = kp_crypto_init()) != KP_OK)
		return rc;
	if ((rc = tree_nodes(tree, len, &nodes, &count)) != KP_OK)
		return rc;
	rc = hash_nodes(nodes, count, hashes, width);
	free(nodes);
	return rc;
}

/*
 * The signature of the LeafNode at leaf index idx of group gid: alone
 * for a key_package leaf, with group_id and leaf_index for the others
 * (LeafNodeTBS, RFC 9420 §7.2).
 */
static int
tree_leaf_verify(struct kp_span node, struct kp_span gid, uint32_t idx)
{
	struct kp_leaf	 l;
	struct kp_rd	 r;
	struct kp_wb	 w;
	int		 rc;

	kp_rd_init(&r, node.p, node.n);
	if ((rc = kp_leaf_read(&r, &l)) != KP_OK)
		return kp_nested(rc);
	if (l.source == KP_LEAF_KEY_PACKAGE)
		return kp_leaf_verify(&l) == KP_OK ? KP_OK : KP_ELEAFSIG;
	kp_wb_init(&w, MAX_LEAF_TBS);
	kp_wb_bytes(&w, l.start, l.tbs_len);
	kp_wb_vec(&w, gid.p, gid.n);
	kp_wb_u32(&w, idx);
	if ((rc = w.err) == KP_OK && kp_verify_with_label(l.sig_key.p,
	    l.sig_key.n, KP_LEAF_SIG_LABEL, w.buf, w.len, l.sig.p, l.sig.n) !=
	    KP_OK)
		rc = KP_ELEAFSIG;
	kp_wb_free(&w);
	return rc;
}

/* A public key of the tree: kind 0 an encryption key, 1 a signature key. */
struct tree_key {
	int		kind;
	struct kp_span	key;
};

static int
tree_key_cmp(const void *a, const void *b)
{
	const struct tree_key	*x = a, *y = b;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->key.n != y->key.n)
		return x->key.n < y->key.n ? -1 : 1;
	return x->key.n == 0 ? 0 : memcmp(x->key.p, y->key.p, x->key.n);
}

/*
 * RFC 9420 §7.3 and §12.4.3.1: no encryption key (of a leaf or a parent)
 * and no leaf signature key appears twice in the tree; KP_ETREE if one
 * does.
 */
static int
tree_keys_unique(const struct kp_span *nodes, size_t count)
{
	struct tree_key	*keys;
	struct kp_leaf	 l;
	struct kp_rd	 r;
	size_t		 i, n = 0;
	int		 rc = KP_OK;

	if ((keys = reallocarray(NULL, count + 1, 2 * sizeof(*keys))) ==
	    NULL)
		return KP_ENOMEM;
	for (i = 0; i < count; i++) {
		if (nodes[i].p == NULL)
			continue;
		kp_rd_init(&r, nodes[i].p, nodes[i].n);
		if (i % 2 == 0) {
			if (kp_leaf_read(&r, &l) != KP_OK) {
				rc = KP_EMALFORMED;
				goto out;
			}
			keys[n].kind = 0;
			keys[n++].key = l.enc_key;
			keys[n].kind = 1;
			keys[n++].key = l.sig_key;
		} else {
			keys[n].kind = 0;
			if (kp_rd_span(&r, &keys[n++].key) != KP_OK) {
				rc = KP_EMALFORMED;
				goto out;
			}
		}
	}
	qsort(keys, n, sizeof(*keys), tree_key_cmp);
	for (i = 1; i < n; i++)
		if (tree_key_cmp(&keys[i - 1], &keys[i]) == 0) {
			rc = KP_ETREE;
			goto out;
		}
out:
	free(keys);
	return rc;
}

/* The unmerged_leaves body of the parent node content p; 1 if it is. */
static int
unmerged_of(struct kp_span p, struct kp_span *list)
{
	struct kp_rd	r;
	struct kp_span	skip;

	kp_rd_init(&r, p.p, p.n);
	return kp_rd_span(&r, &skip) == KP_OK &&
	    kp_rd_span(&r, &skip) == KP_OK && kp_rd_span(&r, list) == KP_OK;
}

/* 1 when the unmerged_leaves body list holds leaf index u. */
static int
unmerged_has(struct kp_span list, uint32_t u)
{
	struct kp_rd	r;
	uint32_t	v;

	kp_rd_init(&r, list.p, list.n);
	while (kp_rd_u32(&r, &v) == KP_OK)
		if (v == u)
			return 1;
	return 0;
}

/* The ancestor of node x at level l of the tree (RFC 9420 §4.1). */
static size_t
ancestor(size_t x, unsigned l)
{
	return (x & ~(((size_t)2 << l) - 1)) | (((size_t)1 << l) - 1);
}

/*
 * RFC 9420 §12.4.3.1: each entry of a parent's unmerged_leaves is a
 * non-blank leaf below it, and every non-blank node between the two
 * lists it too; KP_ETREE if not.
 */
static int
tree_unmerged_ok(const struct kp_span *nodes, size_t count)
{
	struct kp_span	list, mid;
	struct kp_rd	r;
	size_t		p, x, q;
	unsigned	level, j;
	uint32_t	u;

	for (p = 1; p < count; p += 2) {
		if (nodes[p].p == NULL)
			continue;
		if (!unmerged_of(nodes[p], &list))
			return KP_EMALFORMED;
		for (level = 0; (p >> level) & 1; level++)
			;
		kp_rd_init(&r, list.p, list.n);
		while (kp_rd_u32(&r, &u) == KP_OK) {
			x = 2 * (size_t)u;
			/* p is the ancestor of x at p's level */
			if (x >= count || nodes[x].p == NULL ||
			    ancestor(x, level) != p)
				return KP_ETREE;
			for (j = 1; j < level; j++) {
				q = ancestor(x, j);
				if (q < count && nodes[q].p != NULL &&
				    (!unmerged_of(nodes[q], &mid) ||
				    !unmerged_has(mid, u)))
					return KP_ETREE;
			}
		}
	}
	return KP_OK;
}

/* kp_tree_verify: see tree.h. */
int
kp_tree_verify(const uint8_t *tree, size_t len, struct kp_span tree_hash,
    struct kp_span ours, struct kp_span gid)
{
	struct kp_span	*nodes = NULL;
	uint8_t		*h = NULL;
	size_t		 count, w, i;
	int		 rc;

	if ((rc = tree_nodes(tree, len, &nodes, &count)) != KP_OK ||
	    (rc = hash_nodes(nodes, count, &h, &w)) != KP_OK)
		goto out;
	rc = KP_ETREE;
	if (tree_hash.n != KP_HASH_LEN ||
	    memcmp(h + (w - 1) / 2 * KP_HASH_LEN, tree_hash.p,
	    KP_HASH_LEN) != 0)
		goto out;
	for (i = 0; i < count; i += 2)
		if (nodes[i].p != NULL && nodes[i].n == ours.n &&
		    memcmp(nodes[i].p, ours.p, ours.n) == 0)
			rc = KP_OK;
	if (rc == KP_OK)
		rc = tree_keys_unique(nodes, count);
	if (rc == KP_OK)
		rc = tree_unmerged_ok(nodes, count);
	for (i = 0; rc == KP_OK && i < count; i += 2)
		if (nodes[i].p != NULL)
			rc = tree_leaf_verify(nodes[i], gid, (uint32_t)(i / 2));
out:
	free(h);
	free(nodes);
	return rc;
}
