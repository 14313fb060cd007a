/* SPDX-License-Identifier: ISC */
/*
 * store_sqlite_db.h: one connection of the SQLite backend, internal to
 * it (store_sqlite.c builds the table of operations on it): the schema,
 * the statements, the transactions and savepoints, the nonces of
 * signatures and the rate buckets, and the helpers that run statements
 * and read their rows; its users and devices are store_sqlite_dev.c's.
 *
 * A state the statements report is lib's (KP_STATE_AVAILABLE, ...): the
 * rows store a status as text ('available', 'reserved', 'spent'), and
 * the state at a time, expired included, is computed in the query.
 */
#ifndef KPS_STORE_SQLITE_DB_H
#define KPS_STORE_SQLITE_DB_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store.h"

/* The statements of the backend, prepared once each on first use. */
enum kps_sq_stmt {
	SQ_USER_ADD, SQ_USER_GET, SQ_DEV_GET, SQ_DEV_KEY, SQ_KEY_USED,
	SQ_DEV_COUNT, SQ_DEV_ADD, SQ_DEV_LIST, SQ_DEV_DEL, SQ_DEV_TOMB_REF,
	SQ_DEV_TOMB_INIT, SQ_DEV_KEYS_DEL, SQ_COUNT_DEV, SQ_TOMB_CHECK,
	SQ_REF_EXISTS, SQ_INSERT, SQ_GET, SQ_LIST_ALL, SQ_LIST_DEV,
	SQ_LIST_STATE, SQ_REPLAY,
	/* by (device given) * 2 + (suite given), from SQ_OLDEST */
	SQ_OLDEST, SQ_OLDEST_S, SQ_OLDEST_D, SQ_OLDEST_DS,
	SQ_LAST_RESORT, SQ_LAST_RESORT_S, SQ_LAST_RESORT_D, SQ_LAST_RESORT_DS,
	SQ_NAMED, SQ_MARK_RESERVED, SQ_ROW, SQ_LR_GRANT,
	SQ_SPEND, SQ_TOMB_ADD, SQ_RELEASE, SQ_DELETE,
	SQ_CLEANUP, SQ_EXP_RELEASE, SQ_CLEAN_TOMB_REF,
	SQ_CLEAN_TOMB_INIT, SQ_EXP_BURN, SQ_COUNT_USER,
	SQ_COUNT_ALL, SQ_NONCE_ADD, SQ_NONCE_SEEN, SQ_NONCE_PRUNE,
	SQ_RATE_TAKE, SQ_RATE_PRUNE, SQ_DUMP_USERS, SQ_DUMP_DEVICES,
	SQ_DUMP_ASIDE, SQ_DUMP_KEYS, SQ_DUMP_TOMBS, SQ_DUMP_NONCES,
	SQ_LOAD_USER, SQ_LOAD_DEVICE, SQ_LOAD_ASIDE, SQ_LOAD_KEY, SQ_LOAD_TOMB, SQ_LOAD_NONCE,
	SQ_CENSUS_KEYS, SQ_CENSUS_REST,
	SQ_BEGIN, SQ_BEGIN_READ, SQ_COMMIT, SQ_ROLLBACK, SQ_SAVEPOINT,
	SQ_RELEASE_SP, SQ_ROLLBACK_SP,
	SQ_USER_LIST, SQ_USER_DEL, SQ_USER_DEL_CONTACTS, SQ_DEV_SETKEY,
	/* the drain budget's, store_sqlite_drain.c */
	SQ_DRAIN_FIRST, SQ_DR_FACTS = SQ_DRAIN_FIRST, SQ_DR_STRANGERS,
	SQ_DR_POOL, SQ_DR_GRANT_ADD,
	SQ_DR_GRANT_END, SQ_DR_GRANT_PRUNE, SQ_DR_CONTACT_ADD,
	SQ_DR_CONTACT_COUNT, SQ_DR_CONTACT_DEL, SQ_DR_CONTACT_LIST,
	SQ_DR_REG_FACTS, SQ_DR_REG_ADD, SQ_DR_REG_PRUNE, SQ_DR_INVITE_ADD,
	SQ_DR_INVITE_TAKE, SQ_DR_INVITE_BACK,
	/* a copy's (store_sqlite_copy.c), in kps_row_kind's order */
	SQ_DR_DUMP_CONTACTS, SQ_DR_DUMP_GRANTS, SQ_DR_DUMP_REGS,
	SQ_DR_DUMP_INVITES, SQ_DR_LOAD_CONTACT, SQ_DR_LOAD_GRANT,
	SQ_DR_LOAD_INVITE, SQ_DR_CENSUS,
	SQ_NSTMTS
};

/* One connection; its base is what the dispatcher holds. */
struct kps_sq {
	struct kps_store	 base;
	sqlite3			*db;
	struct kps_store_conf	 conf;
	sqlite3_stmt		*st[SQ_NSTMTS];
	int			 batch;	/* in the writer's transaction */
	unsigned		 marks;	/* open marks, a bit each: 1 when
					   it began the transaction */
	int			 nmarks;
	char			 err[256];
};

/* kps_sq_sql: the SQL text of statement i (static). */
const char *kps_sq_sql(enum kps_sq_stmt i);
/* kps_sq_drain_sql: that of a statement from SQ_DRAIN_FIRST on. */
const char *kps_sq_drain_sql(enum kps_sq_stmt i);

/*
 * kps_sq_open: a new connection to the database file path, with the
 * table ops, its schema migrated unless conf says readonly.  *out is
 * set even on failure, so that the caller can read the message before
 * it closes *out with kps_sq_close().
 */
int kps_sq_open(const char *path, const struct kps_store_conf *conf,
    const struct kps_store_ops *ops, struct kps_store **out) KP_WUR;

/* The connection-level operations of the table (see store.h). */
void kps_sq_close(struct kps_store *b);
const char *kps_sq_errmsg(struct kps_store *b);
int kps_sq_begin(struct kps_store *b);
int kps_sq_commit(struct kps_store *b);
int kps_sq_rollback(struct kps_store *b);
int kps_sq_in_batch(struct kps_store *b);
int kps_sq_checkpoint(struct kps_store *b);

/* store_sqlite_dev.c: users and devices (see store.h). */
int kps_sq_user_get(struct kps_store *b, const char *name, char *canon);
int kps_sq_device_get(struct kps_store *b, const char *user,
    const char *device, uint8_t *pk, char *canon);
int kps_sq_device_add(struct kps_store *b, const char *user,
    const char *device, const uint8_t *pk, enum kps_dev_mode mode,
    int64_t now);
int kps_sq_device_remove(struct kps_store *b, const char *user,
    const char *device, int64_t now, uint64_t *retired);
int kps_sq_user_list(struct kps_store *b,
    int (*fn)(void *, const char *), void *arg);
int kps_sq_device_drop(struct kps_store *b, const char *user,
    const char *device, const uint8_t *pk, int64_t now, uint64_t *retired);
int kps_sq_device_list(struct kps_store *b, const char *user, int counts,
    int64_t now, char *canon, struct kps_device *out, size_t max,
    size_t *n);
/* kps_sq_device_known: KP_OK when user (as registered) has device,
 * else KP_ENOTFOUND. */
int kps_sq_device_known(struct kps_sq *s, const char *user,
    const char *device);
/* kps_sq_canon: the registered spelling of user (any case) into canon;
 * KP_ENOTFOUND for no such user. */
int kps_sq_canon(struct kps_sq *s, const char *user,
    char canon[KP_MAX_USERNAME + 1]);
int kps_sq_nonce_add(struct kps_store *b, const char *keyid,
    const char *nonce, int64_t created);
int kps_sq_nonce_seen(struct kps_store *b, const char *keyid,
    const char *nonce, int64_t created);
int kps_sq_nonce_prune(struct kps_store *b, int64_t before, int max,
    uint64_t *n);
int kps_sq_rate_take(struct kps_store *b, struct kps_take *v, size_t n,
    int64_t now_ms);
int kps_sq_rate_prune(struct kps_store *b, int64_t now_ms, int max,
    uint64_t *n);
/* The drain budget (store_sqlite_drain.c, see store.h). */
int kps_sq_budget_facts(struct kps_store *b, const struct kps_budget_ask *a,
    struct kps_budget_facts *f);
int kps_sq_budget_strangers(struct kps_store *b, const char *target,
    int64_t since, uint64_t *n, int64_t *first);
int kps_sq_budget_pool(struct kps_store *b, const char *target, int64_t now,
    uint64_t limit, uint64_t *n);
int kps_sq_mark(struct kps_store *b);
int kps_sq_unmark(struct kps_store *b, int rc);
int kps_sq_grant_add(struct kps_store *b, const struct kps_grant *g);
int kps_sq_grant_end(struct kps_store *b, const char *caller,
    const uint8_t *ref, int how, int64_t now);
int kps_sq_grant_prune(struct kps_store *b, int64_t before, int max,
    uint64_t *n);
int kps_sq_contact_add(struct kps_store *b, const char *owner,
    const char *contact, enum kps_contact_kind kind, int64_t now);
int kps_sq_contact_remove(struct kps_store *b, const char *owner,
    const char *contact);
int kps_sq_contact_list(struct kps_store *b, const char *owner,
    char (*out)[KP_MAX_USERNAME + 1], size_t max, size_t *n);
int kps_sq_reg_facts(struct kps_store *b, const char *addr, int64_t since,
    uint64_t *n, int64_t *first);
int kps_sq_reg_add(struct kps_store *b, const char *addr, int64_t now);
int kps_sq_reg_prune(struct kps_store *b, int64_t before, int max,
    uint64_t *n);
int kps_sq_invite_add(struct kps_store *b, const uint8_t *hash, int uses,
    int64_t now);
int kps_sq_invite_take(struct kps_store *b, const uint8_t *hash,
    int give_back);
/* The copy of a database (store_sqlite_copy.c). */
int kps_sq_dump(struct kps_store *b,
    int (*row)(void *, const struct kps_row *), void *arg);
int kps_sq_load(struct kps_store *b, const struct kps_row *r);
int kps_sq_census(struct kps_store *b, struct kps_census *c);

/* kps_sq_err: keep what failed and SQLite's message; returns KP_EDB. */
int kps_sq_err(struct kps_sq *s, const char *what);
/*
 * kps_sq_stmt: statement i, reset, with no bindings but the burn
 * setting; NULL (the message kept) when it does not prepare or when
 * SQLite rolled the writer's batch back on its own.
 */
sqlite3_stmt *kps_sq_stmt(struct kps_sq *s, enum kps_sq_stmt i);
/* kps_sq_done: step st, which returns no row, and reset it; KP_OK, or
 * KP_EDB (kps_sq_err(what)). */
int kps_sq_done(struct kps_sq *s, sqlite3_stmt *st, const char *what);
/*
 * kps_sq_sweep: run statement i, one change of many rows (a sweep), with
 * ?1 bound to a and, when b >= 0, ?2 to b, as an operation; *n (may be
 * NULL) the rows it changed.  KP_OK or KP_EDB (kps_sq_err(what)).
 */
int kps_sq_sweep(struct kps_sq *s, enum kps_sq_stmt i, int64_t a, int64_t b,
    uint64_t *n, const char *what);

/*
 * kps_sq_op_begin/kps_sq_op_end: make one operation atomic: a savepoint
 * inside the writer's transaction, or a transaction of its own (*own).
 * kps_sq_op_end commits or rolls back by rc, and returns the result.
 */
int kps_sq_op_begin(struct kps_sq *s, int *own);
int kps_sq_op_end(struct kps_sq *s, int own, int rc);
/*
 * kps_sq_op_begin1/kps_sq_op_end1: the same for an operation whose only
 * change is its last statement (one INSERT or UPDATE, atomic by
 * itself): inside the writer's transaction it needs no savepoint.
 */
int kps_sq_op_begin1(struct kps_sq *s, int *own);
int kps_sq_op_end1(struct kps_sq *s, int own, int rc);
/* kps_sq_op_begin_read: a read transaction of its own (one snapshot
 * of every table) unless in one already; end it with kps_sq_op_end1. */
int kps_sq_op_begin_read(struct kps_sq *s, int *own);

/*
 * kps_sq_row: fill r from a row of SQ_GET, SQ_LIST_* or SQ_DUMP_KEYS
 * (KEYCOLS, with the effective state or the stored status text in
 * column 4, then request_id if there is a column 17); r->key.bytes is
 * malloc'd.  KP_OK or KP_ENOMEM.
 */
int kps_sq_row(sqlite3_stmt *st, struct kps_row *r);
/* kps_sq_key: the key of a row of SQ_GET or SQ_LIST_* as it reads in
 * its effective state; k->bytes is malloc'd.  KP_OK or KP_ENOMEM. */
int kps_sq_key(sqlite3_stmt *st, struct kps_key *k);
/* kps_sq_text: column i of st as a string into out ("" for NULL). */
void kps_sq_text(sqlite3_stmt *st, int i, char *out, size_t cap);
/* kps_sq_blob: at most cap bytes of BLOB column i into out; *len (when
 * not NULL) the bytes copied. */
void kps_sq_blob(sqlite3_stmt *st, int i, uint8_t *out, size_t cap,
    size_t *len);
/* kps_sq_dupblob: BLOB column i in a malloc'd *out; KP_ENOMEM. */
int kps_sq_dupblob(sqlite3_stmt *st, int i, uint8_t **out, size_t *len);

#endif /* KPS_STORE_SQLITE_DB_H */
