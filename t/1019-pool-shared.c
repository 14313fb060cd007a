/* SPDX-License-Identifier: ISC */
/*
 * 1019-pool-shared: one handle shared by threads, as kpoolfs uses it (a
 * background refresh beside the file system's operations), against a
 * real kpool-server.  Every call succeeds or loses a race with a state
 * error, the observer hears the changes with no lock of the handle
 * held (it reads the store through another handle: a deleted key is
 * gone, any other is there unless deleted since), the counts
 * sum to the total at the end, and kp_errmsg is each thread's own.
 */

#include <pthread.h>

#include <sodium.h>

#include "1-pooltest.h"

static struct kp_pool	*shared;
static struct kp_pool	*other;		/* the observer's */
static pthread_mutex_t	 heard_lock = PTHREAD_MUTEX_INITIALIZER;
static int		 heard, heard_bad;
static int		 bad_refresh, bad_ops, nops, nrefresh;

/* Each change: a deleted key is gone; the store answers for the rest. */
static void
hear(void *arg, const uint8_t *ref, int from, int to)
{
	struct kp_key	*k = NULL;
	int		 rc;

	(void)arg;
	(void)from;
	pthread_mutex_lock(&heard_lock);
	heard++;
	if (ref != NULL) {
		rc = kp_pool_key(other, ref, &k);
		if (to == -1 ? rc != KP_ENOTFOUND : rc != KP_OK &&
		    rc != KP_ENOTFOUND)
			heard_bad++;
		kp_key_free(k);
	}
	pthread_mutex_unlock(&heard_lock);
}

static void *
refresher(void *arg)
{
	struct kp_sync_report	r;
	int			i, rc;

	(void)arg;
	for (i = 0; i < 40; i++) {
		rc = kp_pool_refresh(shared, &r);
		if (rc != KP_OK) {
			diag("refresh: %s: %s", kp_strerror(rc),
			    kp_errmsg(shared));
			bad_refresh++;
		}
		nrefresh++;
	}
	return NULL;
}

static void *
operator(void *arg)
{
	static const int	  to[] = {
		KP_STATE_RESERVED, KP_STATE_SPENT, KP_STATE_EXPIRED,
		KP_STATE_AVAILABLE,
	};
	struct kp_key		**keys;
	size_t			  n;
	unsigned		  seed = 11;
	int			  i, rc, t;

	(void)arg;
	for (i = 0; i < 150; i++) {
		seed = seed * 1103515245 + 12345;
		if (kp_pool_list(shared, -1, &keys, &n) != KP_OK)
			bail("list: %s", kp_errmsg(shared));
		if (n == 0 || seed % 7 == 0) {
			rc = kp_pool_generate(shared, 1, 0);
			if (rc != KP_OK && rc != KP_ETOOBIG)
				goto bad;
		} else if (seed % 7 == 1) {
			rc = kp_pool_delete(shared, kp_key_ref(keys[seed % n]));
			if (rc != KP_OK && rc != KP_EBUSY && rc != KP_ENOTFOUND)
				goto bad;
		} else {
			t = to[(seed >> 8) % 4];
			rc = kp_pool_transition(shared,
			    kp_key_ref(keys[seed % n]),
			    kp_key_state(keys[seed % n]), t);
			/* a move the refresh beat us to, or forbade */
			if (rc != KP_OK && rc != KP_ESTATE &&
			    rc != KP_ENOTFOUND && rc != KP_EBUSY &&
			    rc != KP_EPERM && rc != KP_EREJECTED)
				goto bad;
		}
		nops++;
		kp_keys_free(keys, n);
		continue;
bad:
		diag("op %d: %s: %s", i, kp_strerror(rc), kp_errmsg(shared));
		bad_ops++;
		kp_keys_free(keys, n);
	}
	return NULL;
}

/* The second thread of the message test: a call that succeeds. */
static void *
succeed(void *arg)
{
	struct kp_counts	c;

	(void)arg;
	if (kp_pool_counts(shared, &c) != KP_OK || kp_errmsg(shared)[0] != '\0')
		bad_ops++;
	return NULL;
}

int
main(void)
{
	struct kp_counts	 c;
	struct kp_key		**keys, *k = NULL;
	pthread_t		 a, b;
	uint8_t			 ref[KP_REF_LEN];
	size_t			 n, m, sum = 0;
	int			 s;

	if (sodium_init() < 0)
		bail("sodium_init");
	pt_init();
	if (kp_pool_open(pt_file("s.db"), NULL, "sasha", &shared) != KP_OK ||
	    kp_pool_open(pt_file("s.db"), NULL, NULL, &other) != KP_OK)
		bail("open");
	kp_pool_set_clock(shared, pt_now, NULL);
	if (kp_pool_set_server(shared, pt_server(1)) != KP_OK ||
	    kp_pool_config_set(shared, "hard_cap", "200") != KP_OK)
		bail("setup: %s", kp_errmsg(shared));
	kp_pool_set_observer(shared, hear, NULL);

	/* each thread its own message */
	memset(ref, 0x22, sizeof(ref));
	is_int(kp_pool_key(shared, ref, &k), KP_ENOTFOUND, "no such key");
	if (pthread_create(&a, NULL, succeed, NULL) != 0)
		bail("pthread_create");
	pthread_join(a, NULL);
	ok(strncmp(kp_errmsg(shared), "no key 2222", 11) == 0,
	    "another thread's call leaves this thread's message: %s",
	    kp_errmsg(shared));

	if (pthread_create(&a, NULL, refresher, NULL) != 0 ||
	    pthread_create(&b, NULL, operator, NULL) != 0)
		bail("pthread_create");
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	is_int(bad_refresh, 0, "%d refreshes on the shared handle all "
	    "succeed", nrefresh);
	is_int(bad_ops, 0, "%d operations beside them succeed or lose a "
	    "race with a state error", nops);
	ok(heard > 0, "the observer heard %d changes", heard);
	is_int(heard_bad, 0, "each as the store has it after the commit");
	is_int(kp_pool_counts(shared, &c), KP_OK, "counts");
	is_int(kp_pool_list(shared, -1, &keys, &n), KP_OK, "list");
	kp_keys_free(keys, n);
	for (s = 0; s < KP_NSTATES; s++) {
		if (kp_pool_list(shared, s, &keys, &m) != KP_OK)
			bail("list");
		kp_keys_free(keys, m);
		sum += m;
	}
	ok(c.total == n && sum == n && pt_sum(&c) == (int)c.total,
	    "every key in exactly one state (%zu keys)", n);
	kp_pool_close(other);
	kp_pool_close(shared);
	return done_testing();
}
