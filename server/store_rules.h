/* SPDX-License-Identifier: ISC */
/*
 * store_rules.h: what every backend of the store decides the same way,
 * whatever its SQL (store_rules.c): how a stored row reads at a time,
 * who may spend or release a key and what that does, which named key
 * may be reserved, a new reservation id, the wait of an empty bucket,
 * the id of a nonce.
 * For the backends only; the rest of the server sees store.h.
 */
#ifndef KPS_STORE_RULES_H
#define KPS_STORE_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/*
 * KPS_SQL_EFF(NOW, BURN): the SQL of the state a key is in at NOW,
 * numbered as lib's enum kp_state; BURN is the state of a reservation
 * whose TTL passed (spent under burn, else available).  NOW and BURN
 * are the backend's placeholders.  KPS_SQL_KEYCOLS(EFF): the columns a
 * key is read from, in the order both backends read them, its state
 * computed by EFF.
 */
#define KPS_SQL_EFF(now, burn)						\
	"CASE WHEN status = 'spent' THEN 3 "				\
	"WHEN not_after <= " now " THEN 4 "				\
	"WHEN status = 'reserved' AND "					\
	"reservation_expires_at > " now " THEN 2 "			\
	"WHEN status = 'reserved' THEN " burn " ELSE 1 END"
_Static_assert(KP_STATE_AVAILABLE == 1 && KP_STATE_RESERVED == 2 &&
    KP_STATE_SPENT == 3 && KP_STATE_EXPIRED == 4,
    "KPS_SQL_EFF numbers the states");
#define KPS_SQL_KEYCOLS(eff)						\
	"keypackage_ref, username, keypackage_bytes, uploaded_at, "	\
	eff ", last_resort, reservation_id, reserved_at, "		\
	"reservation_expires_at, reserved_by, spent_at, spent_by, "	\
	"group_id, not_after, credential_hash, ciphersuite, init_key, "	\
	"device"

/* A rule's verdict that the backend is to make the change. */
#define KPS_APPLY	1

/* A key as spend, release and a named reserve decide on it. */
struct kps_keystate {
	int64_t	 id;			/* the backend's row id */
	char	 owner[KP_MAX_USERNAME + 1];
	char	 device[KP_MAX_DEVICE + 1];	/* the owner's device */
	int	 status;		/* stored: available, reserved, spent */
	char	 reserved_by[KP_MAX_PRINCIPAL + 1];	/* "" for NULL */
	int	 has_reservation;	/* reservation_expires_at not NULL */
	int64_t	 reservation_expires_at;
	int64_t	 not_after;
	int	 last_resort;
	uint8_t	 init_key[KP_KEY_LEN];
	int	 spent_by_null;
	char	 spent_by[KP_MAX_PRINCIPAL + 1];	/* "" for NULL */
	int	 released;		/* reserved_by gave it back (release) */
	uint8_t	 group_id[KP_MAX_GROUP_ID];	/* the reservation's */
	size_t	 group_id_len;
};

/* kps_state_parse: the KP_STATE_* of a stored status text, or -1. */
int	kps_state_parse(const char *status);
/* kps_state_text: the stored status text of KP_STATE_AVAILABLE,
 * RESERVED or SPENT (static), or NULL. */
const char *kps_state_text(int state);

/*
 * kps_key_view: the key of row r as it reads in effective state (which
 * the backend's query computed at a time): the reservation of a live
 * one, who spent it and for what (a burned one: when its reservation
 * ran out, by nobody).  r->key.bytes moves into k.
 */
void	kps_key_view(struct kps_row *r, int state, struct kps_key *k);

/*
 * kps_rule_spend: what caller's spend of w for group gid (glen bytes, 0:
 * none) at now does: KPS_APPLY (mark it spent; a spend that names no
 * group keeps the reservation's), KP_OK (a last-resort key: accepted,
 * nothing changes), or KP_EFORBIDDEN, KP_ECONFLICT (already spent),
 * KP_EGONE (the caller's reservation ran out), KP_EGROUP (another group
 * than the caller's live reservation named).
 */
int	kps_rule_spend(const struct kps_keystate *w, const char *caller,
	    const uint8_t *gid, size_t glen, int64_t now);
/* kps_rule_release: what caller's release of w does: KPS_APPLY (make
 * it available, recording caller as the one who gave it back), KP_OK
 * (nothing to give back: its reservation by caller ran out or caller
 * released it already, a retry), or KP_EFORBIDDEN,
 * KP_ESTATE (not reserved), KP_ECONFLICT (spent). */
int	kps_rule_release(const struct kps_keystate *w, const char *caller);
/* kps_rule_retire: what caller's retirement of w does: KPS_APPLY (its
 * owner: tombstone and delete it) or KP_EFORBIDDEN. */
int	kps_rule_retire(const struct kps_keystate *w, const char *caller);
/* kps_rule_named: what a reserve of the named key w at now does, its
 * owner asking: KPS_APPLY (reserve it), KP_OK (a last-resort key:
 * hand it out, unchanged), KP_ECONFLICT (not available). */
int	kps_rule_named(const struct kps_keystate *w, int64_t now);

/* kps_counts_add: n keys in effective state, last resort or not, to
 * c (a row of a count's GROUP BY). */
void	kps_counts_add(struct kps_counts *c, int state, int last_resort,
	    uint64_t n);
/* kps_device_counts_add: a row of a count per device and suite (n keys
 * of device, suite, in effective state, last resort or not) to that
 * device among d[0..nd) and its suite's counts; a device not there is
 * ignored. */
void	kps_device_counts_add(struct kps_device *d, size_t nd,
	    const char *device, unsigned suite, int state, int last_resort,
	    uint64_t n);
/* kps_census_add: n keys stored as status (text), last resort or not,
 * reservations of them with a reservation id, to c. */
void	kps_census_add(struct kps_census *c, const char *status,
	    int last_resort, uint64_t n, uint64_t reservations);
/*
 * kps_census_drain: the drain budget's counts into c, from v in the
 * order of each backend's census statement: contacts (copied, left
 * behind), grants (all, open, to strangers), registrations,
 * invitations, their uses left.
 */
void	kps_census_drain(struct kps_census *c, const uint64_t v[8]);

/*
 * kps_reservation_id: a new reservation id: 48 bits of milliseconds
 * then 80 random bits, in hex (32 characters).
 */
void	kps_reservation_id(char out[65]);
/* kps_rate_wait: the seconds (at least 1) until a bucket holding
 * tokens (< 1) has one, refilled at per_min a minute. */
int	kps_rate_wait(double tokens, double per_min);

/*
 * kps_nonce_id: the 64 bits that name a signature in the nonces table,
 * with its created: the first 8 bytes of BLAKE2b(keyid NUL nonce),
 * big-endian (so that both backends, and a copy between them, agree).
 */
int64_t	kps_nonce_id(const char *keyid, const char *nonce);

#endif /* KPS_STORE_RULES_H */
