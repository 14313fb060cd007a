/* SPDX-License-Identifier: ISC */
/*
 * kptest.h: libkptest, what the tests and the fuzzers need of libkpool
 * that the library itself never calls: a committer's side of the
 * Welcome (to make good cases and their bad twins), re-encoders for
 * round trips, and entry points to single decoders and derivations
 * checked against the RFC 9420 vectors.  Built from t/support/ with
 * libkpool's internal headers; never shipped.
 */
#ifndef KPTEST_H
#define KPTEST_H

#include <stddef.h>
#include <stdint.h>

#include "kpool.h"
#include "mls.h"
#include "tls.h"

/* codec.c */

/* kp_rd_fixed: n raw bytes from r; *p points into the input. */
int	kp_rd_fixed(struct kp_rd *r, size_t n, const uint8_t **p) KP_WUR;
/* kp_varint_decode: decode a whole buffer as one varint, nothing left. */
int	kp_varint_decode(const uint8_t *buf, size_t len, uint32_t *v) KP_WUR;

/* crypto.c */

/* kp_derive_tree_secret: DeriveTreeSecret (RFC 9420 §9). */
int	kp_derive_tree_secret(const uint8_t *secret, size_t slen,
	    const char *label, uint32_t generation, uint8_t *out,
	    size_t olen) KP_WUR;

/* tree.c */

/*
 * kp_tree_signature_key: the signature_key of leaf index leaf in a
 * serialized ratchet tree (optional<Node> ratchet_tree<V>, whole), read
 * node by node up to it; KP_ENOTFOUND when blank or past the end.
 */
int	kp_tree_signature_key(const uint8_t *tree, size_t len, uint32_t leaf,
	    struct kp_span *key) KP_WUR;

/* welcome.c */

/* kp_welcome_reencode: decode an MLSMessage(Welcome) and encode it again. */
int	kp_welcome_reencode(const uint8_t *buf, size_t len, uint8_t **out,
	    size_t *outlen) KP_WUR;
/*
 * kp_group_secrets_reencode: the same for a GroupSecrets; *out holds its
 * joiner_secret, so a caller with a real one wipes *out before free.
 */
int	kp_group_secrets_reencode(const uint8_t *buf, size_t len,
	    uint8_t **out, size_t *outlen) KP_WUR;
/* kp_group_info_check: parse a GroupInfo, KP_OK when well formed. */
int	kp_group_info_check(const uint8_t *buf, size_t len) KP_WUR;

/*
 * kp_welcome_build flags.  By default the Welcome adds the joiner to a
 * group of four leaves (see kp_welcome_build_ex) by a Commit with a
 * path: the GroupSecrets carry the path_secret of the common ancestor
 * and the GroupInfo the ratchet tree.  Each flag makes one bad twin.
 */
#define KP_WB_BAD_TAG		0x000001 /* a wrong confirmation_tag */
#define KP_WB_PSK		0x000002 /* name an external PSK "psk" */
#define KP_WB_TREE_CUT		0x000004 /* a ratchet_tree whose vector
					    runs past its extension */
#define KP_WB_TREE_TRAIL	0x000008 /* a ratchet_tree with a byte after
					    its vector */
#define KP_WB_GI_TRAIL		0x000010 /* a byte after the GroupInfo */
#define KP_WB_GS_TRAIL		0x000020 /* a byte after the GroupSecrets */
#define KP_WB_NO_TREE		0x000040 /* no ratchet_tree extension */
#define KP_WB_TREE_BADLEAF	0x000080 /* the committer's leaf signature
					    broken */
#define KP_WB_TREE_OTHER	0x000100 /* the GroupInfo names the joiner's
					    leaf as its signer */
#define KP_WB_TREE_DUP		0x000200 /* the joiner's leaf twice */
#define KP_WB_TREE_UNMERGED	0x000400 /* the joiner unmerged below a
					    parent another member's path set */
#define KP_WB_TREE_BADUNMERGED	0x000800 /* a parent listing a leaf the
					    tree does not have */
#define KP_WB_BAD_PARENT_HASH	0x001000 /* a parent_hash byte flipped */
#define KP_WB_BAD_PATH_SECRET	0x002000 /* a path_secret that is not the
					    committer's */
#define KP_WB_NO_PATH		0x004000 /* a Commit without a path: no
					    path_secret, blank parents */
#define KP_WB_X509_MEMBER	0x008000 /* a member with an x509
					    credential */
#define KP_WB_UNLISTED_EXT	0x010000 /* a member's leaf extension 0xff0e
					    not in its capabilities */
#define KP_WB_GREASE_EXT	0x020000 /* a member's GREASE leaf extension
					    0x1a1a not in its capabilities */
#define KP_WB_EXPIRED		0x040000 /* a member's lifetime ended */
#define KP_WB_NOTYET		0x080000 /* a member's lifetime not begun */
#define KP_WB_REQCAPS		0x100000 /* required_capabilities in the
					    GroupContext: extension 0xff0f */
#define KP_WB_REQCAPS_BASIC	0x200000 /* required_capabilities: the
					    basic credential only */
#define KP_WB_BAD_GISIG		0x400000 /* the GroupInfo signature broken */
#define KP_WB_LATE_MEMBER	0x800000 /* the committer's neighbour joined
					    after its path: unmerged there */
#define KP_WB_LATE_HIDDEN	0x1000000 /* the same, not listed unmerged */
#define KP_WB_MEMBER_ALL	0x0f8000 /* the flags that change a member */

/* The plaintexts of a Welcome, for a kp_wb_args hook to reshape. */
struct kp_wb_parts {
	struct kp_wb	*tree;		/* the ratchet tree */
	struct kp_wb	*gs;		/* the GroupSecrets */
	struct kp_wb	*gc_exts;	/* the GroupContext's extensions<V> */
	uint32_t	*signer;	/* the GroupInfo's signer */
	int		 resign;	/* set: sign the members' leaves again
					   after the hook */
};

/* What kp_welcome_build_ex builds. */
struct kp_wb_args {
	const uint8_t	*kp;		/* the joiner's KeyPackage, raw or
					   MLSMessage */
	size_t		 kplen;
	const uint8_t	*group_id;
	size_t		 gidlen;
	uint64_t	 epoch;
	const uint8_t	*seed;		/* the committer's Ed25519 seed */
	uint32_t	 signer;	/* the committer's leaf index */
	uint32_t	 leaves;	/* leaves of the tree, a power of two
					   from 2 to 32; 0: 4, or more when
					   signer needs them */
	uint32_t	 blank;		/* bit i: leaf i is blank (never the
					   committer's or the joiner's) */
	uint64_t	 now;		/* for the members' lifetimes; 0: now */
	int		 flags;		/* KP_WB_* */
	int		(*hook)(void *ctx, struct kp_wb_parts *parts);
	void		*ctx;
};

/*
 * kp_welcome_build_ex: the committer's side, for tests, tools and the
 * fuzzers.  A group of a->leaves leaves, every one a member but the
 * blank ones (key_package leaves signed by seeds derived from a->seed,
 * capabilities mls10, the suite and basic, a lifetime of a day around
 * now); the committer at a->signer commits a path (unless
 * KP_WB_NO_PATH) and adds the joiner at the last leaf of the other half
 * of the tree (when the committer is in the right half, the last leaf of
 * the left half).  The other member beside the joiner is the one the
 * member flags change.  Then the hook, when given, may reshape the
 * plaintexts; the builder hashes the tree into the GroupContext, signs
 * the GroupInfo, computes the confirmation tag and encrypts it all to
 * the KeyPackage's init_key.  *out (the MLSMessage) and, when tree is not
 * NULL, *tree (the serialized ratchet tree) are malloc'd, caller frees.
 */
int	kp_welcome_build_ex(const struct kp_wb_args *a, uint8_t **out,
	    size_t *outlen, uint8_t **tree, size_t *treelen) KP_WUR;

/*
 * kp_welcome_build: kp_welcome_build_ex for the KeyPackage kp, group_id,
 * epoch, the committer's seed and leaf index signer, flags (KP_WB_*),
 * the other arguments 0.  *out is malloc'd, caller frees.
 */
int	kp_welcome_build(const uint8_t *kp, size_t kplen,
	    const uint8_t *group_id, size_t gidlen, uint64_t epoch,
	    const uint8_t seed[KP_SIGN_SEED_LEN], uint32_t signer, int flags,
	    uint8_t **out, size_t *outlen) KP_WUR;

/* group.c */

/* The committer's ratchet tree for a Welcome (kp_welcome_build_ex). */
struct kp_group_plan {
	struct kp_wb	 tree;		/* serialized ratchet tree */
	uint32_t	 joiner;	/* the joiner's leaf index */
	int		 has_path;	/* path_secret is set */
	uint8_t		 path_secret[32]; /* of the joiner and committer's
					    common ancestor */
	uint8_t		 seeds[32][32];	/* each leaf's Ed25519 seed */
};

/*
 * kp_group_plan: the ratchet tree a->flags, a->leaves and a->blank ask
 * for, with the joiner's LeafNode from the KeyPackage kp, the members'
 * seeds and the joiner's path_secret.  Free g->tree with kp_wb_free and
 * wipe *g after.
 */
int	kp_group_plan(const struct kp_wb_args *a,
	    const struct kp_keypackage *kp, struct kp_group_plan *g) KP_WUR;

/*
 * kp_group_resign: sign again each leaf of the serialized tree t (in
 * place) whose signature key is one of g's members', with group gid;
 * KP_OK and t unchanged when t does not parse.
 */
int	kp_group_resign(struct kp_wb *t, const struct kp_group_plan *g,
	    const uint8_t *gid, size_t gidlen) KP_WUR;

/*
 * kp_welcome_open_signer: open a Welcome that carries no ratchet tree
 * as far as our secrets and signer_pub go: decrypt it, verify the
 * GroupInfo signature with signer_pub (KP_EGISIG) and the confirmation
 * tag, fill *info.  What kp_welcome_open refuses without a tree; for
 * the welcome.json vectors, which carry none.
 */
int	kp_welcome_open_signer(const uint8_t *welcome, size_t len,
	    const uint8_t *kp, size_t kplen,
	    const uint8_t init_priv[KP_KEY_LEN],
	    const uint8_t signer_pub[KP_SIGN_PK_LEN],
	    struct kp_welcome_info *info) KP_WUR;

#endif /* KPTEST_H */
