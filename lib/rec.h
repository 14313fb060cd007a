/* SPDX-License-Identifier: ISC */
/*
 * rec.h: one key's whole record inside libkpool (struct kp_rec): what
 * the store reads and writes, what the state machine moves.  The
 * public face of a key, kpool.h's opaque struct kp_key, is made from it
 * by lib/key.c.
 */
#ifndef KP_REC_H
#define KP_REC_H

#include <stddef.h>
#include <stdint.h>

#include "kpool.h"

struct kp_rec {
	uint8_t	 ref[KP_REF_LEN];
	char	 ref_hex[2 * KP_REF_LEN + 1];
	int	 state;			/* KP_STATE_* */
	uint16_t suite;
	int	 last_resort;
	int	 has_private;		/* private keys still in the store */
	int64_t	 created_at, uploaded_at, reserved_at, spent_at, expired_at;
	int64_t	 not_before, not_after;
	int64_t	 changed_at;		/* last transition */
	/*
	 * Nanoseconds within created_at's and changed_at's second; -1:
	 * the store gives the time of the write (kp_store_save, _update),
	 * strictly after the last it gave in that second.
	 */
	int32_t	 created_ns, changed_ns;
	char	 reservation_id[65];
	int64_t	 reservation_expires_at;
	char	 reserved_by[KP_MAX_PRINCIPAL + 1];	/* principals */
	char	 spent_by[KP_MAX_PRINCIPAL + 1];
	uint8_t	 group_id[KP_MAX_GROUP_ID];
	size_t	 group_id_len;
	int64_t	 epoch;			/* from an opened Welcome, else -1 */
	size_t	 keypackage_len;
	uint8_t	 credential_hash[32];
};

/*
 * kp_key_new: the public record of r, compact (lib/key.c); *out is
 * released with kp_key_free().  KP_ENOMEM.
 */
int	kp_key_new(const struct kp_rec *r, struct kp_key **out) KP_WUR;

#endif /* KP_REC_H */
