/* SPDX-License-Identifier: ISC */
/*
 * 1024-pool-devices: a store's device.  A store made before devices
 * (the schema of migration 2, made here from a new store) migrates in
 * place to the device "default", its keys and identity kept, and its
 * keys' identity and keyid stay the user name.  A new store of the
 * device "laptop" names itself alice/laptop in its keys' credential; a
 * store opened as another device, or with a bad device name, is
 * KP_EINVAL with the reason.  Enrollment is not asked until a server
 * answers.
 */

#include <sqlite3.h>

#include "1-pooltest.h"

/* The credential identity of key ref of p, as a string in buf. */
static const char *
identity_of(struct kp_pool *p, const uint8_t ref[KP_REF_LEN], char *buf,
    size_t cap)
{
	struct kp_keypackage	*kp = NULL;
	const uint8_t		*id;
	uint8_t			*bytes = NULL;
	size_t			 len, idlen;

	buf[0] = '\0';
	if (kp_pool_keypackage(p, ref, &bytes, &len) == KP_OK &&
	    kp_keypackage_decode(bytes, len, 0, &kp) == KP_OK) {
		id = kp_keypackage_identity(kp, &idlen);
		if (idlen < cap) {
			memcpy(buf, id, idlen);
			buf[idlen] = '\0';
		}
	}
	kp_keypackage_free(kp);
	free(bytes);
	return buf;
}

/* Take the store at db back to the schema of migration 2. */
static void
make_old(const char *db)
{
	sqlite3	*s;
	char	*err = NULL;

	if (sqlite3_open(db, &s) != SQLITE_OK ||
	    sqlite3_exec(s, "ALTER TABLE keypackages DROP COLUMN created_ns;"
	    "ALTER TABLE keypackages DROP COLUMN changed_ns;"
	    "ALTER TABLE identity DROP COLUMN device;"
	    "DROP TABLE devices; PRAGMA user_version = 2;", NULL, NULL,
	    &err) != SQLITE_OK)
		bail("old schema: %s", err ? err : sqlite3_errmsg(s));
	sqlite3_close(s);
}

static void
test_migration(void)
{
	struct kp_pool	 *p;
	struct kp_key	**keys = NULL;
	struct kp_status  st;
	uint8_t		  pub[KP_SIGN_PK_LEN], pub2[KP_SIGN_PK_LEN];
	uint8_t		  ref[KP_REF_LEN];
	char		  id[KP_MAX_IDENTITY + 1];
	size_t		  n = 0;

	if (kp_pool_open(pt_file("old.db"), NULL, "alice", NULL, &p) !=
	    KP_OK || kp_pool_generate(p, 3, 0) != KP_OK)
		bail("old store: %s", kp_errmsg(p));
	kp_pool_identity(p, pub);
	kp_pool_close(p);
	make_old(pt_file("old.db"));

	is_int(kp_pool_open(pt_file("old.db"), NULL, NULL, "laptop", &p),
	    KP_EINVAL, "an old store is not the device laptop");
	is_string(kp_errmsg(p), "the store belongs to device \"default\", "
	    "not \"laptop\"", "and says whose it is");
	kp_pool_close(p);
	is_int(kp_pool_open(pt_file("old.db"), NULL, NULL, NULL, &p), KP_OK,
	    "the old store opens (and migrates)");
	is_string(kp_pool_user(p), "alice", "its user is kept");
	is_string(kp_pool_device(p), "default", "it is the device default");
	is_string(kp_pool_principal(p), "alice", "its principal: the user");
	kp_pool_identity(p, pub2);
	is_blob(pub2, sizeof(pub2), pub, sizeof(pub), "its key is kept");
	is_int(kp_pool_list(p, KP_STATE_CREATED, &keys, &n), KP_OK, "list");
	is_int(n, 3, "its 3 keys are kept");
	if (n > 0) {
		memcpy(ref, kp_key_ref(keys[0]), KP_REF_LEN);
		is_string(identity_of(p, ref, id, sizeof(id)), "alice",
		    "an old key names the user alone");
	}
	kp_keys_free(keys, n);
	is_int(kp_pool_status(p, &st), KP_OK, "status");
	is_int(st.enrolled, -1, "enrollment: not asked yet");
	kp_pool_close(p);
	is_int(kp_pool_open(pt_file("old.db"), NULL, "alice", "default", &p),
	    KP_OK, "opened again as alice's device default");
	kp_pool_close(p);
}

static void
test_new(void)
{
	struct kp_pool	 *p;
	struct kp_key	**keys = NULL;
	char		  id[KP_MAX_IDENTITY + 1];
	size_t		  n = 0;

	is_int(kp_pool_open(pt_file("bad.db"), NULL, "alice", "Laptop", &p),
	    KP_EINVAL, "a device name in upper case: KP_EINVAL");
	kp_pool_close(p);
	is_int(kp_pool_open(pt_file("bad.db"), NULL, "alice", "a/b", &p),
	    KP_EINVAL, "a device name with a slash: KP_EINVAL");
	kp_pool_close(p);

	if (kp_pool_open(pt_file("laptop.db"), NULL, "alice", "laptop", &p) !=
	    KP_OK || kp_pool_generate(p, 1, 0) != KP_OK)
		bail("laptop: %s", kp_errmsg(p));
	is_string(kp_pool_device(p), "laptop", "the device laptop");
	is_string(kp_pool_principal(p), "alice/laptop",
	    "its principal: alice/laptop");
	if (kp_pool_list(p, -1, &keys, &n) != KP_OK || n != 1)
		bail("list: %s", kp_errmsg(p));
	is_string(identity_of(p, kp_key_ref(keys[0]), id, sizeof(id)),
	    "alice/laptop", "a new key's credential names the device");
	kp_keys_free(keys, n);
	kp_pool_close(p);

	is_int(kp_pool_open(pt_file("laptop.db"), NULL, NULL, NULL, &p),
	    KP_OK, "opened without a device: the store's");
	is_string(kp_pool_device(p), "laptop", "still laptop");
	kp_pool_close(p);
	is_int(kp_pool_open(pt_file("laptop.db"), NULL, NULL, "default", &p),
	    KP_EINVAL, "the store of laptop is not the device default");
	is_string(kp_errmsg(p), "the store belongs to device \"laptop\", not "
	    "\"default\"", "and says so");
	kp_pool_close(p);

	if (kp_pool_open(pt_file("dflt.db"), NULL, "bob", NULL, &p) != KP_OK)
		bail("bob: %s", kp_errmsg(p));
	is_string(kp_pool_device(p), "default", "a new store without a "
	    "device is the device default");
	is_string(kp_pool_principal(p), "bob", "its principal: bob");
	kp_pool_close(p);
}

int
main(void)
{
	pt_init();
	test_migration();
	test_new();
	return done_testing();
}
