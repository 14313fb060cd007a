/* SPDX-License-Identifier: ISC */
/*
 * 2011-store-rollback: the server's store (linked from libkps.a) when
 * the database ends the writer's batch on its own: SQLite rolls it back
 * (as it may on SQLITE_FULL, IOERR, BUSY or NOMEM), PostgreSQL loses
 * the connection (here the test terminates its backend, as a restart
 * or a crash of the server does).  The batch says so, and no operation
 * runs outside it (one used to commit alone, so a request could be told
 * its write failed while half the batch landed, or the other way
 * round), until the writer ends the batch; the next batch works (on
 * PostgreSQL, on a new connection).
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

#define T0	1700000000

static void
mkkey(struct kps_key *k, int n)
{
	static uint8_t	bytes[64];

	memset(k, 0, sizeof(*k));
	k->ref[0] = (uint8_t)n;
	memset(k->init_key, 0xa0, sizeof(k->init_key));
	k->init_key[0] = (uint8_t)n;
	snprintf(k->username, sizeof(k->username), "alice");
	memset(bytes, n, sizeof(bytes));
	k->bytes = bytes;
	k->len = sizeof(bytes);
	k->uploaded_at = T0;
	k->not_after = T0 + 86400;
	k->suite = 1;
}

/* stored: 1 when a fresh connection finds the key of ref[0] = n. */
static int
stored(const char *path, int n)
{
	struct kps_store_conf	 conf = { .readonly = 1 };
	struct kps_store	*r = NULL;
	struct kps_key		 k, got;
	int			 rc;

	mkkey(&k, n);
	if (kps_store_open(path, &conf, &r) != KP_OK)
		bail("open reader");
	rc = kps_key_get(r, k.ref, T0, &got);
	kps_key_clear(&got);
	kps_store_close(r);
	return rc == KP_OK;
}

int
main(void)
{
	char			 dir[] = "/tmp/kpool-2011.XXXXXX", path[512];
	char			 cmd[160], sql[128];
	struct kps_store_conf	 conf = { 0 };
	struct kps_store	*s = NULL;
	struct kps_reserve	 r;
	struct kps_reservation	 res;
	struct kps_key		 k;
	uint8_t			 pk[32];

	plan(17);
	if (mkdtemp(dir) == NULL)
		bail("mkdtemp");
	db_new(path, sizeof(path), dir);
	diag("backend: %s", db_backend());
	if (kps_store_open(path, &conf, &s) != KP_OK)
		bail("open");
	memset(pk, 7, sizeof(pk));
	is_int(kps_user_add(s, "alice", pk, T0), KP_OK, "alice");

	is_int(kps_store_begin(s), KP_OK, "a batch begins");
	mkkey(&k, 1);
	is_int(kps_key_save(s, &k), KP_OK, "key 1 saved in the batch");
	is_int(kps_store_in_batch(s), 1, "the batch is open");
	if (!db_is_pg()) {
		/* what SQLite does on its own after SQLITE_FULL and such */
		is_int(sqlite3_exec(((struct kps_sq *)s)->db, "ROLLBACK",
		    NULL, NULL, NULL), SQLITE_OK,
		    "SQLite rolls the transaction back");
		is_int(kps_store_in_batch(s), 0, "the batch knows it is gone");
		mkkey(&k, 2);
		is_int(kps_key_save(s, &k), KP_EDB,
		    "key 2 is refused, not committed alone");
		is_string(kps_store_errmsg(s), "the transaction was rolled "
		    "back by SQLite", "and says why");
	} else {
		/* the connection goes: a restart, a crash, an operator */
		snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)",
		    PQbackendPID(((struct kps_pg *)s)->conn));
		PQclear(db_sql(path, sql));
		ok(1, "the test terminates the writer's backend");
		mkkey(&k, 2);
		is_int(kps_key_save(s, &k), KP_EDB,
		    "key 2 is refused: the connection is gone");
		is_int(kps_store_in_batch(s), 0, "the batch knows it is gone");
		ok(strstr(kps_store_errmsg(s), "terminat") != NULL ||
		    strstr(kps_store_errmsg(s), "closed") != NULL,
		    "and says why: %s", kps_store_errmsg(s));
	}
	memset(&r, 0, sizeof(r));
	r.caller = "alice";
	r.target = "alice";
	r.now = T0;
	r.ttl = 60;
	is_int(kps_reserve(s, &r, &res), KP_EDB, "a reserve is refused too");
	kps_reservation_clear(&res);
	ok(kps_store_commit(s) != KP_OK, "the batch does not commit");
	is_int(kps_store_rollback(s), KP_OK, "the writer ends it");
	ok(!stored(path, 1), "key 1 is not stored");
	ok(!stored(path, 2), "key 2 is not stored");

	is_int(kps_store_begin(s), KP_OK, "a new batch");
	is_int(kps_key_save(s, &k), KP_OK, "key 2 saved in it");
	is_int(kps_store_commit(s), KP_OK, "committed");
	ok(stored(path, 2), "key 2 is stored");

	kps_store_close(s);
	db_drop(path);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("cannot remove %s", dir);
	return done_testing();
}
