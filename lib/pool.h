/* SPDX-License-Identifier: ISC */
/*
 * pool.h: the pool handle (the opaque struct kp_pool of kpool.h),
 * internal to libkpool: lib/handle.c (its locks, per-thread messages,
 * the changes it reports and its clock), lib/pool.c (the local pool),
 * lib/remote.c (the conversation with the server) and lib/sync.c
 * (expiry, the pull and refresh).
 *
 * A handle may be shared by threads.  Two locks, taken in this order:
 *
 *	nlock	the net lock: one conversation with the server at a time.
 *		A pull holds it from its GET to the end of applying the
 *		view, a transition from asking the server to recording the
 *		answer, so that a view taken before a transition is never
 *		applied after it.  Never taken under slock.
 *	slock	the store lock: the SQLite connection and its transaction,
 *		held only around store work, never across a call to the
 *		server.
 *
 * Each thread has its own message and its own list of the changes to
 * report for each handle (handle.c), so neither needs a lock.
 */
#ifndef KP_POOL_H
#define KP_POOL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "kpool.h"
#include "rec.h"
#include "store.h"

/* One device's pool (the opaque struct kp_pool of kpool.h). */
struct kp_pool {
	/* Set by kp_pool_open, read-only after: no lock. */
	char		*jpath;		/* the move journal */
	char		 user[KP_MAX_USERNAME + 1];
	char		 device[KP_MAX_DEVICE + 1];
	char		 principal[KP_MAX_PRINCIPAL + 1];
	uint8_t		 pub[KP_SIGN_PK_LEN];
	uint8_t		 seed[KP_SIGN_SEED_LEN];	/* wiped at close */
	/* Set by kp_pool_set_clock before the handle is shared: no lock. */
	int64_t		(*now)(void *);
	void		*now_arg;

	pthread_mutex_t	 slock;
	struct kp_store	*st;		/* slock */
	uint8_t		 cred_hash[32];	/* slock */
	int		 have_cred_hash;	/* slock */
	int		 has_server;	/* slock: a server is set (health) */
	int64_t		 data_version;	/* slock: the store's, last seen */
	void		(*observer)(void *, const uint8_t *, int, int);
					/* slock, with observer_arg */
	void		*observer_arg;	/* slock */

	pthread_mutex_t	 nlock;
	char		*url;		/* nlock; NULL: offline */
	struct kp_client *client;	/* nlock */
	int		 registered;	/* nlock */
};

/* handle.c */

/*
 * kp_pool_begin: a public call on p starts in this thread: its message
 * goes, so kp_errmsg() tells of this call only.
 */
void	kp_pool_begin(struct kp_pool *p);
/*
 * kp_pool_end: the public call ends with rc: the changes it committed
 * go to the observer (with no lock held); returns rc.
 */
int	kp_pool_end(struct kp_pool *p, int rc);
/*
 * kp_pool_lock: take the store lock, for a call that may write: the
 * local moves batched so far are committed first (kp_store_settle).
 * The store's messages go to this thread's message.
 */
void	kp_pool_lock(struct kp_pool *p);
/*
 * kp_pool_lock_read: kp_pool_lock for a call that only reads, or makes
 * a local move: what is batched stays so.
 */
void	kp_pool_lock_read(struct kp_pool *p);
/*
 * kp_pool_unlock: collect what the store committed for the observer
 * (kp_pool_end reports it) and release the store lock.
 */
void	kp_pool_unlock(struct kp_pool *p);
/*
 * kp_pool_others: under slock, in a pass that looks at the whole store
 * (expire, sync, refresh): if another connection changed the store
 * since the last look, the observer hears that any key may have changed.
 */
void	kp_pool_others(struct kp_pool *p);
/* kp_pool_forget: drop this thread's record of p, which closes. */
void	kp_pool_forget(const struct kp_pool *p);
/* kp_pool_msg: this thread's message buffer for p (KP_ERRLEN bytes). */
char	*kp_pool_msg(const struct kp_pool *p);
/* kp_pool_err: set this thread's message for p (printf); returns rc. */
int	kp_pool_err(struct kp_pool *p, int rc, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* kp_pool_locks_init, kp_pool_locks_fini: p's mutexes. */
void	kp_pool_locks_init(struct kp_pool *p);
void	kp_pool_locks_fini(struct kp_pool *p);

/* pool.c */

/* kp_pool_make fills */
#define KP_FILL_NONE		0	/* n keys as asked */
#define KP_FILL_WATERMARK	1	/* to target, a suite under the low
					   watermark */
#define KP_FILL_TARGET		2	/* every suite to target */

/*
 * kp_pool_make: make n keys in state created, in one transaction, in
 * the policy's first suite and its lifetime (kp_pool_generate).  With a
 * fill, what the policy wants instead for each of its suites, counted
 * in the same transaction: regular keys up to target (KP_FILL_TARGET,
 * or KP_FILL_WATERMARK when available ones fell under the low
 * watermark), and one last-resort key when the policy keeps one and
 * none is live.  A handle that made them first leaves nothing to make,
 * which is success.  *made (when not NULL) gets the number made.
 * Takes slock.
 */
int	kp_pool_make(struct kp_pool *p, uint32_t n, int last_resort, int fill,
	    uint32_t *made) KP_WUR;

/*
 * kp_pool_ask_move: the owner's move of ref from from to to that asks
 * the server first (kp_pool_transition): KP_ESTATE when the key is not
 * in from or the move is not the owner's, else the server's answer,
 * recorded.  nlock.
 */
int	kp_pool_ask_move(struct kp_pool *p, const uint8_t ref[KP_REF_LEN],
	    int from, int to) KP_WUR;

/* authz.c */

struct kp_view;
/*
 * kp_authz_welcome: may a Welcome of group gid (len bytes) be opened for
 * our key k?  The server is asked (nlock), or the last sync's view
 * decides when it cannot be reached (slock); neither lock held on entry.
 * KP_OK with the deciding record in *v and *online 1 when the server
 * answered; KP_ENOTRESERVED, KP_EGROUP or the server's error, with the
 * reason in the message.
 */
int	kp_authz_welcome(struct kp_pool *p, const struct kp_rec *k,
	    const uint8_t *gid, size_t len, struct kp_view *v,
	    int *online) KP_WUR;

/* remote.c: with nlock held. */

/*
 * kp_remote_need: a client for the server, registered; KP_ENET when no
 * server is set.
 */
int	kp_remote_need(struct kp_pool *p) KP_WUR;
/*
 * kp_remote_register: register again (the server forgot us: a reset
 * database).
 */
int	kp_remote_register(struct kp_pool *p) KP_WUR;
/*
 * kp_remote_result: note the outcome rc of the call what (for health:
 * an answer, or none) and, on failure, the client's message as this
 * thread's; returns rc.
 */
int	kp_remote_result(struct kp_pool *p, int rc, const char *what);
/*
 * kp_remote_move: ask the server for the owner's move of k to to
 * (state.c's call of the move) and fill in what it tells (reservation,
 * spend).  An upload records the move itself (k is then stale).
 */
int	kp_remote_move(struct kp_pool *p, struct kp_rec *k, int to) KP_WUR;
/*
 * kp_remote_upload: upload the n keys of refs that are still created,
 * in batches; accepted ones become available.  A rejected key stays
 * created (KP_EREJECTED), or with expire_rejected is expired and wiped,
 * since it can never be published (counted in *expired, the reason in
 * kp_errmsg).  A key the server failed to store (a 5xx of its own, per
 * key) or left out of its reply stays created whatever expire_rejected
 * says: only the server's word on the key itself ends it.  Returns the
 * first error.
 */
int	kp_remote_upload(struct kp_pool *p, const uint8_t *refs, size_t n,
	    int expire_rejected, uint32_t *uploaded, uint32_t *expired) KP_WUR;
/*
 * kp_remote_retire: have the server forget the n keys of refs (a 404 is
 * success); stops at the first sign that it is away.  Returns the first
 * error, which expiry may ignore: the next sync retires them again.
 */
int	kp_remote_retire(struct kp_pool *p, const uint8_t *refs, size_t n);
/* kp_remote_tls: give c the store's CA file, if it has one (nlock
 * held, slock not); KP_OK, or the store's error. */
int	kp_remote_tls(struct kp_pool *p, struct kp_client *c) KP_WUR;
/* kp_remote_drop: forget the connection (URL change, close). */
void	kp_remote_drop(struct kp_pool *p);

#endif /* KP_POOL_H */
