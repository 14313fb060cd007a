/* SPDX-License-Identifier: ISC */
/*
 * cache.c: the layer under the FUSE operations that keeps what the
 * daemon knows of the pool: the keys last read (a tsearch(3) tree by
 * ref), the state counts, the last listing of each state directory, the
 * files a rm -r unlinked, and the times of the state directories.
 *
 * The pool tells which keys changed (kpfs_cache_changed, its observer):
 * exactly those are dropped, and the kernel's entries of them and of the
 * state directories they left or entered are invalidated, so the tree
 * never shows a stale state for longer than a call.  Nothing here is
 * held across a call into the pool: a key or a listing read while
 * another thread changed the pool (kgen moved) is used once and not
 * kept.
 */
#include <errno.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "kpoolfs.h"

/*
 * The key this thread renames through the kernel (kpfs_cache_renaming):
 * the kernel moves its directory (nothing is under the new name yet)
 * and drops both parents' attributes itself.
 */
static _Thread_local const uint8_t *renaming;

/* A cached key. */
struct kpfs_kent {
	uint8_t		 ref[KP_REF_LEN];	/* the tree's order */
	struct kp_key	*k;
	int64_t		 loaded_at;		/* monotonic seconds */
};

static int
kent_cmp(const void *a, const void *b)
{
	return memcmp(((const struct kpfs_kent *)a)->ref,
	    ((const struct kpfs_kent *)b)->ref, KP_REF_LEN);
}

static void
kent_free(void *arg)
{
	struct kpfs_kent	*e = arg;

	kp_key_free(e->k);
	free(e);
}

static int64_t
mono(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec;
}

/* The entry of ref, or NULL.  lock. */
static struct kpfs_kent *
kent_find(struct kpfs *fs, const uint8_t ref[KP_REF_LEN])
{
	struct kpfs_kent	probe, **e;

	memcpy(probe.ref, ref, KP_REF_LEN);
	e = tfind(&probe, &fs->keys, kent_cmp);
	return e != NULL ? *e : NULL;
}

/* Forget every key.  lock. */
static void
keys_clear(struct kpfs *fs)
{
	tdestroy(fs->keys, kent_free);
	fs->keys = NULL;
	fs->nkeys = 0;
}

/* Forget ref.  lock. */
static void
keys_drop(struct kpfs *fs, const uint8_t ref[KP_REF_LEN])
{
	struct kpfs_kent	*e;

	if ((e = kent_find(fs, ref)) == NULL)
		return;
	tdelete(e, &fs->keys, kent_cmp);
	kent_free(e);
	fs->nkeys--;
}

/*
 * Keep k (the cache owns it from now on, or frees it).  A full cache
 * starts again.  lock.
 */
static void
keys_put(struct kpfs *fs, struct kp_key *k, int64_t now)
{
	struct kpfs_kent	*e, **slot;

	if (fs->nkeys >= KPFS_CACHE_MAX)
		keys_clear(fs);
	if ((e = malloc(sizeof(*e))) == NULL) {
		kp_key_free(k);		/* no cache is fine */
		return;
	}
	memcpy(e->ref, kp_key_ref(k), KP_REF_LEN);
	e->k = k;
	e->loaded_at = now;
	if ((slot = tsearch(e, &fs->keys, kent_cmp)) == NULL) {
		kent_free(e);
		return;
	}
	if (*slot != e) {		/* there already: its key is older */
		kp_key_free((*slot)->k);
		(*slot)->k = k;
		(*slot)->loaded_at = now;
		free(e);
		return;
	}
	fs->nkeys++;
}

/* The unlinked files of ref.  lock. */
static uint32_t
hidden_mask(struct kpfs *fs, const uint8_t ref[KP_REF_LEN])
{
	size_t	i;

	for (i = 0; i < fs->nhidden; i++)
		if (memcmp(fs->hidden[i].ref, ref, KP_REF_LEN) == 0)
			return fs->hidden[i].mask;
	return 0;
}

/* ref's files are all back (it moved or went).  lock. */
static void
hidden_drop(struct kpfs *fs, const uint8_t ref[KP_REF_LEN])
{
	size_t	i;

	for (i = 0; i < fs->nhidden; i++)
		if (memcmp(fs->hidden[i].ref, ref, KP_REF_LEN) == 0) {
			fs->hidden[i] = fs->hidden[--fs->nhidden];
			return;
		}
}

int
kpfs_cache_hide(struct kpfs *fs, const uint8_t ref[KP_REF_LEN], int f)
{
	struct kpfs_hidden	*h;
	size_t			 i;
	int			 rc = 0;

	pthread_mutex_lock(&fs->lock);
	for (i = 0; i < fs->nhidden; i++)
		if (memcmp(fs->hidden[i].ref, ref, KP_REF_LEN) == 0) {
			fs->hidden[i].mask |= 1u << f;
			goto out;
		}
	if ((h = reallocarray(fs->hidden, fs->nhidden + 1,
	    sizeof(*h))) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	fs->hidden = h;
	memcpy(h[fs->nhidden].ref, ref, KP_REF_LEN);
	h[fs->nhidden].mask = 1u << f;
	fs->nhidden++;
out:
	pthread_mutex_unlock(&fs->lock);
	return rc;
}

int
kpfs_cache_key(struct kpfs *fs, const struct kpfs_path *pp,
    int (*fn)(void *, const struct kp_key *, uint32_t), void *arg)
{
	struct kpfs_kent	*e;
	struct kp_key		*k = NULL;
	int64_t			 now = mono();
	uint64_t		 gen;
	int			 rc;

	pthread_mutex_lock(&fs->lock);
	e = kent_find(fs, pp->ref);
	if (e != NULL && now - e->loaded_at < KPFS_CACHE_TTL) {
		rc = kp_key_state(e->k) != pp->state ? -ENOENT :
		    fn(arg, e->k, hidden_mask(fs, pp->ref));
		pthread_mutex_unlock(&fs->lock);
		return rc;
	}
	gen = fs->kgen;
	pthread_mutex_unlock(&fs->lock);

	if ((rc = kpfs_load_key(fs, pp, &k)) != 0)
		return rc;
	pthread_mutex_lock(&fs->lock);
	rc = kp_key_state(k) != pp->state ? -ENOENT :
	    fn(arg, k, hidden_mask(fs, pp->ref));
	if (gen == fs->kgen) {
		keys_put(fs, k, now);	/* no change since: keep it */
		k = NULL;
	}
	pthread_mutex_unlock(&fs->lock);
	kp_key_free(k);
	return rc;
}

int
kpfs_cache_counts(struct kpfs *fs, struct kp_counts *c)
{
	int64_t		now = mono();
	uint64_t	gen;
	int		rc;

	pthread_mutex_lock(&fs->lock);
	if (fs->counts_at != 0 && now - fs->counts_at < 1) {
		*c = fs->counts;
		pthread_mutex_unlock(&fs->lock);
		return KP_OK;
	}
	gen = fs->kgen;
	pthread_mutex_unlock(&fs->lock);
	if ((rc = kp_pool_counts(fs->pool, 0, c)) != KP_OK)
		return rc;
	pthread_mutex_lock(&fs->lock);
	if (gen == fs->kgen) {
		fs->counts = *c;
		fs->counts_at = now;
	}
	pthread_mutex_unlock(&fs->lock);
	return KP_OK;
}

/* A copy of n entries of e, or NULL. */
static struct kpfs_dent *
dents_copy(const struct kpfs_dent *e, size_t n)
{
	struct kpfs_dent	*c;

	if ((c = reallocarray(NULL, n ? n : 1, sizeof(*c))) != NULL &&
	    n > 0)
		memcpy(c, e, n * sizeof(*c));
	return c;
}

int
kpfs_cache_list(struct kpfs *fs, int state, struct kpfs_dent **out,
    size_t *nout, int *again)
{
	struct kpfs_list	 *l = &fs->lists[state];
	struct kpfs_dent	 *e = NULL, *copy;
	struct kp_key		**keys = NULL;
	int64_t			  now_ms = kpfs_mono_ms(), now = mono();
	uint64_t		  gen;
	size_t			  n = 0, i;
	int			  rc = KP_OK;

	*out = NULL;
	*nout = 0;
	*again = 0;
	pthread_mutex_lock(&fs->lock);
	if (l->e != NULL && l->gen == fs->kgen &&
	    now_ms - l->at_ms < KPFS_LIST_TTL_MS) {
		/* nothing changed within a second: the same list */
		if ((*out = dents_copy(l->e, l->n)) == NULL)
			rc = KP_ENOMEM;
		*nout = l->n;
		*again = 1;
		pthread_mutex_unlock(&fs->lock);
		return rc;
	}
	gen = fs->kgen;
	pthread_mutex_unlock(&fs->lock);

	if ((rc = kp_pool_list(fs->pool, state, &keys, &n)) != KP_OK) {
		kpfs_log(LOG_ERR, "list: %s", kp_errmsg(fs->pool));
		return rc;
	}
	if ((e = reallocarray(NULL, n ? n : 1, sizeof(*e))) == NULL) {
		rc = KP_ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		snprintf(e[i].name, sizeof(e[i].name), "%s",
		    kp_key_ref_hex(keys[i]));
		e[i].has_st = 1;
		e[i].mode = S_IFDIR | 0755;
		e[i].nlink = 2;
		e[i].size = 0;
		e[i].mtime = kp_key_time_ns(keys[i], KP_T_CHANGED);
	}
	copy = dents_copy(e, n);	/* for the next opendir */
	pthread_mutex_lock(&fs->lock);
	if (gen == fs->kgen) {
		/* the listing is the pool's now: keep it and its keys */
		for (i = 0; i < n; i++) {
			keys_put(fs, keys[i], now);
			keys[i] = NULL;
		}
		if (copy != NULL) {
			free(l->e);
			l->e = copy;
			l->n = n;
			l->gen = gen;
			l->at_ms = now_ms;
			copy = NULL;
		}
	}
	pthread_mutex_unlock(&fs->lock);
	free(copy);
	*out = e;
	*nout = n;
	e = NULL;
out:
	free(e);
	kp_keys_free(keys, n);
	return rc;
}

/* state's directory changed at t (ns, after the last): its mtime.  lock. */
static void
touch_state(struct kpfs *fs, int state, int64_t t)
{
	if (state < 0 || state >= KP_NSTATES)
		return;
	/* every change is seen, even two in one tick of the clock */
	if (t <= fs->state_mtime[state])
		t = fs->state_mtime[state] + 1;
	fs->state_mtime[state] = t;
}

int64_t
kpfs_cache_state_mtime(struct kpfs *fs, int state)
{
	int64_t	t;

	pthread_mutex_lock(&fs->lock);
	t = fs->state_mtime[state];
	pthread_mutex_unlock(&fs->lock);
	return t;
}

void
kpfs_cache_times(struct kpfs *fs, int64_t *mounted_at, int64_t *config,
    int64_t *latest)
{
	int	s;

	pthread_mutex_lock(&fs->lock);
	*mounted_at = fs->mounted_at;
	*config = fs->config_mtime;
	*latest = fs->mounted_at * KPFS_NS;
	for (s = 0; s < KP_NSTATES; s++)
		if (fs->state_mtime[s] > *latest)
			*latest = fs->state_mtime[s];
	pthread_mutex_unlock(&fs->lock);
}

void
kpfs_touch_config(struct kpfs *fs)
{
	int64_t	now = kpfs_now(fs);

	pthread_mutex_lock(&fs->lock);
	fs->config_mtime = now;
	pthread_mutex_unlock(&fs->lock);
	kpfs_invalidate_status(fs);
}

void
kpfs_invalidate(struct kpfs *fs, const char *path)
{
	if (fs->fuse != NULL)
		(void)fuse_invalidate_path(fs->fuse, path);
}

void
kpfs_invalidate_status(struct kpfs *fs)
{
	kpfs_invalidate(fs, "/status");
	kpfs_invalidate(fs, "/status.json");
}

/* Drop the kernel's entries of a key's directory and files under state. */
static void
invalidate_key(struct kpfs *fs, int state, const char *ref_hex)
{
	char	path[256];
	int	f, n;

	n = snprintf(path, sizeof(path), "/%s/%s", kp_state_name(state),
	    ref_hex);
	if (n < 0 || (size_t)n >= sizeof(path))
		return;
	kpfs_invalidate(fs, path);
	/* keypackage never changes: its cached pages stay */
	for (f = KPFS_K_KEYPACKAGE + 1; f < KPFS_NKEYFILES; f++) {
		snprintf(path + n, sizeof(path) - n, "/%s",
		    kpfs_keyfile_name(f));
		kpfs_invalidate(fs, path);
	}
}

/* Drop the kernel's entry of state's directory. */
static void
invalidate_state(struct kpfs *fs, int state)
{
	char	path[32];

	snprintf(path, sizeof(path), "/%s", kp_state_name(state));
	kpfs_invalidate(fs, path);
}

/* The entries of a tree, gathered by twalk_r. */
struct gather {
	struct kpfs_kent	**v;
	size_t			  n;
};

static void
gather(const void *node, VISIT which, void *arg)
{
	struct gather	*g = arg;

	if (which == postorder || which == leaf)
		g->v[g->n++] = *(struct kpfs_kent *const *)node;
}

/* The tree holds its entries no more (they are the caller's). */
static void
keep_entry(void *arg)
{
	(void)arg;
}

/* A key changed where the daemon cannot tell which: forget them all. */
static void
all_changed(struct kpfs *fs)
{
	struct gather	g;
	int64_t		t = kpfs_now_ns(fs);
	size_t		i;
	int		s;

	memset(&g, 0, sizeof(g));
	pthread_mutex_lock(&fs->lock);
	fs->counts_at = 0;
	fs->kgen++;
	fs->nhidden = 0;
	for (s = 0; s < KP_NSTATES; s++)
		touch_state(fs, s, t);
	/* the kernel may hold the keys the cache holds: take them out */
	if (fs->nkeys > 0 &&
	    (g.v = reallocarray(NULL, fs->nkeys, sizeof(*g.v))) != NULL) {
		twalk_r(fs->keys, gather, &g);
		tdestroy(fs->keys, keep_entry);
		fs->keys = NULL;
		fs->nkeys = 0;
	}
	keys_clear(fs);
	pthread_mutex_unlock(&fs->lock);
	for (i = 0; i < g.n; i++) {
		invalidate_key(fs, kp_key_state(g.v[i]->k),
		    kp_key_ref_hex(g.v[i]->k));
		kent_free(g.v[i]);
	}
	free(g.v);
	for (s = 0; s < KP_NSTATES; s++)
		invalidate_state(fs, s);
	kpfs_invalidate_status(fs);
}

void
kpfs_cache_changed(void *arg, const uint8_t *ref, int from, int to)
{
	struct kpfs	*fs = arg;
	char		 hex[2 * KP_REF_LEN + 1];
	int64_t		 t;
	int		 kernel;

	if (ref == NULL) {
		all_changed(fs);
		return;
	}
	t = from != to ? kpfs_now_ns(fs) : 0;
	pthread_mutex_lock(&fs->lock);
	hidden_drop(fs, ref);	/* a key that moved is not being removed */
	keys_drop(fs, ref);
	fs->counts_at = 0;
	fs->kgen++;		/* every listing is old now */
	if (from != to) {
		touch_state(fs, from, t);
		touch_state(fs, to, t);
	}
	pthread_mutex_unlock(&fs->lock);

	/* the files move with the directory: drop their sizes */
	kp_hex(ref, KP_REF_LEN, hex);
	kernel = renaming != NULL && from != to &&
	    memcmp(renaming, ref, KP_REF_LEN) == 0;
	if (from >= 0)
		invalidate_key(fs, from, hex);
	if (to >= 0 && to != from && !kernel)
		invalidate_key(fs, to, hex);
	if (from != to && !kernel) {
		if (from >= 0)
			invalidate_state(fs, from);
		if (to >= 0)
			invalidate_state(fs, to);
	}
	kpfs_invalidate_status(fs);
}

void
kpfs_cache_renaming(const uint8_t *ref)
{
	renaming = ref;
}

int
kpfs_cache_init(struct kpfs *fs)
{
	struct kp_key	**keys = NULL;
	int64_t		  t;
	size_t		  i, n = 0;
	int		  rc, s;

	fs->mounted_at = fs->config_mtime = kpfs_now(fs);
	if ((rc = kp_pool_list(fs->pool, -1, &keys, &n)) != KP_OK) {
		kpfs_log(LOG_ERR, "%s: %s", fs->store, kp_errmsg(fs->pool));
		return rc;
	}
	/* a state directory last changed when its newest key arrived */
	for (i = 0; i < n; i++) {
		s = kp_key_state(keys[i]);
		t = kp_key_time_ns(keys[i], KP_T_CHANGED);
		if (s >= 0 && s < KP_NSTATES && t > fs->state_mtime[s])
			fs->state_mtime[s] = t;
	}
	for (s = 0; s < KP_NSTATES; s++)
		if (fs->state_mtime[s] == 0)
			fs->state_mtime[s] = fs->mounted_at * KPFS_NS;
	kp_keys_free(keys, n);
	return KP_OK;
}

void
kpfs_cache_fini(struct kpfs *fs)
{
	int	i;

	keys_clear(fs);
	free(fs->hidden);
	fs->hidden = NULL;
	fs->nhidden = 0;
	for (i = 0; i < KP_NSTATES; i++) {
		free(fs->lists[i].e);
		fs->lists[i].e = NULL;
	}
}
