/* SPDX-License-Identifier: ISC */
/*
 * 1012-pool-spent-wipe: spent keys whose private keys were never taken
 * keep them only until not_after: then expiry wipes them, a spent
 * last-resort key's too, and no byte of their sealed values is left in
 * the files.  A spent key still within its lifetime keeps them.  The
 * keys are put in spent as a pull from the server does.
 */

#include <sodium.h>
#include <sqlite3.h>

#include "1-pooltest.h"
#include "pool.h"
#include "store.h"

#define SEALED	72

/* Make one key (last-resort or not) and move it to spent; its ref. */
static void
spent_key(struct kp_pool *p, int last_resort, uint8_t ref[KP_REF_LEN],
    uint8_t sealed[SEALED])
{
	struct kp_key	**keys;
	size_t		 n;

	if (kp_pool_generate(p, 1, last_resort) != KP_OK ||
	    kp_pool_list(p, KP_STATE_CREATED, &keys, &n) != KP_OK || n != 1)
		bail("generate: %s", kp_errmsg(p));
	memcpy(ref, kp_key_ref(keys[0]), KP_REF_LEN);
	kp_keys_free(keys, n);
	pt_sealed(p->st->db, ref, sealed, SEALED);
	if (kp_store_set_state(p->st, ref, KP_STATE_CREATED, KP_STATE_SPENT,
	    pt_clock) != KP_OK)
		bail("spend: %s", kp_errmsg(p));
}

static int
has_private(struct kp_pool *p, const uint8_t ref[KP_REF_LEN])
{
	struct kp_key	*k = NULL;
	int		 has;

	pt_get(p, ref, &k);
	has = kp_key_has_private(k);
	kp_key_free(k);
	return has;
}

int
main(void)
{
	struct kp_pool		*p;
	struct kp_sync_report	 r;
	struct kp_kpsecrets	 sec;
	struct kp_key		*k = NULL;
	uint8_t			 lr[KP_REF_LEN], reg[KP_REF_LEN],
				 young[KP_REF_LEN], s_lr[SEALED],
				 s_reg[SEALED], s_young[SEALED];
	const char		*db;

	if (sodium_init() < 0)
		bail("sodium_init");
	pt_init();
	db = pt_file("e.db");
	if (kp_pool_open(db, NULL, "erin", NULL, &p) != KP_OK)
		bail("open: %s", kp_errmsg(p));
	kp_pool_set_clock(p, pt_now, NULL);
	spent_key(p, 1, lr, s_lr);
	spent_key(p, 0, reg, s_reg);
	pt_clock += 7 * 86400;
	spent_key(p, 0, young, s_young);	/* not_after a week later */

	is_int(kp_pool_expire(p, &r), KP_OK, "expire within the lifetime");
	ok(has_private(p, lr) && has_private(p, reg) && has_private(p, young),
	    "every spent key keeps its private keys");

	pt_clock += 7 * 86400 + 60;	/* past the first two's not_after */
	is_int(kp_pool_expire(p, &r), KP_OK, "expire past not_after");
	is_int(has_private(p, lr), 0,
	    "the spent last-resort key's private keys are wiped");
	is_int(has_private(p, reg), 0,
	    "the spent key never taken: wiped");
	is_int(has_private(p, young), 1,
	    "the spent key still within its lifetime keeps them");
	is_int(pt_key(p, lr, &k), KP_OK, "the last-resort key");
	is_int(kp_key_state(k), KP_STATE_SPENT,
	    "stays spent (the record is kept)");
	ok(!pt_store_has(db, s_lr, SEALED) && !pt_store_has(db, s_reg, SEALED),
	    "no byte of their sealed keys in the database, -wal or -shm");
	ok(pt_store_has(db, s_young, SEALED), "the young key's are there");
	is_int(kp_pool_take(p, lr, &sec), KP_ENOTFOUND,
	    "take of the last-resort key: KP_ENOTFOUND");
	is_int(kp_pool_take(p, young, &sec), KP_OK, "take of the young key");
	sodium_memzero(&sec, sizeof(sec));

	pt_clock += 7 * 86400;
	is_int(kp_pool_expire(p, &r), KP_OK, "expire again");
	is_int(has_private(p, young), 0, "taken: nothing left to wipe");
	kp_key_free(k);
	kp_pool_close(p);
	return done_testing();
}
