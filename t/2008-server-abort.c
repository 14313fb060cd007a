/* SPDX-License-Identifier: ISC */
/*
 * 2008-server-abort: clients of a real kpool-server that go away in the
 * middle: after the request line, in the body, and while their reserve
 * waits for the writer (the test holds SQLite's write lock).  The
 * server forgets each request (kpool_requests_in_flight goes back to
 * the scrape itself), keeps serving, stores the orphaned reserve, and
 * stops at once with exit 0 (under SANITIZE=1: no leak).
 */

#include "kps_test.h"

/* settle: wait until the in-flight gauge is want; its last value. */
static long long
settle(struct srv *s, const char *name, long long want)
{
	long long	v = -1;
	int		i;

	for (i = 0; i < 500 && (v = srv_metric(s, name)) != want; i++)
		usleep(10000);
	return v;
}

int
main(void)
{
	const char *const	 pub[] = { "--public-metrics", NULL };
	struct srv		 s;
	struct who		 alice, bob;
	struct kpb		 k;
	struct kp_upload_result	 up;
	struct kp_reservation	 res;
	struct kp_httpsig	 sig;
	struct rawreply		 r;
	struct timespec		 t0, t1;
	const uint8_t		*kp;
	struct hold		*db;
	char			 req[2048], body[256];
	int			 fd, n;
	double			 ms;

	plan(18);
	srv_start(&s, pub);
	who_new(&s, &alice, "alice", 1);
	who_new(&s, &bob, "bob", 1);
	gen(&alice, "alice", time(NULL) - 10, time(NULL) + 86400, 0, &k);
	kp = k.buf;
	is_int(kp_client_upload(alice.c, &kp, &k.len, 1, &up), KP_OK,
	    "alice uploads a key");

	/*
	 * Each goes once the server has read what it sent.  (When the
	 * close comes with the bytes, libmicrohttpd 0.9.75 on epoll sees
	 * it only at its 30 s timeout.)
	 */
	/* gone after the request line and a header */
	fd = sock_open(&s);
	sock_send(fd, "POST /keypackages/upload HTTP/1.1\r\nHost: x\r\n", 44);
	is_int(settle(&s, "kpool_requests_in_flight", 2), 2,
	    "a request begun: in flight with the scrape");
	close(fd);
	ok(srv_log_wait(&s, "POST /keypackages/upload 0 "),
	    "the request gone in its headers is logged");
	/* gone in the body */
	fd = sock_open(&s);
	n = snprintf(req, sizeof(req), "POST /keypackages/upload HTTP/1.1\r\n"
	    "Host: x\r\nContent-Length: 100000\r\n\r\n{\"keypackages\":[");
	sock_send(fd, req, (size_t)n);
	is_int(settle(&s, "kpool_requests_in_flight", 2), 2,
	    "a request begun: in flight with the scrape");
	close(fd);
	ok(srv_log_wait(&s, "POST /keypackages/upload 0 "),
	    "the upload gone in its body is logged");
	/* connected, nothing sent */
	fd = sock_open(&s);
	close(fd);
	is_int(settle(&s, "kpool_requests_in_flight", 1), 1,
	    "no request left in flight but the scrape");
	raw(&s, &alice, "GET", "/healthz", NULL, T_UNSIGNED, &r);
	is_int(r.status, 200, "still serving");

	/* gone while the reserve waits for the writer */
	db = srv_hold_writer(&s);
	snprintf(body, sizeof(body), "{\"target_username\":\"alice\","
	    "\"request_id\":\"gone-1\"}");
	if (kp_httpsig_sign("POST", "/keypackages/reserve", "", body,
	    strlen(body), "bob", bob.sk, (int64_t)time(NULL), &sig) != KP_OK)
		bail("sign");
	n = snprintf(req, sizeof(req), "POST /keypackages/reserve HTTP/1.1\r\n"
	    "Host: x\r\nContent-Type: application/json\r\n"
	    "Content-Digest: %s\r\nSignature-Input: %s\r\nSignature: %s\r\n"
	    "Content-Length: %zu\r\n\r\n%s", sig.digest, sig.input,
	    sig.signature, strlen(body), body);
	fd = sock_open(&s);
	sock_send(fd, req, (size_t)n);
	is_int(settle(&s, "kpool_writes_waiting", 1), 1,
	    "the reserve waits for the writer");
	close(fd);
	srv_free_writer(db);
	is_int(settle(&s, "kpool_writes_waiting", 0), 0,
	    "the writer is done with it");
	/* 200 when the reply went out before the close was seen, else 0 */
	ok(srv_log_wait(&s, "POST /keypackages/reserve "),
	    "its request is done and logged");
	is_int(settle(&s, "kpool_requests_in_flight", 1), 1,
	    "no request left in flight but the scrape");
	is_int(kp_client_reserve(bob.c, "alice",
	    &(struct kp_reserve_opts){ .request_id = "gone-1" }, &res), KP_OK,
	    "bob retries the request_id");
	is_blob(res.ref, KP_REF_LEN, k.ref, KP_REF_LEN,
	    "the orphaned reservation: alice's key");
	kp_reservation_free(&res);
	is_int(kp_client_reserve(bob.c, "alice",
	    &(struct kp_reserve_opts){ .request_id = "other" }, &res),
	    KP_EEXHAUSTED, "a new request_id: alice has no key left");
	kp_reservation_free(&res);

	/* a client that stays mid-body holds the stop 10 s at most; these
	 * are gone, so the stop is at once */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	is_int(srv_stop(&s), 0, "SIGTERM: a clean exit");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	ok(ms < 5000, "the stop took %.0f ms, no wait for the gone", ms);
	free(k.buf);
	who_free(&alice);
	who_free(&bob);
	return done_testing();
}
