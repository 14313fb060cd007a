/* SPDX-License-Identifier: ISC */
/*
 * kpfill: fill a kpool-server database for the benchmarks, straight
 * through the server's store (bench/run-server.sh).  It registers the
 * pool's owner with D devices (default, d1, d2, ...; 1 when not given)
 * and the reservers u0..u63, whose Ed25519 seeds are
 * SHA-256("kpool-bench:" PRINCIPAL) (bench/loadgen.c derives the same),
 * and stores N keys of each device of the owner: one real KeyPackage's
 * bytes under N distinct refs and init keys, uploaded one second apart,
 * oldest first.  Several owners may share a database.  With -c the
 * owner vouches for the reservers (they are its contacts to the drain
 * budget).
 *
 *	kpfill [-c] DB OWNER N [D]
 */

#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "kpool.h"
#include "kps.h"

static void
bench_seed(const char *name, uint8_t seed[32])
{
	char	buf[128];

	snprintf(buf, sizeof(buf), "kpool-bench:%s", name);
	crypto_hash_sha256(seed, (const uint8_t *)buf, strlen(buf));
}

int
main(int argc, char **argv)
{
	struct kps_store_conf	 conf = { 0 };
	struct kps_store	*s = NULL;
	struct kps_key		 k;
	struct kp_kpopts	 o;
	struct kp_kpsecrets	 sec;
	uint8_t			 seed[32], pk[32], sk[64], ref[KP_REF_LEN];
	uint8_t			*kp, h[64 + KP_MAX_PRINCIPAL];
	size_t			 kplen, hl;
	char			 name[16], dev[KP_MAX_DEVICE + 1];
	char			 who[KP_MAX_PRINCIPAL + 1];
	unsigned long		 n, i, nd = 1, d;
	int64_t			 now = (int64_t)time(NULL);
	int			 rc, vouch = 0;

	if (argc > 1 && strcmp(argv[1], "-c") == 0) {
		vouch = 1;
		argc--;
		argv++;
	}
	if (argc != 4 && argc != 5)
		errx(2, "usage: kpfill [-c] db owner n [devices]");
	n = strtoul(argv[3], NULL, 10);
	if (argc == 5 && ((nd = strtoul(argv[4], NULL, 10)) < 1 ||
	    nd > KPS_MAX_DEVICES))
		errx(2, "devices: 1 to %d", KPS_MAX_DEVICES);
	if (sodium_init() < 0)
		errx(1, "sodium_init");
	if ((rc = kps_store_open(argv[1], &conf, &s)) != KP_OK)
		errx(1, "%s: %s", argv[1], s ? kps_store_errmsg(s) : "?");
	for (d = 0; d < nd; d++) {
		snprintf(dev, sizeof(dev), d ? "d%lu" : KP_DEFAULT_DEVICE, d);
		if (kp_principal(argv[2], dev, who, sizeof(who)) != KP_OK)
			errx(2, "%s: not a user name", argv[2]);
		bench_seed(who, seed);
		crypto_sign_seed_keypair(pk, sk, seed);
		if (kps_device_add(s, argv[2], dev, pk, KPS_DEV_OPERATOR,
		    now) != KP_OK)
			errx(1, "device add: %s", kps_store_errmsg(s));
	}
	for (i = 0; i < 64; i++) {
		snprintf(name, sizeof(name), "u%lu", i);
		bench_seed(name, seed);
		crypto_sign_seed_keypair(pk, sk, seed);
		if (kps_user_add(s, name, pk, now) != KP_OK)
			errx(1, "user add: %s", kps_store_errmsg(s));
		if (vouch && kps_contact_add(s, argv[2], name,
		    KPS_CONTACT_VOUCH, now) != KP_OK)
			errx(1, "contact add: %s", kps_store_errmsg(s));
	}
	memset(&o, 0, sizeof(o));
	o.identity = (const uint8_t *)argv[2];
	o.identity_len = strlen(argv[2]);
	bench_seed(argv[2], seed);
	if (kp_keypackage_generate(&o, seed, &kp, &kplen, ref, &sec) != KP_OK)
		errx(1, "generate");
	memset(&k, 0, sizeof(k));
	snprintf(k.username, sizeof(k.username), "%s", argv[2]);
	k.bytes = kp;
	k.len = kplen;
	k.suite = 1;
	k.not_after = now + 30 * 86400;
	for (d = 0; d < nd; d++) {
		snprintf(k.device, sizeof(k.device), d ? "d%lu" :
		    KP_DEFAULT_DEVICE, d);
		/* refs of (owner, device, i): owners may share a database */
		hl = (size_t)snprintf((char *)h + sizeof(i), sizeof(h) -
		    sizeof(i), "%s/%s", argv[2], k.device) + sizeof(i);
		for (i = 0; i < n; i++) {
			if (i % 20000 == 0 && kps_store_begin(s) != KP_OK)
				errx(1, "begin: %s", kps_store_errmsg(s));
			memcpy(h, &i, sizeof(i));
			crypto_hash_sha256(k.ref, h, hl);
			k.init_key[0] = 1;
			memcpy(k.init_key + 1, k.ref, 31);
			k.uploaded_at = now - (int64_t)n + (int64_t)i;
			if ((rc = kps_key_save(s, &k)) != KP_OK)
				errx(1, "save: %s %s", kp_strerror(rc),
				    kps_store_errmsg(s));
			if ((i % 20000 == 19999 || i + 1 == n) &&
			    kps_store_commit(s) != KP_OK)
				errx(1, "commit: %s", kps_store_errmsg(s));
		}
	}
	kps_store_checkpoint(s);
	kps_store_close(s);
	free(kp);
	sodium_memzero(&sec, sizeof(sec));
	sodium_memzero(sk, sizeof(sk));
	printf("%lu keys of each of %lu devices of %s in %s\n", n, nd,
	    argv[2], argv[1]);
	return 0;
}
