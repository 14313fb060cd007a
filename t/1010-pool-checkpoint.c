/* SPDX-License-Identifier: ISC */
/*
 * 1010-pool-checkpoint: the store's WAL checkpoint gives up after about
 * 5 s in all when another connection keeps it busy (KP_EDB, the WAL
 * scrub stays owed), and succeeds as soon as the other connection lets
 * go within that time.  A reader holding a snapshot of the WAL is what
 * keeps a TRUNCATE checkpoint from finishing.
 */

#include <pthread.h>
#include <time.h>

#include <sodium.h>
#include <sqlite3.h>

#include "1-pooltest.h"
#include "pool.h"
#include "store.h"

static double
now_s(void)
{
	struct timespec	ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Another connection on db that holds a read snapshot until closed. */
static sqlite3 *
reader(const char *db)
{
	sqlite3	*r;

	if (sqlite3_open(db, &r) != SQLITE_OK ||
	    sqlite3_exec(r, "BEGIN; SELECT count(*) FROM keypackages",
	    NULL, NULL, NULL) != SQLITE_OK)
		bail("reader: %s", sqlite3_errmsg(r));
	return r;
}

static void *
let_go(void *arg)
{
	struct timespec	ts = { 1, 0 };

	nanosleep(&ts, NULL);	/* another program's read, 1 s long */
	sqlite3_close(arg);
	return NULL;
}

static off_t
wal_size(const char *db)
{
	struct stat	sb;
	char		path[600];

	(void)snprintf(path, sizeof(path), "%s-wal", db);
	return stat(path, &sb) == -1 ? -1 : sb.st_size;
}

int
main(void)
{
	struct kp_pool	*p;
	const char	*db;
	pthread_t	 t;
	sqlite3		*r;
	double		 t0, dt;
	int		 rc;

	if (sodium_init() < 0)
		bail("sodium_init");
	pt_init();
	alarm(60);	/* an unbounded retry is a failure, not a hang */
	db = pt_file("c.db");
	if (kp_pool_open(db, NULL, "carol", NULL, &p) != KP_OK ||
	    kp_pool_generate(p, 4, 0) != KP_OK)
		bail("setup: %s", kp_errmsg(p));

	r = reader(db);
	if (kp_pool_generate(p, 1, 0) != KP_OK)
		bail("generate: %s", kp_errmsg(p));
	kp_store_scrub(p->st);
	t0 = now_s();
	rc = kp_store_checkpoint(p->st);
	dt = now_s() - t0;
	is_int(rc, KP_EDB, "a reader keeps the checkpoint busy: KP_EDB");
	ok(dt >= 4.5 && dt < 7.0, "after about 5 s in all (%.2f s)", dt);
	ok(strstr(kp_errmsg(p), "busy for 5 s") != NULL, "the message says "
	    "so: %s", kp_errmsg(p));
	is_int(p->st->scrub_owed, 1, "the scrub stays owed");
	ok(wal_size(db) > 0, "the WAL is still there");

	t0 = now_s();
	kp_store_flush(p->st);
	dt = now_s() - t0;
	ok(dt >= 4.5 && dt < 7.0, "a flush gives up after about 5 s too "
	    "(%.2f s)", dt);
	is_int(p->st->scrub_owed, 1, "still owed");
	sqlite3_close(r);

	r = reader(db);
	if (pthread_create(&t, NULL, let_go, r) != 0)
		bail("pthread_create");
	t0 = now_s();
	rc = kp_store_checkpoint(p->st);
	dt = now_s() - t0;
	pthread_join(t, NULL);
	is_int(rc, KP_OK, "a reader that lets go after 1 s: the checkpoint "
	    "succeeds (%s)", rc ? kp_errmsg(p) : "ok");
	ok(dt >= 0.9 && dt < 4.5, "once it has let go (%.2f s)", dt);
	is_int(p->st->scrub_owed, 0, "the scrub is done");
	is_int(wal_size(db), 0, "the WAL is cut to nothing");
	kp_pool_close(p);
	return done_testing();
}
