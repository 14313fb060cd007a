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
	(void)arg;
	pt_refreshes(shared, 40, &nrefresh, &bad_refresh);
	return NULL;
}

static void *
operator(void *arg)
{
	(void)arg;
	pt_operate(shared, 11, 150, &nops, &bad_ops);
	return NULL;
}

/* The second thread of the message test: a call that succeeds. */
static void *
succeed(void *arg)
{
	struct kp_counts	c;

	(void)arg;
	if (kp_pool_counts(shared, 0,
	    &c) != KP_OK || kp_errmsg(shared)[0] != '\0')
		bad_ops++;
	return NULL;
}

int
main(void)
{
	struct kp_key	*k = NULL;
	pthread_t	 a, b;
	uint8_t		 ref[KP_REF_LEN];

	if (sodium_init() < 0)
		bail("sodium_init");
	pt_init();
	if (kp_pool_open(pt_file("s.db"), NULL, "sasha", NULL,
	    &shared) != KP_OK ||
	    kp_pool_open(pt_file("s.db"), NULL, NULL, NULL, &other) != KP_OK)
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
	pt_one_state(shared);
	kp_pool_close(other);
	kp_pool_close(shared);
	return done_testing();
}
