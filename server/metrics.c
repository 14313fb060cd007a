/* SPDX-License-Identifier: ISC */
/*
 * metrics.c: GET /metrics, in the Prometheus text format: requests by
 * route and code, the counters and gauges that the other files report
 * (reservations expired, pool-exhausted answers, last-resort keys
 * served, the writer's work, requests in flight, ...), the refusals by
 * reason, and keys by state, counted at scrape time.
 */

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kps.h"

static const int codes[] = {
	200, 201, 400, 401, 403, 404, 405, 408, 409, 410, 413, 414, 429,
	431, 500, 503, 505,
};
#define NCODES	(sizeof(codes) / sizeof(codes[0]))

/* atomic, lock-free: per route, per code (the last: any other code) */
static _Atomic uint64_t	requests[KPS_MAX_ROUTES][NCODES + 1];

/* The counters (NAME_total) and gauges that the other files report. */
static const struct {
	const char	*name;
	const char	*help;
	int		 gauge;
} named[] = {
	{ "reservations_expired", "Reservations whose TTL passed", 0 },
	{ "pool_exhausted", "Reserve answers 409 pool_exhausted", 0 },
	{ "last_resort_served", "Last-resort KeyPackages handed out", 0 },
	{ "keys_cleaned_up", "Expired keys deleted", 0 },
	{ "keys_uploaded", "KeyPackages accepted by upload", 0 },
	{ "nonces_pruned", "Nonces of stale signatures forgotten", 0 },
	{ "writer_batches", "Transactions of the writer (group commits)", 0 },
	{ "writer_jobs", "Writes committed by the writer", 0 },
	{ "writer_rollbacks", "Writer transactions SQLite rolled back "
	    "on its own", 0 },
	{ "writes_waiting", "Writes queued to the writer or in its "
	    "transaction", 1 },
	{ "requests_in_flight", "HTTP requests begun and not done, this "
	    "one included", 1 },
	{ "connections_open", "Connections open (being read by the "
	    "accept front or served)", 1 },
	{ "connections_idle_closed", "Connections closed at the request "
	    "deadline with no request begun (idle)", 0 },
	{ "grants_pruned", "Grants of the drain budget forgotten past its "
	    "window", 0 },
};
#define NNAMED	(sizeof(named) / sizeof(named[0]))
static _Atomic int64_t	values[NNAMED];		/* atomic, lock-free */

/* The counters by reason (NAME_total{reason="..."}), every reason
 * listed, so that a scrape shows the zeros too. */
#define NREASONS	8
static const struct {
	const char	*name;
	const char	*help;
	const char	*reasons[NREASONS];	/* NULL-ended */
} families[] = {
	{ "auth_refused", "Signed requests refused (401), by reason",
	    { "malformed", "digest", "stale", "future", "unknown_key",
	    "signature", "replay", NULL } },
	{ "connections_refused", "Connections refused or closed by the "
	    "server's limits and checks, by reason",
	    { "per_address", "global", "deadline", "framing", "malformed",
	    NULL } },
	{ "reserve_refused", "Reserves, claims and registrations refused "
	    "by the drain limits, by reason",
	    { "budget_exhausted", "caller_cap", "contact_floor",
	    "rate_limited", "registration_rate", NULL } },
};
#define NFAMILIES	(sizeof(families) / sizeof(families[0]))
static _Atomic uint64_t	reasons[NFAMILIES][NREASONS];	/* lock-free */

void
kps_metric_request(int route, int status)
{
	size_t	i;

	if (route < 0 || route >= KPS_MAX_ROUTES)
		return;
	for (i = 0; i < NCODES; i++)
		if (codes[i] == status)
			break;
	atomic_fetch_add_explicit(&requests[route][i], 1,
	    memory_order_relaxed);
}

void
kps_metric_add(const char *name, int64_t n)
{
	size_t	i;

	for (i = 0; i < NNAMED; i++)
		if (strcmp(named[i].name, name) == 0)
			atomic_fetch_add_explicit(&values[i], n,
			    memory_order_relaxed);
}

void
kps_metric_reason(const char *family, const char *reason)
{
	size_t	f, i;

	for (f = 0; f < NFAMILIES; f++) {
		if (strcmp(families[f].name, family) != 0)
			continue;
		for (i = 0; families[f].reasons[i] != NULL; i++)
			if (strcmp(families[f].reasons[i], reason) == 0)
				atomic_fetch_add_explicit(&reasons[f][i], 1,
				    memory_order_relaxed);
	}
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
kps_metrics_text(const char *const *routes, size_t nroutes)
{
	struct buf		 b = { 0 };
	struct kps_counts	 c;
	struct kps_store	*rd;
	int64_t			 v;
	size_t			 r, i;

	if ((b.p = malloc(b.cap = 8192)) == NULL)
		return NULL;
	b.p[0] = '\0';
	put(&b, "# HELP kpool_requests_total HTTP requests by route and "
	    "status code.\n# TYPE kpool_requests_total counter\n");
	for (r = 0; r < nroutes && r < KPS_MAX_ROUTES; r++)
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
		v = atomic_load_explicit(&values[i], memory_order_relaxed);
		if (named[i].gauge)
			put(&b, "# HELP kpool_%s %s.\n# TYPE kpool_%s gauge\n"
			    "kpool_%s %lld\n", named[i].name, named[i].help,
			    named[i].name, named[i].name, (long long)v);
		else
			put(&b, "# HELP kpool_%s_total %s.\n"
			    "# TYPE kpool_%s_total counter\n"
			    "kpool_%s_total %llu\n", named[i].name,
			    named[i].help, named[i].name, named[i].name,
			    (unsigned long long)v);
	}
	for (r = 0; r < NFAMILIES; r++) {
		put(&b, "# HELP kpool_%s_total %s.\n# TYPE kpool_%s_total "
		    "counter\n", families[r].name, families[r].help,
		    families[r].name);
		for (i = 0; families[r].reasons[i] != NULL; i++)
			put(&b, "kpool_%s_total{reason=\"%s\"} %llu\n",
			    families[r].name, families[r].reasons[i],
			    (unsigned long long)atomic_load_explicit(
			    &reasons[r][i], memory_order_relaxed));
	}
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
