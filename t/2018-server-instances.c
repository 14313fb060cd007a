/* SPDX-License-Identifier: ISC */
/*
 * 2018-server-instances: three kpool-server instances on one PostgreSQL
 * database (PostgreSQL only).  64 reservers spread over the three race
 * for one pool: every key goes to one of them, and each ends on 409
 * pool_exhausted.  A signed request replayed to another instance, or to
 * the same one after a restart, is refused (401): the nonces are in the
 * database (a write's with its change, a read's once the writer that
 * its answer queued it to has committed it).  Then one instance is
 * killed (SIGKILL) in the middle of the same race: every reservation
 * answered 200 is in the database, no key is handed out twice, and the
 * other two serve to the end.
 */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kps_test.h"

#define NTHR	64
#define ROUND1	600
#define ROUND2	1500

static const char *const opts[] = { "--rate-limit", "0", "--quiet", NULL };

/*
 * race: run NTHR reservers of alice's keys, reserver i on srv[i % 3];
 * when kill_at > 0, SIGKILL srv[0] once the database holds kill_at
 * reservations more than `base`.  Fills v.
 */
static void
race(struct srv *srv, struct who *u, struct reserver *v, long base,
    long kill_at)
{
	static int	round;
	int		i;

	round++;

	for (i = 0; i < NTHR; i++) {
		memset(&v[i], 0, sizeof(v[i]));
		v[i].url = srv[i % 3].url;
		v[i].name = u[i].name;
		v[i].seed = u[i].seed;
		v[i].target = "alice";
		v[i].id = round * 1000 + i;	/* request ids anew */
		v[i].until = time(NULL) + 120;
		if (pthread_create(&v[i].t, NULL, reserver_main, &v[i]) != 0)
			bail("pthread_create");
	}
	if (kill_at > 0) {
		while (db_count(srv[0].db, "SELECT count(*) FROM keypackages "
		    "WHERE status = 'reserved'") < base + kill_at)
			usleep(2000);
		srv_kill(&srv[0], SIGKILL);
	}
	for (i = 0; i < NTHR; i++)
		pthread_join(v[i].t, NULL);
}

/* answered: the refs of every 200, sorted, and their count. */
static size_t
answered(struct reserver *v, uint8_t (*all)[KP_REF_LEN])
{
	size_t	n = 0, i, j;

	for (i = 0; i < NTHR; i++)
		for (j = 0; j < v[i].n; j++)
			memcpy(all[n++], v[i].refs[j], KP_REF_LEN);
	qsort(all, n, KP_REF_LEN, ref_cmp);
	return n;
}

/* distinct: the number of distinct refs in sorted all. */
static size_t
distinct(uint8_t (*all)[KP_REF_LEN], size_t n)
{
	size_t	i, d = n > 0;

	for (i = 1; i < n; i++)
		d += memcmp(all[i - 1], all[i], KP_REF_LEN) != 0;
	return d;
}

int
main(void)
{
	static struct reserver	 v[NTHR];
	static uint8_t		 up1[ROUND1][KP_REF_LEN];
	static uint8_t		 up2[ROUND2][KP_REF_LEN];
	static uint8_t		 all[NTHR * RESERVER_MAX][KP_REF_LEN];
	struct srv		 srv[3];
	struct who		 alice, u[NTHR];
	struct kp_httpsig	 keep;
	struct rawreply		 r;
	char			 name[16], q[512];
	size_t			 n, i, j, per[3];
	long			 nonces;
	int			 exhausted, gone, rc;
	PGresult		*res;

	db_only_pg("2018");
	plan(26);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	srv_start(&srv[0], opts);
	srv_twin(&srv[0], &srv[1], opts);
	srv_twin(&srv[0], &srv[2], opts);
	who_new(&srv[0], &alice, "alice", 1);
	for (i = 0; i < NTHR; i++) {
		snprintf(name, sizeof(name), "u%zu", i);
		who_new(&srv[i % 3], &u[i], name, 1);
	}

	/* round 1: three instances, 64 reservers, 600 keys */
	upload_new(&srv[1], &alice, ROUND1, up1);
	race(srv, u, v, 0, 0);
	for (i = 0, exhausted = 0; i < NTHR; i++)
		exhausted += v[i].end == KP_EEXHAUSTED;
	is_int(exhausted, NTHR, "every reserver ended on 409 pool_exhausted");
	n = answered(v, all);
	is_int(n, ROUND1, "%d reservations answered 200", ROUND1);
	is_int(distinct(all, n), ROUND1, "%d distinct keys: no duplicate",
	    ROUND1);
	qsort(up1, ROUND1, KP_REF_LEN, ref_cmp);
	ok(n == ROUND1 && memcmp(all, up1, sizeof(up1)) == 0,
	    "exactly the keys uploaded");
	for (i = 0; i < 3; i++)
		for (j = i, per[i] = 0; j < NTHR; j += 3)
			per[i] += v[j].n;
	ok(per[0] > 0 && per[1] > 0 && per[2] > 0, "each instance served "
	    "(%zu, %zu, %zu)", per[0], per[1], per[2]);
	is_int(db_count(srv[0].db, "SELECT count(*) FROM keypackages WHERE "
	    "status = 'reserved'"), ROUND1, "the database holds %d "
	    "reservations", ROUND1);

	/* a signature is accepted once, whichever instance sees it */
	nonces = db_count(srv[0].db, "SELECT count(*) FROM nonces");
	raw_ex(&srv[0], &u[0], "GET", "/keypackages/status/alice", NULL, 0,
	    T_NONE, &keep, 0, &r);
	is_int(r.status, 200, "a signed status to instance 1: 200");
	for (i = 0; i < 500 && db_count(srv[0].db, "SELECT count(*) FROM "
	    "nonces") == nonces; i++)
		usleep(2000);
	raw_ex(&srv[1], &u[0], "GET", "/keypackages/status/alice", NULL, 0,
	    T_NONE, &keep, 1, &r);
	is_reply(&r, 401, "unauthorized", "the same request replayed to "
	    "instance 2, once its nonce is committed: 401");
	ok(strstr(r.body, "replayed") != NULL, "it says replayed");
	snprintf(q, sizeof(q), "{\"target_username\":\"alice\"}");
	raw_ex(&srv[2], &u[1], "POST", "/keypackages/reserve", q, strlen(q),
	    T_NONE, &keep, 0, &r);
	is_reply(&r, 409, "pool_exhausted", "a signed reserve to instance "
	    "3: 409");
	raw_ex(&srv[0], &u[1], "POST", "/keypackages/reserve", q, strlen(q),
	    T_NONE, &keep, 1, &r);
	is_reply(&r, 401, "unauthorized", "replayed at once to instance 1: "
	    "401 (a write's nonce is committed before its answer)");
	srv_kill(&srv[2], SIGTERM);
	srv_restart(&srv[2], opts);
	raw_ex(&srv[2], &u[1], "POST", "/keypackages/reserve", q, strlen(q),
	    T_NONE, &keep, 1, &r);
	is_reply(&r, 401, "unauthorized", "replayed to the same instance "
	    "after its restart: 401");

	/* round 2: instance 1 is killed once 150 keys are out */
	upload_new(&srv[2], &alice, ROUND2, up2);
	race(srv, u, v, ROUND1, 150);
	is_int(srv[0].pid, 0, "instance 1 was killed in the middle");
	for (i = 0, exhausted = 0, gone = 0; i < NTHR; i++) {
		if (i % 3 == 0)
			gone += v[i].end == KP_ENET ||
			    v[i].end == KP_EEXHAUSTED;
		else
			exhausted += v[i].end == KP_EEXHAUSTED;
	}
	is_int(gone, (NTHR + 2) / 3, "its reservers lost it (or were done)");
	is_int(exhausted, NTHR - (NTHR + 2) / 3, "the others' reservers "
	    "were served to 409 pool_exhausted");
	n = answered(v, all);
	is_int(distinct(all, n), n, "%zu reservations answered 200: no key "
	    "twice", n);
	is_int(reservers_missing(srv[1].db, v, NTHR), 0, "every reservation "
	    "answered 200 is in the database, as answered");
	is_int(db_count(srv[1].db, "SELECT count(*) FROM keypackages WHERE "
	    "status = 'available'"), 0, "no key is left: the others served "
	    "the whole pool");
	res = db_sql(srv[1].db, "SELECT count(*), count(DISTINCT "
	    "reservation_id) FROM keypackages WHERE status = 'reserved'");
	is_int(atol(PQgetvalue(res, 0, 0)), ROUND1 + ROUND2,
	    "the database holds every key reserved once");
	is_int(atol(PQgetvalue(res, 0, 1)), ROUND1 + ROUND2,
	    "each under a reservation of its own");
	PQclear(res);
	ok(n <= ROUND2 && n + 64 >= ROUND2, "%zu of %d answered 200 (the "
	    "rest in the killed instance's last batch)", n, ROUND2);

	rc = srv_kill(&srv[2], SIGTERM);
	rc |= srv_kill(&srv[1], SIGTERM);
	is_int(rc, 0, "the two left stop cleanly");
	srv_stop(&srv[0]);
	who_free(&alice);
	for (i = 0; i < NTHR; i++)
		who_free(&u[i]);
	return done_testing();
}
