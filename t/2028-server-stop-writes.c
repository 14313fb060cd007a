/* SPDX-License-Identifier: ISC */
/*
 * 2028-server-stop-writes: SIGTERM while uploads and registrations wait
 * for a slow writer (--test-writer-delay, longer than the drain's 10 s
 * for requests in flight).  They wait in their request's own thread
 * (kps_writer_run), not suspended like reserve, spend and release; the
 * drain waits for them all the same: each gets its answer, the server
 * exits 0, and what was answered 200 or 201 is in the database.
 */

#include <pthread.h>

#include "kps_test.h"

#define NUP	3	/* uploads queued at the signal */
#define NREG	2	/* registrations queued at the signal */

struct job {
	pthread_t		 t;
	struct who		*w;	/* an upload's user, or NULL */
	struct who		 reg;	/* a registration's user */
	struct kpb		 k;
	struct kp_client	*c;
	int			 rc;
	long			 status;
};

static void *
upload(void *arg)
{
	struct job		*j = arg;
	struct kp_upload_result	 res;
	const uint8_t		*p = j->k.buf;

	j->rc = kp_client_upload(j->c, &p, &j->k.len, 1, &res);
	if (j->rc == KP_OK && !res.accepted)
		j->rc = KP_EREJECTED;
	j->status = kp_client_last_status(j->c);
	return NULL;
}

static void *
registration(void *arg)
{
	struct job	*j = arg;

	j->rc = kp_client_register(j->reg.c);
	j->status = kp_client_last_status(j->reg.c);
	return NULL;
}

int
main(void)
{
	const char *const	 pub[] = { "--public-metrics", "--quiet",
				    NULL };
	/* many threads: each waiting request holds one */
	const char *const	 slow[] = { "--public-metrics", "--quiet",
				    "--test-writer-delay", "12000",
				    "--threads", "32", NULL };
	struct srv		 s;
	struct who		 alice;
	struct job		 j[NUP + NREG];
	struct kp_remote_key	*keys;
	struct timespec		 t0, t1;
	char			 name[16], q[128];
	size_t			 i, n, k, hits;
	long long		 w;
	int64_t			 T;
	int			 answered, good;

	plan(9);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	srv_start(&s, pub);
	T = (int64_t)time(NULL);
	who_new(&s, &alice, "alice", 1);
	kill(s.pid, SIGTERM);
	is_int(srv_wait(&s), 0, "set up: alice registered");
	srv_restart(&s, slow);

	memset(j, 0, sizeof(j));
	for (i = 0; i < NUP + NREG; i++) {
		if (i < NUP) {
			j[i].w = &alice;
			gen(&alice, "alice", T - 10, T + 86400, 0, &j[i].k);
			if (kp_client_new(s.url, "alice", alice.seed,
			    &j[i].c) != KP_OK)
				bail("client");
			if (pthread_create(&j[i].t, NULL, upload, &j[i]) != 0)
				bail("pthread_create");
		} else {
			snprintf(name, sizeof(name), "carol%zu", i);
			who_new(&s, &j[i].reg, name, 0);
			if (pthread_create(&j[i].t, NULL, registration,
			    &j[i]) != 0)
				bail("pthread_create");
		}
	}
	for (i = 0, w = -1; i < 500 &&
	    (w = srv_metric(&s, "kpool_writes_waiting")) != NUP + NREG; i++) {
		usleep(10000);
	}
	is_int(w, NUP + NREG, "%d uploads and %d registrations wait for "
	    "the writer", NUP, NREG);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	kill(s.pid, SIGTERM);
	for (i = 0, answered = 0, good = 0; i < NUP + NREG; i++) {
		pthread_join(j[i].t, NULL);
		if (j[i].status != 0)
			answered++;
		if (j[i].rc == KP_OK && j[i].status == (i < NUP ? 200 : 201))
			good++;
		else
			diag("request %zu: %s, HTTP %ld", i,
			    kp_strerror(j[i].rc), j[i].status);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ok(t1.tv_sec - t0.tv_sec >= 10, "the writer was slower than the "
	    "drain's 10 s for requests in flight (%ld s)",
	    (long)(t1.tv_sec - t0.tv_sec));
	is_int(answered, NUP + NREG, "every waiting request got an answer");
	is_int(good, NUP + NREG, "each its 200 (uploads) or 201 "
	    "(registrations)");
	is_int(srv_wait(&s), 0, "the server exits 0");

	/* what was answered is in the database */
	srv_restart(&s, pub);
	kp_client_free(alice.c);
	if (kp_client_new(s.url, "alice", alice.seed, &alice.c) != KP_OK)
		bail("client");
	is_int(kp_client_mine(alice.c, &keys, &n), KP_OK,
	    "alice's keys after a restart");
	for (i = 0, hits = 0; i < NUP; i++)
		for (k = 0; k < n; k++)
			if (j[i].rc == KP_OK && memcmp(keys[k].ref, j[i].k.ref,
			    KP_REF_LEN) == 0 &&
			    keys[k].state == KP_STATE_AVAILABLE)
				hits++;
	free(keys);
	is_int(hits, NUP, "the %d keys answered 200 are stored", NUP);
	snprintf(q, sizeof(q), "SELECT count(*) FROM users WHERE name "
	    "LIKE 'carol%%'");
	is_int(srv_count(&s, q), NREG, "the %d registered users are stored",
	    NREG);

	for (i = 0; i < NUP + NREG; i++) {
		kp_client_free(j[i].c);
		if (j[i].w == NULL)
			who_free(&j[i].reg);
		free(j[i].k.buf);
	}
	who_free(&alice);
	srv_stop(&s);
	return done_testing();
}
