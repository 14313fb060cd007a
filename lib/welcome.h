/* SPDX-License-Identifier: ISC */
/*
 * welcome.h: RFC 9420 Welcome, GroupSecrets and GroupInfo, internal to
 * libkpool (kp_welcome_open in kpool.h is the public face).
 */
#ifndef KP_WELCOME_H
#define KP_WELCOME_H

#include <stddef.h>
#include <stdint.h>

#include "kpool.h"
#include "mls.h"

/* An external PSK the joiner holds (RFC 9420 §8.4). */
struct kp_psk {
	const uint8_t	*id;
	size_t		 idlen;
	const uint8_t	*psk;
	size_t		 psklen;
};

/*
 * kp_welcome_open_ex: kp_welcome_open with two extras: tree, when not
 * NULL, is the serialized ratchet tree to take the signer's key from
 * when the Welcome carries none; psks are the external PSKs we hold.
 */
int	kp_welcome_open_ex(const uint8_t *welcome, size_t len,
	    const uint8_t *kp, size_t kplen, const uint8_t init_priv[KP_KEY_LEN],
	    const uint8_t *signer_pub, size_t signer_pub_len,
	    const uint8_t *tree, size_t treelen, const struct kp_psk *psks,
	    size_t npsks, struct kp_welcome_info *info) KP_WUR;

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

#endif /* KP_WELCOME_H */
