/* SPDX-License-Identifier: ISC */
/*
 * pool.c: one user's local pool: open (identity), policy and config,
 * listing, counts, status, generation, transitions, deletion, Welcome
 * and take.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "kpool.h"
#include "store.h"

/*
 * The group_id the owner uses to hold (reserve) and to spend one of its
 * own keys through kp_pool_transition: no MLS group is involved.
 */
#define OWNER_GROUP	"kpool-owner"
#define OWNER_GROUP_LEN	(sizeof(OWNER_GROUP) - 1)

static int64_t
real_now(void *arg)
{
	(void)arg;
	return (int64_t)time(NULL);
}

/* kp_pool_err: set the pool's message (printf) and return rc. */
int
kp_pool_err(struct kp_pool *p, int rc, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	(void)vsnprintf(p->errmsg, sizeof(p->errmsg), fmt, ap);
	va_end(ap);
	return rc;
}

/* Load the identity, or make one for user in a new store. */
static int
load_identity(struct kp_pool *p, const char *user)
{
	uint8_t	sk[crypto_sign_SECRETKEYBYTES];
	char	stored[KP_MAX_USERNAME + 1];
	int	rc, found, registered = 0;

	if ((rc = kp_store_begin(p->st)) != KP_OK)
		return rc;
	if ((rc = kp_store_identity_get(p->st, stored, p->pub, p->seed,
	    &registered, &found)) != KP_OK)
		goto out;
	if (found) {
		if (user != NULL && strcmp(user, stored) != 0) {
			rc = kp_pool_err(p, KP_EINVAL, "the store belongs to "
			    "user \"%s\", not \"%s\"", stored, user);
			goto out;
		}
		memcpy(p->user, stored, sizeof(stored));
		p->registered = registered;
		goto out;
	}
	if (user == NULL) {
		rc = kp_pool_err(p, KP_EINVAL, "a new store needs a user name");
		goto out;
	}
	randombytes_buf(p->seed, sizeof(p->seed));
	crypto_sign_seed_keypair(p->pub, sk, p->seed);
	(void)snprintf(p->user, sizeof(p->user), "%s", user);
	rc = kp_store_identity_put(p->st, p->user, p->pub, p->seed,
	    kp_pool_now(p));
out:
	sodium_memzero(sk, sizeof(sk));
	if (rc != KP_OK) {
		kp_store_rollback(p->st);
		return rc;
	}
	if ((rc = kp_store_commit(p->st)) != KP_OK)
		return rc;
	/* a new identity must outlive a power cut: it gets registered */
	return found ? KP_OK : kp_store_checkpoint(p->st);
}

/*
 * kp_pool_open: see kpool.h.  user may be NULL for an existing store.  On
 * failure *out may still hold a handle for kp_errmsg(); close it.
 */
int
kp_pool_open(const char *dbpath, const char *keyfile, const char *user,
    struct kp_pool **out)
{
	struct kp_pool	*p;
	char		*kf = NULL;
	int		 rc;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		*out = NULL;
		return KP_ENOMEM;
	}
	*out = p;
	p->now = real_now;
	if (dbpath == NULL || *dbpath == '\0') {
		rc = kp_pool_err(p, KP_EINVAL, "no store path");
		goto out;
	}
	if (user != NULL && !kp_username_valid(user)) {
		rc = kp_pool_err(p, KP_EINVAL, "bad user name: 1 to %d of "
		    "A-Z a-z 0-9, and . _ - @ after the first", KP_MAX_USERNAME);
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
	if ((rc = kp_store_open(dbpath, keyfile, p->errmsg, sizeof(p->errmsg),
	    &p->st)) != KP_OK)
		goto out;
	rc = load_identity(p, user);
out:
	free(kf);
	if (rc != KP_OK) {
		kp_store_close(p->st);
		p->st = NULL;
		sodium_memzero(p->seed, sizeof(p->seed));
	}
	return rc;
}

/* kp_pool_close: close the store, wipe the identity; NULL is fine. */
void
kp_pool_close(struct kp_pool *p)
{
	if (p == NULL)
		return;
	kp_pool_drop_client(p);
	kp_store_close(p->st);
	free(p->url);
	sodium_memzero(p->seed, sizeof(p->seed));
	free(p);
}

/* kp_errmsg: the last error's detail; never a secret. */
const char *
kp_errmsg(const struct kp_pool *p)
{
	if (p == NULL)
		return "out of memory";
	return p->errmsg;
}

/* kp_pool_user: the store's user name. */
const char *
kp_pool_user(const struct kp_pool *p)
{
	return p->user;
}

/* kp_pool_identity: the Ed25519 public key. */
void
kp_pool_identity(const struct kp_pool *p, uint8_t pub[KP_SIGN_PK_LEN])
{
	memcpy(pub, p->pub, KP_SIGN_PK_LEN);
}

/* kp_pool_set_clock: the clock for lifetimes and expiry (NULL: real). */
void
kp_pool_set_clock(struct kp_pool *p, int64_t (*now)(void *), void *arg)
{
	p->now = now != NULL ? now : real_now;
	p->now_arg = now != NULL ? arg : NULL;
}

/* kp_pool_now: the pool clock, unix seconds. */
int64_t
kp_pool_now(const struct kp_pool *p)
{
	return p->now(p->now_arg);
}

/* kp_pool_policy_get: the stored policy (defaults where unset). */
int
kp_pool_policy_get(struct kp_pool *p, struct kp_policy *out)
{
	KP_POOL_CALL(p);
	return kp_policy_load(p->st, out);
}

/* kp_pool_policy_set: check and store a whole policy. */
int
kp_pool_policy_set(struct kp_pool *p, const struct kp_policy *in)
{
	int	rc;

	KP_POOL_CALL(p);
	if ((rc = kp_policy_check(in, p->errmsg, sizeof(p->errmsg))) != KP_OK)
		return rc;
	if ((rc = kp_store_begin(p->st)) != KP_OK)
		return rc;
	if ((rc = kp_policy_save(p->st, in)) != KP_OK) {
		kp_store_rollback(p->st);
		return rc;
	}
	return kp_store_commit(p->st);
}

/* kp_pool_config_set: set one "key = value" setting of the policy. */
int
kp_pool_config_set(struct kp_pool *p, const char *key, const char *value)
{
	struct kp_policy	pol;
	int			rc;

	KP_POOL_CALL(p);
	if (key == NULL || value == NULL)
		return kp_pool_err(p, KP_EINVAL, "no setting");
	if ((rc = kp_store_begin(p->st)) != KP_OK)
		return rc;
	if ((rc = kp_policy_load(p->st, &pol)) != KP_OK ||
	    (rc = kp_policy_parse_set(&pol, key, value, p->errmsg,
	    sizeof(p->errmsg))) != KP_OK ||
	    (rc = kp_policy_save(p->st, &pol)) != KP_OK) {
		kp_store_rollback(p->st);
		return rc;
	}
	return kp_store_commit(p->st);
}

/* kp_pool_config_text: the policy as "key = value\n" lines; free(*text). */
int
kp_pool_config_text(struct kp_pool *p, char **text)
{
	struct kp_policy	pol;
	int			rc;

	KP_POOL_CALL(p);
	*text = NULL;
	if ((rc = kp_policy_load(p->st, &pol)) != KP_OK)
		return rc;
	if ((rc = kp_policy_text(&pol, text)) != KP_OK)
		return kp_pool_err(p, rc, "out of memory");
	return KP_OK;
}

/* kp_pool_counts: keys per state, last-resort keys included. */
int
kp_pool_counts(struct kp_pool *p, struct kp_counts *out)
{
	KP_POOL_CALL(p);
	return kp_store_counts(p->st, 0, -1, out);
}

/* kp_pool_list: keys in state (-1: all), oldest first; free(*keys). */
int
kp_pool_list(struct kp_pool *p, int state, struct kp_key **keys, size_t *n)
{
	KP_POOL_CALL(p);
	return kp_store_list(p->st, state, keys, n);
}

/* kp_pool_get: one key's public fields; KP_ENOTFOUND when missing. */
int
kp_pool_get(struct kp_pool *p, const uint8_t ref[KP_REF_LEN],
    struct kp_key *out)
{
	struct kp_bundle	b;
	int			rc;

	KP_POOL_CALL(p);
	if ((rc = kp_store_get(p->st, ref, 0, &b)) != KP_OK)
		return rc;
	*out = b.key;
	kp_bundle_clear(&b);
	return KP_OK;
}

/* kp_pool_load: like kp_pool_get, with *found = 0 for a missing key. */
int
kp_pool_load(struct kp_pool *p, const uint8_t ref[KP_REF_LEN],
    struct kp_key *out, int *found)
{
	struct kp_bundle	b;
	int			rc;

	KP_POOL_CALL(p);
	if ((rc = kp_store_load(p->st, ref, 0, &b, found)) != KP_OK)
		return rc;
	if (*found)
		*out = b.key;
	kp_bundle_clear(&b);
	return KP_OK;
}

/* kp_pool_keypackage: the encoded KeyPackage of ref; free(*buf). */
int
kp_pool_keypackage(struct kp_pool *p, const uint8_t ref[KP_REF_LEN],
    uint8_t **buf, size_t *len)
{
	struct kp_bundle	b;
	int			rc;

	KP_POOL_CALL(p);
	*buf = NULL;
	*len = 0;
	if ((rc = kp_store_get(p->st, ref, 0, &b)) != KP_OK)
		return rc;
	*buf = b.keypackage;
	*len = b.keypackage_len;
	b.keypackage = NULL;
	kp_bundle_clear(&b);
	return KP_OK;
}

/* kp_pool_delete: delete a created, spent or expired key and wipe it. */
int
kp_pool_delete(struct kp_pool *p, const uint8_t ref[KP_REF_LEN])
{
	struct kp_bundle	b;
	int			rc;

	KP_POOL_CALL(p);
	if ((rc = kp_store_begin(p->st)) != KP_OK)
		return rc;
	if ((rc = kp_store_get(p->st, ref, 0, &b)) != KP_OK)
		goto out;
	kp_bundle_clear(&b);
	if (b.key.state == KP_STATE_AVAILABLE ||
	    b.key.state == KP_STATE_RESERVED) {
		rc = kp_pool_err(p, KP_EBUSY, "key %s is %s: expire it first",
		    b.key.ref_hex, kp_state_name(b.key.state));
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

/* kp_pool_status: counts, health and the time of the last sync. */
int
kp_pool_status(struct kp_pool *p, struct kp_status *out)
{
	struct kp_policy	pol;
	struct kp_counts	reg;
	char			v[32];
	int			rc, found, failed = 0;

	KP_POOL_CALL(p);
	memset(out, 0, sizeof(*out));
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
	if (p->url == NULL || failed)
		out->health = KP_HEALTH_OFFLINE;
	else if (reg.n[KP_STATE_AVAILABLE] == 0)
		out->health = KP_HEALTH_EMPTY;
	else if (reg.n[KP_STATE_AVAILABLE] < pol.low_watermark)
		out->health = KP_HEALTH_LOW;
	else
		out->health = KP_HEALTH_OK;
	return KP_OK;
}

/* kp_pool_set_server: talk to url from now on; NULL means offline. */
int
kp_pool_set_server(struct kp_pool *p, const char *url)
{
	char	*u = NULL;

	KP_POOL_CALL(p);
	if (url != NULL) {
		if (strncmp(url, "http://", 7) != 0 &&
		    strncmp(url, "https://", 8) != 0)
			return kp_pool_err(p, KP_EINVAL, "server URL must "
			    "start with http:// or https://");
		if ((u = strdup(url)) == NULL)
			return kp_pool_err(p, KP_ENOMEM, "out of memory");
	}
	kp_pool_drop_client(p);
	free(p->url);
	p->url = u;
	return KP_OK;
}

/*
 * kp_pool_make: make n keys in state created, in one transaction, in
 * the policy's suite and lifetime (kp_pool_generate).  With fill, n is
 * what the policy wants (kp_policy_should_replenish, kp_policy_needed)
 * counted in the same transaction: a handle that reached the hard cap
 * first leaves nothing to make, which is success.  *made (when not NULL)
 * gets the number made.
 */
int
kp_pool_make(struct kp_pool *p, uint32_t n, int last_resort, int fill,
    uint32_t *made)
{
	struct kp_policy	 pol;
	struct kp_counts	 c;
	struct kp_kpopts	 opts;
	struct kp_keypackage	*kp = NULL;
	struct kp_bundle	 b;
	uint8_t			*buf = NULL;
	size_t			 len;
	int64_t			 now = kp_pool_now(p);
	uint32_t		 i;
	int			 rc;

	memset(&b, 0, sizeof(b));
	if (made != NULL)
		*made = 0;
	if (n == 0 && !fill)
		return KP_OK;
	if (last_resort && n > 1)
		return kp_pool_err(p, KP_ETOOBIG, "one last-resort key at a "
		    "time");
	if ((rc = kp_store_begin(p->st)) != KP_OK)
		return rc;
	if ((rc = kp_policy_load(p->st, &pol)) != KP_OK)
		goto out;
	if (!last_resort) {
		if ((rc = kp_store_counts(p->st, pol.suite, 0, &c)) != KP_OK)
			goto out;
		if (fill)
			n = kp_policy_should_replenish(&pol, &c) ?
			    kp_policy_needed(&pol, &c) : 0;
		if ((uint64_t)c.n[KP_STATE_CREATED] + c.n[KP_STATE_AVAILABLE] +
		    n > pol.hard_cap) {
			rc = kp_pool_err(p, KP_ETOOBIG, "%u more keys would "
			    "make %u created + available, over the hard cap "
			    "of %u", n, c.n[KP_STATE_CREATED] +
			    c.n[KP_STATE_AVAILABLE] + n, pol.hard_cap);
			goto out;
		}
	}
	memset(&opts, 0, sizeof(opts));
	opts.suite = pol.suite;
	opts.identity = (const uint8_t *)p->user;
	opts.identity_len = strlen(p->user);
	opts.not_before = (uint64_t)(now > 3600 ? now - 3600 : 0);
	opts.not_after = (uint64_t)(now + pol.lifetime);
	opts.last_resort = last_resort ? 1 : 0;
	for (i = 0; i < n; i++) {
		memset(&b, 0, sizeof(b));
		if ((rc = kp_keypackage_generate(&opts, p->seed, &buf, &len,
		    b.key.ref, &b.sec)) != KP_OK) {
			rc = kp_pool_err(p, rc, "generate: %s",
			    kp_strerror(rc));
			goto out;
		}
		if (!p->have_cred_hash) {
			if ((rc = kp_keypackage_decode(buf, len, 0, &kp)) !=
			    KP_OK) {
				rc = kp_pool_err(p, rc, "decode: %s",
				    kp_strerror(rc));
				goto out;
			}
			kp_credential_hash(kp, p->cred_hash);
			kp_keypackage_free(kp);
			kp = NULL;
			p->have_cred_hash = 1;
		}
		kp_hex(b.key.ref, KP_REF_LEN, b.key.ref_hex);
		b.key.state = KP_STATE_CREATED;
		b.key.suite = pol.suite;
		b.key.last_resort = opts.last_resort;
		b.key.has_private = 1;
		b.key.created_at = b.key.changed_at = now;
		b.key.not_before = (int64_t)opts.not_before;
		b.key.not_after = (int64_t)opts.not_after;
		b.key.epoch = -1;
		memcpy(b.key.credential_hash, p->cred_hash, 32);
		b.credential_type = KP_CRED_BASIC;
		b.keypackage = buf;
		b.keypackage_len = len;
		rc = kp_store_save(p->st, &b);
		sodium_memzero(&b.sec, sizeof(b.sec));
		free(buf);
		buf = NULL;
		if (rc != KP_OK)
			goto out;
	}
	if ((rc = kp_store_commit(p->st)) == KP_OK && made != NULL)
		*made = n;	/* a failed COMMIT rolls back */
out:
	sodium_memzero(&b.sec, sizeof(b.sec));
	free(buf);
	kp_store_rollback(p->st);	/* no-op after COMMIT */
	return rc;
}

/*
 * kp_pool_generate: make n keys in state created, in one transaction,
 * in the policy's suite and lifetime.  Regular keys stop at the hard cap
 * on created + available of the suite (KP_ETOOBIG); a last-resort key is
 * made one at a time (n > 1 is KP_ETOOBIG) and is not held to the cap.
 */
int
kp_pool_generate(struct kp_pool *p, uint32_t n, int last_resort)
{
	KP_POOL_CALL(p);
	return kp_pool_make(p, n, last_resort, 0, NULL);
}

/* The moves kp_pool_transition allows. */
static int
allowed(int from, int to)
{
	switch (from) {
	case KP_STATE_CREATED:
		return to == KP_STATE_AVAILABLE || to == KP_STATE_EXPIRED;
	case KP_STATE_AVAILABLE:
		return to == KP_STATE_RESERVED || to == KP_STATE_SPENT ||
		    to == KP_STATE_EXPIRED;
	case KP_STATE_RESERVED:
		return to == KP_STATE_AVAILABLE || to == KP_STATE_SPENT ||
		    to == KP_STATE_EXPIRED;
	default:
		return 0;
	}
}

/* Ask the server for the move of k to to; fill in what it tells. */
static int
server_move(struct kp_pool *p, struct kp_key *k, int to)
{
	struct kp_reservation	res;
	uint32_t		uploaded = 0;
	int			rc;

	memset(&res, 0, sizeof(res));
	if (k->state == KP_STATE_CREATED && to == KP_STATE_AVAILABLE) {
		if ((rc = kp_pool_upload(p, k, 1, 0, &uploaded, NULL)) !=
		    KP_OK)
			return rc;
		if (uploaded == 0)
			return kp_pool_err(p, KP_ESTATE, "key %s moved while "
			    "it was uploaded", k->ref_hex);
		return KP_OK;
	}
	switch (to) {
	case KP_STATE_AVAILABLE:
		rc = kp_client_release(p->client, k->ref);
		if (kp_pool_netresult(p, rc, "release") == KP_EFORBIDDEN)
			return kp_pool_err(p, KP_EPERM, "release: another "
			    "user holds the reservation of %s", k->ref_hex);
		return rc;
	case KP_STATE_RESERVED:
		rc = kp_client_reserve(p->client, p->user,
		    (const uint8_t *)OWNER_GROUP, OWNER_GROUP_LEN, NULL,
		    k->ref, &res);
		if (kp_pool_netresult(p, rc, "reserve") == KP_ECONFLICT ||
		    rc == KP_EEXHAUSTED)
			return kp_pool_err(p, KP_EBUSY, "reserve: %s is not "
			    "available on the server", k->ref_hex);
		if (rc != KP_OK)
			return rc;
		if (memcmp(res.ref, k->ref, KP_REF_LEN) != 0) {
			/* give it back; the error below says what went on */
			if (kp_client_release(p->client, res.ref) != KP_OK)
				kp_pool_netresult(p, KP_OK, "release");
			kp_reservation_free(&res);
			return kp_pool_err(p, KP_EPROTO, "reserve: the server "
			    "handed out another key than %s", k->ref_hex);
		}
		memcpy(k->reservation_id, res.reservation_id,
		    sizeof(k->reservation_id));
		k->reservation_expires_at = res.expires_at;
		(void)snprintf(k->reserved_by, sizeof(k->reserved_by), "%s",
		    p->user);
		kp_reservation_free(&res);
		return KP_OK;
	case KP_STATE_SPENT:
		rc = kp_client_spend(p->client, k->ref,
		    (const uint8_t *)OWNER_GROUP, OWNER_GROUP_LEN);
		if (kp_pool_netresult(p, rc, "spend") == KP_ECONFLICT)
			return kp_pool_err(p, KP_EPERM, "spend: %s is already "
			    "spent", k->ref_hex);
		if (rc == KP_OK) {
			(void)snprintf(k->spent_by, sizeof(k->spent_by), "%s",
			    p->user);
			memcpy(k->group_id, OWNER_GROUP, OWNER_GROUP_LEN);
			k->group_id_len = OWNER_GROUP_LEN;
		}
		return rc;
	case KP_STATE_EXPIRED:
		rc = kp_client_retire(p->client, k->ref);
		if (rc == KP_ENOTFOUND)
			rc = KP_OK;	/* the server has forgotten it */
		return kp_pool_netresult(p, rc, "retire");
	}
	return kp_pool_err(p, KP_ESTATE, "no such move");
}

/*
 * kp_pool_transition: move a key, asking the server first (kpool(7)).
 * Without a server only created -> expired works (KP_ENET otherwise).
 */
int
kp_pool_transition(struct kp_pool *p, const uint8_t ref[KP_REF_LEN],
    int from, int to)
{
	struct kp_key	k;
	int64_t		now;
	int		rc;

	KP_POOL_CALL(p);
	if (kp_state_name(from) == NULL || kp_state_name(to) == NULL)
		return kp_pool_err(p, KP_EINVAL, "bad state");
	/* the local move: one compare-and-set, no load (kpoolfs's rename) */
	if (from == KP_STATE_CREATED && to == KP_STATE_EXPIRED)
		return kp_store_expire_created(p->st, ref, kp_pool_now(p));
	if ((rc = kp_pool_get(p, ref, &k)) != KP_OK)
		return rc;
	if (k.state != from)
		return kp_pool_err(p, KP_ESTATE, "key %s is %s, not %s",
		    k.ref_hex, kp_state_name(k.state), kp_state_name(from));
	if (!allowed(from, to))
		return kp_pool_err(p, KP_ESTATE, "a key cannot move from %s "
		    "to %s", kp_state_name(from), kp_state_name(to));
	if (from != KP_STATE_CREATED || to != KP_STATE_EXPIRED) {
		if ((rc = kp_pool_need_server(p)) != KP_OK)
			return rc;
		if ((rc = server_move(p, &k, to)) != KP_OK)
			return rc;
		if (from == KP_STATE_CREATED)
			return KP_OK;	/* kp_pool_upload moved it */
	}
	now = kp_pool_now(p);
	kp_key_move(&k, to, now);
	return kp_store_update(p->st, &k, from);
}

/*
 * kp_pool_welcome: open a Welcome for one of our keys with its stored
 * init key; the key becomes spent with the group_id and epoch.  Once a
 * key's Welcome is recorded, one for the same group_id and epoch
 * succeeds and changes nothing, and one for another group or epoch is
 * KP_EPERM and changes nothing.  A last-resort key keeps its state (it
 * may serve again) and records the group_id and epoch of its latest
 * Welcome.
 */
int
kp_pool_welcome(struct kp_pool *p, const uint8_t *msg, size_t len,
    uint8_t ref[KP_REF_LEN], struct kp_welcome_info *info)
{
	struct kp_bundle	b;
	uint8_t			*refs = NULL;
	size_t			 n = 0, i;
	int64_t			 now;
	int			 rc, found, wiped = 0, opened = 0, from;

	KP_POOL_CALL(p);
	memset(&b, 0, sizeof(b));
	memset(info, 0, sizeof(*info));
	if ((rc = kp_welcome_refs(msg, len, &refs, &n)) != KP_OK) {
		rc = kp_pool_err(p, rc, "welcome: %s", kp_strerror(rc));
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((rc = kp_store_load(p->st, refs + i * KP_REF_LEN, 1, &b,
		    &found)) != KP_OK)
			goto out;
		if (found && b.key.has_private)
			break;
		wiped |= found;
		kp_bundle_clear(&b);
	}
	if (i == n) {
		rc = wiped ? kp_pool_err(p, KP_ENOTFOUND, "welcome: the "
		    "private keys of its key are gone (taken or expired)") :
		    kp_pool_err(p, KP_ENOTOURS, "welcome: it is for none of "
		    "our keys");
		goto out;
	}
	if ((rc = kp_welcome_open(msg, len, b.keypackage, b.keypackage_len,
	    b.sec.init_priv, NULL, 0, 0, info)) != KP_OK) {
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
	/* record it against the key's current state */
	if ((rc = kp_store_begin(p->st)) != KP_OK)
		goto out;
	kp_bundle_clear(&b);
	if ((rc = kp_store_get(p->st, refs + i * KP_REF_LEN, 0, &b)) != KP_OK)
		goto rollback;
	from = b.key.state;
	now = kp_pool_now(p);
	if (from == KP_STATE_EXPIRED) {
		rc = kp_pool_err(p, KP_ESTATE, "welcome: %s expired",
		    b.key.ref_hex);
		goto rollback;
	}
	if (!b.key.last_resort && from == KP_STATE_SPENT && b.key.epoch >= 0) {
		/* its Welcome was opened: the same one again changes nothing */
		if (b.key.group_id_len == info->group_id_len &&
		    memcmp(b.key.group_id, info->group_id,
		    info->group_id_len) == 0 &&
		    b.key.epoch == (int64_t)info->epoch) {
			kp_store_rollback(p->st);
			memcpy(ref, b.key.ref, KP_REF_LEN);
			goto out;
		}
		rc = kp_pool_err(p, KP_EPERM, "welcome: key %s already joined "
		    "another group or epoch (epoch %lld); a key joins one "
		    "group once", b.key.ref_hex, (long long)b.key.epoch);
		goto rollback;
	}
	if (!b.key.last_resort && from != KP_STATE_SPENT) {
		b.key.state = KP_STATE_SPENT;
		b.key.spent_at = now;
		b.key.changed_at = now;
	}
	memcpy(b.key.group_id, info->group_id, info->group_id_len);
	b.key.group_id_len = info->group_id_len;
	b.key.epoch = (int64_t)info->epoch;
	if ((rc = kp_store_update(p->st, &b.key, from)) != KP_OK)
		goto rollback;
	if ((rc = kp_store_commit(p->st)) != KP_OK)
		goto out;
	memcpy(ref, b.key.ref, KP_REF_LEN);
	goto out;
rollback:
	kp_store_rollback(p->st);
out:
	if (rc != KP_OK && opened)
		kp_welcome_info_free(info);
	kp_bundle_clear(&b);
	free(refs);
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
	struct kp_bundle	b;
	int			rc, wiped;

	KP_POOL_CALL(p);
	memset(out, 0, sizeof(*out));
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
