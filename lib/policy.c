/* SPDX-License-Identifier: ISC */
/*
 * policy.c: the pool policy (target, low watermark, hard cap, lifetime,
 * refresh interval, last-resort key, the suites kept and the
 * capabilities of new keys), its "key = value" text form and its place
 * in the store, and the names of the health values.
 */

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpool.h"
#include "policy.h"

#define MAX_TARGET		10000
#define MAX_HARD_CAP		10000
#define MIN_LIFETIME		60
#define MAX_LIFETIME		(89 * 86400)	/* + 1 h skew < 90 days */
#define MAX_REFRESH		86400

static const char *const health_names[] = {
	"ok", "low", "empty", "offline",
};

/* kp_health_name: the name of a KP_HEALTH_*, NULL for a bad one. */
const char *
kp_health_name(int health)
{
	if (health < 0 || health >= (int)(sizeof(health_names) /
	    sizeof(health_names[0])))
		return NULL;
	return health_names[health];
}

void
kp_policy_default(struct kp_policy *p)
{
	p->target = 32;
	p->low_watermark = 8;
	p->hard_cap = 64;
	p->lifetime = 14 * 86400;
	p->refresh_interval = 30;
	p->last_resort = 1;
	p->suites[0] = KP_SUITE_X25519_AES128GCM;
	p->nsuites = 1;
	p->ncredentials = p->nextensions = p->nproposals = 0;
}

int
kp_policy_should_replenish(const struct kp_policy *p,
    const struct kp_counts *c)
{
	return c->n[KP_STATE_AVAILABLE] < p->low_watermark;
}

uint32_t
kp_policy_needed(const struct kp_policy *p, const struct kp_counts *c)
{
	uint64_t	have, live, want, room;

	have = (uint64_t)c->n[KP_STATE_AVAILABLE] + c->n[KP_STATE_RESERVED];
	live = (uint64_t)c->n[KP_STATE_CREATED] + c->n[KP_STATE_AVAILABLE];
	want = have >= p->target ? 0 : p->target - have;
	room = live >= p->hard_cap ? 0 : p->hard_cap - live;
	return (uint32_t)(want < room ? want : room);
}

/* Why the suites of p are bad, or NULL. */
static const char *
suites_check(const struct kp_policy *p)
{
	uint32_t	i;

	if (p->nsuites < 1 || p->nsuites > KP_MAX_SUITES)
		return "suites must list one or two suites";
	for (i = 0; i < p->nsuites; i++) {
		if (p->suites[i] != KP_SUITE_X25519_AES128GCM &&
		    p->suites[i] != KP_SUITE_X25519_CHACHA20)
			return "suites: each must be 0x0001 or 0x0003";
		if (i > 0 && p->suites[i] == p->suites[0])
			return "suites: a suite is listed twice";
	}
	return NULL;
}

/*
 * Why the capabilities of p are bad (RFC 9420 §7.2), or NULL: what
 * kp_kpopts_check says of the options new keys would be made with.
 */
static const char *
caps_check(const struct kp_policy *p)
{
	struct kp_kpopts	o;
	const char		*why = NULL;

	if (p->ncredentials > KP_MAX_CAPS || p->nextensions > KP_MAX_CAPS ||
	    p->nproposals > KP_MAX_CAPS)
		return "a capabilities list holds more than 64 types";
	kp_policy_kpopts(p, p->suites[0], &o);
	o.identity = (const uint8_t *)"x";	/* the pool's own is valid */
	o.identity_len = 1;
	if (kp_kpopts_check(&o, &why) != KP_OK)
		return why;
	return NULL;
}

/*
 * kp_policy_kpopts: the options of a new key of suite under p: its
 * capabilities; identity, lifetime and last_resort are the caller's.
 */
void
kp_policy_kpopts(const struct kp_policy *p, uint16_t suite,
    struct kp_kpopts *o)
{
	memset(o, 0, sizeof(*o));
	o->suite = suite;
	o->cap_credentials = p->credentials;
	o->ncap_credentials = p->ncredentials;
	o->cap_extensions = p->extensions;
	o->ncap_extensions = p->nextensions;
	o->cap_proposals = p->proposals;
	o->ncap_proposals = p->nproposals;
}

/*
 * kp_policy_check: 0 when p is consistent, else KP_EINVAL with the reason
 * in err.
 */
int
kp_policy_check(const struct kp_policy *p, char *err, size_t errlen)
{
	const char	*why = NULL;

	if (p->target < 1 || p->target > MAX_TARGET)
		why = "target must be 1 to 10000";
	else if (p->low_watermark > p->target)
		why = "low_watermark must not exceed target";
	else if (p->hard_cap < p->target || p->hard_cap > MAX_HARD_CAP)
		why = "hard_cap must be at least target and at most 10000";
	else if (p->lifetime < MIN_LIFETIME || p->lifetime > MAX_LIFETIME)
		why = "lifetime must be 60 s to 89 days";
	else if (p->refresh_interval < 1 || p->refresh_interval > MAX_REFRESH)
		why = "refresh_interval must be 1 s to 1 day";
	else if (p->last_resort != 0 && p->last_resort != 1)
		why = "last_resort must be 0 or 1";
	else
		why = suites_check(p);
	if (why == NULL)
		why = caps_check(p);
	if (why == NULL)
		return KP_OK;
	if (err != NULL && errlen > 0)
		(void)snprintf(err, errlen, "%s", why);
	return KP_EINVAL;
}

/* Parse a decimal number of at most 12 digits; -1 when not one. */
static int64_t
parse_num(const char *s, const char **end)
{
	int64_t	v = 0;
	int	n = 0;

	while (isdigit((unsigned char)*s)) {
		if (++n > 12)
			return -1;
		v = v * 10 + (*s++ - '0');
	}
	*end = s;
	return n == 0 ? -1 : v;
}

static int64_t
parse_uint(const char *s)
{
	const char	*end;
	int64_t		 v;

	if ((v = parse_num(s, &end)) < 0 || *end != '\0')
		return -1;
	return v;
}

/* Seconds, or a number with one of the suffixes d, h, m, s. */
static int64_t
parse_duration(const char *s)
{
	const char	*end;
	int64_t		 v, mul = 1;

	if ((v = parse_num(s, &end)) < 0)
		return -1;
	switch (*end) {
	case '\0':
		return v;
	case 'd':
		mul = 86400;
		break;
	case 'h':
		mul = 3600;
		break;
	case 'm':
		mul = 60;
		break;
	case 's':
		break;
	default:
		return -1;
	}
	if (end[1] != '\0')
		return -1;
	return v * mul;
}

static int64_t
parse_suite(const char *s)
{
	int64_t	v = 0;
	int	n = 0, d;

	if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		return parse_uint(s);
	for (s += 2; *s != '\0'; s++) {
		if (isdigit((unsigned char)*s))
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			return -1;
		if (++n > 4)
			return -1;
		v = v * 16 + d;
	}
	return n == 0 ? -1 : v;
}

static int
parse_bool(const char *s)
{
	static const char *const yes[] = { "1", "yes", "true", "on" };
	static const char *const no[] = { "0", "no", "false", "off" };
	size_t			 i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcmp(s, yes[i]) == 0)
			return 1;
		if (strcmp(s, no[i]) == 0)
			return 0;
	}
	return -1;
}

/*
 * Parse the list v ("a, b, c", or "none") of 16-bit types into out
 * (*n of them); with names, "basic" and "x509" name credential types.
 * NULL, or why not.
 */
static const char *
parse_list(const char *v, int names, uint16_t *out, uint32_t max,
    uint32_t *n)
{
	char		 item[16];
	const char	*s = v, *e;
	size_t		 l;
	int64_t		 x;

	*n = 0;
	if (strcmp(v, "none") == 0)
		return NULL;
	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		for (e = s; *e != '\0' && *e != ',' && *e != ' ' &&
		    *e != '\t'; e++)
			;
		if ((l = (size_t)(e - s)) == 0 || l >= sizeof(item))
			return "not a list of types (\"a, b\" or \"none\")";
		memcpy(item, s, l);
		item[l] = '\0';
		if (names && strcmp(item, "basic") == 0)
			x = KP_CRED_BASIC;
		else if (names && strcmp(item, "x509") == 0)
			x = KP_CRED_X509;
		else if ((x = parse_suite(item)) < 0 || x > UINT16_MAX)
			return "not a type (a number, decimal or 0x hex)";
		if (*n == max)
			return max == KP_MAX_CAPS ? "more types than a "
			    "capabilities list holds (64)" : "more than two "
			    "suites";
		out[(*n)++] = (uint16_t)x;
		for (s = e; *s == ' ' || *s == '\t'; s++)
			;
		if (*s == '\0')
			return NULL;
		if (*s++ != ',')
			return "types are separated by commas";
	}
}

/* Set one setting of np from its text, without the whole-policy check. */
static int
parse_one(struct kp_policy *np, const char *key, const char *value,
    char *err, size_t errlen)
{
	char		 v[KP_POLICY_VALUE_MAX];
	const char	*s, *why;
	size_t		 l;
	int64_t		 x;

	for (s = value; *s == ' ' || *s == '\t'; s++)
		;
	l = strlen(s);
	while (l > 0 && (s[l - 1] == ' ' || s[l - 1] == '\t' ||
	    s[l - 1] == '\n'))
		l--;
	if (l == 0 || l >= sizeof(v)) {
		(void)snprintf(err, errlen, "%s: bad value", key);
		return KP_EINVAL;
	}
	memcpy(v, s, l);
	v[l] = '\0';
	if (strcmp(key, "target") == 0 || strcmp(key, "low_watermark") == 0 ||
	    strcmp(key, "hard_cap") == 0) {
		if ((x = parse_uint(v)) < 0 || x > UINT32_MAX) {
			(void)snprintf(err, errlen, "%s: not a number", key);
			return KP_EINVAL;
		}
		if (key[0] == 't')
			np->target = (uint32_t)x;
		else if (key[0] == 'l')
			np->low_watermark = (uint32_t)x;
		else
			np->hard_cap = (uint32_t)x;
	} else if (strcmp(key, "lifetime") == 0 ||
	    strcmp(key, "refresh_interval") == 0) {
		if ((x = parse_duration(v)) < 0) {
			(void)snprintf(err, errlen, "%s: not a duration "
			    "(seconds, or N with d, h, m or s)", key);
			return KP_EINVAL;
		}
		if (key[0] == 'l')
			np->lifetime = x;
		else
			np->refresh_interval = x;
	} else if (strcmp(key, "suite") == 0) {
		/* the old name: one suite */
		if ((x = parse_suite(v)) < 0 || x > UINT16_MAX) {
			(void)snprintf(err, errlen, "suite: not a number");
			return KP_EINVAL;
		}
		np->suites[0] = (uint16_t)x;
		np->nsuites = 1;
	} else if (strcmp(key, "suites") == 0) {
		if ((why = parse_list(v, 0, np->suites, KP_MAX_SUITES,
		    &np->nsuites)) != NULL) {
			(void)snprintf(err, errlen, "suites: %s", why);
			return KP_EINVAL;
		}
	} else if (strcmp(key, "credentials") == 0 ||
	    strcmp(key, "extensions") == 0 || strcmp(key, "proposals") == 0) {
		why = key[0] == 'c' ? parse_list(v, 1, np->credentials,
		    KP_MAX_CAPS, &np->ncredentials) : key[0] == 'e' ?
		    parse_list(v, 0, np->extensions, KP_MAX_CAPS,
		    &np->nextensions) : parse_list(v, 0, np->proposals,
		    KP_MAX_CAPS, &np->nproposals);
		if (why != NULL) {
			(void)snprintf(err, errlen, "%s: %s", key, why);
			return KP_EINVAL;
		}
	} else if (strcmp(key, "last_resort") == 0) {
		if ((np->last_resort = parse_bool(v)) < 0) {
			(void)snprintf(err, errlen, "last_resort: not 0 or 1");
			return KP_EINVAL;
		}
	} else {
		(void)snprintf(err, errlen, "unknown setting \"%.40s\"", key);
		return KP_EINVAL;
	}
	return KP_OK;
}

/*
 * kp_policy_parse_set: set the setting key of p from the text value
 * (surrounding blanks and a final newline ignored).  Checks the whole
 * policy afterwards; on KP_EINVAL p is unchanged and err says why.
 */
int
kp_policy_parse_set(struct kp_policy *p, const char *key, const char *value,
    char *err, size_t errlen)
{
	struct kp_policy	np = *p;
	int			rc;

	if ((rc = parse_one(&np, key, value, err, errlen)) != KP_OK ||
	    (rc = kp_policy_check(&np, err, errlen)) != KP_OK)
		return rc;
	*p = np;
	return KP_OK;
}

/*
 * The list of n types v as text into buf (cap bytes): "none" when
 * empty; with names, basic and x509 by name.
 */
static void
list_text(const uint16_t *v, uint32_t n, int names, char *buf, size_t cap)
{
	size_t		l = 0;
	uint32_t	i;

	(void)snprintf(buf, cap, "none");
	for (i = 0; i < n && l < cap; i++) {
		if (names && (v[i] == KP_CRED_BASIC || v[i] == KP_CRED_X509))
			l += (size_t)snprintf(buf + l, cap - l, "%s%s",
			    i ? "," : "", v[i] == KP_CRED_BASIC ? "basic" :
			    "x509");
		else
			l += (size_t)snprintf(buf + l, cap - l, "%s0x%04x",
			    i ? "," : "", v[i]);
	}
}

/* kp_policy_text: p as "key = value\n" lines, malloc'd into *text. */
int
kp_policy_text(const struct kp_policy *p, char **text)
{
	char	 suites[KP_POLICY_VALUE_MAX], creds[KP_POLICY_VALUE_MAX];
	char	 exts[KP_POLICY_VALUE_MAX], props[KP_POLICY_VALUE_MAX];
	char	*t;
	int	 n;

	list_text(p->suites, p->nsuites, 0, suites, sizeof(suites));
	if (p->ncredentials == 0)
		(void)snprintf(creds, sizeof(creds), "basic");
	else
		list_text(p->credentials, p->ncredentials, 1, creds,
		    sizeof(creds));
	list_text(p->extensions, p->nextensions, 0, exts, sizeof(exts));
	list_text(p->proposals, p->nproposals, 0, props, sizeof(props));
	n = asprintf(&t, "target = %u\nlow_watermark = %u\nhard_cap = %u\n"
	    "lifetime = %lld\nrefresh_interval = %lld\nsuites = %s\n"
	    "last_resort = %d\ncredentials = %s\nextensions = %s\n"
	    "proposals = %s\n", p->target, p->low_watermark, p->hard_cap,
	    (long long)p->lifetime, (long long)p->refresh_interval, suites,
	    p->last_resort, creds, exts, props);
	if (n < 0) {
		*text = NULL;
		return KP_ENOMEM;
	}
	*text = t;
	return KP_OK;
}

/* The stored settings, in the order they load: suite (the old name)
 * before suites, which wins. */
static const char *const policy_keys[] = {
	"target", "low_watermark", "hard_cap", "lifetime", "refresh_interval",
	"suite", "suites", "last_resort", "credentials", "extensions",
	"proposals",
};
#define NPOLICY_KEYS	(sizeof(policy_keys) / sizeof(policy_keys[0]))

/* kp_policy_load: the stored policy, defaults for what is not stored. */
int
kp_policy_load(struct kp_store *st, struct kp_policy *out)
{
	struct kp_policy	 p;
	char			 name[64], v[KP_POLICY_VALUE_MAX], why[128];
	size_t			 i;
	int			 rc, found;

	kp_policy_default(&p);
	for (i = 0; i < NPOLICY_KEYS; i++) {
		(void)snprintf(name, sizeof(name), "policy.%s", policy_keys[i]);
		rc = kp_store_setting_get(st, name, v, sizeof(v), &found);
		if (rc != KP_OK)
			return rc;
		if (found && parse_one(&p, policy_keys[i], v, why,
		    sizeof(why)) != KP_OK)
			return kp_store_err(st, KP_EDB, "stored policy is "
			    "damaged: %s", why);
	}
	if (kp_policy_check(&p, why, sizeof(why)) != KP_OK)
		return kp_store_err(st, KP_EDB, "stored policy is damaged: %s",
		    why);
	*out = p;
	return KP_OK;
}

/* kp_policy_save: store every setting of in (already checked). */
int
kp_policy_save(struct kp_store *st, const struct kp_policy *in)
{
	char	*text = NULL, *line, *eq, *nl, name[64];
	int	 rc;

	if ((rc = kp_policy_text(in, &text)) != KP_OK)
		return rc;
	for (line = text; *line != '\0'; line = nl + 1) {
		nl = strchr(line, '\n');
		eq = strstr(line, " = ");
		*nl = '\0';
		*eq = '\0';
		(void)snprintf(name, sizeof(name), "policy.%s", line);
		if ((rc = kp_store_setting_set(st, name, eq + 3)) != KP_OK)
			break;
	}
	free(text);
	return rc;
}
