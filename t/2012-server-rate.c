/* SPDX-License-Identifier: ISC */
/*
 * 2012-server-rate: the reserve rate limiter (server/ratelimit.c, linked
 * from libkps.a): a drained (caller, target) bucket stays drained while
 * the caller reserves from many other names, each a bucket of its own;
 * these used to take its slot over and hand it a full burst again.
 */

#include <stdio.h>
#include <string.h>

#include "tap.h"

#include "kps.h"

int
main(void)
{
	char	name[32];
	int	i, fresh, limited;

	plan(6);
	kps_conf.rate_per_min = 1;	/* a token a minute */
	kps_conf.rate_burst = 2;
	is_int(kps_rate_init(), KP_OK, "init");
	is_int(kps_rate_take("mallory", "alice", 1), 0, "first, in the burst");
	is_int(kps_rate_take("mallory", "alice", 1), 0, "second, in the burst");
	ok(kps_rate_take("mallory", "alice", 1) > 0, "third: wait");
	/* 600,000 other names over 65,536 buckets: each slot is hit ~9x */
	for (i = 0, fresh = 0; i < 600000; i++) {
		snprintf(name, sizeof(name), "x%d", i);
		if (kps_rate_take("mallory", name, 1) == 0)
			fresh++;
	}
	is_int(fresh, 600000, "each other name has a burst of its own");
	for (i = 0, limited = 0; i < 2; i++)
		if (kps_rate_take("mallory", "alice", 1) > 0)
			limited++;
	is_int(limited, 2, "alice's bucket is still drained: both wait");
	kps_rate_fini();
	return done_testing();
}
