/* SPDX-License-Identifier: ISC */
/*
 * loadgen: load generator of kpool-server (bench/run-server.sh).  Each
 * client is a thread with one keep-alive HTTP/1.1 connection.  Signed
 * reserve requests are made (one signature and nonce each) before the
 * clock starts; a spend is signed when its reserve answers, since it
 * names the key the reserve returned.
 *
 *	loadgen -p PORT -c CLIENTS -m healthz|reserve|reserve-spend
 *	    [-n OPS_PER_CLIENT] [-d SECONDS] [-t OWNER]
 *
 * It prints one line: mode, clients, operations, seconds, ops/s and
 * the p50/p99 latency of each request kind in milliseconds.  Reservers
 * are u0..u63 with the seeds of bench/kpfill.c.
 */

#include <arpa/inet.h>
#include <err.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "kpool.h"
#include "httpsig.h"

enum { M_HEALTHZ, M_RESERVE, M_RESERVE_SPEND };

static int		 port, mode, nclients = 1;
static long		 nops = 1000;
static double		 duration;
static const char	*owner = "owner";
static volatile int	 go;

struct client {
	pthread_t	 thr;
	int		 id, fd;
	char		 name[16];
	uint8_t		 sk[64];
	char		**pre;		/* pre-signed requests */
	size_t		*prelen;
	long		 n;		/* operations done */
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
sendall(int fd, const char *p, size_t n)
{
	ssize_t	w;

	while (n > 0) {
		if ((w = write(fd, p, n)) <= 0)
			err(1, "write");
		p += w;
		n -= (size_t)w;
	}
}

/* roundtrip: send a request, read one reply into c->buf; its status. */
static int
roundtrip(struct client *c, const char *req, size_t len, char **body)
{
	size_t	have = 0, need = 0;
	ssize_t	r;
	char	*e, *cl;

	sendall(c->fd, req, len);
	for (;;) {
		if ((r = read(c->fd, c->buf + have, sizeof(c->buf) - 1 -
		    have)) <= 0)
			errx(1, "read: connection closed");
		have += (size_t)r;
		c->buf[have] = '\0';
		if ((e = strstr(c->buf, "\r\n\r\n")) == NULL)
			continue;
		if (need == 0) {
			if ((cl = strcasestr(c->buf, "Content-Length:")) ==
			    NULL || cl > e)
				errx(1, "no Content-Length");
			need = (size_t)(e + 4 - c->buf) +
			    strtoul(cl + 15, NULL, 10);
		}
		if (have >= need)
			break;
	}
	*body = e + 4;
	return atoi(c->buf + 9);
}

static int
cmpd(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void *
client_main(void *arg)
{
	struct client	*c = arg;
	char		*body, *ref, spend[256], *req;
	size_t		 len;
	double		 t0, t1, end = 0;
	long		 i;
	int		 st;

	c->fd = dial();
	while (!go)
		usleep(100);
	if (duration > 0)
		end = now_s() + duration;
	for (i = 0; duration > 0 || i < nops; i++) {
		if (duration > 0 && now_s() >= end)
			break;
		t0 = now_s();
		if (mode == M_HEALTHZ) {
			static const char h[] = "GET /healthz HTTP/1.1\r\n"
			    "Host: 127.0.0.1\r\n\r\n";

			st = roundtrip(c, h, sizeof(h) - 1, &body);
		} else
			st = roundtrip(c, c->pre[i], c->prelen[i], &body);
		t1 = now_s();
		if (st != 200) {
			c->errors++;
			if (c->errors < 3)
				warnx("%s: HTTP %d: %s", c->name, st, body);
			continue;
		}
		c->lat_a[c->na++] = t1 - t0;
		if (mode == M_RESERVE_SPEND) {
			if ((ref = strstr(body, "\"keypackage_ref\":\"")) ==
			    NULL)
				errx(1, "no ref in %s", body);
			snprintf(spend, sizeof(spend), "{\"keypackage_ref\":"
			    "\"%.64s\",\"group_id\":\"Z3JvdXA=\"}", ref + 18);
			req = sign_req(c, "POST", "/keypackages/spend", spend,
			    &len);
			t0 = now_s();
			st = roundtrip(c, req, len, &body);
			t1 = now_s();
			free(req);
			if (st != 200) {
				c->errors++;
				if (c->errors < 3)
					warnx("spend: HTTP %d: %s", st, body);
				continue;
			}
			c->lat_b[c->nb++] = t1 - t0;
		}
		c->n++;
	}
	close(c->fd);
	return NULL;
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
	int		 ch;

	while ((ch = getopt(argc, argv, "p:c:m:n:d:t:")) != -1) {
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
		default:
			errx(2, "usage: loadgen -p port -c clients -m mode "
			    "[-n ops] [-d seconds] [-t owner]");
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
			    "/keypackages/reserve", body, &cl[i].prelen[j]);
		}
	}
	for (i = 0; i < nclients; i++)
		if (pthread_create(&cl[i].thr, NULL, client_main, &cl[i]) != 0)
			errx(1, "pthread_create");
	usleep(100000);
	t0 = now_s();
	go = 1;
	for (i = 0; i < nclients; i++)
		pthread_join(cl[i].thr, NULL);
	t1 = now_s();
	for (i = 0; i < nclients; i++) {
		total += cl[i].n;
		na += cl[i].na;
		nb += cl[i].nb;
		errors += cl[i].errors;
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
	    "reserve" : "reserve+spend", nclients, total, errors, t1 - t0,
	    total / (t1 - t0), (na + nb) / (t1 - t0));
	if (mode == M_HEALTHZ)
		printf(" p50=%.3fms p99=%.3fms\n", a50, a99);
	else if (mode == M_RESERVE)
		printf(" reserve_p50=%.3fms reserve_p99=%.3fms\n", a50, a99);
	else
		printf(" reserve_p50=%.3fms reserve_p99=%.3fms "
		    "spend_p50=%.3fms spend_p99=%.3fms\n", a50, a99, b50, b99);
	return errors > 0;
}
