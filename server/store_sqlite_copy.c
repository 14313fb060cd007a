/* SPDX-License-Identifier: ISC */
/*
 * store_sqlite_copy.c: the SQLite backend's side of a copy between
 * databases (kpool-server migrate): every row of every table read as
 * stored, a row written as it is, and the counts that check a copy.
 * See store.h.
 */

#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store_rules.h"
#include "store_sqlite_db.h"

/* each: step st, filling r by read and calling row(arg, r) per row. */
static int
each(struct kps_sq *s, sqlite3_stmt *st, struct kps_row *r,
    int (*read)(sqlite3_stmt *, struct kps_row *),
    int (*row)(void *, const struct kps_row *), void *arg)
{
	int	x, rc = KP_OK;

	while (rc == KP_OK && (x = sqlite3_step(st)) == SQLITE_ROW) {
		if ((rc = read(st, r)) != KP_OK)
			break;
		rc = row(arg, r);
		free(r->key.bytes);
		r->key.bytes = NULL;
	}
	if (rc == KP_OK && x != SQLITE_DONE)
		rc = kps_sq_err(s, "dump");
	sqlite3_reset(st);
	return rc;
}

static int
read_user(sqlite3_stmt *st, struct kps_row *r)
{
	memset(r, 0, sizeof(*r));
	r->kind = KPS_ROW_USER;
	kps_sq_text(st, 0, r->name, sizeof(r->name));
	r->created_at = sqlite3_column_int64(st, 1);
	return KP_OK;
}

static int
read_device(sqlite3_stmt *st, struct kps_row *r)
{
	memset(r, 0, sizeof(*r));
	r->kind = KPS_ROW_DEVICE;
	kps_sq_text(st, 0, r->name, sizeof(r->name));
	kps_sq_text(st, 1, r->device, sizeof(r->device));
	kps_sq_blob(st, 2, r->public_key, sizeof(r->public_key), NULL);
	r->created_at = sqlite3_column_int64(st, 3);
	return KP_OK;
}

static int
read_aside(sqlite3_stmt *st, struct kps_row *r)
{
	memset(r, 0, sizeof(*r));
	r->kind = KPS_ROW_SET_ASIDE;
	kps_sq_text(st, 0, r->name, sizeof(r->name));
	kps_sq_blob(st, 1, r->public_key, sizeof(r->public_key), NULL);
	r->created_at = sqlite3_column_int64(st, 2);
	kps_sq_text(st, 3, r->kept, sizeof(r->kept));
	r->set_aside_at = sqlite3_column_int64(st, 4);
	return KP_OK;
}

static int
read_nonce(sqlite3_stmt *st, struct kps_row *r)
{
	memset(r, 0, sizeof(*r));
	r->kind = KPS_ROW_NONCE;
	r->created_at = sqlite3_column_int64(st, 0);
	r->nonce_id = sqlite3_column_int64(st, 1);
	return KP_OK;
}

static int
read_tomb(sqlite3_stmt *st, struct kps_row *r)
{
	memset(r, 0, sizeof(*r));
	r->kind = KPS_ROW_TOMBSTONE;
	r->tomb_kind = sqlite3_column_int(st, 0);
	kps_sq_blob(st, 1, r->value, sizeof(r->value), NULL);
	kps_sq_text(st, 2, r->name, sizeof(r->name));
	r->created_at = sqlite3_column_int64(st, 3);
	return KP_OK;
}

/*
 * fits: 1 when column i of st fits a field of cap bytes: a text with
 * its NUL, a blob (exact) of cap bytes.  A value the server never
 * writes, which a row could not hold whole, stops the copy instead.
 */
static int
fits(sqlite3_stmt *st, int i, size_t cap)
{
	size_t	n = (size_t)sqlite3_column_bytes(st, i);

	return sqlite3_column_type(st, i) == SQLITE_BLOB ? n == cap : n < cap;
}

static int
read_contact(sqlite3_stmt *st, struct kps_row *r)
{
	memset(r, 0, sizeof(*r));
	r->kind = KPS_ROW_CONTACT;
	if (!fits(st, 0, sizeof(r->name)) || !fits(st, 1, sizeof(r->peer)))
		return KP_ETOOBIG;
	kps_sq_text(st, 0, r->name, sizeof(r->name));
	kps_sq_text(st, 1, r->peer, sizeof(r->peer));
	r->contact_kind = sqlite3_column_int(st, 2);
	r->created_at = sqlite3_column_int64(st, 3);
	return KP_OK;
}

static int
read_grant(sqlite3_stmt *st, struct kps_row *r)
{
	memset(r, 0, sizeof(*r));
	r->kind = KPS_ROW_GRANT;
	if (!fits(st, 0, sizeof(r->name)) || !fits(st, 1, sizeof(r->peer)) ||
	    !fits(st, 2, sizeof(r->device)) || !fits(st, 3, sizeof(r->value)))
		return KP_ETOOBIG;
	kps_sq_text(st, 0, r->name, sizeof(r->name));
	kps_sq_text(st, 1, r->peer, sizeof(r->peer));
	kps_sq_text(st, 2, r->device, sizeof(r->device));
	kps_sq_blob(st, 3, r->value, sizeof(r->value), NULL);
	r->stranger = sqlite3_column_int(st, 4) != 0;
	r->created_at = sqlite3_column_int64(st, 5);
	r->expires_at = sqlite3_column_int64(st, 6);
	r->ended = sqlite3_column_int(st, 7);
	return KP_OK;
}

static int
read_reg(sqlite3_stmt *st, struct kps_row *r)
{
	memset(r, 0, sizeof(*r));
	r->kind = KPS_ROW_REGISTRATION;
	if (!fits(st, 0, sizeof(r->address)))
		return KP_ETOOBIG;
	kps_sq_text(st, 0, r->address, sizeof(r->address));
	r->created_at = sqlite3_column_int64(st, 1);
	return KP_OK;
}

static int
read_invite(sqlite3_stmt *st, struct kps_row *r)
{
	memset(r, 0, sizeof(*r));
	r->kind = KPS_ROW_INVITE;
	if (!fits(st, 0, sizeof(r->value)))
		return KP_ETOOBIG;
	kps_sq_blob(st, 0, r->value, sizeof(r->value), NULL);
	r->uses = sqlite3_column_int(st, 1);
	r->created_at = sqlite3_column_int64(st, 2);
	return KP_OK;
}

int
kps_sq_dump(struct kps_store *b, int (*row)(void *, const struct kps_row *),
    void *arg)
{
	static const enum kps_sq_stmt	 stmt[KPS_NROWKINDS] = {
		[KPS_ROW_USER] = SQ_DUMP_USERS,
		[KPS_ROW_DEVICE] = SQ_DUMP_DEVICES,
		[KPS_ROW_SET_ASIDE] = SQ_DUMP_ASIDE,
		[KPS_ROW_KEY] = SQ_DUMP_KEYS,
		[KPS_ROW_TOMBSTONE] = SQ_DUMP_TOMBS,
		[KPS_ROW_NONCE] = SQ_DUMP_NONCES,
		[KPS_ROW_CONTACT] = SQ_DR_DUMP_CONTACTS,
		[KPS_ROW_GRANT] = SQ_DR_DUMP_GRANTS,
		[KPS_ROW_REGISTRATION] = SQ_DR_DUMP_REGS,
		[KPS_ROW_INVITE] = SQ_DR_DUMP_INVITES,
	};
	static int		(*const read[KPS_NROWKINDS])(sqlite3_stmt *,
				    struct kps_row *) = {
		[KPS_ROW_USER] = read_user,
		[KPS_ROW_DEVICE] = read_device,
		[KPS_ROW_SET_ASIDE] = read_aside,
		[KPS_ROW_KEY] = kps_sq_row,
		[KPS_ROW_TOMBSTONE] = read_tomb,
		[KPS_ROW_NONCE] = read_nonce,
		[KPS_ROW_CONTACT] = read_contact,
		[KPS_ROW_GRANT] = read_grant,
		[KPS_ROW_REGISTRATION] = read_reg,
		[KPS_ROW_INVITE] = read_invite,
	};
	struct kps_sq		*s = (struct kps_sq *)b;
	struct kps_row		 r;
	sqlite3_stmt		*st;
	int			 kind, own, rc = KP_OK;

	/* one read transaction: every table as of one moment */
	if ((rc = kps_sq_op_begin_read(s, &own)) != KP_OK)
		return rc;
	for (kind = 0; kind < KPS_NROWKINDS && rc == KP_OK; kind++) {
		if ((st = kps_sq_stmt(s, stmt[kind])) == NULL) {
			rc = KP_EDB;
			break;
		}
		rc = each(s, st, &r, read[kind], row, arg);
	}
	return kps_sq_op_end1(s, own, rc);
}

/* bind_text: text column i, or NULL when bit is set in r->null. */
static void
bind_text(sqlite3_stmt *st, int i, const char *v, const struct kps_row *r,
    unsigned bit)
{
	if (!(r->null & bit))
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

static void
bind_int(sqlite3_stmt *st, int i, int64_t v, const struct kps_row *r,
    unsigned bit)
{
	if (!(r->null & bit))
		sqlite3_bind_int64(st, i, v);
}

/* bind_key: the columns of SQ_LOAD_KEY from r. */
static int
bind_key(sqlite3_stmt *st, const struct kps_row *r)
{
	const struct kps_key	*k = &r->key;
	const char		*status = kps_state_text(k->status);

	if (status == NULL)
		return KP_EINVAL;
	sqlite3_bind_blob(st, 1, k->ref, KP_REF_LEN, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, k->username, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, k->bytes, (int)k->len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, k->uploaded_at);
	sqlite3_bind_text(st, 5, status, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 6, k->last_resort ? 1 : 0);
	bind_text(st, 7, k->reservation_id, r, KPS_NULL_RESERVATION_ID);
	bind_int(st, 8, k->reserved_at, r, KPS_NULL_RESERVED_AT);
	bind_int(st, 9, k->reservation_expires_at, r, KPS_NULL_EXPIRES);
	bind_text(st, 10, k->reserved_by, r, KPS_NULL_RESERVED_BY);
	bind_int(st, 11, k->spent_at, r, KPS_NULL_SPENT_AT);
	bind_text(st, 12, k->spent_by, r, KPS_NULL_SPENT_BY);
	if (!(r->null & KPS_NULL_GROUP_ID))
		sqlite3_bind_blob(st, 13, k->group_id, (int)k->group_id_len,
		    SQLITE_STATIC);
	sqlite3_bind_int64(st, 14, k->not_after);
	sqlite3_bind_blob(st, 15, k->credential_hash, 32, SQLITE_STATIC);
	sqlite3_bind_int(st, 16, k->suite);
	sqlite3_bind_blob(st, 17, k->init_key, KP_KEY_LEN, SQLITE_STATIC);
	bind_text(st, 18, r->request_id, r, KPS_NULL_REQUEST_ID);
	sqlite3_bind_text(st, 19, k->device[0] ? k->device :
	    KP_DEFAULT_DEVICE, -1, SQLITE_STATIC);
	return KP_OK;
}

int
kps_sq_load(struct kps_store *b, const struct kps_row *r)
{
	struct kps_sq	*s = (struct kps_sq *)b;
	sqlite3_stmt	*st;
	int		 rc;

	switch (r->kind) {
	case KPS_ROW_USER:
		if ((st = kps_sq_stmt(s, SQ_LOAD_USER)) == NULL)
			return KP_EDB;
		sqlite3_bind_text(st, 1, r->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, r->created_at);
		break;
	case KPS_ROW_DEVICE:
		if ((st = kps_sq_stmt(s, SQ_LOAD_DEVICE)) == NULL)
			return KP_EDB;
		sqlite3_bind_text(st, 1, r->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, r->device, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 3, r->public_key, 32, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, r->created_at);
		break;
	case KPS_ROW_SET_ASIDE:
		if ((st = kps_sq_stmt(s, SQ_LOAD_ASIDE)) == NULL)
			return KP_EDB;
		sqlite3_bind_text(st, 1, r->name, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, r->public_key, 32, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, r->created_at);
		sqlite3_bind_text(st, 4, r->kept, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, r->set_aside_at);
		break;
	case KPS_ROW_KEY:
		if ((st = kps_sq_stmt(s, SQ_LOAD_KEY)) == NULL)
			return KP_EDB;
		if ((rc = bind_key(st, r)) != KP_OK)
			return rc;
		break;
	case KPS_ROW_TOMBSTONE:
		if ((st = kps_sq_stmt(s, SQ_LOAD_TOMB)) == NULL)
			return KP_EDB;
		sqlite3_bind_int(st, 1, r->tomb_kind);
		sqlite3_bind_blob(st, 2, r->value, 32, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, r->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, r->created_at);
		break;
	case KPS_ROW_NONCE:
		if ((st = kps_sq_stmt(s, SQ_LOAD_NONCE)) == NULL)
			return KP_EDB;
		sqlite3_bind_int64(st, 1, r->created_at);
		sqlite3_bind_int64(st, 2, r->nonce_id);
		break;
	case KPS_ROW_CONTACT:
		if ((st = kps_sq_stmt(s, SQ_DR_LOAD_CONTACT)) == NULL)
			return KP_EDB;
		sqlite3_bind_text(st, 1, r->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, r->peer, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, r->contact_kind);
		sqlite3_bind_int64(st, 4, r->created_at);
		break;
	case KPS_ROW_GRANT:
		if ((st = kps_sq_stmt(s, SQ_DR_LOAD_GRANT)) == NULL)
			return KP_EDB;
		sqlite3_bind_text(st, 1, r->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, r->peer, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, r->device, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 4, r->value, 32, SQLITE_STATIC);
		sqlite3_bind_int(st, 5, r->stranger != 0);
		sqlite3_bind_int64(st, 6, r->created_at);
		sqlite3_bind_int64(st, 7, r->expires_at);
		sqlite3_bind_int(st, 8, r->ended);
		break;
	case KPS_ROW_REGISTRATION:
		if ((st = kps_sq_stmt(s, SQ_DR_REG_ADD)) == NULL)
			return KP_EDB;
		sqlite3_bind_text(st, 1, r->address, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, r->created_at);
		break;
	case KPS_ROW_INVITE:
		if ((st = kps_sq_stmt(s, SQ_DR_LOAD_INVITE)) == NULL)
			return KP_EDB;
		sqlite3_bind_blob(st, 1, r->value, 32, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, r->uses);
		sqlite3_bind_int64(st, 3, r->created_at);
		break;
	default:
		return KP_EINVAL;
	}
	if ((rc = kps_sq_done(s, st, "load")) != KP_OK)
		return rc;
	return sqlite3_changes(s->db) == 0 ? KP_EEXIST : KP_OK;
}

/* census_drain: the drain budget's part of c. */
static int
census_drain(struct kps_sq *s, struct kps_census *c)
{
	sqlite3_stmt	*st;
	uint64_t	 v[8];
	int		 i, rc = KP_OK;

	if ((st = kps_sq_stmt(s, SQ_DR_CENSUS)) == NULL)
		return KP_EDB;
	if (sqlite3_step(st) != SQLITE_ROW)
		rc = kps_sq_err(s, "census");
	else
		for (i = 0; i < 8; i++)
			v[i] = (uint64_t)sqlite3_column_int64(st, i);
	sqlite3_reset(st);
	if (rc != KP_OK)
		return rc;
	kps_census_drain(c, v);
	return KP_OK;
}

int
kps_sq_census(struct kps_store *b, struct kps_census *c)
{
	struct kps_sq	*s = (struct kps_sq *)b;
	sqlite3_stmt	*st;
	int		 x, own, rc;

	if ((rc = kps_sq_op_begin_read(s, &own)) != KP_OK)
		return rc;
	rc = KP_EDB;
	if ((st = kps_sq_stmt(s, SQ_CENSUS_KEYS)) == NULL)
		goto out;
	while ((x = sqlite3_step(st)) == SQLITE_ROW)
		kps_census_add(c, (const char *)sqlite3_column_text(st, 0),
		    sqlite3_column_int(st, 1),
		    (uint64_t)sqlite3_column_int64(st, 2),
		    (uint64_t)sqlite3_column_int64(st, 3));
	sqlite3_reset(st);
	if (x != SQLITE_DONE) {
		rc = kps_sq_err(s, "census");
		goto out;
	}
	if ((st = kps_sq_stmt(s, SQ_CENSUS_REST)) == NULL)
		goto out;
	if ((x = sqlite3_step(st)) == SQLITE_ROW) {
		c->rows[KPS_ROW_USER] = (uint64_t)sqlite3_column_int64(st, 0);
		c->tombstones[0] = (uint64_t)sqlite3_column_int64(st, 1);
		c->tombstones[1] = (uint64_t)sqlite3_column_int64(st, 2);
		c->rows[KPS_ROW_TOMBSTONE] = c->tombstones[0] +
		    c->tombstones[1];
		c->rows[KPS_ROW_SET_ASIDE] = (uint64_t)sqlite3_column_int64(st,
		    3);
		c->rows[KPS_ROW_NONCE] = (uint64_t)sqlite3_column_int64(st, 4);
		c->rows[KPS_ROW_DEVICE] = (uint64_t)sqlite3_column_int64(st,
		    5);
		rc = KP_OK;
	} else
		rc = kps_sq_err(s, "census");
	sqlite3_reset(st);
	if (rc == KP_OK)
		rc = census_drain(s, c);
out:
	return kps_sq_op_end1(s, own, rc);
}
