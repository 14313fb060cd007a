/* SPDX-License-Identifier: ISC */
/*
 * store_pg_dev.c: the users and devices of the server's PostgreSQL
 * store, the twin of store_sqlite_dev.c: who a user is (by the folded
 * name), the key of each device, enrollment and removal (which retires
 * the device's keys), and the list of a user's devices with their
 * counts; see store.h.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "store_pg_db.h"
#include "store_rules.h"

/* canon: the registered spelling of user (any case) into c;
 * KP_ENOTFOUND for no such user. */
static int
canon(struct kps_pg *s, const char *user, char c[KP_MAX_USERNAME + 1])
{
	struct kps_pg_args	 a;
	PGresult		*r;
	int			 rc = KP_ENOTFOUND;

	kps_pg_args_init(&a);
	kps_pg_arg_text(&a, user);
	if ((r = kps_pg_run(s, PG_USER_GET, &a)) == NULL)
		return KP_EDB;
	if (PQntuples(r) == 1) {
		kps_pg_text(r, 0, 0, c, KP_MAX_USERNAME + 1);
		rc = KP_OK;
	}
	PQclear(r);
	return rc;
}

int
kps_pg_user_get(struct kps_store *b, const char *name, char *out)
{
	char	c[KP_MAX_USERNAME + 1];
	int	rc;

	if ((rc = canon((struct kps_pg *)b, name, c)) == KP_OK && out != NULL)
		memcpy(out, c, sizeof(c));
	return rc;
}

int
kps_pg_device_get(struct kps_store *b, const char *user, const char *device,
    uint8_t *pk, char *out)
{
	struct kps_pg		*s = (struct kps_pg *)b;
	struct kps_pg_args	 a;
	PGresult		*r;
	int			 rc = KP_ENOTFOUND;

	kps_pg_args_init(&a);
	kps_pg_arg_text(&a, user);
	kps_pg_arg_text(&a, device);
	if ((r = kps_pg_run(s, PG_DEV_GET, &a)) == NULL)
		return KP_EDB;
	if (PQntuples(r) == 1 && PQgetlength(r, 0, 0) == 32) {
		memcpy(pk, PQgetvalue(r, 0, 0), 32);
		if (out != NULL)
			kps_pg_text(r, 0, 1, out, KP_MAX_USERNAME + 1);
		rc = KP_OK;
	}
	PQclear(r);
	return rc;
}

int
kps_pg_device_check_many(struct kps_store *b, struct kps_keycheck *v,
    size_t n)
{
	struct kps_pg		*s = (struct kps_pg *)b;
	struct kps_pg_call	*c;
	struct kps_pg_args	*a;
	size_t			 i;
	int			 rc = KP_ENOMEM;

	c = calloc(n, sizeof(*c));
	a = calloc(n, sizeof(*a));
	if (c == NULL || a == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		kps_pg_args_init(&a[i]);
		kps_pg_arg_text(&a[i], v[i].user);
		kps_pg_arg_text(&a[i], v[i].device);
		c[i] = (struct kps_pg_call){ PG_DEV_GET, &a[i], NULL };
	}
	if ((rc = kps_pg_pipeline(s, c, n)) != KP_OK)
		goto out;
	for (i = 0; i < n; i++) {
		v[i].rc = PQntuples(c[i].res) == 1 &&
		    PQgetlength(c[i].res, 0, 0) == 32 &&
		    memcmp(PQgetvalue(c[i].res, 0, 0), v[i].pk, 32) == 0 ?
		    KP_OK : KP_ENOTFOUND;
		PQclear(c[i].res);
	}
out:
	free(a);
	free(c);
	return rc;
}

/* one: run statement i with a; its number of rows (its first column
 * of the first row in *v when v is not NULL), or -1. */
static int64_t
one(struct kps_pg *s, enum kps_pg_stmt i, const struct kps_pg_args *a,
    int64_t *v, uint8_t *key)
{
	PGresult	*r;
	int64_t		 n;

	if ((r = kps_pg_run(s, i, a)) == NULL)
		return -1;
	n = PQntuples(r);
	if (n > 0 && v != NULL)
		*v = kps_pg_int(r, 0, 0);
	if (n > 0 && key != NULL)
		kps_pg_bytea(r, 0, 0, key, 32, NULL);
	PQclear(r);
	return n;
}

/* user_device: the arguments (user, device). */
static void
user_device(struct kps_pg_args *a, const char *user, const char *device)
{
	kps_pg_args_init(a);
	kps_pg_arg_text(a, user);
	kps_pg_arg_text(a, device);
}

/* add: the body of kps_pg_device_add, in its transaction (see
 * store_sqlite_dev.c's, which decides in the same order). */
static int
add(struct kps_pg *s, const char *user, const char *device,
    const uint8_t *pk, enum kps_dev_mode mode, int64_t now)
{
	struct kps_pg_args	 a;
	char			 c[KP_MAX_USERNAME + 1];
	uint8_t			 have[32];
	int64_t			 n, cnt = 0;
	int			 rc;

	if ((rc = canon(s, user, c)) == KP_OK) {
		user_device(&a, c, device);
		if ((n = one(s, PG_DEV_KEY, &a, NULL, have)) < 0)
			return KP_EDB;
		if (n > 0)
			return sodium_memcmp(have, pk, 32) == 0 ? KP_OK :
			    KP_EEXIST;
	} else if (rc != KP_ENOTFOUND)
		return rc;
	kps_pg_args_init(&a);
	kps_pg_arg_bytea(&a, pk, 32);
	if ((n = one(s, PG_KEY_USED, &a, NULL, NULL)) != 0)
		return n < 0 ? KP_EDB : KP_ECONFLICT;
	if (rc == KP_OK) {
		if (mode == KPS_DEV_REGISTER)
			return KP_EFORBIDDEN;
		kps_pg_args_init(&a);
		kps_pg_arg_text(&a, c);
		if (one(s, PG_DEV_COUNT, &a, &cnt, NULL) < 0)
			return KP_EDB;
		if (cnt >= KPS_MAX_DEVICES)
			return KP_ETOOBIG;
	} else {
		if (mode == KPS_DEV_ENROLL)
			return KP_ENOTFOUND;
		kps_pg_args_init(&a);
		kps_pg_arg_text(&a, user);
		kps_pg_arg_i64(&a, now);
		if ((n = one(s, PG_USER_ADD, &a, NULL, NULL)) < 0)
			return KP_EDB;
		/* another instance registered the name just now: this
		 * device is then a further one, and needs enrolling */
		if (n == 0 && mode == KPS_DEV_REGISTER)
			return KP_EFORBIDDEN;
		/* made here, or (by the operator) by another instance */
		if ((rc = canon(s, user, c)) != KP_OK)
			return rc == KP_ENOTFOUND ? KP_EDB : rc;
	}
	user_device(&a, c, device);
	kps_pg_arg_bytea(&a, pk, 32);
	kps_pg_arg_i64(&a, now);
	if ((n = one(s, PG_DEV_ADD, &a, NULL, NULL)) < 0)
		return KP_EDB;
	/* another instance took the name or the key just now */
	return n == 1 ? KP_OK : KP_EEXIST;
}

int
kps_pg_device_add(struct kps_store *b, const char *user, const char *device,
    const uint8_t *pk, enum kps_dev_mode mode, int64_t now)
{
	struct kps_pg	*s = (struct kps_pg *)b;
	int		 own, rc;

	if ((rc = kps_pg_op_begin(s, &own)) != KP_OK)
		return rc;
	rc = add(s, user, device, pk, mode, now);
	return kps_pg_op_end(s, own, rc);
}

int
kps_pg_device_remove(struct kps_store *b, const char *user,
    const char *device, int64_t now, uint64_t *retired)
{
	struct kps_pg		*s = (struct kps_pg *)b;
	struct kps_pg_args	 a;
	char			 c[KP_MAX_USERNAME + 1];
	int64_t			 n, cnt = 0;
	int			 own, rc;

	if (retired != NULL)
		*retired = 0;
	if ((rc = kps_pg_op_begin(s, &own)) != KP_OK)
		return rc;
	if ((rc = canon(s, user, c)) != KP_OK)
		goto out;
	rc = KP_EDB;
	user_device(&a, c, device);
	if ((n = one(s, PG_DEV_KEY, &a, NULL, NULL)) < 0)
		goto out;
	if (n == 0) {
		rc = KP_ENOTFOUND;
		goto out;
	}
	kps_pg_args_init(&a);
	kps_pg_arg_text(&a, c);
	if (one(s, PG_DEV_COUNT, &a, &cnt, NULL) < 0)
		goto out;
	if (cnt <= 1) {
		rc = KP_ECONFLICT;
		goto out;
	}
	user_device(&a, c, device);
	kps_pg_arg_i64(&a, now);
	if (one(s, PG_DEV_REMOVE, &a, &n, NULL) < 0)
		goto out;
	if (retired != NULL)
		*retired = (uint64_t)n;
	rc = KP_OK;
out:
	return kps_pg_op_end(s, own, rc);
}

int
kps_pg_device_list(struct kps_store *b, const char *user, int counts,
    int64_t now, char *out_canon, struct kps_device *out, size_t max,
    size_t *n)
{
	struct kps_pg		*s = (struct kps_pg *)b;
	struct kps_pg_args	 a;
	PGresult		*r;
	char			 c[KP_MAX_USERNAME + 1], name[KP_MAX_DEVICE + 1];
	int			 i, rc;

	*n = 0;
	if ((rc = canon(s, user, c)) != KP_OK)
		return rc;
	if (out_canon != NULL)
		memcpy(out_canon, c, sizeof(c));
	kps_pg_args_init(&a);
	kps_pg_arg_text(&a, c);
	if ((r = kps_pg_run(s, PG_DEV_LIST, &a)) == NULL)
		return KP_EDB;
	for (i = 0; i < PQntuples(r) && *n < max; i++) {
		memset(&out[*n], 0, sizeof(out[*n]));
		kps_pg_text(r, i, 0, out[*n].device, sizeof(out[*n].device));
		kps_pg_bytea(r, i, 1, out[*n].public_key, 32, NULL);
		out[*n].created_at = kps_pg_int(r, i, 2);
		(*n)++;
	}
	PQclear(r);
	if (!counts)
		return KP_OK;
	kps_pg_args_init(&a);
	kps_pg_arg_i64(&a, now);
	kps_pg_arg_i32(&a, s->conf.burn ? KP_STATE_SPENT :
	    KP_STATE_AVAILABLE);
	kps_pg_arg_text(&a, c);
	if ((r = kps_pg_run(s, PG_COUNT_DEV, &a)) == NULL)
		return KP_EDB;
	for (i = 0; i < PQntuples(r); i++) {
		kps_pg_text(r, i, 0, name, sizeof(name));
		kps_device_counts_add(out, *n, name,
		    (unsigned)kps_pg_int(r, i, 1), (int)kps_pg_int(r, i, 2),
		    (int)kps_pg_int(r, i, 3), (uint64_t)kps_pg_int(r, i, 4));
	}
	PQclear(r);
	return KP_OK;
}

/* drop: the body of kps_pg_device_drop, in its transaction (as
 * store_sqlite_dev.c's). */
static int
drop(struct kps_pg *s, const char *user, const char *device,
    const uint8_t *pk, int64_t now, uint64_t *retired)
{
	struct kps_pg_args	 a;
	char			 c[KP_MAX_USERNAME + 1];
	uint8_t			 have[32];
	int64_t			 n, cnt = 0;
	int			 rc;

	if ((rc = canon(s, user, c)) != KP_OK)
		return rc;
	user_device(&a, c, device);
	if ((n = one(s, PG_DEV_KEY, &a, NULL, have)) < 0)
		return KP_EDB;
	if (n == 0)
		return KP_ENOTFOUND;
	if (pk != NULL && sodium_memcmp(have, pk, 32) == 0)
		return KP_OK;
	if (pk != NULL) {
		kps_pg_args_init(&a);
		kps_pg_arg_bytea(&a, pk, 32);
		if ((n = one(s, PG_KEY_USED, &a, NULL, NULL)) != 0)
			return n < 0 ? KP_EDB : KP_ECONFLICT;
	}
	user_device(&a, c, device);
	kps_pg_arg_i64(&a, now);
	if (one(s, PG_DEV_RETIRE, &a, &n, NULL) < 0)
		return KP_EDB;
	if (retired != NULL)
		*retired = (uint64_t)n;
	user_device(&a, c, device);
	if (pk != NULL) {
		kps_pg_arg_bytea(&a, pk, 32);
		return one(s, PG_DEV_SETKEY, &a, NULL, NULL) < 0 ? KP_EDB :
		    KP_OK;
	}
	if (one(s, PG_DEV_DEL, &a, NULL, NULL) < 0)
		return KP_EDB;
	kps_pg_args_init(&a);
	kps_pg_arg_text(&a, c);
	if (one(s, PG_DEV_COUNT, &a, &cnt, NULL) < 0)
		return KP_EDB;
	if (cnt > 0)
		return KP_OK;
	if (one(s, PG_USER_DEL, &a, NULL, NULL) < 0)
		return KP_EDB;
	return one(s, PG_USER_DEL_CONTACTS, &a, NULL, NULL) < 0 ? KP_EDB :
	    KP_OK;
}

int
kps_pg_device_drop(struct kps_store *b, const char *user, const char *device,
    const uint8_t *pk, int64_t now, uint64_t *retired)
{
	struct kps_pg	*s = (struct kps_pg *)b;
	int		 own, rc;

	if (retired != NULL)
		*retired = 0;
	if ((rc = kps_pg_op_begin(s, &own)) != KP_OK)
		return rc;
	rc = drop(s, user, device, pk, now, retired);
	return kps_pg_op_end(s, own, rc);
}

int
kps_pg_user_list(struct kps_store *b, int (*fn)(void *, const char *),
    void *arg)
{
	struct kps_pg		*s = (struct kps_pg *)b;
	struct kps_pg_args	 a;
	PGresult		*r;
	char			 name[KP_MAX_USERNAME + 1];
	int			 i, rc = KP_OK;

	kps_pg_args_init(&a);
	if ((r = kps_pg_run(s, PG_USER_LIST, &a)) == NULL)
		return KP_EDB;
	for (i = 0; rc == KP_OK && i < PQntuples(r); i++) {
		kps_pg_text(r, i, 0, name, sizeof(name));
		rc = fn(arg, name);
	}
	PQclear(r);
	return rc;
}
