/* SPDX-License-Identifier: ISC */
/*
 * 2012-server-rate: the rate limit's token buckets, a store operation
 * (kps_rate_take) so that every instance on one database shares them,
 * on the backend under test (kps_db.h): a bucket's burst, its refill, a
 * drained (caller, target) bucket that stays drained while the caller
 * reserves from many other names (the in-memory table of old evicted
 * it for them), the same bucket seen from a second connection (a second
 * instance), many takes at once, a bucket of another kind, and full
 * buckets forgotten (kps_rate_prune).
 */

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"

#include "kps.h"
#include "kps_db.h"

#define MS	1700000000000LL

static struct kps_store *
open_db(const char *db)
{
	struct kps_store_conf	 conf = { 0 };
	struct kps_store	*s = NULL;

	if (kps_store_open(db, &conf, &s) != KP_OK)
		bail("open %s: %s", db, s ? kps_store_errmsg(s) : "?");
	return s;
}

/* A token a minute, a burst of two. */
#define PER_MIN	1
#define BURST	2

/* take_kind: the wait of one take from (kind, a, b), -1 on an error. */
static int
take_kind(struct kps_store *s, int kind, const char *a, const char *b,
    int64_t ms)
{
	struct kps_take	t = { kind, a, b, PER_MIN, BURST, -1 };

	return kps_rate_take(s, &t, 1, ms) == KP_OK ? t.wait : -1;
}

/* take: the wait of a reserve of target's keys by caller. */
static int
take(struct kps_store *s, const char *caller, const char *target,
    int64_t ms)
{
	return take_kind(s, KPS_BUCKET_RESERVE, caller, target, ms);
}

int
main(void)
{
	struct kps_store	*s, *s2;
	struct kps_take		 t[4];
	struct kps_census	 c;
	char			 dir[] = "/tmp/kpool-2012.XXXXXX", db[512];
	char			 name[32];
	uint64_t		 n;
	int			 i, fresh, limited;

	plan(24);
	if (mkdtemp(dir) == NULL)
		bail("mkdtemp");
	db_new(db, sizeof(db), dir);
	diag("backend: %s", db_backend());
	s = open_db(db);
	s2 = open_db(db);
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
	/* a bucket of another kind, named alike, is another bucket */
	is_int(take_kind(s, KPS_BUCKET_RESERVE + 1, "mallory", "alice",
	    MS + 60040), 0, "another kind of the same names: its own");
	/* at once: each take on its own, in the callers' order */
	t[0] = (struct kps_take){ KPS_BUCKET_RESERVE, "zed", "alice",
	    PER_MIN, BURST, -1 };
	t[1] = (struct kps_take){ KPS_BUCKET_RESERVE, "mallory", "alice",
	    PER_MIN, BURST, -1 };
	t[2] = t[0];
	t[3] = t[0];
	is_int(kps_rate_take(s, t, 4, MS + 60050), KP_OK, "four at once");
	ok(t[0].wait == 0 && t[2].wait == 0 && t[3].wait == 60,
	    "zed: the burst's two, then a wait (%d, %d, %d)", t[0].wait,
	    t[2].wait, t[3].wait);
	ok(t[1].wait > 0, "mallory's, among them, still waits (%d)",
	    t[1].wait);
	/* two minutes on, every bucket is full: forgotten, and full */
	is_int(kps_rate_prune(s, MS + 60050, 100000, &n), KP_OK,
	    "a prune at once");
	is_int((int)n, 0, "forgets no bucket in use");
	is_int(kps_rate_prune(s, MS + 300000, 10, &n), KP_OK,
	    "a prune five minutes later");
	is_int((int)n, 10, "forgets no more than it is told");
	is_int(kps_rate_prune(s, MS + 300000, 100000, &n), KP_OK,
	    "and again");
	is_int((int)n, 3004 - 10, "forgets the rest: every bucket is full");
	is_int(take(s, "mallory", "alice", MS + 300001), 0,
	    "after the refill: a token");
	is_int(take(s, "mallory", "alice", MS + 300002), 0,
	    "and the burst's second");
	is_int(take(s, "mallory", "alice", MS + 300003), 60, "and none");
	kps_store_close(s2);
	is_int(kps_store_census(s, &c), KP_OK, "census");
	kps_store_close(s);
	db_drop(db);
	rmdir(dir);
	return done_testing();
}
