/* SPDX-License-Identifier: ISC */
/*
 * 2007-server-stop: SIGTERM drains a real kpool-server.  Reserves are
 * queued to the writer (the test holds SQLite's write lock, so they
 * wait) when the signal comes: new connections are refused, every
 * queued client gets its complete 200, the server exits 0 and the
 * reservations are in the database when it starts again.  Then stops
 * under traffic, again and again: each exits 0 (MHD_quiesce_daemon()
 * on epoll workers used to abort the process now and then).
 */

#include <pthread.h>
#include <stdatomic.h>

#include "kps_test.h"

#define NRES	6	/* reserves queued at the signal */
#define NKEYS	8
#define ROUNDS	12	/* stops under traffic */
#define NLOAD	3	/* threads of traffic */

struct inviter {
	pthread_t		 t;
	struct kp_client	*c;
	char			 rid[16];
	int			 rc;
	long			 status;
	struct kp_reservation	 res;
};

static void *
reserve(void *arg)
{
	struct inviter	*v = arg;

	v->rc = kp_client_reserve(v->c, "alice",
	    &(struct kp_reserve_opts){ .group_id = (const uint8_t *)"g",
	    .group_id_len = 1, .request_id = v->rid }, &v->res);
	v->status = kp_client_last_status(v->c);
	return NULL;
}

struct load {
	pthread_t	 t;
	struct srv	*s;
	_Atomic int	*stop;
	_Atomic int	 served;
};

static size_t
discard(char *p, size_t sz, size_t n, void *arg)
{
	return sz * n;
}

/* hammer: GET /healthz on a fresh connection each, until told. */
static void *
hammer(void *arg)
{
	struct load	*l = arg;
	CURL		*c;
	char		 url[96];
	long		 code;
	int		 i;

	snprintf(url, sizeof(url), "%s/healthz", l->s->url);
	for (i = 0; !atomic_load(l->stop); i++) {
		if ((c = curl_easy_init()) == NULL)
			break;
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
		code = 0;
		if (curl_easy_perform(c) == CURLE_OK &&
		    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) ==
		    CURLE_OK && code == 200)
			l->served++;
		curl_easy_cleanup(c);
	}
	return NULL;
}

int
main(void)
{
	const char *const	 pub[] = { "--public-metrics", "--quiet", NULL };
	struct srv		 s;
	struct who		 alice, bob;
	struct inviter		 v[NRES];
	struct load		 l[NLOAD];
	struct kpb		 k[NKEYS];
	struct kp_upload_result	 up[NKEYS];
	const uint8_t		*kps[NKEYS];
	size_t			 lens[NKEYS], n, i, j, hits;
	struct kp_remote_key	*keys;
	struct rawreply		 r;
	struct timespec		 t0, t1;
	struct hold		*db;
	_Atomic int		 stop;
	long long		 w;
	int64_t			 T;
	int			 round, clean, served;

	plan(17);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	srv_start(&s, pub);
	T = (int64_t)time(NULL);
	who_new(&s, &alice, "alice", 1);
	who_new(&s, &bob, "bob", 1);
	for (i = 0; i < NKEYS; i++) {
		gen(&alice, "alice", T - 10, T + 86400, 0, &k[i]);
		kps[i] = k[i].buf;
		lens[i] = k[i].len;
	}
	is_int(kp_client_upload(alice.c, kps, lens, NKEYS, up), KP_OK,
	    "alice uploads %d keys", NKEYS);

	/* the writer waits: the test holds the write lock */
	db = srv_hold_writer(&s);
	for (i = 0; i < NRES; i++) {
		memset(&v[i], 0, sizeof(v[i]));
		snprintf(v[i].rid, sizeof(v[i].rid), "stop-%zu", i);
		if (kp_client_new(s.url, "bob", bob.seed, &v[i].c) != KP_OK)
			bail("client");
		if (pthread_create(&v[i].t, NULL, reserve, &v[i]) != 0)
			bail("pthread_create");
	}
	for (i = 0, w = -1; i < 500 &&
	    (w = srv_metric(&s, "kpool_writes_waiting")) != NRES; i++)
		usleep(10000);
	is_int(w, NRES, "kpool_writes_waiting %d: the reserves are queued",
	    NRES);

	kill(s.pid, SIGTERM);
	ok(srv_log_wait(&s, "signal 15, stopping"), "SIGTERM: stopping");
	raw(&s, &alice, "GET", "/healthz", NULL, T_UNSIGNED, &r);
	is_int(r.status, 0, "a new connection is refused while draining");
	srv_free_writer(db);
	for (i = 0, clean = 0, hits = 0; i < NRES; i++) {
		pthread_join(v[i].t, NULL);
		if (v[i].rc == KP_OK && v[i].status == 200 &&
		    v[i].res.keypackage_len > 0)
			clean++;
		for (j = 0; j < NKEYS; j++)
			if (memcmp(v[i].res.ref, k[j].ref, KP_REF_LEN) == 0)
				hits++;
		for (j = 0; j < i; j++)
			if (memcmp(v[i].res.ref, v[j].res.ref, KP_REF_LEN) ==
			    0)
				hits += 100;
	}
	is_int(clean, NRES, "every queued reserve got a complete 200");
	is_int(hits, NRES, "each one a distinct key of alice's");
	is_int(srv_wait(&s), 0, "the server exits 0");

	/* what was answered is in the database */
	srv_restart(&s, pub);
	kp_client_free(alice.c);
	if (kp_client_new(s.url, "alice", alice.seed, &alice.c) != KP_OK)
		bail("client");
	is_int(kp_client_mine(alice.c, &keys, &n), KP_OK,
	    "alice's keys after a restart");
	is_int(n, NKEYS, "all %d of them", NKEYS);
	for (i = 0, hits = 0; i < n; i++)
		for (j = 0; j < NRES; j++)
			if (memcmp(keys[i].ref, v[j].res.ref, KP_REF_LEN) == 0 &&
			    keys[i].state == KP_STATE_RESERVED &&
			    strcmp(keys[i].reserved_by, "bob") == 0)
				hits++;
	free(keys);
	is_int(hits, NRES, "the %d answered reserves are stored", NRES);
	for (i = 0, hits = 0; i < NRES; i++) {
		struct kp_reservation	again;

		kp_client_free(v[i].c);
		if (kp_client_new(s.url, "bob", bob.seed, &v[i].c) != KP_OK)
			bail("client");
		if (kp_client_reserve(v[i].c, "alice",
		    &(struct kp_reserve_opts){ .group_id = (const uint8_t *)"g",
		    .group_id_len = 1, .request_id = v[i].rid },
		    &again) == KP_OK &&
		    memcmp(again.ref, v[i].res.ref, KP_REF_LEN) == 0 &&
		    strcmp(again.reservation_id, v[i].res.reservation_id) == 0)
			hits++;
		kp_reservation_free(&again);
	}
	is_int(hits, NRES, "each retried request_id gets its reservation");
	is_int(srv_stop(&s), 0, "a clean exit");

	/* stops under traffic */
	for (round = 0, clean = 0, served = 0; round < ROUNDS; round++) {
		srv_start(&s, pub);
		atomic_store(&stop, 0);
		for (i = 0; i < NLOAD; i++) {
			l[i].s = &s;
			l[i].stop = &stop;
			atomic_store(&l[i].served, 0);
			if (pthread_create(&l[i].t, NULL, hammer, &l[i]) != 0)
				bail("pthread_create");
		}
		/* the signal lands while requests come and go */
		for (i = 0; i < 2000; i++) {
			for (j = 0, n = 0; j < NLOAD; j++)
				n += (size_t)atomic_load(&l[j].served);
			if (n >= 20)
				break;
			usleep(1000);
		}
		kill(s.pid, SIGTERM);
		if (srv_wait(&s) == 0)
			clean++;
		atomic_store(&stop, 1);
		for (i = 0; i < NLOAD; i++) {
			pthread_join(l[i].t, NULL);
			served += atomic_load(&l[i].served);
		}
		(void)srv_stop(&s);	/* removes its directory */
	}
	is_int(clean, ROUNDS, "%d stops under traffic: each exits 0", ROUNDS);
	ok(served >= 20 * ROUNDS, "requests were served meanwhile (%d)",
	    served);
	/* a guard against a stop that hangs, not a measure of speed: a
	 * loaded machine under the sanitizers took more than 20 s */
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ok(t1.tv_sec - t0.tv_sec < 120, "no stop hung: all in under 120 s "
	    "(%lld s)", (long long)(t1.tv_sec - t0.tv_sec));

	for (i = 0; i < NRES; i++) {
		kp_reservation_free(&v[i].res);
		kp_client_free(v[i].c);
	}
	for (i = 0; i < NKEYS; i++)
		free(k[i].buf);
	who_free(&alice);
	who_free(&bob);
	curl_global_cleanup();
	return done_testing();
}
