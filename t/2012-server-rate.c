/* SPDX-License-Identifier: ISC */
/*
 * 2012-server-rate: the reserve rate limit, a store operation
 * (kps_rate_take) so that every instance on one database shares it, on
 * the backend under test (kps_db.h): a bucket's burst, its refill, a
 * drained (caller, target) bucket that stays drained while the caller
 * reserves from many other names (it used to be evicted by them and
 * come back full), the same bucket seen from a second connection (a
 * second instance), full buckets forgotten, and the limit off.
 */

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"

#include "kps.h"
#include "kps_db.h"

#define MS	1700000000000LL

static struct kps_store *
open_db(const char *db, double per_min, double burst)
{
	struct kps_store_conf	 conf = { 0 };
	struct kps_store	*s = NULL;

	conf.rate_per_min = per_min;
	conf.rate_burst = burst;
	if (kps_store_open(db, &conf, &s) != KP_OK)
		bail("open %s: %s", db, s ? kps_store_errmsg(s) : "?");
	return s;
}

/* take: the wait of one take, -1 on an error. */
static int
take(struct kps_store *s, const char *caller, const char *target,
    int64_t ms)
{
	int	wait;

	return kps_rate_take(s, caller, target, ms, &wait) == KP_OK ? wait :
	    -1;
}

int
main(void)
{
	struct kps_store	*s, *s2, *off;
	char			 dir[] = "/tmp/kpool-2012.XXXXXX", db[512];
	char			 name[32];
	int			 i, fresh, limited;

	plan(14);
	if (mkdtemp(dir) == NULL)
		bail("mkdtemp");
	db_new(db, sizeof(db), dir);
	diag("backend: %s", db_backend());
	/* a token a minute, a burst of two */
	s = open_db(db, 1, 2);
	s2 = open_db(db, 1, 2);
	is_int(take(s, "mallory", "alice", MS), 0, "first, in the burst");
	is_int(take(s, "mallory", "alice", MS + 1), 0, "second, in the burst");
	is_int(take(s, "mallory", "alice", MS + 2), 60,
	    "third: wait a minute, the time of one token");
	is_int(take(s2, "mallory", "alice", MS + 3), 60,
	    "another instance (connection) sees the same empty bucket");
	is_int(take(s2, "mallory", "alice", MS + 30003), 30,
	    "half a token later: wait half a minute");
	is_int(take(s, "mallory", "alice", MS + 60003), 0,
	    "a token a minute after the last take");
	is_int(take(s, "mallory", "alice", MS + 60004), 60,
	    "and then none");
	/* many other names, each a bucket of its own, one transaction */
	if (kps_store_begin(s) != KP_OK)
		bail("begin: %s", kps_store_errmsg(s));
	for (i = 0, fresh = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "x%d", i);
		if (take(s, "mallory", name, MS + 60010) == 0)
			fresh++;
	}
	if (kps_store_commit(s) != KP_OK)
		bail("commit: %s", kps_store_errmsg(s));
	is_int(fresh, 3000, "each other name has a burst of its own");
	for (i = 0, limited = 0; i < 2; i++)
		if (take(s, "mallory", "alice", MS + 60020 + i) > 0)
			limited++;
	is_int(limited, 2, "alice's bucket is still drained: both wait");
	is_int(take(s, "bob", "alice", MS + 60030), 0,
	    "another caller of the same target: a bucket of its own");
	/* two minutes on, every bucket is full: forgotten, and full */
	is_int(take(s, "mallory", "alice", MS + 200000), 0,
	    "after the refill: a token");
	is_int(take(s, "mallory", "alice", MS + 200001), 0,
	    "and the burst's second");
	/* the limit off: no bucket at all */
	off = open_db(db, 0, 1);
	for (i = 0, limited = 0; i < 5; i++)
		if (take(off, "mallory", "carol", MS + 200002) != 0)
			limited++;
	is_int(limited, 0, "--rate-limit 0: never a wait");
	kps_store_close(off);
	kps_store_close(s2);
	{
		struct kps_census	c;

		is_int(kps_store_census(s, &c), KP_OK, "census");
	}
	kps_store_close(s);
	db_drop(db);
	rmdir(dir);
	return done_testing();
}
