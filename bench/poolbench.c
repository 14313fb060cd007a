/* SPDX-License-Identifier: ISC */
/*
 * poolbench: the local pool's figures.
 *
 *	poolbench DIR [URL]
 *
 * In DIR (scratch): generate and persist 32 keys in one transaction,
 * beside the same 32 KeyPackages generated without the store (the
 * reference, measured in alternation with it, and the difference: the
 * store's share); with URL (a kpool-server), a full refresh of an empty pool
 * (register, 32 + 1 keys generated, uploaded) and a refresh of a healthy
 * pool.  Prints medians and 90th percentiles in milliseconds.
 */

#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "kpool.h"

#define RUNS	40

static double
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
report(const char *what, double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	printf("%-44s median %7.2f ms  p90 %7.2f ms  (%d runs)\n", what,
	    v[n / 2], v[(n * 9) / 10], n);
}

static struct kp_pool *
open_pool(const char *dir, const char *user)
{
	struct kp_pool	*p;
	char		 path[1024];

	(void)snprintf(path, sizeof(path), "%s/%s.db", dir, user);
	if (kp_pool_open(path, NULL, user, NULL, &p) != KP_OK)
		errx(1, "open %s: %s", path, kp_errmsg(p));
	return p;
}

static void
bench_generate(const char *dir)
{
	struct kp_kpopts	 opts;
	struct kp_kpsecrets	 sec;
	struct kp_pool		*p;
	uint8_t			 seed[KP_SIGN_SEED_LEN], ref[KP_REF_LEN], *buf;
	double			 gen[RUNS], ref_ms[RUNS], over[RUNS], t;
	size_t			 len;
	int			 i, j;

	p = open_pool(dir, "gen");
	if (kp_pool_config_set(p, "hard_cap", "10000") != KP_OK ||
	    kp_pool_config_set(p, "target", "10000") != KP_OK)
		errx(1, "config: %s", kp_errmsg(p));
	memset(&opts, 0, sizeof(opts));
	opts.identity = (const uint8_t *)"gen";
	opts.identity_len = 3;
	randombytes_buf(seed, sizeof(seed));
	for (i = 0; i < RUNS; i++) {
		t = now_ms();
		for (j = 0; j < 32; j++) {
			if (kp_keypackage_generate(&opts, seed, &buf, &len,
			    ref, &sec) != KP_OK)
				errx(1, "generate");
			sodium_memzero(&sec, sizeof(sec));
			free(buf);
		}
		ref_ms[i] = now_ms() - t;
		t = now_ms();
		if (kp_pool_generate(p, 32, 0) != KP_OK)
			errx(1, "kp_pool_generate: %s", kp_errmsg(p));
		gen[i] = now_ms() - t;
		over[i] = gen[i] - ref_ms[i];
	}
	sodium_memzero(seed, sizeof(seed));
	report("reference: 32 KeyPackages, no store", ref_ms, RUNS);
	report("generate + persist 32 keys (one transaction)", gen, RUNS);
	report("  of which the store (run minus reference)", over, RUNS);
	kp_pool_close(p);
}

static void
bench_refresh(const char *dir, const char *url)
{
	struct kp_sync_report	 r;
	struct kp_pool		*p;
	double			 full[RUNS / 4], idle[RUNS], t;
	char			 user[32];
	int			 i;

	for (i = 0; i < RUNS / 4; i++) {
		(void)snprintf(user, sizeof(user), "bench%d-%u", i,
		    randombytes_random());
		p = open_pool(dir, user);
		if (kp_pool_set_server(p, url) != KP_OK)
			errx(1, "set_server");
		t = now_ms();
		if (kp_pool_refresh(p, KP_REFRESH_WATERMARK,
		    &r) != KP_OK || r.uploaded != 33)
			errx(1, "refresh: %s", kp_errmsg(p));
		full[i] = now_ms() - t;
		kp_pool_close(p);
	}
	report("refresh of an empty pool (32 + 1 uploaded)", full, RUNS / 4);
	p = open_pool(dir, user);
	if (kp_pool_set_server(p, url) != KP_OK)
		errx(1, "set_server");
	for (i = 0; i < RUNS; i++) {
		t = now_ms();
		if (kp_pool_refresh(p, KP_REFRESH_WATERMARK,
		    &r) != KP_OK || r.uploaded != 0)
			errx(1, "refresh: %s", kp_errmsg(p));
		idle[i] = now_ms() - t;
	}
	report("refresh of a healthy pool (nothing to do)", idle, RUNS);
	kp_pool_close(p);
}

int
main(int argc, char *argv[])
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: poolbench dir [url]\n");
		return 2;
	}
	if (sodium_init() < 0)
		errx(1, "sodium_init");
	bench_generate(argv[1]);
	if (argc == 3)
		bench_refresh(argv[1], argv[2]);
	return 0;
}
