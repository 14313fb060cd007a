/* SPDX-License-Identifier: ISC */
/*
 * tree.h: the ratchet tree of a Welcome (lib/tree.c, lib/treepath.c),
 * internal to libkpool.  A serialized tree is the whole optional<Node>
 * ratchet_tree<V> of RFC 9420 §12.4.3.3.
 */
#ifndef KP_TREE_H
#define KP_TREE_H

#include <stddef.h>
#include <stdint.h>

#include "kpool.h"
#include "crypto.h"
#include "mls.h"

/*
 * A loaded ratchet tree: the spans point into the serialized tree, which
 * must outlive it.  Node i is a leaf when i is even, a parent when odd
 * (RFC 9420 §4.1); nodes past count are blank.
 */
struct kp_tree {
	struct kp_span	*nodes;		/* node i after its node_type; p is
					   NULL for a blank node */
	size_t		 count;		/* nodes serialized, the last one
					   not blank */
	size_t		 width;		/* nodes of the full tree it is
					   padded to, 2 * leaves - 1 */
	uint8_t		*hashes;	/* the tree hash of each of width
					   nodes, KP_HASH_LEN bytes each */
};

/* What a joiner holds the tree against (RFC 9420 §12.4.3.1). */
struct kp_tree_want {
	struct kp_span	 tree_hash;	/* the GroupContext's tree_hash */
	struct kp_span	 ours;		/* our KeyPackage's LeafNode */
	struct kp_span	 gid;		/* group_id, for leaf signatures */
	struct kp_span	 gc_exts;	/* the GroupContext's extensions */
	uint64_t	 now;		/* for leaf lifetimes */
	int		 any_lifetime;	/* do not check leaf lifetimes */
};

/*
 * kp_tree_load: parse a serialized ratchet tree (optional<Node>
 * ratchet_tree<V>, whole) and compute the tree hash (RFC 9420 §7.8) of
 * every node of the full tree.  The tree must be well formed: leaves at
 * even and parents at odd indexes, the last node not blank, at most
 * 65536 nodes (KP_EMALFORMED, KP_ETOOBIG).  Free *t with kp_tree_free.
 */
int	kp_tree_load(const uint8_t *tree, size_t len, struct kp_tree *t)
	    KP_WUR;
/* kp_tree_free: release what kp_tree_load allocated; t may be zeroed. */
void	kp_tree_free(struct kp_tree *t);

/* kp_tree_parent: the fields of a ParentNode, read from its span. */
int	kp_tree_parent(struct kp_span node, struct kp_span *enc,
	    struct kp_span *parent_hash, struct kp_span *unmerged) KP_WUR;

/*
 * kp_tree_unmerged: the unmerged_leaves of the ParentNode span node,
 * sorted, in *v (malloc'd, *n entries, caller frees; NULL when none);
 * KP_ETREE when a leaf is listed twice.
 */
int	kp_tree_unmerged(struct kp_span node, uint32_t **v, size_t *n) KP_WUR;

/* kp_tree_level: the level of node x, its count of trailing 1 bits. */
unsigned kp_tree_level(size_t x);
/* kp_tree_ancestor: the ancestor of node x at level l (RFC 9420 §4.1). */
size_t	kp_tree_ancestor(size_t x, unsigned l);

/* kp_tree_leaf: the LeafNode at leaf index leaf; KP_ENOTFOUND if blank. */
int	kp_tree_leaf(const struct kp_tree *t, uint32_t leaf,
	    struct kp_leaf *l) KP_WUR;

/*
 * kp_tree_hashes: the tree hash of every node of a serialized ratchet
 * tree, as kp_tree_load computes them; the root is node
 * (*width - 1) / 2.  *hashes is malloc'd (*width * 32 bytes), caller
 * frees.
 */
int	kp_tree_hashes(const uint8_t *tree, size_t len, uint8_t **hashes,
	    size_t *width) KP_WUR;

/* kp_tree_blank_leaf_hash: the tree hash of a blank leaf (§7.8). */
void	kp_tree_blank_leaf_hash(uint32_t leaf, uint8_t out[KP_HASH_LEN]);

/*
 * kp_tree_verify: RFC 9420 §12.4.3.1 for a joiner, in this order: the
 * root hash is w->tree_hash and one leaf is byte for byte w->ours, its
 * index put in *ours; no public key appears twice and each unmerged
 * leaf is where it must be (all KP_ETREE); then every leaf passes §7.3:
 * its credential type is in every leaf's capabilities (KP_ECREDTYPE),
 * its extensions and the GroupContext's required_capabilities are in
 * its own capabilities (KP_ECAPS), its lifetime covers w->now unless
 * w->any_lifetime (KP_ENOTYET, KP_EEXPIRED) and its signature verifies
 * under w->gid (KP_ELEAFSIG); last, every parent is parent-hash valid
 * (KP_EPARENTHASH).
 */
int	kp_tree_verify(const struct kp_tree *t, const struct kp_tree_want *w,
	    uint32_t *ours) KP_WUR;

/*
 * kp_tree_parent_hashes: RFC 9420 §7.9.2: exactly one node below each
 * non-blank parent P holds the parent hash of P over its sibling, and
 * is in the resolution of its side with P's unmerged leaves there the
 * rest of it; KP_EPARENTHASH if not, KP_ETREE for an unmerged leaf
 * listed twice.
 */
int	kp_tree_parent_hashes(const struct kp_tree *t) KP_WUR;

/*
 * kp_tree_path_secret: RFC 9420 §12.4.3.1: the path_secret a Welcome
 * gives the joiner at leaf ours is that of the lowest common ancestor
 * of ours and signer, the committer; it and the path secrets derived
 * from it (DeriveSecret "path") give, through DeriveSecret "node" and
 * DeriveKeyPair, the encryption key of that ancestor and of every
 * non-blank node above it.  KP_EPATHSECRET if one differs or the
 * ancestor is blank.
 */
int	kp_tree_path_secret(const struct kp_tree *t, uint32_t ours,
	    uint32_t signer, struct kp_span secret) KP_WUR;

#endif /* KP_TREE_H */
