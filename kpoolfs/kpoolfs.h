/* SPDX-License-Identifier: ISC */
/*
 * kpoolfs.h: the parts of kpoolfs shared by its files.
 *
 * main.c parses the options and runs the FUSE loop; ops.c holds the
 * fuse_operations; tree.c parses paths and renders file contents;
 * refresh.c runs the background refresh thread.
 */
#ifndef KPOOLFS_H
#define KPOOLFS_H

#define FUSE_USE_VERSION 314

#include <fuse.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "kpool.h"

/* A key as the tree shows it, read from libkpool's record (tree.c). */
struct kpfs_key {
	uint8_t	 ref[KP_REF_LEN];
	char	 ref_hex[2 * KP_REF_LEN + 1];
	int	 state;			/* KP_STATE_* */
	uint16_t suite;
	int	 last_resort;
	int	 has_private;		/* private keys still in the store */
	int64_t	 created_at, uploaded_at, reserved_at, spent_at, expired_at;
	int64_t	 not_before, not_after;
	int64_t	 changed_at;		/* last transition */
	char	 reservation_id[65];
	int64_t	 reservation_expires_at;
	char	 reserved_by[KP_MAX_USERNAME + 1];
	char	 spent_by[KP_MAX_USERNAME + 1];
	uint8_t	 group_id[KP_MAX_GROUP_ID];
	size_t	 group_id_len;
	int64_t	 epoch;			/* from an opened Welcome, else -1 */
	size_t	 keypackage_len;
};

/* What a path names. */
enum kpfs_kind {
	KPFS_ROOT = 0,		/* / */
	KPFS_ROOTFILE,		/* /status, /config, /ctl, /welcome */
	KPFS_STATEDIR,		/* /available, ... */
	KPFS_KEYDIR,		/* /available/<ref> */
	KPFS_KEYFILE,		/* /available/<ref>/status, ... */
};

/* The files at the root. */
enum kpfs_rootfile {
	KPFS_F_STATUS = 0,
	KPFS_F_CONFIG,
	KPFS_F_CTL,
	KPFS_F_WELCOME,
	KPFS_NROOTFILES
};

/* The files of a key directory, in listing order. */
enum kpfs_keyfile {
	KPFS_K_KEYPACKAGE = 0,
	KPFS_K_STATUS,
	KPFS_K_REF,
	KPFS_K_SUITE,
	KPFS_K_NOT_BEFORE,
	KPFS_K_NOT_AFTER,
	KPFS_K_CREATED_AT,
	KPFS_K_UPLOADED_AT,
	KPFS_K_RESERVED_AT,
	KPFS_K_RESERVED_BY,
	KPFS_K_RESERVATION_ID,
	KPFS_K_RESERVATION_EXPIRES_AT,
	KPFS_K_SPENT_AT,
	KPFS_K_SPENT_BY,
	KPFS_K_GROUP_ID,
	KPFS_K_EPOCH,
	KPFS_K_EXPIRED_AT,
	KPFS_K_LAST_RESORT,
	KPFS_K_PRIVATE_KEYS,
	KPFS_K_INFO,
	KPFS_NKEYFILES
};

struct kpfs_path {
	int	kind;			/* KPFS_* */
	int	file;			/* KPFS_F_* or KPFS_K_* */
	int	state;			/* KP_STATE_* of a key path */
	uint8_t	ref[KP_REF_LEN];
	char	ref_hex[2 * KP_REF_LEN + 1];
};

/* Longest rendered text file but info and config (a line of text). */
#define KPFS_VALUE_MAX	640
/* Longest info file. */
#define KPFS_INFO_MAX	4096

/* One mounted pool. */
struct kpfs {
	/*
	 * Set in main before the FUSE loop (fuse in init, before the
	 * refresh thread starts and before any operation), read-only
	 * afterwards: no lock.
	 */
	char		*store;		/* the database, absolute */
	char		*keyfile;	/* absolute path or NULL */
	char		*user;
	char		*server;	/* URL or NULL: offline */
	char		*test_clock;	/* test clock file or NULL */
	int		 refresh;	/* -o refresh, -1: config */
	int		 foreground;
	uid_t		 uid;
	gid_t		 gid;
	struct fuse	*fuse;		/* set in init */

	/*
	 * The handle for FUSE operations that stay local (reads, config,
	 * ctl generate/cleanup, rmdir, welcome, the rename created ->
	 * expired).  Guarded by lock.
	 */
	pthread_mutex_t	 lock;
	struct kp_pool	*fp;
	/*
	 * unlinked: keys some of whose files were unlinked (rm -r of a
	 * deletable key), a mask of KPFS_K_* per ref.  Guarded by lock.
	 */
	struct kpfs_hidden *hidden;
	size_t		 nhidden;
	/*
	 * keys: the keys last loaded through fp, by ref (open addressing,
	 * cap a power of 2), so that the lookups, getattrs and opens of one
	 * key cost one SQLite query.  Entries are dropped whenever the
	 * daemon changes or sees a change to their key, and expire after
	 * KPFS_CACHE_TTL seconds for changes made by other processes.
	 * counts: the state counts, dropped on any change.  Guarded by
	 * lock.
	 */
	struct kpfs_kent **keys;
	size_t		 nkeys, capkeys;
	struct kp_counts counts;
	int64_t		 counts_at;	/* monotonic s, 0: none */
	/*
	 * lists: the last listing of each state directory, reused by
	 * opendir for KPFS_LIST_TTL_MS while kgen, bumped by every
	 * change to any key, stays the same.  Guarded by lock.
	 */
	uint64_t	 kgen;
	struct kpfs_list {
		struct kpfs_dent *e;
		size_t		 n;
		uint64_t	 gen;
		int64_t		 at_ms;	/* monotonic */
	} lists[KP_NSTATES];

	/*
	 * handles: the open files and directories (ops.c), freed by
	 * destroy when the kernel never released them (open at unmount).
	 * Guarded by hlock.
	 */
	pthread_mutex_t	 hlock;
	struct kpfs_handle *handles;

	/*
	 * The handle for renames, which ask the server.  Guarded by tlock,
	 * the tree lock, which the refresh thread also holds while it
	 * applies the server's view (refresh.c, run), so that a sync and
	 * a rename never interleave.  Taken before lock, never after.
	 */
	pthread_mutex_t	 tlock;
	struct kp_pool	*tp;

	/*
	 * Times and health shared by every thread.  Guarded by mlock.
	 */
	pthread_mutex_t	 mlock;
	int64_t		 mounted_at;
	int64_t		 state_mtime[KP_NSTATES]; /* last change, ns */
	int64_t		 config_mtime;
	int64_t		 last_sync;	/* last server refresh */
	int		 online;	/* the last server call succeeded */

	/*
	 * The refresh thread and its requests.  rp is the thread's own
	 * handle, touched by no one else (and by init before the thread
	 * starts); rthread is set and joined by the thread that runs init
	 * and the stop.  The rest, rstarted included, is guarded by rlock.
	 */
	pthread_t	 rthread;
	int		 rstarted;
	struct kp_pool	*rp;
	pthread_mutex_t	 rqlock;	/* one ctl request at a time */
	pthread_mutex_t	 rlock;
	pthread_cond_t	 rcond;		/* a request, or its end */
	int		 rstop;
	int		 rwant;		/* KPFS_R_* wanted */
	uint32_t	 rgen;		/* keys for KPFS_R_GENERATE */
	uint64_t	 rreq;		/* requests made */
	uint64_t	 rdone;		/* requests served */
	int		 rresult;	/* KP_E* of the last served */
	/*
	 * scrub_due: a rename wiped private keys (on fp or tp); by scrub_at
	 * (monotonic) the thread runs the WAL scrub the wipe owes, once
	 * for all the wipes of that second (kpfs_scrub_soon).
	 */
	int		 scrub_due;
	struct timespec	 scrub_at;
	/*
	 * snap: the keys the thread last saw, by ref, with the moves the
	 * operations made since (kpfs_snap_note).  Guarded by tlock.
	 */
	struct kpfs_snap *snap;
	size_t		 nsnap;
};

/* The head of an open file or directory, on fs->handles. */
struct kpfs_handle {
	struct kpfs_handle *prev, *next;
	int		 dir;		/* 1: a directory listing */
};

struct kpfs_hidden {
	uint8_t		ref[KP_REF_LEN];
	uint32_t	mask;		/* 1 << KPFS_K_* unlinked */
};

#define KPFS_CACHE_TTL	5		/* seconds */
#define KPFS_NS		1000000000LL	/* nanoseconds a second */
#define KPFS_LIST_TTL_MS 1000		/* as the kernel's entry timeout */
#define KPFS_CACHE_MAX	(1u << 17)	/* keys; then it restarts */

/*
 * A cached key, compact (a struct kpfs_key is 712 bytes, mostly room for
 * rare strings): the times and flags inline, the reservation and spend
 * strings and the group id in one malloc'd tail when there are any.
 */
struct kpfs_kent {
	uint8_t		ref[KP_REF_LEN];
	int64_t		t[10];		/* times, kp_key order */
	int64_t		loaded_at;	/* monotonic seconds */
	uint32_t	keypackage_len;
	uint16_t	suite;
	int8_t		state;
	uint8_t		flags;		/* KPFS_KE_* */
	uint8_t		group_id_len;
	uint8_t		lens[3];	/* of the three strings */
	uint8_t		*tail;		/* the strings, group_id */
};
#define KPFS_KE_VALID		0x01
#define KPFS_KE_LAST_RESORT	0x02
#define KPFS_KE_PRIVATE		0x04

/* One entry of a directory listing (ops.c). */
struct kpfs_dent {
	char	name[2 * KP_REF_LEN + 1];
	int	has_st;			/* attributes known */
	mode_t	mode;
	nlink_t	nlink;
	off_t	size;
	int64_t	mtime;
};

struct kpfs_snap {
	uint8_t		ref[KP_REF_LEN];
	int		state;
	int64_t		changed_at;
	/*
	 * sum: of every field a key file shows, for the changes that keep
	 * state and changed_at (a reservation passed on within the same
	 * second, spent_by learnt after the Welcome, a wipe)
	 */
	uint64_t	sum;
	int		known;		/* 0: a move noted, the rest old */
};

#define KPFS_R_PERIODIC	1
#define KPFS_R_SYNC	2
#define KPFS_R_REFRESH	3
#define KPFS_R_GENERATE	4
#define KPFS_R_CLEANUP	5
#define KPFS_R_SCRUB	6		/* the thread's own, never a request */

/* How long after a wiping rename its WAL scrub runs, at the latest. */
#define KPFS_SCRUB_DELAY_MS 1000

/* tree.c */

/* kpfs_path_parse: split path into *out; -ENOENT when it names nothing
 * the tree can hold (a file that exists is then checked by the caller). */
int kpfs_path_parse(const char *path, struct kpfs_path *out);
/* kpfs_rootfile_name, kpfs_keyfile_name: a file's name. */
const char *kpfs_rootfile_name(int f);
const char *kpfs_keyfile_name(int f);
/* kpfs_keyfile_applies: 1 when key k has file f. */
int kpfs_keyfile_applies(const struct kpfs_key *k, int f);
/*
 * kpfs_keyfile_render: the text of file f (not keypackage) of key k into
 * buf (size cap); returns its length, or -1 when the file does not apply
 * or does not fit.
 */
int kpfs_keyfile_render(const struct kpfs_key *k, int f, char *buf, size_t cap);
/*
 * kpfs_pool_load: the key ref of p into *k; *found = 0 when there is
 * none.  kpfs_pool_list: the keys in state (-1: all), oldest first;
 * free(*keys).
 */
int kpfs_pool_load(struct kp_pool *p, const uint8_t *ref, struct kpfs_key *k,
    int *found);
int kpfs_pool_list(struct kp_pool *p, int state, struct kpfs_key **keys,
    size_t *n);
/* kpfs_rfc3339: t as 2026-11-22T03:16:47Z into buf (at least 21 bytes). */
void kpfs_rfc3339(int64_t t, char *buf, size_t cap);
/*
 * kpfs_status_render: the root status file into buf; returns its length
 * or -1 when it does not fit.
 */
int kpfs_status_render(const struct kp_status *st, const struct kp_policy *pol,
    int health, int64_t last_sync, char *buf, size_t cap);

/* ops.c */

/* kpfs_ops: the fuse_operations of kpoolfs. */
extern const struct fuse_operations kpfs_ops;
/* kpfs_errno: the errno (positive) for a KP_E* code. */
int kpfs_errno(int kp);
/* kpfs_invalidate_key: drop the kernel's cached attributes of a key's
 * directory and files under state dir. */
void kpfs_invalidate_key(struct kpfs *fs, int state, const char *ref_hex);
/* kpfs_invalidate: drop the kernel's cached attributes of path. */
void kpfs_invalidate(struct kpfs *fs, const char *path);
/* kpfs_key_changed: forget the cached key ref, its unlinked files (a
 * key that moved or went is no longer being removed) and the counts. */
void kpfs_key_changed(struct kpfs *fs, const uint8_t *ref);
/* kpfs_touch_state: record that a key entered or left state's directory
 * now: its mtime moves forward, by 1 ns at least. */
void kpfs_touch_state(struct kpfs *fs, int state);

/* refresh.c */

/* kpfs_refresh_start: open the refresh handle and start the thread. */
int kpfs_refresh_start(struct kpfs *fs);
/* kpfs_refresh_stop: stop and join the thread, close its handle. */
void kpfs_refresh_stop(struct kpfs *fs);
/*
 * kpfs_refresh_request: ask the thread to run one ctl verb (KPFS_R_*;
 * n keys for KPFS_R_GENERATE), wait for it and for the kernel's caches
 * to be invalidated; returns its KP_E* result.
 */
int kpfs_refresh_request(struct kpfs *fs, int what, uint32_t n);
/*
 * kpfs_snap_note: an operation moved key ref to state (-1: deleted) and
 * invalidated it; the refresh thread's next comparison takes the move as
 * seen.  Call with tlock held, in the same hold as the move.
 */
void kpfs_snap_note(struct kpfs *fs, const uint8_t ref[KP_REF_LEN], int state);
/*
 * kpfs_scrub_soon: a rename wiped private keys; have the
 * thread run the checkpoint that scrubs them from the WAL within
 * KPFS_SCRUB_DELAY_MS (one for every wipe until then).
 */
void kpfs_scrub_soon(struct kpfs *fs);

/* main.c */

/* kpfs_log: log to stderr (foreground) or syslog (daemon). */
void kpfs_log(int prio, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* kpfs_open_pool: open a handle on the store with the server and clock
 * of the mount. */
int kpfs_open_pool(struct kpfs *fs, struct kp_pool **out);
/* kpfs_now: the mount's idea of now (test clock or real). */
int64_t kpfs_now(struct kpfs *fs);

#endif /* KPOOLFS_H */
