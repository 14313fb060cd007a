/* SPDX-License-Identifier: ISC */
/*
 * authz.c: who may make us open a Welcome.  A Welcome names one of our
 * keys and a group, and anyone who holds the public KeyPackage can make
 * one; the server is the authority on who took the key and for which
 * group.  So a Welcome is accepted only when the server records a live
 * reservation or a spend of the key (or, for a last-resort key, its
 * latest handing out) that named the Welcome's very group_id.  The
 * server is asked at that moment (GET /keypackages/mine/{ref}); when it
 * cannot be reached, the view of the last sync decides (view.c).
 */

#include <pthread.h>
#include <string.h>

#include "kpool.h"
#include "pool.h"
#include "rec.h"
#include "view.h"

/* Does the server's record v let a key be joined to a group at all? */
static int
recorded(const struct kp_view *v)
{
	if (v->state == KP_STATE_RESERVED || v->state == KP_STATE_SPENT)
		return 1;
	/* a last-resort key stays available: its latest handing out */
	return v->last_resort && v->state == KP_STATE_AVAILABLE &&
	    v->by[0] != '\0';
}

/* The authorization of a Welcome of group gid by the record v. */
static int
record_allows(struct kp_pool *p, const struct kp_rec *k,
    const struct kp_view *v, const uint8_t *gid, size_t len, int online)
{
	const char	*src = online ? "the server" :
	    "the last sync (offline)";
	const char	*what = v->state == KP_STATE_SPENT ? "spend" :
	    "reservation";

	if (!recorded(v))
		return kp_pool_err(p, KP_ENOTRESERVED, "welcome for %s: %s "
		    "records no reservation or spend of this key (%s); a "
		    "Welcome from someone who did not reserve it is refused",
		    k->ref_hex, src, v->state < 0 ? "no such key" :
		    kp_state_name(v->state));
	if (v->group_id_len == 0)
		return kp_pool_err(p, KP_EGROUP, "welcome for %s: the %s %s "
		    "records (by %s) named no group", k->ref_hex, what, src,
		    v->by[0] ? v->by : "?");
	if (v->group_id_len != len || memcmp(v->group_id, gid, len) != 0)
		return kp_pool_err(p, KP_EGROUP, "welcome for %s: it is for "
		    "another group than the %s %s records (by %s)", k->ref_hex,
		    what, src, v->by[0] ? v->by : "?");
	return KP_OK;
}

/*
 * kp_authz_welcome: may a Welcome of group gid (len bytes) be opened for
 * our key k?  Takes nlock, then slock for the stored view; none held on
 * entry.  KP_OK (*v: the server's record, *online: it was asked),
 * KP_ENOTRESERVED, KP_EGROUP, or the error of a server that answered
 * but not as it should; the message says which and why.
 */
int
kp_authz_welcome(struct kp_pool *p, const struct kp_rec *k,
    const uint8_t *gid, size_t len, struct kp_view *v, int *online)
{
	struct kp_remote_key	rk;
	int			rc;

	*online = 0;
	pthread_mutex_lock(&p->nlock);
	if ((rc = kp_remote_need(p)) == KP_OK) {
		rc = kp_client_mine_one(p->client, k->ref, &rk);
		if (rc == KP_ENOTFOUND)
			(void)kp_remote_result(p, KP_OK, "welcome check");
		else
			(void)kp_remote_result(p, rc, "welcome check");
	}
	pthread_mutex_unlock(&p->nlock);
	if (rc == KP_OK || rc == KP_ENOTFOUND) {
		*online = 1;
		kp_view_from(v, rc == KP_OK ? &rk : NULL, kp_pool_now(p));
	} else if (rc == KP_ENET || rc == KP_ESERVER) {
		kp_pool_lock_read(p);
		rc = kp_view_get(p->st, k->ref, v);
		kp_pool_unlock(p);
		if (rc != KP_OK)
			return rc;
	} else
		return rc;
	kp_pool_msg(p)[0] = '\0';
	return record_allows(p, k, v, gid, len, *online);
}

/* kp_pool_set_group: see kpool.h. */
int
kp_pool_set_group(struct kp_pool *p, const uint8_t ref[KP_REF_LEN],
    const uint8_t *gid, size_t len)
{
	struct kp_rec	k;
	int		rc;

	kp_pool_begin(p);
	if (len > KP_MAX_GROUP_ID)
		return kp_pool_end(p, kp_pool_err(p, KP_ETOOBIG, "a group_id "
		    "of %zu bytes (at most %d)", len, KP_MAX_GROUP_ID));
	kp_pool_lock(p);
	if ((rc = kp_store_begin(p->st)) != KP_OK)
		goto out;
	if ((rc = kp_store_rec(p->st, ref, &k)) != KP_OK)
		goto out;
	if (k.state != KP_STATE_AVAILABLE && k.state != KP_STATE_RESERVED) {
		rc = kp_pool_err(p, KP_ESTATE, "key %s is %s: only an "
		    "available or reserved key is spent by its owner",
		    k.ref_hex, kp_state_name(k.state));
		goto out;
	}
	if ((rc = kp_view_set_owner_group(p->st, ref, gid, len)) == KP_OK)
		rc = kp_store_commit(p->st);
out:
	kp_store_rollback(p->st);	/* no-op after COMMIT */
	kp_pool_unlock(p);
	return kp_pool_end(p, rc);
}

/* kp_pool_group: see kpool.h. */
int
kp_pool_group(struct kp_pool *p, const uint8_t ref[KP_REF_LEN],
    uint8_t gid[KP_MAX_GROUP_ID], size_t *len)
{
	struct kp_view	v;
	int		rc;

	kp_pool_begin(p);
	kp_pool_lock_read(p);
	rc = kp_view_get(p->st, ref, &v);
	kp_pool_unlock(p);
	*len = rc == KP_OK ? v.owner_group_len : 0;
	memcpy(gid, v.owner_group, *len);
	return kp_pool_end(p, rc);
}
