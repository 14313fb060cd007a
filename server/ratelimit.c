/* SPDX-License-Identifier: ISC */
/*
 * ratelimit.c: token buckets per (caller, target) for reserve, so no
 * one drains another user's pool.  A fixed table indexed by a keyed
 * hash; a collision takes the slot over (a fresh bucket), which bounds
 * memory whatever the number of pairs.
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "kps.h"

#define NBUCKETS	65536

struct bucket {
	uint64_t	h;		/* 0: unused */
	double		tokens;
	double		last;		/* monotonic seconds */
};

static pthread_mutex_t	 rlock = PTHREAD_MUTEX_INITIALIZER;
static struct bucket	*tab;		/* rlock */
static uint8_t		 rkey[crypto_shorthash_KEYBYTES];

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
kps_rate_take(const char *caller, const char *target)
{
	uint8_t		 in[2 * KP_MAX_USERNAME + 2];
	uint64_t	 h;
	struct bucket	*b;
	struct timespec	 ts;
	double		 now, rate = kps_conf.rate_per_min / 60.0, wait;
	size_t		 a = strlen(caller), t = strlen(target);
	int		 r = 0;

	if (tab == NULL)
		return 0;
	memcpy(in, caller, a);
	in[a] = '\0';
	memcpy(in + a + 1, target, t);
	crypto_shorthash((uint8_t *)&h, in, a + 1 + t, rkey);
	h |= 1;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (double)ts.tv_sec + ts.tv_nsec / 1e9;
	pthread_mutex_lock(&rlock);
	b = &tab[h % NBUCKETS];
	if (b->h != h) {
		b->h = h;
		b->tokens = kps_conf.rate_burst;
		b->last = now;
	}
	b->tokens += (now - b->last) * rate;
	if (b->tokens > kps_conf.rate_burst)
		b->tokens = kps_conf.rate_burst;
	b->last = now;
	if (b->tokens >= 1.0)
		b->tokens -= 1.0;
	else {
		wait = (1.0 - b->tokens) / rate;
		r = (int)wait + ((double)(int)wait < wait);
		if (r < 1)
			r = 1;
	}
	pthread_mutex_unlock(&rlock);
	return r;
}
