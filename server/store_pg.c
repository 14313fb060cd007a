/* SPDX-License-Identifier: ISC */
/*
 * store_pg.c: the PostgreSQL backend of the server's store: its table
 * of operations, and the life of a key in it (save, reserve, spend,
 * release, retire, expiry, counts) when any number of instances share
 * the database; the connection it works on is store_pg_db.c's.  See
 * store.h.
 *
 * Reserve takes the oldest key that no other transaction holds (FOR
 * UPDATE SKIP LOCKED), so racing instances never wait for each other
 * nor take one key twice; the reserves of one request_id are serialized
 * by an advisory lock, so that a retry sent to another instance finds
 * the first reservation.  Spend, release and retire lock the key's row
 * before they decide.  The sweeps run on one instance at a time.
 */

#include <stdlib.h>
#include <string.h>

#include "store_pg_db.h"
#include "store_rules.h"

static const struct kps_store_ops pg_ops;

int
kps_pg_open(const char *conninfo, const struct kps_store_conf *conf,
    struct kps_store **out)
{
	return kps_pg_open_with(conninfo, conf, &pg_ops, out);
}

/* burn: the state a reservation whose TTL passed reads as. */
static int32_t
burn(const struct kps_pg *s)
{
	return s->conf.burn ? KP_STATE_SPENT : KP_STATE_AVAILABLE;
}

/* ref_status: KP_ESTATE when ref is stored spent, KP_EEXIST when
 * stored otherwise, KP_ENOTFOUND when not stored. */
static int
ref_status(struct kps_pg *s, const uint8_t *ref)
{
	struct kps_pg_args	 a;
	PGresult		*r;
	char			 status[16];
	int			 rc = KP_ENOTFOUND;

	kps_pg_args_init(&a);
	kps_pg_arg_bytea(&a, ref, KP_REF_LEN);
	if ((r = kps_pg_run(s, PG_REF_STATUS, &a)) == NULL)
		return KP_EDB;
	if (PQntuples(r) == 1) {
		kps_pg_text(r, 0, 0, status, sizeof(status));
		rc = strcmp(status, "spent") == 0 ? KP_ESTATE : KP_EEXIST;
	}
	PQclear(r);
	return rc;
}

static int
pg_save(struct kps_store *b, const struct kps_key *k)
{
	struct kps_pg		*s = (struct kps_pg *)b;
	struct kps_pg_args	 a;
	PGresult		*r;
	char			 status[16];
	int			 rc;

	kps_pg_args_init(&a);
	kps_pg_arg_bytea(&a, k->ref, KP_REF_LEN);
	kps_pg_arg_text(&a, k->username);
	kps_pg_arg_bytea(&a, k->bytes, k->len);
	kps_pg_arg_i64(&a, k->uploaded_at);
	kps_pg_arg_i64(&a, k->not_after);
	kps_pg_arg_bytea(&a, k->credential_hash, 32);
	kps_pg_arg_i32(&a, k->suite);
	kps_pg_arg_bytea(&a, k->init_key, KP_KEY_LEN);
	kps_pg_arg_bool(&a, k->last_resort);
	kps_pg_arg_text(&a, k->device[0] ? k->device : KP_DEFAULT_DEVICE);
	if ((r = kps_pg_run(s, PG_SAVE, &a)) == NULL)
		return KP_EDB;
	if (!kps_pg_isnull(r, 0, 0))
		rc = kps_pg_int(r, 0, 0) == 0 ? KP_ESTATE : KP_ECONFLICT;
	else if (!kps_pg_isnull(r, 0, 1)) {
		kps_pg_text(r, 0, 1, status, sizeof(status));
		rc = strcmp(status, "spent") == 0 ? KP_ESTATE : KP_EEXIST;
	} else
		rc = kps_pg_int(r, 0, 2) ? KP_OK : KP_ECONFLICT;
	PQclear(r);
	if (rc != KP_ECONFLICT)
		return rc;
	/*
	 * A unique index said no: the init key is in use, or another
	 * instance stored the same ref since the statement began.
	 */
	rc = ref_status(s, k->ref);
	return rc == KP_ENOTFOUND ? KP_ECONFLICT : rc;
}

static int
pg_get(struct kps_store *b, const uint8_t *ref, int64_t now,
    struct kps_key *out)
{
	struct kps_pg		*s = (struct kps_pg *)b;
	struct kps_pg_args	 a;
	struct kps_row		 row;
	PGresult		*r;
	int			 rc = KP_ENOTFOUND;

	memset(out, 0, sizeof(*out));
	kps_pg_args_init(&a);
	kps_pg_arg_i64(&a, now);
	kps_pg_arg_i32(&a, burn(s));
	kps_pg_arg_bytea(&a, ref, KP_REF_LEN);
	if ((r = kps_pg_run(s, PG_GET, &a)) == NULL)
		return KP_EDB;
	if (PQntuples(r) == 1 && (rc = kps_pg_row(r, 0, &row)) == KP_OK)
		kps_key_view(&row, row.key.status, out);
	PQclear(r);
	return rc;
}

static int
pg_list_user(struct kps_store *b, const char *user, const char *device,
    int status, int64_t now, struct kps_key **keys, size_t *n)
{
	struct kps_pg		*s = (struct kps_pg *)b;
	struct kps_pg_args	 a;
	struct kps_row		 row;
	struct kps_key		*k = NULL;
	PGresult		*r;
	size_t			 cnt = 0, nt;
	int			 rc = KP_OK;

	*keys = NULL;
	*n = 0;
	kps_pg_args_init(&a);
	kps_pg_arg_i64(&a, now);
	kps_pg_arg_i32(&a, burn(s));
	kps_pg_arg_text(&a, user);
	if (status >= 0) {
		kps_pg_arg_i32(&a, status);
		kps_pg_arg_text(&a, device);
	} else if (device != NULL)
		kps_pg_arg_text(&a, device);
	if ((r = kps_pg_run(s, status >= 0 ? PG_LIST_STATE : device != NULL ?
	    PG_LIST_DEV : PG_LIST_ALL, &a)) == NULL)
		return KP_EDB;
	nt = (size_t)PQntuples(r);
	if (nt > 0 && (k = calloc(nt, sizeof(*k))) == NULL)
		rc = KP_ENOMEM;
	for (; rc == KP_OK && cnt < nt; cnt++) {
		if ((rc = kps_pg_row(r, (int)cnt, &row)) != KP_OK)
			break;
		kps_key_view(&row, row.key.status, &k[cnt]);
	}
	PQclear(r);
	if (rc != KP_OK) {
		kps_key_list_free(k, cnt);
		return rc;
	}
	*keys = k;
	*n = cnt;
	return KP_OK;
}

/* take: ref (column 1), bytes (2), device (dcol) and suite (dcol + 1)
 * of row i of r into out. */
static int
take(const PGresult *r, int i, int dcol, struct kps_reservation *out)
{
	kps_pg_bytea(r, i, 1, out->ref, sizeof(out->ref), NULL);
	kps_pg_text(r, i, dcol, out->device, sizeof(out->device));
	out->suite = (uint16_t)kps_pg_int(r, i, dcol + 1);
	return kps_pg_dupbytea(r, i, 2, &out->bytes, &out->len);
}

/* lock_args: the arguments of PG_REQUEST_LOCK for r's request_id. */
static void
lock_args(struct kps_pg_args *a, const struct kps_reserve *r)
{
	kps_pg_args_init(a);
	kps_pg_arg_text(a, r->caller);
	kps_pg_arg_text(a, r->request_id);
}

/*
 * oldest_calls: the statements of a reserve of the oldest available
 * key of r->target, or its last resort (PG_RESERVE), after the lock of
 * its request_id when it has one, in the same round trip: the reserve
 * reads the database as of when it holds the lock.  a and l are the
 * arguments to fill; out gets the new reservation id and expiry.  The
 * number of statements put in c (1 or 2; the reserve is the last).
 */
static size_t
oldest_calls(const struct kps_reserve *r, struct kps_reservation *out,
    struct kps_pg_args *a, struct kps_pg_args *l, struct kps_pg_call *c)
{
	size_t	n = 0;

	kps_reservation_id(out->reservation_id);
	out->expires_at = r->now + r->ttl;
	kps_pg_args_init(a);
	kps_pg_arg_text(a, r->caller);
	kps_pg_arg_text(a, r->target);
	kps_pg_arg_text(a, r->request_id);
	kps_pg_arg_i64(a, r->now);
	kps_pg_arg_text(a, out->reservation_id);
	kps_pg_arg_i64(a, out->expires_at);
	kps_pg_arg_bytea(a, r->group_id ? r->group_id : (const uint8_t *)"",
	    r->group_id_len);
	kps_pg_arg_text(a, r->device);
	kps_pg_arg_i32(a, r->suite);
	kps_pg_arg_bool(a, r->last_resort_only);
	if (r->request_id != NULL) {
		lock_args(l, r);
		c[n++] = (struct kps_pg_call){ PG_REQUEST_LOCK, l, NULL };
	}
	c[n++] = (struct kps_pg_call){ PG_RESERVE, a, NULL };
	return n;
}

/* oldest_take: what the reserve's result res says, into out; frees
 * res. */
static int
oldest_take(PGresult *res, struct kps_reservation *out)
{
	int	i, kind, found[4] = { -1, -1, -1, -1 }, rc;

	for (i = 0; i < PQntuples(res); i++)
		if ((kind = (int)kps_pg_int(res, i, 0)) >= 0 && kind < 4)
			found[kind] = i;
	if ((i = found[0]) >= 0) {
		/* the same request_id: the same reservation */
		kps_pg_text(res, i, 3, out->reservation_id,
		    sizeof(out->reservation_id));
		out->expires_at = kps_pg_int(res, i, 4);
		out->replayed = 1;
	} else if ((i = found[1]) < 0 && (i = found[2]) >= 0)
		out->last_resort = 1;	/* served, not consumed */
	if (i >= 0)
		rc = take(res, i, 5, out);
	else
		rc = found[3] >= 0 ? KP_EEXHAUSTED : KP_ENOTFOUND;
	PQclear(res);
	return rc;
}

/* oldest: reserve the oldest available key of r->target (see
 * oldest_calls). */
static int
oldest(struct kps_pg *s, const struct kps_reserve *r,
    struct kps_reservation *out)
{
	struct kps_pg_args	 a, l;
	struct kps_pg_call	 c[2];
	size_t			 n;

	n = oldest_calls(r, out, &a, &l, c);
	if (kps_pg_pipeline(s, c, n) != KP_OK)
		return KP_EDB;
	if (n == 2)
		PQclear(c[0].res);
	return oldest_take(c[n - 1].res, out);
}

/* replay: the live reservation of r->request_id of target's keys (as
 * registered) into out: KP_OK, or KP_ENOTFOUND when there is none. */
static int
replay(struct kps_pg *s, const struct kps_reserve *r, const char *target,
    struct kps_reservation *out)
{
	struct kps_pg_args	 a;
	PGresult		*res;
	int			 rc = KP_ENOTFOUND;

	kps_pg_args_init(&a);
	kps_pg_arg_text(&a, r->caller);
	kps_pg_arg_text(&a, r->request_id);
	kps_pg_arg_text(&a, target);
	kps_pg_arg_i64(&a, r->now);
	if ((res = kps_pg_run(s, PG_REPLAY, &a)) == NULL)
		return KP_EDB;
	if (PQntuples(res) > 0) {
		kps_pg_bytea(res, 0, 0, out->ref, sizeof(out->ref), NULL);
		rc = kps_pg_dupbytea(res, 0, 1, &out->bytes, &out->len);
		kps_pg_text(res, 0, 2, out->reservation_id,
		    sizeof(out->reservation_id));
		out->expires_at = kps_pg_int(res, 0, 3);
		kps_pg_text(res, 0, 4, out->device, sizeof(out->device));
		out->suite = (uint16_t)kps_pg_int(res, 0, 5);
		out->replayed = 1;
	}
	PQclear(res);
	return rc;
}

/* named: reserve the key r->ref, which its owner names. */
static int
named(struct kps_pg *s, const struct kps_reserve *r,
    struct kps_reservation *out)
{
	struct kps_keystate	 w;
	struct kps_pg_args	 a;
	PGresult		*res;
	char			 status[16], target[KP_MAX_USERNAME + 1];
	char			 dev[KP_MAX_DEVICE + 1];
	int			 rc, exists;

	if (r->request_id != NULL) {
		lock_args(&a, r);
		if ((rc = kps_pg_done(s, PG_REQUEST_LOCK, &a, NULL)) != KP_OK)
			return rc;
	}
	/* the target as registered: its keys are stored under that name */
	kps_pg_args_init(&a);
	kps_pg_arg_text(&a, r->target);
	if ((res = kps_pg_run(s, PG_USER_EXISTS, &a)) == NULL)
		return KP_EDB;
	if ((exists = PQntuples(res) > 0))
		kps_pg_text(res, 0, 0, target, sizeof(target));
	PQclear(res);
	if (!exists)
		return KP_ENOTFOUND;
	if (r->request_id != NULL &&
	    (rc = replay(s, r, target, out)) != KP_ENOTFOUND)
		return rc;
	kps_pg_args_init(&a);
	kps_pg_arg_bytea(&a, r->ref, KP_REF_LEN);
	kps_pg_arg_text(&a, target);
	if ((res = kps_pg_run(s, PG_NAMED, &a)) == NULL)
		return KP_EDB;
	if (PQntuples(res) == 0) {
		PQclear(res);
		/* a caller of another user learns of no key of target */
		return kps_rule_same_user(r->caller, target) ? KP_ENOTFOUND :
		    KP_EFORBIDDEN;
	}
	kps_pg_text(res, 0, 6, dev, sizeof(dev));
	if (!kps_rule_owner(target, dev, r->caller)) {
		PQclear(res);
		return KP_EFORBIDDEN;
	}
	memset(&w, 0, sizeof(w));
	w.id = kps_pg_int(res, 0, 0);
	kps_pg_text(res, 0, 3, status, sizeof(status));
	w.status = kps_state_parse(status);
	w.not_after = kps_pg_int(res, 0, 4);
	w.last_resort = (int)kps_pg_int(res, 0, 5);
	kps_reservation_id(out->reservation_id);
	out->expires_at = r->now + r->ttl;
	if ((rc = kps_rule_named(&w, r->now)) == KP_OK)
		out->last_resort = 1;
	if (rc == KP_OK || rc == KPS_APPLY)
		rc = take(res, 0, 6, out) != KP_OK ? KP_ENOMEM : rc;
	PQclear(res);
	if (rc != KPS_APPLY)
		return rc;
	kps_pg_args_init(&a);
	kps_pg_arg_text(&a, out->reservation_id);
	kps_pg_arg_i64(&a, out->expires_at);
	kps_pg_arg_text(&a, r->caller);
	kps_pg_arg_i64(&a, r->now);
	kps_pg_arg_text(&a, r->request_id);
	kps_pg_arg_bytea(&a, r->group_id ? r->group_id : (const uint8_t *)"",
	    r->group_id_len);
	kps_pg_arg_i64(&a, w.id);
	return kps_pg_done(s, PG_MARK, &a, NULL);
}

static int
pg_reserve(struct kps_store *b, const struct kps_reserve *r,
    struct kps_reservation *out)
{
	struct kps_pg		*s = (struct kps_pg *)b;
	int			 own, rc;

	memset(out, 0, sizeof(*out));
	/* the lock of a request_id holds till the end of the transaction */
	if ((rc = kps_pg_op_begin(s, &own)) != KP_OK)
		return rc;
	rc = r->ref != NULL ? named(s, r, out) : oldest(s, r, out);
	/* on failure, the dispatcher frees what out holds */
	return kps_pg_op_end(s, own, rc);
}

/* Reserves of a pipeline at most: each a lock and a statement. */
#define RESERVES_AT_ONCE	32

/*
 * many: the n reserves of r, none naming a key, in one pipeline: one
 * round trip for all.  KP_OK with each one's result in rc, or KP_EDB.
 */
static int
many(struct kps_pg *s, const struct kps_reserve *const *r,
    struct kps_reservation *const *out, int *rc, size_t n)
{
	struct kps_pg_call	 c[2 * RESERVES_AT_ONCE];
	struct kps_pg_args	 a[RESERVES_AT_ONCE], l[RESERVES_AT_ONCE];
	size_t			 i, k = 0, at[RESERVES_AT_ONCE];

	for (i = 0; i < n; i++) {
		memset(out[i], 0, sizeof(*out[i]));
		k += oldest_calls(r[i], out[i], &a[i], &l[i], c + k);
		at[i] = k - 1;
	}
	if (kps_pg_pipeline(s, c, k) != KP_OK)
		return KP_EDB;
	for (i = 0; i < k; i++)
		if (c[i].stmt == PG_REQUEST_LOCK)
			PQclear(c[i].res);
	for (i = 0; i < n; i++)
		rc[i] = oldest_take(c[at[i]].res, out[i]);
	return KP_OK;
}

static int
pg_reserve_many(struct kps_store *b, const struct kps_reserve *const *r,
    struct kps_reservation *const *out, int *rc, size_t n)
{
	struct kps_pg	*s = (struct kps_pg *)b;
	size_t		 i, m;
	int		 own, x;

	if ((x = kps_pg_op_begin(s, &own)) != KP_OK)
		return x;
	for (i = 0; i < n && x == KP_OK; i += m) {
		if (r[i]->ref != NULL) {
			/* a named key: statements that wait on each other */
			memset(out[i], 0, sizeof(*out[i]));
			rc[i] = named(s, r[i], out[i]);
			m = 1;
			continue;
		}
		for (m = 0; i + m < n && m < RESERVES_AT_ONCE &&
		    r[i + m]->ref == NULL; m++)
			;
		x = many(s, r + i, out + i, rc + i, m);
	}
	return kps_pg_op_end(s, own, x);
}

/* getrow: the key of ref, locked, as spend, release and retire decide
 * on it. */
static int
getrow(struct kps_pg *s, const uint8_t *ref, struct kps_keystate *w)
{
	struct kps_pg_args	 a;
	PGresult		*r;
	char			 status[16];
	int			 rc = KP_ENOTFOUND;

	memset(w, 0, sizeof(*w));
	kps_pg_args_init(&a);
	kps_pg_arg_bytea(&a, ref, KP_REF_LEN);
	if ((r = kps_pg_run(s, PG_ROW, &a)) == NULL)
		return KP_EDB;
	if (PQntuples(r) == 1) {
		w->id = kps_pg_int(r, 0, 0);
		kps_pg_text(r, 0, 1, w->owner, sizeof(w->owner));
		kps_pg_text(r, 0, 2, status, sizeof(status));
		w->status = kps_state_parse(status);
		kps_pg_text(r, 0, 3, w->reserved_by, sizeof(w->reserved_by));
		w->has_reservation = !kps_pg_isnull(r, 0, 4);
		w->reservation_expires_at = kps_pg_int(r, 0, 4);
		w->not_after = kps_pg_int(r, 0, 5);
		w->last_resort = (int)kps_pg_int(r, 0, 6);
		kps_pg_bytea(r, 0, 7, w->init_key, sizeof(w->init_key), NULL);
		w->spent_by_null = kps_pg_isnull(r, 0, 8);
		kps_pg_text(r, 0, 8, w->spent_by, sizeof(w->spent_by));
		kps_pg_bytea(r, 0, 9, w->group_id, sizeof(w->group_id),
		    &w->group_id_len);
		kps_pg_text(r, 0, 10, w->device, sizeof(w->device));
		w->released = (int)kps_pg_int(r, 0, 11) &&
		    w->reserved_by[0] != '\0' && w->has_reservation;
		rc = KP_OK;
	}
	PQclear(r);
	return rc;
}

/* tombstoned: KP_ECONFLICT when ref was spent or retired, else
 * KP_ENOTFOUND. */
static int
tombstoned(struct kps_pg *s, const uint8_t *ref)
{
	struct kps_pg_args	 a;
	PGresult		*r;
	int			 rc;

	kps_pg_args_init(&a);
	kps_pg_arg_bytea(&a, ref, KP_REF_LEN);
	if ((r = kps_pg_run(s, PG_TOMB_REF, &a)) == NULL)
		return KP_EDB;
	rc = PQntuples(r) > 0 ? KP_ECONFLICT : KP_ENOTFOUND;
	PQclear(r);
	return rc;
}

static int
pg_spend(struct kps_store *b, const char *caller, const uint8_t *ref,
    const uint8_t *group_id, size_t group_id_len, int64_t now)
{
	struct kps_pg		*s = (struct kps_pg *)b;
	struct kps_keystate	 w;
	struct kps_pg_args	 a;
	int			 own, rc;

	if ((rc = kps_pg_op_begin(s, &own)) != KP_OK)
		return rc;
	if ((rc = getrow(s, ref, &w)) != KP_OK) {
		if (rc == KP_ENOTFOUND)
			rc = tombstoned(s, ref);
		goto out;
	}
	if ((rc = kps_rule_spend(&w, caller, group_id, group_id_len,
	    now)) != KPS_APPLY)
		goto out;
	kps_pg_args_init(&a);
	kps_pg_arg_i64(&a, now);
	kps_pg_arg_text(&a, caller);
	kps_pg_arg_bytea(&a, group_id ? group_id : (const uint8_t *)"",
	    group_id_len);
	kps_pg_arg_i64(&a, w.id);
	rc = kps_pg_done(s, PG_SPEND, &a, NULL);
out:
	return kps_pg_op_end(s, own, rc);
}

/*
 * settle: caller's release (PG_RELEASE) or retirement (PG_RETIRE, which
 * tombstones the key in its statement) of ref at now, as its rule says.
 */
static int
settle(struct kps_store *b, enum kps_pg_stmt stmt, const char *caller,
    const uint8_t *ref, int64_t now)
{
	struct kps_pg		*s = (struct kps_pg *)b;
	struct kps_keystate	 w;
	struct kps_pg_args	 a;
	int			 own, rc;

	if ((rc = kps_pg_op_begin(s, &own)) != KP_OK)
		return rc;
	if ((rc = getrow(s, ref, &w)) != KP_OK)
		goto out;
	rc = stmt == PG_RETIRE ? kps_rule_retire(&w, caller) :
	    kps_rule_release(&w, caller);
	if (rc != KPS_APPLY)
		goto out;
	kps_pg_args_init(&a);
	kps_pg_arg_i64(&a, w.id);
	if (stmt == PG_RETIRE)
		kps_pg_arg_i64(&a, now);
	rc = kps_pg_done(s, stmt, &a, NULL);
out:
	return kps_pg_op_end(s, own, rc);
}

static int
pg_release(struct kps_store *b, const char *caller, const uint8_t *ref,
    int64_t now)
{
	return settle(b, PG_RELEASE, caller, ref, now);
}

static int
pg_retire(struct kps_store *b, const char *caller, const uint8_t *ref,
    int64_t now)
{
	return settle(b, PG_RETIRE, caller, ref, now);
}

static int
pg_cleanup_expired(struct kps_store *b, int64_t now, int64_t keep,
    uint64_t *n)
{
	struct kps_pg		*s = (struct kps_pg *)b;
	struct kps_pg_args	 a;
	PGresult		*r;

	if (n != NULL)
		*n = 0;
	kps_pg_args_init(&a);
	kps_pg_arg_i64(&a, now - keep);
	kps_pg_arg_i64(&a, now);
	if ((r = kps_pg_run(s, PG_CLEANUP, &a)) == NULL)
		return KP_EDB;
	if (n != NULL && PQntuples(r) == 1)
		*n = (uint64_t)kps_pg_int(r, 0, 0);
	PQclear(r);
	return KP_OK;
}

static int
pg_release_expired(struct kps_store *b, int64_t now, uint64_t *n)
{
	struct kps_pg	*s = (struct kps_pg *)b;

	return kps_pg_sweep(s, s->conf.burn ? PG_EXP_BURN : PG_EXP_RELEASE,
	    now, -1, n);
}

static int
pg_count(struct kps_store *b, const char *user, int64_t now,
    struct kps_counts *out)
{
	struct kps_pg		*s = (struct kps_pg *)b;
	struct kps_pg_args	 a;
	PGresult		*r;
	int			 i;

	memset(out, 0, sizeof(*out));
	kps_pg_args_init(&a);
	kps_pg_arg_i64(&a, now);
	kps_pg_arg_i32(&a, burn(s));
	if (user != NULL)
		kps_pg_arg_text(&a, user);
	if ((r = kps_pg_run(s, user ? PG_COUNT_USER : PG_COUNT_ALL, &a)) ==
	    NULL)
		return KP_EDB;
	for (i = 0; i < PQntuples(r); i++)
		kps_counts_add(out, (int)kps_pg_int(r, i, 0),
		    (int)kps_pg_int(r, i, 1), (uint64_t)kps_pg_int(r, i, 2));
	PQclear(r);
	return KP_OK;
}

static const struct kps_store_ops pg_ops = {
	.name = "postgresql",
	.close = kps_pg_close,
	.errmsg = kps_pg_errmsg,
	.begin = kps_pg_begin,
	.commit = kps_pg_commit,
	.rollback = kps_pg_rollback,
	.in_batch = kps_pg_in_batch,
	.checkpoint = kps_pg_checkpoint,
	.user_get = kps_pg_user_get,
	.device_get = kps_pg_device_get,
	.device_add = kps_pg_device_add,
	.device_remove = kps_pg_device_remove,
	.device_list = kps_pg_device_list,
	.user_list = kps_pg_user_list,
	.device_drop = kps_pg_device_drop,
	.nonce_add = kps_pg_nonce_add,
	.nonce_add_many = kps_pg_nonce_add_many,
	.device_check_many = kps_pg_device_check_many,
	.nonce_seen = kps_pg_nonce_seen,
	.nonce_prune = kps_pg_nonce_prune,
	.rate_take = kps_pg_rate_take,
	.rate_prune = kps_pg_rate_prune,
	.save = pg_save,
	.get = pg_get,
	.list_user = pg_list_user,
	.reserve = pg_reserve,
	.reserve_many = pg_reserve_many,
	.spend = pg_spend,
	.release = pg_release,
	.retire = pg_retire,
	.cleanup_expired = pg_cleanup_expired,
	.release_expired = pg_release_expired,
	.count = pg_count,
	.dump = kps_pg_dump,
	.load = kps_pg_load,
	.census = kps_pg_census,
	.budget_lock = kps_pg_budget_lock,
	.budget_facts = kps_pg_budget_facts,
	.budget_read = kps_pg_budget_read,
	.grant_add_many = kps_pg_grant_add_many,
	.budget_strangers = kps_pg_budget_strangers,
	.budget_pool = kps_pg_budget_pool,
	.mark = NULL,		/* an error ends the whole transaction */
	.unmark = NULL,
	.grant_add = kps_pg_grant_add,
	.grant_end = kps_pg_grant_end,
	.grant_prune = kps_pg_grant_prune,
	.contact_add = kps_pg_contact_add,
	.contact_remove = kps_pg_contact_remove,
	.contact_list = kps_pg_contact_list,
	.reg_facts = kps_pg_reg_facts,
	.reg_add = kps_pg_reg_add,
	.reg_prune = kps_pg_reg_prune,
	.invite_add = kps_pg_invite_add,
	.invite_take = kps_pg_invite_take,
};
