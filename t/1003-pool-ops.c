/* SPDX-License-Identifier: ISC */
/*
 * 1003-pool-ops: the pool without a server: generation (one transaction,
 * hard cap, lifetimes from the pool clock, deterministic refs, valid
 * KeyPackages), the transitions that need no server and the ones that
 * do (KP_ENET), bad moves, deletion, take, expiry by the clock.
 */

#include <sodium.h>

#include "1-pooltest.h"

static void
test_generate(struct kp_pool *p)
{
	struct kp_counts	 c;
	struct kp_key		**keys, *k = NULL;
	struct kp_keypackage	*kp;
	uint8_t			*buf, ref[KP_REF_LEN];
	size_t			 n, len, i;
	int			 bad = 0;

	is_int(kp_pool_generate(p, 0, 0), KP_OK, "generate 0 is a no-op");
	is_int(kp_pool_generate(p, 65, 0), KP_ETOOBIG,
	    "65 keys pass the hard cap of 64: KP_ETOOBIG");
	ok(strstr(kp_errmsg(p), "over the hard cap of 64") != NULL,
	    "message: %s", kp_errmsg(p));
	is_int(kp_pool_generate(p, 32, 0), KP_OK, "generate 32");
	is_int(kp_pool_counts(p, 0, &c), KP_OK, "counts");
	is_int(c.n[KP_STATE_CREATED], 32, "32 created");
	is_int(c.total, 32, "32 in all");
	is_int(kp_pool_generate(p, 33, 0), KP_ETOOBIG,
	    "33 more would make 65: KP_ETOOBIG");
	is_int(kp_pool_counts(p, 0, &c), KP_OK, "counts");
	is_int(c.total, 32, "a refused generate adds nothing");
	is_int(kp_pool_generate(p, 2, 1), KP_ETOOBIG,
	    "two last-resort keys at once: KP_ETOOBIG");
	is_int(kp_pool_generate(p, 1, 1), KP_OK,
	    "a last-resort key is not held to the cap");
	is_int(kp_pool_counts(p, 0, &c), KP_OK, "counts");
	is_int(c.last_resort, 1, "one last-resort key");

	is_int(kp_pool_list(p, KP_STATE_CREATED, &keys, &n), KP_OK, "list");
	is_int(n, 33, "33 created");
	for (i = 0; i < n; i++) {
		k = keys[i];
		if (kp_pool_keypackage(p, kp_key_ref(k), &buf, &len) != KP_OK) {
			bad++;
			continue;
		}
		if (kp_keypackage_ref_compute(kp_key_suite(k), buf, len, ref) !=
		    KP_OK || memcmp(ref, kp_key_ref(k), KP_REF_LEN) != 0)
			bad++;
		else if (kp_keypackage_decode(buf, len, 0, &kp) != KP_OK)
			bad++;
		else {
			if (kp_keypackage_validate(kp, (uint64_t)pt_clock) !=
			    KP_OK ||
			    kp_keypackage_not_after(kp) !=
			    (uint64_t)kp_key_time(k, KP_T_NOT_AFTER) ||
			    kp_keypackage_has_extension(kp,
			    KP_EXT_LAST_RESORT) != kp_key_last_resort(k) ||
			    len != kp_key_keypackage_len(k))
				bad++;
			kp_keypackage_free(kp);
		}
		free(buf);
		if (kp_key_time(k, KP_T_NOT_BEFORE) != pt_clock - 3600 ||
		    kp_key_time(k, KP_T_NOT_AFTER) != pt_clock + 14 * 86400 ||
		    kp_key_time(k, KP_T_CREATED) != pt_clock ||
		    kp_key_suite(k) != KP_SUITE_X25519_AES128GCM ||
		    !kp_key_has_private(k) || kp_key_epoch(k) != -1)
			bad++;
	}
	k = NULL;
	is_int(bad, 0, "each ref is RefHash of its bytes, which validate, "
	    "with lifetimes from the pool clock");
	is_int(pt_key(p, kp_key_ref(keys[0]), &k), KP_OK, "get one");
	ok(pt_key_same(k, keys[0]), "get agrees with list");
	kp_key_free(k);
	kp_keys_free(keys, n);
}

static void
test_moves(struct kp_pool *p)
{
	struct kp_key		**keys, *k = NULL;
	struct kp_kpsecrets	 sec;
	struct kp_counts	 c;
	uint8_t			 missing[KP_REF_LEN];
	size_t			 n;

	if (kp_pool_list(p, KP_STATE_CREATED, &keys, &n) != KP_OK || n < 4)
		bail("list");
	is_int(kp_pool_transition(p, kp_key_ref(keys[0]), KP_STATE_CREATED,
	    KP_STATE_AVAILABLE), KP_ENET,
	    "created -> available without a server: KP_ENET");
	is_int(kp_pool_transition(p, kp_key_ref(keys[0]), KP_STATE_AVAILABLE,
	    KP_STATE_RESERVED), KP_ESTATE,
	    "from a state the key is not in: KP_ESTATE");
	is_int(kp_pool_transition(p, kp_key_ref(keys[0]), KP_STATE_CREATED,
	    KP_STATE_SPENT), KP_ESTATE, "created -> spent: KP_ESTATE");
	is_int(kp_pool_transition(p, kp_key_ref(keys[0]), KP_STATE_CREATED,
	    KP_STATE_RESERVED), KP_ESTATE, "created -> reserved: KP_ESTATE");
	is_int(kp_pool_transition(p, kp_key_ref(keys[0]), KP_STATE_CREATED,
	    KP_STATE_CREATED), KP_ESTATE, "created -> created: KP_ESTATE");
	is_int(kp_pool_transition(p, kp_key_ref(keys[0]), KP_STATE_CREATED, 5),
	    KP_EINVAL, "a bad state: KP_EINVAL");
	is_int(kp_pool_transition(p, kp_key_ref(keys[0]), -1, KP_STATE_EXPIRED),
	    KP_EINVAL, "a negative state: KP_EINVAL");
	memset(missing, 0x42, sizeof(missing));
	is_int(kp_pool_transition(p, missing, KP_STATE_CREATED,
	    KP_STATE_EXPIRED), KP_ENOTFOUND, "an unknown ref: KP_ENOTFOUND");

	is_int(kp_pool_take(p, kp_key_ref(keys[0]), &sec), KP_ESTATE,
	    "take before a Welcome: KP_ESTATE");
	is_int(kp_pool_take(p, missing, &sec), KP_ENOTFOUND,
	    "take of an unknown ref: KP_ENOTFOUND");
	is_int(kp_pool_transition(p, kp_key_ref(keys[0]), KP_STATE_CREATED,
	    KP_STATE_EXPIRED), KP_OK, "created -> expired works offline");
	is_int(pt_key(p, kp_key_ref(keys[0]), &k), KP_OK, "get it");
	is_int(kp_key_state(k), KP_STATE_EXPIRED, "expired");
	is_int(kp_key_has_private(k), 0, "its private keys are wiped");
	is_int(kp_key_time(k, KP_T_EXPIRED), pt_clock, "expired_at is now");
	is_int(kp_pool_take(p, kp_key_ref(keys[0]), &sec), KP_ENOTFOUND,
	    "take of a wiped key: KP_ENOTFOUND");
	is_int(kp_pool_transition(p, kp_key_ref(keys[0]), KP_STATE_EXPIRED,
	    KP_STATE_AVAILABLE), KP_ESTATE, "expired -> available: KP_ESTATE");
	is_int(kp_pool_transition(p, kp_key_ref(keys[0]), KP_STATE_EXPIRED,
	    KP_STATE_CREATED), KP_ESTATE, "expired -> created: KP_ESTATE");

	is_int(kp_pool_delete(p, kp_key_ref(keys[0])), KP_OK,
	    "delete an expired key");
	is_int(kp_pool_delete(p, kp_key_ref(keys[1])), KP_OK,
	    "delete a created key");
	is_int(pt_key(p, kp_key_ref(keys[1]), &k), KP_ENOTFOUND, "it is gone");
	is_int(kp_pool_delete(p, kp_key_ref(keys[1])), KP_ENOTFOUND,
	    "delete again: KP_ENOTFOUND");
	is_int(kp_pool_counts(p, 0, &c), KP_OK, "counts");
	is_int(c.total, 31, "31 left");
	is_int(pt_sum(&c), (int)c.total, "the counts sum to the total");
	kp_key_free(k);
	kp_keys_free(keys, n);
}

static void
test_expire(struct kp_pool *p)
{
	struct kp_sync_report	r;
	struct kp_counts	c;
	struct kp_status	s;

	is_int(kp_pool_expire(p, &r), KP_OK, "expire now");
	is_int(r.expired, 0, "nothing is past not_after");
	pt_clock += 14 * 86400;
	is_int(kp_pool_expire(p, &r), KP_OK, "expire at not_after");
	is_int(r.expired, 0, "not_after itself is still valid");
	pt_clock += 1;
	is_int(kp_pool_expire(p, &r), KP_OK, "expire a second later");
	is_int(r.expired, 31, "all 31 expired");
	is_int(kp_pool_counts(p, 0, &c), KP_OK, "counts");
	is_int(c.n[KP_STATE_EXPIRED], 31, "31 expired");
	is_int(pt_sum(&c), 31, "none elsewhere");
	is_int(kp_pool_expire(p, &r), KP_OK, "expire again");
	is_int(r.expired, 0, "idempotent");
	is_int(kp_pool_refresh(p, KP_REFRESH_WATERMARK, &r), KP_ENET,
	    "refresh without a server: KP_ENET");
	is_int(r.online, 0, "not online");
	is_int(kp_pool_status(p, &s), KP_OK, "status");
	is_int(s.health, KP_HEALTH_OFFLINE, "offline");
}

int
main(void)
{
	struct kp_pool	*p;

	if (sodium_init() < 0)
		bail("sodium_init");
	pt_init();
	if (kp_pool_open(pt_file("o.db"), NULL, "olivia", NULL, &p) != KP_OK)
		bail("open: %s", kp_errmsg(p));
	kp_pool_set_clock(p, pt_now, NULL);
	test_generate(p);
	test_moves(p);
	test_expire(p);
	kp_pool_close(p);
	return done_testing();
}
