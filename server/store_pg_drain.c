/* SPDX-License-Identifier: ISC */
/*
 * store_pg_drain.c: the drain budget's tables on PostgreSQL (schema
 * version 4): contacts, and the grants of reservations of other users'
 * keys, which every instance on the database shares; see store.h.  The
 * SQLite twins are in store_sqlite_drain.c.
 *
 * Instances check a target's budget and grant from it in one
 * transaction under the target's lock (kps_pg_budget_lock), so that
 * strangers racing through several instances cannot overrun it.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_db.h"
#include "store_rules.h"

static int
key_cmp(const void *x, const void *y)
{
	int64_t	a = *(const int64_t *)x, b = *(const int64_t *)y;

	return a < b ? -1 : a > b;
}

int
kps_pg_budget_lock(struct kps_store *b, const char *const *targets,
    size_t n)
{
	struct kps_pg		*s = (struct kps_pg *)b;
	struct kps_pg_args	 a;
	int64_t			*k;
	size_t			 i;
	int			 rc = KP_OK;

	if ((k = calloc(n, sizeof(*k))) == NULL)
		return KP_ENOMEM;
	for (i = 0; i < n; i++)
		k[i] = kps_nonce_id("kpool-budget", targets[i]);
	/* one order for every instance: they never wait in a circle */
	qsort(k, n, sizeof(*k), key_cmp);
	for (i = 0; i < n && rc == KP_OK; i++) {
		if (i > 0 && k[i] == k[i - 1])
			continue;
		kps_pg_args_init(&a);
		kps_pg_arg_i64(&a, k[i]);
		rc = kps_pg_done(s, PG_DR_LOCK, &a, NULL);
	}
	free(k);
	return rc;
}

/* facts_args: the arguments of PG_DR_FACTS for q into a. */
static void
facts_args(const struct kps_budget_ask *q, struct kps_pg_args *a)
{
	kps_pg_args_init(a);
	kps_pg_arg_text(a, q->caller);
	kps_pg_arg_text(a, q->target);
	kps_pg_arg_text(a, q->device);
	kps_pg_arg_i32(a, q->suite);
	kps_pg_arg_i64(a, q->now);
	kps_pg_arg_i64(a, q->since);
	kps_pg_arg_text(a, q->principal);
	kps_pg_arg_text(a, q->request_id);
	kps_pg_arg_i64(a, q->available_limit > INT64_MAX ? INT64_MAX :
	    (int64_t)q->available_limit);
}

/* facts_read: the facts of PG_DR_FACTS's result r into f. */
static int
facts_read(struct kps_pg *s, PGresult *r, struct kps_budget_facts *f)
{
	if (PQntuples(r) != 1)
		return kps_pg_err(s, "budget");
	f->contact = kps_pg_int(r, 0, 0) != 0;
	f->held = (uint64_t)kps_pg_int(r, 0, 1);
	f->held_first = kps_pg_int(r, 0, 2);
	f->available = (uint64_t)kps_pg_int(r, 0, 3);
	f->replay = kps_pg_int(r, 0, 4) != 0;
	return KP_OK;
}

int
kps_pg_budget_facts(struct kps_store *b, const struct kps_budget_ask *q,
    struct kps_budget_facts *f)
{
	struct kps_pg		*s = (struct kps_pg *)b;
	struct kps_pg_args	 a;
	PGresult		*r;
	int			 rc;

	facts_args(q, &a);
	if ((r = kps_pg_run(s, PG_DR_FACTS, &a)) == NULL)
		return KP_EDB;
	rc = facts_read(s, r, f);
	PQclear(r);
	return rc;
}

int
kps_pg_budget_read(struct kps_store *b, const struct kps_budget_ask *q,
    struct kps_budget_facts *f, size_t n, struct kps_budget_tq *t, size_t m)
{
	struct kps_pg		*s = (struct kps_pg *)b;
	struct kps_pg_call	*c;
	struct kps_pg_args	*a;
	size_t			 i;
	int			 rc = KP_ENOMEM;

	c = calloc(n + m, sizeof(*c));
	a = calloc(n + m, sizeof(*a));
	if (c == NULL || a == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		facts_args(&q[i], &a[i]);
		c[i] = (struct kps_pg_call){ PG_DR_FACTS, &a[i], NULL };
	}
	for (i = 0; i < m; i++) {
		kps_pg_args_init(&a[n + i]);
		kps_pg_arg_text(&a[n + i], t[i].target);
		kps_pg_arg_i64(&a[n + i], t[i].since);
		kps_pg_arg_i64(&a[n + i], t[i].now);
		kps_pg_arg_i64(&a[n + i], t[i].share);
		kps_pg_arg_i64(&a[n + i], (int64_t)t[i].slack);
		c[n + i] = (struct kps_pg_call){ PG_DR_TARGET, &a[n + i],
		    NULL };
	}
	if ((rc = kps_pg_pipeline(s, c, n + m)) != KP_OK)
		goto out;
	for (i = 0; i < n; i++)
		if (rc == KP_OK)
			rc = facts_read(s, c[i].res, &f[i]);
	for (i = 0; i < m && rc == KP_OK; i++) {
		if (PQntuples(c[n + i].res) != 1) {
			rc = kps_pg_err(s, "budget");
			break;
		}
		t[i].strangers = (uint64_t)kps_pg_int(c[n + i].res, 0, 0);
		t[i].oldest = kps_pg_int(c[n + i].res, 0, 1);
		t[i].limit = (uint64_t)kps_pg_int(c[n + i].res, 0, 2);
		t[i].pool = (uint64_t)kps_pg_int(c[n + i].res, 0, 3);
	}
	for (i = 0; i < n + m; i++)
		PQclear(c[i].res);
out:
	free(a);
	free(c);
	return rc;
}

/* since_count: statement i (count(*), min(time) of rows of key after
 * since) into *n and *first. */
static int
since_count(struct kps_pg *s, enum kps_pg_stmt i, const char *key,
    int64_t since, uint64_t *n, int64_t *first)
{
	struct kps_pg_args	 a;
	PGresult		*r;

	kps_pg_args_init(&a);
	kps_pg_arg_text(&a, key);
	kps_pg_arg_i64(&a, since);
	if ((r = kps_pg_run(s, i, &a)) == NULL)
		return KP_EDB;
	if (PQntuples(r) == 1) {
		*n = (uint64_t)kps_pg_int(r, 0, 0);
		*first = kps_pg_int(r, 0, 1);
	}
	PQclear(r);
	return KP_OK;
}

int
kps_pg_budget_strangers(struct kps_store *b, const char *target,
    int64_t since, uint64_t *n, int64_t *first)
{
	return since_count((struct kps_pg *)b, PG_DR_STRANGERS, target, since,
	    n, first);
}

int
kps_pg_budget_pool(struct kps_store *b, const char *target, int64_t now,
    uint64_t limit, uint64_t *n)
{
	struct kps_pg		*s = (struct kps_pg *)b;
	struct kps_pg_args	 a;
	PGresult		*r;

	kps_pg_args_init(&a);
	kps_pg_arg_text(&a, target);
	kps_pg_arg_i64(&a, now);
	kps_pg_arg_i64(&a, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
	if ((r = kps_pg_run(s, PG_DR_POOL, &a)) == NULL)
		return KP_EDB;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return kps_pg_err(s, "budget");
	}
	*n = (uint64_t)kps_pg_int(r, 0, 0);
	PQclear(r);
	return KP_OK;
}

/* grant_args: the arguments of PG_DR_GRANT_ADD for g into a. */
static void
grant_args(const struct kps_grant *g, struct kps_pg_args *a)
{
	kps_pg_args_init(a);
	kps_pg_arg_text(a, g->caller);
	kps_pg_arg_text(a, g->target);
	kps_pg_arg_text(a, g->device);
	kps_pg_arg_bytea(a, g->ref, KP_REF_LEN);
	kps_pg_arg_bool(a, g->stranger);
	kps_pg_arg_i64(a, g->granted_at);
	kps_pg_arg_i64(a, g->expires_at);
}

int
kps_pg_grant_add(struct kps_store *b, const struct kps_grant *g)
{
	struct kps_pg_args	a;

	grant_args(g, &a);
	return kps_pg_done((struct kps_pg *)b, PG_DR_GRANT_ADD, &a, NULL);
}

int
kps_pg_grant_add_many(struct kps_store *b, const struct kps_grant *g,
    size_t n)
{
	struct kps_pg		*s = (struct kps_pg *)b;
	struct kps_pg_call	*c;
	struct kps_pg_args	*a;
	size_t			 i;
	int			 rc = KP_ENOMEM;

	c = calloc(n, sizeof(*c));
	a = calloc(n, sizeof(*a));
	if (c == NULL || a == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		grant_args(&g[i], &a[i]);
		c[i] = (struct kps_pg_call){ PG_DR_GRANT_ADD, &a[i], NULL };
	}
	if ((rc = kps_pg_pipeline(s, c, n)) != KP_OK)
		goto out;
	for (i = 0; i < n; i++)
		PQclear(c[i].res);
out:
	free(a);
	free(c);
	return rc;
}

int
kps_pg_grant_end(struct kps_store *b, const char *caller, const uint8_t *ref,
    int how, int64_t now)
{
	struct kps_pg_args	a;

	kps_pg_args_init(&a);
	kps_pg_arg_text(&a, caller);
	kps_pg_arg_bytea(&a, ref, KP_REF_LEN);
	kps_pg_arg_i32(&a, how);
	kps_pg_arg_i64(&a, now);
	return kps_pg_done((struct kps_pg *)b, PG_DR_GRANT_END, &a, NULL);
}

int
kps_pg_grant_prune(struct kps_store *b, int64_t before, int max, uint64_t *n)
{
	return kps_pg_sweep((struct kps_pg *)b, PG_DR_GRANT_PRUNE, before, max,
	    n);
}

int
kps_pg_contact_add(struct kps_store *b, const char *owner,
    const char *contact, enum kps_contact_kind kind, int64_t now)
{
	struct kps_pg		*s = (struct kps_pg *)b;
	struct kps_pg_args	 a;
	PGresult		*r;
	int			 full;

	if (kind == KPS_CONTACT_VOUCH) {
		/* a vouch more than the most is refused; one again is not */
		kps_pg_args_init(&a);
		kps_pg_arg_text(&a, owner);
		kps_pg_arg_text(&a, contact);
		if ((r = kps_pg_run(s, PG_DR_CONTACT_COUNT, &a)) == NULL)
			return KP_EDB;
		full = PQntuples(r) == 1 && kps_pg_int(r, 0, 0) >=
		    KPS_MAX_CONTACTS && kps_pg_int(r, 0, 1) == 0;
		PQclear(r);
		if (full)
			return KP_ETOOBIG;
	}
	kps_pg_args_init(&a);
	kps_pg_arg_text(&a, owner);
	kps_pg_arg_text(&a, contact);
	kps_pg_arg_i32(&a, kind);
	kps_pg_arg_i64(&a, now);
	return kps_pg_done(s, PG_DR_CONTACT_ADD, &a, NULL);
}

int
kps_pg_contact_remove(struct kps_store *b, const char *owner,
    const char *contact)
{
	struct kps_pg_args	a;
	uint64_t		n = 0;
	int			rc;

	kps_pg_args_init(&a);
	kps_pg_arg_text(&a, owner);
	kps_pg_arg_text(&a, contact);
	if ((rc = kps_pg_done((struct kps_pg *)b, PG_DR_CONTACT_DEL, &a,
	    &n)) != KP_OK)
		return rc;
	return n > 0 ? KP_OK : KP_ENOTFOUND;
}

int
kps_pg_contact_list(struct kps_store *b, const char *owner,
    char (*out)[KP_MAX_USERNAME + 1], size_t max, size_t *n)
{
	struct kps_pg_args	 a;
	PGresult		*r;
	int			 i;

	*n = 0;
	kps_pg_args_init(&a);
	kps_pg_arg_text(&a, owner);
	kps_pg_arg_i64(&a, (int64_t)max);
	if ((r = kps_pg_run((struct kps_pg *)b, PG_DR_CONTACT_LIST, &a)) ==
	    NULL)
		return KP_EDB;
	for (i = 0; i < PQntuples(r) && *n < max; i++)
		kps_pg_text(r, i, 0, out[(*n)++], KP_MAX_USERNAME + 1);
	PQclear(r);
	return KP_OK;
}

int
kps_pg_reg_facts(struct kps_store *b, const char *addr, int64_t since,
    uint64_t *n, int64_t *first)
{
	const char		*v[1] = { addr };
	int			 rc;

	/* an address's registrations, one instance at a time */
	if ((rc = kps_pg_budget_lock(b, v, 1)) != KP_OK)
		return rc;
	return since_count((struct kps_pg *)b, PG_DR_REG_FACTS, addr, since,
	    n, first);
}

int
kps_pg_reg_add(struct kps_store *b, const char *addr, int64_t now)
{
	struct kps_pg_args	a;

	kps_pg_args_init(&a);
	kps_pg_arg_text(&a, addr);
	kps_pg_arg_i64(&a, now);
	return kps_pg_done((struct kps_pg *)b, PG_DR_REG_ADD, &a, NULL);
}

int
kps_pg_reg_prune(struct kps_store *b, int64_t before, int max, uint64_t *n)
{
	return kps_pg_sweep((struct kps_pg *)b, PG_DR_REG_PRUNE, before, max,
	    n);
}

int
kps_pg_invite_add(struct kps_store *b, const uint8_t *hash, int uses,
    int64_t now)
{
	struct kps_pg_args	a;

	kps_pg_args_init(&a);
	kps_pg_arg_bytea(&a, hash, 32);
	kps_pg_arg_i32(&a, uses);
	kps_pg_arg_i64(&a, now);
	return kps_pg_done((struct kps_pg *)b, PG_DR_INVITE_ADD, &a, NULL);
}

int
kps_pg_invite_take(struct kps_store *b, const uint8_t *hash, int give_back)
{
	struct kps_pg_args	a;
	uint64_t		n = 0;
	int			rc;

	kps_pg_args_init(&a);
	kps_pg_arg_bytea(&a, hash, 32);
	if ((rc = kps_pg_done((struct kps_pg *)b, give_back ?
	    PG_DR_INVITE_BACK : PG_DR_INVITE_TAKE, &a, &n)) != KP_OK)
		return rc;
	return n > 0 ? KP_OK : KP_ENOTFOUND;
}
