/* SPDX-License-Identifier: ISC */
/*
 * metrics.c: counters for GET /metrics, in the Prometheus text format:
 * requests by route and code, keys by state (counted at scrape time),
 * reservations expired, pool-exhausted answers, last-resort keys served.
 */

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kps.h"

static const int codes[] = {
	200, 201, 400, 401, 403, 404, 405, 409, 410, 413, 429, 500, 503,
};
#define NCODES	(sizeof(codes) / sizeof(codes[0]))

static const char *const routes[KPS_NROUTES] = {
	"users", "upload", "reserve", "spend", "release", "status", "mine",
	"retire", "healthz", "metrics", "other",
};

static _Atomic uint64_t	requests[KPS_NROUTES][NCODES + 1];

static const struct {
	const char	*name;
	const char	*help;
} named[] = {
	{ "reservations_expired", "Reservations whose TTL passed" },
	{ "pool_exhausted", "Reserve answers 409 pool_exhausted" },
	{ "last_resort_served", "Last-resort KeyPackages handed out" },
	{ "keys_cleaned_up", "Expired keys deleted" },
	{ "keys_uploaded", "KeyPackages accepted by upload" },
	{ "writer_batches", "Transactions of the writer (group commits)" },
	{ "writer_jobs", "Writes committed by the writer" },
	{ "writer_rollbacks", "Writer transactions SQLite rolled back "
	    "on its own" },
};
#define NNAMED	(sizeof(named) / sizeof(named[0]))
static _Atomic uint64_t	counters[NNAMED];

const char *
kps_route_name(int route)
{
	if (route < 0 || route >= KPS_NROUTES)
		return "other";
	return routes[route];
}

void
kps_metric_request(int route, int status)
{
	size_t	i;

	if (route < 0 || route >= KPS_NROUTES)
		route = KPS_R_OTHER;
	for (i = 0; i < NCODES; i++)
		if (codes[i] == status)
			break;
	atomic_fetch_add_explicit(&requests[route][i], 1,
	    memory_order_relaxed);
}

void
kps_metric_add(const char *name, uint64_t n)
{
	size_t	i;

	for (i = 0; i < NNAMED; i++)
		if (strcmp(named[i].name, name) == 0)
			atomic_fetch_add_explicit(&counters[i], n,
			    memory_order_relaxed);
}

struct buf {
	char	*p;
	size_t	 len, cap;
	int	 bad;
};

static void __attribute__((format(printf, 2, 3)))
put(struct buf *b, const char *fmt, ...)
{
	va_list	 ap;
	char	*np;
	int	 n;

	if (b->bad)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->bad = 1;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		if ((np = realloc(b->p, b->cap * 2 + (size_t)n)) == NULL) {
			b->bad = 1;
			return;
		}
		b->p = np;
		b->cap = b->cap * 2 + (size_t)n;
	}
}

char *
kps_metrics_text(void)
{
	struct buf		 b = { 0 };
	struct kps_counts	 c;
	struct kps_store	*rd;
	uint64_t		 v;
	size_t			 r, i;

	if ((b.p = malloc(b.cap = 8192)) == NULL)
		return NULL;
	b.p[0] = '\0';
	put(&b, "# HELP kpool_requests_total HTTP requests by route and "
	    "status code.\n# TYPE kpool_requests_total counter\n");
	for (r = 0; r < KPS_NROUTES; r++)
		for (i = 0; i <= NCODES; i++) {
			v = atomic_load_explicit(&requests[r][i],
			    memory_order_relaxed);
			if (v == 0)
				continue;
			if (i < NCODES)
				put(&b, "kpool_requests_total{route=\"%s\","
				    "code=\"%d\"} %llu\n", routes[r], codes[i],
				    (unsigned long long)v);
			else
				put(&b, "kpool_requests_total{route=\"%s\","
				    "code=\"other\"} %llu\n", routes[r],
				    (unsigned long long)v);
		}
	for (i = 0; i < NNAMED; i++) {
		v = atomic_load_explicit(&counters[i], memory_order_relaxed);
		put(&b, "# HELP kpool_%s_total %s.\n"
		    "# TYPE kpool_%s_total counter\nkpool_%s_total %llu\n",
		    named[i].name, named[i].help, named[i].name,
		    named[i].name, (unsigned long long)v);
	}
	put(&b, "# HELP kpool_writes_waiting Writes queued to the writer "
	    "or in its transaction.\n# TYPE kpool_writes_waiting gauge\n"
	    "kpool_writes_waiting %u\n", kps_writer_waiting());
	put(&b, "# HELP kpool_requests_in_flight HTTP requests begun and "
	    "not done, this one included.\n"
	    "# TYPE kpool_requests_in_flight gauge\n"
	    "kpool_requests_in_flight %d\n", kps_http_inflight());
	if ((rd = kps_reader()) != NULL &&
	    kps_count_by_status(rd, NULL, kps_now(), &c) == KP_OK) {
		put(&b, "# HELP kpool_keys KeyPackages stored, by state.\n"
		    "# TYPE kpool_keys gauge\n");
		for (i = KP_STATE_AVAILABLE; i < KP_NSTATES; i++)
			put(&b, "kpool_keys{state=\"%s\"} %llu\n",
			    kp_state_name((int)i), (unsigned long long)c.n[i]);
		put(&b, "# HELP kpool_last_resort_keys Last-resort "
		    "KeyPackages stored.\n# TYPE kpool_last_resort_keys gauge\n"
		    "kpool_last_resort_keys %llu\n",
		    (unsigned long long)c.last_resort);
	}
	if (b.bad) {
		free(b.p);
		return NULL;
	}
	return b.p;
}
