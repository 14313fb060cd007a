/* SPDX-License-Identifier: ISC */
/*
 * store_pg_copy.c: the PostgreSQL backend's side of a copy between
 * databases (kpool-server migrate): every row of every table read as
 * stored, a row written as it is, and the counts that check a copy.
 * See store.h.
 */

#include <stdlib.h>
#include <string.h>

#include "store_pg_db.h"
#include "store_rules.h"

/* A dump in progress: the caller's function and a row to fill. */
struct dump {
	int		(*row)(void *, const struct kps_row *);
	void		*arg;
	struct kps_row	 r;
};

static int
user_row(void *arg, const PGresult *res)
{
	struct dump	*d = arg;

	memset(&d->r, 0, sizeof(d->r));
	d->r.kind = KPS_ROW_USER;
	kps_pg_text(res, 0, 0, d->r.name, sizeof(d->r.name));
	d->r.created_at = kps_pg_int(res, 0, 1);
	return d->row(d->arg, &d->r);
}

static int
device_row(void *arg, const PGresult *res)
{
	struct dump	*d = arg;

	memset(&d->r, 0, sizeof(d->r));
	d->r.kind = KPS_ROW_DEVICE;
	kps_pg_text(res, 0, 0, d->r.name, sizeof(d->r.name));
	kps_pg_text(res, 0, 1, d->r.device, sizeof(d->r.device));
	kps_pg_bytea(res, 0, 2, d->r.public_key, sizeof(d->r.public_key),
	    NULL);
	d->r.created_at = kps_pg_int(res, 0, 3);
	return d->row(d->arg, &d->r);
}

static int
aside_row(void *arg, const PGresult *res)
{
	struct dump	*d = arg;

	memset(&d->r, 0, sizeof(d->r));
	d->r.kind = KPS_ROW_SET_ASIDE;
	kps_pg_text(res, 0, 0, d->r.name, sizeof(d->r.name));
	kps_pg_bytea(res, 0, 1, d->r.public_key, sizeof(d->r.public_key),
	    NULL);
	d->r.created_at = kps_pg_int(res, 0, 2);
	kps_pg_text(res, 0, 3, d->r.kept, sizeof(d->r.kept));
	d->r.set_aside_at = kps_pg_int(res, 0, 4);
	return d->row(d->arg, &d->r);
}

static int
nonce_row(void *arg, const PGresult *res)
{
	struct dump	*d = arg;

	memset(&d->r, 0, sizeof(d->r));
	d->r.kind = KPS_ROW_NONCE;
	d->r.created_at = kps_pg_int(res, 0, 0);
	d->r.nonce_id = kps_pg_int(res, 0, 1);
	return d->row(d->arg, &d->r);
}

static int
key_row(void *arg, const PGresult *res)
{
	struct dump	*d = arg;
	int		 rc;

	if ((rc = kps_pg_row(res, 0, &d->r)) != KP_OK)
		return rc;
	rc = d->row(d->arg, &d->r);
	free(d->r.key.bytes);
	d->r.key.bytes = NULL;
	return rc;
}

static int
tomb_row(void *arg, const PGresult *res)
{
	struct dump	*d = arg;

	memset(&d->r, 0, sizeof(d->r));
	d->r.kind = KPS_ROW_TOMBSTONE;
	d->r.tomb_kind = (int)kps_pg_int(res, 0, 0);
	kps_pg_bytea(res, 0, 1, d->r.value, sizeof(d->r.value), NULL);
	kps_pg_text(res, 0, 2, d->r.name, sizeof(d->r.name));
	d->r.created_at = kps_pg_int(res, 0, 3);
	return d->row(d->arg, &d->r);
}

/*
 * fits: 1 when column i of res fits a field of cap bytes: a text with
 * its NUL, a bytea (exact) of cap bytes.  A value the server never
 * writes, which a row could not hold whole, stops the copy instead.
 */
static int
fits(const PGresult *res, int i, size_t cap, int bytea)
{
	size_t	n = (size_t)PQgetlength(res, 0, i);

	return bytea ? n == cap : n < cap;
}

static int
contact_row(void *arg, const PGresult *res)
{
	struct dump	*d = arg;

	memset(&d->r, 0, sizeof(d->r));
	d->r.kind = KPS_ROW_CONTACT;
	if (!fits(res, 0, sizeof(d->r.name), 0) ||
	    !fits(res, 1, sizeof(d->r.peer), 0))
		return KP_ETOOBIG;
	kps_pg_text(res, 0, 0, d->r.name, sizeof(d->r.name));
	kps_pg_text(res, 0, 1, d->r.peer, sizeof(d->r.peer));
	d->r.contact_kind = (int)kps_pg_int(res, 0, 2);
	d->r.created_at = kps_pg_int(res, 0, 3);
	return d->row(d->arg, &d->r);
}

static int
grant_row(void *arg, const PGresult *res)
{
	struct dump	*d = arg;

	memset(&d->r, 0, sizeof(d->r));
	d->r.kind = KPS_ROW_GRANT;
	if (!fits(res, 0, sizeof(d->r.name), 0) ||
	    !fits(res, 1, sizeof(d->r.peer), 0) ||
	    !fits(res, 2, sizeof(d->r.device), 0) ||
	    !fits(res, 3, sizeof(d->r.value), 1))
		return KP_ETOOBIG;
	kps_pg_text(res, 0, 0, d->r.name, sizeof(d->r.name));
	kps_pg_text(res, 0, 1, d->r.peer, sizeof(d->r.peer));
	kps_pg_text(res, 0, 2, d->r.device, sizeof(d->r.device));
	kps_pg_bytea(res, 0, 3, d->r.value, sizeof(d->r.value), NULL);
	d->r.stranger = kps_pg_int(res, 0, 4) != 0;
	d->r.created_at = kps_pg_int(res, 0, 5);
	d->r.expires_at = kps_pg_int(res, 0, 6);
	d->r.ended = (int)kps_pg_int(res, 0, 7);
	return d->row(d->arg, &d->r);
}

static int
reg_row(void *arg, const PGresult *res)
{
	struct dump	*d = arg;

	memset(&d->r, 0, sizeof(d->r));
	d->r.kind = KPS_ROW_REGISTRATION;
	if (!fits(res, 0, sizeof(d->r.address), 0))
		return KP_ETOOBIG;
	kps_pg_text(res, 0, 0, d->r.address, sizeof(d->r.address));
	d->r.created_at = kps_pg_int(res, 0, 1);
	return d->row(d->arg, &d->r);
}

static int
invite_row(void *arg, const PGresult *res)
{
	struct dump	*d = arg;

	memset(&d->r, 0, sizeof(d->r));
	d->r.kind = KPS_ROW_INVITE;
	if (!fits(res, 0, sizeof(d->r.value), 1))
		return KP_ETOOBIG;
	kps_pg_bytea(res, 0, 0, d->r.value, sizeof(d->r.value), NULL);
	d->r.uses = (int)kps_pg_int(res, 0, 1);
	d->r.created_at = kps_pg_int(res, 0, 2);
	return d->row(d->arg, &d->r);
}

int
kps_pg_dump(struct kps_store *b, int (*row)(void *, const struct kps_row *),
    void *arg)
{
	static const struct {
		enum kps_pg_stmt	 stmt;
		int			(*fn)(void *, const PGresult *);
	} kinds[KPS_NROWKINDS] = {
		[KPS_ROW_USER] = { PG_DUMP_USERS, user_row },
		[KPS_ROW_DEVICE] = { PG_DUMP_DEVICES, device_row },
		[KPS_ROW_SET_ASIDE] = { PG_DUMP_ASIDE, aside_row },
		[KPS_ROW_KEY] = { PG_DUMP_KEYS, key_row },
		[KPS_ROW_TOMBSTONE] = { PG_DUMP_TOMBS, tomb_row },
		[KPS_ROW_NONCE] = { PG_DUMP_NONCES, nonce_row },
		[KPS_ROW_CONTACT] = { PG_DUMP_CONTACTS, contact_row },
		[KPS_ROW_GRANT] = { PG_DUMP_GRANTS, grant_row },
		[KPS_ROW_REGISTRATION] = { PG_DUMP_REGS, reg_row },
		[KPS_ROW_INVITE] = { PG_DUMP_INVITES, invite_row },
	};
	struct kps_pg	*s = (struct kps_pg *)b;
	struct dump	 d;
	int		 kind, own, rc;

	memset(&d, 0, sizeof(d));
	d.row = row;
	d.arg = arg;
	/* one transaction: every table as of one moment */
	if ((rc = kps_pg_op_begin(s, &own)) != KP_OK)
		return rc;
	for (kind = 0; kind < KPS_NROWKINDS && rc == KP_OK; kind++)
		rc = kps_pg_each(s, kinds[kind].stmt, kinds[kind].fn, &d);
	return kps_pg_op_end(s, own, rc);
}

/* load_key: the arguments of PG_LOAD_KEY from r. */
static int
load_key(struct kps_pg_args *a, const struct kps_row *r)
{
	const struct kps_key	*k = &r->key;
	const char		*status = kps_state_text(k->status);

	if (status == NULL)
		return KP_EINVAL;
	kps_pg_arg_bytea(a, k->ref, KP_REF_LEN);
	kps_pg_arg_text(a, k->username);
	kps_pg_arg_bytea(a, k->bytes, k->len);
	kps_pg_arg_i64(a, k->uploaded_at);
	kps_pg_arg_text(a, status);
	kps_pg_arg_bool(a, k->last_resort);
	kps_pg_arg_text(a, r->null & KPS_NULL_RESERVATION_ID ? NULL :
	    k->reservation_id);
	if (r->null & KPS_NULL_RESERVED_AT)
		kps_pg_arg_null(a, 'i');
	else
		kps_pg_arg_i64(a, k->reserved_at);
	if (r->null & KPS_NULL_EXPIRES)
		kps_pg_arg_null(a, 'i');
	else
		kps_pg_arg_i64(a, k->reservation_expires_at);
	kps_pg_arg_text(a, r->null & KPS_NULL_RESERVED_BY ? NULL :
	    k->reserved_by);
	if (r->null & KPS_NULL_SPENT_AT)
		kps_pg_arg_null(a, 'i');
	else
		kps_pg_arg_i64(a, k->spent_at);
	kps_pg_arg_text(a, r->null & KPS_NULL_SPENT_BY ? NULL : k->spent_by);
	kps_pg_arg_bytea(a, r->null & KPS_NULL_GROUP_ID ? NULL : k->group_id,
	    k->group_id_len);
	kps_pg_arg_i64(a, k->not_after);
	kps_pg_arg_bytea(a, k->credential_hash, 32);
	kps_pg_arg_i32(a, k->suite);
	kps_pg_arg_bytea(a, k->init_key, KP_KEY_LEN);
	kps_pg_arg_text(a, k->device[0] ? k->device : KP_DEFAULT_DEVICE);
	kps_pg_arg_text(a, r->null & KPS_NULL_REQUEST_ID ? NULL :
	    r->request_id);
	return KP_OK;
}

int
kps_pg_load(struct kps_store *b, const struct kps_row *r)
{
	struct kps_pg		*s = (struct kps_pg *)b;
	struct kps_pg_args	 a;
	enum kps_pg_stmt	 st;
	uint64_t		 n;
	int			 rc;

	kps_pg_args_init(&a);
	switch (r->kind) {
	case KPS_ROW_USER:
		st = PG_LOAD_USER;
		kps_pg_arg_text(&a, r->name);
		kps_pg_arg_i64(&a, r->created_at);
		break;
	case KPS_ROW_DEVICE:
		st = PG_LOAD_DEVICE;
		kps_pg_arg_text(&a, r->name);
		kps_pg_arg_text(&a, r->device);
		kps_pg_arg_bytea(&a, r->public_key, 32);
		kps_pg_arg_i64(&a, r->created_at);
		break;
	case KPS_ROW_SET_ASIDE:
		st = PG_LOAD_ASIDE;
		kps_pg_arg_text(&a, r->name);
		kps_pg_arg_bytea(&a, r->public_key, 32);
		kps_pg_arg_i64(&a, r->created_at);
		kps_pg_arg_text(&a, r->kept);
		kps_pg_arg_i64(&a, r->set_aside_at);
		break;
	case KPS_ROW_KEY:
		st = PG_LOAD_KEY;
		if ((rc = load_key(&a, r)) != KP_OK)
			return rc;
		break;
	case KPS_ROW_TOMBSTONE:
		st = PG_LOAD_TOMB;
		kps_pg_arg_i32(&a, r->tomb_kind);
		kps_pg_arg_bytea(&a, r->value, 32);
		kps_pg_arg_text(&a, r->name);
		kps_pg_arg_i64(&a, r->created_at);
		break;
	case KPS_ROW_NONCE:
		st = PG_LOAD_NONCE;
		kps_pg_arg_i64(&a, r->created_at);
		kps_pg_arg_i64(&a, r->nonce_id);
		break;
	case KPS_ROW_CONTACT:
		st = PG_LOAD_CONTACT;
		kps_pg_arg_text(&a, r->name);
		kps_pg_arg_text(&a, r->peer);
		kps_pg_arg_i32(&a, r->contact_kind);
		kps_pg_arg_i64(&a, r->created_at);
		break;
	case KPS_ROW_GRANT:
		st = PG_LOAD_GRANT;
		kps_pg_arg_text(&a, r->name);
		kps_pg_arg_text(&a, r->peer);
		kps_pg_arg_text(&a, r->device);
		kps_pg_arg_bytea(&a, r->value, 32);
		kps_pg_arg_bool(&a, r->stranger);
		kps_pg_arg_i64(&a, r->created_at);
		kps_pg_arg_i64(&a, r->expires_at);
		kps_pg_arg_i32(&a, r->ended);
		break;
	case KPS_ROW_REGISTRATION:
		st = PG_DR_REG_ADD;
		kps_pg_arg_text(&a, r->address);
		kps_pg_arg_i64(&a, r->created_at);
		break;
	case KPS_ROW_INVITE:
		st = PG_LOAD_INVITE;
		kps_pg_arg_bytea(&a, r->value, 32);
		kps_pg_arg_i32(&a, r->uses);
		kps_pg_arg_i64(&a, r->created_at);
		break;
	default:
		return KP_EINVAL;
	}
	if ((rc = kps_pg_done(s, st, &a, &n)) != KP_OK)
		return rc;
	return n == 0 ? KP_EEXIST : KP_OK;
}

int
kps_pg_census(struct kps_store *b, struct kps_census *c)
{
	struct kps_pg	*s = (struct kps_pg *)b;
	PGresult	*r;
	char		 status[16];
	uint64_t	 v[8];
	int		 i, own, rc;

	if ((rc = kps_pg_op_begin(s, &own)) != KP_OK)
		return rc;
	rc = KP_EDB;
	if ((r = kps_pg_run(s, PG_CENSUS_KEYS, NULL)) == NULL)
		goto out;
	for (i = 0; i < PQntuples(r); i++) {
		kps_pg_text(r, i, 0, status, sizeof(status));
		kps_census_add(c, status, (int)kps_pg_int(r, i, 1),
		    (uint64_t)kps_pg_int(r, i, 2),
		    (uint64_t)kps_pg_int(r, i, 3));
	}
	PQclear(r);
	if ((r = kps_pg_run(s, PG_CENSUS_REST, NULL)) == NULL)
		goto out;
	c->rows[KPS_ROW_USER] = (uint64_t)kps_pg_int(r, 0, 0);
	c->tombstones[0] = (uint64_t)kps_pg_int(r, 0, 1);
	c->tombstones[1] = (uint64_t)kps_pg_int(r, 0, 2);
	c->rows[KPS_ROW_TOMBSTONE] = c->tombstones[0] + c->tombstones[1];
	c->rows[KPS_ROW_SET_ASIDE] = (uint64_t)kps_pg_int(r, 0, 3);
	c->rows[KPS_ROW_NONCE] = (uint64_t)kps_pg_int(r, 0, 4);
	c->rows[KPS_ROW_DEVICE] = (uint64_t)kps_pg_int(r, 0, 5);
	PQclear(r);
	if ((r = kps_pg_run(s, PG_CENSUS_DRAIN, NULL)) == NULL)
		goto out;
	for (i = 0; i < 8; i++)
		v[i] = (uint64_t)kps_pg_int(r, 0, i);
	PQclear(r);
	kps_census_drain(c, v);
	rc = KP_OK;
out:
	return kps_pg_op_end(s, own, rc);
}
