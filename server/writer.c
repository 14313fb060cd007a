/* SPDX-License-Identifier: ISC */
/*
 * writer.c: the one writer thread.  Request threads queue jobs and
 * wait; the writer takes every queued job, runs them in one
 * transaction (each op atomic in its savepoint), commits once and wakes
 * their threads: group commit.  A job remembers the nonce of its
 * request's signature in the same transaction, before its change.  A
 * checkpointer thread moves the WAL into the database off the request
 * path.  Reads do not come here:
 * each request thread has its own connection (readers.c).
 */

#include <errno.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kps.h"
#include "kpool-httpsig.h"

static pthread_mutex_t	 lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 work = PTHREAD_COND_INITIALIZER;	/* lock */
static pthread_cond_t	 tick = PTHREAD_COND_INITIALIZER;	/* lock */
static struct kps_job	*head, *tail;		/* lock */
static int		 stopping;		/* lock */
static pthread_t	 writer_thr, ckpt_thr;	/* main thread: start, stop */
static struct kps_store	*wdb;			/* writer thread only */
static struct kps_store	*cdb;			/* checkpointer only */

static void
run_one(struct kps_job *j, int64_t now)
{
	size_t	i;
	int	rc;

	j->now = now;
	if (j->sig != NULL && (rc = kps_nonce_add(wdb, j->sig->keyid,
	    j->sig->nonce, j->sig->created)) != KP_OK) {
		/* a replay (or a failure): the job does nothing */
		j->rc = rc == KP_EEXIST ? KP_EAUTH : rc;
		for (i = 0; j->kind == KPS_JOB_SAVE && i < j->nkeys; i++)
			j->rcs[i] = j->rc;
		return;
	}
	switch (j->kind) {
	case KPS_JOB_NONCE:
		j->rc = KP_OK;
		break;
	case KPS_JOB_DEVICE_ADD:
		j->rc = kps_device_add(wdb, j->caller, j->device, j->pk,
		    j->mode, now);
		break;
	case KPS_JOB_DEVICE_REMOVE:
		j->rc = kps_device_remove(wdb, j->caller, j->device, now,
		    &j->count);
		break;
	case KPS_JOB_SAVE:
		for (i = 0; i < j->nkeys; i++) {
			j->keys[i].uploaded_at = now;
			j->rcs[i] = kps_key_save(wdb, &j->keys[i]);
		}
		j->rc = KP_OK;
		break;
	case KPS_JOB_RESERVE:
		j->reserve.now = now;
		j->rc = kps_reserve(wdb, &j->reserve, &j->res);
		break;
	case KPS_JOB_CLAIM:
		j->reserve.now = now;
		j->rc = kps_claim(wdb, &j->reserve, j->claim);
		break;
	case KPS_JOB_SPEND:
		j->rc = kps_spend(wdb, j->caller, j->ref, j->group_id,
		    j->group_id_len, now);
		break;
	case KPS_JOB_RELEASE:
		j->rc = kps_release(wdb, j->caller, j->ref, now);
		break;
	case KPS_JOB_RETIRE:
		j->rc = kps_retire(wdb, j->caller, j->ref, now);
		break;
	}
}

/* fail: mark the jobs from first up to (not including) stop failed. */
static void
fail(struct kps_job *first, struct kps_job *stop)
{
	struct kps_job	*j;
	size_t		 i;

	for (j = first; j != stop; j = j->next) {
		if (j->kind == KPS_JOB_RESERVE)
			kps_reservation_clear(&j->res);
		if (j->kind == KPS_JOB_CLAIM)
			kps_claim_clear(j->claim);
		j->rc = KP_EDB;
		for (i = 0; j->kind == KPS_JOB_SAVE && i < j->nkeys; i++)
			j->rcs[i] = KP_EDB;
	}
}

/*
 * prune: forget the nonces of signatures that are stale by now, a few
 * at a time when writes wait (the batch is on their path), more when
 * the writer is idle.
 */
static void
prune(int busy)
{
	uint64_t	n;

	if (kps_nonce_prune(wdb, kps_real_now() - KP_HTTPSIG_WINDOW,
	    busy ? 256 : 8192, &n) == KP_OK && n > 0)
		kps_metric_add("nonces_pruned", (int64_t)n);
}

static void *
writer_main(void *arg)
{
	struct kps_job	*list, *j, *next, *async, *first;
	struct timespec	 ts;
	int64_t		 now, last_cleanup = 0;
	uint64_t	 n;
	int		 stop, open;

	for (;;) {
		pthread_mutex_lock(&lock);
		while (head == NULL && !stopping) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			if (pthread_cond_timedwait(&work, &lock, &ts) ==
			    ETIMEDOUT)
				break;
		}
		list = head;
		head = tail = NULL;
		stop = stopping;
		pthread_mutex_unlock(&lock);
		if (list == NULL && stop)
			break;

		now = kps_now();
		if (kps_store_begin(wdb) != KP_OK) {
			fail(list, NULL);
			goto wake;
		}
		first = list;
		/* reservations whose TTL passed end first, in the batch */
		if (kps_release_expired_reservations(wdb, now, &n) == KP_OK &&
		    n > 0)
			kps_metric_add("reservations_expired", n);
		prune(list != NULL);
		if (now - last_cleanup >= 60 || now < last_cleanup) {
			if (kps_cleanup_expired(wdb, now,
			    kps_conf.expired_retention, &n) == KP_OK && n > 0)
				kps_metric_add("keys_cleaned_up", n);
			last_cleanup = now;
		}
		if (!kps_store_in_batch(wdb)) {
			/* rolled back in the housekeeping: start over */
			(void)kps_store_rollback(wdb);
			if (kps_store_begin(wdb) != KP_OK) {
				fail(list, NULL);
				goto wake;
			}
		}
		open = 1;
		n = 0;
		for (j = list; j != NULL; j = j->next, n++) {
			run_one(j, now);
			if (kps_store_in_batch(wdb))
				continue;
			/*
			 * SQLite rolled the transaction back on its own:
			 * every job since first is undone.  Fail them and go
			 * on with the rest in a new transaction.
			 */
			fprintf(stderr, "kpool-server: the writer's "
			    "transaction was rolled back: %s\n",
			    kps_store_errmsg(wdb));
			kps_metric_add("writer_rollbacks", 1);
			fail(first, j->next);
			(void)kps_store_rollback(wdb);
			first = j->next;
			if (kps_store_begin(wdb) != KP_OK) {
				fail(first, NULL);
				open = 0;
				break;
			}
		}
		kps_metric_add("writer_batches", 1);
		kps_metric_add("writer_jobs", n);
		if (open && kps_store_commit(wdb) != KP_OK) {
			fprintf(stderr, "kpool-server: commit: %s\n",
			    kps_store_errmsg(wdb));
			(void)kps_store_rollback(wdb);
			fail(first, NULL);
		}
wake:
		if (list == NULL)
			continue;
		/*
		 * A job belongs to its request again once done (sync) or
		 * woken (async): read next first, touch it no more after.
		 */
		async = NULL;
		pthread_mutex_lock(&lock);
		for (j = list; j != NULL; j = next) {
			next = j->next;
			kps_metric_add("writes_waiting", -1);
			if (j->wake != NULL) {
				j->next = async;
				async = j;
				continue;
			}
			j->done = 1;
			pthread_cond_signal(&j->cv);
		}
		pthread_mutex_unlock(&lock);
		for (j = async; j != NULL; j = next) {
			next = j->next;
			j->wake(j->wake_arg);
		}
	}
	return NULL;
}

static void *
ckpt_main(void *arg)
{
	struct timespec	ts;
	int		stop = 0;

	/* checkpoints yield the CPU to requests (Linux: per-thread nice) */
	(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);

	while (!stop) {
		pthread_mutex_lock(&lock);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 250 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (!stopping)
			pthread_cond_timedwait(&tick, &lock, &ts);
		stop = stopping;
		pthread_mutex_unlock(&lock);
		(void)kps_store_checkpoint(cdb);
	}
	return NULL;
}

int
kps_writer_start(const char *db, char *err, size_t errlen)
{
	struct kps_store_conf	conf = { 0 };
	int			rc;

	conf.burn = kps_conf.burn;
	conf.manual_checkpoint = 1;
	if ((rc = kps_store_open(db, &conf, &wdb)) != KP_OK) {
		snprintf(err, errlen, "%s: %s", db, wdb ?
		    kps_store_errmsg(wdb) : kp_strerror(rc));
		kps_store_close(wdb);
		wdb = NULL;
		return rc;
	}
	if ((rc = kps_store_open(db, &conf, &cdb)) != KP_OK) {
		snprintf(err, errlen, "%s: %s", db, cdb ?
		    kps_store_errmsg(cdb) : kp_strerror(rc));
		kps_store_close(cdb);
		kps_store_close(wdb);
		cdb = wdb = NULL;
		return rc;
	}
	if (pthread_create(&writer_thr, NULL, writer_main, NULL) != 0 ||
	    pthread_create(&ckpt_thr, NULL, ckpt_main, NULL) != 0) {
		snprintf(err, errlen, "cannot start the writer threads");
		return KP_ENOMEM;
	}
	return KP_OK;
}

/* enqueue: put j at the tail of the queue and wake the writer (lock). */
static void
enqueue(struct kps_job *j)
{
	j->done = 0;
	j->next = NULL;
	if (tail != NULL)
		tail->next = j;
	else
		head = j;
	tail = j;
	kps_metric_add("writes_waiting", 1);
	pthread_cond_signal(&work);
}

void
kps_writer_submit(struct kps_job *j)
{
	pthread_mutex_lock(&lock);
	enqueue(j);
	pthread_mutex_unlock(&lock);
}

/* forget: the wake of a job of kps_writer_remember(): free it. */
static void
forget(void *arg)
{
	free(arg);
}

int
kps_writer_remember(const struct kps_sig *sig)
{
	struct {
		struct kps_job	j;
		struct kps_sig	sig;
	} *m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return KP_ENOMEM;
	m->sig = *sig;
	m->j.kind = KPS_JOB_NONCE;
	m->j.sig = &m->sig;
	m->j.wake = forget;
	m->j.wake_arg = m;
	kps_writer_submit(&m->j);
	return KP_OK;
}

void
kps_writer_run(struct kps_job *j)
{
	j->wake = NULL;
	pthread_cond_init(&j->cv, NULL);
	pthread_mutex_lock(&lock);
	enqueue(j);
	while (!j->done)
		pthread_cond_wait(&j->cv, &lock);
	pthread_mutex_unlock(&lock);
	pthread_cond_destroy(&j->cv);
}

void
kps_writer_stop(void)
{
	pthread_mutex_lock(&lock);
	stopping = 1;
	pthread_cond_broadcast(&work);
	pthread_cond_broadcast(&tick);
	pthread_mutex_unlock(&lock);
	pthread_join(writer_thr, NULL);
	pthread_join(ckpt_thr, NULL);
	(void)kps_store_checkpoint(wdb);
	kps_store_close(cdb);
	kps_store_close(wdb);
	cdb = wdb = NULL;
}
