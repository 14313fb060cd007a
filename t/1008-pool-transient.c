/* SPDX-License-Identifier: ISC */
/*
 * 1008-pool-transient: only the server's word on a key changes it
 * locally.  Against a real kpool-server whose real SQLite database is
 * made to fail (a trigger that aborts its inserts, a table renamed away)
 * or that is stopped in the middle of a sync, sync and refresh leave
 * every key as it was, private keys included, report the failure, and
 * mark the pool offline; the next sync with a healthy server puts
 * everything right.
 */

#include <sodium.h>
#include <sqlite3.h>

#include "1-pooltest.h"

static const char	*url;
static int		 stop_at;	/* stop the server at this clock read */

/* The test clock; the stop_at-th read stops the server (0: never). */
static int64_t
hook_now(void *arg)
{
	(void)arg;
	if (stop_at > 0 && --stop_at == 0)
		pt_server_stop();
	return pt_clock;
}

/* Run sql on the server's database, as its operator could. */
static void
server_sql(const char *sql)
{
	sqlite3	*db;

	if (sqlite3_open(pt_file("server0.db"), &db) != SQLITE_OK)
		bail("open the server's database");
	sqlite3_busy_timeout(db, 10000);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		bail("%s: %s", sql, sqlite3_errmsg(db));
	sqlite3_close(db);
}

static void
counts_are(struct kp_pool *p, uint32_t cr, uint32_t av, uint32_t ex,
    const char *what)
{
	struct kp_counts	c;

	if (kp_pool_counts(p, 0, &c) != KP_OK)
		bail("counts: %s", kp_errmsg(p));
	ok(c.n[KP_STATE_CREATED] == cr && c.n[KP_STATE_AVAILABLE] == av &&
	    c.n[KP_STATE_RESERVED] == 0 && c.n[KP_STATE_SPENT] == 0 &&
	    c.n[KP_STATE_EXPIRED] == ex && pt_sum(&c) == (int)c.total,
	    "%s: created %u available %u expired %u (got %u/%u/%u/%u/%u)",
	    what, cr, av, ex, c.n[0], c.n[1], c.n[2], c.n[3], c.n[4]);
}

/* Every key still holds its private keys. */
static void
all_private(struct kp_pool *p, const char *what)
{
	struct kp_key	**keys;
	size_t		 n, i, bad = 0;

	if (kp_pool_list(p, -1, &keys, &n) != KP_OK)
		bail("list: %s", kp_errmsg(p));
	for (i = 0; i < n; i++)
		bad += !kp_key_has_private(keys[i]);
	kp_keys_free(keys, n);
	is_int(bad, 0, "%s: every key keeps its private keys", what);
}

static void
health_is(struct kp_pool *p, int want, const char *what)
{
	struct kp_status	s;

	if (kp_pool_status(p, &s) != KP_OK)
		bail("status: %s", kp_errmsg(p));
	is_string(kp_health_name(s.health), kp_health_name(want),
	    "%s: health", what);
}

/* The server fails to store any key: a per-key "internal" answer. */
static void
test_store_fails(struct kp_pool *p)
{
	struct kp_sync_report	r;

	if (kp_pool_generate(p, 2, 0) != KP_OK)
		bail("generate: %s", kp_errmsg(p));
	counts_are(p, 2, 4, 0, "2 new keys");
	server_sql("CREATE TRIGGER fail_insert BEFORE INSERT ON keypackages "
	    "BEGIN INSERT INTO gone_away VALUES (1); END");
	is_int(kp_pool_sync(p, &r), KP_ESERVER,
	    "sync while the server cannot store keys: KP_ESERVER");
	ok(strstr(kp_errmsg(p), "not stored: internal") != NULL,
	    "the message says so: %s", kp_errmsg(p));
	is_int(r.expired, 0, "nothing expired");
	is_int(r.uploaded, 0, "nothing uploaded");
	counts_are(p, 2, 4, 0, "the 2 keys stay created");
	all_private(p, "after the failed upload");
	health_is(p, KP_HEALTH_OFFLINE, "a 5xx");

	pt_set_clock(pt_clock + 60);
	is_int(kp_pool_refresh(p, KP_REFRESH_WATERMARK, &r), KP_ESERVER,
	    "refresh: KP_ESERVER");
	is_int(r.expired, 0, "nothing expired");
	counts_are(p, 2, 4, 0, "still created");

	server_sql("DROP TRIGGER fail_insert");
	is_int(kp_pool_sync(p, &r), KP_OK, "sync once the server is well");
	is_int(r.uploaded, 2, "the 2 keys are uploaded");
	counts_are(p, 0, 6, 0, "all available");
	health_is(p, KP_HEALTH_OK, "well again");
}

/* The server answers the pull with a 503. */
static void
test_pull_fails(struct kp_pool *p)
{
	struct kp_sync_report	r;

	server_sql("ALTER TABLE keypackages RENAME TO keypackages_away");
	is_int(kp_pool_sync(p, &r), KP_ESERVER, "sync with a 503 on the "
	    "pull: KP_ESERVER");
	is_int(r.pulled, 0, "nothing pulled");
	is_int(r.online, 0, "not online");
	counts_are(p, 0, 6, 0, "no key goes back to created");
	health_is(p, KP_HEALTH_OFFLINE, "a 503");
	server_sql("ALTER TABLE keypackages_away RENAME TO keypackages");
	is_int(kp_pool_sync(p, &r), KP_OK, "sync once the server is well");
	is_int(r.pulled, 0, "nothing to pull");
	counts_are(p, 0, 6, 0, "unchanged");
}

/* The server dies between the pull and the upload of one sync. */
static void
test_stopped(struct kp_pool *p)
{
	struct kp_sync_report	r;

	if (kp_pool_generate(p, 1, 0) != KP_OK)
		bail("generate: %s", kp_errmsg(p));
	stop_at = 2;	/* the pull reads the clock, then the upload */
	is_int(kp_pool_sync(p, &r), KP_ENET,
	    "the server stops after the pull: KP_ENET");
	is_int(stop_at, 0, "it was stopped in the middle of the sync");
	is_int(r.expired, 0, "nothing expired");
	counts_are(p, 1, 6, 0, "the new key stays created");
	all_private(p, "server stopped");
	health_is(p, KP_HEALTH_OFFLINE, "connection refused");
	is_int(kp_pool_refresh(p, KP_REFRESH_WATERMARK, &r), KP_ENET,
	    "refresh: KP_ENET");
	is_int(r.expired + r.generated + r.uploaded + r.pulled, 0,
	    "refresh changed nothing");
	counts_are(p, 1, 6, 0, "unchanged");
	all_private(p, "after the refresh");
}

int
main(void)
{
	struct kp_pool		*p;
	struct kp_sync_report	 r;

	if (sodium_init() < 0)
		bail("sodium_init");
	pt_init();
	url = pt_server(1);
	if (kp_pool_open(pt_file("alice.db"), NULL, "alice", NULL, &p) != KP_OK)
		bail("open: %s", kp_errmsg(p));
	kp_pool_set_clock(p, hook_now, NULL);
	if (kp_pool_set_server(p, url) != KP_OK)
		bail("set_server: %s", kp_errmsg(p));
	pt_small_policy(p, "2", "4", "16");
	if (kp_pool_refresh(p, KP_REFRESH_WATERMARK,
	    &r) != KP_OK || r.uploaded != 4)
		bail("first refresh: %s", kp_errmsg(p));
	test_store_fails(p);
	test_pull_fails(p);
	test_stopped(p);
	kp_pool_close(p);
	return done_testing();
}
