/* SPDX-License-Identifier: ISC */
/*
 * store_pg_shared.c: what the PostgreSQL backend keeps besides keys,
 * which every instance on the database shares: the nonces of signed
 * requests, the rate-limit buckets (users and devices are
 * store_pg_dev.c's).  See store.h.
 *
 * A batch's nonces and takes go in one pipeline each, in the order of
 * their keys, so that two instances whose batches hold some of the same
 * rows (a replay sent to both, one caller reserving through both) wait
 * for each other in one order, and never deadlock.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "store_pg_db.h"
#include "store_rules.h"

/* nonce_args: the arguments (created, id) of a nonce's statement. */
static void
nonce_args(struct kps_pg_args *a, const char *keyid, const char *nonce,
    int64_t created)
{
	kps_pg_args_init(a);
	kps_pg_arg_i64(a, created);
	kps_pg_arg_i64(a, kps_nonce_id(keyid, nonce));
}

/* A pipeline of puts, at most. */
#define AT_ONCE	64

/* A put of a pipeline, to sort by its row's key. */
struct put {
	int64_t		 k1, k2;	/* nonce: created, id */
	const char	*k3, *k4;	/* bucket: a, b (k1 its kind) */
	size_t		 i;		/* its place in the caller's array */
};

static int
put_cmp(const void *x, const void *y)
{
	const struct put	*a = x, *b = y;
	int			 c;

	if (a->k1 != b->k1)
		return a->k1 < b->k1 ? -1 : 1;
	if (a->k2 != b->k2)
		return a->k2 < b->k2 ? -1 : 1;
	if (a->k3 != NULL && (c = strcmp(a->k3, b->k3)) != 0)
		return c;
	if (a->k4 != NULL && (c = strcmp(a->k4, b->k4)) != 0)
		return c;
	return a->i < b->i ? -1 : a->i > b->i;
}

int
kps_pg_nonce_add_many(struct kps_store *b, struct kps_nonce *v, size_t n)
{
	struct kps_pg		*s = (struct kps_pg *)b;
	struct kps_pg_call	 c[AT_ONCE];
	struct kps_pg_args	 a[AT_ONCE];
	struct put		 p[AT_ONCE];
	size_t			 i, j, m;

	for (i = 0; i < n; i += m) {
		m = n - i < AT_ONCE ? n - i : AT_ONCE;
		for (j = 0; j < m; j++) {
			p[j].k1 = v[i + j].created;
			p[j].k2 = kps_nonce_id(v[i + j].keyid, v[i + j].nonce);
			p[j].k3 = p[j].k4 = NULL;
			p[j].i = i + j;
		}
		qsort(p, m, sizeof(p[0]), put_cmp);
		for (j = 0; j < m; j++) {
			kps_pg_args_init(&a[j]);
			kps_pg_arg_i64(&a[j], p[j].k1);
			kps_pg_arg_i64(&a[j], p[j].k2);
			c[j] = (struct kps_pg_call){ PG_NONCE_ADD, &a[j],
			    NULL };
		}
		if (kps_pg_pipeline(s, c, m) != KP_OK)
			return KP_EDB;
		for (j = 0; j < m; j++) {
			v[p[j].i].rc = PQntuples(c[j].res) == 1 ? KP_OK :
			    KP_EEXIST;
			PQclear(c[j].res);
		}
	}
	return KP_OK;
}

int
kps_pg_nonce_add(struct kps_store *b, const char *keyid, const char *nonce,
    int64_t created)
{
	struct kps_nonce	v = { keyid, nonce, created, KP_OK };
	int			rc;

	if ((rc = kps_pg_nonce_add_many(b, &v, 1)) != KP_OK)
		return rc;
	return v.rc;
}

int
kps_pg_nonce_seen(struct kps_store *b, const char *keyid, const char *nonce,
    int64_t created)
{
	struct kps_pg		*s = (struct kps_pg *)b;
	struct kps_pg_args	 a;
	PGresult		*r;
	int			 rc;

	nonce_args(&a, keyid, nonce, created);
	if ((r = kps_pg_run(s, PG_NONCE_SEEN, &a)) == NULL)
		return KP_EDB;
	rc = PQntuples(r) > 0 ? KP_EEXIST : KP_OK;
	PQclear(r);
	return rc;
}

int
kps_pg_nonce_prune(struct kps_store *b, int64_t before, int max, uint64_t *n)
{
	return kps_pg_sweep((struct kps_pg *)b, PG_NONCE_PRUNE, before, max,
	    n);
}

int
kps_pg_rate_take(struct kps_store *b, struct kps_take *v, size_t n,
    int64_t now_ms)
{
	struct kps_pg		*s = (struct kps_pg *)b;
	struct kps_pg_call	 c[AT_ONCE];
	struct kps_pg_args	 a[AT_ONCE];
	struct put		 p[AT_ONCE];
	struct kps_take		*t;
	size_t			 i, j, m;
	int			 rc = KP_OK;

	for (i = 0; i < n && rc == KP_OK; i += m) {
		m = n - i < AT_ONCE ? n - i : AT_ONCE;
		for (j = 0; j < m; j++) {
			p[j].k1 = v[i + j].kind;
			p[j].k2 = 0;
			p[j].k3 = v[i + j].a;
			p[j].k4 = v[i + j].b;
			p[j].i = i + j;
		}
		qsort(p, m, sizeof(p[0]), put_cmp);
		for (j = 0; j < m; j++) {
			t = &v[p[j].i];
			kps_pg_args_init(&a[j]);
			kps_pg_arg_i32(&a[j], (int32_t)t->kind);
			kps_pg_arg_text(&a[j], t->a);
			kps_pg_arg_text(&a[j], t->b);
			kps_pg_arg_i64(&a[j], now_ms);
			kps_pg_arg_f64(&a[j], t->burst);
			kps_pg_arg_f64(&a[j], t->per_min / 60000.0);
			c[j] = (struct kps_pg_call){ PG_RATE_TAKE, &a[j],
			    NULL };
		}
		if (kps_pg_pipeline(s, c, m) != KP_OK)
			return KP_EDB;
		for (j = 0; j < m; j++) {
			t = &v[p[j].i];
			t->wait = 0;
			if (PQntuples(c[j].res) != 1) {
				snprintf(s->err, sizeof(s->err), "rate: no "
				    "bucket");
				rc = KP_EDB;
			} else if (!kps_pg_int(c[j].res, 0, 1))
				t->wait = kps_rate_wait(kps_pg_f64(c[j].res,
				    0, 0), t->per_min);
			PQclear(c[j].res);
		}
	}
	return rc;
}

int
kps_pg_rate_prune(struct kps_store *b, int64_t now_ms, int max, uint64_t *n)
{
	return kps_pg_sweep((struct kps_pg *)b, PG_RATE_PRUNE, now_ms, max,
	    n);
}
