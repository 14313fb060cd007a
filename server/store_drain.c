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
kps_budget_facts(struct kps_store *s, const struct kps_budget_ask *a,
    struct kps_budget_facts *f)
{
	memset(f, 0, sizeof(*f));
	return s->ops->budget_facts(s, a, f);
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
kps_budget_pool(struct kps_store *s, const char *canon, int64_t now,
    uint64_t limit, uint64_t *n)
{
	*n = 0;
	return s->ops->budget_pool(s, canon, now, limit, n);
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
 * target_facts: what the share decision needs of target (folded; canon
 * as registered) at now, from b's memo when it knows enough, else read
 * (and kept in the memo when there is room), into *t.  The pool is
 * counted only up to where it admits POOL_SLACK more strangers than
 * there are, and counted again when that is not enough.
 */
static int
target_facts(struct kps_store *s, const struct kps_budget *b,
    const char *target, const char *canon, int64_t now,
    struct kps_budget_target **t, struct kps_budget_target *tmp)
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
	(*t)->limit = ((*t)->strangers + POOL_SLACK + 1) * 100 /
	    (uint64_t)b->share + 1;
	if ((rc = kps_budget_pool(s, canon, now, (*t)->limit,
	    &(*t)->pool)) == KP_OK)
		return KP_OK;
fail:
	if (*t != tmp)		/* forgotten: the next asks again */
		**t = m->t[--m->n];
	return rc;
}

/* grant: log the grant of out to caller by r, a stranger to target
 * when stranger is 1 (and then counted in target's budget t, if any). */
static int
grant(struct kps_store *s, const char *caller, const char *target,
    const struct kps_reserve *r, const struct kps_reservation *out,
    int stranger, struct kps_budget_target *t)
{
	struct kps_grant	g;
	int			rc;

	memset(&g, 0, sizeof(g));
	g.caller = caller;
	g.target = target;
	g.device = out->device;
	g.ref = out->ref;
	g.stranger = stranger;
	g.granted_at = r->now;
	g.expires_at = out->expires_at;
	if ((rc = kps_grant_add(s, &g)) != KP_OK || t == NULL)
		return rc;
	if (t->strangers++ == 0)
		t->oldest = r->now;
	return KP_OK;
}

int
kps_reserve_budget(struct kps_store *s, const struct kps_reserve *r,
    const struct kps_budget *b, struct kps_reservation *out, int *wait)
{
	struct kps_budget_ask	 a;
	struct kps_budget_facts	 f;
	struct kps_budget_target tmp, *t = NULL;
	struct kps_reserve	 one = *r;
	char			 caller[KP_MAX_USERNAME + 1];
	char			 target[KP_MAX_USERNAME + 1];
	char			 canon[KP_MAX_USERNAME + 1];
	int			 rc;

	*wait = 0;
	memset(out, 0, sizeof(*out));
	kps_principal_user(caller, r->caller);
	kps_principal_user(target, r->target);
	/* one's own keys, and a key named (its owner's only): no budget */
	if (strcmp(caller, target) == 0 || r->ref != NULL ||
	    (b->share == 0 && b->floor == 0 && b->cap == 0))
		return kps_reserve(s, r, out);
	if ((rc = kps_user_get(s, r->target, canon)) != KP_OK)
		return rc;
	memset(&a, 0, sizeof(a));
	a.caller = caller;
	a.target = target;
	a.canon = canon;
	a.device = r->device;
	a.suite = r->suite;
	a.now = r->now;
	a.since = r->now - b->window;
	a.principal = r->caller;
	a.request_id = r->request_id;
	a.floor = b->floor;
	if ((rc = kps_budget_facts(s, &a, &f)) != KP_OK)
		return rc;
	if (f.replay)
		/* a retry of a reserve granted already: the same one */
		return kps_reserve(s, r, out);
	if (b->cap > 0 && f.held >= (uint64_t)b->cap) {
		*wait = left(f.held_first, b->window, r->now);
		return KPS_ECAP;
	}
	if (!f.contact && b->share > 0) {
		if ((rc = target_facts(s, b, target, canon, r->now, &t,
		    &tmp)) != KP_OK)
			return rc;
		if (!admits(t->pool, t->strangers, b->share)) {
			*wait = left(t->oldest, b->window, r->now);
			return KPS_EBUDGET;
		}
	}
	if (!f.contact && b->floor > 0 && f.available < (uint64_t)b->floor + 1)
		one.last_resort_only = 1;
	if ((rc = mark(s)) != KP_OK)
		return rc;
	if ((rc = kps_reserve(s, &one, out)) != KP_OK) {
		(void)unmark(s, rc);
		return rc == KP_EEXHAUSTED && one.last_resort_only &&
		    f.available > 0 ? KPS_EFLOOR : rc;
	}
	if (!out->replayed)
		rc = grant(s, caller, target, r, out, !f.contact, t);
	if ((rc = unmark(s, rc)) != KP_OK)
		kps_reservation_clear(out);
	return rc;
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
