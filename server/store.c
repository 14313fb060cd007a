/* SPDX-License-Identifier: ISC */
/*
 * store.c: the store's dispatcher: it opens a connection with the
 * backend that the database's name calls for, and hands each operation
 * to that backend's table; see store.h.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

/* A libpq conninfo string begins with a keyword and '=' ("host=..."). */
static int
is_conninfo(const char *s)
{
	size_t	n = strspn(s, "abcdefghijklmnopqrstuvwxyz_");

	s += n;
	s += strspn(s, " ");
	return n > 0 && *s == '=';
}

int
kps_store_is_pg(const char *path)
{
	return strncmp(path, "postgresql://", 13) == 0 ||
	    strncmp(path, "postgres://", 11) == 0 || is_conninfo(path);
}

int
kps_store_open(const char *path, const struct kps_store_conf *conf,
    struct kps_store **out)
{
	*out = NULL;
	if (path == NULL || *path == '\0')
		return KP_EINVAL;
	if (kps_store_is_pg(path))
		return kps_pg_open(path, conf, out);
	if (strncmp(path, "sqlite:", 7) == 0)
		path += 7;
	return kps_sqlite_open(path, conf, out);
}

const char *
kps_store_shown(const char *path, char *out, size_t cap)
{
	const char	*p, *at, *colon, *end;

	snprintf(out, cap, "%s", path);
	if (!kps_store_is_pg(path))
		return out;
	if ((p = strstr(path, "://")) != NULL) {
		/* scheme://user:password@host... */
		p += 3;
		at = strchr(p, '@');
		colon = strchr(p, ':');
		end = strpbrk(p, "/?");
		if (at == NULL || colon == NULL || colon > at ||
		    (end != NULL && at > end))
			return out;
		snprintf(out, cap, "%.*s***%s", (int)(colon + 1 - path), path,
		    at);
		return out;
	}
	/* key=value ... password=secret ... (quotes and escapes aside) */
	if ((p = strstr(path, "password")) == NULL)
		return out;
	p += strlen("password");
	p += strspn(p, " ");
	if (*p != '=')
		return out;
	p++;
	p += strspn(p, " ");
	end = p + strcspn(p, " ");
	snprintf(out, cap, "%.*s***%s", (int)(p - path), path, end);
	return out;
}

const char *
kps_store_backend(struct kps_store *s)
{
	return s->ops->name;
}

void
kps_store_close(struct kps_store *s)
{
	if (s != NULL)
		s->ops->close(s);
}

const char *
kps_store_errmsg(struct kps_store *s)
{
	return s->ops->errmsg(s);
}

int
kps_store_begin(struct kps_store *s)
{
	return s->ops->begin(s);
}

int
kps_store_commit(struct kps_store *s)
{
	return s->ops->commit(s);
}

int
kps_store_rollback(struct kps_store *s)
{
	return s->ops->rollback(s);
}

int
kps_store_in_batch(struct kps_store *s)
{
	return s->ops->in_batch(s);
}

int
kps_store_checkpoint(struct kps_store *s)
{
	if (s->ops->checkpoint == NULL)
		return KP_OK;
	return s->ops->checkpoint(s);
}

int
kps_user_add(struct kps_store *s, const char *name, const uint8_t pk[32],
    int64_t now)
{
	return s->ops->device_add(s, name, KP_DEFAULT_DEVICE, pk,
	    KPS_DEV_OPERATOR, now);
}

int
kps_user_get(struct kps_store *s, const char *name,
    char canon[KP_MAX_USERNAME + 1])
{
	return s->ops->user_get(s, name, canon);
}

int
kps_device_get(struct kps_store *s, const char *user, const char *device,
    uint8_t pk[32], char canon[KP_MAX_USERNAME + 1])
{
	return s->ops->device_get(s, user, device, pk, canon);
}

int
kps_device_add(struct kps_store *s, const char *user, const char *device,
    const uint8_t pk[32], enum kps_dev_mode mode, int64_t now)
{
	return s->ops->device_add(s, user, device, pk, mode, now);
}

int
kps_device_remove(struct kps_store *s, const char *user, const char *device,
    int64_t now, uint64_t *retired)
{
	return s->ops->device_remove(s, user, device, now, retired);
}

int
kps_device_list(struct kps_store *s, const char *user, int counts,
    int64_t now, char canon[KP_MAX_USERNAME + 1], struct kps_device *out,
    size_t max, size_t *n)
{
	return s->ops->device_list(s, user, counts, now, canon, out, max, n);
}

int
kps_user_list(struct kps_store *s, int (*fn)(void *, const char *), void *arg)
{
	return s->ops->user_list(s, fn, arg);
}

int
kps_user_remove(struct kps_store *s, const char *user, int64_t now,
    uint64_t *retired)
{
	struct kps_device	 d[KPS_MAX_DEVICES];
	char			 canon[KP_MAX_USERNAME + 1];
	uint64_t		 n, total = 0;
	size_t			 nd, i;
	int			 rc;

	if (retired != NULL)
		*retired = 0;
	if ((rc = kps_store_begin(s)) != KP_OK)
		return rc;
	rc = kps_device_list(s, user, 0, now, canon, d, KPS_MAX_DEVICES, &nd);
	for (i = 0; rc == KP_OK && i < nd; i++) {
		rc = s->ops->device_drop(s, canon, d[i].device, NULL, now, &n);
		total += n;
	}
	if (rc != KP_OK) {
		kps_store_rollback(s);
		return rc;
	}
	if ((rc = kps_store_commit(s)) == KP_OK && retired != NULL)
		*retired = total;
	return rc;
}

int
kps_device_set_key(struct kps_store *s, const char *user, const char *device,
    const uint8_t pk[32], int64_t now, uint64_t *retired)
{
	return s->ops->device_drop(s, user, device, pk, now, retired);
}

int
kps_nonce_add(struct kps_store *s, const char *keyid, const char *nonce,
    int64_t created)
{
	return s->ops->nonce_add(s, keyid, nonce, created);
}

int
kps_nonce_seen(struct kps_store *s, const char *keyid, const char *nonce,
    int64_t created)
{
	return s->ops->nonce_seen(s, keyid, nonce, created);
}

int
kps_nonce_prune(struct kps_store *s, int64_t before, int max, uint64_t *n)
{
	return s->ops->nonce_prune(s, before, max, n);
}

int
kps_nonce_add_many(struct kps_store *s, struct kps_nonce *v, size_t n)
{
	size_t	i;
	int	rc;

	if (s->ops->nonce_add_many != NULL)
		return s->ops->nonce_add_many(s, v, n);
	for (i = 0; i < n; i++) {
		rc = s->ops->nonce_add(s, v[i].keyid, v[i].nonce, v[i].created);
		if (rc != KP_OK && rc != KP_EEXIST)
			return rc;
		v[i].rc = rc;
	}
	return KP_OK;
}

int
kps_device_check_many(struct kps_store *s, struct kps_keycheck *v, size_t n)
{
	uint8_t	pk[32];
	size_t	i;
	int	rc;

	if (n > 0 && s->ops->device_check_many != NULL)
		return s->ops->device_check_many(s, v, n);
	for (i = 0; i < n; i++) {
		rc = s->ops->device_get(s, v[i].user, v[i].device, pk, NULL);
		if (rc != KP_OK && rc != KP_ENOTFOUND)
			return rc;
		v[i].rc = rc == KP_OK && memcmp(pk, v[i].pk, 32) == 0 ?
		    KP_OK : KP_ENOTFOUND;
	}
	return KP_OK;
}

int
kps_rate_take(struct kps_store *s, struct kps_take *v, size_t n,
    int64_t now_ms)
{
	return n == 0 ? KP_OK : s->ops->rate_take(s, v, n, now_ms);
}

int
kps_rate_prune(struct kps_store *s, int64_t now_ms, int max, uint64_t *n)
{
	return s->ops->rate_prune(s, now_ms, max, n);
}

int
kps_key_save(struct kps_store *s, const struct kps_key *k)
{
	return s->ops->save(s, k);
}

int
kps_key_get(struct kps_store *s, const uint8_t ref[KP_REF_LEN], int64_t now,
    struct kps_key *out)
{
	return s->ops->get(s, ref, now, out);
}

int
kps_key_list(struct kps_store *s, const char *user, const char *device,
    int status, int64_t now, struct kps_key **keys, size_t *n)
{
	return s->ops->list_user(s, user, device, status, now, keys, n);
}

int
kps_list_available_for_user(struct kps_store *s, const char *user,
    int64_t now, struct kps_key **keys, size_t *n)
{
	return kps_key_list(s, user, NULL, KP_STATE_AVAILABLE, now, keys, n);
}

int
kps_reserve(struct kps_store *s, const struct kps_reserve *r,
    struct kps_reservation *out)
{
	int	rc;

	if ((rc = s->ops->reserve(s, r, out)) != KP_OK)
		kps_reservation_clear(out);
	return rc;
}

int
kps_reserve_many(struct kps_store *s, const struct kps_reserve *const *r,
    struct kps_reservation *const *out, int *rc, size_t n)
{
	size_t	i;
	int	x;

	if (s->ops->reserve_many == NULL) {
		for (i = 0; i < n; i++)
			rc[i] = kps_reserve(s, r[i], out[i]);
		return KP_OK;
	}
	x = s->ops->reserve_many(s, r, out, rc, n);
	for (i = 0; i < n; i++)
		if (x != KP_OK || rc[i] != KP_OK)
			kps_reservation_clear(out[i]);
	return x;
}

void
kps_reservation_clear(struct kps_reservation *r)
{
	if (r == NULL)
		return;
	free(r->bytes);
	r->bytes = NULL;
	r->len = 0;
}

void
kps_claim_clear(struct kps_claim *c)
{
	size_t	i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++)
		kps_reservation_clear(&c->res[i]);
	c->n = 0;
}

int
kps_retire(struct kps_store *s, const char *caller,
    const uint8_t ref[KP_REF_LEN], int64_t now)
{
	return s->ops->retire(s, caller, ref, now);
}

int
kps_cleanup_expired(struct kps_store *s, int64_t now, int64_t keep,
    uint64_t *n)
{
	return s->ops->cleanup_expired(s, now, keep, n);
}

int
kps_release_expired_reservations(struct kps_store *s, int64_t now,
    uint64_t *n)
{
	return s->ops->release_expired(s, now, n);
}

int
kps_count_by_status(struct kps_store *s, const char *user, int64_t now,
    struct kps_counts *out)
{
	return s->ops->count(s, user, now, out);
}

int
kps_store_dump(struct kps_store *s,
    int (*row)(void *, const struct kps_row *), void *arg)
{
	return s->ops->dump(s, row, arg);
}

int
kps_store_load(struct kps_store *s, const struct kps_row *r)
{
	return s->ops->load(s, r);
}

int
kps_store_census(struct kps_store *s, struct kps_census *c)
{
	memset(c, 0, sizeof(*c));
	return s->ops->census(s, c);
}
