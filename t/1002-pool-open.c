/* SPDX-License-Identifier: ISC */
/*
 * 1002-pool-open: opening a pool: the identity is made once and kept,
 * the store belongs to one user, bad arguments and key files give their
 * exact errors, an empty pool's counts, status and lookups, the clock.
 */

#include <sodium.h>

#include "1-pooltest.h"

static void
test_identity(void)
{
	struct kp_pool	*p;
	uint8_t		 pub[KP_SIGN_PK_LEN], pub2[KP_SIGN_PK_LEN];

	is_int(kp_pool_open(pt_file("i.db"), NULL, NULL, NULL, &p), KP_EINVAL,
	    "a new store without a user name is KP_EINVAL");
	ok(strstr(kp_errmsg(p), "needs a user name") != NULL,
	    "and says so: %s", kp_errmsg(p));
	kp_pool_close(p);

	is_int(kp_pool_open(pt_file("i.db"), NULL, "alice", NULL, &p), KP_OK,
	    "open a new store for alice");
	is_string(kp_pool_user(p), "alice", "its user");
	is_int(pt_mode(pt_file("i.db")), 0600, "store 0600");
	is_int(pt_mode(pt_file("i.db.key")), 0600,
	    "key file next to it by default, 0600");
	kp_pool_identity(p, pub);
	ok(!sodium_is_zero(pub, sizeof(pub)), "an Ed25519 identity");
	kp_pool_close(p);

	is_int(kp_pool_open(pt_file("i.db"), NULL, NULL, NULL, &p), KP_OK,
	    "reopen without a user name");
	is_string(kp_pool_user(p), "alice", "the stored user");
	kp_pool_identity(p, pub2);
	is_blob(pub2, sizeof(pub2), pub, sizeof(pub), "the same identity");
	kp_pool_close(p);

	is_int(kp_pool_open(pt_file("i.db"), NULL, "alice", NULL, &p), KP_OK,
	    "reopen naming alice");
	kp_pool_close(p);
	is_int(kp_pool_open(pt_file("i.db"), NULL, "bob", NULL, &p), KP_EINVAL,
	    "reopen naming bob is KP_EINVAL");
	is_string(kp_errmsg(p), "the store belongs to user \"alice\", "
	    "not \"bob\"", "and says whose it is");
	kp_pool_close(p);

	is_int(kp_pool_open(pt_file("i.db"), pt_file("i.db.other"), NULL, NULL,
	    &p),
	    KP_ECRYPTO, "another (missing) key file is KP_ECRYPTO");
	ok(strstr(kp_errmsg(p), "is missing") != NULL, "message: %s",
	    kp_errmsg(p));
	kp_pool_close(p);

	is_int(kp_pool_open(pt_file("j.db"), NULL, "", NULL, &p), KP_EINVAL,
	    "an empty user name is KP_EINVAL");
	kp_pool_close(p);
	is_int(kp_pool_open(pt_file("j.db"), NULL, "a/b", NULL, &p), KP_EINVAL,
	    "a user name with '/' is KP_EINVAL");
	kp_pool_close(p);
	is_int(kp_pool_open(pt_file("j.db"), NULL, "a\nb", NULL, &p), KP_EINVAL,
	    "a user name with a newline is KP_EINVAL");
	kp_pool_close(p);
	is_int(kp_pool_open(pt_file("j.db"), NULL,
	    "0123456789012345678901234567890123456789012345678901234567890123"
	    "4", NULL, &p), KP_EINVAL, "a 65-byte user name is KP_EINVAL");
	kp_pool_close(p);
	is_int(kp_pool_open(NULL, NULL, "alice", NULL, &p), KP_EINVAL,
	    "no path is KP_EINVAL");
	kp_pool_close(p);
	is_int(kp_pool_open(pt_file("nodir/x.db"), NULL, "alice", NULL, &p),
	    KP_EIO,
	    "a store in a missing directory is KP_EIO");
	kp_pool_close(p);
	is_string(kp_errmsg(NULL), "out of memory", "kp_errmsg(NULL)");
}

static void
test_empty(void)
{
	struct kp_pool	*p;
	struct kp_counts c;
	struct kp_status s;
	struct kp_key	**keys, *k = NULL;
	uint8_t		 ref[KP_REF_LEN], *buf;
	size_t		 n, len;
	int		 i, zero = 1;

	if (kp_pool_open(pt_file("e.db"), NULL, "erin", NULL, &p) != KP_OK)
		bail("open: %s", kp_errmsg(p));
	is_int(kp_pool_counts(p, 0, &c), KP_OK, "counts");
	for (i = 0; i < KP_NSTATES; i++)
		zero &= c.n[i] == 0;
	ok(zero && c.total == 0 && c.last_resort == 0, "all zero");
	is_int(kp_pool_list(p, -1, &keys, &n), KP_OK, "list all");
	is_int(n, 0, "nothing");
	kp_keys_free(keys, n);
	is_int(kp_pool_list(p, KP_NSTATES, &keys, &n), KP_EINVAL,
	    "list of a bad state is KP_EINVAL");

	memset(ref, 0x11, sizeof(ref));
	is_int(kp_pool_key(p, ref, &k), KP_ENOTFOUND, "key: KP_ENOTFOUND");
	is_string(kp_errmsg(p), "no key 111111111111111111111111111111111"
	    "1111111111111111111111111111111", "names the ref");
	k = (struct kp_key *)&k;	/* anything: the call sets it */
	is_int(kp_pool_key(p, ref, &k), KP_ENOTFOUND, "key: again");
	ok(k == NULL, "nothing handed out");
	is_int(kp_pool_keypackage(p, ref, &buf, &len), KP_ENOTFOUND,
	    "keypackage: KP_ENOTFOUND");
	is_int(kp_pool_delete(p, ref), KP_ENOTFOUND, "delete: KP_ENOTFOUND");

	is_int(kp_pool_status(p, &s), KP_OK, "status");
	is_int(s.health, KP_HEALTH_OFFLINE, "offline without a server");
	is_int(s.last_sync, 0, "never synced");
	is_int(kp_pool_set_server(p, "ftp://x"), KP_EINVAL,
	    "a server URL that is not http is KP_EINVAL");
	is_int(kp_pool_set_server(p, "http://127.0.0.1:1"), KP_OK,
	    "set a server");
	is_int(kp_pool_status(p, &s), KP_OK, "status");
	is_int(s.health, KP_HEALTH_EMPTY, "empty with a server, no call yet");
	is_int(kp_pool_set_server(p, NULL), KP_OK, "back offline");

	kp_pool_set_clock(p, pt_now, NULL);
	is_int(kp_pool_now(p), pt_clock, "the test clock");
	pt_clock += 5;
	is_int(kp_pool_now(p), pt_clock, "follows it");
	kp_pool_set_clock(p, NULL, NULL);
	ok(kp_pool_now(p) > 1700000000, "the real clock again");
	kp_pool_close(p);
}

int
main(void)
{
	if (sodium_init() < 0)
		bail("sodium_init");
	pt_init();
	test_identity();
	test_empty();
	return done_testing();
}
