/* SPDX-License-Identifier: ISC */
/*
 * store.h: the local pool's SQLite store, internal to libkpool:
 * lib/store.c (the connection, its transactions and checkpoints,
 * settings, identity and the devices' list), lib/seal.c (the at-rest
 * key and sealing) and lib/keys.c (the key rows).
 *
 * One SQLite file per device, WAL, secure_delete, versioned migrations.
 * Private keys (the two X25519 keys of each KeyPackage and the identity's
 * Ed25519 seed) are sealed with XChaCha20-Poly1305 under a 32-byte key
 * kept in a 0600 key file; the associated data binds each ciphertext to
 * its row and column.  A store is used by one thread at a time (the
 * pool's store lock).
 */
#ifndef KP_STORE_H
#define KP_STORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <sodium.h>

#include "kpool.h"
#include "rec.h"

#define KP_ERRLEN	256
#define KP_WAL_FLUSH	1000	/* WAL pages a flush copies back */
#define KP_WAL_MAX	20000	/* WAL pages a commit copies back */

/* A sealed private key: nonce, ciphertext of 32 bytes, tag. */
#define KP_SEALED_LEN	(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + \
	32 + crypto_aead_xchacha20poly1305_ietf_ABYTES)

struct sqlite3;
struct sqlite3_stmt;

/* Statements kept prepared for the store's life (the hot paths). */
enum kp_stmt {
	KP_STMT_LOAD = 0,		/* kp_store_load */
	KP_STMT_UPDATE,			/* kp_store_update */
	KP_STMT_INSERT,			/* kp_store_save */
	KP_STMT_REC,			/* kp_store_rec */
	KP_NSTMTS
};

/* A batched local move (journal.c). */
struct kp_move {
	uint8_t	ref[KP_REF_LEN];
	int	from, to;
	int64_t	now;
};

/* A change the store made to a key: from -1 a new key, to -1 gone. */
struct kp_change {
	uint8_t	ref[KP_REF_LEN];
	int	from, to;
	char	by[KP_MAX_PRINCIPAL + 1];	/* who made it, "" unknown */
};

/* The store: one SQLite connection and the at-rest key. */
struct kp_store {
	struct sqlite3	*db;
	int64_t		 last_stamp;	/* ns, the last a key's time got */
	struct sqlite3_stmt *stmts[KP_NSTMTS];	/* enum kp_stmt, kept */
	uint8_t		 key[32];	/* at-rest key, wiped at close */
	char		*err;		/* the caller's message buffer */
	size_t		 errlen;
	int		 scrub_owed;	/* a wipe since the last checkpoint */
	int		 wal_frames;	/* in the WAL after the last commit */
	/*
	 * Batched local moves (journal.c): the journal we hold, or -1; the
	 * moves journaled but not yet made in the store, in order; whether
	 * the open transaction holds the store's write lock for them.
	 */
	int		 jfd;
	struct kp_move	*pend;
	size_t		 npend, cappend;
	int		 deferred;
	/*
	 * The key changes made since kp_store_changes() last took them;
	 * those from txstart on belong to the open transaction and go if
	 * it rolls back.  lost: one could not be noted.
	 */
	struct kp_change *changes;
	size_t		 nchanges, capchanges, txstart;
	int		 lost;
};

/* One key with all the store holds about it. */
struct kp_bundle {
	struct kp_rec	 key;		/* public fields; key.has_private */
	uint16_t	 credential_type;
	uint8_t		*keypackage;	/* save: borrowed; load: malloc'd */
	size_t		 keypackage_len;
	struct kp_kpsecrets sec;	/* when key.has_private */
};

/* store.c */

/*
 * kp_store_open: open or create the store at dbpath (0600, WAL) with the
 * at-rest key in keyfile, created (O_EXCL, 0600) only when the store is
 * new.  Messages go to err (errlen bytes; kp_store_errbuf() moves them).
 * *out is freed with kp_store_close().
 */
int	kp_store_open(const char *dbpath, const char *keyfile, char *err,
	    size_t errlen, struct kp_store **out) KP_WUR;
/* kp_store_close: close and wipe the at-rest key; NULL is fine. */
void	kp_store_close(struct kp_store *st);
/* kp_store_errbuf: the store's messages go to err (errlen bytes) now. */
void	kp_store_errbuf(struct kp_store *st, char *err, size_t errlen);
/* kp_store_err: set the message (printf) and return rc. */
static inline int __attribute__((format(printf, 3, 4)))
kp_store_err(struct kp_store *st, int rc, const char *fmt, ...)
{
	va_list	ap;

	if (st->err != NULL && st->errlen > 0) {
		va_start(ap, fmt);
		(void)vsnprintf(st->err, st->errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}
/* kp_store_dberr: KP_EDB with "what: SQLite's message". */
int	kp_store_dberr(struct kp_store *st, const char *what);
/* kp_store_prepare: a statement of sql, finalized by the caller. */
int	kp_store_prepare(struct kp_store *st, const char *sql,
	    struct sqlite3_stmt **stmt) KP_WUR;
/*
 * kp_store_prepare_kept: the kept statement which (enum kp_stmt) of sql,
 * prepared on first use; hand it back with kp_store_done().
 */
int	kp_store_prepare_kept(struct kp_store *st, int which, const char *sql,
	    struct sqlite3_stmt **stmt) KP_WUR;
/* kp_store_done: reset a kept statement for its next use; NULL is fine. */
void	kp_store_done(struct sqlite3_stmt *s);

/* seal.c */

/*
 * kp_store_load_key: read the at-rest key from the key file path into
 * st; with create, make the file (O_EXCL, 0600) when it is missing.
 * KP_ECRYPTO for a missing (without create) or malformed file, KP_EPERM
 * for a wide mode or a link.  First it removes the temporary files
 * (path.HEX.tmp) a crash while the key file was made left behind, those
 * a minute or more older than this call.
 */
int	kp_store_load_key(struct kp_store *st, const char *path,
	    int create) KP_WUR;
/* kp_store_seal: seal the 32 bytes pt for column col of row ctx. */
void	kp_store_seal(const struct kp_store *st, const char *col,
	    const uint8_t *ctx, size_t ctxlen, const uint8_t pt[32],
	    uint8_t out[KP_SEALED_LEN]);
/*
 * kp_store_unseal: open what kp_store_seal made for the same col and
 * ctx into pt; KP_ECRYPTO when it does not open, KP_EDB when damaged.
 */
int	kp_store_unseal(struct kp_store *st, const char *col,
	    const uint8_t *ctx, size_t ctxlen, const void *in, size_t inlen,
	    uint8_t pt[32]) KP_WUR;

/* Transactions: BEGIN IMMEDIATE, COMMIT, ROLLBACK. */
int	kp_store_begin(struct kp_store *st) KP_WUR;
int	kp_store_commit(struct kp_store *st) KP_WUR;
void	kp_store_rollback(struct kp_store *st);
/*
 * kp_store_checkpoint: TRUNCATE checkpoint (WAL synced, copied into the
 * database, database synced, WAL cut to nothing), so the store is
 * durable and the WAL keeps no old pages.  A no-op inside a transaction.
 */
int	kp_store_checkpoint(struct kp_store *st) KP_WUR;
/*
 * kp_store_scrub: note that a wipe left old page images in the WAL; the
 * checkpoint that removes them is deferred to kp_store_flush() (or any
 * kp_store_checkpoint(), or kp_store_close()), off the caller's path.
 */
void	kp_store_scrub(struct kp_store *st);
/*
 * kp_store_flush: run the checkpoint a wipe owes, if any (a no-op
 * inside a transaction), then start the next WAL with a commit that
 * changes nothing, so that its header's fsync is not paid by the next
 * transition; when nothing is owed, copy a WAL grown past
 * KP_WAL_FLUSH pages into the database.  A checkpoint that cannot
 * finish now is not the caller's failure: it stays owed.  Commits do
 * not checkpoint (but past KP_WAL_MAX pages): flushes do, off the
 * transitions' path.
 */
void	kp_store_flush(struct kp_store *st);
/*
 * kp_store_data_version: SQLite's data_version of the connection, which
 * moves when another connection commits a change to the store.
 */
int	kp_store_data_version(struct kp_store *st, int64_t *v) KP_WUR;

/*
 * kp_store_change: note that key ref went from state from to state to
 * (-1: none), made by principal by (NULL or "": not known); it is the
 * caller's once its transaction commits.
 */
void	kp_store_change(struct kp_store *st, const uint8_t ref[KP_REF_LEN],
	    int from, int to, const char *by);
/*
 * kp_store_changes: hand over the committed changes: *out (malloc'd,
 * caller frees; NULL when none) and *n; *lost = 1 when some could not
 * be noted (any key may have changed).
 */
void	kp_store_changes(struct kp_store *st, struct kp_change **out,
	    size_t *n, int *lost);

/* Settings (policy, last sync, ...): text values by name. */
int	kp_store_setting_get(struct kp_store *st, const char *name, char *buf,
	    size_t len, int *found) KP_WUR;
int	kp_store_setting_set(struct kp_store *st, const char *name,
	    const char *value) KP_WUR;

/*
 * The identity: user and device name, Ed25519 public key and sealed
 * seed.  get sets *found = 0 when there is none yet.
 */
int	kp_store_identity_get(struct kp_store *st, char user[KP_MAX_USERNAME + 1],
	    char device[KP_MAX_DEVICE + 1], uint8_t pub[KP_SIGN_PK_LEN],
	    uint8_t seed[KP_SIGN_SEED_LEN], int *registered, int *found) KP_WUR;
int	kp_store_identity_put(struct kp_store *st, const char *user,
	    const char *device, const uint8_t pub[KP_SIGN_PK_LEN],
	    const uint8_t seed[KP_SIGN_SEED_LEN], int64_t now) KP_WUR;
int	kp_store_identity_registered(struct kp_store *st, int64_t now) KP_WUR;

/*
 * The user's devices as the server last listed them: put replaces the
 * list with the n of d (in the caller's transaction); get gives it in
 * name order, *list malloc'd (caller frees).
 */
int	kp_store_devices_put(struct kp_store *st, const struct kp_device *d,
	    size_t n) KP_WUR;
int	kp_store_devices_get(struct kp_store *st, struct kp_device **list,
	    size_t *n) KP_WUR;

/* journal.c */

/*
 * kp_store_journal: batch local moves (kp_store_move_later), journaled
 * in the file path, which st holds (flock) until kp_store_unjournal;
 * what a dead holder left there is applied first.  KP_EBUSY when a
 * live handle holds it.
 */
int	kp_store_journal(struct kp_store *st, const char *path) KP_WUR;
/*
 * kp_store_unjournal: settle, and let the journal go; on failure its
 * moves wait for the next open.
 */
int	kp_store_unjournal(struct kp_store *st);
/*
 * kp_store_move_later: kp_store_set_state, but when st journals, a
 * compare-and-set against the store and the moves batched before it,
 * recorded in the journal before it returns (as durable as a commit
 * from then on) and made in the store later (kp_store_apply), under the
 * write lock st holds from the first move of a batch to its commit.
 */
int	kp_store_move_later(struct kp_store *st, const uint8_t ref[KP_REF_LEN],
	    int from, int to, int64_t now) KP_WUR;
/* kp_store_overlay: k as the moves batched for it leave it. */
void	kp_store_overlay(const struct kp_store *st, struct kp_rec *k);
/*
 * kp_store_apply: make the batched moves in the store's open
 * transaction, before a read of many keys (counts, lists).
 */
int	kp_store_apply(struct kp_store *st);
/*
 * kp_store_settle: make and commit the batched moves and empty the
 * journal; the first thing before any other write.  A commit that fails
 * applies the journal again.
 */
int	kp_store_settle(struct kp_store *st);
/*
 * kp_store_replay: apply the journal at path, unless a live handle holds
 * it, in one transaction, and empty it (after the death of a handle
 * that batched).
 */
int	kp_store_replay(struct kp_store *st, const char *path) KP_WUR;

/* keys.c */

/* kp_store_save: insert a new key; KP_EEXIST when the ref is taken. */
int	kp_store_save(struct kp_store *st, const struct kp_bundle *b) KP_WUR;
/*
 * kp_store_load: read one key (with its private keys when with_private
 * and they are still there); *found = 0 when missing.  Release with
 * kp_bundle_clear().
 */
int	kp_store_load(struct kp_store *st, const uint8_t ref[KP_REF_LEN],
	    int with_private, struct kp_bundle *b, int *found) KP_WUR;
/*
 * kp_store_rec: the record of ref alone (no KeyPackage bytes, no private
 * keys) into *k; KP_ENOTFOUND when missing.
 */
int	kp_store_rec(struct kp_store *st, const uint8_t ref[KP_REF_LEN],
	    struct kp_rec *k) KP_WUR;
/* kp_store_get: kp_store_load, but KP_ENOTFOUND when missing. */
int	kp_store_get(struct kp_store *st, const uint8_t ref[KP_REF_LEN],
	    int with_private, struct kp_bundle *b) KP_WUR;
/* kp_bundle_clear: free the KeyPackage bytes and wipe the secrets. */
void	kp_bundle_clear(struct kp_bundle *b);
/*
 * kp_store_delete: delete a key and wipe it from the files (outside a
 * transaction; inside one the caller checkpoints after COMMIT);
 * KP_ENOTFOUND.
 */
int	kp_store_delete(struct kp_store *st,
	    const uint8_t ref[KP_REF_LEN]) KP_WUR;
/* kp_store_wipe: drop a key's private keys (secure_delete); *wiped = 0/1. */
int	kp_store_wipe(struct kp_store *st, const uint8_t ref[KP_REF_LEN],
	    int *wiped) KP_WUR;
/*
 * kp_store_update: write the mutable fields of k (state, timestamps,
 * reservation and spend details) if the key is still in state from;
 * KP_ESTATE when it is not, KP_ENOTFOUND when it is gone.  A move to
 * expired wipes the private keys in the same statement.
 */
int	kp_store_update(struct kp_store *st, const struct kp_rec *k,
	    int from) KP_WUR;
/*
 * kp_store_set_state: move ref from one state to another at now
 * (kp_rec_move), a compare-and-set: KP_ESTATE when it is not in from,
 * KP_ENOTFOUND when it is gone.
 */
int	kp_store_set_state(struct kp_store *st, const uint8_t ref[KP_REF_LEN],
	    int from, int to, int64_t now) KP_WUR;
/*
 * kp_store_counts: keys per state; lr -1 counts all, 0 regular keys only,
 * 1 last-resort keys only; suite 0 means every suite.
 */
int	kp_store_counts(struct kp_store *st, uint16_t suite, int lr,
	    struct kp_counts *out) KP_WUR;
/*
 * kp_store_each: call fn(arg, k) for each key in state (-1: all), oldest
 * first; the first error of fn ends the walk and is returned.
 */
int	kp_store_each(struct kp_store *st, int state,
	    int (*fn)(void *, const struct kp_rec *), void *arg) KP_WUR;
/* kp_store_list: keys in state (-1: all), oldest first; free(*keys). */
int	kp_store_list(struct kp_store *st, int state, struct kp_rec **keys,
	    size_t *n) KP_WUR;
/* kp_store_expired: live keys whose not_after is before now; free(*keys). */
int	kp_store_expired(struct kp_store *st, int64_t now, struct kp_rec **keys,
	    size_t *n) KP_WUR;
/* kp_store_wipe_spent: wipe private keys of spent keys past not_after,
 * last-resort ones included. */
int	kp_store_wipe_spent(struct kp_store *st, int64_t now,
	    uint32_t *n) KP_WUR;

#endif /* KP_STORE_H */
