/* SPDX-License-Identifier: ISC */
/*
 * store_pg_shared.c: what the PostgreSQL backend keeps besides keys,
 * which every instance on the database shares: users, the nonces of
 * signed requests, the rate-limit buckets.  See store.h.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "kpool-httpsig.h"
#include "store_pg_db.h"
#include "store_rules.h"

int
kps_pg_user_get(struct kps_store *b, const char *name, uint8_t *pk)
{
	struct kps_pg		*s = (struct kps_pg *)b;
	struct kps_pg_args	 a;
	PGresult		*r;
	int			 rc = KP_ENOTFOUND;

	kps_pg_args_init(&a);
	kps_pg_arg_text(&a, name);
	if ((r = kps_pg_run(s, PG_USER_GET, &a)) == NULL)
		return KP_EDB;
	if (PQntuples(r) == 1 && PQgetlength(r, 0, 0) == 32) {
		memcpy(pk, PQgetvalue(r, 0, 0), 32);
		rc = KP_OK;
	}
	PQclear(r);
	return rc;
}

int
kps_pg_user_add(struct kps_store *b, const char *name, const uint8_t *pk,
    int64_t now)
{
	struct kps_pg		*s = (struct kps_pg *)b;
	struct kps_pg_args	 a;
	PGresult		*r;
	uint8_t			 have[32];
	int			 added, rc;

	kps_pg_args_init(&a);
	kps_pg_arg_text(&a, name);
	kps_pg_arg_bytea(&a, pk, 32);
	kps_pg_arg_i64(&a, now);
	if ((r = kps_pg_run(s, PG_USER_ADD, &a)) == NULL)
		return KP_EDB;
	added = PQntuples(r) == 1;
	PQclear(r);
	if (added)
		return KP_OK;
	if ((rc = kps_pg_user_get(b, name, have)) != KP_OK)
		return rc == KP_ENOTFOUND ? KP_EDB : rc;
	return sodium_memcmp(have, pk, 32) == 0 ? KP_OK : KP_EEXIST;
}

/* A pipeline of nonces: a prune, then NONCES_AT_ONCE puts at most. */
#define NONCES_AT_ONCE	64

int
kps_pg_nonce_put_many(struct kps_store *b, struct kps_nonce *v, size_t n,
    int64_t now)
{
	struct kps_pg		*s = (struct kps_pg *)b;
	struct kps_pg_call	 c[NONCES_AT_ONCE + 1];
	struct kps_pg_args	 a[NONCES_AT_ONCE + 1];
	size_t			 i, j, k, m, first;
	int			 prune;

	for (i = 0; i < n; i += m) {
		m = n - i < NONCES_AT_ONCE ? n - i : NONCES_AT_ONCE;
		k = 0;
		/* one prune a second, by one instance at a time */
		if ((prune = now != s->nonces_pruned)) {
			kps_pg_args_init(&a[k]);
			kps_pg_arg_i64(&a[k], now - KP_HTTPSIG_WINDOW);
			c[k] = (struct kps_pg_call){ PG_NONCE_PRUNE, &a[k],
			    NULL };
			k++;
		}
		first = k;
		for (j = 0; j < m; j++, k++) {
			kps_pg_args_init(&a[k]);
			kps_pg_arg_text(&a[k], v[i + j].keyid);
			kps_pg_arg_text(&a[k], v[i + j].nonce);
			kps_pg_arg_i64(&a[k], v[i + j].created);
			c[k] = (struct kps_pg_call){ PG_NONCE_PUT, &a[k],
			    NULL };
		}
		if (kps_pg_pipeline(s, c, k) != KP_OK)
			return KP_EDB;
		if (prune) {
			PQclear(c[0].res);
			s->nonces_pruned = now;
		}
		for (j = 0; j < m; j++) {
			v[i + j].rc = PQntuples(c[first + j].res) == 1 ?
			    KP_OK : KP_EEXIST;
			PQclear(c[first + j].res);
		}
	}
	return KP_OK;
}

int
kps_pg_nonce_put(struct kps_store *b, const char *keyid, const char *nonce,
    int64_t created, int64_t now)
{
	struct kps_nonce	v = { keyid, nonce, created, KP_OK };
	int			rc;

	if ((rc = kps_pg_nonce_put_many(b, &v, 1, now)) != KP_OK)
		return rc;
	return v.rc;
}

int
kps_pg_rate_take(struct kps_store *b, const char *caller, const char *target,
    int64_t now_ms, int *wait)
{
	struct kps_pg		*s = (struct kps_pg *)b;
	struct kps_pg_args	 a;
	PGresult		*r;
	double			 per_ms = s->conf.rate_per_min / 60000.0;
	int			 rc = KP_EDB;

	*wait = 0;
	if (s->conf.rate_per_min <= 0)
		return KP_OK;
	if (now_ms / 1000 != s->rates_pruned / 1000) {
		kps_pg_args_init(&a);
		kps_pg_arg_i64(&a, now_ms -
		    (int64_t)(s->conf.rate_burst / per_ms) - 1);
		if (kps_pg_done(s, PG_RATE_PRUNE, &a, NULL) != KP_OK)
			return KP_EDB;
		s->rates_pruned = now_ms;
	}
	kps_pg_args_init(&a);
	kps_pg_arg_text(&a, caller);
	kps_pg_arg_text(&a, target);
	kps_pg_arg_i64(&a, now_ms);
	kps_pg_arg_f64(&a, s->conf.rate_burst);
	kps_pg_arg_f64(&a, per_ms);
	if ((r = kps_pg_run(s, PG_RATE_TAKE, &a)) == NULL)
		return KP_EDB;
	if (PQntuples(r) == 1) {
		if (!kps_pg_int(r, 0, 1))
			*wait = kps_rate_wait(kps_pg_f64(r, 0, 0),
			    s->conf.rate_per_min);
		rc = KP_OK;
	} else
		snprintf(s->err, sizeof(s->err), "rate: no bucket");
	PQclear(r);
	return rc;
}
