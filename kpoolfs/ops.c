/* SPDX-License-Identifier: ISC */
/*
 * ops.c: the fuse_operations of kpoolfs (high-level API, -errno).  Each
 * parses its path, asks the cache (cache.c), the control files (ctl.c)
 * or the pool, and answers; what a change does to the cache and the
 * kernel's entries is the pool observer's business (cache.c).
 *
 * Errors follow one table (kpoolfs(1), kpool(7)): EINVAL bad syntax,
 * ENOENT unknown key, EEXIST name collision, EPERM forbidden transition,
 * EBUSY in use, EHOSTUNREACH or EIO server trouble, EACCES writes to
 * read-only files.  A forbidden move never gives EXDEV, which would make
 * mv(1) copy and delete.
 */
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <sodium.h>

#include "kpoolfs.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE	(1 << 0)
#endif

static const mode_t rootfile_mode[KPFS_NROOTFILES] = {
	0444,	/* status */
	0644,	/* config */
	0200,	/* ctl */
	0200,	/* welcome */
	0444,	/* identity */
	0444,	/* devices */
	0444,	/* status.json */
	0444,	/* events */
};

/* A directory listing, taken at opendir and served by offset. */
struct kpfs_dir {
	struct kpfs_handle h;		/* first: on fs->handles */
	size_t		 n, cap;
	struct kpfs_dent *e;
	/*
	 * names only: the same listing was handed out with attributes
	 * less than a second ago, so the kernel still holds them
	 */
	int		 names_only;
};

static struct kpfs *
FS(void)
{
	return fuse_get_context()->private_data;
}

/* Set the three times of st to t nanoseconds. */
static void
set_times(struct stat *st, int64_t t)
{
	st->st_mtim.tv_sec = (time_t)(t / KPFS_NS);
	st->st_mtim.tv_nsec = (long)(t % KPFS_NS);
	st->st_atim = st->st_ctim = st->st_mtim;
}

static void
stat_dir(struct kpfs *fs, struct stat *st, nlink_t nlink, int64_t mtime)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFDIR | 0755;
	st->st_nlink = nlink;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	set_times(st, mtime);
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
	set_times(st, mtime);		/* ns */
}

/* A key file exists: it applies to the key and was not unlinked. */
static int
keyfile_exists(const struct kp_key *k, uint32_t mask, int f)
{
	return kpfs_keyfile_applies(k, f) && (mask & (1u << f)) == 0;
}

/*
 * Attributes of file f of key k.  The owner's group_id file is read
 * from the pool, not under the cache's lock: kpfs_group_size() sets
 * its size afterwards.
 */
static int
stat_keyfile(struct kpfs *fs, const struct kp_key *k, int f, struct stat *st)
{
	char	buf[KPFS_INFO_MAX];
	int	n;

	if (f == KPFS_K_KEYPACKAGE) {
		stat_file(fs, st, 0444, (off_t)kp_key_keypackage_len(k),
		    kp_key_time_ns(k, KP_T_CREATED));
		return 0;
	}
	if (kpfs_group_mine(k, f))
		n = 0;
	else if ((n = kpfs_keyfile_render(k, f, buf, sizeof(buf))) < 0)
		return -EIO;
	stat_file(fs, st, kpfs_group_mine(k, f) ? 0644 : 0444, n,
	    kp_key_time_ns(k, KP_T_CHANGED));
	return 0;
}

/* What getattr, access and rename ask of a key (kpfs_cache_key). */
struct ask {
	struct kpfs	*fs;
	int		 file;		/* KPFS_K_*, -1: the directory */
	struct stat	*st;		/* NULL: only whether it exists */
	int		 state;		/* its state */
	int		 group;		/* st is the owner's group_id file's */
	uint8_t		 ref[KP_REF_LEN];
};

static int
ask_key(void *arg, const struct kp_key *k, uint32_t mask)
{
	struct ask	*a = arg;

	a->state = kp_key_state(k);
	if (a->file >= 0 && !keyfile_exists(k, mask, a->file))
		return -ENOENT;
	if (a->st == NULL)
		return 0;
	if (a->file < 0) {
		stat_dir(a->fs, a->st, 2, kp_key_time_ns(k, KP_T_CHANGED));
		return 0;
	}
	if ((a->group = kpfs_group_mine(k, a->file)))
		memcpy(a->ref, kp_key_ref(k), KP_REF_LEN);
	return stat_keyfile(a->fs, k, a->file, a->st);
}

/* Does the key path pp name something that exists?  0 or -errno. */
static int
exists(struct kpfs *fs, const struct kpfs_path *pp)
{
	struct ask	a = { .fs = fs, .file = -1, .st = NULL, .state = -1 };

	if (pp->kind != KPFS_KEYDIR && pp->kind != KPFS_KEYFILE)
		return 0;
	if (pp->kind == KPFS_KEYFILE)
		a.file = pp->file;
	return kpfs_cache_key(fs, pp, ask_key, &a);
}

/* The attributes of a file at the root. */
static int
stat_rootfile(struct kpfs *fs, int f, struct stat *st)
{
	char	*text = NULL;
	int64_t	 mounted, config, t, at;
	int	 rc;

	kpfs_cache_times(fs, &mounted, &config, &t);
	switch (f) {
	case KPFS_F_CONFIG:
		if ((rc = kpfs_ctl_config(fs, &text)) < 0)
			return rc;
		stat_file(fs, st, rootfile_mode[f], (off_t)strlen(text), 0);
		free(text);
		t = config * KPFS_NS;
		break;
	case KPFS_F_CTL:
	case KPFS_F_WELCOME:
	case KPFS_F_EVENTS:	/* its mtime: the last change */
		stat_file(fs, st, rootfile_mode[f], 0, 0);
		if ((t = f == KPFS_F_EVENTS ? kpfs_events_last(fs) : 0) == 0)
			t = mounted * KPFS_NS;
		break;
	default:	/* status, identity, devices: text to read */
		if ((rc = kpfs_ctl_text(fs, f, &text, &at)) < 0)
			return rc;
		stat_file(fs, st, rootfile_mode[f], (off_t)strlen(text), 0);
		free(text);
		if (f != KPFS_F_STATUS && f != KPFS_F_STATUS_JSON)
			t = mounted * KPFS_NS;
		if (at * KPFS_NS > t)
			t = at * KPFS_NS;
		break;
	}
	set_times(st, t);
	return 0;
}

static int
kpfs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct kpfs		*fs;
	struct kpfs_path	 pp;
	struct kp_counts	 c;
	struct ask		 a;
	int64_t			 mounted, config, latest;
	int			 rc;

	fs = FS();
	if ((rc = kpfs_path_parse(path, &pp)) != 0)
		return rc;
	switch (pp.kind) {
	case KPFS_ROOT:
		kpfs_cache_times(fs, &mounted, &config, &latest);
		stat_dir(fs, st, 2 + KP_NSTATES, config * KPFS_NS);
		return 0;
	case KPFS_ROOTFILE:
		return stat_rootfile(fs, pp.file, st);
	case KPFS_STATEDIR:
		if ((rc = kpfs_cache_counts(fs, &c)) != KP_OK)
			return -kpfs_errno(rc);
		/* one link per key directory, as their ".." */
		stat_dir(fs, st, 2 + c.n[pp.state], 0);
		set_times(st, kpfs_cache_state_mtime(fs, pp.state));
		return 0;
	default:
		a.fs = fs;
		a.file = pp.kind == KPFS_KEYFILE ? pp.file : -1;
		a.st = st;
		a.group = 0;
		if ((rc = kpfs_cache_key(fs, &pp, ask_key, &a)) == 0 &&
		    a.group)
			rc = kpfs_group_size(fs, a.ref, st);
		return rc;
	}
}

/* Put an open file or directory on fs->handles. */
static void
handle_link(struct kpfs *fs, struct kpfs_handle *h, int dir)
{
	h->dir = dir;
	pthread_mutex_lock(&fs->lock);
	LIST_INSERT_HEAD(&fs->handles, h, link);
	pthread_mutex_unlock(&fs->lock);
}

/* Take a released one off. */
static void
handle_unlink(struct kpfs *fs, struct kpfs_handle *h)
{
	pthread_mutex_lock(&fs->lock);
	LIST_REMOVE(h, link);
	pthread_mutex_unlock(&fs->lock);
}

/* Room for want entries in d. */
static int
dir_reserve(struct kpfs_dir *d, size_t want)
{
	struct kpfs_dent	*e;
	size_t			 c = d->cap ? d->cap : 32;

	while (c < want)
		c *= 2;
	if (c == d->cap)
		return 0;
	if ((e = reallocarray(d->e, c, sizeof(*e))) == NULL)
		return -ENOMEM;
	d->e = e;
	d->cap = c;
	return 0;
}

static int
dir_add(struct kpfs_dir *d, const char *name, const struct stat *st)
{
	struct kpfs_dent	*e;
	int			 rc;

	if (d->n == d->cap && (rc = dir_reserve(d, d->n + 1)) != 0)
		return rc;
	e = &d->e[d->n++];
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->has_st = st != NULL;
	if (st != NULL) {
		e->mode = st->st_mode;
		e->nlink = st->st_nlink;
		e->size = st->st_size;
		e->mtime = (int64_t)st->st_mtim.tv_sec * KPFS_NS +
		    st->st_mtim.tv_nsec;
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
		if (fh->ph != NULL)
			fuse_pollhandle_destroy(fh->ph);
		free(fh->buf);
		free(fh);
	}
}

/* The files of a key directory, with their attributes. */
static int
list_key(void *arg, const struct kp_key *k, uint32_t mask)
{
	struct kpfs_dir	*d = arg;
	struct stat	 st;
	int		 f, rc = 0;

	for (f = 0; f < KPFS_NKEYFILES && rc == 0; f++) {
		if (!keyfile_exists(k, mask, f))
			continue;
		/* the owner's group_id: its size needs the pool, which
		 * the cache's lock keeps out; the kernel asks getattr */
		if (kpfs_group_mine(k, f))
			rc = dir_add(d, kpfs_keyfile_name(f), NULL);
		else
			rc = stat_keyfile(FS(), k, f, &st) == 0 ?
		    dir_add(d, kpfs_keyfile_name(f), &st) :
		    dir_add(d, kpfs_keyfile_name(f), NULL);
	}
	return rc;
}

/* The keys of a state directory after . and .. */
static int
list_state(struct kpfs *fs, struct kpfs_dir *d, int state)
{
	struct kpfs_dent	*e = NULL;
	size_t			 n = 0;
	int			 rc;

	if ((rc = kpfs_cache_list(fs, state, &e, &n, &d->names_only)) !=
	    KP_OK)
		return -kpfs_errno(rc);
	if ((rc = dir_reserve(d, d->n + n)) == 0) {
		memcpy(d->e + d->n, e, n * sizeof(*e));
		d->n += n;
	}
	free(e);
	if (n > 1024)
		malloc_trim(0);		/* a big listing: give it back */
	return rc;
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
	struct kpfs		*fs;
	struct kpfs_path	 pp;
	struct kpfs_dir		*d;
	int			 f, rc;

	fs = FS();
	if ((rc = kpfs_path_parse(path, &pp)) != 0)
		return rc;
	if (pp.kind == KPFS_ROOTFILE || pp.kind == KPFS_KEYFILE)
		return -ENOTDIR;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return -ENOMEM;
	if ((rc = dir_add(d, ".", NULL)) != 0 ||
	    (rc = dir_add(d, "..", NULL)) != 0)
		goto out;
	switch (pp.kind) {
	case KPFS_ROOT:
		for (f = 0; f < KPFS_NROOTFILES && rc == 0; f++)
			rc = dir_add(d, kpfs_rootfile_name(f), NULL);
		for (f = 0; f < KP_NSTATES && rc == 0; f++)
			rc = dir_add(d, kp_state_name(f), NULL);
		break;
	case KPFS_STATEDIR:
		rc = list_state(fs, d, pp.state);
		break;
	case KPFS_KEYDIR:
		rc = kpfs_cache_key(fs, &pp, list_key, d);
		break;
	}
	if (rc != 0)
		goto out;
	handle_link(fs, &d->h, 1);
	fi->fh = (uintptr_t)d;
	d = NULL;
out:
	dir_free(d);
	return rc;
}

static int
kpfs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
    struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct kpfs		*fs;
	struct kpfs_dir		*d;
	struct kpfs_dent	*e;
	struct stat		 st;
	size_t			 i;
	int			 plus;

	fs = FS();
	d = (struct kpfs_dir *)(uintptr_t)fi->fh;
	plus = (flags & FUSE_READDIR_PLUS) != 0;
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
			set_times(&st, e->mtime);
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
	struct kpfs_dir	*d;

	d = (struct kpfs_dir *)(uintptr_t)fi->fh;
	if (d != NULL) {
		handle_unlink(FS(), &d->h);
		dir_free(d);
	}
	fi->fh = 0;
	return 0;
}

/* What open asks of a key (kpfs_cache_key): its file's text. */
struct opened {
	struct kpfs	*fs;
	int		 file;
	int		 acc;		/* O_RDONLY, ... */
	struct kpfs_fh	*fh;
	int		 group;		/* the owner's group_id, to read */
};

static int
open_keyfile(void *arg, const struct kp_key *k, uint32_t mask)
{
	struct opened	*o = arg;
	int		 n;

	if (!keyfile_exists(k, mask, o->file))
		return -ENOENT;
	if (kpfs_group_mine(k, o->file)) {
		/* read from the pool once the cache's lock is gone */
		memcpy(o->fh->ref, kp_key_ref(k), KP_REF_LEN);
		o->group = o->acc != O_WRONLY;
		return 0;
	}
	if (o->acc != O_RDONLY)
		return -EACCES;
	if (o->file == KPFS_K_KEYPACKAGE)
		return 0;	/* read from the pool */
	if ((o->fh->buf = malloc(KPFS_INFO_MAX)) == NULL)
		return -ENOMEM;
	if ((n = kpfs_keyfile_render(k, o->file, (char *)o->fh->buf,
	    KPFS_INFO_MAX)) < 0)
		return -EIO;
	o->fh->len = n;
	return 0;
}

static int
kpfs_open(const char *path, struct fuse_file_info *fi)
{
	struct kpfs		*fs;
	struct kpfs_path	 pp;
	struct kpfs_fh		*fh;
	struct opened		 o;
	int			 rc;

	fs = FS();
	if ((rc = kpfs_path_parse(path, &pp)) != 0)
		return rc;
	if (pp.kind != KPFS_ROOTFILE && pp.kind != KPFS_KEYFILE)
		return -EISDIR;
	if ((fh = calloc(1, sizeof(*fh))) == NULL)
		return -ENOMEM;
	fh->kind = pp.kind;
	fh->file = pp.file;
	fi->direct_io = 1;
	fi->nonseekable = pp.kind == KPFS_ROOTFILE && pp.file == KPFS_F_EVENTS;
	if (pp.kind == KPFS_ROOTFILE)
		rc = kpfs_ctl_open(fs, pp.file, fi->flags & O_ACCMODE, fh);
	else {
		o.fs = fs;
		o.acc = fi->flags & O_ACCMODE;
		o.file = pp.file;
		o.fh = fh;
		o.group = 0;
		if ((rc = kpfs_cache_key(fs, &pp, open_keyfile, &o)) == 0 &&
		    o.group)
			rc = kpfs_group_open(fs, fh);
	}
	if (rc == 0 && pp.kind == KPFS_KEYFILE &&
	    pp.file == KPFS_K_KEYPACKAGE) {
		if ((rc = kp_pool_keypackage(fs->pool, pp.ref, &fh->buf,
		    &fh->len)) != KP_OK)
			rc = -kpfs_errno(rc);
		/* it never changes: let the kernel cache it */
		fi->direct_io = 0;
		fi->keep_cache = 1;
	}
	if (rc != 0)
		goto out;
	handle_link(fs, &fh->h, 0);
	fi->fh = (uintptr_t)fh;
	fh = NULL;
out:
	fh_free(fh);
	return rc;
}

static int
kpfs_read(const char *path, char *buf, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	struct kpfs_fh	*fh;

	fh = (struct kpfs_fh *)(uintptr_t)fi->fh;
	if (fh == NULL)
		return -EBADF;
	if (fh->kind == KPFS_ROOTFILE && (fh->file == KPFS_F_CTL ||
	    fh->file == KPFS_F_WELCOME))
		return -EACCES;
	if (fh->kind == KPFS_ROOTFILE && fh->file == KPFS_F_EVENTS)
		return kpfs_events_read(FS(), fh, buf, size,
		    (fi->flags & O_NONBLOCK) != 0);
	if (off < 0)
		return -EINVAL;
	if ((size_t)off >= fh->len)
		return 0;
	if (size > fh->len - off)
		size = fh->len - off;
	memcpy(buf, fh->buf + off, size);
	return (int)size;
}

static int
kpfs_write(const char *path, const char *data, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	struct kpfs	*fs;
	struct kpfs_fh	*fh;

	fs = FS();
	fh = (struct kpfs_fh *)(uintptr_t)fi->fh;
	if (fh == NULL)
		return -EBADF;
	if (fh->kind != KPFS_ROOTFILE)
		return kpfs_group_write(fs, fh, data, size);
	switch (fh->file) {
	case KPFS_F_CONFIG:
		return kpfs_ctl_write_config(fs, data, size);
	case KPFS_F_CTL:
		return kpfs_ctl_write_ctl(fs, data, size);
	case KPFS_F_WELCOME:
		return kpfs_ctl_write_welcome(fs, fh, data, size);
	default:
		return -EACCES;
	}
}

static int
kpfs_flush(const char *path, struct fuse_file_info *fi)
{
	struct kpfs_fh	*fh;

	fh = (struct kpfs_fh *)(uintptr_t)fi->fh;
	/* a Welcome left incomplete is reported by close(2) */
	if (fh != NULL && fh->kind == KPFS_ROOTFILE &&
	    fh->file == KPFS_F_WELCOME)
		return kpfs_ctl_flush_welcome(fh);
	return 0;
}

static int
kpfs_release(const char *path, struct fuse_file_info *fi)
{
	struct kpfs_fh	*fh;

	fh = (struct kpfs_fh *)(uintptr_t)fi->fh;
	if (fh != NULL) {
		handle_unlink(FS(), &fh->h);
		if (fh->kind == KPFS_ROOTFILE && fh->file == KPFS_F_EVENTS)
			kpfs_events_close(FS());
		fh_free(fh);
	}
	fi->fh = 0;
	return 0;
}

static int
kpfs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct kpfs_path	pp;
	int			rc;

	if ((rc = kpfs_path_parse(path, &pp)) != 0)
		return rc;
	if (pp.kind != KPFS_ROOTFILE && pp.kind != KPFS_KEYFILE)
		return -EISDIR;
	if (pp.kind == KPFS_KEYFILE && pp.file == KPFS_K_GROUP_ID &&
	    kpfs_group_state(pp.state))
		return size == 0 ? 0 : -EINVAL;	/* writes replace it */
	if (pp.kind == KPFS_KEYFILE || !(rootfile_mode[pp.file] & 0200))
		return -EACCES;
	/* O_TRUNC on config, ctl or welcome: writes replace, nothing to do */
	return size == 0 ? 0 : -EINVAL;
}

static int
kpfs_access(const char *path, int mask)
{
	struct kpfs_path	pp;
	mode_t			mode;
	int			rc;

	if ((rc = kpfs_path_parse(path, &pp)) != 0)
		return rc;
	if ((rc = exists(FS(), &pp)) != 0)
		return rc;
	if (pp.kind == KPFS_ROOTFILE)
		mode = rootfile_mode[pp.file];
	else if (pp.kind == KPFS_KEYFILE)
		mode = pp.file == KPFS_K_GROUP_ID &&
		    kpfs_group_state(pp.state) ? 0644 : 0444;
	else
		mode = 0755;
	if (((mask & R_OK) && !(mode & 0400)) ||
	    ((mask & W_OK) && !(mode & 0200)) ||
	    ((mask & X_OK) && !(mode & 0100)))
		return -EACCES;
	return 0;
}

/*
 * Why a transition from a's state to to was refused (KP_ESTATE or
 * KP_ENOTFOUND): -ENOENT when the key is not in a's state (or not
 * there); a move to the same state is no move (0), or EEXIST with
 * RENAME_NOREPLACE; 1 when the move itself is what was refused.
 */
static int
refusal(struct kpfs *fs, const struct kpfs_path *a, int to,
    unsigned int flags)
{
	struct kp_key	*k = NULL;
	int		 rc, state;

	if ((rc = kpfs_load_key(fs, a, &k)) != 0)
		return rc;
	state = kp_key_state(k);
	kp_key_free(k);
	if (state != a->state)
		return -ENOENT;
	if (a->state == to)
		return (flags & RENAME_NOREPLACE) ? -EEXIST : 0;
	return 1;
}

/*
 * A transition: rename /FROM/<ref> to /TO/<ref>, asking the server
 * first when the move has a call (kp_pool_transition).  Everything else
 * is refused: a new name or a place that is not a state directory with
 * EINVAL, RENAME_EXCHANGE with EINVAL, a fixed entry with EPERM.
 */
static int
kpfs_rename(const char *from, const char *to, unsigned int flags)
{
	struct kpfs		*fs;
	struct kpfs_path	 a, b;
	char			 msg[256];
	int			 kp, rc;

	fs = FS();
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
	/*
	 * No load first: the library checks the source state itself (a
	 * compare-and-set); only a refusal needs the key, to tell a source
	 * that is not there (ENOENT) from a move not allowed (EPERM).
	 */
	if (a.state == b.state)
		kp = KP_ESTATE;
	else {
		kpfs_cache_renaming(a.ref);
		kp = kp_pool_transition(fs->pool, a.ref, a.state, b.state);
		kpfs_cache_renaming(NULL);
	}
	if (kp == KP_OK) {
		kpfs_log(LOG_INFO, "mv %s %s -> %s", a.ref_hex,
		    kp_state_name(a.state), kp_state_name(b.state));
		/* the local move's commit and the wipe's scrub come later */
		if (b.state == KP_STATE_EXPIRED)
			kpfs_flush_soon(fs);
		return 0;
	}
	snprintf(msg, sizeof(msg), "%s", kp_errmsg(fs->pool));
	kpfs_refused(fs, "mv", a.ref_hex, a.state, b.state, kpfs_errno(kp));
	if ((kp == KP_ESTATE || kp == KP_ENOTFOUND) &&
	    (rc = refusal(fs, &a, b.state, flags)) <= 0)
		return rc;
	kpfs_log(LOG_NOTICE, "mv %s %s -> %s: %s", a.ref_hex,
	    kp_state_name(a.state), kp_state_name(b.state), msg);
	return -kpfs_errno(kp);
}

/* What rmdir and unlink ask of a key: its state (and its file). */
static int
state_of(void *arg, const struct kp_key *k, uint32_t mask)
{
	struct ask	*a = arg;

	a->state = kp_key_state(k);
	return a->file >= 0 && !keyfile_exists(k, mask, a->file) ?
	    -ENOENT : 0;
}

/*
 * rmdir of a key in created/, spent/ or expired/ deletes it and wipes
 * its private keys; in available/ or reserved/ it is in use (EBUSY).
 * The root and the state directories stay (EBUSY).
 */
static int
kpfs_rmdir(const char *path)
{
	struct kpfs		*fs;
	struct kpfs_path	 pp;
	struct ask		 a = { .file = -1, .state = -1 };
	int			 rc;

	fs = FS();
	if ((rc = kpfs_path_parse(path, &pp)) != 0)
		return rc;
	if (pp.kind == KPFS_ROOTFILE || pp.kind == KPFS_KEYFILE)
		return -ENOTDIR;
	if (pp.kind != KPFS_KEYDIR)
		return -EBUSY;
	if ((rc = kpfs_cache_key(fs, &pp, state_of, &a)) != 0)
		return rc;
	if (a.state == KP_STATE_AVAILABLE || a.state == KP_STATE_RESERVED)
		return -EBUSY;
	if ((rc = kp_pool_delete(fs->pool, pp.ref)) != KP_OK) {
		kpfs_refused(fs, "rmdir", pp.ref_hex, pp.state, -1,
		    kpfs_errno(rc));
		kpfs_log(LOG_NOTICE, "rmdir %s: %s", pp.ref_hex,
		    kp_errmsg(fs->pool));
		return -kpfs_errno(rc);
	}
	kpfs_log(LOG_INFO, "deleted %s from %s", pp.ref_hex,
	    kp_state_name(pp.state));
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
	struct kpfs		*fs;
	struct kpfs_path	 pp;
	struct ask		 a = { .file = -1, .state = -1 };
	int			 rc;

	fs = FS();
	if ((rc = kpfs_path_parse(path, &pp)) != 0)
		return rc;
	if (pp.kind == KPFS_ROOTFILE)
		return -EACCES;
	if (pp.kind != KPFS_KEYFILE)
		return -EISDIR;
	a.file = pp.file;
	if ((rc = kpfs_cache_key(fs, &pp, state_of, &a)) != 0)
		return rc;
	if (a.state == KP_STATE_AVAILABLE || a.state == KP_STATE_RESERVED)
		return -EBUSY;
	return kpfs_cache_hide(fs, pp.ref, pp.file);
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
	struct kpfs_path	pp;
	int			rc;

	if ((rc = kpfs_path_parse(path, &pp)) != 0)
		return rc;
	/* touch(1) on a writable file is harmless; the rest is read-only */
	if (pp.kind == KPFS_ROOTFILE && (rootfile_mode[pp.file] & 0200))
		return 0;
	return -EACCES;
}

static int
kpfs_statfs(const char *path, struct statvfs *sv)
{
	struct kp_counts	c;
	int			rc;

	if ((rc = kp_pool_counts(FS()->pool, 0, &c)) != KP_OK)
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
	struct kpfs	*fs;
	int		 rc;

	fs = FS();
	cfg->entry_timeout = 1.0;
	cfg->attr_timeout = 1.0;
	cfg->negative_timeout = 0.0;
	cfg->hard_remove = 1;
	cfg->use_ino = 0;
	fs->fuse = fuse_get_context()->fuse;
	if (fs->test_init_delay > 0)
		(void)nanosleep(&(struct timespec){
		    .tv_sec = fs->test_init_delay / 1000,
		    .tv_nsec = fs->test_init_delay % 1000 * 1000000L }, NULL);
	if ((rc = kpfs_events_init(fs)) != KP_OK ||
	    (rc = kpfs_open_pool(fs, &fs->pool)) != KP_OK ||
	    (rc = kpfs_cache_init(fs)) != KP_OK)
		goto fail;
	/* the cache, then the events' readers */
	kp_pool_set_watcher(fs->pool, kpfs_events_watch, fs);
	/* the refresh thread commits what a rename batched (flush_soon) */
	if (kp_pool_set_batching(fs->pool, 1) != KP_OK)
		kpfs_log(LOG_NOTICE, "%s", kp_errmsg(fs->pool));
	if ((rc = kpfs_refresh_start(fs)) != KP_OK)
		goto fail;
	kpfs_log(LOG_INFO, "mounted the pool of %s (%s), server %s",
	    fs->user, fs->store, fs->server ? fs->server : "none");
	return fs;
fail:
	kpfs_log(LOG_ERR, "cannot start: %s", kp_strerror(rc));
	fs->init_failed = 1;	/* serve() exits 1 */
	fuse_exit(fs->fuse);
	return fs;
}

static void
kpfs_destroy(void *data)
{
	struct kpfs		*fs = data;
	struct kpfs_handle	*h;

	kpfs_refresh_stop(fs);
	/* files still open at unmount get no release from the kernel */
	while ((h = LIST_FIRST(&fs->handles)) != NULL) {
		LIST_REMOVE(h, link);
		if (h->dir)
			dir_free((struct kpfs_dir *)h);
		else
			fh_free((struct kpfs_fh *)h);
	}
	kp_pool_close(fs->pool);
	fs->pool = NULL;
	kpfs_cache_fini(fs);
	kpfs_events_fini(fs);
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
	.poll		= kpfs_events_poll,
};
