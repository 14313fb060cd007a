/* SPDX-License-Identifier: ISC */
/*
 * 1011-pool-crash-scrub: a process wipes two keys (one expired, one
 * deleted) and is killed (SIGKILL) before it runs the WAL scrub it owes:
 * the WAL still holds their sealed private keys.  The next open of the
 * store finds the WAL not empty, owes the scrub itself and runs it: no
 * byte of the two sealed keys is left in the database, its -wal or its
 * -shm, while the third key's are still there and open.
 */

#include <sodium.h>
#include <sqlite3.h>

#include "1-pooltest.h"
#include "pool.h"
#include "store.h"

#define SEALED	72	/* nonce, key, tag */

/* What the dying process tells the test. */
struct msg {
	uint8_t	ref[3][KP_REF_LEN];
	uint8_t	sealed[3][2][SEALED];	/* init, encryption */
};

static void
sealed_of(struct kp_store *st, const uint8_t *ref, const char *col,
    uint8_t out[SEALED])
{
	sqlite3_stmt	*s;
	char		 sql[128];

	(void)snprintf(sql, sizeof(sql), "SELECT %s FROM keypackages WHERE "
	    "keypackage_ref = ?", col);
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		_exit(3);
	sqlite3_bind_blob(s, 1, ref, KP_REF_LEN, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_ROW ||
	    sqlite3_column_bytes(s, 0) != SEALED)
		_exit(4);
	memcpy(out, sqlite3_column_blob(s, 0), SEALED);
	sqlite3_finalize(s);
}

/* The dying process: make 3 keys, wipe 2 without the scrub, wait. */
static void
dying(const char *db, int to_test)
{
	struct kp_pool	*p;
	struct kp_key	**keys;
	struct msg	 m;
	size_t		 n;
	int		 i;

	if (kp_pool_open(db, NULL, "dora", NULL, &p) != KP_OK ||
	    kp_pool_generate(p, 3, 0) != KP_OK ||
	    kp_pool_list(p, KP_STATE_CREATED, &keys, &n) != KP_OK || n != 3)
		_exit(2);
	for (i = 0; i < 3; i++) {
		memcpy(m.ref[i], kp_key_ref(keys[i]), KP_REF_LEN);
		sealed_of(p->st, kp_key_ref(keys[i]), "private_init_key",
		    m.sealed[i][0]);
		sealed_of(p->st, kp_key_ref(keys[i]), "private_encryption_key",
		    m.sealed[i][1]);
	}
	kp_keys_free(keys, n);
	/* the local move to expired wipes and leaves the scrub owed */
	if (kp_pool_transition(p, m.ref[0], KP_STATE_CREATED,
	    KP_STATE_EXPIRED) != KP_OK)
		_exit(5);
	/* a delete in the store, before the pool's flush */
	if (kp_store_delete(p->st, m.ref[1]) != KP_OK)
		_exit(7);
	if (write(to_test, &m, sizeof(m)) != (ssize_t)sizeof(m))
		_exit(6);
	for (;;)
		pause();	/* killed here, the scrub still owed */
}

int
main(void)
{
	struct kp_pool	*p;
	struct kp_key	*k = NULL;
	struct msg	 m;
	char		 wal[600];
	pid_t		 pid;
	int		 fds[2], i, st;
	const char	*db;

	if (sodium_init() < 0)
		bail("sodium_init");
	pt_init();
	db = pt_file("d.db");
	(void)snprintf(wal, sizeof(wal), "%s-wal", db);
	if (pipe(fds) == -1)
		bail("pipe");
	if ((pid = fork()) == -1)
		bail("fork");
	if (pid == 0) {
		close(fds[0]);
		dying(db, fds[1]);
	}
	close(fds[1]);
	if (read(fds[0], &m, sizeof(m)) != (ssize_t)sizeof(m))
		bail("the first process failed");
	kill(pid, SIGKILL);
	if (waitpid(pid, &st, 0) != pid || !WIFSIGNALED(st))
		bail("the first process did not die by SIGKILL");

	for (i = 0; i < 2; i++)
		ok(pt_file_has(wal, m.sealed[i][0], SEALED) &&
		    pt_file_has(wal, m.sealed[i][1], SEALED),
		    "after the crash the WAL holds wiped key %d's sealed "
		    "private keys", i);

	if (kp_pool_open(db, NULL, NULL, NULL, &p) != KP_OK)
		bail("open: %s", kp_errmsg(p));
	for (i = 0; i < 2; i++)
		ok(!pt_store_has(db, m.sealed[i][0], SEALED) &&
		    !pt_store_has(db, m.sealed[i][1], SEALED),
		    "after the next open no byte of wiped key %d's sealed "
		    "private keys is in the database, -wal or -shm", i);
	ok(pt_store_has(db, m.sealed[2][0], SEALED) &&
	    pt_store_has(db, m.sealed[2][1], SEALED),
	    "the live key's sealed keys are still there");
	is_int(pt_key(p, m.ref[0], &k), KP_OK, "the expired key");
	ok(kp_key_state(k) == KP_STATE_EXPIRED && !kp_key_has_private(k),
	    "is expired, without private keys");
	is_int(pt_key(p, m.ref[1], &k), KP_ENOTFOUND,
	    "the deleted key is gone");
	is_int(pt_key(p, m.ref[2], &k), KP_OK, "the live key");
	ok(kp_key_state(k) == KP_STATE_CREATED && kp_key_has_private(k),
	    "is created, with its private keys");
	is_int(p->st->scrub_owed, 0, "nothing is owed any more");
	kp_key_free(k);
	kp_pool_close(p);
	return done_testing();
}
