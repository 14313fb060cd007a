/* SPDX-License-Identifier: ISC */
/*
 * key.c: one key's public record (kpool.h's opaque struct kp_key) and
 * its accessors.  It is compact, since a program may keep thousands
 * (kpoolfs caches them): the fixed part holds the ref, the times and
 * the flags; the three strings and the group_id follow in the same
 * allocation, each only as long as it is.
 */

#include <stdlib.h>
#include <string.h>

#include "kpool.h"
#include "rec.h"

#define NTIMES		(KP_T_CHANGED + 1)
#define F_LAST_RESORT	0x01
#define F_PRIVATE	0x02

struct kp_key {
	uint8_t	 ref[KP_REF_LEN];
	char	 ref_hex[2 * KP_REF_LEN + 1];
	int8_t	 state;
	uint8_t	 flags;			/* F_* */
	uint16_t suite;
	uint8_t	 group_id_len;
	uint8_t	 text_at[3];		/* where each string starts in tail */
	uint32_t keypackage_len;
	int64_t	 t[NTIMES];		/* enum kp_key_time */
	int32_t	 created_ns, changed_ns;	/* within their second */
	int64_t	 epoch;
	uint8_t	 credential_hash[32];
	char	 tail[];		/* 3 strings NUL-ended, group_id */
};

int
kp_key_new(const struct kp_rec *r, struct kp_key **out)
{
	const char	*text[3] = { r->reservation_id, r->reserved_by,
			    r->spent_by };
	struct kp_key	*k;
	size_t		 len[3], off, i;

	*out = NULL;
	for (i = 0, off = 0; i < 3; i++) {
		len[i] = strlen(text[i]);
		off += len[i] + 1;
	}
	if (r->group_id_len > KP_MAX_GROUP_ID)
		return KP_EINVAL;
	if ((k = malloc(sizeof(*k) + off + r->group_id_len)) == NULL)
		return KP_ENOMEM;
	memcpy(k->ref, r->ref, KP_REF_LEN);
	memcpy(k->ref_hex, r->ref_hex, sizeof(k->ref_hex));
	k->state = (int8_t)r->state;
	k->flags = (r->last_resort ? F_LAST_RESORT : 0) |
	    (r->has_private ? F_PRIVATE : 0);
	k->suite = r->suite;
	k->group_id_len = (uint8_t)r->group_id_len;
	k->keypackage_len = (uint32_t)r->keypackage_len;
	k->t[KP_T_CREATED] = r->created_at;
	k->t[KP_T_UPLOADED] = r->uploaded_at;
	k->t[KP_T_RESERVED] = r->reserved_at;
	k->t[KP_T_RESERVATION_EXPIRES] = r->reservation_expires_at;
	k->t[KP_T_SPENT] = r->spent_at;
	k->t[KP_T_EXPIRED] = r->expired_at;
	k->t[KP_T_NOT_BEFORE] = r->not_before;
	k->t[KP_T_NOT_AFTER] = r->not_after;
	k->t[KP_T_CHANGED] = r->changed_at;
	k->created_ns = r->created_ns > 0 ? r->created_ns : 0;
	k->changed_ns = r->changed_ns > 0 ? r->changed_ns : 0;
	k->epoch = r->epoch;
	memcpy(k->credential_hash, r->credential_hash, 32);
	for (i = 0, off = 0; i < 3; i++) {
		k->text_at[i] = (uint8_t)off;
		memcpy(k->tail + off, text[i], len[i] + 1);
		off += len[i] + 1;
	}
	if (r->group_id_len > 0)
		memcpy(k->tail + off, r->group_id, r->group_id_len);
	*out = k;
	return KP_OK;
}

void
kp_key_free(struct kp_key *k)
{
	free(k);
}

void
kp_keys_free(struct kp_key **keys, size_t n)
{
	size_t	i;

	if (keys == NULL)
		return;
	for (i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
}

const uint8_t *
kp_key_ref(const struct kp_key *k)
{
	return k->ref;
}

const char *
kp_key_ref_hex(const struct kp_key *k)
{
	return k->ref_hex;
}

int
kp_key_state(const struct kp_key *k)
{
	return k->state;
}

uint16_t
kp_key_suite(const struct kp_key *k)
{
	return k->suite;
}

int
kp_key_last_resort(const struct kp_key *k)
{
	return (k->flags & F_LAST_RESORT) != 0;
}

int
kp_key_has_private(const struct kp_key *k)
{
	return (k->flags & F_PRIVATE) != 0;
}

size_t
kp_key_keypackage_len(const struct kp_key *k)
{
	return k->keypackage_len;
}

int64_t
kp_key_time(const struct kp_key *k, int which)
{
	if (which < 0 || which >= NTIMES)
		return 0;
	return k->t[which];
}

const char *
kp_key_text(const struct kp_key *k, int which)
{
	if (which < KP_X_RESERVATION_ID || which > KP_X_SPENT_BY)
		return "";
	return k->tail + k->text_at[which];
}

const uint8_t *
kp_key_group_id(const struct kp_key *k, size_t *len)
{
	*len = k->group_id_len;
	return (const uint8_t *)k->tail + k->text_at[2] +
	    strlen(k->tail + k->text_at[2]) + 1;
}

int64_t
kp_key_epoch(const struct kp_key *k)
{
	return k->epoch;
}

const uint8_t *
kp_key_credential_hash(const struct kp_key *k)
{
	return k->credential_hash;
}

/* kp_key_time_ns: a KP_T_* time in nanoseconds. */
int64_t
kp_key_time_ns(const struct kp_key *k, int which)
{
	int64_t	t = kp_key_time(k, which) * 1000000000LL;

	if (which == KP_T_CREATED)
		t += k->created_ns;
	else if (which == KP_T_CHANGED)
		t += k->changed_ns;
	return t;
}
