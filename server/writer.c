/* SPDX-License-Identifier: ISC */
/*
 * writer.c: the one writer thread.  Request threads queue jobs and
 * wait; the writer takes every queued job, runs them in one
 * transaction (each op atomic in its savepoint), commits once and wakes
 * their threads: group commit.  A batch first remembers the nonces of
 * its requests' signatures, all at once and in its transaction, then
 * takes the rate limit's tokens of its reserves, all at once: a replay
 * does nothing (a signed request is carried out once, across restarts
 * and whichever instance of a shared database sees it), and a reserve
 * without a token is refused.  A checkpointer thread does the store's
 * upkeep (SQLite: moves the WAL into the database) off the request
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

/* now_ms: the real time in milliseconds, which the rate buckets of
 * every instance share. */
static int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* limited: 1 when job j takes a token of the rate limit (a reserve or
 * a claim, when the limit is on). */
static int
limited(const struct kps_job *j)
{
	return (j->kind == KPS_JOB_RESERVE || j->kind == KPS_JOB_CLAIM) &&
	    j->rate;
}

static int	lock_budgets(struct kps_job *);

/*
 * recheck: the signed jobs from first on (at most n) whose device was
 * removed or given another key since their request was authenticated
 * (that read the key outside the writer's transaction), or by a job
 * before them in the batch, fail with KPS_EKEYGONE, and do nothing.
 */
static int
recheck(struct kps_job *first, size_t n)
{
	struct kps_keycheck	*v;
	struct kps_job		*j, **jobs;
	char			(*who)[2][KP_MAX_PRINCIPAL + 1];
	size_t			 i, k = 0;
	int			 rc = KP_ENOMEM;

	v = calloc(n, sizeof(*v));
	jobs = calloc(n, sizeof(*jobs));
	who = calloc(n, sizeof(*who));
	if (v == NULL || jobs == NULL || who == NULL)
		goto out;
	for (j = first; j != NULL; j = j->next)
		if (j->sig != NULL && j->sig->keyed && j->sig_rc == KP_OK &&
		    kp_principal_parse(j->sig->keyid, who[k][0],
		    who[k][1]) == KP_OK) {
			v[k].user = who[k][0];
			v[k].device = who[k][1];
			v[k].pk = j->sig->pk;
			jobs[k++] = j;
		}
	if ((rc = kps_device_check_many(wdb, v, k)) != KP_OK)
		goto out;
	for (i = 0; i < k; i++)
		if (v[i].rc != KP_OK)
			jobs[i]->sig_rc = KPS_EKEYGONE;
out:
	free(who);
	free(jobs);
	free(v);
	return rc;
}

/*
 * admit: what a batch asks first of its jobs from first on, at once
 * (one round trip each on PostgreSQL): the nonces of their signatures,
 * then a token of the rate limit for each reserve whose nonce was new,
 * from the bucket of (caller, target) by their folded names.  Each
 * job's sig_rc and wait say how it went (see ready).  KP_OK, or the
 * error that stopped it.
 */
static int
admit(struct kps_job *first)
{
	struct kps_nonce	*v = NULL;
	struct kps_take		*t = NULL;
	struct kps_job		*j;
	char			(*names)[2][KP_MAX_USERNAME + 1] = NULL;
	size_t			 n = 0, i, k;
	int			 rc = KP_ENOMEM;

	for (j = first; j != NULL; j = j->next) {
		n++;
		j->sig_rc = KP_OK;
		j->wait = 0;
	}
	if (n == 0)
		return KP_OK;
	if ((v = calloc(n, sizeof(*v))) == NULL ||
	    (t = calloc(n, sizeof(*t))) == NULL ||
	    (names = calloc(n, sizeof(*names))) == NULL)
		goto out;
	for (j = first, i = 0; j != NULL; j = j->next)
		if (j->sig != NULL) {
			v[i].keyid = j->sig->keyid;
			v[i].nonce = j->sig->nonce;
			v[i++].created = j->sig->created;
		}
	if ((rc = kps_nonce_add_many(wdb, v, i)) != KP_OK)
		goto out;
	for (j = first, i = 0; j != NULL; j = j->next)
		if (j->sig != NULL)
			j->sig_rc = v[i++].rc;
	if ((rc = recheck(first, n)) != KP_OK)
		goto out;
	for (j = first, k = 0; j != NULL; j = j->next) {
		if (!limited(j) || j->sig_rc != KP_OK)
			continue;
		/* the caller's user: its devices share one bucket */
		kps_principal_user(names[k][0], j->caller);
		kps_fold(names[k][1], j->reserve.target);
		t[k].kind = KPS_BUCKET_RESERVE;
		t[k].a = names[k][0];
		t[k].b = names[k][1];
		t[k].per_min = kps_conf.rate_per_min;
		t[k++].burst = kps_conf.rate_burst;
	}
	if ((rc = kps_rate_take(wdb, t, k, now_ms())) != KP_OK)
		goto out;
	for (j = first, k = 0; j != NULL; j = j->next)
		if (limited(j) && j->sig_rc == KP_OK)
			j->wait = t[k++].wait;
	rc = lock_budgets(first);
out:
	free(names);
	free(t);
	free(v);
	return rc;
}

/* budgeted: 1 when job j reserves keys of a user (the drain budget
 * may hold it back). */
static int
budgeted(const struct kps_job *j)
{
	return (j->kind == KPS_JOB_RESERVE || j->kind == KPS_JOB_CLAIM) &&
	    (j->sig == NULL || j->sig_rc == KP_OK);
}

/* counted: 1 when job j registers a user from an address (its count
 * is locked with the budgets). */
static int
counted(const struct kps_job *j)
{
	return j->kind == KPS_JOB_DEVICE_ADD && j->mode == KPS_DEV_REGISTER &&
	    j->addr != NULL && j->addr[0] != '\0' &&
	    (j->sig == NULL || j->sig_rc == KP_OK);
}

/*
 * lock_budgets: take the budget locks of the targets of the reserves
 * from first on, and of the addresses of its registrations (on a
 * shared database: until the batch commits), all at once in one
 * order, before any job of the batch checks one.
 */
static int
lock_budgets(struct kps_job *first)
{
	struct kps_job	 *j;
	const char	**v = NULL;
	char		(*names)[KP_MAX_PRINCIPAL + 1] = NULL;
	size_t		  n = 0, k = 0;
	int		  rc = KP_ENOMEM;

	for (j = first; j != NULL; j = j->next)
		n += budgeted(j) || counted(j);
	if (n == 0)
		return KP_OK;
	if ((v = calloc(n, sizeof(*v))) == NULL ||
	    (names = calloc(n, sizeof(*names))) == NULL)
		goto out;
	for (j = first; j != NULL; j = j->next)
		if (budgeted(j)) {
			kps_fold(names[k], j->reserve.target);
			v[k] = names[k];
			k++;
		} else if (counted(j))
			v[k++] = j->addr;
	rc = kps_budget_lock(wdb, v, k);
out:
	free(names);
	free(v);
	return rc;
}

void
kps_budget_conf(struct kps_budget *b)
{
	b->share = kps_conf.stranger_share;
	b->floor = kps_conf.contact_floor;
	b->cap = kps_conf.caller_cap;
	b->window = KPS_BUDGET_WINDOW;
	b->memo = NULL;
}

/*
 * ready: 1 when job j may do its work: its nonce was new (else
 * KP_EAUTH, a replay: the job does nothing), and a reserve got its
 * token (else KP_ERATE); else 0, with j's result set.
 */
static int
ready(struct kps_job *j, int64_t now)
{
	size_t	i;
	int	rc = KP_OK;

	j->now = now;
	if (j->sig != NULL && j->sig_rc != KP_OK)
		rc = j->sig_rc == KP_EEXIST ? KP_EAUTH : j->sig_rc;
	else if (limited(j) && j->wait > 0)
		rc = KP_ERATE;
	if (rc == KP_OK)
		return 1;
	j->rc = rc;
	for (i = 0; j->kind == KPS_JOB_SAVE && i < j->nkeys; i++)
		j->rcs[i] = rc;
	return 0;
}

/*
 * register_user: the registration of job j: refused (KPS_EREGRATE,
 * j->wait) when its address registered --register-rate users within
 * the hour, or (KPS_EINVITE) when its invitation has no use left;
 * else kps_device_add(), which takes an invitation's use and counts
 * for the address when it makes the user.
 */
static int
register_user(struct kps_job *j, int64_t now)
{
	uint64_t	n;
	int64_t		first, w;
	int		rc, rate = kps_conf.register_rate > 0 &&
			    j->addr != NULL && j->addr[0] != '\0';

	if (rate) {
		if ((rc = kps_reg_facts(wdb, j->addr, now - KPS_BUDGET_WINDOW,
		    &n, &first)) != KP_OK)
			return rc;
		if (n >= (uint64_t)kps_conf.register_rate) {
			w = first + KPS_BUDGET_WINDOW - now;
			j->wait = w < 1 ? 1 : (int)w;
			return KPS_EREGRATE;
		}
	}
	if (j->invite != NULL &&
	    (rc = kps_invite_take(wdb, j->invite, 0)) != KP_OK)
		return rc == KP_ENOTFOUND ? KPS_EINVITE : rc;
	if ((rc = kps_device_add(wdb, j->caller, j->device, j->pk, j->mode,
	    now)) != KP_OK) {
		/* the use is given back (else the batch fails anyway) */
		if (j->invite != NULL &&
		    kps_invite_take(wdb, j->invite, 1) != KP_OK)
			return KP_EDB;
		return rc;
	}
	return rate ? kps_reg_add(wdb, j->addr, now) : KP_OK;
}

/* run_one: the work of job j, which is ready (a reserve: see run). */
static void
run_one(struct kps_job *j, int64_t now)
{
	struct kps_budget	b;
	char			who[2][KP_MAX_PRINCIPAL + 1];
	size_t			i;

	switch (j->kind) {
	case KPS_JOB_NONCE:
		j->rc = KP_OK;
		break;
	case KPS_JOB_DEVICE_ADD:
		j->rc = j->mode == KPS_DEV_REGISTER ? register_user(j, now) :
		    kps_device_add(wdb, j->caller, j->device, j->pk, j->mode,
		    now);
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
	case KPS_JOB_RESERVE:	/* done by run */
		break;
	case KPS_JOB_CLAIM:
		j->reserve.now = now;
		kps_budget_conf(&b);
		b.memo = NULL;
		j->rc = kps_claim_budget(wdb, &j->reserve, &b, j->claim,
		    &j->wait);
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
	case KPS_JOB_CONTACT_ADD:
	case KPS_JOB_CONTACT_REMOVE:
		kps_fold(who[0], j->caller);
		kps_fold(who[1], j->device);
		j->rc = j->kind == KPS_JOB_CONTACT_ADD ? kps_contact_add(wdb,
		    who[0], who[1], KPS_CONTACT_VOUCH, now) :
		    kps_contact_remove(wdb, who[0], who[1]);
		break;
	}
}

/* A run of reserves the writer hands the store at once, at most. */
#define RUN_MAX	64
_Static_assert(RUN_MAX <= KPS_MEMO_MAX, "a run's targets fit its memo");

/*
 * run: do job j, or j and the reserves (and, under the drain budget,
 * claims) that follow it: at once (one round trip on PostgreSQL), or
 * under the budget one after the other with one look at each target's
 * budget; the last job done.
 */
static struct kps_job *
run(struct kps_job *j, int64_t now)
{
	const struct kps_reserve	*r[RUN_MAX];
	struct kps_reservation		*out[RUN_MAX];
	struct kps_job			*who[RUN_MAX], *last = j;
	int				 rc[RUN_MAX], wait[RUN_MAX];
	size_t				 n = 0, i;
	struct kps_budget		 b;
	struct kps_budget_memo		 memo;
	int				 budget;

	kps_budget_conf(&b);
	budget = b.share > 0 || b.floor > 0 || b.cap > 0;
	if (j->kind != KPS_JOB_RESERVE &&
	    !(budget && j->kind == KPS_JOB_CLAIM)) {
		if (ready(j, now))
			run_one(j, now);
		return j;
	}
	if (budget) {
		/*
		 * The run's reserves are decided against their budgets
		 * and made at once, its claims one at a time; the run's
		 * memo reads a target's grants and pool once.
		 */
		memo.n = 0;
		b.memo = &memo;
		if (j->kind == KPS_JOB_CLAIM) {
			/* each device's reserve reads the budget afresh: an
			 * admitted stranger that got no key would count */
			b.memo = NULL;
			if (ready(j, now)) {
				j->reserve.now = now;
				j->rc = kps_claim_budget(wdb, &j->reserve, &b,
				    j->claim, &j->wait);
			}
			return j;
		}
		for (; j != NULL && j->kind == KPS_JOB_RESERVE && n < RUN_MAX;
		    last = j, j = j->next) {
			if (!ready(j, now))
				continue;
			j->reserve.now = now;
			r[n] = &j->reserve;
			out[n] = &j->res;
			who[n++] = j;
		}
		if (n > 0 && kps_reserve_budget_many(wdb, r, &b, out, rc,
		    wait, n) != KP_OK) {
			/* reserves may stand without their grants */
			(void)kps_store_rollback(wdb);
			return last;
		}
		for (i = 0; i < n; i++) {
			who[i]->rc = rc[i];
			who[i]->wait = wait[i];
		}
		return last;
	}
	for (; j != NULL && j->kind == KPS_JOB_RESERVE && n < RUN_MAX;
	    last = j, j = j->next) {
		if (!ready(j, now))
			continue;
		j->reserve.now = now;
		r[n] = &j->reserve;
		out[n] = &j->res;
		who[n++] = j;
	}
	if (n > 0 && kps_reserve_many(wdb, r, out, rc, n) != KP_OK)
		for (i = 0; i < n; i++)
			rc[i] = KP_EDB;
	for (i = 0; i < n; i++)
		who[i]->rc = rc[i];
	return last;
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
 * prune: forget what is stale by now: the nonces of signatures past
 * the window, the rate buckets full again, the grants of the drain
 * budget and the registrations past its window; a few at a time when writes
 * wait (the batch is on their path), more when the writer is idle.
 * Once a prune found fewer than it may take, nothing is left to take
 * until the next second.
 */
static void
prune(int busy)
{
	static int64_t	nonces_done, buckets_done, grants_done,
			regs_done;	/* writer thread */
	int64_t		now = kps_real_now();
	uint64_t	n;
	int		max = busy ? 256 : 8192;

	if (now != nonces_done && kps_nonce_prune(wdb, now -
	    KP_HTTPSIG_WINDOW, max, &n) == KP_OK) {
		if (n > 0)
			kps_metric_add("nonces_pruned", (int64_t)n);
		if (n < (uint64_t)max)
			nonces_done = now;
	}
	if (now != buckets_done && kps_rate_prune(wdb, now * 1000, max,
	    &n) == KP_OK && n < (uint64_t)max)
		buckets_done = now;
	/* grants follow the server's clock, as reservations do */
	now = kps_now();
	if (now != grants_done && kps_grant_prune(wdb, now -
	    KPS_BUDGET_WINDOW, max, &n) == KP_OK) {
		if (n > 0)
			kps_metric_add("grants_pruned", (int64_t)n);
		if (n < (uint64_t)max)
			grants_done = now;
	}
	if (now != regs_done && kps_reg_prune(wdb, now - KPS_BUDGET_WINDOW,
	    max, &n) == KP_OK && n < (uint64_t)max)
		regs_done = now;
}

static void *
writer_main(void *arg)
{
	struct kps_job	*list, *j, *next, *async, *first, *last;
	struct timespec	 ts;
	int64_t		 now, last_cleanup = 0, last_sweep = 0;
	uint64_t	 n, swept = 0;
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
		if (head != NULL && kps_conf.test_writer_delay > 0) {
			/* slow, for tests: what comes meanwhile joins */
			pthread_mutex_unlock(&lock);
			(void)nanosleep(&(struct timespec){
			    .tv_sec = kps_conf.test_writer_delay / 1000,
			    .tv_nsec = kps_conf.test_writer_delay % 1000 *
			    1000000L }, NULL);
			pthread_mutex_lock(&lock);
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
		/*
		 * Reservations whose TTL passed end first, in the batch:
		 * once a second, since none comes to an end between (a
		 * TTL is whole seconds, and so is now), and again while
		 * the last sweep found some (a backend may sweep a part).
		 */
		if ((now != last_sweep || swept > 0) &&
		    kps_release_expired_reservations(wdb, now, &swept) ==
		    KP_OK) {
			if (swept > 0)
				kps_metric_add("reservations_expired", swept);
			last_sweep = now;
		} else
			swept = 0;
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
		/* the nonces and tokens of the batch, at once */
		if (admit(list) != KP_OK || !kps_store_in_batch(wdb)) {
			fprintf(stderr, "kpool-server: nonces and tokens: %s\n",
			    kps_store_errmsg(wdb));
			(void)kps_store_rollback(wdb);
			fail(list, NULL);
			goto wake;
		}
		open = 1;
		for (j = list, n = 0; j != NULL; j = j->next)
			n++;
		for (j = list; j != NULL; j = last->next) {
			last = run(j, now);
			/* a device removed: the batch's later jobs it signed
			 * sign nothing (their keys were checked before) */
			if (last->kind == KPS_JOB_DEVICE_REMOVE &&
			    last->rc == KP_OK && last->next != NULL &&
			    recheck(last->next, n) != KP_OK)
				(void)kps_store_rollback(wdb);
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
			fail(first, last->next);
			(void)kps_store_rollback(wdb);
			first = last->next;
			/* the rollback took the nonces and tokens of the
			 * rest: again */
			if (kps_store_begin(wdb) != KP_OK ||
			    admit(first) != KP_OK) {
				(void)kps_store_rollback(wdb);
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
	char			shown[512];
	int			rc;

	conf.burn = kps_conf.burn;
	conf.manual_checkpoint = 1;
	if ((rc = kps_store_open(db, &conf, &wdb)) != KP_OK) {
		snprintf(err, errlen, "%s: %s", kps_store_shown(db, shown,
		    sizeof(shown)), wdb ?
		    kps_store_errmsg(wdb) : kp_strerror(rc));
		kps_store_close(wdb);
		wdb = NULL;
		return rc;
	}
	if ((rc = kps_store_open(db, &conf, &cdb)) != KP_OK) {
		snprintf(err, errlen, "%s: %s", kps_store_shown(db, shown,
		    sizeof(shown)), cdb ?
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

/*
 * admit: asked before a request's thread waits for the writer (http.c
 * gives kps_http_writing: the drain counts it, or refuses it once
 * stopping).  Set before the first request, read only after.
 */
static int	(*admit_fn)(void);

void
kps_writer_admit(int (*fn)(void))
{
	admit_fn = fn;
}

void
kps_writer_run(struct kps_job *j)
{
	if (admit_fn != NULL && admit_fn() != 0) {
		j->rc = KP_EBUSY;	/* stopping: 503 */
		return;
	}
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
