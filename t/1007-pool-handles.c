/* SPDX-License-Identifier: ISC */
/*
 * 1007-pool-handles: two handles on one store in two threads, as kpoolfs
 * uses them (a background refresh beside the file system's operations),
 * against a real kpool-server.  Every call succeeds or loses a race with
 * a state error (never a database error or a key in two states), and
 * the counts sum to the total at the end.
 */

#include <pthread.h>

#include <sodium.h>

#include "1-pooltest.h"

static const char	*url;
static int		 bad_refresh, bad_ops, nops, nrefresh;

static struct kp_pool *
open_handle(void)
{
	struct kp_pool	*p;

	if (kp_pool_open(pt_file("h.db"), NULL, "hana", NULL, &p) != KP_OK)
		bail("open: %s", kp_errmsg(p));
	kp_pool_set_clock(p, pt_now, NULL);
	if (kp_pool_set_server(p, url) != KP_OK)
		bail("set_server");
	return p;
}

static void *
refresher(void *arg)
{
	struct kp_pool	*p = open_handle();

	(void)arg;
	pt_refreshes(p, 40, &nrefresh, &bad_refresh);
	kp_pool_close(p);
	return NULL;
}

static void *
operator(void *arg)
{
	struct kp_pool	*p = open_handle();

	(void)arg;
	pt_operate(p, 7, 150, &nops, &bad_ops);
	kp_pool_close(p);
	return NULL;
}

int
main(void)
{
	struct kp_pool	*p;
	pthread_t	 a, b;

	if (sodium_init() < 0)
		bail("sodium_init");
	pt_init();
	url = pt_server(1);
	p = open_handle();
	if (kp_pool_config_set(p, "hard_cap", "200") != KP_OK)
		bail("config: %s", kp_errmsg(p));
	if (pthread_create(&a, NULL, refresher, NULL) != 0 ||
	    pthread_create(&b, NULL, operator, NULL) != 0)
		bail("pthread_create");
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	is_int(bad_refresh, 0, "%d refreshes on one handle all succeed",
	    nrefresh);
	is_int(bad_ops, 0, "%d operations on the other succeed or lose a "
	    "race with a state error", nops);
	pt_one_state(p);
	kp_pool_close(p);
	return done_testing();
}
