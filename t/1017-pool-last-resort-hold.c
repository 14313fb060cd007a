/* SPDX-License-Identifier: ISC */
/*
 * 1017-pool-last-resort-hold: the owner moves its last-resort key to
 * reserved against a real kpool-server.  The server serves that key
 * without holding it, so its view says available; a sync must keep the
 * owner's hold until the hold's expiry (test clock), then make the key
 * available again, and a release in between must succeed.
 */

#include <sodium.h>

#include "1-pooltest.h"

/* the last-resort key of p (kp_key_free() it), or bail */
static struct kp_key *
last_resort_key(struct kp_pool *p)
{
	struct kp_key	**keys = NULL, *lr;
	size_t		  n = 0, i;

	if (kp_pool_list(p, -1, &keys, &n) != KP_OK)
		bail("list: %s", kp_errmsg(p));
	for (i = 0; i < n && !kp_key_last_resort(keys[i]); i++)
		;
	if (i == n)
		bail("no last-resort key");
	lr = keys[i];
	keys[i] = NULL;
	kp_keys_free(keys, n);
	return lr;
}

static int
state_of(struct kp_pool *p, const struct kp_key *k)
{
	struct kp_key	*now = NULL;
	int		 state;

	pt_get(p, kp_key_ref(k), &now);
	state = kp_key_state(now);
	kp_key_free(now);
	return state;
}

int
main(void)
{
	struct kp_pool		*p;
	struct kp_sync_report	 r;
	struct kp_key		*lr, *held = NULL;
	const char		*url;

	if (sodium_init() < 0)
		bail("sodium_init");
	pt_init();
	url = pt_server(1);
	if (kp_pool_open(pt_file("l.db"), NULL, "lee", NULL, &p) != KP_OK)
		bail("open");
	kp_pool_set_clock(p, pt_now, NULL);
	if (kp_pool_set_server(p, url) != KP_OK)
		bail("set_server: %s", kp_errmsg(p));
	if (kp_pool_config_set(p, "low_watermark", "1") != KP_OK ||
	    kp_pool_config_set(p, "target", "2") != KP_OK ||
	    kp_pool_config_set(p, "hard_cap", "4") != KP_OK)
		bail("policy: %s", kp_errmsg(p));
	is_int(kp_pool_refresh(p, KP_REFRESH_WATERMARK, &r), KP_OK,
	    "refresh publishes 2 keys and "
	    "the last-resort key");
	lr = last_resort_key(p);
	is_int(kp_key_state(lr), KP_STATE_AVAILABLE,
	    "the last-resort key is available");

	is_int(kp_pool_transition(p, kp_key_ref(lr), KP_STATE_AVAILABLE,
	    KP_STATE_RESERVED), KP_OK, "the owner holds it: available -> "
	    "reserved");
	pt_get(p, kp_key_ref(lr), &held);
	ok(kp_key_time(held, KP_T_RESERVATION_EXPIRES) > pt_clock,
	    "the hold has an expiry");
	is_int(kp_pool_sync(p, &r), KP_OK, "a sync");
	is_int(state_of(p, lr), KP_STATE_RESERVED,
	    "keeps the hold although the server says available");
	is_int(kp_pool_transition(p, kp_key_ref(lr), KP_STATE_RESERVED,
	    KP_STATE_AVAILABLE), KP_OK, "a release of the hold succeeds");
	is_int(state_of(p, lr), KP_STATE_AVAILABLE, "the key is available");

	is_int(kp_pool_transition(p, kp_key_ref(lr), KP_STATE_AVAILABLE,
	    KP_STATE_RESERVED), KP_OK, "held again");
	pt_set_clock(kp_key_time(held, KP_T_RESERVATION_EXPIRES) - 1);
	is_int(kp_pool_sync(p, &r), KP_OK, "a sync a second before it ends");
	is_int(state_of(p, lr), KP_STATE_RESERVED, "still held");
	pt_set_clock(kp_key_time(held, KP_T_RESERVATION_EXPIRES) + 1);
	is_int(kp_pool_sync(p, &r), KP_OK, "a sync once it has ended");
	is_int(state_of(p, lr), KP_STATE_AVAILABLE,
	    "the server's view applies: available");
	kp_key_free(lr);
	kp_key_free(held);
	kp_pool_close(p);
	return done_testing();
}
