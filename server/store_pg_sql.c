/* SPDX-License-Identifier: ISC */
/*
 * store_pg_sql.c: the SQL of the PostgreSQL backend: the migrations of
 * its schema and its statements, each with the types of its parameters
 * (see store_pg_db.h).  The SQLite backend's twin statements are in
 * store_sqlite_db.c.
 */

#include "store_pg_db.h"
#include "store_rules.h"

/* Migrations: migrations[i] takes the schema's version i to i + 1. */
static const char *const migrations[] = {
	/* 1: the first schema, the SQLite schema's twin */
	"CREATE TABLE users ("
	"  name text PRIMARY KEY,"
	"  public_key bytea NOT NULL CHECK (length(public_key) = 32),"
	"  created_at bigint NOT NULL);"
	"CREATE TABLE keypackages ("
	"  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  keypackage_ref bytea NOT NULL UNIQUE,"
	"  username text NOT NULL,"
	"  keypackage_bytes bytea NOT NULL,"
	"  uploaded_at bigint NOT NULL,"
	"  status text NOT NULL"
	"    CHECK (status IN ('available', 'reserved', 'spent')),"
	"  reservation_id text UNIQUE,"
	"  reservation_expires_at bigint,"
	"  reserved_by text,"
	"  reserved_at bigint,"
	"  request_id text,"
	"  spent_at bigint,"
	"  spent_by text,"
	"  group_id bytea,"
	"  not_after bigint NOT NULL,"
	"  credential_hash bytea NOT NULL,"
	"  ciphersuite integer NOT NULL,"
	"  init_key bytea NOT NULL,"
	"  last_resort boolean NOT NULL DEFAULT false,"
	"  CONSTRAINT keypackages_user_init_key UNIQUE (username, init_key));"
	/* reserve walks the first in upload order */
	"CREATE INDEX keypackages_available ON keypackages"
	"  (username, uploaded_at, id)"
	"  WHERE status = 'available' AND NOT last_resort;"
	"CREATE INDEX keypackages_last_resort ON keypackages"
	"  (username, uploaded_at, id) WHERE last_resort;"
	/*
	 * Few indexes, since a reserve writes into every one whose columns
	 * it changes: a user's keys are found by (username, init_key), and
	 * the minute's cleanup by a BRIN of not_after (keys come in order).
	 */
	"CREATE INDEX keypackages_not_after ON keypackages USING brin"
	"  (not_after);"
	"CREATE INDEX keypackages_reserved_until ON keypackages"
	"  (reservation_expires_at) WHERE status = 'reserved';"
	/* a request_id's reserves are serialized by an advisory lock */
	"CREATE INDEX keypackages_request ON keypackages"
	"  (reserved_by, request_id) WHERE request_id IS NOT NULL;"
	/* spent and retired refs (kind 0) and init keys (kind 1) */
	"CREATE TABLE tombstones ("
	"  kind integer NOT NULL,"
	"  value bytea NOT NULL,"
	"  username text NOT NULL,"
	"  created_at bigint NOT NULL,"
	"  PRIMARY KEY (kind, value, username));"
	/* what instances share besides the keys */
	/* a replay repeats all three (created is signed); in created
	 * order, new ones go to the right edge, the stale go from the left */
	"CREATE TABLE nonces ("
	"  created bigint NOT NULL,"
	"  keyid text NOT NULL,"
	"  nonce text NOT NULL,"
	"  PRIMARY KEY (created, keyid, nonce));"
	"CREATE TABLE rates ("
	"  caller text NOT NULL,"
	"  target text NOT NULL,"
	"  tokens double precision NOT NULL,"
	"  at bigint NOT NULL,"
	"  taken boolean NOT NULL,"
	"  PRIMARY KEY (caller, target));"
	"CREATE INDEX rates_at ON rates (at);",
	/*
	 * 2: what the SQLite schema's 2 to 4 are.  User names compared
	 * without case (ASCII, as lower() folds under the C collation):
	 * unique and looked up by the folded name, the first
	 * registration's spelling kept; a later name that folds to an
	 * earlier one's is set aside, and its keys are retired
	 * (tombstones kept): docs/security.md.  Nonces named by
	 * kps_nonce_id(), as on SQLite; the buckets of any kind, each
	 * forgotten once full again.  The nonces and buckets of version
	 * 1 go: a replay of a request signed in the minutes before the
	 * upgrade is then refused by the replay cache of the instance
	 * that took it, no longer by the database.
	 */
	"ALTER TABLE users ADD COLUMN folded text COLLATE \"C\";"
	"UPDATE users SET folded = lower(name COLLATE \"C\");"
	"CREATE TABLE users_set_aside ("
	"  name text PRIMARY KEY,"
	"  public_key bytea NOT NULL,"
	"  created_at bigint NOT NULL,"
	"  kept text NOT NULL,"
	"  set_aside_at bigint NOT NULL);"
	"INSERT INTO users_set_aside SELECT u.name, u.public_key,"
	"  u.created_at, k.name, extract(epoch FROM now())::bigint"
	"  FROM users u JOIN (SELECT DISTINCT ON (folded) folded, name"
	"  FROM users ORDER BY folded, created_at, name COLLATE \"C\") k"
	"  ON k.folded = u.folded WHERE k.name <> u.name;"
	"INSERT INTO tombstones (kind, value, username, created_at)"
	"  SELECT 0, keypackage_ref, username,"
	"  extract(epoch FROM now())::bigint FROM keypackages"
	"  WHERE username IN (SELECT name FROM users_set_aside)"
	"  ON CONFLICT DO NOTHING;"
	"INSERT INTO tombstones (kind, value, username, created_at)"
	"  SELECT 1, init_key, username,"
	"  extract(epoch FROM now())::bigint FROM keypackages"
	"  WHERE username IN (SELECT name FROM users_set_aside)"
	"  ON CONFLICT DO NOTHING;"
	"DELETE FROM keypackages"
	"  WHERE username IN (SELECT name FROM users_set_aside);"
	"DELETE FROM users WHERE name IN (SELECT name FROM users_set_aside);"
	"ALTER TABLE users ALTER COLUMN folded SET NOT NULL,"
	"  DROP CONSTRAINT users_pkey, ADD PRIMARY KEY (folded);"
	"DROP TABLE nonces;"
	"CREATE TABLE nonces ("
	"  created bigint NOT NULL,"
	"  id bigint NOT NULL,"
	"  PRIMARY KEY (created, id));"
	"DROP TABLE rates;"
	"CREATE TABLE buckets ("
	"  kind integer NOT NULL,"
	"  a text NOT NULL,"
	"  b text NOT NULL,"
	"  tokens double precision NOT NULL,"
	"  at bigint NOT NULL,"
	"  full_at bigint NOT NULL,"
	"  taken boolean NOT NULL,"
	"  PRIMARY KEY (kind, a, b));"
	"CREATE INDEX buckets_full ON buckets (full_at);",
	/*
	 * 3: devices, what the SQLite schema's 5 is.  Every user gets the
	 * device 'default' with its key (a key that two users held stays
	 * the first's), every key is the default device's.  A reserve of
	 * one device or suite filters the user's available keys in upload
	 * order (keypackages_available).
	 */
	"CREATE TABLE devices ("
	"  username text NOT NULL,"
	"  device text NOT NULL,"
	"  public_key bytea NOT NULL UNIQUE CHECK (length(public_key) = 32),"
	"  created_at bigint NOT NULL,"
	"  PRIMARY KEY (username, device));"
	"INSERT INTO devices SELECT name, 'default', public_key, created_at"
	"  FROM users ORDER BY created_at, name ON CONFLICT DO NOTHING;"
	"ALTER TABLE users DROP COLUMN public_key;"
	"ALTER TABLE keypackages ADD COLUMN device text NOT NULL"
	"  DEFAULT 'default';",
	/*
	 * 4: the drain budget, what the SQLite schema's 6 is: contacts
	 * (folded names) and the grants of reservations of other users'
	 * keys
	 */
	"CREATE TABLE contacts ("
	"  owner text NOT NULL,"
	"  contact text NOT NULL,"
	"  kind integer NOT NULL,"
	"  created_at bigint NOT NULL,"
	"  PRIMARY KEY (owner, contact, kind));"
	"CREATE TABLE grants ("
	"  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  caller text NOT NULL,"
	"  target text NOT NULL,"
	"  device text NOT NULL,"
	"  ref bytea NOT NULL,"
	"  stranger boolean NOT NULL,"
	"  granted_at bigint NOT NULL,"
	"  expires_at bigint NOT NULL,"
	"  ended integer NOT NULL DEFAULT 0);"
	"CREATE INDEX grants_target ON grants (target, granted_at)"
	"  WHERE stranger;"
	"CREATE INDEX grants_caller ON grants (caller, expires_at)"
	"  WHERE ended = 0;"
	"CREATE INDEX grants_ref ON grants (ref);"
	"CREATE INDEX grants_expires ON grants (expires_at);"
	/* registrations by source address; invitations by their hash */
	"CREATE TABLE registrations ("
	"  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  address text NOT NULL,"
	"  at bigint NOT NULL);"
	"CREATE INDEX registrations_address ON registrations (address, at);"
	"CREATE INDEX registrations_at ON registrations (at);"
	"CREATE TABLE invites ("
	"  hash bytea PRIMARY KEY,"
	"  uses integer NOT NULL,"
	"  created_at bigint NOT NULL);",
};
#define NMIGRATIONS	((int)(sizeof(migrations) / sizeof(migrations[0])))

/* a user name folded as the SQLite backend's lower() does: ASCII */
#define FOLD(x)	"lower(" x " COLLATE \"C\")"

#define LOCKS	"6b706f6f"	/* KPS_PG_LOCKS in hex */
_Static_assert(KPS_PG_LOCKS == 0x6b706f6f, "LOCKS");
/* the sweep of kind n runs on one instance at a time: a CTE `l` whose
 * ok says this transaction holds its lock */
#define SWEEP(n) "WITH l AS (SELECT pg_try_advisory_xact_lock(x'" LOCKS	\
		"'::int, " #n ") AS ok) "
_Static_assert(KPS_PG_LOCK_RESERVATIONS == 2 && KPS_PG_LOCK_KEYS == 3 &&
    KPS_PG_LOCK_NONCES == 4 && KPS_PG_LOCK_RATES == 5 &&
    KPS_PG_LOCK_GRANTS == 7, "SWEEP numbers");

/* a reserve of one device ($8, NULL: any) and suite ($9, 0: any) */
#define ONE	"AND ($8::text IS NULL OR device = $8) "
#define SUITE	"AND ($9 = 0 OR ciphersuite = $9) "

/*
 * The state a key is in at $1 (now), numbered as lib's enum kp_state;
 * $2 is the state of a reservation whose TTL passed (spent under burn,
 * else available).
 */
#define EFF	"(" KPS_SQL_EFF("$1", "$2") ")"
#define KEYCOLS	KPS_SQL_KEYCOLS(EFF)
#define RAWCOLS	"keypackage_ref, username, keypackage_bytes, uploaded_at, " \
		"status, last_resort, reservation_id, reserved_at, "	\
		"reservation_expires_at, reserved_by, spent_at, spent_by, " \
		"group_id, not_after, credential_hash, ciphersuite, "	\
		"init_key, device, request_id"

/*
 * RETIRE_DEV: the keys of device $2 of user $1 go (d), the tombstones of
 * their refs and init keys, made at $3, stay (t).
 */
#define RETIRE_DEV							\
	"WITH d AS (DELETE FROM keypackages WHERE "			\
	"username = $1 AND device = $2 "				\
	"RETURNING keypackage_ref, init_key, username), "		\
	"t AS (INSERT INTO tombstones (kind, value, username, created_at) " \
	"SELECT 0, keypackage_ref, username, $3 FROM d UNION ALL "	\
	"SELECT 1, init_key, username, $3 FROM d ON CONFLICT DO NOTHING)"

static const struct {
	const char	*sql;
	const char	*types;
} stmts[PG_NSTMTS] = {
	[PG_USER_ADD] = { "INSERT INTO users (folded, name, created_at) "
	    "VALUES (" FOLD("$1") ", $1, $2) "
	    "ON CONFLICT (folded) DO NOTHING RETURNING 1", "ti" },
	[PG_USER_GET] = { "SELECT name FROM users "
	    "WHERE folded = " FOLD("$1"), "t" },
	[PG_DEV_GET] = { "SELECT d.public_key, u.name FROM users u "
	    "JOIN devices d ON d.username = u.name "
	    "WHERE u.folded = " FOLD("$1") " AND d.device = $2", "tt" },
	[PG_DEV_KEY] = { "SELECT public_key FROM devices "
	    "WHERE username = $1 AND device = $2", "tt" },
	[PG_KEY_USED] = { "SELECT 1 FROM devices WHERE public_key = $1", "b" },
	[PG_DEV_COUNT] = { "SELECT count(*) FROM devices WHERE username = $1",
	    "t" },
	[PG_DEV_ADD] = { "INSERT INTO devices (username, device, public_key, "
	    "created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING "
	    "RETURNING 1", "ttbi" },
	[PG_DEV_LIST] = { "SELECT device, public_key, created_at FROM devices "
	    "WHERE username = $1 ORDER BY device COLLATE \"C\"", "t" },
	/* every key of the device goes, its tombstones stay, then it */
	[PG_DEV_REMOVE] = { RETIRE_DEV ", "
	    "x AS (DELETE FROM devices WHERE username = $1 AND device = $2) "
	    "SELECT count(*) FROM d", "tti" },
	[PG_USER_LIST] = { "SELECT name FROM users ORDER BY folded", "" },
	[PG_USER_DEL] = { "DELETE FROM users WHERE name = $1 AND NOT EXISTS "
	    "(SELECT 1 FROM devices WHERE username = $1)", "t" },
	/* a name set free takes none of its old contacts along */
	[PG_USER_DEL_CONTACTS] = { "DELETE FROM contacts WHERE "
	    "owner = lower($1) OR contact = lower($1)", "t" },
	/* every key of the device goes, its tombstones stay */
	[PG_DEV_RETIRE] = { RETIRE_DEV " SELECT count(*) FROM d", "tti" },
	[PG_DEV_SETKEY] = { "UPDATE devices SET public_key = $3 "
	    "WHERE username = $1 AND device = $2", "ttb" },
	[PG_DEV_DEL] = { "DELETE FROM devices WHERE username = $1 AND "
	    "device = $2", "tt" },
	[PG_USER_EXISTS] = { "SELECT name FROM users "
	    "WHERE folded = " FOLD("$1"), "t" },
	/*
	 * A new key: refused by a tombstone of its ref (kind 0) or init
	 * key (kind 1), or by its ref stored already (its status); else
	 * inserted, unless a unique index says no (an init key in use, or
	 * the same ref from another instance just now).
	 */
	[PG_SAVE] = { "WITH t AS (SELECT kind FROM tombstones WHERE "
	    "(kind = 0 AND value = $1) OR "
	    "(kind = 1 AND value = $8 AND username = $2) "
	    "ORDER BY kind LIMIT 1), "
	    "e AS (SELECT status FROM keypackages WHERE keypackage_ref = $1), "
	    "i AS (INSERT INTO keypackages (keypackage_ref, username, "
	    "keypackage_bytes, uploaded_at, status, not_after, "
	    "credential_hash, ciphersuite, init_key, last_resort, device) "
	    "SELECT $1, $2, $3, $4, 'available', $5, $6, $7, $8, $9, $10 "
	    "WHERE NOT EXISTS (SELECT 1 FROM t) AND "
	    "NOT EXISTS (SELECT 1 FROM e) "
	    "ON CONFLICT DO NOTHING RETURNING 1) "
	    "SELECT (SELECT kind FROM t), (SELECT status FROM e), "
	    "EXISTS (SELECT 1 FROM i)", "btbiibnblt" },
	[PG_REF_STATUS] = { "SELECT status FROM keypackages "
	    "WHERE keypackage_ref = $1", "b" },
	[PG_GET] = { "SELECT " KEYCOLS " FROM keypackages "
	    "WHERE keypackage_ref = $3", "inb" },
	[PG_LIST_ALL] = { "SELECT " KEYCOLS " FROM keypackages "
	    "WHERE username = $3 ORDER BY uploaded_at, id", "int" },
	[PG_LIST_DEV] = { "SELECT " KEYCOLS " FROM keypackages "
	    "WHERE username = $3 AND device = $4 ORDER BY uploaded_at, id",
	    "intt" },
	[PG_LIST_STATE] = { "SELECT " KEYCOLS " FROM keypackages "
	    "WHERE username = $3 AND ($5::text IS NULL OR device = $5) AND "
	    EFF " = $4 ORDER BY uploaded_at, id", "intnt" },
	/* a request_id's reserves one at a time, every instance */
	[PG_REQUEST_LOCK] = { "SELECT pg_advisory_xact_lock(x'6b707271'::int, "
	    "hashtext($1 || E'\\n' || $2))", "tt" },
	/*
	 * The reserve of the oldest available key of $2 (in any case:
	 * u is the name as registered) by $1, in one statement: the live
	 * reservation of request_id $3 if there is one (kind 0), else the
	 * oldest key no other transaction holds, marked reserved (kind 1),
	 * else the newest last-resort key, left available with this
	 * handing out recorded on it (kind 2); and a row of kind 3 when $2
	 * exists.  $4 now, $5 the new reservation id, $6 its expiry, $7
	 * the group, $8 the device (NULL: any), $9 the suite (0: any).  The
	 * time conditions are written "+ 0" so that no statistics, stale
	 * or none, lead the planner to an index on time: the replay goes by
	 * keypackages_request (a request_id is only ever on a reserved key,
	 * so its status is not asked: that would make the index of all
	 * reserved keys fit too), the oldest by keypackages_available.
	 */
	[PG_RESERVE] = { "WITH u AS (SELECT name FROM users "
	    "WHERE folded = " FOLD("$2") " AND ($8::text IS NULL OR EXISTS "
	    "(SELECT 1 FROM devices d WHERE d.username = users.name AND "
	    "d.device = $8))), "
	    "rp AS (SELECT keypackage_ref, keypackage_bytes, reservation_id, "
	    "reservation_expires_at, device, ciphersuite FROM keypackages "
	    "WHERE $3::text IS NOT "
	    "NULL AND reserved_by = $1 AND request_id = $3 AND "
	    "username = (SELECT name FROM u) " ONE
	    "AND reservation_expires_at + 0 > $4 AND not_after + 0 > $4 "
	    "LIMIT 1), "
	    "pick AS (SELECT id FROM keypackages WHERE "
	    "username = (SELECT name FROM u) AND "
	    "status = 'available' AND NOT last_resort AND not_after + 0 > $4 "
	    ONE SUITE "AND NOT $10 AND "
	    "NOT EXISTS (SELECT 1 FROM rp) ORDER BY uploaded_at, id LIMIT 1 "
	    "FOR UPDATE SKIP LOCKED), "
	    "up AS (UPDATE keypackages k SET status = 'reserved', "
	    "reservation_id = $5, reservation_expires_at = $6, "
	    "reserved_by = $1, reserved_at = $4, request_id = $3, "
	    "group_id = $7 FROM pick WHERE k.id = pick.id "
	    "RETURNING k.keypackage_ref, k.keypackage_bytes, k.device, "
	    "k.ciphersuite), "
	    /* the last-resort key, not consumed: its latest handing out */
	    "lrp AS (SELECT id FROM keypackages "
	    "WHERE username = (SELECT name FROM u) AND last_resort AND "
	    "status = 'available' " ONE SUITE "AND "
	    "not_after + 0 > $4 AND NOT EXISTS (SELECT 1 FROM rp) AND "
	    "NOT EXISTS (SELECT 1 FROM up) "
	    "ORDER BY uploaded_at DESC, id DESC LIMIT 1), "
	    "lr AS (UPDATE keypackages k SET reserved_by = $1, "
	    "reserved_at = $4, group_id = $7 FROM lrp WHERE k.id = lrp.id "
	    "RETURNING k.keypackage_ref, k.keypackage_bytes, k.device, "
	    "k.ciphersuite) "
	    "SELECT 0, keypackage_ref, keypackage_bytes, reservation_id, "
	    "reservation_expires_at, device, ciphersuite FROM rp UNION ALL "
	    "SELECT 1, keypackage_ref, keypackage_bytes, NULL, NULL, device, "
	    "ciphersuite FROM up UNION ALL "
	    "SELECT 2, keypackage_ref, keypackage_bytes, NULL, NULL, device, "
	    "ciphersuite FROM lr "
	    "UNION ALL SELECT 3, NULL, NULL, NULL, NULL, NULL, NULL FROM u",
	    "tttitibtnl" },
	[PG_REPLAY] = { "SELECT keypackage_ref, keypackage_bytes, "
	    "reservation_id, reservation_expires_at, device, ciphersuite "
	    "FROM keypackages "
	    "WHERE reserved_by = $1 AND request_id = $2 AND username = $3 "
	    "AND reservation_expires_at + 0 > $4 AND not_after + 0 > $4",
	    "ttti" },
	[PG_NAMED] = { "SELECT id, keypackage_ref, keypackage_bytes, status, "
	    "not_after, last_resort, device, ciphersuite FROM keypackages "
	    "WHERE keypackage_ref = $1 AND username = $2 FOR UPDATE", "bt" },
	[PG_MARK] = { "UPDATE keypackages SET status = 'reserved', "
	    "reservation_id = $1, reservation_expires_at = $2, "
	    "reserved_by = $3, reserved_at = $4, request_id = $5, "
	    "group_id = $6 WHERE id = $7", "tititbi" },
	[PG_ROW] = { "SELECT id, username, status, reserved_by, "
	    "reservation_expires_at, not_after, last_resort, init_key, "
	    "spent_by, group_id, device, reserved_at IS NULL "
	    "FROM keypackages WHERE keypackage_ref = $1 FOR UPDATE", "b" },
	[PG_TOMB_REF] = { "SELECT 1 FROM tombstones WHERE kind = 0 AND "
	    "value = $1 LIMIT 1", "b" },
	/* a spend that names no group keeps the reservation's */
	[PG_SPEND] = { "UPDATE keypackages SET status = 'spent', "
	    "spent_at = $1, spent_by = $2, group_id = CASE WHEN "
	    "length($3) > 0 THEN $3 ELSE group_id END, request_id = NULL, "
	    "reserved_by = CASE WHEN reserved_at IS NULL THEN NULL "
	    "ELSE reserved_by END, "
	    "reservation_id = NULL WHERE id = $4", "itbi" },
	/*
	 * reserved_by and the expiry stay, reserved_at goes: a retry of
	 * the release by the same caller is answered 200 (store_rules.c)
	 */
	[PG_RELEASE] = { "UPDATE keypackages SET status = 'available', "
	    "reservation_id = NULL, reserved_at = NULL, request_id = NULL, "
	    "group_id = NULL WHERE id = $1", "i" },
	/* the key goes, its ref and init key stay as tombstones */
	[PG_RETIRE] = { "WITH d AS (DELETE FROM keypackages WHERE id = $1 "
	    "RETURNING keypackage_ref, init_key, username) "
	    "INSERT INTO tombstones (kind, value, username, created_at) "
	    "SELECT 0, keypackage_ref, username, $2 FROM d UNION ALL "
	    "SELECT 1, init_key, username, $2 FROM d ON CONFLICT DO NOTHING",
	    "ii" },
	/*
	 * Keys past not_after by the retention ($1 the cutoff, $2 now)
	 * go; a spent one leaves its tombstones (its row was them).
	 */
	[PG_CLEANUP] = { SWEEP(3) ", d AS (DELETE FROM keypackages "
	    "WHERE not_after <= $1 AND (SELECT ok FROM l) "
	    "RETURNING status, keypackage_ref, init_key, username), "
	    "t AS (INSERT INTO tombstones (kind, value, username, created_at) "
	    "SELECT 0, keypackage_ref, username, $2 FROM d "
	    "WHERE status = 'spent' UNION ALL "
	    "SELECT 1, init_key, username, $2 FROM d WHERE status = 'spent' "
	    "ON CONFLICT DO NOTHING) SELECT count(*) FROM d", "ii" },
	/*
	 * reserved_by and the expiry stay, so a late spend learns 410.
	 * SWEPT keys at most a run, the oldest first, through an ordered
	 * index scan (a bitmap scan would read every entry vacuum has yet
	 * to remove, each time), each then by its id (a generic plan
	 * would join them by scanning the table); one that a spend or
	 * release holds is left to the next sweep.
	 */
#define SWEPT	"500"
	[PG_EXP_RELEASE] = { SWEEP(2) "UPDATE keypackages SET "
	    "status = 'available', reservation_id = NULL, request_id = NULL, "
	    "group_id = NULL WHERE id = ANY (ARRAY(SELECT id FROM keypackages "
	    "WHERE status = 'reserved' AND reservation_expires_at <= $1 AND "
	    "(SELECT ok FROM l) ORDER BY reservation_expires_at LIMIT " SWEPT
	    " FOR UPDATE SKIP LOCKED))", "i" },
	[PG_EXP_BURN] = { SWEEP(2) "UPDATE keypackages SET status = 'spent', "
	    "spent_at = $1, spent_by = NULL, reservation_id = NULL, "
	    "request_id = NULL WHERE id = ANY (ARRAY(SELECT id FROM "
	    "keypackages WHERE status = 'reserved' AND "
	    "reservation_expires_at <= $1 AND (SELECT ok FROM l) "
	    "ORDER BY reservation_expires_at LIMIT " SWEPT
	    " FOR UPDATE SKIP LOCKED))", "i" },
	[PG_COUNT_USER] = { "SELECT " EFF ", last_resort, count(*) "
	    "FROM keypackages WHERE username = $3 GROUP BY 1, 2", "int" },
	[PG_COUNT_ALL] = { "SELECT " EFF ", last_resort, count(*) "
	    "FROM keypackages GROUP BY 1, 2", "in" },
	[PG_COUNT_DEV] = { "SELECT device, ciphersuite, " EFF ", last_resort, "
	    "count(*) FROM keypackages WHERE username = $3 "
	    "GROUP BY 1, 2, 3, 4", "int" },
	[PG_NONCE_ADD] = { "INSERT INTO nonces (created, id) VALUES ($1, $2) "
	    "ON CONFLICT DO NOTHING RETURNING 1", "ii" },
	[PG_NONCE_SEEN] = { "SELECT 1 FROM nonces WHERE created = $1 AND "
	    "id = $2", "ii" },
	/* the oldest $2 before $1, by their place (a TID scan) */
	[PG_NONCE_PRUNE] = { SWEEP(4) "DELETE FROM nonces WHERE ctid = ANY "
	    "(ARRAY(SELECT ctid FROM nonces WHERE created < $1 AND "
	    "(SELECT ok FROM l) ORDER BY created LIMIT $2))", "ii" },
	/*
	 * $1 kind, $2 a, $3 b, $4 now (ms), $5 the burst, $6 tokens a
	 * millisecond: the bucket refilled to now (SET reads the row,
	 * locked), less the token taken when there is one, and when it
	 * will be full again.
	 */
#define REFILL	"LEAST($5, r.tokens + GREATEST($4 - r.at, 0) * $6)"
#define LEFT	"(" REFILL " - CASE WHEN " REFILL " >= 1 THEN 1 ELSE 0 END)"
	[PG_RATE_TAKE] = { "INSERT INTO buckets AS r (kind, a, b, tokens, at, "
	    "full_at, taken) VALUES ($1, $2, $3, $5 - 1, $4, "
	    "$4 + ceil(1 / $6)::bigint, true) "
	    "ON CONFLICT (kind, a, b) DO UPDATE SET tokens = " LEFT ", "
	    "taken = " REFILL " >= 1, at = GREATEST($4, r.at), "
	    "full_at = GREATEST($4, r.at) + ceil(($5 - " LEFT ") / $6)::bigint "
	    "RETURNING tokens, taken", "nttiff" },
#undef REFILL
#undef LEFT
	[PG_RATE_PRUNE] = { SWEEP(5) "DELETE FROM buckets WHERE ctid = ANY "
	    "(ARRAY(SELECT ctid FROM buckets WHERE full_at <= $1 AND "
	    "(SELECT ok FROM l) ORDER BY full_at LIMIT $2))", "ii" },
	/* a copy (store_pg_copy.c), in kps_row_kind's order */
	[PG_DUMP_USERS] = { "SELECT name, created_at FROM users "
	    "ORDER BY created_at, name", "" },
	[PG_DUMP_DEVICES] = { "SELECT username, device, public_key, "
	    "created_at FROM devices ORDER BY username, device", "" },
	[PG_DUMP_ASIDE] = { "SELECT name, public_key, created_at, kept, "
	    "set_aside_at FROM users_set_aside ORDER BY name", "" },
	[PG_DUMP_KEYS] = { "SELECT " RAWCOLS " FROM keypackages "
	    "ORDER BY uploaded_at, id", "" },
	[PG_DUMP_TOMBS] = { "SELECT kind, value, username, created_at "
	    "FROM tombstones ORDER BY created_at, kind, value", "" },
	[PG_DUMP_NONCES] = { "SELECT created, id FROM nonces "
	    "ORDER BY created, id", "" },
	[PG_LOAD_USER] = { "INSERT INTO users (folded, name, created_at) "
	    "VALUES (" FOLD("$1") ", $1, $2) ON CONFLICT DO NOTHING", "ti" },
	[PG_LOAD_DEVICE] = { "INSERT INTO devices (username, device, "
	    "public_key, created_at) VALUES ($1, $2, $3, $4) "
	    "ON CONFLICT DO NOTHING", "ttbi" },
	[PG_LOAD_ASIDE] = { "INSERT INTO users_set_aside (name, public_key, "
	    "created_at, kept, set_aside_at) VALUES ($1, $2, $3, $4, $5) "
	    "ON CONFLICT DO NOTHING", "tbiti" },
	[PG_LOAD_KEY] = { "INSERT INTO keypackages (" RAWCOLS ") VALUES "
	    "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, "
	    "$15, $16, $17, $18, $19) ON CONFLICT DO NOTHING",
	    "btbitltiititbibnbtt" },
	[PG_LOAD_TOMB] = { "INSERT INTO tombstones (kind, value, username, "
	    "created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
	    "nbti" },
	[PG_LOAD_NONCE] = { "INSERT INTO nonces (created, id) VALUES ($1, $2) "
	    "ON CONFLICT DO NOTHING", "ii" },
	[PG_CENSUS_KEYS] = { "SELECT status, last_resort, count(*), "
	    "count(reservation_id) FROM keypackages GROUP BY 1, 2", "" },
	[PG_CENSUS_REST] = { "SELECT (SELECT count(*) FROM users), "
	    "(SELECT count(*) FROM tombstones WHERE kind = 0), "
	    "(SELECT count(*) FROM tombstones WHERE kind = 1), "
	    "(SELECT count(*) FROM users_set_aside), "
	    "(SELECT count(*) FROM nonces), "
	    "(SELECT count(*) FROM devices)", "" },
	/*
	 * the drain budget (store_pg_drain.c).  Facts: $1 caller, $2
	 * target (folded), $3 the target as registered, $4 device or
	 * NULL, $5 suite or 0, $6 now, $7 the window's start, $8 the
	 * caller's principal, $9 its request_id or NULL
	 */
	[PG_DR_LOCK] = { "SELECT pg_advisory_xact_lock($1)", "i" },
	/* $1 caller, $2 target (folded users), $3 device, $4 suite, $5
	 * now, $6 since, $7 principal, $8 request_id, $9 available_limit */
	[PG_DR_FACTS] = { "SELECT "
	    "EXISTS (SELECT 1 FROM contacts WHERE owner = $2 AND "
	    "contact = $1), "
	    "(SELECT count(*) FROM grants WHERE caller = $1 AND ended = 0 "
	    "AND expires_at > $6), "
	    "(SELECT min(expires_at) FROM grants WHERE caller = $1 AND "
	    "ended = 0 AND expires_at > $6), "
	    "(SELECT count(*) FROM (SELECT 1 FROM keypackages WHERE "
	    "username = (SELECT name FROM users WHERE folded = $2) AND "
	    "status = 'available' AND NOT last_resort AND "
	    "not_after > $5 AND ($3::text IS NULL OR device = $3) AND "
	    "($4 = 0 OR ciphersuite = $4) LIMIT CASE WHEN EXISTS (SELECT 1 "
	    "FROM contacts WHERE owner = $2 AND contact = $1) THEN 0 "
	    "ELSE $9 END) v), "
	    "EXISTS (SELECT 1 FROM keypackages WHERE $8::text IS NOT NULL "
	    "AND reserved_by = $7 AND request_id = $8 AND "
	    "username = (SELECT name FROM users WHERE folded = $2) AND "
	    "status = 'reserved' AND reservation_expires_at > $5 AND "
	    "not_after > $5 AND "
	    "($3::text IS NULL OR device = $3) AND "
	    "($4 = 0 OR ciphersuite = $4))",
	    "ttt" "nii" "tt" "i" },
	[PG_DR_STRANGERS] = { "SELECT count(*), min(granted_at) FROM grants "
	    "WHERE target = $1 AND stranger AND granted_at > $2", "ti" },
	[PG_DR_POOL] = { "SELECT count(*) FROM (SELECT 1 FROM keypackages "
	    "WHERE username = (SELECT name FROM users WHERE folded = $1) AND "
	    "status IN ('available', 'reserved') AND NOT last_resort AND "
	    "not_after > $2 LIMIT $3) p", "tii" },
	/* a target's budget: kps_budget_tq, the limit as
	 * kps_budget_limit() makes it */
	[PG_DR_TARGET] = { "WITH g AS (SELECT count(*) AS n, "
	    "min(granted_at) AS f FROM grants WHERE target = $1 AND "
	    "stranger AND granted_at > $2), l AS (SELECT n, f, "
	    "(n + $5 + 1) * 100 / $4 + 1 AS lim FROM g) "
	    "SELECT n, f, lim, (SELECT count(*) FROM (SELECT 1 FROM "
	    "keypackages WHERE username = (SELECT name FROM users WHERE "
	    "folded = $1) AND status IN ('available', 'reserved') AND "
	    "NOT last_resort AND not_after > $3 LIMIT (SELECT lim FROM l)) "
	    "p) FROM l", "tiiii" },
	[PG_DR_GRANT_ADD] = { "INSERT INTO grants (caller, target, device, "
	    "ref, stranger, granted_at, expires_at) "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7)", "tttblii" },
	[PG_DR_GRANT_END] = { "UPDATE grants SET ended = $3 "
	    "WHERE ref = $2 AND caller = $1 AND ended = 0 AND "
	    "expires_at > $4", "tbni" },
	[PG_DR_GRANT_PRUNE] = { SWEEP(7) "DELETE FROM grants WHERE id = ANY "
	    "(ARRAY(SELECT id FROM grants WHERE expires_at < $1 AND "
	    "(SELECT ok FROM l) ORDER BY expires_at LIMIT $2))", "ii" },
	[PG_DR_CONTACT_ADD] = { "INSERT INTO contacts (owner, contact, "
	    "kind, created_at) VALUES ($1, $2, $3, $4) "
	    "ON CONFLICT DO NOTHING", "ttni" },
	[PG_DR_CONTACT_COUNT] = { "SELECT count(*), "
	    "EXISTS (SELECT 1 FROM contacts WHERE owner = $1 AND "
	    "contact = $2 AND kind = 1) FROM contacts "
	    "WHERE owner = $1 AND kind = 1", "tt" },
	[PG_DR_CONTACT_DEL] = { "DELETE FROM contacts WHERE owner = $1 AND "
	    "contact = $2 AND kind = 1", "tt" },
	[PG_DR_CONTACT_LIST] = { "SELECT contact FROM contacts "
	    "WHERE owner = $1 AND kind = 1 ORDER BY contact LIMIT $2",
	    "ti" },
	/* registrations from one address are serialized by its lock */
	[PG_DR_REG_FACTS] = { "SELECT count(*), min(at) FROM registrations "
	    "WHERE address = $1 AND at > $2", "ti" },
	[PG_DR_REG_ADD] = { "INSERT INTO registrations (address, at) "
	    "VALUES ($1, $2)", "ti" },
	[PG_DR_REG_PRUNE] = { SWEEP(7) "DELETE FROM registrations WHERE "
	    "id = ANY (ARRAY(SELECT id FROM registrations WHERE at < $1 AND "
	    "(SELECT ok FROM l) ORDER BY at LIMIT $2))", "ii" },
	[PG_DR_INVITE_ADD] = { "INSERT INTO invites (hash, uses, created_at) "
	    "VALUES ($1, $2, $3)", "bni" },
	[PG_DR_INVITE_TAKE] = { "UPDATE invites SET uses = uses - 1 "
	    "WHERE hash = $1 AND uses > 0", "b" },
	[PG_DR_INVITE_BACK] = { "UPDATE invites SET uses = uses + 1 "
	    "WHERE hash = $1", "b" },
	/*
	 * A copy of the drain budget's tables (store_pg_copy.c), as the
	 * SQLite backend's: every row as stored, in the order a load
	 * keeps, but contacts that name no user (LIVE; the names folded,
	 * compared as users.folded is, byte by byte); a registration is
	 * loaded by PG_DR_REG_ADD.
	 */
#define LIVE	"owner COLLATE \"C\" IN (SELECT folded FROM users) AND " \
		"contact COLLATE \"C\" IN (SELECT folded FROM users)"
	[PG_DUMP_CONTACTS] = { "SELECT owner, contact, kind, created_at "
	    "FROM contacts WHERE " LIVE " ORDER BY owner COLLATE \"C\", "
	    "contact COLLATE \"C\", kind", "" },
	[PG_DUMP_GRANTS] = { "SELECT caller, target, device, ref, stranger, "
	    "granted_at, expires_at, ended FROM grants "
	    "ORDER BY granted_at, id", "" },
	[PG_DUMP_REGS] = { "SELECT address, at FROM registrations "
	    "ORDER BY at, id", "" },
	[PG_DUMP_INVITES] = { "SELECT hash, uses, created_at FROM invites "
	    "ORDER BY created_at, hash", "" },
	[PG_LOAD_CONTACT] = { "INSERT INTO contacts (owner, contact, kind, "
	    "created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
	    "ttni" },
	[PG_LOAD_GRANT] = { "INSERT INTO grants (caller, target, device, "
	    "ref, stranger, granted_at, expires_at, ended) "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", "tttbliin" },
	[PG_LOAD_INVITE] = { "INSERT INTO invites (hash, uses, created_at) "
	    "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", "bni" },
	[PG_CENSUS_DRAIN] = { "SELECT "
	    "(SELECT count(*) FROM contacts WHERE " LIVE "), "
	    "(SELECT count(*) FROM contacts WHERE NOT (" LIVE ")), "
	    "(SELECT count(*) FROM grants), "
	    "(SELECT count(*) FROM grants WHERE ended = 0), "
	    "(SELECT count(*) FROM grants WHERE stranger), "
	    "(SELECT count(*) FROM registrations), "
	    "(SELECT count(*) FROM invites), "
	    "(SELECT coalesce(sum(uses), 0) FROM invites)", "" },
#undef LIVE
};

const char *
kps_pg_sql(enum kps_pg_stmt i)
{
	return stmts[i].sql;
}

const char *
kps_pg_types(enum kps_pg_stmt i)
{
	return stmts[i].types;
}

int
kps_pg_nmigrations(void)
{
	return NMIGRATIONS;
}

const char *
kps_pg_migration(int v)
{
	return migrations[v];
}
