/* SPDX-License-Identifier: ISC */
/*
 * store.c: the store's dispatcher: it opens a connection with the
 * backend that the database's name calls for, and hands each operation
 * to that backend's table; see store.h.
 */

#include <stdlib.h>
#include <string.h>

#include "store.h"

/*
 * The backends by the prefix of a database's name; a name with none of
 * these is a SQLite file.  A backend without an open is not built yet.
 */
static const struct {
	const char	*prefix;
	int		(*open)(const char *, const struct kps_store_conf *,
			    struct kps_store **);
} backends[] = {
	{ "sqlite:", kps_sqlite_open },
	{ "postgresql:", NULL },
};

int
kps_store_open(const char *path, const struct kps_store_conf *conf,
    struct kps_store **out)
{
	size_t	i, n;

	*out = NULL;
	if (path == NULL || *path == '\0')
		return KP_EINVAL;
	for (i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		n = strlen(backends[i].prefix);
		if (strncmp(path, backends[i].prefix, n) != 0)
			continue;
		if (backends[i].open == NULL)
			return KP_EINVAL;
		return backends[i].open(path + n, conf, out);
	}
	return kps_sqlite_open(path, conf, out);
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
	return s->ops->user_add(s, name, pk, now);
}

int
kps_user_get(struct kps_store *s, const char *name, uint8_t pk[32],
    char canon[KP_MAX_USERNAME + 1])
{
	return s->ops->user_get(s, name, pk, canon);
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

void
kps_key_clear(struct kps_key *k)
{
	if (k == NULL)
		return;
	free(k->bytes);
	k->bytes = NULL;
	k->len = 0;
}

int
kps_key_list(struct kps_store *s, const char *user, int status, int64_t now,
    struct kps_key **keys, size_t *n)
{
	return s->ops->list_user(s, user, status, now, keys, n);
}

void
kps_key_list_free(struct kps_key *keys, size_t n)
{
	size_t	i;

	if (keys == NULL)
		return;
	for (i = 0; i < n; i++)
		kps_key_clear(&keys[i]);
	free(keys);
}

int
kps_list_available_for_user(struct kps_store *s, const char *user,
    int64_t now, struct kps_key **keys, size_t *n)
{
	return kps_key_list(s, user, KP_STATE_AVAILABLE, now, keys, n);
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

void
kps_reservation_clear(struct kps_reservation *r)
{
	if (r == NULL)
		return;
	free(r->bytes);
	r->bytes = NULL;
	r->len = 0;
}

int
kps_spend(struct kps_store *s, const char *caller,
    const uint8_t ref[KP_REF_LEN], const uint8_t *group_id,
    size_t group_id_len, int64_t now)
{
	return s->ops->spend(s, caller, ref, group_id, group_id_len, now);
}

int
kps_release(struct kps_store *s, const char *caller,
    const uint8_t ref[KP_REF_LEN], int64_t now)
{
	return s->ops->release(s, caller, ref, now);
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
