/* SPDX-License-Identifier: ISC */
/*
 * 1013-pool-cap-race: two handles on one store, a real kpool-server.
 * Handle a refreshes an empty pool; once its sync is done and just
 * before it replenishes, handle b fills the pool to the hard cap (the
 * test's clock of a does it, at that moment).  a's refresh then makes
 * nothing and succeeds: the cap holds, nothing is reported as made, and
 * the next refresh uploads b's keys.
 */

#include <sodium.h>

#include "1-pooltest.h"

static struct kp_pool	*b;
static int		 armed, fired;
static uint32_t		 b_made;

/*
 * a's clock.  Armed, it fills the pool through b at a's first clock read
 * after a's sync recorded last_sync: the start of the replenishment.
 */
static int64_t
a_now(void *arg)
{
	struct kp_status	s;
	struct kp_policy	pol;

	(void)arg;
	if (armed && !fired) {
		if (kp_pool_status(b, &s) != KP_OK)
			bail("status: %s", kp_errmsg(b));
		if (s.last_sync == pt_clock) {
			fired = 1;
			if (kp_pool_policy_get(b, &pol) != KP_OK ||
			    kp_pool_generate(b, pol.hard_cap -
			    s.counts.n[KP_STATE_CREATED] -
			    s.counts.n[KP_STATE_AVAILABLE], 0) != KP_OK)
				bail("b fills the pool: %s", kp_errmsg(b));
			b_made = pol.hard_cap - s.counts.n[KP_STATE_CREATED] -
			    s.counts.n[KP_STATE_AVAILABLE];
		}
	}
	return pt_clock;
}

static void
counts_are(struct kp_pool *p, uint32_t cr, uint32_t av, const char *what)
{
	struct kp_counts	c;

	if (kp_pool_counts(p, 0, &c) != KP_OK)
		bail("counts: %s", kp_errmsg(p));
	ok(c.n[KP_STATE_CREATED] == cr && c.n[KP_STATE_AVAILABLE] == av &&
	    c.total == cr + av, "%s: created %u available %u (got %u/%u, "
	    "total %u)", what, cr, av, c.n[KP_STATE_CREATED],
	    c.n[KP_STATE_AVAILABLE], c.total);
}

int
main(void)
{
	struct kp_pool		*a;
	struct kp_sync_report	 r;
	const char		*url;

	if (sodium_init() < 0)
		bail("sodium_init");
	pt_init();
	url = pt_server(1);
	if (kp_pool_open(pt_file("s.db"), NULL, "sam", NULL, &a) != KP_OK ||
	    kp_pool_open(pt_file("s.db"), NULL, NULL, NULL, &b) != KP_OK)
		bail("open");
	kp_pool_set_clock(a, a_now, NULL);
	kp_pool_set_clock(b, pt_now, NULL);
	if (kp_pool_set_server(a, url) != KP_OK)
		bail("set_server: %s", kp_errmsg(a));
	pt_small_policy(a, "2", "4", "6");

	armed = 1;
	is_int(kp_pool_refresh(a, KP_REFRESH_WATERMARK, &r), KP_OK,
	    "a refreshes while b fills the "
	    "pool to the hard cap: KP_OK (%s)", kp_errmsg(a));
	is_int(fired, 1, "b filled it between a's sync and its replenishment");
	is_int(b_made, 6, "b made 6 keys");
	is_int(r.generated, 0, "a made none");
	is_int(r.online, 1, "a was online");
	counts_are(a, 6, 0, "the hard cap of 6 holds");
	armed = 0;

	pt_set_clock(pt_clock + 60);
	is_int(kp_pool_refresh(a, KP_REFRESH_WATERMARK, &r), KP_OK,
	    "a refreshes again");
	is_int(r.uploaded, 6, "and uploads b's 6 keys");
	is_int(r.generated, 0, "making none");
	counts_are(a, 0, 6, "6 available");
	kp_pool_close(b);
	kp_pool_close(a);
	return done_testing();
}
