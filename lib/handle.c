/* SPDX-License-Identifier: ISC */
/*
 * handle.c: what makes a pool handle safe to share between threads:
 * its two locks (pool.h says which guards what) and the message of each
 * thread's last call (kp_errmsg).
 *
 * Each thread keeps, per handle it used lately, a small record: the
 * message of its current call.  Records are found by
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

#include "kpool.h"
#include "pool.h"
#include "store.h"

#define NTHREAD_HANDLES	16

/* One thread's record for one handle. */
struct tcall {
	struct tcall	*next;		/* the thread's, last used first */
	const void	*handle;
	char		 msg[KP_ERRLEN];
};

static pthread_once_t	once = PTHREAD_ONCE_INIT;
static pthread_key_t	tkey;
static int		tkey_ok;
/* the record of last resort, when no other can be had */
static _Thread_local struct tcall spare;

static void
tcall_free(struct tcall *t)
{
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
	if (spare.handle == p)
		memset(&spare, 0, sizeof(spare));
}

void
kp_pool_begin(struct kp_pool *p)
{
	tcall(p)->msg[0] = '\0';
}

void
kp_pool_lock(struct kp_pool *p)
{
	pthread_mutex_lock(&p->slock);
	kp_store_errbuf(p->st, kp_pool_msg(p), KP_ERRLEN);
}

void
kp_pool_unlock(struct kp_pool *p)
{
	pthread_mutex_unlock(&p->slock);
}

int
kp_pool_end(struct kp_pool *p, int rc)
{
	(void)p;
	return rc;
}
