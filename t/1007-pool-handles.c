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

	if (kp_pool_open(pt_file("h.db"), NULL, "hana", &p) != KP_OK)
		bail("open: %s", kp_errmsg(p));
	kp_pool_set_clock(p, pt_now, NULL);
	if (kp_pool_set_server(p, url) != KP_OK)
		bail("set_server");
	return p;
}

static void *
refresher(void *arg)
{
	struct kp_pool		*p = open_handle();
	struct kp_sync_report	 r;
	int			 i, rc;

	(void)arg;
	for (i = 0; i < 40; i++) {
		rc = kp_pool_refresh(p, &r);
		if (rc != KP_OK) {
			diag("refresh: %s: %s", kp_strerror(rc), kp_errmsg(p));
			bad_refresh++;
		}
		nrefresh++;
	}
	kp_pool_close(p);
	return NULL;
}

static void *
operator(void *arg)
{
	static const int	 to[] = {
		KP_STATE_RESERVED, KP_STATE_SPENT, KP_STATE_EXPIRED,
		KP_STATE_AVAILABLE,
	};
	struct kp_pool		*p = open_handle();
	struct kp_key		**keys;
	size_t			 n;
	unsigned		 seed = 7;
	int			 i, rc, t;

	(void)arg;
	for (i = 0; i < 150; i++) {
		seed = seed * 1103515245 + 12345;
		if (kp_pool_list(p, -1, &keys, &n) != KP_OK)
			bail("list: %s", kp_errmsg(p));
		if (n == 0 || seed % 7 == 0) {
			rc = kp_pool_generate(p, 1, 0);
			if (rc != KP_OK && rc != KP_ETOOBIG)
				goto bad;
		} else if (seed % 7 == 1) {
			rc = kp_pool_delete(p, kp_key_ref(keys[seed % n]));
			if (rc != KP_OK && rc != KP_EBUSY && rc != KP_ENOTFOUND)
				goto bad;
		} else {
			t = to[(seed >> 8) % 4];
			rc = kp_pool_transition(p, kp_key_ref(keys[seed % n]),
			    kp_key_state(keys[seed % n]), t);
			/* a move the other handle beat us to, or forbade */
			if (rc != KP_OK && rc != KP_ESTATE &&
			    rc != KP_ENOTFOUND && rc != KP_EBUSY &&
			    rc != KP_EPERM && rc != KP_EREJECTED)
				goto bad;
		}
		nops++;
		kp_keys_free(keys, n);
		continue;
bad:
		diag("op %d: %s: %s", i, kp_strerror(rc), kp_errmsg(p));
		bad_ops++;
		kp_keys_free(keys, n);
	}
	kp_pool_close(p);
	return NULL;
}

int
main(void)
{
	struct kp_pool		*p;
	struct kp_counts	 c;
	struct kp_key		**keys;
	pthread_t		 a, b;
	size_t			 n, m, sum = 0;
	int			 s;

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
	is_int(kp_pool_counts(p, &c), KP_OK, "counts");
	is_int(kp_pool_list(p, -1, &keys, &n), KP_OK, "list");
	kp_keys_free(keys, n);
	for (s = 0; s < KP_NSTATES; s++) {
		if (kp_pool_list(p, s, &keys, &m) != KP_OK)
			bail("list");
		kp_keys_free(keys, m);
		sum += m;
	}
	ok(c.total == n && sum == n && pt_sum(&c) == (int)c.total,
	    "every key in exactly one state (%zu keys)", n);
	kp_pool_close(p);
	return done_testing();
}
