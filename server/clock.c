/* SPDX-License-Identifier: ISC */
/*
 * clock.c: the server's clock.  --test-clock FILE makes key lifetimes,
 * reservation TTLs and expiry follow a unix time the test writes into
 * FILE (read on every use); signatures use the real clock, unless FILE
 * holds a second unix time after the first: then signatures follow it.
 */

#include "kps.h"

int64_t
kps_real_now(void)
{
	return kp_clock_file(kps_conf.test_clock, 1);
}

int64_t
kps_now(void)
{
	return kp_clock_file(kps_conf.test_clock, 0);
}
