/* SPDX-License-Identifier: ISC */
/*
 * journal.c: local moves recorded at once, committed later (see store.h,
 * kp_pool_set_batching).
 *
 * Making a move in the store costs more than all the rest of it (the
 * row and its indexes, secure_delete, the WAL's frames, its locks).  A
 * handle that batches checks the move against the store and the moves
 * batched before it, appends a record of it to its journal, a file
 * beside the store, and returns: a record written is in the kernel, so
 * it outlives the death of the process.  From the first move of a batch
 * the handle holds the store's write lock (an open transaction), so no
 * other connection moves a key under it; reads of one key see the batch
 * (kp_store_overlay), reads of many make it first (kp_store_apply), and
 * the next write of the handle makes and commits it (kp_store_settle)
 * and empties the journal.  A journal that no live handle holds (its
 * flock went with its process) is applied by the next open of the
 * store.  Applying a record is the move's compare-and-set, so a record
 * applied twice (a death between the commit and the emptying) changes
 * nothing.
 */

#include <sys/file.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <stdlib.h>

#include "kpool.h"
#include "state.h"
#include "store.h"
#include "util.h"

#define JOURNAL_MAGIC	0x6b706d76U	/* "kpmv" */

/* One move, as the journal holds it. */
struct jrec {
	uint32_t	magic;
	uint8_t		from, to;
	uint8_t		pad[2];
	int64_t		now;
	uint8_t		ref[KP_REF_LEN];
};

/*
 * Apply the moves the journal fd holds, in one transaction, then empty
 * it.  What it changes is not reported: the moves were, when they were
 * journaled, or they are another process's.
 */
static int
apply(struct kp_store *st, int fd)
{
	struct jrec	r;
	off_t		off;
	size_t		mark = st->nchanges;
	int		rc;

	if ((rc = kp_store_begin(st)) != KP_OK)
		return rc;
	for (off = 0; pread(fd, &r, sizeof(r), off) == (ssize_t)sizeof(r);
	    off += sizeof(r)) {
		if (r.magic != JOURNAL_MAGIC)
			break;		/* a torn end: nothing after it */
		rc = kp_store_set_state(st, r.ref, r.from, r.to, r.now);
		if (rc != KP_OK && rc != KP_ESTATE && rc != KP_ENOTFOUND)
			goto out;	/* not "applied already" */
	}
	if ((rc = kp_store_commit(st)) == KP_OK && ftruncate(fd, 0) == -1)
		rc = kp_store_err(st, KP_EIO, "empty the move journal: %s",
		    strerror(errno));
out:
	kp_store_rollback(st);		/* no-op after COMMIT */
	st->nchanges = st->txstart = mark;
	return rc;
}

int
kp_store_replay(struct kp_store *st, const char *path)
{
	int	fd, rc;

	if ((fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return errno == ENOENT ? KP_OK : kp_store_err(st, KP_EIO,
		    "move journal %s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		close(fd);	/* a live handle's: it commits its own */
		return KP_OK;
	}
	rc = apply(st, fd);
	close(fd);
	return rc;
}

int
kp_store_journal(struct kp_store *st, const char *path)
{
	int	fd;

	if (st->jfd != -1)
		return KP_OK;
	if ((fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1)
		return kp_store_err(st, KP_EIO, "move journal %s: %s", path,
		    strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		close(fd);
		return kp_store_err(st, KP_EBUSY, "move journal %s: another "
		    "handle batches on this store", path);
	}
	st->jfd = fd;
	/* what a dead holder left, before any move of ours */
	return apply(st, fd);
}

int
kp_store_unjournal(struct kp_store *st)
{
	int	rc;

	if (st->jfd == -1)
		return KP_OK;
	rc = kp_store_settle(st);
	if (rc == KP_OK)	/* else its moves wait for the next open */
		close(st->jfd);
	else
		(void)flock(st->jfd, LOCK_UN), close(st->jfd);
	st->jfd = -1;
	return rc;
}

/* The state the batch leaves ref in; 0 when it does not move ref. */
static int
batched(const struct kp_store *st, const uint8_t ref[KP_REF_LEN], int *state)
{
	size_t	i;
	int	found = 0;

	for (i = 0; i < st->npend; i++)
		if (memcmp(st->pend[i].ref, ref, KP_REF_LEN) == 0) {
			*state = st->pend[i].to;
			found = 1;
		}
	return found;
}

void
kp_store_overlay(const struct kp_store *st, struct kp_rec *k)
{
	size_t	i;

	for (i = 0; i < st->npend; i++)
		if (memcmp(st->pend[i].ref, k->ref, KP_REF_LEN) == 0)
			kp_rec_move(k, st->pend[i].to, st->pend[i].now);
}

/* Room for one more batched move. */
static int
pend_room(struct kp_store *st)
{
	if (kp_grow(&st->pend, &st->cappend, st->npend, sizeof(*st->pend),
	    64) == -1)
		return kp_store_err(st, KP_ENOMEM, "out of memory");
	return KP_OK;
}

int
kp_store_move_later(struct kp_store *st, const uint8_t ref[KP_REF_LEN],
    int from, int to, int64_t now)
{
	struct kp_rec	 k;
	struct kp_move	*m;
	struct jrec	 r;
	int		 rc, state;

	if (st->jfd == -1)
		return kp_store_set_state(st, ref, from, to, now);
	if (!st->deferred) {
		if ((rc = kp_store_begin(st)) != KP_OK)
			return rc;
		st->deferred = 1;
	}
	if ((rc = kp_store_rec(st, ref, &k)) != KP_OK)
		return rc;
	if (!batched(st, ref, &state))
		state = k.state;
	if (state != from)
		return kp_store_err(st, KP_ESTATE, "key %s is %s, not %s",
		    k.ref_hex, kp_state_name(state), kp_state_name(from));
	if ((rc = pend_room(st)) != KP_OK)
		return rc;
	memset(&r, 0, sizeof(r));
	r.magic = JOURNAL_MAGIC;
	r.from = (uint8_t)from;
	r.to = (uint8_t)to;
	r.now = now;
	memcpy(r.ref, ref, KP_REF_LEN);
	if (write(st->jfd, &r, sizeof(r)) != (ssize_t)sizeof(r)) {
		/* no journal: make it now, committed */
		if ((rc = kp_store_settle(st)) != KP_OK)
			return rc;
		return kp_store_set_state(st, ref, from, to, now);
	}
	m = &st->pend[st->npend++];
	memcpy(m->ref, ref, KP_REF_LEN);
	m->from = from;
	m->to = to;
	m->now = now;
	/* journaled: as good as committed */
	kp_store_change(st, ref, from, to, NULL);
	st->txstart = st->nchanges;
	return KP_OK;
}

int
kp_store_apply(struct kp_store *st)
{
	size_t	mark = st->nchanges, i;
	int	rc = KP_OK;

	/* the changes were told when the moves were journaled */
	for (i = 0; i < st->npend && rc == KP_OK; i++)
		rc = kp_store_set_state(st, st->pend[i].ref, st->pend[i].from,
		    st->pend[i].to, st->pend[i].now);
	st->nchanges = mark;
	if (rc == KP_OK)
		st->npend = 0;
	return rc;
}

int
kp_store_settle(struct kp_store *st)
{
	int	rc;

	if (!st->deferred)
		return KP_OK;
	st->deferred = 0;
	if ((rc = kp_store_apply(st)) == KP_OK &&
	    (rc = kp_store_commit(st)) == KP_OK) {
		if (ftruncate(st->jfd, 0) == -1)
			return kp_store_err(st, KP_EIO, "empty the move "
			    "journal: %s", strerror(errno));
		return KP_OK;
	}
	/* rolled back: the moves are in the journal alone */
	kp_store_rollback(st);
	st->npend = 0;
	return apply(st, st->jfd);
}
