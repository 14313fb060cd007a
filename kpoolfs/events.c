/* SPDX-License-Identifier: ISC */
/*
 * events.c: what scripts wait on and look at after a failure: the
 * events file and the last refused operation.
 *
 * The pool's watcher (kpfs_events_watch) hears of every change, after
 * its commit; the cache drops the key first (kpfs_cache_changed), then
 * the change goes into a ring of the last KPFS_EVENTS_MAX, numbered, and
 * blocked readers and poll(2)s wake.  Each open of events has its own
 * position: it reads the changes made after its open, one line each,
 *
 *	TIME REF FROM TO [BY]
 *
 * TIME RFC 3339 UTC with nanoseconds, FROM and TO state names ("none"
 * for a new or a deleted key), BY the principal that holds the key now
 * (the reserver, the spender) when known.  Two lines say something
 * else, with "*" for REF: "TIME * any any" (another process changed the
 * store: any key may have changed) and "TIME * lost N" (the reader fell
 * more than KPFS_EVENTS_MAX changes behind: N are lost; it goes on with
 * the oldest kept).  Either way, rescan the tree.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "kpoolfs.h"

#include <fuse_lowlevel.h>

/* How long a blocked read sleeps before it looks at its interrupt. */
#define WAIT_MS		100
/* Longest line: a time, a ref, two states, a principal. */
#define LINE_MAX_EV	(40 + 2 * KP_REF_LEN + 2 * 16 + KP_MAX_PRINCIPAL + 8)

int
kpfs_events_init(struct kpfs *fs)
{
	pthread_condattr_t	ca;

	if ((fs->ev = calloc(KPFS_EVENTS_MAX, sizeof(*fs->ev))) == NULL)
		return KP_ENOMEM;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&fs->econd, &ca);
	pthread_condattr_destroy(&ca);
	return KP_OK;
}

void
kpfs_events_fini(struct kpfs *fs)
{
	if (fs->ev == NULL)
		return;
	free(fs->ev);
	fs->ev = NULL;
	pthread_cond_destroy(&fs->econd);
}

/* The oldest change kept.  lock. */
static uint64_t
oldest(struct kpfs *fs)
{
	return fs->eseq > KPFS_EVENTS_MAX ? fs->eseq - KPFS_EVENTS_MAX : 0;
}

/* A state's name in a line. */
static const char *
state_word(int s)
{
	return s < 0 || kp_state_name(s) == NULL ? "none" : kp_state_name(s);
}

/* The line of change e into buf; its length. */
static size_t
render(const struct kpfs_event *e, char *buf, size_t cap)
{
	char	t[40], hex[2 * KP_REF_LEN + 1];
	int	n;

	kpfs_rfc3339_ns(e->t, t, sizeof(t));
	if (e->any)
		n = snprintf(buf, cap, "%s * any any\n", t);
	else {
		kp_hex(e->ref, KP_REF_LEN, hex);
		n = snprintf(buf, cap, "%s %s %s %s%s%s\n", t, hex,
		    state_word(e->from), state_word(e->to),
		    e->by[0] != '\0' ? " " : "", e->by);
	}
	return n < 0 ? 0 : (size_t)n >= cap ? cap - 1 : (size_t)n;
}

/*
 * The next line fh has to read into buf, and fh moves past it; 0 when
 * there is none.  lock.
 */
static size_t
next_line(struct kpfs *fs, struct kpfs_fh *fh, char *buf, size_t cap)
{
	char	t[40];
	int	n;

	if (fh->epos >= fs->eseq)
		return 0;
	if (fh->epos < oldest(fs)) {
		kpfs_rfc3339_ns(kpfs_now_ns(fs), t, sizeof(t));
		n = snprintf(buf, cap, "%s * lost %" PRIu64 "\n", t,
		    oldest(fs) - fh->epos);
		fh->epos = oldest(fs);
		return n < 0 ? 0 : (size_t)n;
	}
	return render(&fs->ev[fh->epos++ % KPFS_EVENTS_MAX], buf, cap);
}

/*
 * Copy what fh has to read into buf (size): the rest of a line begun,
 * then whole lines while they fit; a line that does not fit a read
 * that has nothing yet goes in parts.  Its length.  lock.
 */
static size_t
take(struct kpfs *fs, struct kpfs_fh *fh, char *buf, size_t size)
{
	char	line[LINE_MAX_EV];
	size_t	got = 0, n;

	for (;;) {
		if (fh->eoff < fh->len) {
			n = fh->len - fh->eoff;
			if (n > size - got) {
				if (got > 0)
					break;
				n = size - got;
			}
			memcpy(buf + got, fh->buf + fh->eoff, n);
			fh->eoff += n;
			got += n;
			if (got == size)
				break;
			continue;
		}
		if ((n = next_line(fs, fh, line, sizeof(line))) == 0)
			break;
		/* fh->buf holds LINE_MAX_EV bytes (kpfs_events_open) */
		memcpy(fh->buf, line, n);
		fh->len = n;
		fh->eoff = 0;
	}
	return got;
}

/* fh has something to read.  lock. */
static int
pending(struct kpfs *fs, struct kpfs_fh *fh)
{
	return fh->eoff < fh->len || fh->epos < fs->eseq;
}

int
kpfs_events_open(struct kpfs *fs, struct kpfs_fh *fh)
{
	int	rc = 0;

	pthread_mutex_lock(&fs->lock);
	if (fs->eopen >= KPFS_EVENTS_OPEN)
		rc = -EMFILE;
	else {
		fs->eopen++;
		fh->epos = fs->eseq;
	}
	pthread_mutex_unlock(&fs->lock);
	return rc;
}

void
kpfs_events_close(struct kpfs *fs)
{
	pthread_mutex_lock(&fs->lock);
	fs->eopen--;
	pthread_mutex_unlock(&fs->lock);
}

int
kpfs_events_read(struct kpfs *fs, struct kpfs_fh *fh, char *buf, size_t size,
    int nonblock)
{
	struct fuse_session	*se = fuse_get_session(fs->fuse);
	struct timespec		 ts;
	size_t			 got = 0;

	if (size == 0)
		return 0;
	pthread_mutex_lock(&fs->lock);
	if (fh->buf == NULL &&
	    (fh->buf = malloc(LINE_MAX_EV)) == NULL) {
		pthread_mutex_unlock(&fs->lock);
		return -ENOMEM;
	}
	while ((got = take(fs, fh, buf, size)) == 0) {
		/* with one thread a blocked read would stop the mount */
		if (nonblock || fs->singlethread) {
			pthread_mutex_unlock(&fs->lock);
			return -EAGAIN;
		}
		/* a signal to the reader, or the end of the mount */
		if (fuse_interrupted()) {
			pthread_mutex_unlock(&fs->lock);
			return -EINTR;
		}
		if (fuse_session_exited(se))
			break;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += WAIT_MS * 1000000L;
		if (ts.tv_nsec >= KPFS_NS) {
			ts.tv_sec++;
			ts.tv_nsec -= KPFS_NS;
		}
		(void)pthread_cond_timedwait(&fs->econd, &fs->lock, &ts);
	}
	pthread_mutex_unlock(&fs->lock);
	return (int)got;
}

int
kpfs_events_poll(const char *path, struct fuse_file_info *fi,
    struct fuse_pollhandle *ph, unsigned *reventsp)
{
	struct kpfs	*fs = fuse_get_context()->private_data;
	struct kpfs_fh	*fh = (struct kpfs_fh *)(uintptr_t)fi->fh;
	struct fuse_pollhandle *old = NULL;

	if (fh == NULL || fh->kind != KPFS_ROOTFILE ||
	    fh->file != KPFS_F_EVENTS) {
		/* the other files are always ready */
		if (ph != NULL)
			fuse_pollhandle_destroy(ph);
		*reventsp = POLLIN | POLLOUT;
		return 0;
	}
	pthread_mutex_lock(&fs->lock);
	*reventsp = pending(fs, fh) ? POLLIN : 0;
	if (ph != NULL && *reventsp == 0) {
		old = fh->ph;		/* the kernel's newest wins */
		fh->ph = ph;
		ph = NULL;
	}
	pthread_mutex_unlock(&fs->lock);
	if (old != NULL)
		fuse_pollhandle_destroy(old);
	if (ph != NULL)
		fuse_pollhandle_destroy(ph);
	return 0;
}

int64_t
kpfs_events_last(struct kpfs *fs)
{
	int64_t	t = 0;

	pthread_mutex_lock(&fs->lock);
	if (fs->eseq > 0)
		t = fs->ev[(fs->eseq - 1) % KPFS_EVENTS_MAX].t;
	pthread_mutex_unlock(&fs->lock);
	return t;
}

/* The poll handles of the events readers, taken from them.  lock. */
static size_t
take_polls(struct kpfs *fs, struct fuse_pollhandle ***out)
{
	struct kpfs_handle	 *h;
	struct kpfs_fh		 *fh;
	struct fuse_pollhandle	**v = NULL, **nv;
	size_t			  n = 0;

	LIST_FOREACH(h, &fs->handles, link) {
		fh = (struct kpfs_fh *)h;
		if (h->dir || fh->kind != KPFS_ROOTFILE ||
		    fh->file != KPFS_F_EVENTS || fh->ph == NULL)
			continue;
		if ((nv = reallocarray(v, n + 1, sizeof(*v))) == NULL)
			break;		/* the rest wake at their next poll */
		v = nv;
		v[n++] = fh->ph;
		fh->ph = NULL;
	}
	*out = v;
	return n;
}

void
kpfs_events_watch(void *arg, const struct kp_change_info *c)
{
	struct kpfs		 *fs = arg;
	struct kpfs_event	 *e;
	struct fuse_pollhandle	**ph = NULL;
	int64_t			  t;
	size_t			  i, n;

	kpfs_cache_changed(fs, c->ref, c->from, c->to);
	t = kpfs_now_ns(fs);
	pthread_mutex_lock(&fs->lock);
	e = &fs->ev[fs->eseq % KPFS_EVENTS_MAX];
	memset(e, 0, sizeof(*e));
	/* in order, even two in one tick of the clock */
	if (fs->eseq > 0 && t <= fs->ev[(fs->eseq - 1) % KPFS_EVENTS_MAX].t)
		t = fs->ev[(fs->eseq - 1) % KPFS_EVENTS_MAX].t + 1;
	e->t = t;
	e->any = c->ref == NULL;
	if (c->ref != NULL)
		memcpy(e->ref, c->ref, KP_REF_LEN);
	e->from = c->from;
	e->to = c->to;
	(void)snprintf(e->by, sizeof(e->by), "%s", c->by);
	fs->eseq++;
	pthread_cond_broadcast(&fs->econd);
	n = take_polls(fs, &ph);
	pthread_mutex_unlock(&fs->lock);
	for (i = 0; i < n; i++) {
		(void)fuse_notify_poll(ph[i]);
		fuse_pollhandle_destroy(ph[i]);
	}
	free(ph);
}

/*
 * utf8_clean: replace each byte of s that does not begin or continue a
 * well-formed UTF-8 sequence with '?' (a message cut in the middle of
 * a character, a path in another encoding), so that status.json takes
 * it.
 */
static void
utf8_clean(char *s)
{
	unsigned char	*p = (unsigned char *)s;
	size_t		 n, k;

	while (*p != '\0') {
		n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 && *p >= 0xc2 ? 2 :
		    (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 &&
		    *p <= 0xf4 ? 4 : 0;
		for (k = 1; k < n && (p[k] & 0xc0) == 0x80; k++)
			;
		/* overlong, surrogate and past U+10FFFF forms too */
		if (n == 0 || k < n || (p[0] == 0xe0 && p[1] < 0xa0) ||
		    (p[0] == 0xed && p[1] >= 0xa0) ||
		    (p[0] == 0xf0 && p[1] < 0x90) ||
		    (p[0] == 0xf4 && p[1] >= 0x90)) {
			*p++ = '?';
			continue;
		}
		p += n;
	}
}

void
kpfs_refused(struct kpfs *fs, const char *op, const char *ref, int from,
    int to, int err)
{
	struct kpfs_refusal	r;

	memset(&r, 0, sizeof(r));
	r.t = kpfs_now_ns(fs);
	(void)snprintf(r.op, sizeof(r.op), "%s", op);
	(void)snprintf(r.ref, sizeof(r.ref), "%s", ref != NULL ? ref : "");
	r.from = from;
	r.to = to;
	r.err = err;
	(void)snprintf(r.code, sizeof(r.code), "%s", kp_errcode(fs->pool));
	(void)snprintf(r.msg, sizeof(r.msg), "%s", kp_errmsg(fs->pool));
	if (r.msg[0] == '\0')	/* the call failed before asking the pool */
		(void)snprintf(r.msg, sizeof(r.msg), "%s", strerror(err));
	utf8_clean(r.msg);
	pthread_mutex_lock(&fs->lock);
	fs->refusal = r;
	pthread_mutex_unlock(&fs->lock);
	kpfs_invalidate_status(fs);
}

void
kpfs_refusal_get(struct kpfs *fs, struct kpfs_refusal *r)
{
	pthread_mutex_lock(&fs->lock);
	*r = fs->refusal;
	pthread_mutex_unlock(&fs->lock);
}
