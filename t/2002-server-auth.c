/* SPDX-License-Identifier: ISC */
/*
 * 2002-server-auth: a real kpool-server: registration, the signature
 * profile (forged, stale, replayed, wrong digest... all 401), and every
 * 4xx that needs no KeyPackage, each with its exact code and error.
 */

#include "kps_test.h"

static char *
big_body(size_t n)
{
	char	*b = malloc(n + 1);

	if (b == NULL)
		bail("malloc");
	memset(b, ' ', n);
	b[0] = '{';
	b[n - 1] = '}';
	b[n] = '\0';
	return b;
}

int
main(void)
{
	struct srv		 s, s2;
	struct who		 alice, bob, mallory, eve;
	struct rawreply		 r;
	struct kp_httpsig	 keep;
	int			 edge;
	struct kp_remote_status	 st;
	struct kp_reservation	 res;
	struct kp_remote_key	*keys;
	uint8_t			 ref[KP_REF_LEN];
	char			*b, cmd[1536], pkb64[64], body[256];
	size_t			 n, i;
	int			 rc;
	const char *const	 tok[] = { "--metrics-token", token_file(),
	    NULL };
	const char *const	 closed[] = { "--registration", "closed",
				    "--rate-limit", "60", "--rate-burst", "2",
				    NULL };

	plan(146);
	srv_start(&s, tok);

	/* healthz needs no signature */
	memset(&alice, 0, sizeof(alice));
	strcpy(alice.name, "x");
	raw(&s, &alice, "GET", "/healthz", NULL, T_UNSIGNED, &r);
	is_int(r.status, 200, "GET /healthz unsigned: 200");
	is_string(r.body, "{\"status\":\"ok\"}\n", "healthz body");

	/* registration */
	who_new(&s, &alice, "alice", 0);
	who_new(&s, &bob, "bob", 1);
	is_int(kp_client_register(alice.c), KP_OK, "register alice");
	is_int(kp_client_last_status(alice.c), 201, "201 Created");
	is_int(kp_client_register(alice.c), KP_OK,
	    "register again with the same key: still fine");
	who_new(&s, &mallory, "alice", 0);	/* another key, alice's name */
	is_int(kp_client_register(mallory.c), KP_ECONFLICT,
	    "alice's name with another key: conflict");
	is_int(kp_client_last_status(mallory.c), 409, "409");
	is_string(kp_client_errmsg(mallory.c), "the user name alice is taken",
	    "message says why");

	snprintf(body, sizeof(body), "{\"username\":\"carol\","
	    "\"public_key\":\"%s\"}", "AAAA");
	raw(&s, &bob, "POST", "/users", body, T_NONE, &r);
	is_reply(&r, 400, "bad_base64", "public_key of 3 bytes");
	sodium_bin2base64(pkb64, sizeof(pkb64), bob.pk, 32,
	    sodium_base64_VARIANT_ORIGINAL);
	snprintf(body, sizeof(body), "{\"username\":\"carol\","
	    "\"public_key\":\"%s\"}", pkb64);
	raw(&s, &bob, "POST", "/users", body, T_NONE, &r);
	is_reply(&r, 401, "unauthorized",
	    "POST /users signed by bob for carol");
	snprintf(body, sizeof(body), "{\"username\":\"bad name\","
	    "\"public_key\":\"%s\"}", pkb64);
	raw(&s, &bob, "POST", "/users", body, T_NONE, &r);
	is_reply(&r, 400, "bad_username", "a user name with a space");
	raw(&s, &bob, "POST", "/users", "{\"username\":\"carol\"}", T_NONE,
	    &r);
	is_reply(&r, 400, "bad_request", "public_key missing");

	/* the signature profile: every bad signature is 401 */
	raw(&s, &alice, "GET", "/keypackages/mine", NULL, T_NONE, &r);
	is_int(r.status, 200, "a good signature: 200");
	raw(&s, &alice, "GET", "/keypackages/mine", NULL, T_UNSIGNED, &r);
	is_reply(&r, 401, "unauthorized", "no signature");
	ok(strstr(r.body, "missing Signature-Input") != NULL,
	    "message names the missing header");
	raw(&s, &alice, "GET", "/keypackages/mine", NULL, T_NO_DIGEST, &r);
	is_reply(&r, 401, "unauthorized", "no Content-Digest");
	raw(&s, &alice, "POST", "/keypackages/reserve",
	    "{\"target_username\":\"bob\"}", T_BAD_DIGEST, &r);
	is_reply(&r, 401, "unauthorized", "digest of another body");
	ok(strstr(r.body, "Content-Digest") != NULL, "message: digest");
	raw(&s, &alice, "GET", "/keypackages/mine", NULL, T_STALE, &r);
	is_reply(&r, 401, "unauthorized", "created 301 s ago: stale");
	ok(strstr(r.body, "stale") != NULL, "message: stale");
	raw(&s, &alice, "GET", "/keypackages/mine", NULL, T_FUTURE, &r);
	is_reply(&r, 401, "unauthorized", "created 301 s ahead");
	raw(&s, &alice, "GET", "/keypackages/mine", NULL, T_FORGED, &r);
	is_reply(&r, 401, "unauthorized", "signed by another key: forged");
	ok(strstr(r.body, "does not verify") != NULL, "message: verify");
	raw(&s, &alice, "GET", "/keypackages/mine", NULL, T_BAD_INPUT, &r);
	is_reply(&r, 401, "unauthorized", "Signature-Input of another profile");
	raw(&s, &alice, "GET", "/keypackages/mine", NULL, T_BAD_SIG, &r);
	is_reply(&r, 401, "unauthorized", "Signature not base64");
	raw(&s, &alice, "GET", "/keypackages/mine", NULL, T_OTHER_PATH, &r);
	is_reply(&r, 401, "unauthorized", "signed for another path");
	who_new(&s, &eve, "eve", 0);
	raw(&s, &eve, "GET", "/keypackages/mine", NULL, T_NONE, &r);
	is_reply(&r, 401, "unauthorized", "an unknown keyid");
	ok(strstr(r.body, "register") != NULL, "message: register first");

	/* replay */
	raw_ex(&s, &alice, "GET", "/keypackages/mine", NULL, 0, T_NONE, &keep,
	    0, &r);
	is_int(r.status, 200, "first use of a nonce: 200");
	raw_ex(&s, &alice, "GET", "/keypackages/mine", NULL, 0, T_NONE, &keep,
	    1, &r);
	is_reply(&r, 401, "unauthorized", "the same signature again: replay");
	ok(strstr(r.body, "replay") != NULL, "message: replay");
	/* nonces are kept by created: replays at either edge of the window
	 * (300 s back, 60 s ahead) */
	for (edge = -290; edge <= 55; edge += 345) {
		if (kp_httpsig_sign("GET", "/keypackages/mine", "", NULL, 0,
		    "alice", alice.sk, (int64_t)time(NULL) + edge,
		    &keep) != KP_OK)
			bail("sign");
		raw_ex(&s, &alice, "GET", "/keypackages/mine", NULL, 0, T_NONE,
		    &keep, 1, &r);
		is_int(r.status, 200, "created %+d s: first use 200", edge);
		raw_ex(&s, &alice, "GET", "/keypackages/mine", NULL, 0, T_NONE,
		    &keep, 1, &r);
		is_reply(&r, 401, "unauthorized", "created %+d s: replay",
		    edge);
	}

	/* the query is signed */
	raw(&s, &alice, "GET", "/keypackages/mine?x=1", NULL, T_NONE, &r);
	is_int(r.status, 200, "a signed query: 200");

	/* sizes */
	b = big_body(1024 * 1024 + 1);
	raw(&s, &alice, "POST", "/keypackages/upload", b, T_NONE, &r);
	is_reply(&r, 413, "too_big", "a body over 1 MiB");
	free(b);
	b = malloc(300 * 8 + 64);
	strcpy(b, "{\"keypackages\":[");
	for (i = 0; i < 257; i++)
		strcat(b, i ? ",\"AAAA\"" : "\"AAAA\"");
	strcat(b, "]}");
	raw(&s, &alice, "POST", "/keypackages/upload", b, T_NONE, &r);
	is_reply(&r, 413, "batch_too_big", "a batch of 257");
	free(b);

	/* malformed requests */
	raw(&s, &alice, "POST", "/keypackages/upload", "{\"keypackages\":",
	    T_NONE, &r);
	is_reply(&r, 400, "bad_json", "truncated JSON");
	ok(strstr(r.body, "malformed JSON at line 1") != NULL,
	    "message: where");
	raw(&s, &alice, "POST", "/keypackages/upload", "[1]", T_NONE, &r);
	is_reply(&r, 400, "bad_json", "not an object");
	raw(&s, &alice, "POST", "/keypackages/upload", "", T_NONE, &r);
	is_reply(&r, 400, "bad_json", "empty body");
	raw(&s, &alice, "POST", "/keypackages/upload", "{\"a\":1,\"a\":2}",
	    T_NONE, &r);
	is_reply(&r, 400, "bad_json", "duplicate member");
	raw(&s, &alice, "POST", "/keypackages/upload", "{\"keypackages\":7}",
	    T_NONE, &r);
	is_reply(&r, 400, "bad_request", "keypackages not an array");
	raw(&s, &alice, "POST", "/keypackages/upload",
	    "{\"keypackages\":[7,\"%%%\"]}", T_NONE, &r);
	is_int(r.status, 200, "upload of two bad items: 200");
	is_string(r.body, "{\"accepted\":[],\"rejected\":[{\"index\":0,"
	    "\"error\":\"bad_base64\",\"message\":\"not a base64 string\"},"
	    "{\"index\":1,\"error\":\"bad_base64\",\"message\":\"not "
	    "standard base64\"}]}\n", "both rejected, by index");
	raw(&s, &alice, "POST", "/keypackages/reserve", "{}", T_NONE, &r);
	is_reply(&r, 400, "bad_request", "reserve without target_username");
	raw(&s, &alice, "POST", "/keypackages/reserve",
	    "{\"target_username\":5}", T_NONE, &r);
	is_reply(&r, 400, "bad_request", "target_username not a string");
	raw(&s, &alice, "POST", "/keypackages/reserve",
	    "{\"target_username\":\"bob\",\"group_id\":\"@@\"}", T_NONE, &r);
	is_reply(&r, 400, "bad_base64", "group_id not base64");
	raw(&s, &alice, "POST", "/keypackages/reserve",
	    "{\"target_username\":\"bob\",\"keypackage_ref\":\"abc\"}",
	    T_NONE, &r);
	is_reply(&r, 400, "bad_ref", "keypackage_ref not 64 hex digits");
	raw(&s, &alice, "POST", "/keypackages/reserve",
	    "{\"target_username\":\"bob\",\"request_id\":\"a b\"}", T_NONE, &r);
	is_reply(&r, 400, "bad_request", "request_id with a space");
	raw(&s, &alice, "POST", "/keypackages/reserve",
	    "{\"target_username\":\"../x\"}", T_NONE, &r);
	is_reply(&r, 400, "bad_username", "target_username invalid");
	raw(&s, &alice, "POST", "/keypackages/spend", "{\"group_id\":\"\"}",
	    T_NONE, &r);
	is_reply(&r, 400, "bad_request", "spend without keypackage_ref");
	raw(&s, &alice, "POST", "/keypackages/release",
	    "{\"keypackage_ref\":\"zz\"}", T_NONE, &r);
	is_reply(&r, 400, "bad_ref", "release with a bad ref");

	/* unknown things: 404; wrong method: 405 */
	memset(ref, 0x5a, sizeof(ref));
	memset(&res, 0, sizeof(res));
	is_int(kp_client_reserve(alice.c, "nobody",
	    &(struct kp_reserve_opts){ .group_id = (const uint8_t *)"g",
	    .group_id_len = 1 }, &res), KP_ENOTFOUND,
	    "reserve from an unknown user");
	is_int(kp_client_last_status(alice.c), 404, "404");
	raw(&s, &alice, "POST", "/keypackages/reserve",
	    "{\"target_username\":\"nobody\"}", T_NONE, &r);
	is_reply(&r, 404, "unknown_user", "unknown_user");
	is_int(kp_client_reserve(alice.c, "bob",
	    &(struct kp_reserve_opts){ .group_id = (const uint8_t *)"g",
	    .group_id_len = 1 }, &res), KP_EEXHAUSTED,
	    "bob has no keys: exhausted");
	is_int(kp_client_last_status(alice.c), 409, "409");
	ok(strstr(kp_client_errmsg(alice.c), "ask bob") != NULL,
	    "the message says what to do");
	raw(&s, &alice, "POST", "/keypackages/reserve",
	    "{\"target_username\":\"bob\"}", T_NONE, &r);
	is_reply(&r, 409, "pool_exhausted", "pool_exhausted");
	is_int(kp_client_spend(alice.c, ref, (const uint8_t *)"g", 1),
	    KP_ENOTFOUND, "spend an unknown ref");
	raw(&s, &alice, "POST", "/keypackages/spend", "{\"keypackage_ref\":"
	    "\"5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"
	    "\"}", T_NONE, &r);
	is_reply(&r, 404, "not_found", "spend: not_found");
	is_int(kp_client_release(alice.c, ref), KP_ENOTFOUND,
	    "release an unknown ref");
	is_int(kp_client_last_status(alice.c), 404, "404");
	is_int(kp_client_retire(alice.c, ref), KP_ENOTFOUND,
	    "retire an unknown ref");
	is_int(kp_client_last_status(alice.c), 404, "404");
	is_int(kp_client_status(alice.c, "nobody", &st), KP_ENOTFOUND,
	    "status of an unknown user");
	raw(&s, &alice, "GET", "/keypackages/status/nobody", NULL, T_NONE, &r);
	is_reply(&r, 404, "unknown_user", "status: unknown_user");
	is_int(kp_client_status(alice.c, "alice", &st), KP_OK,
	    "alice's own status");
	is_int(st.available + st.reserved + st.spent + st.expired, 0,
	    "all zero");
	raw(&s, &alice, "GET", "/keypackages/status/bob", NULL, T_NONE, &r);
	is_int(r.status, 200, "bob's status, to alice: 200");
	is_string(r.body, "{\"username\":\"bob\",\"has_keys\":false}\n",
	    "whether he has keys, no counts");
	raw(&s, &alice, "GET", "/nothing/here", NULL, T_NONE, &r);
	is_reply(&r, 404, "not_found", "an unknown endpoint");
	raw(&s, &alice, "GET", "/keypackages/reserve", NULL, T_NONE, &r);
	is_reply(&r, 405, "method_not_allowed", "GET on reserve");
	is_string(r.allow, "POST", "Allow: POST");
	raw(&s, &alice, "POST", "/healthz", "{}", T_NONE, &r);
	is_reply(&r, 405, "method_not_allowed", "POST on healthz");
	is_string(r.allow, "GET", "Allow: GET");
	is_int(kp_client_mine(alice.c, &keys, &n), KP_OK, "mine");
	is_int(n, 0, "no keys yet");
	free(keys);

	/* metrics: the operator's (a user's signature is not enough) */
	raw(&s, &alice, "GET", "/metrics", NULL, T_NONE, &r);
	is_reply(&r, 403, "forbidden", "GET /metrics signed by alice: 403");
	raw_bearer(&s, TEST_TOKEN, "/metrics", &r);
	is_int(r.status, 200, "GET /metrics with the operator's token: 200");
	ok(strstr(r.body, "kpool_requests_total{route=\"reserve\","
	    "code=\"409\"} 2\n") != NULL, "reserve 409s counted");
	ok(strstr(r.body, "kpool_pool_exhausted_total 2\n") != NULL,
	    "pool-exhausted answers counted");
	ok(strstr(r.body, "kpool_keys{state=\"available\"} 0\n") != NULL,
	    "keys by state");
	ok(strstr(r.body, "kpool_last_resort_served_total 0\n") != NULL,
	    "last-resort served");
	raw(&s, &alice, "GET", "/metrics", NULL, T_UNSIGNED, &r);
	is_reply(&r, 403, "forbidden", "/metrics unsigned, no token: 403");
	raw_bearer(&s, "operator-token-0123456780", "/metrics", &r);
	is_reply(&r, 401, "unauthorized", "/metrics with another token: 401");

	/* no key or signature in the log */
	{
		char	*log = tap_slurp(s.log, &n);

		ok(strstr(log, "GET /keypackages/mine 200 ") != NULL,
		    "one log line per request: method path status time");
		ok(strstr(log, "kpool=") == NULL && strstr(log, pkb64) == NULL,
		    "no signature or key in the log");
		free(log);
	}
	is_int(srv_stop(&s), 0, "SIGTERM: a clean exit");

	/* closed registration, operator provisioning, rate limit */
	srv_start(&s2, closed);
	who_free(&alice);
	who_new(&s2, &alice, "alice", 0);
	is_int(kp_client_register(alice.c), KP_EFORBIDDEN,
	    "registration closed: forbidden");
	is_int(kp_client_last_status(alice.c), 403, "403");
	ok(strstr(kp_client_errmsg(alice.c), "user add") != NULL,
	    "message names the operator's command");
	sodium_bin2base64(pkb64, sizeof(pkb64), alice.pk, 32,
	    sodium_base64_VARIANT_ORIGINAL);
	snprintf(cmd, sizeof(cmd), "%s/kpool-server --db '%s' user add alice "
	    "%s >/dev/null", getenv("KP_BUILD") ? getenv("KP_BUILD") :
	    "build", s2.db, pkb64);
	is_int(system(cmd), 0, "kpool-server user add alice");
	is_int(kp_client_status(alice.c, "alice", &st), KP_OK,
	    "alice's signature is accepted now");
	snprintf(cmd, sizeof(cmd), "%s/kpool-server --db '%s' user add alice "
	    "%s 2>/dev/null", getenv("KP_BUILD") ? getenv("KP_BUILD") :
	    "build", s2.db, "AAAA");
	rc = system(cmd);
	is_int(WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, 2,
	    "user add with a bad key: a usage error, exit status 2");
	for (i = 0; i < 2; i++) {
		rc = kp_client_reserve(alice.c, "alice", NULL, &res);
		is_int(rc, KP_EEXHAUSTED, "reserve %zu within the burst", i);
	}
	raw(&s2, &alice, "POST", "/keypackages/reserve",
	    "{\"target_username\":\"alice\"}", T_NONE, &r);
	is_reply(&r, 429, "rate_limited", "third reserve: rate limited");
	is_string(r.retry_after, "1", "Retry-After: 1");
	is_int(kp_client_reserve(alice.c, "alice", NULL, &res),
	    KP_ERATE, "the client maps 429 to KP_ERATE");
	is_int(srv_stop(&s2), 0, "a clean exit");

	who_free(&alice);
	who_free(&bob);
	who_free(&mallory);
	who_free(&eve);
	return done_testing();
}
