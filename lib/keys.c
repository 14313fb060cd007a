/* SPDX-License-Identifier: ISC */
/*
 * keys.c: the key rows of the local store (see store.h): save, load,
 * compare-and-set updates, deletion and wiping, counts and listings.
 * Every change to a row is noted (kp_store_change) for the pool's
 * observer; a wipe makes the WAL owe a scrub (kp_store_scrub).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <sqlite3.h>

#include "kpool.h"
#include "state.h"
#include "store.h"
#include "util.h"

/* The public columns of a key, in the order row_key() reads them. */
#define KEY_COLS \
	"keypackage_ref, status, ciphersuite, last_resort," \
	" private_init_key IS NOT NULL, created_at, uploaded_at, reserved_at," \
	" spent_at, expired_at, not_before, not_after, changed_at," \
	" reservation_id, reservation_expires_at, reserved_by, spent_by," \
	" spent_group_id, spent_epoch, length(keypackage_bytes)," \
	" created_ns, changed_ns, credential_hash, credential_type"
#define KEY_NCOLS	24


static void
bind_opt_int(sqlite3_stmt *s, int i, int64_t v)
{
	if (v == 0)
		sqlite3_bind_null(s, i);
	else
		sqlite3_bind_int64(s, i, v);
}

static void
bind_opt_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v[0] == '\0')
		sqlite3_bind_null(s, i);
	else
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

static int
copy_text(sqlite3_stmt *s, int col, char *dst, size_t dstlen)
{
	const char	*v = (const char *)sqlite3_column_text(s, col);
	size_t		 l;

	dst[0] = '\0';
	if (v == NULL)
		return 0;
	if ((l = strlen(v)) >= dstlen)
		return -1;
	memcpy(dst, v, l + 1);
	return 0;
}

/* Read the KEY_COLS of the current row into k. */
static int
row_key(struct kp_store *st, sqlite3_stmt *s, int c0, struct kp_rec *k)
{
	const char	*status;
	int		 glen;

	memset(k, 0, sizeof(*k));
	status = (const char *)sqlite3_column_text(s, c0 + 1);
	glen = sqlite3_column_bytes(s, c0 + 17);
	if (sqlite3_column_bytes(s, c0) != KP_REF_LEN || status == NULL ||
	    (k->state = kp_state_from_name(status)) < 0 ||
	    glen > KP_MAX_GROUP_ID ||
	    sqlite3_column_bytes(s, c0 + 22) != 32 ||
	    copy_text(s, c0 + 13, k->reservation_id,
	    sizeof(k->reservation_id)) == -1 ||
	    copy_text(s, c0 + 15, k->reserved_by, sizeof(k->reserved_by)) ==
	    -1 ||
	    copy_text(s, c0 + 16, k->spent_by, sizeof(k->spent_by)) == -1)
		return kp_store_err(st, KP_EDB, "a key row is damaged");
	memcpy(k->ref, sqlite3_column_blob(s, c0), KP_REF_LEN);
	kp_hex(k->ref, KP_REF_LEN, k->ref_hex);
	k->suite = (uint16_t)sqlite3_column_int(s, c0 + 2);
	k->last_resort = sqlite3_column_int(s, c0 + 3);
	k->has_private = sqlite3_column_int(s, c0 + 4);
	k->created_at = sqlite3_column_int64(s, c0 + 5);
	k->uploaded_at = sqlite3_column_int64(s, c0 + 6);
	k->reserved_at = sqlite3_column_int64(s, c0 + 7);
	k->spent_at = sqlite3_column_int64(s, c0 + 8);
	k->expired_at = sqlite3_column_int64(s, c0 + 9);
	k->not_before = sqlite3_column_int64(s, c0 + 10);
	k->not_after = sqlite3_column_int64(s, c0 + 11);
	k->changed_at = sqlite3_column_int64(s, c0 + 12);
	k->reservation_expires_at = sqlite3_column_int64(s, c0 + 14);
	if (glen > 0)
		memcpy(k->group_id, sqlite3_column_blob(s, c0 + 17),
		    (size_t)glen);
	k->group_id_len = (size_t)glen;
	k->epoch = sqlite3_column_type(s, c0 + 18) == SQLITE_NULL ? -1 :
	    sqlite3_column_int64(s, c0 + 18);
	k->keypackage_len = (size_t)sqlite3_column_int64(s, c0 + 19);
	k->created_ns = sqlite3_column_int(s, c0 + 20);
	k->changed_ns = sqlite3_column_int(s, c0 + 21);
	memcpy(k->credential_hash, sqlite3_column_blob(s, c0 + 22), 32);
	return KP_OK;
}

/*
 * The nanoseconds of a key's time in second sec (ns < 0: now's, strictly
 * after the last this store gave in that second, so that keys made or
 * moved in one second keep their order; else ns).
 */
static int32_t
stamp(struct kp_store *st, int64_t sec, int32_t ns)
{
	struct timespec	ts;
	int64_t		t;

	if (ns >= 0)
		return ns;
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	t = sec * 1000000000LL + ts.tv_nsec;
	if (st->last_stamp / 1000000000LL == sec && t <= st->last_stamp)
		t = st->last_stamp + 1;
	if (t / 1000000000LL != sec)	/* never past its second */
		t = sec * 1000000000LL + 999999999;
	st->last_stamp = t;
	return (int32_t)(t % 1000000000LL);
}

int
kp_store_save(struct kp_store *st, const struct kp_bundle *b)
{
	const struct kp_rec	*k = &b->key;
	sqlite3_stmt		*s = NULL;
	uint8_t			 si[KP_SEALED_LEN], se[KP_SEALED_LEN];
	int32_t			 created_ns;
	int			 rc = KP_OK, r;

	if (b->keypackage == NULL || b->keypackage_len == 0 ||
	    b->keypackage_len > KP_MAX_KEYPACKAGE ||
	    kp_state_name(k->state) == NULL ||
	    (k->state == KP_STATE_EXPIRED && k->has_private) ||
	    k->group_id_len > KP_MAX_GROUP_ID)
		return kp_store_err(st, KP_EINVAL, "bad key to save");
	if ((rc = kp_store_prepare_kept(st, KP_STMT_INSERT, "INSERT INTO "
	    "keypackages (keypackage_ref, keypackage_bytes, private_init_key, "
	    "private_encryption_key, status, created_at, uploaded_at, "
	    "reserved_at, spent_at, expired_at, changed_at, not_before, "
	    "not_after, credential_hash, credential_type, ciphersuite, "
	    "last_resort, reservation_id, reservation_expires_at, reserved_by, "
	    "spent_group_id, spent_epoch, spent_by, created_ns, changed_ns) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
	    "?, ?, ?, ?, ?, ?)", &s)) != KP_OK)
		goto out;
	sqlite3_bind_blob(s, 1, k->ref, KP_REF_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, b->keypackage, (int)b->keypackage_len,
	    SQLITE_STATIC);
	if (k->has_private) {
		kp_store_seal(st, "private_init_key", k->ref, KP_REF_LEN,
		    b->sec.init_priv, si);
		kp_store_seal(st, "private_encryption_key", k->ref, KP_REF_LEN,
		    b->sec.encryption_priv, se);
		sqlite3_bind_blob(s, 3, si, sizeof(si), SQLITE_STATIC);
		sqlite3_bind_blob(s, 4, se, sizeof(se), SQLITE_STATIC);
	}
	sqlite3_bind_text(s, 5, kp_state_name(k->state), -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, k->created_at);
	bind_opt_int(s, 7, k->uploaded_at);
	bind_opt_int(s, 8, k->reserved_at);
	bind_opt_int(s, 9, k->spent_at);
	bind_opt_int(s, 10, k->expired_at);
	sqlite3_bind_int64(s, 11, k->changed_at ? k->changed_at :
	    k->created_at);
	sqlite3_bind_int64(s, 12, k->not_before);
	sqlite3_bind_int64(s, 13, k->not_after);
	sqlite3_bind_blob(s, 14, k->credential_hash, 32, SQLITE_STATIC);
	sqlite3_bind_int(s, 15, b->credential_type);
	sqlite3_bind_int(s, 16, k->suite);
	sqlite3_bind_int(s, 17, k->last_resort ? 1 : 0);
	bind_opt_text(s, 18, k->reservation_id);
	bind_opt_int(s, 19, k->reservation_expires_at);
	bind_opt_text(s, 20, k->reserved_by);
	if (k->group_id_len > 0)
		sqlite3_bind_blob(s, 21, k->group_id, (int)k->group_id_len,
		    SQLITE_STATIC);
	if (k->epoch >= 0)
		sqlite3_bind_int64(s, 22, k->epoch);
	bind_opt_text(s, 23, k->spent_by);
	created_ns = stamp(st, k->created_at, k->created_ns);
	sqlite3_bind_int(s, 24, created_ns);
	sqlite3_bind_int(s, 25, k->changed_ns < 0 && (k->changed_at == 0 ||
	    k->changed_at == k->created_at) ? created_ns :
	    stamp(st, k->changed_at ? k->changed_at : k->created_at,
	    k->changed_ns));
	r = sqlite3_step(s);
	if (r == SQLITE_CONSTRAINT && sqlite3_extended_errcode(st->db) ==
	    SQLITE_CONSTRAINT_PRIMARYKEY)
		rc = kp_store_err(st, KP_EEXIST, "key %s is already stored",
		    k->ref_hex[0] ? k->ref_hex : "(ref)");
	else if (r != SQLITE_DONE)
		rc = kp_store_dberr(st, "save key");
	else
		kp_store_change(st, k->ref, -1, k->state, NULL);
out:
	kp_store_done(s);
	sodium_memzero(si, sizeof(si));
	sodium_memzero(se, sizeof(se));
	return rc;
}

int
kp_store_load(struct kp_store *st, const uint8_t ref[KP_REF_LEN],
    int with_private, struct kp_bundle *b, int *found)
{
	sqlite3_stmt	*s = NULL;
	int		 rc, r, n;

	memset(b, 0, sizeof(*b));
	*found = 0;
	if ((rc = kp_store_prepare_kept(st, KP_STMT_LOAD, "SELECT " KEY_COLS
	    ", keypackage_bytes, private_init_key, private_encryption_key "
	    "FROM keypackages WHERE keypackage_ref = ?", &s)) != KP_OK)
		goto out;
	sqlite3_bind_blob(s, 1, ref, KP_REF_LEN, SQLITE_STATIC);
	r = sqlite3_step(s);
	if (r == SQLITE_DONE)
		goto out;
	if (r != SQLITE_ROW) {
		rc = kp_store_dberr(st, "load key");
		goto out;
	}
	if ((rc = row_key(st, s, 0, &b->key)) != KP_OK)
		goto out;
	b->credential_type = (uint16_t)sqlite3_column_int(s, KEY_NCOLS - 1);
	n = sqlite3_column_bytes(s, KEY_NCOLS);
	if (n <= 0 || n > KP_MAX_KEYPACKAGE) {
		rc = kp_store_err(st, KP_EDB, "key %s: bad KeyPackage size",
		    b->key.ref_hex);
		goto out;
	}
	if ((b->keypackage = malloc((size_t)n)) == NULL) {
		rc = kp_store_err(st, KP_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(b->keypackage, sqlite3_column_blob(s, KEY_NCOLS), (size_t)n);
	b->keypackage_len = (size_t)n;
	if (with_private && b->key.has_private) {
		if ((rc = kp_store_unseal(st, "private_init_key", ref,
		    KP_REF_LEN, sqlite3_column_blob(s, KEY_NCOLS + 1),
		    (size_t)sqlite3_column_bytes(s, KEY_NCOLS + 1),
		    b->sec.init_priv)) != KP_OK ||
		    (rc = kp_store_unseal(st, "private_encryption_key", ref,
		    KP_REF_LEN, sqlite3_column_blob(s, KEY_NCOLS + 2),
		    (size_t)sqlite3_column_bytes(s, KEY_NCOLS + 2),
		    b->sec.encryption_priv)) != KP_OK)
			goto out;
	}
	*found = 1;
out:
	kp_store_done(s);
	if (rc != KP_OK)
		kp_bundle_clear(b);
	return rc;
}

/* KP_ENOTFOUND with "no key REF". */
static int
no_key(struct kp_store *st, const uint8_t ref[KP_REF_LEN])
{
	char	hex[2 * KP_REF_LEN + 1];

	kp_hex(ref, KP_REF_LEN, hex);
	return kp_store_err(st, KP_ENOTFOUND, "no key %s", hex);
}

int
kp_store_rec(struct kp_store *st, const uint8_t ref[KP_REF_LEN],
    struct kp_rec *k)
{
	sqlite3_stmt	*s = NULL;
	int		 rc, r;

	if ((rc = kp_store_prepare_kept(st, KP_STMT_REC, "SELECT " KEY_COLS
	    " FROM keypackages WHERE keypackage_ref = ?", &s)) != KP_OK)
		goto out;
	sqlite3_bind_blob(s, 1, ref, KP_REF_LEN, SQLITE_STATIC);
	if ((r = sqlite3_step(s)) == SQLITE_DONE)
		rc = no_key(st, ref);
	else if (r != SQLITE_ROW)
		rc = kp_store_dberr(st, "load key");
	else
		rc = row_key(st, s, 0, k);
out:
	kp_store_done(s);
	return rc;
}

int
kp_store_get(struct kp_store *st, const uint8_t ref[KP_REF_LEN],
    int with_private, struct kp_bundle *b)
{
	int	rc, found;

	if ((rc = kp_store_load(st, ref, with_private, b, &found)) != KP_OK)
		return rc;
	return found ? KP_OK : no_key(st, ref);
}

void
kp_bundle_clear(struct kp_bundle *b)
{
	free(b->keypackage);
	b->keypackage = NULL;
	b->keypackage_len = 0;
	sodium_memzero(&b->sec, sizeof(b->sec));
}

/*
 * Run a statement that deletes rows (gone) or wipes their private keys,
 * "... RETURNING keypackage_ref, status", with ?1 bound to ref when there
 * is one and ?2 to num when the statement has it.  Each row returned is
 * a change (to none when gone, else to its state); *changed gets their
 * number, and when there are any the WAL owes a scrub (kp_store_scrub).
 */
static int
exec_wipe(struct kp_store *st, const char *sql, const uint8_t *ref,
    int64_t num, int gone, const char *what, int *changed)
{
	sqlite3_stmt	*s = NULL;
	const char	*status;
	int		 rc, r, state;

	*changed = 0;
	if ((rc = kp_store_prepare(st, sql, &s)) != KP_OK)
		goto out;
	if (ref != NULL)
		sqlite3_bind_blob(s, 1, ref, KP_REF_LEN, SQLITE_STATIC);
	if (sqlite3_bind_parameter_count(s) >= 2)
		sqlite3_bind_int64(s, 2, num);
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		status = (const char *)sqlite3_column_text(s, 1);
		if (sqlite3_column_bytes(s, 0) != KP_REF_LEN ||
		    (state = kp_state_from_name(status)) < 0) {
			rc = kp_store_err(st, KP_EDB, "a key row is damaged");
			goto out;
		}
		kp_store_change(st, sqlite3_column_blob(s, 0), state,
		    gone ? -1 : state, NULL);
		(*changed)++;
	}
	if (r != SQLITE_DONE) {
		rc = kp_store_dberr(st, what);
		goto out;
	}
	if (*changed > 0)
		kp_store_scrub(st);
out:
	sqlite3_finalize(s);
	return rc;
}

int
kp_store_delete(struct kp_store *st, const uint8_t ref[KP_REF_LEN])
{
	char	hex[2 * KP_REF_LEN + 1];
	int	rc, n = 0;

	if ((rc = exec_wipe(st, "DELETE FROM keypackages WHERE "
	    "keypackage_ref = ?1 RETURNING keypackage_ref, status", ref, 0, 1,
	    "delete key", &n)) != KP_OK)
		return rc;
	if (n == 0) {
		kp_hex(ref, KP_REF_LEN, hex);
		return kp_store_err(st, KP_ENOTFOUND, "no key %s", hex);
	}
	return KP_OK;
}

int
kp_store_wipe(struct kp_store *st, const uint8_t ref[KP_REF_LEN], int *wiped)
{
	int	rc, n = 0;

	*wiped = 0;
	if ((rc = exec_wipe(st, "UPDATE keypackages SET private_init_key = "
	    "NULL, private_encryption_key = NULL WHERE keypackage_ref = ?1 "
	    "AND private_init_key IS NOT NULL RETURNING keypackage_ref, "
	    "status", ref, 0, 0, "wipe key", &n)) != KP_OK)
		return rc;
	*wiped = n > 0;
	return KP_OK;
}

int
kp_store_update(struct kp_store *st, const struct kp_rec *k, int from)
{
	sqlite3_stmt	*s = NULL;
	struct kp_rec	 now;
	int		 rc;

	if (kp_state_name(k->state) == NULL || kp_state_name(from) == NULL ||
	    k->group_id_len > KP_MAX_GROUP_ID)
		return kp_store_err(st, KP_EINVAL, "bad key update");
	if ((rc = kp_store_prepare_kept(st, KP_STMT_UPDATE, "UPDATE "
	    "keypackages SET status = ?1, "
	    "uploaded_at = ?2, reserved_at = ?3, spent_at = ?4, "
	    "expired_at = ?5, changed_at = ?6, reservation_id = ?7, "
	    "reservation_expires_at = ?8, reserved_by = ?9, spent_group_id = "
	    "?10, spent_epoch = ?11, spent_by = ?12, changed_ns = ?15, "
	    "private_init_key = CASE WHEN ?1 = 'expired' THEN NULL ELSE "
	    "private_init_key END, "
	    "private_encryption_key = CASE WHEN ?1 = 'expired' THEN NULL ELSE "
	    "private_encryption_key END "
	    "WHERE keypackage_ref = ?13 AND status = ?14", &s)) != KP_OK)
		goto out;
	sqlite3_bind_text(s, 1, kp_state_name(k->state), -1, SQLITE_STATIC);
	bind_opt_int(s, 2, k->uploaded_at);
	bind_opt_int(s, 3, k->reserved_at);
	bind_opt_int(s, 4, k->spent_at);
	bind_opt_int(s, 5, k->expired_at);
	sqlite3_bind_int64(s, 6, k->changed_at);
	bind_opt_text(s, 7, k->reservation_id);
	bind_opt_int(s, 8, k->reservation_expires_at);
	bind_opt_text(s, 9, k->reserved_by);
	if (k->group_id_len > 0)
		sqlite3_bind_blob(s, 10, k->group_id, (int)k->group_id_len,
		    SQLITE_STATIC);
	if (k->epoch >= 0)
		sqlite3_bind_int64(s, 11, k->epoch);
	bind_opt_text(s, 12, k->spent_by);
	sqlite3_bind_blob(s, 13, k->ref, KP_REF_LEN, SQLITE_STATIC);
	sqlite3_bind_text(s, 14, kp_state_name(from), -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 15, stamp(st, k->changed_at, k->changed_ns));
	if (sqlite3_step(s) != SQLITE_DONE) {
		rc = kp_store_dberr(st, "update key");
		goto out;
	}
	if (sqlite3_changes(st->db) == 0) {
		kp_store_done(s);
		s = NULL;
		if ((rc = kp_store_rec(st, k->ref, &now)) == KP_OK)
			rc = kp_store_err(st, KP_ESTATE, "key %s is %s, not %s",
			    now.ref_hex, kp_state_name(now.state),
			    kp_state_name(from));
		goto out;
	}
	/* who holds it now: the reserver, the spender */
	kp_store_change(st, k->ref, from, k->state,
	    k->state == KP_STATE_RESERVED ? k->reserved_by :
	    k->state == KP_STATE_SPENT ? k->spent_by : NULL);
	if (k->state == KP_STATE_EXPIRED)
		kp_store_scrub(st);
out:
	kp_store_done(s);
	return rc;
}

int
kp_store_set_state(struct kp_store *st, const uint8_t ref[KP_REF_LEN],
    int from, int to, int64_t now)
{
	struct kp_rec	k;
	int		rc;

	if ((rc = kp_store_rec(st, ref, &k)) != KP_OK)
		return rc;
	if (k.state != from)
		return kp_store_err(st, KP_ESTATE, "key %s is %s, not %s",
		    k.ref_hex, kp_state_name(k.state), kp_state_name(from));
	kp_rec_move(&k, to, now);
	return kp_store_update(st, &k, from);
}

int
kp_store_counts(struct kp_store *st, uint16_t suite, int lr,
    struct kp_counts *out)
{
	sqlite3_stmt	*s = NULL;
	const char	*name;
	int		 rc, r, state;

	memset(out, 0, sizeof(*out));
	if ((rc = kp_store_prepare(st, "SELECT status, count(*), "
	    "sum(last_resort) FROM keypackages WHERE (?1 = 0 OR "
	    "ciphersuite = ?1) AND (?2 < 0 OR last_resort = ?2) GROUP BY "
	    "status", &s)) != KP_OK)
		goto out;
	sqlite3_bind_int(s, 1, suite);
	sqlite3_bind_int(s, 2, lr);
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		name = (const char *)sqlite3_column_text(s, 0);
		if (name == NULL || (state = kp_state_from_name(name)) < 0) {
			rc = kp_store_err(st, KP_EDB, "a key row is damaged");
			goto out;
		}
		out->n[state] = (uint32_t)sqlite3_column_int64(s, 1);
		out->total += out->n[state];
		out->last_resort += (uint32_t)sqlite3_column_int64(s, 2);
	}
	if (r != SQLITE_DONE)
		rc = kp_store_dberr(st, "count keys");
out:
	sqlite3_finalize(s);
	return rc;
}

/* What kp_store_list and kp_store_expired collect. */
struct collect {
	struct kp_store	*st;
	struct kp_rec	*v;
	size_t		 n, cap;
};

static int
collect(void *arg, const struct kp_rec *k)
{
	struct collect	*c = arg;

	if (kp_grow(&c->v, &c->cap, c->n, sizeof(*c->v), 16) == -1)
		return kp_store_err(c->st, KP_ENOMEM, "out of memory");
	c->v[c->n++] = *k;
	return KP_OK;
}

/*
 * Call fn for each key "SELECT KEY_COLS FROM keypackages WHERE <where>"
 * yields, with ?1 bound to text (NULL when NULL) and ?2 to num.
 */
static int
select_keys(struct kp_store *st, const char *where, const char *text,
    int64_t num, int (*fn)(void *, const struct kp_rec *), void *arg)
{
	struct kp_rec	 k;
	sqlite3_stmt	*s = NULL;
	char		 sql[1024];
	int		 rc, r;

	if ((size_t)snprintf(sql, sizeof(sql), "SELECT " KEY_COLS " FROM "
	    "keypackages WHERE %s", where) >= sizeof(sql)) {
		rc = kp_store_err(st, KP_EINVAL, "query too long");
		goto out;
	}
	if ((rc = kp_store_prepare(st, sql, &s)) != KP_OK)
		goto out;
	if (text != NULL)
		sqlite3_bind_text(s, 1, text, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, num);
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		if ((rc = row_key(st, s, 0, &k)) != KP_OK ||
		    (rc = fn(arg, &k)) != KP_OK)
			goto out;
	}
	if (r != SQLITE_DONE)
		rc = kp_store_dberr(st, "list keys");
out:
	sqlite3_finalize(s);
	return rc;
}

/* select_keys into *keys (malloc'd) and *n. */
static int
select_all(struct kp_store *st, const char *where, const char *text,
    int64_t num, struct kp_rec **keys, size_t *n)
{
	struct collect	c;
	int		rc;

	memset(&c, 0, sizeof(c));
	c.st = st;
	if ((rc = select_keys(st, where, text, num, collect, &c)) != KP_OK) {
		free(c.v);
		c.v = NULL;
		c.n = 0;
	}
	*keys = c.v;
	*n = c.n;
	return rc;
}

#define LIST_WHERE	"?1 IS NULL OR status = ?1 ORDER BY created_at, " \
			"created_ns, rowid"

int
kp_store_each(struct kp_store *st, int state,
    int (*fn)(void *, const struct kp_rec *), void *arg)
{
	if (state != -1 && kp_state_name(state) == NULL)
		return kp_store_err(st, KP_EINVAL, "bad state %d", state);
	return select_keys(st, LIST_WHERE, kp_state_name(state), 0, fn, arg);
}

int
kp_store_list(struct kp_store *st, int state, struct kp_rec **keys, size_t *n)
{
	*keys = NULL;
	*n = 0;
	if (state != -1 && kp_state_name(state) == NULL)
		return kp_store_err(st, KP_EINVAL, "bad state %d", state);
	return select_all(st, LIST_WHERE, kp_state_name(state), 0, keys, n);
}

int
kp_store_expired(struct kp_store *st, int64_t now, struct kp_rec **keys,
    size_t *n)
{
	return select_all(st, "not_after < ?2 AND status IN ('created', "
	    "'available', 'reserved') ORDER BY not_after, rowid", NULL, now,
	    keys, n);
}

int
kp_store_wipe_spent(struct kp_store *st, int64_t now, uint32_t *n)
{
	int	rc, changed;

	rc = exec_wipe(st, "UPDATE keypackages SET private_init_key = "
	    "NULL, private_encryption_key = NULL WHERE not_after < ?2 AND "
	    "status = 'spent' AND private_init_key IS NOT NULL RETURNING "
	    "keypackage_ref, status", NULL, now, 0, "wipe spent keys",
	    &changed);
	*n = (uint32_t)changed;
	return rc;
}
