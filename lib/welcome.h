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
#include "crypto.h"
#include "mls.h"

#define KP_MAX_WELCOME	(1 << 20)	/* cap on a Welcome we parse */
#define KP_MAX_PSKS	64		/* PSKs a GroupSecrets may name */

/* PreSharedKeyID.psktype (RFC 9420 §8.4) */
#define KP_PSK_EXTERNAL	1
#define KP_PSK_RESUMPTION	2

/* EncryptedGroupSecrets: one joiner's share of a Welcome. */
struct kp_egs {
	struct kp_span	new_member, kem_output, ciphertext;
};

/* Welcome (§12.4.3.1), read from an MLSMessage. */
struct kp_welcome_msg {
	uint16_t	suite;
	struct kp_span	secrets;	/* body of secrets<V> */
	struct kp_span	egi;		/* encrypted_group_info */
};

/* PreSharedKeyID (§8.4). */
struct kp_psk_id {
	uint8_t		type;
	struct kp_span	id;		/* external psk_id */
	uint8_t		usage;		/* resumption */
	struct kp_span	group_id;
	uint64_t	epoch;
	struct kp_span	nonce;
	struct kp_span	raw;		/* the encoded PreSharedKeyID */
};

/* GroupSecrets (§12.4.3.1). */
struct kp_group_secrets {
	struct kp_span	joiner;
	uint8_t		has_path;
	struct kp_span	path;
	struct kp_span	psks;		/* body of psks<V> */
};

/* GroupInfo (§12.4.3). */
struct kp_group_info {
	uint16_t	version, suite;
	struct kp_span	group_id;
	uint64_t	epoch;
	struct kp_span	tree_hash, cth, gc_exts;
	struct kp_span	context;	/* the encoded GroupContext */
	struct kp_span	exts, tag;
	uint32_t	signer;
	struct kp_span	sig;
	size_t		tbs_len;
};

/* An external PSK the joiner holds (RFC 9420 §8.4). */
struct kp_psk {
	const uint8_t	*id;
	size_t		 idlen;
	const uint8_t	*psk;
	size_t		 psklen;
};

/*
 * The decoders of a Welcome's parts.  Each reads exactly its struct;
 * the spans of *out point into the input.
 */
/* kp_welcome_read: an MLSMessage(Welcome) and its secrets' structure. */
int	kp_welcome_read(const uint8_t *buf, size_t len,
	    struct kp_welcome_msg *out) KP_WUR;
/* kp_egs_read: one EncryptedGroupSecrets from r. */
int	kp_egs_read(struct kp_rd *r, struct kp_egs *out) KP_WUR;
/* kp_psk_id_read: one PreSharedKeyID from r. */
int	kp_psk_id_read(struct kp_rd *r, struct kp_psk_id *out) KP_WUR;
/* kp_group_secrets_read: a GroupSecrets, its PSK list checked. */
int	kp_group_secrets_read(const uint8_t *buf, size_t len,
	    struct kp_group_secrets *out) KP_WUR;
/* kp_group_info_read: a GroupInfo, its extension lists checked. */
int	kp_group_info_read(const uint8_t *buf, size_t len,
	    struct kp_group_info *out) KP_WUR;
/*
 * kp_psk_secret: psk_secret (RFC 9420 §8.4) of the PSKs the psks<V>
 * body names, from the nhave PSKs we hold; KP_EPSK when one is not ours
 * or is a resumption PSK.  All zeros when none is named.
 */
int	kp_psk_secret(const struct kp_suite *s, struct kp_span psks,
	    const struct kp_psk *have, size_t nhave,
	    uint8_t out[KP_HASH_LEN]) KP_WUR;

/*
 * A Welcome opened as far as our secrets go: our KeyPackage, the
 * decrypted GroupSecrets and GroupInfo (spans into gsbuf and gibuf) and
 * the member secret; wiped by kp_welcome_state_free.
 */
struct kp_welcome_state {
	const struct kp_suite	*suite;
	struct kp_keypackage	*kp;
	struct kp_group_secrets	 gs;
	struct kp_group_info	 gi;
	uint8_t			*gsbuf, *gibuf;
	size_t			 gscap, gicap;
	uint8_t			 member[KP_HASH_LEN];
};

/*
 * kp_welcome_decrypt: the steps of kp_welcome_open up to the GroupInfo:
 * find our EncryptedGroupSecrets, decrypt and read the GroupSecrets,
 * derive the member and welcome secrets with the external PSKs psks we
 * hold, decrypt and read the GroupInfo (mls10, the Welcome's suite).
 * Nothing is authenticated yet.  On success free *st with
 * kp_welcome_state_free.
 */
int	kp_welcome_decrypt(const uint8_t *welcome, size_t len,
	    const uint8_t *kp, size_t kplen,
	    const uint8_t init_priv[KP_KEY_LEN], const struct kp_psk *psks,
	    size_t npsks, struct kp_welcome_state *st) KP_WUR;
/*
 * kp_welcome_confirm: the last steps: the epoch secret from the
 * GroupContext, the confirmation tag (KP_ECONFIRM), and *info's
 * epoch_authenticator, group_id (malloc'd), epoch and suite.
 */
int	kp_welcome_confirm(const struct kp_welcome_state *st,
	    struct kp_welcome_info *info) KP_WUR;
/* kp_welcome_state_free: wipe and release *st. */
void	kp_welcome_state_free(struct kp_welcome_state *st);

/* What kp_welcome_open_ex takes beyond kp_welcome_open's arguments. */
struct kp_welcome_args {
	const uint8_t		*tree;		/* serialized ratchet tree,
						   NULL when none */
	size_t			 treelen;
	const struct kp_psk	*psks;		/* external PSKs we hold */
	size_t			 npsks;
	uint64_t		 now;		/* for leaf lifetimes */
	int			 flags;		/* KP_WELCOME_* */
};

/*
 * kp_welcome_open_ex: kp_welcome_open with the external PSKs a->psks
 * and the time a->now.
 */
int	kp_welcome_open_ex(const uint8_t *welcome, size_t len,
	    const uint8_t *kp, size_t kplen,
	    const uint8_t init_priv[KP_KEY_LEN],
	    const struct kp_welcome_args *a,
	    struct kp_welcome_info *info) KP_WUR;

#endif /* KP_WELCOME_H */
