/* SPDX-License-Identifier: ISC */
/*
 * group.c: the group the owner's own spend of a key names.  A key in
 * available/ or reserved/ has a writable group_id file: the group id in
 * hex, kept in the local store (kp_pool_set_group); the following move
 * to spent/ sends it with the spend, so that the Welcome of a group the
 * owner made the key join out of band is accepted.  The ctl verb
 * "spend REF GROUPHEX" does both at once.  In every other state the
 * file is the key's group as the server recorded it, read-only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "kpoolfs.h"

/* 1 when keys in state have the owner's writable group_id. */
int
kpfs_group_state(int state)
{
	return state == KP_STATE_AVAILABLE || state == KP_STATE_RESERVED;
}

int
kpfs_group_mine(const struct kp_key *k, int f)
{
	return f == KPFS_K_GROUP_ID && kpfs_group_state(kp_key_state(k));
}

int
kpfs_group_render(struct kpfs *fs, const uint8_t ref[KP_REF_LEN], char *buf,
    size_t cap)
{
	uint8_t	gid[KP_MAX_GROUP_ID];
	size_t	len;

	if (kp_pool_group(fs->pool, ref, gid, &len) != KP_OK ||
	    cap < 2 * KP_MAX_GROUP_ID + 2)
		return -1;
	if (len == 0) {
		buf[0] = '\0';
		return 0;
	}
	kp_hex(gid, len, buf);
	buf[2 * len] = '\n';
	buf[2 * len + 1] = '\0';
	return (int)(2 * len + 1);
}

int
kpfs_group_size(struct kpfs *fs, const uint8_t ref[KP_REF_LEN],
    struct stat *st)
{
	char	buf[KPFS_INFO_MAX];
	int	n;

	if ((n = kpfs_group_render(fs, ref, buf, sizeof(buf))) < 0)
		return -EIO;
	st->st_size = n;
	return 0;
}

int
kpfs_group_open(struct kpfs *fs, struct kpfs_fh *fh)
{
	int	n;

	if ((fh->buf = malloc(KPFS_INFO_MAX)) == NULL)
		return -ENOMEM;
	if ((n = kpfs_group_render(fs, fh->ref, (char *)fh->buf,
	    KPFS_INFO_MAX)) < 0)
		return -EIO;
	fh->len = (size_t)n;
	return 0;
}

/*
 * Parse text (len bytes, a final newline allowed) as a group id in hex
 * into gid; an empty one is none.  0 or -EINVAL.
 */
static int
parse_group(const char *text, size_t len, uint8_t gid[KP_MAX_GROUP_ID],
    size_t *glen)
{
	char	hex[2 * KP_MAX_GROUP_ID + 1];

	if (len > 0 && text[len - 1] == '\n')
		len--;
	if (len % 2 != 0 || len > 2 * KP_MAX_GROUP_ID ||
	    memchr(text, '\0', len) != NULL)
		return -EINVAL;
	memcpy(hex, text, len);
	hex[len] = '\0';
	*glen = len / 2;
	return *glen > 0 && kp_unhex(hex, gid, *glen) != KP_OK ? -EINVAL : 0;
}

int
kpfs_group_write(struct kpfs *fs, struct kpfs_fh *fh, const char *data,
    size_t size)
{
	uint8_t	gid[KP_MAX_GROUP_ID];
	size_t	glen;
	int	rc;

	if (fh->kind != KPFS_KEYFILE || fh->file != KPFS_K_GROUP_ID)
		return -EACCES;
	if ((rc = parse_group(data, size, gid, &glen)) != 0)
		return rc;
	if ((rc = kp_pool_set_group(fs->pool, fh->ref, gid, glen)) != KP_OK) {
		kpfs_log(LOG_NOTICE, "group_id: %s", kp_errmsg(fs->pool));
		return -kpfs_errno(rc);
	}
	return (int)size;
}

int
kpfs_ctl_spend(struct kpfs *fs, const char *arg)
{
	struct kp_key	*k = NULL;
	uint8_t		 ref[KP_REF_LEN], gid[KP_MAX_GROUP_ID];
	const char	*sp;
	char		 hex[2 * KP_REF_LEN + 1];
	size_t		 glen;
	int		 rc, state;

	if (arg == NULL || (sp = strchr(arg, ' ')) == NULL ||
	    sp - arg != 2 * KP_REF_LEN)
		return -EINVAL;
	memcpy(hex, arg, 2 * KP_REF_LEN);
	hex[2 * KP_REF_LEN] = '\0';
	if (kp_unhex(hex, ref, KP_REF_LEN) != KP_OK ||
	    parse_group(sp + 1, strlen(sp + 1), gid, &glen) != 0 || glen == 0)
		return -EINVAL;
	if ((rc = kp_pool_key(fs->pool, ref, &k)) != KP_OK)
		goto out;
	state = kp_key_state(k);
	if ((rc = kp_pool_set_group(fs->pool, ref, gid, glen)) != KP_OK ||
	    (rc = kp_pool_transition(fs->pool, ref, state,
	    KP_STATE_SPENT)) != KP_OK)
		goto out;
	kpfs_log(LOG_INFO, "spend %s for group %s", hex, sp + 1);
out:
	if (rc != KP_OK)
		kpfs_log(LOG_NOTICE, "spend %s: %s", hex, kp_errmsg(fs->pool));
	kp_key_free(k);
	return -kpfs_errno(rc);
}
