/* SPDX-License-Identifier: ISC */
/*
 * kpbench: KeyPackage generate + encode and validate per second on one
 * core, each beside the raw libsodium cost of the same primitives
 * measured in the same run:
 *	generate: 2 X25519 key pairs + 2 Ed25519 signatures + 1 SHA-256
 *	validate: 2 Ed25519 verifications + 1 SHA-256
 * Rounds of the library and of the reference alternate; the best round
 * of each counts.  usage: kpbench [-r rounds] [-t seconds-per-round]
 */

#include <err.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "kpool.h"

#define TARGET	0.85

static const uint8_t	seed[KP_SIGN_SEED_LEN] = { 0x6b, 0x70 };
static uint8_t		*kpbuf;
static size_t		 kplen;
static uint8_t		 sk[64], pk[32], msg[512], sig1[64], sig2[64];
static size_t		 tbs_leaf = 180, tbs_kp = 210;
static uint64_t		 now;
static volatile uint8_t	 sink;

static double
seconds(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
lib_generate(void)
{
	struct kp_kpopts	o;
	struct kp_kpsecrets	sec;
	uint8_t			*out, ref[KP_REF_LEN];
	size_t			 len;

	memset(&o, 0, sizeof(o));
	o.identity = (const uint8_t *)"alice";
	o.identity_len = 5;
	if (kp_keypackage_generate(&o, seed, &out, &len, ref, &sec) != KP_OK)
		errx(1, "generate failed");
	sink ^= out[len - 1];
	sodium_memzero(&sec, sizeof(sec));
	free(out);
}

static void
ref_generate(void)
{
	uint8_t	xs[32], xp[32], ys[32], yp[32], s[64], h[32];

	crypto_box_keypair(xp, xs);
	crypto_box_keypair(yp, ys);
	crypto_sign_detached(s, NULL, msg, tbs_leaf, sk);
	crypto_sign_detached(s, NULL, msg, tbs_kp, sk);
	crypto_hash_sha256(h, msg, kplen);
	sink ^= xp[0] ^ yp[0] ^ s[0] ^ h[0];
	sodium_memzero(xs, sizeof(xs));
	sodium_memzero(ys, sizeof(ys));
}

static void
lib_validate(void)
{
	struct kp_keypackage	*kp;

	if (kp_keypackage_decode(kpbuf, kplen, 0, &kp) != KP_OK)
		errx(1, "decode failed");
	if (kp_keypackage_validate(kp, now) != KP_OK)
		errx(1, "validate failed");
	sink ^= kp_keypackage_ref(kp)[0];
	kp_keypackage_free(kp);
}

static void
ref_validate(void)
{
	uint8_t	h[32];

	if (crypto_sign_verify_detached(sig1, msg, tbs_leaf, pk) != 0 ||
	    crypto_sign_verify_detached(sig2, msg, tbs_kp, pk) != 0)
		errx(1, "reference verify failed");
	crypto_hash_sha256(h, msg, kplen);
	sink ^= h[0];
}

/* Operations per second of fn over about t seconds. */
static double
rate(void (*fn)(void), double t)
{
	double		start = seconds(), el;
	unsigned long	n = 0, i;

	do {
		for (i = 0; i < 64; i++)
			fn();
		n += 64;
		el = seconds() - start;
	} while (el < t);
	return n / el;
}

static void
compare(const char *what, const char *refwhat, void (*lib)(void),
    void (*ref)(void), int rounds, double t)
{
	double	best_lib = 0, best_ref = 0, r;
	int	i;

	lib();
	ref();
	for (i = 0; i < rounds; i++) {
		if ((r = rate(ref, t)) > best_ref)
			best_ref = r;
		if ((r = rate(lib, t)) > best_lib)
			best_lib = r;
	}
	printf("%-26s %8.0f/s   reference (%s) %8.0f/s   ratio %5.1f%%  "
	    "(target >= %.0f%%: %s)\n", what, best_lib, refwhat, best_ref,
	    100 * best_lib / best_ref, 100 * TARGET,
	    best_lib >= TARGET * best_ref ? "met" : "MISSED");
}

int
main(int argc, char *argv[])
{
	struct kp_kpopts	o;
	uint8_t			ref[KP_REF_LEN];
	cpu_set_t		set;
	int			ch, rounds = 5, cpu;
	double			t = 0.4;

	while ((ch = getopt(argc, argv, "r:t:")) != -1) {
		switch (ch) {
		case 'r':
			rounds = atoi(optarg);
			break;
		case 't':
			t = atof(optarg);
			break;
		default:
			fprintf(stderr, "usage: kpbench [-r rounds] "
			    "[-t seconds]\n");
			return 2;
		}
	}
	if (rounds < 1 || t <= 0)
		errx(2, "bad -r or -t");
	if (sodium_init() < 0)
		errx(1, "sodium_init");
	/* one core: stay on the CPU we started on */
	if ((cpu = sched_getcpu()) >= 0) {
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		(void)sched_setaffinity(0, sizeof(set), &set);
	}
	now = (uint64_t)time(NULL);
	memset(&o, 0, sizeof(o));
	o.identity = (const uint8_t *)"alice";
	o.identity_len = 5;
	if (kp_keypackage_generate(&o, seed, &kpbuf, &kplen, ref, NULL) !=
	    KP_OK)
		errx(1, "generate failed");
	/* the reference signs and hashes messages of the same sizes */
	crypto_sign_seed_keypair(pk, sk, seed);
	randombytes_buf(msg, sizeof(msg));
	if (kplen > sizeof(msg))
		errx(1, "KeyPackage larger than expected");
	/*
	 * SignContent {"MLS 1.0 " + label, TBS}: the KeyPackage TBS is all
	 * but its signature<V> (65 bytes), the LeafNode TBS further lacks
	 * version, suite, init_key<V> (37), the leaf signature<V> (65) and
	 * the empty extensions<V> (1).
	 */
	tbs_kp = (kplen - 65) + 1 + 8 + 13 + 2;
	tbs_leaf = (kplen - 37 - 65 - 1 - 65) + 1 + 8 + 11 + 2;
	crypto_sign_detached(sig1, NULL, msg, tbs_leaf, sk);
	crypto_sign_detached(sig2, NULL, msg, tbs_kp, sk);

	printf("kpbench: one core (cpu %d), best of %d rounds of %.1f s, "
	    "KeyPackage of %zu bytes\n", cpu, rounds, t, kplen);
	compare("generate+encode", "2 X25519 kp + 2 Ed25519 sign + 1 SHA-256",
	    lib_generate, ref_generate, rounds, t);
	compare("validate", "2 Ed25519 verify + 1 SHA-256",
	    lib_validate, ref_validate, rounds, t);
	free(kpbuf);
	sodium_memzero(sk, sizeof(sk));
	return 0;
}
