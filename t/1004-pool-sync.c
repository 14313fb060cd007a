/* SPDX-License-Identifier: ISC */
/*
 * 1004-pool-sync: the pool against a real kpool-server on 127.0.0.1 with
 * a test clock: registration, the pool growing from 1 key to 32 through
 * refresh, idempotence, pulling reservations and spends made by an
 * inviter, replenishing only when needed, expiry (wiped, retired),
 * transitions with the server's refusals, and a dead server.
 */

#include <sodium.h>
#include <sqlite3.h>

#include "1-pooltest.h"

static const char	*url;
static struct kp_client	*bob;		/* an inviter */
static uint8_t		 bob_seed[KP_SIGN_SEED_LEN];

/*
 * server_available: the keys of alice's that the server could hand out
 * now, read from its database (the counts of GET /keypackages/status
 * are alice's alone, and the test has no client of hers).
 */
static int
server_available(void)
{
	sqlite3		*db;
	sqlite3_stmt	*st = NULL;
	int		 n = -1;

	if (sqlite3_open_v2(pt_file("server0.db"), &db, SQLITE_OPEN_READONLY,
	    NULL) == SQLITE_OK && sqlite3_prepare_v2(db, "SELECT count(*) "
	    "FROM keypackages WHERE username = 'alice' AND not_after > ?1 "
	    "AND (status = 'available' OR (status = 'reserved' AND "
	    "reservation_expires_at <= ?1))", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, pt_clock);
		if (sqlite3_step(st) == SQLITE_ROW)
			n = sqlite3_column_int(st, 0);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static void
counts_are(struct kp_pool *p, uint32_t cr, uint32_t av, uint32_t re,
    uint32_t sp, uint32_t ex, const char *what)
{
	struct kp_counts	c;

	if (kp_pool_counts(p, 0, &c) != KP_OK)
		bail("counts: %s", kp_errmsg(p));
	ok(c.n[KP_STATE_CREATED] == cr && c.n[KP_STATE_AVAILABLE] == av &&
	    c.n[KP_STATE_RESERVED] == re && c.n[KP_STATE_SPENT] == sp &&
	    c.n[KP_STATE_EXPIRED] == ex && pt_sum(&c) == (int)c.total,
	    "%s: %u/%u/%u/%u/%u (got %u/%u/%u/%u/%u)", what, cr, av, re, sp, ex,
	    c.n[0], c.n[1], c.n[2], c.n[3], c.n[4]);
}

static void
report_is(const struct kp_sync_report *r, uint32_t ex, uint32_t pu,
    uint32_t ge, uint32_t up, const char *what)
{
	ok(r->expired == ex && r->pulled == pu && r->generated == ge &&
	    r->uploaded == up && r->online == 1,
	    "%s: expired %u pulled %u generated %u uploaded %u (got %u %u %u "
	    "%u online %d)", what, ex, pu, ge, up, r->expired, r->pulled,
	    r->generated, r->uploaded, r->online);
}

static void
test_grow(struct kp_pool *p)
{
	struct kp_sync_report	r;
	struct kp_status	s;

	is_int(kp_pool_generate(p, 1, 0), KP_OK, "start with 1 key");
	counts_are(p, 1, 0, 0, 0, 0, "1 created");
	is_int(kp_pool_refresh(p, KP_REFRESH_WATERMARK, &r), KP_OK, "refresh");
	report_is(&r, 0, 0, 32, 33, "first refresh");
	counts_are(p, 0, 33, 0, 0, 0, "32 + 1 last-resort available");
	is_int(kp_pool_status(p, &s), KP_OK, "status");
	is_int(s.health, KP_HEALTH_OK, "health ok");
	is_int(s.last_sync, pt_clock, "last_sync is now");
	is_int(s.counts.last_resort, 1, "one last-resort key");
	is_int(server_available(), 33, "the server has 33 available");

	is_int(kp_pool_refresh(p, KP_REFRESH_WATERMARK, &r), KP_OK,
	    "refresh again");
	report_is(&r, 0, 0, 0, 0, "a healthy pool: nothing to do");
	counts_are(p, 0, 33, 0, 0, 0, "unchanged");
	is_int(kp_pool_sync(p, &r), KP_OK, "sync");
	report_is(&r, 0, 0, 0, 0, "sync of a healthy pool: nothing");
}

static void
test_pull(struct kp_pool *p)
{
	struct kp_reservation	res[26];
	struct kp_sync_report	r;
	struct kp_status	s;
	struct kp_key		*k = NULL;
	const uint8_t		*g;
	size_t			 gl;
	int			i, bad = 0;

	is_int(kp_client_reserve(bob, "alice",
	    &(struct kp_reserve_opts){ .group_id = (const uint8_t *)"g1",
	    .group_id_len = 2 }, &res[0]), KP_OK,
	    "bob reserves one of alice's keys");
	is_int(kp_pool_sync(p, &r), KP_OK, "alice syncs");
	report_is(&r, 0, 1, 0, 0, "one key pulled");
	counts_are(p, 0, 32, 1, 0, 0, "one reserved");
	is_int(pt_key(p, res[0].ref, &k), KP_OK, "the key");
	is_int(kp_key_state(k), KP_STATE_RESERVED, "reserved");
	is_string(kp_key_text(k, KP_X_RESERVED_BY), "bob", "by bob");
	is_int(kp_key_time(k, KP_T_RESERVATION_EXPIRES), res[0].expires_at,
	    "with the server's expiry");
	is_int(kp_pool_sync(p, &r), KP_OK, "sync again");
	report_is(&r, 0, 0, 0, 0, "idempotent");

	is_int(kp_client_spend(bob, res[0].ref, (const uint8_t *)"g1", 2),
	    KP_OK, "bob spends it");
	is_int(kp_pool_sync(p, &r), KP_OK, "alice syncs");
	report_is(&r, 0, 1, 0, 0, "one key pulled");
	is_int(pt_key(p, res[0].ref, &k), KP_OK, "the key");
	is_int(kp_key_state(k), KP_STATE_SPENT, "spent");
	is_string(kp_key_text(k, KP_X_SPENT_BY), "bob", "by bob");
	g = kp_key_group_id(k, &gl);
	is_blob(g, gl, "g1", 2, "in group g1");
	is_int(kp_key_has_private(k), 1,
	    "its private keys wait for the Welcome");
	kp_reservation_free(&res[0]);

	is_int(kp_client_reserve(bob, "alice",
	    &(struct kp_reserve_opts){ .group_id = (const uint8_t *)"g2",
	    .group_id_len = 2 }, &res[0]), KP_OK, "bob reserves another");
	is_int(kp_pool_sync(p, &r), KP_OK, "alice syncs");
	is_int(kp_client_release(bob, res[0].ref), KP_OK, "bob releases it");
	is_int(kp_pool_sync(p, &r), KP_OK, "alice syncs");
	report_is(&r, 0, 1, 0, 0, "back to available");
	is_int(pt_key(p, res[0].ref, &k), KP_OK, "the key");
	is_int(kp_key_state(k), KP_STATE_AVAILABLE, "available");
	is_string(kp_key_text(k, KP_X_RESERVED_BY), "",
	    "no reservation left");
	kp_reservation_free(&res[0]);
	counts_are(p, 0, 32, 0, 1, 0, "31 + 1 available, 1 spent");

	/* 25 reservations leave 6 regular keys available */
	for (i = 0; i < 25; i++)
		if (kp_client_reserve(bob, "alice",
		    &(struct kp_reserve_opts){ .group_id =
		    (const uint8_t *)"g3", .group_id_len = 2 }, &res[i]) !=
		    KP_OK || res[i].last_resort)
			bad++;
	is_int(bad, 0, "bob reserves 25 regular keys");
	is_int(kp_pool_refresh(p, KP_REFRESH_WATERMARK, &r), KP_OK, "refresh");
	report_is(&r, 0, 25, 1, 1, "6 regular available < 8: 6 + 25 "
	    "reserved + 1 make 32");
	counts_are(p, 0, 8, 25, 1, 0, "8 available (1 last-resort)");
	is_int(kp_pool_status(p, &s), KP_OK, "status");
	is_int(s.health, KP_HEALTH_LOW, "7 regular keys available: low");
	for (i = 0; i < 25; i++) {
		if (kp_client_spend(bob, res[i].ref, (const uint8_t *)"g3",
		    2) != KP_OK)
			bad++;
		kp_reservation_free(&res[i]);
	}
	is_int(bad, 0, "bob spends the 25");
	is_int(kp_pool_refresh(p, KP_REFRESH_WATERMARK, &r), KP_OK, "refresh");
	report_is(&r, 0, 25, 25, 25, "7 regular available: 25 more");
	counts_are(p, 0, 33, 0, 26, 0, "back to 32 + 1");
	kp_key_free(k);
}

static void
test_expiry(struct kp_pool *p)
{
	struct kp_sync_report	 r;
	struct kp_key		**keys;
	size_t			 n, i;
	int			 bad = 0;

	pt_set_clock(pt_clock + 15 * 86400);
	is_int(kp_pool_refresh(p, KP_REFRESH_WATERMARK, &r), KP_OK,
	    "refresh 15 days later");
	report_is(&r, 33, 0, 33, 33, "33 expired, 32 + 1 made and uploaded");
	counts_are(p, 0, 33, 0, 26, 33, "fresh keys; old ones expired");
	is_int(kp_pool_list(p, KP_STATE_EXPIRED, &keys, &n), KP_OK, "list");
	for (i = 0; i < n; i++)
		bad += kp_key_has_private(keys[i]);
	kp_keys_free(keys, n);
	is_int(bad, 0, "expired keys have no private keys");
	is_int(kp_pool_list(p, KP_STATE_SPENT, &keys, &n), KP_OK, "list");
	for (i = 0; i < n; i++)
		bad += kp_key_has_private(keys[i]);
	kp_keys_free(keys, n);
	is_int(bad, 0, "nor do expired spent keys never taken");
	is_int(server_available(), 33, "the server hands out only the new 33");
	is_int(kp_pool_refresh(p, KP_REFRESH_WATERMARK, &r), KP_OK,
	    "refresh again");
	report_is(&r, 0, 0, 0, 0, "idempotent");
}

static void
test_moves(struct kp_pool *p)
{
	struct kp_reservation	 res;
	struct kp_sync_report	 r;
	struct kp_key		**keys, *k = NULL;
	size_t			 n;
	uint8_t			 ref[KP_REF_LEN];
	int			 avail;

	if (kp_pool_config_set(p, "hard_cap", "100") != KP_OK ||
	    kp_pool_generate(p, 1, 0) != KP_OK ||
	    kp_pool_list(p, KP_STATE_CREATED, &keys, &n) != KP_OK || n != 1)
		bail("generate: %s", kp_errmsg(p));
	memcpy(ref, kp_key_ref(keys[0]), KP_REF_LEN);
	kp_keys_free(keys, n);
	is_int(kp_pool_transition(p, ref, KP_STATE_CREATED,
	    KP_STATE_AVAILABLE), KP_OK, "created -> available uploads");
	is_int(pt_key(p, ref, &k), KP_OK, "get");
	is_int(kp_key_time(k, KP_T_UPLOADED), pt_clock, "uploaded_at now");
	is_int(kp_pool_transition(p, ref, KP_STATE_AVAILABLE,
	    KP_STATE_RESERVED), KP_OK, "available -> reserved (by its owner)");
	is_int(pt_key(p, ref, &k), KP_OK, "get");
	is_string(kp_key_text(k, KP_X_RESERVED_BY), "alice",
	    "reserved by alice");
	ok(kp_key_text(k, KP_X_RESERVATION_ID)[0] != '\0',
	    "with a reservation id");
	is_int(kp_pool_transition(p, ref, KP_STATE_RESERVED,
	    KP_STATE_AVAILABLE), KP_OK, "reserved -> available releases");
	is_int(kp_pool_transition(p, ref, KP_STATE_AVAILABLE,
	    KP_STATE_SPENT), KP_OK, "available -> spent");
	is_int(kp_pool_transition(p, ref, KP_STATE_SPENT,
	    KP_STATE_AVAILABLE), KP_ESTATE, "spent -> available: KP_ESTATE");
	is_int(kp_pool_delete(p, ref), KP_OK, "delete a spent key");

	/* someone else holds it */
	is_int(kp_client_reserve(bob, "alice",
	    &(struct kp_reserve_opts){ .group_id = (const uint8_t *)"g4",
	    .group_id_len = 2 }, &res), KP_OK, "bob reserves a key");
	is_int(kp_pool_transition(p, res.ref, KP_STATE_AVAILABLE,
	    KP_STATE_RESERVED), KP_EBUSY,
	    "alice (not synced) reserving it: KP_EBUSY");
	is_int(kp_pool_sync(p, &r), KP_OK, "sync");
	is_int(kp_pool_transition(p, res.ref, KP_STATE_RESERVED,
	    KP_STATE_AVAILABLE), KP_EPERM,
	    "releasing bob's reservation: KP_EPERM");
	is_int(kp_client_spend(bob, res.ref, (const uint8_t *)"g4", 2), KP_OK,
	    "bob spends it");
	is_int(kp_pool_transition(p, res.ref, KP_STATE_RESERVED,
	    KP_STATE_SPENT), KP_EPERM, "spending it again: KP_EPERM");
	kp_reservation_free(&res);

	/* retire */
	if (kp_pool_list(p, KP_STATE_AVAILABLE, &keys, &n) != KP_OK || n == 0)
		bail("list");
	memcpy(ref, kp_key_ref(keys[0]), KP_REF_LEN);
	kp_keys_free(keys, n);
	avail = server_available();
	is_int(kp_pool_delete(p, ref), KP_EBUSY,
	    "deleting an available key: KP_EBUSY");
	is_int(kp_pool_transition(p, ref, KP_STATE_AVAILABLE,
	    KP_STATE_EXPIRED), KP_OK, "available -> expired retires");
	is_int(server_available(), avail - 1, "one fewer on the server");
	is_int(pt_key(p, ref, &k), KP_OK, "get");
	is_int(kp_key_has_private(k), 0, "wiped");
	is_int(kp_pool_sync(p, &r), KP_OK, "sync");
	report_is(&r, 0, 1, 0, 0, "the spent key pulled, nothing else");
	kp_key_free(k);
}

static void
test_offline(struct kp_pool *p)
{
	struct kp_sync_report	r;
	struct kp_status	s;
	struct kp_counts	before, after;

	if (kp_pool_counts(p, 0, &before) != KP_OK)
		bail("counts");
	is_int(kp_pool_set_server(p, "http://127.0.0.1:1"), KP_OK,
	    "point at a dead port");
	is_int(kp_pool_refresh(p, KP_REFRESH_WATERMARK, &r), KP_ENET,
	    "refresh: KP_ENET");
	is_int(r.online, 0, "not online");
	is_int(kp_pool_status(p, &s), KP_OK, "status");
	is_int(s.health, KP_HEALTH_OFFLINE, "offline");
	is_int(kp_pool_counts(p, 0, &after), KP_OK, "counts");
	ok(memcmp(&before, &after, sizeof(before)) == 0, "store unchanged");
	is_int(kp_pool_set_server(p, url), KP_OK, "back to the server");
	is_int(kp_pool_refresh(p, KP_REFRESH_WATERMARK, &r), KP_OK, "refresh");
	is_int(kp_pool_status(p, &s), KP_OK, "status");
	is_int(s.health, KP_HEALTH_OK, "ok again");
}

static void
test_reject(struct kp_pool *p)
{
	struct kp_sync_report	 r;
	struct kp_key		**keys, *k = NULL;
	size_t			 n;
	uint8_t			 ref[KP_REF_LEN];
	int64_t			 saved = pt_clock;

	/* the pool's clock 30 days behind the server's: born expired */
	pt_clock -= 30 * 86400;
	if (kp_pool_generate(p, 1, 0) != KP_OK ||
	    kp_pool_list(p, KP_STATE_CREATED, &keys, &n) != KP_OK || n != 1)
		bail("generate: %s", kp_errmsg(p));
	memcpy(ref, kp_key_ref(keys[0]), KP_REF_LEN);
	kp_keys_free(keys, n);
	is_int(kp_pool_transition(p, ref, KP_STATE_CREATED,
	    KP_STATE_AVAILABLE), KP_EREJECTED,
	    "uploading a key the server finds expired: KP_EREJECTED");
	ok(strstr(kp_errmsg(p), "rejected: expired") != NULL,
	    "with the server's reason: %s", kp_errmsg(p));
	is_int(pt_key(p, ref, &k), KP_OK, "get");
	is_int(kp_key_state(k), KP_STATE_CREATED, "the key stays created");
	is_int(kp_pool_sync(p, &r), KP_OK, "sync");
	report_is(&r, 1, 0, 0, 0, "sync gives up on it: expired");
	is_int(pt_key(p, ref, &k), KP_OK, "get");
	is_int(kp_key_state(k), KP_STATE_EXPIRED, "expired");
	is_int(kp_key_has_private(k), 0, "and wiped");
	kp_key_free(k);
	pt_clock = saved;
}

static void
test_reset(struct kp_pool *p)
{
	struct kp_sync_report	r;
	struct kp_counts	before, after;
	const char		*url2;

	if (kp_pool_counts(p, 0, &before) != KP_OK)
		bail("counts");
	pt_server_stop();
	url2 = pt_server(1);
	is_int(kp_pool_set_server(p, url2), KP_OK,
	    "a new server with an empty database");
	is_int(kp_pool_sync(p, &r), KP_OK,
	    "sync registers again (%s)", kp_errmsg(p));
	report_is(&r, 0, before.n[KP_STATE_AVAILABLE] +
	    before.n[KP_STATE_RESERVED], 0, before.n[KP_STATE_AVAILABLE] +
	    before.n[KP_STATE_RESERVED], "the keys it lost are uploaded again");
	is_int(kp_pool_counts(p, 0, &after), KP_OK, "counts");
	is_int(after.n[KP_STATE_AVAILABLE], before.n[KP_STATE_AVAILABLE] +
	    before.n[KP_STATE_RESERVED], "all available again");
	is_int(kp_pool_sync(p, &r), KP_OK, "sync again");
	report_is(&r, 0, 0, 0, 0, "nothing more");
}

static void
test_register(void)
{
	struct kp_pool		*q;
	struct kp_sync_report	 r;
	sqlite3			*db;

	if (kp_pool_open(pt_file("alice2.db"), NULL, "alice", NULL,
	    &q) != KP_OK)
		bail("open: %s", kp_errmsg(q));
	kp_pool_set_clock(q, pt_now, NULL);
	if (kp_pool_set_server(q, url) != KP_OK)
		bail("set_server");
	is_int(kp_pool_sync(q, &r), KP_ECONFLICT,
	    "another key under alice's name: KP_ECONFLICT");
	is_string(kp_errmsg(q), "register: the user name \"alice\" (device "
	    "\"default\") is taken by another key", "and says so");
	kp_pool_close(q);

	/* our own key registered before: the 409 is fine */
	if (sqlite3_open(pt_file("alice.db"), &db) != SQLITE_OK ||
	    sqlite3_exec(db, "UPDATE identity SET registered_at = NULL",
	    NULL, NULL, NULL) != SQLITE_OK)
		bail("sqlite3");
	sqlite3_close(db);
	if (kp_pool_open(pt_file("alice.db"), NULL, NULL, NULL, &q) != KP_OK)
		bail("open: %s", kp_errmsg(q));
	kp_pool_set_clock(q, pt_now, NULL);
	if (kp_pool_set_server(q, url) != KP_OK)
		bail("set_server");
	is_int(kp_pool_sync(q, &r), KP_OK,
	    "registering again with our own key: 409 is fine (%s)",
	    kp_errmsg(q));
	kp_pool_close(q);
}

int
main(void)
{
	struct kp_pool	*p;
	uint8_t		 pk[32], sk[64];

	if (sodium_init() < 0)
		bail("sodium_init");
	pt_init();
	url = pt_server(1);
	if (kp_pool_open(pt_file("alice.db"), NULL, "alice", NULL, &p) != KP_OK)
		bail("open: %s", kp_errmsg(p));
	kp_pool_set_clock(p, pt_now, NULL);
	if (kp_pool_set_server(p, url) != KP_OK)
		bail("set_server");
	randombytes_buf(bob_seed, sizeof(bob_seed));
	crypto_sign_seed_keypair(pk, sk, bob_seed);
	sodium_memzero(sk, sizeof(sk));
	if (kp_client_new(url, "bob", bob_seed, &bob) != KP_OK ||
	    kp_client_register(bob) != KP_OK)
		bail("bob: %s", bob ? kp_client_errmsg(bob) : "no client");
	test_grow(p);
	test_pull(p);
	test_expiry(p);
	test_moves(p);
	test_offline(p);
	test_reject(p);
	test_register();
	test_reset(p);
	kp_client_free(bob);
	kp_pool_close(p);
	return done_testing();
}
