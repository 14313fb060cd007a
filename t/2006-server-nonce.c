/* SPDX-License-Identifier: ISC */
/*
 * 2006-server-nonce: the replay cache of a real kpool-server across the
 * edges of the window (300 s back, 60 s ahead), with the signature clock
 * held by the test (the second field of --test-clock): a nonce is
 * refused as a replay while its created is fresh, as stale or from the
 * future after.  Then threads sign at the window's future edge while
 * the clock moves on, beside large signed
 * bodies (a long digest check between the clock and the cache): once
 * the clock was read before the cache's lock, a request holding an
 * older time could drop a slice another had just filled, and its
 * nonces replayed.
 */

#include <pthread.h>
#include <stdatomic.h>

#include "kps_test.h"

#define NTHR	4
#define NREQ	60	/* signed requests per thread */
#define NSTEP	11	/* clock steps of a slice (30 s): 330 s < 360 s */

static int64_t		 C;		/* the base time */
static _Atomic int64_t	 S;		/* the signature clock now */
static struct srv	 s;
static struct who	 alice;

struct worker {
	pthread_t		 t;
	struct kp_httpsig	 sig[NREQ];
	int			 n, ok;
};

/* send1: GET /keypackages/mine with sig; the HTTP status. */
static long
send1(struct kp_httpsig *sig)
{
	struct rawreply	r;

	raw_ex(&s, &alice, "GET", "/keypackages/mine", NULL, 0, T_NONE, sig,
	    1, &r);
	return r.status;
}

static int
sign(int64_t created, struct kp_httpsig *sig)
{
	return kp_httpsig_sign("GET", "/keypackages/mine", "", NULL, 0,
	    "alice", alice.sk, created, sig) == KP_OK;
}

/* work: fresh nonces, each signed at the future edge of the window. */
static void *
work(void *arg)
{
	struct worker	*w = arg;
	int		 i;

	for (i = 0; i < NREQ; i++) {
		if (!sign(atomic_load(&S) + 59, &w->sig[i]))
			break;
		if (send1(&w->sig[i]) == 200)
			w->ok++;
		w->n++;
	}
	return NULL;
}

#define NSLOW	2	/* threads of large bodies: a long digest check */
#define BIG	(512 * 1024)

static _Atomic int	 stop;
static char		*big;

/* slow: POSTs whose digest takes the server a while after it read
 * the clock, so that the clock steps meanwhile. */
static void *
slow(void *arg)
{
	struct kp_httpsig	sig;
	struct rawreply		r;

	while (!atomic_load(&stop)) {
		if (kp_httpsig_sign("POST", "/keypackages/upload", "", big,
		    BIG, "alice", alice.sk, atomic_load(&S), &sig) != KP_OK)
			break;
		raw_ex(&s, &alice, "POST", "/keypackages/upload", big, BIG,
		    T_NONE, &sig, 1, &r);
	}
	return NULL;
}

int
main(void)
{
	pthread_t		 sl[NSLOW];
	struct kp_httpsig	 a, b;
	struct rawreply		 r;
	struct worker		 w[NTHR];
	int			 i, j, step, sent, fresh, replayed;

	plan(20);
	srv_start(&s, NULL);
	who_new(&s, &alice, "alice", 1);
	C = (int64_t)time(NULL);
	/* a slice begins at C: created % 30 == 0 */
	C -= C % 30;
	srv_set_clocks(&s, C, C);

	/* the past edge */
	if (!sign(C, &a))
		bail("sign");
	is_int(send1(&a), 200, "created = now: 200");
	raw_ex(&s, &alice, "GET", "/keypackages/mine", NULL, 0, T_NONE, &a, 1,
	    &r);
	is_reply(&r, 401, "unauthorized", "at once again: refused");
	ok(strstr(r.body, "replay") != NULL, "as a replay");
	srv_set_clocks(&s, C, C + 300);
	raw_ex(&s, &alice, "GET", "/keypackages/mine", NULL, 0, T_NONE, &a, 1,
	    &r);
	is_reply(&r, 401, "unauthorized", "300 s later: refused");
	ok(strstr(r.body, "replay") != NULL, "still as a replay");
	srv_set_clocks(&s, C, C + 301);
	raw_ex(&s, &alice, "GET", "/keypackages/mine", NULL, 0, T_NONE, &a, 1,
	    &r);
	is_reply(&r, 401, "unauthorized", "301 s later: refused");
	ok(strstr(r.body, "stale") != NULL, "as stale");

	/* the future edge */
	srv_set_clocks(&s, C, C);
	if (!sign(C + 61, &b))
		bail("sign");
	raw_ex(&s, &alice, "GET", "/keypackages/mine", NULL, 0, T_NONE, &b, 1,
	    &r);
	ok(r.status == 401 && strstr(r.body, "future") != NULL,
	    "created = now + 61: from the future");
	if (!sign(C + 60, &b))
		bail("sign");
	is_int(send1(&b), 200, "created = now + 60: 200");
	raw_ex(&s, &alice, "GET", "/keypackages/mine", NULL, 0, T_NONE, &b, 1,
	    &r);
	ok(r.status == 401 && strstr(r.body, "replay") != NULL,
	    "at once again: a replay");
	srv_set_clocks(&s, C, C + 360);
	raw_ex(&s, &alice, "GET", "/keypackages/mine", NULL, 0, T_NONE, &b, 1,
	    &r);
	ok(r.status == 401 && strstr(r.body, "replay") != NULL,
	    "360 s later (created = now - 300): a replay");
	srv_set_clocks(&s, C, C + 361);
	raw_ex(&s, &alice, "GET", "/keypackages/mine", NULL, 0, T_NONE, &b, 1,
	    &r);
	ok(r.status == 401 && strstr(r.body, "stale") != NULL,
	    "361 s later: stale");
	if (!sign(C + 62, &a))
		bail("sign");
	is_int(send1(&a), 200, "a new nonce of the same slice: 200");

	/* threads at the future edge while the clock moves on */
	C += 1200;
	atomic_store(&S, C);
	srv_set_clocks(&s, C, C);
	if ((big = malloc(BIG)) == NULL)
		bail("malloc");
	memset(big, ' ', BIG);
	memcpy(big, "{\"keypackages\":[]", 17);
	big[BIG - 1] = '}';
	for (i = 0; i < NSLOW; i++)
		if (pthread_create(&sl[i], NULL, slow, NULL) != 0)
			bail("pthread_create");
	memset(w, 0, sizeof(w));
	for (i = 0; i < NTHR; i++)
		if (pthread_create(&w[i].t, NULL, work, &w[i]) != 0)
			bail("pthread_create");
	for (step = 1; step <= NSTEP; step++) {
		for (i = 0, sent = 0; i < NTHR; i++)
			sent += w[i].n;
		/* a step every NREQ / NSTEP requests of each thread */
		while (sent < step * NTHR * NREQ / (NSTEP + 1)) {
			usleep(500);
			for (i = 0, sent = 0; i < NTHR; i++)
				sent += w[i].n;
		}
		/* the server first: a request signed by the old S is
		 * fresh by the new, not the other way round */
		srv_set_clocks(&s, C, C + 30 * step);
		atomic_store(&S, C + 30 * step);
	}
	for (i = 0, fresh = 0; i < NTHR; i++) {
		pthread_join(w[i].t, NULL);
		fresh += w[i].ok;
	}
	atomic_store(&stop, 1);
	for (i = 0; i < NSLOW; i++)
		pthread_join(sl[i], NULL);
	free(big);
	is_int(fresh, NTHR * NREQ, "%d fresh nonces: each 200", NTHR * NREQ);
	/* every created is in [C + 59, C + 30 * NSTEP + 59]: all fresh */
	srv_set_clocks(&s, C, C + 30 * NSTEP);
	for (i = 0, replayed = 0, sent = 0; i < NTHR; i++)
		for (j = 0; j < w[i].n; j++, sent++)
			if (send1(&w[i].sig[j]) == 200)
				replayed++;
	is_int(sent, NTHR * NREQ, "each sent again, still fresh");
	is_int(replayed, 0, "no replay passes");
	is_int(srv_stop(&s), 0, "SIGTERM: a clean exit");
	who_free(&alice);
	return done_testing();
}
