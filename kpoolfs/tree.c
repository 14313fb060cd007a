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

#include <jansson.h>

#include "kpoolfs.h"

static const char *const rootfiles[KPFS_NROOTFILES] = {
	"status", "config", "ctl", "welcome", "identity", "devices",
	"status.json", "events",
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
	const char	*s = *p, *e;
	size_t		 n;

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
	size_t	i;

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
	char		 c[3][80];
	const char	*p = path;
	int		 i, n, r;

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

/* 1 when the key's record has a group_id (spent, or reserved for one). */
static int
has_group(const struct kp_key *k)
{
	size_t	glen;

	(void)kp_key_group_id(k, &glen);
	return glen > 0;
}

int
kpfs_keyfile_applies(const struct kp_key *k, int f)
{
	switch (f) {
	case KPFS_K_UPLOADED_AT:
		return kp_key_time(k, KP_T_UPLOADED) > 0;
	case KPFS_K_RESERVED_AT:
		return kp_key_time(k, KP_T_RESERVED) > 0;
	case KPFS_K_RESERVED_BY:
		return kp_key_text(k, KP_X_RESERVED_BY)[0] != '\0';
	case KPFS_K_RESERVATION_ID:
		return kp_key_text(k, KP_X_RESERVATION_ID)[0] != '\0';
	case KPFS_K_RESERVATION_EXPIRES_AT:
		return kp_key_time(k, KP_T_RESERVATION_EXPIRES) > 0;
	case KPFS_K_SPENT_AT:
		return kp_key_time(k, KP_T_SPENT) > 0;
	case KPFS_K_SPENT_BY:
		return kp_key_text(k, KP_X_SPENT_BY)[0] != '\0';
	case KPFS_K_GROUP_ID:
		/* the owner's, writable, in available/ and reserved/ */
		return has_group(k) || kpfs_group_state(kp_key_state(k));
	case KPFS_K_EPOCH:
		return kp_key_epoch(k) >= 0;
	case KPFS_K_EXPIRED_AT:
		return kp_key_time(k, KP_T_EXPIRED) > 0;
	default:
		return f >= 0 && f < KPFS_NKEYFILES;
	}
}

void
kpfs_rfc3339(int64_t t, char *buf, size_t cap)
{
	struct tm	tm;
	time_t		tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		if (cap > 0)
			buf[0] = '\0';
	}
}

void
kpfs_rfc3339_ns(int64_t t, char *buf, size_t cap)
{
	char	s[32];

	kpfs_rfc3339(t / KPFS_NS, s, sizeof(s));
	if (s[0] == '\0' || strlen(s) < 2 || snprintf(buf, cap,
	    "%.*s.%09" PRId64 "Z", (int)strlen(s) - 1, s,
	    (int64_t)(t % KPFS_NS)) < 0)
		if (cap > 0)
			buf[0] = '\0';
}

/* A state's name, "-" for none. */
static const char *
state_or_dash(int s)
{
	return s >= 0 && kp_state_name(s) != NULL ? kp_state_name(s) : "-";
}

int
kpfs_refusal_render(const struct kpfs_refusal *r, char *buf, size_t cap)
{
	char		 t[40];
	const char	*en;
	int		 n;

	if (r->t == 0)
		n = snprintf(buf, cap, "none");
	else {
		kpfs_rfc3339_ns(r->t, t, sizeof(t));
		en = strerrorname_np(r->err);
		n = snprintf(buf, cap, "%s %s %s %s %s %s %s: %s", t, r->op,
		    r->ref[0] != '\0' ? r->ref : "-", state_or_dash(r->from),
		    state_or_dash(r->to), en != NULL ? en : "EIO",
		    r->code[0] != '\0' ? r->code : "-", r->msg);
	}
	if (n < 0 || (size_t)n >= cap)
		return -1;
	return n;
}

/* The time each time file shows (enum kp_key_time), -1 for the others. */
static int
time_of(int f)
{
	switch (f) {
	case KPFS_K_NOT_BEFORE:
		return KP_T_NOT_BEFORE;
	case KPFS_K_NOT_AFTER:
		return KP_T_NOT_AFTER;
	case KPFS_K_CREATED_AT:
		return KP_T_CREATED;
	case KPFS_K_UPLOADED_AT:
		return KP_T_UPLOADED;
	case KPFS_K_RESERVED_AT:
		return KP_T_RESERVED;
	case KPFS_K_RESERVATION_EXPIRES_AT:
		return KP_T_RESERVATION_EXPIRES;
	case KPFS_K_SPENT_AT:
		return KP_T_SPENT;
	case KPFS_K_EXPIRED_AT:
		return KP_T_EXPIRED;
	default:
		return -1;
	}
}

/* The value of file f of k, without a newline, into buf. */
static int
value(const struct kp_key *k, int f, char *buf, size_t cap)
{
	const uint8_t	*g;
	size_t		 glen;
	int		 n;

	switch (f) {
	case KPFS_K_STATUS:
		n = snprintf(buf, cap, "%s", kp_state_name(kp_key_state(k)) ?
		    kp_state_name(kp_key_state(k)) : "unknown");
		break;
	case KPFS_K_REF:
		n = snprintf(buf, cap, "%s", kp_key_ref_hex(k));
		break;
	case KPFS_K_SUITE:
		n = snprintf(buf, cap, "0x%04x", (unsigned)kp_key_suite(k));
		break;
	case KPFS_K_RESERVED_BY:
		n = snprintf(buf, cap, "%s", kp_key_text(k, KP_X_RESERVED_BY));
		break;
	case KPFS_K_RESERVATION_ID:
		n = snprintf(buf, cap, "%s",
		    kp_key_text(k, KP_X_RESERVATION_ID));
		break;
	case KPFS_K_SPENT_BY:
		n = snprintf(buf, cap, "%s", kp_key_text(k, KP_X_SPENT_BY));
		break;
	case KPFS_K_GROUP_ID:
		g = kp_key_group_id(k, &glen);
		if (cap < 2 * glen + 1)
			return -1;
		kp_hex(g, glen, buf);
		n = (int)(2 * glen);
		break;
	case KPFS_K_EPOCH:
		n = snprintf(buf, cap, "%" PRId64, kp_key_epoch(k));
		break;
	case KPFS_K_LAST_RESORT:
		n = snprintf(buf, cap, "%d", kp_key_last_resort(k) ? 1 : 0);
		break;
	case KPFS_K_PRIVATE_KEYS:
		n = snprintf(buf, cap, "%s", kp_key_has_private(k) ? "stored" :
		    "wiped");
		break;
	default:
		if (time_of(f) < 0 || cap < 21)
			return -1;
		kpfs_rfc3339(kp_key_time(k, time_of(f)), buf, cap);
		n = (int)strlen(buf);
		break;
	}
	if (n < 0 || (size_t)n >= cap)
		return -1;
	return n;
}

int
kpfs_keyfile_render(const struct kp_key *k, int f, char *buf, size_t cap)
{
	size_t	len = 0;
	int	i, n;

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
		/* the owner's group (group.c) is not the key's record */
		if (!kpfs_keyfile_applies(k, i) ||
		    (i == KPFS_K_GROUP_ID && !has_group(k)))
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
	    kp_key_keypackage_len(k));
	if (n < 0 || (size_t)n >= cap - len)
		return -1;
	len += n;
	return (int)len;
}

/* The hint of a pending device: the commands that enroll it. */
static const char *
hint(const struct kpfs_status_extra *x, char *buf, size_t cap)
{
	int	n;

	n = snprintf(buf, cap, "on an enrolled device of %s run echo "
	    "\"enroll %s %s\" > MOUNT/ctl, or as the operator kpool-server "
	    "device add %s %s %s", x->user, x->device, x->public_key, x->user,
	    x->device, x->public_key);
	return n < 0 || (size_t)n >= cap ? "" : buf;
}

int
kpfs_status_render(const struct kp_status *st, const struct kp_policy *pol,
    const struct kpfs_status_extra *x, char *buf, size_t cap)
{
	char		ls[32], h[512];
	const char	*en;
	uint32_t	i;
	int		n, m;

	if (st->last_sync > 0)
		kpfs_rfc3339(st->last_sync, ls, sizeof(ls));
	else
		snprintf(ls, sizeof(ls), "never");
	en = st->enrolled > 0 ? "enrolled" : st->enrolled == 0 ? "pending" :
	    "unknown";
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
	    "last_sync: %s\n"
	    "user: %s\n"
	    "device: %s\n"
	    "enrollment: %s\n"
	    "server: %s\n",
	    st->counts.n[KP_STATE_CREATED], st->counts.n[KP_STATE_AVAILABLE],
	    st->counts.n[KP_STATE_RESERVED], st->counts.n[KP_STATE_SPENT],
	    st->counts.n[KP_STATE_EXPIRED], st->counts.total,
	    pol->target, pol->low_watermark, pol->hard_cap,
	    kp_health_name(st->health) ? kp_health_name(st->health) :
	    "unknown", ls, x->user, x->device, en, x->server);
	if (n < 0 || (size_t)n >= cap)
		return -1;
	if (st->enrolled == 0) {
		m = snprintf(buf + n, cap - (size_t)n, "hint: %s\n",
		    hint(x, h, sizeof(h)));
		if (m < 0 || (size_t)m >= cap - (size_t)n)
			return -1;
		n += m;
	}
	for (i = 0; i < pol->nsuites; i++) {
		m = snprintf(buf + n, cap - (size_t)n,
		    "suite_0x%04x_created: %" PRIu32 "\n"
		    "suite_0x%04x_available: %" PRIu32 "\n"
		    "suite_0x%04x_reserved: %" PRIu32 "\n",
		    pol->suites[i], x->suites[i].n[KP_STATE_CREATED],
		    pol->suites[i], x->suites[i].n[KP_STATE_AVAILABLE],
		    pol->suites[i], x->suites[i].n[KP_STATE_RESERVED]);
		if (m < 0 || (size_t)m >= cap - (size_t)n)
			return -1;
		n += m;
	}
	if ((m = snprintf(buf + n, cap - (size_t)n, "last_error: ")) < 0 ||
	    (size_t)m >= cap - (size_t)n)
		return -1;
	n += m;
	if ((m = kpfs_refusal_render(x->refusal, buf + n,
	    cap - (size_t)n)) < 0 || (size_t)m + 2 > cap - (size_t)n)
		return -1;
	n += m;
	buf[n++] = '\n';
	buf[n] = '\0';
	return n;
}

/* The last refusal as a JSON object, or null. */
static json_t *
refusal_json(const struct kpfs_refusal *r)
{
	char		 t[40];
	const char	*en;

	if (r->t == 0)
		return json_null();
	kpfs_rfc3339_ns(r->t, t, sizeof(t));
	en = strerrorname_np(r->err);
	return json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:s, s:i, s:s?, s:s}",
	    "time", t, "op", r->op, "ref", r->ref[0] ? r->ref : NULL,
	    "from", r->from >= 0 ? kp_state_name(r->from) : NULL,
	    "to", r->to >= 0 ? kp_state_name(r->to) : NULL,
	    "errno", en != NULL ? en : "EIO", "errno_value", r->err,
	    "code", r->code[0] ? r->code : NULL, "message", r->msg);
}

int
kpfs_status_json(const struct kp_status *st, const struct kp_policy *pol,
    const struct kpfs_status_extra *x, char **out)
{
	static const int states[] = { KP_STATE_CREATED, KP_STATE_AVAILABLE,
	    KP_STATE_RESERVED, KP_STATE_SPENT, KP_STATE_EXPIRED };
	json_t		*o, *le;
	char		 ls[32], key[48], h[512], *s;
	const char	*en;
	uint32_t	 i;
	int		 bad = 0;

	*out = NULL;
	if (st->last_sync > 0)
		kpfs_rfc3339(st->last_sync, ls, sizeof(ls));
	en = st->enrolled > 0 ? "enrolled" : st->enrolled == 0 ? "pending" :
	    "unknown";
	if ((o = json_object()) == NULL)
		return -ENOMEM;
	for (i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		bad |= json_object_set_new(o, kp_state_name(states[i]),
		    json_integer(st->counts.n[states[i]]));
	bad |= json_object_set_new(o, "total",
	    json_integer(st->counts.total));
	bad |= json_object_set_new(o, "target", json_integer(pol->target));
	bad |= json_object_set_new(o, "low_watermark",
	    json_integer(pol->low_watermark));
	bad |= json_object_set_new(o, "hard_cap",
	    json_integer(pol->hard_cap));
	bad |= json_object_set_new(o, "health",
	    json_string(kp_health_name(st->health) ?
	    kp_health_name(st->health) : "unknown"));
	bad |= json_object_set_new(o, "last_sync", st->last_sync > 0 ?
	    json_string(ls) : json_null());
	bad |= json_object_set_new(o, "user", json_string(x->user));
	bad |= json_object_set_new(o, "device", json_string(x->device));
	bad |= json_object_set_new(o, "enrollment", json_string(en));
	bad |= json_object_set_new(o, "public_key",
	    json_string(x->public_key));
	if (st->enrolled == 0)
		bad |= json_object_set_new(o, "hint",
		    json_string(hint(x, h, sizeof(h))));
	bad |= json_object_set_new(o, "server",
	    strcmp(x->server, "none") != 0 ? json_string(x->server) :
	    json_null());
	for (i = 0; i < pol->nsuites; i++) {
		(void)snprintf(key, sizeof(key), "suite_0x%04x_created",
		    pol->suites[i]);
		bad |= json_object_set_new(o, key,
		    json_integer(x->suites[i].n[KP_STATE_CREATED]));
		(void)snprintf(key, sizeof(key), "suite_0x%04x_available",
		    pol->suites[i]);
		bad |= json_object_set_new(o, key,
		    json_integer(x->suites[i].n[KP_STATE_AVAILABLE]));
		(void)snprintf(key, sizeof(key), "suite_0x%04x_reserved",
		    pol->suites[i]);
		bad |= json_object_set_new(o, key,
		    json_integer(x->suites[i].n[KP_STATE_RESERVED]));
	}
	if ((le = refusal_json(x->refusal)) == NULL)
		bad = 1;
	bad |= json_object_set_new(o, "last_error", le);
	s = bad ? NULL : json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (s == NULL)
		return -ENOMEM;
	if (asprintf(out, "%s\n", s) == -1) {
		*out = NULL;
		free(s);
		return -ENOMEM;
	}
	free(s);
	return 0;
}

int
kpfs_devices_render(const struct kp_device *d, size_t n, char *buf,
    size_t cap)
{
	size_t	i, len = 0;
	int	m;

	if (cap > 0)
		buf[0] = '\0';
	for (i = 0; i < n; i++) {
		m = snprintf(buf + len, cap - len, "%s available=%" PRIu32
		    " reserved=%" PRIu32 " spent=%" PRIu32 " expired=%" PRIu32
		    " last_resort=%" PRIu32 "\n", d[i].name, d[i].available,
		    d[i].reserved, d[i].spent, d[i].expired, d[i].last_resort);
		if (m < 0 || (size_t)m >= cap - len)
			return -1;
		len += (size_t)m;
	}
	return (int)len;
}
