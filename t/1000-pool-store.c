/* SPDX-License-Identifier: ISC */
/*
 * 1000-pool-store: the local store on real SQLite files: bundles round
 * trip with every field, missing keys, deletion and wiping leave no
 * private bytes in the files (database and WAL), state updates are
 * compare-and-set, counts, expiry, reservations, credentials, the
 * at-rest key file and schema versions.
 */

#include <sodium.h>
#include <sqlite3.h>

#include "1-pooltest.h"
#include "pool.h"
#include "store.h"

static char	errbuf[KP_ERRLEN];

/* A synthetic bundle: random ref, bytes and secrets. */
static void
make_bundle(struct kp_bundle *b, uint8_t *kp, size_t kplen, int state,
    int64_t created, uint16_t suite, const uint8_t cred[32])
{
	memset(b, 0, sizeof(*b));
	randombytes_buf(b->key.ref, KP_REF_LEN);
	kp_hex(b->key.ref, KP_REF_LEN, b->key.ref_hex);
	randombytes_buf(kp, kplen);
	b->keypackage = kp;
	b->keypackage_len = kplen;
	b->key.state = state;
	b->key.suite = suite;
	b->key.created_at = created;
	b->key.changed_at = created;
	b->key.not_before = created - 3600;
	b->key.not_after = created + 14 * 86400;
	b->key.epoch = -1;
	b->key.has_private = state != KP_STATE_EXPIRED;
	memcpy(b->key.credential_hash, cred, 32);
	b->credential_type = KP_CRED_BASIC;
	randombytes_buf(&b->sec, sizeof(b->sec));
}

/* The sealed column value of ref as the file holds it. */
static size_t
sealed_of(struct kp_store *st, const uint8_t *ref, const char *col,
    uint8_t *out, size_t cap)
{
	sqlite3_stmt	*s;
	char		 sql[128];
	size_t		 n = 0;

	(void)snprintf(sql, sizeof(sql), "SELECT %s FROM keypackages WHERE "
	    "keypackage_ref = ?", col);
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		bail("prepare: %s", sqlite3_errmsg(st->db));
	sqlite3_bind_blob(s, 1, ref, KP_REF_LEN, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW &&
	    (size_t)sqlite3_column_bytes(s, 0) <= cap) {
		n = (size_t)sqlite3_column_bytes(s, 0);
		if (n > 0)
			memcpy(out, sqlite3_column_blob(s, 0), n);
	}
	sqlite3_finalize(s);
	return n;
}

static const char *
pragma_text(struct kp_store *st, const char *sql, char *buf, size_t len)
{
	sqlite3_stmt	*s;

	buf[0] = '\0';
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		bail("prepare: %s", sqlite3_errmsg(st->db));
	if (sqlite3_step(s) == SQLITE_ROW)
		(void)snprintf(buf, len, "%s", sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	return buf;
}

static void
test_roundtrip(void)
{
	struct kp_store	*st;
	struct kp_bundle b, got;
	uint8_t		 kp[300], cred[32];
	char		 buf[32];
	int		 found;

	is_int(kp_store_open(pt_file("a.db"), pt_file("a.key"), errbuf,
	    sizeof(errbuf), &st), KP_OK, "open a new store");
	is_int(pt_mode(pt_file("a.db")), 0600, "the database is 0600");
	is_int(pt_mode(pt_file("a.key")), 0600, "the key file is 0600");
	is_int(pt_mode(pt_file("a.db-wal")), 0600, "the WAL is 0600");
	is_string(pragma_text(st, "PRAGMA journal_mode", buf, sizeof(buf)),
	    "wal", "journal_mode is WAL");
	is_string(pragma_text(st, "PRAGMA secure_delete", buf, sizeof(buf)),
	    "1", "secure_delete is on");
	is_string(pragma_text(st, "PRAGMA user_version", buf, sizeof(buf)),
	    "4", "schema version 4");

	randombytes_buf(cred, sizeof(cred));
	make_bundle(&b, kp, sizeof(kp), KP_STATE_RESERVED, 1000,
	    KP_SUITE_X25519_CHACHA20, cred);
	b.key.last_resort = 1;
	b.key.uploaded_at = 1001;
	b.key.reserved_at = 1002;
	b.key.spent_at = 1003;
	b.key.expired_at = 1004;
	b.key.changed_at = 1005;
	memset(b.key.reservation_id, 'r', 64);
	b.key.reservation_id[64] = '\0';
	b.key.reservation_expires_at = 1060;
	(void)snprintf(b.key.reserved_by, sizeof(b.key.reserved_by), "bob");
	(void)snprintf(b.key.spent_by, sizeof(b.key.spent_by), "carol");
	memset(b.key.group_id, 0xab, KP_MAX_GROUP_ID);
	b.key.group_id_len = KP_MAX_GROUP_ID;
	b.key.epoch = 7;
	b.key.keypackage_len = sizeof(kp);
	b.credential_type = KP_CRED_X509;
	is_int(kp_store_save(st, &b), KP_OK, "save a bundle");
	is_int(kp_store_save(st, &b), KP_EEXIST, "a second save of the ref "
	    "is KP_EEXIST");

	is_int(kp_store_load(st, b.key.ref, 1, &got, &found), KP_OK,
	    "load it");
	is_int(found, 1, "found");
	ok(memcmp(&got.key, &b.key, sizeof(b.key)) == 0,
	    "every public field round-trips");
	is_blob(got.keypackage, got.keypackage_len, kp, sizeof(kp),
	    "KeyPackage bytes round-trip");
	is_blob(got.sec.init_priv, KP_KEY_LEN, b.sec.init_priv, KP_KEY_LEN,
	    "private init key round-trips");
	is_blob(got.sec.encryption_priv, KP_KEY_LEN, b.sec.encryption_priv,
	    KP_KEY_LEN, "private encryption key round-trips");
	is_int(got.credential_type, KP_CRED_X509, "credential type");
	kp_bundle_clear(&got);

	is_int(kp_store_load(st, b.key.ref, 0, &got, &found), KP_OK,
	    "load without private keys");
	ok(sodium_is_zero((uint8_t *)&got.sec, sizeof(got.sec)),
	    "no secrets without with_private");
	kp_bundle_clear(&got);

	ok(!pt_store_has(pt_file("a.db"), b.sec.init_priv, KP_KEY_LEN) &&
	    !pt_store_has(pt_file("a.db"), b.sec.encryption_priv, KP_KEY_LEN),
	    "private keys are not in the files in clear");

	b.key.ref[0] ^= 1;
	is_int(kp_store_load(st, b.key.ref, 1, &got, &found), KP_OK,
	    "load of a missing ref succeeds");
	is_int(found, 0, "... and finds none");
	is_int(kp_store_get(st, b.key.ref, 1, &got), KP_ENOTFOUND,
	    "get of a missing ref is KP_ENOTFOUND");
	is_int(kp_store_delete(st, b.key.ref), KP_ENOTFOUND,
	    "delete of a missing ref is KP_ENOTFOUND");
	is_int(kp_store_set_state(st, b.key.ref, KP_STATE_CREATED,
	    KP_STATE_AVAILABLE, 1), KP_ENOTFOUND,
	    "set_state of a missing ref is KP_ENOTFOUND");
	sodium_memzero(&b.sec, sizeof(b.sec));
	kp_store_close(st);
}

static void
test_delete_wipe(void)
{
	struct kp_store	*st;
	struct kp_bundle b[3], got;
	uint8_t		 kp[3][200], cred[32], sealed[2][128];
	size_t		 sl[2];
	int		 i, wiped;

	randombytes_buf(cred, sizeof(cred));
	if (kp_store_open(pt_file("d.db"), pt_file("d.key"), errbuf,
	    sizeof(errbuf), &st) != KP_OK)
		bail("open: %s", errbuf);
	for (i = 0; i < 3; i++) {
		make_bundle(&b[i], kp[i], sizeof(kp[i]), KP_STATE_CREATED,
		    100 + i, KP_SUITE_X25519_AES128GCM, cred);
		if (kp_store_save(st, &b[i]) != KP_OK)
			bail("save: %s", errbuf);
	}

	/* delete: the row and its sealed keys leave both files */
	sl[0] = sealed_of(st, b[0].key.ref, "private_init_key", sealed[0],
	    sizeof(sealed[0]));
	sl[1] = sealed_of(st, b[0].key.ref, "private_encryption_key",
	    sealed[1], sizeof(sealed[1]));
	is_int(sl[0], 72, "a sealed key is 72 bytes (nonce, key, tag)");
	ok(pt_store_has(pt_file("d.db"), sealed[0], sl[0]),
	    "before delete the sealed init key is in the files");
	is_int(kp_store_delete(st, b[0].key.ref), KP_OK, "delete a key");
	kp_store_flush(st);	/* the scrub the wipe owes */
	ok(!pt_store_has(pt_file("d.db"), sealed[0], sl[0]) &&
	    !pt_store_has(pt_file("d.db"), sealed[1], sl[1]),
	    "after delete no sealed private key bytes in db, -wal or -shm");
	ok(!pt_store_has(pt_file("d.db"), b[0].keypackage, 200),
	    "nor the KeyPackage bytes");
	is_int(kp_store_get(st, b[0].key.ref, 0, &got), KP_ENOTFOUND,
	    "the deleted key is gone");

	/* wipe: the row stays, the keys go */
	sl[0] = sealed_of(st, b[1].key.ref, "private_init_key", sealed[0],
	    sizeof(sealed[0]));
	sl[1] = sealed_of(st, b[1].key.ref, "private_encryption_key",
	    sealed[1], sizeof(sealed[1]));
	is_int(kp_store_wipe(st, b[1].key.ref, &wiped), KP_OK, "wipe a key");
	kp_store_flush(st);
	is_int(wiped, 1, "it had private keys");
	ok(!pt_store_has(pt_file("d.db"), sealed[0], sl[0]) &&
	    !pt_store_has(pt_file("d.db"), sealed[1], sl[1]),
	    "after wipe no sealed private key bytes in the files");
	is_int(kp_store_get(st, b[1].key.ref, 1, &got), KP_OK,
	    "the wiped key is still listed");
	is_int(got.key.has_private, 0, "without private keys");
	ok(sodium_is_zero((uint8_t *)&got.sec, sizeof(got.sec)),
	    "and load gives none");
	kp_bundle_clear(&got);
	is_int(kp_store_wipe(st, b[1].key.ref, &wiped), KP_OK, "wipe again");
	is_int(wiped, 0, "nothing left to wipe");

	/* expiry wipes in the same statement */
	sl[0] = sealed_of(st, b[2].key.ref, "private_init_key", sealed[0],
	    sizeof(sealed[0]));
	is_int(kp_store_set_state(st, b[2].key.ref, KP_STATE_AVAILABLE,
	    KP_STATE_EXPIRED, 500), KP_ESTATE,
	    "set_state from the wrong state is KP_ESTATE");
	is_int(kp_store_set_state(st, b[2].key.ref, KP_STATE_CREATED,
	    KP_STATE_EXPIRED, 500), KP_OK, "created -> expired");
	kp_store_flush(st);
	ok(!pt_store_has(pt_file("d.db"), sealed[0], sl[0]),
	    "expiry leaves no sealed private key bytes in the files");
	is_int(kp_store_get(st, b[2].key.ref, 0, &got), KP_OK, "reload");
	is_int(got.key.state, KP_STATE_EXPIRED, "state expired");
	is_int(got.key.expired_at, 500, "expired_at recorded");
	is_int(got.key.has_private, 0, "private keys gone");
	kp_bundle_clear(&got);
	for (i = 0; i < 3; i++)
		sodium_memzero(&b[i].sec, sizeof(b[i].sec));
	kp_store_close(st);
}

/*
 * Expire and wipe every live key of the credential with this hash, as
 * a store would when a credential is revoked; *n gets the rows changed.
 */
static int
invalidate(struct kp_store *st, const uint8_t hash[32], int64_t now,
    uint32_t *n)
{
	sqlite3_stmt	*s;
	int		 rc = KP_OK;

	if (sqlite3_prepare_v2(st->db, "UPDATE keypackages SET status = "
	    "'expired', expired_at = ?2, changed_at = ?2, private_init_key = "
	    "NULL, private_encryption_key = NULL WHERE credential_hash = ?1 "
	    "AND status IN ('created', 'available', 'reserved')", -1, &s,
	    NULL) != SQLITE_OK)
		bail("prepare: %s", sqlite3_errmsg(st->db));
	sqlite3_bind_blob(s, 1, hash, 32, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, now);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = KP_EDB;
	*n = (uint32_t)sqlite3_changes(st->db);
	sqlite3_finalize(s);
	return rc;
}

#define MANY	200

static void
test_many(void)
{
	struct kp_store	*st;
	struct kp_bundle *b, got;
	struct kp_counts c;
	struct kp_rec	*keys;
	uint8_t		 (*kp)[64], cred[2][32], *kps;
	size_t		 n, i, m;
	uint32_t	 inval;
	int		 bad = 0, sorted = 1;

	b = calloc(MANY, sizeof(*b));
	kps = malloc(MANY * 64);
	kp = (uint8_t (*)[64])kps;
	if (b == NULL || kp == NULL)
		bail("calloc");
	randombytes_buf(cred, sizeof(cred));
	if (kp_store_open(pt_file("m.db"), pt_file("m.key"),
	    errbuf, sizeof(errbuf), &st) != KP_OK)
		bail("open: %s", errbuf);
	if (kp_store_begin(st) != KP_OK)
		bail("begin");
	for (i = 0; i < MANY; i++) {
		/* states cycle; suites and credentials alternate */
		make_bundle(&b[i], kp[i], 64, (int)(i % KP_NSTATES),
		    (int64_t)(MANY - i), i % 2 ? KP_SUITE_X25519_CHACHA20 :
		    KP_SUITE_X25519_AES128GCM, cred[i % 3 == 0]);
		b[i].key.not_after = 10000 + (int64_t)i;
		if (b[i].key.state == KP_STATE_RESERVED) {
			(void)snprintf(b[i].key.reservation_id, 65, "r%zu", i);
			(void)snprintf(b[i].key.reserved_by,
			    sizeof(b[i].key.reserved_by), "inviter%zu", i);
			b[i].key.reservation_expires_at = 60 + (int64_t)i;
			b[i].key.reserved_at = (int64_t)i;
		}
		if (kp_store_save(st, &b[i]) != KP_OK)
			bail("save %zu: %s", i, errbuf);
	}
	is_int(kp_store_commit(st), KP_OK, "save 200 keys in one transaction");

	for (i = 0; i < MANY; i++) {
		if (kp_store_get(st, b[i].key.ref, 1, &got) != KP_OK ||
		    got.key.state != b[i].key.state ||
		    memcmp(got.keypackage, kp[i], 64) != 0 ||
		    got.key.has_private != b[i].key.has_private ||
		    (got.key.has_private && memcmp(&got.sec, &b[i].sec,
		    sizeof(got.sec)) != 0))
			bad++;
		kp_bundle_clear(&got);
	}
	is_int(bad, 0, "200 bundles coexist, each with its own keys");

	is_int(kp_store_counts(st, 0, -1, &c), KP_OK, "count by status");
	is_int(c.total, MANY, "total 200");
	is_int(c.n[KP_STATE_CREATED] + c.n[KP_STATE_AVAILABLE] +
	    c.n[KP_STATE_RESERVED] + c.n[KP_STATE_SPENT] +
	    c.n[KP_STATE_EXPIRED], MANY, "the counts sum to the total");
	is_int(c.n[KP_STATE_SPENT], MANY / KP_NSTATES, "40 spent");
	is_int(kp_store_counts(st, KP_SUITE_X25519_CHACHA20, -1, &c), KP_OK,
	    "count one suite");
	is_int(c.total, MANY / 2, "100 of suite 3");

	is_int(kp_store_list(st, -1, &keys, &n), KP_OK, "list all");
	is_int(n, MANY, "200 listed");
	for (i = 1; i < n; i++)
		if (keys[i - 1].created_at > keys[i].created_at)
			sorted = 0;
	ok(sorted, "oldest first");
	free(keys);

	is_int(kp_store_list(st, KP_STATE_AVAILABLE, &keys, &n), KP_OK,
	    "available keys");
	bad = 0;
	m = 0;
	for (i = 0; i < n; i++) {
		if (keys[i].state != KP_STATE_AVAILABLE)
			bad++;
		if (keys[i].suite == KP_SUITE_X25519_CHACHA20)
			m++;
	}
	is_int(m, 20, "20 of suite 3 (i mod 10 is 1)");
	is_int(bad, 0, "all available");
	free(keys);

	/* not_after = 10000 + i: at 10050, keys 0..49 are past it */
	is_int(kp_store_expired(st, 10050, &keys, &n), KP_OK, "expired keys");
	is_int(n, 30, "30 live keys past not_after (created, available, "
	    "reserved among 0..49)");
	free(keys);

	is_int(kp_store_get(st, b[2].key.ref, 0, &got), KP_OK,
	    "reservation info");
	is_string(got.key.reservation_id, "r2", "reservation id");
	is_string(got.key.reserved_by, "inviter2", "reserved by");
	is_int(got.key.reservation_expires_at, 62, "reservation expiry");
	is_int(got.key.reserved_at, 2, "reserved at");
	kp_bundle_clear(&got);
	ok(kp_store_get(st, b[1].key.ref, 0, &got) == KP_OK &&
	    got.key.state == KP_STATE_AVAILABLE &&
	    got.key.reservation_id[0] == '\0' &&
	    got.key.reserved_by[0] == '\0' &&
	    got.key.reservation_expires_at == 0,
	    "no reservation on an available key");
	kp_bundle_clear(&got);

	/* credential 1 holds keys with i % 3 == 0 */
	is_int(invalidate(st, cred[1], 20000, &inval), KP_OK,
	    "invalidate a credential");
	is_int(inval, 40, "its 40 live keys (i mod 3 is 0, state below spent)");
	bad = 0;
	for (i = 0; i < MANY; i += 3) {
		if (kp_store_get(st, b[i].key.ref, 0, &got) != KP_OK)
			bad++;
		else if (b[i].key.state < KP_STATE_SPENT &&
		    (got.key.state != KP_STATE_EXPIRED || got.key.has_private))
			bad++;
		else if (b[i].key.state >= KP_STATE_SPENT &&
		    got.key.state != b[i].key.state)
			bad++;
		kp_bundle_clear(&got);
	}
	is_int(bad, 0, "they are expired and wiped; spent ones stay spent");
	is_int(invalidate(st, cred[1], 20000, &inval), KP_OK,
	    "invalidate again");
	is_int(inval, 0, "nothing left");

	for (i = 0; i < MANY; i++)
		sodium_memzero(&b[i].sec, sizeof(b[i].sec));
	free(b);
	free(kps);
	kp_store_close(st);
}

static void
test_keyfile(void)
{
	struct kp_store	*st;
	uint8_t		 other[32];
	int		 fd;

	if (kp_store_open(pt_file("k.db"), pt_file("k.key"), errbuf,
	    sizeof(errbuf), &st) != KP_OK)
		bail("open: %s", errbuf);
	kp_store_close(st);
	is_int(kp_store_open(pt_file("k.db"), pt_file("k.key"), errbuf,
	    sizeof(errbuf), &st), KP_OK, "reopen with its key file");
	kp_store_close(st);

	/* another key file: a clear error, never garbage */
	randombytes_buf(other, sizeof(other));
	fd = open(pt_file("other.key"), O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd == -1 || write(fd, other, 32) != 32)
		bail("other.key");
	close(fd);
	is_int(kp_store_open(pt_file("k.db"), pt_file("other.key"), errbuf,
	    sizeof(errbuf), &st), KP_ECRYPTO,
	    "a wrong key file is KP_ECRYPTO");
	ok(strstr(errbuf, "does not match this store") != NULL,
	    "and says so: %s", errbuf);
	ok(st == NULL, "no handle");

	is_int(kp_store_open(pt_file("k.db"), pt_file("none.key"), errbuf,
	    sizeof(errbuf), &st), KP_ECRYPTO,
	    "a missing key file for an existing store is KP_ECRYPTO");
	ok(strstr(errbuf, "is missing") != NULL, "and says so: %s", errbuf);
	is_int(pt_mode(pt_file("none.key")), -1, "and is not created");

	if (chmod(pt_file("k.key"), 0644) == -1)
		bail("chmod");
	is_int(kp_store_open(pt_file("k.db"), pt_file("k.key"), errbuf,
	    sizeof(errbuf), &st), KP_EPERM,
	    "a key file readable by others is KP_EPERM");
	if (chmod(pt_file("k.key"), 0600) == -1)
		bail("chmod");

	if (symlink(pt_file("k.key"), pt_file("link.key")) == -1)
		bail("symlink");
	is_int(kp_store_open(pt_file("k.db"), pt_file("link.key"), errbuf,
	    sizeof(errbuf), &st), KP_EPERM, "a symlinked key file is KP_EPERM");

	fd = open(pt_file("short.key"), O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd == -1 || write(fd, other, 31) != 31)
		bail("short.key");
	close(fd);
	is_int(kp_store_open(pt_file("s.db"), pt_file("short.key"), errbuf,
	    sizeof(errbuf), &st), KP_ECRYPTO,
	    "a 31-byte key file is KP_ECRYPTO");
	sodium_memzero(other, sizeof(other));
}

static void
test_schema(void)
{
	struct kp_store	*st;
	sqlite3		*db;

	if (sqlite3_open(pt_file("k.db"), &db) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL) !=
	    SQLITE_OK)
		bail("sqlite3");
	sqlite3_close(db);
	is_int(kp_store_open(pt_file("k.db"), pt_file("k.key"), errbuf,
	    sizeof(errbuf), &st), KP_EDB, "a newer schema is KP_EDB");
	ok(strstr(errbuf, "version 99 is newer") != NULL, "and says so: %s",
	    errbuf);
}

/*
 * The local transition to expired leaves its scrub owed (no checkpoint
 * on its path); kp_pool_expire and kp_pool_close run it.
 */
static void
test_pool_scrub(void)
{
	struct kp_pool	*p = NULL;
	struct kp_key	**keys = NULL;
	uint8_t		 sealed[2][128];
	size_t		 sl[2], n = 0, i;
	struct kp_sync_report r;

	if (kp_pool_open(pt_file("s.db"), NULL, "scrub", NULL, &p) != KP_OK)
		bail("open: %s", p != NULL ? kp_errmsg(p) : "?");
	is_int(kp_pool_generate(p, 2, 0), KP_OK, "two keys");
	is_int(kp_pool_list(p, KP_STATE_CREATED, &keys, &n), KP_OK, "listed");
	is_int((int)n, 2, "both created");
	if (n != 2)
		bail("no keys");
	for (i = 0; i < 2; i++)
		sl[i] = sealed_of(p->st, kp_key_ref(keys[i]),
		    "private_init_key", sealed[i], sizeof(sealed[i]));
	ok(pt_store_has(pt_file("s.db"), sealed[0], sl[0]),
	    "a sealed key is in the files");
	is_int(kp_pool_transition(p, kp_key_ref(keys[0]), KP_STATE_CREATED,
	    KP_STATE_EXPIRED), KP_OK, "created -> expired");
	is_int(p->st->scrub_owed, 1, "its scrub is owed, not run");
	is_int(kp_pool_transition(p, kp_key_ref(keys[0]), KP_STATE_CREATED,
	    KP_STATE_EXPIRED), KP_ESTATE, "again: KP_ESTATE");
	is_int(kp_pool_expire(p, &r), KP_OK, "expire");
	is_int(p->st->scrub_owed, 0, "ran the scrub");
	ok(!pt_store_has(pt_file("s.db"), sealed[0], sl[0]),
	    "after it no sealed bytes of the expired key in the files");
	is_int(kp_pool_transition(p, kp_key_ref(keys[1]), KP_STATE_CREATED,
	    KP_STATE_EXPIRED), KP_OK, "the other created -> expired");
	kp_pool_close(p);
	ok(!pt_store_has(pt_file("s.db"), sealed[1], sl[1]),
	    "after close no sealed bytes of it in the files");
	kp_keys_free(keys, n);
}

int
main(void)
{
	if (sodium_init() < 0)
		bail("sodium_init");
	pt_init();
	test_roundtrip();
	test_delete_wipe();
	test_pool_scrub();
	test_many();
	test_keyfile();
	test_schema();
	return done_testing();
}
