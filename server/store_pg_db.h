/* SPDX-License-Identifier: ISC */
/*
 * store_pg_db.h: one connection of the PostgreSQL backend, internal to
 * it (store_pg.c builds the table of operations on it): the schema and
 * its migrations, the prepared statements and their typed arguments,
 * the transactions, reconnection, and the reading of result columns.
 *
 * Arguments go and results come in binary: each statement declares the
 * types of its parameters (a letter each, see kps_pg_args), and the
 * kps_pg_arg_* that fill them must match.  Columns are read by type:
 * integers of any width, text, bytea, bool, float8.
 */
#ifndef KPS_STORE_PG_DB_H
#define KPS_STORE_PG_DB_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "store.h"

/* The statements, prepared on a connection on their first use. */
enum kps_pg_stmt {
	PG_USER_ADD, PG_USER_GET, PG_USER_EXISTS, PG_DEV_GET, PG_DEV_KEY,
	PG_KEY_USED, PG_DEV_COUNT, PG_DEV_ADD, PG_DEV_LIST, PG_DEV_REMOVE,
	PG_COUNT_DEV, PG_LIST_DEV, PG_DUMP_DEVICES, PG_LOAD_DEVICE,
	PG_SAVE, PG_REF_STATUS,
	PG_GET, PG_LIST_ALL, PG_LIST_STATE, PG_REQUEST_LOCK, PG_RESERVE,
	PG_REPLAY, PG_NAMED, PG_MARK, PG_ROW, PG_TOMB_REF, PG_SPEND,
	PG_RELEASE, PG_RETIRE, PG_CLEANUP, PG_EXP_RELEASE, PG_EXP_BURN,
	PG_COUNT_USER, PG_COUNT_ALL, PG_NONCE_ADD, PG_NONCE_SEEN,
	PG_NONCE_PRUNE, PG_RATE_TAKE, PG_RATE_PRUNE, PG_DUMP_USERS,
	PG_DUMP_ASIDE, PG_DUMP_KEYS, PG_DUMP_TOMBS, PG_DUMP_NONCES,
	PG_LOAD_USER, PG_LOAD_ASIDE, PG_LOAD_KEY, PG_LOAD_TOMB,
	PG_LOAD_NONCE, PG_CENSUS_KEYS, PG_CENSUS_REST,
	PG_USER_LIST, PG_USER_DEL, PG_USER_DEL_CONTACTS, PG_DEV_RETIRE, PG_DEV_SETKEY, PG_DEV_DEL,
	/* the drain budget's (store_pg_drain.c) */
	PG_DR_LOCK, PG_DR_FACTS, PG_DR_STRANGERS, PG_DR_POOL, PG_DR_TARGET, PG_DR_GRANT_ADD, PG_DR_GRANT_END,
	PG_DR_GRANT_PRUNE, PG_DR_CONTACT_ADD, PG_DR_CONTACT_COUNT,
	PG_DR_CONTACT_DEL, PG_DR_CONTACT_LIST, PG_DR_REG_FACTS,
	PG_DR_REG_ADD, PG_DR_REG_PRUNE, PG_DR_INVITE_ADD, PG_DR_INVITE_TAKE,
	PG_DR_INVITE_BACK,
	/* a copy's of the drain budget's tables (store_pg_copy.c) */
	PG_DUMP_CONTACTS, PG_DUMP_GRANTS, PG_DUMP_REGS, PG_DUMP_INVITES,
	PG_LOAD_CONTACT, PG_LOAD_GRANT, PG_LOAD_INVITE,
	PG_CENSUS_DRAIN,
	PG_NSTMTS
};

/*
 * The advisory locks (pg_advisory_xact_lock(KPS_PG_LOCKS, n)): the
 * schema's migration, and each sweep, which one instance runs at a
 * time; a reserve with a request_id locks (KPS_PG_REQUESTS, a hash of
 * caller and request_id); the drain budget of a target is locked by
 * pg_advisory_xact_lock(bigint) of a hash of its name (a key space of
 * its own).
 */
#define KPS_PG_LOCKS		0x6b706f6f	/* "kpoo" */
#define KPS_PG_LOCK_MIGRATE	1
#define KPS_PG_LOCK_RESERVATIONS 2
#define KPS_PG_LOCK_KEYS	3
#define KPS_PG_LOCK_NONCES	4
#define KPS_PG_LOCK_RATES	5
#define KPS_PG_LOCK_VACUUM	6
#define KPS_PG_LOCK_GRANTS	7
#define KPS_PG_REQUESTS		0x6b707271	/* "kprq" */

#define KPS_PG_MAXARGS	20

/*
 * A statement's arguments: kps_pg_args_init(), then a kps_pg_arg_*
 * each, in order.  types spells the types given, which must be the
 * statement's: t text, b bytea, i int8, n int4, f float8, l bool.
 */
struct kps_pg_args {
	int		 n;
	char		 types[KPS_PG_MAXARGS + 1];
	const char	*v[KPS_PG_MAXARGS];
	int		 len[KPS_PG_MAXARGS];
	int		 fmt[KPS_PG_MAXARGS];
	unsigned char	 num[KPS_PG_MAXARGS][8];
};

/* One connection; its base is what the dispatcher holds. */
struct kps_pg {
	struct kps_store	 base;
	PGconn			*conn;
	struct kps_store_conf	 conf;
	uint64_t		 prepared[2];	/* bit i: statement i is */
	int			 batch;		/* in the writer's
						   transaction */
	int			 own;		/* in an operation's own
						   (kps_pg_op_begin) */
	int			 begin_pending;	/* the batch's BEGIN goes
						   with its first statement */
	int64_t			 reset_at;	/* last reconnect, ms */
	int64_t			 vacuumed;	/* last upkeep look, ms */
	char			 err[256];
};
_Static_assert(PG_NSTMTS <= 128, "kps_pg.prepared has 128 bits");

/* store_pg_sql.c: kps_pg_sql: the SQL text of statement i (static);
 * kps_pg_types: the types of its parameters (see kps_pg_args);
 * kps_pg_migration: the SQL that takes the schema from version v to
 * v + 1, for v below kps_pg_nmigrations(). */
const char *kps_pg_sql(enum kps_pg_stmt i);
const char *kps_pg_types(enum kps_pg_stmt i);
int kps_pg_nmigrations(void);
const char *kps_pg_migration(int v);

/*
 * kps_pg_open: a new connection to the database of conninfo, with the
 * table ops, its schema migrated (under an advisory lock) unless conf
 * says readonly.  *out is set even on failure, so that the caller can
 * read the message before it closes *out with kps_pg_close().
 */
int kps_pg_open_with(const char *conninfo, const struct kps_store_conf *conf,
    const struct kps_store_ops *ops, struct kps_store **out) KP_WUR;

/* The connection-level operations of the table (see store.h). */
void kps_pg_close(struct kps_store *b);
const char *kps_pg_errmsg(struct kps_store *b);
int kps_pg_begin(struct kps_store *b);
int kps_pg_commit(struct kps_store *b);
int kps_pg_rollback(struct kps_store *b);
int kps_pg_in_batch(struct kps_store *b);
int kps_pg_checkpoint(struct kps_store *b);
/* Users and devices (store_pg_dev.c, see store.h). */
int kps_pg_user_get(struct kps_store *b, const char *name, char *canon);
int kps_pg_device_get(struct kps_store *b, const char *user,
    const char *device, uint8_t *pk, char *canon);
int kps_pg_device_add(struct kps_store *b, const char *user,
    const char *device, const uint8_t *pk, enum kps_dev_mode mode,
    int64_t now);
int kps_pg_device_remove(struct kps_store *b, const char *user,
    const char *device, int64_t now, uint64_t *retired);
int kps_pg_user_list(struct kps_store *b,
    int (*fn)(void *, const char *), void *arg);
int kps_pg_device_drop(struct kps_store *b, const char *user,
    const char *device, const uint8_t *pk, int64_t now, uint64_t *retired);
int kps_pg_device_list(struct kps_store *b, const char *user, int counts,
    int64_t now, char *canon, struct kps_device *out, size_t max,
    size_t *n);
/* What instances share besides keys (store_pg_shared.c). */
int kps_pg_nonce_add(struct kps_store *b, const char *keyid,
    const char *nonce, int64_t created);
int kps_pg_nonce_add_many(struct kps_store *b, struct kps_nonce *v,
    size_t n);
int kps_pg_nonce_seen(struct kps_store *b, const char *keyid,
    const char *nonce, int64_t created);
int kps_pg_nonce_prune(struct kps_store *b, int64_t before, int max,
    uint64_t *n);
int kps_pg_rate_take(struct kps_store *b, struct kps_take *v, size_t n,
    int64_t now_ms);
int kps_pg_rate_prune(struct kps_store *b, int64_t now_ms, int max,
    uint64_t *n);
/* The drain budget (store_pg_drain.c, see store.h). */
int kps_pg_budget_lock(struct kps_store *b, const char *const *targets,
    size_t n);
int kps_pg_device_check_many(struct kps_store *b, struct kps_keycheck *v,
    size_t n);
int kps_pg_budget_facts(struct kps_store *b, const struct kps_budget_ask *a,
    struct kps_budget_facts *f);
int kps_pg_budget_read(struct kps_store *b, const struct kps_budget_ask *a,
    struct kps_budget_facts *f, size_t n, struct kps_budget_tq *t, size_t m);
int kps_pg_grant_add_many(struct kps_store *b, const struct kps_grant *g,
    size_t n);
int kps_pg_budget_strangers(struct kps_store *b, const char *target,
    int64_t since, uint64_t *n, int64_t *first);
int kps_pg_budget_pool(struct kps_store *b, const char *target, int64_t now,
    uint64_t limit, uint64_t *n);
int kps_pg_grant_add(struct kps_store *b, const struct kps_grant *g);
int kps_pg_grant_end(struct kps_store *b, const char *caller,
    const uint8_t *ref, int how, int64_t now);
int kps_pg_grant_prune(struct kps_store *b, int64_t before, int max,
    uint64_t *n);
int kps_pg_contact_add(struct kps_store *b, const char *owner,
    const char *contact, enum kps_contact_kind kind, int64_t now);
int kps_pg_contact_remove(struct kps_store *b, const char *owner,
    const char *contact);
int kps_pg_contact_list(struct kps_store *b, const char *owner,
    char (*out)[KP_MAX_USERNAME + 1], size_t max, size_t *n);
int kps_pg_reg_facts(struct kps_store *b, const char *addr, int64_t since,
    uint64_t *n, int64_t *first);
int kps_pg_reg_add(struct kps_store *b, const char *addr, int64_t now);
int kps_pg_reg_prune(struct kps_store *b, int64_t before, int max,
    uint64_t *n);
int kps_pg_invite_add(struct kps_store *b, const uint8_t *hash, int uses,
    int64_t now);
int kps_pg_invite_take(struct kps_store *b, const uint8_t *hash,
    int give_back);
/* The copy of a database (store_pg_copy.c). */
int kps_pg_dump(struct kps_store *b,
    int (*row)(void *, const struct kps_row *), void *arg);
int kps_pg_load(struct kps_store *b, const struct kps_row *r);
int kps_pg_census(struct kps_store *b, struct kps_census *c);

/* kps_pg_args_init: no arguments yet. */
void kps_pg_args_init(struct kps_pg_args *a);
/* kps_pg_arg_text: a text argument; NULL is SQL NULL. */
void kps_pg_arg_text(struct kps_pg_args *a, const char *s);
/* kps_pg_arg_bytea: a bytea of n bytes at p (NULL: SQL NULL). */
void kps_pg_arg_bytea(struct kps_pg_args *a, const uint8_t *p, size_t n);
/* kps_pg_arg_i64, _i32, _f64, _bool: a number. */
void kps_pg_arg_i64(struct kps_pg_args *a, int64_t v);
void kps_pg_arg_i32(struct kps_pg_args *a, int32_t v);
void kps_pg_arg_f64(struct kps_pg_args *a, double v);
void kps_pg_arg_bool(struct kps_pg_args *a, int v);
/* kps_pg_arg_null: SQL NULL of type t (a letter of kps_pg_args). */
void kps_pg_arg_null(struct kps_pg_args *a, char t);

/* A statement of a pipeline: which, with what (NULL: nothing). */
struct kps_pg_call {
	enum kps_pg_stmt	  stmt;
	const struct kps_pg_args *args;
	PGresult		 *res;		/* set by kps_pg_pipeline */
};

/*
 * kps_pg_pipeline: run the n statements of c in order, in one round
 * trip (libpq's pipeline mode); each c[i].res is the result of its
 * statement (free it with PQclear).  KP_OK, or KP_EDB with no result
 * and the message kept: a statement failed (the others did nothing),
 * the connection is gone, or the writer's transaction was ended by the
 * database (then nothing runs until the writer ends the batch).  Out
 * of a transaction, a connection found broken is reset first, and
 * statements that only read, or that begin the writer's batch, are
 * tried once more on a new connection when it breaks under them.
 */
int kps_pg_pipeline(struct kps_pg *s, struct kps_pg_call *c, size_t n);
/* kps_pg_run: kps_pg_pipeline of one statement i with a: its result,
 * or NULL. */
PGresult *kps_pg_run(struct kps_pg *s, enum kps_pg_stmt i,
    const struct kps_pg_args *a);
/*
 * kps_pg_each: run statement i (which takes no argument) a row at a
 * time: fn(arg, r) with a result of one row, until fn returns other
 * than KP_OK; that, or KP_EDB.
 */
int kps_pg_each(struct kps_pg *s, enum kps_pg_stmt i,
    int (*fn)(void *, const PGresult *), void *arg);
/* kps_pg_done: kps_pg_run, the result dropped, the rows it changed in
 * *changed (when not NULL); KP_OK or KP_EDB. */
int kps_pg_done(struct kps_pg *s, enum kps_pg_stmt i,
    const struct kps_pg_args *a, uint64_t *changed);
/* kps_pg_sweep: kps_pg_done of statement i, a change of many rows,
 * with $1 a and, when b >= 0, $2 b (both int8). */
int kps_pg_sweep(struct kps_pg *s, enum kps_pg_stmt i, int64_t a, int64_t b,
    uint64_t *n);
/* kps_pg_err: keep what failed and the connection's message; KP_EDB. */
int kps_pg_err(struct kps_pg *s, const char *what);

/*
 * kps_pg_op_begin/kps_pg_op_end: make an operation of several
 * statements atomic: inside the writer's transaction it is (a failed
 * statement ends the whole batch), else it gets a transaction of its
 * own (*own), which kps_pg_op_end commits or rolls back by rc.
 */
int kps_pg_op_begin(struct kps_pg *s, int *own);
int kps_pg_op_end(struct kps_pg *s, int own, int rc);

/* Columns of a result: NULL reads as 0, "" or no bytes. */
int kps_pg_isnull(const PGresult *r, int row, int col);
int64_t kps_pg_int(const PGresult *r, int row, int col);
double kps_pg_f64(const PGresult *r, int row, int col);
/* kps_pg_text: column col as a string into out ("" for NULL). */
void kps_pg_text(const PGresult *r, int row, int col, char *out, size_t cap);
/* kps_pg_bytea: at most cap bytes of column col into out; *len (when
 * not NULL) the bytes copied. */
void kps_pg_bytea(const PGresult *r, int row, int col, uint8_t *out,
    size_t cap, size_t *len);
/* kps_pg_dupbytea: column col in a malloc'd *out; KP_ENOMEM. */
int kps_pg_dupbytea(const PGresult *r, int row, int col, uint8_t **out,
    size_t *len);
/*
 * kps_pg_row: fill r from row `row` of a result of PG_GET, PG_LIST_* or
 * PG_DUMP_KEYS (KEYCOLS, the effective state or the stored status text
 * in column 4, the device in 17, then request_id if there is a column
 * 18); r->key.bytes
 * is malloc'd.  KP_OK or KP_ENOMEM.
 */
int kps_pg_row(const PGresult *res, int row, struct kps_row *r);

#endif /* KPS_STORE_PG_DB_H */
