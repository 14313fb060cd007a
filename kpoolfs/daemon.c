/* SPDX-License-Identifier: ISC */
/*
 * daemon.c: what every part of kpoolfs uses: the log (stderr in the
 * foreground, syslog once daemonized), the mount's clock (the real one,
 * or -o test_clock's file), the pool's opening with the mount's server
 * and clock, a key's loading, and the one table from KP_E* codes to
 * errno.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include <time.h>

#include "kpoolfs.h"

/* Set by the main thread before the FUSE loop starts: no lock. */
static int log_foreground = 1;

void
kpfs_log(int prio, const char *fmt, ...)
{
	va_list	ap;
	char	line[1024];

	va_start(ap, fmt);
	if (log_foreground) {
		/* one write a line: stderr is unbuffered */
		(void)vsnprintf(line, sizeof(line), fmt, ap);
		fprintf(stderr, "kpoolfs: %s\n", line);
	} else
		vsyslog(prio, fmt, ap);
	va_end(ap);
}

/* libfuse's own messages go where ours go. */
static void
fuse_log_to_syslog(enum fuse_log_level level, const char *fmt, va_list ap)
{
	vsyslog((int)level, fmt, ap);
}

void
kpfs_log_to_syslog(void)
{
	openlog("kpoolfs", LOG_PID, LOG_DAEMON);
	log_foreground = 0;
	fuse_set_log_func(fuse_log_to_syslog);
}

/* The pool's clock: the test clock's file, or the real time. */
static int64_t
clock_file(void *arg)
{
	return kp_clock_file(arg, 0);
}

int64_t
kpfs_now(struct kpfs *fs)
{
	return kp_clock_file(fs->test_clock, 0);
}

int64_t
kpfs_mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
kpfs_open_pool(struct kpfs *fs, struct kp_pool **out)
{
	struct kp_pool	*p = NULL;
	int		 rc;

	*out = NULL;
	if ((rc = kp_pool_open(fs->store, fs->keyfile, fs->user, fs->device,
	    &p)) != KP_OK) {
		kpfs_log(LOG_ERR, "%s: %s", fs->store, p != NULL ?
		    kp_errmsg(p) : kp_strerror(rc));
		goto out;
	}
	if (fs->test_clock != NULL)
		kp_pool_set_clock(p, clock_file, fs->test_clock);
	if (fs->server != NULL &&
	    (rc = kp_pool_set_server(p, fs->server)) != KP_OK) {
		kpfs_log(LOG_ERR, "server %s: %s", fs->server, kp_errmsg(p));
		goto out;
	}
	if (fs->cafile != NULL &&
	    (rc = kp_pool_set_cafile(p, fs->cafile)) != KP_OK) {
		kpfs_log(LOG_ERR, "cafile: %s", kp_errmsg(p));
		goto out;
	}
	*out = p;
	p = NULL;
out:
	kp_pool_close(p);
	return rc;
}

int
kpfs_load_key(struct kpfs *fs, const struct kpfs_path *pp, struct kp_key **k)
{
	int	rc;

	if ((rc = kp_pool_key(fs->pool, pp->ref, k)) == KP_ENOTFOUND)
		return -ENOENT;
	if (rc != KP_OK) {
		kpfs_log(LOG_ERR, "load %s: %s", pp->ref_hex,
		    kp_errmsg(fs->pool));
		return -kpfs_errno(rc);
	}
	return 0;
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
	case KP_ENOTRESERVED:
		return EACCES;	/* a Welcome nobody was given the key for */
	case KP_EGROUP:		/* a Welcome for another group */
	case KP_ESTATE:
	case KP_EPERM:
	case KP_ECONFLICT:
	case KP_EFORBIDDEN:
	case KP_ENOTENROLLED:
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
	case KP_ETLS:
		return EIO;
	default:
		/* bad syntax: decoding, validation, rejected, too big */
		return EINVAL;
	}
}
