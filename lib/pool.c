/* SPDX-License-Identifier: ISC */
/*
 * pool.c: one device's local pool: open (identity), policy and config,
 * keys, counts, status, generation, transitions, deletion, Welcome and
 * take.  Each public function runs between kp_pool_begin and
 * kp_pool_end (handle.c) and takes the store lock around its store
 * work; a transition that asks the server holds the net lock from the
 * question to the record of the answer (pool.h).
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "kpool.h"
#include "policy.h"
#include "pool.h"
#include "state.h"
#include "store.h"
#include "view.h"
#include "util.h"

/*
 * Load the identity, or make one for user and device (NULL: the
 * default) in a new store.  slock.
 */
static int
load_identity(struct kp_pool *p, const char *user, const char *device)
{
	uint8_t	sk[crypto_sign_SECRETKEYBYTES];
	char	stored[KP_MAX_USERNAME + 1], dev[KP_MAX_DEVICE + 1];
	int	rc, found = 0, registered = 0;

	if ((rc = kp_store_begin(p->st)) != KP_OK)
		return rc;
	if ((rc = kp_store_identity_get(p->st, stored, dev, p->pub, p->seed,
	    &registered, &found)) != KP_OK)
		goto out;
	if (found) {
		if (user != NULL && strcmp(user, stored) != 0) {
			rc = kp_pool_err(p, KP_EINVAL, "the store belongs to "
			    "user \"%s\", not \"%s\"", stored, user);
			goto out;
		}
		if (device != NULL && strcmp(device, dev) != 0) {
			rc = kp_pool_err(p, KP_EINVAL, "the store belongs to "
			    "device \"%s\", not \"%s\"", dev, device);
			goto out;
		}
		memcpy(p->user, stored, sizeof(stored));
		memcpy(p->device, dev, sizeof(dev));
		p->registered = registered;
		/* a store registered before enrollment was told */
		if (registered)
			rc = kp_store_setting_set(p->st, "enrollment",
			    "enrolled");
		goto out;
	}
	if (user == NULL) {
		rc = kp_pool_err(p, KP_EINVAL, "a new store needs a user name");
		goto out;
	}
	randombytes_buf(p->seed, sizeof(p->seed));
	crypto_sign_seed_keypair(p->pub, sk, p->seed);
	(void)snprintf(p->user, sizeof(p->user), "%s", user);
	(void)snprintf(p->device, sizeof(p->device), "%s",
	    device != NULL ? device : KP_DEFAULT_DEVICE);
	rc = kp_store_identity_put(p->st, p->user, p->device, p->pub, p->seed,
	    kp_pool_now(p));
out:
	sodium_memzero(sk, sizeof(sk));
	if (rc == KP_OK && (rc = kp_principal(p->user, p->device,
	    p->principal, sizeof(p->principal))) != KP_OK)
		rc = kp_pool_err(p, KP_EDB, "the store's identity is damaged");
	if (rc != KP_OK) {
		kp_store_rollback(p->st);
		return rc;
	}
	if ((rc = kp_store_commit(p->st)) != KP_OK)
		return rc;
	/* a new identity must outlive a power cut: it gets registered */
	if (!found && (rc = kp_store_checkpoint(p->st)) != KP_OK)
		return rc;
	return kp_store_data_version(p->st, &p->data_version);
}

/*
 * kp_pool_open: see kpool.h.  user may be NULL for an existing store.  On
 * failure *out may still hold a handle for kp_errmsg(); close it.
 */
int
kp_pool_open(const char *dbpath, const char *keyfile, const char *user,
    const char *device, struct kp_pool **out)
{
	struct kp_pool	*p;
	char		*kf = NULL;
	int		 rc;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		*out = NULL;
		return KP_ENOMEM;
	}
	*out = p;
	kp_pool_set_clock(p, NULL, NULL);
	kp_pool_locks_init(p);
	kp_pool_begin(p);
	if (dbpath == NULL || *dbpath == '\0') {
		rc = kp_pool_err(p, KP_EINVAL, "no store path");
		goto out;
	}
	if (user != NULL && !kp_username_valid(user)) {
		rc = kp_pool_err(p, KP_EINVAL, "bad user name: 1 to %d of "
		    "A-Z a-z 0-9, and . _ - @ after the first",
		    KP_MAX_USERNAME);
		goto out;
	}
	if (device != NULL && !kp_devicename_valid(device)) {
		rc = kp_pool_err(p, KP_EINVAL, "bad device name: 1 to %d of "
		    "a-z 0-9, and . _ - after the first", KP_MAX_DEVICE);
		goto out;
	}
	if (keyfile == NULL) {
		if (asprintf(&kf, "%s.key", dbpath) < 0) {
			kf = NULL;
			rc = kp_pool_err(p, KP_ENOMEM, "out of memory");
			goto out;
		}
		keyfile = kf;
	}
	if (asprintf(&p->jpath, "%s-moves", dbpath) < 0) {
		p->jpath = NULL;
		rc = kp_pool_err(p, KP_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = kp_store_open(dbpath, keyfile, kp_pool_msg(p), KP_ERRLEN,
	    &p->st)) != KP_OK)
		goto out;
	kp_pool_lock(p);
	/* the moves a handle that died had batched (their wipes scrubbed),
	 * then who we are */
	if ((rc = kp_store_replay(p->st, p->jpath)) == KP_OK) {
		kp_store_flush(p->st);
		rc = load_identity(p, user, device);
	}
	kp_pool_unlock(p);
out:
	free(kf);
	if (rc != KP_OK) {
		kp_store_close(p->st);
		p->st = NULL;
		sodium_memzero(p->seed, sizeof(p->seed));
	}
	return kp_pool_end(p, rc);
}

/* kp_pool_close: close the store, wipe the identity; NULL is fine. */
void
kp_pool_close(struct kp_pool *p)
{
	if (p == NULL)
		return;
	kp_remote_drop(p);
	if (p->st != NULL) {	/* the last scrub's messages go to ours */
		kp_store_errbuf(p->st, kp_pool_msg(p), KP_ERRLEN);
		(void)kp_store_unjournal(p->st);
	}
	kp_store_close(p->st);
	free(p->jpath);
	free(p->url);
	sodium_memzero(p->seed, sizeof(p->seed));
	sodium_memzero(p->invite, sizeof(p->invite));
	kp_pool_locks_fini(p);
	kp_pool_forget(p);
	free(p);
}

/* kp_pool_user: the store's user name. */
const char *
kp_pool_user(const struct kp_pool *p)
{
	return p->user;
}

/* kp_pool_device: the store's device name. */
const char *
kp_pool_device(const struct kp_pool *p)
{
	return p->device;
}

/* kp_pool_principal: the device's principal (credential, keyid). */
const char *
kp_pool_principal(const struct kp_pool *p)
{
	return p->principal;
}

/* kp_pool_identity: the Ed25519 public key. */
void
kp_pool_identity(const struct kp_pool *p, uint8_t pub[KP_SIGN_PK_LEN])
{
	memcpy(pub, p->pub, KP_SIGN_PK_LEN);
}

/* kp_pool_set_observer: who hears of the changes made through p. */
void
kp_pool_set_observer(struct kp_pool *p,
    void (*fn)(void *arg, const uint8_t *ref, int from, int to), void *arg)
{
	pthread_mutex_lock(&p->slock);
	p->observer = fn;
	p->observer_arg = arg;
	pthread_mutex_unlock(&p->slock);
}

/* kp_pool_set_batching: journal local moves, commit them later. */
int
kp_pool_set_batching(struct kp_pool *p, int on)
{
	int	rc;

	kp_pool_begin(p);
	kp_pool_lock(p);
	rc = on ? kp_store_journal(p->st, p->jpath) :
	    kp_store_unjournal(p->st);
	kp_pool_unlock(p);
	return kp_pool_end(p, rc);
}

/* kp_pool_policy_get: the stored policy (defaults where unset). */
int
kp_pool_policy_get(struct kp_pool *p, struct kp_policy *out)
{
	int	rc;

	kp_pool_begin(p);
	kp_pool_lock_read(p);
	rc = kp_policy_load(p->st, out);
	kp_pool_unlock(p);
	return kp_pool_end(p, rc);
}

/* Store pol in one transaction.  slock. */
static int
policy_store(struct kp_pool *p, const struct kp_policy *pol)
{
	int	rc;

	if ((rc = kp_store_begin(p->st)) != KP_OK)
		return rc;
	if ((rc = kp_policy_save(p->st, pol)) != KP_OK) {
		kp_store_rollback(p->st);
		return rc;
	}
	return kp_store_commit(p->st);
}

/* kp_pool_policy_set: check and store a whole policy. */
int
kp_pool_policy_set(struct kp_pool *p, const struct kp_policy *in)
{
	int	rc;

	kp_pool_begin(p);
	if ((rc = kp_policy_check(in, kp_pool_msg(p), KP_ERRLEN)) != KP_OK)
		return kp_pool_end(p, rc);
	kp_pool_lock(p);
	rc = policy_store(p, in);
	kp_pool_unlock(p);
	return kp_pool_end(p, rc);
}

/* kp_pool_config_set: set one "key = value" setting of the policy. */
int
kp_pool_config_set(struct kp_pool *p, const char *key, const char *value)
{
	struct kp_policy	pol;
	int			rc;

	kp_pool_begin(p);
	if (key == NULL || value == NULL)
		return kp_pool_end(p, kp_pool_err(p, KP_EINVAL, "no setting"));
	kp_pool_lock(p);
	if ((rc = kp_store_begin(p->st)) != KP_OK)
		goto out;
	if ((rc = kp_policy_load(p->st, &pol)) != KP_OK ||
	    (rc = kp_policy_parse_set(&pol, key, value, kp_pool_msg(p),
	    KP_ERRLEN)) != KP_OK ||
	    (rc = kp_policy_save(p->st, &pol)) != KP_OK) {
		kp_store_rollback(p->st);
		goto out;
	}
	rc = kp_store_commit(p->st);
out:
	kp_pool_unlock(p);
	return kp_pool_end(p, rc);
}

/* kp_pool_config_text: the policy as "key = value\n" lines; free(*text). */
int
kp_pool_config_text(struct kp_pool *p, char **text)
{
	struct kp_policy	pol;
	int			rc;

	kp_pool_begin(p);
	*text = NULL;
	kp_pool_lock_read(p);
	rc = kp_policy_load(p->st, &pol);
	kp_pool_unlock(p);
	if (rc == KP_OK && (rc = kp_policy_text(&pol, text)) != KP_OK)
		rc = kp_pool_err(p, rc, "out of memory");
	return kp_pool_end(p, rc);
}

/* kp_pool_counts: keys of suite (0: all) per state, last-resort keys
 * included. */
int
kp_pool_counts(struct kp_pool *p, uint16_t suite, struct kp_counts *out)
{
	int	rc;

	kp_pool_begin(p);
	kp_pool_lock_read(p);
	if ((rc = kp_store_apply(p->st)) == KP_OK)
		rc = kp_store_counts(p->st, suite, -1, out);
	kp_pool_unlock(p);
	return kp_pool_end(p, rc);
}

/* What kp_pool_list gathers. */
struct list {
	struct kp_pool	 *p;
	struct kp_key	**v;
	size_t		  n, cap;
};

static int
list_add(void *arg, const struct kp_rec *r)
{
	struct list	*l = arg;

	if (kp_grow(&l->v, &l->cap, l->n, sizeof(*l->v), 64) == -1 ||
	    kp_key_new(r, &l->v[l->n]) != KP_OK)
		return kp_pool_err(l->p, KP_ENOMEM, "out of memory");
	l->n++;
	return KP_OK;
}

/* kp_pool_list: keys in state (-1: all), oldest first. */
int
kp_pool_list(struct kp_pool *p, int state, struct kp_key ***keys, size_t *n)
{
	struct list	l;
	int		rc;

	kp_pool_begin(p);
	memset(&l, 0, sizeof(l));
	l.p = p;
	kp_pool_lock_read(p);
	if ((rc = kp_store_apply(p->st)) == KP_OK)
		rc = kp_store_each(p->st, state, list_add, &l);
	kp_pool_unlock(p);
	if (rc != KP_OK) {
		kp_keys_free(l.v, l.n);
		l.v = NULL;
		l.n = 0;
	}
	*keys = l.v;
	*n = l.n;
	return kp_pool_end(p, rc);
}

/* kp_pool_key: one key's public record; KP_ENOTFOUND when missing. */
int
kp_pool_key(struct kp_pool *p, const uint8_t ref[KP_REF_LEN],
    struct kp_key **out)
{
	struct kp_rec	k;
	int		rc;

	kp_pool_begin(p);
	*out = NULL;
	kp_pool_lock_read(p);
	if ((rc = kp_store_rec(p->st, ref, &k)) == KP_OK)
		kp_store_overlay(p->st, &k);
	kp_pool_unlock(p);
	if (rc == KP_OK && (rc = kp_key_new(&k, out)) != KP_OK)
		rc = kp_pool_err(p, rc, "out of memory");
	return kp_pool_end(p, rc);
}

/* kp_pool_keypackage: the encoded KeyPackage of ref; free(*buf). */
int
kp_pool_keypackage(struct kp_pool *p, const uint8_t ref[KP_REF_LEN],
    uint8_t **buf, size_t *len)
{
	struct kp_bundle	b;
	int			rc;

	kp_pool_begin(p);
	*buf = NULL;
	*len = 0;
	kp_pool_lock_read(p);
	rc = kp_store_get(p->st, ref, 0, &b);
	kp_pool_unlock(p);
	if (rc == KP_OK) {
		*buf = b.keypackage;
		*len = b.keypackage_len;
		b.keypackage = NULL;
		kp_bundle_clear(&b);
	}
	return kp_pool_end(p, rc);
}

/* Delete a created, spent or expired key and wipe it.  slock. */
static int
delete_key(struct kp_pool *p, const uint8_t ref[KP_REF_LEN])
{
	struct kp_rec	k;
	int		rc;

	if ((rc = kp_store_begin(p->st)) != KP_OK)
		return rc;
	if ((rc = kp_store_rec(p->st, ref, &k)) != KP_OK)
		goto out;
	if (!kp_state_deletable(k.state)) {
		rc = kp_pool_err(p, KP_EBUSY, "key %s is %s: expire it first",
		    k.ref_hex, kp_state_name(k.state));
		goto out;
	}
	rc = kp_store_delete(p->st, ref);
out:
	if (rc != KP_OK) {
		kp_store_rollback(p->st);
		return rc;
	}
	if ((rc = kp_store_commit(p->st)) != KP_OK)
		return rc;
	kp_store_flush(p->st);
	return KP_OK;
}

/* kp_pool_delete: delete a created, spent or expired key and wipe it. */
int
kp_pool_delete(struct kp_pool *p, const uint8_t ref[KP_REF_LEN])
{
	int	rc;

	kp_pool_begin(p);
	kp_pool_lock(p);
	rc = delete_key(p, ref);
	kp_pool_unlock(p);
	return kp_pool_end(p, rc);
}

/* The status of the pool.  slock. */
static int
status(struct kp_pool *p, struct kp_status *out)
{
	struct kp_policy	pol;
	struct kp_counts	reg;
	char			v[32];
	int			rc, found, failed = 0;

	if ((rc = kp_policy_load(p->st, &pol)) != KP_OK ||
	    (rc = kp_store_counts(p->st, 0, -1, &out->counts)) != KP_OK ||
	    (rc = kp_store_counts(p->st, 0, 0, &reg)) != KP_OK)
		return rc;
	if ((rc = kp_store_setting_get(p->st, "last_sync", v, sizeof(v),
	    &found)) != KP_OK)
		return rc;
	if (found)
		out->last_sync = strtoll(v, NULL, 10);
	if ((rc = kp_store_setting_get(p->st, "last_call", v, sizeof(v),
	    &found)) != KP_OK)
		return rc;
	if (found && strcmp(v, "failed") == 0)
		failed = 1;
	if ((rc = kp_store_setting_get(p->st, "enrollment", v, sizeof(v),
	    &found)) != KP_OK)
		return rc;
	out->enrolled = !found ? -1 : strcmp(v, "enrolled") == 0;
	if (!p->has_server || failed)
		out->health = KP_HEALTH_OFFLINE;
	else if (reg.n[KP_STATE_AVAILABLE] == 0)
		out->health = KP_HEALTH_EMPTY;
	else if (reg.n[KP_STATE_AVAILABLE] < pol.low_watermark)
		out->health = KP_HEALTH_LOW;
	else
		out->health = KP_HEALTH_OK;
	return KP_OK;
}

/*
 * kp_pool_status: counts, health and the time of the last sync.  Health
 * is offline when no server is set or the last exchange with it, by any
 * handle on the store, got no answer.
 */
int
kp_pool_status(struct kp_pool *p, struct kp_status *out)
{
	int	rc;

	kp_pool_begin(p);
	memset(out, 0, sizeof(*out));
	kp_pool_lock_read(p);
	if ((rc = kp_store_apply(p->st)) == KP_OK)
		rc = status(p, out);
	kp_pool_unlock(p);
	return kp_pool_end(p, rc);
}

/* kp_pool_set_server: talk to url from now on; NULL means offline. */
int
kp_pool_set_server(struct kp_pool *p, const char *url)
{
	char	*u = NULL;

	kp_pool_begin(p);
	if (url != NULL) {
		if (strncmp(url, "http://", 7) != 0 &&
		    strncmp(url, "https://", 8) != 0)
			return kp_pool_end(p, kp_pool_err(p, KP_EINVAL,
			    "server URL must start with http:// or "
			    "https://"));
		if ((u = strdup(url)) == NULL)
			return kp_pool_end(p, kp_pool_err(p, KP_ENOMEM,
			    "out of memory"));
	}
	pthread_mutex_lock(&p->nlock);
	kp_remote_drop(p);
	free(p->url);
	p->url = u;
	kp_pool_lock(p);
	p->has_server = u != NULL;
	kp_pool_unlock(p);
	pthread_mutex_unlock(&p->nlock);
	return kp_pool_end(p, KP_OK);
}

/*
 * How many keys of suite kp_pool_make makes now: nreg regular ones and
 * nlr last-resort ones, from the request (n, last_resort) or, with
 * fill, from the policy and the counts.  In make's transaction.
 */
static int
make_count(struct kp_pool *p, const struct kp_policy *pol, uint16_t suite,
    uint32_t n, int last_resort, int fill, uint32_t *nreg, uint32_t *nlr)
{
	struct kp_counts	c, lr;
	uint64_t		live;
	int			rc;

	*nreg = last_resort ? 0 : n;
	*nlr = last_resort ? n : 0;
	if (fill != KP_FILL_NONE && pol->last_resort) {
		if ((rc = kp_store_counts(p->st, suite, 1, &lr)) != KP_OK)
			return rc;
		if (lr.n[KP_STATE_CREATED] + lr.n[KP_STATE_AVAILABLE] +
		    lr.n[KP_STATE_RESERVED] == 0)
			*nlr = 1;
	}
	if (last_resort)
		return KP_OK;	/* not held to the cap */
	if ((rc = kp_store_counts(p->st, suite, 0, &c)) != KP_OK)
		return rc;
	if (fill == KP_FILL_TARGET || (fill == KP_FILL_WATERMARK &&
	    kp_policy_should_replenish(pol, &c)))
		*nreg = kp_policy_needed(pol, &c);
	else if (fill != KP_FILL_NONE)
		*nreg = 0;
	live = (uint64_t)c.n[KP_STATE_CREATED] + c.n[KP_STATE_AVAILABLE] +
	    *nreg;
	if (live > pol->hard_cap)
		return kp_pool_err(p, KP_ETOOBIG, "%u more keys would make "
		    "%u created + available, over the hard cap of %u", *nreg,
		    c.n[KP_STATE_CREATED] + c.n[KP_STATE_AVAILABLE] + *nreg,
		    pol->hard_cap);
	return KP_OK;
}

/* Make one key as opts says and save it.  slock, in make's transaction. */
static int
make_one(struct kp_pool *p, const struct kp_kpopts *opts, int64_t now)
{
	struct kp_keypackage	*kp = NULL;
	struct kp_bundle	 b;
	uint8_t			*buf = NULL;
	size_t			 len;
	int			 rc;

	memset(&b, 0, sizeof(b));
	if ((rc = kp_keypackage_generate(opts, p->seed, &buf, &len,
	    b.key.ref, &b.sec)) != KP_OK) {
		rc = kp_pool_err(p, rc, "generate: %s", kp_strerror(rc));
		goto out;
	}
	if (!p->have_cred_hash) {
		if ((rc = kp_keypackage_decode(buf, len, 0, &kp)) != KP_OK) {
			rc = kp_pool_err(p, rc, "decode: %s", kp_strerror(rc));
			goto out;
		}
		kp_credential_hash(kp, p->cred_hash);
		kp_keypackage_free(kp);
		p->have_cred_hash = 1;
	}
	kp_hex(b.key.ref, KP_REF_LEN, b.key.ref_hex);
	b.key.state = KP_STATE_CREATED;
	b.key.suite = opts->suite;
	b.key.last_resort = opts->last_resort;
	b.key.has_private = 1;
	b.key.created_at = b.key.changed_at = now;
	b.key.created_ns = b.key.changed_ns = -1;	/* the store's stamp */
	b.key.not_before = (int64_t)opts->not_before;
	b.key.not_after = (int64_t)opts->not_after;
	b.key.epoch = -1;
	memcpy(b.key.credential_hash, p->cred_hash, 32);
	b.credential_type = KP_CRED_BASIC;
	b.keypackage = buf;
	b.keypackage_len = len;
	rc = kp_store_save(p->st, &b);
out:
	sodium_memzero(&b.sec, sizeof(b.sec));
	free(buf);
	return rc;
}

/*
 * Make what make_count says of suite under pol at now, in the open
 * transaction; *made counts them.  slock.
 */
static int
make_suite(struct kp_pool *p, const struct kp_policy *pol, uint16_t suite,
    uint32_t n, int last_resort, int fill, int64_t now, uint32_t *made)
{
	struct kp_kpopts	opts;
	uint32_t		nreg = 0, nlr = 0, i;
	int			rc;

	if ((rc = make_count(p, pol, suite, n, last_resort, fill, &nreg,
	    &nlr)) != KP_OK)
		return rc;
	kp_policy_kpopts(pol, suite, &opts);
	opts.identity = (const uint8_t *)p->principal;
	opts.identity_len = strlen(p->principal);
	opts.not_before = (uint64_t)(now > 3600 ? now - 3600 : 0);
	opts.not_after = (uint64_t)(now + pol->lifetime);
	for (i = 0; i < nreg + nlr; i++) {
		opts.last_resort = i >= nreg;
		if ((rc = make_one(p, &opts, now)) != KP_OK)
			return rc;
		(*made)++;
	}
	return KP_OK;
}

int
kp_pool_make(struct kp_pool *p, uint32_t n, int last_resort, int fill,
    uint32_t *made)
{
	struct kp_policy	pol;
	int64_t			now = kp_pool_now(p);	/* not under slock */
	uint32_t		m = 0, i;
	int			rc;

	if (made != NULL)
		*made = 0;
	if (n == 0 && fill == KP_FILL_NONE)
		return KP_OK;
	if (last_resort && n > 1)
		return kp_pool_err(p, KP_ETOOBIG, "one last-resort key at a "
		    "time");
	kp_pool_lock(p);
	if ((rc = kp_store_begin(p->st)) != KP_OK)
		goto out;
	if ((rc = kp_policy_load(p->st, &pol)) != KP_OK)
		goto out;
	/* a fill keeps every suite; n keys are of the first */
	for (i = 0; i < (fill != KP_FILL_NONE ? pol.nsuites : 1); i++)
		if ((rc = make_suite(p, &pol, pol.suites[i], n, last_resort,
		    fill, now, &m)) != KP_OK)
			goto out;
	if ((rc = kp_store_commit(p->st)) == KP_OK && made != NULL)
		*made = m;	/* a failed COMMIT rolls back */
out:
	kp_store_rollback(p->st);	/* no-op after COMMIT */
	kp_pool_unlock(p);
	return rc;
}

/*
 * kp_pool_generate: make n keys in state created, in one transaction,
 * in the policy's first suite and its lifetime.  Regular keys stop at
 * the hard cap on created + available of the suite (KP_ETOOBIG); a
 * last-resort key is made one at a time (n > 1 is KP_ETOOBIG) and is
 * not held to the cap.
 */
int
kp_pool_generate(struct kp_pool *p, uint32_t n, int last_resort)
{
	kp_pool_begin(p);
	return kp_pool_end(p, kp_pool_make(p, n, last_resort, 0, NULL));
}

/*
 * kp_pool_ask_move: the owner's move of ref from from to to that asks
 * the server first: the key must be in from and the move the owner's;
 * its call to the server, then the record of the answer.  nlock.
 */
int
kp_pool_ask_move(struct kp_pool *p, const uint8_t ref[KP_REF_LEN], int from,
    int to)
{
	struct kp_rec	k;
	int		rc;

	kp_pool_lock(p);
	rc = kp_store_rec(p->st, ref, &k);
	kp_pool_unlock(p);
	if (rc != KP_OK)
		return rc;
	if (k.state != from)
		return kp_pool_err(p, KP_ESTATE, "key %s is %s, not %s",
		    k.ref_hex, kp_state_name(k.state), kp_state_name(from));
	if (!kp_state_may(from, to, KP_BY_OWNER))
		return kp_pool_err(p, KP_ESTATE, "a key cannot move from %s "
		    "to %s", kp_state_name(from), kp_state_name(to));
	if ((rc = kp_remote_need(p)) != KP_OK ||
	    (rc = kp_remote_move(p, &k, to)) != KP_OK)
		return rc;
	if (kp_state_call(from, to) == KP_CALL_UPLOAD)
		return KP_OK;	/* the upload recorded it */
	kp_pool_lock(p);
	kp_rec_move(&k, to, kp_pool_now(p));
	rc = kp_store_update(p->st, &k, from);
	kp_pool_unlock(p);
	return rc;
}

/*
 * kp_pool_transition: move a key, asking the server first when the move
 * has a call (state.c).  Without a server only the local moves work
 * (KP_ENET otherwise).
 */
int
kp_pool_transition(struct kp_pool *p, const uint8_t ref[KP_REF_LEN],
    int from, int to)
{
	int	rc;

	kp_pool_begin(p);
	if (kp_state_name(from) == NULL || kp_state_name(to) == NULL)
		return kp_pool_end(p, kp_pool_err(p, KP_EINVAL, "bad state"));
	if (kp_state_may(from, to, KP_BY_OWNER) &&
	    kp_state_call(from, to) == KP_CALL_NONE) {
		/* a local move: one compare-and-set, batched or not */
		kp_pool_lock_read(p);
		rc = kp_store_move_later(p->st, ref, from, to,
		    kp_pool_now(p));
		kp_pool_unlock(p);
		return kp_pool_end(p, rc);
	}
	pthread_mutex_lock(&p->nlock);
	rc = kp_pool_ask_move(p, ref, from, to);
	pthread_mutex_unlock(&p->nlock);
	return kp_pool_end(p, rc);
}

/*
 * The key of a Welcome: the first of its n refs we hold private keys
 * for, into *b with them.  KP_ENOTFOUND when the keys' private keys are
 * gone, KP_ENOTOURS when none is ours.  slock.
 */
static int
welcome_key(struct kp_pool *p, const uint8_t *refs, size_t n,
    struct kp_bundle *b)
{
	size_t	i;
	int	rc, found, wiped = 0;

	for (i = 0; i < n; i++) {
		if ((rc = kp_store_load(p->st, refs + i * KP_REF_LEN, 1, b,
		    &found)) != KP_OK)
			return rc;
		if (found && b->key.has_private)
			return KP_OK;
		wiped |= found;
		kp_bundle_clear(b);
	}
	return wiped ? kp_pool_err(p, KP_ENOTFOUND, "welcome: the private "
	    "keys of its key are gone (taken or expired)") :
	    kp_pool_err(p, KP_ENOTOURS, "welcome: it is for none of our keys");
}

/*
 * Record an opened Welcome for ref in one transaction, with the server's
 * record v that authorized it when the server was asked (online).  slock.
 */
static int
welcome_record(struct kp_pool *p, const uint8_t ref[KP_REF_LEN],
    const struct kp_welcome_info *info, const struct kp_view *v, int online)
{
	struct kp_rec	k;
	int		rc, from;

	if ((rc = kp_store_begin(p->st)) != KP_OK)
		return rc;
	if ((rc = kp_store_rec(p->st, ref, &k)) != KP_OK)
		goto out;
	from = k.state;
	switch (rc = kp_rec_welcome(&k, info->group_id, info->group_id_len,
	    info->epoch, kp_pool_now(p))) {
	case KP_WELCOME_RECORDED:
		if ((rc = kp_store_update(p->st, &k, from)) != KP_OK ||
		    (online && (rc = kp_view_note(p->st, ref, v)) != KP_OK))
			goto out;
		return kp_store_commit(p->st);
	case KP_WELCOME_AGAIN:
		rc = KP_OK;
		break;
	case KP_ESTATE:
		rc = kp_pool_err(p, rc, "welcome: %s expired", k.ref_hex);
		break;
	case KP_EPERM:
		rc = kp_pool_err(p, rc, "welcome: key %s already joined "
		    "another group or epoch (epoch %lld); a key joins one "
		    "group once", k.ref_hex, (long long)k.epoch);
		break;
	}
out:
	kp_store_rollback(p->st);
	return rc;
}

/*
 * kp_pool_welcome: open a Welcome for one of our keys with its stored
 * init key and the ratchet tree of its extension or tree (treelen
 * bytes, NULL for none), then have it authorized (authz.c: the server
 * records a reservation or spend of the key for the Welcome's group);
 * only then the key becomes spent with the group_id and epoch.  Once a
 * key's Welcome is recorded, one for the same group_id and epoch
 * succeeds and changes nothing, and one for another group or epoch is
 * refused and changes nothing.  A last-resort key keeps its state (it
 * may serve again) and records the group_id and epoch of its latest
 * Welcome.
 */
int
kp_pool_welcome(struct kp_pool *p, const uint8_t *msg, size_t len,
    const uint8_t *tree, size_t treelen, uint8_t ref[KP_REF_LEN],
    struct kp_welcome_info *info)
{
	struct kp_bundle	b;
	struct kp_view		v;
	uint8_t			*refs = NULL;
	size_t			 n = 0;
	int			 rc, opened = 0, online = 0;

	kp_pool_begin(p);
	memset(&b, 0, sizeof(b));
	memset(info, 0, sizeof(*info));
	if ((rc = kp_welcome_refs(msg, len, &refs, &n)) != KP_OK) {
		rc = kp_pool_err(p, rc, "welcome: %s", kp_strerror(rc));
		goto out;
	}
	kp_pool_lock_read(p);
	rc = welcome_key(p, refs, n, &b);
	kp_pool_unlock(p);
	if (rc != KP_OK)
		goto out;
	if ((rc = kp_welcome_open(msg, len, b.keypackage, b.keypackage_len,
	    b.sec.init_priv, tree, treelen, 0, info)) != KP_OK) {
		rc = kp_pool_err(p, rc, "welcome for %s: %s", b.key.ref_hex,
		    kp_strerror(rc));
		goto out;
	}
	opened = 1;
	if (info->group_id_len > KP_MAX_GROUP_ID) {
		rc = kp_pool_err(p, KP_ETOOBIG, "welcome: group_id of %zu "
		    "bytes", info->group_id_len);
		goto out;
	}
	if ((rc = kp_authz_welcome(p, &b.key, info->group_id,
	    info->group_id_len, &v, &online)) != KP_OK)
		goto out;
	/* record it against the key's current state */
	kp_pool_lock(p);
	rc = welcome_record(p, b.key.ref, info, &v, online);
	kp_pool_unlock(p);
	if (rc == KP_OK)
		memcpy(ref, b.key.ref, KP_REF_LEN);
out:
	if (rc != KP_OK && opened)
		kp_welcome_info_free(info);
	kp_bundle_clear(&b);
	free(refs);
	return kp_pool_end(p, rc);
}

/* Hand the private keys of ref to out and wipe them.  slock. */
static int
take(struct kp_pool *p, const uint8_t ref[KP_REF_LEN],
    struct kp_kpsecrets *out)
{
	struct kp_bundle	b;
	int			rc, wiped;

	if ((rc = kp_store_begin(p->st)) != KP_OK)
		return rc;
	if ((rc = kp_store_get(p->st, ref, 1, &b)) != KP_OK)
		goto out;
	if (!b.key.has_private) {
		rc = kp_pool_err(p, KP_ENOTFOUND, "the private keys of %s are "
		    "gone (taken or expired)", b.key.ref_hex);
		goto out;
	}
	if (b.key.state != KP_STATE_SPENT && !b.key.last_resort) {
		rc = kp_pool_err(p, KP_ESTATE, "key %s is %s: open its "
		    "Welcome first", b.key.ref_hex, kp_state_name(b.key.state));
		goto out;
	}
	if (!b.key.last_resort &&
	    (rc = kp_store_wipe(p->st, ref, &wiped)) != KP_OK)
		goto out;
	if ((rc = kp_store_commit(p->st)) != KP_OK)
		goto out;
	*out = b.sec;
	kp_store_flush(p->st);
out:
	kp_bundle_clear(&b);
	kp_store_rollback(p->st);	/* no-op after COMMIT */
	return rc;
}

/*
 * kp_pool_take: hand a spent key's private keys to the caller and wipe
 * them from the store.  A last-resort key hands them over and keeps
 * them (until its not_after: then expiry wipes them).  KP_ENOTFOUND
 * when they are gone, KP_ESTATE before the key's Welcome was opened.
 */
int
kp_pool_take(struct kp_pool *p, const uint8_t ref[KP_REF_LEN],
    struct kp_kpsecrets *out)
{
	int	rc;

	kp_pool_begin(p);
	memset(out, 0, sizeof(*out));
	kp_pool_lock(p);
	rc = take(p, ref, out);
	kp_pool_unlock(p);
	return kp_pool_end(p, rc);
}
