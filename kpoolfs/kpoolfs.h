/* SPDX-License-Identifier: ISC */
/*
 * kpoolfs.h: the parts of kpoolfs shared by its files.
 *
 * main.c parses the options and runs the FUSE loop; ops.c holds the
 * fuse_operations, thin; cache.c is the layer under them: what the
 * daemon keeps of the pool (keys, counts, listings, unlinked files) and
 * how it and the kernel's cache follow the pool's changes (the pool's
 * watcher); events.c the watcher's other half, the events file, and
 * the last refusal; ctl.c the control files (status, status.json,
 * config, ctl, welcome, identity, devices); refresh.c the background thread; tree.c the paths
 * and the text of the key files, status and devices; daemon.c the log,
 * the clock, the pool's opening and the errno table.  Calls go one way
 * (tree.c and daemon.c call none of the others):
 *
 *	main	-> ops, refresh, daemon
 *	ops	-> ctl, events, cache, refresh, tree, daemon
 *	ctl	-> events, cache, refresh, tree, daemon
 *	events	-> cache, tree, daemon
 *	cache	-> tree, daemon
 *	refresh	-> daemon
 *
 * The pool is one handle, shared by every thread (kpool.h says how it
 * serializes its conversations with the server).
 *
 * Locks.  kpoolfs never holds one of its locks across a call into the
 * pool or the kernel (fuse_invalidate_path), and takes them in this
 * order:
 *
 *	rqlock	one ctl request at a time (refresh.c)
 *	rlock	the refresh thread's requests and state (refresh.c)
 *	lock	the cache, the times and the open files (cache.c, ops.c);
 *		a leaf: nothing is taken while it is held
 *
 * The pool's observer (cache.c) runs in the thread that made a change,
 * after the pool released its own locks; it takes lock, then, with no
 * lock held, invalidates the kernel's entries.
 */
#ifndef KPOOLFS_H
#define KPOOLFS_H

#define FUSE_USE_VERSION 314

#include <sys/queue.h>
#include <sys/types.h>

#include <fuse.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "kpool.h"

/* What a path names. */
enum kpfs_kind {
	KPFS_ROOT = 0,		/* / */
	KPFS_ROOTFILE,		/* /status, /config, /ctl, ... */
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
	KPFS_F_IDENTITY,
	KPFS_F_DEVICES,
	KPFS_F_STATUS_JSON,
	KPFS_F_EVENTS,
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

#define KPFS_CACHE_TTL	5		/* seconds */
#define KPFS_NS		1000000000LL	/* nanoseconds a second */
#define KPFS_LIST_TTL_MS 1000		/* as the kernel's entry timeout */
#define KPFS_CACHE_MAX	(1u << 17)	/* keys; then it starts again */

/* One entry of a directory listing. */
struct kpfs_dent {
	char	name[2 * KP_REF_LEN + 1];
	int	has_st;			/* attributes known */
	mode_t	mode;
	nlink_t	nlink;
	off_t	size;
	int64_t	mtime;			/* ns */
};

/* The last listing of a state directory, reused within a second. */
struct kpfs_list {
	struct kpfs_dent *e;
	size_t		 n;
	uint64_t	 gen;		/* kgen it was taken at */
	int64_t		 at_ms;		/* monotonic */
};

/* Keys some of whose files were unlinked (rm -r of a deletable key). */
struct kpfs_hidden {
	uint8_t		ref[KP_REF_LEN];
	uint32_t	mask;		/* 1 << KPFS_K_* unlinked */
};

/* An open file or directory (ops.c), on fs->handles. */
struct kpfs_handle {
	LIST_ENTRY(kpfs_handle) link;
	int		 dir;		/* 1: a directory listing */
};

/* An open file: a snapshot to read, or what was written so far. */
struct kpfs_fh {
	struct kpfs_handle h;		/* first: on fs->handles */
	int		 kind;
	int		 file;
	uint8_t		*buf;
	size_t		 len;
	int		 done;		/* welcome: opened already */
	uint8_t		 ref[KP_REF_LEN];	/* a key's group_id file */
	/*
	 * events (events.c), guarded by fs->lock: the next change this
	 * reader gets (a sequence number), how much of buf (a line begun)
	 * it read, and the poll(2) to wake.
	 */
	uint64_t	 epos;
	size_t		 eoff;
	struct fuse_pollhandle *ph;
};

/* One change for the events file. */
struct kpfs_event {
	int64_t		 t;		/* ns */
	uint8_t		 ref[KP_REF_LEN];
	int		 any;		/* ref unknown: any key may have changed */
	int		 from, to;
	char		 by[KP_MAX_PRINCIPAL + 1];
};
#define KPFS_EVENTS_MAX	1024		/* changes kept for slow readers */
#define KPFS_EVENTS_OPEN 4		/* events open at once, at most:
					   each blocked read holds a worker,
					   and the loop gets as many more */

/* The last operation the tree refused (status, status.json). */
struct kpfs_refusal {
	int64_t		 t;		/* ns; 0: none yet */
	char		 op[16];	/* mv, rmdir, welcome, or a ctl verb
					   (sync, refresh, ...) */
	char		 ref[2 * KP_REF_LEN + 1];	/* "" none */
	int		 from, to;	/* states, -1 none */
	int		 err;		/* errno */
	char		 code[KP_MAX_ERRCODE + 1];	/* the server's */
	char		 msg[256];
};

/* One mounted pool. */
struct kpfs {
	/*
	 * Set in main before the FUSE loop (fuse and pool in init, before
	 * the refresh thread starts and before any operation), read-only
	 * afterwards: no lock.
	 */
	char		*store;		/* the database, absolute */
	char		*keyfile;	/* absolute path or NULL */
	char		*user;
	char		*device;	/* NULL: the store's, or default */
	char		*server;	/* URL or NULL: offline */
	int		 offline;	/* -o server=none: stay offline */
	char		*cafile;	/* -o cafile, absolute, or NULL: the
					   store's (kp_pool_set_cafile) */
	char		*invite;	/* -o invite, or NULL */
	char		*test_clock;	/* test clock file or NULL */
	int		 test_init_delay;	/* ms init waits, tests */
	int		 refresh;	/* -o refresh, -1: config */
	int		 foreground;
	int		 singlethread;	/* -s: an events read never blocks */
	uid_t		 uid;
	gid_t		 gid;
	struct fuse	*fuse;		/* set in init */
	int		 init_failed;	/* set in init: the pool did not open,
					   the loop ends, the exit is 1 */
	struct kp_pool	*pool;		/* set in init; thread-safe */

	/*
	 * The cache, the times and the open files.  Guarded by lock.
	 *
	 * keys: the keys last read, by ref (a tsearch(3) tree of struct
	 * kpfs_kent), so that the lookups, getattrs and opens of one key
	 * cost one query; the observer drops a key when it changes, and
	 * an entry lasts KPFS_CACHE_TTL seconds for changes made by other
	 * processes.  counts: the state counts, dropped on any change.
	 * kgen moves at every change: a listing, or a key read from the
	 * pool while it moved, is not kept.  hidden: the unlinked files.
	 * handles: the open files and directories, freed by destroy when
	 * the kernel never released them (open at unmount).
	 */
	pthread_mutex_t	 lock;
	void		*keys;
	size_t		 nkeys;
	struct kp_counts counts;
	int64_t		 counts_at;	/* monotonic s, 0: none */
	uint64_t	 kgen;
	struct kpfs_list lists[KP_NSTATES];
	struct kpfs_hidden *hidden;
	size_t		 nhidden;
	LIST_HEAD(, kpfs_handle) handles;
	int64_t		 mounted_at;
	int64_t		 state_mtime[KP_NSTATES]; /* last change, ns */
	int64_t		 config_mtime;
	/*
	 * The changes for the events file (events.c): a ring of the last
	 * KPFS_EVENTS_MAX, the one numbered eseq - 1 the newest; econd
	 * wakes blocked readers.  refusal: the last refused operation.
	 * Guarded by lock.
	 */
	struct kpfs_event *ev;
	uint64_t	 eseq;
	int		 eopen;		/* events open (KPFS_EVENTS_OPEN) */
	pthread_cond_t	 econd;
	struct kpfs_refusal refusal;

	/*
	 * The refresh thread and its requests.  rthread is set and joined
	 * by the thread that runs init and the stop.  The rest, rstarted
	 * included, is guarded by rlock.
	 */
	pthread_t	 rthread;
	int		 rstarted;
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
	 * flush_due: a rename to expired was batched by the pool and wiped
	 * private keys; by flush_at (monotonic) the thread has the pool
	 * commit the batch and run the WAL scrub the wipes owe, once for
	 * all the renames of that second (kpfs_flush_soon).  Guarded by
	 * rlock.
	 */
	int		 flush_due;
	struct timespec	 flush_at;
};

#define KPFS_R_PERIODIC	1
#define KPFS_R_SYNC	2
#define KPFS_R_REFRESH	3
#define KPFS_R_GENERATE	4
#define KPFS_R_CLEANUP	5
#define KPFS_R_FLUSH	6		/* the thread's own, never a request */
#define KPFS_R_ROTATE	7

/* How long after a rename to expired its batch commits, at the latest. */
#define KPFS_FLUSH_DELAY_MS 1000

/* tree.c */

/* kpfs_path_parse: split path into *out; -ENOENT when it names nothing
 * the tree can hold (a file that exists is then checked by the caller). */
int kpfs_path_parse(const char *path, struct kpfs_path *out);
/* kpfs_rootfile_name, kpfs_keyfile_name: a file's name. */
const char *kpfs_rootfile_name(int f);
const char *kpfs_keyfile_name(int f);
/* kpfs_keyfile_applies: 1 when key k has file f. */
int kpfs_keyfile_applies(const struct kp_key *k, int f);
/*
 * kpfs_keyfile_render: the text of file f (not keypackage) of key k into
 * buf (size cap); returns its length, or -1 when the file does not apply
 * or does not fit.
 */
int kpfs_keyfile_render(const struct kp_key *k, int f, char *buf, size_t cap);
/* kpfs_rfc3339: t as 2026-11-22T03:16:47Z into buf (at least 21 bytes). */
void kpfs_rfc3339(int64_t t, char *buf, size_t cap);
/* kpfs_rfc3339_ns: t (ns) as 2026-11-22T03:16:47.123456789Z into buf (at
 * least 31 bytes). */
void kpfs_rfc3339_ns(int64_t t, char *buf, size_t cap);
/* kpfs_refusal_render: r as one line without a newline ("none" when
 * there was none) into buf; its length or -1. */
int kpfs_refusal_render(const struct kpfs_refusal *r, char *buf, size_t cap);
/* What the status file shows besides the pool's status and policy. */
struct kpfs_status_extra {
	const char		*user, *device;
	const char		*public_key;	/* base64 */
	const struct kp_counts	*suites;	/* one per policy suite */
	const char		*server;	/* URL or "none" */
	const struct kpfs_refusal *refusal;
};
/*
 * kpfs_status_render: the root status file into buf; returns its length
 * or -1 when it does not fit.
 */
int kpfs_status_render(const struct kp_status *st, const struct kp_policy *pol,
    const struct kpfs_status_extra *x, char *buf, size_t cap);
/*
 * kpfs_status_json: the same facts as one JSON object with a newline,
 * malloc'd into *out; 0 or -ENOMEM.
 */
int kpfs_status_json(const struct kp_status *st, const struct kp_policy *pol,
    const struct kpfs_status_extra *x, char **out);
/*
 * kpfs_devices_render: the devices file of the n devices of d into buf:
 * one line a device; returns its length or -1 when it does not fit.
 */
int kpfs_devices_render(const struct kp_device *d, size_t n, char *buf,
    size_t cap);

/* daemon.c */

/* kpfs_log: log to stderr (foreground) or syslog (daemon). */
void kpfs_log(int prio, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* kpfs_log_to_syslog: from now on kpfs_log and libfuse go to syslog. */
void kpfs_log_to_syslog(void);
/* kpfs_open_pool: open a handle on the store with the server and clock
 * of the mount. */
int kpfs_open_pool(struct kpfs *fs, struct kp_pool **out);
/* kpfs_now: the mount's idea of now (test clock or real). */
int64_t kpfs_now(struct kpfs *fs);
/* kpfs_now_ns: the mount's now in nanoseconds (a test clock's whole
 * seconds). */
int64_t kpfs_now_ns(struct kpfs *fs);
/* kpfs_mono_ms: monotonic milliseconds. */
int64_t kpfs_mono_ms(void);
/* kpfs_load_key: the key of pp from the pool into *k: 0, -ENOENT when
 * it is gone, or another -errno (logged). */
int kpfs_load_key(struct kpfs *fs, const struct kpfs_path *pp,
    struct kp_key **k);
/* kpfs_errno: the errno (positive) for a KP_E* code. */
int kpfs_errno(int kp);

/* cache.c */

/* kpfs_cache_init: the state directories' times at mount, from the
 * pool's keys. */
int kpfs_cache_init(struct kpfs *fs);
/* kpfs_cache_fini: free what the cache holds. */
void kpfs_cache_fini(struct kpfs *fs);
/*
 * kpfs_cache_changed: the pool's observer (kp_pool_set_observer, arg
 * fs): forget key ref (NULL: every key) and invalidate the kernel's
 * entries of it and of the state directories it left or entered (their
 * mtime moves forward, by 1 ns at least), and the status.
 */
void kpfs_cache_changed(void *arg, const uint8_t *ref, int from, int to);
/*
 * kpfs_cache_key: the key a key path names, from the cache or the pool;
 * fn(arg, k, mask) reads it (mask: its unlinked files) with lock held,
 * and may not call the pool.  -ENOENT unless the key is in the path's
 * state, -errno when it cannot be read, else what fn returns.
 */
int kpfs_cache_key(struct kpfs *fs, const struct kpfs_path *pp,
    int (*fn)(void *arg, const struct kp_key *k, uint32_t mask), void *arg);
/*
 * kpfs_cache_renaming: this thread's rename(2) of key ref (NULL: done)
 * is under way: the kernel moves the key's directory (nothing is under
 * the new name yet) and drops the attributes of both state directories
 * itself, so that the observer leaves those entries alone.
 */
void kpfs_cache_renaming(const uint8_t *ref);
/* kpfs_cache_hide: file f of key ref was unlinked; 0 or -ENOMEM. */
int kpfs_cache_hide(struct kpfs *fs, const uint8_t ref[KP_REF_LEN], int f);
/* kpfs_cache_counts: the state counts, from the cache when fresh (1 s). */
int kpfs_cache_counts(struct kpfs *fs, struct kp_counts *c);
/*
 * kpfs_cache_list: the listing of state directory state into *e
 * (malloc'd, caller frees) and *n, with the keys' attributes; *again = 1
 * when it is the one handed out less than KPFS_LIST_TTL_MS ago with no
 * change since (the kernel still holds the attributes).
 */
int kpfs_cache_list(struct kpfs *fs, int state, struct kpfs_dent **e,
    size_t *n, int *again);
/* kpfs_cache_state_mtime: the mtime of state's directory, ns. */
int64_t kpfs_cache_state_mtime(struct kpfs *fs, int state);
/*
 * kpfs_cache_times: the mount's time and the config's (unix seconds),
 * and the latest change of a state directory (ns, the mount's at least).
 */
void kpfs_cache_times(struct kpfs *fs, int64_t *mounted_at, int64_t *config,
    int64_t *latest);
/* kpfs_touch_config: the config changed now (its mtime, the status). */
void kpfs_touch_config(struct kpfs *fs);
/* kpfs_invalidate: drop the kernel's cached attributes of path. */
void kpfs_invalidate(struct kpfs *fs, const char *path);
/* kpfs_invalidate_status: the same for status and status.json. */
void kpfs_invalidate_status(struct kpfs *fs);

/* ctl.c */

/*
 * kpfs_ctl_text: the text of a read-only file at the root (status,
 * identity, devices) into *text (malloc'd, caller frees); 0 or -errno.
 * *at gets the time its facts are from (status: the last sync;
 * devices: the server's list; 0: none).
 */
int kpfs_ctl_text(struct kpfs *fs, int f, char **text, int64_t *at);
/* kpfs_ctl_config: the config file's text into *text (malloc'd); 0 or
 * -errno. */
int kpfs_ctl_config(struct kpfs *fs, char **text);
/* kpfs_ctl_write_config: a write to config; size or -errno. */
int kpfs_ctl_write_config(struct kpfs *fs, const char *data, size_t size);
/* kpfs_ctl_write_ctl: a write to ctl, run before it returns; size or
 * -errno. */
int kpfs_ctl_write_ctl(struct kpfs *fs, const char *data, size_t size);
/* kpfs_ctl_flush_welcome: the close of welcome: -EINVAL when what was
 * written is not whole (a Welcome, or the tree after one), else 0. */
int kpfs_ctl_flush_welcome(struct kpfs_fh *fh);
/* kpfs_ctl_write_welcome: a write to welcome (fh gathers it); size or
 * -errno. */
int kpfs_ctl_write_welcome(struct kpfs *fs, struct kpfs_fh *fh,
    const char *data, size_t size);

/* group.c */

/* kpfs_group_state: 1 when keys in state have a writable group_id. */
int kpfs_group_state(int state);
/* kpfs_group_mine: 1 when file f of k is the owner's group_id. */
int kpfs_group_mine(const struct kp_key *k, int f);
/* kpfs_group_render: the owner's group of ref in hex with a newline
 * (nothing when none) into buf; its length or -1. */
int kpfs_group_render(struct kpfs *fs, const uint8_t ref[KP_REF_LEN],
    char *buf, size_t cap);
/* kpfs_ctl_open: open the file f at the root for acc (O_RDONLY, ...)
 * into fh: its text to read, or nothing to write.  0 or -errno. */
int kpfs_ctl_open(struct kpfs *fs, int f, int acc, struct kpfs_fh *fh);
/* kpfs_group_size: st's size, the owner's group of ref rendered; with
 * no lock of the daemon held (it asks the pool).  0 or -EIO. */
int kpfs_group_size(struct kpfs *fs, const uint8_t ref[KP_REF_LEN],
    struct stat *st);
/* kpfs_group_open: read the owner's group_id of fh->ref into fh, for a
 * read; with no lock of the daemon held (it asks the pool).  0 or
 * -errno. */
int kpfs_group_open(struct kpfs *fs, struct kpfs_fh *fh);
/* kpfs_group_write: a write to a key file: the owner's group_id takes
 * a group id in hex (EACCES for any other file); size or -errno. */
int kpfs_group_write(struct kpfs *fs, struct kpfs_fh *fh, const char *data,
    size_t size);
/* kpfs_ctl_spend: the ctl verb "spend REF GROUPHEX"; 0 or -errno. */
int kpfs_ctl_spend(struct kpfs *fs, const char *arg);

/* refresh.c */

/* kpfs_refresh_start: start the thread. */
int kpfs_refresh_start(struct kpfs *fs);
/* kpfs_refresh_stop: stop and join the thread. */
void kpfs_refresh_stop(struct kpfs *fs);
/*
 * kpfs_refresh_request: ask the thread to run one ctl verb (KPFS_R_*;
 * n keys for KPFS_R_GENERATE) and wait for it; returns its KP_E*
 * result.
 */
int kpfs_refresh_request(struct kpfs *fs, int what, uint32_t n);
/* kpfs_refresh_wake: the thread rereads refresh_interval now. */
void kpfs_refresh_wake(struct kpfs *fs);
/*
 * kpfs_flush_soon: a rename to expired was batched (kp_pool_set_batching)
 * and wiped private keys; have the thread commit the batch and run the
 * checkpoint that scrubs them from the WAL within KPFS_FLUSH_DELAY_MS
 * (one for every rename until then).
 */
void kpfs_flush_soon(struct kpfs *fs);

/* events.c */

/* kpfs_events_init, kpfs_events_fini: the ring of changes. */
int kpfs_events_init(struct kpfs *fs);
void kpfs_events_fini(struct kpfs *fs);
/*
 * kpfs_events_watch: the pool's watcher (kp_pool_set_watcher, arg fs):
 * the cache hears of the change (kpfs_cache_changed), then the events
 * file's readers.
 */
void kpfs_events_watch(void *arg, const struct kp_change_info *c);
/* kpfs_events_open: fh reads the changes made after now; -EMFILE when
 * KPFS_EVENTS_OPEN are open already.  kpfs_events_close: fh no more. */
int kpfs_events_open(struct kpfs *fs, struct kpfs_fh *fh);
void kpfs_events_close(struct kpfs *fs);
/*
 * kpfs_events_read: whole lines of the changes fh has not read into buf
 * (a line longer than size in parts); blocks until there is one unless
 * nonblock (-EAGAIN); -EINTR when the reader is interrupted, 0 at
 * unmount.
 */
int kpfs_events_read(struct kpfs *fs, struct kpfs_fh *fh, char *buf,
    size_t size, int nonblock);
/* kpfs_events_poll: the fuse_operations' poll of the events file. */
int kpfs_events_poll(const char *path, struct fuse_file_info *fi,
    struct fuse_pollhandle *ph, unsigned *reventsp);
/* kpfs_events_last: the time (ns) of the newest change, 0: none. */
int64_t kpfs_events_last(struct kpfs *fs);
/*
 * kpfs_refused: the tree refused op (mv, rmdir, welcome) of ref (hex,
 * or NULL) from state from to to (-1: none) with errno err; the pool's
 * reason (kp_errmsg, kp_errcode) is the caller thread's last.
 */
void kpfs_refused(struct kpfs *fs, const char *op, const char *ref, int from,
    int to, int err);
/* kpfs_refusal_get: a copy of the last refusal. */
void kpfs_refusal_get(struct kpfs *fs, struct kpfs_refusal *r);

/* ops.c */

/* kpfs_ops: the fuse_operations of kpoolfs. */
extern const struct fuse_operations kpfs_ops;

#endif /* KPOOLFS_H */
