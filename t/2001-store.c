/* SPDX-License-Identifier: ISC */
/*
 * 2001-store: the server's store on a fresh database of the backend
 * under test (kps_db.h): save and
 * get, reserve oldest first, double spend, reservation expiry (release
 * and burn), expired keys, listing filters, tombstones, last resort,
 * request ids, retire, counts.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "tap.h"
/* The store is server code, linked from libkps.a. */
#include "kps.h"
#include "kps_db.h"

#define T0	1700000000

static char	dir[] = "/tmp/kpool-2001.XXXXXX";
static char	path[512];
static int	seq;

static void
mkkey(struct kps_key *k, const char *user, int64_t uploaded, int64_t na,
    int lr)
{
	static uint8_t	bytes[64];

	memset(k, 0, sizeof(*k));
	seq++;
	memset(k->ref, 0, sizeof(k->ref));
	k->ref[0] = (uint8_t)(seq >> 8);
	k->ref[1] = (uint8_t)seq;
	memset(k->init_key, 0xa0, sizeof(k->init_key));
	k->init_key[0] = (uint8_t)(seq >> 8);
	k->init_key[1] = (uint8_t)seq;
	snprintf(k->username, sizeof(k->username), "%s", user);
	memset(bytes, seq & 0xff, sizeof(bytes));
	k->bytes = bytes;
	k->len = sizeof(bytes);
	k->uploaded_at = uploaded;
	k->not_after = na;
	k->suite = 1;
	k->last_resort = lr;
}

static struct kps_reserve
rq(const char *caller, const char *target, const char *rid, int64_t now)
{
	struct kps_reserve r;

	memset(&r, 0, sizeof(r));
	r.caller = caller;
	r.target = target;
	r.group_id = (const uint8_t *)"group-1";
	r.group_id_len = 7;
	r.request_id = rid;
	r.now = now;
	r.ttl = 60;
	return r;
}

int
main(void)
{
	struct kps_store_conf	 conf = { 0 };
	struct kps_store	*s = NULL, *sb = NULL;
	struct kps_key		 k[8], got, *list;
	struct kps_reservation	 res, res2;
	struct kps_reserve	 r;
	struct kps_counts	 c;
	uint8_t			 pk[32], pk2[32], out[32];
	uint64_t		 n;
	size_t			 nl;
	int			 i;

	plan(109);
	if (mkdtemp(dir) == NULL)
		bail("mkdtemp");
	db_new(path, sizeof(path), dir);
	diag("backend: %s", db_backend());
	if (kps_store_open(path, &conf, &s) != KP_OK)
		bail("open: %s", s ? kps_store_errmsg(s) : "?");

	/* users */
	memset(pk, 1, sizeof(pk));
	memset(pk2, 2, sizeof(pk2));
	is_int(kps_user_add(s, "alice", pk, T0), KP_OK, "add alice");
	is_int(kps_user_add(s, "alice", pk, T0), KP_OK,
	    "add alice again with the same key: no change");
	is_int(kps_user_add(s, "alice", pk2, T0), KP_EEXIST,
	    "alice with another key: taken");
	is_int(kps_device_get(s, "alice", "default", out, NULL), KP_OK,
	    "get alice");
	is_blob(out, 32, pk, 32, "alice's key");
	is_int(kps_device_get(s, "nobody", "default", out, NULL),
	    KP_ENOTFOUND, "unknown user");
	is_int(kps_user_add(s, "bob", pk2, T0), KP_OK, "add bob");

	/* nonces: insert-or-fail on (keyid, nonce, created) */
	is_int(kps_nonce_seen(s, "alice", "n0nce-1", T0), KP_OK,
	    "a new nonce is not seen");
	is_int(kps_nonce_add(s, "alice", "n0nce-1", T0), KP_OK,
	    "remember it");
	is_int(kps_nonce_add(s, "alice", "n0nce-1", T0), KP_EEXIST,
	    "again: a replay");
	is_int(kps_nonce_seen(s, "alice", "n0nce-1", T0), KP_EEXIST,
	    "it is seen");
	is_int(kps_nonce_add(s, "bob", "n0nce-1", T0), KP_OK,
	    "the same nonce of another keyid");
	is_int(kps_nonce_add(s, "alice", "n0nce-2", T0 + 10), KP_OK,
	    "a later one");
	is_int(kps_nonce_prune(s, T0 + 1, 100, &n), KP_OK, "prune");
	is_int((int)n, 2, "the two created before T0 + 1 go");
	is_int(kps_nonce_add(s, "alice", "n0nce-2", T0 + 10), KP_EEXIST,
	    "the later one stays");

	/* save and get by ref */
	mkkey(&k[0], "alice", T0, T0 + 1000, 0);
	is_int(kps_key_save(s, &k[0]), KP_OK, "save a key");
	is_int(kps_key_get(s, k[0].ref, T0, &got), KP_OK, "get it by ref");
	is_blob(got.bytes, got.len, k[0].bytes, k[0].len, "same bytes");
	is_string(got.username, "alice", "owner");
	is_int(got.status, KP_STATE_AVAILABLE, "available");
	is_int(got.not_after, T0 + 1000, "not_after");
	is_int(got.uploaded_at, T0, "uploaded_at");
	is_blob(got.init_key, 32, k[0].init_key, 32, "init_key");
	kps_key_clear(&got);
	is_int(kps_key_save(s, &k[0]), KP_EEXIST, "same ref again: exists");
	{
		struct kps_key dup = k[0];

		dup.ref[31] = 0x55;	/* another ref, the same init_key */
		is_int(kps_key_save(s, &dup), KP_ECONFLICT,
		    "a live init_key reused: conflict");
	}
	is_int(kps_key_get(s, (const uint8_t *)"0123456789abcdef0123456789abcdef",
	    T0, &got), KP_ENOTFOUND, "unknown ref");

	/* oldest first; bob reserves, alice's second key is younger */
	mkkey(&k[1], "alice", T0 + 10, T0 + 1000, 0);
	mkkey(&k[2], "alice", T0 - 10, T0 + 5, 0);	/* oldest, expires */
	is_int(kps_key_save(s, &k[1]), KP_OK, "save a younger key");
	is_int(kps_key_save(s, &k[2]), KP_OK, "save an older, expiring key");
	r = rq("bob", "alice", "req-1", T0 + 20);
	is_int(kps_reserve(s, &r, &res), KP_OK, "bob reserves");
	is_blob(res.ref, 32, k[0].ref, 32,
	    "the oldest unexpired key (the expired one is skipped)");
	is_int(res.expires_at, T0 + 80, "expires after the TTL");
	is_int(res.last_resort, 0, "not last resort");
	ok(strlen(res.reservation_id) == 32, "a reservation id");
	is_int(kps_reserve(s, &r, &res2), KP_OK, "retry with the same id");
	is_blob(res2.ref, 32, res.ref, 32, "the same key");
	is_string(res2.reservation_id, res.reservation_id,
	    "the same reservation");
	is_int(res2.replayed, 1, "marked as a replay");
	kps_reservation_clear(&res2);

	/* listing filters by status and expiry */
	is_int(kps_list_available_for_user(s, "alice", T0 + 20, &list, &nl),
	    KP_OK, "list available");
	is_int(nl, 1, "one available (one reserved, one expired)");
	if (nl == 1)
		is_blob(list[0].ref, 32, k[1].ref, 32, "it is the young one");
	else
		ok(0, "it is the young one");
	kps_key_list_free(list, nl);
	is_int(kps_key_list(s, "alice", NULL, KP_STATE_EXPIRED, T0 + 20,
	    &list, &nl),
	    KP_OK, "list expired");
	is_int(nl, 1, "one expired");
	kps_key_list_free(list, nl);
	is_int(kps_key_list(s, "alice", NULL, -1, T0 + 20, &list, &nl),
	    KP_OK,
	    "list all");
	is_int(nl, 3, "three keys");
	if (nl == 3) {
		is_int(list[1].status, KP_STATE_RESERVED, "second is reserved");
		is_string(list[1].reserved_by, "bob", "by bob");
	} else
		skip(2, "list");
	kps_key_list_free(list, nl);

	/* spend: who, when, which group; no double spend */
	is_int(kps_spend(s, "carol", res.ref, (const uint8_t *)"g", 1,
	    T0 + 21), KP_EFORBIDDEN, "someone else cannot spend bob's key");
	is_int(kps_spend(s, "bob", res.ref, (const uint8_t *)"g2", 2,
	    T0 + 22), KP_EGROUP, "bob cannot spend it for another group than "
	    "his reservation's");
	is_int(kps_spend(s, "bob", res.ref, NULL, 0, T0 + 22), KP_OK,
	    "bob spends, naming no group");
	is_int(kps_key_get(s, res.ref, T0 + 22, &got), KP_OK, "get spent");
	is_int(got.status, KP_STATE_SPENT, "spent");
	is_string(got.spent_by, "bob", "spent by bob");
	is_int(got.spent_at, T0 + 22, "spent at");
	is_blob(got.group_id, got.group_id_len, "group-1", 7,
	    "for the reservation's group");
	kps_key_clear(&got);
	is_int(kps_spend(s, "bob", res.ref, (const uint8_t *)"g2", 2,
	    T0 + 23), KP_ECONFLICT, "double spend refused");
	is_int(kps_spend(s, "alice", res.ref, NULL, 0, T0 + 23),
	    KP_ECONFLICT, "the owner cannot spend it again either");
	kps_reservation_clear(&res);

	/* tombstones: a spent ref, its init_key */
	is_int(kps_key_save(s, &k[0]), KP_ESTATE, "spent ref re-uploaded");
	{
		struct kps_key again = k[0];

		again.ref[31] = 0x77;
		is_int(kps_key_save(s, &again), KP_ECONFLICT,
		    "spent init_key reused in a new key");
	}

	/* reservation timeout: back to available, then reservable */
	r = rq("bob", "alice", "req-2", T0 + 30);
	is_int(kps_reserve(s, &r, &res), KP_OK, "reserve the young key");
	is_blob(res.ref, 32, k[1].ref, 32, "young key");
	r = rq("carol", "alice", "req-3", T0 + 31);
	is_int(kps_reserve(s, &r, &res2), KP_EEXHAUSTED,
	    "nothing else: exhausted");
	is_int(kps_release_expired_reservations(s, T0 + 89, &n), KP_OK,
	    "sweep before the TTL");
	is_int(n, 0, "nothing ended");
	is_int(kps_release_expired_reservations(s, T0 + 90, &n), KP_OK,
	    "sweep at the TTL");
	is_int(n, 1, "one reservation ended");
	is_int(kps_spend(s, "bob", k[1].ref, NULL, 0, T0 + 91), KP_EGONE,
	    "bob's late spend: reservation expired");
	r = rq("carol", "alice", "req-3", T0 + 91);
	is_int(kps_reserve(s, &r, &res2), KP_OK, "carol reserves it again");
	is_blob(res2.ref, 32, k[1].ref, 32, "the same key, reused");
	is_int(kps_release(s, "alice", k[1].ref, T0 + 92), KP_EFORBIDDEN,
	    "the owner cannot release carol's reservation");
	is_int(kps_release(s, "carol", k[1].ref, T0 + 92), KP_OK,
	    "carol releases");
	is_int(kps_release(s, "dave", k[1].ref, T0 + 92), KP_ESTATE,
	    "release of an available key: not reserved");
	kps_reservation_clear(&res);
	kps_reservation_clear(&res2);

	/* owner reserves a named key, spends an available one */
	r = rq("bob", "alice", NULL, T0 + 93);
	r.ref = k[1].ref;
	is_int(kps_reserve(s, &r, &res), KP_EFORBIDDEN,
	    "a named key only for its owner");
	r.caller = "alice";
	is_int(kps_reserve(s, &r, &res), KP_OK, "the owner names a key");
	kps_reservation_clear(&res);
	is_int(kps_reserve(s, &r, &res), KP_ECONFLICT,
	    "named key no longer available");
	is_int(kps_spend(s, "alice", k[1].ref, NULL, 0, T0 + 94), KP_OK,
	    "the owner spends the key it reserved");

	/* last resort: served when empty, never consumed */
	mkkey(&k[3], "alice", T0, T0 + 1000, 1);
	is_int(kps_key_save(s, &k[3]), KP_OK, "save a last-resort key");
	for (i = 0; i < 2; i++) {
		r = rq("bob", "alice", NULL, T0 + 100 + i);
		is_int(kps_reserve(s, &r, &res), KP_OK, "reserve when empty");
		is_int(res.last_resort, 1, "the last-resort key");
		is_blob(res.ref, 32, k[3].ref, 32, "it is the one");
		kps_reservation_clear(&res);
	}
	is_int(kps_key_get(s, k[3].ref, T0 + 102, &got), KP_OK,
	    "get the last-resort key");
	is_int(got.status, KP_STATE_AVAILABLE, "it is available");
	ok(strcmp(got.reserved_by, "bob") == 0 && got.reserved_at == T0 + 101,
	    "it records its latest handing out: by bob at T0 + 101");
	is_blob(got.group_id, got.group_id_len, "group-1", 7,
	    "for his group");
	kps_key_clear(&got);
	is_int(kps_spend(s, "bob", k[3].ref, NULL, 0, T0 + 103), KP_OK,
	    "spending the last-resort key is accepted");
	is_int(kps_count_by_status(s, "alice", T0 + 103, &c), KP_OK,
	    "counts");
	is_int(c.n[KP_STATE_AVAILABLE], 1, "the last-resort key stays available");
	is_int(c.n[KP_STATE_SPENT], 2, "two spent");
	is_int(c.n[KP_STATE_EXPIRED], 1, "one expired");
	is_int(c.last_resort, 1, "one last-resort key");

	/* expired keys are cleaned up; retire keeps a tombstone */
	is_int(kps_cleanup_expired(s, T0 + 103, 0, &n), KP_OK, "cleanup");
	is_int(n, 1, "one expired key removed");
	is_int(kps_retire(s, "bob", k[3].ref, T0 + 104), KP_EFORBIDDEN,
	    "retire someone else's key");
	is_int(kps_retire(s, "alice", k[3].ref, T0 + 104), KP_OK, "retire");
	is_int(kps_key_save(s, &k[3]), KP_ESTATE, "a retired ref cannot "
	    "come back");
	is_int(kps_cleanup_expired(s, T0 + 2000, 0, &n), KP_OK,
	    "cleanup after the spent keys expired");
	is_int(kps_key_get(s, k[0].ref, T0 + 2000, &got), KP_ENOTFOUND,
	    "the spent key is gone");
	is_int(kps_key_save(s, &k[0]), KP_ESTATE,
	    "its tombstone refuses the ref");
	{
		struct kps_key again = k[0];

		again.ref[31] = 0x78;
		again.not_after = T0 + 5000;
		is_int(kps_key_save(s, &again), KP_ECONFLICT,
		    "and its init_key");
	}

	/* burn mode */
	conf.burn = 1;
	if (kps_store_open(path, &conf, &sb) != KP_OK)
		bail("open burn");
	mkkey(&k[4], "bob", T0, T0 + 1000, 0);
	is_int(kps_key_save(sb, &k[4]), KP_OK, "bob's key");
	r = rq("alice", "bob", NULL, T0 + 200);
	is_int(kps_reserve(sb, &r, &res), KP_OK, "alice reserves it");
	kps_reservation_clear(&res);
	/* its TTL passed, not swept yet: it reads as burned already */
	is_int(kps_count_by_status(sb, "bob", T0 + 260, &c) == KP_OK &&
	    c.n[KP_STATE_SPENT] == 1 && c.n[KP_STATE_AVAILABLE] == 0, 1,
	    "before the sweep, counted spent");
	is_int(kps_key_get(sb, k[4].ref, T0 + 260, &got) == KP_OK &&
	    got.status == KP_STATE_SPENT, 1, "and got as spent");
	kps_key_clear(&got);
	is_int(kps_release_expired_reservations(sb, T0 + 260, &n), KP_OK,
	    "sweep under burn");
	is_int(kps_count_by_status(sb, "bob", T0 + 260, &c) == KP_OK &&
	    c.n[KP_STATE_SPENT] == 1 && c.n[KP_STATE_AVAILABLE] == 0, 1,
	    "the key is burned (spent), not available again");
	is_int(kps_spend(sb, "alice", k[4].ref, NULL, 0, T0 + 261), KP_EGONE,
	    "a late spend of a burned key: gone");
	kps_store_close(sb);

	kps_store_close(s);
	db_drop(path);
	rmdir(dir);
	return done_testing();
}
