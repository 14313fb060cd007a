/* SPDX-License-Identifier: ISC */
/*
 * 2022-server-devices: a user's devices on a real kpool-server:
 * registration and enrollment (by an enrolled device; a stranger's
 * request is 401, another user's 403), uploads bound to (user, device),
 * reserve of one device and of one suite, the claim of one key per
 * device (idempotent by request_id, last resort per device, exhausted
 * devices, suites), status and mine per device, removal (its keys are
 * never handed out again and its refs are refused), the operator's
 * device commands and closed registration, the migration of a
 * database made before devices, and what a Welcome's check asks of
 * devices: GET /keypackages/mine/{ref} answers the owner device only,
 * a spend's group rule and a last-resort key's record name devices.
 */

#include <stdarg.h>

#include <jansson.h>

#include "kps_test.h"

/* Two group_ids in base64: "group-1", "group-2". */
#define G1	"Z3JvdXAtMQ=="
#define G2	"Z3JvdXAtMg=="

/* body: a JSON body in a static buffer. */
static const char *
body(const char *fmt, ...)
{
	static char	buf[1024];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return buf;
}

/* enroll: POST /devices of device with d's key, as w. */
static void
enroll(struct srv *s, struct who *w, const char *device,
    const struct who *d, struct rawreply *r)
{
	char	b[256];

	snprintf(b, sizeof(b), "{\"device\":\"%s\",\"public_key\":\"%s\"}",
	    device, pk_b64(d));
	raw(s, w, "POST", "/devices", b, T_NONE, r);
}

/* reg: POST /users of user's device with w's key, signed by w. */
static void
reg(struct srv *s, struct who *w, const char *user, const char *device,
    struct rawreply *r)
{
	char	b[256];

	if (device != NULL)
		snprintf(b, sizeof(b), "{\"username\":\"%s\",\"device\":\"%s\","
		    "\"public_key\":\"%s\"}", user, device, pk_b64(w));
	else
		snprintf(b, sizeof(b), "{\"username\":\"%s\","
		    "\"public_key\":\"%s\"}", user, pk_b64(w));
	raw(s, w, "POST", "/users", b, T_NONE, r);
}

/* A claim's reply, parsed. */
struct got {
	int	n;
	char	device[8][33];
	char	ref[8][65];
	char	rid[8][65];
	int	suite[8];
	int	lr[8];
	char	exhausted[256];	/* the names, ","-joined */
};

static void
parse(const struct rawreply *r, struct got *g)
{
	json_t	*j, *a, *e, *v;
	size_t	 i;

	memset(g, 0, sizeof(*g));
	if ((j = json_loads(r->body, 0, NULL)) == NULL)
		return;
	a = json_object_get(j, "keypackages");
	json_array_foreach(a, i, e) {
		if (i >= 8)
			break;
		snprintf(g->device[i], sizeof(g->device[i]), "%s",
		    json_string_value(json_object_get(e, "device")));
		snprintf(g->ref[i], sizeof(g->ref[i]), "%s",
		    json_string_value(json_object_get(e, "keypackage_ref")));
		snprintf(g->rid[i], sizeof(g->rid[i]), "%s",
		    json_string_value(json_object_get(e, "reservation_id")));
		g->suite[i] = (int)json_integer_value(json_object_get(e,
		    "cipher_suite"));
		g->lr[i] = json_is_true(json_object_get(e, "last_resort"));
		g->n++;
	}
	a = json_object_get(j, "exhausted");
	json_array_foreach(a, i, v) {
		if (i > 0)
			strcat(g->exhausted, ",");
		strncat(g->exhausted, json_string_value(v), 32);
	}
	json_decref(j);
}

/* upload_b64: upload k as w in one raw request. */
static void
upload_b64(struct srv *s, struct who *w, const struct kpb *k,
    struct rawreply *r)
{
	char	b[2048];
	size_t	n;

	n = (size_t)snprintf(b, sizeof(b), "{\"keypackages\":[\"");
	sodium_bin2base64(b + n, sizeof(b) - n - 8, k->buf, k->len,
	    sodium_base64_VARIANT_ORIGINAL);
	strcat(b, "\"]}");
	raw(s, w, "POST", "/keypackages/upload", b, T_NONE, r);
}

/* claim: POST /keypackages/claim of target as w, parsed into g. */
static void
claim(struct srv *s, struct who *w, const char *b, struct rawreply *r,
    struct got *g)
{
	raw(s, w, "POST", "/keypackages/claim", b, T_NONE, r);
	parse(r, g);
}

/* member: the integer at path a.b.c of JSON text, or -1. */
static long long
member(const char *text, const char *a, const char *b, const char *c)
{
	json_t		*j, *v;
	long long	 n = -1;

	if ((j = json_loads(text, 0, NULL)) == NULL)
		return -1;
	v = json_object_get(j, a);
	if (b != NULL)
		v = json_object_get(v, b);
	if (c != NULL)
		v = json_object_get(v, c);
	if (json_is_integer(v))
		n = json_integer_value(v);
	json_decref(j);
	return n;
}

/* text: the string member key of JSON text into buf ("" when none). */
static void
text(const char *json, const char *key, char *buf, size_t len)
{
	json_t	*j;

	buf[0] = '\0';
	if ((j = json_loads(json, 0, NULL)) == NULL)
		return;
	if (json_is_string(json_object_get(j, key)))
		snprintf(buf, len, "%s", json_string_value(json_object_get(j,
		    key)));
	json_decref(j);
}

static void
registration(void)
{
	const char *const	 closed[] = { "--registration", "closed", NULL };
	struct srv		 s;
	struct who		 carol, carol2, dave;
	struct rawreply		 r;
	char			 cmd[3072], out[512];
	FILE			*f;
	size_t			 n;

	srv_start(&s, closed);
	dev_new(&carol, "carol");
	dev_new(&carol2, "carol/laptop");
	dev_new(&dave, "dave");
	snprintf(cmd, sizeof(cmd), "%s/kpool-server --db '%s' user add carol "
	    "%s >/dev/null", getenv("KP_BUILD") ? getenv("KP_BUILD") : "build",
	    s.db, pk_b64(&carol));
	is_int(system(cmd), 0, "operator: user add carol");
	reg(&s, &carol, "carol", NULL, &r);
	is_int(r.status, 201, "closed registration: carol, added by the "
	    "operator, registers: 201");
	is_string(r.body, "{\"username\":\"carol\",\"device\":\"default\"}\n",
	    "carol's default device");
	reg(&s, &dave, "dave", NULL, &r);
	is_reply(&r, 403, "registration_closed", "dave, unknown: 403");
	reg(&s, &carol2, "carol", "laptop", &r);
	is_reply(&r, 403, "enrollment_required",
	    "carol's laptop, not enrolled: 403 enrollment_required");
	ok(strstr(r.body, "enroll laptop") != NULL &&
	    strstr(r.body, "device add carol laptop") != NULL,
	    "the message says how to enroll it");
	snprintf(cmd, sizeof(cmd), "%s/kpool-server --db '%s' device add carol "
	    "laptop %s >/dev/null", getenv("KP_BUILD") ? getenv("KP_BUILD") :
	    "build", s.db, pk_b64(&carol2));
	is_int(system(cmd), 0, "operator: device add carol laptop");
	reg(&s, &carol2, "carol", "laptop", &r);
	is_int(r.status, 201, "then the laptop registers: 201");
	snprintf(cmd, sizeof(cmd), "%s/kpool-server --db '%s' device list carol",
	    getenv("KP_BUILD") ? getenv("KP_BUILD") : "build", s.db);
	if ((f = popen(cmd, "r")) == NULL)
		bail("popen");
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	is_int(pclose(f), 0, "operator: device list carol");
	ok(strncmp(out, "default ", 8) == 0 && strstr(out, "\nlaptop ") !=
	    NULL, "lists default, then laptop");
	snprintf(cmd, sizeof(cmd), "%s/kpool-server --db '%s' device remove "
	    "carol laptop >/dev/null && %s/kpool-server --db '%s' device remove "
	    "carol default 2>/dev/null", getenv("KP_BUILD") ?
	    getenv("KP_BUILD") : "build", s.db, getenv("KP_BUILD") ?
	    getenv("KP_BUILD") : "build", s.db);
	is_int(WEXITSTATUS(system(cmd)), 1, "operator: device remove laptop; "
	    "then default, the only one: refused, exit 1");
	raw(&s, &carol2, "GET", "/devices", NULL, T_NONE, &r);
	is_reply(&r, 401, "unauthorized", "the removed laptop signs nothing");
	is_int(srv_stop(&s), 0, "a clean exit");
}

static void
migration(void)
{
	struct srv	 s;
	struct who	 alice, bob;
	struct rawreply	 r;
	sqlite3		*db;
	char		 q[2048], hk[65];

	if (db_is_pg()) {
		skip(6, "the SQLite schema's migration (PostgreSQL's is "
		    "t/2015's)");
		return;
	}
	srv_start(&s, NULL);
	who_new(&s, &alice, "alice", 1);
	who_new(&s, &bob, "bob", 1);
	is_int(put(&s, &alice, 2, 0, 0, NULL), 2, "alice uploads 2 keys");
	kill(s.pid, SIGTERM);
	if (srv_wait(&s) != 0)
		bail("stop");
	/* back to schema 4: users with their key, no devices */
	kp_hex(alice.pk, 32, hk);
	snprintf(q, sizeof(q), "DROP TABLE devices;"
	    "DROP TABLE contacts; DROP TABLE grants;"
	    "DROP TABLE registrations; DROP TABLE invites;"
	    "DROP INDEX keypackages_user_suite;"
	    "DROP INDEX keypackages_device_status;"
	    "DROP INDEX keypackages_device_suite;"
	    "ALTER TABLE keypackages DROP COLUMN device;"
	    "DROP TABLE users; CREATE TABLE users(folded TEXT PRIMARY KEY,"
	    " name TEXT NOT NULL, public_key BLOB NOT NULL, created_at INTEGER"
	    " NOT NULL) WITHOUT ROWID; INSERT INTO users VALUES ('alice',"
	    " 'alice', x'%s', 1); PRAGMA user_version = 4;", hk);
	if (sqlite3_open_v2(s.db, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK || sqlite3_exec(db, q, NULL, NULL, NULL) != SQLITE_OK)
		bail("schema 4: %s", sqlite3_errmsg(db));
	sqlite3_close(db);
	srv_restart(&s, NULL);
	is_int(srv_count(&s, "PRAGMA user_version"), 6, "migrated to 5 "
	    "(and 6)");
	is_int(srv_count(&s, "SELECT count(*) FROM devices WHERE "
	    "username = 'alice' AND device = 'default'"), 1,
	    "alice has the device default");
	is_int(srv_count(&s, "SELECT count(*) FROM keypackages WHERE "
	    "username = 'alice' AND device = 'default'"), 2,
	    "her keys are the default device's");
	raw(&s, &alice, "GET", "/devices", NULL, T_NONE, &r);
	is_int(r.status, 200, "her old key signs as alice");
	ok(strstr(r.body, "\"available\":2,") != NULL &&
	    strstr(r.body, "\"device\":\"default\"") != NULL,
	    "GET /devices: default with 2 available");
	srv_stop(&s);
	who_free(&alice);
	who_free(&bob);
}

int
main(void)
{
	const char *const	 opts[] = { "--rate-limit", "0", NULL };
	struct srv		 s;
	struct who		 alice, laptop, phone, tablet, bob, eve, x;
	struct rawreply		 r;
	struct got		 g, g2;
	struct kpb		 old;
	struct who		 btab;
	uint8_t			 lref[4][KP_REF_LEN], aref[1][KP_REF_LEN];
	char			 hex[2 * KP_REF_LEN + 1], path[256], val[128];
	int			 i;

	plan(143);
	srv_start(&s, opts);
	who_new(&s, &alice, "alice", 1);
	who_new(&s, &bob, "bob", 1);
	dev_new(&laptop, "alice/laptop");
	dev_new(&phone, "alice/phone");
	dev_new(&tablet, "alice/tablet");
	dev_new(&eve, "alice/laptop");		/* a stranger's key */

	/* enrollment */
	reg(&s, &laptop, "alice", "laptop", &r);
	is_reply(&r, 403, "enrollment_required",
	    "POST /users of a new device of alice: 403 enrollment_required");
	enroll(&s, &eve, "laptop", &eve, &r);
	is_reply(&r, 401, "unauthorized", "a stranger signing as "
	    "alice/laptop (not enrolled) enrolls nothing: 401");
	ok(strstr(r.body, "unknown keyid") != NULL, "unknown keyid");
	x = eve;
	snprintf(x.name, sizeof(x.name), "alice");
	enroll(&s, &x, "laptop", &eve, &r);
	is_reply(&r, 401, "unauthorized", "a stranger signing as alice with "
	    "its own key: 401 (the signature does not verify)");
	raw(&s, &bob, "POST", "/devices", body("{\"username\":\"alice\","
	    "\"device\":\"laptop\",\"public_key\":\"%s\"}", pk_b64(&eve)),
	    T_NONE, &r);
	is_reply(&r, 403, "forbidden", "bob enrolling a device of alice: 403");
	enroll(&s, &alice, "laptop", &laptop, &r);
	is_int(r.status, 201, "alice enrolls her laptop: 201");
	is_string(r.body, "{\"username\":\"alice\",\"device\":\"laptop\"}\n",
	    "the reply names user and device");
	enroll(&s, &alice, "laptop", &laptop, &r);
	is_int(r.status, 201, "again with the same key: 201");
	enroll(&s, &alice, "laptop", &eve, &r);
	is_reply(&r, 409, "device_taken", "laptop with another key: 409");
	enroll(&s, &alice, "phone", &laptop, &r);
	is_reply(&r, 409, "key_in_use", "phone with laptop's key: 409");
	enroll(&s, &alice, "Phone", &phone, &r);
	is_reply(&r, 400, "bad_device", "a device name in capitals: 400");
	enroll(&s, &laptop, "phone", &phone, &r);
	is_int(r.status, 201, "the laptop, enrolled, enrolls the phone: 201");
	reg(&s, &laptop, "alice", "laptop", &r);
	is_int(r.status, 201, "POST /users of the enrolled laptop: 201");
	x = alice;
	snprintf(x.name, sizeof(x.name), "alice/default");
	raw(&s, &x, "GET", "/devices", NULL, T_NONE, &r);
	is_int(r.status, 200, "keyid alice/default is alice: 200");

	/* uploads bound to (user, device) */
	is_int(put(&s, &laptop, 4, 1, 0, lref), 4,
	    "the laptop uploads 4 keys with identity alice/laptop");
	is_int(put_ex(&s, &laptop, NULL, "alice", 1, 1, 0, NULL, &r), 0,
	    "identity alice from the laptop: rejected");
	ok(strstr(r.body, "wrong_identity") != NULL, "wrong_identity");
	is_int(put_ex(&s, &laptop, &alice, "alice/laptop", 1, 1, 0, NULL, &r),
	    0, "alice/laptop signed by alice's default key: rejected");
	ok(strstr(r.body, "wrong_signature_key") != NULL,
	    "wrong_signature_key");
	is_int(put(&s, &alice, 2, 1, 0, NULL), 2, "alice uploads 2 of suite 1");
	is_int(put(&s, &phone, 2, 3, 0, NULL), 2, "the phone: 2 of suite 3");
	is_int(put(&s, &phone, 1, 3, 1, NULL), 1,
	    "and a last-resort key of suite 3");

	/* GET /devices, status, mine */
	raw(&s, &laptop, "GET", "/devices", NULL, T_NONE, &r);
	is_int(r.status, 200, "GET /devices: 200");
	ok(strstr(r.body, "{\"username\":\"alice\",\"devices\":[{\"available\":"
	    "2,") != NULL && strstr(r.body, "\"device\":\"default\"") <
	    strstr(r.body, "\"device\":\"laptop\"") &&
	    strstr(r.body, "\"device\":\"laptop\"") <
	    strstr(r.body, "\"device\":\"phone\""),
	    "default, laptop, phone in name order");
	ok(strstr(r.body, "\"suites\":{\"0x0003\":{\"available\":3,"
	    "\"reserved\":0,\"spent\":0,\"expired\":0,\"last_resort\":1}}") !=
	    NULL, "the phone's suite 3: 3, one last resort");
	raw(&s, &phone, "GET", "/keypackages/status/alice", NULL, T_NONE, &r);
	is_int((int)member(r.body, "available", NULL, NULL), 9,
	    "status: 9 available in all");
	is_int((int)member(r.body, "devices", "laptop", "available"), 4,
	    "4 of the laptop");
	is_int((int)member(r.body, "suites", "0x0003", "available"), 3,
	    "3 of suite 3");
	is_int((int)member(r.body, "suites", "0x0001", "available"), 6,
	    "6 of suite 1");
	raw(&s, &laptop, "GET", "/keypackages/mine", NULL, T_NONE, &r);
	kp_hex(lref[0], KP_REF_LEN, hex);
	is_int(r.status, 200, "mine of the laptop: 200");
	ok(strstr(r.body, hex) != NULL, "has its keys");
	{
		int	cnt = 0;
		char	*p;

		for (p = r.body; (p = strstr(p, "\"keypackage_ref\"")); p++)
			cnt++;
		is_int(cnt, 4, "and only its 4 (not the other devices')");
	}
	/* GET /keypackages/mine/{ref}: the calling device's key only */
	snprintf(path, sizeof(path), "/keypackages/mine/%s", hex);
	raw(&s, &laptop, "GET", path, NULL, T_NONE, &r);
	is_int(r.status, 200, "mine/{ref} of a laptop key, by the laptop: 200");
	ok(strstr(r.body, "\"cipher_suite\":1") != NULL &&
	    strstr(r.body, "\"status\":\"available\"") != NULL,
	    "with its status and suite");
	raw(&s, &alice, "GET", path, NULL, T_NONE, &r);
	is_reply(&r, 404, "not_found", "by alice's default device, the same "
	    "user: 404, not the caller device's key");
	raw(&s, &phone, "GET", path, NULL, T_NONE, &r);
	is_reply(&r, 404, "not_found", "by alice's phone: 404");
	raw(&s, &bob, "GET", path, NULL, T_NONE, &r);
	is_reply(&r, 404, "not_found", "by bob: 404");

	/* reserve of one device, of one suite */
	raw(&s, &bob, "POST", "/keypackages/reserve",
	    "{\"target_username\":\"alice\",\"target_device\":\"laptop\"}",
	    T_NONE, &r);
	is_int(r.status, 200, "bob reserves from alice's laptop: 200");
	ok(strstr(r.body, hex) != NULL && strstr(r.body,
	    "\"device\":\"laptop\",\"cipher_suite\":1") != NULL,
	    "its oldest key, with device and suite");
	raw(&s, &bob, "POST", "/keypackages/reserve",
	    "{\"target_username\":\"alice\",\"target_device\":\"fridge\"}",
	    T_NONE, &r);
	is_reply(&r, 404, "unknown_device", "a device alice has not: 404");
	raw(&s, &bob, "POST", "/keypackages/reserve",
	    "{\"target_username\":\"alice\",\"cipher_suite\":2}", T_NONE, &r);
	is_reply(&r, 400, "bad_suite", "suite 2: 400");
	raw(&s, &bob, "POST", "/keypackages/reserve",
	    "{\"target_username\":\"alice\",\"cipher_suite\":3}", T_NONE, &r);
	ok(r.status == 200 && strstr(r.body, "\"device\":\"phone\","
	    "\"cipher_suite\":3") != NULL, "suite 3: the phone's key");
	raw(&s, &bob, "POST", "/keypackages/reserve",
	    "{\"target_username\":\"alice\",\"target_device\":\"laptop\","
	    "\"cipher_suite\":3}", T_NONE, &r);
	is_reply(&r, 409, "pool_exhausted",
	    "suite 3 of the laptop, which has none: 409");
	ok(strstr(r.body, "0x0003") != NULL, "the message names the suite");

	/* claims */
	claim(&s, &bob, "{\"target_username\":\"ALICE\",\"request_id\":\"c1\"}",
	    &r, &g);
	is_int(r.status, 200, "bob claims alice: 200");
	is_int(g.n, 3, "one key per device: 3");
	ok(strcmp(g.device[0], "default") == 0 &&
	    strcmp(g.device[1], "laptop") == 0 &&
	    strcmp(g.device[2], "phone") == 0, "default, laptop, phone");
	ok(strcmp(g.ref[0], g.ref[1]) != 0 && strcmp(g.ref[1], g.ref[2]) != 0 &&
	    strcmp(g.ref[0], g.ref[2]) != 0, "three distinct keys");
	kp_hex(lref[1], KP_REF_LEN, hex);
	is_string(g.ref[1], hex, "the laptop's oldest key not reserved yet");
	is_string(g.exhausted, "", "none exhausted");
	claim(&s, &bob, "{\"target_username\":\"alice\",\"request_id\":\"c1\"}",
	    &r, &g2);
	is_int(g2.n, 3, "the same request_id again: 3 keys");
	ok(strcmp(g.ref[0], g2.ref[0]) == 0 && strcmp(g.ref[1], g2.ref[1]) ==
	    0 && strcmp(g.ref[2], g2.ref[2]) == 0 &&
	    strcmp(g.rid[1], g2.rid[1]) == 0,
	    "the same keys and reservations");
	claim(&s, &bob, "{\"target_username\":\"alice\",\"cipher_suite\":3}",
	    &r, &g);
	is_int(r.status, 200, "a claim of suite 3: 200");
	ok(g.n == 1 && strcmp(g.device[0], "phone") == 0 && g.suite[0] == 3 &&
	    g.lr[0] == 1, "only the phone's: its last-resort key of suite 3 "
	    "(both others are reserved)");
	is_string(g.exhausted, "default,laptop",
	    "default and laptop have no suite-3 key: exhausted");
	claim(&s, &bob, "{\"target_username\":\"alice\",\"cipher_suite\":3}",
	    &r, &g2);
	ok(g2.n == 1 && strcmp(g.ref[0], g2.ref[0]) == 0 && g2.lr[0],
	    "again: the same last-resort key, never consumed");
	raw(&s, &bob, "DELETE", "/devices/phone", NULL, T_NONE, &r);
	is_reply(&r, 404, "not_found", "bob removes a device of his own "
	    "user only: alice's phone is not his (404)");
	claim(&s, &bob, "{\"target_username\":\"bob\",\"cipher_suite\":3}",
	    &r, &g);
	is_reply(&r, 409, "pool_exhausted", "a claim of bob, who has no key: "
	    "409");
	is_string(g.exhausted, "default", "exhausted lists his device");
	claim(&s, &bob, "{\"target_username\":\"nobody\"}", &r, &g);
	is_reply(&r, 404, "unknown_user", "a claim of nobody: 404");

	/* the last key of each device, then last resort per device */
	is_int(put(&s, &tablet, 1, 1, 0, NULL), -1,
	    "the tablet, not enrolled, uploads nothing");
	enroll(&s, &phone, "tablet", &tablet, &r);
	is_int(r.status, 201, "the phone enrolls the tablet");
	is_int(put(&s, &tablet, 1, 1, 1, NULL), 1,
	    "the tablet uploads a last-resort key only");
	claim(&s, &bob, "{\"target_username\":\"alice\"}", &r, &g);
	is_int(g.n, 4, "a claim: four devices, four keys");
	ok(strcmp(g.device[3], "tablet") == 0 && g.lr[3] && !g.lr[0],
	    "the tablet's is its last-resort key, the default's is not");

	/* removal */
	gen(&laptop, "alice/laptop", time(NULL) - 60, time(NULL) + 86400, 0,
	    &old);
	upload_b64(&s, &laptop, &old, &r);
	ok(r.status == 200 && strstr(r.body, "\"rejected\":[]") != NULL,
	    "the laptop uploads one more");
	raw(&s, &phone, "DELETE", "/devices/laptop", NULL, T_NONE, &r);
	is_int(r.status, 200, "the phone removes the laptop: 200");
	is_string(r.body, "{\"username\":\"alice\",\"device\":\"laptop\","
	    "\"retired\":5}\n", "its 5 keys retired (reserved ones too)");
	raw(&s, &laptop, "GET", "/devices", NULL, T_NONE, &r);
	is_reply(&r, 401, "unauthorized", "the laptop's key signs nothing");
	raw(&s, &bob, "POST", "/keypackages/reserve",
	    "{\"target_username\":\"alice\",\"target_device\":\"laptop\"}",
	    T_NONE, &r);
	is_reply(&r, 404, "unknown_device", "reserve of the laptop: 404");
	for (i = 0; i < 3; i++) {
		claim(&s, &bob, "{\"target_username\":\"alice\"}", &r, &g2);
		if (r.status != 200 || strstr(r.body, "laptop") != NULL ||
		    strcmp(g2.exhausted, "default") != 0)
			break;
	}
	is_int(i, 3, "claims after: never the laptop, not even as "
	    "exhausted (default is, the others hand out keys)");
	kp_hex(lref[2], KP_REF_LEN, hex);
	raw(&s, &bob, "POST", "/keypackages/spend", body("{\"keypackage_ref\""
	    ":\"%s\"}", g.ref[1]), T_NONE, &r);
	is_reply(&r, 409, "already_spent", "a spend of a laptop key bob had "
	    "reserved: 409, it is retired");
	enroll(&s, &alice, "laptop", &laptop, &r);
	is_int(r.status, 201, "the laptop enrolled again, same key");
	upload_b64(&s, &laptop, &old, &r);
	ok(r.status == 200 && strstr(r.body, "\"error\":\"spent\"") != NULL,
	    "an upload of a removed key's bytes again: rejected, spent");
	raw(&s, &laptop, "POST", "/keypackages/reserve", body(
	    "{\"target_username\":\"alice\",\"keypackage_ref\":\"%s\"}", hex),
	    T_NONE, &r);
	is_reply(&r, 404, "not_found", "its old ref is gone");
	is_int((int)srv_count(&s, "SELECT count(*) FROM tombstones WHERE "
	    "kind = 0"), 5, "the 5 refs are tombstones");
	raw(&s, &alice, "DELETE", "/devices/fridge", NULL, T_NONE, &r);
	is_reply(&r, 404, "not_found", "removing no such device: 404");
	raw(&s, &bob, "DELETE", "/devices/default", NULL, T_NONE, &r);
	is_reply(&r, 409, "last_device", "bob removing his only device: 409");
	raw(&s, &bob, "DELETE", "/devices/Default", NULL, T_NONE, &r);
	is_reply(&r, 400, "bad_device", "a bad device name: 400");
	raw(&s, &alice, "GET", "/devices/x", NULL, T_NONE, &r);
	is_int(r.status, 405, "GET /devices/x: 405");

	/*
	 * A Welcome's checks with devices: the reserver is a device (a
	 * principal), a spend names its group or keeps it, and a
	 * last-resort key records its latest handing out, shown to its
	 * owner device only.
	 */
	dev_new(&btab, "bob/tab");
	enroll(&s, &bob, "tab", &btab, &r);
	is_int(r.status, 201, "bob enrolls his tab");
	is_int(put(&s, &alice, 1, 1, 0, aref), 1, "alice uploads one more");
	kp_hex(aref[0], KP_REF_LEN, hex);
	raw(&s, &btab, "POST", "/keypackages/reserve",
	    "{\"target_username\":\"alice\",\"target_device\":\"default\","
	    "\"group_id\":\"" G1 "\"}", T_NONE, &r);
	ok(r.status == 200 && strstr(r.body, hex) != NULL,
	    "bob's tab reserves it for group-1");
	raw(&s, &bob, "POST", "/keypackages/spend", body("{\"keypackage_ref\""
	    ":\"%s\"}", hex), T_NONE, &r);
	is_reply(&r, 403, "forbidden", "a spend by bob's default device, "
	    "not the reserver: 403");
	raw(&s, &btab, "POST", "/keypackages/spend", body("{\"keypackage_ref\""
	    ":\"%s\",\"group_id\":\"" G2 "\"}", hex), T_NONE, &r);
	is_reply(&r, 409, "group_mismatch", "a spend by the tab for group-2: "
	    "409 group_mismatch");
	raw(&s, &btab, "POST", "/keypackages/spend", body("{\"keypackage_ref\""
	    ":\"%s\"}", hex), T_NONE, &r);
	is_int(r.status, 200, "a spend by the tab naming no group: 200");
	snprintf(path, sizeof(path), "/keypackages/mine/%s", hex);
	raw(&s, &alice, "GET", path, NULL, T_NONE, &r);
	text(r.body, "spent_by", val, sizeof(val));
	is_string(val, "bob/tab", "alice sees it spent by bob/tab");
	text(r.body, "group_id", val, sizeof(val));
	is_string(val, G1, "for the reservation's group-1");
	raw(&s, &btab, "POST", "/keypackages/reserve",
	    "{\"target_username\":\"alice\",\"target_device\":\"tablet\","
	    "\"group_id\":\"" G2 "\"}", T_NONE, &r);
	ok(r.status == 200 && strstr(r.body, "\"last_resort\":true") != NULL,
	    "the tab reserves the tablet's last-resort key for group-2");
	text(r.body, "keypackage_ref", hex, sizeof(hex));
	snprintf(path, sizeof(path), "/keypackages/mine/%s", hex);
	raw(&s, &tablet, "GET", path, NULL, T_NONE, &r);
	is_int(r.status, 200, "the tablet asks for its key: 200");
	text(r.body, "status", val, sizeof(val));
	is_string(val, "available", "still available");
	text(r.body, "reserved_by", val, sizeof(val));
	is_string(val, "bob/tab", "last handed out to bob/tab");
	text(r.body, "group_id", val, sizeof(val));
	is_string(val, G2, "for group-2");
	raw(&s, &phone, "GET", path, NULL, T_NONE, &r);
	is_reply(&r, 404, "not_found", "the phone, another device of alice, "
	    "is not told: 404");
	is_int(srv_stop(&s), 0, "a clean exit");
	free(old.buf);

	registration();
	migration();
	who_free(&alice);
	who_free(&bob);
	return done_testing();
}
