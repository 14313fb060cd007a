/* SPDX-License-Identifier: ISC */
/*
 * view.c: the store's table of what the server records of each of our
 * keys (state, who, group_id), written by every pull and by the owner's
 * spend, read by the authorization of a Welcome when the server cannot
 * be asked; and the group the owner's next spend of a key names.  See
 * view.h.
 */

#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "kpool.h"
#include "store.h"
#include "view.h"

void
kp_view_from(struct kp_view *v, const struct kp_remote_key *rk, int64_t now)
{
	memset(v, 0, sizeof(*v));
	v->state = -1;
	v->seen_at = now;
	if (rk == NULL)
		return;
	v->state = rk->state;
	v->last_resort = rk->last_resort;
	(void)snprintf(v->by, sizeof(v->by), "%s", rk->state ==
	    KP_STATE_SPENT && rk->spent_by[0] ? rk->spent_by : rk->reserved_by);
	if (rk->group_id_len <= KP_MAX_GROUP_ID) {
		memcpy(v->group_id, rk->group_id, rk->group_id_len);
		v->group_id_len = rk->group_id_len;
	}
}

int
kp_view_note(struct kp_store *st, const uint8_t ref[KP_REF_LEN],
    const struct kp_view *v)
{
	sqlite3_stmt	*s = NULL;
	int		 rc;

	/* the WHERE keeps an unchanged record from being written again */
	if ((rc = kp_store_prepare(st, "INSERT INTO server_view "
	    "(keypackage_ref, status, last_resort, principal, group_id, "
	    "seen_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
	    "ON CONFLICT (keypackage_ref) DO UPDATE SET status = ?2, "
	    "last_resort = ?3, principal = ?4, group_id = ?5, seen_at = ?6 "
	    "WHERE status IS NOT ?2 OR last_resort IS NOT ?3 OR "
	    "principal IS NOT ?4 OR group_id IS NOT ?5", &s)) != KP_OK)
		return rc;
	sqlite3_bind_blob(s, 1, ref, KP_REF_LEN, SQLITE_STATIC);
	if (v->state >= 0)
		sqlite3_bind_text(s, 2, kp_state_name(v->state), -1,
		    SQLITE_STATIC);
	sqlite3_bind_int(s, 3, v->last_resort ? 1 : 0);
	if (v->by[0] != '\0')
		sqlite3_bind_text(s, 4, v->by, -1, SQLITE_STATIC);
	if (v->state >= 0)
		sqlite3_bind_blob(s, 5, v->group_id, (int)v->group_id_len,
		    SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, v->seen_at);
	rc = sqlite3_step(s) == SQLITE_DONE ? KP_OK :
	    kp_store_dberr(st, "server view");
	sqlite3_finalize(s);
	return rc;
}

int
kp_view_get(struct kp_store *st, const uint8_t ref[KP_REF_LEN],
    struct kp_view *v)
{
	sqlite3_stmt	*s = NULL;
	const char	*t;
	int		 rc, r, glen;

	memset(v, 0, sizeof(*v));
	v->state = -1;
	if ((rc = kp_store_prepare(st, "SELECT status, last_resort, "
	    "principal, group_id, seen_at, owner_group FROM server_view "
	    "WHERE keypackage_ref = ?1", &s)) != KP_OK)
		return rc;
	sqlite3_bind_blob(s, 1, ref, KP_REF_LEN, SQLITE_STATIC);
	if ((r = sqlite3_step(s)) == SQLITE_ROW) {
		t = (const char *)sqlite3_column_text(s, 0);
		v->state = t != NULL ? kp_state_from_name(t) : -1;
		v->last_resort = sqlite3_column_int(s, 1);
		t = (const char *)sqlite3_column_text(s, 2);
		(void)snprintf(v->by, sizeof(v->by), "%s", t ? t : "");
		glen = sqlite3_column_bytes(s, 3);
		if (glen > KP_MAX_GROUP_ID)
			glen = 0;
		if (glen > 0)
			memcpy(v->group_id, sqlite3_column_blob(s, 3),
			    (size_t)glen);
		v->group_id_len = (size_t)glen;
		v->seen_at = sqlite3_column_int64(s, 4);
		glen = sqlite3_column_bytes(s, 5);
		if (glen > 0 && glen <= KP_MAX_GROUP_ID) {
			memcpy(v->owner_group, sqlite3_column_blob(s, 5),
			    (size_t)glen);
			v->owner_group_len = (size_t)glen;
		}
		rc = KP_OK;
	} else
		rc = r == SQLITE_DONE ? KP_OK : kp_store_dberr(st,
		    "server view");
	sqlite3_finalize(s);
	return rc;
}

int
kp_view_set_owner_group(struct kp_store *st, const uint8_t ref[KP_REF_LEN],
    const uint8_t *gid, size_t len)
{
	sqlite3_stmt	*s = NULL;
	int		 rc;

	if (len > KP_MAX_GROUP_ID)
		return kp_store_err(st, KP_ETOOBIG, "a group_id of %zu bytes",
		    len);
	if ((rc = kp_store_prepare(st, "INSERT INTO server_view "
	    "(keypackage_ref, owner_group) VALUES (?1, ?2) "
	    "ON CONFLICT (keypackage_ref) DO UPDATE SET owner_group = ?2",
	    &s)) != KP_OK)
		return rc;
	sqlite3_bind_blob(s, 1, ref, KP_REF_LEN, SQLITE_STATIC);
	if (len > 0)
		sqlite3_bind_blob(s, 2, gid, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(s) == SQLITE_DONE ? KP_OK :
	    kp_store_dberr(st, "owner group");
	sqlite3_finalize(s);
	return rc;
}
