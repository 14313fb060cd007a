/* SPDX-License-Identifier: ISC */
/*
 * 1020-pool-batching: kp_pool_set_batching.  A batched local move is
 * what the handle says at once (the key, the counts) and is in the
 * journal, 0600; another connection sees the key where it was until a
 * write of the handle commits the batch, which empties the journal.
 * One handle batches on a store at a time (KP_EBUSY).  A process that
 * dies with a batch leaves its journal, which the next open applies,
 * wiping the keys' private keys and scrubbing their sealed bytes from
 * the files; close commits what is batched.
 */

#include <sys/wait.h>

#include <sodium.h>
#include <sqlite3.h>

#include "1-pooltest.h"
#include "pool.h"
#include "store.h"

#define SEALED	KP_SEALED_LEN

/* The state of ref as handle p says, -1 when it has none. */
static int
state_of(struct kp_pool *p, const uint8_t *ref)
{
	struct kp_key	*k = NULL;
	int		 state = -1;

	if (kp_pool_key(p, ref, &k) == KP_OK)
		state = kp_key_state(k);
	kp_key_free(k);
	return state;
}

/* The size of the journal, -1 when there is none. */
static long
journal_size(const char *db)
{
	char		path[600];
	struct stat	sb;

	(void)snprintf(path, sizeof(path), "%s-moves", db);
	return stat(path, &sb) == -1 ? -1 : (long)sb.st_size;
}

int
main(void)
{
	struct kp_pool		 *p, *q;
	struct kp_key		**keys = NULL, *k = NULL;
	struct kp_counts	  c;
	struct kp_sync_report	  r;
	uint8_t			  ref[4][KP_REF_LEN], s1[SEALED];
	char			  jpath[600];
	const char		 *db;
	size_t			  n = 0, i;
	pid_t			  pid;
	int			  status;

	if (sodium_init() < 0)
		bail("sodium_init");
	pt_init();
	db = pt_file("b.db");
	(void)snprintf(jpath, sizeof(jpath), "%s-moves", db);
	if (kp_pool_open(db, NULL, "bea", NULL, &p) != KP_OK ||
	    kp_pool_generate(p, 4, 0) != KP_OK ||
	    kp_pool_list(p, KP_STATE_CREATED, &keys, &n) != KP_OK || n != 4)
		bail("setup: %s", kp_errmsg(p));
	for (i = 0; i < 4; i++)
		memcpy(ref[i], kp_key_ref(keys[i]), KP_REF_LEN);
	kp_keys_free(keys, n);
	if (kp_pool_open(db, NULL, NULL, NULL, &q) != KP_OK)
		bail("open: %s", kp_errmsg(q));

	is_int(kp_pool_set_batching(p, 1), KP_OK, "batching on");
	is_int(pt_mode(jpath), 0600, "the journal is 0600");
	is_int(kp_pool_set_batching(q, 1), KP_EBUSY,
	    "a second handle cannot batch on the store: KP_EBUSY");
	is_int(kp_pool_transition(p, ref[0], KP_STATE_CREATED,
	    KP_STATE_EXPIRED), KP_OK, "a batched created -> expired");
	is_int(kp_pool_transition(p, ref[0], KP_STATE_CREATED,
	    KP_STATE_EXPIRED), KP_ESTATE, "again: KP_ESTATE (the batch)");
	ok(journal_size(db) > 0, "the move is in the journal");
	if (kp_pool_key(p, ref[0], &k) != KP_OK)
		bail("key: %s", kp_errmsg(p));
	ok(kp_key_state(k) == KP_STATE_EXPIRED && !kp_key_has_private(k),
	    "the handle says expired, private keys gone");
	kp_key_free(k);
	is_int(kp_pool_counts(p, 0, &c), KP_OK, "counts");
	ok(c.n[KP_STATE_EXPIRED] == 1 && c.n[KP_STATE_CREATED] == 3,
	    "they count it expired");
	is_int(state_of(q, ref[0]), KP_STATE_CREATED,
	    "another connection sees it created still");
	is_int(kp_pool_expire(p, &r), KP_OK, "a write of the handle");
	is_int(journal_size(db), 0, "commits the batch: the journal is empty");
	is_int(state_of(q, ref[0]), KP_STATE_EXPIRED,
	    "and the other connection sees it expired");

	/* a death with a batch */
	pt_sealed(q->st->db, ref[1], s1, SEALED);
	kp_pool_close(q);
	kp_pool_close(p);
	if ((pid = fork()) == -1)
		bail("fork");
	if (pid == 0) {
		if (kp_pool_open(db, NULL, NULL, NULL, &p) != KP_OK ||
		    kp_pool_set_batching(p, 1) != KP_OK ||
		    kp_pool_transition(p, ref[1], KP_STATE_CREATED,
		    KP_STATE_EXPIRED) != KP_OK)
			_exit(2);
		_exit(0);	/* no close: the batch is in the journal */
	}
	if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		bail("the child failed");
	ok(journal_size(db) > 0, "a dead handle's journal stays");
	ok(pt_store_has(db, s1, SEALED), "its key's sealed bytes are there");
	if (kp_pool_open(db, NULL, NULL, NULL, &p) != KP_OK)
		bail("open: %s", kp_errmsg(p));
	is_int(state_of(p, ref[1]), KP_STATE_EXPIRED,
	    "the next open applies it: expired");
	is_int(journal_size(db), 0, "and empties the journal");
	ok(!pt_store_has(db, s1, SEALED), "no byte of its sealed key is left "
	    "in the database, -wal or -shm");

	/* close commits */
	is_int(kp_pool_set_batching(p, 1), KP_OK, "batching on again");
	is_int(kp_pool_transition(p, ref[2], KP_STATE_CREATED,
	    KP_STATE_EXPIRED), KP_OK, "a batched move");
	kp_pool_close(p);
	is_int(journal_size(db), 0, "close commits it");
	if (kp_pool_open(db, NULL, NULL, NULL, &p) != KP_OK)
		bail("open: %s", kp_errmsg(p));
	is_int(state_of(p, ref[2]), KP_STATE_EXPIRED, "the move is there");
	is_int(kp_pool_set_batching(p, 0), KP_OK, "batching off");
	is_int(kp_pool_transition(p, ref[3], KP_STATE_CREATED,
	    KP_STATE_EXPIRED), KP_OK, "a move without batching");
	is_int(journal_size(db), 0, "leaves the journal alone");
	kp_pool_close(p);
	return done_testing();
}
