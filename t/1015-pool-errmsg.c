/* SPDX-License-Identifier: ISC */
/*
 * 1015-pool-errmsg: kp_errmsg tells of the last call only: after a
 * failure with its message, a later call that succeeds leaves it empty,
 * and a later failure shows its own message.
 */

#include <sodium.h>

#include "1-pooltest.h"

int
main(void)
{
	struct kp_pool		*p;
	struct kp_counts	 c;
	struct kp_key		*k = NULL;
	struct kp_sync_report	 r;
	uint8_t			 ref[KP_REF_LEN];

	if (sodium_init() < 0)
		bail("sodium_init");
	pt_init();
	if (kp_pool_open(pt_file("m.db"), NULL, "mia", NULL, &p) != KP_OK)
		bail("open: %s", kp_errmsg(p));
	memset(ref, 0x11, sizeof(ref));

	is_int(kp_pool_key(p, ref, &k), KP_ENOTFOUND, "get of no key");
	ok(strncmp(kp_errmsg(p), "no key 1111", 11) == 0, "its message: %s",
	    kp_errmsg(p));
	is_int(kp_pool_counts(p, 0, &c), KP_OK, "then counts succeeds");
	is_string(kp_errmsg(p), "", "the old message is gone");

	is_int(kp_pool_config_set(p, "target", "0"), KP_EINVAL,
	    "a bad setting");
	ok(strstr(kp_errmsg(p), "target") != NULL, "its message: %s",
	    kp_errmsg(p));
	is_int(kp_pool_generate(p, 2, 0), KP_OK, "then generate succeeds");
	is_string(kp_errmsg(p), "", "the old message is gone");

	is_int(kp_pool_refresh(p, KP_REFRESH_WATERMARK, &r), KP_ENET,
	    "refresh without a server");
	ok(strstr(kp_errmsg(p), "offline") != NULL, "its message: %s",
	    kp_errmsg(p));
	is_int(kp_pool_generate(p, 100, 0), KP_ETOOBIG, "over the cap");
	ok(strstr(kp_errmsg(p), "hard cap") != NULL,
	    "the new failure's own message: %s", kp_errmsg(p));
	is_int(kp_pool_expire(p, &r), KP_OK, "expire succeeds");
	is_string(kp_errmsg(p), "", "no message");
	kp_pool_close(p);
	return done_testing();
}
