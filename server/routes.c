/* SPDX-License-Identifier: ISC */
/*
 * routes.c: the endpoints of the HTTP API (docs/api.md).  Each handler
 * gets a complete request (body read, size checked), authenticates it,
 * parses its JSON and answers with a status and a JSON body; writes go
 * through the writer thread, reads through this thread's connection.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "kps.h"

#define B64V	sodium_base64_VARIANT_ORIGINAL


struct ctx {
	struct kps_call		*c;
	struct kps_reply	*r;
	char			 user[KP_MAX_USERNAME + 1];
	uint8_t			 pk[32];
	json_t			*in;
};

static void
reply_json(struct kps_reply *r, int status, json_t *j)
{
	r->status = status;
	r->content_type = "application/json";
	r->body = NULL;
	r->len = 0;
	if (j != NULL) {
		r->body = json_dumps(j, JSON_COMPACT);
		json_decref(j);
	}
	if (r->body == NULL) {
		r->status = 500;
		r->body = strdup("{\"error\":\"internal\","
		    "\"message\":\"out of memory\"}");
	}
	if (r->body != NULL) {
		r->len = strlen(r->body);
		if (r->len + 1 < 1 << 20) {
			/* a newline makes curl output readable */
			char *nb = realloc(r->body, r->len + 2);

			if (nb != NULL) {
				r->body = nb;
				r->body[r->len++] = '\n';
				r->body[r->len] = '\0';
			}
		}
	}
}

void
kps_error(struct kps_reply *r, int status, const char *code,
    const char *fmt, ...)
{
	va_list	ap;
	char	msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	reply_json(r, status, json_pack("{s:s, s:s}", "error", code,
	    "message", msg));
}

static int
dberror(struct kps_reply *r, int rc)
{
	if (rc == KP_ENOMEM)
		kps_error(r, 500, "internal", "out of memory");
	else
		kps_error(r, 503, "unavailable", "database error; try again");
	return -1;
}

/* authenticate: check the signature; 0, or -1 with r filled (401). */
static int
authenticate(struct ctx *x, const uint8_t *pk, const char *expect)
{
	struct kps_authreq	 a;
	const char		*why = NULL;
	int			 rc;

	memset(&a, 0, sizeof(a));
	a.method = x->c->method;
	a.path = x->c->path;
	a.query = x->c->query;
	a.sig_input = x->c->sig_input;
	a.signature = x->c->signature;
	a.digest = x->c->digest;
	a.body = x->c->body;
	a.len = x->c->len;
	a.pk = pk;
	a.expect_keyid = expect;
	if ((rc = kps_auth(&a, x->user, x->pk, &why)) == KP_OK)
		return 0;
	if (rc != KP_EAUTH)
		return dberror(x->r, rc);
	kps_error(x->r, 401, "unauthorized", "%s", why ? why : "refused");
	return -1;
}

/* parse_body: the body as a JSON object in x->in; 0 or -1 (400). */
static int
parse_body(struct ctx *x)
{
	json_error_t	e;

	if (x->c->len == 0) {
		kps_error(x->r, 400, "bad_json", "the body is empty; "
		    "send a JSON object");
		return -1;
	}
	x->in = json_loadb((const char *)x->c->body, x->c->len,
	    JSON_REJECT_DUPLICATES, &e);
	if (x->in == NULL) {
		kps_error(x->r, 400, "bad_json", "malformed JSON at line %d "
		    "column %d: %s", e.line, e.column, e.text);
		return -1;
	}
	if (!json_is_object(x->in)) {
		kps_error(x->r, 400, "bad_json", "the body is not a JSON "
		    "object");
		return -1;
	}
	return 0;
}

/* get_str: a string member, or NULL (absent) ; -1 (400) when of
 * another type or not valid for the check. */
static int
get_str(struct ctx *x, const char *name, int required, const char **out)
{
	json_t	*v = json_object_get(x->in, name);

	*out = NULL;
	if (v == NULL || json_is_null(v)) {
		if (!required)
			return 0;
		kps_error(x->r, 400, "bad_request", "\"%s\" is missing", name);
		return -1;
	}
	if (!json_is_string(v)) {
		kps_error(x->r, 400, "bad_request", "\"%s\" is not a string",
		    name);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

/* unb64: decode s (at most max bytes); -1 on bad base64 or size. */
static int
unb64(const char *s, size_t max, uint8_t *out, size_t *len)
{
	size_t	n = strlen(s);

	if (n > sodium_base64_ENCODED_LEN(max, B64V))
		return -1;
	if (sodium_base642bin(out, max, s, n, NULL, len, NULL, B64V) != 0)
		return -1;
	return 0;
}

static int
get_ref(struct ctx *x, const char *s, uint8_t ref[KP_REF_LEN])
{
	if (strlen(s) != 2 * KP_REF_LEN || kp_unhex(s, ref, KP_REF_LEN) != 0) {
		kps_error(x->r, 400, "bad_ref", "keypackage_ref must be %d "
		    "hex digits", 2 * KP_REF_LEN);
		return -1;
	}
	return 0;
}

static int
get_group(struct ctx *x, uint8_t *g, size_t *glen)
{
	const char	*s;

	*glen = 0;
	if (get_str(x, "group_id", 0, &s) != 0)
		return -1;
	if (s != NULL && unb64(s, KP_MAX_GROUP_ID, g, glen) != 0) {
		kps_error(x->r, 400, "bad_base64", "group_id is not standard "
		    "base64 of at most %d bytes", KP_MAX_GROUP_ID);
		return -1;
	}
	return 0;
}

static json_t *
jb64(const uint8_t *buf, size_t len)
{
	size_t	 n = sodium_base64_ENCODED_LEN(len, B64V);
	char	*s;
	json_t	*j;

	if ((s = malloc(n)) == NULL)
		return NULL;
	sodium_bin2base64(s, n, buf, len, B64V);
	j = json_string(s);
	free(s);
	return j;
}

static json_t *
jhex(const uint8_t *buf, size_t len)
{
	char	hex[2 * 64 + 1];

	if (len > 64)
		return NULL;
	kp_hex(buf, len, hex);
	return json_string(hex);
}

/* POST /users {"username", "public_key"}, signed with that key. */
static void
r_users(struct ctx *x)
{
	struct kps_job	 j;
	const char	*name, *pks;
	uint8_t		 pk[64];
	size_t		 pklen;

	if (parse_body(x) != 0 || get_str(x, "username", 1, &name) != 0 ||
	    get_str(x, "public_key", 1, &pks) != 0)
		return;
	if (!kp_username_valid(name)) {
		kps_error(x->r, 400, "bad_username", "a user name is 1 to %d "
		    "letters, digits, '.', '_', '-' or '@', starting with a "
		    "letter or digit", KP_MAX_USERNAME);
		return;
	}
	if (unb64(pks, sizeof(pk), pk, &pklen) != 0 || pklen != 32) {
		kps_error(x->r, 400, "bad_base64", "public_key is not "
		    "standard base64 of a 32-byte Ed25519 key");
		return;
	}
	if (authenticate(x, pk, name) != 0)
		return;
	if (!kps_conf.registration_open) {
		kps_error(x->r, 403, "registration_closed", "registration "
		    "is closed on this server; ask its operator to add you "
		    "(kpool-server user add)");
		return;
	}
	memset(&j, 0, sizeof(j));
	j.kind = KPS_JOB_USER_ADD;
	j.caller = name;
	j.pk = pk;
	kps_writer_run(&j);
	if (j.rc == KP_EEXIST)
		kps_error(x->r, 409, "username_taken", "the user name %s is "
		    "taken", name);
	else if (j.rc != KP_OK)
		dberror(x->r, j.rc);
	else
		reply_json(x->r, 201, json_pack("{s:s}", "username", name));
}

/* check_kp: decode and validate one uploaded KeyPackage for x->user;
 * fills k, or returns the rejection code and message. */
static const char *
check_kp(struct ctx *x, const uint8_t *buf, size_t len, int64_t now,
    struct kps_key *k, char *msg, size_t msglen)
{
	struct kp_keypackage	*kp = NULL;
	const uint8_t		*p;
	const char		*code = NULL;
	size_t			 n;
	int			 rc;

	if ((rc = kp_keypackage_decode(buf, len, 1, &kp)) != KP_OK) {
		snprintf(msg, msglen, "not a KeyPackage: %s", kp_strerror(rc));
		code = "bad_keypackage";
		goto out;
	}
	if ((rc = kp_keypackage_validate(kp, (uint64_t)now)) != KP_OK) {
		snprintf(msg, msglen, "invalid KeyPackage: %s",
		    kp_strerror(rc));
		code = rc == KP_EEXPIRED ? "expired" : rc == KP_ENOTYET ?
		    "not_yet_valid" : "invalid_keypackage";
		goto out;
	}
	p = kp_keypackage_identity(kp, &n);
	if (kp_keypackage_credential_type(kp) != KP_CRED_BASIC || p == NULL ||
	    n != strlen(x->user) || memcmp(p, x->user, n) != 0) {
		snprintf(msg, msglen, "the credential identity is not the "
		    "caller %s", x->user);
		code = "wrong_identity";
		goto out;
	}
	p = kp_keypackage_signature_key(kp, &n);
	if (p == NULL || n != 32 || sodium_memcmp(p, x->pk, 32) != 0) {
		snprintf(msg, msglen, "the signature key is not the key "
		    "registered for %s", x->user);
		code = "wrong_signature_key";
		goto out;
	}
	if (kp_keypackage_not_after(kp) < kp_keypackage_not_before(kp) ||
	    kp_keypackage_not_after(kp) - kp_keypackage_not_before(kp) >
	    (uint64_t)kps_conf.max_lifetime) {
		snprintf(msg, msglen, "the lifetime is longer than this "
		    "server's maximum of %lld s",
		    (long long)kps_conf.max_lifetime);
		code = "lifetime_too_long";
		goto out;
	}
	p = kp_keypackage_init_key(kp, &n);
	if (p == NULL || n != KP_KEY_LEN) {
		snprintf(msg, msglen, "init_key is not %d bytes", KP_KEY_LEN);
		code = "invalid_keypackage";
		goto out;
	}
	memcpy(k->init_key, p, KP_KEY_LEN);
	memcpy(k->ref, kp_keypackage_ref(kp), KP_REF_LEN);
	snprintf(k->username, sizeof(k->username), "%s", x->user);
	p = kp_keypackage_bytes(kp, &n);
	if ((k->bytes = malloc(n)) == NULL) {
		snprintf(msg, msglen, "out of memory");
		code = "internal";
		goto out;
	}
	memcpy(k->bytes, p, n);
	k->len = n;
	k->not_after = (int64_t)kp_keypackage_not_after(kp);
	k->suite = kp_keypackage_suite(kp);
	kp_credential_hash(kp, k->credential_hash);
	k->last_resort = kp_keypackage_has_extension(kp, KP_EXT_LAST_RESORT);
out:
	if (kp != NULL)
		kp_keypackage_free(kp);
	return code;
}

static int
reject(json_t *rej, size_t i, const char *code, const char *msg)
{
	return json_array_append_new(rej, json_pack("{s:I, s:s, s:s}",
	    "index", (json_int_t)i, "error", code, "message", msg));
}

/* POST /keypackages/upload {"keypackages": [base64, ...]} */
static void
r_upload(struct ctx *x)
{
	struct kps_job	 j;
	json_t		*arr, *acc = NULL, *rej = NULL, *item;
	struct kps_key	*keys = NULL;
	size_t		*idx = NULL, n, i, nk = 0, len;
	int		*rcs = NULL;
	uint8_t		*buf = NULL;
	const char	*s, *code;
	char		 msg[256];
	int64_t		 now;

	if (authenticate(x, NULL, NULL) != 0 || parse_body(x) != 0)
		return;
	arr = json_object_get(x->in, "keypackages");
	if (!json_is_array(arr)) {
		kps_error(x->r, 400, "bad_request", "\"keypackages\" must be "
		    "an array of base64 KeyPackages");
		return;
	}
	if ((n = json_array_size(arr)) > KP_MAX_BATCH) {
		kps_error(x->r, 413, "batch_too_big", "%zu KeyPackages in one "
		    "upload; the limit is %d", n, KP_MAX_BATCH);
		return;
	}
	acc = json_array();
	rej = json_array();
	keys = calloc(n ? n : 1, sizeof(*keys));
	idx = calloc(n ? n : 1, sizeof(*idx));
	rcs = calloc(n ? n : 1, sizeof(*rcs));
	buf = malloc(KP_MAX_KEYPACKAGE);
	if (acc == NULL || rej == NULL || keys == NULL || idx == NULL ||
	    rcs == NULL || buf == NULL) {
		dberror(x->r, KP_ENOMEM);
		goto out;
	}
	now = kps_now();
	json_array_foreach(arr, i, item) {
		if ((s = json_string_value(item)) == NULL) {
			reject(rej, i, "bad_base64", "not a base64 string");
			continue;
		}
		if (strlen(s) > sodium_base64_ENCODED_LEN(KP_MAX_KEYPACKAGE,
		    B64V)) {
			snprintf(msg, sizeof(msg), "larger than %d bytes",
			    KP_MAX_KEYPACKAGE);
			reject(rej, i, "too_big", msg);
			continue;
		}
		if (unb64(s, KP_MAX_KEYPACKAGE, buf, &len) != 0) {
			reject(rej, i, "bad_base64", "not standard base64");
			continue;
		}
		code = check_kp(x, buf, len, now, &keys[nk], msg, sizeof(msg));
		if (code != NULL) {
			kps_key_clear(&keys[nk]);
			reject(rej, i, code, msg);
			continue;
		}
		idx[nk++] = i;
	}
	if (nk > 0) {
		memset(&j, 0, sizeof(j));
		j.kind = KPS_JOB_SAVE;
		j.keys = keys;
		j.rcs = rcs;
		j.nkeys = nk;
		kps_writer_run(&j);
	}
	for (i = 0; i < nk; i++) {
		switch (rcs[i]) {
		case KP_OK:
			kps_metric_add("keys_uploaded", 1);
			/* FALLTHROUGH */
		case KP_EEXIST:
			json_array_append_new(acc, json_pack("{s:I, s:o}",
			    "index", (json_int_t)idx[i], "keypackage_ref",
			    jhex(keys[i].ref, KP_REF_LEN)));
			break;
		case KP_ESTATE:
			reject(rej, idx[i], "spent", "this KeyPackage was "
			    "spent or retired; generate a new one");
			break;
		case KP_ECONFLICT:
			reject(rej, idx[i], "init_key_reused", "its init_key "
			    "is in another KeyPackage of yours, live or "
			    "spent; generate a new one");
			break;
		default:
			reject(rej, idx[i], "internal", "database error; "
			    "upload it again");
			break;
		}
	}
	reply_json(x->r, 200, json_pack("{s:O, s:O}", "accepted", acc,
	    "rejected", rej));
out:
	for (i = 0; keys != NULL && i < nk; i++)
		kps_key_clear(&keys[i]);
	free(keys);
	free(idx);
	free(rcs);
	free(buf);
	json_decref(acc);
	json_decref(rej);
}

static int
valid_request_id(const char *s)
{
	size_t	i, n = strlen(s);

	if (n == 0 || n > KPS_MAX_REQUEST_ID)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return 0;
	return 1;
}

/*
 * A write of reserve, spend or release waits for the writer without
 * holding an HTTP thread: kps_handle() prepares it, http.c suspends the
 * connection and submits it, and kps_finish() answers once the writer
 * has committed it.
 */
struct kps_pending {
	struct kps_job	 job;
	int		 route;
	char		 user[KP_MAX_USERNAME + 1];
	char		 target[KP_MAX_USERNAME + 1];
	char		 rid[KPS_MAX_REQUEST_ID + 1];
	char		 refs[2 * KP_REF_LEN + 1];
	int		 has_ref;
	uint8_t		 ref[KP_REF_LEN];
	uint8_t		 g[KP_MAX_GROUP_ID];
	size_t		 glen;
};

static struct kps_pending *
pending_new(struct ctx *x, int route)
{
	struct kps_pending	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		dberror(x->r, KP_ENOMEM);
		return NULL;
	}
	p->route = route;
	memcpy(p->user, x->user, sizeof(p->user));
	p->job.caller = p->user;
	x->c->pending = p;
	return p;
}

/* POST /keypackages/reserve {"target_username", "group_id",
 * "request_id", "keypackage_ref"?} */
static void
r_reserve(struct ctx *x)
{
	struct kps_pending	*p;
	const char		*target, *rid, *refs;
	uint8_t			 g[KP_MAX_GROUP_ID], ref[KP_REF_LEN];
	size_t			 glen;
	int			 wait;

	if (authenticate(x, NULL, NULL) != 0 || parse_body(x) != 0 ||
	    get_str(x, "target_username", 1, &target) != 0 ||
	    get_str(x, "request_id", 0, &rid) != 0 ||
	    get_str(x, "keypackage_ref", 0, &refs) != 0 ||
	    get_group(x, g, &glen) != 0)
		return;
	if (!kp_username_valid(target)) {
		kps_error(x->r, 400, "bad_username", "target_username is not "
		    "a valid user name");
		return;
	}
	if (rid != NULL && !valid_request_id(rid)) {
		kps_error(x->r, 400, "bad_request", "request_id must be 1 to "
		    "%d printable ASCII characters", KPS_MAX_REQUEST_ID);
		return;
	}
	if (refs != NULL && get_ref(x, refs, ref) != 0)
		return;
	if ((wait = kps_rate_take(x->user, target)) > 0) {
		x->r->retry_after = wait;
		kps_error(x->r, 429, "rate_limited", "too many reservations "
		    "of %s's keys; retry in %d s", target, wait);
		return;
	}
	if ((p = pending_new(x, KPS_R_RESERVE)) == NULL)
		return;
	memcpy(p->target, target, strlen(target) + 1);
	memcpy(p->g, g, glen);
	p->glen = glen;
	p->job.kind = KPS_JOB_RESERVE;
	p->job.reserve.caller = p->user;
	p->job.reserve.target = p->target;
	p->job.reserve.group_id = p->g;
	p->job.reserve.group_id_len = p->glen;
	if (rid != NULL) {
		memcpy(p->rid, rid, strlen(rid) + 1);
		p->job.reserve.request_id = p->rid;
	}
	if (refs != NULL) {
		p->has_ref = 1;
		memcpy(p->ref, ref, sizeof(p->ref));
		kp_hex(ref, KP_REF_LEN, p->refs);
		p->job.reserve.ref = p->ref;
	}
	p->job.reserve.ttl = kps_conf.reservation_ttl;
}

static void
f_reserve(struct kps_pending *p, struct kps_reply *r)
{
	struct kps_job	*j = &p->job;

	switch (j->rc) {
	case KP_OK:
		if (j->res.last_resort)
			kps_metric_add("last_resort_served", 1);
		reply_json(r, 200, json_pack("{s:o, s:o, s:s, s:I, s:b}",
		    "keypackage_ref", jhex(j->res.ref, KP_REF_LEN),
		    "keypackage", jb64(j->res.bytes, j->res.len),
		    "reservation_id", j->res.reservation_id,
		    "expires_at", (json_int_t)j->res.expires_at,
		    "last_resort", j->res.last_resort));
		break;
	case KP_ENOTFOUND:
		if (p->has_ref)
			kps_error(r, 404, "not_found", "%s has no key %s",
			    p->target, p->refs);
		else
			kps_error(r, 404, "unknown_user", "no user %s",
			    p->target);
		break;
	case KP_EFORBIDDEN:
		kps_error(r, 403, "forbidden", "only %s may reserve one "
		    "named key of theirs", p->target);
		break;
	case KP_ECONFLICT:
		kps_error(r, 409, "not_available", "the key %s is not "
		    "available (reserved, spent or expired)", p->refs);
		break;
	case KP_EEXHAUSTED:
		kps_metric_add("pool_exhausted", 1);
		kps_error(r, 409, "pool_exhausted", "%s has no available "
		    "KeyPackage and no last-resort key; ask %s to bring "
		    "their pool online (kpoolfs replenishes it) and try "
		    "again later", p->target, p->target);
		break;
	default:
		dberror(r, j->rc);
		break;
	}
	kps_reservation_clear(&j->res);
}

/* The body of spend and release: {"keypackage_ref", "group_id"?}. */
static struct kps_pending *
ref_body(struct ctx *x, int route, int with_group)
{
	struct kps_pending	*p;
	const char		*refs;
	uint8_t			 ref[KP_REF_LEN], g[KP_MAX_GROUP_ID];
	size_t			 glen = 0;

	if (authenticate(x, NULL, NULL) != 0 || parse_body(x) != 0 ||
	    get_str(x, "keypackage_ref", 1, &refs) != 0 ||
	    get_ref(x, refs, ref) != 0)
		return NULL;
	if (with_group && get_group(x, g, &glen) != 0)
		return NULL;
	if ((p = pending_new(x, route)) == NULL)
		return NULL;
	memcpy(p->ref, ref, sizeof(p->ref));
	memcpy(p->g, g, glen);
	p->glen = glen;
	p->job.ref = p->ref;
	p->job.group_id = p->g;
	p->job.group_id_len = p->glen;
	return p;
}

static void
ref_reply(struct kps_reply *r, const uint8_t *ref, const char *status)
{
	reply_json(r, 200, json_pack("{s:o, s:s}", "keypackage_ref",
	    jhex(ref, KP_REF_LEN), "status", status));
}

/* POST /keypackages/spend {"keypackage_ref", "group_id"} */
static void
r_spend(struct ctx *x)
{
	struct kps_pending	*p;

	if ((p = ref_body(x, KPS_R_SPEND, 1)) != NULL)
		p->job.kind = KPS_JOB_SPEND;
}

static void
f_spend(struct kps_pending *p, struct kps_reply *r)
{
	switch (p->job.rc) {
	case KP_OK:
		ref_reply(r, p->ref, "spent");
		break;
	case KP_ENOTFOUND:
		kps_error(r, 404, "not_found", "no such key");
		break;
	case KP_EFORBIDDEN:
		kps_error(r, 403, "forbidden", "you hold no reservation "
		    "on this key; reserve it first");
		break;
	case KP_ECONFLICT:
		kps_error(r, 409, "already_spent", "this key is already "
		    "spent (or was retired)");
		break;
	case KP_EGONE:
		kps_error(r, 410, "reservation_expired", "your "
		    "reservation of this key expired; reserve another key");
		break;
	default:
		dberror(r, p->job.rc);
		break;
	}
}

/* POST /keypackages/release {"keypackage_ref"} */
static void
r_release(struct ctx *x)
{
	struct kps_pending	*p;

	if ((p = ref_body(x, KPS_R_RELEASE, 0)) != NULL)
		p->job.kind = KPS_JOB_RELEASE;
}

static void
f_release(struct kps_pending *p, struct kps_reply *r)
{
	switch (p->job.rc) {
	case KP_OK:
		ref_reply(r, p->ref, "available");
		break;
	case KP_ENOTFOUND:
		kps_error(r, 404, "not_found", "no such key");
		break;
	case KP_EFORBIDDEN:
		kps_error(r, 403, "forbidden", "another user holds the "
		    "reservation of this key");
		break;
	case KP_ESTATE:
		kps_error(r, 409, "not_reserved", "this key is not "
		    "reserved");
		break;
	case KP_ECONFLICT:
		kps_error(r, 409, "already_spent", "this key is spent");
		break;
	default:
		dberror(r, p->job.rc);
		break;
	}
}

void
kps_pending_submit(struct kps_pending *p, void (*wake)(void *), void *arg)
{
	p->job.wake = wake;
	p->job.wake_arg = arg;
	kps_writer_submit(&p->job);
}

void
kps_pending_cancel(struct kps_pending *p, struct kps_reply *r)
{
	memset(r, 0, sizeof(*r));
	kps_error(r, 503, "unavailable", "the server is stopping; try "
	    "again");
	free(p);
}

void
kps_finish(struct kps_pending *p, struct kps_reply *r)
{
	memset(r, 0, sizeof(*r));
	if (p->route == KPS_R_RESERVE)
		f_reserve(p, r);
	else if (p->route == KPS_R_SPEND)
		f_spend(p, r);
	else
		f_release(p, r);
	free(p);
}

/* DELETE /keypackages/{ref} */
static void
r_retire(struct ctx *x, const char *refs)
{
	struct kps_job	j;
	uint8_t		ref[KP_REF_LEN];

	if (authenticate(x, NULL, NULL) != 0 || get_ref(x, refs, ref) != 0)
		return;
	memset(&j, 0, sizeof(j));
	j.kind = KPS_JOB_RETIRE;
	j.caller = x->user;
	j.ref = ref;
	kps_writer_run(&j);
	switch (j.rc) {
	case KP_OK:
		ref_reply(x->r, ref, "retired");
		break;
	case KP_ENOTFOUND:
		kps_error(x->r, 404, "not_found", "no such key");
		break;
	case KP_EFORBIDDEN:
		kps_error(x->r, 403, "forbidden", "this key is not yours");
		break;
	default:
		dberror(x->r, j.rc);
		break;
	}
}

/* GET /keypackages/status/{username} */
static void
r_status(struct ctx *x, const char *name)
{
	struct kps_store	*rd;
	struct kps_counts	 c;
	uint8_t			 pk[32];
	int			 rc;

	if (authenticate(x, NULL, NULL) != 0)
		return;
	if (!kp_username_valid(name)) {
		kps_error(x->r, 404, "unknown_user", "no such user");
		return;
	}
	if ((rd = kps_reader()) == NULL) {
		dberror(x->r, KP_EDB);
		return;
	}
	if ((rc = kps_user_get(rd, name, pk)) == KP_ENOTFOUND) {
		kps_error(x->r, 404, "unknown_user", "no user %s", name);
		return;
	}
	if (rc != KP_OK ||
	    (rc = kps_count_by_status(rd, name, kps_now(), &c)) != KP_OK) {
		dberror(x->r, rc);
		return;
	}
	reply_json(x->r, 200, json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}",
	    "username", name,
	    "available", (json_int_t)c.n[KP_STATE_AVAILABLE],
	    "reserved", (json_int_t)c.n[KP_STATE_RESERVED],
	    "spent", (json_int_t)c.n[KP_STATE_SPENT],
	    "expired", (json_int_t)c.n[KP_STATE_EXPIRED],
	    "last_resort", (json_int_t)c.last_resort));
}

static json_t *
opt_int(int64_t v, int present)
{
	return present ? json_integer((json_int_t)v) : json_null();
}

static json_t *
opt_str(const char *s)
{
	return *s ? json_string(s) : json_null();
}

/* GET /keypackages/mine */
static void
r_mine(struct ctx *x)
{
	struct kps_store	*rd;
	struct kps_key		*keys = NULL, *k;
	json_t			*arr;
	size_t			 n = 0, i;
	int			 rc, res, sp;

	if (authenticate(x, NULL, NULL) != 0)
		return;
	if ((rd = kps_reader()) == NULL) {
		dberror(x->r, KP_EDB);
		return;
	}
	if ((rc = kps_key_list(rd, x->user, -1, kps_now(), &keys,
	    &n)) != KP_OK) {
		dberror(x->r, rc);
		return;
	}
	if ((arr = json_array()) == NULL) {
		dberror(x->r, KP_ENOMEM);
		goto out;
	}
	for (i = 0; i < n; i++) {
		k = &keys[i];
		res = k->status == KP_STATE_RESERVED || k->reserved_by[0];
		sp = k->status == KP_STATE_SPENT || k->spent_at != 0;
		json_array_append_new(arr, json_pack("{s:o, s:s, s:b, s:I, "
		    "s:I, s:o, s:o, s:o, s:o, s:o, s:o}",
		    "keypackage_ref", jhex(k->ref, KP_REF_LEN),
		    "status", kp_state_name(k->status),
		    "last_resort", k->last_resort,
		    "uploaded_at", (json_int_t)k->uploaded_at,
		    "not_after", (json_int_t)k->not_after,
		    "reserved_by", opt_str(k->reserved_by),
		    "reserved_at", opt_int(k->reserved_at, res),
		    "reservation_expires_at", opt_int(
			k->reservation_expires_at, k->status == KP_STATE_RESERVED),
		    "spent_by", opt_str(k->spent_by),
		    "spent_at", opt_int(k->spent_at, sp),
		    "group_id", k->group_id_len || res || sp ?
			jb64(k->group_id, k->group_id_len) : json_null()));
	}
	reply_json(x->r, 200, json_pack("{s:o}", "keypackages", arr));
out:
	kps_key_list_free(keys, n);
}

static void
r_metrics(struct ctx *x)
{
	if (!kps_conf.public_metrics && authenticate(x, NULL, NULL) != 0)
		return;
	x->r->status = 200;
	x->r->content_type = "text/plain; version=0.0.4";
	if ((x->r->body = kps_metrics_text()) == NULL) {
		dberror(x->r, KP_ENOMEM);
		return;
	}
	x->r->len = strlen(x->r->body);
}

static int
is_method(struct ctx *x, const char *m)
{
	if (strcmp(x->c->method, m) == 0)
		return 1;
	kps_error(x->r, 405, "method_not_allowed", "use %s on %s", m,
	    x->c->path);
	return 0;
}

int
kps_route_of(const char *p)
{
	static const struct {
		const char	*path;
		int		 route;
	} fixed[] = {
		{ "/healthz", KPS_R_HEALTHZ },
		{ "/metrics", KPS_R_METRICS },
		{ "/users", KPS_R_USERS },
		{ "/keypackages/upload", KPS_R_UPLOAD },
		{ "/keypackages/reserve", KPS_R_RESERVE },
		{ "/keypackages/spend", KPS_R_SPEND },
		{ "/keypackages/release", KPS_R_RELEASE },
		{ "/keypackages/mine", KPS_R_MINE },
	};
	size_t	i;

	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (strcmp(p, fixed[i].path) == 0)
			return fixed[i].route;
	if (strncmp(p, "/keypackages/status/", 20) == 0 && p[20] != '\0' &&
	    strchr(p + 20, '/') == NULL)
		return KPS_R_STATUS;
	if (strncmp(p, "/keypackages/", 13) == 0 &&
	    strlen(p + 13) == 2 * KP_REF_LEN)
		return KPS_R_RETIRE;
	return KPS_R_OTHER;
}

void
kps_handle(struct kps_call *c, struct kps_reply *r)
{
	static const char *const method[KPS_NROUTES] = {
		[KPS_R_USERS] = "POST", [KPS_R_UPLOAD] = "POST",
		[KPS_R_RESERVE] = "POST", [KPS_R_SPEND] = "POST",
		[KPS_R_RELEASE] = "POST", [KPS_R_STATUS] = "GET",
		[KPS_R_MINE] = "GET", [KPS_R_RETIRE] = "DELETE",
		[KPS_R_HEALTHZ] = "GET", [KPS_R_METRICS] = "GET",
	};
	struct ctx	 x;

	memset(&x, 0, sizeof(x));
	x.c = c;
	x.r = r;
	memset(r, 0, sizeof(*r));
	c->user[0] = '\0';
	c->route = kps_route_of(c->path);
	if (c->route == KPS_R_OTHER) {
		kps_error(r, 404, "not_found", "no such endpoint: %s %s",
		    c->method, c->path);
		return;
	}
	if (!is_method(&x, method[c->route]))
		return;
	switch (c->route) {
	case KPS_R_HEALTHZ:
		reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
		break;
	case KPS_R_METRICS:
		r_metrics(&x);
		break;
	case KPS_R_USERS:
		r_users(&x);
		break;
	case KPS_R_UPLOAD:
		r_upload(&x);
		break;
	case KPS_R_RESERVE:
		r_reserve(&x);
		break;
	case KPS_R_SPEND:
		r_spend(&x);
		break;
	case KPS_R_RELEASE:
		r_release(&x);
		break;
	case KPS_R_MINE:
		r_mine(&x);
		break;
	case KPS_R_STATUS:
		r_status(&x, c->path + 20);
		break;
	case KPS_R_RETIRE:
		r_retire(&x, c->path + 13);
		break;
	}
	/* the authenticated caller, for the request log */
	memcpy(c->user, x.user, sizeof(c->user));
	json_decref(x.in);
}
