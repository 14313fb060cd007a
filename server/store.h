/* SPDX-License-Identifier: ISC */
/*
 * store.h: the server's store, one interface over its backends: a
 * backend fills a table of operations (struct kps_store_ops), and the
 * dispatcher (store.c) picks a backend by the database's name and calls
 * it through the table; a backend never calls back into the dispatcher.
 * SQLite is the one backend now (store_sqlite*.c); PostgreSQL is to come.
 *
 * A user has devices, each with its own Ed25519 key; a key belongs to
 * the device that uploaded it.  A device is named by its principal
 * (lib's kp_principal: "USER" for the device "default", "USER/DEVICE"
 * for any other), which is what a caller, reserved_by and spent_by
 * hold.
 *
 * A struct kps_store is one connection, used by one thread at a time.
 * Every operation is atomic on its own, and may also run inside
 * kps_store_begin()/kps_store_commit() so that one writer commits many
 * operations in one transaction.  Times are unix seconds passed in by
 * the caller (the store never reads a clock).  States are lib's
 * KP_STATE_*.  Operations return KP_OK or a negative KP_E* code;
 * kps_store_errmsg() has the detail of a KP_EDB.
 */
#ifndef KPS_STORE_H
#define KPS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "kpool.h"

struct kps_store_conf {
	int	burn;		/* expired reservations become spent */
	int	manual_checkpoint; /* no automatic WAL checkpoints */
	int	readonly;	/* a reader connection */
};

#define KPS_MAX_DEVICES	32	/* devices of one user */
#define KPS_NSUITES	2	/* the suites a key may have */

/* kps_suite_index: the slot of suite (0x0001: 0, 0x0003: 1), or -1. */
static inline int
kps_suite_index(unsigned suite)
{
	return suite == 1 ? 0 : suite == 3 ? 1 : -1;
}

/* One stored KeyPackage, public parts and its life on the server. */
struct kps_key {
	uint8_t	 ref[KP_REF_LEN];
	char	 username[KP_MAX_USERNAME + 1];
	char	 device[KP_MAX_DEVICE + 1];	/* its owner; "" is
						   "default" */
	uint8_t	*bytes;			/* malloc'd by get/list */
	size_t	 len;
	int64_t	 uploaded_at;
	int	 status;		/* KP_STATE_*, effective at `now` */
	int	 last_resort;
	char	 reservation_id[65];
	int64_t	 reserved_at, reservation_expires_at;
	char	 reserved_by[KP_MAX_PRINCIPAL + 1];
	int64_t	 spent_at;
	char	 spent_by[KP_MAX_PRINCIPAL + 1];
	uint8_t	 group_id[KP_MAX_GROUP_ID];
	size_t	 group_id_len;
	int64_t	 not_after;
	uint8_t	 credential_hash[32];
	uint16_t suite;
	uint8_t	 init_key[KP_KEY_LEN];
};

struct kps_reserve {
	const char	*caller;	/* a principal */
	const char	*target;	/* a user */
	const char	*device;	/* one device of target, or NULL */
	uint16_t	 suite;		/* only keys of this suite, or 0 */
	const uint8_t	*group_id;
	size_t		 group_id_len;
	const char	*request_id;	/* may be NULL */
	const uint8_t	*ref;		/* one named key (owner only), or
					   NULL */
	int64_t		 now;
	int64_t		 ttl;
};

struct kps_reservation {
	uint8_t	 ref[KP_REF_LEN];
	uint8_t	*bytes;			/* malloc'd */
	size_t	 len;
	char	 reservation_id[65];
	int64_t	 expires_at;
	int	 last_resort;
	int	 replayed;		/* same request_id: same reservation */
	char	 device[KP_MAX_DEVICE + 1];	/* the key's device */
	uint16_t suite;
};

/* What a claim hands out: one reservation per device of the target
 * that had a key, and the names of those that had none. */
struct kps_claim {
	struct kps_reservation	 res[KPS_MAX_DEVICES];
	size_t			 n;
	char			 exhausted[KPS_MAX_DEVICES][KP_MAX_DEVICE + 1];
	size_t			 nexhausted;
};

struct kps_counts {
	uint64_t n[KP_NSTATES];		/* per KP_STATE_* */
	uint64_t last_resort;
};

/* kps_counts_add: count n keys of state (KP_STATE_*) into c, as
 * last-resort keys too when lr. */
static inline void
kps_counts_add(struct kps_counts *c, int state, int lr, uint64_t n)
{
	if (state > KP_STATE_CREATED && state < KP_NSTATES)
		c->n[state] += n;
	if (lr)
		c->last_resort += n;
}

/* One device of a user, with the counts of its keys. */
struct kps_device {
	char			 device[KP_MAX_DEVICE + 1];
	uint8_t			 public_key[32];
	int64_t			 created_at;
	struct kps_counts	 counts;	/* every suite */
	struct kps_counts	 suite[KPS_NSUITES]; /* kps_suite_index() */
};

/* How kps_device_add() treats the user (see there). */
enum kps_dev_mode {
	KPS_DEV_REGISTER,	/* POST /users */
	KPS_DEV_ENROLL,		/* POST /devices */
	KPS_DEV_OPERATOR,	/* kpool-server device add */
};

struct kps_store;

/*
 * A backend's operations: each does what the kps_ function of its name
 * below says, on the connection it is given (save is kps_key_save, get
 * kps_key_get, list_user kps_key_list, release_expired
 * kps_release_expired_reservations, count kps_count_by_status).  The
 * connection-level ones are for what a backend's database has: a
 * transaction that the database may end on its own (in_batch), a log to
 * move off the request path (checkpoint, NULL when there is none).  A
 * reserve that fails leaves what it put in its out parameter for the
 * dispatcher to free.
 */
struct kps_store_ops {
	const char *name;
	void	(*close)(struct kps_store *);
	const char *(*errmsg)(struct kps_store *);
	int	(*begin)(struct kps_store *);
	int	(*commit)(struct kps_store *);
	int	(*rollback)(struct kps_store *);
	int	(*in_batch)(struct kps_store *);
	int	(*checkpoint)(struct kps_store *);
	int	(*user_get)(struct kps_store *, const char *, char *);
	int	(*device_get)(struct kps_store *, const char *, const char *,
		    uint8_t *, char *);
	int	(*device_add)(struct kps_store *, const char *, const char *,
		    const uint8_t *, enum kps_dev_mode, int64_t);
	int	(*device_remove)(struct kps_store *, const char *,
		    const char *, int64_t, uint64_t *);
	int	(*device_list)(struct kps_store *, const char *, int, int64_t,
		    char *, struct kps_device *, size_t, size_t *);
	int	(*nonce_add)(struct kps_store *, const char *, const char *,
		    int64_t);
	int	(*nonce_seen)(struct kps_store *, const char *, const char *,
		    int64_t);
	int	(*nonce_prune)(struct kps_store *, int64_t, int, uint64_t *);
	int	(*save)(struct kps_store *, const struct kps_key *);
	int	(*get)(struct kps_store *, const uint8_t *, int64_t,
		    struct kps_key *);
	int	(*list_user)(struct kps_store *, const char *, const char *,
		    int, int64_t, struct kps_key **, size_t *);
	int	(*reserve)(struct kps_store *, const struct kps_reserve *,
		    struct kps_reservation *);
	int	(*spend)(struct kps_store *, const char *, const uint8_t *,
		    const uint8_t *, size_t, int64_t);
	int	(*release)(struct kps_store *, const char *, const uint8_t *,
		    int64_t);
	int	(*retire)(struct kps_store *, const char *, const uint8_t *,
		    int64_t);
	int	(*cleanup_expired)(struct kps_store *, int64_t, int64_t,
		    uint64_t *);
	int	(*release_expired)(struct kps_store *, int64_t, uint64_t *);
	int	(*count)(struct kps_store *, const char *, int64_t,
		    struct kps_counts *);
};

/* A connection: a backend's own struct begins with this one. */
struct kps_store {
	const struct kps_store_ops	*ops;
};

/*
 * The backends.  kps_sqlite_open: open a connection to the SQLite file
 * path, as kps_store_open() does (store_sqlite.c).
 */
int kps_sqlite_open(const char *path, const struct kps_store_conf *conf,
    struct kps_store **out) KP_WUR;

/*
 * kps_store_open: open one connection to the store named by path: a
 * file name or "sqlite:FILE" for SQLite ("postgresql:..." is refused,
 * KP_EINVAL, until that backend is built), creating and migrating it
 * on first use.  *out is set even on failure, for kps_store_errmsg();
 * close it with kps_store_close() in any case.
 */
int kps_store_open(const char *path, const struct kps_store_conf *conf,
    struct kps_store **out) KP_WUR;

/* kps_store_close: close a connection; NULL is fine. */
void kps_store_close(struct kps_store *s);
/* kps_store_errmsg: detail of the last KP_EDB, static or in s. */
const char *kps_store_errmsg(struct kps_store *s);

/*
 * Transactions of the group-committing writer: kps_store_begin opens
 * one, kps_store_commit commits it (a failed commit leaves it open for
 * kps_store_rollback), kps_store_rollback ends it.
 */
int kps_store_begin(struct kps_store *s) KP_WUR;
int kps_store_commit(struct kps_store *s) KP_WUR;
int kps_store_rollback(struct kps_store *s);
/*
 * kps_store_in_batch: 1 while the transaction kps_store_begin() opened
 * is still open; 0 once the backend rolled it back on its own (every
 * operation then fails with KP_EDB until kps_store_rollback()).
 */
int kps_store_in_batch(struct kps_store *s);
/* kps_store_checkpoint: move the log into the database (off the
 * request path); KP_OK at once for a backend without one. */
int kps_store_checkpoint(struct kps_store *s);

/*
 * User names are compared without case (ASCII): a name is unique and
 * found by its folded form, and keeps the spelling of its registration
 * (the name its keys and devices are stored under).  Device names are
 * lower case only and compared as they are.
 *
 * kps_user_add: kps_device_add(s, name, "default", pk,
 * KPS_DEV_OPERATOR, now), the operator's "user add".
 */
int kps_user_add(struct kps_store *s, const char *name,
    const uint8_t pk[32], int64_t now) KP_WUR;
/* kps_user_get: whether name (any case) is a user, and when canon is
 * not NULL its name as registered; KP_OK or KP_ENOTFOUND. */
int kps_user_get(struct kps_store *s, const char *name,
    char canon[KP_MAX_USERNAME + 1]) KP_WUR;
/* kps_device_get: the key of device of user (any case) and, when canon
 * is not NULL, the user as registered; KP_ENOTFOUND when either is not
 * there (a removed device's key signs nothing). */
int kps_device_get(struct kps_store *s, const char *user,
    const char *device, uint8_t pk[32],
    char canon[KP_MAX_USERNAME + 1]) KP_WUR;
/*
 * kps_device_add: give user the device with key pk.  KP_OK when added,
 * or when the user has this device with this very key already (no
 * change); KP_EEXIST when the device has another key; KP_ECONFLICT when
 * pk is another device's; KP_ETOOBIG at KPS_MAX_DEVICES.  By mode, a
 * user that does not exist is made (REGISTER, OPERATOR) or KP_ENOTFOUND
 * (ENROLL); one that exists without this device is KP_EFORBIDDEN
 * (REGISTER: a further device is enrolled, not registered).
 */
int kps_device_add(struct kps_store *s, const char *user,
    const char *device, const uint8_t pk[32], enum kps_dev_mode mode,
    int64_t now) KP_WUR;
/*
 * kps_device_remove: remove device of user (any case): every key of it
 * is retired in whatever state (tombstones of its refs and init keys
 * kept), and its key signs nothing more; *retired (may be NULL) counts
 * the keys.  KP_ENOTFOUND no such user or device, KP_ECONFLICT the
 * user's only device.
 */
int kps_device_remove(struct kps_store *s, const char *user,
    const char *device, int64_t now, uint64_t *retired) KP_WUR;
/*
 * kps_device_list: the devices of user (any case) in name order, at
 * most max into out, with the counts of their keys at now when counts
 * (else zero: a claim's cheap list); *n how many, canon (may be NULL)
 * the user as registered.  KP_ENOTFOUND no such user.
 */
int kps_device_list(struct kps_store *s, const char *user, int counts,
    int64_t now, char canon[KP_MAX_USERNAME + 1], struct kps_device *out,
    size_t max, size_t *n) KP_WUR;

/*
 * The nonces of signed requests, so that a signature is accepted once,
 * across restarts and (with a shared database) across instances.  A
 * signature is named by its signer's keyid (the folded principal), its
 * nonce and its created time; a replay repeats all three, since created
 * is signed.  kps_nonce_add remembers one, and a unique constraint of
 * the database decides: KP_EEXIST when it is remembered already (a
 * replay), whoever remembered it.  kps_nonce_seen: KP_EEXIST when it
 * is remembered, else KP_OK; it changes nothing.  kps_nonce_prune
 * forgets at most max of those created before `before` (stale: they
 * are refused by their time anyway); *n (may be NULL) counts them.
 */
int kps_nonce_add(struct kps_store *s, const char *keyid, const char *nonce,
    int64_t created) KP_WUR;
int kps_nonce_seen(struct kps_store *s, const char *keyid, const char *nonce,
    int64_t created) KP_WUR;
int kps_nonce_prune(struct kps_store *s, int64_t before, int max,
    uint64_t *n) KP_WUR;

/*
 * kps_key_save: store a new key (status available).  KP_EEXIST when
 * the same ref is already stored (nothing changes), KP_ESTATE when the
 * ref was spent or retired (tombstone), KP_ECONFLICT when its init_key
 * is in use or was used before.
 */
int kps_key_save(struct kps_store *s, const struct kps_key *k) KP_WUR;
/* kps_key_get: one key by ref, status effective at now; free with
 * kps_key_clear().  KP_ENOTFOUND when unknown. */
int kps_key_get(struct kps_store *s, const uint8_t ref[KP_REF_LEN],
    int64_t now, struct kps_key *out) KP_WUR;
/* kps_key_clear: free what kps_key_get() allocated. */
void kps_key_clear(struct kps_key *k);
/*
 * kps_key_list: keys of user (as registered), of its device device
 * (NULL: every device), oldest first, with effective status at now;
 * status -1 lists all, KP_STATE_AVAILABLE lists only keys that reserve
 * could hand out (unexpired).  Free with kps_key_list_free().
 */
int kps_key_list(struct kps_store *s, const char *user, const char *device,
    int status, int64_t now, struct kps_key **keys, size_t *n) KP_WUR;
/* kps_key_list_free: free what kps_key_list() allocated. */
void kps_key_list_free(struct kps_key *keys, size_t n);
/* kps_list_available_for_user: kps_key_list(s, user,
 * KP_STATE_AVAILABLE). */
int kps_list_available_for_user(struct kps_store *s, const char *user,
    int64_t now, struct kps_key **keys, size_t *n) KP_WUR;

/*
 * kps_reserve: reserve the oldest available unexpired key of target
 * (any case; r->caller the principal of a device as registered), of
 * its device r->device (else of any) and of suite r->suite (else of
 * any), or r->ref, atomically.  A reserve with a request_id that
 * already holds a live reservation of an unexpired key (of r->device,
 * when given) returns that one.  With no key left, the newest
 * last-resort key of the same choice is returned; a last-resort key,
 * named or not, is never consumed.  KP_ENOTFOUND unknown user, device
 * or ref, KP_EFORBIDDEN a named key of another device, KP_ECONFLICT
 * the named key is not available, KP_EEXHAUSTED nothing to hand out.
 * Free out with kps_reservation_clear().
 */
int kps_reserve(struct kps_store *s, const struct kps_reserve *r,
    struct kps_reservation *out) KP_WUR;
/* kps_reservation_clear: free what kps_reserve() allocated. */
void kps_reservation_clear(struct kps_reservation *r);
/*
 * kps_claim: one kps_reserve() of r (r->device and r->ref unused) per
 * device of the target, in device-name order, each atomic on its own:
 * the devices with nothing to hand out are listed in out->exhausted.
 * A request_id replays per device.  KP_ENOTFOUND unknown user; another
 * error ends the claim (what it reserved runs out with its TTL, or
 * comes back to a retry with the same request_id).  Free out with
 * kps_claim_clear().  Built on the operations above: no backend has
 * one of its own.
 */
int kps_claim(struct kps_store *s, const struct kps_reserve *r,
    struct kps_claim *out) KP_WUR;
/* kps_claim_clear: free what kps_claim() allocated. */
void kps_claim_clear(struct kps_claim *c);
/*
 * kps_spend: mark ref spent by caller (a principal) for group_id.  The
 * owner device may spend an available key or one it reserved; anyone
 * else needs its own live reservation.  KP_ENOTFOUND, KP_EFORBIDDEN, KP_ECONFLICT (already
 * spent), KP_EGONE (the reservation expired).
 */
int kps_spend(struct kps_store *s, const char *caller,
    const uint8_t ref[KP_REF_LEN], const uint8_t *group_id,
    size_t group_id_len, int64_t now) KP_WUR;
/* kps_release: the reserver gives a reservation back.  KP_ENOTFOUND,
 * KP_EFORBIDDEN (not the reserver), KP_ESTATE (not reserved),
 * KP_ECONFLICT (spent). */
int kps_release(struct kps_store *s, const char *caller,
    const uint8_t ref[KP_REF_LEN], int64_t now) KP_WUR;
/* kps_retire: the owner device has the server forget a key, keeping
 * its tombstone.  KP_ENOTFOUND, KP_EFORBIDDEN. */
int kps_retire(struct kps_store *s, const char *caller,
    const uint8_t ref[KP_REF_LEN], int64_t now) KP_WUR;
/* kps_cleanup_expired: delete keys whose not_after <= now - keep;
 * *n (may be NULL) counts them. */
int kps_cleanup_expired(struct kps_store *s, int64_t now, int64_t keep,
    uint64_t *n) KP_WUR;
/* kps_release_expired_reservations: end reservations whose TTL passed
 * (back to available, or spent under conf.burn); *n counts them. */
int kps_release_expired_reservations(struct kps_store *s, int64_t now,
    uint64_t *n) KP_WUR;
/* kps_count_by_status: counts of user's keys (all users when NULL). */
int kps_count_by_status(struct kps_store *s, const char *user, int64_t now,
    struct kps_counts *out) KP_WUR;

#endif /* KPS_STORE_H */
