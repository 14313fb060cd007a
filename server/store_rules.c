/* SPDX-License-Identifier: ISC */
/*
 * store_rules.c: the rules every backend of the store follows, so that
 * SQLite and PostgreSQL answer alike; see store_rules.h.
 */

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "store_rules.h"

static const char *const state_text[KP_NSTATES] = {
	[KP_STATE_AVAILABLE] = "available",
	[KP_STATE_RESERVED] = "reserved",
	[KP_STATE_SPENT] = "spent",
};

int
kps_state_parse(const char *status)
{
	int	i;

	for (i = 0; i < KP_NSTATES; i++)
		if (state_text[i] != NULL && strcmp(status, state_text[i]) == 0)
			return i;
	return -1;
}

const char *
kps_state_text(int state)
{
	return state >= 0 && state < KP_NSTATES ? state_text[state] : NULL;
}

void
kps_key_view(struct kps_row *r, int state, struct kps_key *k)
{
	const struct kps_key	*c = &r->key;

	memset(k, 0, sizeof(*k));
	memcpy(k->ref, c->ref, sizeof(k->ref));
	memcpy(k->username, c->username, sizeof(k->username));
	memcpy(k->device, c->device, sizeof(k->device));
	k->bytes = c->bytes;
	k->len = c->len;
	r->key.bytes = NULL;
	r->key.len = 0;
	k->uploaded_at = c->uploaded_at;
	k->status = state;
	k->last_resort = c->last_resort;
	k->not_after = c->not_after;
	memcpy(k->credential_hash, c->credential_hash,
	    sizeof(k->credential_hash));
	k->suite = c->suite;
	memcpy(k->init_key, c->init_key, sizeof(k->init_key));
	if (state == KP_STATE_RESERVED) {
		memcpy(k->reservation_id, c->reservation_id,
		    sizeof(k->reservation_id));
		k->reserved_at = c->reserved_at;
		k->reservation_expires_at = c->reservation_expires_at;
		memcpy(k->reserved_by, c->reserved_by, sizeof(k->reserved_by));
		memcpy(k->group_id, c->group_id, c->group_id_len);
		k->group_id_len = c->group_id_len;
	} else if (state == KP_STATE_SPENT || (state == KP_STATE_EXPIRED &&
	    !(r->null & KPS_NULL_SPENT_AT))) {
		k->reserved_at = c->reserved_at;
		memcpy(k->reserved_by, c->reserved_by, sizeof(k->reserved_by));
		k->spent_at = c->spent_at;
		memcpy(k->spent_by, c->spent_by, sizeof(k->spent_by));
		memcpy(k->group_id, c->group_id, c->group_id_len);
		k->group_id_len = c->group_id_len;
		if (r->null & KPS_NULL_SPENT_AT) {
			/* burned at the end of its reservation */
			k->spent_at = c->reservation_expires_at;
			k->spent_by[0] = '\0';
		}
	} else if (state == KP_STATE_AVAILABLE && c->last_resort) {
		/* its latest handing out, for the owner's Welcome check */
		k->reserved_at = c->reserved_at;
		memcpy(k->reserved_by, c->reserved_by, sizeof(k->reserved_by));
		memcpy(k->group_id, c->group_id, c->group_id_len);
		k->group_id_len = c->group_id_len;
	}
}

int
kps_rule_same_user(const char *p, const char *user)
{
	size_t	n = strcspn(p, "/");

	return strlen(user) == n && strncmp(p, user, n) == 0;
}

int
kps_rule_owner(const char *user, const char *device, const char *caller)
{
	char	p[KP_MAX_PRINCIPAL + 1];

	return kp_principal(user, device[0] ? device : NULL, p,
	    sizeof(p)) == KP_OK && strcmp(p, caller) == 0;
}

int
kps_rule_spend(const struct kps_keystate *w, const char *caller,
    const uint8_t *gid, size_t glen, int64_t now)
{
	int	owner, mine, live;

	owner = kps_rule_owner(w->owner, w->device, caller);
	mine = strcmp(w->reserved_by, caller) == 0;
	live = w->has_reservation && w->reservation_expires_at > now;
	if (w->status == KP_STATE_SPENT) {
		/* a retry after a lost reply: answered as the first */
		if (!w->spent_by_null && strcmp(w->spent_by, caller) == 0 &&
		    (glen == 0 || (glen == w->group_id_len &&
		    memcmp(gid, w->group_id, glen) == 0)))
			return KP_OK;
		/* burned at the end of the caller's reservation: 410 */
		return w->spent_by_null && mine && !owner ? KP_EGONE :
		    KP_ECONFLICT;
	}
	if (w->last_resort && w->status == KP_STATE_AVAILABLE)
		return KP_OK;	/* handed out again and again, never spent */
	if (w->status == KP_STATE_RESERVED && live) {
		if (!mine)
			return KP_EFORBIDDEN;
		/* a Welcome is accepted for the reservation's group only */
		if (glen > 0 && w->group_id_len > 0 &&
		    (glen != w->group_id_len ||
		    memcmp(gid, w->group_id, glen) != 0))
			return KP_EGROUP;
		return KPS_APPLY;
	}
	if (!owner)
		/*
		 * no live reservation: the caller's ran out, or never was,
		 * or the caller gave it back
		 */
		return mine && w->has_reservation && !w->released ?
		    KP_EGONE : KP_EFORBIDDEN;
	return KPS_APPLY;
}

int
kps_rule_release(const struct kps_keystate *w, const char *caller)
{
	int	mine = strcmp(w->reserved_by, caller) == 0;

	if (w->status == KP_STATE_SPENT)
		return KP_ECONFLICT;
	if (w->status == KP_STATE_AVAILABLE)
		/*
		 * a last-resort key, or the caller's reservation that ran
		 * out or that the caller gave back (a retry)
		 */
		return w->last_resort || (mine && w->has_reservation) ? KP_OK :
		    KP_ESTATE;
	return mine ? KPS_APPLY : KP_EFORBIDDEN;
}

int
kps_rule_retire(const struct kps_keystate *w, const char *caller)
{
	return kps_rule_owner(w->owner, w->device, caller) ? KPS_APPLY :
	    KP_EFORBIDDEN;
}

int
kps_rule_named(const struct kps_keystate *w, int64_t now)
{
	if (w->status != KP_STATE_AVAILABLE || w->not_after <= now)
		return KP_ECONFLICT;
	/* served, never consumed, named or not */
	return w->last_resort ? KP_OK : KPS_APPLY;
}

void
kps_counts_add(struct kps_counts *c, int state, int last_resort,
    uint64_t n)
{
	if (state > KP_STATE_CREATED && state < KP_NSTATES)
		c->n[state] += n;
	if (last_resort)
		c->last_resort += n;
}

void
kps_device_counts_add(struct kps_device *d, size_t nd, const char *device,
    unsigned suite, int state, int last_resort, uint64_t n)
{
	size_t	i;
	int	si = kps_suite_index(suite);

	for (i = 0; i < nd; i++)
		if (strcmp(d[i].device, device) == 0)
			break;
	if (i == nd)
		return;
	kps_counts_add(&d[i].counts, state, last_resort, n);
	if (si >= 0)
		kps_counts_add(&d[i].suite[si], state, last_resort, n);
}

void
kps_census_add(struct kps_census *c, const char *status, int last_resort,
    uint64_t n, uint64_t reservations)
{
	int	state = kps_state_parse(status);

	if (state > 0)
		c->keys[state] += n;
	if (last_resort)
		c->last_resort += n;
	c->rows[KPS_ROW_KEY] += n;
	c->reservations += reservations;
}

void
kps_census_drain(struct kps_census *c, const uint64_t v[8])
{
	c->rows[KPS_ROW_CONTACT] = v[0];
	c->contacts_left = v[1];
	c->rows[KPS_ROW_GRANT] = v[2];
	c->grants_open = v[3];
	c->grants_strangers = v[4];
	c->rows[KPS_ROW_REGISTRATION] = v[5];
	c->rows[KPS_ROW_INVITE] = v[6];
	c->invite_uses = v[7];
}

/*
 * Unique and unguessable, and in order, so that its index grows at its
 * right edge instead of touching a random page per reservation.
 */
void
kps_reservation_id(char out[65])
{
	struct timespec	ts;
	uint64_t	ms;
	uint8_t		id[16];
	int		i;

	clock_gettime(CLOCK_REALTIME, &ts);
	ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	for (i = 0; i < 6; i++)
		id[i] = (uint8_t)(ms >> (40 - 8 * i));
	randombytes_buf(id + 6, sizeof(id) - 6);
	kp_hex(id, sizeof(id), out);
}

int
kps_rate_wait(double tokens, double per_min)
{
	double	wait = (1.0 - tokens) / (per_min / 60.0);
	int	r = (int)wait + ((double)(int)wait < wait);

	return r < 1 ? 1 : r;
}

int64_t
kps_nonce_id(const char *keyid, const char *nonce)
{
	crypto_generichash_state	h;
	uint8_t				out[crypto_generichash_BYTES_MIN];
	uint64_t			v = 0;
	size_t				i;

	crypto_generichash_init(&h, NULL, 0, sizeof(out));
	crypto_generichash_update(&h, (const uint8_t *)keyid,
	    strlen(keyid) + 1);
	crypto_generichash_update(&h, (const uint8_t *)nonce, strlen(nonce));
	crypto_generichash_final(&h, out, sizeof(out));
	for (i = 0; i < 8; i++)
		v = v << 8 | out[i];
	return (int64_t)v;
}

/* The key lists a backend hands out are freed here, below the
 * dispatcher, so that a backend freeing its own never calls back up. */
void
kps_key_clear(struct kps_key *k)
{
	if (k == NULL)
		return;
	free(k->bytes);
	k->bytes = NULL;
	k->len = 0;
}

void
kps_key_list_free(struct kps_key *keys, size_t n)
{
	size_t	i;

	if (keys == NULL)
		return;
	for (i = 0; i < n; i++)
		kps_key_clear(&keys[i]);
	free(keys);
}
