/* SPDX-License-Identifier: ISC */
/*
 * memfs: the reference of the tree benchmark (bench/run-tree.sh).  A
 * minimal in-memory FUSE file system, on the same high-level libfuse API
 * and timeouts as kpoolfs, that serves a copy of a directory tree:
 *
 *	memfs [-f] SRC MOUNTPOINT
 *
 * SRC (for instance a cp -r of a mounted kpoolfs tree) is read into
 * memory at start; the mount serves it read-only but for rename(2),
 * which moves entries as kpoolfs's transitions do.  Lookups go through
 * one hash table of full paths.
 */
#define FUSE_USE_VERSION 35

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct node {
	char		*path;		/* full path, "/": root */
	const char	*name;		/* in path: its last part */
	struct stat	 st;
	char		*data;		/* file content */
	struct node	*parent;
	struct node	*child, *next, *prev;	/* directory entries */
	struct node	*hnext;		/* hash chain */
};

#define NBUCKETS	(1u << 16)
static struct node *buckets[NBUCKETS];
static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;

static unsigned int
hash(const char *s)
{
	unsigned int h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h & (NBUCKETS - 1);
}

static struct node *
find(const char *path)
{
	struct node *n;

	for (n = buckets[hash(path)]; n != NULL; n = n->hnext)
		if (strcmp(n->path, path) == 0)
			return n;
	return NULL;
}

static void
hash_add(struct node *n)
{
	unsigned int h = hash(n->path);

	n->hnext = buckets[h];
	buckets[h] = n;
}

static void
hash_del(struct node *n)
{
	struct node **p;

	for (p = &buckets[hash(n->path)]; *p != NULL; p = &(*p)->hnext)
		if (*p == n) {
			*p = n->hnext;
			return;
		}
}

static void
link_child(struct node *dir, struct node *n)
{
	n->parent = dir;
	n->prev = NULL;
	n->next = dir->child;
	if (dir->child != NULL)
		dir->child->prev = n;
	dir->child = n;
}

static void
unlink_child(struct node *n)
{
	if (n->prev != NULL)
		n->prev->next = n->next;
	else
		n->parent->child = n->next;
	if (n->next != NULL)
		n->next->prev = n->prev;
}

static int
set_path(struct node *n, const char *dirpath, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", strcmp(dirpath, "/") == 0 ? "" : dirpath,
	    name) == -1)
		return -1;
	free(n->path);
	n->path = p;
	n->name = strrchr(p, '/') + 1;
	return 0;
}

/* Read the tree under src into dir. */
static int
load(struct node *dir, const char *src)
{
	DIR *d;
	struct dirent *e;
	struct node *n;
	char p[PATH_MAX];
	FILE *f;

	if ((d = opendir(src)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", src, e->d_name);
		if ((n = calloc(1, sizeof(*n))) == NULL)
			return -1;
		if (lstat(p, &n->st) == -1 ||
		    set_path(n, dir->path, e->d_name) == -1)
			return -1;
		n->st.st_ino = 0;
		link_child(dir, n);
		hash_add(n);
		if (S_ISDIR(n->st.st_mode)) {
			if (load(n, p) == -1)
				return -1;
		} else if (S_ISREG(n->st.st_mode) && n->st.st_size > 0 &&
		    (n->st.st_mode & 0444)) {
			if ((n->data = malloc(n->st.st_size)) == NULL ||
			    (f = fopen(p, "rb")) == NULL)
				return -1;
			if (fread(n->data, 1, n->st.st_size, f) !=
			    (size_t)n->st.st_size) {
				fclose(f);
				return -1;
			}
			fclose(f);
		}
	}
	closedir(d);
	return 0;
}

static int
m_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct node *n;
	int rc = -ENOENT;

	pthread_rwlock_rdlock(&lock);
	if ((n = find(path)) != NULL) {
		*st = n->st;
		rc = 0;
	}
	pthread_rwlock_unlock(&lock);
	return rc;
}

static int
m_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
    struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct node *n, *c;
	int rc = -ENOENT;

	pthread_rwlock_rdlock(&lock);
	if ((n = find(path)) != NULL) {
		fill(buf, ".", NULL, 0, 0);
		fill(buf, "..", NULL, 0, 0);
		for (c = n->child; c != NULL; c = c->next)
			if (fill(buf, c->name, &c->st, 0,
			    (flags & FUSE_READDIR_PLUS) ?
			    FUSE_FILL_DIR_PLUS : 0))
				break;
		rc = 0;
	}
	pthread_rwlock_unlock(&lock);
	return rc;
}

static int
m_open(const char *path, struct fuse_file_info *fi)
{
	struct node *n;
	int rc = -ENOENT;

	pthread_rwlock_rdlock(&lock);
	if ((n = find(path)) != NULL) {
		rc = (fi->flags & O_ACCMODE) != O_RDONLY ? -EACCES : 0;
		fi->direct_io = 1;	/* as kpoolfs does */
	}
	pthread_rwlock_unlock(&lock);
	return rc;
}

static int
m_read(const char *path, char *buf, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	struct node *n;
	int rc = -ENOENT;

	pthread_rwlock_rdlock(&lock);
	if ((n = find(path)) != NULL) {
		if (off >= n->st.st_size)
			rc = 0;
		else {
			if ((off_t)size > n->st.st_size - off)
				size = n->st.st_size - off;
			memcpy(buf, n->data + off, size);
			rc = (int)size;
		}
	}
	pthread_rwlock_unlock(&lock);
	return rc;
}

/* Re-path a subtree after a rename. */
static int
repath(struct node *n)
{
	struct node *c;

	for (c = n->child; c != NULL; c = c->next) {
		hash_del(c);
		if (set_path(c, n->path, c->name) == -1)
			return -1;
		hash_add(c);
		if (repath(c) == -1)
			return -1;
	}
	return 0;
}

static int
m_rename(const char *from, const char *to, unsigned int flags)
{
	struct node *n, *dir;
	char *slash, dpath[PATH_MAX];
	int rc = 0;

	if (flags != 0)
		return -EINVAL;
	snprintf(dpath, sizeof(dpath), "%s", to);
	if ((slash = strrchr(dpath, '/')) == NULL)
		return -EINVAL;
	*slash = '\0';
	pthread_rwlock_wrlock(&lock);
	if ((n = find(from)) == NULL)
		rc = -ENOENT;
	else if (find(to) != NULL)
		rc = -EEXIST;
	else if ((dir = find(dpath[0] ? dpath : "/")) == NULL)
		rc = -ENOENT;
	else {
		hash_del(n);
		unlink_child(n);
		if (set_path(n, dir->path, slash + 1) == -1 || repath(n) == -1)
			rc = -ENOMEM;
		link_child(dir, n);
		hash_add(n);
	}
	pthread_rwlock_unlock(&lock);
	return rc;
}

static void *
m_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	cfg->entry_timeout = 1.0;
	cfg->attr_timeout = 1.0;
	cfg->negative_timeout = 0.0;
	cfg->hard_remove = 1;
	return NULL;
}

static const struct fuse_operations m_ops = {
	.init		= m_init,
	.getattr	= m_getattr,
	.readdir	= m_readdir,
	.open		= m_open,
	.read		= m_read,
	.rename		= m_rename,
};

int
main(int argc, char *argv[])
{
	struct node *root;
	char **fargv;
	int i, fargc = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: memfs [-f] [fuse options] src "
		    "mountpoint\n");
		return 2;
	}
	if ((root = calloc(1, sizeof(*root))) == NULL ||
	    (root->path = strdup("/")) == NULL)
		return 1;
	root->name = root->path;
	if (stat(argv[argc - 2], &root->st) == -1 ||
	    load(root, argv[argc - 2]) == -1) {
		perror(argv[argc - 2]);
		return 1;
	}
	hash_add(root);
	/* hand libfuse everything but SRC */
	if ((fargv = calloc(argc, sizeof(*fargv))) == NULL)
		return 1;
	for (i = 0; i < argc; i++)
		if (i != argc - 2)
			fargv[fargc++] = argv[i];
	return fuse_main(fargc, fargv, &m_ops, NULL);
}
