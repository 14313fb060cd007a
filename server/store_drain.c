/* SPDX-License-Identifier: ISC */
/*
 * store_drain.c: the drain budget (docs/security.md, "Draining"), built
 * on the store's operations like kps_claim(): whether a reserve of
 * another user's keys may go ahead (the target's budget for strangers,
 * the floor kept for its contacts, the caller's cap), the log of what
 * was granted, and the contacts a spend links.  See store.h.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

int
kps_budget_lock(struct kps_store *s, const char *const *targets, size_t n)
{
	if (n == 0 || s->ops->budget_lock == NULL)
		return KP_OK;
	return s->ops->budget_lock(s, targets, n);
}

int
kps_budget_strangers(struct kps_store *s, const char *target, int64_t since,
    uint64_t *n, int64_t *first)
{
	*n = 0;
	*first = 0;
	return s->ops->budget_strangers(s, target, since, n, first);
}

int
kps_budget_pool(struct kps_store *s, const char *target, int64_t now,
    uint64_t limit, uint64_t *n)
{
	*n = 0;
	return s->ops->budget_pool(s, target, now, limit, n);
}

uint64_t
kps_budget_limit(uint64_t strangers, uint64_t slack, int share)
{
	return (strangers + slack + 1) * 100 / (uint64_t)share + 1;
}

int
kps_budget_read(struct kps_store *s, const struct kps_budget_ask *a,
    struct kps_budget_facts *f, size_t n, struct kps_budget_tq *t, size_t m)
{
	size_t	i;
	int	rc;

	memset(f, 0, n * sizeof(*f));
	if (n + m == 0)
		return KP_OK;
	if (s->ops->budget_read != NULL)
		return s->ops->budget_read(s, a, f, n, t, m);
	for (i = 0; i < n; i++)
		if ((rc = s->ops->budget_facts(s, &a[i], &f[i])) != KP_OK)
			return rc;
	for (i = 0; i < m; i++) {
		if ((rc = kps_budget_strangers(s, t[i].target, t[i].since,
		    &t[i].strangers, &t[i].oldest)) != KP_OK)
			return rc;
		t[i].limit = kps_budget_limit(t[i].strangers, t[i].slack,
		    t[i].share);
		if ((rc = kps_budget_pool(s, t[i].target, t[i].now,
		    t[i].limit, &t[i].pool)) != KP_OK)
			return rc;
	}
	return KP_OK;
}

int
kps_grant_add_many(struct kps_store *s, const struct kps_grant *g, size_t n)
{
	size_t	i;
	int	rc;

	if (n == 0)
		return KP_OK;
	if (s->ops->grant_add_many != NULL)
		return s->ops->grant_add_many(s, g, n);
	for (i = 0; i < n; i++)
		if ((rc = s->ops->grant_add(s, &g[i])) != KP_OK)
			return rc;
	return KP_OK;
}

/* mark, unmark: the calls between them are one op (unmark's rc says
 * whether it stands). */
static int
mark(struct kps_store *s)
{
	return s->ops->mark != NULL ? s->ops->mark(s) : KP_OK;
}

static int
unmark(struct kps_store *s, int rc)
{
	return s->ops->unmark != NULL ? s->ops->unmark(s, rc) : rc;
}

int
kps_grant_add(struct kps_store *s, const struct kps_grant *g)
{
	return s->ops->grant_add(s, g);
}

int
kps_grant_end(struct kps_store *s, const char *caller,
    const uint8_t ref[KP_REF_LEN], int how, int64_t now)
{
	return s->ops->grant_end(s, caller, ref, how, now);
}

int
kps_grant_prune(struct kps_store *s, int64_t before, int max, uint64_t *n)
{
	return s->ops->grant_prune(s, before, max, n);
}

int
kps_contact_add(struct kps_store *s, const char *owner, const char *contact,
    enum kps_contact_kind kind, int64_t now)
{
	return s->ops->contact_add(s, owner, contact, kind, now);
}

int
kps_contact_remove(struct kps_store *s, const char *owner,
    const char *contact)
{
	return s->ops->contact_remove(s, owner, contact);
}

int
kps_contact_list(struct kps_store *s, const char *owner,
    char (*out)[KP_MAX_USERNAME + 1], size_t max, size_t *n)
{
	*n = 0;
	return s->ops->contact_list(s, owner, out, max, n);
}

int
kps_reg_facts(struct kps_store *s, const char *addr, int64_t since,
    uint64_t *n, int64_t *first)
{
	*n = 0;
	*first = 0;
	return s->ops->reg_facts(s, addr, since, n, first);
}

int
kps_reg_add(struct kps_store *s, const char *addr, int64_t now)
{
	return s->ops->reg_add(s, addr, now);
}

int
kps_reg_prune(struct kps_store *s, int64_t before, int max, uint64_t *n)
{
	return s->ops->reg_prune(s, before, max, n);
}

int
kps_invite_add(struct kps_store *s, const uint8_t hash[32], int uses,
    int64_t now)
{
	return s->ops->invite_add(s, hash, uses, now);
}

int
kps_invite_take(struct kps_store *s, const uint8_t hash[32], int give_back)
{
	return s->ops->invite_take(s, hash, give_back);
}

/* left: the seconds until `at` leaves a window of w at now, >= 1. */
static int
left(int64_t at, int64_t w, int64_t now)
{
	int64_t	d = at + w - now;

	return d < 1 ? 1 : d > 86400 ? 86400 : (int)d;
}

/* The keys a target's pool is counted up to beyond what admits one more
 * stranger: so that a run of reserves counts it once. */
#define POOL_SLACK	KPS_MEMO_MAX

/* admits: 1 when a pool of pool keys lets a stranger in beside n. */
static int
admits(uint64_t pool, uint64_t n, int share)
{
	uint64_t	limit = pool * (uint64_t)share / 100;

	return n < (limit < 1 ? 1 : limit);
}

/*
 * target_facts: what the share decision needs of target (folded) at
 * now, from b's memo when it knows enough, else read
 * (and kept in the memo when there is room), into *t.  The pool is
 * counted only up to where it admits POOL_SLACK more strangers than
 * there are, and counted again when that is not enough.
 */
static int
target_facts(struct kps_store *s, const struct kps_budget *b,
    const char *target, int64_t now, struct kps_budget_target **t,
    struct kps_budget_target *tmp)
{
	struct kps_budget_memo	*m = b->memo;
	size_t			 i;
	int			 rc;

	*t = NULL;
	for (i = 0; m != NULL && i < m->n; i++)
		if (strcmp(m->t[i].target, target) == 0) {
			*t = &m->t[i];
			break;
		}
	if (*t != NULL && ((*t)->pool < (*t)->limit ||
	    admits((*t)->pool, (*t)->strangers, b->share)))
		return KP_OK;	/* exact, or it admits one more anyway */
	if (*t == NULL) {
		*t = m != NULL && m->n < KPS_MEMO_MAX ? &m->t[m->n++] : tmp;
		memset(*t, 0, sizeof(**t));
		snprintf((*t)->target, sizeof((*t)->target), "%s", target);
		if ((rc = kps_budget_strangers(s, target, now - b->window,
		    &(*t)->strangers, &(*t)->oldest)) != KP_OK)
			goto fail;
	}
	(*t)->limit = kps_budget_limit((*t)->strangers, POOL_SLACK, b->share);
	if ((rc = kps_budget_pool(s, target, now, (*t)->limit,
	    &(*t)->pool)) == KP_OK)
		return KP_OK;
fail:
	if (*t != tmp)		/* forgotten: the next asks again */
		**t = m->t[--m->n];
	return rc;
}

/* One reserve of a run under the budget (kps_reserve_budget_many). */
struct one {
	struct kps_reserve	 r;		/* last_resort_only decided */
	char			 caller[KP_MAX_USERNAME + 1];	/* folded */
	char			 target[KP_MAX_USERNAME + 1];	/* folded */
	int			 budgeted;	/* 0: one's own keys, a named
						   key, a replay */
	struct kps_budget_facts	 f;
	uint64_t		 available;	/* f.available as read */
	int			 admitted;	/* goes to kps_reserve */
	int			 rc, wait;	/* when not admitted */
};

/* known: 1 when target's budget is in memo m or asked for in t[0..n). */
static int
known(const struct kps_budget_memo *m, const struct kps_budget_tq *t,
    size_t n, const char *target)
{
	size_t	i;

	for (i = 0; i < m->n; i++)
		if (strcmp(m->t[i].target, target) == 0)
			return 1;
	for (i = 0; i < n; i++)
		if (strcmp(t[i].target, target) == 0)
			return 1;
	return 0;
}

/*
 * decide: whether reserve x[i] of a run goes ahead under the budget b,
 * with the facts read for it before the run and what x[0..i-1] were
 * admitted to take meanwhile: a grant each to its caller, a regular
 * key each of its target unless only a last-resort one (counted as if
 * of x[i]'s device and suite: the floor errs on the side it keeps).
 * A stranger admitted counts in its target's budget at once (an
 * admitted reserve that then finds no key only makes the run stricter).
 */
static int
decide(struct kps_store *s, const struct kps_budget *b, struct one *x,
    size_t i, struct kps_budget_target *tmp)
{
	struct one			*o = &x[i];
	struct kps_budget_target	*t = NULL;
	uint64_t			 held = o->f.held, taken = 0;
	size_t				 k;
	int				 rc;

	if (!o->budgeted) {
		o->admitted = 1;
		return KP_OK;
	}
	for (k = 0; k < i; k++) {
		if (!x[k].admitted)
			continue;
		held += x[k].budgeted && strcmp(x[k].caller, o->caller) == 0;
		taken += !x[k].r.last_resort_only &&
		    strcmp(x[k].target, o->target) == 0;
	}
	if (b->cap > 0 && held >= (uint64_t)b->cap) {
		o->rc = KPS_ECAP;
		o->wait = left(o->f.held_first != 0 ? o->f.held_first :
		    o->r.now, b->window, o->r.now);
		return KP_OK;
	}
	if (!o->f.contact && b->share > 0) {
		if ((rc = target_facts(s, b, o->target, o->r.now, &t,
		    tmp)) != KP_OK)
			return rc;
		if (!admits(t->pool, t->strangers, b->share)) {
			o->rc = KPS_EBUDGET;
			o->wait = left(t->oldest, b->window, o->r.now);
			return KP_OK;
		}
		if (t->strangers++ == 0)
			t->oldest = o->r.now;
	}
	o->f.available = o->f.available > taken ? o->f.available - taken : 0;
	if (!o->f.contact && b->floor > 0 &&
	    o->f.available < (uint64_t)b->floor + 1)
		o->r.last_resort_only = 1;
	o->admitted = 1;
	return KP_OK;
}

int
kps_reserve_budget_many(struct kps_store *s,
    const struct kps_reserve *const *r, const struct kps_budget *b,
    struct kps_reservation **out, int *rcs, int *wait, size_t n)
{
	struct one			*x = NULL;
	struct kps_budget_ask		*a = NULL;
	struct kps_budget_facts		*f = NULL;
	const struct kps_reserve	**rv = NULL;
	struct kps_reservation		**ov = NULL;
	struct kps_grant		*g = NULL;
	struct kps_budget_target	 tmp, *t;
	struct kps_budget_tq		*tq = NULL;
	struct kps_budget_memo		 memo;
	struct kps_budget		 run = *b;
	size_t				 i, k, na = 0, nr = 0, ng = 0, nt = 0;
	int				*rc = NULL, e = KP_ENOMEM;
	int				 off = b->share == 0 &&
					    b->floor == 0 && b->cap == 0;

	if (n == 0)
		return KP_OK;
	if (run.memo == NULL) {
		/* the run's own: decide() counts in it */
		memo.n = 0;
		run.memo = &memo;
	}
	b = &run;
	if ((x = calloc(n, sizeof(*x))) == NULL ||
	    (a = calloc(n, sizeof(*a))) == NULL ||
	    (f = calloc(n, sizeof(*f))) == NULL ||
	    (rv = calloc(n, sizeof(*rv))) == NULL ||
	    (ov = calloc(n, sizeof(*ov))) == NULL ||
	    (g = calloc(n, sizeof(*g))) == NULL ||
	    (tq = calloc(n, sizeof(*tq))) == NULL ||
	    (rc = calloc(n, sizeof(*rc))) == NULL)
		goto out;
	/* the callers' facts, at once */
	for (i = 0; i < n; i++) {
		x[i].r = *r[i];
		memset(out[i], 0, sizeof(*out[i]));
		kps_principal_user(x[i].caller, r[i]->caller);
		kps_principal_user(x[i].target, r[i]->target);
		/* one's own keys, and a key named (its owner's only) */
		x[i].budgeted = !off && r[i]->ref == NULL &&
		    strcmp(x[i].caller, x[i].target) != 0;
		if (!x[i].budgeted)
			continue;
		a[na].caller = x[i].caller;
		a[na].target = x[i].target;
		a[na].device = r[i]->device;
		a[na].suite = r[i]->suite;
		a[na].now = r[i]->now;
		a[na].since = r[i]->now - b->window;
		a[na].principal = r[i]->caller;
		a[na].request_id = r[i]->request_id;
		/* enough to subtract what the run takes before it */
		a[na++].available_limit = b->floor > 0 ?
		    (uint64_t)b->floor + 1 + n : 0;
	}
	/* and the targets' budgets the run does not know yet */
	for (i = 0; i < n && b->share > 0; i++) {
		if (!x[i].budgeted || known(b->memo, tq, nt, x[i].target))
			continue;
		tq[nt].target = x[i].target;
		tq[nt].now = r[i]->now;
		tq[nt].since = r[i]->now - b->window;
		tq[nt].share = b->share;
		tq[nt++].slack = POOL_SLACK;
	}
	if ((e = kps_budget_read(s, a, f, na, tq, nt)) != KP_OK)
		goto out;
	for (i = 0; i < nt && b->memo->n < KPS_MEMO_MAX; i++) {
		t = &b->memo->t[b->memo->n++];
		snprintf(t->target, sizeof(t->target), "%s", tq[i].target);
		t->strangers = tq[i].strangers;
		t->oldest = tq[i].oldest;
		t->pool = tq[i].pool;
		t->limit = tq[i].limit;
	}
	for (i = k = 0; i < n; i++)
		if (x[i].budgeted) {
			x[i].f = f[k++];
			x[i].available = x[i].f.available;
			/* a retry of a reserve granted already: the same */
			x[i].budgeted = !x[i].f.replay;
		}
	for (i = 0; i < n; i++)
		if ((e = decide(s, b, x, i, &tmp)) != KP_OK)
			goto out;
	/* the reserves admitted, at once */
	for (i = 0; i < n; i++)
		if (x[i].admitted) {
			rv[nr] = &x[i].r;
			ov[nr++] = out[i];
		}
	if ((e = kps_reserve_many(s, rv, ov, rc, nr)) != KP_OK)
		goto out;
	for (i = k = 0; i < n; i++) {
		wait[i] = 0;
		if (!x[i].admitted) {
			rcs[i] = x[i].rc;
			wait[i] = x[i].wait;
			continue;
		}
		rcs[i] = rc[k++];
		if (rcs[i] == KP_EEXHAUSTED && x[i].budgeted &&
		    x[i].r.last_resort_only && x[i].available > 0)
			rcs[i] = KPS_EFLOOR;
		if (rcs[i] != KP_OK || !x[i].budgeted || out[i]->replayed)
			continue;
		g[ng].caller = x[i].caller;
		g[ng].target = x[i].target;
		g[ng].device = out[i]->device;
		g[ng].ref = out[i]->ref;
		g[ng].stranger = !x[i].f.contact;
		g[ng].granted_at = x[i].r.now;
		g[ng++].expires_at = out[i]->expires_at;
	}
	/* their grants, at once: if they fail, the caller undoes the
	 * batch (the reserves stand in it) */
	if ((e = kps_grant_add_many(s, g, ng)) != KP_OK)
		for (i = 0; i < n; i++)
			kps_reservation_clear(out[i]);
out:
	free(rc);
	free(tq);
	free(g);
	free(ov);
	free(rv);
	free(f);
	free(a);
	free(x);
	return e;
}

int
kps_reserve_budget(struct kps_store *s, const struct kps_reserve *r,
    const struct kps_budget *b, struct kps_reservation *out, int *wait)
{
	const struct kps_reserve	*rv[1] = { r };
	struct kps_reservation		*ov[1] = { out };
	int				 rc[1], e;

	if ((e = mark(s)) != KP_OK)
		return e;
	if ((e = kps_reserve_budget_many(s, rv, b, ov, rc, wait, 1)) ==
	    KP_OK)
		e = rc[0];
	if ((e = unmark(s, e)) != KP_OK)
		kps_reservation_clear(out);
	return e;
}

int
kps_claim_budget(struct kps_store *s, const struct kps_reserve *r,
    const struct kps_budget *b, struct kps_claim *out, int *wait)
{
	struct kps_device	 devs[KPS_MAX_DEVICES];
	struct kps_reserve	 one;
	size_t			 n, i;
	int			 rc;

	*wait = 0;
	memset(out, 0, sizeof(*out));
	if ((rc = kps_device_list(s, r->target, 0, r->now, NULL, devs,
	    KPS_MAX_DEVICES, &n)) != KP_OK)
		return rc;
	for (i = 0; i < n; i++) {
		one = *r;
		one.device = devs[i].device;
		one.ref = NULL;
		rc = kps_reserve_budget(s, &one, b, &out->res[out->n], wait);
		if (rc == KP_OK)
			out->n++;
		else if (rc == KP_EEXHAUSTED || rc == KP_ENOTFOUND ||
		    rc == KPS_EFLOOR) {
			/* nothing left for this caller, or the device went */
			memcpy(out->exhausted[out->nexhausted++],
			    devs[i].device, sizeof(devs[i].device));
			out->nfloor += rc == KPS_EFLOOR;
		}
		else if ((rc == KPS_EBUDGET || rc == KPS_ECAP) && out->n > 0)
			/* what it got so far is the claim */
			break;
		else {
			kps_claim_clear(out);
			return rc;
		}
	}
	return KP_OK;
}

int
kps_drain_spent(struct kps_store *s, const char *caller,
    const uint8_t ref[KP_REF_LEN], int64_t now)
{
	struct kps_key	k;
	char		who[KP_MAX_USERNAME + 1], owner[KP_MAX_USERNAME + 1];
	int		rc;

	if ((rc = s->ops->get(s, ref, now, &k)) != KP_OK)
		return rc == KP_ENOTFOUND ? KP_OK : rc;
	kps_principal_user(who, caller);
	kps_principal_user(owner, k.username);
	kps_key_clear(&k);
	if (strcmp(who, owner) == 0)
		return KP_OK;
	/*
	 * The spender put the owner in a group: the owner is the
	 * spender's contact.  Not the other way round: that would let a
	 * stranger make itself the owner's contact with one spend.
	 */
	if ((rc = kps_contact_add(s, who, owner, KPS_CONTACT_SPEND, now)) !=
	    KP_OK)
		return rc;
	return kps_grant_end(s, who, ref, KPS_GRANT_SPENT, now);
}

int
kps_drain_released(struct kps_store *s, const char *caller,
    const uint8_t ref[KP_REF_LEN], int64_t now)
{
	char	who[KP_MAX_USERNAME + 1];

	kps_principal_user(who, caller);
	return kps_grant_end(s, who, ref, KPS_GRANT_RELEASED, now);
}

/*
 * The store's calls that keep the grants in step: a claim is one
 * budgeted reserve per device (no limit), a spend and a release end
 * their grant.  They live here, above the dispatcher, so that store.c
 * never calls back into the budget.
 */
int
kps_claim(struct kps_store *s, const struct kps_reserve *r,
    struct kps_claim *out)
{
	static const struct kps_budget	none;	/* no limit */
	int				wait;

	return kps_claim_budget(s, r, &none, out, &wait);
}

int
kps_spend(struct kps_store *s, const char *caller,
    const uint8_t ref[KP_REF_LEN], const uint8_t *group_id,
    size_t group_id_len, int64_t now)
{
	int	rc;

	if ((rc = mark(s)) != KP_OK)
		return rc;
	if ((rc = s->ops->spend(s, caller, ref, group_id, group_id_len,
	    now)) == KP_OK)
		rc = kps_drain_spent(s, caller, ref, now);
	return unmark(s, rc);
}

int
kps_release(struct kps_store *s, const char *caller,
    const uint8_t ref[KP_REF_LEN], int64_t now)
{
	int	rc;

	if ((rc = mark(s)) != KP_OK)
		return rc;
	if ((rc = s->ops->release(s, caller, ref, now)) == KP_OK)
		rc = kps_drain_released(s, caller, ref, now);
	return unmark(s, rc);
}
