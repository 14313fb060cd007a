/* SPDX-License-Identifier: ISC */
/*
 * store_sqlite_dev.c: the users and devices of the server's SQLite
 * store: who a user is (by the folded name), the key of each device,
 * enrollment and removal (which retires the device's keys), and the
 * list of a user's devices with their counts; see store.h.
 */

#include <stdio.h>
#include <string.h>

#include <sodium.h>
#include <sqlite3.h>

#include "store_rules.h"
#include "store_sqlite_db.h"

int
kps_sq_canon(struct kps_sq *s, const char *user,
    char canon[KP_MAX_USERNAME + 1])
{
	sqlite3_stmt	*st;
	int		 r;

	if ((st = kps_sq_stmt(s, SQ_USER_GET)) == NULL)
		return KP_EDB;
	sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
	if ((r = sqlite3_step(st)) == SQLITE_ROW)
		kps_sq_text(st, 0, canon, KP_MAX_USERNAME + 1);
	sqlite3_reset(st);
	if (r == SQLITE_ROW)
		return KP_OK;
	return r == SQLITE_DONE ? KP_ENOTFOUND : kps_sq_err(s, "user");
}

int
kps_sq_user_get(struct kps_store *b, const char *name, char *canon)
{
	char	c[KP_MAX_USERNAME + 1];
	int	rc;

	if ((rc = kps_sq_canon((struct kps_sq *)b, name, c)) == KP_OK &&
	    canon != NULL)
		memcpy(canon, c, sizeof(c));
	return rc;
}

int
kps_sq_device_get(struct kps_store *b, const char *user, const char *device,
    uint8_t *pk, char *canon)
{
	struct kps_sq	*s = (struct kps_sq *)b;
	sqlite3_stmt	*st;
	int		 r;

	if ((st = kps_sq_stmt(s, SQ_DEV_GET)) == NULL)
		return KP_EDB;
	sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, device, -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32) {
		memcpy(pk, sqlite3_column_blob(st, 0), 32);
		if (canon != NULL)
			kps_sq_text(st, 1, canon, KP_MAX_USERNAME + 1);
		sqlite3_reset(st);
		return KP_OK;
	}
	sqlite3_reset(st);
	if (r == SQLITE_DONE)
		return KP_ENOTFOUND;
	return kps_sq_err(s, "device get");
}

/* one_row: step st (bound); 1 for a row (st left on it), 0 for none,
 * -1 on error (the message kept). */
static int
one_row(struct kps_sq *s, sqlite3_stmt *st, const char *what)
{
	int	r = sqlite3_step(st);

	if (r == SQLITE_ROW)
		return 1;
	sqlite3_reset(st);
	if (r == SQLITE_DONE)
		return 0;
	kps_sq_err(s, what);
	return -1;
}

/* by_user_device: statement i with user ?1 and device ?2 bound. */
static sqlite3_stmt *
by_user_device(struct kps_sq *s, enum kps_sq_stmt i, const char *user,
    const char *device)
{
	sqlite3_stmt	*st;

	if ((st = kps_sq_stmt(s, i)) == NULL)
		return NULL;
	sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, device, -1, SQLITE_STATIC);
	return st;
}

int
kps_sq_device_known(struct kps_sq *s, const char *user, const char *device)
{
	sqlite3_stmt	*st;
	int		 x;

	if ((st = by_user_device(s, SQ_DEV_KEY, user, device)) == NULL ||
	    (x = one_row(s, st, "device")) < 0)
		return KP_EDB;
	if (x == 1)
		sqlite3_reset(st);
	return x == 1 ? KP_OK : KP_ENOTFOUND;
}

/* key_free: KP_OK when no device has the key pk, else KP_ECONFLICT
 * (KP_EDB on error). */
static int
key_free(struct kps_sq *s, const uint8_t *pk)
{
	sqlite3_stmt	*st;
	int		 x;

	if ((st = kps_sq_stmt(s, SQ_KEY_USED)) == NULL)
		return KP_EDB;
	sqlite3_bind_blob(st, 1, pk, 32, SQLITE_STATIC);
	if ((x = one_row(s, st, "key in use")) == 1)
		sqlite3_reset(st);
	return x < 0 ? KP_EDB : x == 1 ? KP_ECONFLICT : KP_OK;
}

/*
 * add: the body of kps_sq_device_add, in its transaction: the device's
 * own key first (the same: done), then whether pk is taken, then the
 * user, then the limit.
 */
static int
add(struct kps_sq *s, const char *user, const char *device,
    const uint8_t *pk, enum kps_dev_mode mode, int64_t now)
{
	sqlite3_stmt	*st;
	char		 canon[KP_MAX_USERNAME + 1];
	int		 rc, x, same;

	if ((rc = kps_sq_canon(s, user, canon)) == KP_OK) {
		if ((st = by_user_device(s, SQ_DEV_KEY, canon,
		    device)) == NULL)
			return KP_EDB;
		if ((x = one_row(s, st, "device key")) < 0)
			return KP_EDB;
		if (x == 1) {
			same = sqlite3_column_bytes(st, 0) == 32 &&
			    sodium_memcmp(sqlite3_column_blob(st, 0), pk,
			    32) == 0;
			sqlite3_reset(st);
			return same ? KP_OK : KP_EEXIST;
		}
	} else if (rc != KP_ENOTFOUND)
		return rc;
	if ((x = key_free(s, pk)) != KP_OK)
		return x;
	if (rc == KP_OK) {
		if (mode == KPS_DEV_REGISTER)
			return KP_EFORBIDDEN;
		if ((st = kps_sq_stmt(s, SQ_DEV_COUNT)) == NULL)
			return KP_EDB;
		sqlite3_bind_text(st, 1, canon, -1, SQLITE_STATIC);
		if ((x = one_row(s, st, "devices")) < 0)
			return KP_EDB;
		x = x == 1 && sqlite3_column_int(st, 0) >= KPS_MAX_DEVICES;
		sqlite3_reset(st);
		if (x)
			return KP_ETOOBIG;
	} else {
		if (mode == KPS_DEV_ENROLL)
			return KP_ENOTFOUND;
		if ((st = kps_sq_stmt(s, SQ_USER_ADD)) == NULL)
			return KP_EDB;
		sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, now);
		if ((rc = kps_sq_done(s, st, "user add")) != KP_OK)
			return rc;
		snprintf(canon, sizeof(canon), "%s", user);
	}
	if ((st = by_user_device(s, SQ_DEV_ADD, canon, device)) == NULL)
		return KP_EDB;
	sqlite3_bind_blob(st, 3, pk, 32, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now);
	return kps_sq_done(s, st, "device add");
}

int
kps_sq_device_add(struct kps_store *b, const char *user, const char *device,
    const uint8_t *pk, enum kps_dev_mode mode, int64_t now)
{
	struct kps_sq	*s = (struct kps_sq *)b;
	int		 own, rc;

	if ((rc = kps_sq_op_begin(s, &own)) != KP_OK)
		return rc;
	rc = add(s, user, device, pk, mode, now);
	return kps_sq_op_end(s, own, rc);
}

/* removal: the statements that retire a device's keys, then its row */
static const enum kps_sq_stmt removal[] = {
	SQ_DEV_TOMB_REF, SQ_DEV_TOMB_INIT, SQ_DEV_KEYS_DEL, SQ_DEV_DEL,
};

int
kps_sq_device_remove(struct kps_store *b, const char *user,
    const char *device, int64_t now, uint64_t *retired)
{
	struct kps_sq	*s = (struct kps_sq *)b;
	sqlite3_stmt	*st;
	char		 canon[KP_MAX_USERNAME + 1];
	size_t		 i;
	int		 own, rc, x, only;

	if (retired != NULL)
		*retired = 0;
	if ((rc = kps_sq_op_begin(s, &own)) != KP_OK)
		return rc;
	if ((rc = kps_sq_canon(s, user, canon)) != KP_OK ||
	    (rc = kps_sq_device_known(s, canon, device)) != KP_OK)
		goto out;
	rc = KP_EDB;
	if ((st = kps_sq_stmt(s, SQ_DEV_COUNT)) == NULL)
		goto out;
	sqlite3_bind_text(st, 1, canon, -1, SQLITE_STATIC);
	if ((x = one_row(s, st, "devices")) < 0)
		goto out;
	only = x == 1 && sqlite3_column_int(st, 0) <= 1;
	sqlite3_reset(st);
	if (only) {
		rc = KP_ECONFLICT;
		goto out;
	}
	for (i = 0; i < sizeof(removal) / sizeof(removal[0]); i++) {
		if ((st = by_user_device(s, removal[i], canon,
		    device)) == NULL)
			goto out;
		if (removal[i] != SQ_DEV_KEYS_DEL && removal[i] != SQ_DEV_DEL)
			sqlite3_bind_int64(st, 3, now);
		if ((rc = kps_sq_done(s, st, "remove device")) != KP_OK)
			goto out;
		if (removal[i] == SQ_DEV_KEYS_DEL && retired != NULL)
			*retired = (uint64_t)sqlite3_changes(s->db);
	}
	rc = KP_OK;
out:
	return kps_sq_op_end(s, own, rc);
}

/* retire: the keys of device of canon go, their tombstones stay. */
static int
retire(struct kps_sq *s, const char *canon, const char *device, int64_t now,
    uint64_t *retired)
{
	sqlite3_stmt	*st;
	size_t		 i;
	int		 rc;

	for (i = 0; i < 3; i++) {	/* removal[] but the device's row */
		if ((st = by_user_device(s, removal[i], canon,
		    device)) == NULL)
			return KP_EDB;
		if (removal[i] != SQ_DEV_KEYS_DEL)
			sqlite3_bind_int64(st, 3, now);
		if ((rc = kps_sq_done(s, st, "retire keys")) != KP_OK)
			return rc;
		if (removal[i] == SQ_DEV_KEYS_DEL && retired != NULL)
			*retired = (uint64_t)sqlite3_changes(s->db);
	}
	return KP_OK;
}

/* drop: the body of kps_sq_device_drop, in its transaction. */
static int
drop(struct kps_sq *s, const char *user, const char *device,
    const uint8_t *pk, int64_t now, uint64_t *retired)
{
	sqlite3_stmt	*st;
	char		 canon[KP_MAX_USERNAME + 1];
	int		 rc, x, same, left;

	if ((rc = kps_sq_canon(s, user, canon)) != KP_OK)
		return rc;
	if ((st = by_user_device(s, SQ_DEV_KEY, canon, device)) == NULL ||
	    (x = one_row(s, st, "device key")) < 0)
		return KP_EDB;
	if (x == 0)
		return KP_ENOTFOUND;
	same = pk != NULL && sqlite3_column_bytes(st, 0) == 32 &&
	    sodium_memcmp(sqlite3_column_blob(st, 0), pk, 32) == 0;
	sqlite3_reset(st);
	if (same)
		return KP_OK;
	if (pk != NULL && (rc = key_free(s, pk)) != KP_OK)
		return rc;
	if ((rc = retire(s, canon, device, now, retired)) != KP_OK)
		return rc;
	if (pk != NULL) {
		if ((st = by_user_device(s, SQ_DEV_SETKEY, canon,
		    device)) == NULL)
			return KP_EDB;
		sqlite3_bind_blob(st, 3, pk, 32, SQLITE_STATIC);
		return kps_sq_done(s, st, "set key");
	}
	if ((st = by_user_device(s, SQ_DEV_DEL, canon, device)) == NULL ||
	    (rc = kps_sq_done(s, st, "remove device")) != KP_OK)
		return st == NULL ? KP_EDB : rc;
	if ((st = kps_sq_stmt(s, SQ_DEV_COUNT)) == NULL)
		return KP_EDB;
	sqlite3_bind_text(st, 1, canon, -1, SQLITE_STATIC);
	if ((x = one_row(s, st, "devices")) < 0)
		return KP_EDB;
	left = x == 1 ? sqlite3_column_int(st, 0) : 0;
	sqlite3_reset(st);
	if (left > 0)
		return KP_OK;
	if ((st = kps_sq_stmt(s, SQ_USER_DEL)) == NULL)
		return KP_EDB;
	sqlite3_bind_text(st, 1, canon, -1, SQLITE_STATIC);
	if ((rc = kps_sq_done(s, st, "remove user")) != KP_OK)
		return rc;
	if ((st = kps_sq_stmt(s, SQ_USER_DEL_CONTACTS)) == NULL)
		return KP_EDB;
	sqlite3_bind_text(st, 1, canon, -1, SQLITE_STATIC);
	return kps_sq_done(s, st, "remove user's contacts");
}

int
kps_sq_device_drop(struct kps_store *b, const char *user,
    const char *device, const uint8_t *pk, int64_t now, uint64_t *retired)
{
	struct kps_sq	*s = (struct kps_sq *)b;
	int		 own, rc;

	if (retired != NULL)
		*retired = 0;
	if ((rc = kps_sq_op_begin(s, &own)) != KP_OK)
		return rc;
	rc = drop(s, user, device, pk, now, retired);
	return kps_sq_op_end(s, own, rc);
}

int
kps_sq_user_list(struct kps_store *b, int (*fn)(void *, const char *),
    void *arg)
{
	struct kps_sq	*s = (struct kps_sq *)b;
	sqlite3_stmt	*st;
	char		 name[KP_MAX_USERNAME + 1];
	int		 rc = KP_OK, x;

	if ((st = kps_sq_stmt(s, SQ_USER_LIST)) == NULL)
		return KP_EDB;
	while ((x = sqlite3_step(st)) == SQLITE_ROW) {
		kps_sq_text(st, 0, name, sizeof(name));
		if ((rc = fn(arg, name)) != KP_OK)
			break;
	}
	sqlite3_reset(st);
	if (rc == KP_OK && x != SQLITE_DONE)
		rc = kps_sq_err(s, "users");
	return rc;
}

/* counts: add the counts of canon's keys at now to its devices. */
static int
counts(struct kps_sq *s, const char *canon, int64_t now,
    struct kps_device *out, size_t n)
{
	sqlite3_stmt	*st;
	char		 name[KP_MAX_DEVICE + 1];
	int		 x;

	if ((st = kps_sq_stmt(s, SQ_COUNT_DEV)) == NULL)
		return KP_EDB;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_text(st, 2, canon, -1, SQLITE_STATIC);
	while ((x = sqlite3_step(st)) == SQLITE_ROW) {
		kps_sq_text(st, 0, name, sizeof(name));
		kps_device_counts_add(out, n, name,
		    (unsigned)sqlite3_column_int(st, 1),
		    sqlite3_column_int(st, 2), sqlite3_column_int(st, 3),
		    (uint64_t)sqlite3_column_int64(st, 4));
	}
	sqlite3_reset(st);
	return x == SQLITE_DONE ? KP_OK : kps_sq_err(s, "count");
}

int
kps_sq_device_list(struct kps_store *b, const char *user, int with_counts,
    int64_t now, char *canon, struct kps_device *out, size_t max, size_t *n)
{
	struct kps_sq	*s = (struct kps_sq *)b;
	sqlite3_stmt	*st;
	char		 c[KP_MAX_USERNAME + 1];
	int		 rc, x = SQLITE_DONE;

	*n = 0;
	if ((rc = kps_sq_canon(s, user, c)) != KP_OK)
		return rc;
	if (canon != NULL)
		memcpy(canon, c, sizeof(c));
	if ((st = kps_sq_stmt(s, SQ_DEV_LIST)) == NULL)
		return KP_EDB;
	sqlite3_bind_text(st, 1, c, -1, SQLITE_STATIC);
	while (*n < max && (x = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&out[*n], 0, sizeof(out[*n]));
		kps_sq_text(st, 0, out[*n].device, sizeof(out[*n].device));
		kps_sq_blob(st, 1, out[*n].public_key, 32, NULL);
		out[*n].created_at = sqlite3_column_int64(st, 2);
		(*n)++;
	}
	if (*n < max && x != SQLITE_DONE) {
		sqlite3_reset(st);
		return kps_sq_err(s, "devices");
	}
	sqlite3_reset(st);
	return with_counts ? counts(s, c, now, out, *n) : KP_OK;
}
