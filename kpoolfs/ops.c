/* SPDX-License-Identifier: ISC */
/*
 * ops.c: the fuse_operations of kpoolfs (high-level API, -errno).
 *
 * Errors follow one table (kpoolfs(1), kpool(7)): EINVAL bad syntax,
 * ENOENT unknown key, EEXIST name collision, EPERM forbidden transition,
 * EBUSY in use, ENOTCONN or EIO server trouble, EACCES writes to
 * read-only files.  A forbidden move never gives EXDEV, which would make
 * mv(1) copy and delete.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "kpoolfs.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE	(1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE		(1 << 1)
#endif

#define CONFIG_WRITE_MAX	65536		/* config write, bytes */
#define WELCOME_MAX		(1024 * 1024)	/* bytes of a Welcome */

/* An open file: a snapshot to read, or what was written so far. */
struct kpfs_fh {
	struct kpfs_handle h;		/* first: on fs->handles */
	int		 kind;
	int		 file;
	uint8_t		*buf;
	size_t		 len;
	int		 done;		/* welcome: opened already */
};

static const mode_t rootfile_mode[KPFS_NROOTFILES] = {
	0444,	/* status */
	0644,	/* config */
	0200,	/* ctl */
	0200,	/* welcome */
};

static struct kpfs *
FS(void)
{
	return fuse_get_context()->private_data;
}

int
kpfs_errno(int kp)
{
	switch (kp) {
	case KP_OK:
		return 0;
	case KP_ENOMEM:
		return ENOMEM;
	case KP_ENOTFOUND:
	case KP_ENOTOURS:
		return ENOENT;
	case KP_EEXIST:
		return EEXIST;
	case KP_ESTATE:
	case KP_EPERM:
	case KP_ECONFLICT:
	case KP_EFORBIDDEN:
	case KP_EGONE:
		return EPERM;
	case KP_EBUSY:
	case KP_ERATE:
		return EBUSY;
	case KP_ENET:
		return ENOTCONN;
	case KP_EIO:
	case KP_EDB:
	case KP_ECRYPTO:
	case KP_EPROTO:
	case KP_EAUTH:
	case KP_ESERVER:
		return EIO;
	default:
		/* bad syntax: decoding, validation, rejected, too big */
		return EINVAL;
	}
}

void
kpfs_invalidate(struct kpfs *fs, const char *path)
{
	if (fs->fuse != NULL)
		(void)fuse_invalidate_path(fs->fuse, path);
}

void
kpfs_invalidate_key(struct kpfs *fs, int state, const char *ref_hex)
{
	char path[256];
	int f, n;

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

void
kpfs_touch_state(struct kpfs *fs, int state)
{
	struct timespec ts;
	int64_t t;

	if (state < 0 || state >= KP_NSTATES)
		return;
	if (fs->test_clock != NULL)
		t = kpfs_now(fs) * KPFS_NS;
	else {
		clock_gettime(CLOCK_REALTIME, &ts);
		t = (int64_t)ts.tv_sec * KPFS_NS + ts.tv_nsec;
	}
	pthread_mutex_lock(&fs->mlock);
	/* every change is seen, even two in one tick of the clock */
	if (t <= fs->state_mtime[state])
		t = fs->state_mtime[state] + 1;
	fs->state_mtime[state] = t;
	pthread_mutex_unlock(&fs->mlock);
}

/* Set the three times of st to t nanoseconds. */
static void
set_times(struct stat *st, int64_t t)
{
	st->st_mtim.tv_sec = (time_t)(t / KPFS_NS);
	st->st_mtim.tv_nsec = (long)(t % KPFS_NS);
	st->st_atim = st->st_ctim = st->st_mtim;
}

/* Invalidate a state directory and the root status after a change. */
static void
changed_state(struct kpfs *fs, int state)
{
	char path[32];

	kpfs_touch_state(fs, state);
	snprintf(path, sizeof(path), "/%s", kp_state_name(state));
	kpfs_invalidate(fs, path);
	kpfs_invalidate(fs, "/status");
}

/* Hidden (unlinked) files of deletable keys.  Call with fs->lock held. */
static uint32_t
hidden_mask(struct kpfs *fs, const uint8_t ref[KP_REF_LEN])
{
	size_t i;

	for (i = 0; i < fs->nhidden; i++)
		if (memcmp(fs->hidden[i].ref, ref, KP_REF_LEN) == 0)
			return fs->hidden[i].mask;
	return 0;
}

static int
hidden_add(struct kpfs *fs, const uint8_t ref[KP_REF_LEN], int f)
{
	struct kpfs_hidden *h;
	size_t i;

	for (i = 0; i < fs->nhidden; i++)
		if (memcmp(fs->hidden[i].ref, ref, KP_REF_LEN) == 0) {
			fs->hidden[i].mask |= 1u << f;
			return 0;
		}
	h = reallocarray(fs->hidden, fs->nhidden + 1, sizeof(*h));
	if (h == NULL)
		return -ENOMEM;
	fs->hidden = h;
	memcpy(h[fs->nhidden].ref, ref, KP_REF_LEN);
	h[fs->nhidden].mask = 1u << f;
	fs->nhidden++;
	return 0;
}

static void
hidden_drop(struct kpfs *fs, const uint8_t ref[KP_REF_LEN])
{
	size_t i;

	for (i = 0; i < fs->nhidden; i++)
		if (memcmp(fs->hidden[i].ref, ref, KP_REF_LEN) == 0) {
			fs->hidden[i] = fs->hidden[--fs->nhidden];
			return;
		}
}

static int64_t
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec;
}

static size_t
kslot(const uint8_t ref[KP_REF_LEN], size_t cap)
{
	uint64_t h;

	memcpy(&h, ref, sizeof(h));	/* a ref is a hash already */
	return (size_t)h & (cap - 1);
}

/* Pack k into e (whose tail is replaced); -1 out of memory. */
static int
kent_pack(struct kpfs_kent *e, const struct kpfs_key *k, int64_t now)
{
	const char *str[3] = { k->reservation_id, k->reserved_by,
	    k->spent_by };
	size_t len[3], total, i, off;
	uint8_t *tail = NULL;

	total = k->group_id_len;
	for (i = 0; i < 3; i++) {
		len[i] = strnlen(str[i], 255);
		total += len[i];
	}
	if (total > 0 && (tail = malloc(total)) == NULL)
		return -1;
	for (i = 0, off = 0; i < 3; i++) {
		if (len[i] > 0)
			memcpy(tail + off, str[i], len[i]);
		e->lens[i] = (uint8_t)len[i];
		off += len[i];
	}
	if (k->group_id_len > 0)
		memcpy(tail + off, k->group_id, k->group_id_len);
	free(e->tail);
	e->tail = tail;
	memcpy(e->ref, k->ref, KP_REF_LEN);
	e->t[0] = k->created_at;
	e->t[1] = k->uploaded_at;
	e->t[2] = k->reserved_at;
	e->t[3] = k->spent_at;
	e->t[4] = k->expired_at;
	e->t[5] = k->not_before;
	e->t[6] = k->not_after;
	e->t[7] = k->changed_at;
	e->t[8] = k->reservation_expires_at;
	e->t[9] = k->epoch;
	e->loaded_at = now;
	e->keypackage_len = (uint32_t)k->keypackage_len;
	e->suite = k->suite;
	e->state = (int8_t)k->state;
	e->group_id_len = (uint8_t)k->group_id_len;
	e->flags = KPFS_KE_VALID | (k->last_resort ? KPFS_KE_LAST_RESORT : 0) |
	    (k->has_private ? KPFS_KE_PRIVATE : 0);
	return 0;
}

/* The struct kpfs_key that e holds (credential_hash is not kept). */
static void
kent_unpack(const struct kpfs_kent *e, struct kpfs_key *k)
{
	char *dst[3];
	size_t i, off;

	memset(k, 0, sizeof(*k));
	memcpy(k->ref, e->ref, KP_REF_LEN);
	kp_hex(e->ref, KP_REF_LEN, k->ref_hex);
	k->created_at = e->t[0];
	k->uploaded_at = e->t[1];
	k->reserved_at = e->t[2];
	k->spent_at = e->t[3];
	k->expired_at = e->t[4];
	k->not_before = e->t[5];
	k->not_after = e->t[6];
	k->changed_at = e->t[7];
	k->reservation_expires_at = e->t[8];
	k->epoch = e->t[9];
	k->keypackage_len = e->keypackage_len;
	k->suite = e->suite;
	k->state = e->state;
	k->last_resort = (e->flags & KPFS_KE_LAST_RESORT) != 0;
	k->has_private = (e->flags & KPFS_KE_PRIVATE) != 0;
	dst[0] = k->reservation_id;
	dst[1] = k->reserved_by;
	dst[2] = k->spent_by;
	for (i = 0, off = 0; i < 3; i++) {
		if (e->lens[i] > 0)
			memcpy(dst[i], e->tail + off, e->lens[i]);
		dst[i][e->lens[i]] = '\0';
		off += e->lens[i];
	}
	k->group_id_len = e->group_id_len;
	if (e->group_id_len > 0)
		memcpy(k->group_id, e->tail + off, e->group_id_len);
}

/* The slot of ref: its own, or the free one it would take.  fs->lock. */
static struct kpfs_kent **
cache_slot(struct kpfs *fs, const uint8_t ref[KP_REF_LEN])
{
	size_t i;

	if (fs->capkeys == 0)
		return NULL;
	for (i = kslot(ref, fs->capkeys);; i = (i + 1) & (fs->capkeys - 1))
		if (fs->keys[i] == NULL ||
		    memcmp(fs->keys[i]->ref, ref, KP_REF_LEN) == 0)
			return &fs->keys[i];
}

static void
cache_clear(struct kpfs *fs)
{
	size_t i;

	for (i = 0; i < fs->capkeys; i++)
		if (fs->keys[i] != NULL) {
			free(fs->keys[i]->tail);
			free(fs->keys[i]);
		}
	free(fs->keys);
	fs->keys = NULL;
	fs->nkeys = fs->capkeys = 0;
}

/* Remember k.  fs->lock. */
static void
cache_put(struct kpfs *fs, const struct kpfs_key *k, int64_t now)
{
	struct kpfs_kent **slots, **old = fs->keys, **e;
	size_t i, oldcap = fs->capkeys, cap;

	if (fs->nkeys >= KPFS_CACHE_MAX) {
		cache_clear(fs);
		old = NULL;
		oldcap = 0;
	}
	if (2 * (fs->nkeys + 1) > fs->capkeys) {
		cap = fs->capkeys ? 2 * fs->capkeys : 256;
		if ((slots = calloc(cap, sizeof(*slots))) == NULL)
			return;		/* no cache is fine */
		fs->keys = slots;
		fs->capkeys = cap;
		for (i = 0; i < oldcap; i++)
			if (old[i] != NULL)
				*cache_slot(fs, old[i]->ref) = old[i];
		free(old);
	}
	e = cache_slot(fs, k->ref);
	if (*e == NULL) {
		if ((*e = calloc(1, sizeof(**e))) == NULL)
			return;
		fs->nkeys++;
	}
	if (kent_pack(*e, k, now) == -1)
		(*e)->flags &= ~KPFS_KE_VALID;
}

/* Forget ref (NULL: every key) and the counts.  fs->lock. */
static void
cache_drop(struct kpfs *fs, const uint8_t *ref)
{
	struct kpfs_kent **e;
	size_t i;

	fs->counts_at = 0;
	fs->kgen++;		/* every listing is old now */
	if (ref == NULL) {
		for (i = 0; i < fs->capkeys; i++)
			if (fs->keys[i] != NULL)
				fs->keys[i]->flags &= ~KPFS_KE_VALID;
	} else if ((e = cache_slot(fs, ref)) != NULL && *e != NULL)
		(*e)->flags &= ~KPFS_KE_VALID;
}

/* Forget what the daemon knows of key ref, which changed or went. */
void
kpfs_key_changed(struct kpfs *fs, const uint8_t *ref)
{
	pthread_mutex_lock(&fs->lock);
	hidden_drop(fs, ref);
	cache_drop(fs, ref);
	pthread_mutex_unlock(&fs->lock);
}

/* The state counts, from the cache when fresh (1 s).  fs->lock. */
static int
counts(struct kpfs *fs, struct kp_counts *c)
{
	int64_t now = mono();
	int rc;

	if (fs->counts_at != 0 && now - fs->counts_at < 1) {
		*c = fs->counts;
		return KP_OK;
	}
	if ((rc = kp_pool_counts(fs->fp, c)) != KP_OK)
		return rc;
	fs->counts = *c;
	fs->counts_at = now;
	return KP_OK;
}

/*
 * Load the key a key path names; -ENOENT unless it is in the path's
 * state.  *mask gets its hidden files.
 */
static int
load_key(struct kpfs *fs, const struct kpfs_path *pp, struct kpfs_key *k,
    uint32_t *mask)
{
	struct kpfs_kent **e;
	int64_t now = mono();
	int found = 0, rc = KP_OK;

	pthread_mutex_lock(&fs->lock);
	e = cache_slot(fs, pp->ref);
	if (e != NULL && *e != NULL && ((*e)->flags & KPFS_KE_VALID) &&
	    now - (*e)->loaded_at < KPFS_CACHE_TTL) {
		kent_unpack(*e, k);
		found = 1;
	} else if ((rc = kpfs_pool_load(fs->fp, pp->ref, k, &found)) ==
	    KP_OK && found)
		cache_put(fs, k, now);
	if (rc == KP_OK && mask != NULL)
		*mask = hidden_mask(fs, pp->ref);
	if (rc != KP_OK)
		kpfs_log(LOG_ERR, "load %s: %s", pp->ref_hex,
		    kp_errmsg(fs->fp));
	pthread_mutex_unlock(&fs->lock);
	if (rc != KP_OK)
		return -kpfs_errno(rc);
	if (!found || k->state != pp->state)
		return -ENOENT;
	return 0;
}

/* A key file exists: it applies to the key and was not unlinked. */
static int
keyfile_exists(const struct kpfs_key *k, uint32_t mask, int f)
{
	return kpfs_keyfile_applies(k, f) && (mask & (1u << f)) == 0;
}

/* Health as the tree shows it: offline wins when the server is away. */
static int
health(struct kpfs *fs, int h, int64_t *last_sync)
{
	int online;

	pthread_mutex_lock(&fs->mlock);
	online = fs->online;
	if (fs->last_sync > *last_sync)
		*last_sync = fs->last_sync;
	pthread_mutex_unlock(&fs->mlock);
	if (fs->server == NULL || !online)
		return KP_HEALTH_OFFLINE;
	return h;
}

/* Render the root status file into buf (KPFS_INFO_MAX bytes). */
static int
render_status(struct kpfs *fs, char *buf, size_t cap)
{
	struct kp_status st;
	struct kp_policy pol;
	int64_t ls;
	int h, n, rc;

	pthread_mutex_lock(&fs->lock);
	rc = kp_pool_status(fs->fp, &st);
	if (rc == KP_OK)
		rc = kp_pool_policy_get(fs->fp, &pol);
	if (rc != KP_OK)
		kpfs_log(LOG_ERR, "status: %s", kp_errmsg(fs->fp));
	pthread_mutex_unlock(&fs->lock);
	if (rc != KP_OK)
		return -kpfs_errno(rc);
	ls = st.last_sync;
	h = health(fs, st.health, &ls);
	n = kpfs_status_render(&st, &pol, h, ls, buf, cap);
	return n < 0 ? -EIO : n;
}

/* The config text, malloc'd. */
static int
render_config(struct kpfs *fs, char **text)
{
	int rc;

	pthread_mutex_lock(&fs->lock);
	rc = kp_pool_config_text(fs->fp, text);
	if (rc != KP_OK)
		kpfs_log(LOG_ERR, "config: %s", kp_errmsg(fs->fp));
	pthread_mutex_unlock(&fs->lock);
	return -kpfs_errno(rc);
}

static void
stat_dir(struct kpfs *fs, struct stat *st, nlink_t nlink, int64_t mtime)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFDIR | 0755;
	st->st_nlink = nlink;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_mtime = st->st_atime = st->st_ctime = (time_t)mtime;
}

static void
stat_file(struct kpfs *fs, struct stat *st, mode_t mode, off_t size,
    int64_t mtime)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFREG | mode;
	st->st_nlink = 1;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_size = size;
	st->st_blksize = 4096;
	st->st_blocks = (size + 511) / 512;
	st->st_mtime = st->st_atime = st->st_ctime = (time_t)mtime;
}

/* Attributes of a key file of a loaded key. */
static int
stat_keyfile(struct kpfs *fs, const struct kpfs_key *k, int f, struct stat *st)
{
	char buf[KPFS_INFO_MAX];
	int n;

	if (f == KPFS_K_KEYPACKAGE) {
		stat_file(fs, st, 0444, (off_t)k->keypackage_len,
		    k->created_at);
		return 0;
	}
	if ((n = kpfs_keyfile_render(k, f, buf, sizeof(buf))) < 0)
		return -EIO;
	stat_file(fs, st, 0444, n, k->changed_at);
	return 0;
}

static int
kpfs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct kpfs *fs = FS();
	struct kpfs_path pp;
	struct kp_counts c;
	struct kpfs_key k;
	char buf[KPFS_INFO_MAX], *text = NULL;
	int64_t t;
	uint32_t mask = 0;
	int rc;

	if ((rc = kpfs_path_parse(path, &pp)) != 0)
		return rc;
	switch (pp.kind) {
	case KPFS_ROOT:
		pthread_mutex_lock(&fs->mlock);
		t = fs->config_mtime;
		pthread_mutex_unlock(&fs->mlock);
		stat_dir(fs, st, 2 + KP_NSTATES, t);
		return 0;
	case KPFS_ROOTFILE:
		pthread_mutex_lock(&fs->mlock);
		t = fs->mounted_at * KPFS_NS;
		if (pp.file == KPFS_F_CONFIG)
			t = fs->config_mtime * KPFS_NS;
		if (pp.file == KPFS_F_STATUS) {
			int s;

			for (s = 0; s < KP_NSTATES; s++)
				if (fs->state_mtime[s] > t)
					t = fs->state_mtime[s];
			if (fs->last_sync * KPFS_NS > t)
				t = fs->last_sync * KPFS_NS;
		}
		pthread_mutex_unlock(&fs->mlock);
		if (pp.file == KPFS_F_STATUS) {
			if ((rc = render_status(fs, buf, sizeof(buf))) < 0)
				return rc;
			stat_file(fs, st, rootfile_mode[pp.file], rc, 0);
		} else if (pp.file == KPFS_F_CONFIG) {
			if ((rc = render_config(fs, &text)) < 0)
				return rc;
			stat_file(fs, st, rootfile_mode[pp.file],
			    (off_t)strlen(text), 0);
			free(text);
		} else
			stat_file(fs, st, rootfile_mode[pp.file], 0, 0);
		set_times(st, t);
		return 0;
	case KPFS_STATEDIR:
		pthread_mutex_lock(&fs->lock);
		rc = counts(fs, &c);
		pthread_mutex_unlock(&fs->lock);
		if (rc != KP_OK)
			return -kpfs_errno(rc);
		pthread_mutex_lock(&fs->mlock);
		t = fs->state_mtime[pp.state];
		pthread_mutex_unlock(&fs->mlock);
		/* one link per key directory, as their ".." */
		stat_dir(fs, st, 2 + c.n[pp.state], 0);
		set_times(st, t);
		return 0;
	case KPFS_KEYDIR:
		if ((rc = load_key(fs, &pp, &k, NULL)) != 0)
			return rc;
		stat_dir(fs, st, 2, k.changed_at);
		return 0;
	case KPFS_KEYFILE:
		if ((rc = load_key(fs, &pp, &k, &mask)) != 0)
			return rc;
		if (!keyfile_exists(&k, mask, pp.file))
			return -ENOENT;
		return stat_keyfile(fs, &k, pp.file, st);
	}
	return -ENOENT;
}

/* A directory listing, taken at opendir and served by offset. */
struct kpfs_dir {
	struct kpfs_handle h;		/* first: on fs->handles */
	size_t		 n;
	struct kpfs_dent *e;
	/*
	 * names only: the same listing was handed out with attributes
	 * less than a second ago, so the kernel still holds them
	 */
	int		 names_only;
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Room for want entries in d. */
static int
dir_reserve(struct kpfs_dir *d, size_t *cap, size_t want)
{
	struct kpfs_dent *e;
	size_t c = *cap ? *cap : 32;

	while (c < want)
		c *= 2;
	if (c == *cap)
		return 0;
	if ((e = reallocarray(d->e, c, sizeof(*e))) == NULL)
		return -ENOMEM;
	d->e = e;
	*cap = c;
	return 0;
}

static int
dir_add(struct kpfs_dir *d, size_t *cap, const char *name,
    const struct stat *st)
{
	struct kpfs_dent *e;
	int rc;

	if (d->n == *cap && (rc = dir_reserve(d, cap, d->n + 1)) != 0)
		return rc;
	e = &d->e[d->n++];
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->has_st = st != NULL;
	if (st != NULL) {
		e->mode = st->st_mode;
		e->nlink = st->st_nlink;
		e->size = st->st_size;
		e->mtime = st->st_mtime;
	}
	return 0;
}

static void
dir_free(struct kpfs_dir *d)
{
	if (d != NULL) {
		free(d->e);
		free(d);
	}
}

/* Free fh, wiping what was read or written (a Welcome, in part). */
static void
fh_free(struct kpfs_fh *fh)
{
	if (fh != NULL) {
		if (fh->buf != NULL)
			sodium_memzero(fh->buf, fh->len);
		free(fh->buf);
		free(fh);
	}
}

/* Put an open file or directory on fs->handles. */
static void
handle_link(struct kpfs *fs, struct kpfs_handle *h, int dir)
{
	h->dir = dir;
	h->prev = NULL;
	pthread_mutex_lock(&fs->hlock);
	h->next = fs->handles;
	if (h->next != NULL)
		h->next->prev = h;
	fs->handles = h;
	pthread_mutex_unlock(&fs->hlock);
}

/* Take a released one off. */
static void
handle_unlink(struct kpfs *fs, struct kpfs_handle *h)
{
	pthread_mutex_lock(&fs->hlock);
	if (h->prev != NULL)
		h->prev->next = h->next;
	else
		fs->handles = h->next;
	if (h->next != NULL)
		h->next->prev = h->prev;
	pthread_mutex_unlock(&fs->hlock);
}

/*
 * opendir takes the listing once (one SQLite query for a state
 * directory, which also fills the key cache), so that readdir can hand
 * it out by offset: libfuse then answers READDIRPLUS with the entries'
 * attributes, and ls -l needs no LOOKUP per key.
 */
static int
kpfs_opendir(const char *path, struct fuse_file_info *fi)
{
	struct kpfs *fs = FS();
	struct kpfs_path pp;
	struct kpfs_dir *d;
	struct kpfs_dent *copy;
	struct kpfs_list *l;
	struct kpfs_key *keys = NULL, k;
	struct stat st;
	size_t i, n = 0, cap = 0;
	uint64_t gen;
	int64_t now_ms;
	uint32_t mask = 0;
	int f, rc;

	if ((rc = kpfs_path_parse(path, &pp)) != 0)
		return rc;
	if (pp.kind == KPFS_ROOTFILE || pp.kind == KPFS_KEYFILE)
		return -ENOTDIR;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return -ENOMEM;
	if ((rc = dir_add(d, &cap, ".", NULL)) != 0 ||
	    (rc = dir_add(d, &cap, "..", NULL)) != 0)
		goto out;
	switch (pp.kind) {
	case KPFS_ROOT:
		for (f = 0; f < KPFS_NROOTFILES && rc == 0; f++)
			rc = dir_add(d, &cap, kpfs_rootfile_name(f), NULL);
		for (f = 0; f < KP_NSTATES && rc == 0; f++)
			rc = dir_add(d, &cap, kp_state_name(f), NULL);
		break;
	case KPFS_STATEDIR:
		pthread_mutex_lock(&fs->lock);
		l = &fs->lists[pp.state];
		now_ms = mono_ms();
		if (l->e != NULL && l->gen == fs->kgen &&
		    now_ms - l->at_ms < KPFS_LIST_TTL_MS) {
			/* nothing changed within a second: the same list */
			rc = dir_reserve(d, &cap, d->n + l->n);
			if (rc == 0) {
				memcpy(d->e + d->n, l->e, l->n * sizeof(*l->e));
				d->n += l->n;
				d->names_only = 1;
			}
			pthread_mutex_unlock(&fs->lock);
			if (rc != 0)
				goto out;
			break;
		}
		gen = fs->kgen;
		rc = kpfs_pool_list(fs->fp, pp.state, &keys, &n);
		if (rc != KP_OK)
			kpfs_log(LOG_ERR, "list: %s", kp_errmsg(fs->fp));
		else {
			int64_t now = mono();

			for (i = 0; i < n; i++)
				cache_put(fs, &keys[i], now);
		}
		pthread_mutex_unlock(&fs->lock);
		if (rc != KP_OK) {
			rc = -kpfs_errno(rc);
			goto out;
		}
		for (i = 0; i < n && rc == 0; i++) {
			stat_dir(fs, &st, 2, keys[i].changed_at);
			rc = dir_add(d, &cap, keys[i].ref_hex, &st);
		}
		free(keys);	/* 712 bytes a key: gone before the copy */
		keys = NULL;
		if (rc != 0)
			goto out;
		/* keep it for the next opendir (the entries after . and ..) */
		if ((copy = malloc((n ? n : 1) * sizeof(*copy))) != NULL) {
			memcpy(copy, d->e + 2, n * sizeof(*copy));
			pthread_mutex_lock(&fs->lock);
			l = &fs->lists[pp.state];
			free(l->e);
			l->e = copy;
			l->n = n;
			l->gen = gen;
			l->at_ms = now_ms;
			pthread_mutex_unlock(&fs->lock);
		}
		break;
	case KPFS_KEYDIR:
		if ((rc = load_key(fs, &pp, &k, &mask)) != 0)
			goto out;
		for (f = 0; f < KPFS_NKEYFILES && rc == 0; f++) {
			if (!keyfile_exists(&k, mask, f))
				continue;
			rc = stat_keyfile(fs, &k, f, &st) == 0 ?
			    dir_add(d, &cap, kpfs_keyfile_name(f), &st) :
			    dir_add(d, &cap, kpfs_keyfile_name(f), NULL);
		}
		break;
	}
	if (rc != 0)
		goto out;
	handle_link(fs, &d->h, 1);
	fi->fh = (uintptr_t)d;
	d = NULL;
 out:
	free(keys);
	if (n > 1024)
		malloc_trim(0);		/* a big listing: give it back */
	dir_free(d);
	return rc;
}

static int
kpfs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
    struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct kpfs *fs = FS();
	struct kpfs_dir *d = (struct kpfs_dir *)(uintptr_t)fi->fh;
	struct kpfs_dent *e;
	struct stat st;
	size_t i;
	int plus = (flags & FUSE_READDIR_PLUS) != 0;

	if (d == NULL)
		return -EBADF;
	for (i = off < 0 ? 0 : (size_t)off; i < d->n; i++) {
		e = &d->e[i];
		if (plus && e->has_st && !d->names_only) {
			memset(&st, 0, sizeof(st));
			st.st_mode = e->mode;
			st.st_nlink = e->nlink;
			st.st_size = e->size;
			st.st_uid = fs->uid;
			st.st_gid = fs->gid;
			st.st_blksize = 4096;
			st.st_blocks = (e->size + 511) / 512;
			st.st_mtime = st.st_atime = st.st_ctime =
			    (time_t)e->mtime;
			if (fill(buf, e->name, &st, (off_t)i + 1,
			    FUSE_FILL_DIR_PLUS))
				break;
		} else if (fill(buf, e->name, NULL, (off_t)i + 1, 0))
			break;
	}
	return 0;
}

static int
kpfs_releasedir(const char *path, struct fuse_file_info *fi)
{
	struct kpfs_dir *d = (struct kpfs_dir *)(uintptr_t)fi->fh;

	if (d != NULL) {
		handle_unlink(FS(), &d->h);
		dir_free(d);
	}
	fi->fh = 0;
	return 0;
}

static int
kpfs_open(const char *path, struct fuse_file_info *fi)
{
	struct kpfs *fs = FS();
	struct kpfs_path pp;
	struct kpfs_fh *fh;
	struct kpfs_key k;
	char *text = NULL;
	uint32_t mask = 0;
	int acc = fi->flags & O_ACCMODE, rc;

	if ((rc = kpfs_path_parse(path, &pp)) != 0)
		return rc;
	if (pp.kind != KPFS_ROOTFILE && pp.kind != KPFS_KEYFILE)
		return -EISDIR;
	if ((fh = calloc(1, sizeof(*fh))) == NULL)
		return -ENOMEM;
	fh->kind = pp.kind;
	fh->file = pp.file;
	fi->direct_io = 1;
	if (pp.kind == KPFS_ROOTFILE) {
		switch (pp.file) {
		case KPFS_F_STATUS:
			rc = -EACCES;
			if (acc != O_RDONLY)
				goto out;
			if ((fh->buf = malloc(KPFS_INFO_MAX)) == NULL) {
				rc = -ENOMEM;
				goto out;
			}
			if ((rc = render_status(fs, (char *)fh->buf,
			    KPFS_INFO_MAX)) < 0)
				goto out;
			fh->len = rc;
			break;
		case KPFS_F_CONFIG:
			if (acc == O_WRONLY)
				break;
			if ((rc = render_config(fs, &text)) < 0)
				goto out;
			fh->buf = (uint8_t *)text;
			fh->len = strlen(text);
			break;
		default:	/* ctl, welcome: write only */
			rc = -EACCES;
			if (acc != O_WRONLY)
				goto out;
			break;
		}
	} else {
		rc = -EACCES;
		if (acc != O_RDONLY)
			goto out;
		if ((rc = load_key(fs, &pp, &k, &mask)) != 0)
			goto out;
		rc = -ENOENT;
		if (!keyfile_exists(&k, mask, pp.file))
			goto out;
		if (pp.file == KPFS_K_KEYPACKAGE) {
			pthread_mutex_lock(&fs->lock);
			rc = kp_pool_keypackage(fs->fp, pp.ref, &fh->buf,
			    &fh->len);
			pthread_mutex_unlock(&fs->lock);
			if (rc != KP_OK) {
				rc = -kpfs_errno(rc);
				goto out;
			}
			/* it never changes: let the kernel cache it */
			fi->direct_io = 0;
			fi->keep_cache = 1;
		} else {
			if ((fh->buf = malloc(KPFS_INFO_MAX)) == NULL) {
				rc = -ENOMEM;
				goto out;
			}
			if ((rc = kpfs_keyfile_render(&k, pp.file,
			    (char *)fh->buf, KPFS_INFO_MAX)) < 0) {
				rc = -EIO;
				goto out;
			}
			fh->len = rc;
		}
	}
	handle_link(fs, &fh->h, 0);
	fi->fh = (uintptr_t)fh;
	fh = NULL;
	rc = 0;
 out:
	fh_free(fh);
	return rc;
}

static int
kpfs_read(const char *path, char *buf, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	struct kpfs_fh *fh = (struct kpfs_fh *)(uintptr_t)fi->fh;

	if (fh == NULL)
		return -EBADF;
	if (fh->kind == KPFS_ROOTFILE && (fh->file == KPFS_F_CTL ||
	    fh->file == KPFS_F_WELCOME))
		return -EACCES;
	if (off < 0)
		return -EINVAL;
	if ((size_t)off >= fh->len)
		return 0;
	if (size > fh->len - off)
		size = fh->len - off;
	memcpy(buf, fh->buf + off, size);
	return (int)size;
}

/* Trim blanks at both ends of s in place. */
static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

#define CONFIG_LINES_MAX	64		/* lines of a config write */

/*
 * config: each write holds whole "key = value" lines (blank lines and
 * lines starting with # are skipped).  All of them take effect, or a bad
 * one fails the write with EINVAL and none does.  The library checks the
 * whole policy after each setting, so settings that only make sense
 * together (target = 100 with hard_cap = 200) are applied in passes
 * until none is left or a pass makes no progress.
 */
static int
write_config(struct kpfs *fs, const char *data, size_t size)
{
	struct kp_policy saved;
	char *text = NULL, *line, *next, *eq, *key, *val;
	char *keys[CONFIG_LINES_MAX], *vals[CONFIG_LINES_MAX];
	int done[CONFIG_LINES_MAX];
	int i, n = 0, left, progress, rc = KP_OK, nset = 0;

	if (size > CONFIG_WRITE_MAX || memchr(data, '\0', size) != NULL)
		return -EINVAL;
	if ((text = malloc(size + 1)) == NULL)
		return -ENOMEM;
	memcpy(text, data, size);
	text[size] = '\0';
	/* syntax first, so that nothing changes on a malformed write */
	for (line = text; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		key = trim(line);
		if (*key == '\0' || *key == '#')
			continue;
		if ((eq = strchr(key, '=')) == NULL || n == CONFIG_LINES_MAX) {
			rc = -EINVAL;
			goto out;
		}
		*eq = '\0';
		key = trim(key);
		val = trim(eq + 1);
		if (*key == '\0' || *val == '\0') {
			rc = -EINVAL;
			goto out;
		}
		keys[n] = key;
		vals[n] = val;
		done[n] = 0;
		n++;
	}
	pthread_mutex_lock(&fs->lock);
	if ((rc = kp_pool_policy_get(fs->fp, &saved)) != KP_OK) {
		pthread_mutex_unlock(&fs->lock);
		rc = -kpfs_errno(rc);
		goto out;
	}
	for (left = n, progress = 1; left > 0 && progress; ) {
		progress = 0;
		for (i = 0; i < n; i++) {
			if (done[i])
				continue;
			rc = kp_pool_config_set(fs->fp, keys[i], vals[i]);
			if (rc == KP_OK) {
				done[i] = 1;
				left--;
				progress = 1;
				nset++;
			} else if (rc != KP_EINVAL)
				break;
		}
		if (rc != KP_OK && rc != KP_EINVAL)
			break;
	}
	if (left > 0) {
		for (i = 0; i < n && done[i]; i++)
			;
		if (rc == KP_OK)
			rc = KP_EINVAL;
		kpfs_log(LOG_NOTICE, "config %s = %s: %s", keys[i], vals[i],
		    kp_errmsg(fs->fp));
		if (nset > 0 && kp_pool_policy_set(fs->fp, &saved) != KP_OK)
			kpfs_log(LOG_ERR, "config: cannot restore the policy: "
			    "%s", kp_errmsg(fs->fp));
	} else
		rc = KP_OK;
	pthread_mutex_unlock(&fs->lock);
	if (rc != KP_OK) {
		rc = rc == KP_ENOMEM ? -ENOMEM : rc == KP_EDB || rc == KP_EIO ?
		    -EIO : -EINVAL;
		goto out;
	}
	pthread_mutex_lock(&fs->mlock);
	fs->config_mtime = kpfs_now(fs);
	pthread_mutex_unlock(&fs->mlock);
	/* the refresh thread rereads refresh_interval on its next wait */
	pthread_mutex_lock(&fs->rlock);
	pthread_cond_broadcast(&fs->rcond);
	pthread_mutex_unlock(&fs->rlock);
	kpfs_invalidate(fs, "/status");
	rc = (int)size;
 out:
	free(text);
	return rc;
}

/*
 * ctl takes one command a write (a trailing newline is fine):
 *
 *	ctl	= "sync" | "refresh" | "generate" SP count | "cleanup"
 *	count	= 1*DIGIT		(1 .. hard_cap)
 *
 *	sync		pull the server's view of our keys, push the
 *			created ones
 *	refresh		expire, sync and replenish to target
 *	generate N	make N keys in created/
 *	cleanup		move keys past not_after to expired/, then
 *			delete
 *			the expired keys and the spent ones whose private
 *			keys were taken
 *
 * The command runs before write(2) returns; its failure is the write's.
 */
static const struct {
	const char	*verb;
	int		 what;
	int		 takes_count;
} ctl_verbs[] = {
	{ "sync",	KPFS_R_SYNC,	 0 },
	{ "refresh",	KPFS_R_REFRESH,	 0 },
	{ "generate",	KPFS_R_GENERATE, 1 },
	{ "cleanup",	KPFS_R_CLEANUP,	 0 },
};

static int
write_ctl(struct kpfs *fs, const char *data, size_t size)
{
	char cmd[64], *arg, *end;
	unsigned long n = 0;
	size_t len = size, i;
	int rc;

	if (len > 0 && data[len - 1] == '\n')
		len--;
	if (len == 0 || len >= sizeof(cmd) || memchr(data, '\n', len) ||
	    memchr(data, '\0', len))
		return -EINVAL;
	memcpy(cmd, data, len);
	cmd[len] = '\0';
	arg = strchr(cmd, ' ');
	if (arg != NULL)
		*arg++ = '\0';
	for (i = 0; i < sizeof(ctl_verbs) / sizeof(ctl_verbs[0]); i++)
		if (strcmp(cmd, ctl_verbs[i].verb) == 0)
			break;
	if (i == sizeof(ctl_verbs) / sizeof(ctl_verbs[0]))
		return -EINVAL;
	if (ctl_verbs[i].takes_count) {
		if (arg == NULL || *arg < '1' || *arg > '9')
			return -EINVAL;
		errno = 0;
		n = strtoul(arg, &end, 10);
		if (errno != 0 || *end != '\0' || n == 0 || n > UINT32_MAX)
			return -EINVAL;
	} else if (arg != NULL)
		return -EINVAL;
	rc = kpfs_refresh_request(fs, ctl_verbs[i].what, (uint32_t)n);
	if (rc != KP_OK)
		return rc == KP_ETOOBIG ? -EINVAL : -kpfs_errno(rc);
	return (int)size;
}

/*
 * welcome: the bytes of an MLSMessage(Welcome), in one write or several;
 * it is opened as soon as it is whole.  The write that completes it
 * fails if it is not ours or does not open.
 */
static int
write_welcome(struct kpfs *fs, struct kpfs_fh *fh, const char *data,
    size_t size)
{
	struct kp_welcome_info info;
	uint8_t ref[KP_REF_LEN], *refs = NULL, *nb;
	char hex[2 * KP_REF_LEN + 1], gid[2 * KP_MAX_GROUP_ID + 1];
	int before[16], rc, found;
	size_t i, nrefs = 0;
	struct kpfs_key k;

	if (fh->done)
		return -EINVAL;
	if (size > WELCOME_MAX || fh->len > WELCOME_MAX - size)
		return -EINVAL;
	if ((nb = realloc(fh->buf, fh->len + size)) == NULL)
		return -ENOMEM;
	fh->buf = nb;
	memcpy(fh->buf + fh->len, data, size);
	fh->len += size;

	memset(&info, 0, sizeof(info));
	rc = kp_welcome_refs(fh->buf, fh->len, &refs, &nrefs);
	if (rc == KP_ETRUNC)
		return (int)size;	/* wait for the rest */
	if (rc != KP_OK)
		goto fail;
	pthread_mutex_lock(&fs->tlock);
	pthread_mutex_lock(&fs->lock);
	for (i = 0; i < nrefs && i < 16; i++) {
		before[i] = -1;
		if (kpfs_pool_load(fs->fp, refs + i * KP_REF_LEN, &k,
		    &found) == KP_OK && found)
			before[i] = k.state;
	}
	rc = kp_pool_welcome(fs->fp, fh->buf, fh->len, ref, &info);
	if (rc != KP_OK)
		kpfs_log(LOG_NOTICE, "welcome: %s", kp_errmsg(fs->fp));
	else {
		hidden_drop(fs, ref);
		cache_drop(fs, ref);
		/* spent, or where it was for a last-resort key */
		if (kpfs_pool_load(fs->fp, ref, &k, &found) == KP_OK && found)
			kpfs_snap_note(fs, ref, k.state);
	}
	pthread_mutex_unlock(&fs->lock);
	pthread_mutex_unlock(&fs->tlock);
	if (rc != KP_OK)
		goto fail;
	fh->done = 1;
	kp_hex(ref, KP_REF_LEN, hex);
	if (info.group_id_len <= KP_MAX_GROUP_ID)
		kp_hex(info.group_id, info.group_id_len, gid);
	else
		gid[0] = '\0';
	kpfs_log(LOG_INFO, "welcome: key %s joined group %s at epoch %"
	    PRIu64, hex, gid, info.epoch);
	for (i = 0; i < nrefs && i < 16; i++)
		if (memcmp(refs + i * KP_REF_LEN, ref, KP_REF_LEN) == 0 &&
		    before[i] >= 0) {
			kpfs_invalidate_key(fs, before[i], hex);
			changed_state(fs, before[i]);
		}
	kpfs_invalidate_key(fs, KP_STATE_SPENT, hex);
	changed_state(fs, KP_STATE_SPENT);
	kp_welcome_info_free(&info);
	free(refs);
	return (int)size;
 fail:
	free(refs);
	/* a later write starts a new Welcome */
	sodium_memzero(fh->buf, fh->len);
	fh->len = 0;
	return -kpfs_errno(rc);
}

static int
kpfs_write(const char *path, const char *data, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	struct kpfs *fs = FS();
	struct kpfs_fh *fh = (struct kpfs_fh *)(uintptr_t)fi->fh;

	if (fh == NULL)
		return -EBADF;
	if (fh->kind != KPFS_ROOTFILE)
		return -EACCES;
	switch (fh->file) {
	case KPFS_F_CONFIG:
		return write_config(fs, data, size);
	case KPFS_F_CTL:
		return write_ctl(fs, data, size);
	case KPFS_F_WELCOME:
		return write_welcome(fs, fh, data, size);
	default:
		return -EACCES;
	}
}

static int
kpfs_flush(const char *path, struct fuse_file_info *fi)
{
	struct kpfs_fh *fh = (struct kpfs_fh *)(uintptr_t)fi->fh;

	/* a Welcome left incomplete is reported by close(2) */
	if (fh != NULL && fh->kind == KPFS_ROOTFILE &&
	    fh->file == KPFS_F_WELCOME && !fh->done && fh->len > 0)
		return -EINVAL;
	return 0;
}

static int
kpfs_release(const char *path, struct fuse_file_info *fi)
{
	struct kpfs_fh *fh = (struct kpfs_fh *)(uintptr_t)fi->fh;

	if (fh != NULL) {
		handle_unlink(FS(), &fh->h);
		fh_free(fh);
	}
	fi->fh = 0;
	return 0;
}

static int
kpfs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct kpfs_path pp;
	int rc;

	if ((rc = kpfs_path_parse(path, &pp)) != 0)
		return rc;
	if (pp.kind != KPFS_ROOTFILE && pp.kind != KPFS_KEYFILE)
		return -EISDIR;
	if (pp.kind == KPFS_KEYFILE || pp.file == KPFS_F_STATUS)
		return -EACCES;
	/* O_TRUNC on config, ctl or welcome: writes replace, nothing to do */
	return size == 0 ? 0 : -EINVAL;
}

/* Does path name something that exists?  0 or -errno. */
static int
exists(struct kpfs *fs, const struct kpfs_path *pp)
{
	struct kpfs_key k;
	uint32_t mask = 0;
	int rc;

	if (pp->kind != KPFS_KEYDIR && pp->kind != KPFS_KEYFILE)
		return 0;
	if ((rc = load_key(fs, pp, &k, &mask)) != 0)
		return rc;
	if (pp->kind == KPFS_KEYFILE && !keyfile_exists(&k, mask, pp->file))
		return -ENOENT;
	return 0;
}

static int
kpfs_access(const char *path, int mask)
{
	struct kpfs *fs = FS();
	struct kpfs_path pp;
	mode_t mode;
	int rc;

	if ((rc = kpfs_path_parse(path, &pp)) != 0)
		return rc;
	if ((rc = exists(fs, &pp)) != 0)
		return rc;
	if (pp.kind == KPFS_ROOTFILE)
		mode = rootfile_mode[pp.file];
	else if (pp.kind == KPFS_KEYFILE)
		mode = 0444;
	else
		mode = 0755;
	if (((mask & R_OK) && !(mode & 0400)) ||
	    ((mask & W_OK) && !(mode & 0200)) ||
	    ((mask & X_OK) && !(mode & 0100)))
		return -EACCES;
	return 0;
}

/*
 * Health after a rename that asked the server: its answer (a move done,
 * or a refusal) clears offline like any exchange; no answer sets it.
 * The local refusals (the key is not in its state, the move is not in
 * the table) say nothing of the server.
 */
static void
note_answer(struct kpfs *fs, int rc)
{
	int online;

	switch (rc) {
	case KP_OK:
	case KP_EBUSY:
	case KP_EPERM:
	case KP_ECONFLICT:
	case KP_EFORBIDDEN:
	case KP_EGONE:
	case KP_ERATE:
	case KP_EAUTH:
	case KP_EPROTO:
		online = 1;
		break;
	case KP_ENET:
	case KP_ESERVER:
		online = 0;
		break;
	default:
		return;
	}
	pthread_mutex_lock(&fs->mlock);
	fs->online = fs->server != NULL && online;
	pthread_mutex_unlock(&fs->mlock);
}

/*
 * A transition: rename /FROM/<ref> to /TO/<ref>, asking the server
 * first (kp_pool_transition).  Everything else is refused: a new name or
 * a place that is not a state directory with EINVAL, RENAME_EXCHANGE
 * with EINVAL, a fixed entry with EPERM.
 */
static int
kpfs_rename(const char *from, const char *to, unsigned int flags)
{
	struct kpfs *fs = FS();
	struct kpfs_path a, b;
	struct kpfs_key k;
	char msg[256] = "";
	int found = 0, rc, trc;

	if (flags & ~(unsigned int)RENAME_NOREPLACE)
		return -EINVAL;
	if ((rc = kpfs_path_parse(from, &a)) != 0)
		return rc;
	if (a.kind != KPFS_KEYDIR) {
		if ((rc = exists(fs, &a)) != 0)
			return rc;
		return a.kind == KPFS_KEYFILE || a.kind == KPFS_ROOTFILE ?
		    -EACCES : -EPERM;
	}
	if (kpfs_path_parse(to, &b) != 0 || b.kind != KPFS_KEYDIR ||
	    memcmp(a.ref, b.ref, KP_REF_LEN) != 0)
		return -EINVAL;

	pthread_mutex_lock(&fs->tlock);
	/*
	 * No load first: the library checks the source state itself (a
	 * compare-and-set); only a refusal needs the key, to tell a source
	 * that is not there (ENOENT) from a move not allowed (EPERM).
	 */
	if (a.state == b.state)
		rc = KP_ESTATE;
	else if (a.state == KP_STATE_CREATED && b.state == KP_STATE_EXPIRED) {
		/*
		 * The local move asks no server: it runs on fp, whose
		 * pages the LOOKUPs before the rename just read.
		 */
		pthread_mutex_lock(&fs->lock);
		rc = kp_pool_transition(fs->fp, a.ref, a.state, b.state);
		if (rc != KP_OK)
			snprintf(msg, sizeof(msg), "%s", kp_errmsg(fs->fp));
		pthread_mutex_unlock(&fs->lock);
	} else {
		rc = kp_pool_transition(fs->tp, a.ref, a.state, b.state);
		if (rc != KP_OK)
			snprintf(msg, sizeof(msg), "%s", kp_errmsg(fs->tp));
		note_answer(fs, rc);
	}
	if (rc == KP_ESTATE || rc == KP_ENOTFOUND) {
		trc = rc;
		rc = kpfs_pool_load(fs->tp, a.ref, &k, &found);
		if (rc != KP_OK) {
			kpfs_log(LOG_ERR, "load %s: %s", a.ref_hex,
			    kp_errmsg(fs->tp));
			rc = -kpfs_errno(rc);
			goto out;
		}
		if (!found || k.state != a.state) {
			rc = -ENOENT;
			goto out;
		}
		if (a.state == b.state) {
			rc = (flags & RENAME_NOREPLACE) ? -EEXIST : 0;
			goto out;
		}
		rc = trc;
	}
	if (rc != KP_OK) {
		kpfs_log(LOG_NOTICE, "mv %s %s -> %s: %s", a.ref_hex,
		    kp_state_name(a.state), kp_state_name(b.state), msg);
		rc = -kpfs_errno(rc);
		goto out;
	}
	kpfs_log(LOG_INFO, "mv %s %s -> %s", a.ref_hex,
	    kp_state_name(a.state), kp_state_name(b.state));
	kpfs_snap_note(fs, a.ref, b.state);
	rc = 0;
 out:
	pthread_mutex_unlock(&fs->tlock);
	if (rc == 0 && a.state != b.state) {
		kpfs_key_changed(fs, a.ref);
		/* the files move with the directory: drop their sizes */
		kpfs_invalidate_key(fs, a.state, a.ref_hex);
		changed_state(fs, a.state);
		changed_state(fs, b.state);
		if (b.state == KP_STATE_EXPIRED)
			kpfs_scrub_soon(fs);	/* the wipe's, off this path */
	}
	return rc;
}

/*
 * rmdir of a key in created/, spent/ or expired/ deletes it and wipes
 * its private keys; in available/ or reserved/ it is in use (EBUSY).
 * The root and the state directories stay (EBUSY).
 */
static int
kpfs_rmdir(const char *path)
{
	struct kpfs *fs = FS();
	struct kpfs_path pp;
	struct kpfs_key k;
	int rc;

	if ((rc = kpfs_path_parse(path, &pp)) != 0)
		return rc;
	if (pp.kind == KPFS_ROOTFILE || pp.kind == KPFS_KEYFILE)
		return -ENOTDIR;
	if (pp.kind != KPFS_KEYDIR)
		return -EBUSY;
	if ((rc = load_key(fs, &pp, &k, NULL)) != 0)
		return rc;
	if (k.state == KP_STATE_AVAILABLE || k.state == KP_STATE_RESERVED)
		return -EBUSY;
	pthread_mutex_lock(&fs->tlock);
	pthread_mutex_lock(&fs->lock);
	rc = kp_pool_delete(fs->fp, pp.ref);
	if (rc != KP_OK)
		kpfs_log(LOG_NOTICE, "rmdir %s: %s", pp.ref_hex,
		    kp_errmsg(fs->fp));
	else {
		hidden_drop(fs, pp.ref);
		cache_drop(fs, pp.ref);
	}
	pthread_mutex_unlock(&fs->lock);
	if (rc == KP_OK)
		kpfs_snap_note(fs, pp.ref, -1);
	pthread_mutex_unlock(&fs->tlock);
	if (rc != KP_OK)
		return -kpfs_errno(rc);
	kpfs_log(LOG_INFO, "deleted %s from %s", pp.ref_hex,
	    kp_state_name(pp.state));
	changed_state(fs, pp.state);
	return 0;
}

/*
 * unlink: the root files stay (EACCES).  A file of a deletable key
 * (created, spent, expired) disappears from the listing until the key is
 * removed, so that rm -r works; a key in use refuses (EBUSY).
 */
static int
kpfs_unlink(const char *path)
{
	struct kpfs *fs = FS();
	struct kpfs_path pp;
	struct kpfs_key k;
	uint32_t mask = 0;
	int rc;

	if ((rc = kpfs_path_parse(path, &pp)) != 0)
		return rc;
	if (pp.kind == KPFS_ROOTFILE)
		return -EACCES;
	if (pp.kind != KPFS_KEYFILE)
		return -EISDIR;
	if ((rc = load_key(fs, &pp, &k, &mask)) != 0)
		return rc;
	if (!keyfile_exists(&k, mask, pp.file))
		return -ENOENT;
	if (k.state == KP_STATE_AVAILABLE || k.state == KP_STATE_RESERVED)
		return -EBUSY;
	pthread_mutex_lock(&fs->lock);
	rc = hidden_add(fs, pp.ref, pp.file);
	pthread_mutex_unlock(&fs->lock);
	return rc;
}

static int
kpfs_mkdir(const char *path, mode_t mode)
{
	return -EACCES;
}

static int
kpfs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	return -EACCES;
}

static int
kpfs_mknod(const char *path, mode_t mode, dev_t dev)
{
	return -EACCES;
}

static int
kpfs_symlink(const char *target, const char *path)
{
	return -EACCES;
}

static int
kpfs_link(const char *from, const char *to)
{
	return -EACCES;
}

static int
kpfs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	return -EPERM;
}

static int
kpfs_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	return -EPERM;
}

static int
kpfs_utimens(const char *path, const struct timespec tv[2],
    struct fuse_file_info *fi)
{
	struct kpfs_path pp;
	int rc;

	if ((rc = kpfs_path_parse(path, &pp)) != 0)
		return rc;
	/* touch(1) on a writable file is harmless; the rest is read-only */
	if (pp.kind == KPFS_ROOTFILE && pp.file != KPFS_F_STATUS)
		return 0;
	return -EACCES;
}

static int
kpfs_statfs(const char *path, struct statvfs *sv)
{
	struct kpfs *fs = FS();
	struct kp_counts c;
	int rc;

	pthread_mutex_lock(&fs->lock);
	rc = kp_pool_counts(fs->fp, &c);
	pthread_mutex_unlock(&fs->lock);
	if (rc != KP_OK)
		return -kpfs_errno(rc);
	memset(sv, 0, sizeof(*sv));
	sv->f_bsize = 4096;
	sv->f_frsize = 4096;
	sv->f_files = c.total + 1 + KPFS_NROOTFILES + KP_NSTATES;
	sv->f_namemax = 255;
	return 0;
}

static void *
kpfs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	struct kpfs *fs = FS();
	struct kpfs_key *keys = NULL;
	size_t i, n = 0;
	int rc;

	cfg->entry_timeout = 1.0;
	cfg->attr_timeout = 1.0;
	cfg->negative_timeout = 0.0;
	cfg->hard_remove = 1;
	cfg->use_ino = 0;
	fs->fuse = fuse_get_context()->fuse;

	fs->mounted_at = fs->config_mtime = kpfs_now(fs);
	for (i = 0; i < KP_NSTATES; i++)
		fs->state_mtime[i] = fs->mounted_at * KPFS_NS;
	if ((rc = kpfs_open_pool(fs, &fs->fp)) != KP_OK ||
	    (rc = kpfs_open_pool(fs, &fs->tp)) != KP_OK)
		goto fail;
	if ((rc = kpfs_pool_list(fs->fp, -1, &keys, &n)) != KP_OK) {
		kpfs_log(LOG_ERR, "%s: %s", fs->store, kp_errmsg(fs->fp));
		goto fail;
	}
	/* a state directory last changed when its newest key arrived */
	for (i = 0; i < KP_NSTATES; i++)
		fs->state_mtime[i] = 0;
	for (i = 0; i < n; i++)
		if (keys[i].state >= 0 && keys[i].state < KP_NSTATES &&
		    keys[i].changed_at * KPFS_NS > fs->state_mtime[keys[i].state])
			fs->state_mtime[keys[i].state] = keys[i].changed_at *
			    KPFS_NS;
	for (i = 0; i < KP_NSTATES; i++)
		if (fs->state_mtime[i] == 0)
			fs->state_mtime[i] = fs->mounted_at * KPFS_NS;
	free(keys);
	if ((rc = kpfs_refresh_start(fs)) != KP_OK)
		goto fail;
	kpfs_log(LOG_INFO, "mounted the pool of %s (%s), server %s",
	    fs->user, fs->store, fs->server ? fs->server : "none");
	return fs;
 fail:
	kpfs_log(LOG_ERR, "cannot start: %s", kp_strerror(rc));
	fuse_exit(fs->fuse);
	return fs;
}

static void
kpfs_destroy(void *data)
{
	struct kpfs *fs = data;
	struct kpfs_handle *h;
	int i;

	kpfs_refresh_stop(fs);
	/* files still open at unmount get no release from the kernel */
	while ((h = fs->handles) != NULL) {
		fs->handles = h->next;
		if (h->dir)
			dir_free((struct kpfs_dir *)h);
		else
			fh_free((struct kpfs_fh *)h);
	}
	kp_pool_close(fs->tp);
	kp_pool_close(fs->fp);
	fs->tp = fs->fp = NULL;
	free(fs->hidden);
	fs->hidden = NULL;
	fs->nhidden = 0;
	cache_clear(fs);
	for (i = 0; i < KP_NSTATES; i++) {
		free(fs->lists[i].e);
		fs->lists[i].e = NULL;
	}
	kpfs_log(LOG_INFO, "unmounted");
}

const struct fuse_operations kpfs_ops = {
	.init		= kpfs_init,
	.destroy	= kpfs_destroy,
	.getattr	= kpfs_getattr,
	.opendir	= kpfs_opendir,
	.readdir	= kpfs_readdir,
	.releasedir	= kpfs_releasedir,
	.open		= kpfs_open,
	.read		= kpfs_read,
	.write		= kpfs_write,
	.flush		= kpfs_flush,
	.release	= kpfs_release,
	.truncate	= kpfs_truncate,
	.access		= kpfs_access,
	.rename		= kpfs_rename,
	.rmdir		= kpfs_rmdir,
	.unlink		= kpfs_unlink,
	.mkdir		= kpfs_mkdir,
	.create		= kpfs_create,
	.mknod		= kpfs_mknod,
	.symlink	= kpfs_symlink,
	.link		= kpfs_link,
	.chmod		= kpfs_chmod,
	.chown		= kpfs_chown,
	.utimens	= kpfs_utimens,
	.statfs		= kpfs_statfs,
};
