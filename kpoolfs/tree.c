/* SPDX-License-Identifier: ISC */
/*
 * tree.c: the shape of the kpoolfs tree.  Paths are parsed into a
 * struct kpfs_path, and the text files are rendered here, one value a
 * file with a trailing newline (sysfs), times in RFC 3339 UTC.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kpoolfs.h"

static const char *const rootfiles[KPFS_NROOTFILES] = {
	"status", "config", "ctl", "welcome",
};

static const char *const keyfiles[KPFS_NKEYFILES] = {
	"keypackage", "status", "ref", "suite", "not_before", "not_after",
	"created_at", "uploaded_at", "reserved_at", "reserved_by",
	"reservation_id", "reservation_expires_at", "spent_at", "spent_by",
	"group_id", "epoch", "expired_at", "last_resort", "private_keys",
	"info",
};

const char *
kpfs_rootfile_name(int f)
{
	if (f < 0 || f >= KPFS_NROOTFILES)
		return NULL;
	return rootfiles[f];
}

const char *
kpfs_keyfile_name(int f)
{
	if (f < 0 || f >= KPFS_NKEYFILES)
		return NULL;
	return keyfiles[f];
}

/* Copy the next component of *p into buf; 0 at the end, -1 if too long. */
static int
component(const char **p, char *buf, size_t cap)
{
	const char *s = *p, *e;
	size_t n;

	while (*s == '/')
		s++;
	if (*s == '\0') {
		*p = s;
		return 0;
	}
	e = strchr(s, '/');
	n = e ? (size_t)(e - s) : strlen(s);
	if (n >= cap)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	*p = s + n;
	return 1;
}

/* A ref name: exactly 64 lowercase hex digits. */
static int
parse_ref(const char *name, uint8_t ref[KP_REF_LEN])
{
	size_t i;

	if (strlen(name) != 2 * KP_REF_LEN)
		return -1;
	for (i = 0; i < 2 * KP_REF_LEN; i++)
		if (!((name[i] >= '0' && name[i] <= '9') ||
		    (name[i] >= 'a' && name[i] <= 'f')))
			return -1;
	if (kp_unhex(name, ref, KP_REF_LEN) != KP_OK)
		return -1;
	return 0;
}

int
kpfs_path_parse(const char *path, struct kpfs_path *out)
{
	char c[3][80];
	const char *p = path;
	int i, n, r;

	memset(out, 0, sizeof(*out));
	out->state = -1;
	out->file = -1;
	for (n = 0; n < 4; n++) {
		if (n == 3) {
			if ((r = component(&p, c[0], sizeof(c[0]))) != 0)
				return -ENOENT;
			break;
		}
		r = component(&p, c[n], sizeof(c[n]));
		if (r < 0)
			return -ENOENT;
		if (r == 0)
			break;
	}
	if (n == 0) {
		out->kind = KPFS_ROOT;
		return 0;
	}
	if (n == 1) {
		for (i = 0; i < KPFS_NROOTFILES; i++)
			if (strcmp(c[0], rootfiles[i]) == 0) {
				out->kind = KPFS_ROOTFILE;
				out->file = i;
				return 0;
			}
	}
	if ((out->state = kp_state_from_name(c[0])) < 0)
		return -ENOENT;
	if (n == 1) {
		out->kind = KPFS_STATEDIR;
		return 0;
	}
	if (parse_ref(c[1], out->ref) != 0)
		return -ENOENT;
	memcpy(out->ref_hex, c[1], sizeof(out->ref_hex));
	if (n == 2) {
		out->kind = KPFS_KEYDIR;
		return 0;
	}
	for (i = 0; i < KPFS_NKEYFILES; i++)
		if (strcmp(c[2], keyfiles[i]) == 0) {
			out->kind = KPFS_KEYFILE;
			out->file = i;
			return 0;
		}
	return -ENOENT;
}

/* The tree's copy of the record r. */
static void
key_from(const struct kp_key *r, struct kpfs_key *k)
{
	const uint8_t	*g;

	memset(k, 0, sizeof(*k));
	memcpy(k->ref, kp_key_ref(r), KP_REF_LEN);
	memcpy(k->ref_hex, kp_key_ref_hex(r), sizeof(k->ref_hex));
	k->state = kp_key_state(r);
	k->suite = kp_key_suite(r);
	k->last_resort = kp_key_last_resort(r);
	k->has_private = kp_key_has_private(r);
	k->created_at = kp_key_time(r, KP_T_CREATED);
	k->uploaded_at = kp_key_time(r, KP_T_UPLOADED);
	k->reserved_at = kp_key_time(r, KP_T_RESERVED);
	k->spent_at = kp_key_time(r, KP_T_SPENT);
	k->expired_at = kp_key_time(r, KP_T_EXPIRED);
	k->not_before = kp_key_time(r, KP_T_NOT_BEFORE);
	k->not_after = kp_key_time(r, KP_T_NOT_AFTER);
	k->changed_at = kp_key_time(r, KP_T_CHANGED);
	k->reservation_expires_at = kp_key_time(r,
	    KP_T_RESERVATION_EXPIRES);
	snprintf(k->reservation_id, sizeof(k->reservation_id), "%s",
	    kp_key_text(r, KP_X_RESERVATION_ID));
	snprintf(k->reserved_by, sizeof(k->reserved_by), "%s",
	    kp_key_text(r, KP_X_RESERVED_BY));
	snprintf(k->spent_by, sizeof(k->spent_by), "%s",
	    kp_key_text(r, KP_X_SPENT_BY));
	g = kp_key_group_id(r, &k->group_id_len);
	memcpy(k->group_id, g, k->group_id_len);
	k->epoch = kp_key_epoch(r);
	k->keypackage_len = kp_key_keypackage_len(r);
}

int
kpfs_pool_load(struct kp_pool *p, const uint8_t *ref, struct kpfs_key *k,
    int *found)
{
	struct kp_key	*r = NULL;
	int		 rc;

	*found = 0;
	if ((rc = kp_pool_key(p, ref, &r)) == KP_ENOTFOUND)
		return KP_OK;
	if (rc != KP_OK)
		return rc;
	key_from(r, k);
	kp_key_free(r);
	*found = 1;
	return KP_OK;
}

int
kpfs_pool_list(struct kp_pool *p, int state, struct kpfs_key **keys,
    size_t *n)
{
	struct kp_key	**r = NULL;
	size_t		  i, m = 0;
	int		  rc;

	*keys = NULL;
	*n = 0;
	if ((rc = kp_pool_list(p, state, &r, &m)) != KP_OK)
		return rc;
	if (m > 0 && (*keys = calloc(m, sizeof(**keys))) == NULL) {
		kp_keys_free(r, m);
		return KP_ENOMEM;
	}
	for (i = 0; i < m; i++)
		key_from(r[i], &(*keys)[i]);
	kp_keys_free(r, m);
	*n = m;
	return KP_OK;
}

int
kpfs_keyfile_applies(const struct kpfs_key *k, int f)
{
	switch (f) {
	case KPFS_K_UPLOADED_AT:
		return k->uploaded_at > 0;
	case KPFS_K_RESERVED_AT:
		return k->reserved_at > 0;
	case KPFS_K_RESERVED_BY:
		return k->reserved_by[0] != '\0';
	case KPFS_K_RESERVATION_ID:
		return k->reservation_id[0] != '\0';
	case KPFS_K_RESERVATION_EXPIRES_AT:
		return k->reservation_expires_at > 0;
	case KPFS_K_SPENT_AT:
		return k->spent_at > 0;
	case KPFS_K_SPENT_BY:
		return k->spent_by[0] != '\0';
	case KPFS_K_GROUP_ID:
		return k->group_id_len > 0 &&
		    k->group_id_len <= sizeof(k->group_id);
	case KPFS_K_EPOCH:
		return k->epoch >= 0;
	case KPFS_K_EXPIRED_AT:
		return k->expired_at > 0;
	default:
		return f >= 0 && f < KPFS_NKEYFILES;
	}
}

void
kpfs_rfc3339(int64_t t, char *buf, size_t cap)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		if (cap > 0)
			buf[0] = '\0';
	}
}

/* The value of file f of k, without a newline, into buf. */
static int
value(const struct kpfs_key *k, int f, char *buf, size_t cap)
{
	int64_t t;
	int n;

	switch (f) {
	case KPFS_K_STATUS:
		n = snprintf(buf, cap, "%s", kp_state_name(k->state) ?
		    kp_state_name(k->state) : "unknown");
		break;
	case KPFS_K_REF:
		n = snprintf(buf, cap, "%s", k->ref_hex);
		break;
	case KPFS_K_SUITE:
		n = snprintf(buf, cap, "0x%04x", (unsigned)k->suite);
		break;
	case KPFS_K_RESERVED_BY:
		n = snprintf(buf, cap, "%s", k->reserved_by);
		break;
	case KPFS_K_RESERVATION_ID:
		n = snprintf(buf, cap, "%s", k->reservation_id);
		break;
	case KPFS_K_SPENT_BY:
		n = snprintf(buf, cap, "%s", k->spent_by);
		break;
	case KPFS_K_GROUP_ID:
		if (cap < 2 * k->group_id_len + 1)
			return -1;
		kp_hex(k->group_id, k->group_id_len, buf);
		n = (int)(2 * k->group_id_len);
		break;
	case KPFS_K_EPOCH:
		n = snprintf(buf, cap, "%" PRId64, k->epoch);
		break;
	case KPFS_K_LAST_RESORT:
		n = snprintf(buf, cap, "%d", k->last_resort ? 1 : 0);
		break;
	case KPFS_K_PRIVATE_KEYS:
		n = snprintf(buf, cap, "%s", k->has_private ? "stored" :
		    "wiped");
		break;
	case KPFS_K_NOT_BEFORE:
	case KPFS_K_NOT_AFTER:
	case KPFS_K_CREATED_AT:
	case KPFS_K_UPLOADED_AT:
	case KPFS_K_RESERVED_AT:
	case KPFS_K_RESERVATION_EXPIRES_AT:
	case KPFS_K_SPENT_AT:
	case KPFS_K_EXPIRED_AT:
		t = f == KPFS_K_NOT_BEFORE ? k->not_before :
		    f == KPFS_K_NOT_AFTER ? k->not_after :
		    f == KPFS_K_CREATED_AT ? k->created_at :
		    f == KPFS_K_UPLOADED_AT ? k->uploaded_at :
		    f == KPFS_K_RESERVED_AT ? k->reserved_at :
		    f == KPFS_K_RESERVATION_EXPIRES_AT ?
		    k->reservation_expires_at :
		    f == KPFS_K_SPENT_AT ? k->spent_at : k->expired_at;
		if (cap < 21)
			return -1;
		kpfs_rfc3339(t, buf, cap);
		n = (int)strlen(buf);
		break;
	default:
		return -1;
	}
	if (n < 0 || (size_t)n >= cap)
		return -1;
	return n;
}

int
kpfs_keyfile_render(const struct kpfs_key *k, int f, char *buf, size_t cap)
{
	size_t len = 0;
	int i, n;

	if (!kpfs_keyfile_applies(k, f) || f == KPFS_K_KEYPACKAGE)
		return -1;
	if (f != KPFS_K_INFO) {
		if ((n = value(k, f, buf, cap)) < 0 || (size_t)n + 2 > cap)
			return -1;
		buf[n++] = '\n';
		buf[n] = '\0';
		return n;
	}
	/* info: every other value as "name: value" lines */
	for (i = KPFS_K_STATUS; i < KPFS_K_INFO; i++) {
		if (!kpfs_keyfile_applies(k, i))
			continue;
		n = snprintf(buf + len, cap - len, "%s: ", keyfiles[i]);
		if (n < 0 || (size_t)n >= cap - len)
			return -1;
		len += n;
		if ((n = value(k, i, buf + len, cap - len)) < 0 ||
		    (size_t)n + 2 > cap - len)
			return -1;
		len += n;
		buf[len++] = '\n';
		buf[len] = '\0';
	}
	n = snprintf(buf + len, cap - len, "keypackage_size: %zu\n",
	    k->keypackage_len);
	if (n < 0 || (size_t)n >= cap - len)
		return -1;
	len += n;
	return (int)len;
}

int
kpfs_status_render(const struct kp_status *st, const struct kp_policy *pol,
    int health, int64_t last_sync, char *buf, size_t cap)
{
	char ls[32];
	int n;

	if (last_sync > 0)
		kpfs_rfc3339(last_sync, ls, sizeof(ls));
	else
		snprintf(ls, sizeof(ls), "never");
	n = snprintf(buf, cap,
	    "created: %" PRIu32 "\n"
	    "available: %" PRIu32 "\n"
	    "reserved: %" PRIu32 "\n"
	    "spent: %" PRIu32 "\n"
	    "expired: %" PRIu32 "\n"
	    "total: %" PRIu32 "\n"
	    "target: %" PRIu32 "\n"
	    "low_watermark: %" PRIu32 "\n"
	    "hard_cap: %" PRIu32 "\n"
	    "health: %s\n"
	    "last_sync: %s\n",
	    st->counts.n[KP_STATE_CREATED], st->counts.n[KP_STATE_AVAILABLE],
	    st->counts.n[KP_STATE_RESERVED], st->counts.n[KP_STATE_SPENT],
	    st->counts.n[KP_STATE_EXPIRED], st->counts.total,
	    pol->target, pol->low_watermark, pol->hard_cap,
	    kp_health_name(health) ? kp_health_name(health) : "unknown", ls);
	if (n < 0 || (size_t)n >= cap)
		return -1;
	return n;
}
