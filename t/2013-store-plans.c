/* SPDX-License-Identifier: ISC */
/*
 * 2013-store-plans: the query plan of each statement on a request's path
 * in the server's store (linked from libkps.a, schema from its
 * migrations, no statistics, as in production): each reads through the
 * index it was written for, never by scanning keypackages.  A reserve's
 * replay lookup once slipped to (username, not_after) and read every key
 * of the owner: 56 ms a reserve at 100,000 keys, found only by the
 * benchmark.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "tap.h"

#include "kps.h"
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
	{ SQ_LIST_ALL, "mine",
	    "SEARCH keypackages USING INDEX keypackages_user_not_after"
	    " (username=?); USE TEMP B-TREE FOR ORDER BY" },
	{ SQ_COUNT_USER, "status",
	    "SEARCH keypackages USING INDEX keypackages_user_not_after"
	    " (username=?); USE TEMP B-TREE FOR GROUP BY" },
};

int
main(void)
{
	char			 dir[] = "/tmp/kpool-2013.XXXXXX", path[128];
	char			 side[160];
	struct kps_store_conf	 conf = { 0 };
	struct kps_store	*s = NULL;
	sqlite3			*db;
	size_t			 i;

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
