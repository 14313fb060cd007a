/* SPDX-License-Identifier: ISC */
/*
 * routes.c: the HTTP API (docs/api.md): one route table (at the end)
 * from which dispatch, 405s and the routes of /metrics all come, and
 * the endpoints (upload's is upload.c; what they share, request.c).
 * Each handler gets a complete request (body read, size checked),
 * authenticates it, parses its JSON and answers with a status and a
 * JSON body; writes go through the writer thread, reads through this
 * thread's connection.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <sodium.h>

#include "request.h"

/* What a route's path is followed by. */
enum arg {
	ARG_NONE,	/* nothing: the path is the route's path */
	ARG_NAME,	/* a segment, not empty: a user or device name */
	ARG_REF,	/* 2 * KP_REF_LEN characters: a KeyPackageRef */
};

/* An entry of the route table, routes[] at the end of this file. */
struct kps_route {
	const char	*method;
	const char	*path;
	enum arg	 arg;
	void		(*handle)(struct kps_req *, const char *);
	void		(*finish)(struct kps_pending *, struct kps_reply *);
	const char	*metric;
};

/* r_metrics reads the route table, which names it. */
static void	r_metrics(struct kps_req *, const char *);

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
	const struct kps_route *route;	/* its finisher answers */
	struct kps_sig	 sig;		/* the job's */
	char		 user[KP_MAX_PRINCIPAL + 1];	/* the caller */
	char		 target[KP_MAX_USERNAME + 1];
	char		 device[KP_MAX_DEVICE + 1];	/* target_device */
	struct kps_claim claim;		/* a claim's result */
	char		 rid[KPS_MAX_REQUEST_ID + 1];
	char		 refs[2 * KP_REF_LEN + 1];
	int		 has_ref;
	uint8_t		 ref[KP_REF_LEN];
	uint8_t		 g[KP_MAX_GROUP_ID];
	size_t		 glen;
};

static struct kps_pending *
pending_new(struct kps_req *x)
{
	struct kps_pending	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		kps_reply_dberr(x->r, KP_ENOMEM);
		return NULL;
	}
	p->route = x->route;
	p->sig = *kps_req_sig(x);
	p->job.sig = &p->sig;
	memcpy(p->user, x->principal, sizeof(p->user));
	p->job.caller = p->user;
	x->c->pending = p;
	return p;
}

/*
 * reserve_body: the members reserve and claim share (the request is
 * authenticated, its body parsed), {"target_username",
 * "group_id"?, "request_id"?, "cipher_suite"?}, into a new pending write
 * of kind, which the writer counts against the rate limit; NULL with
 * the reply made when they are not right.
 */
static struct kps_pending *
reserve_body(struct kps_req *x, enum kps_job_kind kind)
{
	struct kps_pending	*p;
	const char		*target, *rid;
	json_t			*v;
	uint8_t			 g[KP_MAX_GROUP_ID];
	size_t			 glen;
	json_int_t		 suite = 0;

	if (kps_req_name(x, "target_username", 1, 0, &target) != 0 ||
	    kps_req_str(x, "request_id", 0, &rid) != 0 ||
	    kps_req_group(x, g, &glen) != 0)
		return NULL;
	if (rid != NULL && !valid_request_id(rid)) {
		kps_error(x->r, 400, "bad_request", "request_id must be 1 to "
		    "%d printable ASCII characters", KPS_MAX_REQUEST_ID);
		return NULL;
	}
	if ((v = json_object_get(x->in, "cipher_suite")) != NULL &&
	    !json_is_null(v) && (!json_is_integer(v) ||
	    kps_suite_index((unsigned)(suite = json_integer_value(v))) < 0 ||
	    suite != (json_int_t)(unsigned)suite)) {
		kps_error(x->r, 400, "bad_suite", "cipher_suite is 1 "
		    "(MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519) or 3 "
		    "(MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519)");
		return NULL;
	}
	if ((p = pending_new(x)) == NULL)
		return NULL;
	memcpy(p->target, target, strlen(target) + 1);
	memcpy(p->g, g, glen);
	p->glen = glen;
	p->job.kind = kind;
	p->job.rate = kps_conf.rate_per_min > 0;
	p->job.reserve.caller = p->user;
	p->job.reserve.target = p->target;
	p->job.reserve.group_id = p->g;
	p->job.reserve.group_id_len = p->glen;
	p->job.reserve.suite = (uint16_t)suite;
	if (rid != NULL) {
		memcpy(p->rid, rid, strlen(rid) + 1);
		p->job.reserve.request_id = p->rid;
	}
	p->job.reserve.ttl = kps_conf.reservation_ttl;
	return p;
}

/* POST /keypackages/reserve {"target_username", "group_id",
 * "request_id", "keypackage_ref"?, "target_device"?, "cipher_suite"?} */
static void
r_reserve(struct kps_req *x, const char *arg)
{
	struct kps_pending	*p;
	const char		*refs, *dev;
	uint8_t			 ref[KP_REF_LEN];

	if (kps_req_auth(x, NULL, NULL) != 0 || kps_req_body(x) != 0 ||
	    kps_req_str(x, "keypackage_ref", 0, &refs) != 0 ||
	    kps_req_name(x, "target_device", 0, 1, &dev) != 0)
		return;
	if (refs != NULL && kps_req_ref(x, refs, ref) != 0)
		return;
	if ((p = reserve_body(x, KPS_JOB_RESERVE)) == NULL)
		return;
	if (dev != NULL) {
		memcpy(p->device, dev, strlen(dev) + 1);
		p->job.reserve.device = p->device;
	}
	if (refs != NULL) {
		p->has_ref = 1;
		memcpy(p->ref, ref, sizeof(p->ref));
		kp_hex(ref, KP_REF_LEN, p->refs);
		p->job.reserve.ref = p->ref;
	}
}

/* reservation_json: one reservation of a reply, with its device. */
static json_t *
reservation_json(const struct kps_reservation *res)
{
	return json_pack("{s:o, s:o, s:s, s:I, s:b, s:s, s:i}",
	    "keypackage_ref", kps_json_hex(res->ref, KP_REF_LEN),
	    "keypackage", kps_json_b64(res->bytes, res->len),
	    "reservation_id", res->reservation_id,
	    "expires_at", (json_int_t)res->expires_at,
	    "last_resort", res->last_resort,
	    "device", res->device,
	    "cipher_suite", (int)res->suite);
}

/* exhausted: the 409 pool_exhausted of p's target. */
static void
exhausted(struct kps_pending *p, struct kps_reply *r)
{
	kps_metric_add("pool_exhausted", 1);
	if (p->job.reserve.suite != 0)
		kps_error(r, 409, "pool_exhausted", "%s%s%s has no available "
		    "KeyPackage of cipher suite 0x%04x and no last-resort key "
		    "of it; ask %s to keep keys of that suite (suites in "
		    "their pool's config)", p->target, p->device[0] ? "/" : "",
		    p->device, p->job.reserve.suite, p->target);
	else
		kps_error(r, 409, "pool_exhausted", "%s%s%s has no available "
		    "KeyPackage and no last-resort key; ask %s to bring "
		    "their pool online (kpoolfs replenishes it) and try "
		    "again later", p->target, p->device[0] ? "/" : "",
		    p->device, p->target);
}

/*
 * refused: the reply to a reserve or claim of p that the rate limit or
 * the drain budget refused (docs/security.md, "Draining"), counted by
 * its reason.
 */
static void
refused(struct kps_pending *p, struct kps_reply *r)
{
	int	w = p->job.wait;

	switch (p->job.rc) {
	case KP_ERATE:
		kps_metric_reason("reserve_refused", "rate_limited");
		r->retry_after = w;
		kps_error(r, 429, "rate_limited", "too many reservations of "
		    "%s's keys; retry in %d s", p->target, w);
		break;
	case KPS_EBUDGET:
		kps_metric_reason("reserve_refused", "budget_exhausted");
		r->retry_after = w;
		kps_error(r, 429, "budget_exhausted", "%s's keys handed to "
		    "users %s does not know have reached their share for "
		    "the hour; retry in %d s, or ask %s to add you as a "
		    "contact", p->target, p->target, w, p->target);
		break;
	case KPS_ECAP:
		kps_metric_reason("reserve_refused", "caller_cap");
		r->retry_after = w;
		kps_error(r, 429, "caller_cap", "you hold %d reservations "
		    "not spent within the hour, the most; spend or release "
		    "them, or retry in %d s", kps_conf.caller_cap, w);
		break;
	default:
		kps_metric_reason("reserve_refused", "contact_floor");
		kps_error(r, 409, "contact_floor", "%s's last keys are kept "
		    "for the users %s knows; ask %s to add you as a "
		    "contact", p->target, p->target, p->target);
		break;
	}
}

static void
f_reserve(struct kps_pending *p, struct kps_reply *r)
{
	struct kps_job	*j = &p->job;

	switch (j->rc) {
	case KP_OK:
		if (j->res.last_resort)
			kps_metric_add("last_resort_served", 1);
		kps_reply_json(r, 200, reservation_json(&j->res));
		break;
	case KP_ENOTFOUND:
		if (p->has_ref)
			kps_error(r, 404, "not_found", "%s has no key %s",
			    p->target, p->refs);
		else if (p->device[0])
			kps_error(r, 404, "unknown_device", "no user %s with "
			    "a device %s", p->target, p->device);
		else
			kps_error(r, 404, "unknown_user", "no user %s",
			    p->target);
		break;
	case KP_EFORBIDDEN:
		kps_error(r, 403, "forbidden", "only the device that "
		    "uploaded a key may reserve it by name");
		break;
	case KP_ECONFLICT:
		kps_error(r, 409, "not_available", "the key %s is not "
		    "available (reserved, spent or expired)", p->refs);
		break;
	case KP_ERATE:
	case KPS_EBUDGET:
	case KPS_ECAP:
	case KPS_EFLOOR:
		refused(p, r);
		break;
	case KP_EEXHAUSTED:
		exhausted(p, r);
		break;
	default:
		kps_reply_dberr(r, j->rc);
		break;
	}
	kps_reservation_clear(&j->res);
}

/* POST /keypackages/claim {"target_username", "group_id"?,
 * "request_id"?, "cipher_suite"?}: one key per device of the target. */
static void
r_claim(struct kps_req *x, const char *arg)
{
	struct kps_pending	*p;

	if (kps_req_auth(x, NULL, NULL) != 0 || kps_req_body(x) != 0)
		return;
	if ((p = reserve_body(x, KPS_JOB_CLAIM)) != NULL)
		p->job.claim = &p->claim;
}

static void
f_claim(struct kps_pending *p, struct kps_reply *r)
{
	struct kps_claim	*c = &p->claim;
	json_t			*keys, *ex;
	char			 msg[40];
	size_t			 i;

	if (p->job.rc == KP_ENOTFOUND) {
		kps_error(r, 404, "unknown_user", "no user %s", p->target);
		return;
	}
	if (p->job.rc == KP_ERATE || p->job.rc == KPS_EBUDGET ||
	    p->job.rc == KPS_ECAP) {
		refused(p, r);
		return;
	}
	if (p->job.rc != KP_OK) {
		kps_reply_dberr(r, p->job.rc);
		return;
	}
	keys = json_array();
	ex = json_array();
	for (i = 0; keys != NULL && i < c->n; i++) {
		if (c->res[i].last_resort)
			kps_metric_add("last_resort_served", 1);
		json_array_append_new(keys, reservation_json(&c->res[i]));
	}
	for (i = 0; ex != NULL && i < c->nexhausted; i++)
		json_array_append_new(ex, json_string(c->exhausted[i]));
	if (c->n == 0 && c->nfloor > 0) {
		/* keys there, kept for the target's contacts */
		json_decref(keys);
		json_decref(ex);
		p->job.rc = KPS_EFLOOR;
		refused(p, r);
		return;
	}
	if (c->n == 0) {
		/* the error, with the devices that had nothing */
		kps_metric_add("pool_exhausted", 1);
		json_decref(keys);
		if (p->job.reserve.suite != 0)
			snprintf(msg, sizeof(msg), " of cipher suite 0x%04x",
			    p->job.reserve.suite);
		else
			msg[0] = '\0';
		kps_reply_json(r, 409, json_pack("{s:s, s:s++++, s:o}", "error",
		    "pool_exhausted", "message", "no device of ", p->target,
		    " has a KeyPackage", msg, " to hand out, nor a last-resort "
		    "key", "exhausted", ex));
	} else
		kps_reply_json(r, 200, json_pack("{s:o, s:o}", "keypackages",
		    keys, "exhausted", ex));
	kps_claim_clear(c);
}

/*
 * The body of spend and release, {"keypackage_ref", "group_id"?}: a
 * write of kind on the key, with the group for a spend.
 */
static void
ref_write(struct kps_req *x, enum kps_job_kind kind)
{
	struct kps_pending	*p;
	const char		*refs;
	uint8_t			 ref[KP_REF_LEN], g[KP_MAX_GROUP_ID];
	size_t			 glen = 0;

	if (kps_req_auth(x, NULL, NULL) != 0 || kps_req_body(x) != 0 ||
	    kps_req_str(x, "keypackage_ref", 1, &refs) != 0 ||
	    kps_req_ref(x, refs, ref) != 0)
		return;
	if (kind == KPS_JOB_SPEND && kps_req_group(x, g, &glen) != 0)
		return;
	if ((p = pending_new(x)) == NULL)
		return;
	memcpy(p->ref, ref, sizeof(p->ref));
	memcpy(p->g, g, glen);
	p->glen = glen;
	p->job.kind = kind;
	p->job.ref = p->ref;
	p->job.group_id = p->g;
	p->job.group_id_len = p->glen;
}

/* An answer to a write on one key: its result code and the reply. */
struct answer {
	int		 rc;
	int		 status;
	const char	*code;
	const char	*message;
};

static const struct answer spend_answers[] = {
	{ KP_ENOTFOUND, 404, "not_found", "no such key" },
	{ KP_EFORBIDDEN, 403, "forbidden", "you hold no reservation on this "
	    "key; reserve it first" },
	{ KP_ECONFLICT, 409, "already_spent", "this key is already spent "
	    "(or was retired)" },
	{ KP_EGONE, 410, "reservation_expired", "your reservation of this "
	    "key expired; reserve another key" },
	{ KP_EGROUP, 409, "group_mismatch", "this key was reserved for "
	    "another group_id; spend it for that group, or send no group_id" },
	{ 0, 0, NULL, NULL },
};

static const struct answer release_answers[] = {
	{ KP_ENOTFOUND, 404, "not_found", "no such key" },
	{ KP_EFORBIDDEN, 403, "forbidden", "another device holds the "
	    "reservation of this key" },
	{ KP_ESTATE, 409, "not_reserved", "this key is not reserved" },
	{ KP_ECONFLICT, 409, "already_spent", "this key is spent" },
	{ 0, 0, NULL, NULL },
};

static const struct answer retire_answers[] = {
	{ KP_ENOTFOUND, 404, "not_found", "no such key" },
	{ KP_EFORBIDDEN, 403, "forbidden", "this key is not yours" },
	{ 0, 0, NULL, NULL },
};

/*
 * ref_reply: the reply to a write on the key ref that ended with rc:
 * the key and its state now on KP_OK, else rc's answer in answers, else
 * a database error.
 */
static void
ref_reply(struct kps_reply *r, int rc, const uint8_t *ref,
    const char *state, const struct answer *answers)
{
	const struct answer	*a;

	if (rc == KP_OK) {
		kps_reply_json(r, 200, json_pack("{s:o, s:s}", "keypackage_ref",
		    kps_json_hex(ref, KP_REF_LEN), "status", state));
		return;
	}
	for (a = answers; a->code != NULL; a++)
		if (a->rc == rc) {
			kps_error(r, a->status, a->code, "%s", a->message);
			return;
		}
	kps_reply_dberr(r, rc);
}

/* POST /keypackages/spend {"keypackage_ref", "group_id"} */
static void
r_spend(struct kps_req *x, const char *arg)
{
	ref_write(x, KPS_JOB_SPEND);
}

static void
f_spend(struct kps_pending *p, struct kps_reply *r)
{
	ref_reply(r, p->job.rc, p->ref, "spent", spend_answers);
}

/* POST /keypackages/release {"keypackage_ref"} */
static void
r_release(struct kps_req *x, const char *arg)
{
	ref_write(x, KPS_JOB_RELEASE);
}

static void
f_release(struct kps_pending *p, struct kps_reply *r)
{
	ref_reply(r, p->job.rc, p->ref, "available", release_answers);
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
	p->route->finish(p, r);
	free(p);
}

/* DELETE /keypackages/{ref} */
static void
r_retire(struct kps_req *x, const char *refs)
{
	struct kps_job	j;
	uint8_t		ref[KP_REF_LEN];

	if (kps_req_auth(x, NULL, NULL) != 0 || kps_req_ref(x, refs, ref) != 0)
		return;
	kps_req_job(x, &j, KPS_JOB_RETIRE);
	j.caller = x->principal;
	j.ref = ref;
	kps_writer_run(&j);
	ref_reply(x->r, j.rc, ref, "retired", retire_answers);
}

/*
 * GET /keypackages/status/{username}: the counts (in all, per device,
 * per suite) to that user's devices alone; to anyone else whether a
 * reserve would hand out a key now.
 */
static void
r_status(struct kps_req *x, const char *name)
{
	struct kps_store	*rd;
	struct kps_counts	 c, suites[KPS_NSUITES];
	struct kps_device	 d[KPS_MAX_DEVICES];
	json_t			*o, *devs, *counts;
	char			 canon[KP_MAX_USERNAME + 1];
	size_t			 n, i, k, si;
	int			 rc;

	if (kps_req_auth(x, NULL, NULL) != 0 ||
	    kps_req_user(x, name, canon) != 0)
		return;
	rc = KP_EDB;
	if ((rd = kps_reader()) == NULL ||
	    (rc = kps_count_by_status(rd, canon, kps_now(), &c)) != KP_OK) {
		kps_reply_dberr(x->r, rc);
		return;
	}
	if (strcmp(x->user, canon) != 0) {
		kps_reply_json(x->r, 200, json_pack("{s:s, s:b}", "username",
		    canon, "has_keys", c.n[KP_STATE_AVAILABLE] > 0));
		return;
	}
	if ((rc = kps_device_list(rd, canon, 1, kps_now(), NULL, d,
	    KPS_MAX_DEVICES, &n)) != KP_OK) {
		kps_reply_dberr(x->r, rc);
		return;
	}
	memset(suites, 0, sizeof(suites));
	devs = json_object();
	for (i = 0; i < n; i++) {
		json_object_set_new(devs, d[i].device,
		    kps_json_counts(&d[i].counts));
		for (si = 0; si < KPS_NSUITES; si++) {
			for (k = 0; k < KP_NSTATES; k++)
				suites[si].n[k] += d[i].suite[si].n[k];
			suites[si].last_resort += d[i].suite[si].last_resort;
		}
	}
	o = json_pack("{s:s}", "username", canon);
	counts = kps_json_counts(&c);
	if (o != NULL && counts != NULL &&
	    json_object_update(o, counts) == 0) {
		json_object_set_new(o, "devices", devs);
		json_object_set_new(o, "suites", kps_json_suites(suites));
	} else {
		json_decref(devs);
		json_decref(o);
		o = NULL;
	}
	json_decref(counts);
	kps_reply_json(x->r, 200, o);
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

/* One of the calling device's keys as GET /keypackages/mine shows it. */
static json_t *
key_json(const struct kps_key *k)
{
	int	live, res, sp;

	live = k->status == KP_STATE_RESERVED;
	res = live || k->reserved_by[0];
	sp = k->status == KP_STATE_SPENT || k->spent_at != 0;
	return json_pack("{s:o, s:s, s:b, s:I, s:I, s:o, s:o, s:o, s:o, s:o, "
	    "s:o, s:i}",
	    "keypackage_ref", kps_json_hex(k->ref, KP_REF_LEN),
	    "status", kp_state_name(k->status),
	    "last_resort", k->last_resort,
	    "uploaded_at", (json_int_t)k->uploaded_at,
	    "not_after", (json_int_t)k->not_after,
	    "reserved_by", opt_str(k->reserved_by),
	    "reserved_at", opt_int(k->reserved_at, res),
	    "reservation_expires_at", opt_int(k->reservation_expires_at,
		live),
	    "spent_by", opt_str(k->spent_by),
	    "spent_at", opt_int(k->spent_at, sp),
	    "group_id", k->group_id_len || res || sp ? kps_json_b64(
		k->group_id, k->group_id_len) : json_null(),
	    "cipher_suite", (int)k->suite);
}

/*
 * GET /keypackages/mine/{ref}: one of the calling device's keys, as
 * /keypackages/mine shows it; for the owner's check of a Welcome.
 */
static void
r_mine_one(struct kps_req *x, const char *refs)
{
	struct kps_store	*rd;
	struct kps_key		 k;
	uint8_t			 ref[KP_REF_LEN];
	int			 rc;

	if (kps_req_auth(x, NULL, NULL) != 0 || kps_req_ref(x, refs, ref) != 0)
		return;
	if ((rd = kps_reader()) == NULL) {
		kps_reply_dberr(x->r, KP_EDB);
		return;
	}
	memset(&k, 0, sizeof(k));
	rc = kps_key_get(rd, ref, kps_now(), &k);
	/* another device's, of this user or not: say no more */
	if (rc == KP_OK && !kps_rule_owner(k.username, k.device, x->principal))
		rc = KP_ENOTFOUND;
	if (rc == KP_ENOTFOUND)
		kps_error(x->r, 404, "not_found", "this device has no such "
		    "key");
	else if (rc != KP_OK)
		kps_reply_dberr(x->r, rc);
	else
		kps_reply_json(x->r, 200, key_json(&k));
	kps_key_clear(&k);
}

/* GET /keypackages/mine: the calling device's keys */
static void
r_mine(struct kps_req *x, const char *arg)
{
	struct kps_store	*rd;
	struct kps_key		*keys = NULL;
	json_t			*arr;
	size_t			 n = 0, i;
	int			 rc;

	if (kps_req_auth(x, NULL, NULL) != 0)
		return;
	if ((rd = kps_reader()) == NULL) {
		kps_reply_dberr(x->r, KP_EDB);
		return;
	}
	if ((rc = kps_key_list(rd, x->user, x->device, -1, kps_now(), &keys,
	    &n)) != KP_OK) {
		kps_reply_dberr(x->r, rc);
		return;
	}
	if ((arr = json_array()) == NULL) {
		kps_reply_dberr(x->r, KP_ENOMEM);
		goto out;
	}
	for (i = 0; i < n; i++)
		json_array_append_new(arr, key_json(&keys[i]));
	kps_reply_json(x->r, 200, json_pack("{s:o}", "keypackages", arr));
out:
	kps_key_list_free(keys, n);
}

/* GET /healthz, unsigned */
static void
r_healthz(struct kps_req *x, const char *arg)
{
	kps_reply_json(x->r, 200, json_pack("{s:s}", "status", "ok"));
}

/*
 * The route table.  A path belongs to the first entry whose path and
 * arg match it; every entry with that path and arg gives a method of
 * it, and a request with another method is answered 405.  A write that
 * waits for the writer without holding its thread (see kps_pending) is
 * answered by the entry's finisher.  The last entry is no route: 404.
 * The metric names the route in /metrics.
 */
static const struct kps_route routes[] = {
	{ "POST", "/users", ARG_NONE, kps_users, NULL, "users" },
	{ "POST", "/devices", ARG_NONE, kps_device_enroll, NULL,
	    "devices_enroll" },
	{ "GET", "/devices", ARG_NONE, kps_devices, NULL, "devices" },
	{ "DELETE", "/devices/", ARG_NAME, kps_device_remove_route, NULL,
	    "devices_remove" },
	{ "POST", "/keypackages/upload", ARG_NONE, kps_upload, NULL,
	    "upload" },
	{ "POST", "/keypackages/reserve", ARG_NONE, r_reserve, f_reserve,
	    "reserve" },
	{ "POST", "/keypackages/claim", ARG_NONE, r_claim, f_claim,
	    "claim" },
	{ "POST", "/keypackages/spend", ARG_NONE, r_spend, f_spend, "spend" },
	{ "POST", "/keypackages/release", ARG_NONE, r_release, f_release,
	    "release" },
	{ "GET", "/keypackages/status/", ARG_NAME, r_status, NULL, "status" },
	{ "GET", "/keypackages/mine", ARG_NONE, r_mine, NULL, "mine" },
	{ "GET", "/keypackages/mine/", ARG_REF, r_mine_one, NULL, "mine_one" },
	{ "DELETE", "/keypackages/", ARG_REF, r_retire, NULL, "retire" },
	{ "POST", "/contacts", ARG_NONE, kps_contact_add_route, NULL,
	    "contacts_add" },
	{ "GET", "/contacts", ARG_NONE, kps_contacts, NULL, "contacts" },
	{ "DELETE", "/contacts/", ARG_NAME, kps_contact_remove_route, NULL,
	    "contacts_remove" },
	{ "GET", "/healthz", ARG_NONE, r_healthz, NULL, "healthz" },
	{ "GET", "/metrics", ARG_NONE, r_metrics, NULL, "metrics" },
	{ NULL, NULL, ARG_NONE, NULL, NULL, "other" },
};
#define NROUTES		(sizeof(routes) / sizeof(routes[0]))
#define NO_ROUTE	(&routes[NROUTES - 1])
_Static_assert(NROUTES <= KPS_MAX_ROUTES, "KPS_MAX_ROUTES too small");

/*
 * operator: 1 when the request carries the operator's metrics token
 * (Authorization: Bearer TOKEN), else 0 with a 403 (no token) or a 401
 * (another token).  The tokens are compared by their hashes, in
 * constant time.
 */
static int
operator(struct kps_req *x)
{
	const char	*a = x->c->authorization;
	uint8_t		 h[2][crypto_generichash_BYTES];

	if (a == NULL || strncasecmp(a, "Bearer ", 7) != 0) {
		kps_error(x->r, 403, "forbidden", "GET /metrics is the "
		    "operator's: send Authorization: Bearer with the token "
		    "of --metrics-token");
		return 0;
	}
	if (kps_conf.metrics_token != NULL) {
		crypto_generichash(h[0], sizeof(h[0]), (const uint8_t *)a + 7,
		    strlen(a + 7), NULL, 0);
		crypto_generichash(h[1], sizeof(h[1]),
		    (const uint8_t *)kps_conf.metrics_token,
		    strlen(kps_conf.metrics_token), NULL, 0);
		if (sodium_memcmp(h[0], h[1], sizeof(h[0])) == 0)
			return 1;
	}
	kps_error(x->r, 401, "unauthorized", "not the metrics token of "
	    "this server");
	return 0;
}

/* GET /metrics: the operator's, or anyone's with --public-metrics */
static void
r_metrics(struct kps_req *x, const char *arg)
{
	const char	*names[NROUTES];
	size_t		 i;

	if (!kps_conf.public_metrics && !operator(x))
		return;
	for (i = 0; i < NROUTES; i++)
		names[i] = routes[i].metric;
	x->r->status = 200;
	x->r->content_type = "text/plain; version=0.0.4";
	if ((x->r->body = kps_metrics_text(names, NROUTES)) == NULL) {
		kps_reply_dberr(x->r, KP_ENOMEM);
		return;
	}
	x->r->len = strlen(x->r->body);
}

/* match: what follows rt's path in path (its arg), or NULL. */
static const char *
match(const struct kps_route *rt, const char *path)
{
	size_t		 n = strlen(rt->path);
	const char	*rest;

	if (strncmp(path, rt->path, n) != 0)
		return NULL;
	rest = path + n;
	switch (rt->arg) {
	case ARG_NONE:
		return *rest == '\0' ? rest : NULL;
	case ARG_NAME:
		return *rest != '\0' && strchr(rest, '/') == NULL ? rest :
		    NULL;
	case ARG_REF:
		return strlen(rest) == 2 * KP_REF_LEN ? rest : NULL;
	}
	return NULL;
}

/* route_of: the entry of path, NO_ROUTE for none. */
static const struct kps_route *
route_of(const char *path)
{
	const struct kps_route	*rt;

	for (rt = routes; rt->path != NULL; rt++)
		if (match(rt, path) != NULL)
			return rt;
	return NO_ROUTE;
}

int
kps_route_of(const char *path)
{
	return (int)(route_of(path) - routes);
}

/*
 * with_method: the entry of the same path as rt for method; NULL, with
 * the path's methods in allow, when there is none.
 */
static const struct kps_route *
with_method(const struct kps_route *rt, const char *method, char *allow,
    size_t len)
{
	const struct kps_route	*m;
	size_t			 n = 0;

	allow[0] = '\0';
	for (m = rt; m->path != NULL; m++) {
		if (strcmp(m->path, rt->path) != 0 || m->arg != rt->arg)
			continue;
		if (strcmp(m->method, method) == 0)
			return m;
		n += (size_t)snprintf(allow + n, len - n, "%s%s",
		    n > 0 ? ", " : "", m->method);
		if (n >= len)
			n = len - 1;
	}
	return NULL;
}

void
kps_handle(struct kps_call *c, struct kps_reply *r)
{
	const struct kps_route	*rt;
	struct kps_req		 x;

	memset(&x, 0, sizeof(x));
	x.c = c;
	x.r = r;
	memset(r, 0, sizeof(*r));
	c->user[0] = '\0';
	rt = route_of(c->path);
	c->route = (int)(rt - routes);
	if (rt == NO_ROUTE) {
		kps_error(r, 404, "not_found", "no such endpoint: %s %s",
		    c->method, c->path);
		return;
	}
	if ((x.route = with_method(rt, c->method, r->allow,
	    sizeof(r->allow))) == NULL) {
		kps_error(r, 405, "method_not_allowed", "use %s on %s",
		    r->allow, c->path);
		return;
	}
	x.route->handle(&x, match(x.route, c->path));
	/* a signature no write remembered is remembered on its own */
	if (x.sig_unsaved && kps_writer_remember(&x.sig) != KP_OK)
		fprintf(stderr, "kpool-server: out of memory: a nonce is "
		    "not remembered\n");
	/* the authenticated caller, for the request log */
	_Static_assert(sizeof(c->user) == sizeof(x.principal),
	    "the log's caller is a principal");
	memcpy(c->user, x.principal, sizeof(c->user));
	json_decref(x.in);
}
