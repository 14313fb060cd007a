/* SPDX-License-Identifier: ISC */
/*
 * 2013-store-plans: the query plan of each statement on a request's path
 * in the server's store (linked from libkps.a, schema from its
 * migrations): each reads through the index it was written for, never
 * by scanning keypackages.  A reserve's replay lookup once slipped to
 * (username, not_after) and read every key of the owner: 56 ms a
 * reserve at 100,000 keys, found only by the benchmark.  On SQLite
 * there are no statistics, as in production; on PostgreSQL the test
 * stores 20,000 keys of 200 users and analyzes them, as autovacuum
 * would, and reads the generic plan a prepared statement gets.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "tap.h"

#include "kps.h"
#include "kps_db.h"
#include "store_pg_db.h"
#include "store_sqlite_db.h"

/* plan: the EXPLAIN QUERY PLAN details of statement i, "; "-joined. */
static const char *
plan_of(sqlite3 *db, enum kps_sq_stmt i)
{
	static char	 out[1024];
	char		 q[2048];
	sqlite3_stmt	*st;
	size_t		 n = 0;
	int		 len;

	len = snprintf(q, sizeof(q), "EXPLAIN QUERY PLAN %s", kps_sq_sql(i));
	if (len < 0 || (size_t)len >= sizeof(q))
		bail("statement %d: too long", i);
	if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
		bail("statement %d: %s", i, sqlite3_errmsg(db));
	out[0] = '\0';
	while (sqlite3_step(st) == SQLITE_ROW) {
		len = snprintf(out + n, sizeof(out) - n, "%s%s",
		    n > 0 ? "; " : "",
		    (const char *)sqlite3_column_text(st, 3));
		if (len < 0 || (size_t)len >= sizeof(out) - n)
			bail("statement %d: plan too long", i);
		n += (size_t)len;
	}
	sqlite3_finalize(st);
	return out;
}

static const struct {
	enum kps_sq_stmt stmt;
	const char	*name;
	const char	*plan;
} want[] = {
	{ SQ_REPLAY, "reserve: replay by request_id",
	    "SEARCH keypackages USING INDEX keypackages_request"
	    " (reserved_by=? AND request_id=?)" },
	{ SQ_OLDEST, "reserve: the oldest available key",
	    "SEARCH keypackages USING INDEX keypackages_user_status"
	    " (username=? AND status=? AND last_resort=?)" },
	{ SQ_LAST_RESORT, "reserve: the last-resort key",
	    "SEARCH keypackages USING INDEX keypackages_user_status"
	    " (username=? AND status=? AND last_resort=?)" },
	{ SQ_NAMED, "reserve: a named key",
	    "SEARCH keypackages USING INDEX keypackages_ref"
	    " (keypackage_ref=?)" },
	{ SQ_MARK_RESERVED, "reserve: mark it",
	    "SEARCH keypackages USING INTEGER PRIMARY KEY (rowid=?)" },
	{ SQ_ROW, "spend and release: the key's row",
	    "SEARCH keypackages USING INDEX keypackages_ref"
	    " (keypackage_ref=?)" },
	{ SQ_SPEND, "spend",
	    "SEARCH keypackages USING INTEGER PRIMARY KEY (rowid=?)" },
	{ SQ_RELEASE, "release",
	    "SEARCH keypackages USING INTEGER PRIMARY KEY (rowid=?)" },
	{ SQ_GET, "get",
	    "SEARCH keypackages USING INDEX keypackages_ref"
	    " (keypackage_ref=?)" },
	{ SQ_REF_EXISTS, "upload: a ref known",
	    "SEARCH keypackages USING INDEX keypackages_ref"
	    " (keypackage_ref=?)" },
	{ SQ_TOMB_CHECK, "upload: tombstones",
	    "MULTI-INDEX OR; INDEX 1; "
	    "SEARCH tombstones USING PRIMARY KEY (kind=? AND value=?); "
	    "INDEX 2; SEARCH tombstones USING PRIMARY KEY"
	    " (kind=? AND value=? AND username=?); "
	    "USE TEMP B-TREE FOR ORDER BY" },
	{ SQ_USER_GET, "a user exists, as registered",
	    "SEARCH users USING PRIMARY KEY (folded=?)" },
	{ SQ_DEV_GET, "auth: the key of a device",
	    "SEARCH u USING PRIMARY KEY (folded=?); SEARCH d USING "
	    "PRIMARY KEY (username=? AND device=?)" },
	{ SQ_OLDEST_S, "reserve: the oldest key of a suite",
	    "SEARCH keypackages USING INDEX keypackages_user_suite "
	    "(username=? AND ciphersuite=? AND last_resort=?)" },
	{ SQ_OLDEST_D, "reserve, claim: the oldest key of a device",
	    "SEARCH keypackages USING INDEX "
	    "keypackages_device_status (username=? AND device=? AND "
	    "last_resort=?)" },
	{ SQ_OLDEST_DS, "reserve, claim: the oldest key of a device and "
	    "suite",
	    "SEARCH keypackages USING INDEX keypackages_device_suite "
	    "(username=? AND device=? AND ciphersuite=? AND "
	    "last_resort=?)" },
	{ SQ_LAST_RESORT_S, "reserve: the last-resort key of a suite",
	    "SEARCH keypackages USING INDEX keypackages_user_suite "
	    "(username=? AND ciphersuite=? AND last_resort=?)" },
	{ SQ_LAST_RESORT_D, "reserve, claim: the last-resort key of a "
	    "device",
	    "SEARCH keypackages USING INDEX "
	    "keypackages_device_status (username=? AND device=? AND "
	    "last_resort=?)" },
	{ SQ_LAST_RESORT_DS, "reserve, claim: the last-resort key of a "
	    "device and suite",
	    "SEARCH keypackages USING INDEX keypackages_device_suite "
	    "(username=? AND device=? AND ciphersuite=? AND "
	    "last_resort=?)" },
	{ SQ_DEV_KEY, "reserve: a device of the target",
	    "SEARCH devices USING PRIMARY KEY (username=? AND "
	    "device=?)" },
	{ SQ_DEV_LIST, "claim, devices: the devices of a user",
	    "SEARCH devices USING PRIMARY KEY (username=?)" },
	{ SQ_COUNT_DEV, "devices, status: counts per device and suite",
	    "SEARCH keypackages USING INDEX "
	    "keypackages_user_not_after (username=?); USE TEMP "
	    "B-TREE FOR GROUP BY" },
	{ SQ_LIST_DEV, "mine: the keys of a device",
	    "SEARCH keypackages USING INDEX "
	    "keypackages_user_not_after (username=?); USE TEMP "
	    "B-TREE FOR ORDER BY" },
	{ SQ_KEY_USED, "enroll: a key in use",
	    "SEARCH devices USING COVERING INDEX "
	    "sqlite_autoindex_devices_1 (public_key=?)" },
	{ SQ_DEV_COUNT, "enroll, remove: the devices of a user",
	    "SEARCH devices USING PRIMARY KEY (username=?)" },
	{ SQ_DEV_TOMB_REF, "remove: tombstones of the refs",
	    "SEARCH keypackages USING INDEX "
	    "keypackages_user_not_after (username=?)" },
	{ SQ_DEV_TOMB_INIT, "remove: tombstones of the init keys",
	    "SEARCH keypackages USING INDEX "
	    "keypackages_user_not_after (username=?)" },
	{ SQ_DEV_KEYS_DEL, "remove: the keys",
	    "SEARCH keypackages USING INDEX "
	    "keypackages_user_not_after (username=?)" },
	{ SQ_DEV_DEL, "remove: the device",
	    "SEARCH devices USING PRIMARY KEY (username=? AND "
	    "device=?)" },
	{ SQ_NONCE_SEEN, "a read's nonce",
	    "SEARCH nonces USING PRIMARY KEY (created=? AND id=?)" },
	{ SQ_NONCE_PRUNE, "the stale nonces",
	    "SEARCH nonces USING PRIMARY KEY (created=? AND id=?); "
	    "LIST SUBQUERY 1; SEARCH nonces USING PRIMARY KEY (created<?)" },
	{ SQ_RATE_PRUNE, "the full buckets",
	    "SEARCH buckets USING INTEGER PRIMARY KEY (rowid=?); "
	    "LIST SUBQUERY 1; SEARCH buckets USING COVERING INDEX "
	    "buckets_full (full_at<?)" },
	{ SQ_LIST_ALL, "mine",
	    "SEARCH keypackages USING INDEX keypackages_user_not_after"
	    " (username=?); USE TEMP B-TREE FOR ORDER BY" },
	{ SQ_COUNT_USER, "status",
	    "SEARCH keypackages USING INDEX keypackages_user_not_after"
	    " (username=?); USE TEMP B-TREE FOR GROUP BY" },
	{ SQ_DR_FACTS, "budget: the caller's facts",
	    "SCAN CONSTANT ROW; SCALAR SUBQUERY 1; SEARCH contacts USING "
	    "PRIMARY KEY (owner=? AND contact=?); SCALAR SUBQUERY 2; "
	    "SEARCH grants USING INDEX grants_caller (caller=? AND "
	    "expires_at>?); SCALAR SUBQUERY 3; SEARCH grants USING INDEX "
	    "grants_caller (caller=? AND expires_at>?); SCALAR SUBQUERY 7; "
	    "CO-ROUTINE (subquery-6); SCALAR SUBQUERY 5; SEARCH contacts "
	    "USING PRIMARY KEY (owner=? AND contact=?); SEARCH keypackages "
	    "USING INDEX keypackages_user_status (username=? AND status=? "
	    "AND last_resort=?); SCALAR SUBQUERY 4; SEARCH users USING "
	    "PRIMARY KEY (folded=?); SCAN (subquery-6); SCALAR SUBQUERY 9; "
	    "SEARCH keypackages USING INDEX keypackages_request "
	    "(reserved_by=? AND request_id=?); SCALAR SUBQUERY 8; SEARCH "
	    "users USING PRIMARY KEY (folded=?)" },
	{ SQ_DR_STRANGERS, "budget: the target's grants to strangers",
	    "SEARCH grants USING INDEX grants_target (target=? AND "
	    "granted_at>?)" },
	{ SQ_DR_POOL, "budget: the target's pool",
	    "CO-ROUTINE (subquery-2); SEARCH keypackages USING INDEX "
	    "keypackages_user_status (username=? AND status=? AND "
	    "last_resort=?); SCALAR SUBQUERY 1; SEARCH users USING "
	    "PRIMARY KEY (folded=?); SCAN (subquery-2)" },
};

/* What a statement of the PostgreSQL backend reads through. */
static const struct {
	enum kps_pg_stmt stmt;
	const char	*name;
	const char	*index;
} pgwant[] = {
	{ PG_RESERVE, "reserve: the oldest available key",
	    "keypackages_available" },
	{ PG_RESERVE, "reserve: the replay by request_id",
	    "keypackages_request" },
	{ PG_RESERVE, "reserve: the last-resort key",
	    "keypackages_last_resort" },
	{ PG_REPLAY, "reserve a named key: the replay",
	    "keypackages_request" },
	{ PG_NAMED, "reserve: a named key",
	    "keypackages_keypackage_ref_key" },
	{ PG_MARK, "reserve: mark it", "keypackages_pkey" },
	{ PG_ROW, "spend and release: the key's row",
	    "keypackages_keypackage_ref_key" },
	{ PG_SPEND, "spend", "keypackages_pkey" },
	{ PG_RELEASE, "release", "keypackages_pkey" },
	{ PG_RETIRE, "retire", "keypackages_pkey" },
	{ PG_GET, "get", "keypackages_keypackage_ref_key" },
	{ PG_SAVE, "upload: a ref known", "keypackages_keypackage_ref_key" },
	{ PG_SAVE, "upload: tombstones", "tombstones_pkey" },
	{ PG_USER_GET, "a user, as registered", "users_pkey" },
	{ PG_DEV_GET, "auth: the key of a device", "devices_pkey" },
	{ PG_DEV_LIST, "claim, devices: the devices of a user",
	    "devices_pkey" },
	{ PG_USER_EXISTS, "a user exists", "users_pkey" },
	{ PG_NONCE_SEEN, "a read's nonce", "nonces_pkey" },
	{ PG_NONCE_PRUNE, "the stale nonces", "nonces_pkey" },
	{ PG_RATE_PRUNE, "the full buckets", "buckets_full" },
	{ PG_LIST_ALL, "mine", "keypackages_user_init_key" },
	{ PG_COUNT_USER, "status", "keypackages_user_init_key" },
	{ PG_EXP_RELEASE, "sweep: reservations that ran out",
	    "keypackages_reserved_until" },
	{ PG_CLEANUP, "sweep: expired keys", "keypackages_not_after" },
	{ PG_DR_FACTS, "budget: the caller's facts", "grants_caller" },
	{ PG_DR_STRANGERS, "budget: the target's grants to strangers",
	    "grants_target" },
	{ PG_DR_POOL, "budget: the target's pool",
	    "keypackages_user_init_key" },
	{ PG_DR_TARGET, "budget: a target's grants to strangers, at once",
	    "grants_target" },
	{ PG_DR_TARGET, "budget: and its pool, at once",
	    "keypackages_user_init_key" },
};
#define NPG	(int)(sizeof(pgwant) / sizeof(pgwant[0]))

/* pg_plan: the generic plan of statement i, one string. */
static const char *
pg_plan(const char *db, enum kps_pg_stmt i)
{
	static char	 out[8192];
	const char	*t;
	char		 q[4096], args[256], types[256];
	size_t		 n = 0, m = 0, k = 0;
	PGresult	*r;
	int		 row;

	args[0] = types[0] = '\0';
	for (t = kps_pg_types(i); *t != '\0'; t++) {
		m += (size_t)snprintf(args + m, sizeof(args) - m, "%s%s",
		    m ? ", " : "", *t == 't' ? "'alice'" : *t == 'b' ?
		    "'\\x00'" : *t == 'i' ? "1700000000" : *t == 'n' ? "1" :
		    *t == 'f' ? "1.0" : "false");
		k += (size_t)snprintf(types + k, sizeof(types) - k, "%s%s",
		    k ? ", " : "", *t == 't' ? "text" : *t == 'b' ? "bytea" :
		    *t == 'i' ? "int8" : *t == 'n' ? "int4" : *t == 'f' ?
		    "float8" : "bool");
	}
	n = (size_t)snprintf(q, sizeof(q), "SET plan_cache_mode = "
	    "force_generic_plan; PREPARE p%s%s%s AS %s; "
	    "EXPLAIN EXECUTE p%s%s%s", *types ? " (" : "", types,
	    *types ? ")" : "", kps_pg_sql(i), *args ? "(" : "", args,
	    *args ? ")" : "");
	if (n >= sizeof(q))
		bail("statement %d: too long", i);
	r = db_sql(db, q);
	for (row = 0, n = 0; row < PQntuples(r); row++)
		n += (size_t)snprintf(out + n, sizeof(out) - n, "%s\n",
		    PQgetvalue(r, row, 0));
	PQclear(r);
	return out;
}

/* pg_main: the PostgreSQL backend's plans. */
static int
pg_main(void)
{
	char			 dir[] = "/tmp/kpool-2013.XXXXXX", db[512];
	struct kps_store_conf	 conf = { 0 };
	struct kps_store	*s = NULL;
	const char		*p;
	int			 i;

	plan(2 * NPG);
	if (mkdtemp(dir) == NULL)
		bail("mkdtemp");
	db_new(db, sizeof(db), dir);
	if (kps_store_open(db, &conf, &s) != KP_OK)
		bail("open: %s", s ? kps_store_errmsg(s) : "?");
	kps_store_close(s);
	/* 200 users with 100 keys each, and more without keys */
	PQclear(db_sql(db, "INSERT INTO users (name, "
	    "created_at, folded) SELECT CASE WHEN i = 0 THEN 'alice' "
	    "ELSE 'u' || i END, 0, CASE WHEN i = 0 "
	    "THEN 'alice' ELSE 'u' || i END FROM generate_series(0, 999) i; "
	    "INSERT INTO devices SELECT name, 'default', sha256(name::bytea), "
	    "0 FROM users; "
	    "INSERT INTO keypackages (keypackage_ref, username, "
	    "keypackage_bytes, uploaded_at, status, not_after, "
	    "credential_hash, ciphersuite, init_key, last_resort, "
	    "reserved_by, request_id, reservation_expires_at) "
	    "SELECT sha256(int8send(i)), CASE WHEN i % 200 = 0 THEN "
	    "'alice' ELSE 'u' || i % 200 END, '\\x00', i, "
	    "CASE WHEN i % 3 = 0 THEN "
	    "'available' WHEN i % 3 = 1 THEN 'spent' ELSE 'reserved' END, "
	    "1800000000 + i, '\\x00', 1, sha256(int4send(i::int)), "
	    "i % 1000 = 0, CASE WHEN i % 3 = 2 THEN 'bob' END, "
	    "CASE WHEN i % 3 = 2 THEN i::text END, "
	    "CASE WHEN i % 3 = 2 THEN 1700000000 + i END "
	    "FROM generate_series(1, 20000) i; "
	    "INSERT INTO tombstones SELECT i % 2, sha256(int8send(i)), "
	    "'alice', 0 FROM generate_series(1, 2000) i; "
	    "INSERT INTO nonces SELECT 1700000000 + i / 100, i "
	    "FROM generate_series(1, 20000) i; "
	    "INSERT INTO buckets SELECT 1, 'u' || i, 'alice', 1, 0, "
	    "1700000000000 + i, true FROM generate_series(1, 2000) i; "
	    "INSERT INTO grants (caller, target, device, ref, stranger, "
	    "granted_at, expires_at) SELECT 'u' || i % 500, CASE WHEN "
	    "i % 200 = 0 THEN 'alice' ELSE 'u' || i % 200 END, 'default', "
	    "sha256(int8send(i)), i % 2 = 0, 1700000000 + i, 1700000060 + i "
	    "FROM generate_series(1, 20000) i; "
	    "INSERT INTO contacts (owner, contact, kind, created_at) "
	    "SELECT 'u' || i % 200, 'u' || i, 1, 0 "
	    "FROM generate_series(1, 5000) i; "
	    "ANALYZE"));
	for (i = 0; i < NPG; i++) {
		p = pg_plan(db, pgwant[i].stmt);
		ok(strstr(p, pgwant[i].index) != NULL, "%s: through %s",
		    pgwant[i].name, pgwant[i].index);
		if (!ok(strstr(p, "Seq Scan on keypackages") == NULL,
		    "%s: no scan of keypackages", pgwant[i].name) ||
		    strstr(p, pgwant[i].index) == NULL)
			diag("%s", p);
	}
	db_drop(db);
	rmdir(dir);
	return done_testing();
}

int
main(void)
{
	char			 dir[] = "/tmp/kpool-2013.XXXXXX", path[128];
	char			 side[160];
	struct kps_store_conf	 conf = { 0 };
	struct kps_store	*s = NULL;
	sqlite3			*db;
	size_t			 i;

	if (db_is_pg())
		return pg_main();
	plan((int)(sizeof(want) / sizeof(want[0])));
	if (mkdtemp(dir) == NULL)
		bail("mkdtemp");
	snprintf(path, sizeof(path), "%s/server.db", dir);
	if (kps_store_open(path, &conf, &s) != KP_OK)
		bail("open");
	db = ((struct kps_sq *)s)->db;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		is_string(plan_of(db, want[i].stmt), want[i].plan, "%s",
		    want[i].name);
	kps_store_close(s);
	unlink(path);
	snprintf(side, sizeof(side), "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", path);
	unlink(side);
	rmdir(dir);
	return done_testing();
}
