/* SPDX-License-Identifier: ISC */
/*
 * kpoolfs: mount one user's pool of MLS KeyPackages as a directory tree.
 *
 *	kpoolfs [-dfhsV] [-o option[,option...]] [store] mountpoint
 *
 * The store is the user's own ($XDG_DATA_HOME/kpool/pool.db, as kpool(1)
 * makes it) unless named; it remembers its server, which -o server=URL
 * sets at first use.
 * main.c parses the options (ours through a fuse_opt table, the rest go
 * to libfuse), checks that the store opens, mounts, daemonizes unless -f
 * and runs the FUSE loop.  It runs the steps of fuse_main itself so that
 * the refresh thread, which drops the kernel's caches through the
 * struct fuse, is joined before that struct goes (fuse_destroy frees
 * its node tables before it calls our destroy).  SIGTERM, SIGINT,
 * SIGHUP and fusermount3 -u unmount cleanly and exit 0.
 */
#include <err.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "kpoolfs.h"

#include <fuse_lowlevel.h>

#define KPOOLFS_VERSION	"0.1"

struct opts {
	char	*server;
	char	*cafile;
	char	*invite;
	char	*user;
	char	*device;
	char	*keyfile;
	char	*test_clock;
	int	 test_init_delay;
	int	 refresh;
	char	*store;
	int	 nonopts;
	int	 help;
	int	 version;
	int	 foreground;
	int	 allow_other;
	int	 default_permissions;
};

enum {
	KEY_HELP, KEY_VERSION, KEY_FOREGROUND, KEY_ALLOW_OTHER,
	KEY_DEFAULT_PERMISSIONS
};

#define OPT(t, f)	{ t, offsetof(struct opts, f), 1 }
static const struct fuse_opt opt_spec[] = {
	OPT("server=%s", server),
	OPT("cafile=%s", cafile),
	OPT("invite=%s", invite),
	OPT("user=%s", user),
	OPT("device=%s", device),
	OPT("keyfile=%s", keyfile),
	OPT("test_clock=%s", test_clock),
	OPT("test_init_delay=%d", test_init_delay),
	OPT("refresh=%d", refresh),
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_KEY("-f", KEY_FOREGROUND),
	FUSE_OPT_KEY("-d", KEY_FOREGROUND),
	FUSE_OPT_KEY("debug", KEY_FOREGROUND),
	FUSE_OPT_KEY("allow_other", KEY_ALLOW_OTHER),
	FUSE_OPT_KEY("default_permissions", KEY_DEFAULT_PERMISSIONS),
	FUSE_OPT_END
};

static int
opt_proc(void *data, const char *arg, int key, struct fuse_args *out)
{
	struct opts	*o = data;

	switch (key) {
	case KEY_HELP:
		o->help = 1;
		return 0;
	case KEY_VERSION:
		o->version = 1;
		return 1;
	case KEY_FOREGROUND:
		o->foreground = 1;
		return 1;
	case KEY_ALLOW_OTHER:
		o->allow_other = 1;
		return 1;
	case KEY_DEFAULT_PERMISSIONS:
		o->default_permissions = 1;
		return 1;
	case FUSE_OPT_KEY_NONOPT:
		/*
		 * the first is the store, the second the mount point; a
		 * lone one is the mount point (main puts it back)
		 */
		if (o->nonopts++ == 0) {
			o->store = strdup(arg);
			return o->store == NULL ? -1 : 0;
		}
		return 1;
	default:
		return 1;
	}
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: kpoolfs [-dfhsV] [-o option[,option...]] "
	    "[store] mountpoint\n");
}

static void
help(void)
{
	usage(stdout);
	printf("\n"
	    "Mounts the pool of MLS KeyPackages kept in the SQLite file "
	    "store\n"
	    "(default: $XDG_DATA_HOME/kpool/pool.db, made by kpool init).\n"
	    "\n"
	    "kpoolfs options:\n"
	    "    -o server=URL          kpool-server to sync with "
	    "(default: the store's;\n"
	    "                           kept by the store at first use; "
	    "none: offline)\n"
	    "    -o cafile=PATH         CAs to verify an https:// server "
	    "with (kept in the\n"
	    "                           store; default: the store's, or "
	    "the system's)\n"
	    "    -o invite=TOKEN        an invitation, for a server that "
	    "registers users\n"
	    "                           with one only (used once, not "
	    "kept)\n"
	    "    -o user=NAME           the pool's user (a new store "
	    "needs it)\n"
	    "    -o device=NAME         this device of the user (default: "
	    "the store's, or default)\n"
	    "    -o keyfile=PATH        at-rest key of the private keys "
	    "(default: store.key)\n"
	    "    -o refresh=SECONDS     refresh every SECONDS, 0 never "
	    "(default: config)\n"
	    "    -o test_clock=FILE     tests only: FILE holds the unix "
	    "time to use\n"
	    "    -o test_init_delay=MS  tests only: wait MS ms after the "
	    "mount before\n"
	    "                           opening the store\n"
	    "\n");
}

/* An absolute version of path (which need not exist), malloc'd. */
static char *
absolute(const char *path)
{
	char	cwd[PATH_MAX], *out;

	if (path[0] == '/')
		return strdup(path);
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return NULL;
	if (asprintf(&out, "%s/%s", cwd, path) == -1)
		return NULL;
	return out;
}

/*
 * check_store: open the store once, before the mount, so that a bad store
 * fails with a message on the terminal; a new store is created here.
 * The user and the device become the store's.  0, or -1 after a
 * message.
 */
static int
check_store(struct kpfs *fs)
{
	struct kp_pool	*p = NULL;
	char		*u, *d, url[KP_MAX_URL + 1];

	if (kpfs_open_pool(fs, &p) != KP_OK)
		return -1;
	if (kp_pool_remembered_server(p, url, sizeof(url)) != KP_OK) {
		warnx("%s: %s", fs->store, kp_errmsg(p));
		goto fail;
	}
	/* the store keeps the first server it is mounted with */
	if (fs->server != NULL && url[0] == '\0' &&
	    kp_pool_remember_server(p, fs->server) != KP_OK) {
		warnx("server=%s: %s", fs->server, kp_errmsg(p));
		goto fail;
	}
	if (fs->server == NULL && !fs->offline) {
		if (url[0] == '\0') {
			warnx("%s remembers no server: mount with -o "
			    "server=URL (the store keeps it), or -o "
			    "server=none to stay offline", fs->store);
			goto fail;
		}
		if ((fs->server = strdup(url)) == NULL) {
			warnx("out of memory");
			goto fail;
		}
	}
	u = strdup(kp_pool_user(p));
	d = strdup(kp_pool_device(p));
	kp_pool_close(p);
	if (u == NULL || d == NULL) {
		free(u);
		free(d);
		warnx("out of memory");
		return -1;
	}
	free(fs->user);
	fs->user = u;
	free(fs->device);
	fs->device = d;
	return 0;
fail:
	kp_pool_close(p);
	return -1;
}

/*
 * fuse_main's steps, with the refresh thread stopped between the end of
 * the loop and fuse_destroy.  Returns the exit status: 0 after an
 * unmount or a signal, 1 on failure (init's included: the pool did not
 * open once mounted).
 */
static int
serve(struct fuse_args *args, struct kpfs *fs, int checked)
{
	struct fuse_cmdline_opts	 co;
	struct fuse_loop_config		*lc = NULL;
	struct fuse_session		*se = NULL;
	struct fuse			*f = NULL;
	int				 rc = 1, mounted = 0, signals = 0, res;

	memset(&co, 0, sizeof(co));
	if (fuse_parse_cmdline(args, &co) != 0)
		goto out;
	if (co.mountpoint == NULL) {
		usage(stderr);
		goto out;
	}
	fs->singlethread = co.singlethread;
	/* libfuse refuses an unknown option here, before the store is made */
	if ((f = fuse_new(args, &kpfs_ops, sizeof(kpfs_ops), fs)) == NULL)
		goto out;
	if (!checked && check_store(fs) != 0)
		goto out;
	if (fuse_mount(f, co.mountpoint) != 0)
		goto out;
	mounted = 1;
	se = fuse_get_session(f);
	if (fuse_daemonize(co.foreground) != 0)
		goto out;
	/* from here on nobody reads the terminal */
	if (!fs->foreground)
		kpfs_log_to_syslog();
	if (fuse_set_signal_handlers(se) != 0)
		goto out;
	signals = 1;
	if (co.singlethread)
		res = fuse_loop(f);
	else {
		if ((lc = fuse_loop_cfg_create()) == NULL)
			goto out;
		fuse_loop_cfg_set_clone_fd(lc, (unsigned int)co.clone_fd);
		fuse_loop_cfg_set_idle_threads(lc, co.max_idle_threads);
		/* readers blocked in events leave the rest their workers */
		fuse_loop_cfg_set_max_threads(lc, co.max_threads +
		    KPFS_EVENTS_OPEN);
		res = fuse_loop_mt(f, lc);
	}
	/*
	 * the loop ends with 0 on unmount, with the signal's number on one,
	 * and with 0 too when init could not open the pool (fuse_exit)
	 */
	rc = res == 0 || res == SIGTERM || res == SIGINT || res == SIGHUP ?
	    0 : 1;
	if (rc != 0)
		kpfs_log(LOG_ERR, "the FUSE loop failed: %d", res);
	if (fs->init_failed)
		rc = 1;
 out:
	if (signals)
		fuse_remove_signal_handlers(se);
	/* no more invalidations: the thread goes before the struct fuse */
	kpfs_refresh_stop(fs);
	if (mounted)
		fuse_unmount(f);
	if (f != NULL)
		fuse_destroy(f);
	if (lc != NULL)
		fuse_loop_cfg_destroy(lc);
	free(co.mountpoint);
	return rc;
}

/*
 * hide_invite: blank the token of -o invite= in the command line, which
 * every local user reads in /proc (libfuse parsed copies of it).
 */
static void
hide_invite(int argc, char **argv)
{
	char	*p;
	int	 i;

	for (i = 1; i < argc; i++)
		for (p = argv[i]; (p = strstr(p, "invite=")) != NULL; )
			for (p += 7; *p != '\0' && *p != ','; p++)
				*p = '*';
}

int
main(int argc, char *argv[])
{
	struct fuse_args	 args = FUSE_ARGS_INIT(argc, argv);
	struct kpfs		 fs;
	struct opts		 o;
	pthread_condattr_t	 ca;
	char			*fsname = NULL;
	const char		*u;
	char			 dflt[PATH_MAX];
	int			 rc = 1, checked;

	memset(&fs, 0, sizeof(fs));
	memset(&o, 0, sizeof(o));
	o.refresh = -1;
	if (fuse_opt_parse(&args, &o, opt_spec, opt_proc) == -1)
		goto out;
	hide_invite(argc, argv);
	if (o.help) {
		help();
		/* libfuse's options, without its own usage line */
		if (fuse_opt_add_arg(&args, "--help") == -1)
			goto out;
		args.argv[0][0] = '\0';
		rc = fuse_main(args.argc, args.argv, &kpfs_ops, NULL);
		rc = 0;
		goto out;
	}
	if (o.version) {
		printf("kpoolfs version %s\n", KPOOLFS_VERSION);
		rc = fuse_main(args.argc, args.argv, &kpfs_ops, NULL);
		rc = 0;
		goto out;
	}
	if (o.store == NULL || o.nonopts < 1 || o.nonopts > 2) {
		usage(stderr);
		goto out;
	}
	if (o.nonopts == 1) {
		/* kpoolfs MNT: the mount point, on the user's store */
		if (fuse_opt_add_arg(&args, o.store) == -1) {
			warnx("out of memory");
			goto out;
		}
		free(o.store);
		o.store = NULL;
		if ((rc = kp_default_store(dflt, sizeof(dflt))) != KP_OK) {
			warnx("no store named and %s: name one (kpoolfs "
			    "[options] store mountpoint)", rc == KP_ENOTFOUND ?
			    "neither XDG_DATA_HOME nor HOME is set" :
			    "the default store's path is too long");
			rc = 1;
			goto out;
		}
		rc = 1;
		if (access(dflt, F_OK) != 0) {
			warnx("no store at %s: make one with \"kpool init "
			    "--server URL --user NAME\", or name one "
			    "(kpoolfs [options] store mountpoint)", dflt);
			goto out;
		}
		if ((o.store = strdup(dflt)) == NULL) {
			warnx("out of memory");
			goto out;
		}
	}
	if (sodium_init() == -1)
		errx(1, "libsodium does not initialize");
	/*
	 * Memory: libfuse's worker threads would each get a malloc arena,
	 * and each pool handle an SQLite page cache; a few MiB do.  A
	 * fixed mmap threshold stops glibc from raising it after a big
	 * free, which would keep every later listing on the heap.
	 */
	mallopt(M_ARENA_MAX, 2);
	/* a listing of 10,000 keys is 7 MiB: give it back when freed */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	sqlite3_soft_heap_limit64(2 * 1024 * 1024);

	/* an existing store knows its user and server; a new one is told */
	checked = access(o.store, F_OK) == 0;
	u = o.user;
	if (!checked && (u == NULL || o.server == NULL)) {
		warnx("%s is a new store: it needs -o user=NAME and -o "
		    "server=URL (or server=none to stay offline)", o.store);
		goto out;
	}
	if (u != NULL && (*u == '\0' || strlen(u) > KP_MAX_USERNAME)) {
		warnx("a user name of 1 to %d bytes is needed (-o user=NAME)",
		    KP_MAX_USERNAME);
		goto out;
	}
	if (o.device != NULL && !kp_devicename_valid(o.device)) {
		warnx("device=%s: 1 to %d of a-z 0-9, and . _ - after the "
		    "first", o.device, KP_MAX_DEVICE);
		goto out;
	}
	if (o.test_init_delay < 0 || o.test_init_delay > 600000) {
		warnx("test_init_delay=%d: milliseconds, 0 to 600000",
		    o.test_init_delay);
		goto out;
	}
	if (o.refresh < -1) {
		warnx("refresh=%d: seconds, 0 or more", o.refresh);
		goto out;
	}
	if ((u != NULL && (fs.user = strdup(u)) == NULL) ||
	    (o.device != NULL && (fs.device = strdup(o.device)) == NULL) ||
	    (fs.store = absolute(o.store)) == NULL ||
	    (o.keyfile != NULL && (fs.keyfile = absolute(o.keyfile)) == NULL) ||
	    (o.cafile != NULL && (fs.cafile = absolute(o.cafile)) == NULL) ||
	    (o.invite != NULL && (fs.invite = strdup(o.invite)) == NULL) ||
	    (o.test_clock != NULL &&
	    (fs.test_clock = absolute(o.test_clock)) == NULL)) {
		warn("options");
		goto out;
	}
	if (o.server != NULL && (*o.server == '\0' ||
	    strcmp(o.server, "none") == 0))
		fs.offline = 1;
	else if (o.server != NULL && (fs.server = strdup(o.server)) == NULL) {
		warnx("out of memory");
		goto out;
	}
	fs.refresh = o.refresh;
	fs.test_init_delay = o.test_init_delay;
	fs.foreground = o.foreground;
	fs.uid = getuid();
	fs.gid = getgid();
	pthread_mutex_init(&fs.lock, NULL);
	LIST_INIT(&fs.handles);
	pthread_mutex_init(&fs.rqlock, NULL);
	pthread_mutex_init(&fs.rlock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&fs.rcond, &ca);
	pthread_condattr_destroy(&ca);

	/*
	 * An existing store is checked now and names its user; a new one
	 * is created only once libfuse has accepted the options, so that a
	 * bad option leaves nothing behind.
	 */
	if (checked && check_store(&fs) != 0)
		goto out;
	if (fs.user == NULL) {
		warnx("a new store needs a user name (-o user=NAME)");
		goto out;
	}

	/*
	 * Our defaults go first, so the user's -o options win: a name for
	 * mount(8), and a cap on idle threads (libfuse 3.14's default of
	 * -1 makes it print a warning at every mount).
	 */
	/*
	 * allow_other lets other local users into the tree; without
	 * default_permissions the kernel would not check the modes, and
	 * they could reserve keys and rewrite config.  So one implies the
	 * other.
	 */
	if (asprintf(&fsname, "-ofsname=kpool:%s,subtype=kpoolfs,"
	    "max_idle_threads=8%s", fs.user, o.allow_other &&
	    !o.default_permissions ? ",default_permissions" : "") == -1 ||
	    fuse_opt_insert_arg(&args, 1, fsname) == -1) {
		warnx("out of memory");
		goto out;
	}
	rc = serve(&args, &fs, checked);
 out:
	fuse_opt_free_args(&args);
	free(fsname);
	free(fs.user);
	free(fs.device);
	free(fs.store);
	free(fs.keyfile);
	free(fs.cafile);
	if (fs.invite != NULL)
		sodium_memzero(fs.invite, strlen(fs.invite));
	free(fs.invite);
	free(fs.test_clock);
	free(fs.server);
	free(o.store);
	free(o.server);
	free(o.user);
	free(o.device);
	free(o.keyfile);
	free(o.cafile);
	if (o.invite != NULL)
		sodium_memzero(o.invite, strlen(o.invite));
	free(o.invite);
	free(o.test_clock);
	return rc;
}
