/* SPDX-License-Identifier: ISC */
/*
 * 2019-server-pg-restart: PostgreSQL goes away under load and comes
 * back (PostgreSQL only, on a cluster of the test's own, since it stops
 * it: mk/pg.sh).  16 reservers keep reserving; the database is stopped
 * at once (a crash of the server), then started again.  Meanwhile
 * requests are answered 503 with a Retry-After, never 200; then the
 * server recovers by itself, every reserver is served to the end of
 * the pool, and nothing is lost: every reservation answered 200 is in
 * the database as answered, and the database holds no other.
 */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kps_test.h"

#define NTHR	16
#define NKEYS	1200

static const char *const opts[] = { "--rate-limit", "0", "--quiet", NULL };
static char	 pgdir[128];

/* pg: run mk/pg.sh verb on the test's cluster; its exit status. */
static int
pg(const char *verb)
{
	const char	*top = getenv("KP_TOP");
	char		 cmd[512];
	int		 st;

	snprintf(cmd, sizeof(cmd), "sh '%s/mk/pg.sh' %s '%s' >&2",
	    top ? top : ".", verb, pgdir);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* the cluster goes with the test, however it ends */
static void
pg_stop(void)
{
	if (pgdir[0] != '\0')
		(void)pg("stop");
}

int
main(void)
{
	static struct reserver	 v[NTHR];
	struct srv		 s;
	struct who		 alice, u[NTHR];
	size_t			 i, n, missing, dup;
	struct rawreply		 r;
	char			 name[16];
	char			 q[512];
	unsigned		 s5xx;
	int			 exhausted;

	db_only_pg("2019");
	plan(16);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	/* in /tmp itself: the user postgres must reach it */
	snprintf(pgdir, sizeof(pgdir), "/tmp/kpool-2019-pg.XXXXXX");
	if (mkdtemp(pgdir) == NULL)
		bail("mkdtemp");
	atexit(pg_stop);
	is_int(pg("start"), 0, "a cluster of the test's own");
	setenv("KP_PG_DIR", pgdir, 1);
	srv_start(&s, opts);
	who_new(&s, &alice, "alice", 1);
	upload_new(&s, &alice, NKEYS, NULL);
	for (i = 0; i < NTHR; i++) {
		snprintf(name, sizeof(name), "u%zu", i);
		who_new(&s, &u[i], name, 1);
		memset(&v[i], 0, sizeof(v[i]));
		v[i].url = s.url;
		v[i].name = u[i].name;
		v[i].seed = u[i].seed;
		v[i].target = "alice";
		v[i].id = (int)i;
		v[i].until = time(NULL) + 120;
	}
	for (i = 0; i < NTHR; i++)
		if (pthread_create(&v[i].t, NULL, reserver_main, &v[i]) != 0)
			bail("pthread_create");
	while (db_count(s.db, "SELECT count(*) FROM keypackages WHERE "
	    "status = 'reserved'") < 200)
		usleep(2000);

	/* the database stops at once, in the middle */
	is_int(pg("kill"), 0, "PostgreSQL stops (immediate) under load");
	usleep(300000);
	raw(&s, &u[0], "GET", "/keypackages/status/alice", NULL, T_NONE, &r);
	is_reply(&r, 503, "unavailable", "a read while it is down: 503");
	is_string(r.retry_after, "1", "with Retry-After: 1");
	snprintf(q, sizeof(q), "{\"target_username\":\"alice\"}");
	raw(&s, &u[0], "POST", "/keypackages/reserve", q, T_NONE, &r);
	is_reply(&r, 503, "unavailable", "a reserve while it is down: 503");
	is_string(r.retry_after, "1", "with Retry-After: 1");
	usleep(500000);
	is_int(pg("up"), 0, "PostgreSQL starts again");

	for (i = 0; i < NTHR; i++)
		pthread_join(v[i].t, NULL);
	for (i = 0, exhausted = 0, s5xx = 0, n = 0; i < NTHR; i++) {
		exhausted += v[i].end == KP_EEXHAUSTED;
		s5xx += v[i].s5xx;
		n += v[i].n;
	}
	ok(s5xx > 0, "the reservers saw 503s (%u)", s5xx);
	is_int(exhausted, NTHR, "then the server recovered by itself: every "
	    "reserver served to 409 pool_exhausted");
	missing = reservers_missing(s.db, v, NTHR);
	is_int(n, NKEYS, "%d reservations answered 200", NKEYS);
	is_int(missing, 0, "each of them is in the database, as answered");
	dup = (size_t)db_count(s.db, "SELECT count(*) - count(DISTINCT "
	    "keypackage_ref) FROM keypackages WHERE status = 'reserved'");
	is_int(dup, 0, "no key twice");
	is_int(db_count(s.db, "SELECT count(*) FROM keypackages WHERE "
	    "status = 'reserved'"), NKEYS, "and the database holds no "
	    "reservation that was not answered");
	is_int(srv_stop(&s), 0, "SIGTERM: a clean exit");
	who_free(&alice);
	for (i = 0; i < NTHR; i++)
		who_free(&u[i]);
	pg_stop();
	pgdir[0] = '\0';
	return done_testing();
}
