/* SPDX-License-Identifier: ISC */
/*
 * treepath.c: what the committers' paths left in a ratchet tree, as a
 * joiner checks it (RFC 9420 §7.9.2, §12.4.3.1): every non-blank parent
 * chains by parent hash to a node below it, and the path_secret of a
 * Welcome gives the keys of the common ancestor and of the nodes above.
 */

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto.h"
#include "hpke.h"
#include "mls.h"
#include "tls.h"
#include "tree.h"

/* A list of node indexes: a resolution (RFC 9420 §4.1.2). */
struct nodelist {
	size_t	*v;
	size_t	 n, cap;
};

static int
push(struct nodelist *l, size_t x)
{
	size_t	*nv;

	if (l->n == l->cap) {
		l->cap = l->cap == 0 ? 16 : 2 * l->cap;
		if ((nv = reallocarray(l->v, l->cap, sizeof(*nv))) == NULL)
			return KP_ENOMEM;
		l->v = nv;
	}
	l->v[l->n++] = x;
	return KP_OK;
}

static size_t
left(size_t x)
{
	return x - ((size_t)1 << (kp_tree_level(x) - 1));
}

static size_t
right(size_t x)
{
	return x + ((size_t)1 << (kp_tree_level(x) - 1));
}

/* 1 when node y is in the subtree under node x. */
static int
below(size_t x, size_t y)
{
	size_t	half = ((size_t)1 << kp_tree_level(x)) - 1;

	return y >= x - half && y <= x + half;
}

static int
blank(const struct kp_tree *t, size_t x)
{
	return x >= t->count || t->nodes[x].p == NULL;
}

/*
 * The resolution of node x: x and its unmerged leaves when x is not
 * blank, else the resolutions of its children (none for a leaf).
 */
static int
resolve(const struct kp_tree *t, size_t x, struct nodelist *out)
{
	struct kp_span	enc, ph, list;
	struct kp_rd	r;
	uint32_t	u;
	int		rc;

	if (blank(t, x)) {
		if (x % 2 == 0)
			return KP_OK;
		if ((rc = resolve(t, left(x), out)) != KP_OK)
			return rc;
		return resolve(t, right(x), out);
	}
	if ((rc = push(out, x)) != KP_OK || x % 2 == 0)
		return rc;
	if ((rc = kp_tree_parent(t->nodes[x], &enc, &ph, &list)) != KP_OK)
		return rc;
	kp_rd_init(&r, list.p, list.n);
	while (kp_rd_u32(&r, &u) == KP_OK)
		if ((rc = push(out, 2 * (size_t)u)) != KP_OK)
			return rc;
	return KP_OK;
}

/* An opaque<V> into a hash. */
static void
hash_vec(crypto_hash_sha256_state *st, const uint8_t *p, size_t n)
{
	uint8_t	len[4];
	size_t	k;

	k = kp_varint_put(len, n);
	crypto_hash_sha256_update(st, len, k);
	if (n > 0)
		crypto_hash_sha256_update(st, p, n);
}

/* 1 when the sorted ex[0..n) holds u. */
static int
has(const uint32_t *ex, size_t n, uint32_t u)
{
	size_t	lo = 0, hi = n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (ex[mid] == u)
			return 1;
		if (ex[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/*
 * The tree hash of node x in the tree with the leaves of the sorted
 * ex[0..n) blanked and dropped from every unmerged_leaves (RFC 9420
 * §7.9): those of ex under x are ex[lo..hi).  Nodes with none of them
 * below keep the hash kp_tree_load computed.
 */
static int
hash_without(const struct kp_tree *t, size_t x, const uint32_t *ex,
    size_t n, size_t lo, size_t hi, uint8_t out[KP_HASH_LEN])
{
	crypto_hash_sha256_state st;
	struct kp_span	 enc, ph, list;
	struct kp_rd	 r;
	uint8_t		 lh[KP_HASH_LEN], rh[KP_HASH_LEN], b[5];
	size_t		 mid, k, kept = 0;
	uint32_t	 u;
	int		 rc;

	if (lo == hi) {
		memcpy(out, t->hashes + x * KP_HASH_LEN, KP_HASH_LEN);
		return KP_OK;
	}
	if (x % 2 == 0) {	/* a leaf of ex: blank */
		kp_tree_blank_leaf_hash((uint32_t)(x / 2), out);
		return KP_OK;
	}
	crypto_hash_sha256_init(&st);
	for (mid = lo; mid < hi && 2 * (size_t)ex[mid] < x; mid++)
		;
	if ((rc = hash_without(t, left(x), ex, n, lo, mid, lh)) != KP_OK ||
	    (rc = hash_without(t, right(x), ex, n, mid, hi, rh)) != KP_OK)
		return rc;
	b[0] = 2;
	b[1] = !blank(t, x);
	crypto_hash_sha256_update(&st, b, 2);
	if (!blank(t, x)) {
		if ((rc = kp_tree_parent(t->nodes[x], &enc, &ph, &list)) !=
		    KP_OK)
			return rc;
		hash_vec(&st, enc.p, enc.n);
		hash_vec(&st, ph.p, ph.n);
		kp_rd_init(&r, list.p, list.n);
		while (kp_rd_u32(&r, &u) == KP_OK)
			kept += !has(ex, n, u);
		k = kp_varint_put(b, 4 * (uint64_t)kept);
		crypto_hash_sha256_update(&st, b, k);
		kp_rd_init(&r, list.p, list.n);
		while (kp_rd_u32(&r, &u) == KP_OK)
			if (!has(ex, n, u)) {
				b[0] = (uint8_t)(u >> 24);
				b[1] = (uint8_t)(u >> 16);
				b[2] = (uint8_t)(u >> 8);
				b[3] = (uint8_t)u;
				crypto_hash_sha256_update(&st, b, 4);
			}
	}
	hash_vec(&st, lh, sizeof(lh));
	hash_vec(&st, rh, sizeof(rh));
	crypto_hash_sha256_final(&st, out);
	return KP_OK;
}

/*
 * The parent hash of parent p (encryption key enc, parent_hash ph,
 * unmerged leaves um[0..n), sorted) with copath child s: the hash of
 * ParentHashInput {enc, ph, original_sibling_tree_hash} (§7.9).
 */
static int
parent_hash(const struct kp_tree *t, struct kp_span enc, struct kp_span ph,
    const uint32_t *um, size_t n, size_t s, uint8_t out[KP_HASH_LEN])
{
	crypto_hash_sha256_state st;
	uint8_t		 sib[KP_HASH_LEN];
	size_t		 lo, hi;
	int		 rc;

	/* um is sorted, so the leaves under s are a run of it */
	for (lo = 0; lo < n && !below(s, 2 * (size_t)um[lo]); lo++)
		;
	for (hi = lo; hi < n && below(s, 2 * (size_t)um[hi]); hi++)
		;
	if ((rc = hash_without(t, s, um, n, lo, hi, sib)) != KP_OK)
		return rc;
	crypto_hash_sha256_init(&st);
	hash_vec(&st, enc.p, enc.n);
	hash_vec(&st, ph.p, ph.n);
	hash_vec(&st, sib, sizeof(sib));
	crypto_hash_sha256_final(&st, out);
	return KP_OK;
}

/* The parent_hash field of node d: a parent's, or a commit leaf's. */
static int
parent_hash_of(const struct kp_tree *t, size_t d, struct kp_span *ph)
{
	struct kp_span	enc, list;
	struct kp_leaf	l;
	struct kp_rd	r;

	if (d % 2 == 1)
		return kp_tree_parent(t->nodes[d], &enc, ph, &list) == KP_OK;
	kp_rd_init(&r, t->nodes[d].p, t->nodes[d].n);
	if (kp_leaf_read(&r, &l) != KP_OK || l.source != KP_LEAF_COMMIT)
		return 0;
	*ph = l.parent_hash;
	return 1;
}

/*
 * How many nodes below parent p, on the side of its child c with s the
 * other child, have a parent hash valid with respect to p (§7.9.2): the
 * node holds the parent hash of p over s, is in the resolution of c,
 * and the rest of that resolution is p's unmerged leaves under c.
 */
static int
valid_below(const struct kp_tree *t, size_t p, size_t c, size_t s,
    size_t *count)
{
	struct nodelist	 res = { NULL, 0, 0 };
	struct kp_span	 enc, ph, list, dph;
	uint8_t		 want[KP_HASH_LEN];
	uint32_t	*um = NULL;
	size_t		 n, i, under = 0, listed = 0;
	int		 rc, d_listed;

	*count = 0;
	if ((rc = kp_tree_parent(t->nodes[p], &enc, &ph, &list)) != KP_OK ||
	    (rc = kp_tree_unmerged(t->nodes[p], &um, &n)) != KP_OK)
		goto out;
	if ((rc = parent_hash(t, enc, ph, um, n, s, want)) != KP_OK ||
	    (rc = resolve(t, c, &res)) != KP_OK)
		goto out;
	for (i = 0; i < n; i++)
		under += below(c, 2 * (size_t)um[i]);
	for (i = 0; i < res.n; i++)
		listed += res.v[i] % 2 == 0 && has(um, n, (uint32_t)(res.v[i] /
		    2));
	for (i = 0; i < res.n; i++) {
		if (blank(t, res.v[i]) || !parent_hash_of(t, res.v[i], &dph) ||
		    dph.n != KP_HASH_LEN || sodium_memcmp(dph.p, want,
		    KP_HASH_LEN) != 0)
			continue;
		d_listed = res.v[i] % 2 == 0 && has(um, n,
		    (uint32_t)(res.v[i] / 2));
		/* res minus d is exactly the unmerged leaves under c */
		if (under == res.n - 1 && listed - d_listed == res.n - 1)
			(*count)++;
	}
out:
	free(res.v);
	free(um);
	return rc;
}

/* kp_tree_parent_hashes: see tree.h. */
int
kp_tree_parent_hashes(const struct kp_tree *t)
{
	size_t	p, a, b;
	int	rc;

	for (p = 1; p < t->count; p += 2) {
		if (t->nodes[p].p == NULL)
			continue;
		if ((rc = valid_below(t, p, left(p), right(p), &a)) != KP_OK ||
		    (rc = valid_below(t, p, right(p), left(p), &b)) != KP_OK)
			return rc;
		if (a + b != 1)
			return KP_EPARENTHASH;
	}
	return KP_OK;
}

/* kp_tree_path_secret: see tree.h. */
int
kp_tree_path_secret(const struct kp_tree *t, uint32_t ours, uint32_t signer,
    struct kp_span secret)
{
	struct kp_span	 enc, ph, list;
	uint8_t		 ps[KP_HASH_LEN], next[KP_HASH_LEN];
	uint8_t		 node[KP_HASH_LEN], sk[KP_KEY_LEN], pk[KP_KEY_LEN];
	const uint8_t	*cur = secret.p;
	size_t		 curlen = secret.n, x, y, root;
	unsigned	 l;
	int		 rc = KP_EPATHSECRET;

	x = 2 * (size_t)ours;
	y = 2 * (size_t)signer;
	root = (t->width - 1) / 2;
	if (ours == signer || x >= t->width || y >= t->width)
		goto out;
	for (l = 1; kp_tree_ancestor(x, l) != kp_tree_ancestor(y, l); l++)
		;
	/* the common ancestor holds a key; each node above one may */
	if (blank(t, kp_tree_ancestor(x, l)))
		goto out;
	for (;; l++) {
		size_t	a = kp_tree_ancestor(x, l);

		if (!blank(t, a)) {
			if ((rc = kp_tree_parent(t->nodes[a], &enc, &ph,
			    &list)) != KP_OK ||
			    (rc = kp_derive_secret(cur, curlen, "node",
			    node)) != KP_OK ||
			    (rc = kp_hpke_derive_keypair(node, KP_HASH_LEN, sk,
			    pk)) != KP_OK ||
			    (rc = kp_derive_secret(cur, curlen, "path",
			    next)) != KP_OK)
				goto out;
			rc = KP_EPATHSECRET;
			if (enc.n != KP_KEY_LEN ||
			    sodium_memcmp(enc.p, pk, KP_KEY_LEN) != 0)
				goto out;
			memcpy(ps, next, sizeof(ps));
			cur = ps;
			curlen = sizeof(ps);
		}
		if (a == root)
			break;
	}
	rc = KP_OK;
out:
	sodium_memzero(ps, sizeof(ps));
	sodium_memzero(next, sizeof(next));
	sodium_memzero(node, sizeof(node));
	sodium_memzero(sk, sizeof(sk));
	return rc;
}
