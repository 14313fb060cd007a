/* SPDX-License-Identifier: ISC */
/*
 * store_sqlite.c: the SQLite backend of the server's store: its table of
 * operations, and the life of a key in it (save, reserve, spend,
 * release, retire, expiry, counts); the connection it works on is
 * store_sqlite_db.c's, its users and devices store_sqlite_dev.c's.
 * See store.h.
 */

#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#include "store_rules.h"
#include "store_sqlite_db.h"

static const struct kps_store_ops sqlite_ops;

int
kps_sqlite_open(const char *path, const struct kps_store_conf *conf,
    struct kps_store **out)
{
	return kps_sq_open(path, conf, &sqlite_ops, out);
}

static int
sq_save(struct kps_store *b, const struct kps_key *k)
{
	struct kps_sq	*s = (struct kps_sq *)b;
	sqlite3_stmt	*st;
	int		 own, rc, r;

	if ((rc = kps_sq_op_begin1(s, &own)) != KP_OK)
		return rc;
	rc = KP_EDB;
	if ((st = kps_sq_stmt(s, SQ_TOMB_CHECK)) == NULL)
		goto out;
	sqlite3_bind_blob(st, 1, k->ref, KP_REF_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, k->init_key, KP_KEY_LEN, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, k->username, -1, SQLITE_STATIC);
	if ((r = sqlite3_step(st)) == SQLITE_ROW) {
		rc = sqlite3_column_int(st, 0) == 0 ? KP_ESTATE : KP_ECONFLICT;
		sqlite3_reset(st);
		goto out;
	}
	sqlite3_reset(st);
	if (r != SQLITE_DONE) {
		rc = kps_sq_err(s, "tombstones");
		goto out;
	}
	if ((st = kps_sq_stmt(s, SQ_REF_EXISTS)) == NULL)
		goto out;
	sqlite3_bind_blob(st, 1, k->ref, KP_REF_LEN, SQLITE_STATIC);
	if ((r = sqlite3_step(st)) == SQLITE_ROW) {
		rc = strcmp((const char *)sqlite3_column_text(st, 0),
		    "spent") == 0 ? KP_ESTATE : KP_EEXIST;
		sqlite3_reset(st);
		goto out;
	}
	sqlite3_reset(st);
	if (r != SQLITE_DONE) {
		rc = kps_sq_err(s, "ref lookup");
		goto out;
	}
	if ((st = kps_sq_stmt(s, SQ_INSERT)) == NULL)
		goto out;
	sqlite3_bind_blob(st, 1, k->ref, KP_REF_LEN, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, k->username, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, k->bytes, (int)k->len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, k->uploaded_at);
	sqlite3_bind_int64(st, 5, k->not_after);
	sqlite3_bind_blob(st, 6, k->credential_hash, 32, SQLITE_STATIC);
	sqlite3_bind_int(st, 7, k->suite);
	sqlite3_bind_blob(st, 8, k->init_key, KP_KEY_LEN, SQLITE_STATIC);
	sqlite3_bind_int(st, 9, k->last_resort ? 1 : 0);
	sqlite3_bind_text(st, 10, k->device[0] ? k->device : KP_DEFAULT_DEVICE,
	    -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	sqlite3_reset(st);
	if (r == SQLITE_CONSTRAINT || (r & 0xff) == SQLITE_CONSTRAINT)
		rc = KP_ECONFLICT;	/* init_key in use by a live key */
	else if (r != SQLITE_DONE)
		rc = kps_sq_err(s, "insert");
	else
		rc = KP_OK;
out:
	return kps_sq_op_end1(s, own, rc);
}

static int
sq_get(struct kps_store *b, const uint8_t *ref, int64_t now,
    struct kps_key *out)
{
	struct kps_sq	*s = (struct kps_sq *)b;
	sqlite3_stmt	*st;
	int		 r, rc;

	memset(out, 0, sizeof(*out));
	if ((st = kps_sq_stmt(s, SQ_GET)) == NULL)
		return KP_EDB;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_blob(st, 2, ref, KP_REF_LEN, SQLITE_STATIC);
	if ((r = sqlite3_step(st)) == SQLITE_ROW)
		rc = kps_sq_key(st, out);
	else if (r == SQLITE_DONE)
		rc = KP_ENOTFOUND;
	else
		rc = kps_sq_err(s, "get");
	sqlite3_reset(st);
	return rc;
}

static int
sq_list_user(struct kps_store *b, const char *user, const char *device,
    int status, int64_t now, struct kps_key **keys, size_t *n)
{
	struct kps_sq	*s = (struct kps_sq *)b;
	sqlite3_stmt	*st;
	struct kps_key	*k = NULL, *nk;
	size_t		 cnt = 0, cap = 0;
	int		 r, rc;

	*keys = NULL;
	*n = 0;
	st = kps_sq_stmt(s, status >= 0 ? SQ_LIST_STATE : device != NULL ?
	    SQ_LIST_DEV : SQ_LIST_ALL);
	if (st == NULL)
		return KP_EDB;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_text(st, 2, user, -1, SQLITE_STATIC);
	if (status >= 0)
		sqlite3_bind_int(st, 3, status);
	if (device != NULL)
		sqlite3_bind_text(st, 4, device, -1, SQLITE_STATIC);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nk = reallocarray(k, cap, sizeof(*k))) == NULL) {
				rc = KP_ENOMEM;
				goto out;
			}
			k = nk;
		}
		if ((rc = kps_sq_key(st, &k[cnt])) != KP_OK)
			goto out;
		cnt++;
	}
	if (r != SQLITE_DONE) {
		rc = kps_sq_err(s, "list");
		goto out;
	}
	*keys = k;
	*n = cnt;
	k = NULL;
	cnt = 0;
	rc = KP_OK;
out:
	sqlite3_reset(st);
	while (cnt > 0)
		free(k[--cnt].bytes);
	free(k);
	return rc;
}

/*
 * take: copy ref (column col), bytes (col + 1), device (dcol) and suite
 * (dcol + 1) of a row into out.
 */
static int
take(sqlite3_stmt *st, int col, int dcol, struct kps_reservation *out)
{
	kps_sq_blob(st, col, out->ref, sizeof(out->ref), NULL);
	kps_sq_text(st, dcol, out->device, sizeof(out->device));
	out->suite = (uint16_t)sqlite3_column_int(st, dcol + 1);
	return kps_sq_dupblob(st, col + 1, &out->bytes, &out->len);
}

/*
 * last_resort: hand out the last-resort key of the row st is on (rowid
 * in column 0, ref in 1, bytes in 2, device in dcol, suite after)
 * without marking it reserved; resets st.  An inviter's reserve (not
 * the owner device's hold of a named key) is recorded on the row, the
 * latest only: who (a principal), when and for which group, so that
 * the owner's pool accepts the Welcome of that group.
 */
static int
last_resort(struct kps_sq *s, sqlite3_stmt *st, int dcol,
    const struct kps_reserve *r, struct kps_reservation *out)
{
	int64_t	rowid = sqlite3_column_int64(st, 0);
	int	rc;

	rc = take(st, 1, dcol, out);
	sqlite3_reset(st);
	kps_reservation_id(out->reservation_id);
	out->expires_at = r->now + r->ttl;
	out->last_resort = 1;
	if (rc != KP_OK || r->ref != NULL)
		return rc;
	if ((st = kps_sq_stmt(s, SQ_LR_GRANT)) == NULL)
		return KP_EDB;
	sqlite3_bind_text(st, 1, r->caller, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, r->now);
	sqlite3_bind_blob(st, 3, r->group_id ? r->group_id :
	    (const uint8_t *)"", (int)r->group_id_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, rowid);
	return kps_sq_done(s, st, "last resort");
}

/* replay: the live reservation of r's request_id into out: KP_OK, or
 * KP_ENOTFOUND for none. */
static int
replay(struct kps_sq *s, const struct kps_reserve *r, const char *target,
    struct kps_reservation *out)
{
	sqlite3_stmt	*st;
	int		 x, rc;

	if ((st = kps_sq_stmt(s, SQ_REPLAY)) == NULL)
		return KP_EDB;
	sqlite3_bind_text(st, 1, r->caller, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->request_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, target, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, r->now);
	if (r->device != NULL)
		sqlite3_bind_text(st, 5, r->device, -1, SQLITE_STATIC);
	if ((x = sqlite3_step(st)) == SQLITE_ROW) {
		rc = take(st, 0, 4, out);
		kps_sq_text(st, 2, out->reservation_id,
		    sizeof(out->reservation_id));
		out->expires_at = sqlite3_column_int64(st, 3);
		out->replayed = 1;
		sqlite3_reset(st);
		return rc;
	}
	sqlite3_reset(st);
	return x == SQLITE_DONE ? KP_ENOTFOUND : kps_sq_err(s, "replay");
}

/*
 * pick: step the statement that finds the key r asks for (last resort
 * or not) of target: 1 on its row (ref 1, bytes 2, device 3, suite 4),
 * 0 for none, or a KP_E* code; *stp is the statement.
 */
static int
pick(struct kps_sq *s, const struct kps_reserve *r, const char *target,
    int lr, sqlite3_stmt **stp)
{
	sqlite3_stmt	*st;
	int		 x;

	x = (r->device != NULL) * 2 + (r->suite != 0);
	if ((*stp = st = kps_sq_stmt(s, (lr ? SQ_LAST_RESORT : SQ_OLDEST) +
	    x)) == NULL)
		return KP_EDB;
	sqlite3_bind_text(st, 1, target, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, r->now);
	if (r->device != NULL)
		sqlite3_bind_text(st, 3, r->device, -1, SQLITE_STATIC);
	if (r->suite != 0)
		sqlite3_bind_int(st, 4, r->suite);
	if ((x = sqlite3_step(st)) == SQLITE_ROW)
		return 1;
	sqlite3_reset(st);
	return x == SQLITE_DONE ? 0 : kps_sq_err(s, "pick");
}

/*
 * named: step SQ_NAMED on the key r->ref of target, which the caller
 * must own and which must be available: 1 on its row, or a KP_E*
 * code; *stp is the statement.
 */
static int
named(struct kps_sq *s, const struct kps_reserve *r, const char *target,
    sqlite3_stmt **stp)
{
	struct kps_keystate	 w;
	sqlite3_stmt		*st;
	char			 dev[KP_MAX_DEVICE + 1];
	int			 x;

	if ((*stp = st = kps_sq_stmt(s, SQ_NAMED)) == NULL)
		return KP_EDB;
	sqlite3_bind_blob(st, 1, r->ref, KP_REF_LEN, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, target, -1, SQLITE_STATIC);
	if ((x = sqlite3_step(st)) != SQLITE_ROW) {
		sqlite3_reset(st);
		if (x != SQLITE_DONE)
			return kps_sq_err(s, "named key");
		/* a caller of another user learns of no key of target */
		return kps_rule_same_user(r->caller, target) ? KP_ENOTFOUND :
		    KP_EFORBIDDEN;
	}
	kps_sq_text(st, 6, dev, sizeof(dev));
	memset(&w, 0, sizeof(w));
	w.status = kps_state_parse((const char *)sqlite3_column_text(st, 3));
	w.not_after = sqlite3_column_int64(st, 4);
	w.last_resort = sqlite3_column_int(st, 5);
	if (!kps_rule_owner(target, dev, r->caller))
		x = KP_EFORBIDDEN;
	else if ((x = kps_rule_named(&w, r->now)) == KPS_APPLY || x == KP_OK)
		return 1;	/* a last-resort key is served, unchanged */
	sqlite3_reset(st);
	return x;
}

static int
sq_reserve(struct kps_store *b, const struct kps_reserve *r,
    struct kps_reservation *out)
{
	struct kps_sq	*s = (struct kps_sq *)b;
	sqlite3_stmt	*st = NULL;
	char		 target[KP_MAX_USERNAME + 1];
	int64_t		 rowid;
	int		 own, rc, x;

	memset(out, 0, sizeof(*out));
	if ((rc = kps_sq_op_begin1(s, &own)) != KP_OK)
		return rc;
	/* the target as registered: its keys are stored under that name */
	if ((rc = kps_sq_canon(s, r->target, target)) != KP_OK)
		goto out;
	if (r->device != NULL && r->ref == NULL &&
	    (rc = kps_sq_device_known(s, target, r->device)) != KP_OK)
		goto out;
	if (r->request_id != NULL &&
	    (rc = replay(s, r, target, out)) != KP_ENOTFOUND)
		goto out;
	if (r->ref != NULL) {
		if ((x = named(s, r, target, &st)) != 1) {
			rc = x;
			goto out;
		}
		if (sqlite3_column_int(st, 5)) {
			/* served, never consumed, named or not */
			rc = last_resort(s, st, 6, r, out);
			goto out;
		}
		rowid = sqlite3_column_int64(st, 0);
		rc = take(st, 1, 6, out);
	} else {
		if ((x = r->last_resort_only ? 0 :
		    pick(s, r, target, 0, &st)) == 0) {
			/* nothing left: the last-resort key, not consumed */
			if ((x = pick(s, r, target, 1, &st)) == 1)
				rc = last_resort(s, st, 3, r, out);
			else
				rc = x == 0 ? KP_EEXHAUSTED : x;
			goto out;
		} else if (x != 1) {
			rc = x;
			goto out;
		}
		rowid = sqlite3_column_int64(st, 0);
		rc = take(st, 1, 3, out);
	}
	sqlite3_reset(st);
	if (rc != KP_OK)
		goto out;
	kps_reservation_id(out->reservation_id);
	out->expires_at = r->now + r->ttl;
	if ((st = kps_sq_stmt(s, SQ_MARK_RESERVED)) == NULL) {
		rc = KP_EDB;
		goto out;
	}
	sqlite3_bind_text(st, 1, out->reservation_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, out->expires_at);
	sqlite3_bind_text(st, 3, r->caller, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, r->now);
	if (r->request_id != NULL)
		sqlite3_bind_text(st, 5, r->request_id, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 6, r->group_id ? r->group_id :
	    (const uint8_t *)"", (int)r->group_id_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, rowid);
	rc = kps_sq_done(s, st, "reserve");
out:
	/* on failure, the dispatcher frees what out holds */
	return kps_sq_op_end1(s, own, rc);
}

/* getrow: the key of ref as spend, release and retire decide on it. */
static int
getrow(struct kps_sq *s, const uint8_t *ref, struct kps_keystate *w)
{
	sqlite3_stmt	*st;
	int		 x;

	memset(w, 0, sizeof(*w));
	if ((st = kps_sq_stmt(s, SQ_ROW)) == NULL)
		return KP_EDB;
	sqlite3_bind_blob(st, 1, ref, KP_REF_LEN, SQLITE_STATIC);
	if ((x = sqlite3_step(st)) == SQLITE_ROW) {
		w->id = sqlite3_column_int64(st, 0);
		kps_sq_text(st, 1, w->owner, sizeof(w->owner));
		w->status = kps_state_parse((const char *)
		    sqlite3_column_text(st, 2));
		kps_sq_text(st, 3, w->reserved_by, sizeof(w->reserved_by));
		w->has_reservation = sqlite3_column_type(st, 4) !=
		    SQLITE_NULL;
		w->reservation_expires_at = sqlite3_column_int64(st, 4);
		w->not_after = sqlite3_column_int64(st, 5);
		w->last_resort = sqlite3_column_int(st, 6);
		kps_sq_blob(st, 7, w->init_key, sizeof(w->init_key), NULL);
		w->spent_by_null = sqlite3_column_type(st, 8) == SQLITE_NULL;
		kps_sq_text(st, 8, w->spent_by, sizeof(w->spent_by));
		kps_sq_blob(st, 9, w->group_id, sizeof(w->group_id),
		    &w->group_id_len);
		kps_sq_text(st, 10, w->device, sizeof(w->device));
		w->released = sqlite3_column_int(st, 11) &&
		    w->reserved_by[0] != '\0' && w->has_reservation;
	}
	sqlite3_reset(st);
	if (x == SQLITE_DONE)
		return KP_ENOTFOUND;
	return x == SQLITE_ROW ? KP_OK : kps_sq_err(s, "key");
}

static int
tombstone(struct kps_sq *s, const char *user, const uint8_t *ref,
    const uint8_t *init_key, int64_t now)
{
	sqlite3_stmt	*st;
	int		 rc, kind;

	for (kind = 0; kind < 2; kind++) {
		if ((st = kps_sq_stmt(s, SQ_TOMB_ADD)) == NULL)
			return KP_EDB;
		sqlite3_bind_int(st, 1, kind);
		sqlite3_bind_blob(st, 2, kind ? init_key : ref, 32,
		    SQLITE_STATIC);
		sqlite3_bind_text(st, 3, user, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, now);
		if ((rc = kps_sq_done(s, st, "tombstone")) != KP_OK)
			return rc;
	}
	return KP_OK;
}

/* tombstoned: KP_ECONFLICT when ref was spent or retired, else
 * KP_ENOTFOUND. */
static int
tombstoned(struct kps_sq *s, const uint8_t *ref)
{
	sqlite3_stmt	*st;
	int		 x;

	if ((st = kps_sq_stmt(s, SQ_TOMB_CHECK)) == NULL)
		return KP_EDB;
	sqlite3_bind_blob(st, 1, ref, KP_REF_LEN, SQLITE_STATIC);
	x = sqlite3_step(st);
	sqlite3_reset(st);
	if (x == SQLITE_ROW)
		return KP_ECONFLICT;
	return x == SQLITE_DONE ? KP_ENOTFOUND : kps_sq_err(s, "tombstones");
}

static int
sq_spend(struct kps_store *b, const char *caller, const uint8_t *ref,
    const uint8_t *group_id, size_t group_id_len, int64_t now)
{
	struct kps_sq		*s = (struct kps_sq *)b;
	struct kps_keystate	 w;
	sqlite3_stmt		*st;
	int			 own, rc;

	if ((rc = kps_sq_op_begin1(s, &own)) != KP_OK)
		return rc;
	if ((rc = getrow(s, ref, &w)) != KP_OK) {
		if (rc == KP_ENOTFOUND)
			rc = tombstoned(s, ref);
		goto out;
	}
	if ((rc = kps_rule_spend(&w, caller, group_id, group_id_len,
	    now)) != KPS_APPLY)
		goto out;
	if ((st = kps_sq_stmt(s, SQ_SPEND)) == NULL) {
		rc = KP_EDB;
		goto out;
	}
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_text(st, 2, caller, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, group_id ? group_id : (const uint8_t *)"",
	    (int)group_id_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, w.id);
	rc = kps_sq_done(s, st, "spend");
out:
	return kps_sq_op_end1(s, own, rc);
}

static int
sq_release(struct kps_store *b, const char *caller, const uint8_t *ref,
    int64_t now)
{
	struct kps_sq		*s = (struct kps_sq *)b;
	struct kps_keystate	 w;
	sqlite3_stmt		*st;
	int			 own, rc;

	if ((rc = kps_sq_op_begin1(s, &own)) != KP_OK)
		return rc;
	if ((rc = getrow(s, ref, &w)) != KP_OK)
		goto out;
	if ((rc = kps_rule_release(&w, caller)) != KPS_APPLY)
		goto out;
	if ((st = kps_sq_stmt(s, SQ_RELEASE)) == NULL) {
		rc = KP_EDB;
		goto out;
	}
	sqlite3_bind_int64(st, 1, w.id);
	rc = kps_sq_done(s, st, "release");
out:
	return kps_sq_op_end1(s, own, rc);
}

static int
sq_retire(struct kps_store *b, const char *caller, const uint8_t *ref,
    int64_t now)
{
	struct kps_sq		*s = (struct kps_sq *)b;
	struct kps_keystate	 w;
	sqlite3_stmt		*st;
	int			 own, rc;

	if ((rc = kps_sq_op_begin(s, &own)) != KP_OK)
		return rc;
	if ((rc = getrow(s, ref, &w)) != KP_OK)
		goto out;
	if ((rc = kps_rule_retire(&w, caller)) != KPS_APPLY)
		goto out;
	if ((rc = tombstone(s, w.owner, ref, w.init_key, now)) != KP_OK)
		goto out;
	if ((st = kps_sq_stmt(s, SQ_DELETE)) == NULL) {
		rc = KP_EDB;
		goto out;
	}
	sqlite3_bind_int64(st, 1, w.id);
	rc = kps_sq_done(s, st, "retire");
out:
	return kps_sq_op_end(s, own, rc);
}

static int
sq_cleanup_expired(struct kps_store *b, int64_t now, int64_t keep,
    uint64_t *n)
{
	struct kps_sq	*s = (struct kps_sq *)b;
	sqlite3_stmt	*st;
	int		 own, rc, i;

	if (n != NULL)
		*n = 0;
	if ((rc = kps_sq_op_begin(s, &own)) != KP_OK)
		return rc;
	for (i = 0; i < 2; i++) {
		st = kps_sq_stmt(s, i ? SQ_CLEAN_TOMB_INIT : SQ_CLEAN_TOMB_REF);
		if (st == NULL) {
			rc = KP_EDB;
			goto out;
		}
		sqlite3_bind_int64(st, 1, now - keep);
		sqlite3_bind_int64(st, 2, now);
		if ((rc = kps_sq_done(s, st, "cleanup tombstones")) != KP_OK)
			goto out;
	}
	if ((st = kps_sq_stmt(s, SQ_CLEANUP)) == NULL) {
		rc = KP_EDB;
		goto out;
	}
	sqlite3_bind_int64(st, 1, now - keep);
	if ((rc = kps_sq_done(s, st, "cleanup")) == KP_OK && n != NULL)
		*n = (uint64_t)sqlite3_changes(s->db);
out:
	return kps_sq_op_end(s, own, rc);
}

static int
sq_release_expired(struct kps_store *b, int64_t now, uint64_t *n)
{
	struct kps_sq	*s = (struct kps_sq *)b;

	return kps_sq_sweep(s, s->conf.burn ? SQ_EXP_BURN : SQ_EXP_RELEASE,
	    now, -1, n, "expire reservations");
}

static int
sq_count(struct kps_store *b, const char *user, int64_t now,
    struct kps_counts *out)
{
	struct kps_sq	*s = (struct kps_sq *)b;
	sqlite3_stmt	*st;
	int		 x;

	memset(out, 0, sizeof(*out));
	if ((st = kps_sq_stmt(s, user ? SQ_COUNT_USER : SQ_COUNT_ALL)) == NULL)
		return KP_EDB;
	sqlite3_bind_int64(st, 1, now);
	if (user != NULL)
		sqlite3_bind_text(st, 2, user, -1, SQLITE_STATIC);
	while ((x = sqlite3_step(st)) == SQLITE_ROW)
		kps_counts_add(out, sqlite3_column_int(st, 0),
		    sqlite3_column_int(st, 1),
		    (uint64_t)sqlite3_column_int64(st, 2));
	sqlite3_reset(st);
	return x == SQLITE_DONE ? KP_OK : kps_sq_err(s, "count");
}

static const struct kps_store_ops sqlite_ops = {
	.name = "sqlite",
	.close = kps_sq_close,
	.errmsg = kps_sq_errmsg,
	.begin = kps_sq_begin,
	.commit = kps_sq_commit,
	.rollback = kps_sq_rollback,
	.in_batch = kps_sq_in_batch,
	.checkpoint = kps_sq_checkpoint,
	.user_get = kps_sq_user_get,
	.device_get = kps_sq_device_get,
	.device_add = kps_sq_device_add,
	.device_remove = kps_sq_device_remove,
	.device_list = kps_sq_device_list,
	.user_list = kps_sq_user_list,
	.device_drop = kps_sq_device_drop,
	.nonce_add = kps_sq_nonce_add,
	.nonce_seen = kps_sq_nonce_seen,
	.nonce_add_many = NULL,		/* one at a time: no round trips */
	.device_check_many = NULL,	/* likewise */
	.nonce_prune = kps_sq_nonce_prune,
	.rate_take = kps_sq_rate_take,
	.rate_prune = kps_sq_rate_prune,
	.save = sq_save,
	.get = sq_get,
	.list_user = sq_list_user,
	.reserve = sq_reserve,
	.reserve_many = NULL,		/* one at a time: no round trips */
	.spend = sq_spend,
	.release = sq_release,
	.retire = sq_retire,
	.cleanup_expired = sq_cleanup_expired,
	.release_expired = sq_release_expired,
	.count = sq_count,
	.dump = kps_sq_dump,
	.load = kps_sq_load,
	.census = kps_sq_census,
	.budget_lock = NULL,		/* one writer: nothing to wait for */
	.budget_facts = kps_sq_budget_facts,
	.budget_read = NULL,		/* one at a time: no round trips */
	.grant_add_many = NULL,
	.budget_strangers = kps_sq_budget_strangers,
	.budget_pool = kps_sq_budget_pool,
	.mark = kps_sq_mark,
	.unmark = kps_sq_unmark,
	.grant_add = kps_sq_grant_add,
	.grant_end = kps_sq_grant_end,
	.grant_prune = kps_sq_grant_prune,
	.contact_add = kps_sq_contact_add,
	.contact_remove = kps_sq_contact_remove,
	.contact_list = kps_sq_contact_list,
	.reg_facts = kps_sq_reg_facts,
	.reg_add = kps_sq_reg_add,
	.reg_prune = kps_sq_reg_prune,
	.invite_add = kps_sq_invite_add,
	.invite_take = kps_sq_invite_take,
};
