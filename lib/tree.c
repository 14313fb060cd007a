/* SPDX-License-Identifier: ISC */
/*
 * tree.c: the ratchet tree a Welcome carries (RFC 9420 §7.8, §7.3,
 * §12.4.3.1): its nodes, their tree hashes, and the checks a joiner
 * makes of its leaves and its unmerged leaves before it trusts it.
 * treepath.c checks what a committer's path left in it.
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

/* The start of a leaf's TreeHashInput: node_type leaf, leaf_index. */
static void
leaf_header(uint8_t b[5], size_t leaf)
{
	b[0] = 1;
	b[1] = (uint8_t)(leaf >> 24);
	b[2] = (uint8_t)(leaf >> 16);
	b[3] = (uint8_t)(leaf >> 8);
	b[4] = (uint8_t)leaf;
}

void
kp_tree_blank_leaf_hash(uint32_t leaf, uint8_t out[KP_HASH_LEN])
{
	uint8_t	b[6];

	leaf_header(b, leaf);
	b[5] = 0;		/* optional<LeafNode> absent */
	crypto_hash_sha256(out, b, sizeof(b));
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
				leaf_header(hdr, x / 2);
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
kp_tree_load(const uint8_t *tree, size_t len, struct kp_tree *t)
{
	int	rc;

	memset(t, 0, sizeof(*t));
	if ((rc = kp_crypto_init()) != KP_OK)
		return rc;
	if ((rc = tree_nodes(tree, len, &t->nodes, &t->count)) != KP_OK ||
	    (rc = hash_nodes(t->nodes, t->count, &t->hashes, &t->width)) !=
	    KP_OK)
		kp_tree_free(t);
	return rc;
}

void
kp_tree_free(struct kp_tree *t)
{
	free(t->nodes);
	free(t->hashes);
	memset(t, 0, sizeof(*t));
}

int
kp_tree_parent(struct kp_span node, struct kp_span *enc,
    struct kp_span *parent_hash, struct kp_span *unmerged)
{
	struct kp_rd	r;

	kp_rd_init(&r, node.p, node.n);
	if (kp_rd_span(&r, enc) != KP_OK ||
	    kp_rd_span(&r, parent_hash) != KP_OK ||
	    kp_rd_span(&r, unmerged) != KP_OK || unmerged->n % 4 != 0)
		return KP_EMALFORMED;
	return KP_OK;
}

static int
u32_cmp(const void *a, const void *b)
{
	uint32_t	x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int
kp_tree_unmerged(struct kp_span node, uint32_t **v, size_t *n)
{
	struct kp_span	 enc, ph, list;
	struct kp_rd	 r;
	uint32_t	*out;
	size_t		 i, k;
	int		 rc;

	*v = NULL;
	*n = 0;
	if ((rc = kp_tree_parent(node, &enc, &ph, &list)) != KP_OK)
		return rc;
	if ((k = list.n / 4) == 0)
		return KP_OK;
	if ((out = reallocarray(NULL, k, sizeof(*out))) == NULL)
		return KP_ENOMEM;
	kp_rd_init(&r, list.p, list.n);
	for (i = 0; i < k; i++)
		if (kp_rd_u32(&r, &out[i]) != KP_OK) {
			free(out);
			return KP_EMALFORMED;
		}
	qsort(out, k, sizeof(*out), u32_cmp);
	for (i = 1; i < k; i++)
		if (out[i - 1] == out[i]) {
			free(out);
			return KP_ETREE;
		}
	*v = out;
	*n = k;
	return KP_OK;
}

int
kp_tree_leaf(const struct kp_tree *t, uint32_t leaf, struct kp_leaf *l)
{
	struct kp_rd	r;
	uint64_t	x = 2 * (uint64_t)leaf;

	if (x >= t->count || t->nodes[x].p == NULL)
		return KP_ENOTFOUND;
	kp_rd_init(&r, t->nodes[x].p, t->nodes[x].n);
	return kp_nested(kp_leaf_read(&r, l));
}

int
kp_tree_hashes(const uint8_t *tree, size_t len, uint8_t **hashes,
    size_t *width)
{
	struct kp_tree	t;
	int		rc;

	*hashes = NULL;
	*width = 0;
	if ((rc = kp_tree_load(tree, len, &t)) != KP_OK)
		return rc;
	*hashes = t.hashes;
	*width = t.width;
	t.hashes = NULL;
	kp_tree_free(&t);
	return KP_OK;
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

unsigned
kp_tree_level(size_t x)
{
	unsigned	k;

	for (k = 0; (x >> k) & 1; k++)
		;
	return k;
}

size_t
kp_tree_ancestor(size_t x, unsigned l)
{
	return (x & ~(((size_t)2 << l) - 1)) | (((size_t)1 << l) - 1);
}

/* The sorted unmerged leaves of one parent (kp_tree_unmerged). */
struct unmerged {
	uint32_t	*v;
	size_t		 n;
};

/* 1 when the sorted list u holds leaf x. */
static int
unmerged_has(const struct unmerged *u, uint32_t x)
{
	size_t	lo = 0, hi = u->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (u->v[mid] == x)
			return 1;
		if (u->v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/*
 * RFC 9420 §12.4.3.1: each entry of a parent's unmerged_leaves is a
 * non-blank leaf below it, listed once, and every non-blank node between
 * the two lists it too; KP_ETREE if not.
 */
static int
tree_unmerged_ok(const struct kp_tree *t)
{
	struct unmerged	*um;
	size_t		 p, x, q, i;
	unsigned	 level, j;
	int		 rc = KP_OK;

	if ((um = calloc(t->count, sizeof(*um))) == NULL)
		return KP_ENOMEM;
	for (p = 1; rc == KP_OK && p < t->count; p += 2)
		if (t->nodes[p].p != NULL)
			rc = kp_tree_unmerged(t->nodes[p], &um[p].v, &um[p].n);
	for (p = 1; rc == KP_OK && p < t->count; p += 2) {
		level = kp_tree_level(p);
		for (i = 0; rc == KP_OK && i < um[p].n; i++) {
			x = 2 * (size_t)um[p].v[i];
			/* p is the ancestor of x at p's level */
			if (x >= t->count || t->nodes[x].p == NULL ||
			    kp_tree_ancestor(x, level) != p)
				rc = KP_ETREE;
			for (j = 1; rc == KP_OK && j < level; j++) {
				q = kp_tree_ancestor(x, j);
				if (q < t->count && t->nodes[q].p != NULL &&
				    !unmerged_has(&um[q], um[p].v[i]))
					rc = KP_ETREE;
			}
		}
	}
	for (p = 1; p < t->count; p += 2)
		free(um[p].v);
	free(um);
	return rc;
}

/* Credential types kpool parses (rd_credential), as bits of a mask. */
static unsigned
cred_bit(uint16_t type)
{
	return type == KP_CRED_BASIC ? 1 : type == KP_CRED_X509 ? 2 : 0;
}

/* 1 when the credentials capability list caps holds every type of mask. */
static int
creds_listed(unsigned mask, struct kp_span caps)
{
	return (!(mask & 1) || kp_u16_list_has(caps, KP_CRED_BASIC)) &&
	    (!(mask & 2) || kp_u16_list_has(caps, KP_CRED_X509));
}

/*
 * Every value of the uint16 list need, but those from 1 to dflt (the
 * default types, never listed), is in the list have.
 */
static int
u16_all_listed(struct kp_span need, struct kp_span have, uint16_t dflt)
{
	size_t		i;
	uint16_t	v;

	for (i = 0; i + 1 < need.n; i += 2) {
		v = (uint16_t)(need.p[i] << 8 | need.p[i + 1]);
		if ((v < 1 || v > dflt) && !kp_u16_list_has(have, v))
			return 0;
	}
	return 1;
}

/*
 * The required_capabilities extension of the GroupContext extensions
 * exts (RFC 9420 §11.1), its three lists; all empty when absent.
 */
static int
required_caps(struct kp_span exts, struct kp_span req[3])
{
	struct kp_span	data;
	struct kp_rd	r;
	int		i;

	memset(req, 0, 3 * sizeof(req[0]));
	if (!kp_exts_find(exts, KP_EXT_REQUIRED_CAPS, &data))
		return KP_OK;
	kp_rd_init(&r, data.p, data.n);
	for (i = 0; i < 3; i++)
		if (kp_rd_span(&r, &req[i]) != KP_OK || req[i].n % 2 != 0)
			return KP_EMALFORMED;
	return kp_rd_end(&r) == KP_OK ? KP_OK : KP_EMALFORMED;
}

/*
 * RFC 9420 §7.3 for every leaf of the tree but its signature: each
 * credential type in use is in each leaf's capabilities (KP_ECREDTYPE);
 * each leaf lists its extensions and the group's required capabilities
 * (KP_ECAPS); a key_package leaf's lifetime covers now (KP_ENOTYET,
 * KP_EEXPIRED) unless any_lifetime.
 */
static int
tree_leaves_ok(const struct kp_tree *t, const struct kp_tree_want *w)
{
	struct kp_span	 req[3];
	struct kp_leaf	 l;
	unsigned	 mask = 0;
	uint32_t	 i, n = (uint32_t)(t->count / 2 + 1);
	int		 rc;

	if ((rc = required_caps(w->gc_exts, req)) != KP_OK)
		return rc;
	for (i = 0; i < n; i++)
		if (kp_tree_leaf(t, i, &l) == KP_OK)
			mask |= cred_bit(l.cred_type);
	for (i = 0; i < n; i++) {
		if ((rc = kp_tree_leaf(t, i, &l)) == KP_ENOTFOUND)
			continue;
		if (rc != KP_OK)
			return rc;
		if (!creds_listed(mask, l.cap_creds))
			return KP_ECREDTYPE;
		if ((rc = kp_exts_listed(l.exts, l.cap_exts)) != KP_OK)
			return rc;
		if (!u16_all_listed(req[0], l.cap_exts,
		    KP_EXT_EXTERNAL_SENDERS) ||
		    !u16_all_listed(req[1], l.cap_props,
		    KP_PROPOSAL_DEFAULT_MAX) ||
		    !u16_all_listed(req[2], l.cap_creds, 0))
			return KP_ECAPS;
		if (l.source != KP_LEAF_KEY_PACKAGE || w->any_lifetime)
			continue;
		if (w->now < l.not_before)
			return KP_ENOTYET;
		if (w->now > l.not_after)
			return KP_EEXPIRED;
	}
	return KP_OK;
}

/* kp_tree_verify: see tree.h. */
int
kp_tree_verify(const struct kp_tree *t, const struct kp_tree_want *w,
    uint32_t *ours)
{
	struct kp_span	 o = w->ours;
	size_t		 i;
	int		 rc;

	if (w->tree_hash.n != KP_HASH_LEN ||
	    memcmp(t->hashes + (t->width - 1) / 2 * KP_HASH_LEN,
	    w->tree_hash.p, KP_HASH_LEN) != 0)
		return KP_ETREE;
	for (i = 0; i < t->count; i += 2)
		if (t->nodes[i].p != NULL && t->nodes[i].n == o.n &&
		    memcmp(t->nodes[i].p, o.p, o.n) == 0)
			break;
	if (i >= t->count)
		return KP_ETREE;
	*ours = (uint32_t)(i / 2);
	if ((rc = tree_keys_unique(t->nodes, t->count)) != KP_OK ||
	    (rc = tree_unmerged_ok(t)) != KP_OK ||
	    (rc = tree_leaves_ok(t, w)) != KP_OK)
		return rc;
	for (i = 0; i < t->count; i += 2)
		if (t->nodes[i].p != NULL && (rc = tree_leaf_verify(t->nodes[i],
		    w->gid, (uint32_t)(i / 2))) != KP_OK)
			return rc;
	return kp_tree_parent_hashes(t);
}
