/* SPDX-License-Identifier: ISC */
/*
 * seal.c: the store's at-rest key and what is sealed under it.  The key
 * is 32 bytes in a 0600 key file made with the store (create_key,
 * kp_store_load_key); private keys are sealed with XChaCha20-Poly1305
 * under it, the associated data naming the column and the row, so that
 * a sealed value moved to another row or column does not open.
 */

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "kpool.h"
#include "store.h"

#define NONCE_LEN	crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define SEALED_LEN	KP_SEALED_LEN
#define AD_PREFIX	"kpool-v1:"

/* Sealing at rest. */

static void
make_ad(uint8_t *ad, size_t *adlen, const char *col, const uint8_t *ctx,
    size_t ctxlen)
{
	size_t	n = 0, l;

	l = strlen(AD_PREFIX);
	memcpy(ad, AD_PREFIX, l);
	n += l;
	l = strlen(col);
	memcpy(ad + n, col, l);
	n += l;
	ad[n++] = 0;
	if (ctxlen > 0)
		memcpy(ad + n, ctx, ctxlen);
	n += ctxlen;
	*adlen = n;
}

void
kp_store_seal(const struct kp_store *st, const char *col, const uint8_t *ctx,
    size_t ctxlen, const uint8_t pt[32], uint8_t out[SEALED_LEN])
{
	uint8_t			ad[128];
	size_t			adlen;
	unsigned long long	clen;

	make_ad(ad, &adlen, col, ctx, ctxlen);
	randombytes_buf(out, NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + NONCE_LEN, &clen,
	    pt, 32, ad, adlen, NULL, out, st->key);
}

int
kp_store_unseal(struct kp_store *st, const char *col, const uint8_t *ctx,
    size_t ctxlen, const void *in, size_t inlen, uint8_t pt[32])
{
	uint8_t			ad[128];
	const uint8_t		*c = in;
	size_t			adlen;
	unsigned long long	plen;

	if (inlen != SEALED_LEN)
		return kp_store_err(st, KP_EDB, "sealed %s has %zu bytes, "
		    "not %d", col, inlen, SEALED_LEN);
	make_ad(ad, &adlen, col, ctx, ctxlen);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &plen, NULL,
	    c + NONCE_LEN, inlen - NONCE_LEN, ad, adlen, c, st->key) != 0 ||
	    plen != 32) {
		sodium_memzero(pt, 32);
		return kp_store_err(st, KP_ECRYPTO, "sealed %s does not open: "
		    "wrong key file or a damaged store", col);
	}
	return KP_OK;
}

static int
read_keyfile(struct kp_store *st, const char *path, int fd)
{
	struct stat	sb;
	ssize_t		r;
	int		rc = KP_OK;

	if (fstat(fd, &sb) == -1) {
		rc = kp_store_err(st, KP_EIO, "key file %s: %s", path,
		    strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode) || sb.st_size != 32) {
		rc = kp_store_err(st, KP_ECRYPTO, "key file %s is not a "
		    "32-byte regular file", path);
		goto out;
	}
	if ((sb.st_mode & 077) != 0) {
		rc = kp_store_err(st, KP_EPERM, "key file %s has mode %03o; "
		    "it must be 0600 (chmod 600 it)", path,
		    (unsigned)(sb.st_mode & 0777));
		goto out;
	}
	r = read(fd, st->key, sizeof(st->key));
	if (r != (ssize_t)sizeof(st->key)) {
		sodium_memzero(st->key, sizeof(st->key));
		rc = kp_store_err(st, KP_EIO, "key file %s: short read", path);
	}
out:
	return rc;
}

/* fsync the directory that holds path, so a new name in it is durable. */
static int
sync_dir(const char *path)
{
	char	*dir, *slash;
	int	 fd, rc = -1;

	if ((dir = strdup(path)) == NULL)
		return -1;
	if ((slash = strrchr(dir, '/')) == NULL)
		(void)snprintf(dir, strlen(path) + 1, ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		rc = fsync(fd);
		close(fd);
	}
	free(dir);
	return rc;
}

/* A temporary key file is this much older than an open's attempt at
 * least before the open takes it for a crash's leftover. */
#define TMP_STALE	60

/* tmp_name: whether name is base "." 16 lowercase hex digits ".tmp",
 * the name create_key() gives its temporary files. */
static int
tmp_name(const char *name, const char *base, size_t blen)
{
	size_t	i;

	if (strncmp(name, base, blen) != 0 || name[blen] != '.')
		return 0;
	name += blen + 1;
	for (i = 0; i < 16; i++)
		if (!((name[i] >= '0' && name[i] <= '9') ||
		    (name[i] >= 'a' && name[i] <= 'f')))
			return 0;
	return strcmp(name + 16, ".tmp") == 0;
}

/*
 * sweep_tmp: remove what a crash in create_key() left next to the key
 * file path: regular files of its temporary name (path.HEX.tmp) last
 * changed TMP_STALE seconds or more before now, this open's attempt.
 * A younger one may be another opener's, about to be linked: it stays.
 * Best effort: nothing here fails the open.
 */
static void
sweep_tmp(const char *path, time_t now)
{
	struct dirent	*de;
	struct stat	 sb;
	const char	*base;
	char		*dir, *slash;
	size_t		 blen;
	DIR		*d;

	if ((dir = strdup(path)) == NULL)
		return;
	if ((slash = strrchr(dir, '/')) == NULL) {
		base = path;
		(void)snprintf(dir, strlen(path) + 1, ".");
	} else {
		base = path + (slash - dir) + 1;
		if (slash == dir)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	blen = strlen(base);
	if (blen == 0 || (d = opendir(dir)) == NULL) {
		free(dir);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (!tmp_name(de->d_name, base, blen))
			continue;
		if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) ==
		    0 && S_ISREG(sb.st_mode) && sb.st_mtime <= now - TMP_STALE)
			(void)unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
	free(dir);
}

/*
 * Make a new key file at path atomically: a fresh key goes to a temp
 * file (O_CREAT|O_EXCL|O_NOFOLLOW, 0600, a random name next to path),
 * is synced, and is linked into place, so the key file is either absent
 * or whole.  *lost = 1 when another opener's link won (nothing is made;
 * read theirs).
 */
static int
create_key(struct kp_store *st, const char *path, int *lost)
{
	uint8_t	rnd[8];
	char	tmp[4096], hex[2 * sizeof(rnd) + 1];
	ssize_t	w;
	int	fd = -1, rc = KP_OK, made = 0;

	*lost = 0;
	randombytes_buf(rnd, sizeof(rnd));
	kp_hex(rnd, sizeof(rnd), hex);
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.%s.tmp", path, hex) >=
	    sizeof(tmp)) {
		rc = kp_store_err(st, KP_EINVAL, "key file path too long");
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1) {
		rc = kp_store_err(st, KP_EIO, "create key file %s: %s", tmp,
		    strerror(errno));
		goto out;
	}
	made = 1;
	randombytes_buf(st->key, sizeof(st->key));
	w = write(fd, st->key, sizeof(st->key));
	if (w != (ssize_t)sizeof(st->key) || fsync(fd) == -1) {
		rc = kp_store_err(st, KP_EIO, "write key file %s: %s", tmp,
		    w == -1 || w == (ssize_t)sizeof(st->key) ?
		    strerror(errno) : "short write");
		goto out;
	}
	if (link(tmp, path) == -1) {
		if (errno == EEXIST)
			*lost = 1;	/* another opener's key is in place */
		else
			rc = kp_store_err(st, KP_EIO, "key file %s: %s", path,
			    strerror(errno));
		goto out;
	}
	if (sync_dir(path) == -1)
		rc = kp_store_err(st, KP_EIO, "sync the directory of key "
		    "file %s: %s", path, strerror(errno));
out:
	if (fd != -1)
		close(fd);
	if (made)
		(void)unlink(tmp);
	if (rc != KP_OK || *lost)
		sodium_memzero(st->key, sizeof(st->key));
	return rc;
}

/*
 * kp_store_load_key: see store.h.  Openers racing to create the key agree
 * on the key whose link came first.
 */
int
kp_store_load_key(struct kp_store *st, const char *path, int create)
{
	int	fd = -1, rc = KP_OK, tries, lost;

	/* a crash while a key file was made left its temporary file */
	sweep_tmp(path, time(NULL));
	for (tries = 0; tries < 3; tries++) {
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd != -1) {
			rc = read_keyfile(st, path, fd);
			goto out;
		}
		if (errno != ENOENT) {
			rc = kp_store_err(st, errno == ELOOP ? KP_EPERM :
			    KP_EIO, "key file %s: %s", path, strerror(errno));
			goto out;
		}
		if (!create) {
			rc = kp_store_err(st, KP_ECRYPTO, "key file %s is "
			    "missing: the store's private keys cannot be "
			    "read without it", path);
			goto out;
		}
		if ((rc = create_key(st, path, &lost)) != KP_OK || !lost)
			goto out;
		/* another opener won: read theirs */
	}
	rc = kp_store_err(st, KP_EIO, "key file %s: creation race", path);
out:
	if (fd != -1)
		close(fd);
	if (rc != KP_OK)
		sodium_memzero(st->key, sizeof(st->key));
	return rc;
}
