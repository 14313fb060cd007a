/* SPDX-License-Identifier: ISC */
/*
 * sync.c: the pool and the server: registration, upload, expiry, the
 * pull of the server's view of our keys, and refresh (expire, sync,
 * replenish, keep a last-resort key published).
 *
 * Every step is its own transaction and every server call is made
 * outside one, so a failure at any point leaves the store consistent: a
 * key is only marked available after the server accepted it, and what
 * a lost answer leaves behind is put right by the next sync, which
 * trusts the server's view of reservations and spends.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpool.h"
#include "policy.h"
#include "store.h"

#define CONNECT_MS	2000
#define TOTAL_MS	15000

/* kp_pool_drop_client: forget the connection (URL change, close). */
void
kp_pool_drop_client(struct kp_pool *p)
{
	kp_client_free(p->client);
	p->client = NULL;
}

static int
is_offline_error(int rc)
{
	return rc == KP_ENET || rc == KP_ESERVER;
}

/*
 * kp_pool_netresult: note the outcome of a server call (for health) and,
 * on failure, put the client's message into the pool's; returns rc.
 */
int
kp_pool_netresult(struct kp_pool *p, int rc, const char *what)
{
	int	failed = is_offline_error(rc);

	if (rc != KP_OK)
		(void)snprintf(p->errmsg, sizeof(p->errmsg), "%s: %s", what,
		    p->client ? kp_client_errmsg(p->client) : kp_strerror(rc));
	/* every time: another handle on the store may have said otherwise */
	if (kp_store_setting_set(p->st, "last_call", failed ? "failed" :
	    "ok") != KP_OK && rc == KP_OK)
		(void)snprintf(p->errmsg, sizeof(p->errmsg), "%s: could not "
		    "record the server's health", what);
	return rc;
}

/*
 * kp_pool_register: make sure the server knows our name and key.  A 409
 * is fine only when the server already has our key: a signed request of
 * ours then succeeds.
 */
int
kp_pool_register(struct kp_pool *p)
{
	struct kp_remote_key	*keys = NULL;
	size_t			 n;
	int			 rc;

	if (p->registered)
		return KP_OK;
	rc = kp_client_register(p->client);
	if (rc == KP_ECONFLICT) {
		rc = kp_client_mine(p->client, &keys, &n);
		free(keys);
		if (rc == KP_EAUTH || rc == KP_EFORBIDDEN) {
			kp_pool_netresult(p, KP_OK, "register");
			return kp_pool_err(p, KP_ECONFLICT, "register: the "
			    "user name \"%s\" is taken by another key",
			    p->user);
		}
	}
	if (rc != KP_OK)
		return kp_pool_netresult(p, rc, "register");
	if ((rc = kp_store_identity_registered(p->st, kp_pool_now(p))) !=
	    KP_OK)
		return rc;
	p->registered = 1;
	return KP_OK;
}

/*
 * kp_pool_need_server: a client for the server, registered; KP_ENET when
 * no server is set.
 */
int
kp_pool_need_server(struct kp_pool *p)
{
	int	rc;

	if (p->url == NULL)
		return kp_pool_err(p, KP_ENET, "no server set (offline)");
	if (p->client == NULL) {
		if ((rc = kp_client_new(p->url, p->user, p->seed,
		    &p->client)) != KP_OK) {
			p->client = NULL;
			return kp_pool_err(p, rc, "client for %s: %s", p->url,
			    kp_strerror(rc));
		}
		kp_client_set_timeouts(p->client, CONNECT_MS, TOTAL_MS);
	}
	return kp_pool_register(p);
}

/*
 * A per-key answer that is the server's word on the key itself: accepted
 * under another ref, or refused for what the key is.  A store failure on
 * the server ("internal") or a key the reply left out says nothing about
 * the key: it may be uploaded again.
 */
static int
is_refusal(const struct kp_upload_result *res)
{
	return res->accepted || (res->error != KP_ESERVER &&
	    res->error != KP_EPROTO);
}

/*
 * Send one batch and apply what the server says of each key.  Returns
 * the first transient per-key failure (KP_ESERVER, KP_EPROTO) after
 * applying the rest; such a key stays created.
 */
static int
upload_batch(struct kp_pool *p, struct kp_bundle *b, size_t m,
    int expire_rejected, uint32_t *uploaded, uint32_t *expired,
    int *rejected)
{
	struct kp_upload_result	*res = NULL;
	const uint8_t		*kps[KP_MAX_BATCH];
	size_t			 lens[KP_MAX_BATCH], j;
	int64_t			 now = kp_pool_now(p);
	char			 first[KP_ERRLEN];
	int			 rc, transient = KP_OK;

	if ((res = calloc(m, sizeof(*res))) == NULL)
		return kp_pool_err(p, KP_ENOMEM, "out of memory");
	for (j = 0; j < m; j++) {
		kps[j] = b[j].keypackage;
		lens[j] = b[j].keypackage_len;
	}
	rc = kp_client_upload(p->client, kps, lens, m, res);
	if (kp_pool_netresult(p, rc, "upload") != KP_OK)
		goto out;
	for (j = 0; j < m; j++) {
		if (res[j].accepted &&
		    memcmp(res[j].ref, b[j].key.ref, KP_REF_LEN) == 0) {
			rc = kp_store_set_state(p->st, b[j].key.ref,
			    KP_STATE_CREATED, KP_STATE_AVAILABLE, now);
			if (rc == KP_OK && uploaded != NULL)
				(*uploaded)++;
			else if (rc != KP_OK && rc != KP_ESTATE &&
			    rc != KP_ENOTFOUND)
				goto out;	/* not a lost race */
			continue;
		}
		(void)snprintf(p->errmsg, sizeof(p->errmsg), "upload: key %s "
		    "%s: %s%s%s", b[j].key.ref_hex,
		    is_refusal(&res[j]) ? "rejected" : "not stored",
		    res[j].accepted ? "the server derived another ref" :
		    res[j].code, res[j].message[0] ? ": " : "",
		    res[j].accepted ? "" : res[j].message);
		if (!is_refusal(&res[j])) {
			/* the server's trouble, not the key's: stays created */
			if (transient == KP_OK) {
				transient = res[j].error;
				(void)snprintf(first, sizeof(first), "%s",
				    p->errmsg);
			}
			continue;
		}
		(*rejected)++;
		if (expire_rejected && kp_store_set_state(p->st, b[j].key.ref,
		    KP_STATE_CREATED, KP_STATE_EXPIRED, now) == KP_OK &&
		    expired != NULL)
			(*expired)++;
	}
	if ((rc = transient) != KP_OK) {
		kp_pool_netresult(p, rc, "upload");	/* health: offline */
		(void)snprintf(p->errmsg, sizeof(p->errmsg), "%s", first);
	}
out:
	free(res);
	return rc;
}

/*
 * kp_pool_upload: upload the keys of the list that are still created,
 * in batches; accepted ones become available.  A rejected key stays
 * created (KP_EREJECTED), or with expire_rejected is expired and wiped,
 * since it can never be published (counted in *expired, the reason in
 * kp_errmsg).  A key the server failed to store (a 5xx of its own, per
 * key) or left out of its reply stays created whatever expire_rejected
 * says: only the server's word on the key itself ends it.  Returns the
 * first error.
 */
int
kp_pool_upload(struct kp_pool *p, const struct kp_key *keys, size_t n,
    int expire_rejected, uint32_t *uploaded, uint32_t *expired)
{
	struct kp_bundle	*b = NULL;
	size_t			 i, m = 0, j;
	int			 rc = KP_OK, found, rejected = 0;

	if (n == 0)
		return KP_OK;
	if ((b = calloc(KP_MAX_BATCH, sizeof(*b))) == NULL)
		return kp_pool_err(p, KP_ENOMEM, "out of memory");
	/* the keys must survive a power cut before anyone can get them */
	if ((rc = kp_store_checkpoint(p->st)) != KP_OK)
		goto out;
	for (i = 0; i < n; i++) {
		if ((rc = kp_store_load(p->st, keys[i].ref, 0, &b[m],
		    &found)) != KP_OK)
			goto out;
		if (!found || b[m].key.state != KP_STATE_CREATED) {
			kp_bundle_clear(&b[m]);	/* another handle moved it */
			continue;
		}
		if (++m < KP_MAX_BATCH && i + 1 < n)
			continue;
		rc = upload_batch(p, b, m, expire_rejected, uploaded, expired,
		    &rejected);
		for (j = 0; j < m; j++)
			kp_bundle_clear(&b[j]);
		m = 0;
		if (rc != KP_OK)
			goto out;
	}
	if (m > 0)
		rc = upload_batch(p, b, m, expire_rejected, uploaded, expired,
		    &rejected);
	if (rc == KP_OK && rejected > 0 && !expire_rejected)
		rc = KP_EREJECTED;
out:
	for (j = 0; j < KP_MAX_BATCH; j++)
		kp_bundle_clear(&b[j]);
	free(b);
	return rc;
}

/* Retire keys on the server; a 404 means it is already gone. */
static int
retire(struct kp_pool *p, const uint8_t *refs, size_t n)
{
	size_t	i;
	int	rc = KP_OK, r;

	for (i = 0; i < n; i++) {
		r = kp_client_retire(p->client, refs + i * KP_REF_LEN);
		if (r == KP_ENOTFOUND)
			r = KP_OK;
		kp_pool_netresult(p, r, "retire");
		if (r != KP_OK && rc == KP_OK)
			rc = r;
		if (is_offline_error(r))
			break;
	}
	return rc;
}

/* Expire live keys past not_after and wipe (adds to r). */
static int
expire(struct kp_pool *p, struct kp_sync_report *r)
{
	struct kp_key	*keys = NULL;
	uint8_t		*gone = NULL;
	size_t		 n, i, ngone = 0;
	int64_t		 now = kp_pool_now(p);
	uint32_t	 wiped;
	int		 rc;

	if ((rc = kp_store_expired(p->st, now, &keys, &n)) != KP_OK)
		goto out;
	if (n > 0 && (gone = calloc(n, KP_REF_LEN)) == NULL) {
		rc = kp_pool_err(p, KP_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		rc = kp_store_set_state(p->st, keys[i].ref, keys[i].state,
		    KP_STATE_EXPIRED, now);
		if (rc == KP_ESTATE || rc == KP_ENOTFOUND)
			continue;	/* another handle moved it */
		if (rc != KP_OK)
			goto out;
		if (r != NULL)
			r->expired++;
		if (keys[i].state != KP_STATE_CREATED)
			memcpy(gone + KP_REF_LEN * ngone++, keys[i].ref,
			    KP_REF_LEN);
	}
	rc = kp_store_wipe_spent(p->st, now, &wiped);
	if (rc == KP_OK && ngone > 0 && p->url != NULL &&
	    kp_pool_need_server(p) == KP_OK)
		(void)retire(p, gone, ngone);
out:
	free(keys);
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

	KP_POOL_CALL(p);
	if (r != NULL)
		memset(r, 0, sizeof(*r));
	rc = expire(p, r);
	kp_store_flush(p->st);	/* its wipes, and any this handle owes */
	return rc;
}

static int
cmp_key(const void *a, const void *b)
{
	return memcmp(((const struct kp_key *)a)->ref,
	    ((const struct kp_key *)b)->ref, KP_REF_LEN);
}

static int
is_live(int state)
{
	return state == KP_STATE_CREATED || state == KP_STATE_AVAILABLE ||
	    state == KP_STATE_RESERVED;
}

/*
 * Apply one remote key to its local twin k.  Returns 1 when k changed
 * (k then holds the new fields), 0 when not, and sets *retire_it when
 * the server should forget the key.
 */
static int
reconcile(struct kp_key *k, const struct kp_remote_key *rk, int64_t now,
    int *retire_it)
{
	*retire_it = 0;
	if (!is_live(k->state)) {
		if (is_live(rk->state) && rk->state != KP_STATE_CREATED &&
		    !(k->state == KP_STATE_SPENT && k->last_resort))
			*retire_it = 1;	/* never hand it out again */
		if (k->state == KP_STATE_SPENT && rk->state ==
		    KP_STATE_SPENT && k->spent_by[0] == '\0' &&
		    rk->spent_by[0] != '\0') {
			memcpy(k->spent_by, rk->spent_by, sizeof(k->spent_by));
			if (k->group_id_len == 0 &&
			    rk->group_id_len <= KP_MAX_GROUP_ID) {
				memcpy(k->group_id, rk->group_id,
				    rk->group_id_len);
				k->group_id_len = rk->group_id_len;
			}
			return 1;
		}
		return 0;
	}
	switch (rk->state) {
	case KP_STATE_AVAILABLE:
		if (k->state == KP_STATE_AVAILABLE)
			return 0;
		/*
		 * The server serves a last-resort key without ever holding
		 * it, so it says available while our own hold of it (a
		 * move to reserved) runs: that hold stands until it ends.
		 */
		if (k->last_resort && k->state == KP_STATE_RESERVED &&
		    k->reservation_expires_at > now)
			return 0;
		k->reserved_at = k->reservation_expires_at = 0;
		k->reservation_id[0] = k->reserved_by[0] = '\0';
		break;
	case KP_STATE_RESERVED:
		if (k->state == KP_STATE_RESERVED &&
		    k->reservation_expires_at == rk->reservation_expires_at &&
		    strcmp(k->reserved_by, rk->reserved_by) == 0)
			return 0;
		if (strcmp(k->reserved_by, rk->reserved_by) != 0)
			k->reservation_id[0] = '\0';
		k->reserved_at = rk->reserved_at ? rk->reserved_at : now;
		k->reservation_expires_at = rk->reservation_expires_at;
		memcpy(k->reserved_by, rk->reserved_by, sizeof(k->reserved_by));
		break;
	case KP_STATE_SPENT:
		k->spent_at = rk->spent_at ? rk->spent_at : now;
		memcpy(k->spent_by, rk->spent_by, sizeof(k->spent_by));
		if (rk->group_id_len <= KP_MAX_GROUP_ID) {
			memcpy(k->group_id, rk->group_id, rk->group_id_len);
			k->group_id_len = rk->group_id_len;
		}
		break;
	case KP_STATE_EXPIRED:
		k->expired_at = now;
		break;
	default:
		return 0;	/* created: the server never says so */
	}
	if (k->uploaded_at == 0)
		k->uploaded_at = rk->uploaded_at ? rk->uploaded_at : now;
	k->state = rk->state;
	k->changed_at = now;
	return 1;
}

/*
 * Pull: apply the server's view of our keys in one transaction and
 * collect the keys the server should forget.
 */
static int
pull(struct kp_pool *p, struct kp_sync_report *r, uint8_t **gone,
    size_t *ngone)
{
	struct kp_remote_key	*rk = NULL;
	struct kp_key		*keys = NULL, *k, key, probe;
	uint8_t			*seen = NULL;
	size_t			 rn = 0, n = 0, i;
	int64_t			 now = kp_pool_now(p);
	int			 rc, from, retire_it, intx = 0;

	*gone = NULL;
	*ngone = 0;
	rc = kp_client_mine(p->client, &rk, &rn);
	if (kp_pool_netresult(p, rc, "pull") != KP_OK)
		goto out;
	if ((*gone = calloc(rn + 1, KP_REF_LEN)) == NULL) {
		rc = kp_pool_err(p, KP_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = kp_store_begin(p->st)) != KP_OK)
		goto out;
	intx = 1;
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
			if (is_live(rk[i].state))
				memcpy(*gone + KP_REF_LEN * (*ngone)++,
				    rk[i].ref, KP_REF_LEN);
			continue;
		}
		seen[k - keys] = 1;
		key = *k;
		from = key.state;
		if (reconcile(&key, &rk[i], now, &retire_it)) {
			if ((rc = kp_store_update(p->st, &key, from)) !=
			    KP_OK)
				goto out;
			if (r != NULL)
				r->pulled++;
		}
		if (retire_it)
			memcpy(*gone + KP_REF_LEN * (*ngone)++, rk[i].ref,
			    KP_REF_LEN);
	}
	/* published keys the server lost go back to created: re-upload */
	for (i = 0; i < n; i++) {
		if (seen[i] || (keys[i].state != KP_STATE_AVAILABLE &&
		    keys[i].state != KP_STATE_RESERVED))
			continue;
		key = keys[i];
		kp_key_move(&key, KP_STATE_CREATED, now);
		if ((rc = kp_store_update(p->st, &key, keys[i].state)) != KP_OK)
			goto out;
		if (r != NULL)
			r->pulled++;
	}
	rc = kp_store_commit(p->st);
	intx = 0;
	if (rc == KP_OK)
		kp_store_flush(p->st);	/* keys it expired */
out:
	if (intx)
		kp_store_rollback(p->st);
	free(rk);
	free(keys);
	free(seen);
	return rc;
}

/* Upload every created key that is still within its lifetime. */
static int
push_created(struct kp_pool *p, struct kp_sync_report *r)
{
	struct kp_key	*keys = NULL;
	size_t		 n;
	int		 rc;

	if ((rc = kp_store_list(p->st, KP_STATE_CREATED, &keys, &n)) != KP_OK)
		return rc;
	rc = kp_pool_upload(p, keys, n, 1, r ? &r->uploaded : NULL,
	    r ? &r->expired : NULL);
	free(keys);
	return rc;
}

static int
sync_once(struct kp_pool *p, struct kp_sync_report *r)
{
	uint8_t	*gone = NULL;
	size_t	 ngone = 0;
	char	 v[32];
	int	 rc;

	if ((rc = kp_pool_need_server(p)) != KP_OK)
		goto out;
	rc = pull(p, r, &gone, &ngone);
	if (rc == KP_EAUTH && p->registered) {
		/* the server forgot us (its database was reset): again */
		free(gone);
		gone = NULL;
		p->registered = 0;
		if ((rc = kp_pool_register(p)) == KP_OK)
			rc = pull(p, r, &gone, &ngone);
	}
	if (rc != KP_OK)
		goto out;
	if (r != NULL)
		r->online = 1;
	if ((rc = retire(p, gone, ngone)) != KP_OK)
		goto out;
	if ((rc = push_created(p, r)) != KP_OK)
		goto out;
	(void)snprintf(v, sizeof(v), "%lld", (long long)kp_pool_now(p));
	rc = kp_store_setting_set(p->st, "last_sync", v);
out:
	free(gone);
	return rc;
}

/* kp_pool_sync: pull the server's view of our keys, push created ones. */
int
kp_pool_sync(struct kp_pool *p, struct kp_sync_report *r)
{
	int	rc;

	KP_POOL_CALL(p);
	if (r != NULL)
		memset(r, 0, sizeof(*r));
	rc = sync_once(p, r);
	kp_store_flush(p->st);
	return rc;
}

/*
 * kp_pool_refresh: expire, sync, replenish to target when available keys
 * fell under the low watermark, and keep one last-resort key published.
 */
int
kp_pool_refresh(struct kp_pool *p, struct kp_sync_report *r)
{
	struct kp_sync_report	 rep;
	struct kp_policy	 pol;
	struct kp_counts	 c;
	uint32_t		 made;
	int			 rc;

	KP_POOL_CALL(p);
	memset(&rep, 0, sizeof(rep));
	if ((rc = expire(p, &rep)) != KP_OK)
		goto out;
	if ((rc = sync_once(p, &rep)) != KP_OK)
		goto out;
	/* counted where it is made: another handle may have made keys */
	if ((rc = kp_pool_make(p, 0, 0, 1, &made)) != KP_OK)
		goto out;
	rep.generated += made;
	if ((rc = kp_policy_load(p->st, &pol)) != KP_OK)
		goto out;
	if (pol.last_resort) {
		if ((rc = kp_store_counts(p->st, pol.suite, 1, &c)) != KP_OK)
			goto out;
		if (c.n[KP_STATE_CREATED] + c.n[KP_STATE_AVAILABLE] +
		    c.n[KP_STATE_RESERVED] == 0) {
			if ((rc = kp_pool_make(p, 1, 1, 0, NULL)) != KP_OK)
				goto out;
			rep.generated++;
		}
	}
	if (rep.generated > 0)
		rc = push_created(p, &rep);
out:
	kp_store_flush(p->st);	/* the wipes of this pass, if not done */
	if (r != NULL)
		*r = rep;
	return rc;
}
