/* SPDX-License-Identifier: ISC */
/*
 * 4000-kpinvite: the inviters of the end-to-end tests (t/4xxx), other
 * users who reserve and spend someone's KeyPackages through a real
 * kpool-server with the library's client.  With arguments it is a tool:
 *
 *	4000-kpinvite.t reserve URL INVITER TARGET GROUP_HEX
 *		prints "REF_HEX LAST_RESORT"
 *	4000-kpinvite.t spend URL INVITER REF_HEX GROUP_HEX
 *	4000-kpinvite.t release URL INVITER REF_HEX
 *		print "OK"
 *	4000-kpinvite.t race URL N TARGET
 *		N inviters (inv1 .. invN) reserve a key of TARGET at the
 *		same moment, each for group "g<i>" in hex; prints one line
 *		each: "inv<i> REF_HEX" or "inv<i> ERR CODE"
 *
 * A failure prints "ERR CODE NAME" (CODE a KP_E* number) and exits 1;
 * a usage error exits 2.  An inviter's Ed25519 seed is SHA-256 of its
 * name (test identities only), and it registers itself on first use.
 *
 * Run bare (by prove) it tests itself: identities are stable, and a
 * server that is not there gives KP_ENET.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "kpool.h"
#include "tap.h"

static void
seed_of(const char *name, uint8_t seed[KP_SIGN_SEED_LEN])
{
	crypto_hash_sha256_state h;

	crypto_hash_sha256_init(&h);
	crypto_hash_sha256_update(&h, (const uint8_t *)"kpool-test-inviter:",
	    19);
	crypto_hash_sha256_update(&h, (const uint8_t *)name, strlen(name));
	crypto_hash_sha256_final(&h, seed);
}

/* A registered client for inviter name. */
static int
inviter(const char *url, const char *name, struct kp_client **out)
{
	uint8_t seed[KP_SIGN_SEED_LEN];
	int rc;

	seed_of(name, seed);
	rc = kp_client_new(url, name, seed, out);
	sodium_memzero(seed, sizeof(seed));
	if (rc != KP_OK)
		return rc;
	kp_client_set_timeouts(*out, 2000, 10000);
	rc = kp_client_register(*out);
	if (rc == KP_ECONFLICT)
		rc = KP_OK;
	return rc;
}

static int
fail(int rc, struct kp_client *c)
{
	printf("ERR %d %s%s%s\n", rc, kp_strerror(rc), c ? ": " : "",
	    c ? kp_client_errmsg(c) : "");
	kp_client_free(c);
	return 1;
}

static int
unhex_any(const char *s, uint8_t *out, size_t cap, size_t *len)
{
	size_t n = strlen(s);

	if (n % 2 != 0 || n / 2 > cap || n == 0)
		return -1;
	if (kp_unhex(s, out, n / 2) != KP_OK)
		return -1;
	*len = n / 2;
	return 0;
}

struct racer {
	const char		*url, *target;
	int			 i;
	struct kp_client	*c;
	pthread_barrier_t	*go;
	int			 rc;
	char			 ref[2 * KP_REF_LEN + 1];
};

static void *
race_one(void *arg)
{
	struct racer *r = arg;
	struct kp_reservation res;
	char gid[16];

	snprintf(gid, sizeof(gid), "g%d", r->i);
	memset(&res, 0, sizeof(res));
	pthread_barrier_wait(r->go);
	r->rc = kp_client_reserve(r->c, r->target,
	    &(struct kp_reserve_opts){ .group_id = (const uint8_t *)gid,
	    .group_id_len = strlen(gid) }, &res);
	if (r->rc == KP_OK)
		kp_hex(res.ref, KP_REF_LEN, r->ref);
	kp_reservation_free(&res);
	return NULL;
}

static int
race(const char *url, int n, const char *target)
{
	struct racer *r;
	pthread_t *t;
	pthread_barrier_t go;
	char name[32];
	int i, rc = 0;

	if (n < 1 || n > 64)
		return 2;
	r = calloc(n, sizeof(*r));
	t = calloc(n, sizeof(*t));
	if (r == NULL || t == NULL)
		return 1;
	pthread_barrier_init(&go, NULL, n);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "inv%d", i + 1);
		r[i].url = url;
		r[i].target = target;
		r[i].i = i + 1;
		r[i].go = &go;
		if ((rc = inviter(url, name, &r[i].c)) != KP_OK)
			return fail(rc, r[i].c);
	}
	for (i = 0; i < n; i++)
		pthread_create(&t[i], NULL, race_one, &r[i]);
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < n; i++) {
		if (r[i].rc == KP_OK)
			printf("inv%d %s\n", i + 1, r[i].ref);
		else
			printf("inv%d ERR %d\n", i + 1, r[i].rc);
		kp_client_free(r[i].c);
	}
	pthread_barrier_destroy(&go);
	free(r);
	free(t);
	return 0;
}

static int
tool(int argc, char *argv[])
{
	struct kp_client *c = NULL;
	struct kp_reservation res;
	uint8_t gid[KP_MAX_GROUP_ID], ref[KP_REF_LEN];
	char hex[2 * KP_REF_LEN + 1];
	size_t gidlen = 0;
	int rc;

	if (strcmp(argv[1], "race") == 0 && argc == 5)
		return race(argv[2], atoi(argv[3]), argv[4]);
	if (strcmp(argv[1], "reserve") == 0 && argc == 6) {
		if (unhex_any(argv[5], gid, sizeof(gid), &gidlen) != 0)
			return 2;
		if ((rc = inviter(argv[2], argv[3], &c)) != KP_OK)
			return fail(rc, c);
		memset(&res, 0, sizeof(res));
		rc = kp_client_reserve(c, argv[4],
		    &(struct kp_reserve_opts){ .group_id = gid,
		    .group_id_len = gidlen }, &res);
		if (rc != KP_OK)
			return fail(rc, c);
		kp_hex(res.ref, KP_REF_LEN, hex);
		printf("%s %d\n", hex, res.last_resort ? 1 : 0);
		kp_reservation_free(&res);
		kp_client_free(c);
		return 0;
	}
	if ((strcmp(argv[1], "spend") == 0 && argc == 6) ||
	    (strcmp(argv[1], "release") == 0 && argc == 5)) {
		if (kp_unhex(argv[4], ref, sizeof(ref)) != KP_OK ||
		    strlen(argv[4]) != 2 * KP_REF_LEN)
			return 2;
		if (argc == 6 &&
		    unhex_any(argv[5], gid, sizeof(gid), &gidlen) != 0)
			return 2;
		if ((rc = inviter(argv[2], argv[3], &c)) != KP_OK)
			return fail(rc, c);
		rc = argc == 6 ? kp_client_spend(c, ref, gid, gidlen) :
		    kp_client_release(c, ref);
		if (rc != KP_OK)
			return fail(rc, c);
		printf("OK\n");
		kp_client_free(c);
		return 0;
	}
	fprintf(stderr, "usage: 4000-kpinvite.t reserve|spend|release|race "
	    "...\n");
	return 2;
}

int
main(int argc, char *argv[])
{
	uint8_t a[KP_SIGN_SEED_LEN], b[KP_SIGN_SEED_LEN];
	struct kp_client *c = NULL;
	int rc;

	if (sodium_init() == -1)
		return 1;
	if (argc > 1)
		return tool(argc, argv);

	plan(3);
	seed_of("inv1", a);
	seed_of("inv1", b);
	is_blob(a, sizeof(a), b, sizeof(b), "an inviter's identity is stable");
	seed_of("inv2", b);
	ok(memcmp(a, b, sizeof(a)) != 0, "two inviters differ");
	rc = inviter("http://127.0.0.1:1", "inv1", &c);
	is_int(rc, KP_ENET, "no server there: KP_ENET");
	kp_client_free(c);
	return done_testing();
}
