/* SPDX-License-Identifier: ISC */
/*
 * view.h: what the server records of each of our keys, as the pool last
 * heard it (lib/view.c), internal to libkpool: the key's state there and
 * the group_id its reservation or spend named, for the authorization of
 * a Welcome when the server cannot be asked (lib/authz.c); and the group
 * the owner's own spend of a key is to name.
 */
#ifndef KP_VIEW_H
#define KP_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "kpool.h"
#include "store.h"

/* The server's record of one key. */
struct kp_view {
	int	 state;			/* KP_STATE_* there, -1: none */
	int	 last_resort;
	char	 by[KP_MAX_PRINCIPAL + 1];	/* who (a principal) reserved or
						   spent it */
	uint8_t	 group_id[KP_MAX_GROUP_ID];
	size_t	 group_id_len;
	int64_t	 seen_at;		/* when the pool heard it so */
	uint8_t	 owner_group[KP_MAX_GROUP_ID];	/* the owner's spend's */
	size_t	 owner_group_len;
};

/* The SQL of the store's migration that makes the view's table. */
#define KP_VIEW_SCHEMA \
	"CREATE TABLE server_view (" \
	"  keypackage_ref BLOB PRIMARY KEY NOT NULL" \
	"    CHECK (length(keypackage_ref) = 32)," \
	"  status TEXT," \
	"  last_resort INTEGER NOT NULL DEFAULT 0," \
	"  principal TEXT," \
	"  group_id BLOB," \
	"  seen_at INTEGER," \
	"  owner_group BLOB) WITHOUT ROWID;"

/*
 * kp_view_from: the view a server's record rk (NULL: the server has no
 * such key) gives, heard at now.
 */
void	kp_view_from(struct kp_view *v, const struct kp_remote_key *rk,
	    int64_t now);
/*
 * kp_view_note: record v as the server's record of ref, inside the
 * caller's transaction; a record that says what the stored one says is
 * not written again (its seen_at stays: the time it was first so).
 */
int	kp_view_note(struct kp_store *st, const uint8_t ref[KP_REF_LEN],
	    const struct kp_view *v) KP_WUR;
/*
 * kp_view_get: the stored record of ref, and the owner's group; state
 * -1 (and no group) when there is none.
 */
int	kp_view_get(struct kp_store *st, const uint8_t ref[KP_REF_LEN],
	    struct kp_view *v) KP_WUR;
/*
 * kp_view_set_owner_group: the group the owner's spend of ref is to name
 * (kp_pool_set_group; kp_view_get reads it back), len 0 forgets it,
 * inside the caller's transaction.
 */
int	kp_view_set_owner_group(struct kp_store *st,
	    const uint8_t ref[KP_REF_LEN], const uint8_t *gid,
	    size_t len) KP_WUR;

#endif /* KP_VIEW_H */
