/* SPDX-License-Identifier: ISC */
/*
 * kpcli: a small command-line client of kpool-server for the shell
 * tests and the race test (build/t/kpcli).  It drives lib/client.c.
 *
 *	kpcli -s URL -u USER -k SEEDFILE COMMAND [ARGS]
 *
 * keygen			make SEEDFILE if missing; print the public key
 * register [INVITE]		POST /users, with an invitation's token
 * contact USER			POST /contacts: vouch for USER
 * upload-new N [last-resort]	generate N KeyPackages, upload, print refs
 * reserve TARGET [REQUEST_ID]	print "REF RESERVATION_ID EXPIRES LR" (for
 *				group "g": a spend names it or none)
 * reserve-all TARGET		reserve until the pool is exhausted; print
 *				each ref, then "exhausted"
 * reserve-device TARGET DEVICE [SUITE]
 *				reserve one key of one device (of a suite);
 *				print "REF DEVICE SUITE LR"
 * claim TARGET [SUITE [REQUEST_ID]]
 *				one key of each device (SUITE 0: any); print
 *				"DEVICE REF SUITE LR" lines, then
 *				"exhausted DEVICE" lines
 * spend REF [GROUP]		release REF		retire REF
 * status USER			print "available N reserved N ..."
 * mine [long]			print "REF STATUS" lines; long: every
 *				field of each key (t/2020)
 *
 * A failure prints "kpcli: HTTP CODE: ERROR: MESSAGE" and exits 1.
 */

#include <err.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "client.h"
#include "kpool.h"

static struct kp_client	*cl;

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: kpcli -s url -u user -k seedfile command "
	    "[args]\n");
	exit(2);
}

static void __attribute__((noreturn))
fail(const char *what, int rc)
{
	fprintf(stderr, "kpcli: %s: HTTP %ld: %s: %s\n", what,
	    kp_client_last_status(cl), kp_strerror(rc), kp_client_errmsg(cl));
	exit(1);
}

static void
load_seed(const char *path, uint8_t seed[32], int create)
{
	char	hex[65];
	ssize_t	n;
	int	fd;

	if ((fd = open(path, O_RDONLY)) == -1) {
		if (!create)
			err(1, "%s", path);
		randombytes_buf(seed, 32);
		kp_hex(seed, 32, hex);
		if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW,
		    0600)) == -1)
			err(1, "%s", path);
		if (write(fd, hex, 64) != 64)
			err(1, "%s", path);
		close(fd);
		sodium_memzero(hex, sizeof(hex));
		return;
	}
	n = read(fd, hex, 64);
	close(fd);
	hex[n > 0 ? n : 0] = '\0';
	if (n != 64 || kp_unhex(hex, seed, 32) != KP_OK)
		errx(1, "%s: not 64 hex digits", path);
	sodium_memzero(hex, sizeof(hex));
}

int
main(int argc, char **argv)
{
	const char	*url = NULL, *user = NULL, *seedfile = NULL, *cmd;
	uint8_t		 seed[32], pk[32], sk[64], ref[KP_REF_LEN];
	char		 hex[2 * KP_REF_LEN + 1], b64[64];
	int		 ch, rc;

	while ((ch = getopt(argc, argv, "s:u:k:")) != -1) {
		switch (ch) {
		case 's':
			url = optarg;
			break;
		case 'u':
			user = optarg;
			break;
		case 'k':
			seedfile = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || user == NULL || seedfile == NULL)
		usage();
	if (sodium_init() < 0)
		errx(1, "sodium_init");
	cmd = argv[0];
	load_seed(seedfile, seed, strcmp(cmd, "keygen") == 0);
	if (strcmp(cmd, "keygen") == 0) {
		crypto_sign_seed_keypair(pk, sk, seed);
		sodium_bin2base64(b64, sizeof(b64), pk, 32,
		    sodium_base64_VARIANT_ORIGINAL);
		printf("%s\n", b64);
		sodium_memzero(sk, sizeof(sk));
		sodium_memzero(seed, sizeof(seed));
		return 0;
	}
	if (url == NULL)
		usage();
	if (kp_client_new(url, user, seed, &cl) != KP_OK)
		errx(1, "bad url or user name");

	if (strcmp(cmd, "register") == 0 && argc > 1) {
		char	*body;

		crypto_sign_seed_keypair(pk, sk, seed);
		sodium_memzero(sk, sizeof(sk));
		if ((body = kp_client_dumps(json_pack("{s:s, s:o*, s:s}",
		    "username", user, "public_key", kp_client_jb64(pk, 32),
		    "invite", argv[1]))) == NULL)
			errx(1, "out of memory");
		rc = kp_client_request(cl, "POST", "/users", body, NULL);
		free(body);
		if (rc != KP_OK)
			fail(cmd, rc);
	} else if (strcmp(cmd, "register") == 0) {
		if ((rc = kp_client_register(cl)) != KP_OK)
			fail(cmd, rc);
	} else if (strcmp(cmd, "contact") == 0 && argc >= 2) {
		char	*body;

		if ((body = kp_client_dumps(json_pack("{s:s}", "username",
		    argv[1]))) == NULL)
			errx(1, "out of memory");
		rc = kp_client_request(cl, "POST", "/contacts", body, NULL);
		free(body);
		if (rc != KP_OK)
			fail(cmd, rc);
	} else if (strcmp(cmd, "upload-new") == 0 && argc >= 2) {
		struct kp_kpopts	 o;
		struct kp_kpsecrets	 sec;
		struct kp_upload_result	*res;
		uint8_t			**kps;
		size_t			*lens, n, i;

		n = (size_t)strtoul(argv[1], NULL, 10);
		if (n == 0 || n > KP_MAX_BATCH)
			errx(2, "upload-new: 1 to %d keys", KP_MAX_BATCH);
		kps = calloc(n, sizeof(*kps));
		lens = calloc(n, sizeof(*lens));
		res = calloc(n, sizeof(*res));
		if (kps == NULL || lens == NULL || res == NULL)
			err(1, "calloc");
		memset(&o, 0, sizeof(o));
		o.identity = (const uint8_t *)user;
		o.identity_len = strlen(user);
		o.last_resort = argc > 2 && strcmp(argv[2], "last-resort") == 0;
		for (i = 0; i < n; i++) {
			if ((rc = kp_keypackage_generate(&o, seed, &kps[i],
			    &lens[i], ref, &sec)) != KP_OK)
				errx(1, "generate: %s", kp_strerror(rc));
			sodium_memzero(&sec, sizeof(sec));
		}
		if ((rc = kp_client_upload(cl, (const uint8_t *const *)kps,
		    lens, n, res)) != KP_OK)
			fail(cmd, rc);
		for (i = 0; i < n; i++) {
			if (!res[i].accepted)
				errx(1, "key %zu rejected: %s: %s", i,
				    res[i].code, res[i].message);
			kp_hex(res[i].ref, KP_REF_LEN, hex);
			printf("%s\n", hex);
			free(kps[i]);
		}
		free(kps);
		free(lens);
		free(res);
	} else if (strcmp(cmd, "reserve") == 0 && argc >= 2) {
		struct kp_reservation	r;

		if ((rc = kp_client_reserve(cl, argv[1],
		    &(struct kp_reserve_opts){ .group_id = (const uint8_t *)"g",
		    .group_id_len = 1,
		    .request_id = argc > 2 ? argv[2] : NULL }, &r)) != KP_OK)
			fail(cmd, rc);
		kp_hex(r.ref, KP_REF_LEN, hex);
		printf("%s %s %lld %d\n", hex, r.reservation_id,
		    (long long)r.expires_at, r.last_resort);
		kp_reservation_free(&r);
	} else if (strcmp(cmd, "reserve-all") == 0 && argc >= 2) {
		struct kp_reservation	r;

		for (;;) {
			rc = kp_client_reserve(cl, argv[1],
			    &(struct kp_reserve_opts){ .group_id =
			    (const uint8_t *)"g", .group_id_len = 1 }, &r);
			if (rc == KP_EEXHAUSTED) {
				printf("exhausted\n");
				break;
			}
			if (rc != KP_OK)
				fail(cmd, rc);
			kp_hex(r.ref, KP_REF_LEN, hex);
			printf("%s\n", hex);
			kp_reservation_free(&r);
		}
	} else if (strcmp(cmd, "reserve-device") == 0 && argc >= 3) {
		struct kp_reservation	r;

		if ((rc = kp_client_reserve(cl, argv[1],
		    &(struct kp_reserve_opts){ .target_device = argv[2],
		    .cipher_suite = (uint16_t)(argc > 3 ? atoi(argv[3]) : 0),
		    .group_id = (const uint8_t *)"g", .group_id_len = 1 },
		    &r)) != KP_OK)
			fail(cmd, rc);
		kp_hex(r.ref, KP_REF_LEN, hex);
		printf("%s %s %u %d\n", hex, r.device, r.cipher_suite,
		    r.last_resort);
		kp_reservation_free(&r);
	} else if (strcmp(cmd, "claim") == 0 && argc >= 2) {
		struct kp_claim	c;
		size_t		i;

		rc = kp_client_claim(cl, argv[1], &(struct kp_reserve_opts){
		    .cipher_suite = (uint16_t)(argc > 2 ? atoi(argv[2]) : 0),
		    .request_id = argc > 3 ? argv[3] : NULL,
		    .group_id = (const uint8_t *)"g", .group_id_len = 1 }, &c);
		if (rc != KP_OK && rc != KP_EEXHAUSTED)
			fail(cmd, rc);
		for (i = 0; i < c.n; i++) {
			kp_hex(c.keys[i].ref, KP_REF_LEN, hex);
			printf("%s %s %u %d\n", c.keys[i].device, hex,
			    c.keys[i].cipher_suite, c.keys[i].last_resort);
		}
		for (i = 0; i < c.nexhausted; i++)
			printf("exhausted %s\n", c.exhausted[i]);
		kp_claim_free(&c);
		if (rc != KP_OK)
			fail(cmd, rc);
	} else if ((strcmp(cmd, "spend") == 0 || strcmp(cmd, "release") == 0 ||
	    strcmp(cmd, "retire") == 0) && argc >= 2) {
		if (strlen(argv[1]) != 2 * KP_REF_LEN ||
		    kp_unhex(argv[1], ref, KP_REF_LEN) != KP_OK)
			errx(2, "%s: not a ref", argv[1]);
		if (cmd[1] == 'p')
			rc = kp_client_spend(cl, ref, (const uint8_t *)
			    (argc > 2 ? argv[2] : ""), argc > 2 ?
			    strlen(argv[2]) : 0);
		else if (cmd[2] == 'l')
			rc = kp_client_release(cl, ref);
		else
			rc = kp_client_retire(cl, ref);
		if (rc != KP_OK)
			fail(cmd, rc);
	} else if (strcmp(cmd, "status") == 0 && argc >= 2) {
		struct kp_remote_status	s;

		if ((rc = kp_client_status(cl, argv[1], &s)) != KP_OK)
			fail(cmd, rc);
		printf("available %u reserved %u spent %u expired %u "
		    "last_resort %u\n", s.available, s.reserved, s.spent,
		    s.expired, s.last_resort);
	} else if (strcmp(cmd, "mine") == 0) {
		struct kp_remote_key	*k;
		size_t			 n, i;

		if ((rc = kp_client_mine(cl, &k, &n)) != KP_OK)
			fail(cmd, rc);
		for (i = 0; i < n; i++) {
			kp_hex(k[i].ref, KP_REF_LEN, hex);
			printf("%s %s", hex, kp_state_name(k[i].state));
			if (argc > 1 && strcmp(argv[1], "long") == 0)
				printf(" lr=%d up=%lld na=%lld rby=%s rat=%lld "
				    "rexp=%lld sby=%s sat=%lld g=%.*s",
				    k[i].last_resort,
				    (long long)k[i].uploaded_at,
				    (long long)k[i].not_after,
				    k[i].reserved_by,
				    (long long)k[i].reserved_at,
				    (long long)k[i].reservation_expires_at,
				    k[i].spent_by, (long long)k[i].spent_at,
				    (int)k[i].group_id_len,
				    (const char *)k[i].group_id);
			printf("\n");
		}
		free(k);
	} else
		usage();
	kp_client_free(cl);
	sodium_memzero(seed, sizeof(seed));
	return 0;
}
