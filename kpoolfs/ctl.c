/* SPDX-License-Identifier: ISC */
/*
 * ctl.c: the control files at the root of the tree: status, identity
 * and devices (read), config (read and write), ctl (a verb a write) and
 * welcome (a Welcome to open).  A write is consumed whole or fails, and
 * its errors are the write's, never the close's (but an incomplete
 * Welcome's).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <sodium.h>

#include "kpoolfs.h"

#define CONFIG_WRITE_MAX	65536		/* config write, bytes */
#define CONFIG_LINES_MAX	64		/* lines of a config write */
#define WELCOME_MAX		(1024 * 1024)	/* bytes of a Welcome */
/* a ctl line: "spend", a ref and a group id in hex */
#define CTL_LINE_MAX		(2 * KP_REF_LEN + 2 * KP_MAX_GROUP_ID + 16)

/* The status file (json 0) or status.json (1) into *text; *at the last
 * sync. */
static int
status_text(struct kpfs *fs, int json, char **text, int64_t *at)
{
	struct kpfs_status_extra x;
	struct kpfs_refusal	 r;
	struct kp_status	 st;
	struct kp_policy	 pol;
	struct kp_counts	 sc[KP_MAX_SUITES];
	uint8_t			 pub[KP_SIGN_PK_LEN];
	char			 b64[64];
	uint32_t		 i;
	int			 rc, n;

	if ((rc = kp_pool_status(fs->pool, &st)) != KP_OK ||
	    (rc = kp_pool_policy_get(fs->pool, &pol)) != KP_OK)
		goto fail;
	for (i = 0; i < pol.nsuites; i++)
		if ((rc = kp_pool_counts(fs->pool, pol.suites[i],
		    &sc[i])) != KP_OK)
			goto fail;
	*at = st.last_sync;
	kp_pool_identity(fs->pool, pub);
	sodium_bin2base64(b64, sizeof(b64), pub, sizeof(pub),
	    sodium_base64_VARIANT_ORIGINAL);
	x.user = kp_pool_user(fs->pool);
	x.device = kp_pool_device(fs->pool);
	x.public_key = b64;
	x.suites = sc;
	x.server = fs->server != NULL ? fs->server : "none";
	kpfs_refusal_get(fs, &r);
	x.refusal = &r;
	if (json)
		return kpfs_status_json(&st, &pol, &x, text);
	if ((*text = malloc(KPFS_INFO_MAX)) == NULL)
		return -ENOMEM;
	if ((n = kpfs_status_render(&st, &pol, &x, *text,
	    KPFS_INFO_MAX)) < 0) {
		free(*text);
		*text = NULL;
		return -EIO;
	}
	return 0;
fail:
	kpfs_log(LOG_ERR, "status: %s", kp_errmsg(fs->pool));
	return -kpfs_errno(rc);
}

/* The identity file: user, device and public key (base64). */
static int
identity_text(struct kpfs *fs, char **text)
{
	uint8_t	pub[KP_SIGN_PK_LEN];
	char	b64[64];

	kp_pool_identity(fs->pool, pub);
	sodium_bin2base64(b64, sizeof(b64), pub, sizeof(pub),
	    sodium_base64_VARIANT_ORIGINAL);
	if (asprintf(text, "user: %s\ndevice: %s\npublic_key: %s\n",
	    kp_pool_user(fs->pool), kp_pool_device(fs->pool), b64) < 0) {
		*text = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* The devices file: the list the server gave last; *at its time. */
static int
devices_text(struct kpfs *fs, char **text, int64_t *at)
{
	struct kp_device	*d = NULL;
	size_t			 n = 0, cap;
	int			 rc;

	if ((rc = kp_pool_devices_cached(fs->pool, &d, &n, at)) != KP_OK) {
		kpfs_log(LOG_ERR, "devices: %s", kp_errmsg(fs->pool));
		return -kpfs_errno(rc);
	}
	cap = (n + 1) * 192;
	if ((*text = malloc(cap)) == NULL) {
		free(d);
		return -ENOMEM;
	}
	rc = kpfs_devices_render(d, n, *text, cap);
	free(d);
	if (rc < 0) {
		free(*text);
		*text = NULL;
		return -EIO;
	}
	return 0;
}

int
kpfs_ctl_text(struct kpfs *fs, int f, char **text, int64_t *at)
{
	*text = NULL;
	*at = 0;
	switch (f) {
	case KPFS_F_STATUS:
	case KPFS_F_STATUS_JSON:
		return status_text(fs, f == KPFS_F_STATUS_JSON, text, at);
	case KPFS_F_IDENTITY:
		return identity_text(fs, text);
	case KPFS_F_DEVICES:
		return devices_text(fs, text, at);
	}
	return -EINVAL;
}

int
kpfs_ctl_config(struct kpfs *fs, char **text)
{
	int	rc;

	if ((rc = kp_pool_config_text(fs->pool, text)) != KP_OK)
		kpfs_log(LOG_ERR, "config: %s", kp_errmsg(fs->pool));
	return -kpfs_errno(rc);
}

/* Trim blanks at both ends of s in place. */
static char *
trim(char *s)
{
	char	*e;

	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/*
 * Apply the n settings keys[i] = vals[i], each in the pool; all of them,
 * or none.  The library checks the whole policy after each setting, so
 * settings that only make sense together (target = 100 with hard_cap =
 * 200) are applied in passes until none is left or a pass makes no
 * progress.
 */
static int
config_apply(struct kpfs *fs, char **keys, char **vals, int n)
{
	struct kp_policy	saved;
	int			done[CONFIG_LINES_MAX];
	int			i, left, progress, rc, nset = 0;

	if ((rc = kp_pool_policy_get(fs->pool, &saved)) != KP_OK)
		return rc;
	memset(done, 0, sizeof(done));
	for (left = n, progress = 1; left > 0 && progress; ) {
		progress = 0;
		for (i = 0; i < n; i++) {
			if (done[i])
				continue;
			rc = kp_pool_config_set(fs->pool, keys[i], vals[i]);
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
	if (left == 0)
		return KP_OK;
	for (i = 0; i < n && done[i]; i++)
		;
	if (rc == KP_OK)
		rc = KP_EINVAL;
	kpfs_log(LOG_NOTICE, "config %s = %s: %s", keys[i], vals[i],
	    kp_errmsg(fs->pool));
	if (nset > 0 && kp_pool_policy_set(fs->pool, &saved) != KP_OK)
		kpfs_log(LOG_ERR, "config: cannot restore the policy: %s",
		    kp_errmsg(fs->pool));
	return rc;
}

/*
 * config: each write holds whole "key = value" lines (blank lines and
 * lines starting with # are skipped).  All of them take effect, or a bad
 * one fails the write with EINVAL and none does.
 */
int
kpfs_ctl_write_config(struct kpfs *fs, const char *data, size_t size)
{
	char	*text = NULL, *line, *next, *eq, *key, *val;
	char	*keys[CONFIG_LINES_MAX], *vals[CONFIG_LINES_MAX];
	int	 n = 0, rc;

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
		n++;
	}
	if ((rc = config_apply(fs, keys, vals, n)) != KP_OK) {
		rc = rc == KP_ENOMEM ? -ENOMEM : rc == KP_EDB || rc == KP_EIO ?
		    -EIO : -EINVAL;
		goto out;
	}
	kpfs_touch_config(fs);
	/* the refresh thread rereads refresh_interval on its next wait */
	kpfs_refresh_wake(fs);
	rc = (int)size;
out:
	free(text);
	return rc;
}

/* ctl enroll DEVICE PUBKEY: enroll another device of the user; 0 or
 * -errno. */
static int
ctl_enroll(struct kpfs *fs, char **args)
{
	uint8_t	pub[KP_SIGN_PK_LEN];
	size_t	len;
	int	rc;

	if (!kp_devicename_valid(args[0]) || sodium_base642bin(pub,
	    sizeof(pub), args[1], strlen(args[1]), NULL, &len, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || len != sizeof(pub)) {
		kpfs_log(LOG_NOTICE, "enroll: a device name and a base64 "
		    "Ed25519 public key (its identity file) are needed");
		return -EINVAL;
	}
	if ((rc = kp_pool_enroll(fs->pool, args[0], pub)) == KP_OK)
		kpfs_log(LOG_INFO, "enroll: device %s enrolled", args[0]);
	else
		kpfs_log(LOG_NOTICE, "enroll: %s", kp_errmsg(fs->pool));
	return -kpfs_errno(rc);
}

/* ctl remove DEVICE: remove a device of the user, its keys retired; 0
 * or -errno. */
static int
ctl_remove(struct kpfs *fs, char **args)
{
	uint32_t	retired;
	int		rc;

	if ((rc = kp_pool_remove_device(fs->pool, args[0], &retired)) ==
	    KP_OK)
		kpfs_log(LOG_INFO, "remove: device %s removed, %u keys "
		    "retired", args[0], retired);
	else
		kpfs_log(LOG_NOTICE, "remove: %s", kp_errmsg(fs->pool));
	return -kpfs_errno(rc);
}

/* ctl spend REF GROUPHEX: the owner's spend (group.c); 0 or -errno. */
static int
ctl_spend(struct kpfs *fs, char **args)
{
	char	line[CTL_LINE_MAX];

	(void)snprintf(line, sizeof(line), "%s %s", args[0], args[1]);
	return kpfs_ctl_spend(fs, line);
}

/*
 * ctl takes one command a write (a trailing newline is fine):
 *
 *	ctl	= "sync" | "refresh" | "rotate" | "generate" SP count |
 *		  "cleanup" | "spend" SP ref SP group |
 *		  "enroll" SP device SP pubkey | "remove" SP device
 *	count	= 1*DIGIT		(1 .. hard_cap)
 *	device	= a device name		(a-z 0-9 . _ -, 1 to 32)
 *	pubkey	= base64 of an Ed25519 public key (another mount's
 *		  identity file)
 *
 *	sync		pull the server's view of our keys, push the
 *			created ones
 *	refresh		expire, sync and top every suite up to target
 *	rotate		retire every available key on the server, expire
 *			it here, make fresh keys from the config to target
 *	generate N	make N keys in created/
 *	cleanup		move keys past not_after to expired/, then
 *			delete the expired keys and the spent ones whose
 *			private keys were taken
 *	spend REF GROUPHEX
 *			the owner spends its key REF (available or
 *			reserved) for the group GROUPHEX (hex), so that
 *			the Welcome of that group is accepted
 *	enroll D K	enroll device D of our user with key K
 *	remove D	remove device D of our user, its keys retired
 *
 * The command runs before write(2) returns; its failure is the write's.
 * The verbs with a pass run in the refresh thread (what); the others
 * (fn) in the writer's.
 */
static const struct {
	const char	*verb;
	int		 what;		/* KPFS_R_*, or 0: fn */
	int		 nargs;
	int		(*fn)(struct kpfs *, char **);	/* 0, -errno */
} ctl_verbs[] = {
	{ "sync",	KPFS_R_SYNC,	 0, NULL },
	{ "refresh",	KPFS_R_REFRESH,	 0, NULL },
	{ "rotate",	KPFS_R_ROTATE,	 0, NULL },
	{ "generate",	KPFS_R_GENERATE, 1, NULL },
	{ "cleanup",	KPFS_R_CLEANUP,	 0, NULL },
	{ "spend",	0,		 2, ctl_spend },
	{ "enroll",	0,		 2, ctl_enroll },
	{ "remove",	0,		 1, ctl_remove },
};
#define NVERBS	(sizeof(ctl_verbs) / sizeof(ctl_verbs[0]))
#define CTL_ARGS 2

int
kpfs_ctl_write_ctl(struct kpfs *fs, const char *data, size_t size)
{
	char		 cmd[CTL_LINE_MAX], *args[CTL_ARGS + 1], *end, *s;
	unsigned long	 n = 0;
	size_t		 len = size, i;
	int		 nargs = 0, rc;

	if (len > 0 && data[len - 1] == '\n')
		len--;
	if (len == 0 || len >= sizeof(cmd) || memchr(data, '\n', len) ||
	    memchr(data, '\0', len))
		return -EINVAL;
	memcpy(cmd, data, len);
	cmd[len] = '\0';
	/* the verb, then its words, one space apart */
	for (s = strchr(cmd, ' '); s != NULL; s = strchr(s, ' ')) {
		*s++ = '\0';
		if (nargs == CTL_ARGS + 1 || *s == '\0' || *s == ' ')
			return -EINVAL;
		args[nargs++] = s;
	}
	for (i = 0; i < NVERBS; i++)
		if (strcmp(cmd, ctl_verbs[i].verb) == 0)
			break;
	if (i == NVERBS || nargs != ctl_verbs[i].nargs)
		return -EINVAL;
	if (ctl_verbs[i].fn != NULL)
		return (rc = ctl_verbs[i].fn(fs, args)) < 0 ? rc : (int)size;
	if (ctl_verbs[i].what == KPFS_R_GENERATE) {
		if (*args[0] < '1' || *args[0] > '9')
			return -EINVAL;
		errno = 0;
		n = strtoul(args[0], &end, 10);
		if (errno != 0 || *end != '\0' || n == 0 || n > UINT32_MAX)
			return -EINVAL;
	}
	rc = kpfs_refresh_request(fs, ctl_verbs[i].what, (uint32_t)n);
	if (rc != KP_OK)
		return rc == KP_ETOOBIG ? -EINVAL : -kpfs_errno(rc);
	return (int)size;
}

/*
 * welcome: the bytes of an MLSMessage(Welcome), in one write or several,
 * and then, when the Welcome carries no ratchet tree, the tree (a
 * serialized ratchet_tree vector, as `cat welcome.bin tree.bin` writes
 * them).  Both are self-delimiting, so it is opened as soon as it is
 * whole: the Welcome alone, and when that needs a tree (KP_ENOTREE),
 * again with the tree once the tree is whole.  The write that completes
 * it fails if it is not ours, does not open, or is not authorized; a
 * tree written after a Welcome that carried its own is ignored.
 */
int
kpfs_ctl_write_welcome(struct kpfs *fs, struct kpfs_fh *fh, const char *data,
    size_t size)
{
	struct kp_welcome_info	 info;
	uint8_t			 ref[KP_REF_LEN], *nb;
	char			 hex[2 * KP_REF_LEN + 1];
	char			 gid[2 * KP_MAX_GROUP_ID + 1];
	size_t			 wlen = 0, tlen = 0;
	int			 rc;

	if (size > WELCOME_MAX || fh->len > WELCOME_MAX - size)
		return -EINVAL;
	if ((nb = realloc(fh->buf, fh->len + size)) == NULL)
		return -ENOMEM;
	fh->buf = nb;
	memcpy(fh->buf + fh->len, data, size);
	fh->len += size;

	rc = kp_welcome_split(fh->buf, fh->len, &wlen, &tlen);
	if (fh->done) {
		/* opened: only the tree that may follow it, ignored (a
		 * part of one fails the close) */
		if (rc == KP_OK || rc == KP_ETRUNC)
			return (int)size;
		sodium_memzero(fh->buf + fh->len - size, size);
		fh->len -= size;
		kpfs_log(LOG_NOTICE, "welcome: bytes after the Welcome "
		    "opened on this file");
		return -EINVAL;
	}
	if (rc == KP_ETRUNC)
		return (int)size;	/* wait for the rest */
	if (rc == KP_OK && (rc = kp_pool_welcome(fs->pool, fh->buf, wlen,
	    tlen ? fh->buf + wlen : NULL, tlen, ref, &info)) == KP_ENOTREE &&
	    tlen == 0) {
		/* a tree is to follow; else close(2) fails with EINVAL */
		kpfs_log(LOG_NOTICE, "welcome: %s: waiting for the tree",
		    kp_errmsg(fs->pool));
		return (int)size;
	}
	if (rc != KP_OK) {
		kpfs_log(LOG_NOTICE, "welcome: %s", kp_errmsg(fs->pool));
		kpfs_refused(fs, "welcome", NULL, -1, -1, kpfs_errno(rc));
		/* a later write starts a new Welcome */
		sodium_memzero(fh->buf, fh->len);
		fh->len = 0;
		return -kpfs_errno(rc);
	}
	fh->done = 1;
	kp_hex(ref, KP_REF_LEN, hex);
	if (info.group_id_len <= KP_MAX_GROUP_ID)
		kp_hex(info.group_id, info.group_id_len, gid);
	else
		gid[0] = '\0';
	kpfs_log(LOG_INFO, "welcome: key %s joined group %s at epoch %"
	    PRIu64, hex, gid, info.epoch);
	kp_welcome_info_free(&info);
	return (int)size;
}

int
kpfs_ctl_flush_welcome(struct kpfs_fh *fh)
{
	size_t	wlen, tlen;

	if (fh->len == 0)
		return 0;
	if (!fh->done)
		return -EINVAL;		/* never opened */
	/* opened: what followed must be one whole tree, or nothing */
	return kp_welcome_split(fh->buf, fh->len, &wlen, &tlen) == KP_OK ?
	    0 : -EINVAL;
}

int
kpfs_ctl_open(struct kpfs *fs, int f, int acc, struct kpfs_fh *fh)
{
	char	*text = NULL;
	int64_t	 at;
	int	 rc;

	switch (f) {
	case KPFS_F_CONFIG:
		if (acc == O_WRONLY)
			return 0;
		if ((rc = kpfs_ctl_config(fs, &text)) < 0)
			return rc;
		break;
	case KPFS_F_CTL:
	case KPFS_F_WELCOME:	/* write only */
		return acc != O_WRONLY ? -EACCES : 0;
	case KPFS_F_EVENTS:	/* read only, from now on */
		if (acc != O_RDONLY)
			return -EACCES;
		return kpfs_events_open(fs, fh);
	default:	/* status, identity, devices: read only */
		if (acc != O_RDONLY)
			return -EACCES;
		if ((rc = kpfs_ctl_text(fs, f, &text, &at)) < 0)
			return rc;
		break;
	}
	fh->buf = (uint8_t *)text;
	fh->len = strlen(text);
	return 0;
}
