/* SPDX-License-Identifier: ISC */
/*
 * remote.c: the pool's conversation with its server: the client and
 * registration, the net result of each call (health: did the server
 * answer?), the owner's moves that ask the server first, uploads and
 * retirements.  Every function here runs with the net lock held (see
 * pool.h) and takes the store lock only around the store work between
 * two calls, never across one.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "kpool.h"
#include "client.h"
#include "pool.h"
#include "state.h"
#include "store.h"
#include "view.h"

#define CONNECT_MS	2000
#define TOTAL_MS	15000
#define CAFILE_SETTING	"cafile"	/* the store's CA file, "" none */

void
kp_remote_drop(struct kp_pool *p)
{
	kp_client_free(p->client);
	p->client = NULL;
}

/* No answer came, or none to trust: the server is away or broken, or
 * its certificate does not verify (health: offline). */
static int
is_offline_error(int rc)
{
	return rc == KP_ENET || rc == KP_ESERVER || rc == KP_ETLS;
}

int
kp_pool_set_cafile(struct kp_pool *p, const char *path)
{
	char	v[KP_MAX_URL + 1];
	int	rc, found = 0;

	kp_pool_begin(p);
	if (path != NULL && (path[0] != '/' || strlen(path) > KP_MAX_URL))
		return kp_pool_end(p, kp_pool_err(p, KP_EINVAL, "the CA file "
		    "must be an absolute path of at most %d bytes",
		    KP_MAX_URL));
	if (path != NULL && access(path, R_OK) != 0)
		return kp_pool_end(p, kp_pool_err(p, KP_EIO, "CA file %s: %s",
		    path, strerror(errno)));
	pthread_mutex_lock(&p->nlock);
	kp_pool_lock(p);
	rc = kp_store_setting_get(p->st, CAFILE_SETTING, v, sizeof(v),
	    &found);
	if (rc == KP_OK && (!found || strcmp(v, path ? path : "") != 0))
		rc = kp_store_setting_set(p->st, CAFILE_SETTING,
		    path ? path : "");
	kp_pool_unlock(p);
	/* the next call makes a client that uses it */
	kp_remote_drop(p);
	pthread_mutex_unlock(&p->nlock);
	return kp_pool_end(p, rc);
}

int
kp_remote_tls(struct kp_pool *p, struct kp_client *c)
{
	char	v[KP_MAX_URL + 1];
	int	rc, found = 0;

	kp_pool_lock_read(p);
	rc = kp_store_setting_get(p->st, CAFILE_SETTING, v, sizeof(v),
	    &found);
	kp_pool_unlock(p);
	if (rc == KP_OK && found)
		rc = kp_client_set_cafile(c, v);
	return rc;
}

int
kp_remote_result(struct kp_pool *p, int rc, const char *what)
{
	int	failed = is_offline_error(rc), r;

	if (rc != KP_OK)
		(void)snprintf(kp_pool_msg(p), KP_ERRLEN, "%s: %s", what,
		    p->client ? kp_client_errmsg(p->client) : kp_strerror(rc));
	/* every time: another handle on the store may have said otherwise */
	kp_pool_lock(p);
	r = kp_store_setting_set(p->st, "last_call", failed ? "failed" :
	    "ok");
	kp_pool_unlock(p);
	if (r != KP_OK && rc == KP_OK)
		(void)snprintf(kp_pool_msg(p), KP_ERRLEN, "%s: could not "
		    "record the server's health", what);
	return rc;
}

/* Note the enrollment the server told of (slock taken here). */
static int
note_enrollment(struct kp_pool *p, const char *state)
{
	int	rc;

	kp_pool_lock(p);
	rc = kp_store_setting_set(p->st, "enrollment", state);
	if (rc == KP_OK && strcmp(state, "enrolled") == 0)
		rc = kp_store_identity_registered(p->st, kp_pool_now(p));
	kp_pool_unlock(p);
	return rc;
}

/*
 * Make sure the server knows our user, device and key.  A 409 is fine
 * only when the server already has our key: a signed request of ours
 * then succeeds.  A 403 enrollment_required leaves the device pending:
 * the next call asks again.
 */
static int
register_once(struct kp_pool *p)
{
	struct kp_remote_key	*keys = NULL;
	char			 b64[64];
	size_t			 n;
	int			 rc;

	if (p->registered)
		return KP_OK;
	rc = kp_client_register(p->client);
	if (rc == KP_ENOTENROLLED) {
		kp_remote_result(p, KP_OK, "register");	/* it answered */
		if ((rc = note_enrollment(p, "pending")) != KP_OK)
			return rc;
		sodium_bin2base64(b64, sizeof(b64), p->pub, sizeof(p->pub),
		    sodium_base64_VARIANT_ORIGINAL);
		return kp_pool_err(p, KP_ENOTENROLLED, "device \"%s\" of "
		    "\"%s\" is not enrolled: on an enrolled device run "
		    "echo \"enroll %s %s\" > MNT/ctl, or have the operator "
		    "run kpool-server device add %s %s %s", p->device, p->user,
		    p->device, b64, p->user, p->device, b64);
	}
	if (rc == KP_ECONFLICT) {
		rc = kp_client_mine(p->client, &keys, &n);
		free(keys);
		if (rc == KP_EAUTH || rc == KP_EFORBIDDEN) {
			kp_remote_result(p, KP_OK, "register");
			return kp_pool_err(p, KP_ECONFLICT, "register: the "
			    "user name \"%s\" (device \"%s\") is taken by "
			    "another key", p->user, p->device);
		}
	}
	if (rc != KP_OK)
		return kp_remote_result(p, rc, "register");
	if ((rc = note_enrollment(p, "enrolled")) != KP_OK)
		return rc;
	p->registered = 1;
	return KP_OK;
}

int
kp_remote_register(struct kp_pool *p)
{
	p->registered = 0;
	return register_once(p);
}

int
kp_remote_need(struct kp_pool *p)
{
	int	rc;

	if (p->url == NULL)
		return kp_pool_err(p, KP_ENET, "no server set (offline)");
	if (p->client == NULL) {
		if ((rc = kp_client_new(p->url, p->principal, p->seed,
		    &p->client)) != KP_OK || (rc = kp_remote_tls(p,
		    p->client)) != KP_OK) {
			kp_remote_drop(p);
			return kp_pool_err(p, rc, "client for %s: %s", p->url,
			    kp_strerror(rc));
		}
		kp_client_set_timeouts(p->client, CONNECT_MS, TOTAL_MS);
	}
	return register_once(p);
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
 * Apply what the server said of each key of one batch sent at now,
 * under slock.  Returns the first transient per-key failure
 * (KP_ESERVER, KP_EPROTO) after applying the rest, its message in
 * first; such a key stays created.
 */
static int
apply_batch(struct kp_pool *p, const struct kp_bundle *b, size_t m,
    const struct kp_upload_result *res, int64_t now, int expire_rejected,
    uint32_t *uploaded, uint32_t *expired, int *rejected, char *first)
{
	size_t		 j;
	int		 rc, transient = KP_OK;

	for (j = 0; j < m; j++) {
		if (res[j].accepted &&
		    memcmp(res[j].ref, b[j].key.ref, KP_REF_LEN) == 0) {
			rc = kp_store_set_state(p->st, b[j].key.ref,
			    KP_STATE_CREATED, KP_STATE_AVAILABLE, now);
			if (rc == KP_OK && uploaded != NULL)
				(*uploaded)++;
			else if (rc != KP_OK && rc != KP_ESTATE &&
			    rc != KP_ENOTFOUND)
				return rc;	/* not a lost race */
			continue;
		}
		(void)snprintf(kp_pool_msg(p), KP_ERRLEN, "upload: key %s "
		    "%s: %s%s%s", b[j].key.ref_hex,
		    is_refusal(&res[j]) ? "rejected" : "not stored",
		    res[j].accepted ? "the server derived another ref" :
		    res[j].code, res[j].message[0] ? ": " : "",
		    res[j].accepted ? "" : res[j].message);
		if (!is_refusal(&res[j])) {
			/* the server's trouble, not the key's: stays created */
			if (transient == KP_OK) {
				transient = res[j].error;
				(void)snprintf(first, KP_ERRLEN, "%s",
				    kp_pool_msg(p));
			}
			continue;
		}
		(*rejected)++;
		if (expire_rejected && kp_state_may(KP_STATE_CREATED,
		    KP_STATE_EXPIRED, KP_BY_SERVER) &&
		    kp_store_set_state(p->st, b[j].key.ref, KP_STATE_CREATED,
		    KP_STATE_EXPIRED, now) == KP_OK && expired != NULL)
			(*expired)++;
	}
	return transient;
}

/* Send one batch and apply what the server says of each key. */
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
	int			 rc;

	if (m == 0 || m > KP_MAX_BATCH)
		return KP_OK;
	if ((res = calloc(m, sizeof(*res))) == NULL)
		return kp_pool_err(p, KP_ENOMEM, "out of memory");
	for (j = 0; j < m; j++) {
		kps[j] = b[j].keypackage;
		lens[j] = b[j].keypackage_len;
	}
	rc = kp_client_upload(p->client, kps, lens, m, res);
	if (kp_remote_result(p, rc, "upload") != KP_OK)
		goto out;
	kp_pool_lock(p);
	rc = apply_batch(p, b, m, res, now, expire_rejected, uploaded,
	    expired, rejected, first);
	kp_pool_unlock(p);
	if (rc == KP_ESERVER || rc == KP_EPROTO) {
		kp_remote_result(p, rc, "upload");	/* health: offline */
		(void)snprintf(kp_pool_msg(p), KP_ERRLEN, "%s", first);
	}
out:
	free(res);
	return rc;
}

/* Load the keys of refs that are still created, up to KP_MAX_BATCH. */
static int
load_batch(struct kp_pool *p, const uint8_t *refs, size_t n, size_t *i,
    struct kp_bundle *b, size_t *m)
{
	int	rc = KP_OK, found;

	*m = 0;
	kp_pool_lock(p);
	for (; *i < n && *m < KP_MAX_BATCH; (*i)++) {
		if ((rc = kp_store_load(p->st, refs + *i * KP_REF_LEN, 0,
		    &b[*m], &found)) != KP_OK)
			break;
		if (!found || b[*m].key.state != KP_STATE_CREATED) {
			kp_bundle_clear(&b[*m]);  /* another handle moved it */
			continue;
		}
		(*m)++;
	}
	kp_pool_unlock(p);
	return rc;
}

int
kp_remote_upload(struct kp_pool *p, const uint8_t *refs, size_t n,
    int expire_rejected, uint32_t *uploaded, uint32_t *expired)
{
	struct kp_bundle	*b = NULL;
	size_t			 i = 0, m = 0, j;
	int			 rc = KP_OK, rejected = 0;

	if (n == 0)
		return KP_OK;
	if ((b = calloc(KP_MAX_BATCH, sizeof(*b))) == NULL)
		return kp_pool_err(p, KP_ENOMEM, "out of memory");
	/* the keys must survive a power cut before anyone can get them */
	kp_pool_lock(p);
	rc = kp_store_checkpoint(p->st);
	kp_pool_unlock(p);
	while (rc == KP_OK && i < n) {
		if ((rc = load_batch(p, refs, n, &i, b, &m)) == KP_OK &&
		    m > 0)
			rc = upload_batch(p, b, m, expire_rejected, uploaded,
			    expired, &rejected);
		for (j = 0; j < m; j++)
			kp_bundle_clear(&b[j]);
	}
	if (rc == KP_OK && rejected > 0 && !expire_rejected)
		rc = KP_EREJECTED;
	for (j = 0; j < KP_MAX_BATCH; j++)
		kp_bundle_clear(&b[j]);
	free(b);
	return rc;
}

int
kp_remote_retire(struct kp_pool *p, const uint8_t *refs, size_t n)
{
	size_t	i;
	int	rc = KP_OK, r;

	for (i = 0; i < n; i++) {
		r = kp_client_retire(p->client, refs + i * KP_REF_LEN);
		if (r == KP_ENOTFOUND)
			r = KP_OK;
		kp_remote_result(p, r, "retire");
		if (r != KP_OK && rc == KP_OK)
			rc = r;
		if (is_offline_error(r))
			break;
	}
	return rc;
}

/* The owner reserves its own key k (to hold it). */
static int
reserve(struct kp_pool *p, struct kp_rec *k)
{
	struct kp_reserve_opts	o;
	struct kp_reservation	res;
	int			rc;

	memset(&res, 0, sizeof(res));
	/* a hold names no group: no Welcome is accepted for it */
	memset(&o, 0, sizeof(o));
	o.ref = k->ref;
	rc = kp_client_reserve(p->client, p->user, &o, &res);
	if (kp_remote_result(p, rc, "reserve") == KP_ECONFLICT ||
	    rc == KP_EEXHAUSTED)
		return kp_pool_err(p, KP_EBUSY, "reserve: %s is not "
		    "available on the server", k->ref_hex);
	if (rc != KP_OK)
		return rc;
	if (memcmp(res.ref, k->ref, KP_REF_LEN) != 0) {
		/* give it back; the error below says what went on */
		if (kp_client_release(p->client, res.ref) != KP_OK)
			kp_remote_result(p, KP_OK, "release");
		kp_reservation_free(&res);
		return kp_pool_err(p, KP_EPROTO, "reserve: the server "
		    "handed out another key than %s", k->ref_hex);
	}
	memcpy(k->reservation_id, res.reservation_id,
	    sizeof(k->reservation_id));
	k->reservation_expires_at = res.expires_at;
	(void)snprintf(k->reserved_by, sizeof(k->reserved_by), "%s",
	    p->principal);
	kp_reservation_free(&res);
	return KP_OK;
}

/*
 * The owner spends its own key k, naming the group kp_pool_set_group
 * gave it (none: no Welcome is accepted for it), and notes what the
 * server now records.
 */
static int
spend(struct kp_pool *p, struct kp_rec *k)
{
	struct kp_view	v;
	uint8_t		gid[KP_MAX_GROUP_ID];
	size_t		glen;
	int		rc;

	kp_pool_lock_read(p);
	rc = kp_view_get(p->st, k->ref, &v);
	kp_pool_unlock(p);
	if (rc != KP_OK)
		return rc;
	glen = v.owner_group_len;
	memcpy(gid, v.owner_group, glen);
	rc = kp_client_spend(p->client, k->ref, glen ? gid : NULL, glen);
	if (kp_remote_result(p, rc, "spend") == KP_ECONFLICT)
		return kp_pool_err(p, KP_EPERM, "spend: %s is already "
		    "spent", k->ref_hex);
	if (rc == KP_EGROUP)
		return kp_pool_err(p, KP_EGROUP, "spend: %s is reserved for "
		    "another group", k->ref_hex);
	if (rc != KP_OK)
		return rc;
	(void)snprintf(k->spent_by, sizeof(k->spent_by), "%s",
	    p->principal);
	memcpy(k->group_id, gid, glen);
	k->group_id_len = glen;
	memset(&v, 0, sizeof(v));
	v.state = KP_STATE_SPENT;
	v.last_resort = k->last_resort;
	(void)snprintf(v.by, sizeof(v.by), "%s", p->principal);
	memcpy(v.group_id, gid, glen);
	v.group_id_len = glen;
	v.seen_at = kp_pool_now(p);
	kp_pool_lock(p);
	if ((rc = kp_store_begin(p->st)) == KP_OK &&
	    (rc = kp_view_note(p->st, k->ref, &v)) == KP_OK)
		rc = kp_store_commit(p->st);
	kp_store_rollback(p->st);
	kp_pool_unlock(p);
	return rc;
}

int
kp_remote_move(struct kp_pool *p, struct kp_rec *k, int to)
{
	uint32_t	uploaded = 0;
	int		rc;

	switch (kp_state_call(k->state, to)) {
	case KP_CALL_UPLOAD:
		if ((rc = kp_remote_upload(p, k->ref, 1, 0, &uploaded,
		    NULL)) != KP_OK)
			return rc;
		if (uploaded == 0)
			return kp_pool_err(p, KP_ESTATE, "key %s moved while "
			    "it was uploaded", k->ref_hex);
		return KP_OK;
	case KP_CALL_RELEASE:
		rc = kp_client_release(p->client, k->ref);
		if (kp_remote_result(p, rc, "release") == KP_EFORBIDDEN)
			return kp_pool_err(p, KP_EPERM, "release: another "
			    "user holds the reservation of %s", k->ref_hex);
		return rc;
	case KP_CALL_RESERVE:
		return reserve(p, k);
	case KP_CALL_SPEND:
		return spend(p, k);
	case KP_CALL_RETIRE:
		rc = kp_client_retire(p->client, k->ref);
		if (rc == KP_ENOTFOUND)
			rc = KP_OK;	/* the server has forgotten it */
		return kp_remote_result(p, rc, "retire");
	}
	return kp_pool_err(p, KP_ESTATE, "no such move");
}
