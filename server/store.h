/* SPDX-License-Identifier: ISC */
/*
 * store.h: the server's store, one interface over its backends: a
 * backend fills a table of operations (struct kps_store_ops), and the
 * dispatcher (store.c) picks a backend by the database's name and calls
 * it through the table; a backend never calls back into the dispatcher.
 * The backends are SQLite (store_sqlite*.c, one file, one instance) and
 * PostgreSQL (store_pg*.c, any number of instances on one database);
 * what both decide the same way is store_rules.c's.
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
	int		 last_resort_only; /* no regular key: only a
					   last-resort one (the contact
					   floor, store_drain.c) */
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
	size_t			 nfloor;	/* of those, held back by
						   the contact floor */
};

struct kps_counts {
	uint64_t n[KP_NSTATES];		/* per KP_STATE_* */
	uint64_t last_resort;
};

/*
 * A row of any table, every column as stored, NULLs told apart: what
 * kps_store_dump() reads and kps_store_load() writes, so that migrate
 * copies a database whatever its backends.  One kind a table, in the
 * order a copy loads them (a user before its devices and contacts, a
 * device before the keys that name it, a key before its grants).  A
 * contact that names a user no longer there (none should: a removed
 * user's contacts go with it) is neither dumped nor counted in
 * rows[KPS_ROW_CONTACT], but in contacts_left: such a vouch would
 * otherwise pass to whoever registers the name next.  Grants are
 * dumped whoever they name: a removed caller's grants still count
 * against their target's budget for the hour.
 */
enum kps_row_kind {
	KPS_ROW_USER,
	KPS_ROW_DEVICE,
	KPS_ROW_SET_ASIDE,	/* a name set aside by the case rule */
	KPS_ROW_KEY,
	KPS_ROW_TOMBSTONE,
	KPS_ROW_NONCE,
	KPS_ROW_CONTACT,	/* the drain budget's (store_drain.c) */
	KPS_ROW_GRANT,
	KPS_ROW_REGISTRATION,
	KPS_ROW_INVITE,
	KPS_NROWKINDS
};

#define KPS_MAX_ADDRESS	63	/* a registration's address, as text */

/* The columns of a key that may be NULL: bits of kps_row.null. */
#define KPS_NULL_RESERVATION_ID	0x01
#define KPS_NULL_EXPIRES	0x02
#define KPS_NULL_RESERVED_BY	0x04
#define KPS_NULL_RESERVED_AT	0x08
#define KPS_NULL_REQUEST_ID	0x10
#define KPS_NULL_SPENT_AT	0x20
#define KPS_NULL_SPENT_BY	0x40
#define KPS_NULL_GROUP_ID	0x80

struct kps_row {
	enum kps_row_kind kind;
	/* USER: name (as registered), created_at; DEVICE: name (the
	 * user), device, public_key, created_at; SET_ASIDE: name,
	 * public_key, created_at; TOMBSTONE: name (the user) */
	char		 name[KP_MAX_USERNAME + 1];
	char		 device[KP_MAX_DEVICE + 1];
	uint8_t		 public_key[32];
	int64_t		 created_at;	/* USER, DEVICE, SET_ASIDE,
					   TOMBSTONE; NONCE: the
					   signature's created */
	/* SET_ASIDE: the name kept in its place, and when */
	char		 kept[KP_MAX_USERNAME + 1];
	int64_t		 set_aside_at;
	int64_t		 nonce_id;	/* NONCE: kps_nonce_id() */
	/* KEY: key.status is the stored state (available, reserved or
	 * spent), every other field the column as stored (0 or "" when
	 * NULL); key.bytes belongs to the row's reader */
	struct kps_key	 key;
	char		 request_id[65];
	unsigned	 null;		/* KPS_NULL_* */
	/* TOMBSTONE: tomb_kind, a ref (0) or an init key (1), and value,
	 * the ref or the init key */
	int		 tomb_kind;
	uint8_t		 value[32];
	/*
	 * CONTACT: name (its owner, folded), peer (the contact, folded),
	 * contact_kind, created_at.  GRANT: name (the caller, folded),
	 * peer (the target, folded), device (the key's), value (the
	 * key's ref), stranger, created_at (granted), expires_at, ended
	 * (0 open, or KPS_GRANT_*).  REGISTRATION: address, created_at
	 * (when).  INVITE: value (the token's hash), uses (left),
	 * created_at.  No column of theirs is NULL.
	 */
	char		 peer[KP_MAX_USERNAME + 1];
	int		 contact_kind;	/* enum kps_contact_kind */
	int		 stranger;
	int64_t		 expires_at;
	int		 ended;
	char		 address[KPS_MAX_ADDRESS + 1];
	int		 uses;
};

/* What a database holds, to check a copy against its source. */
struct kps_census {
	uint64_t rows[KPS_NROWKINDS];	/* per table */
	uint64_t keys[KP_NSTATES];	/* per stored state */
	uint64_t last_resort;
	uint64_t reservations;		/* keys with a reservation id */
	uint64_t tombstones[2];		/* of refs, of init keys */
	uint64_t contacts_left;		/* naming no user: not copied */
	uint64_t grants_open;		/* ended 0 */
	uint64_t grants_strangers;
	uint64_t invite_uses;		/* left, of every invitation */
};

/* A device's key to check with others (kps_device_check_many). */
struct kps_keycheck {
	const char	*user;
	const char	*device;
	const uint8_t	*pk;		/* the key it signed with */
	int		 rc;		/* KP_OK: it is the device's key
					   still; KP_ENOTFOUND: it is not */
};

/* A nonce to remember with others (kps_nonce_add_many). */
struct kps_nonce {
	const char	*keyid;		/* folded */
	const char	*nonce;
	int64_t		 created;
	int		 rc;		/* KP_OK, or KP_EEXIST: a replay */
};

/*
 * A take of one token from a bucket of the rate limits
 * (kps_rate_take).  A bucket is named by its kind and up to two names
 * (folded; "" where the kind has fewer); it holds up to burst tokens
 * and refills at per_min a minute, both given with each take, so that a
 * kind's limits are the caller's to set.  KPS_BUCKET_RESERVE is
 * (caller, target): the reserves of target's keys by caller.
 */
enum kps_bucket_kind {
	KPS_BUCKET_RESERVE = 1,
};
struct kps_take {
	enum kps_bucket_kind	 kind;
	const char		*a, *b;
	double			 per_min;	/* > 0 */
	double			 burst;		/* >= 1 */
	int			 wait;		/* out: 0, a token was taken;
						   else the seconds until
						   one is there (>= 1) */
};

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

/*
 * The drain budget (docs/security.md, "Draining"): who is a contact of
 * whom, and a log of the reservations granted to other users' callers.
 * Names are folded user names.  A contact is vouched for (the owner's
 * POST /contacts) or linked by a spend (either spent the other's key).
 */
enum kps_contact_kind {
	KPS_CONTACT_VOUCH = 1,
	KPS_CONTACT_SPEND = 2,
};
#define KPS_MAX_CONTACTS	256	/* vouches of one user */

/* One reservation granted to caller of a key of target. */
struct kps_grant {
	const char	*caller;	/* folded user */
	const char	*target;	/* folded user */
	const char	*device;	/* the key's device */
	const uint8_t	*ref;
	int		 stranger;	/* caller was no contact of target */
	int64_t		 granted_at, expires_at;
};

/* How a grant ended (kps_grant_end); an open one is 0. */
#define KPS_GRANT_SPENT		1
#define KPS_GRANT_RELEASED	2

/* What the budget asks about one reserve (kps_budget_read). */
struct kps_budget_ask {
	const char	*caller;	/* folded user */
	const char	*target;	/* folded user */
	const char	*device;	/* a device of target, or NULL */
	uint16_t	 suite;		/* or 0 */
	int64_t		 now;
	int64_t		 since;		/* the window's start */
	const char	*principal;	/* the caller's device */
	const char	*request_id;	/* or NULL */
	uint64_t	 available_limit; /* count available keys up to
					   this (0: not at all) */
};
/*
 * The facts of one reserve against the budget that are the caller's.
 * available is counted only as far as the decision needs (up to
 * available_limit, and not for a contact).  The target's own (its
 * grants to strangers and its pool) are read apart, once for a run of
 * reserves: kps_budget_strangers(), kps_budget_pool().
 */
/*
 * What the budget asks about one target (kps_budget_read): its grants
 * to strangers after since, the first at oldest (0: none), and its pool
 * (regular keys available or reserved, unexpired at now) counted up to
 * limit only: kps_budget_limit(strangers, slack, share).
 */
struct kps_budget_tq {
	const char	*target;	/* folded */
	int64_t		 now, since;
	int		 share;		/* > 0 */
	uint64_t	 slack;
	uint64_t	 strangers;	/* read */
	int64_t		 oldest;
	uint64_t	 pool, limit;
};

struct kps_budget_facts {
	int		 contact;	/* caller is a contact of target */
	uint64_t	 held;		/* caller's open grants that expire
					   after since */
	int64_t		 held_first;	/* the first expiry of those */
	uint64_t	 available;	/* its regular available keys of
					   device and suite */
	int		 replay;	/* principal holds a live
					   reservation of target's with
					   request_id: the reserve replays */
};

struct kps_store;

/*
 * A backend's operations: each does what the kps_ function of its name
 * below says, on the connection it is given (save is kps_key_save, get
 * kps_key_get, list_user kps_key_list, release_expired
 * kps_release_expired_reservations, count kps_count_by_status).  The
 * connection-level ones are for what a backend's database has: a
 * transaction that the database may end on its own (in_batch), upkeep
 * to do off the request path (checkpoint: SQLite moves its log into the
 * database, PostgreSQL vacuums what reserves leave behind; NULL when
 * there is none).  A
 * reserve that fails leaves what it put in its out parameter for the
 * dispatcher to free.  An operation on many at once (nonce_add_many,
 * reserve_many) may be NULL: the dispatcher then does one at a time.
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
	int	(*user_list)(struct kps_store *,
		    int (*)(void *, const char *), void *);
	int	(*device_drop)(struct kps_store *, const char *,
		    const char *, const uint8_t *, int64_t, uint64_t *);
	int	(*nonce_add)(struct kps_store *, const char *, const char *,
		    int64_t);
	int	(*nonce_add_many)(struct kps_store *, struct kps_nonce *,
		    size_t);
	int	(*device_check_many)(struct kps_store *,
		    struct kps_keycheck *, size_t);
	int	(*nonce_seen)(struct kps_store *, const char *, const char *,
		    int64_t);
	int	(*nonce_prune)(struct kps_store *, int64_t, int, uint64_t *);
	int	(*rate_take)(struct kps_store *, struct kps_take *, size_t,
		    int64_t);
	int	(*rate_prune)(struct kps_store *, int64_t, int, uint64_t *);
	int	(*save)(struct kps_store *, const struct kps_key *);
	int	(*get)(struct kps_store *, const uint8_t *, int64_t,
		    struct kps_key *);
	int	(*list_user)(struct kps_store *, const char *, const char *,
		    int, int64_t, struct kps_key **, size_t *);
	int	(*reserve)(struct kps_store *, const struct kps_reserve *,
		    struct kps_reservation *);
	int	(*reserve_many)(struct kps_store *,
		    const struct kps_reserve *const *,
		    struct kps_reservation *const *, int *, size_t);
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
	int	(*dump)(struct kps_store *,
		    int (*)(void *, const struct kps_row *), void *);
	int	(*load)(struct kps_store *, const struct kps_row *);
	int	(*census)(struct kps_store *, struct kps_census *);
	/* the drain budget (store_drain.c; budget_lock may be NULL) */
	int	(*budget_lock)(struct kps_store *, const char *const *,
		    size_t);
	int	(*budget_facts)(struct kps_store *,
		    const struct kps_budget_ask *, struct kps_budget_facts *);
	int	(*budget_read)(struct kps_store *,
		    const struct kps_budget_ask *, struct kps_budget_facts *,
		    size_t, struct kps_budget_tq *, size_t);
	int	(*budget_strangers)(struct kps_store *, const char *,
		    int64_t, uint64_t *, int64_t *);
	int	(*budget_pool)(struct kps_store *, const char *, int64_t,
		    uint64_t, uint64_t *);
	/* an op of several calls made atomic (NULL: an error ends the
	   whole transaction anyway) */
	int	(*mark)(struct kps_store *);
	int	(*unmark)(struct kps_store *, int);
	int	(*grant_add)(struct kps_store *, const struct kps_grant *);
	int	(*grant_add_many)(struct kps_store *,
		    const struct kps_grant *, size_t);
	int	(*grant_end)(struct kps_store *, const char *,
		    const uint8_t *, int, int64_t);
	int	(*grant_prune)(struct kps_store *, int64_t, int, uint64_t *);
	int	(*contact_add)(struct kps_store *, const char *, const char *,
		    enum kps_contact_kind, int64_t);
	int	(*contact_remove)(struct kps_store *, const char *,
		    const char *);
	int	(*contact_list)(struct kps_store *, const char *,
		    char (*)[KP_MAX_USERNAME + 1], size_t, size_t *);
	/* registrations by address, invitations */
	int	(*reg_facts)(struct kps_store *, const char *, int64_t,
		    uint64_t *, int64_t *);
	int	(*reg_add)(struct kps_store *, const char *, int64_t);
	int	(*reg_prune)(struct kps_store *, int64_t, int, uint64_t *);
	int	(*invite_add)(struct kps_store *, const uint8_t *, int,
		    int64_t);
	int	(*invite_take)(struct kps_store *, const uint8_t *, int);
};

/* A connection: a backend's own struct begins with this one. */
struct kps_store {
	const struct kps_store_ops	*ops;
};

/*
 * The backends.  kps_sqlite_open: open a connection to the SQLite file
 * path, as kps_store_open() does (store_sqlite.c).  kps_pg_open: the
 * same for the PostgreSQL database of a libpq URI or conninfo string
 * (store_pg.c).
 */
int kps_sqlite_open(const char *path, const struct kps_store_conf *conf,
    struct kps_store **out) KP_WUR;
int kps_pg_open(const char *conninfo, const struct kps_store_conf *conf,
    struct kps_store **out) KP_WUR;

/*
 * kps_store_open: open one connection to the store named by path:
 * PostgreSQL for a libpq URI ("postgresql://..." or "postgres://...")
 * or conninfo string ("host=... dbname=...": it begins with a word and
 * '='), else SQLite: "sqlite:FILE" or a file name.  The database is
 * created (SQLite) and migrated on first use, unless conf says
 * readonly.  *out is set even on failure, for kps_store_errmsg(); close
 * it with kps_store_close() in any case.
 */
int kps_store_open(const char *path, const struct kps_store_conf *conf,
    struct kps_store **out) KP_WUR;
/* kps_store_is_pg: 1 when kps_store_open() takes path for PostgreSQL. */
int kps_store_is_pg(const char *path);
/*
 * kps_store_shown: path as it may be logged: a password in a URI
 * (user:PASSWORD@) or conninfo (password=PASSWORD) becomes "***".
 * Returns out (cut to cap).
 */
const char *kps_store_shown(const char *path, char *out, size_t cap);
/* kps_store_backend: the name of s's backend ("sqlite", "postgresql"). */
const char *kps_store_backend(struct kps_store *s);

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
/* kps_store_checkpoint: the backend's upkeep, off the request path
 * (see checkpoint above); KP_OK at once for a backend without any. */
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
 * kps_user_list: fn(arg, name) for every user, by folded name, as
 * registered; a result of fn other than KP_OK ends the walk and is
 * returned.  fn may use s (no transaction is held across it).
 */
int kps_user_list(struct kps_store *s, int (*fn)(void *, const char *),
    void *arg) KP_WUR;
/*
 * kps_user_remove: remove user (any case): every key of every device
 * retired (tombstones kept), the devices and the user gone, so the
 * name is free again; *retired (may be NULL) counts the keys, in one
 * transaction.  KP_ENOTFOUND no such user.
 */
int kps_user_remove(struct kps_store *s, const char *user, int64_t now,
    uint64_t *retired) KP_WUR;
/*
 * kps_device_set_key: give device of user (any case) the key pk in
 * place of its own: its keys, signed with the old one, are retired
 * (tombstones kept; *retired, may be NULL, counts them).  KP_OK with
 * nothing changed when pk is its key already; KP_ENOTFOUND no such
 * user or device; KP_ECONFLICT pk is another device's.
 */
int kps_device_set_key(struct kps_store *s, const char *user,
    const char *device, const uint8_t pk[32], int64_t now,
    uint64_t *retired) KP_WUR;

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
 * kps_device_check_many: whether each of the n devices of v has the key
 * it names still (a device removed or given another key since its
 * request was authenticated has not), in one go where the backend can;
 * each one's answer in v[i].rc.  KP_OK, or the error that stopped them.
 */
int kps_device_check_many(struct kps_store *s, struct kps_keycheck *v,
    size_t n) KP_WUR;

/*
 * kps_nonce_add_many: kps_nonce_add of each of the n nonces of v, in
 * one go where the backend can (one round trip on PostgreSQL), each
 * one's result in v[i].rc.  KP_OK, or the error that stopped them (then
 * no rc is set).
 */
int kps_nonce_add_many(struct kps_store *s, struct kps_nonce *v, size_t n)
    KP_WUR;

/*
 * kps_rate_take: take a token from the bucket of each of the n takes of
 * v at now_ms (milliseconds of the real time, which instances share),
 * each take on its own, in one go where the backend can; v[i].wait says
 * whether each got one.  A bucket seen for the first time is full.
 * KP_OK, or the error that stopped them.  kps_rate_prune forgets at
 * most max buckets full again by now_ms (a full bucket and no bucket
 * are the same); *n (may be NULL) counts them.
 */
int kps_rate_take(struct kps_store *s, struct kps_take *v, size_t n,
    int64_t now_ms) KP_WUR;
int kps_rate_prune(struct kps_store *s, int64_t now_ms, int max,
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
 * kps_principal_user: the user of principal p (USER or USER/DEVICE)
 * into out, folded to lower case: what the budgets and buckets count by.
 */
static inline void
kps_principal_user(char out[KP_MAX_USERNAME + 1], const char *p)
{
	size_t	i;

	for (i = 0; i < KP_MAX_USERNAME && p[i] != '\0' && p[i] != '/'; i++)
		out[i] = p[i] >= 'A' && p[i] <= 'Z' ? (char)(p[i] - 'A' + 'a') :
		    p[i];
	out[i] = '\0';
}

/*
 * kps_rule_same_user: 1 when principal p is a device of user (as
 * registered, compared exactly).
 */
int kps_rule_same_user(const char *p, const char *user);

/*
 * kps_rule_owner: 1 when caller (a principal) is the device of user
 * (as registered), the owner of its keys; else 0.  Every backend and
 * every endpoint asks it (store_rules.c).
 */
int kps_rule_owner(const char *user, const char *device, const char *caller);
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
 * named or not, is never consumed, but an unnamed reserve records its
 * caller, time and group_id on it (reserved_by, reserved_at, group_id:
 * the latest handing out; kps_key_get returns them with status
 * available).  KP_ENOTFOUND unknown user, device or ref, KP_EFORBIDDEN
 * a named key of another device, KP_ECONFLICT the named key is not
 * available, KP_EEXHAUSTED nothing to hand out.  Free out with
 * kps_reservation_clear().
 */
int kps_reserve(struct kps_store *s, const struct kps_reserve *r,
    struct kps_reservation *out) KP_WUR;
/*
 * kps_reserve_many: kps_reserve of each of the n requests r[i] into
 * out[i], its result in rc[i], in order, in one go where the backend
 * can (one round trip on PostgreSQL).  KP_OK, or the error that stopped
 * them (then no rc is set and no out holds anything).
 */
int kps_reserve_many(struct kps_store *s, const struct kps_reserve *const *r,
    struct kps_reservation *const *out, int *rc, size_t n) KP_WUR;
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
 * else needs its own live reservation.  An empty group_id keeps the
 * reservation's group; another one than a live reservation named is
 * KP_EGROUP.  KP_ENOTFOUND, KP_EFORBIDDEN, KP_ECONFLICT (already
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
 * (back to available, or spent under conf.burn), or some of them (call
 * again while *n > 0); *n counts them. */
int kps_release_expired_reservations(struct kps_store *s, int64_t now,
    uint64_t *n) KP_WUR;
/* kps_count_by_status: counts of user's keys (all users when NULL). */
int kps_count_by_status(struct kps_store *s, const char *user, int64_t now,
    struct kps_counts *out) KP_WUR;

/*
 * kps_store_dump: call row(arg, r) on every row of every table, kind by
 * kind in kps_row_kind's order, keys oldest first; a row is valid during
 * the call only.  Stops at the first non-KP_OK return of row, and
 * returns it.
 */
int kps_store_dump(struct kps_store *s,
    int (*row)(void *, const struct kps_row *), void *arg) KP_WUR;
/* kps_store_load: insert r as it is (its state, reservation, NULLs);
 * KP_EEXIST when it is there already (a grant or a registration has no
 * key to tell: the same one twice is two). */
int kps_store_load(struct kps_store *s, const struct kps_row *r) KP_WUR;
/* kps_store_census: count what s holds into c. */
int kps_store_census(struct kps_store *s, struct kps_census *c) KP_WUR;

/*
 * The drain budget's store (store_drain.c builds the budget on these).
 * kps_budget_lock: serialize, until the transaction ends, the budgets
 * of the n folded targets, or the registration counts of addresses
 * (kps_reg_facts), sorted and locked in one order, so that instances
 * never wait in a circle; KP_OK at once where one writer is all there
 * is (SQLite).
 */
int kps_budget_lock(struct kps_store *s, const char *const *targets,
    size_t n) KP_WUR;
/*
 * kps_budget_read: the facts of each of the n asks of a (see
 * kps_budget_facts) into f[i], and those of each of the m targets of t,
 * in one go where the backend can (one round trip on PostgreSQL).
 */
int kps_budget_read(struct kps_store *s, const struct kps_budget_ask *a,
    struct kps_budget_facts *f, size_t n, struct kps_budget_tq *t,
    size_t m) KP_WUR;
/* kps_budget_limit: how far a pool is counted for a target with
 * strangers grants to tell whether it admits slack more. */
uint64_t kps_budget_limit(uint64_t strangers, uint64_t slack, int share);
/* kps_budget_strangers: *n grants of target's keys (folded) to
 * strangers after since, the first of them at *first (0: none). */
int kps_budget_strangers(struct kps_store *s, const char *target,
    int64_t since, uint64_t *n, int64_t *first) KP_WUR;
/* kps_budget_pool: *n regular keys of target (folded) available or
 * reserved, unexpired at now, counted up to limit only. */
int kps_budget_pool(struct kps_store *s, const char *target, int64_t now,
    uint64_t limit, uint64_t *n) KP_WUR;
/* kps_grant_add: log the grant g; kps_grant_add_many the n grants of g,
 * in one go where the backend can. */
int kps_grant_add(struct kps_store *s, const struct kps_grant *g) KP_WUR;
int kps_grant_add_many(struct kps_store *s, const struct kps_grant *g,
    size_t n) KP_WUR;
/* kps_grant_end: the open grant of ref to caller (folded user) ended
 * how (KPS_GRANT_SPENT or RELEASED) by now; none is KP_OK too.  A grant
 * whose reservation lapsed before now stays open: it counts against
 * its caller for the window (D3), whatever comes after. */
int kps_grant_end(struct kps_store *s, const char *caller,
    const uint8_t ref[KP_REF_LEN], int how, int64_t now) KP_WUR;
/* kps_grant_prune: forget at most max grants that expired before
 * `before`; *n (may be NULL) counts them. */
int kps_grant_prune(struct kps_store *s, int64_t before, int max,
    uint64_t *n) KP_WUR;
/* kps_contact_add: owner (folded) has contact (folded) as kind; KP_OK
 * also when it had; KP_ETOOBIG past KPS_MAX_CONTACTS vouches. */
int kps_contact_add(struct kps_store *s, const char *owner,
    const char *contact, enum kps_contact_kind kind, int64_t now) KP_WUR;
/* kps_contact_remove: owner's vouch for contact goes (a spend's link
 * stays); KP_ENOTFOUND when there was none. */
int kps_contact_remove(struct kps_store *s, const char *owner,
    const char *contact) KP_WUR;
/* kps_contact_list: the users owner vouched for, in name order (folded),
 * at most max into out, *n how many. */
int kps_contact_list(struct kps_store *s, const char *owner,
    char (*out)[KP_MAX_USERNAME + 1], size_t max, size_t *n) KP_WUR;
/* kps_drain_spent: what caller's spend of ref (done) means to the
 * budget: the key's owner is the caller's contact (not the other way
 * round), the caller's grant is spent. */
int kps_drain_spent(struct kps_store *s, const char *caller,
    const uint8_t ref[KP_REF_LEN], int64_t now) KP_WUR;
/* kps_drain_released: caller's grant of ref was given back at now. */
int kps_drain_released(struct kps_store *s, const char *caller,
    const uint8_t ref[KP_REF_LEN], int64_t now) KP_WUR;

/*
 * Registrations, so many an hour from one source address (a text: an
 * IPv4 address, or an IPv6 /64), and invitations, named by the
 * BLAKE2b-256 of their token.  kps_reg_facts: how many registrations
 * from addr since `since` (*n) and the first of them (*first, 0 for
 * none).  kps_reg_add: one from addr at now.  kps_reg_prune: forget at
 * most max from before `before`; *n (may be NULL) counts them.
 */
int kps_reg_facts(struct kps_store *s, const char *addr, int64_t since,
    uint64_t *n, int64_t *first) KP_WUR;
int kps_reg_add(struct kps_store *s, const char *addr, int64_t now) KP_WUR;
int kps_reg_prune(struct kps_store *s, int64_t before, int max,
    uint64_t *n) KP_WUR;
/* kps_invite_add: an invitation of hash for uses registrations. */
int kps_invite_add(struct kps_store *s, const uint8_t hash[32], int uses,
    int64_t now) KP_WUR;
/* kps_invite_take: take one use of the invitation of hash (back when
 * give_back: the registration failed); KP_ENOTFOUND when there is no
 * such invitation or no use left (nothing changes). */
int kps_invite_take(struct kps_store *s, const uint8_t hash[32],
    int give_back) KP_WUR;

/*
 * What a run of reserves learnt of its targets' budgets: valid while
 * the run's transaction holds the targets' budget locks and nothing
 * but budgeted reserves and claims runs in it (a reserve moves a key
 * between available and reserved, both in the pool; a grant counts in
 * memory as in the table).
 */
#define KPS_MEMO_MAX	64
struct kps_budget_memo {
	size_t	 n;
	struct kps_budget_target {
		char	 target[KP_MAX_USERNAME + 1];	/* folded */
		uint64_t strangers;	/* grants to strangers in the window */
		int64_t	 oldest;	/* the first of those, 0: none */
		uint64_t pool;		/* counted, up to limit */
		uint64_t limit;
	} t[KPS_MEMO_MAX];
};

/* The limits of the drain budget, the server's settings (0: off). */
struct kps_budget {
	int	 share;		/* % of a target's pool to strangers */
	int	 floor;		/* regular keys kept for contacts */
	int	 cap;		/* a caller's held grants */
	int64_t	 window;	/* seconds: 3600 */
	struct kps_budget_memo *memo;	/* a run's, or NULL */
};
/* Why kps_reserve_budget() refused: its codes beyond lib's. */
#define KPS_EBUDGET	(-200)	/* the target's budget is spent */
#define KPS_ECAP	(-201)	/* the caller holds its cap */
#define KPS_EFLOOR	(-202)	/* the floor kept for contacts */
/*
 * kps_reserve_budget: kps_reserve() of r within the budget b, in the
 * caller's transaction (take kps_budget_lock() of r->target first when
 * instances share the database): a caller that is no contact of the
 * target gets a key only while the target's grants to strangers in
 * the window are below b->share % of its pool (at least 1), and only a
 * last-resort key when a regular one would leave fewer than b->floor;
 * every caller of another user's keys holds at most b->cap grants.
 * The grant is logged.  KPS_EBUDGET, KPS_ECAP (*wait: seconds until
 * one leaves the window), KPS_EFLOOR, or what kps_reserve() returns.
 */
int kps_reserve_budget(struct kps_store *s, const struct kps_reserve *r,
    const struct kps_budget *b, struct kps_reservation *out, int *wait)
    KP_WUR;
/*
 * kps_reserve_budget_many: kps_reserve_budget() of each of the n
 * reserves r[i] into out[i], its result in rcs[i] and wait[i], in order,
 * in three round trips on PostgreSQL (the callers' facts, the reserves,
 * the grants) and one look at each target's budget (b->memo).  A
 * reserve is decided with the facts read before the run and what the
 * run's earlier reserves were admitted to take.  KP_OK, or the error
 * that stopped them: then no out holds anything, and reserves may
 * stand without their grants (undo the transaction).
 */
int kps_reserve_budget_many(struct kps_store *s,
    const struct kps_reserve *const *r, const struct kps_budget *b,
    struct kps_reservation **out, int *rcs, int *wait, size_t n) KP_WUR;
/*
 * kps_claim_budget: kps_claim() with each device's reserve made by
 * kps_reserve_budget(): a device refused by the floor is listed as
 * exhausted; a refusal by the budget or the cap ends the claim, and is
 * its result when it got no key (*wait as above).
 */
int kps_claim_budget(struct kps_store *s, const struct kps_reserve *r,
    const struct kps_budget *b, struct kps_claim *out, int *wait) KP_WUR;

#endif /* KPS_STORE_H */
