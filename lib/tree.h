/* SPDX-License-Identifier: ISC */
/*
 * tree.h: the ratchet tree of a Welcome (lib/tree.c), internal to
 * libkpool.  A serialized tree is the whole optional<Node>
 * ratchet_tree<V> of RFC 9420 §12.4.3.3.
 */
#ifndef KP_TREE_H
#define KP_TREE_H

#include <stddef.h>
#include <stdint.h>

#include "kpool.h"
#include "mls.h"

/*
 * kp_tree_signature_key: the signature_key of leaf index leaf in a
 * serialized ratchet tree (optional<Node> ratchet_tree<V>, whole).
 */
int	kp_tree_signature_key(const uint8_t *tree, size_t len, uint32_t leaf,
	    struct kp_span *key) KP_WUR;

/*
 * kp_tree_hashes: the tree hash (RFC 9420 §7.8) of every node of a
 * serialized ratchet tree (optional<Node> ratchet_tree<V>, whole),
 * padded with blank nodes to a full tree of *width nodes; the root is
 * node (*width - 1) / 2.  *hashes is malloc'd (*width * 32 bytes),
 * caller frees.  The tree must be well formed: leaves at even and
 * parents at odd indexes, the last node not blank (KP_EMALFORMED).
 */
int	kp_tree_hashes(const uint8_t *tree, size_t len, uint8_t **hashes,
	    size_t *width) KP_WUR;

/*
 * kp_tree_verify: RFC 9420 §12.4.3.1 for a joiner: the tree's root hash
 * is tree_hash, one of its leaves is ours (our KeyPackage's LeafNode),
 * no public key appears twice and each unmerged leaf is where it must
 * be (else KP_ETREE); then every leaf's signature verifies under the
 * group's gid (else KP_ELEAFSIG).  A malformed tree fails with its
 * decoding code.
 */
int	kp_tree_verify(const uint8_t *tree, size_t len,
	    struct kp_span tree_hash, struct kp_span ours,
	    struct kp_span gid) KP_WUR;

#endif /* KP_TREE_H */
