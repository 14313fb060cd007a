/* SPDX-License-Identifier: ISC */
/*
 * handle.c: what makes a pool handle safe to share between threads:
 * its two locks (pool.h says which guards what), the message of each
 * thread's last call (kp_errmsg), and the changes each call committed,
 * reported to the observer when the call ends; and the handle's clock.
 *
 * Each thread keeps, per handle it used lately, a small record: the
 * message and the changes of its current call.  Records are found by
 * the handle's address alone, so that kp_errmsg() never reads a handle
 * (a caller may ask before the open that fills the pointer); a new
 * handle at the address of a closed one starts its first call with a
 * clean record.  A thread keeps the records of the NTHREAD_HANDLES
 * handles it used last, and frees them when it exits.
 */

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kpool.h"
#include "pool.h"
#include "store.h"

#define NTHREAD_HANDLES	16

/* One thread's record for one handle. */
struct tcall {
	struct tcall	*next;		/* the thread's, last used first */
	const void	*handle;
	char		 msg[KP_ERRLEN];
	char		 code[KP_MAX_ERRCODE + 1];	/* the server's */
	struct kp_change *changes;	/* committed by the current call */
	size_t		 n, cap;
	int		 all;		/* any key may have changed */
};

static pthread_once_t	once = PTHREAD_ONCE_INIT;
static pthread_key_t	tkey;
static int		tkey_ok;
/* the record of last resort, when no other can be had */
static _Thread_local struct tcall spare;

static void
tcall_free(struct tcall *t)
{
	free(t->changes);
	free(t);
}

/* At a thread's exit: its records. */
static void
thread_exit(void *arg)
{
	struct tcall	*t = arg, *next;

	for (; t != NULL; t = next) {
		next = t->next;
		tcall_free(t);
	}
}

static void
make_key(void)
{
	tkey_ok = pthread_key_create(&tkey, thread_exit) == 0;
}

/* Out of memory: the spare record serves p. */
static struct tcall *
use_spare(const struct kp_pool *p)
{
	if (spare.handle != p) {
		free(spare.changes);
		memset(&spare, 0, sizeof(spare));
		spare.handle = p;
	}
	return &spare;
}

/* This thread's record for p, made when there is none. */
static struct tcall *
tcall(const struct kp_pool *p)
{
	struct tcall	*head, *t, *prev = NULL;
	size_t		 n = 0;

	(void)pthread_once(&once, make_key);
	head = tkey_ok ? pthread_getspecific(tkey) : NULL;
	for (t = head; t != NULL; prev = t, t = t->next, n++) {
		if (t->handle != p)
			continue;
		if (prev != NULL) {		/* to the front */
			prev->next = t->next;
			t->next = head;
			(void)pthread_setspecific(tkey, t);
		}
		return t;
	}
	if (n >= NTHREAD_HANDLES) {	/* forget the one used least lately */
		for (t = head; t->next->next != NULL; t = t->next)
			;
		tcall_free(t->next);
		t->next = NULL;
	}
	if (!tkey_ok || (t = calloc(1, sizeof(*t))) == NULL)
		return use_spare(p);
	t->handle = p;
	t->next = head;
	if (pthread_setspecific(tkey, t) != 0) {
		tcall_free(t);
		return use_spare(p);
	}
	return t;
}

char *
kp_pool_msg(const struct kp_pool *p)
{
	return tcall(p)->msg;
}

/*
 * kp_errmsg: the detail of the last call this thread made on p; never a
 * secret.
 */
const char *
kp_errmsg(const struct kp_pool *p)
{
	if (p == NULL)
		return "out of memory";
	return kp_pool_msg(p);
}

/* kp_errcode: the server's error code of this thread's last call on p. */
const char *
kp_errcode(const struct kp_pool *p)
{
	if (p == NULL)
		return "";
	return tcall(p)->code;
}

void
kp_pool_set_code(struct kp_pool *p, const char *code)
{
	(void)snprintf(tcall(p)->code, sizeof(tcall(p)->code), "%s",
	    code != NULL ? code : "");
}

int
kp_pool_err(struct kp_pool *p, int rc, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	(void)vsnprintf(kp_pool_msg(p), KP_ERRLEN, fmt, ap);
	va_end(ap);
	return rc;
}

void
kp_pool_locks_init(struct kp_pool *p)
{
	pthread_mutex_init(&p->slock, NULL);
	pthread_mutex_init(&p->nlock, NULL);
}

void
kp_pool_locks_fini(struct kp_pool *p)
{
	pthread_mutex_destroy(&p->slock);
	pthread_mutex_destroy(&p->nlock);
}

void
kp_pool_forget(const struct kp_pool *p)
{
	struct tcall	*head, *t, *prev = NULL;

	(void)pthread_once(&once, make_key);
	head = tkey_ok ? pthread_getspecific(tkey) : NULL;
	for (t = head; t != NULL; prev = t, t = t->next) {
		if (t->handle != p)
			continue;
		if (prev != NULL)
			prev->next = t->next;
		else
			(void)pthread_setspecific(tkey, t->next);
		tcall_free(t);
		return;
	}
	if (spare.handle == p) {
		free(spare.changes);
		memset(&spare, 0, sizeof(spare));
	}
}

void
kp_pool_begin(struct kp_pool *p)
{
	struct tcall	*t = tcall(p);

	t->msg[0] = '\0';
	t->code[0] = '\0';
	t->n = 0;
	t->all = 0;
}

void
kp_pool_lock_read(struct kp_pool *p)
{
	pthread_mutex_lock(&p->slock);
	kp_store_errbuf(p->st, kp_pool_msg(p), KP_ERRLEN);
}

void
kp_pool_lock(struct kp_pool *p)
{
	kp_pool_lock_read(p);
	/* a failure keeps the moves in the journal; its message stays */
	(void)kp_store_settle(p->st);
}

void
kp_pool_unlock(struct kp_pool *p)
{
	struct tcall		*t = tcall(p);
	struct kp_change	*c, *nc;
	size_t			 n, cap;
	int			 lost;

	kp_store_changes(p->st, &c, &n, &lost);
	t->all |= lost;
	if (n > 0 && t->n == 0 && t->cap == 0) {
		t->changes = c;		/* the first of the call: take it */
		t->n = t->cap = n;
		c = NULL;
	} else if (n > 0) {
		if (t->n + n > t->cap) {
			cap = t->n + n;
			if ((nc = reallocarray(t->changes, cap,
			    sizeof(*nc))) == NULL) {
				t->all = 1;
				goto out;
			}
			t->changes = nc;
			t->cap = cap;
		}
		memcpy(t->changes + t->n, c, n * sizeof(*c));
		t->n += n;
	}
out:
	free(c);
	pthread_mutex_unlock(&p->slock);
}

void
kp_pool_others(struct kp_pool *p)
{
	int64_t	v;

	if (kp_store_data_version(p->st, &v) == KP_OK &&
	    v != p->data_version) {
		p->data_version = v;
		tcall(p)->all = 1;
	}
}

int
kp_pool_end(struct kp_pool *p, int rc)
{
	struct tcall		*t = tcall(p);
	struct kp_change	*c;
	struct kp_change_info	 ci;
	void			(*fn)(void *, const uint8_t *, int, int);
	void			(*wfn)(void *, const struct kp_change_info *);
	void			*arg, *warg;
	size_t			 n, i;
	int			 all;

	if (t->n == 0 && !t->all)
		return rc;
	c = t->changes;
	n = t->n;
	all = t->all;
	t->changes = NULL;
	t->n = t->cap = 0;
	t->all = 0;
	pthread_mutex_lock(&p->slock);
	fn = p->observer;
	arg = p->observer_arg;
	wfn = p->watcher;
	warg = p->watcher_arg;
	pthread_mutex_unlock(&p->slock);
	memset(&ci, 0, sizeof(ci));
	ci.from = ci.to = -1;
	ci.by = "";
	if (all) {
		if (fn != NULL)
			fn(arg, NULL, -1, -1);
		if (wfn != NULL)
			wfn(warg, &ci);
	}
	for (i = 0; i < n && !all; i++) {
		if (fn != NULL)
			fn(arg, c[i].ref, c[i].from, c[i].to);
		ci.ref = c[i].ref;
		ci.from = c[i].from;
		ci.to = c[i].to;
		ci.by = c[i].by;
		if (wfn != NULL)
			wfn(warg, &ci);
	}
	free(c);
	return rc;
}

/* kp_pool_set_watcher: who hears of the changes, with who made them. */
void
kp_pool_set_watcher(struct kp_pool *p,
    void (*fn)(void *arg, const struct kp_change_info *c), void *arg)
{
	pthread_mutex_lock(&p->slock);
	p->watcher = fn;
	p->watcher_arg = arg;
	pthread_mutex_unlock(&p->slock);
}

static int64_t
real_now(void *arg)
{
	(void)arg;
	return (int64_t)time(NULL);
}

/* kp_pool_set_clock: the clock for lifetimes and expiry (NULL: real). */
void
kp_pool_set_clock(struct kp_pool *p, int64_t (*now)(void *), void *arg)
{
	p->now = now != NULL ? now : real_now;
	p->now_arg = now != NULL ? arg : NULL;
}

/* kp_pool_now: the pool clock, unix seconds. */
int64_t
kp_pool_now(const struct kp_pool *p)
{
	return p->now(p->now_arg);
}
