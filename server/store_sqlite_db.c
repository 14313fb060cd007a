/* SPDX-License-Identifier: ISC */
/*
 * store_sqlite_db.c: one connection of the server's SQLite store (one
 * file, WAL, migrations numbered by PRAGMA user_version): its schema and
 * statements, its transactions, its users and the nonces of signatures;
 * see store_sqlite_db.h.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <sqlite3.h>

#include "store_rules.h"
#include "store_sqlite_db.h"

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
	/*
	 * 2: the nonces of signatures, by created first, so that new
	 * ones go to the right edge of the tree and stale ones leave
	 * from its left; id is 64 bits of BLAKE2b(keyid NUL nonce)
	 */
	"CREATE TABLE nonces("
	"  created INTEGER NOT NULL,"
	"  id INTEGER NOT NULL,"
	"  PRIMARY KEY (created, id)"
	") WITHOUT ROWID;",
	/*
	 * 3: user names compared without case (ASCII): unique and looked
	 * up by the folded name, the first registration's spelling kept.
	 * A later name that folds to an earlier one's is set aside, and
	 * its keys are retired (tombstones kept): docs/security.md.  The
	 * times written are the migration's own, from SQLite's clock.
	 */
	"CREATE TABLE users3("
	"  folded TEXT PRIMARY KEY,"
	"  name TEXT NOT NULL,"
	"  public_key BLOB NOT NULL CHECK (length(public_key) = 32),"
	"  created_at INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"INSERT OR IGNORE INTO users3 SELECT lower(name), name, public_key,"
	"  created_at FROM users ORDER BY created_at, name;"
	"CREATE TABLE users_set_aside("
	"  name TEXT PRIMARY KEY,"
	"  public_key BLOB NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  kept TEXT NOT NULL,"
	"  set_aside_at INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"INSERT INTO users_set_aside SELECT u.name, u.public_key,"
	"  u.created_at, k.name, CAST(strftime('%s', 'now') AS INTEGER)"
	"  FROM users u JOIN users3 k ON k.folded = lower(u.name)"
	"  WHERE k.name <> u.name;"
	"INSERT OR IGNORE INTO tombstones(kind, value, username, created_at)"
	"  SELECT 0, keypackage_ref, username,"
	"  CAST(strftime('%s', 'now') AS INTEGER) FROM keypackages"
	"  WHERE username IN (SELECT name FROM users_set_aside);"
	"INSERT OR IGNORE INTO tombstones(kind, value, username, created_at)"
	"  SELECT 1, init_key, username,"
	"  CAST(strftime('%s', 'now') AS INTEGER) FROM keypackages"
	"  WHERE username IN (SELECT name FROM users_set_aside);"
	"DELETE FROM keypackages"
	"  WHERE username IN (SELECT name FROM users_set_aside);"
	"DROP TABLE users;"
	"ALTER TABLE users3 RENAME TO users;",
	/*
	 * 4: the rate limits' token buckets (store.h, kps_take), shared
	 * with other instances on PostgreSQL, here so that both backends
	 * keep them alike; a bucket is forgotten once full again (full_at,
	 * milliseconds), when it is the same as none.  A rowid table:
	 * the prune deletes by rowid (a key of text columns would be
	 * searched by its first column only)
	 */
	"CREATE TABLE buckets("
	"  kind INTEGER NOT NULL,"
	"  a TEXT NOT NULL,"
	"  b TEXT NOT NULL,"
	"  tokens REAL NOT NULL,"
	"  at INTEGER NOT NULL,"
	"  full_at INTEGER NOT NULL,"
	"  taken INTEGER NOT NULL,"
	"  UNIQUE (kind, a, b)"
	");"
	"CREATE INDEX buckets_full ON buckets(full_at);",
	/*
	 * 5: devices.  A user has devices, each with its own key (one
	 * key, one device); every user gets the device "default" with
	 * its key, and every key is the default device's.  A key held by
	 * two users before stays the first's (by created_at); the other
	 * user is left without a device, for the operator to give it one
	 * (kpool-server device add).  Reserve of one device, of one suite
	 * or both walks an index of its own, in upload order; those hold
	 * the available keys only, so that a reserve deletes one entry of
	 * each and writes none.
	 */
	"CREATE TABLE devices("
	"  username TEXT NOT NULL,"
	"  device TEXT NOT NULL,"
	"  public_key BLOB NOT NULL UNIQUE CHECK (length(public_key) = 32),"
	"  created_at INTEGER NOT NULL,"
	"  PRIMARY KEY (username, device)"
	") WITHOUT ROWID;"
	"INSERT OR IGNORE INTO devices SELECT name, 'default', public_key,"
	"  created_at FROM users ORDER BY created_at, name;"
	"CREATE TABLE users4("
	"  folded TEXT PRIMARY KEY,"
	"  name TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"INSERT INTO users4 SELECT folded, name, created_at FROM users;"
	"DROP TABLE users;"
	"ALTER TABLE users4 RENAME TO users;"
	"ALTER TABLE keypackages ADD COLUMN device TEXT NOT NULL"
	"  DEFAULT 'default';"
	"CREATE INDEX keypackages_user_suite ON keypackages(username,"
	"  ciphersuite, last_resort, uploaded_at)"
	"  WHERE status = 'available';"
	"CREATE INDEX keypackages_device_status ON keypackages(username,"
	"  device, last_resort, uploaded_at) WHERE status = 'available';"
	"CREATE INDEX keypackages_device_suite ON keypackages(username,"
	"  device, ciphersuite, last_resort, uploaded_at)"
	"  WHERE status = 'available';",
	/*
	 * 6: the drain budget (store_drain.c): contacts (folded names:
	 * owner has contact, by a vouch or a spend) and the grants of
	 * reservations of other users' keys, forgotten once expired
	 * past the window
	 */
	"CREATE TABLE contacts("
	"  owner TEXT NOT NULL,"
	"  contact TEXT NOT NULL,"
	"  kind INTEGER NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  PRIMARY KEY (owner, contact, kind)"
	") WITHOUT ROWID;"
	"CREATE TABLE grants("
	"  caller TEXT NOT NULL,"
	"  target TEXT NOT NULL,"
	"  device TEXT NOT NULL,"
	"  ref BLOB NOT NULL,"
	"  stranger INTEGER NOT NULL,"
	"  granted_at INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL,"
	"  ended INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE INDEX grants_target ON grants(target, granted_at)"
	"  WHERE stranger = 1;"
	"CREATE INDEX grants_caller ON grants(caller, expires_at)"
	"  WHERE ended = 0;"
	"CREATE INDEX grants_ref ON grants(ref);"
	"CREATE INDEX grants_expires ON grants(expires_at);"
	/* registrations by source address; invitations by their hash */
	"CREATE TABLE registrations("
	"  address TEXT NOT NULL,"
	"  at INTEGER NOT NULL"
	");"
	"CREATE INDEX registrations_address ON registrations(address, at);"
	"CREATE INDEX registrations_at ON registrations(at);"
	"CREATE TABLE invites("
	"  hash BLOB PRIMARY KEY,"
	"  uses INTEGER NOT NULL,"
	"  created_at INTEGER NOT NULL"
	") WITHOUT ROWID;",
};
#define NMIGRATIONS	(sizeof(migrations) / sizeof(migrations[0]))

/*
 * Reserve walks keypackages_user_status in upload order (named with
 * INDEXED BY: without statistics the planner would rather sort the
 * user's keys by not_after, which is O(n) a reserve).
 */

/*
 * The state a key is in at ?1 (now), numbered as lib's enum kp_state.
 * BURN, the state of a reservation whose TTL passed (spent under burn,
 * else available), is bound by kps_sq_stmt(): a parameter of its own
 * number, since a named one would take the next free number, which a
 * later ?2 of the statement would then share.
 */
#define BURN	"?20"
#define EFF	KPS_SQL_EFF("?1", BURN)
#define KEYCOLS	KPS_SQL_KEYCOLS(EFF)

/*
 * PICK: the statement that finds the oldest (or, last resort, the
 * newest) available unexpired key of user ?1 at ?2, through index idx,
 * with more terms: device ?3, suite ?4.
 */
#define PICK(idx, terms, lr, order)					\
	"SELECT rowid, keypackage_ref, keypackage_bytes, device, "	\
	"ciphersuite FROM keypackages INDEXED BY " idx " "		\
	"WHERE username = ?1" terms " AND status = 'available' "	\
	"AND last_resort = " lr " AND not_after > ?2 "			\
	"ORDER BY uploaded_at" order ", rowid" order " LIMIT 1"
#define DEV	" AND device = ?3"
#define SUITE	" AND ciphersuite = ?4"

static const char *const sql_text[SQ_NSTMTS] = {
	/* names are ASCII: SQLite's lower() folds exactly that */
	[SQ_USER_ADD] = "INSERT INTO users(folded, name, created_at) "
	    "VALUES (lower(?1), ?1, ?2)",
	[SQ_USER_GET] = "SELECT name FROM users WHERE folded = lower(?1)",
	[SQ_DEV_GET] = "SELECT d.public_key, u.name FROM users u "
	    "JOIN devices d ON d.username = u.name "
	    "WHERE u.folded = lower(?1) AND d.device = ?2",
	[SQ_DEV_KEY] = "SELECT public_key FROM devices "
	    "WHERE username = ?1 AND device = ?2",
	[SQ_KEY_USED] = "SELECT 1 FROM devices WHERE public_key = ?1",
	[SQ_DEV_COUNT] = "SELECT count(*) FROM devices WHERE username = ?1",
	[SQ_DEV_ADD] = "INSERT INTO devices(username, device, public_key, "
	    "created_at) VALUES (?1, ?2, ?3, ?4)",
	[SQ_DEV_LIST] = "SELECT device, public_key, created_at FROM devices "
	    "WHERE username = ?1 ORDER BY device",
	[SQ_DEV_DEL] = "DELETE FROM devices WHERE username = ?1 AND "
	    "device = ?2",
	[SQ_DEV_TOMB_REF] = "INSERT OR IGNORE INTO tombstones(kind, value, "
	    "username, created_at) SELECT 0, keypackage_ref, username, ?3 "
	    "FROM keypackages WHERE username = ?1 AND device = ?2",
	[SQ_DEV_TOMB_INIT] = "INSERT OR IGNORE INTO tombstones(kind, value, "
	    "username, created_at) SELECT 1, init_key, username, ?3 "
	    "FROM keypackages WHERE username = ?1 AND device = ?2",
	[SQ_DEV_KEYS_DEL] = "DELETE FROM keypackages WHERE username = ?1 "
	    "AND device = ?2",
	[SQ_USER_LIST] = "SELECT name FROM users ORDER BY folded",
	[SQ_USER_DEL] = "DELETE FROM users WHERE name = ?1",
	/* a name set free takes none of its old contacts along */
	[SQ_USER_DEL_CONTACTS] = "DELETE FROM contacts WHERE "
	    "owner = lower(?1) OR contact = lower(?1)",
	[SQ_DEV_SETKEY] = "UPDATE devices SET public_key = ?3 "
	    "WHERE username = ?1 AND device = ?2",
	[SQ_COUNT_DEV] = "SELECT device, ciphersuite, " EFF ", last_resort, "
	    "count(*) FROM keypackages WHERE username = ?2 "
	    "GROUP BY 1, 2, 3, 4",
	[SQ_NONCE_ADD] = "INSERT INTO nonces(created, id) VALUES (?1, ?2) "
	    "ON CONFLICT DO NOTHING",
	[SQ_NONCE_SEEN] = "SELECT 1 FROM nonces WHERE created = ?1 AND id = ?2",
	[SQ_NONCE_PRUNE] = "DELETE FROM nonces WHERE (created, id) IN "
	    "(SELECT created, id FROM nonces WHERE created < ?1 "
	    "ORDER BY created LIMIT ?2)",
	[SQ_TOMB_CHECK] = "SELECT kind FROM tombstones WHERE "
	    "(kind = 0 AND value = ?1) OR "
	    "(kind = 1 AND value = ?2 AND username = ?3) ORDER BY kind LIMIT 1",
	[SQ_REF_EXISTS] = "SELECT status FROM keypackages "
	    "WHERE keypackage_ref = ?1",
	[SQ_INSERT] = "INSERT INTO keypackages(keypackage_ref, username, "
	    "keypackage_bytes, uploaded_at, status, not_after, "
	    "credential_hash, ciphersuite, init_key, last_resort, device) "
	    "VALUES (?1, ?2, ?3, ?4, 'available', ?5, ?6, ?7, ?8, ?9, ?10)",
	[SQ_GET] = "SELECT " KEYCOLS " FROM keypackages "
	    "WHERE keypackage_ref = ?2",
	[SQ_LIST_ALL] = "SELECT " KEYCOLS " FROM keypackages "
	    "WHERE username = ?2 ORDER BY uploaded_at, rowid",
	[SQ_LIST_DEV] = "SELECT " KEYCOLS " FROM keypackages "
	    "WHERE username = ?2 AND device = ?4 ORDER BY uploaded_at, rowid",
	[SQ_LIST_STATE] = "SELECT " KEYCOLS " FROM keypackages "
	    "WHERE username = ?2 AND (?4 IS NULL OR device = ?4) AND "
	    EFF " = ?3 ORDER BY uploaded_at, rowid",
	/*
	 * Named: with the not_after term and no statistics, SQLite took
	 * (username, not_after) and read every key of the owner.
	 */
	[SQ_REPLAY] = "SELECT keypackage_ref, keypackage_bytes, "
	    "reservation_id, reservation_expires_at, device, ciphersuite "
	    "FROM keypackages "
	    "INDEXED BY keypackages_request WHERE reserved_by = ?1 AND "
	    "request_id = ?2 AND username = ?3 "
	    "AND (?5 IS NULL OR device = ?5) "
	    "AND status = 'reserved' AND reservation_expires_at > ?4 "
	    "AND not_after > ?4",
	[SQ_OLDEST] = PICK("keypackages_user_status", "", "0", ""),
	[SQ_OLDEST_S] = PICK("keypackages_user_suite", SUITE, "0", ""),
	[SQ_OLDEST_D] = PICK("keypackages_device_status", DEV, "0", ""),
	[SQ_OLDEST_DS] = PICK("keypackages_device_suite", DEV SUITE, "0", ""),
	[SQ_LAST_RESORT] = PICK("keypackages_user_status", "", "1", " DESC"),
	[SQ_LAST_RESORT_S] = PICK("keypackages_user_suite", SUITE, "1",
	    " DESC"),
	[SQ_LAST_RESORT_D] = PICK("keypackages_device_status", DEV, "1",
	    " DESC"),
	[SQ_LAST_RESORT_DS] = PICK("keypackages_device_suite", DEV SUITE, "1",
	    " DESC"),
	[SQ_NAMED] = "SELECT rowid, keypackage_ref, keypackage_bytes, status, "
	    "not_after, last_resort, device, ciphersuite FROM keypackages "
	    "WHERE keypackage_ref = ?1 AND username = ?2",
	[SQ_MARK_RESERVED] = "UPDATE keypackages SET status = 'reserved', "
	    "reservation_id = ?1, reservation_expires_at = ?2, "
	    "reserved_by = ?3, reserved_at = ?4, request_id = ?5, "
	    "group_id = ?6 WHERE rowid = ?7",
	[SQ_ROW] = "SELECT rowid, username, status, reserved_by, "
	    "reservation_expires_at, not_after, last_resort, init_key, "
	    "spent_by, group_id, device, reserved_at IS NULL "
	    "FROM keypackages WHERE keypackage_ref = ?1",
	/* a spend that names no group keeps the reservation's */
	[SQ_SPEND] = "UPDATE keypackages SET status = 'spent', spent_at = ?1, "
	    "spent_by = ?2, group_id = CASE WHEN length(?3) > 0 THEN ?3 "
	    "ELSE group_id END, request_id = NULL, reserved_by = CASE WHEN "
	    "reserved_at IS NULL THEN NULL ELSE reserved_by END, "
	    "reservation_id = NULL WHERE rowid = ?4",
	/* a last-resort key handed out: who and for which group, latest */
	[SQ_LR_GRANT] = "UPDATE keypackages SET reserved_by = ?1, "
	    "reserved_at = ?2, group_id = ?3 WHERE rowid = ?4",
	[SQ_TOMB_ADD] = "INSERT OR IGNORE INTO tombstones(kind, value, "
	    "username, created_at) VALUES (?1, ?2, ?3, ?4)",
	/*
	 * reserved_by and the expiry stay, reserved_at goes: a retry of
	 * the release by the same caller is answered 200 (store_rules.c)
	 */
	[SQ_RELEASE] = "UPDATE keypackages SET status = 'available', "
	    "reservation_id = NULL, reserved_at = NULL, request_id = NULL, "
	    "group_id = NULL WHERE rowid = ?1",
	[SQ_DELETE] = "DELETE FROM keypackages WHERE rowid = ?1",
	[SQ_CLEANUP] = "DELETE FROM keypackages WHERE not_after <= ?1",
	/* reserved_by and the expiry stay, so a late spend learns 410 */
	[SQ_EXP_RELEASE] = "UPDATE keypackages SET status = 'available', "
	    "reservation_id = NULL, request_id = NULL, group_id = NULL "
	    "WHERE status = 'reserved' AND reservation_expires_at <= ?1",
	/*
	 * A spent key's row is its own tombstone (its ref and init_key
	 * are unique); tombstones are written when the row goes.
	 */
	[SQ_CLEAN_TOMB_REF] = "INSERT OR IGNORE INTO tombstones(kind, value, "
	    "username, created_at) SELECT 0, keypackage_ref, username, ?2 "
	    "FROM keypackages WHERE not_after <= ?1 AND status = 'spent'",
	[SQ_CLEAN_TOMB_INIT] = "INSERT OR IGNORE INTO tombstones(kind, value, "
	    "username, created_at) SELECT 1, init_key, username, ?2 "
	    "FROM keypackages WHERE not_after <= ?1 AND status = 'spent'",
	[SQ_EXP_BURN] = "UPDATE keypackages SET status = 'spent', "
	    "spent_at = ?1, spent_by = NULL, reservation_id = NULL, "
	    "request_id = NULL WHERE status = 'reserved' AND "
	    "reservation_expires_at <= ?1",
	[SQ_COUNT_USER] = "SELECT " EFF ", last_resort, count(*) "
	    "FROM keypackages WHERE username = ?2 GROUP BY 1, 2",
	[SQ_COUNT_ALL] = "SELECT " EFF ", last_resort, count(*) "
	    "FROM keypackages GROUP BY 1, 2",
	/*
	 * ?1 kind, ?2 a, ?3 b, ?4 now (ms), ?5 the burst, ?6 tokens a
	 * millisecond: the bucket refilled to now (SET reads the old
	 * row), less the token taken when there is one, and when it will
	 * be full again.
	 */
#define REFILL	"min(?5, tokens + max(?4 - at, 0) * ?6)"
#define LEFT	"(" REFILL " - (" REFILL " >= 1))"
	[SQ_RATE_TAKE] = "INSERT INTO buckets(kind, a, b, tokens, at, "
	    "full_at, taken) VALUES (?1, ?2, ?3, ?5 - 1, ?4, "
	    "?4 + CAST(1 / ?6 AS INTEGER) + 1, 1) "
	    "ON CONFLICT(kind, a, b) DO UPDATE SET tokens = " LEFT ", "
	    "taken = " REFILL " >= 1, at = max(?4, at), "
	    "full_at = max(?4, at) + CAST((?5 - " LEFT ") / ?6 AS INTEGER) "
	    "+ 1 RETURNING tokens, taken",
#undef REFILL
#undef LEFT
	[SQ_RATE_PRUNE] = "DELETE FROM buckets WHERE rowid IN "
	    "(SELECT rowid FROM buckets WHERE full_at <= ?1 "
	    "ORDER BY full_at LIMIT ?2)",
	/* a copy (store_sqlite_copy.c), in kps_row_kind's order */
	[SQ_DUMP_USERS] = "SELECT name, created_at FROM users "
	    "ORDER BY created_at, name",
	[SQ_DUMP_DEVICES] = "SELECT username, device, public_key, created_at "
	    "FROM devices ORDER BY username, device",
	[SQ_DUMP_ASIDE] = "SELECT name, public_key, created_at, kept, "
	    "set_aside_at FROM users_set_aside ORDER BY name",
	[SQ_DUMP_KEYS] = "SELECT keypackage_ref, username, keypackage_bytes, "
	    "uploaded_at, status, last_resort, reservation_id, reserved_at, "
	    "reservation_expires_at, reserved_by, spent_at, spent_by, "
	    "group_id, not_after, credential_hash, ciphersuite, init_key, "
	    "device, request_id FROM keypackages ORDER BY uploaded_at, rowid",
	[SQ_DUMP_TOMBS] = "SELECT kind, value, username, created_at "
	    "FROM tombstones ORDER BY created_at, kind, value",
	[SQ_DUMP_NONCES] = "SELECT created, id FROM nonces "
	    "ORDER BY created, id",
	[SQ_LOAD_USER] = "INSERT OR IGNORE INTO users(folded, name, "
	    "created_at) VALUES (lower(?1), ?1, ?3)",
	[SQ_LOAD_DEVICE] = "INSERT OR IGNORE INTO devices(username, device, "
	    "public_key, created_at) VALUES (?1, ?2, ?3, ?4)",
	[SQ_LOAD_ASIDE] = "INSERT OR IGNORE INTO users_set_aside(name, "
	    "public_key, created_at, kept, set_aside_at) "
	    "VALUES (?1, ?2, ?3, ?4, ?5)",
	[SQ_LOAD_KEY] = "INSERT OR IGNORE INTO keypackages(keypackage_ref, "
	    "username, keypackage_bytes, uploaded_at, status, last_resort, "
	    "reservation_id, reserved_at, reservation_expires_at, "
	    "reserved_by, spent_at, spent_by, group_id, not_after, "
	    "credential_hash, ciphersuite, init_key, request_id, device) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
	    "?14, ?15, ?16, ?17, ?18, ?19)",
	[SQ_LOAD_TOMB] = "INSERT OR IGNORE INTO tombstones(kind, value, "
	    "username, created_at) VALUES (?1, ?2, ?3, ?4)",
	[SQ_LOAD_NONCE] = "INSERT OR IGNORE INTO nonces(created, id) "
	    "VALUES (?1, ?2)",
	[SQ_CENSUS_KEYS] = "SELECT status, last_resort, count(*), "
	    "count(reservation_id) FROM keypackages GROUP BY 1, 2",
	[SQ_CENSUS_REST] = "SELECT (SELECT count(*) FROM users), "
	    "(SELECT count(*) FROM tombstones WHERE kind = 0), "
	    "(SELECT count(*) FROM tombstones WHERE kind = 1), "
	    "(SELECT count(*) FROM users_set_aside), "
	    "(SELECT count(*) FROM nonces), "
	    "(SELECT count(*) FROM devices)",
	[SQ_BEGIN] = "BEGIN IMMEDIATE",
	[SQ_BEGIN_READ] = "BEGIN",
	[SQ_COMMIT] = "COMMIT",
	[SQ_ROLLBACK] = "ROLLBACK",
	[SQ_SAVEPOINT] = "SAVEPOINT op",
	[SQ_RELEASE_SP] = "RELEASE op",
	[SQ_ROLLBACK_SP] = "ROLLBACK TO op",
};

const char *
kps_sq_sql(enum kps_sq_stmt i)
{
	return i >= SQ_DRAIN_FIRST ? kps_sq_drain_sql(i) : sql_text[i];
}

int
kps_sq_err(struct kps_sq *s, const char *what)
{
	snprintf(s->err, sizeof(s->err), "%s: %s", what,
	    s->db ? sqlite3_errmsg(s->db) : "no database");
	return KP_EDB;
}

sqlite3_stmt *
kps_sq_stmt(struct kps_sq *s, enum kps_sq_stmt i)
{
	int	b;

	/*
	 * SQLite may roll a transaction back on its own (SQLITE_FULL,
	 * IOERR, BUSY, NOMEM): then what the batch did is gone, and a
	 * statement now would commit alone.  Refuse until the writer
	 * ends the batch.
	 */
	if (s->batch && sqlite3_get_autocommit(s->db)) {
		snprintf(s->err, sizeof(s->err), "the transaction was rolled "
		    "back by SQLite");
		return NULL;
	}
	if (s->st[i] == NULL) {
		if (sqlite3_prepare_v3(s->db, kps_sq_sql(i), -1,
		    SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL) != SQLITE_OK) {
			kps_sq_err(s, "prepare");
			return NULL;
		}
	}
	sqlite3_reset(s->st[i]);
	sqlite3_clear_bindings(s->st[i]);
	/* The EFF expression takes the burn setting. */
	if ((b = sqlite3_bind_parameter_index(s->st[i], BURN)) > 0)
		sqlite3_bind_int(s->st[i], b, s->conf.burn ? KP_STATE_SPENT :
		    KP_STATE_AVAILABLE);
	return s->st[i];
}

static int
exec(struct kps_sq *s, const char *sql)
{
	char	*msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(s->err, sizeof(s->err), "%s", msg ? msg : "exec");
		sqlite3_free(msg);
		return KP_EDB;
	}
	return KP_OK;
}

/* run: step statement i, which returns no row. */
static int
run(struct kps_sq *s, enum kps_sq_stmt i)
{
	sqlite3_stmt	*st;
	int		 r;

	if ((st = kps_sq_stmt(s, i)) == NULL)
		return KP_EDB;
	r = sqlite3_step(st);
	sqlite3_reset(st);
	if (r != SQLITE_DONE)
		return kps_sq_err(s, sql_text[i]);
	return KP_OK;
}

int
kps_sq_op_begin(struct kps_sq *s, int *own)
{
	*own = sqlite3_get_autocommit(s->db);
	return run(s, *own ? SQ_BEGIN : SQ_SAVEPOINT);
}

int
kps_sq_op_begin1(struct kps_sq *s, int *own)
{
	*own = sqlite3_get_autocommit(s->db);
	return *own ? run(s, SQ_BEGIN) : KP_OK;
}

int
kps_sq_op_begin_read(struct kps_sq *s, int *own)
{
	*own = sqlite3_get_autocommit(s->db);
	return *own ? run(s, SQ_BEGIN_READ) : KP_OK;
}

int
kps_sq_op_end1(struct kps_sq *s, int own, int rc)
{
	if (!own)
		return rc;
	if (rc == KP_OK) {
		if (run(s, SQ_COMMIT) == KP_OK)
			return KP_OK;
		rc = KP_EDB;
	}
	(void)run(s, SQ_ROLLBACK);
	return rc;
}

int
kps_sq_op_end(struct kps_sq *s, int own, int rc)
{
	if (rc == KP_OK) {
		if (run(s, own ? SQ_COMMIT : SQ_RELEASE_SP) == KP_OK)
			return KP_OK;
		rc = KP_EDB;
	}
	if (own)
		(void)run(s, SQ_ROLLBACK);
	else {
		(void)run(s, SQ_ROLLBACK_SP);
		(void)run(s, SQ_RELEASE_SP);
	}
	return rc;
}

int
kps_sq_done(struct kps_sq *s, sqlite3_stmt *st, const char *what)
{
	int	r = sqlite3_step(st);

	sqlite3_reset(st);
	if (r != SQLITE_DONE)
		return kps_sq_err(s, what);
	return KP_OK;
}

int
kps_sq_sweep(struct kps_sq *s, enum kps_sq_stmt i, int64_t a, int64_t b,
    uint64_t *n, const char *what)
{
	sqlite3_stmt	*st;
	int		 own, rc;

	if (n != NULL)
		*n = 0;
	if ((rc = kps_sq_op_begin1(s, &own)) != KP_OK)
		return rc;
	if ((st = kps_sq_stmt(s, i)) == NULL)
		rc = KP_EDB;
	else {
		sqlite3_bind_int64(st, 1, a);
		if (b >= 0)
			sqlite3_bind_int64(st, 2, b);
		if ((rc = kps_sq_done(s, st, what)) == KP_OK && n != NULL)
			*n = (uint64_t)sqlite3_changes(s->db);
	}
	return kps_sq_op_end1(s, own, rc);
}

void
kps_sq_text(sqlite3_stmt *st, int i, char *out, size_t cap)
{
	const unsigned char	*t = sqlite3_column_text(st, i);

	snprintf(out, cap, "%s", t ? (const char *)t : "");
}

void
kps_sq_blob(sqlite3_stmt *st, int i, uint8_t *out, size_t cap, size_t *len)
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

int
kps_sq_dupblob(sqlite3_stmt *st, int i, uint8_t **out, size_t *len)
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

/* null: set bit in r->null when column i of st is NULL. */
static void
null(sqlite3_stmt *st, int i, struct kps_row *r, unsigned bit)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		r->null |= bit;
}

int
kps_sq_row(sqlite3_stmt *st, struct kps_row *r)
{
	struct kps_key	*k = &r->key;

	memset(r, 0, sizeof(*r));
	r->kind = KPS_ROW_KEY;
	kps_sq_blob(st, 0, k->ref, sizeof(k->ref), NULL);
	kps_sq_text(st, 1, k->username, sizeof(k->username));
	if (kps_sq_dupblob(st, 2, &k->bytes, &k->len) != KP_OK)
		return KP_ENOMEM;
	k->uploaded_at = sqlite3_column_int64(st, 3);
	if (sqlite3_column_type(st, 4) == SQLITE_TEXT)
		k->status = kps_state_parse((const char *)
		    sqlite3_column_text(st, 4));
	else
		k->status = sqlite3_column_int(st, 4);
	k->last_resort = sqlite3_column_int(st, 5);
	kps_sq_text(st, 6, k->reservation_id, sizeof(k->reservation_id));
	null(st, 6, r, KPS_NULL_RESERVATION_ID);
	k->reserved_at = sqlite3_column_int64(st, 7);
	null(st, 7, r, KPS_NULL_RESERVED_AT);
	k->reservation_expires_at = sqlite3_column_int64(st, 8);
	null(st, 8, r, KPS_NULL_EXPIRES);
	kps_sq_text(st, 9, k->reserved_by, sizeof(k->reserved_by));
	null(st, 9, r, KPS_NULL_RESERVED_BY);
	k->spent_at = sqlite3_column_int64(st, 10);
	null(st, 10, r, KPS_NULL_SPENT_AT);
	kps_sq_text(st, 11, k->spent_by, sizeof(k->spent_by));
	null(st, 11, r, KPS_NULL_SPENT_BY);
	kps_sq_blob(st, 12, k->group_id, sizeof(k->group_id),
	    &k->group_id_len);
	null(st, 12, r, KPS_NULL_GROUP_ID);
	k->not_after = sqlite3_column_int64(st, 13);
	kps_sq_blob(st, 14, k->credential_hash, sizeof(k->credential_hash),
	    NULL);
	k->suite = (uint16_t)sqlite3_column_int(st, 15);
	kps_sq_blob(st, 16, k->init_key, sizeof(k->init_key), NULL);
	kps_sq_text(st, 17, k->device, sizeof(k->device));
	r->null |= KPS_NULL_REQUEST_ID;
	if (sqlite3_column_count(st) > 18) {
		kps_sq_text(st, 18, r->request_id, sizeof(r->request_id));
		if (sqlite3_column_type(st, 18) != SQLITE_NULL)
			r->null &= ~KPS_NULL_REQUEST_ID;
	}
	return KP_OK;
}

int
kps_sq_key(sqlite3_stmt *st, struct kps_key *k)
{
	struct kps_row	r;

	memset(k, 0, sizeof(*k));
	if (kps_sq_row(st, &r) != KP_OK)
		return KP_ENOMEM;
	kps_key_view(&r, r.key.status, k);
	return KP_OK;
}

int
kps_sq_open(const char *path, const struct kps_store_conf *conf,
    const struct kps_store_ops *ops, struct kps_store **out)
{
	struct kps_sq	*s;
	int		 rc;

	*out = NULL;
	if (sodium_init() < 0)
		return KP_ECRYPTO;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return KP_ENOMEM;
	s->base.ops = ops;
	if (conf != NULL)
		s->conf = *conf;
	/* a reader does not create the file */
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
	    (s->conf.readonly ? 0 : SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX,
	    NULL) != SQLITE_OK) {
		rc = kps_sq_err(s, path);
		goto out;
	}
	sqlite3_busy_timeout(s->db, 10000);
	if ((rc = exec(s, "PRAGMA journal_mode = WAL")) != KP_OK ||
	    (rc = exec(s, "PRAGMA synchronous = NORMAL")) != KP_OK ||
	    (rc = exec(s, "PRAGMA temp_store = MEMORY")) != KP_OK)
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
	if (s->conf.readonly &&
	    (rc = exec(s, "PRAGMA query_only = 1")) != KP_OK)
		goto out;
	*out = &s->base;
	return KP_OK;
out:
	/* keep the message: the caller reports it before closing */
	*out = &s->base;
	return rc;
}

void
kps_sq_close(struct kps_store *b)
{
	struct kps_sq	*s = (struct kps_sq *)b;
	int		 i;

	for (i = 0; i < SQ_NSTMTS; i++)
		sqlite3_finalize(s->st[i]);
	if (s->db != NULL)
		sqlite3_close(s->db);
	free(s);
}

const char *
kps_sq_errmsg(struct kps_store *b)
{
	return ((struct kps_sq *)b)->err;
}

int
kps_sq_begin(struct kps_store *b)
{
	struct kps_sq	*s = (struct kps_sq *)b;
	int		 rc;

	if ((rc = run(s, SQ_BEGIN)) == KP_OK)
		s->batch = 1;
	return rc;
}

int
kps_sq_commit(struct kps_store *b)
{
	struct kps_sq	*s = (struct kps_sq *)b;
	int		 rc;

	rc = run(s, SQ_COMMIT);
	/* a failed COMMIT leaves the transaction open for a rollback */
	if (rc == KP_OK)
		s->batch = 0;
	return rc;
}

int
kps_sq_rollback(struct kps_store *b)
{
	struct kps_sq	*s = (struct kps_sq *)b;
	int		 rc = KP_OK;

	if (!sqlite3_get_autocommit(s->db))
		rc = run(s, SQ_ROLLBACK);
	s->batch = 0;
	return rc;
}

int
kps_sq_in_batch(struct kps_store *b)
{
	struct kps_sq	*s = (struct kps_sq *)b;

	return s->batch && !sqlite3_get_autocommit(s->db);
}

int
kps_sq_checkpoint(struct kps_store *b)
{
	struct kps_sq	*s = (struct kps_sq *)b;

	if (sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
	    NULL, NULL) != SQLITE_OK)
		return kps_sq_err(s, "checkpoint");
	return KP_OK;
}

/* nonce_stmt: statement i with the nonce's created and id bound. */
static sqlite3_stmt *
nonce_stmt(struct kps_sq *s, enum kps_sq_stmt i, const char *keyid,
    const char *nonce, int64_t created)
{
	sqlite3_stmt	*st;

	if ((st = kps_sq_stmt(s, i)) == NULL)
		return NULL;
	sqlite3_bind_int64(st, 1, created);
	sqlite3_bind_int64(st, 2, kps_nonce_id(keyid, nonce));
	return st;
}

int
kps_sq_nonce_add(struct kps_store *b, const char *keyid, const char *nonce,
    int64_t created)
{
	struct kps_sq	*s = (struct kps_sq *)b;
	sqlite3_stmt	*st;
	int		 own, rc, seen = 0;

	if ((rc = kps_sq_op_begin1(s, &own)) != KP_OK)
		return rc;
	if ((st = nonce_stmt(s, SQ_NONCE_ADD, keyid, nonce, created)) == NULL)
		rc = KP_EDB;
	else if ((rc = kps_sq_done(s, st, "nonce")) == KP_OK)
		seen = sqlite3_changes(s->db) == 0;
	if ((rc = kps_sq_op_end1(s, own, rc)) != KP_OK)
		return rc;
	return seen ? KP_EEXIST : KP_OK;
}

int
kps_sq_nonce_seen(struct kps_store *b, const char *keyid, const char *nonce,
    int64_t created)
{
	struct kps_sq	*s = (struct kps_sq *)b;
	sqlite3_stmt	*st;
	int		 r;

	if ((st = nonce_stmt(s, SQ_NONCE_SEEN, keyid, nonce, created)) == NULL)
		return KP_EDB;
	r = sqlite3_step(st);
	sqlite3_reset(st);
	if (r == SQLITE_ROW)
		return KP_EEXIST;
	return r == SQLITE_DONE ? KP_OK : kps_sq_err(s, "nonce seen");
}

int
kps_sq_nonce_prune(struct kps_store *b, int64_t before, int max, uint64_t *n)
{
	return kps_sq_sweep((struct kps_sq *)b, SQ_NONCE_PRUNE, before, max,
	    n, "nonce prune");
}

int
kps_sq_rate_take(struct kps_store *b, struct kps_take *v, size_t n,
    int64_t now_ms)
{
	struct kps_sq	*s = (struct kps_sq *)b;
	sqlite3_stmt	*st;
	size_t		 i;
	int		 own, rc = KP_OK, x;

	if ((rc = kps_sq_op_begin(s, &own)) != KP_OK)
		return rc;
	for (i = 0; i < n && rc == KP_OK; i++) {
		if ((st = kps_sq_stmt(s, SQ_RATE_TAKE)) == NULL) {
			rc = KP_EDB;
			break;
		}
		sqlite3_bind_int(st, 1, (int)v[i].kind);
		sqlite3_bind_text(st, 2, v[i].a, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, v[i].b, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, now_ms);
		sqlite3_bind_double(st, 5, v[i].burst);
		sqlite3_bind_double(st, 6, v[i].per_min / 60000.0);
		v[i].wait = 0;
		if ((x = sqlite3_step(st)) == SQLITE_ROW) {
			if (!sqlite3_column_int(st, 1))
				v[i].wait = kps_rate_wait(
				    sqlite3_column_double(st, 0),
				    v[i].per_min);
			x = sqlite3_step(st);
		}
		sqlite3_reset(st);
		if (x != SQLITE_DONE)
			rc = kps_sq_err(s, "rate");
	}
	return kps_sq_op_end(s, own, rc);
}

int
kps_sq_rate_prune(struct kps_store *b, int64_t now_ms, int max, uint64_t *n)
{
	return kps_sq_sweep((struct kps_sq *)b, SQ_RATE_PRUNE, now_ms, max, n,
	    "rate prune");
}
