/* SPDX-License-Identifier: ISC */
/*
 * 2037-client-backoff: the library's retries (lib/retry.c,
 * docs/reliability.md "The library's retries").  A read whose first
 * attempts got no reply (faultproxy drops them) is asked again after a
 * growing wait and answered; the number of attempts and the deadline
 * bound it; kp_client_set_retry(c, 1, ...) turns it off; a reserve
 * whose reply was lost is asked again with its request_id and gets the
 * one reservation the server made; a registration is never sent
 * twice.  A 503 with Retry-After (a small server of the test's own) is
 * waited out when the wait fits the deadline, and returned at once
 * when it does not.
 */

#include "kps_test.h"
#include "fault/prox.h"

static struct srv	s;

static int64_t
mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* seq_now: the number of requests the proxy has seen. */
static unsigned long long
seq_now(struct prox *p)
{
	return next_seq(p) - 1;
}

/* drop_from: every request from the next one to the next + n - 1
 * (n 0: all of them) is dropped before it reaches the server. */
static void
drop_from(struct prox *p, int n)
{
	unsigned long long	a = next_seq(p);

	if (n > 0)
		pctl(p, "seq %llu-%llu", a, a + (unsigned long long)n - 1);
	pctl(p, "set drop-request 1");
	pctl(p, "faults on");
}

/* The test's own server: each connection read up to its blank line,
 * answered with the next of replies[], closed. */
static const char	*replies[4];
static int		 nreplies, served, lfd;

static void *
serve(void *arg)
{
	char	buf[4096];
	size_t	got;
	ssize_t	r;
	int	fd;

	(void)arg;
	while (served < nreplies && (fd = accept(lfd, NULL, NULL)) != -1) {
		got = 0;
		while (got < sizeof(buf) - 1 && (r = read(fd, buf + got,
		    sizeof(buf) - 1 - got)) > 0) {
			got += (size_t)r;
			buf[got] = '\0';
			if (strstr(buf, "\r\n\r\n") != NULL)
				break;
		}
		sock_send(fd, replies[served], strlen(replies[served]));
		served++;
		close(fd);
	}
	return NULL;
}

/* fake: serve the n replies in order from a new thread; its URL. */
static const char *
fake(pthread_t *t, const char *const *r, int n)
{
	static char		url[64];
	struct sockaddr_in	sa;
	socklen_t		sl = sizeof(sa);
	int			i;

	for (i = 0; i < n; i++)
		replies[i] = r[i];
	nreplies = n;
	served = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(lfd, 8) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) != 0)
		bail("listen: %s", strerror(errno));
	if (pthread_create(t, NULL, serve, NULL) != 0)
		bail("thread");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(sa.sin_port));
	return url;
}

static void
fake_end(pthread_t t)
{
	shutdown(lfd, SHUT_RDWR);
	close(lfd);
	pthread_join(t, NULL);
}

/* mine_from: w's GET /keypackages/mine from a server of the test's
 * own that answers the two replies r; its result, *ms its time. */
static int
mine_from(struct who *w, const char *const *r, struct kp_remote_key **keys,
    size_t *n, int64_t *ms)
{
	struct kp_client	*c;
	pthread_t		 t;
	int64_t			 t0;
	int			 rc;

	if (kp_client_new(fake(&t, r, 2), w->name, w->seed, &c) != KP_OK)
		bail("client");
	t0 = mono_ms();
	rc = kp_client_mine(c, keys, n);
	*ms = mono_ms() - t0;
	kp_client_free(c);
	fake_end(t);
	return rc;
}

#define BUSY(after) \
	"HTTP/1.1 503 Service Unavailable\r\nRetry-After: " after "\r\n" \
	"Content-Type: application/json\r\nContent-Length: 67\r\n" \
	"Connection: close\r\n\r\n" \
	"{\"error\":\"unavailable\",\"message\":\"the server is stopping; try " \
	"again\"}"
#define EMPTY \
	"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" \
	"Content-Length: 18\r\nConnection: close\r\n\r\n" \
	"{\"keypackages\":[]}"

int
main(void)
{
	static const char *const	 px_args[] = { "--faults", "off", NULL };
	static const char *const	 busy1[] = { BUSY("1"), EMPTY };
	static const char *const	 busy10[] = { BUSY("10"), EMPTY };
	struct who			 alice, bob;
	struct kp_remote_status		 st;
	struct kp_remote_key		*keys = NULL;
	struct kp_reserve_opts		 o;
	struct kp_reservation		 rv;
	struct kp_upload_result		 res[2];
	struct kp_client		*c;
	struct kpb			 k[2];
	struct prox			 p;
	const uint8_t			*ptrs[2];
	size_t				 lens[2], n, i;
	unsigned long long		 before;
	int64_t				 t0, ms, now;
	int				 rc;

	plan(25);
	srv_start(&s, NULL);
	prox_start(&p, &s, "p", px_args);
	who_new(&s, &alice, "alice", 1);
	who_new(&s, &bob, "bob", 1);
	now = (int64_t)time(NULL);
	for (i = 0; i < 2; i++) {
		gen(&bob, "bob", now - 10, now + 86400, 0, &k[i]);
		ptrs[i] = k[i].buf;
		lens[i] = k[i].len;
	}
	if (kp_client_upload(bob.c, ptrs, lens, 2, res) != KP_OK ||
	    !res[0].accepted || !res[1].accepted)
		bail("upload");

	/* two attempts dropped: the third is answered, after two waits */
	if (kp_client_new(p.view.url, "alice", alice.seed, &c) != KP_OK)
		bail("client");
	before = seq_now(&p);
	drop_from(&p, 2);
	t0 = mono_ms();
	rc = kp_client_status(c, "alice", &st);
	ms = mono_ms() - t0;
	heal(&p, "drop-request");
	is_int(rc, KP_OK, "a read whose first two attempts got no reply is "
	    "answered by the third");
	is_int((long long)(seq_now(&p) - before), 3, "three requests reached "
	    "the proxy");
	ok(ms >= 25 + 50, "after waits of at least 25 and 50 ms (%lld ms)",
	    (long long)ms);
	kp_client_free(c);

	/* every attempt dropped: four of them, then the error */
	if (kp_client_new(p.view.url, "alice", alice.seed, &c) != KP_OK)
		bail("client");
	before = seq_now(&p);
	drop_from(&p, 0);
	t0 = mono_ms();
	rc = kp_client_mine(c, &keys, &n);
	ms = mono_ms() - t0;
	is_int(rc, KP_ENET, "a read no attempt of which is answered: "
	    "KP_ENET");
	is_int((long long)(seq_now(&p) - before), KP_RETRY_ATTEMPTS,
	    "after KP_RETRY_ATTEMPTS (4) attempts");
	ok(ms >= 25 + 50 + 100 && ms < 50 + 100 + 200 + 500,
	    "waits of 25-50, 50-100 and 100-200 ms between them (%lld ms)",
	    (long long)ms);

	/* off */
	kp_client_set_retry(c, 1, KP_RETRY_DEADLINE_MS);
	before = seq_now(&p);
	is_int(kp_client_mine(c, &keys, &n), KP_ENET,
	    "with retries off, KP_ENET");
	is_int((long long)(seq_now(&p) - before), 1, "after one attempt");

	/* the deadline ends it before the attempts do */
	kp_client_set_retry(c, 100, 300);
	before = seq_now(&p);
	t0 = mono_ms();
	rc = kp_client_mine(c, &keys, &n);
	ms = mono_ms() - t0;
	is_int(rc, KP_ENET, "a deadline of 300 ms: KP_ENET");
	ok(seq_now(&p) - before >= 3 && seq_now(&p) - before <= 4,
	    "after 3 or 4 attempts (%llu), not 100", seq_now(&p) - before);
	ok(ms < 300 + 100, "within the deadline (%lld ms)", (long long)ms);
	kp_client_free(c);

	/* a registration is not retried: its repeat would be a 409 */
	{
		struct who	carol;

		who_new(&p.view, &carol, "carol", 0);
		before = seq_now(&p);
		is_int(kp_client_register(carol.c), KP_ENET,
		    "a registration that got no reply: KP_ENET");
		is_int((long long)(seq_now(&p) - before), 1,
		    "sent once, never again");
		who_free(&carol);
	}
	heal(&p, "drop-request");

	/* a reserve whose reply was lost: the retry, with its request_id,
	 * gets the reservation the first made */
	if (kp_client_new(p.view.url, "alice", alice.seed, &c) != KP_OK)
		bail("client");
	memset(&o, 0, sizeof(o));
	o.request_id = "backoff-1";
	before = seq_now(&p);
	force(&p, "drop-reply", before + 1);
	memset(&rv, 0, sizeof(rv));
	rc = kp_client_reserve(c, "bob", &o, &rv);
	heal(&p, "drop-reply");
	is_int(rc, KP_OK, "a reserve whose reply was lost is answered by "
	    "its retry");
	is_int((long long)(seq_now(&p) - before), 2, "in two requests");
	is_int(srv_count(&s, "SELECT count(*) FROM keypackages WHERE "
	    "status = 'reserved'"), 1, "one key reserved, not two");
	is_int(srv_count(&s, "SELECT count(*) FROM keypackages WHERE "
	    "status = 'reserved' AND request_id = 'backoff-1'"), 1,
	    "the one of its request_id");
	ok(memcmp(rv.ref, res[0].ref, KP_REF_LEN) == 0 ||
	    memcmp(rv.ref, res[1].ref, KP_REF_LEN) == 0,
	    "the reply names that key");
	kp_reservation_free(&rv);
	kp_client_free(c);

	/* a 503 asking for 1 s: waited, then answered */
	rc = mine_from(&alice, busy1, &keys, &n, &ms);
	is_int(rc, KP_OK, "a 503 with Retry-After: 1, then a 200: KP_OK");
	is_int(served, 2, "two requests");
	ok(ms >= 1000 && ms < 2000, "the second a second after the first "
	    "(%lld ms)", (long long)ms);
	is_int((long long)n, 0, "the 200's list");
	free(keys);
	keys = NULL;

	/* a 503 asking for 10 s, past the deadline: returned at once */
	rc = mine_from(&alice, busy10, &keys, &n, &ms);
	is_int(rc, KP_ESERVER, "a 503 with Retry-After: 10: KP_ESERVER");
	is_int(served, 1, "one request: the wait asked for is past the "
	    "deadline");
	ok(ms < 500, "at once (%lld ms)", (long long)ms);

	for (i = 0; i < 2; i++)
		free(k[i].buf);
	who_free(&alice);
	who_free(&bob);
	prox_stop(&p);
	srv_stop(&s);
	return tap_done();
}
