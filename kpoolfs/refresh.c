/* SPDX-License-Identifier: ISC */
/*
 * refresh.c: the background thread.  It refreshes the pool every
 * refresh_interval seconds (config, or -o refresh=N), runs the ctl verbs
 * for the writers of ctl, and after each pass compares the keys with
 * what it saw last and drops the kernel's cached attributes of whatever
 * moved, so the tree never shows a stale state.  It has its own pool
 * handle, so a slow server never blocks the FUSE operations.
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "kpoolfs.h"

static int
snap_cmp(const void *a, const void *b)
{
	return memcmp(((const struct kpfs_snap *)a)->ref,
	    ((const struct kpfs_snap *)b)->ref, KP_REF_LEN);
}

/* FNV-1a over len bytes of p, from h. */
static uint64_t
fnv(uint64_t h, const void *p, size_t len)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* fnv over the string s (at most cap bytes) and a terminator. */
static uint64_t
fnv_str(uint64_t h, const char *s, size_t cap)
{
	return fnv(fnv(h, s, strnlen(s, cap)), "", 1);
}

/* A sum of the fields of k that its files show (not the key package). */
static uint64_t
key_sum(const struct kpfs_key *k)
{
	int64_t v[] = { k->state, k->last_resort, k->has_private,
	    k->uploaded_at, k->reserved_at, k->spent_at, k->expired_at,
	    k->changed_at, k->reservation_expires_at, k->epoch,
	    (int64_t)k->group_id_len };
	uint64_t h = 0xcbf29ce484222325ULL;

	h = fnv(h, v, sizeof(v));
	h = fnv_str(h, k->reservation_id, sizeof(k->reservation_id));
	h = fnv_str(h, k->reserved_by, sizeof(k->reserved_by));
	h = fnv_str(h, k->spent_by, sizeof(k->spent_by));
	if (k->group_id_len <= sizeof(k->group_id))
		h = fnv(h, k->group_id, k->group_id_len);
	return h;
}

/* The keys as they are now, sorted by ref; *out is malloc'd. */
static int
take_snapshot(struct kpfs *fs, struct kpfs_snap **out, size_t *nout)
{
	struct kpfs_key *keys = NULL;
	struct kpfs_snap *s = NULL;
	size_t i, n = 0;
	int rc;

	*out = NULL;
	*nout = 0;
	if ((rc = kpfs_pool_list(fs->rp, -1, &keys, &n)) != KP_OK) {
		kpfs_log(LOG_ERR, "list: %s", kp_errmsg(fs->rp));
		goto out;
	}
	if (n > 0 && (s = calloc(n, sizeof(*s))) == NULL) {
		rc = KP_ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		memcpy(s[i].ref, keys[i].ref, KP_REF_LEN);
		s[i].state = keys[i].state;
		s[i].changed_at = keys[i].changed_at;
		s[i].sum = key_sum(&keys[i]);
		s[i].known = 1;
	}
	if (n > 0)
		qsort(s, n, sizeof(*s), snap_cmp);
	*out = s;
	*nout = n;
	s = NULL;
	rc = KP_OK;
 out:
	free(s);
	free(keys);
	return rc;
}

/*
 * Invalidate one key that changed from state was (-1: new) to now (-1:
 * gone).  The state directories it left or entered change (their mtime
 * and link count); a key that stayed changes only its own files.
 */
static void
key_moved(struct kpfs *fs, const uint8_t ref[KP_REF_LEN], int was, int now,
    int dirs[KP_NSTATES])
{
	char hex[2 * KP_REF_LEN + 1];

	kp_hex(ref, KP_REF_LEN, hex);
	kpfs_key_changed(fs, ref);
	if (was >= 0)
		kpfs_invalidate_key(fs, was, hex);
	if (now >= 0 && now != was)
		kpfs_invalidate_key(fs, now, hex);
	if (was == now)
		return;
	if (was >= 0) {
		kpfs_touch_state(fs, was);
		dirs[was] = 1;
	}
	if (now >= 0) {
		kpfs_touch_state(fs, now);
		dirs[now] = 1;
	}
}

/* A change diff found. */
struct kpfs_move {
	uint8_t	ref[KP_REF_LEN];
	int	was, now;
};

/*
 * Compare the keys with the last snapshot and invalidate what changed.
 * The listing and the comparison run under tlock, the lock under which
 * renames, rmdir and welcome record their own moves in the snapshot
 * (kpfs_snap_note): a move the daemon made and touched already is not
 * seen again here.
 */
static void
diff(struct kpfs *fs)
{
	struct kpfs_snap *cur = NULL, *old;
	struct kpfs_move *mv = NULL;
	size_t i = 0, j = 0, ncur = 0, nold, nmv = 0;
	int dirs[KP_NSTATES] = { 0 }, s, c, was, now;
	const uint8_t *ref;
	char path[32];

	pthread_mutex_lock(&fs->tlock);
	old = fs->snap;
	nold = fs->nsnap;
	if (take_snapshot(fs, &cur, &ncur) != KP_OK ||
	    (mv = calloc(nold + ncur + 1, sizeof(*mv))) == NULL) {
		pthread_mutex_unlock(&fs->tlock);
		free(cur);
		return;
	}
	while (i < nold || j < ncur) {
		if (i == nold)
			c = 1;
		else if (j == ncur)
			c = -1;
		else
			c = memcmp(old[i].ref, cur[j].ref, KP_REF_LEN);
		if (c < 0) {		/* gone (-1: rmdir said so) */
			ref = old[i].ref;
			was = old[i].state;
			now = -1;
			i++;
		} else if (c > 0) {	/* new */
			ref = cur[j].ref;
			was = -1;
			now = cur[j].state;
			j++;
		} else {
			ref = cur[j].ref;
			was = old[i].state;
			now = cur[j].state;
			/* a noted move: the files were invalidated then */
			if (was == now && (!old[i].known ||
			    (old[i].changed_at == cur[j].changed_at &&
			    old[i].sum == cur[j].sum)))
				was = now = -1;
			i++;
			j++;
		}
		if (was == -1 && now == -1)
			continue;
		memcpy(mv[nmv].ref, ref, KP_REF_LEN);
		mv[nmv].was = was;
		mv[nmv].now = now;
		nmv++;
	}
	free(fs->snap);
	fs->snap = cur;
	fs->nsnap = ncur;
	pthread_mutex_unlock(&fs->tlock);
	for (i = 0; i < nmv; i++)
		key_moved(fs, mv[i].ref, mv[i].was, mv[i].now, dirs);
	free(mv);
	for (s = 0; s < KP_NSTATES; s++)
		if (dirs[s]) {
			snprintf(path, sizeof(path), "/%s", kp_state_name(s));
			kpfs_invalidate(fs, path);
		}
	kpfs_invalidate(fs, "/status");
}

void
kpfs_snap_note(struct kpfs *fs, const uint8_t ref[KP_REF_LEN], int state)
{
	struct kpfs_snap probe, *e;

	if (fs->nsnap == 0)
		return;
	memcpy(probe.ref, ref, KP_REF_LEN);
	if ((e = bsearch(&probe, fs->snap, fs->nsnap, sizeof(*e),
	    snap_cmp)) == NULL)
		return;
	e->state = state;
	e->known = 0;
}

/* Record whether the server answered. */
static void
note_server(struct kpfs *fs, int rc, const struct kp_sync_report *r)
{
	pthread_mutex_lock(&fs->mlock);
	if (fs->server == NULL)
		fs->online = 0;
	else if (rc == KP_OK && r->online) {
		fs->online = 1;
		fs->last_sync = kpfs_now(fs);
	} else if (rc == KP_ENET || (rc == KP_OK && !r->online))
		fs->online = 0;
	pthread_mutex_unlock(&fs->mlock);
}

/* cleanup: expire, then delete expired keys and taken spent ones. */
static int
cleanup(struct kpfs *fs)
{
	struct kp_sync_report r;
	struct kpfs_key *keys = NULL;
	size_t i, n = 0;
	int rc;

	memset(&r, 0, sizeof(r));
	if ((rc = kp_pool_expire(fs->rp, &r)) != KP_OK)
		return rc;
	if ((rc = kpfs_pool_list(fs->rp, -1, &keys, &n)) != KP_OK)
		return rc;
	for (i = 0; i < n && rc == KP_OK; i++) {
		if (keys[i].state == KP_STATE_EXPIRED ||
		    (keys[i].state == KP_STATE_SPENT &&
		    !keys[i].has_private && !keys[i].last_resort))
			rc = kp_pool_delete(fs->rp, keys[i].ref);
	}
	free(keys);
	return rc;
}

/*
 * One pass of what.  The passes that ask the server and apply its view
 * hold tlock, the tree lock every rename holds from its question to the
 * server to its local record: a view taken before a rename is never
 * applied after that rename's record (which would undo it), and a
 * rename's own move is never applied before its record (which would
 * then fail).
 */
static int
run(struct kpfs *fs, int what, uint32_t n)
{
	struct kp_sync_report r;
	int rc = KP_OK;

	memset(&r, 0, sizeof(r));
	if (what != KPFS_R_GENERATE)
		pthread_mutex_lock(&fs->tlock);
	switch (what) {
	case KPFS_R_PERIODIC:
	case KPFS_R_REFRESH:
		if (fs->server == NULL) {
			rc = kp_pool_expire(fs->rp, &r);
			if (rc == KP_OK && what == KPFS_R_REFRESH)
				rc = KP_ENET;
		} else {
			rc = kp_pool_refresh(fs->rp, &r);
			if (rc == KP_ENET) {
				struct kp_sync_report e;

				/* keys expire with or without a server */
				memset(&e, 0, sizeof(e));
				if (kp_pool_expire(fs->rp, &e) != KP_OK)
					kpfs_log(LOG_ERR, "expire: %s",
					    kp_errmsg(fs->rp));
			}
		}
		note_server(fs, rc, &r);
		break;
	case KPFS_R_SYNC:
		rc = fs->server == NULL ? KP_ENET : kp_pool_sync(fs->rp, &r);
		note_server(fs, rc, &r);
		break;
	case KPFS_R_GENERATE:
		rc = kp_pool_generate(fs->rp, n, 0);
		break;
	case KPFS_R_CLEANUP:
		rc = cleanup(fs);
		break;
	}
	if (what != KPFS_R_GENERATE)
		pthread_mutex_unlock(&fs->tlock);
	if (rc != KP_OK && !(what == KPFS_R_PERIODIC && rc == KP_ENET))
		kpfs_log(LOG_NOTICE, "%s: %s",
		    what == KPFS_R_GENERATE ? "generate" :
		    what == KPFS_R_CLEANUP ? "cleanup" :
		    what == KPFS_R_SYNC ? "sync" : "refresh",
		    kp_errmsg(fs->rp));
	return rc;
}

/* Seconds between refreshes: -o refresh, else the config; 0: never. */
static int64_t
interval(struct kpfs *fs)
{
	struct kp_policy pol;

	if (fs->refresh >= 0)
		return fs->refresh;
	if (kp_pool_policy_get(fs->rp, &pol) != KP_OK)
		return 30;
	return pol.refresh_interval > 0 ? pol.refresh_interval : 0;
}

/* ts >= at */
static int
reached(const struct timespec *ts, const struct timespec *at)
{
	return ts->tv_sec > at->tv_sec || (ts->tv_sec == at->tv_sec &&
	    ts->tv_nsec >= at->tv_nsec);
}

/*
 * The scrub the renames' wipes owe.  kp_pool_expire runs the checkpoint a
 * handle owes: on rp first, which also expires and retires on the server
 * whatever passed not_after meanwhile, then on tp (renames that asked the
 * server) and fp (the local created -> expired), whose expire then finds
 * nothing to ask the server.  Called without rlock.
 */
static void
scrub(struct kpfs *fs)
{
	struct kp_sync_report r;
	int rc, moved = 0;

	memset(&r, 0, sizeof(r));
	pthread_mutex_lock(&fs->tlock);
	if ((rc = kp_pool_expire(fs->rp, &r)) != KP_OK)
		kpfs_log(LOG_ERR, "scrub: %s", kp_errmsg(fs->rp));
	moved += r.expired;
	if ((rc = kp_pool_expire(fs->tp, &r)) != KP_OK)
		kpfs_log(LOG_ERR, "scrub: %s", kp_errmsg(fs->tp));
	pthread_mutex_unlock(&fs->tlock);
	moved += r.expired;
	pthread_mutex_lock(&fs->lock);
	if ((rc = kp_pool_expire(fs->fp, &r)) != KP_OK)
		kpfs_log(LOG_ERR, "scrub: %s", kp_errmsg(fs->fp));
	pthread_mutex_unlock(&fs->lock);
	moved += r.expired;
	if (moved > 0)
		diff(fs);
}

static void *
loop(void *arg)
{
	struct kpfs *fs = arg;
	struct timespec last, next, ts;
	int64_t every;
	uint64_t gen;
	uint32_t n;
	int what, rc, first = 1;

	clock_gettime(CLOCK_MONOTONIC, &last);
	pthread_mutex_lock(&fs->rlock);
	while (!fs->rstop) {
		what = 0;
		if (fs->rwant != 0) {
			what = fs->rwant;
		} else {
			pthread_mutex_unlock(&fs->rlock);
			/* the interval may change in config: from the last pass */
			every = interval(fs);
			next = last;
			if (!first)	/* a first pass at once */
				next.tv_sec += every;
			pthread_mutex_lock(&fs->rlock);
			clock_gettime(CLOCK_MONOTONIC, &ts);
			/*
			 * A request that came while rlock was free goes
			 * first: a periodic pass must not take it over.
			 */
			if (fs->rstop || fs->rwant != 0)
				continue;
			if (every > 0 && reached(&ts, &next))
				what = KPFS_R_PERIODIC;
			else if (fs->scrub_due && reached(&ts, &fs->scrub_at))
				what = KPFS_R_SCRUB;
			else {
				if (fs->scrub_due && (every == 0 ||
				    !reached(&fs->scrub_at, &next)))
					next = fs->scrub_at;
				else if (every == 0) {
					pthread_cond_wait(&fs->rcond,
					    &fs->rlock);
					continue;
				}
				pthread_cond_timedwait(&fs->rcond, &fs->rlock,
				    &next);
				continue;
			}
		}
		if (what == KPFS_R_SCRUB) {
			fs->scrub_due = 0;
			pthread_mutex_unlock(&fs->rlock);
			scrub(fs);
			pthread_mutex_lock(&fs->rlock);
			continue;
		}
		/* only a request's pass answers it (and clears it) */
		gen = 0;
		n = 0;
		if (what != KPFS_R_PERIODIC) {
			gen = fs->rreq;
			n = fs->rgen;
			fs->rwant = 0;
		}
		pthread_mutex_unlock(&fs->rlock);
		rc = run(fs, what, n);
		diff(fs);
		malloc_trim(0);		/* a pass may allocate a lot */
		if (what == KPFS_R_PERIODIC || what == KPFS_R_REFRESH) {
			clock_gettime(CLOCK_MONOTONIC, &last);
			first = 0;
		}
		pthread_mutex_lock(&fs->rlock);
		if (gen > fs->rdone) {
			fs->rdone = gen;
			fs->rresult = rc;
			pthread_cond_broadcast(&fs->rcond);
		}
	}
	pthread_mutex_unlock(&fs->rlock);
	return NULL;
}

int
kpfs_refresh_start(struct kpfs *fs)
{
	sigset_t block, old;
	int rc;

	if ((rc = kpfs_open_pool(fs, &fs->rp)) != KP_OK)
		return rc;
	if ((rc = take_snapshot(fs, &fs->snap, &fs->nsnap)) != KP_OK)
		return rc;
	/*
	 * The signals that end the mount go to libfuse's threads: the
	 * thread's HTTP and SQLite calls never see an EINTR from them.
	 */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	rc = pthread_create(&fs->rthread, NULL, loop, fs);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		kpfs_log(LOG_ERR, "cannot start the refresh thread");
		return KP_ENOMEM;
	}
	pthread_mutex_lock(&fs->rlock);
	fs->rstarted = 1;
	pthread_mutex_unlock(&fs->rlock);
	return KP_OK;
}

void
kpfs_refresh_stop(struct kpfs *fs)
{
	int started;

	pthread_mutex_lock(&fs->rlock);
	started = fs->rstarted;
	fs->rstop = 1;
	pthread_cond_broadcast(&fs->rcond);
	pthread_mutex_unlock(&fs->rlock);
	if (started) {
		pthread_join(fs->rthread, NULL);
		pthread_mutex_lock(&fs->rlock);
		fs->rstarted = 0;
		pthread_mutex_unlock(&fs->rlock);
	}
	kp_pool_close(fs->rp);
	fs->rp = NULL;
	free(fs->snap);
	fs->snap = NULL;
	fs->nsnap = 0;
}

void
kpfs_scrub_soon(struct kpfs *fs)
{
	struct timespec ts;

	pthread_mutex_lock(&fs->rlock);
	if (fs->rstarted && !fs->rstop && !fs->scrub_due) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += (long)KPFS_SCRUB_DELAY_MS % 1000 * 1000000L;
		ts.tv_sec += KPFS_SCRUB_DELAY_MS / 1000 +
		    ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		fs->scrub_at = ts;
		fs->scrub_due = 1;
		pthread_cond_broadcast(&fs->rcond);
	}
	pthread_mutex_unlock(&fs->rlock);
}

int
kpfs_refresh_request(struct kpfs *fs, int what, uint32_t n)
{
	uint64_t gen;
	int rc;

	pthread_mutex_lock(&fs->rqlock);
	pthread_mutex_lock(&fs->rlock);
	if (!fs->rstarted || fs->rstop) {
		pthread_mutex_unlock(&fs->rlock);
		pthread_mutex_unlock(&fs->rqlock);
		return KP_EIO;
	}
	gen = ++fs->rreq;
	fs->rwant = what;
	fs->rgen = n;
	pthread_cond_broadcast(&fs->rcond);
	while (fs->rdone < gen && !fs->rstop)
		pthread_cond_wait(&fs->rcond, &fs->rlock);
	rc = fs->rdone >= gen ? fs->rresult : KP_EIO;
	pthread_mutex_unlock(&fs->rlock);
	pthread_mutex_unlock(&fs->rqlock);
	return rc;
}
