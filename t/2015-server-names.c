/* SPDX-License-Identifier: ISC */
/*
 * 2015-server-names: names, refs and reads on a real kpool-server.  User
 * names are one user whatever their case: a look-alike cannot register,
 * the first spelling is kept (for display and as the credential
 * identity), and reserve, status, signatures and the rate limit find
 * the user in any case.  Refs are lower-case hex only.  A user's counts
 * are that user's; others learn whether a reserve would get a key.  The
 * metrics are the operator's.  An old database holding names that fold
 * together keeps the first and sets the others aside with their keys.
 */

#include "kps_test.h"

/* as: a copy of w that signs with keyid name (w's key). */
static struct who
as(const struct who *w, const char *name)
{
	struct who	v = *w;

	snprintf(v.name, sizeof(v.name), "%s", name);
	v.c = NULL;
	return v;
}

/* reg: POST /users of w's name and key, signed by w; the reply. */
static void
reg(struct srv *s, struct who *w, struct rawreply *r)
{
	char	body[256], b64[64];

	sodium_bin2base64(b64, sizeof(b64), w->pk, 32,
	    sodium_base64_VARIANT_ORIGINAL);
	snprintf(body, sizeof(body), "{\"username\":\"%s\","
	    "\"public_key\":\"%s\"}", w->name, b64);
	raw(s, w, "POST", "/users", body, T_NONE, r);
}

/* upload1: w uploads k; the upload result of the server. */
static struct kp_upload_result
upload1(struct who *w, const struct kpb *k)
{
	struct kp_upload_result	 res;
	const uint8_t		*p = k->buf;

	memset(&res, 0, sizeof(res));
	if (kp_client_upload(w->c, &p, &k->len, 1, &res) != KP_OK)
		bail("upload: %s", kp_client_errmsg(w->c));
	return res;
}

static void
migration(void)
{
	const char *const	 pub[] = { "--public-metrics", NULL };
	struct srv		 s;
	struct who		 alice, look, bob;
	struct rawreply		 r;
	char			 q[2048], hk[3][65];
	int			 i;

	srv_start(&s, pub);
	who_new(&s, &alice, "alice", 1);
	who_new(&s, &look, "Alice", 0);
	who_new(&s, &bob, "bob", 1);
	kill(s.pid, SIGTERM);
	if (srv_wait(&s) != 0)
		bail("stop");
	/* the users table of schema 2 (PostgreSQL's 1), where names had
	 * their case */
	for (i = 0; i < 3; i++)
		kp_hex(i == 0 ? alice.pk : i == 1 ? look.pk : bob.pk, 32,
		    hk[i]);
	if (db_is_pg())
		snprintf(q, sizeof(q), "DROP TABLE users; DROP TABLE "
		    "users_set_aside; DROP TABLE nonces; DROP TABLE buckets;"
		    "DROP TABLE contacts; DROP TABLE grants; DROP TABLE "
		    "registrations; DROP TABLE invites;"
		    "DROP TABLE devices; ALTER TABLE keypackages DROP COLUMN "
		    "device;"
		    "CREATE TABLE users (name text PRIMARY KEY, public_key "
		    "bytea NOT NULL CHECK (length(public_key) = 32), "
		    "created_at bigint NOT NULL);"
		    "CREATE TABLE nonces (created bigint NOT NULL, keyid text "
		    "NOT NULL, nonce text NOT NULL, PRIMARY KEY (created, "
		    "keyid, nonce));"
		    "CREATE TABLE rates (caller text NOT NULL, target text "
		    "NOT NULL, tokens double precision NOT NULL, at bigint "
		    "NOT NULL, taken boolean NOT NULL, PRIMARY KEY (caller, "
		    "target));"
		    "INSERT INTO users VALUES ('alice', '\\x%s', 100),"
		    " ('Alice', '\\x%s', 200), ('ALICE', '\\x%s', 100),"
		    " ('bob', '\\x%s', 50);"
		    "INSERT INTO keypackages(keypackage_ref, username, "
		    "keypackage_bytes, uploaded_at, status, not_after, "
		    "credential_hash, ciphersuite, init_key) VALUES "
		    "(sha256('r'), 'Alice', '\\x00', 1, 'available', "
		    "9999999999, sha256('c'), 1, sha256('i'));"
		    "UPDATE kpool_schema SET version = 1;", hk[0], hk[1],
		    hk[2], hk[2]);
	else
		snprintf(q, sizeof(q), "DROP TABLE users; DROP TABLE "
		    "users_set_aside; DROP TABLE buckets;"
		    "DROP TABLE contacts; DROP TABLE grants; DROP TABLE "
		    "registrations; DROP TABLE invites;"
		    "DROP TABLE devices; DROP INDEX keypackages_user_suite;"
		    "DROP INDEX keypackages_device_status;"
		    "DROP INDEX keypackages_device_suite;"
		    "ALTER TABLE keypackages DROP COLUMN device;"
		    "CREATE TABLE users(name TEXT PRIMARY KEY, public_key "
		    "BLOB NOT NULL CHECK (length(public_key) = 32), "
		    "created_at INTEGER NOT NULL) WITHOUT ROWID;"
		    "INSERT INTO users VALUES ('alice', x'%s', 100),"
		    " ('Alice', x'%s', 200), ('ALICE', x'%s', 100),"
		    " ('bob', x'%s', 50);"
		    "INSERT INTO keypackages(keypackage_ref, username, "
		    "keypackage_bytes, uploaded_at, status, not_after, "
		    "credential_hash, ciphersuite, init_key) VALUES "
		    "(randomblob(32), 'Alice', x'00', 1, 'available', "
		    "9999999999, randomblob(32), 1, randomblob(32));"
		    "PRAGMA user_version = 2;", hk[0], hk[1], hk[2], hk[2]);
	srv_sql(&s, q);
	srv_restart(&s, pub);
	if (db_is_pg())
		is_int(srv_count(&s, "SELECT max(version) FROM kpool_schema"),
		    4, "PostgreSQL: migrated to schema 2, then 3 (devices) "
		    "and 4 (the drain budget)");
	else
		is_int(srv_count(&s, "PRAGMA user_version"), 6,
		    "SQLite: migrated to schema 4, then 5 (devices) and 6 "
		    "(the drain budget)");
	is_int(srv_count(&s, "SELECT count(*) FROM users WHERE "
	    "folded = 'alice' AND name = 'ALICE'"), 1,
	    "of three that fold together, the first registered is kept "
	    "(a tie: the lower in byte order, ALICE)");
	is_int(srv_count(&s, "SELECT count(*) FROM users_set_aside WHERE "
	    "kept = 'ALICE' AND name IN ('alice', 'Alice')"), 2,
	    "the other two are set aside, naming the one kept");
	is_int(srv_count(&s, "SELECT count(*) FROM users"), 2,
	    "bob is untouched: two users");
	is_int(srv_count(&s, "SELECT count(*) FROM keypackages WHERE "
	    "username = 'Alice'"), 0, "the set-aside name's key is retired");
	is_int(srv_count(&s, "SELECT count(*) FROM tombstones WHERE username = "
	    "'Alice'"), 2, "with its tombstones (ref and init key)");
	raw(&s, &look, "GET", "/keypackages/mine", NULL, T_NONE, &r);
	is_reply(&r, 401, "unauthorized",
	    "Alice's key no longer signs for the name");
	raw(&s, &bob, "GET", "/keypackages/status/alice", NULL, T_NONE, &r);
	is_string(r.body, "{\"username\":\"ALICE\",\"has_keys\":false}\n",
	    "alice is found as ALICE");
	is_int(srv_stop(&s), 0, "a clean exit");
	who_free(&alice);
	who_free(&look);
	who_free(&bob);
}

int
main(void)
{
	const char *const	 opts[] = { "--rate-limit", "1",
				    "--rate-burst", "3",
				    "--metrics-token", token_file(), NULL };
	struct srv		 s;
	struct who		 alice, bob, carol, eve, v;
	struct kpb		 k[3], ck[2];
	struct kp_upload_result	 up;
	struct rawreply		 r;
	char			 body[256], hex[2 * KP_REF_LEN + 1], path[128];
	int64_t			 T;
	size_t			 i;

	plan(55);
	srv_start(&s, opts);
	T = (int64_t)time(NULL);
	who_new(&s, &alice, "alice", 1);
	who_new(&s, &bob, "bob", 1);
	for (i = 0; i < 3; i++) {
		gen(&alice, "alice", T - 10, T + 86400, 0, &k[i]);
		ok(upload1(&alice, &k[i]).accepted, "alice uploads key %zu", i);
	}

	/* one user whatever the case */
	who_new(&s, &eve, "Alice", 0);
	reg(&s, &eve, &r);
	is_reply(&r, 409, "username_taken",
	    "Alice (another key) when alice exists: 409");
	v = as(&alice, "ALICE");
	reg(&s, &v, &r);
	is_int(r.status, 201, "ALICE with alice's own key: 201 (no change)");
	is_string(r.body, "{\"username\":\"alice\",\"device\":\"default\"}\n",
	    "the name as first registered (and the device)");
	raw(&s, &v, "GET", "/keypackages/mine", NULL, T_NONE, &r);
	is_int(r.status, 200, "alice signs as ALICE: 200");
	ok(strstr(r.body, "\"keypackage_ref\"") != NULL, "her keys");
	snprintf(body, sizeof(body), "{\"target_username\":\"ALICE\"}");
	raw(&s, &bob, "POST", "/keypackages/reserve", body, T_NONE, &r);
	is_int(r.status, 200, "bob reserves from ALICE: 200");
	kp_hex(k[0].ref, KP_REF_LEN, hex);
	ok(strstr(r.body, hex) != NULL, "alice's oldest key");

	/* the rate limit: ALICE and alice are one target (burst 3) */
	raw(&s, &bob, "POST", "/keypackages/reserve",
	    "{\"target_username\":\"alice\"}", T_NONE, &r);
	is_int(r.status, 200, "bob reserves from alice: 200");
	raw(&s, &bob, "POST", "/keypackages/reserve",
	    "{\"target_username\":\"aLiCe\"}", T_NONE, &r);
	is_int(r.status, 200, "and from aLiCe: 200 (the burst's third)");
	raw(&s, &bob, "POST", "/keypackages/reserve",
	    "{\"target_username\":\"ALICE\"}", T_NONE, &r);
	is_reply(&r, 429, "rate_limited",
	    "a fourth, spelt ALICE: 429, the same bucket");

	/* status: the counts are alice's; bob learns has_keys */
	raw(&s, &bob, "GET", "/keypackages/status/ALICE", NULL, T_NONE, &r);
	is_int(r.status, 200, "bob asks for ALICE's status: 200");
	is_string(r.body, "{\"username\":\"alice\",\"has_keys\":false}\n",
	    "no counts: whether a reserve would get a key (all 3 are taken)");
	raw(&s, &alice, "GET", "/keypackages/status/Alice", NULL, T_NONE, &r);
	is_int(r.status, 200, "alice asks for her own (as Alice): 200");
	is_string(r.body, "{\"username\":\"alice\",\"available\":0,"
	    "\"reserved\":3,\"spent\":0,\"expired\":0,\"last_resort\":0,"
	    "\"devices\":{\"default\":{\"available\":0,\"reserved\":3,"
	    "\"spent\":0,\"expired\":0,\"last_resort\":0}},"
	    "\"suites\":{\"0x0001\":{\"available\":0,\"reserved\":3,"
	    "\"spent\":0,\"expired\":0,\"last_resort\":0}}}\n",
	    "her counts, in all, per device and per suite");
	gen(&alice, "alice", T - 10, T + 86400, 1, &ck[0]);
	ok(upload1(&alice, &ck[0]).accepted, "alice uploads a last-resort key");
	raw(&s, &bob, "GET", "/keypackages/status/alice", NULL, T_NONE, &r);
	is_string(r.body, "{\"username\":\"alice\",\"has_keys\":true}\n",
	    "has_keys: the last-resort key would be handed out");
	raw(&s, &bob, "GET", "/keypackages/status/nobody", NULL, T_NONE, &r);
	is_reply(&r, 404, "unknown_user", "an unknown user: 404");

	/* the credential identity is the first registration's spelling */
	who_new(&s, &carol, "Carol", 1);
	gen(&carol, "Carol", T - 10, T + 86400, 0, &ck[1]);
	ok(upload1(&carol, &ck[1]).accepted,
	    "Carol uploads a key of identity Carol");
	free(ck[1].buf);
	gen(&carol, "carol", T - 10, T + 86400, 0, &ck[1]);
	up = upload1(&carol, &ck[1]);
	ok(!up.accepted && strcmp(up.code, "wrong_identity") == 0,
	    "identity carol: wrong_identity");
	v = as(&carol, "carol");
	raw(&s, &v, "GET", "/keypackages/mine", NULL, T_NONE, &r);
	is_int(r.status, 200, "Carol signs as carol: 200, the same user");

	/* refs: lower-case hex only */
	kp_hex(k[0].ref, KP_REF_LEN, hex);
	for (i = 0; hex[i] != '\0'; i++)
		if (hex[i] >= 'a' && hex[i] <= 'f')
			hex[i] = (char)(hex[i] - 'a' + 'A');
	snprintf(body, sizeof(body), "{\"keypackage_ref\":\"%s\"}", hex);
	raw(&s, &bob, "POST", "/keypackages/spend", body, T_NONE, &r);
	is_reply(&r, 400, "bad_ref", "spend with an upper-case ref: 400");
	raw(&s, &bob, "POST", "/keypackages/release", body, T_NONE, &r);
	is_reply(&r, 400, "bad_ref", "release with an upper-case ref: 400");
	snprintf(body, sizeof(body), "{\"target_username\":\"alice\","
	    "\"keypackage_ref\":\"%s\"}", hex);
	raw(&s, &alice, "POST", "/keypackages/reserve", body, T_NONE, &r);
	is_reply(&r, 400, "bad_ref", "a named reserve, upper case: 400");
	snprintf(path, sizeof(path), "/keypackages/%s", hex);
	raw(&s, &alice, "DELETE", path, NULL, T_NONE, &r);
	is_reply(&r, 400, "bad_ref", "DELETE of an upper-case ref: 400");
	ok(strstr(r.body, "lower-case") != NULL, "the message says lower case");
	kp_hex(k[0].ref, KP_REF_LEN, hex);
	snprintf(body, sizeof(body), "{\"keypackage_ref\":\"%s\"}", hex);
	raw(&s, &bob, "POST", "/keypackages/spend", body, T_NONE, &r);
	is_int(r.status, 200, "the same ref in lower case: spent");

	/* metrics: the operator's */
	raw(&s, &bob, "GET", "/metrics", NULL, T_NONE, &r);
	is_reply(&r, 403, "forbidden", "bob's signed GET /metrics: 403");
	raw_bearer(&s, NULL, "/metrics", &r);
	is_reply(&r, 403, "forbidden", "no token: 403");
	raw_bearer(&s, "not-the-operator-token", "/metrics", &r);
	is_reply(&r, 401, "unauthorized", "another token: 401");
	raw_bearer(&s, TEST_TOKEN, "/metrics", &r);
	is_int(r.status, 200, "the operator's token: 200");
	ok(strstr(r.body, "kpool_requests_total{route=\"metrics\","
	    "code=\"403\"} 2\n") != NULL, "the refusals are counted");

	is_int(srv_stop(&s), 0, "a clean exit");
	for (i = 0; i < 3; i++)
		free(k[i].buf);
	free(ck[0].buf);
	free(ck[1].buf);
	who_free(&alice);
	who_free(&bob);
	who_free(&carol);
	who_free(&eve);

	migration();
	return done_testing();
}
