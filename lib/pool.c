/* SPDX-License-Identifier: ISC */
/*
 * pool.c: one user's local pool: open (identity), policy and config,
 * listing, counts, status, deletion.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "kpool.h"
#include "store.h"

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

static int
valid_user(const char *u)
{
	size_t	i, l = strlen(u);

	if (l == 0 || l > KP_MAX_USERNAME)
		return 0;
	for (i = 0; i < l; i++)
		if ((unsigned char)u[i] < 0x20 || u[i] == 0x7f || u[i] == '/')
			return 0;
	return 1;
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
	if (rc == KP_OK)
		rc = kp_store_commit(p->st);
	else
		kp_store_rollback(p->st);
	return rc;
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
	if (user != NULL && !valid_user(user)) {
		rc = kp_pool_err(p, KP_EINVAL, "bad user name: 1 to %d bytes, "
		    "no control characters or '/'", KP_MAX_USERNAME);
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
	return kp_policy_load(p->st, out);
}

/* kp_pool_policy_set: check and store a whole policy. */
int
kp_pool_policy_set(struct kp_pool *p, const struct kp_policy *in)
{
	int	rc;

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
	return kp_store_counts(p->st, 0, -1, out);
}

/* kp_pool_list: keys in state (-1: all), oldest first; free(*keys). */
int
kp_pool_list(struct kp_pool *p, int state, struct kp_key **keys, size_t *n)
{
	return kp_store_list(p->st, state, keys, n);
}

/* kp_pool_get: one key's public fields; KP_ENOTFOUND when missing. */
int
kp_pool_get(struct kp_pool *p, const uint8_t ref[KP_REF_LEN],
    struct kp_key *out)
{
	struct kp_bundle	b;
	int			rc;

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
	return kp_store_checkpoint(p->st);
}

/* kp_pool_status: counts, health and the time of the last sync. */
int
kp_pool_status(struct kp_pool *p, struct kp_status *out)
{
	struct kp_policy	pol;
	struct kp_counts	reg;
	char			v[32];
	int			rc, found, failed = 0;

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

	if (url != NULL) {
		if (strncmp(url, "http://", 7) != 0 &&
		    strncmp(url, "https://", 8) != 0)
			return kp_pool_err(p, KP_EINVAL, "server URL must "
			    "start with http:// or https://");
		if ((u = strdup(url)) == NULL)
			return kp_pool_err(p, KP_ENOMEM, "out of memory");
	}
	free(p->url);
	p->url = u;
	return KP_OK;
}
