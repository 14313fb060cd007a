/* SPDX-License-Identifier: ISC */
/*
 * store_sqlite_drain.c: the drain budget's tables on SQLite (schema
 * version 6): contacts, and the grants of reservations of other users'
 * keys; see store.h.  The PostgreSQL twins are in store_pg_drain.c.
 */

#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "store_sqlite_db.h"

static const char *const drain_sql[SQ_NSTMTS - SQ_DRAIN_FIRST] = {
	/*
	 * ?1 caller, ?2 target (folded), ?3 the target as registered,
	 * ?4 device or NULL, ?5 suite or 0, ?6 now, ?7 the window's start,
	 * ?8 the caller's principal, ?9 its request_id or NULL,
	 * ?10 the strangers' share, ?11 the contacts' floor
	 */
	/* ?1 caller, ?2 target (folded users), ?3 device, ?4 suite, ?5
	 * now, ?6 since, ?7 principal, ?8 request_id, ?9 available_limit */
	[SQ_DR_FACTS - SQ_DRAIN_FIRST] = "SELECT "
	    "EXISTS (SELECT 1 FROM contacts WHERE owner = ?2 AND "
	    "contact = ?1), "
	    "(SELECT count(*) FROM grants WHERE caller = ?1 AND ended = 0 "
	    "AND expires_at > ?6), "
	    "(SELECT min(expires_at) FROM grants WHERE caller = ?1 AND "
	    "ended = 0 AND expires_at > ?6), "
	    "(SELECT count(*) FROM (SELECT 1 FROM keypackages WHERE "
	    "username = (SELECT name FROM users WHERE folded = ?2) AND "
	    "status = 'available' AND last_resort = 0 AND "
	    "+not_after > ?5 AND (?3 IS NULL OR device = ?3) AND "
	    "(?4 = 0 OR ciphersuite = ?4) LIMIT CASE WHEN EXISTS (SELECT 1 "
	    "FROM contacts WHERE owner = ?2 AND contact = ?1) THEN 0 "
	    "ELSE ?9 END)), "
	    "EXISTS (SELECT 1 FROM keypackages WHERE reserved_by = ?7 AND "
	    "request_id = ?8 AND username = (SELECT name FROM users WHERE "
	    "folded = ?2) AND status = 'reserved' AND "
	    "reservation_expires_at > ?5 AND +not_after > ?5 AND "
	    "(?3 IS NULL OR device = ?3) "
	    "AND (?4 = 0 OR ciphersuite = ?4))",
	[SQ_DR_STRANGERS - SQ_DRAIN_FIRST] = "SELECT count(*), "
	    "min(granted_at) FROM grants WHERE target = ?1 AND "
	    "stranger = 1 AND granted_at > ?2",
	[SQ_DR_POOL - SQ_DRAIN_FIRST] = "SELECT count(*) FROM (SELECT 1 "
	    "FROM keypackages WHERE username = (SELECT name FROM users "
	    "WHERE folded = ?1) AND status IN ('available', 'reserved') AND "
	    "last_resort = 0 AND +not_after > ?2 LIMIT ?3)",
	[SQ_DR_GRANT_ADD - SQ_DRAIN_FIRST] = "INSERT INTO grants(caller, "
	    "target, device, ref, stranger, granted_at, expires_at) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[SQ_DR_GRANT_END - SQ_DRAIN_FIRST] = "UPDATE grants SET ended = ?3 "
	    "WHERE ref = ?2 AND caller = ?1 AND ended = 0 AND expires_at > ?4",
	[SQ_DR_GRANT_PRUNE - SQ_DRAIN_FIRST] = "DELETE FROM grants WHERE "
	    "rowid IN (SELECT rowid FROM grants WHERE expires_at < ?1 "
	    "ORDER BY expires_at LIMIT ?2)",
	[SQ_DR_CONTACT_ADD - SQ_DRAIN_FIRST] = "INSERT INTO contacts(owner, "
	    "contact, kind, created_at) VALUES (?1, ?2, ?3, ?4) "
	    "ON CONFLICT DO NOTHING",
	[SQ_DR_CONTACT_COUNT - SQ_DRAIN_FIRST] = "SELECT count(*), "
	    "EXISTS (SELECT 1 FROM contacts WHERE owner = ?1 AND "
	    "contact = ?2 AND kind = 1) FROM contacts "
	    "WHERE owner = ?1 AND kind = 1",
	[SQ_DR_CONTACT_DEL - SQ_DRAIN_FIRST] = "DELETE FROM contacts WHERE "
	    "owner = ?1 AND contact = ?2 AND kind = 1",
	[SQ_DR_CONTACT_LIST - SQ_DRAIN_FIRST] = "SELECT contact FROM contacts "
	    "WHERE owner = ?1 AND kind = 1 ORDER BY contact LIMIT ?2",
	[SQ_DR_REG_FACTS - SQ_DRAIN_FIRST] = "SELECT count(*), min(at) FROM "
	    "registrations WHERE address = ?1 AND at > ?2",
	[SQ_DR_REG_ADD - SQ_DRAIN_FIRST] = "INSERT INTO registrations(address, "
	    "at) VALUES (?1, ?2)",
	[SQ_DR_REG_PRUNE - SQ_DRAIN_FIRST] = "DELETE FROM registrations WHERE "
	    "rowid IN (SELECT rowid FROM registrations WHERE at < ?1 "
	    "ORDER BY at LIMIT ?2)",
	[SQ_DR_INVITE_ADD - SQ_DRAIN_FIRST] = "INSERT INTO invites(hash, uses, "
	    "created_at) VALUES (?1, ?2, ?3)",
	[SQ_DR_INVITE_TAKE - SQ_DRAIN_FIRST] = "UPDATE invites SET "
	    "uses = uses - 1 WHERE hash = ?1 AND uses > 0",
	[SQ_DR_INVITE_BACK - SQ_DRAIN_FIRST] = "UPDATE invites SET "
	    "uses = uses + 1 WHERE hash = ?1",
	/*
	 * A copy (store_sqlite_copy.c): every row as stored, in the order
	 * a load keeps, but contacts that name no user (LIVE): they would
	 * pass to the next user of the name (store.h).  Grants and
	 * registrations have no key: the same row twice is loaded twice
	 * (a registration's is SQ_DR_REG_ADD).
	 */
#define LIVE	"owner IN (SELECT folded FROM users) AND "		\
		"contact IN (SELECT folded FROM users)"
	[SQ_DR_DUMP_CONTACTS - SQ_DRAIN_FIRST] = "SELECT owner, contact, "
	    "kind, created_at FROM contacts WHERE " LIVE " "
	    "ORDER BY owner, contact, kind",
	[SQ_DR_DUMP_GRANTS - SQ_DRAIN_FIRST] = "SELECT caller, target, "
	    "device, ref, stranger, granted_at, expires_at, ended "
	    "FROM grants ORDER BY granted_at, rowid",
	[SQ_DR_DUMP_REGS - SQ_DRAIN_FIRST] = "SELECT address, at "
	    "FROM registrations ORDER BY at, rowid",
	[SQ_DR_DUMP_INVITES - SQ_DRAIN_FIRST] = "SELECT hash, uses, "
	    "created_at FROM invites ORDER BY created_at, hash",
	[SQ_DR_LOAD_CONTACT - SQ_DRAIN_FIRST] = "INSERT OR IGNORE INTO "
	    "contacts(owner, contact, kind, created_at) "
	    "VALUES (?1, ?2, ?3, ?4)",
	[SQ_DR_LOAD_GRANT - SQ_DRAIN_FIRST] = "INSERT INTO grants(caller, "
	    "target, device, ref, stranger, granted_at, expires_at, ended) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[SQ_DR_LOAD_INVITE - SQ_DRAIN_FIRST] = "INSERT OR IGNORE INTO "
	    "invites(hash, uses, created_at) VALUES (?1, ?2, ?3)",
	[SQ_DR_CENSUS - SQ_DRAIN_FIRST] = "SELECT "
	    "(SELECT count(*) FROM contacts WHERE " LIVE "), "
	    "(SELECT count(*) FROM contacts WHERE NOT (" LIVE ")), "
	    "(SELECT count(*) FROM grants), "
	    "(SELECT count(*) FROM grants WHERE ended = 0), "
	    "(SELECT count(*) FROM grants WHERE stranger <> 0), "
	    "(SELECT count(*) FROM registrations), "
	    "(SELECT count(*) FROM invites), "
	    "(SELECT coalesce(sum(uses), 0) FROM invites)",
#undef LIVE
};
_Static_assert(KPS_CONTACT_VOUCH == 1, "the statements say kind = 1");

const char *
kps_sq_drain_sql(enum kps_sq_stmt i)
{
	return drain_sql[i - SQ_DRAIN_FIRST];
}

int
kps_sq_budget_facts(struct kps_store *b, const struct kps_budget_ask *a,
    struct kps_budget_facts *f)
{
	struct kps_sq	*s = (struct kps_sq *)b;
	sqlite3_stmt	*st;
	int		 x;

	if ((st = kps_sq_stmt(s, SQ_DR_FACTS)) == NULL)
		return KP_EDB;
	sqlite3_bind_text(st, 1, a->caller, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, a->target, -1, SQLITE_STATIC);
	if (a->device != NULL)
		sqlite3_bind_text(st, 3, a->device, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, a->suite);
	sqlite3_bind_int64(st, 5, a->now);
	sqlite3_bind_int64(st, 6, a->since);
	sqlite3_bind_text(st, 7, a->principal, -1, SQLITE_STATIC);
	if (a->request_id != NULL)
		sqlite3_bind_text(st, 8, a->request_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, a->available_limit > INT64_MAX ?
	    INT64_MAX : (int64_t)a->available_limit);
	if ((x = sqlite3_step(st)) != SQLITE_ROW) {
		sqlite3_reset(st);
		return kps_sq_err(s, "budget");
	}
	f->contact = sqlite3_column_int(st, 0);
	f->held = (uint64_t)sqlite3_column_int64(st, 1);
	f->held_first = sqlite3_column_int64(st, 2);
	f->available = (uint64_t)sqlite3_column_int64(st, 3);
	f->replay = sqlite3_column_int(st, 4);
	sqlite3_reset(st);
	return KP_OK;
}

/* since_count: statement i (count(*), min(time) of rows of key after
 * since) into *n and *first. */
static int
since_count(struct kps_sq *s, enum kps_sq_stmt i, const char *key,
    int64_t since, uint64_t *n, int64_t *first, const char *what)
{
	sqlite3_stmt	*st;

	if ((st = kps_sq_stmt(s, i)) == NULL)
		return KP_EDB;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, since);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return kps_sq_err(s, what);
	}
	*n = (uint64_t)sqlite3_column_int64(st, 0);
	*first = sqlite3_column_int64(st, 1);
	sqlite3_reset(st);
	return KP_OK;
}

int
kps_sq_budget_strangers(struct kps_store *b, const char *target,
    int64_t since, uint64_t *n, int64_t *first)
{
	return since_count((struct kps_sq *)b, SQ_DR_STRANGERS, target, since,
	    n, first, "budget");
}

int
kps_sq_budget_pool(struct kps_store *b, const char *target, int64_t now,
    uint64_t limit, uint64_t *n)
{
	struct kps_sq	*s = (struct kps_sq *)b;
	sqlite3_stmt	*st;

	if ((st = kps_sq_stmt(s, SQ_DR_POOL)) == NULL)
		return KP_EDB;
	sqlite3_bind_text(st, 1, target, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, limit > INT64_MAX ? INT64_MAX :
	    (int64_t)limit);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return kps_sq_err(s, "budget");
	}
	*n = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return KP_OK;
}

int
kps_sq_mark(struct kps_store *b)
{
	struct kps_sq	*s = (struct kps_sq *)b;
	int		 own, rc;

	if (s->nmarks >= (int)(8 * sizeof(s->marks)))
		return KP_EDB;
	if ((rc = kps_sq_op_begin(s, &own)) != KP_OK)
		return rc;
	s->marks = (s->marks & ~(1u << s->nmarks)) |
	    (unsigned)(own != 0) << s->nmarks;
	s->nmarks++;
	return KP_OK;
}

int
kps_sq_unmark(struct kps_store *b, int rc)
{
	struct kps_sq	*s = (struct kps_sq *)b;

	if (s->nmarks == 0)
		return KP_EDB;
	s->nmarks--;
	return kps_sq_op_end(s, (s->marks >> s->nmarks) & 1, rc);
}

int
kps_sq_grant_add(struct kps_store *b, const struct kps_grant *g)
{
	struct kps_sq	*s = (struct kps_sq *)b;
	sqlite3_stmt	*st;
	int		 own, rc;

	if ((rc = kps_sq_op_begin1(s, &own)) != KP_OK)
		return rc;
	if ((st = kps_sq_stmt(s, SQ_DR_GRANT_ADD)) == NULL)
		rc = KP_EDB;
	else {
		sqlite3_bind_text(st, 1, g->caller, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, g->target, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, g->device, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 4, g->ref, KP_REF_LEN, SQLITE_STATIC);
		sqlite3_bind_int(st, 5, g->stranger != 0);
		sqlite3_bind_int64(st, 6, g->granted_at);
		sqlite3_bind_int64(st, 7, g->expires_at);
		rc = kps_sq_done(s, st, "grant");
	}
	return kps_sq_op_end1(s, own, rc);
}

int
kps_sq_grant_end(struct kps_store *b, const char *caller, const uint8_t *ref,
    int how, int64_t now)
{
	struct kps_sq	*s = (struct kps_sq *)b;
	sqlite3_stmt	*st;
	int		 own, rc;

	if ((rc = kps_sq_op_begin1(s, &own)) != KP_OK)
		return rc;
	if ((st = kps_sq_stmt(s, SQ_DR_GRANT_END)) == NULL)
		rc = KP_EDB;
	else {
		sqlite3_bind_text(st, 1, caller, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, ref, KP_REF_LEN, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, how);
		sqlite3_bind_int64(st, 4, now);
		rc = kps_sq_done(s, st, "grant end");
	}
	return kps_sq_op_end1(s, own, rc);
}

int
kps_sq_grant_prune(struct kps_store *b, int64_t before, int max, uint64_t *n)
{
	return kps_sq_sweep((struct kps_sq *)b, SQ_DR_GRANT_PRUNE, before, max,
	    n, "prune grants");
}

int
kps_sq_contact_add(struct kps_store *b, const char *owner,
    const char *contact, enum kps_contact_kind kind, int64_t now)
{
	struct kps_sq	*s = (struct kps_sq *)b;
	sqlite3_stmt	*st;
	int		 own, rc = KP_OK;

	if ((rc = kps_sq_op_begin1(s, &own)) != KP_OK)
		return rc;
	if (kind == KPS_CONTACT_VOUCH) {
		/* a vouch more than the most is refused; one again is not */
		if ((st = kps_sq_stmt(s, SQ_DR_CONTACT_COUNT)) == NULL) {
			rc = KP_EDB;
			goto out;
		}
		sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, contact, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_ROW)
			rc = kps_sq_err(s, "contacts");
		else if (sqlite3_column_int64(st, 0) >= KPS_MAX_CONTACTS &&
		    !sqlite3_column_int(st, 1))
			rc = KP_ETOOBIG;
		sqlite3_reset(st);
		if (rc != KP_OK)
			goto out;
	}
	if ((st = kps_sq_stmt(s, SQ_DR_CONTACT_ADD)) == NULL) {
		rc = KP_EDB;
		goto out;
	}
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, contact, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, kind);
	sqlite3_bind_int64(st, 4, now);
	rc = kps_sq_done(s, st, "contact");
out:
	return kps_sq_op_end1(s, own, rc);
}

int
kps_sq_contact_remove(struct kps_store *b, const char *owner,
    const char *contact)
{
	struct kps_sq	*s = (struct kps_sq *)b;
	sqlite3_stmt	*st;
	int		 own, rc;

	if ((rc = kps_sq_op_begin1(s, &own)) != KP_OK)
		return rc;
	if ((st = kps_sq_stmt(s, SQ_DR_CONTACT_DEL)) == NULL)
		rc = KP_EDB;
	else {
		sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, contact, -1, SQLITE_STATIC);
		if ((rc = kps_sq_done(s, st, "contact")) == KP_OK &&
		    sqlite3_changes(s->db) == 0)
			rc = KP_ENOTFOUND;
	}
	return kps_sq_op_end1(s, own, rc == KP_ENOTFOUND ? KP_OK : rc) ==
	    KP_OK ? rc : KP_EDB;
}

int
kps_sq_contact_list(struct kps_store *b, const char *owner,
    char (*out)[KP_MAX_USERNAME + 1], size_t max, size_t *n)
{
	struct kps_sq	*s = (struct kps_sq *)b;
	sqlite3_stmt	*st;
	int		 x = SQLITE_DONE;

	*n = 0;
	if ((st = kps_sq_stmt(s, SQ_DR_CONTACT_LIST)) == NULL)
		return KP_EDB;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)max);
	while (*n < max && (x = sqlite3_step(st)) == SQLITE_ROW)
		kps_sq_text(st, 0, out[(*n)++], KP_MAX_USERNAME + 1);
	if (*n < max && x != SQLITE_DONE) {
		sqlite3_reset(st);
		return kps_sq_err(s, "contacts");
	}
	sqlite3_reset(st);
	return KP_OK;
}

int
kps_sq_reg_facts(struct kps_store *b, const char *addr, int64_t since,
    uint64_t *n, int64_t *first)
{
	return since_count((struct kps_sq *)b, SQ_DR_REG_FACTS, addr, since,
	    n, first, "registrations");
}

/* one: run statement i, one change, with ?1 the text or blob a (alen
 * bytes; -1: text) and ?2, ?3 the numbers x, y; *changed its rows. */
static int
one(struct kps_sq *s, enum kps_sq_stmt i, const void *a, int alen,
    int64_t x, int64_t y, int *changed)
{
	sqlite3_stmt	*st;
	int		 own, rc;

	if ((rc = kps_sq_op_begin1(s, &own)) != KP_OK)
		return rc;
	if ((st = kps_sq_stmt(s, i)) == NULL)
		rc = KP_EDB;
	else {
		if (alen < 0)
			sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
		else
			sqlite3_bind_blob(st, 1, a, alen, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, x);
		if (sqlite3_bind_parameter_count(st) >= 3)
			sqlite3_bind_int64(st, 3, y);
		if ((rc = kps_sq_done(s, st, "registration")) == KP_OK &&
		    changed != NULL)
			*changed = sqlite3_changes(s->db);
	}
	return kps_sq_op_end1(s, own, rc);
}

int
kps_sq_reg_add(struct kps_store *b, const char *addr, int64_t now)
{
	return one((struct kps_sq *)b, SQ_DR_REG_ADD, addr, -1, now, 0, NULL);
}

int
kps_sq_reg_prune(struct kps_store *b, int64_t before, int max, uint64_t *n)
{
	return kps_sq_sweep((struct kps_sq *)b, SQ_DR_REG_PRUNE, before, max,
	    n, "prune registrations");
}

int
kps_sq_invite_add(struct kps_store *b, const uint8_t *hash, int uses,
    int64_t now)
{
	return one((struct kps_sq *)b, SQ_DR_INVITE_ADD, hash, 32, uses, now,
	    NULL);
}

int
kps_sq_invite_take(struct kps_store *b, const uint8_t *hash, int give_back)
{
	struct kps_sq	*s = (struct kps_sq *)b;
	sqlite3_stmt	*st;
	int		 own, rc, n = 0;

	if ((rc = kps_sq_op_begin1(s, &own)) != KP_OK)
		return rc;
	if ((st = kps_sq_stmt(s, give_back ? SQ_DR_INVITE_BACK :
	    SQ_DR_INVITE_TAKE)) == NULL)
		rc = KP_EDB;
	else {
		sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
		if ((rc = kps_sq_done(s, st, "invitation")) == KP_OK)
			n = sqlite3_changes(s->db);
	}
	rc = kps_sq_op_end1(s, own, rc);
	return rc == KP_OK && n == 0 ? KP_ENOTFOUND : rc;
}
