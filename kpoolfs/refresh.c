/* SPDX-License-Identifier: ISC */
/*
 * refresh.c: the background thread.  It refreshes the pool every
 * refresh_interval seconds (config, or -o refresh=N), runs the ctl verbs
 * for the writers of ctl, and has the pool commit the renames to
 * expired it batched and run the WAL scrub they owe.  It shares the
 * mount's pool handle: the pool serializes
 * its conversations with the server itself, so a view pulled before a
 * rename is never applied after it, and what a pass changes reaches
 * the cache and the kernel through the pool's observer (cache.c).
 */
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "kpoolfs.h"

/* cleanup: expire, then delete expired keys and taken spent ones. */
static int
cleanup(struct kpfs *fs)
{
	struct kp_sync_report	  r;
	struct kp_key		**keys = NULL;
	size_t			  i, n = 0;
	int			  rc, s;

	if ((rc = kp_pool_expire(fs->pool, &r)) != KP_OK ||
	    (rc = kp_pool_list(fs->pool, -1, &keys, &n)) != KP_OK)
		return rc;
	for (i = 0; i < n && rc == KP_OK; i++) {
		s = kp_key_state(keys[i]);
		if (s == KP_STATE_EXPIRED || (s == KP_STATE_SPENT &&
		    !kp_key_has_private(keys[i]) &&
		    !kp_key_last_resort(keys[i])))
			rc = kp_pool_delete(fs->pool, kp_key_ref(keys[i]));
	}
	kp_keys_free(keys, n);
	return rc;
}

/*
 * After a pass that reached the server: the user's devices as it lists
 * them now, kept by the pool for the devices file.  A server that does
 * not list them leaves the last list.
 */
static void
devices(struct kpfs *fs)
{
	struct kp_device	*d = NULL;
	size_t			 n = 0;

	if (kp_pool_devices(fs->pool, &d, &n) == KP_OK)
		free(d);
}

/* The name of a pass in the log. */
static const char *
pass_name(int what)
{
	switch (what) {
	case KPFS_R_GENERATE:
		return "generate";
	case KPFS_R_CLEANUP:
		return "cleanup";
	case KPFS_R_SYNC:
		return "sync";
	case KPFS_R_ROTATE:
		return "rotate";
	}
	return "refresh";
}

/* One pass of what (KPFS_R_*, n keys to generate). */
static int
run(struct kpfs *fs, int what, uint32_t n)
{
	struct kp_sync_report	r;
	int			rc = KP_OK;

	switch (what) {
	case KPFS_R_PERIODIC:
	case KPFS_R_REFRESH:
		if (fs->server == NULL) {
			rc = kp_pool_expire(fs->pool, &r);
			if (rc == KP_OK && what == KPFS_R_REFRESH)
				rc = KP_ENET;
			break;
		}
		/*
		 * keys expire with or without a server; the background
		 * keeps the low watermark, a refresh asked for tops the
		 * pool up to target
		 */
		if ((rc = kp_pool_refresh(fs->pool, what == KPFS_R_REFRESH ?
		    KP_REFRESH_TARGET : KP_REFRESH_WATERMARK, &r)) ==
		    KP_ENET && kp_pool_expire(fs->pool, &r) != KP_OK)
			kpfs_log(LOG_ERR, "expire: %s", kp_errmsg(fs->pool));
		break;
	case KPFS_R_SYNC:
		rc = fs->server == NULL ? KP_ENET : kp_pool_sync(fs->pool, &r);
		break;
	case KPFS_R_ROTATE:
		rc = fs->server == NULL ? KP_ENET : kp_pool_rotate(fs->pool,
		    &r);
		if (rc == KP_OK)
			kpfs_log(LOG_INFO, "rotate: %u keys retired, %u made",
			    r.retired, r.generated);
		break;
	case KPFS_R_GENERATE:
		rc = kp_pool_generate(fs->pool, n, 0);
		break;
	case KPFS_R_CLEANUP:
		rc = cleanup(fs);
		break;
	case KPFS_R_FLUSH:
		/* the batch's commit, the scrub it owes, what expired since */
		if ((rc = kp_pool_expire(fs->pool, &r)) != KP_OK)
			kpfs_log(LOG_ERR, "flush: %s", kp_errmsg(fs->pool));
		return rc;
	}
	if (rc != KP_OK && !(what == KPFS_R_PERIODIC && rc == KP_ENET))
		kpfs_log(LOG_NOTICE, "%s: %s", pass_name(what),
		    kp_errmsg(fs->pool));
	if (rc == KP_OK && fs->server != NULL && (what == KPFS_R_PERIODIC ||
	    what == KPFS_R_REFRESH || what == KPFS_R_SYNC))
		devices(fs);
	return rc;
}

/* Seconds between refreshes: -o refresh, else the config; 0: never. */
static int64_t
interval(struct kpfs *fs)
{
	struct kp_policy	pol;

	if (fs->refresh >= 0)
		return fs->refresh;
	if (kp_pool_policy_get(fs->pool, &pol) != KP_OK)
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
 * What to run next: a request, the periodic pass when its time came, or
 * the flush; 0 after waiting for one of them (the caller asks again).
 * rlock held.
 */
static int
next_pass(struct kpfs *fs, const struct timespec *last, int first)
{
	struct timespec	next, ts;
	int64_t		every;

	if (fs->rwant != 0)
		return fs->rwant;
	pthread_mutex_unlock(&fs->rlock);
	/* the interval may change in config: from the last pass */
	every = interval(fs);
	next = *last;
	if (!first)	/* a first pass at once */
		next.tv_sec += every;
	pthread_mutex_lock(&fs->rlock);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	/* a request that came while rlock was free goes first */
	if (fs->rstop || fs->rwant != 0)
		return 0;
	if (every > 0 && reached(&ts, &next))
		return KPFS_R_PERIODIC;
	if (fs->flush_due && reached(&ts, &fs->flush_at))
		return KPFS_R_FLUSH;
	if (fs->flush_due && (every == 0 || !reached(&fs->flush_at, &next)))
		next = fs->flush_at;
	else if (every == 0) {
		pthread_cond_wait(&fs->rcond, &fs->rlock);
		return 0;
	}
	pthread_cond_timedwait(&fs->rcond, &fs->rlock, &next);
	return 0;
}

/* verb: the ctl verb of request what, as status names it. */
static const char *
verb(int what)
{
	switch (what) {
	case KPFS_R_SYNC:
		return "sync";
	case KPFS_R_REFRESH:
		return "refresh";
	case KPFS_R_GENERATE:
		return "generate";
	case KPFS_R_CLEANUP:
		return "cleanup";
	case KPFS_R_ROTATE:
		return "rotate";
	}
	return "ctl";
}

static void *
loop(void *arg)
{
	struct kpfs	*fs = arg;
	struct timespec	 last;
	uint64_t	 gen;
	uint32_t	 n;
	int		 what, rc, first = 1;

	clock_gettime(CLOCK_MONOTONIC, &last);
	pthread_mutex_lock(&fs->rlock);
	while (!fs->rstop) {
		if ((what = next_pass(fs, &last, first)) == 0)
			continue;
		/* only a request's pass answers it (and clears it) */
		gen = 0;
		n = 0;
		if (what == KPFS_R_FLUSH)
			fs->flush_due = 0;
		else if (what != KPFS_R_PERIODIC) {
			gen = fs->rreq;
			n = fs->rgen;
			fs->rwant = 0;
		}
		pthread_mutex_unlock(&fs->rlock);
		rc = run(fs, what, n);
		/* a ctl verb refused: its reason, this thread's, in status */
		if (gen != 0 && rc != KP_OK)
			kpfs_refused(fs, verb(what), NULL, -1, -1,
			    kpfs_errno(rc));
		if (what != KPFS_R_FLUSH)
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
	sigset_t	block, old;
	int		rc;

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
	int	started;

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
}

void
kpfs_refresh_wake(struct kpfs *fs)
{
	pthread_mutex_lock(&fs->rlock);
	pthread_cond_broadcast(&fs->rcond);
	pthread_mutex_unlock(&fs->rlock);
}

void
kpfs_flush_soon(struct kpfs *fs)
{
	struct timespec	ts;

	pthread_mutex_lock(&fs->rlock);
	if (fs->rstarted && !fs->rstop && !fs->flush_due) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += (long)KPFS_FLUSH_DELAY_MS % 1000 * 1000000L;
		ts.tv_sec += KPFS_FLUSH_DELAY_MS / 1000 +
		    ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		fs->flush_at = ts;
		fs->flush_due = 1;
		pthread_cond_broadcast(&fs->rcond);
	}
	pthread_mutex_unlock(&fs->rlock);
}

int
kpfs_refresh_request(struct kpfs *fs, int what, uint32_t n)
{
	uint64_t	gen;
	int		rc;

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
