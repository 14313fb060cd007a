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

/* kp_welcome_build flags */
#define KP_WB_BAD_TAG		0x01	/* a wrong confirmation_tag */
#define KP_WB_PSK		0x02	/* name an external PSK "psk" */
#define KP_WB_TREE_CUT		0x04	/* a ratchet_tree whose vector runs
					   past its extension */
#define KP_WB_TREE_TRAIL	0x08	/* a ratchet_tree with a byte after
					   its vector */
#define KP_WB_GI_TRAIL		0x10	/* a byte after the GroupInfo */
#define KP_WB_GS_TRAIL		0x20	/* a byte after the GroupSecrets */
#define KP_WB_TREE		0x40	/* a ratchet_tree of two leaves, the
					   signer's (signer 0 or 1) and kp's,
					   hashed into the GroupContext */
#define KP_WB_TREE_BADLEAF	0x80	/* the same with the signer's leaf
					   signature broken */
#define KP_WB_TREE_OTHER	0x100	/* the same, signed by the signer but
					   naming the joiner's leaf */
#define KP_WB_TREE_DUP		0x200	/* the joiner's leaf at both places */
#define KP_WB_TREE_UNMERGED	0x400	/* a parent listing the joiner as an
					   unmerged leaf */
#define KP_WB_TREE_BADUNMERGED	0x800	/* a parent listing leaf 5, which is
					   not in the tree */
#define KP_WB_ANY_TREE		0xfc0	/* any of the KP_WB_TREE* */

/*
 * kp_welcome_build: the committer's side, for tests and tools: an
 * MLSMessage(Welcome) adding the KeyPackage kp (raw or MLSMessage) to a
 * group group_id at epoch, with a GroupInfo signed by the Ed25519 seed
 * as leaf signer, a random joiner_secret and no ratchet tree unless a
 * flag asks for one.  *out is malloc'd, caller frees.  flags (KP_WB_*)
 * make bad twins.
 */
int	kp_welcome_build(const uint8_t *kp, size_t kplen,
	    const uint8_t *group_id, size_t gidlen, uint64_t epoch,
	    const uint8_t seed[KP_SIGN_SEED_LEN], uint32_t signer, int flags,
	    uint8_t **out, size_t *outlen) KP_WUR;

#endif /* KPTEST_H */
