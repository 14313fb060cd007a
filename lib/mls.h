/* SPDX-License-Identifier: ISC */
/*
 * mls.h: RFC 9420 structs shared by keypackage.c, welcome.c and the
 * tests.  Internal to libkpool.  Decoded structs hold spans that point
 * into the input they were read from.
 */
#ifndef KP_MLS_H
#define KP_MLS_H

#include <stddef.h>
#include <stdint.h>

#include "kpool.h"
#include "tls.h"

#define KP_MLS10		0x0001
#define KP_WF_WELCOME		0x0003
#define KP_WF_GROUP_INFO	0x0004
#define KP_WF_KEY_PACKAGE	0x0005

#define KP_LEAF_KEY_PACKAGE	1
#define KP_LEAF_UPDATE		2
#define KP_LEAF_COMMIT		3
#define KP_LEAF_SIG_LABEL	"LeafNodeTBS"	/* the LeafNode signature */

/* proposal types 1 (add) .. 7 (group_context_extensions) are default */
#define KP_PROPOSAL_DEFAULT_MAX	0x0007

/* caps on counts from outside */
#define KP_MAX_EXTS		256	/* extensions in one list */

struct kp_span {
	const uint8_t	*p;
	size_t		 n;
};

/* LeafNode (RFC 9420 §7.2). */
struct kp_leaf {
	struct kp_span	 enc_key;
	struct kp_span	 sig_key;
	struct kp_span	 cred;		/* the whole encoded Credential */
	uint16_t	 cred_type;
	struct kp_span	 identity;	/* basic: identity; x509: certs body */
	/* capabilities: bodies of uint16 vectors */
	struct kp_span	 cap_versions, cap_suites, cap_exts, cap_props,
			 cap_creds;
	uint8_t		 source;
	uint64_t	 not_before, not_after;	/* source key_package */
	struct kp_span	 parent_hash;		/* source commit */
	struct kp_span	 exts;		/* body of extensions<V> */
	struct kp_span	 sig;
	/* set by kp_leaf_read: the encoding and its to-be-signed prefix */
	const uint8_t	*start;
	size_t		 tbs_len, len;
};

/* KeyPackage (RFC 9420 §10). */
struct kp_kpfields {
	uint16_t	 version;
	uint16_t	 suite;
	struct kp_span	 init_key;
	struct kp_leaf	 leaf;
	struct kp_span	 exts;		/* body of extensions<V> */
	struct kp_span	 sig;
	size_t		 tbs_len;	/* set by the reader */
};

/* kp_rd_span: an opaque<V> from r as a span into the input. */
int	kp_rd_span(struct kp_rd *r, struct kp_span *s) KP_WUR;
/*
 * kp_nested: the code of a structure read from a field of another.
 * KP_ETRUNC and KP_ETRAILING describe the caller's buffer, so a nested
 * structure that runs past its field or does not fill it makes the
 * outer one KP_EMALFORMED; other codes pass through.
 */
int	kp_nested(int rc);
/* kp_leaf_read: one LeafNode from r (structure only). */
int	kp_leaf_read(struct kp_rd *r, struct kp_leaf *l) KP_WUR;
/* kp_leaf_write: encode l; sign it with sk (64 bytes) or use l->sig. */
int	kp_leaf_write(struct kp_wb *w, const struct kp_leaf *l,
	    const uint8_t *sk) KP_WUR;
/* kp_kp_read: one KeyPackage from r (structure only). */
int	kp_kp_read(struct kp_rd *r, struct kp_kpfields *f) KP_WUR;
/*
 * kp_kp_write: encode f; with sk (libsodium Ed25519 secret key) both
 * signatures are computed, else f's are copied.
 */
int	kp_kp_write(struct kp_wb *w, const struct kp_kpfields *f,
	    const uint8_t *sk) KP_WUR;
/* kp_exts_check: an extensions<V> body: well formed, no duplicates. */
int	kp_exts_check(struct kp_span body) KP_WUR;
/* kp_exts_find: the data of extension type in body; 1 if found. */
int	kp_exts_find(struct kp_span body, uint16_t type, struct kp_span *data);
/*
 * kp_exts_listed: every non-default extension type in the extensions<V>
 * body exts, GREASE values included, is in the capabilities list caps
 * (RFC 9420 §7.2, §7.3); KP_ECAPS if one is not.
 */
int	kp_exts_listed(struct kp_span exts, struct kp_span caps) KP_WUR;
/* kp_u16_list_has: 1 when a uint16 vector body holds v. */
int	kp_u16_list_has(struct kp_span body, uint16_t v);
/* kp_leaf_verify: VerifyWithLabel "LeafNodeTBS" of a key_package leaf. */
int	kp_leaf_verify(const struct kp_leaf *l) KP_WUR;

#endif /* KP_MLS_H */
