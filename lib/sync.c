/* SPDX-License-Identifier: ISC */
/*
 * sync.c: the pool and its server over time: expiry, the pull of the
 * server's view of our keys, refresh (expire, sync, replenish, keep a
 * last-resort key a suite published) and rotation.
 *
 * Every step is its own transaction and every server call is made
 * outside one, so a failure at any point leaves the store consistent: a
 * key is only marked available after the server accepted it, and what
 * a lost answer leaves behind is put right by the next sync, which
 * trusts the server's view of reservations and spends.  A pass holds
 * the net lock throughout (pool.h): a pull's view is applied before any
 * transition asks the server again.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpool.h"
#include "pool.h"
#include "state.h"
#include "store.h"
#include "view.h"

/*
 * Expire live keys past not_after and wipe their private keys (spent
 * ones too); *gone (malloc'd) gets the refs of those the server should
 * forget (the moves' call, state.c).  slock.
 */
static int
expire_local(struct kp_pool *p, struct kp_sync_report *r, uint8_t **gone,
    size_t *ngone)
{
	struct kp_rec	*keys = NULL;
	size_t		 n, i;
	int64_t		 now = kp_pool_now(p);
	uint32_t	 wiped;
	int		 rc;

	*gone = NULL;
	*ngone = 0;
	kp_pool_others(p);
	if ((rc = kp_store_expired(p->st, now, &keys, &n)) != KP_OK)
		goto out;
	if (n > 0 && (*gone = calloc(n, KP_REF_LEN)) == NULL) {
		rc = kp_pool_err(p, KP_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (!kp_state_may(keys[i].state, KP_STATE_EXPIRED,
		    KP_BY_LIFETIME))
			continue;
		rc = kp_store_set_state(p->st, keys[i].ref, keys[i].state,
		    KP_STATE_EXPIRED, now);
		if (rc == KP_ESTATE || rc == KP_ENOTFOUND)
			continue;	/* another handle moved it */
		if (rc != KP_OK)
			goto out;
		if (r != NULL)
			r->expired++;
		if (kp_state_call(keys[i].state, KP_STATE_EXPIRED) ==
		    KP_CALL_RETIRE)
			memcpy(*gone + KP_REF_LEN * (*ngone)++, keys[i].ref,
			    KP_REF_LEN);
	}
	rc = kp_store_wipe_spent(p->st, now, &wiped);
out:
	free(keys);
	return rc;
}

/* Expire (expire_local), then retire on the server if there is one. */
static int
expire(struct kp_pool *p, struct kp_sync_report *r)
{
	uint8_t	*gone = NULL;
	size_t	 ngone = 0;
	int	 rc;

	kp_pool_lock(p);
	rc = expire_local(p, r, &gone, &ngone);
	kp_pool_unlock(p);
	if (rc == KP_OK && ngone > 0 && p->url != NULL &&
	    kp_remote_need(p) == KP_OK)
		(void)kp_remote_retire(p, gone, ngone);
	free(gone);
	return rc;
}

/* kp_pool_expire: expire live keys past not_after, wipe their private
 * keys (spent ones too), and retire them on the server when there is
 * one.  Server trouble is not an error here: the next sync retires. */
int
kp_pool_expire(struct kp_pool *p, struct kp_sync_report *r)
{
	int	rc;

	kp_pool_begin(p);
	if (r != NULL)
		memset(r, 0, sizeof(*r));
	pthread_mutex_lock(&p->nlock);
	rc = expire(p, r);
	pthread_mutex_unlock(&p->nlock);
	kp_pool_lock(p);
	kp_store_flush(p->st);	/* its wipes, and any this handle owes */
	kp_pool_unlock(p);
	return kp_pool_end(p, rc);
}

static int
cmp_key(const void *a, const void *b)
{
	return memcmp(((const struct kp_rec *)a)->ref,
	    ((const struct kp_rec *)b)->ref, KP_REF_LEN);
}

/*
 * Apply the server's view rk (rn keys) of our keys, asked for at now, in
 * one transaction, and collect in gone the keys the server should
 * forget.  slock.
 */
static int
apply_view(struct kp_pool *p, const struct kp_remote_key *rk, size_t rn,
    int64_t now, struct kp_sync_report *r, uint8_t *gone, size_t *ngone)
{
	struct kp_rec	*keys = NULL, *k, key, probe;
	struct kp_view	 v;
	uint8_t		*seen = NULL;
	size_t		 n = 0, i;
	int		 rc, from, retire_it;

	kp_pool_others(p);
	if ((rc = kp_store_begin(p->st)) != KP_OK)
		return rc;
	if ((rc = kp_store_list(p->st, -1, &keys, &n)) != KP_OK)
		goto out;
	if (n > 0 && (seen = calloc(n, 1)) == NULL) {
		rc = kp_pool_err(p, KP_ENOMEM, "out of memory");
		goto out;
	}
	if (n > 0)
		qsort(keys, n, sizeof(*keys), cmp_key);
	for (i = 0; i < rn; i++) {
		memcpy(probe.ref, rk[i].ref, KP_REF_LEN);
		k = n > 0 ? bsearch(&probe, keys, n, sizeof(*keys),
		    cmp_key) : NULL;
		if (k == NULL) {
			/* not ours any more: nobody could open a Welcome */
			if (kp_state_live(rk[i].state))
				memcpy(gone + KP_REF_LEN * (*ngone)++,
				    rk[i].ref, KP_REF_LEN);
			continue;
		}
		seen[k - keys] = 1;
		kp_view_from(&v, &rk[i], now);
		if ((rc = kp_view_note(p->st, k->ref, &v)) != KP_OK)
			goto out;
		key = *k;
		from = key.state;
		if (kp_rec_pull(&key, &rk[i], now, &retire_it)) {
			if ((rc = kp_store_update(p->st, &key, from)) !=
			    KP_OK)
				goto out;
			if (r != NULL)
				r->pulled++;
		}
		if (retire_it)
			memcpy(gone + KP_REF_LEN * (*ngone)++, rk[i].ref,
			    KP_REF_LEN);
	}
	/* published keys the server lost go back to created: re-upload */
	for (i = 0; i < n; i++) {
		if (!seen[i] && keys[i].state != KP_STATE_CREATED) {
			kp_view_from(&v, NULL, now);
			if ((rc = kp_view_note(p->st, keys[i].ref, &v)) !=
			    KP_OK)
				goto out;
		}
		if (seen[i] || !kp_state_published(keys[i].state) ||
		    !kp_state_may(keys[i].state, KP_STATE_CREATED,
		    KP_BY_SERVER))
			continue;
		key = keys[i];
		kp_rec_move(&key, KP_STATE_CREATED, now);
		if ((rc = kp_store_update(p->st, &key, keys[i].state)) != KP_OK)
			goto out;
		if (r != NULL)
			r->pulled++;
	}
	if ((rc = kp_store_commit(p->st)) == KP_OK)
		kp_store_flush(p->st);	/* keys it expired */
out:
	kp_store_rollback(p->st);	/* no-op after COMMIT */
	free(keys);
	free(seen);
	return rc;
}

/*
 * Pull: the server's view of our keys, applied; *gone (malloc'd) gets
 * the keys the server should forget.  nlock.
 */
static int
pull(struct kp_pool *p, struct kp_sync_report *r, uint8_t **gone,
    size_t *ngone)
{
	struct kp_remote_key	*rk = NULL;
	size_t			 rn = 0;
	int64_t			 now = kp_pool_now(p);
	int			 rc;

	*gone = NULL;
	*ngone = 0;
	rc = kp_client_mine(p->client, &rk, &rn);
	if (kp_remote_result(p, rc, "pull") != KP_OK)
		goto out;
	if ((*gone = calloc(rn + 1, KP_REF_LEN)) == NULL) {
		rc = kp_pool_err(p, KP_ENOMEM, "out of memory");
		goto out;
	}
	kp_pool_lock(p);
	rc = apply_view(p, rk, rn, now, r, *gone, ngone);
	kp_pool_unlock(p);
out:
	free(rk);
	return rc;
}

/* Upload every created key that is still within its lifetime.  nlock. */
static int
push_created(struct kp_pool *p, struct kp_sync_report *r)
{
	struct kp_rec	*keys = NULL;
	uint8_t		*refs = NULL;
	size_t		 n, i;
	int		 rc;

	kp_pool_lock(p);
	rc = kp_store_list(p->st, KP_STATE_CREATED, &keys, &n);
	kp_pool_unlock(p);
	if (rc != KP_OK)
		return rc;
	if (n > 0 && (refs = calloc(n, KP_REF_LEN)) == NULL) {
		free(keys);
		return kp_pool_err(p, KP_ENOMEM, "out of memory");
	}
	for (i = 0; i < n; i++)
		memcpy(refs + i * KP_REF_LEN, keys[i].ref, KP_REF_LEN);
	free(keys);
	rc = kp_remote_upload(p, refs, n, 1, r ? &r->uploaded : NULL,
	    r ? &r->expired : NULL);
	free(refs);
	return rc;
}

/* Pull, retire what the server should forget, push.  nlock. */
static int
sync_once(struct kp_pool *p, struct kp_sync_report *r)
{
	uint8_t	*gone = NULL;
	size_t	 ngone = 0;
	char	 v[32];
	int	 rc;

	if ((rc = kp_remote_need(p)) != KP_OK)
		goto out;
	rc = pull(p, r, &gone, &ngone);
	if (rc == KP_EAUTH && p->registered) {
		/* the server forgot us (its database was reset): again */
		free(gone);
		gone = NULL;
		if ((rc = kp_remote_register(p)) == KP_OK)
			rc = pull(p, r, &gone, &ngone);
	}
	if (rc != KP_OK)
		goto out;
	if (r != NULL)
		r->online = 1;
	if ((rc = kp_remote_retire(p, gone, ngone)) != KP_OK)
		goto out;
	if ((rc = push_created(p, r)) != KP_OK)
		goto out;
	(void)snprintf(v, sizeof(v), "%lld", (long long)kp_pool_now(p));
	kp_pool_lock(p);
	rc = kp_store_setting_set(p->st, "last_sync", v);
	kp_pool_unlock(p);
out:
	free(gone);
	return rc;
}

/* kp_pool_sync: pull the server's view of our keys, push created ones. */
int
kp_pool_sync(struct kp_pool *p, struct kp_sync_report *r)
{
	int	rc;

	kp_pool_begin(p);
	if (r != NULL)
		memset(r, 0, sizeof(*r));
	pthread_mutex_lock(&p->nlock);
	rc = sync_once(p, r);
	pthread_mutex_unlock(&p->nlock);
	kp_pool_lock(p);
	kp_store_flush(p->st);
	kp_pool_unlock(p);
	return kp_pool_end(p, rc);
}

/* Expire, sync, make what the policy wants (fill), push it.  nlock. */
static int
refresh(struct kp_pool *p, int fill, struct kp_sync_report *r)
{
	uint32_t	made;
	int		rc;

	if ((rc = expire(p, r)) != KP_OK ||
	    (rc = sync_once(p, r)) != KP_OK)
		return rc;
	/* counted where it is made: another handle may have made keys */
	if ((rc = kp_pool_make(p, 0, 0, fill, &made)) != KP_OK)
		return rc;
	r->generated += made;
	if (made > 0)
		rc = push_created(p, r);
	return rc;
}

/*
 * kp_pool_refresh: expire, sync, replenish each suite to target (mode
 * KP_REFRESH_TARGET; KP_REFRESH_WATERMARK only when its available keys
 * fell under the low watermark), and keep one last-resort key a suite
 * published.
 */
int
kp_pool_refresh(struct kp_pool *p, int mode, struct kp_sync_report *r)
{
	struct kp_sync_report	rep;
	int			rc;

	kp_pool_begin(p);
	memset(&rep, 0, sizeof(rep));
	if (mode != KP_REFRESH_WATERMARK && mode != KP_REFRESH_TARGET)
		return kp_pool_end(p, kp_pool_err(p, KP_EINVAL, "no such "
		    "refresh mode"));
	pthread_mutex_lock(&p->nlock);
	rc = refresh(p, mode == KP_REFRESH_TARGET ? KP_FILL_TARGET :
	    KP_FILL_WATERMARK, &rep);
	pthread_mutex_unlock(&p->nlock);
	kp_pool_lock(p);
	kp_store_flush(p->st);	/* the wipes of this pass, if not done */
	kp_pool_unlock(p);
	if (r != NULL)
		*r = rep;
	return kp_pool_end(p, rc);
}

/*
 * Rotate: sync, so that what inviters reserved is known, then retire
 * each available key on the server and expire it here (the move's
 * call, state.c), then refill to target and push.  A key reserved
 * between the pull and its retirement is retired too (the server
 * retires in any state): its inviter's spend then fails.  nlock.
 */
static int
rotate(struct kp_pool *p, struct kp_sync_report *r)
{
	struct kp_rec	*keys = NULL;
	size_t		 n = 0, i;
	int		 rc;

	if ((rc = sync_once(p, r)) != KP_OK)
		return rc;
	kp_pool_lock(p);
	rc = kp_store_list(p->st, KP_STATE_AVAILABLE, &keys, &n);
	kp_pool_unlock(p);
	for (i = 0; rc == KP_OK && i < n; i++) {
		rc = kp_pool_ask_move(p, keys[i].ref, KP_STATE_AVAILABLE,
		    KP_STATE_EXPIRED);
		if (rc == KP_ESTATE || rc == KP_ENOTFOUND) {
			rc = KP_OK;	/* another handle moved it */
			continue;
		}
		if (rc == KP_OK) {
			r->retired++;
			r->expired++;
		}
	}
	free(keys);
	if (rc != KP_OK)
		return rc;
	return refresh(p, KP_FILL_TARGET, r);
}

/*
 * kp_pool_rotate: retire every available key on the server, expire
 * them here, make fresh keys to target from the current policy and
 * upload them; reserved keys finish their course.
 */
int
kp_pool_rotate(struct kp_pool *p, struct kp_sync_report *r)
{
	struct kp_sync_report	rep;
	int			rc;

	kp_pool_begin(p);
	memset(&rep, 0, sizeof(rep));
	pthread_mutex_lock(&p->nlock);
	rc = rotate(p, &rep);
	pthread_mutex_unlock(&p->nlock);
	kp_pool_lock(p);
	kp_store_flush(p->st);	/* the wipes of the expired keys */
	kp_pool_unlock(p);
	if (r != NULL)
		*r = rep;
	return kp_pool_end(p, rc);
}
