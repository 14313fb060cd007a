/* SPDX-License-Identifier: ISC */
/*
 * 1026-pool-rotate: refresh to target and rotation against a real
 * kpool-server.  A background refresh (KP_REFRESH_WATERMARK) leaves a
 * pool above its low watermark under a raised target; KP_REFRESH_TARGET
 * tops it up.  kp_pool_rotate retires every available key (the server
 * keeps their refs as tombstones and never hands one out again),
 * expires them here with their private keys wiped, leaves the reserved
 * key to finish, and makes fresh keys to target.  Another user's
 * kp_client_status learns has_keys alone.
 */

#include <sodium.h>
#include <sqlite3.h>

#include "1-pooltest.h"

/* 1 when the server's database holds ref as a tombstone. */
static int
tombstone(const uint8_t ref[KP_REF_LEN])
{
	sqlite3		*db;
	sqlite3_stmt	*st = NULL;
	int		 n = -1;

	if (sqlite3_open_v2(pt_file("server0.db"), &db, SQLITE_OPEN_READONLY,
	    NULL) == SQLITE_OK && sqlite3_prepare_v2(db, "SELECT count(*) "
	    "FROM tombstones WHERE kind = 0 AND value = ?", -1, &st, NULL) ==
	    SQLITE_OK) {
		sqlite3_bind_blob(st, 1, ref, KP_REF_LEN, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			n = sqlite3_column_int(st, 0);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static uint32_t
count(struct kp_pool *p, int state)
{
	struct kp_counts	c;

	if (kp_pool_counts(p, 0, &c) != KP_OK)
		bail("counts: %s", kp_errmsg(p));
	return c.n[state];
}

int
main(void)
{
	struct kp_pool		 *p;
	struct kp_client	 *bob;
	struct kp_sync_report	  r;
	struct kp_reservation	  res, again;
	struct kp_remote_status	  rs;
	struct kp_key		**old = NULL, **now = NULL, *k = NULL;
	uint8_t			  seed[KP_SIGN_SEED_LEN];
	const char		 *url;
	size_t			  nold = 0, nnow = 0, i, j;
	int			  bad;

	if (sodium_init() < 0)
		bail("sodium_init");
	pt_init();
	url = pt_server(1);
	if (kp_pool_open(pt_file("a.db"), NULL, "alice", NULL, &p) != KP_OK)
		bail("open: %s", kp_errmsg(p));
	kp_pool_set_clock(p, pt_now, NULL);
	if (kp_pool_set_server(p, url) != KP_OK)
		bail("set_server: %s", kp_errmsg(p));
	randombytes_buf(seed, sizeof(seed));
	if (kp_client_new(url, "bob", seed, &bob) != KP_OK ||
	    kp_client_register(bob) != KP_OK)
		bail("bob");

	/* refresh to target */
	is_int(kp_pool_refresh(p, KP_REFRESH_WATERMARK, &r), KP_OK,
	    "first refresh");
	is_int(count(p, KP_STATE_AVAILABLE), 33, "32 + 1 last-resort key");
	is_int(kp_client_status(bob, "alice", &rs), KP_OK,
	    "bob asks for alice's status");
	ok(rs.counts == 0 && rs.has_keys == 1 && rs.available == 0,
	    "another user's: has_keys, no counts");
	is_int(kp_pool_config_set(p, "target", "48"), KP_OK, "target = 48");
	is_int(kp_pool_refresh(p, KP_REFRESH_WATERMARK, &r), KP_OK,
	    "a background refresh");
	is_int(r.generated, 0, "makes nothing: 32 is above the watermark");
	is_int(kp_pool_refresh(p, KP_REFRESH_TARGET, &r), KP_OK,
	    "a refresh to target");
	is_int(r.generated, 16, "makes the 16 missing");
	is_int(r.uploaded, 16, "and uploads them");
	is_int(count(p, KP_STATE_AVAILABLE), 49, "48 + 1 available");
	is_int(kp_pool_config_set(p, "target", "32"), KP_OK, "target = 32");

	/* rotate: a reserved key finishes, the available ones go */
	memset(&res, 0, sizeof(res));
	is_int(kp_client_reserve(bob, "alice", NULL, &res), KP_OK,
	    "bob reserves a key");
	if (kp_pool_list(p, KP_STATE_AVAILABLE, &old, &nold) != KP_OK)
		bail("list: %s", kp_errmsg(p));
	is_int(kp_pool_rotate(p, &r), KP_OK, "rotate (%s)", kp_errmsg(p));
	is_int(r.retired, 48, "the 47 + 1 last-resort available keys "
	    "retired");
	is_int(r.generated, 32, "31 + 1 last-resort made: 32 with the "
	    "reserved one");
	is_int(r.uploaded, 32, "and uploaded");
	is_int(count(p, KP_STATE_RESERVED), 1, "bob's key is still reserved");
	is_int(count(p, KP_STATE_AVAILABLE), 32, "32 fresh keys available");
	bad = 0;
	for (i = 0; i < nold; i++) {
		if (memcmp(kp_key_ref(old[i]), res.ref, KP_REF_LEN) == 0)
			continue;	/* the one bob had */
		if (pt_key(p, kp_key_ref(old[i]), &k) != KP_OK ||
		    kp_key_state(k) != KP_STATE_EXPIRED ||
		    kp_key_has_private(k) ||
		    tombstone(kp_key_ref(old[i])) != 1)
			bad++;
	}
	kp_key_free(k);
	is_int(bad, 0, "each old key: expired here, wiped, a tombstone on "
	    "the server");
	is_int(kp_client_spend(bob, res.ref, NULL, 0), KP_OK,
	    "bob spends the reserved key: it finished its course");

	/* the server never hands out an old ref again */
	bad = 0;
	for (i = 0; i < 40; i++) {
		memset(&again, 0, sizeof(again));
		if (kp_client_reserve(bob, "alice", NULL, &again) != KP_OK) {
			bad++;
			continue;
		}
		for (j = 0; j < nold; j++)
			if (memcmp(kp_key_ref(old[j]), again.ref,
			    KP_REF_LEN) == 0)
				bad++;
		kp_reservation_free(&again);
	}
	is_int(bad, 0, "40 reserves hand out none of the old refs");
	if (kp_pool_list(p, KP_STATE_AVAILABLE, &now, &nnow) != KP_OK)
		bail("list: %s", kp_errmsg(p));
	kp_keys_free(now, nnow);
	kp_keys_free(old, nold);
	kp_reservation_free(&res);
	kp_client_free(bob);
	kp_pool_close(p);
	return done_testing();
}
