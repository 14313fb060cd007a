/* SPDX-License-Identifier: ISC */
/*
 * ratelimit.c: token buckets per (caller, target) for reserve, so no
 * one drains another user's pool.  A fixed table of sets of NWAYS
 * buckets, a set chosen by a keyed hash, which bounds memory whatever
 * the number of pairs.  A new pair takes the bucket of its set that
 * loses least: an unused or full one (a full bucket is a fresh one),
 * else the fullest.  A drained pair's bucket is thus never the one
 * evicted while its set holds a fuller one: a caller cannot refill
 * its bucket by reserving from many other names (a target need not
 * exist) until its slot is taken over.
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "kps.h"

#define NBUCKETS	65536
#define NWAYS		4

struct bucket {
	uint64_t	h;		/* 0: unused */
	double		tokens;
	double		last;		/* monotonic seconds */
};

static pthread_mutex_t	 rlock = PTHREAD_MUTEX_INITIALIZER;
static struct bucket	*tab;		/* rlock; the pointer: init, fini */
static uint8_t		 rkey[crypto_shorthash_KEYBYTES]; /* set by init */

int
kps_rate_init(void)
{
	if (kps_conf.rate_per_min <= 0)
		return KP_OK;
	randombytes_buf(rkey, sizeof(rkey));
	if ((tab = calloc(NBUCKETS, sizeof(*tab))) == NULL)
		return KP_ENOMEM;
	return KP_OK;
}

void
kps_rate_fini(void)
{
	free(tab);
	tab = NULL;
}

int
kps_rate_take(const char *caller, const char *target, unsigned n)
{
	uint8_t		 in[2 * KP_MAX_USERNAME + 2];
	uint64_t	 h;
	struct bucket	*b, *set, *v = NULL;
	struct timespec	 ts;
	double		 now, rate = kps_conf.rate_per_min / 60.0, wait;
	size_t		 a = strlen(caller), t = strlen(target), i;
	int		 r = 0;

	if (tab == NULL)
		return 0;
	/* names are one user whatever their case */
	kps_fold((char *)in, caller);
	kps_fold((char *)in + a + 1, target);
	crypto_shorthash((uint8_t *)&h, in, a + 1 + t, rkey);
	h |= 1;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (double)ts.tv_sec + ts.tv_nsec / 1e9;
	pthread_mutex_lock(&rlock);
	set = &tab[(h % (NBUCKETS / NWAYS)) * NWAYS];
	for (i = 0, b = NULL; i < NWAYS; i++) {
		/* refill every bucket of the set to now */
		if (set[i].h == 0)
			set[i].tokens = kps_conf.rate_burst;
		set[i].tokens += (now - set[i].last) * rate;
		if (set[i].tokens > kps_conf.rate_burst)
			set[i].tokens = kps_conf.rate_burst;
		set[i].last = now;
		if (b == NULL && set[i].h == h)
			b = &set[i];
		if (v == NULL || set[i].tokens > v->tokens)
			v = &set[i];
	}
	if (b == NULL) {
		b = v;		/* the fullest: the least lost */
		b->h = h;
		b->tokens = kps_conf.rate_burst;
	}
	if (b->tokens >= (double)n)
		b->tokens -= (double)n;
	else {
		wait = ((double)n - b->tokens) / rate;
		r = (int)wait + ((double)(int)wait < wait);
		if (r < 1)
			r = 1;
	}
	pthread_mutex_unlock(&rlock);
	return r;
}
