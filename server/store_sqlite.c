/* SPDX-License-Identifier: ISC */
/*
 * store_sqlite.c: the SQLite backend of the server's store (one file,
 * WAL, migrations numbered by PRAGMA user_version); see store.h.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <sqlite3.h>

#include "store.h"

/* Migrations: migrations[i] takes user_version i to i + 1. */
static const char *const migrations[] = {
	/* 1: the first schema */
	"CREATE TABLE users("
	"  name TEXT PRIMARY KEY,"
	"  public_key BLOB NOT NULL CHECK (length(public_key) = 32),"
	"  created_at INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"CREATE TABLE keypackages("
	"  keypackage_ref BLOB NOT NULL,"
	"  username TEXT NOT NULL,"
	"  keypackage_bytes BLOB NOT NULL,"
	"  uploaded_at INTEGER NOT NULL,"
	"  status TEXT NOT NULL"
	"    CHECK (status IN ('available', 'reserved', 'spent')),"
	"  reservation_id TEXT UNIQUE,"
	"  reservation_expires_at INTEGER,"
	"  reserved_by TEXT,"
	"  reserved_at INTEGER,"
	"  request_id TEXT,"
	"  spent_at INTEGER,"
	"  spent_by TEXT,"
	"  group_id BLOB,"
	"  not_after INTEGER NOT NULL,"
	"  credential_hash BLOB NOT NULL,"
	"  ciphersuite INTEGER NOT NULL,"
	"  init_key BLOB NOT NULL,"
	"  last_resort INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (username, keypackage_ref)"
	");"
	"CREATE UNIQUE INDEX keypackages_ref ON keypackages(keypackage_ref);"
	"CREATE INDEX keypackages_user_status"
	"  ON keypackages(username, status, last_resort, uploaded_at);"
	"CREATE INDEX keypackages_user_not_after"
	"  ON keypackages(username, not_after);"
	"CREATE INDEX keypackages_not_after ON keypackages(not_after);"
	"CREATE INDEX keypackages_reserved_until"
	"  ON keypackages(reservation_expires_at) WHERE status = 'reserved';"
	"CREATE INDEX keypackages_request ON keypackages(reserved_by,"
	"  request_id) WHERE request_id IS NOT NULL;"
	"CREATE UNIQUE INDEX keypackages_init_key"
	"  ON keypackages(username, init_key);"
	/* spent and retired refs (kind 0) and init keys (kind 1) */
	"CREATE TABLE tombstones("
	"  kind INTEGER NOT NULL,"
	"  value BLOB NOT NULL,"
	"  username TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  PRIMARY KEY (kind, value, username)"
	") WITHOUT ROWID;",
};
#define NMIGRATIONS	(sizeof(migrations) / sizeof(migrations[0]))

/*
 * Reserve walks keypackages_user_status in upload order (named with
 * INDEXED BY: without statistics the planner would rather sort the
 * user's keys by not_after, which is O(n) a reserve).
 */

/* The state a key is in at ?1 (now); :burn is 2 under burn, else 0. */
#define EFF	"CASE WHEN status = 'spent' THEN 2 "			\
		"WHEN not_after <= ?1 THEN 3 "				\
		"WHEN status = 'reserved' AND "				\
		"reservation_expires_at > ?1 THEN 1 "			\
		"WHEN status = 'reserved' THEN :burn ELSE 0 END"
#define KEYCOLS	"keypackage_ref, username, keypackage_bytes, uploaded_at, " \
		EFF ", last_resort, reservation_id, reserved_at, "	\
		"reservation_expires_at, reserved_by, spent_at, spent_by, " \
		"group_id, not_after, credential_hash, ciphersuite, init_key"

enum {
	S_USER_ADD, S_USER_GET, S_TOMB_CHECK, S_REF_EXISTS, S_INSERT,
	S_GET, S_LIST_ALL, S_LIST_STATE, S_REPLAY, S_USER_EXISTS,
	S_OLDEST, S_LAST_RESORT, S_NAMED, S_MARK_RESERVED, S_ROW,
	S_SPEND, S_TOMB_ADD, S_RELEASE, S_DELETE, S_CLEANUP,
	S_EXP_RELEASE, S_CLEAN_TOMB_REF, S_CLEAN_TOMB_INIT, S_EXP_BURN,
	S_COUNT_USER, S_COUNT_ALL,
	S_BEGIN, S_COMMIT, S_ROLLBACK, S_SAVEPOINT, S_RELEASE_SP,
	S_ROLLBACK_SP,
	S_NSTMT
};

struct sq_store {
	struct kps_store	 base;
	sqlite3			*db;
	struct kps_store_conf	 conf;
	sqlite3_stmt		*st[S_NSTMT];
	int			 batch;	/* in the writer's transaction */
	char			 err[256];
};

static const struct kps_store_ops sqlite_ops;

static const char *const sql_text[S_NSTMT] = {
	[S_USER_ADD] = "INSERT INTO users(name, public_key, created_at) "
	    "VALUES (?1, ?2, ?3) ON CONFLICT(name) DO NOTHING",
	[S_USER_GET] = "SELECT public_key FROM users WHERE name = ?1",
	[S_TOMB_CHECK] = "SELECT kind FROM tombstones WHERE "
	    "(kind = 0 AND value = ?1) OR "
	    "(kind = 1 AND value = ?2 AND username = ?3) ORDER BY kind LIMIT 1",
	[S_REF_EXISTS] = "SELECT status FROM keypackages "
	    "WHERE keypackage_ref = ?1",
	[S_INSERT] = "INSERT INTO keypackages(keypackage_ref, username, "
	    "keypackage_bytes, uploaded_at, status, not_after, "
	    "credential_hash, ciphersuite, init_key, last_resort) VALUES "
	    "(?1, ?2, ?3, ?4, 'available', ?5, ?6, ?7, ?8, ?9)",
	[S_GET] = "SELECT " KEYCOLS " FROM keypackages "
	    "WHERE keypackage_ref = ?2",
	[S_LIST_ALL] = "SELECT " KEYCOLS " FROM keypackages "
	    "WHERE username = ?2 ORDER BY uploaded_at, rowid",
	[S_LIST_STATE] = "SELECT " KEYCOLS " FROM keypackages "
	    "WHERE username = ?2 AND " EFF " = ?3 ORDER BY uploaded_at, rowid",
	/*
	 * Named: with the not_after term and no statistics, SQLite took
	 * (username, not_after) and read every key of the owner.
	 */
	[S_REPLAY] = "SELECT keypackage_ref, keypackage_bytes, "
	    "reservation_id, reservation_expires_at FROM keypackages "
	    "INDEXED BY keypackages_request WHERE reserved_by = ?1 AND request_id = ?2 AND username = ?3 "
	    "AND status = 'reserved' AND reservation_expires_at > ?4 "
	    "AND not_after > ?4",
	[S_USER_EXISTS] = "SELECT 1 FROM users WHERE name = ?1",
	[S_OLDEST] = "SELECT rowid, keypackage_ref, keypackage_bytes "
	    "FROM keypackages INDEXED BY keypackages_user_status "
	    "WHERE username = ?1 AND status = 'available' "
	    "AND last_resort = 0 AND not_after > ?2 "
	    "ORDER BY uploaded_at, rowid LIMIT 1",
	[S_LAST_RESORT] = "SELECT rowid, keypackage_ref, keypackage_bytes "
	    "FROM keypackages INDEXED BY keypackages_user_status "
	    "WHERE username = ?1 AND status = 'available' "
	    "AND last_resort = 1 AND not_after > ?2 "
	    "ORDER BY uploaded_at DESC, rowid DESC LIMIT 1",
	[S_NAMED] = "SELECT rowid, keypackage_ref, keypackage_bytes, status, "
	    "not_after, last_resort FROM keypackages WHERE "
	    "keypackage_ref = ?1 AND username = ?2",
	[S_MARK_RESERVED] = "UPDATE keypackages SET status = 'reserved', "
	    "reservation_id = ?1, reservation_expires_at = ?2, "
	    "reserved_by = ?3, reserved_at = ?4, request_id = ?5, "
	    "group_id = ?6 WHERE rowid = ?7",
	[S_ROW] = "SELECT rowid, username, status, reserved_by, "
	    "reservation_expires_at, not_after, last_resort, init_key, "
	    "spent_by FROM keypackages WHERE keypackage_ref = ?1",
	[S_SPEND] = "UPDATE keypackages SET status = 'spent', spent_at = ?1, "
	    "spent_by = ?2, group_id = ?3, request_id = NULL, "
	    "reservation_id = NULL WHERE rowid = ?4",
	[S_TOMB_ADD] = "INSERT OR IGNORE INTO tombstones(kind, value, "
	    "username, created_at) VALUES (?1, ?2, ?3, ?4)",
	[S_RELEASE] = "UPDATE keypackages SET status = 'available', "
	    "reservation_id = NULL, reservation_expires_at = NULL, "
	    "reserved_by = NULL, reserved_at = NULL, request_id = NULL, "
	    "group_id = NULL WHERE rowid = ?1",
	[S_DELETE] = "DELETE FROM keypackages WHERE rowid = ?1",
	[S_CLEANUP] = "DELETE FROM keypackages WHERE not_after <= ?1",
	/* reserved_by and the expiry stay, so a late spend learns 410 */
	[S_EXP_RELEASE] = "UPDATE keypackages SET status = 'available', "
	    "reservation_id = NULL, request_id = NULL, group_id = NULL "
	    "WHERE status = 'reserved' AND reservation_expires_at <= ?1",
	/*
	 * A spent key's row is its own tombstone (its ref and init_key
	 * are unique); tombstones are written when the row goes.
	 */
	[S_CLEAN_TOMB_REF] = "INSERT OR IGNORE INTO tombstones(kind, value, "
	    "username, created_at) SELECT 0, keypackage_ref, username, ?2 "
	    "FROM keypackages WHERE not_after <= ?1 AND status = 'spent'",
	[S_CLEAN_TOMB_INIT] = "INSERT OR IGNORE INTO tombstones(kind, value, "
	    "username, created_at) SELECT 1, init_key, username, ?2 "
	    "FROM keypackages WHERE not_after <= ?1 AND status = 'spent'",
	[S_EXP_BURN] = "UPDATE keypackages SET status = 'spent', "
	    "spent_at = ?1, spent_by = NULL, reservation_id = NULL, "
	    "request_id = NULL WHERE status = 'reserved' AND "
	    "reservation_expires_at <= ?1",
	[S_COUNT_USER] = "SELECT " EFF ", last_resort, count(*) "
	    "FROM keypackages WHERE username = ?2 GROUP BY 1, 2",
	[S_COUNT_ALL] = "SELECT " EFF ", last_resort, count(*) "
	    "FROM keypackages GROUP BY 1, 2",
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_SAVEPOINT] = "SAVEPOINT op",
	[S_RELEASE_SP] = "RELEASE op",
	[S_ROLLBACK_SP] = "ROLLBACK TO op",
};

static int
dberr(struct sq_store *s, const char *what)
{
	snprintf(s->err, sizeof(s->err), "%s: %s", what,
	    s->db ? sqlite3_errmsg(s->db) : "no database");
	return KP_EDB;
}

/* stmt: the prepared statement i, reset and with no bindings. */
static sqlite3_stmt *
stmt(struct sq_store *s, int i)
{
	int	b;

	/*
	 * SQLite may roll a transaction back on its own (SQLITE_FULL,
	 * IOERR, BUSY, NOMEM): then what the batch did is gone, and a
	 * statement now would commit alone.  Refuse until the writer
	 * ends the batch.
	 */
	if (s->batch && i != S_ROLLBACK && sqlite3_get_autocommit(s->db)) {
		snprintf(s->err, sizeof(s->err), "the transaction was rolled "
		    "back by SQLite");
		return NULL;
	}
	if (s->st[i] == NULL) {
		if (sqlite3_prepare_v3(s->db, sql_text[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL) != SQLITE_OK) {
			dberr(s, "prepare");
			return NULL;
		}
	}
	sqlite3_reset(s->st[i]);
	sqlite3_clear_bindings(s->st[i]);
	/* The EFF expression takes the burn setting. */
	if ((b = sqlite3_bind_parameter_index(s->st[i], ":burn")) > 0)
		sqlite3_bind_int(s->st[i], b, s->conf.burn ? 2 : 0);
	return s->st[i];
}

static int
exec(struct sq_store *s, const char *sql)
{
	char	*msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(s->err, sizeof(s->err), "%s", msg ? msg : "exec");
		sqlite3_free(msg);
		return KP_EDB;
	}
	return KP_OK;
}

/*
 * op_begin/op_end: make one operation atomic: a savepoint inside the
 * writer's transaction, or a transaction of its own.
 */
static int
run(struct sq_store *s, int i)
{
	sqlite3_stmt	*st;
	int		 r;

	if ((st = stmt(s, i)) == NULL)
		return KP_EDB;
	r = sqlite3_step(st);
	sqlite3_reset(st);
	if (r != SQLITE_DONE)
		return dberr(s, sql_text[i]);
	return KP_OK;
}

static int
op_begin(struct sq_store *s, int *own)
{
	*own = sqlite3_get_autocommit(s->db);
	return run(s, *own ? S_BEGIN : S_SAVEPOINT);
}

/*
 * op_begin1/op_end1: the same for an operation whose only change is
 * its last statement (one INSERT or UPDATE, atomic by itself): inside
 * the writer's transaction it needs no savepoint.
 */
static int
op_begin1(struct sq_store *s, int *own)
{
	*own = sqlite3_get_autocommit(s->db);
	return *own ? run(s, S_BEGIN) : KP_OK;
}

static int
op_end1(struct sq_store *s, int own, int rc)
{
	if (!own)
		return rc;
	if (rc == KP_OK) {
		if (run(s, S_COMMIT) == KP_OK)
			return KP_OK;
		rc = KP_EDB;
	}
	(void)run(s, S_ROLLBACK);
	return rc;
}

static int
op_end(struct sq_store *s, int own, int rc)
{
	if (rc == KP_OK) {
		if (run(s, own ? S_COMMIT : S_RELEASE_SP) == KP_OK)
			return KP_OK;
		rc = KP_EDB;
	}
	if (own)
		(void)run(s, S_ROLLBACK);
	else {
		(void)run(s, S_ROLLBACK_SP);
		(void)run(s, S_RELEASE_SP);
	}
	return rc;
}

static int
done(struct sq_store *s, sqlite3_stmt *st, const char *what)
{
	int	r = sqlite3_step(st);

	sqlite3_reset(st);
	if (r != SQLITE_DONE)
		return dberr(s, what);
	return KP_OK;
}

static void
textcol(sqlite3_stmt *st, int i, char *out, size_t cap)
{
	const unsigned char	*t = sqlite3_column_text(st, i);

	snprintf(out, cap, "%s", t ? (const char *)t : "");
}

static void
blobcol(sqlite3_stmt *st, int i, uint8_t *out, size_t cap, size_t *len)
{
	const void	*b = sqlite3_column_blob(st, i);
	size_t		 n = (size_t)sqlite3_column_bytes(st, i);

	if (n > cap)
		n = cap;
	if (b != NULL && n > 0)
		memcpy(out, b, n);
	else
		n = 0;
	if (len != NULL)
		*len = n;
}

/* dupblob: copy a BLOB column into a malloc'd buffer. */
static int
dupblob(sqlite3_stmt *st, int i, uint8_t **out, size_t *len)
{
	const void	*b = sqlite3_column_blob(st, i);
	size_t		 n = (size_t)sqlite3_column_bytes(st, i);

	if ((*out = malloc(n ? n : 1)) == NULL)
		return KP_ENOMEM;
	if (n > 0)
		memcpy(*out, b, n);
	*len = n;
	return KP_OK;
}

/* rowkey: fill k from a row of KEYCOLS. */
static int
rowkey(sqlite3_stmt *st, struct kps_key *k)
{
	memset(k, 0, sizeof(*k));
	blobcol(st, 0, k->ref, sizeof(k->ref), NULL);
	textcol(st, 1, k->username, sizeof(k->username));
	if (dupblob(st, 2, &k->bytes, &k->len) != KP_OK)
		return KP_ENOMEM;
	k->uploaded_at = sqlite3_column_int64(st, 3);
	k->status = sqlite3_column_int(st, 4);
	k->last_resort = sqlite3_column_int(st, 5);
	k->not_after = sqlite3_column_int64(st, 13);
	blobcol(st, 14, k->credential_hash, sizeof(k->credential_hash), NULL);
	k->suite = (uint16_t)sqlite3_column_int(st, 15);
	blobcol(st, 16, k->init_key, sizeof(k->init_key), NULL);
	if (k->status == KPS_RESERVED) {
		textcol(st, 6, k->reservation_id, sizeof(k->reservation_id));
		k->reserved_at = sqlite3_column_int64(st, 7);
		k->reservation_expires_at = sqlite3_column_int64(st, 8);
		textcol(st, 9, k->reserved_by, sizeof(k->reserved_by));
		blobcol(st, 12, k->group_id, sizeof(k->group_id),
		    &k->group_id_len);
	} else if (k->status == KPS_SPENT ||
	    (k->status == KPS_EXPIRED && sqlite3_column_type(st, 10) !=
	    SQLITE_NULL)) {
		k->reserved_at = sqlite3_column_int64(st, 7);
		textcol(st, 9, k->reserved_by, sizeof(k->reserved_by));
		k->spent_at = sqlite3_column_int64(st, 10);
		textcol(st, 11, k->spent_by, sizeof(k->spent_by));
		blobcol(st, 12, k->group_id, sizeof(k->group_id),
		    &k->group_id_len);
		if (sqlite3_column_type(st, 10) == SQLITE_NULL) {
			/* burned at the end of its reservation */
			k->spent_at = sqlite3_column_int64(st, 8);
			k->spent_by[0] = '\0';
		}
	}
	return KP_OK;
}

int
kps_sqlite_open(const char *path, const struct kps_store_conf *conf,
    struct kps_store **out)
{
	struct sq_store	*s;
	int		 rc;

	*out = NULL;
	if (sodium_init() < 0)
		return KP_ECRYPTO;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return KP_ENOMEM;
	s->base.ops = &sqlite_ops;
	if (conf != NULL)
		s->conf = *conf;
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		rc = dberr(s, path);
		goto out;
	}
	sqlite3_busy_timeout(s->db, 10000);
	if ((rc = exec(s, "PRAGMA journal_mode = WAL")) != KP_OK ||
	    (rc = exec(s, "PRAGMA synchronous = NORMAL")) != KP_OK)
		goto out;
	if (s->conf.manual_checkpoint &&
	    (rc = exec(s, "PRAGMA wal_autocheckpoint = 0")) != KP_OK)
		goto out;
	/* the writer keeps the hot index pages of a large store cached */
	if (!s->conf.readonly &&
	    (rc = exec(s, "PRAGMA cache_size = -16384")) != KP_OK)
		goto out;
	if (!s->conf.readonly && (rc = kp_sqlite_migrate(s->db, migrations,
	    NMIGRATIONS, s->err, sizeof(s->err))) != KP_OK)
		goto out;
	if (s->conf.readonly && (rc = exec(s, "PRAGMA query_only = 1")) != KP_OK)
		goto out;
	*out = &s->base;
	return KP_OK;
out:
	/* keep the message: the caller reports it before closing */
	*out = &s->base;
	return rc;
}

static void
sq_close(struct kps_store *b)
{
	struct sq_store	*s = (struct sq_store *)b;
	int		 i;

	for (i = 0; i < S_NSTMT; i++)
		sqlite3_finalize(s->st[i]);
	if (s->db != NULL)
		sqlite3_close(s->db);
	free(s);
}

static const char *
sq_errmsg(struct kps_store *b)
{
	return ((struct sq_store *)b)->err;
}

static int
sq_begin(struct kps_store *b)
{
	struct sq_store	*s = (struct sq_store *)b;
	int		 rc;

	if ((rc = run(s, S_BEGIN)) == KP_OK)
		s->batch = 1;
	return rc;
}

static int
sq_commit(struct kps_store *b)
{
	struct sq_store	*s = (struct sq_store *)b;
	int		 rc;

	rc = run(s, S_COMMIT);
	/* a failed COMMIT leaves the transaction open for a rollback */
	if (rc == KP_OK)
		s->batch = 0;
	return rc;
}

static int
sq_rollback(struct kps_store *b)
{
	struct sq_store	*s = (struct sq_store *)b;
	int		 rc = KP_OK;

	if (!sqlite3_get_autocommit(s->db))
		rc = run(s, S_ROLLBACK);
	s->batch = 0;
	return rc;
}

static int
sq_in_batch(struct kps_store *b)
{
	struct sq_store	*s = (struct sq_store *)b;

	return s->batch && !sqlite3_get_autocommit(s->db);
}

static int
sq_checkpoint(struct kps_store *b)
{
	struct sq_store	*s = (struct sq_store *)b;

	if (sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
	    NULL, NULL) != SQLITE_OK)
		return dberr(s, "checkpoint");
	return KP_OK;
}

static int
sq_user_get_inner(struct sq_store *s, const char *name, uint8_t *pk)
{
	sqlite3_stmt	*st;
	int		 r;

	if ((st = stmt(s, S_USER_GET)) == NULL)
		return KP_EDB;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32) {
		memcpy(pk, sqlite3_column_blob(st, 0), 32);
		sqlite3_reset(st);
		return KP_OK;
	}
	sqlite3_reset(st);
	if (r == SQLITE_DONE)
		return KP_ENOTFOUND;
	return dberr(s, "user get");
}

static int
sq_user_get(struct kps_store *b, const char *name, uint8_t *pk)
{
	return sq_user_get_inner((struct sq_store *)b, name, pk);
}

static int
sq_user_add(struct kps_store *b, const char *name, const uint8_t *pk,
    int64_t now)
{
	struct sq_store	*s = (struct sq_store *)b;
	sqlite3_stmt	*st;
	uint8_t		 have[32];
	int		 own, rc;

	if ((rc = op_begin1(s, &own)) != KP_OK)
		return rc;
	if ((st = stmt(s, S_USER_ADD)) == NULL) {
		rc = KP_EDB;
		goto out;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, pk, 32, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	if ((rc = done(s, st, "user add")) != KP_OK)
		goto out;
	if (sqlite3_changes(s->db) == 0) {
		if ((rc = sq_user_get_inner(s, name, have)) != KP_OK)
			goto out;
		rc = sodium_memcmp(have, pk, 32) == 0 ? KP_OK : KP_EEXIST;
	}
out:
	return op_end1(s, own, rc);
}

static int
sq_save(struct kps_store *b, const struct kps_key *k)
{
	struct sq_store	*s = (struct sq_store *)b;
	sqlite3_stmt	*st;
	int		 own, rc, r;

	if ((rc = op_begin1(s, &own)) != KP_OK)
		return rc;
	rc = KP_EDB;
	if ((st = stmt(s, S_TOMB_CHECK)) == NULL)
		goto out;
	sqlite3_bind_blob(st, 1, k->ref, KP_REF_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, k->init_key, KP_KEY_LEN, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, k->username, -1, SQLITE_STATIC);
	if ((r = sqlite3_step(st)) == SQLITE_ROW) {
		rc = sqlite3_column_int(st, 0) == 0 ? KP_ESTATE : KP_ECONFLICT;
		sqlite3_reset(st);
		goto out;
	}
	sqlite3_reset(st);
	if (r != SQLITE_DONE) {
		rc = dberr(s, "tombstones");
		goto out;
	}
	if ((st = stmt(s, S_REF_EXISTS)) == NULL)
		goto out;
	sqlite3_bind_blob(st, 1, k->ref, KP_REF_LEN, SQLITE_STATIC);
	if ((r = sqlite3_step(st)) == SQLITE_ROW) {
		rc = strcmp((const char *)sqlite3_column_text(st, 0),
		    "spent") == 0 ? KP_ESTATE : KP_EEXIST;
		sqlite3_reset(st);
		goto out;
	}
	sqlite3_reset(st);
	if (r != SQLITE_DONE) {
		rc = dberr(s, "ref lookup");
		goto out;
	}
	if ((st = stmt(s, S_INSERT)) == NULL)
		goto out;
	sqlite3_bind_blob(st, 1, k->ref, KP_REF_LEN, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, k->username, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, k->bytes, (int)k->len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, k->uploaded_at);
	sqlite3_bind_int64(st, 5, k->not_after);
	sqlite3_bind_blob(st, 6, k->credential_hash, 32, SQLITE_STATIC);
	sqlite3_bind_int(st, 7, k->suite);
	sqlite3_bind_blob(st, 8, k->init_key, KP_KEY_LEN, SQLITE_STATIC);
	sqlite3_bind_int(st, 9, k->last_resort ? 1 : 0);
	r = sqlite3_step(st);
	sqlite3_reset(st);
	if (r == SQLITE_CONSTRAINT || (r & 0xff) == SQLITE_CONSTRAINT)
		rc = KP_ECONFLICT;	/* init_key in use by a live key */
	else if (r != SQLITE_DONE)
		rc = dberr(s, "insert");
	else
		rc = KP_OK;
out:
	return op_end1(s, own, rc);
}

static int
sq_get(struct kps_store *b, const uint8_t *ref, int64_t now,
    struct kps_key *out)
{
	struct sq_store	*s = (struct sq_store *)b;
	sqlite3_stmt	*st;
	int		 r, rc;

	memset(out, 0, sizeof(*out));
	if ((st = stmt(s, S_GET)) == NULL)
		return KP_EDB;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_blob(st, 2, ref, KP_REF_LEN, SQLITE_STATIC);
	if ((r = sqlite3_step(st)) == SQLITE_ROW)
		rc = rowkey(st, out);
	else if (r == SQLITE_DONE)
		rc = KP_ENOTFOUND;
	else
		rc = dberr(s, "get");
	sqlite3_reset(st);
	return rc;
}

static int
sq_list_user(struct kps_store *b, const char *user, int status, int64_t now,
    struct kps_key **keys, size_t *n)
{
	struct sq_store	*s = (struct sq_store *)b;
	sqlite3_stmt	*st;
	struct kps_key	*k = NULL, *nk;
	size_t		 cnt = 0, cap = 0;
	int		 r, rc;

	*keys = NULL;
	*n = 0;
	if ((st = stmt(s, status < 0 ? S_LIST_ALL : S_LIST_STATE)) == NULL)
		return KP_EDB;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_text(st, 2, user, -1, SQLITE_STATIC);
	if (status >= 0)
		sqlite3_bind_int(st, 3, status);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nk = reallocarray(k, cap, sizeof(*k))) == NULL) {
				rc = KP_ENOMEM;
				goto out;
			}
			k = nk;
		}
		if ((rc = rowkey(st, &k[cnt])) != KP_OK)
			goto out;
		cnt++;
	}
	if (r != SQLITE_DONE) {
		rc = dberr(s, "list");
		goto out;
	}
	*keys = k;
	*n = cnt;
	k = NULL;
	cnt = 0;
	rc = KP_OK;
out:
	sqlite3_reset(st);
	kps_key_list_free(k, cnt);
	return rc;
}

/*
 * new_reservation_id: 48 bits of milliseconds then 80 random bits, in
 * hex: unique and unguessable, and in order, so its index grows at
 * its right edge instead of touching a random page per reservation.
 */
static void
new_reservation_id(char out[65])
{
	struct timespec	ts;
	uint64_t	ms;
	uint8_t		id[16];
	int		i;

	clock_gettime(CLOCK_REALTIME, &ts);
	ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	for (i = 0; i < 6; i++)
		id[i] = (uint8_t)(ms >> (40 - 8 * i));
	randombytes_buf(id + 6, sizeof(id) - 6);
	kp_hex(id, sizeof(id), out);
}

/* take: copy ref (col 1) and bytes (col 2) of a row into out. */
static int
take(sqlite3_stmt *st, int refcol, int bytescol, struct kps_reservation *out)
{
	blobcol(st, refcol, out->ref, sizeof(out->ref), NULL);
	return dupblob(st, bytescol, &out->bytes, &out->len);
}

/*
 * last_resort: hand out the last-resort key of the row st is on (ref
 * in column 1, bytes in 2) without marking it reserved; resets st.
 */
static int
last_resort(sqlite3_stmt *st, const struct kps_reserve *r,
    struct kps_reservation *out)
{
	int	rc;

	rc = take(st, 1, 2, out);
	sqlite3_reset(st);
	new_reservation_id(out->reservation_id);
	out->expires_at = r->now + r->ttl;
	out->last_resort = 1;
	return rc;
}

static int
sq_reserve(struct kps_store *b, const struct kps_reserve *r,
    struct kps_reservation *out)
{
	struct sq_store	*s = (struct sq_store *)b;
	sqlite3_stmt	*st;
	int64_t		 rowid;
	int		 own, rc, x;

	memset(out, 0, sizeof(*out));
	if ((rc = op_begin1(s, &own)) != KP_OK)
		return rc;
	rc = KP_EDB;
	if (r->request_id != NULL) {
		if ((st = stmt(s, S_REPLAY)) == NULL)
			goto out;
		sqlite3_bind_text(st, 1, r->caller, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, r->request_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, r->target, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, r->now);
		if ((x = sqlite3_step(st)) == SQLITE_ROW) {
			rc = take(st, 0, 1, out);
			textcol(st, 2, out->reservation_id,
			    sizeof(out->reservation_id));
			out->expires_at = sqlite3_column_int64(st, 3);
			out->replayed = 1;
			sqlite3_reset(st);
			goto out;
		}
		sqlite3_reset(st);
		if (x != SQLITE_DONE) {
			rc = dberr(s, "replay");
			goto out;
		}
	}
	if ((st = stmt(s, S_USER_EXISTS)) == NULL)
		goto out;
	sqlite3_bind_text(st, 1, r->target, -1, SQLITE_STATIC);
	x = sqlite3_step(st);
	sqlite3_reset(st);
	if (x == SQLITE_DONE) {
		rc = KP_ENOTFOUND;
		goto out;
	} else if (x != SQLITE_ROW) {
		rc = dberr(s, "user");
		goto out;
	}
	if (r->ref != NULL) {
		if (strcmp(r->caller, r->target) != 0) {
			rc = KP_EFORBIDDEN;
			goto out;
		}
		if ((st = stmt(s, S_NAMED)) == NULL)
			goto out;
		sqlite3_bind_blob(st, 1, r->ref, KP_REF_LEN, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, r->target, -1, SQLITE_STATIC);
		if ((x = sqlite3_step(st)) == SQLITE_DONE) {
			sqlite3_reset(st);
			rc = KP_ENOTFOUND;
			goto out;
		} else if (x != SQLITE_ROW) {
			sqlite3_reset(st);
			rc = dberr(s, "named key");
			goto out;
		}
		if (strcmp((const char *)sqlite3_column_text(st, 3),
		    "available") != 0 ||
		    sqlite3_column_int64(st, 4) <= r->now) {
			sqlite3_reset(st);
			rc = KP_ECONFLICT;
			goto out;
		}
		if (sqlite3_column_int(st, 5)) {
			/* served, never consumed, named or not */
			rc = last_resort(st, r, out);
			goto out;
		}
	} else {
		if ((st = stmt(s, S_OLDEST)) == NULL)
			goto out;
		sqlite3_bind_text(st, 1, r->target, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, r->now);
		if ((x = sqlite3_step(st)) == SQLITE_DONE) {
			/* nothing left: the last-resort key, not consumed */
			sqlite3_reset(st);
			if ((st = stmt(s, S_LAST_RESORT)) == NULL)
				goto out;
			sqlite3_bind_text(st, 1, r->target, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 2, r->now);
			if ((x = sqlite3_step(st)) == SQLITE_ROW) {
				rc = last_resort(st, r, out);
				goto out;
			}
			sqlite3_reset(st);
			rc = x == SQLITE_DONE ? KP_EEXHAUSTED :
			    dberr(s, "last resort");
			goto out;
		} else if (x != SQLITE_ROW) {
			sqlite3_reset(st);
			rc = dberr(s, "oldest");
			goto out;
		}
	}
	rowid = sqlite3_column_int64(st, 0);
	rc = take(st, 1, 2, out);
	sqlite3_reset(st);
	if (rc != KP_OK)
		goto out;
	new_reservation_id(out->reservation_id);
	out->expires_at = r->now + r->ttl;
	if ((st = stmt(s, S_MARK_RESERVED)) == NULL) {
		rc = KP_EDB;
		goto out;
	}
	sqlite3_bind_text(st, 1, out->reservation_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, out->expires_at);
	sqlite3_bind_text(st, 3, r->caller, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, r->now);
	if (r->request_id != NULL)
		sqlite3_bind_text(st, 5, r->request_id, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 6, r->group_id ? r->group_id :
	    (const uint8_t *)"", (int)r->group_id_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, rowid);
	rc = done(s, st, "reserve");
out:
	rc = op_end1(s, own, rc);
	if (rc != KP_OK)
		kps_reservation_clear(out);
	return rc;
}

/* A key as spend, release and retire see it. */
struct row {
	int64_t	 rowid;
	char	 owner[KP_MAX_USERNAME + 1];
	char	 status[16];
	char	 reserved_by[KP_MAX_USERNAME + 1];
	int	 has_reservation;
	int64_t	 reservation_expires_at;
	int64_t	 not_after;
	int	 last_resort;
	uint8_t	 init_key[KP_KEY_LEN];
	int	 spent_by_null;
};

static int
getrow(struct sq_store *s, const uint8_t *ref, struct row *w)
{
	sqlite3_stmt	*st;
	int		 x;

	memset(w, 0, sizeof(*w));
	if ((st = stmt(s, S_ROW)) == NULL)
		return KP_EDB;
	sqlite3_bind_blob(st, 1, ref, KP_REF_LEN, SQLITE_STATIC);
	if ((x = sqlite3_step(st)) == SQLITE_ROW) {
		w->rowid = sqlite3_column_int64(st, 0);
		textcol(st, 1, w->owner, sizeof(w->owner));
		textcol(st, 2, w->status, sizeof(w->status));
		textcol(st, 3, w->reserved_by, sizeof(w->reserved_by));
		w->has_reservation = sqlite3_column_type(st, 4) !=
		    SQLITE_NULL;
		w->reservation_expires_at = sqlite3_column_int64(st, 4);
		w->not_after = sqlite3_column_int64(st, 5);
		w->last_resort = sqlite3_column_int(st, 6);
		blobcol(st, 7, w->init_key, sizeof(w->init_key), NULL);
		w->spent_by_null = sqlite3_column_type(st, 8) == SQLITE_NULL;
	}
	sqlite3_reset(st);
	if (x == SQLITE_DONE)
		return KP_ENOTFOUND;
	return x == SQLITE_ROW ? KP_OK : dberr(s, "key");
}

static int
tombstone(struct sq_store *s, const char *user, const uint8_t *ref,
    const uint8_t *init_key, int64_t now)
{
	sqlite3_stmt	*st;
	int		 rc, kind;

	for (kind = 0; kind < 2; kind++) {
		if ((st = stmt(s, S_TOMB_ADD)) == NULL)
			return KP_EDB;
		sqlite3_bind_int(st, 1, kind);
		sqlite3_bind_blob(st, 2, kind ? init_key : ref, 32,
		    SQLITE_STATIC);
		sqlite3_bind_text(st, 3, user, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, now);
		if ((rc = done(s, st, "tombstone")) != KP_OK)
			return rc;
	}
	return KP_OK;
}

/* tombstoned: KP_ECONFLICT when ref was spent or retired, else
 * KP_ENOTFOUND. */
static int
tombstoned(struct sq_store *s, const uint8_t *ref)
{
	sqlite3_stmt	*st;
	int		 x;

	if ((st = stmt(s, S_TOMB_CHECK)) == NULL)
		return KP_EDB;
	sqlite3_bind_blob(st, 1, ref, KP_REF_LEN, SQLITE_STATIC);
	x = sqlite3_step(st);
	sqlite3_reset(st);
	if (x == SQLITE_ROW)
		return KP_ECONFLICT;
	return x == SQLITE_DONE ? KP_ENOTFOUND : dberr(s, "tombstones");
}

static int
sq_spend(struct kps_store *b, const char *caller, const uint8_t *ref,
    const uint8_t *group_id, size_t group_id_len, int64_t now)
{
	struct sq_store	*s = (struct sq_store *)b;
	struct row	 w;
	sqlite3_stmt	*st;
	int		 own, rc, owner, mine, live;

	if ((rc = op_begin1(s, &own)) != KP_OK)
		return rc;
	if ((rc = getrow(s, ref, &w)) != KP_OK) {
		if (rc == KP_ENOTFOUND)
			rc = tombstoned(s, ref);
		goto out;
	}
	owner = strcmp(w.owner, caller) == 0;
	mine = strcmp(w.reserved_by, caller) == 0;
	live = w.has_reservation && w.reservation_expires_at > now;
	if (strcmp(w.status, "spent") == 0) {
		/* burned at the end of the caller's reservation: 410 */
		rc = w.spent_by_null && mine && !owner ? KP_EGONE :
		    KP_ECONFLICT;
		goto out;
	}
	if (w.last_resort && strcmp(w.status, "available") == 0) {
		rc = KP_OK;	/* handed out again and again, never spent */
		goto out;
	}
	if (strcmp(w.status, "reserved") == 0 && live) {
		if (!mine) {
			rc = KP_EFORBIDDEN;
			goto out;
		}
	} else if (!owner) {
		/* no live reservation: the caller's ran out, or never was */
		rc = mine && w.has_reservation ? KP_EGONE : KP_EFORBIDDEN;
		goto out;
	}
	if ((st = stmt(s, S_SPEND)) == NULL) {
		rc = KP_EDB;
		goto out;
	}
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_text(st, 2, caller, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, group_id ? group_id : (const uint8_t *)"",
	    (int)group_id_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, w.rowid);
	rc = done(s, st, "spend");
out:
	return op_end1(s, own, rc);
}

static int
sq_release(struct kps_store *b, const char *caller, const uint8_t *ref,
    int64_t now)
{
	struct sq_store	*s = (struct sq_store *)b;
	struct row	 w;
	sqlite3_stmt	*st;
	int		 own, rc, mine;

	if ((rc = op_begin1(s, &own)) != KP_OK)
		return rc;
	if ((rc = getrow(s, ref, &w)) != KP_OK)
		goto out;
	mine = strcmp(w.reserved_by, caller) == 0;
	if (strcmp(w.status, "spent") == 0) {
		rc = KP_ECONFLICT;
		goto out;
	}
	if (strcmp(w.status, "available") == 0) {
		/* a last-resort key, or a reservation that ran out */
		rc = w.last_resort || (mine && w.has_reservation) ? KP_OK :
		    KP_ESTATE;
		goto out;
	}
	if (!mine) {
		rc = KP_EFORBIDDEN;
		goto out;
	}
	if ((st = stmt(s, S_RELEASE)) == NULL) {
		rc = KP_EDB;
		goto out;
	}
	sqlite3_bind_int64(st, 1, w.rowid);
	rc = done(s, st, "release");
out:
	return op_end1(s, own, rc);
}

static int
sq_retire(struct kps_store *b, const char *caller, const uint8_t *ref,
    int64_t now)
{
	struct sq_store	*s = (struct sq_store *)b;
	struct row	 w;
	sqlite3_stmt	*st;
	int		 own, rc;

	if ((rc = op_begin(s, &own)) != KP_OK)
		return rc;
	if ((rc = getrow(s, ref, &w)) != KP_OK)
		goto out;
	if (strcmp(w.owner, caller) != 0) {
		rc = KP_EFORBIDDEN;
		goto out;
	}
	if ((rc = tombstone(s, w.owner, ref, w.init_key, now)) != KP_OK)
		goto out;
	if ((st = stmt(s, S_DELETE)) == NULL) {
		rc = KP_EDB;
		goto out;
	}
	sqlite3_bind_int64(st, 1, w.rowid);
	rc = done(s, st, "retire");
out:
	return op_end(s, own, rc);
}

static int
sq_cleanup_expired(struct kps_store *b, int64_t now, int64_t keep,
    uint64_t *n)
{
	struct sq_store	*s = (struct sq_store *)b;
	sqlite3_stmt	*st;
	int		 own, rc, i;

	if (n != NULL)
		*n = 0;
	if ((rc = op_begin(s, &own)) != KP_OK)
		return rc;
	for (i = 0; i < 2; i++) {
		if ((st = stmt(s, i ? S_CLEAN_TOMB_INIT : S_CLEAN_TOMB_REF)) ==
		    NULL) {
			rc = KP_EDB;
			goto out;
		}
		sqlite3_bind_int64(st, 1, now - keep);
		sqlite3_bind_int64(st, 2, now);
		if ((rc = done(s, st, "cleanup tombstones")) != KP_OK)
			goto out;
	}
	if ((st = stmt(s, S_CLEANUP)) == NULL) {
		rc = KP_EDB;
		goto out;
	}
	sqlite3_bind_int64(st, 1, now - keep);
	if ((rc = done(s, st, "cleanup")) == KP_OK && n != NULL)
		*n = (uint64_t)sqlite3_changes(s->db);
out:
	return op_end(s, own, rc);
}

static int
sq_release_expired(struct kps_store *b, int64_t now, uint64_t *n)
{
	struct sq_store	*s = (struct sq_store *)b;
	sqlite3_stmt	*st;
	int		 own, rc;

	if (n != NULL)
		*n = 0;
	if ((rc = op_begin1(s, &own)) != KP_OK)
		return rc;
	if ((st = stmt(s, s->conf.burn ? S_EXP_BURN : S_EXP_RELEASE)) ==
	    NULL) {
		rc = KP_EDB;
		goto out;
	}
	sqlite3_bind_int64(st, 1, now);
	if ((rc = done(s, st, "expire reservations")) != KP_OK)
		goto out;
	if (n != NULL)
		*n = (uint64_t)sqlite3_changes(s->db);
out:
	return op_end1(s, own, rc);
}

static int
sq_count(struct kps_store *b, const char *user, int64_t now,
    struct kps_counts *out)
{
	struct sq_store	*s = (struct sq_store *)b;
	sqlite3_stmt	*st;
	int		 x, state;
	uint64_t	 c;

	memset(out, 0, sizeof(*out));
	if ((st = stmt(s, user ? S_COUNT_USER : S_COUNT_ALL)) == NULL)
		return KP_EDB;
	sqlite3_bind_int64(st, 1, now);
	if (user != NULL)
		sqlite3_bind_text(st, 2, user, -1, SQLITE_STATIC);
	while ((x = sqlite3_step(st)) == SQLITE_ROW) {
		state = sqlite3_column_int(st, 0);
		c = (uint64_t)sqlite3_column_int64(st, 2);
		if (state >= 0 && state < 4)
			out->n[state] += c;
		if (sqlite3_column_int(st, 1))
			out->last_resort += c;
	}
	sqlite3_reset(st);
	return x == SQLITE_DONE ? KP_OK : dberr(s, "count");
}

static const struct kps_store_ops sqlite_ops = {
	.name = "sqlite",
	.close = sq_close,
	.errmsg = sq_errmsg,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.in_batch = sq_in_batch,
	.checkpoint = sq_checkpoint,
	.user_add = sq_user_add,
	.user_get = sq_user_get,
	.save = sq_save,
	.get = sq_get,
	.list_user = sq_list_user,
	.reserve = sq_reserve,
	.spend = sq_spend,
	.release = sq_release,
	.retire = sq_retire,
	.cleanup_expired = sq_cleanup_expired,
	.release_expired = sq_release_expired,
	.count = sq_count,
};
