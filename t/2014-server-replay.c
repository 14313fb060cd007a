/* SPDX-License-Identifier: ISC */
/*
 * 2014-server-replay: a signed request is accepted once, across restarts
 * of a real kpool-server on the same database.  A release captured and
 * replayed after a restart is refused (and the key another inviter has
 * reserved since stays theirs); so are a replayed read, and the replay
 * of a reserve that was refused by the rate limit (429: its nonce is
 * remembered all the same), which the restart no longer limits.  With
 * the signature clock held by the test: created 61 s ahead is refused,
 * 59 s ahead accepted once, before and after a restart; stale nonces
 * are pruned from the database.
 */

#include "kps_test.h"

/* again: method path body with the signature sig; the reply in *r. */
static void
again(struct srv *s, struct who *w, const char *method, const char *path,
    const char *body, struct kp_httpsig *sig, struct rawreply *r)
{
	raw_ex(s, w, method, path, body, body ? strlen(body) : 0, T_NONE, sig,
	    1, r);
}

static const char *const pub[] = { "--public-metrics", "--rate-limit", "1",
    "--rate-burst", "1", NULL };

/* restart: stop the server with SIGTERM and start it on its database. */
static void
restart(struct srv *s)
{
	kill(s->pid, SIGTERM);
	if (srv_wait(s) != 0)
		bail("the server did not stop cleanly");
	srv_restart(s, pub);
}

/* nonces: the rows of the nonces table created before t (-1: all). */
static long long
nonces(struct srv *s, int64_t t)
{
	char	q[128];

	snprintf(q, sizeof(q), "SELECT count(*) FROM nonces WHERE %lld < 0 "
	    "OR created < %lld", (long long)t, (long long)t);
	return srv_count(s, q);
}

int
main(void)
{
	struct srv		 s;
	struct who		 alice, bob, carol;
	struct kpb		 k;
	struct kp_upload_result	 up;
	struct kp_reservation	 res;
	struct kp_remote_key	*keys;
	struct kp_httpsig	 rel, mine, bad, ahead, far;
	struct rawreply		 r;
	const char		*limited = "{\"target_username\":\"alice\"}";
	const uint8_t		*kp;
	char			 body[256], hex[2 * KP_REF_LEN + 1];
	size_t			 n;
	int64_t			 T;
	int			 i;

	plan(35);
	srv_start(&s, pub);
	T = (int64_t)time(NULL);
	who_new(&s, &alice, "alice", 1);
	who_new(&s, &bob, "bob", 1);
	who_new(&s, &carol, "carol", 1);
	gen(&alice, "alice", T - 10, T + 86400, 0, &k);
	kp = k.buf;
	is_int(kp_client_upload(alice.c, &kp, &k.len, 1, &up), KP_OK,
	    "alice uploads one key");

	/* a release, captured */
	is_int(kp_client_reserve(bob.c, "alice",
	    &(struct kp_reserve_opts){ .group_id = (const uint8_t *)"g",
	    .group_id_len = 1 }, &res), KP_OK, "bob reserves alice's key");
	kp_reservation_free(&res);
	kp_hex(k.ref, KP_REF_LEN, hex);
	snprintf(body, sizeof(body), "{\"keypackage_ref\":\"%s\"}", hex);
	if (kp_httpsig_sign("POST", "/keypackages/release", "", body,
	    strlen(body), "bob", bob.sk, (int64_t)time(NULL), &rel) != KP_OK)
		bail("sign");
	again(&s, &bob, "POST", "/keypackages/release", body, &rel, &r);
	is_int(r.status, 200, "bob releases it (the request is captured)");
	is_int(kp_client_reserve(carol.c, "alice",
	    &(struct kp_reserve_opts){ .group_id = (const uint8_t *)"g",
	    .group_id_len = 1 }, &res), KP_OK, "carol reserves the key");
	is_blob(res.ref, KP_REF_LEN, k.ref, KP_REF_LEN, "the same key");
	kp_reservation_free(&res);
	again(&s, &bob, "POST", "/keypackages/release", body, &rel, &r);
	is_reply(&r, 401, "unauthorized", "the release replayed at once: 401");

	/* a read, and a reserve refused by the rate limit, captured */
	if (kp_httpsig_sign("GET", "/keypackages/mine", "", NULL, 0, "alice",
	    alice.sk, (int64_t)time(NULL), &mine) != KP_OK ||
	    kp_httpsig_sign("POST", "/keypackages/reserve", "", limited,
	    strlen(limited), "bob", bob.sk, (int64_t)time(NULL), &bad) !=
	    KP_OK)
		bail("sign");
	again(&s, &alice, "GET", "/keypackages/mine", NULL, &mine, &r);
	is_int(r.status, 200, "alice's signed GET /keypackages/mine: 200");
	again(&s, &bob, "POST", "/keypackages/reserve", limited, &bad, &r);
	is_reply(&r, 429, "rate_limited", "bob's second reserve: 429");

	restart(&s);
	again(&s, &bob, "POST", "/keypackages/release", body, &rel, &r);
	is_reply(&r, 401, "unauthorized",
	    "after a restart, the release replayed: 401");
	ok(strstr(r.body, "replay") != NULL, "as a replay");
	kp_client_free(alice.c);
	if (kp_client_new(s.url, "alice", alice.seed, &alice.c) != KP_OK)
		bail("client");
	is_int(kp_client_mine(alice.c, &keys, &n), KP_OK, "alice's keys");
	ok(n == 1 && keys[0].state == KP_STATE_RESERVED &&
	    strcmp(keys[0].reserved_by, "carol") == 0,
	    "her key is still carol's reservation");
	free(keys);
	again(&s, &alice, "GET", "/keypackages/mine", NULL, &mine, &r);
	is_reply(&r, 401, "unauthorized", "the read replayed: 401");
	again(&s, &bob, "POST", "/keypackages/reserve", limited, &bad, &r);
	is_reply(&r, 401, "unauthorized",
	    "the limited reserve replayed: 401, not carried out");

	/* created ahead of the server's time, held by the test */
	T = (int64_t)time(NULL);
	srv_set_clocks(&s, T, T);
	if (kp_httpsig_sign("GET", "/keypackages/mine", "", NULL, 0, "alice",
	    alice.sk, T + 61, &far) != KP_OK ||
	    kp_httpsig_sign("GET", "/keypackages/mine", "", NULL, 0, "alice",
	    alice.sk, T + 59, &ahead) != KP_OK)
		bail("sign");
	again(&s, &alice, "GET", "/keypackages/mine", NULL, &far, &r);
	is_reply(&r, 401, "unauthorized", "created now + 61 s: 401");
	ok(strstr(r.body, "future") != NULL, "as from the future");
	again(&s, &alice, "GET", "/keypackages/mine", NULL, &ahead, &r);
	is_int(r.status, 200, "created now + 59 s: 200");
	again(&s, &alice, "GET", "/keypackages/mine", NULL, &ahead, &r);
	is_reply(&r, 401, "unauthorized", "and its replay: 401");
	restart(&s);
	again(&s, &alice, "GET", "/keypackages/mine", NULL, &ahead, &r);
	is_reply(&r, 401, "unauthorized", "its replay after a restart: 401");
	ok(srv_metric(&s, "kpool_auth_refused_total{reason=\"future\"}")
	    == 0 && srv_metric(&s,
	    "kpool_auth_refused_total{reason=\"replay\"}") == 1,
	    "metrics count it as a replay (since the restart)");

	/* stale nonces leave the database */
	ok(nonces(&s, -1) > 5, "the database remembers the nonces");
	srv_set_clocks(&s, T, T + 301 + 59);
	for (i = 0; i < 300 && nonces(&s, T + 60) > 0; i++)
		usleep(10000);
	is_int(nonces(&s, T + 60), 0,
	    "360 s later, every nonce created before then is pruned");
	again(&s, &alice, "GET", "/keypackages/mine", NULL, &ahead, &r);
	is_reply(&r, 401, "unauthorized", "a pruned one is refused as stale");
	ok(strstr(r.body, "stale") != NULL, "as stale");
	ok(srv_metric(&s, "kpool_nonces_pruned_total") > 5,
	    "kpool_nonces_pruned_total counts them");

	is_int(srv_stop(&s), 0, "SIGTERM: a clean exit");
	free(k.buf);
	who_free(&alice);
	who_free(&bob);
	who_free(&carol);
	return done_testing();
}
