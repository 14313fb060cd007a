/* SPDX-License-Identifier: ISC */
/*
 * 2016-server-conns: slow and many connections against a real
 * kpool-server with a request deadline of 2 s.  2,000 connections from
 * 127.0.0.1 each trickle a header line every 0.5 s: every one is
 * answered 408 (JSON) and closed at the deadline, while signed requests
 * from 127.0.0.2 are answered within a second all along.  From ten
 * addresses, 200 connections each against a limit of 50 per address:
 * exactly 150 of each are refused with 503 (JSON), the rest held until
 * the deadline, and a real client is answered throughout.  A global
 * limit of 100 refuses the 101st connection.  Keep-alive goes on for a
 * client that keeps sending, an idle connection is closed at the
 * deadline without a word, and a body trickled after a good head (read
 * by libmicrohttpd) is cut at the deadline with 408 too.
 */

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>

#include "kps_test.h"

#define DEADLINE	2		/* --request-deadline */
#define NSLOW		2000		/* trickling connections */

struct cli {
	int	fd;
	double	t0, t1;			/* connected, closed by the server */
	char	buf[512];
	size_t	len;
};

static double
now_s(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* dial: a connection to s from the address src; -1 on failure. */
static int
dial(const struct srv *s, const char *src)
{
	struct sockaddr_in	sin;
	int			fd;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, src, &sin.sin_addr);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0)
		goto fail;
	sin.sin_port = htons((uint16_t)s->port);
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

/*
 * pump: read what the server sends each of the n clients until it
 * closes them, or until `until`; with trickle, each open one sends a
 * header line every half second.  The open ones left.
 */
static size_t
pump(struct cli *c, size_t n, double until, int trickle)
{
	struct pollfd	*p;
	double		 next = 0, t;
	size_t		 i, open;
	ssize_t		 r;

	if ((p = calloc(n, sizeof(*p))) == NULL)
		bail("calloc");
	for (;;) {
		t = now_s();
		for (i = 0, open = 0; i < n; i++) {
			p[i].fd = c[i].t1 == 0 ? c[i].fd : -1;
			p[i].events = POLLIN;
			open += c[i].t1 == 0;
			if (trickle && t >= next && c[i].t1 == 0)
				(void)send(c[i].fd, "X-Trickle: 1\r\n", 14,
				    MSG_NOSIGNAL | MSG_DONTWAIT);
		}
		if (trickle && t >= next)
			next = t + 0.5;
		if (open == 0 || t >= until)
			break;
		if (poll(p, n, 50) < 0)
			continue;
		for (i = 0; i < n; i++) {
			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP |
			    POLLERR)))
				continue;
			r = recv(c[i].fd, c[i].buf + c[i].len,
			    sizeof(c[i].buf) - 1 - c[i].len, MSG_DONTWAIT);
			if (r > 0) {
				c[i].len += (size_t)r;
				c[i].buf[c[i].len] = '\0';
				if (c[i].len + 1 < sizeof(c[i].buf))
					continue;
			} else if (r < 0 && errno == EAGAIN)
				continue;
			c[i].t1 = now_s();
			close(c[i].fd);
		}
	}
	free(p);
	return open;
}

/* answered: 1 when c got status with the JSON error code. */
static int
answered(const struct cli *c, int status, const char *code)
{
	char	want[64];

	snprintf(want, sizeof(want), "\"error\":\"%s\"", code);
	return strncmp(c->buf, "HTTP/1.1 ", 9) == 0 &&
	    atoi(c->buf + 9) == status &&
	    strstr(c->buf, "Content-Type: application/json\r\n") != NULL &&
	    strstr(c->buf, want) != NULL;
}

/* The real client: signed requests from 127.0.0.2 while the slow ones
 * hold their connections. */
struct real {
	pthread_t	 t;
	struct srv	*s;
	struct who	*w;
	_Atomic int	 stop;
	int		 sent, ok;
	double		 worst;
};

/* ask: one signed GET /keypackages/mine of w from 127.0.0.2 on a new
 * connection; its status, its time in *dt. */
static int
ask(struct srv *s, struct who *w, double *dt)
{
	struct kp_httpsig	sig;
	char			req[2048], buf[4096];
	double			t0 = now_s();
	int			fd, n, code = 0;

	if (kp_httpsig_sign("GET", "/keypackages/mine", "", NULL, 0, w->name,
	    w->sk, (int64_t)time(NULL), &sig) != KP_OK)
		bail("sign");
	n = snprintf(req, sizeof(req), "GET /keypackages/mine HTTP/1.1\r\n"
	    "Host: x\r\nConnection: close\r\nContent-Digest: %s\r\n"
	    "Signature-Input: %s\r\nSignature: %s\r\n\r\n", sig.digest,
	    sig.input, sig.signature);
	if ((fd = dial(s, "127.0.0.2")) != -1) {
		sock_send(fd, req, (size_t)n);
		if (sock_read(fd, buf, sizeof(buf), 5000) > 12 &&
		    strncmp(buf, "HTTP/1.1 ", 9) == 0)
			code = atoi(buf + 9);
		close(fd);
	}
	*dt = now_s() - t0;
	return code;
}

static void *
real_main(void *arg)
{
	struct real	*rl = arg;
	double		 dt;

	while (!atomic_load(&rl->stop)) {
		rl->sent++;
		if (ask(rl->s, rl->w, &dt) == 200)
			rl->ok++;
		if (dt > rl->worst)
			rl->worst = dt;
		usleep(100000);
	}
	return NULL;
}

static void
real_start(struct real *rl, struct srv *s, struct who *w)
{
	memset(rl, 0, sizeof(*rl));
	rl->s = s;
	rl->w = w;
	if (pthread_create(&rl->t, NULL, real_main, rl) != 0)
		bail("pthread_create");
}

static void
real_stop(struct real *rl, const char *when)
{
	atomic_store(&rl->stop, 1);
	pthread_join(rl->t, NULL);
	ok(rl->sent >= 10 && rl->ok == rl->sent,
	    "%s: every real request answered 200 (%d of %d)", when, rl->ok,
	    rl->sent);
	ok(rl->worst < 1.0, "%s: each within 1 s (the slowest %.0f ms)",
	    when, rl->worst * 1e3);
}

/* trickled: the slow clients, from the addresses of src in turn. */
static void
slow(struct srv *s, struct cli *c, size_t n, const char *const *src,
    size_t nsrc, const char *first)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		memset(&c[i], 0, sizeof(c[i]));
		if ((c[i].fd = dial(s, src[i % nsrc])) == -1)
			bail("connection %zu: %s", i, strerror(errno));
		fcntl(c[i].fd, F_SETFL, O_NONBLOCK);
		c[i].t0 = now_s();
		if (first != NULL)
			sock_send(c[i].fd, first, strlen(first));
	}
}

static void
deadline(struct who *w, size_t nslow)
{
	const char *const	 opts[] = { "--request-deadline", "2",
				    "--max-connections", "4000",
				    "--max-connections-per-address", "0",
				    "--public-metrics", "--quiet", NULL };
	const char *const	 one[] = { "127.0.0.1" };
	struct srv		 s;
	struct real		 rl;
	struct cli		*c;
	size_t			 i, n408, late;
	double			 last = 0;

	srv_start(&s, opts);
	who_new(&s, w, "alice", 1);
	if ((c = calloc(nslow, sizeof(*c))) == NULL)
		bail("calloc");
	real_start(&rl, &s, w);
	slow(&s, c, nslow, one, 1, "GET /healthz HTTP/1.1\r\n");
	is_int((int)pump(c, nslow, now_s() + DEADLINE + 3, 1), 0,
	    "%zu connections trickling from 127.0.0.1: all closed by the "
	    "server", nslow);
	real_stop(&rl, "while 127.0.0.1 trickled");
	for (i = 0, n408 = 0, late = 0; i < nslow; i++) {
		n408 += answered(&c[i], 408, "request_timeout");
		if (c[i].t1 - c[i].t0 < DEADLINE - 0.1 ||
		    c[i].t1 - c[i].t0 > DEADLINE + 1.5)
			late++;
		if (c[i].t1 - c[i].t0 > last)
			last = c[i].t1 - c[i].t0;
	}
	is_int((int)n408, (int)nslow, "each got 408 request_timeout (JSON)");
	is_int((int)late, 0, "each closed at the 2 s deadline, give or take "
	    "(the last after %.2f s), whatever it trickled", last);
	is_int(srv_metric(&s, "kpool_connections_refused_total"
	    "{reason=\"deadline\"}"), (long long)nslow,
	    "kpool_connections_refused_total{reason=\"deadline\"} counts them");
	is_int(srv_metric(&s, "kpool_requests_total{route=\"healthz\","
	    "code=\"408\"}"), (long long)nslow, "and the 408s of healthz");
	is_int(srv_stop(&s), 0, "a clean exit");
	free(c);
	who_free(w);
}

static void
per_address(struct who *w)
{
	const char *const	 opts[] = { "--request-deadline", "2",
				    "--max-connections-per-address", "50",
				    "--max-connections", "4000",
				    "--public-metrics", "--quiet", NULL };
	const char *const	 ten[] = { "127.0.0.10", "127.0.0.11",
				    "127.0.0.12", "127.0.0.13", "127.0.0.14",
				    "127.0.0.15", "127.0.0.16", "127.0.0.17",
				    "127.0.0.18", "127.0.0.19" };
	static const char	 close_hz[] = "GET /healthz HTTP/1.1\r\n"
				    "Host: x\r\nConnection: close\r\n\r\n";
	struct srv		 s;
	struct real		 rl;
	struct cli		*c;
	size_t			 i, n = 2000, n503, n408, per[10];
	char			 buf[1024];
	int			 fd;

	srv_start(&s, opts);
	who_new(&s, w, "alice", 1);
	if ((c = calloc(n, sizeof(*c))) == NULL)
		bail("calloc");
	real_start(&rl, &s, w);
	slow(&s, c, n, ten, 10, NULL);
	/* the refused are answered at once; the others hear nothing */
	pump(c, n, now_s() + 0.5, 0);
	memset(per, 0, sizeof(per));
	for (i = 0, n503 = 0; i < n; i++)
		if (c[i].t1 != 0 && answered(&c[i], 503,
		    "too_many_connections")) {
			n503++;
			per[i % 10]++;
		}
	is_int((int)n503, 1500, "200 from each of 10 addresses, 50 allowed "
	    "each: 1,500 refused with 503 too_many_connections (JSON)");
	for (i = 0; i < 10 && per[i] == 150; i++)
		;
	is_int((int)i, 10, "150 of each address");
	is_int(srv_metric(&s, "kpool_connections_refused_total"
	    "{reason=\"per_address\"}"), 1500, "counted as per_address");
	fd = dial(&s, "127.0.0.10");
	sock_read(fd, buf, sizeof(buf), 2000);
	close(fd);
	ok(strstr(buf, " 503 ") != NULL, "127.0.0.10 is still at its limit");
	for (i = 0; i < n; i++)
		if (c[i].t1 == 0)
			(void)send(c[i].fd, "GET /healthz HTTP/1.1\r\n", 23,
			    MSG_NOSIGNAL);
	is_int((int)pump(c, n, now_s() + DEADLINE + 3, 1), 0,
	    "the 500 held trickle until the server closes them");
	real_stop(&rl, "while 10 addresses held their limit");
	for (i = 0, n408 = 0; i < n; i++)
		n408 += answered(&c[i], 408, "request_timeout");
	is_int((int)n408, 500, "each of the 500 got 408");
	/* (once the server has seen them go) */
	for (i = 0; i < 20; i++) {
		fd = dial(&s, "127.0.0.10");
		sock_send(fd, close_hz, sizeof(close_hz) - 1);
		sock_read(fd, buf, sizeof(buf), 2000);
		close(fd);
		if (strncmp(buf, "HTTP/1.1 200 ", 13) == 0)
			break;
		usleep(100000);
	}
	ok(strncmp(buf, "HTTP/1.1 200 ", 13) == 0,
	    "127.0.0.10 is served again");
	is_int(srv_stop(&s), 0, "a clean exit");
	free(c);
	who_free(w);
}

static void
global(void)
{
	const char *const	 opts[] = { "--max-connections", "100",
				    "--max-connections-per-address", "0",
				    "--public-metrics", "--quiet", NULL };
	const char *const	 one[] = { "127.0.0.3" };
	struct srv		 s;
	struct cli		 c[120];
	size_t			 i, n503;

	srv_start(&s, opts);
	slow(&s, c, 120, one, 1, NULL);
	pump(c, 120, now_s() + 0.5, 0);
	for (i = 0, n503 = 0; i < 120; i++)
		n503 += c[i].t1 != 0 && answered(&c[i], 503,
		    "too_many_connections");
	is_int((int)n503, 20, "--max-connections 100: 20 of 120 refused "
	    "with 503 (JSON)");
	for (i = 0; i < 120; i++)
		if (c[i].t1 == 0)
			close(c[i].fd);
	is_int(srv_metric(&s, "kpool_connections_refused_total"
	    "{reason=\"global\"}"), 20, "counted as global");
	is_int(srv_stop(&s), 0, "a clean exit");
}

static void
keepalive(void)
{
	const char *const	 opts[] = { "--request-deadline", "2",
				    "--public-metrics", "--quiet", NULL };
	static const char	 hz[] = "GET /healthz HTTP/1.1\r\n"
				    "Host: x\r\n\r\n";
	static const char	 post[] = "POST /keypackages/upload "
				    "HTTP/1.1\r\nHost: x\r\n"
				    "Content-Length: 100\r\n\r\n{";
	struct srv		 s;
	struct cli		 c[1];
	char			 buf[2048];
	size_t			 n;
	int			 fd, i, good;

	srv_start(&s, opts);
	/* a client that keeps asking keeps its connection */
	fd = sock_open(&s);
	for (i = 0, good = 0; i < 6; i++) {
		sock_send(fd, hz, sizeof(hz) - 1);
		n = (size_t)recv(fd, buf, sizeof(buf) - 1, 0);
		buf[n < sizeof(buf) ? n : 0] = '\0';
		good += strncmp(buf, "HTTP/1.1 200 ", 13) == 0;
		usleep(500000);
	}
	is_int(good, 6, "6 requests 0.5 s apart on one connection (3 s "
	    "in all): 6 answers");
	/* idle past the deadline: closed, nothing said */
	memset(c, 0, sizeof(c));
	c[0].fd = fd;
	c[0].t0 = now_s();
	fcntl(fd, F_SETFL, O_NONBLOCK);
	is_int((int)pump(c, 1, now_s() + DEADLINE + 2, 0), 0,
	    "then idle: closed at the deadline");
	is_int((int)c[0].len, 0, "without a word");
	/* a good head, then a body that trickles: libmicrohttpd's 408 */
	fd = sock_open(&s);
	sock_send(fd, hz, sizeof(hz) - 1);
	sock_send(fd, post, sizeof(post) - 1);
	memset(c, 0, sizeof(c));
	c[0].fd = fd;
	c[0].t0 = now_s();
	fcntl(fd, F_SETFL, O_NONBLOCK);
	for (i = 0; i < 12 && c[0].t1 == 0; i++) {
		(void)send(fd, " ", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		pump(c, 1, now_s() + 0.4, 0);
	}
	ok(c[0].t1 != 0 && c[0].t1 - c[0].t0 < DEADLINE + 1.5,
	    "a second request whose body trickles: closed at the deadline");
	ok(strstr(c[0].buf, "HTTP/1.1 408 ") != NULL &&
	    strstr(c[0].buf, "\"error\":\"request_timeout\"") != NULL,
	    "after its 408 request_timeout (JSON)");
	is_int(srv_metric(&s, "kpool_connections_idle_closed_total"), 1,
	    "the idle one is counted apart");
	is_int(srv_stop(&s), 0, "a clean exit");
}

int
main(void)
{
	struct rlimit	rl;
	struct who	w;
	size_t		nslow = NSLOW;

	/* the test holds its 2,000 connections itself */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < 2200)
		skip_all("the test needs 2,200 open files");
	plan(28);
	deadline(&w, nslow);
	per_address(&w);
	global();
	keepalive();
	return done_testing();
}
