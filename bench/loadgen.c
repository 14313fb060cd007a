/* SPDX-License-Identifier: ISC */
/*
 * loadgen: load generator of kpool-server (bench/run-server.sh).  Each
 * client is one keep-alive HTTP/1.1 connection with one request in
 * flight; one thread drives them all with epoll, so the generator
 * takes little of the CPU it shares with the server.  Signed reserve
 * requests are made (one signature and nonce each) before the clock
 * starts; a spend is signed when its reserve answers, since it names
 * the key the reserve returned.
 *
 *	loadgen -p PORT -c CLIENTS -m healthz|reserve|reserve-spend|claim
 *	    [-n OPS_PER_CLIENT] [-d SECONDS] [-t OWNER] [-s]
 *
 * With -s each connection speaks TLS (OpenSSL), its handshake made
 * before the clock starts; the server's certificate is not verified
 * (loopback; verifying costs the client, not the server).
 *
 * A claim (POST /keypackages/claim) hands out one key per device of
 * OWNER; its ops count claims, and keys= the keys handed out.
 *
 * It prints one line: mode, clients, operations, seconds, ops/s and
 * the p50/p99 latency of each request kind in milliseconds.  Reservers
 * are u0..u63 with the seeds of bench/kpfill.c.
 */

#include <arpa/inet.h>
#include <err.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <sodium.h>

#include "kpool.h"
#include "httpsig.h"

enum { M_HEALTHZ, M_RESERVE, M_RESERVE_SPEND, M_CLAIM };

static int		 port, mode, nclients = 1;
static long		 nops = 1000;
static double		 duration;
static const char	*owner = "owner";
static SSL_CTX		*tls;		/* -s */

struct client {
	int		 id, fd;
	SSL		*ssl;		/* -s, or NULL */
	long		 i;		/* next pre-signed request */
	int		 done, spend;
	char		*spendreq;
	size_t		 spendlen, have, need;
	double		 t0;
	char		 name[16];
	uint8_t		 sk[64];
	char		**pre;		/* pre-signed requests */
	size_t		*prelen;
	long		 n;		/* operations done */
	long		 keys;		/* keys handed out */
	double		*lat_a, *lat_b;	/* reserve (or healthz), spend */
	long		 na, nb;
	long		 errors;
	char		 buf[65536];
};

static double
now_s(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
bench_seed(const char *name, uint8_t seed[32])
{
	char	buf[128];

	snprintf(buf, sizeof(buf), "kpool-bench:%s", name);
	crypto_hash_sha256(seed, (const uint8_t *)buf, strlen(buf));
}

/* dial_tls: c's connection fd made TLS (a blocking handshake), then
 * non-blocking for the epoll loop. */
static void
dial_tls(struct client *c)
{
	if ((c->ssl = SSL_new(tls)) == NULL || SSL_set_fd(c->ssl, c->fd) != 1 ||
	    SSL_connect(c->ssl) != 1)
		errx(1, "TLS handshake failed");
	if (fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK) == -1)
		err(1, "fcntl");
}

static int
dial(void)
{
	struct sockaddr_in	sin;
	int			fd, one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		err(1, "socket");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		err(1, "connect");
	return fd;
}

/* sign_req: a signed request for body at path, malloc'd. */
static char *
sign_req(struct client *c, const char *method, const char *path,
    const char *body, size_t *len)
{
	struct kp_httpsig	 s;
	size_t			 blen = body ? strlen(body) : 0, cap;
	char			*r;
	int			 n;

	if (kp_httpsig_sign(method, path, "", body, blen, c->name, c->sk,
	    (int64_t)time(NULL), &s) != KP_OK)
		errx(1, "sign");
	cap = blen + 1024;
	if ((r = malloc(cap)) == NULL)
		err(1, "malloc");
	n = snprintf(r, cap, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n"
	    "Content-Digest: %s\r\nSignature-Input: %s\r\n"
	    "Signature: %s\r\n\r\n%s", method, path, blen, s.digest, s.input,
	    s.signature, body ? body : "");
	*len = (size_t)n;
	return r;
}

static void
sendall(struct client *c, const char *p, size_t n)
{
	ssize_t	w;
	int	e;

	while (n > 0) {
		if (c->ssl != NULL) {
			if ((w = SSL_write(c->ssl, p, (int)n)) <= 0) {
				e = SSL_get_error(c->ssl, (int)w);
				if (e == SSL_ERROR_WANT_WRITE ||
				    e == SSL_ERROR_WANT_READ)
					continue;
				errx(1, "SSL_write");
			}
		} else if ((w = write(c->fd, p, n)) <= 0)
			err(1, "write");
		p += w;
		n -= (size_t)w;
	}
}

/* recv_some: read what c's connection has into buf (cap bytes): the
 * count, 0 when nothing is ready yet (TLS: a partial record), or exit
 * when the connection closed. */
static size_t
recv_some(struct client *c, char *buf, size_t cap)
{
	ssize_t	r;

	if (c->ssl != NULL) {
		if ((r = SSL_read(c->ssl, buf, (int)cap)) > 0)
			return (size_t)r;
		if (SSL_get_error(c->ssl, (int)r) == SSL_ERROR_WANT_READ)
			return 0;
		errx(1, "read: TLS connection closed");
	}
	if ((r = read(c->fd, buf, cap)) <= 0)
		errx(1, "read: connection closed");
	return (size_t)r;
}

static int
cmpd(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static const char healthz_req[] = "GET /healthz HTTP/1.1\r\n"
    "Host: 127.0.0.1\r\n\r\n";

/* start_req: send c's next request (or mark it done); 0 or -1. */
static int
start_req(struct client *c, double end)
{
	const char	*req;
	size_t		 len;

	if ((duration > 0 && now_s() >= end) ||
	    (duration <= 0 && c->i >= nops && !c->spend)) {
		c->done = 1;
		return 0;
	}
	if (c->spend) {
		req = c->spendreq;
		len = c->spendlen;
	} else if (mode == M_HEALTHZ) {
		req = healthz_req;
		len = sizeof(healthz_req) - 1;
	} else {
		req = c->pre[c->i];
		len = c->prelen[c->i];
	}
	c->have = 0;
	c->need = 0;
	c->t0 = now_s();
	sendall(c, req, len);	/* small: fits the socket buffer */
	return 0;
}

/* on_reply: a whole reply is in c->buf. */
static void
on_reply(struct client *c, int st, char *body, double end)
{
	double	 t = now_s() - c->t0;
	char	 spend[256], *ref;

	if (c->spend) {
		free(c->spendreq);
		c->spendreq = NULL;
		c->spend = 0;
		if (st != 200) {
			c->errors++;
			if (c->errors < 3)
				warnx("spend: HTTP %d: %s", st, body);
		} else {
			c->lat_b[c->nb++] = t;
			c->n++;
		}
		start_req(c, end);
		return;
	}
	c->i++;
	if (st != 200) {
		c->errors++;
		if (c->errors < 3)
			warnx("%s: HTTP %d: %s", c->name, st, body);
		start_req(c, end);
		return;
	}
	c->lat_a[c->na++] = t;
	for (ref = body; (ref = strstr(ref, "\"keypackage_ref\"")) != NULL;
	    ref++)
		c->keys++;
	if (mode == M_RESERVE_SPEND) {
		if ((ref = strstr(body, "\"keypackage_ref\":\"")) == NULL)
			errx(1, "no ref in %s", body);
		snprintf(spend, sizeof(spend), "{\"keypackage_ref\":"
		    "\"%.64s\",\"group_id\":\"Z3JvdXA=\"}", ref + 18);
		c->spendreq = sign_req(c, "POST", "/keypackages/spend", spend,
		    &c->spendlen);
		c->spend = 1;
	} else
		c->n++;
	start_req(c, end);
}

/* run: drive every client's connection from one epoll loop. */
static void
run(struct client *cl)
{
	struct epoll_event	 ev, evs[256];
	double			 end = duration > 0 ? now_s() + duration : 0;
	char			*e, *cli;
	size_t			 r;
	int			 ep, i, k, left = nclients;

	if ((ep = epoll_create1(0)) == -1)
		err(1, "epoll_create1");
	for (i = 0; i < nclients; i++) {
		ev.events = EPOLLIN;
		ev.data.ptr = &cl[i];
		if (epoll_ctl(ep, EPOLL_CTL_ADD, cl[i].fd, &ev) == -1)
			err(1, "epoll_ctl");
		start_req(&cl[i], end);
		if (cl[i].done)
			left--;
	}
	while (left > 0) {
		if ((k = epoll_wait(ep, evs, 256, 10000)) <= 0)
			errx(1, "epoll_wait: no reply for 10 s");
		for (i = 0; i < k; i++) {
			struct client *c = evs[i].data.ptr;

			if (c->done)
				continue;
			/* a TLS reply may be in more than one record */
			do {
				r = recv_some(c, c->buf + c->have,
				    sizeof(c->buf) - 1 - c->have);
				c->have += r;
			} while (r > 0 && c->ssl != NULL &&
			    c->have < sizeof(c->buf) - 1);
			c->buf[c->have] = '\0';
			if ((e = strstr(c->buf, "\r\n\r\n")) == NULL)
				continue;
			if (c->need == 0) {
				if ((cli = strcasestr(c->buf,
				    "Content-Length:")) == NULL || cli > e)
					errx(1, "no Content-Length");
				c->need = (size_t)(e + 4 - c->buf) +
				    strtoul(cli + 15, NULL, 10);
			}
			if (c->have < c->need)
				continue;
			on_reply(c, atoi(c->buf + 9), e + 4, end);
			if (c->done)
				left--;
		}
	}
	close(ep);
}

static void
pct(double *v, long n, double *p50, double *p99)
{
	if (n == 0) {
		*p50 = *p99 = 0;
		return;
	}
	qsort(v, (size_t)n, sizeof(*v), cmpd);
	*p50 = v[n / 2] * 1e3;
	*p99 = v[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] * 1e3;
}

int
main(int argc, char **argv)
{
	struct client	*cl;
	uint8_t		 seed[32], pk[32], rnd[8];
	char		 body[256], rid[17];
	double		 t0, t1, *all_a, *all_b, a50, a99, b50, b99;
	long		 i, j, total = 0, na = 0, nb = 0, errors = 0, cap;
	long		 keys = 0;
	int		 ch;

	while ((ch = getopt(argc, argv, "p:c:m:n:d:t:s")) != -1) {
		switch (ch) {
		case 'p':
			port = atoi(optarg);
			break;
		case 'c':
			nclients = atoi(optarg);
			break;
		case 'm':
			mode = strcmp(optarg, "healthz") == 0 ? M_HEALTHZ :
			    strcmp(optarg, "reserve") == 0 ? M_RESERVE :
			    strcmp(optarg, "claim") == 0 ? M_CLAIM :
			    M_RESERVE_SPEND;
			break;
		case 'n':
			nops = atol(optarg);
			break;
		case 'd':
			duration = atof(optarg);
			break;
		case 't':
			owner = optarg;
			break;
		case 's':
			if ((tls = SSL_CTX_new(TLS_client_method())) == NULL)
				errx(1, "SSL_CTX_new");
			break;
		default:
			errx(2, "usage: loadgen -p port -c clients -m mode "
			    "[-n ops] [-d seconds] [-t owner] [-s]");
		}
	}
	if (port <= 0 || nclients < 1 || nclients > 256)
		errx(2, "bad port or clients");
	if (mode != M_HEALTHZ)
		duration = 0;
	if (sodium_init() < 0)
		errx(1, "sodium_init");
	cap = duration > 0 ? (long)(duration * 200000) / nclients + 1024 :
	    nops;
	if ((cl = calloc((size_t)nclients, sizeof(*cl))) == NULL)
		err(1, "calloc");
	for (i = 0; i < nclients; i++) {
		cl[i].id = (int)i;
		snprintf(cl[i].name, sizeof(cl[i].name), "u%ld", i % 64);
		bench_seed(cl[i].name, seed);
		crypto_sign_seed_keypair(pk, cl[i].sk, seed);
		cl[i].lat_a = calloc((size_t)cap, sizeof(double));
		cl[i].lat_b = calloc((size_t)cap, sizeof(double));
		if (cl[i].lat_a == NULL || cl[i].lat_b == NULL)
			err(1, "calloc");
		if (mode == M_HEALTHZ)
			continue;
		cl[i].pre = calloc((size_t)nops, sizeof(char *));
		cl[i].prelen = calloc((size_t)nops, sizeof(size_t));
		if (cl[i].pre == NULL || cl[i].prelen == NULL)
			err(1, "calloc");
		for (j = 0; j < nops; j++) {
			randombytes_buf(rnd, sizeof(rnd));
			kp_hex(rnd, sizeof(rnd), rid);
			snprintf(body, sizeof(body), "{\"target_username\":"
			    "\"%s\",\"group_id\":\"Z3JvdXA=\",\"request_id\":"
			    "\"%s\"}", owner, rid);
			cl[i].pre[j] = sign_req(&cl[i], "POST",
			    mode == M_CLAIM ? "/keypackages/claim" :
			    "/keypackages/reserve", body, &cl[i].prelen[j]);
		}
	}
	for (i = 0; i < nclients; i++) {
		cl[i].fd = dial();
		if (tls != NULL)
			dial_tls(&cl[i]);
	}
	t0 = now_s();
	run(cl);
	t1 = now_s();
	for (i = 0; i < nclients; i++) {
		total += cl[i].n;
		na += cl[i].na;
		nb += cl[i].nb;
		errors += cl[i].errors;
		keys += cl[i].keys;
	}
	all_a = calloc((size_t)na + 1, sizeof(double));
	all_b = calloc((size_t)nb + 1, sizeof(double));
	for (i = 0, na = nb = 0; i < nclients; i++) {
		memcpy(all_a + na, cl[i].lat_a, (size_t)cl[i].na *
		    sizeof(double));
		memcpy(all_b + nb, cl[i].lat_b, (size_t)cl[i].nb *
		    sizeof(double));
		na += cl[i].na;
		nb += cl[i].nb;
	}
	pct(all_a, na, &a50, &a99);
	pct(all_b, nb, &b50, &b99);
	printf("%s clients=%d ops=%ld errors=%ld seconds=%.2f ops/s=%.0f "
	    "req/s=%.0f", mode == M_HEALTHZ ? "healthz" : mode == M_RESERVE ?
	    "reserve" : mode == M_CLAIM ? "claim" : "reserve+spend",
	    nclients, total, errors, t1 - t0, total / (t1 - t0),
	    (na + nb) / (t1 - t0));
	if (mode == M_HEALTHZ)
		printf(" p50=%.3fms p99=%.3fms\n", a50, a99);
	else if (mode == M_RESERVE || mode == M_CLAIM)
		printf(" keys=%ld reserve_p50=%.3fms reserve_p99=%.3fms\n",
		    keys, a50, a99);
	else
		printf(" reserve_p50=%.3fms reserve_p99=%.3fms "
		    "spend_p50=%.3fms spend_p99=%.3fms\n", a50, a99, b50, b99);
	return errors > 0;
}
