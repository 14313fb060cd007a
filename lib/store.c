/* SPDX-License-Identifier: ISC */
/*
 * store.c: the local pool's SQLite store.
 *
 * One file per user, mode 0600, WAL, secure_delete on, schema versioned
 * with PRAGMA user_version.  synchronous=NORMAL: a commit is safe from a
 * crash of the process at once and from a power cut at the next
 * checkpoint; the pool checkpoints before anything it stored is
 * published (an upload) and after creating the identity.  Private keys
 * are sealed at rest with XChaCha20-Poly1305 (libsodium) under a 32-byte
 * key read from a 0600 key file; the associated data names the column and
 * the row, so a sealed value moved to another row or column does not
 * open.  Wiping a private key sets its columns to NULL under
 * secure_delete; the WAL checkpoint (TRUNCATE) that then removes the old
 * page images is owed (kp_store_scrub) and run off the transition's path
 * (kp_store_flush, the pool's expire, sync, refresh, delete, take and
 * close), so neither the database nor the WAL keeps the old bytes.
 */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "kpool.h"
#include "store.h"

#define NONCE_LEN	crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN		crypto_aead_xchacha20poly1305_ietf_ABYTES
#define SEALED_LEN	(NONCE_LEN + 32 + TAG_LEN)
#define AD_PREFIX	"kpool-v1:"

/*
 * Migrations, applied in order; the schema version is their count.  Never
 * edit one that has shipped: append a new one.
 */
static const char *const migrations[] = {
	/* 1: settings, identity, keypackages */
	"CREATE TABLE settings ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  value TEXT NOT NULL);"
	"CREATE TABLE identity ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  username TEXT NOT NULL,"
	"  sign_pub BLOB NOT NULL CHECK (length(sign_pub) = 32),"
	"  sign_seed BLOB NOT NULL,"
	"  credential_type INTEGER NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  registered_at INTEGER);"
	"CREATE TABLE keypackages ("
	"  keypackage_ref BLOB PRIMARY KEY NOT NULL"
	"    CHECK (length(keypackage_ref) = 32),"
	"  keypackage_bytes BLOB NOT NULL,"
	"  private_init_key BLOB,"
	"  private_encryption_key BLOB,"
	"  status TEXT NOT NULL CHECK (status IN"
	"    ('created', 'available', 'reserved', 'spent', 'expired')),"
	"  created_at INTEGER NOT NULL,"
	"  uploaded_at INTEGER,"
	"  reserved_at INTEGER,"
	"  spent_at INTEGER,"
	"  expired_at INTEGER,"
	"  changed_at INTEGER NOT NULL,"
	"  not_before INTEGER NOT NULL,"
	"  not_after INTEGER NOT NULL,"
	"  credential_hash BLOB NOT NULL CHECK (length(credential_hash) = 32),"
	"  credential_type INTEGER NOT NULL,"
	"  ciphersuite INTEGER NOT NULL,"
	"  last_resort INTEGER NOT NULL DEFAULT 0 CHECK (last_resort IN (0, 1)),"
	"  reservation_id TEXT,"
	"  reservation_expires_at INTEGER,"
	"  reserved_by TEXT,"
	"  spent_group_id BLOB,"
	"  spent_epoch INTEGER,"
	"  spent_by TEXT,"
	"  CHECK ((private_init_key IS NULL) = (private_encryption_key IS NULL)),"
	"  CHECK (status <> 'expired' OR private_init_key IS NULL));"
	"CREATE INDEX keypackages_status ON keypackages (status, created_at);"
	"CREATE INDEX keypackages_credential ON keypackages (credential_hash);"
	"CREATE INDEX keypackages_expiry ON keypackages (not_after);"
	"CREATE INDEX keypackages_suite ON keypackages (ciphersuite, status);",
};
#define NMIGRATIONS	(int)(sizeof(migrations) / sizeof(migrations[0]))

/* The public columns of a key, in the order row_key() reads them. */
#define KEY_COLS \
	"keypackage_ref, status, ciphersuite, last_resort," \
	" private_init_key IS NOT NULL, created_at, uploaded_at, reserved_at," \
	" spent_at, expired_at, not_before, not_after, changed_at," \
	" reservation_id, reservation_expires_at, reserved_by, spent_by," \
	" spent_group_id, spent_epoch, length(keypackage_bytes)," \
	" credential_hash, credential_type"
#define KEY_NCOLS	22

/*
 * How long a handle waits for the store's locks, in all: the busy
 * timeout of each statement, and the deadline of the retries of what
 * fails at once with SQLITE_BUSY (a checkpoint another connection is
 * running, the switch to WAL of a new store another opener holds).
 */
#define BUSY_MS		5000
#define RETRY_NS	(2 * 1000 * 1000)	/* between retries */

/* Monotonic milliseconds. */
static int64_t
mono_ms(void)
{
	struct timespec	ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Before one more try of something that may answer SQLITE_BUSY: 0 when
 * deadline (mono_ms) has passed, else 1 after pausing when it is not
 * the first try and with the busy timeout cut to the time left, so that
 * the tries and their waits together end by the deadline.
 */
static int
retry_until(struct kp_store *st, int64_t deadline, int first)
{
	struct timespec	ts = { 0, RETRY_NS };
	int64_t		left;

	if (!first)
		nanosleep(&ts, NULL);
	if ((left = deadline - mono_ms()) <= 0)
		return 0;
	sqlite3_busy_timeout(st->db, (int)left);
	return 1;
}

int
kp_store_err(struct kp_store *st, int rc, const char *fmt, ...)
{
	va_list	ap;

	if (st->err != NULL && st->errlen > 0) {
		va_start(ap, fmt);
		(void)vsnprintf(st->err, st->errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static int
dberr(struct kp_store *st, const char *what)
{
	return kp_store_err(st, KP_EDB, "%s: %s", what, sqlite3_errmsg(st->db));
}

static int
exec(struct kp_store *st, const char *sql)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return dberr(st, sql);
	return KP_OK;
}

static int
prepare(struct kp_store *st, const char *sql, sqlite3_stmt **stmt)
{
	if (sqlite3_prepare_v2(st->db, sql, -1, stmt, NULL) != SQLITE_OK) {
		*stmt = NULL;
		return dberr(st, "prepare");
	}
	return KP_OK;
}

static void	scrub_flush(struct kp_store *, int);

/*
 * A statement of the hot paths (enum kp_stmt), prepared once and kept:
 * preparing costs more than running them.  Hand it back with done().
 */
static int
prepare_kept(struct kp_store *st, int which, const char *sql,
    sqlite3_stmt **stmt)
{
	if (st->stmts[which] == NULL && sqlite3_prepare_v3(st->db, sql, -1,
	    SQLITE_PREPARE_PERSISTENT, &st->stmts[which], NULL) !=
	    SQLITE_OK) {
		st->stmts[which] = NULL;
		*stmt = NULL;
		return dberr(st, "prepare");
	}
	*stmt = st->stmts[which];
	return KP_OK;
}

/* Reset a kept statement for its next use; NULL is fine. */
static void
done(sqlite3_stmt *s)
{
	if (s != NULL) {
		(void)sqlite3_reset(s);
		(void)sqlite3_clear_bindings(s);
	}
}

/* ------------------------------------------------------------------ */
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

static void
seal(const struct kp_store *st, const char *col, const uint8_t *ctx,
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

static int
unseal(struct kp_store *st, const char *col, const uint8_t *ctx,
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

/* ------------------------------------------------------------------ */
/* Opening. */

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
 * Load the at-rest key from path; create it (create_key) when it is
 * missing and create is set.  Openers racing to create it agree on the
 * key whose link came first.
 */
static int
load_key(struct kp_store *st, const char *path, int create)
{
	int	fd = -1, rc = KP_OK, tries, lost;

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

static int
migrate(struct kp_store *st)
{
	sqlite3_stmt	*s = NULL;
	char		 sql[64];
	int		 rc, v;

	if ((rc = prepare(st, "PRAGMA user_version", &s)) != KP_OK)
		goto out;
	if (sqlite3_step(s) != SQLITE_ROW) {
		rc = dberr(st, "user_version");
		goto out;
	}
	v = sqlite3_column_int(s, 0);
	if (v > NMIGRATIONS) {
		rc = kp_store_err(st, KP_EDB, "store schema version %d is "
		    "newer than this libkpool's (%d)", v, NMIGRATIONS);
		goto out;
	}
	for (; v < NMIGRATIONS; v++)
		if ((rc = exec(st, migrations[v])) != KP_OK)
			goto out;
	(void)snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
	    NMIGRATIONS);
	rc = exec(st, sql);
out:
	sqlite3_finalize(s);
	return rc;
}

/*
 * The key check: a sealed block of zeros in the settings.  A store that
 * has one only opens with the key that made it.
 */
static int
key_check(struct kp_store *st, const char *keyfile)
{
	uint8_t	sealed[SEALED_LEN], zero[32], pt[32];
	char	hex[2 * SEALED_LEN + 1];
	int	found, rc;

	memset(zero, 0, sizeof(zero));
	rc = kp_store_setting_get(st, "key_check", hex, sizeof(hex), &found);
	if (rc != KP_OK)
		goto out;
	if (!found) {
		if ((rc = load_key(st, keyfile, 1)) != KP_OK)
			goto out;
		seal(st, "key_check", NULL, 0, zero, sealed);
		kp_hex(sealed, sizeof(sealed), hex);
		rc = kp_store_setting_set(st, "key_check", hex);
		goto out;
	}
	if ((rc = load_key(st, keyfile, 0)) != KP_OK)
		goto out;
	if (kp_unhex(hex, sealed, sizeof(sealed)) != KP_OK) {
		rc = kp_store_err(st, KP_EDB, "key_check setting is damaged");
		goto out;
	}
	if (unseal(st, "key_check", NULL, 0, sealed, sizeof(sealed), pt) !=
	    KP_OK) {
		rc = kp_store_err(st, KP_ECRYPTO, "key file %s does not "
		    "match this store", keyfile);
		goto out;
	}
out:
	sodium_memzero(pt, sizeof(pt));
	return rc;
}

/*
 * The store's files are the owner's alone: a mode wider than 0600 (a
 * copy, a chmod, a umask-less tool) is narrowed to 0600 here rather than
 * refused, since what is secret in them is sealed under the key file
 * (which is refused when wider, read_keyfile).  KP_EPERM when it cannot
 * be (someone else's file), KP_EINVAL when it is not a regular file.
 */
static int
owner_only(struct kp_store *st, const char *path, int fd)
{
	struct stat	sb;

	if (fstat(fd, &sb) == -1)
		return kp_store_err(st, KP_EIO, "store %s: %s", path,
		    strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return kp_store_err(st, KP_EINVAL, "store %s is not a regular "
		    "file", path);
	if ((sb.st_mode & 07777) != 0600 && fchmod(fd, 0600) == -1)
		return kp_store_err(st, KP_EPERM, "store %s has mode %03o and "
		    "cannot be made 0600: %s", path,
		    (unsigned)(sb.st_mode & 07777), strerror(errno));
	return KP_OK;
}

/* owner_only for a -wal or -shm file that may not be there. */
static int
owner_only_path(struct kp_store *st, const char *path)
{
	int	fd, rc;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1)
		return errno == ENOENT ? KP_OK : kp_store_err(st,
		    errno == ELOOP ? KP_EPERM : KP_EIO, "store %s: %s", path,
		    strerror(errno));
	rc = owner_only(st, path, fd);
	close(fd);
	return rc;
}

/*
 * Put the store in WAL mode.  On a new store that takes its exclusive
 * lock, and another opener's makes the switch fail at once with
 * SQLITE_BUSY, busy handler or not: try again until BUSY_MS.
 */
static int
set_wal(struct kp_store *st)
{
	sqlite3_stmt	*s = NULL;
	const char	*mode;
	int64_t		 deadline = mono_ms() + BUSY_MS;
	int		 r = SQLITE_BUSY, first, rc = KP_OK;

	for (first = 1; retry_until(st, deadline, first); first = 0) {
		if ((rc = prepare(st, "PRAGMA journal_mode = WAL", &s)) !=
		    KP_OK)
			goto out;
		r = sqlite3_step(s);
		mode = r == SQLITE_ROW ? (const char *)sqlite3_column_text(s,
		    0) : NULL;
		if (mode != NULL && strcmp(mode, "wal") == 0) {
			r = SQLITE_OK;
			break;
		}
		if (r == SQLITE_ROW)
			r = SQLITE_BUSY;	/* not switched yet */
		else if (r != SQLITE_BUSY && r != SQLITE_LOCKED)
			break;
		sqlite3_finalize(s);
		s = NULL;
	}
	if (r != SQLITE_OK)
		rc = kp_store_err(st, KP_EDB, "PRAGMA journal_mode = WAL: %s",
		    r == SQLITE_BUSY || r == SQLITE_LOCKED ? "the store "
		    "stayed busy for 5 s" : sqlite3_errmsg(st->db));
out:
	sqlite3_finalize(s);
	sqlite3_busy_timeout(st->db, BUSY_MS);
	return rc;
}

int
kp_store_open(const char *dbpath, const char *keyfile, char *err,
    size_t errlen, struct kp_store **out)
{
	struct kp_store	*st = NULL;
	struct stat	 sb;
	char		 wal[4096];
	int		 fd, rc, intx = 0;

	*out = NULL;
	if (sodium_init() < 0)
		return KP_ECRYPTO;
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return KP_ENOMEM;
	st->err = err;
	st->errlen = errlen;
	if (dbpath == NULL || *dbpath == '\0' || keyfile == NULL ||
	    *keyfile == '\0') {
		rc = kp_store_err(st, KP_EINVAL, "no store or key file path");
		goto out;
	}
	/* Create the file ourselves so that it is 0600 from the start;
	 * SQLite gives -wal and -shm the same mode. */
	fd = open(dbpath, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1) {
		rc = kp_store_err(st, errno == ELOOP ? KP_EPERM : KP_EIO,
		    "store %s: %s", dbpath, strerror(errno));
		goto out;
	}
	rc = owner_only(st, dbpath, fd);
	close(fd);
	if (rc != KP_OK)
		goto out;
	/*
	 * A WAL with frames in it at open was left by a process that died
	 * (or is another handle's, still open): it may hold the images of
	 * pages from before a wipe whose scrub that process owed.  The
	 * scrub is owed now, and run once the store is open.
	 */
	if ((size_t)snprintf(wal, sizeof(wal), "%s-wal", dbpath) >=
	    sizeof(wal)) {
		rc = kp_store_err(st, KP_EINVAL, "store path too long");
		goto out;
	}
	if (stat(wal, &sb) == 0 && sb.st_size > 0)
		st->scrub_owed = 1;
	if ((rc = owner_only_path(st, wal)) != KP_OK)
		goto out;
	(void)snprintf(wal, sizeof(wal), "%s-shm", dbpath);
	if ((rc = owner_only_path(st, wal)) != KP_OK)
		goto out;
	if (sqlite3_open_v2(dbpath, &st->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW, NULL) != SQLITE_OK) {
		rc = kp_store_err(st, KP_EDB, "store %s: %s", dbpath,
		    st->db ? sqlite3_errmsg(st->db) : "out of memory");
		goto out;
	}
	if ((rc = set_wal(st)) != KP_OK ||
	    (rc = exec(st, "PRAGMA secure_delete = ON")) != KP_OK ||
	    (rc = exec(st, "PRAGMA synchronous = NORMAL")) != KP_OK)
		goto out;
	if ((rc = kp_store_begin(st)) != KP_OK)
		goto out;
	intx = 1;
	if ((rc = migrate(st)) != KP_OK ||
	    (rc = key_check(st, keyfile)) != KP_OK)
		goto out;
	rc = kp_store_commit(st);
	intx = 0;
	if (rc == KP_OK)
		kp_store_flush(st);	/* what a dead process owed */
out:
	if (rc != KP_OK) {
		if (intx)
			kp_store_rollback(st);
		kp_store_close(st);
		st = NULL;
	}
	*out = st;
	return rc;
}

void
kp_store_close(struct kp_store *st)
{
	int	i;

	if (st == NULL)
		return;
	sqlite3_finalize(st->insert);
	for (i = 0; i < KP_NSTMTS; i++)
		sqlite3_finalize(st->stmts[i]);
	if (st->db != NULL) {
		kp_store_rollback(st);
		scrub_flush(st, 0);
		sqlite3_close_v2(st->db);
	}
	sodium_memzero(st->key, sizeof(st->key));
	free(st);
}

int
kp_store_begin(struct kp_store *st)
{
	return exec(st, "BEGIN IMMEDIATE");
}

int
kp_store_commit(struct kp_store *st)
{
	int	rc;

	if ((rc = exec(st, "COMMIT")) != KP_OK)
		kp_store_rollback(st);
	return rc;
}

void
kp_store_rollback(struct kp_store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		(void)sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

int
kp_store_checkpoint(struct kp_store *st)
{
	int64_t	deadline = mono_ms() + BUSY_MS;
	int	log, ckpt, r = SQLITE_BUSY, first;

	if (!sqlite3_get_autocommit(st->db))
		return KP_OK;	/* the caller checkpoints after COMMIT */
	/*
	 * Readers and writers are waited for by the busy handler, but a
	 * checkpoint another connection is running makes ours fail at
	 * once: try again, all of it (waits included) within BUSY_MS.
	 */
	for (first = 1; retry_until(st, deadline, first); first = 0) {
		r = sqlite3_wal_checkpoint_v2(st->db, NULL,
		    SQLITE_CHECKPOINT_TRUNCATE, &log, &ckpt);
		if (r != SQLITE_BUSY && r != SQLITE_LOCKED)
			break;
	}
	sqlite3_busy_timeout(st->db, BUSY_MS);
	if (r != SQLITE_OK)
		return kp_store_err(st, KP_EDB, "checkpoint: %s",
		    r == SQLITE_BUSY || r == SQLITE_LOCKED ? "the store "
		    "stayed busy for 5 s" : sqlite3_errmsg(st->db));
	st->scrub_owed = 0;
	return KP_OK;
}

/*
 * kp_store_scrub: a wipe was made (or is being made in the caller's
 * transaction).  The freed cells are zeroed by secure_delete, but the
 * WAL still holds the page images from before; the TRUNCATE checkpoint
 * that removes them costs two or three fsyncs, so it is only noted here
 * and run by kp_store_flush() off the caller's path.
 */
void
kp_store_scrub(struct kp_store *st)
{
	st->scrub_owed = 1;
}

/*
 * Run the owed scrub.  The change itself is committed, so a checkpoint
 * that cannot finish now is not the caller's failure (the message is
 * kept): it stays owed, and the next flush, checkpoint or the close does
 * it.  With prime, a commit that changes nothing (the schema version
 * written again: page 1, which holds no secret) then starts the next WAL: the first commit into a new WAL
 * syncs its header, one more fsync, which is paid here rather than by
 * the next transition.
 */
static void
scrub_flush(struct kp_store *st, int prime)
{
	char	saved[KP_ERRLEN], sql[64];

	if (!st->scrub_owed || !sqlite3_get_autocommit(st->db))
		return;
	if (st->err != NULL)
		(void)snprintf(saved, sizeof(saved), "%s", st->err);
	if (kp_store_checkpoint(st) != KP_OK) {
		if (st->err != NULL)
			(void)snprintf(st->err, st->errlen, "%s", saved);
		return;
	}
	if (prime) {
		(void)snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
		    NMIGRATIONS);
		(void)sqlite3_exec(st->db, sql, NULL, NULL, NULL);
	}
}

void
kp_store_flush(struct kp_store *st)
{
	scrub_flush(st, 1);
}

/* ------------------------------------------------------------------ */
/* Settings and identity. */

int
kp_store_setting_get(struct kp_store *st, const char *name, char *buf,
    size_t len, int *found)
{
	sqlite3_stmt	*s = NULL;
	const char	*v;
	int		 rc, r;

	*found = 0;
	if ((rc = prepare(st, "SELECT value FROM settings WHERE name = ?",
	    &s)) != KP_OK)
		goto out;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	r = sqlite3_step(s);
	if (r == SQLITE_DONE)
		goto out;
	if (r != SQLITE_ROW) {
		rc = dberr(st, "setting");
		goto out;
	}
	v = (const char *)sqlite3_column_text(s, 0);
	if (v == NULL || strlen(v) >= len) {
		rc = kp_store_err(st, KP_EDB, "setting %s is damaged", name);
		goto out;
	}
	memcpy(buf, v, strlen(v) + 1);
	*found = 1;
out:
	sqlite3_finalize(s);
	return rc;
}

int
kp_store_setting_set(struct kp_store *st, const char *name, const char *value)
{
	sqlite3_stmt	*s = NULL;
	int		 rc;

	if ((rc = prepare(st, "INSERT INTO settings (name, value) "
	    "VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = "
	    "excluded.value", &s)) != KP_OK)
		goto out;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = dberr(st, "save setting");
out:
	sqlite3_finalize(s);
	return rc;
}

int
kp_store_identity_get(struct kp_store *st, char user[KP_MAX_USERNAME + 1],
    uint8_t pub[KP_SIGN_PK_LEN], uint8_t seed[KP_SIGN_SEED_LEN],
    int *registered, int *found)
{
	sqlite3_stmt	*s = NULL;
	const char	*u;
	size_t		 ulen;
	int		 rc, r;

	*found = 0;
	if ((rc = prepare(st, "SELECT username, sign_pub, sign_seed, "
	    "registered_at IS NOT NULL FROM identity WHERE id = 1", &s)) !=
	    KP_OK)
		goto out;
	r = sqlite3_step(s);
	if (r == SQLITE_DONE)
		goto out;
	if (r != SQLITE_ROW) {
		rc = dberr(st, "identity");
		goto out;
	}
	u = (const char *)sqlite3_column_text(s, 0);
	ulen = u ? strlen(u) : 0;
	if (ulen == 0 || ulen > KP_MAX_USERNAME ||
	    sqlite3_column_bytes(s, 1) != KP_SIGN_PK_LEN) {
		rc = kp_store_err(st, KP_EDB, "identity row is damaged");
		goto out;
	}
	memcpy(user, u, ulen + 1);
	memcpy(pub, sqlite3_column_blob(s, 1), KP_SIGN_PK_LEN);
	if ((rc = unseal(st, "sign_seed", (const uint8_t *)user, ulen,
	    sqlite3_column_blob(s, 2), (size_t)sqlite3_column_bytes(s, 2),
	    seed)) != KP_OK)
		goto out;
	*registered = sqlite3_column_int(s, 3);
	*found = 1;
out:
	sqlite3_finalize(s);
	return rc;
}

int
kp_store_identity_put(struct kp_store *st, const char *user,
    const uint8_t pub[KP_SIGN_PK_LEN], const uint8_t seed[KP_SIGN_SEED_LEN],
    int64_t now)
{
	sqlite3_stmt	*s = NULL;
	uint8_t		 sealed[SEALED_LEN];
	int		 rc;

	seal(st, "sign_seed", (const uint8_t *)user, strlen(user), seed,
	    sealed);
	if ((rc = prepare(st, "INSERT INTO identity (id, username, sign_pub, "
	    "sign_seed, credential_type, created_at) VALUES (1, ?, ?, ?, ?, ?)",
	    &s)) != KP_OK)
		goto out;
	sqlite3_bind_text(s, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, pub, KP_SIGN_PK_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(s, 3, sealed, sizeof(sealed), SQLITE_STATIC);
	sqlite3_bind_int(s, 4, KP_CRED_BASIC);
	sqlite3_bind_int64(s, 5, now);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = dberr(st, "save identity");
out:
	sqlite3_finalize(s);
	return rc;
}

int
kp_store_identity_registered(struct kp_store *st, int64_t now)
{
	sqlite3_stmt	*s = NULL;
	int		 rc;

	if ((rc = prepare(st, "UPDATE identity SET registered_at = ? "
	    "WHERE id = 1 AND registered_at IS NULL", &s)) != KP_OK)
		goto out;
	sqlite3_bind_int64(s, 1, now);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = dberr(st, "identity registered");
out:
	sqlite3_finalize(s);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Keys. */

static void
bind_opt_int(sqlite3_stmt *s, int i, int64_t v)
{
	if (v == 0)
		sqlite3_bind_null(s, i);
	else
		sqlite3_bind_int64(s, i, v);
}

static void
bind_opt_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v[0] == '\0')
		sqlite3_bind_null(s, i);
	else
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

static int
copy_text(sqlite3_stmt *s, int col, char *dst, size_t dstlen)
{
	const char	*v = (const char *)sqlite3_column_text(s, col);
	size_t		 l;

	dst[0] = '\0';
	if (v == NULL)
		return 0;
	if ((l = strlen(v)) >= dstlen)
		return -1;
	memcpy(dst, v, l + 1);
	return 0;
}

/* Read the KEY_COLS of the current row into k. */
static int
row_key(struct kp_store *st, sqlite3_stmt *s, int c0, struct kp_key *k)
{
	const char	*status;
	int		 glen;

	memset(k, 0, sizeof(*k));
	status = (const char *)sqlite3_column_text(s, c0 + 1);
	glen = sqlite3_column_bytes(s, c0 + 17);
	if (sqlite3_column_bytes(s, c0) != KP_REF_LEN || status == NULL ||
	    (k->state = kp_state_from_name(status)) < 0 ||
	    glen > KP_MAX_GROUP_ID ||
	    sqlite3_column_bytes(s, c0 + 20) != 32 ||
	    copy_text(s, c0 + 13, k->reservation_id,
	    sizeof(k->reservation_id)) == -1 ||
	    copy_text(s, c0 + 15, k->reserved_by, sizeof(k->reserved_by)) ==
	    -1 ||
	    copy_text(s, c0 + 16, k->spent_by, sizeof(k->spent_by)) == -1)
		return kp_store_err(st, KP_EDB, "a key row is damaged");
	memcpy(k->ref, sqlite3_column_blob(s, c0), KP_REF_LEN);
	kp_hex(k->ref, KP_REF_LEN, k->ref_hex);
	k->suite = (uint16_t)sqlite3_column_int(s, c0 + 2);
	k->last_resort = sqlite3_column_int(s, c0 + 3);
	k->has_private = sqlite3_column_int(s, c0 + 4);
	k->created_at = sqlite3_column_int64(s, c0 + 5);
	k->uploaded_at = sqlite3_column_int64(s, c0 + 6);
	k->reserved_at = sqlite3_column_int64(s, c0 + 7);
	k->spent_at = sqlite3_column_int64(s, c0 + 8);
	k->expired_at = sqlite3_column_int64(s, c0 + 9);
	k->not_before = sqlite3_column_int64(s, c0 + 10);
	k->not_after = sqlite3_column_int64(s, c0 + 11);
	k->changed_at = sqlite3_column_int64(s, c0 + 12);
	k->reservation_expires_at = sqlite3_column_int64(s, c0 + 14);
	if (glen > 0)
		memcpy(k->group_id, sqlite3_column_blob(s, c0 + 17),
		    (size_t)glen);
	k->group_id_len = (size_t)glen;
	k->epoch = sqlite3_column_type(s, c0 + 18) == SQLITE_NULL ? -1 :
	    sqlite3_column_int64(s, c0 + 18);
	k->keypackage_len = (size_t)sqlite3_column_int64(s, c0 + 19);
	memcpy(k->credential_hash, sqlite3_column_blob(s, c0 + 20), 32);
	return KP_OK;
}

int
kp_store_save(struct kp_store *st, const struct kp_bundle *b)
{
	const struct kp_key	*k = &b->key;
	sqlite3_stmt		*s = NULL;
	uint8_t			 si[SEALED_LEN], se[SEALED_LEN];
	int			 rc = KP_OK, r;

	if (b->keypackage == NULL || b->keypackage_len == 0 ||
	    b->keypackage_len > KP_MAX_KEYPACKAGE ||
	    kp_state_name(k->state) == NULL ||
	    (k->state == KP_STATE_EXPIRED && k->has_private) ||
	    k->group_id_len > KP_MAX_GROUP_ID)
		return kp_store_err(st, KP_EINVAL, "bad key to save");
	if ((s = st->insert) == NULL &&
	    (rc = prepare(st, "INSERT INTO keypackages (keypackage_ref, "
	    "keypackage_bytes, private_init_key, private_encryption_key, "
	    "status, created_at, uploaded_at, reserved_at, spent_at, "
	    "expired_at, changed_at, not_before, not_after, credential_hash, "
	    "credential_type, ciphersuite, last_resort, reservation_id, "
	    "reservation_expires_at, reserved_by, spent_group_id, spent_epoch, "
	    "spent_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
	    "?, ?, ?, ?, ?, ?, ?)", &s)) != KP_OK)
		goto out;
	st->insert = s;
	sqlite3_bind_blob(s, 1, k->ref, KP_REF_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, b->keypackage, (int)b->keypackage_len,
	    SQLITE_STATIC);
	if (k->has_private) {
		seal(st, "private_init_key", k->ref, KP_REF_LEN,
		    b->sec.init_priv, si);
		seal(st, "private_encryption_key", k->ref, KP_REF_LEN,
		    b->sec.encryption_priv, se);
		sqlite3_bind_blob(s, 3, si, sizeof(si), SQLITE_STATIC);
		sqlite3_bind_blob(s, 4, se, sizeof(se), SQLITE_STATIC);
	}
	sqlite3_bind_text(s, 5, kp_state_name(k->state), -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, k->created_at);
	bind_opt_int(s, 7, k->uploaded_at);
	bind_opt_int(s, 8, k->reserved_at);
	bind_opt_int(s, 9, k->spent_at);
	bind_opt_int(s, 10, k->expired_at);
	sqlite3_bind_int64(s, 11, k->changed_at ? k->changed_at :
	    k->created_at);
	sqlite3_bind_int64(s, 12, k->not_before);
	sqlite3_bind_int64(s, 13, k->not_after);
	sqlite3_bind_blob(s, 14, k->credential_hash, 32, SQLITE_STATIC);
	sqlite3_bind_int(s, 15, b->credential_type);
	sqlite3_bind_int(s, 16, k->suite);
	sqlite3_bind_int(s, 17, k->last_resort ? 1 : 0);
	bind_opt_text(s, 18, k->reservation_id);
	bind_opt_int(s, 19, k->reservation_expires_at);
	bind_opt_text(s, 20, k->reserved_by);
	if (k->group_id_len > 0)
		sqlite3_bind_blob(s, 21, k->group_id, (int)k->group_id_len,
		    SQLITE_STATIC);
	if (k->epoch >= 0)
		sqlite3_bind_int64(s, 22, k->epoch);
	bind_opt_text(s, 23, k->spent_by);
	r = sqlite3_step(s);
	if (r == SQLITE_CONSTRAINT && sqlite3_extended_errcode(st->db) ==
	    SQLITE_CONSTRAINT_PRIMARYKEY)
		rc = kp_store_err(st, KP_EEXIST, "key %s is already stored",
		    k->ref_hex[0] ? k->ref_hex : "(ref)");
	else if (r != SQLITE_DONE)
		rc = dberr(st, "save key");
out:
	if (s != NULL) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
	}
	sodium_memzero(si, sizeof(si));
	sodium_memzero(se, sizeof(se));
	return rc;
}

int
kp_store_load(struct kp_store *st, const uint8_t ref[KP_REF_LEN],
    int with_private, struct kp_bundle *b, int *found)
{
	sqlite3_stmt	*s = NULL;
	int		 rc, r, n;

	memset(b, 0, sizeof(*b));
	*found = 0;
	if ((rc = prepare_kept(st, KP_STMT_LOAD, "SELECT " KEY_COLS ", "
	    "keypackage_bytes, private_init_key, private_encryption_key "
	    "FROM keypackages WHERE keypackage_ref = ?", &s)) != KP_OK)
		goto out;
	sqlite3_bind_blob(s, 1, ref, KP_REF_LEN, SQLITE_STATIC);
	r = sqlite3_step(s);
	if (r == SQLITE_DONE)
		goto out;
	if (r != SQLITE_ROW) {
		rc = dberr(st, "load key");
		goto out;
	}
	if ((rc = row_key(st, s, 0, &b->key)) != KP_OK)
		goto out;
	b->credential_type = (uint16_t)sqlite3_column_int(s, KEY_NCOLS - 1);
	n = sqlite3_column_bytes(s, KEY_NCOLS);
	if (n <= 0 || n > KP_MAX_KEYPACKAGE) {
		rc = kp_store_err(st, KP_EDB, "key %s: bad KeyPackage size",
		    b->key.ref_hex);
		goto out;
	}
	if ((b->keypackage = malloc((size_t)n)) == NULL) {
		rc = kp_store_err(st, KP_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(b->keypackage, sqlite3_column_blob(s, KEY_NCOLS), (size_t)n);
	b->keypackage_len = (size_t)n;
	if (with_private && b->key.has_private) {
		if ((rc = unseal(st, "private_init_key", ref, KP_REF_LEN,
		    sqlite3_column_blob(s, KEY_NCOLS + 1),
		    (size_t)sqlite3_column_bytes(s, KEY_NCOLS + 1),
		    b->sec.init_priv)) != KP_OK ||
		    (rc = unseal(st, "private_encryption_key", ref, KP_REF_LEN,
		    sqlite3_column_blob(s, KEY_NCOLS + 2),
		    (size_t)sqlite3_column_bytes(s, KEY_NCOLS + 2),
		    b->sec.encryption_priv)) != KP_OK)
			goto out;
	}
	*found = 1;
out:
	done(s);
	if (rc != KP_OK)
		kp_bundle_clear(b);
	return rc;
}

int
kp_store_get(struct kp_store *st, const uint8_t ref[KP_REF_LEN],
    int with_private, struct kp_bundle *b)
{
	char	hex[2 * KP_REF_LEN + 1];
	int	rc, found;

	if ((rc = kp_store_load(st, ref, with_private, b, &found)) != KP_OK)
		return rc;
	if (!found) {
		kp_hex(ref, KP_REF_LEN, hex);
		return kp_store_err(st, KP_ENOTFOUND, "no key %s", hex);
	}
	return KP_OK;
}

void
kp_bundle_clear(struct kp_bundle *b)
{
	free(b->keypackage);
	b->keypackage = NULL;
	b->keypackage_len = 0;
	sodium_memzero(&b->sec, sizeof(b->sec));
}

/*
 * Run a statement that deletes or wipes rows, with ?1 bound to the
 * 32-byte blob (a ref or a credential hash) when there is one and ?2 to
 * num when the statement has it; *changed gets the number of rows
 * changed, and when there are any the WAL owes a scrub (kp_store_scrub).
 */
static int
exec_wipe(struct kp_store *st, const char *sql, const uint8_t *blob,
    int64_t num, const char *what, int *changed)
{
	sqlite3_stmt	*s = NULL;
	int		 rc;

	*changed = 0;
	if ((rc = prepare(st, sql, &s)) != KP_OK)
		goto out;
	if (blob != NULL)
		sqlite3_bind_blob(s, 1, blob, 32, SQLITE_STATIC);
	if (sqlite3_bind_parameter_count(s) >= 2)
		sqlite3_bind_int64(s, 2, num);
	if (sqlite3_step(s) != SQLITE_DONE) {
		rc = dberr(st, what);
		goto out;
	}
	if ((*changed = sqlite3_changes(st->db)) > 0)
		kp_store_scrub(st);
out:
	sqlite3_finalize(s);
	return rc;
}

int
kp_store_delete(struct kp_store *st, const uint8_t ref[KP_REF_LEN])
{
	char	hex[2 * KP_REF_LEN + 1];
	int	rc, n = 0;

	if ((rc = exec_wipe(st, "DELETE FROM keypackages WHERE "
	    "keypackage_ref = ?1", ref, 0, "key", &n)) != KP_OK)
		return rc;
	if (n == 0) {
		kp_hex(ref, KP_REF_LEN, hex);
		return kp_store_err(st, KP_ENOTFOUND, "no key %s", hex);
	}
	return KP_OK;
}

int
kp_store_wipe(struct kp_store *st, const uint8_t ref[KP_REF_LEN], int *wiped)
{
	int	rc, n = 0;

	*wiped = 0;
	if ((rc = exec_wipe(st, "UPDATE keypackages SET private_init_key = "
	    "NULL, private_encryption_key = NULL WHERE keypackage_ref = ?1 "
	    "AND private_init_key IS NOT NULL", ref, 0, "key", &n)) != KP_OK)
		return rc;
	*wiped = n > 0;
	return KP_OK;
}

int
kp_store_update(struct kp_store *st, const struct kp_key *k, int from)
{
	sqlite3_stmt	*s = NULL;
	struct kp_bundle b;
	int		 rc, found;

	if (kp_state_name(k->state) == NULL || kp_state_name(from) == NULL ||
	    k->group_id_len > KP_MAX_GROUP_ID)
		return kp_store_err(st, KP_EINVAL, "bad key update");
	if ((rc = prepare_kept(st, KP_STMT_UPDATE, "UPDATE keypackages "
	    "SET status = ?1, "
	    "uploaded_at = ?2, reserved_at = ?3, spent_at = ?4, "
	    "expired_at = ?5, changed_at = ?6, reservation_id = ?7, "
	    "reservation_expires_at = ?8, reserved_by = ?9, spent_group_id = "
	    "?10, spent_epoch = ?11, spent_by = ?12, "
	    "private_init_key = CASE WHEN ?1 = 'expired' THEN NULL ELSE "
	    "private_init_key END, "
	    "private_encryption_key = CASE WHEN ?1 = 'expired' THEN NULL ELSE "
	    "private_encryption_key END "
	    "WHERE keypackage_ref = ?13 AND status = ?14", &s)) != KP_OK)
		goto out;
	sqlite3_bind_text(s, 1, kp_state_name(k->state), -1, SQLITE_STATIC);
	bind_opt_int(s, 2, k->uploaded_at);
	bind_opt_int(s, 3, k->reserved_at);
	bind_opt_int(s, 4, k->spent_at);
	bind_opt_int(s, 5, k->expired_at);
	sqlite3_bind_int64(s, 6, k->changed_at);
	bind_opt_text(s, 7, k->reservation_id);
	bind_opt_int(s, 8, k->reservation_expires_at);
	bind_opt_text(s, 9, k->reserved_by);
	if (k->group_id_len > 0)
		sqlite3_bind_blob(s, 10, k->group_id, (int)k->group_id_len,
		    SQLITE_STATIC);
	if (k->epoch >= 0)
		sqlite3_bind_int64(s, 11, k->epoch);
	bind_opt_text(s, 12, k->spent_by);
	sqlite3_bind_blob(s, 13, k->ref, KP_REF_LEN, SQLITE_STATIC);
	sqlite3_bind_text(s, 14, kp_state_name(from), -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE) {
		rc = dberr(st, "update key");
		goto out;
	}
	if (sqlite3_changes(st->db) == 0) {
		memset(&b, 0, sizeof(b));
		if ((rc = kp_store_load(st, k->ref, 0, &b, &found)) != KP_OK)
			goto out;
		kp_bundle_clear(&b);
		rc = found ? kp_store_err(st, KP_ESTATE, "key %s is %s, not %s",
		    b.key.ref_hex, kp_state_name(b.key.state),
		    kp_state_name(from)) : kp_store_err(st, KP_ENOTFOUND,
		    "no key %s", k->ref_hex);
		goto out;
	}
	if (k->state == KP_STATE_EXPIRED)
		kp_store_scrub(st);
out:
	done(s);
	return rc;
}

int
kp_store_expire_created(struct kp_store *st, const uint8_t ref[KP_REF_LEN],
    int64_t now)
{
	sqlite3_stmt	*s = NULL;
	struct kp_bundle b;
	char		 hex[2 * KP_REF_LEN + 1];
	int		 rc, found;

	if ((rc = prepare_kept(st, KP_STMT_EXPIRE, "UPDATE keypackages "
	    "SET status = 'expired', expired_at = ?2, changed_at = ?2, "
	    "private_init_key = NULL, private_encryption_key = NULL "
	    "WHERE keypackage_ref = ?1 AND status = 'created'", &s)) !=
	    KP_OK)
		goto out;
	sqlite3_bind_blob(s, 1, ref, KP_REF_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, now);
	if (sqlite3_step(s) != SQLITE_DONE) {
		rc = dberr(st, "expire key");
		goto out;
	}
	if (sqlite3_changes(st->db) == 0) {
		done(s);
		s = NULL;
		if ((rc = kp_store_load(st, ref, 0, &b, &found)) != KP_OK)
			goto out;
		kp_bundle_clear(&b);
		kp_hex(ref, KP_REF_LEN, hex);
		rc = found ? kp_store_err(st, KP_ESTATE, "key %s is %s, not "
		    "created", hex, kp_state_name(b.key.state)) :
		    kp_store_err(st, KP_ENOTFOUND, "no key %s", hex);
		goto out;
	}
	kp_store_scrub(st);
out:
	done(s);
	return rc;
}

int
kp_store_set_state(struct kp_store *st, const uint8_t ref[KP_REF_LEN],
    int from, int to, int64_t now)
{
	struct kp_bundle	b;
	struct kp_key		*k = &b.key;
	int			 rc;

	if ((rc = kp_store_get(st, ref, 0, &b)) != KP_OK)
		return rc;
	kp_bundle_clear(&b);
	if (k->state != from)
		return kp_store_err(st, KP_ESTATE, "key %s is %s, not %s",
		    k->ref_hex, kp_state_name(k->state), kp_state_name(from));
	kp_key_move(k, to, now);
	return kp_store_update(st, k, from);
}

void
kp_key_move(struct kp_key *k, int to, int64_t now)
{
	switch (to) {
	case KP_STATE_CREATED:
	case KP_STATE_AVAILABLE:
		if (to == KP_STATE_CREATED)
			k->uploaded_at = 0;	/* not on the server */
		else if (k->uploaded_at == 0)
			k->uploaded_at = now;
		k->reserved_at = k->reservation_expires_at = 0;
		k->reservation_id[0] = k->reserved_by[0] = '\0';
		break;
	case KP_STATE_RESERVED:
		k->reserved_at = now;
		break;
	case KP_STATE_SPENT:
		k->spent_at = now;
		break;
	case KP_STATE_EXPIRED:
		k->expired_at = now;
		break;
	}
	k->state = to;
	k->changed_at = now;
}

int
kp_store_counts(struct kp_store *st, uint16_t suite, int lr,
    struct kp_counts *out)
{
	sqlite3_stmt	*s = NULL;
	const char	*name;
	int		 rc, r, state;

	memset(out, 0, sizeof(*out));
	if ((rc = prepare(st, "SELECT status, count(*), sum(last_resort) "
	    "FROM keypackages WHERE (?1 = 0 OR ciphersuite = ?1) AND "
	    "(?2 < 0 OR last_resort = ?2) GROUP BY status", &s)) != KP_OK)
		goto out;
	sqlite3_bind_int(s, 1, suite);
	sqlite3_bind_int(s, 2, lr);
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		name = (const char *)sqlite3_column_text(s, 0);
		if (name == NULL || (state = kp_state_from_name(name)) < 0) {
			rc = kp_store_err(st, KP_EDB, "a key row is damaged");
			goto out;
		}
		out->n[state] = (uint32_t)sqlite3_column_int64(s, 1);
		out->total += out->n[state];
		out->last_resort += (uint32_t)sqlite3_column_int64(s, 2);
	}
	if (r != SQLITE_DONE)
		rc = dberr(st, "count keys");
out:
	sqlite3_finalize(s);
	return rc;
}

/* Collect the keys a prepared statement yields. */
static int
collect(struct kp_store *st, sqlite3_stmt *s, struct kp_key **keys,
    size_t *n)
{
	struct kp_key	*v = NULL, *nv;
	size_t		 cap = 0, cnt = 0;
	int		 rc = KP_OK, r;

	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? 2 * cap : 16;
			if ((nv = reallocarray(v, cap, sizeof(*v))) == NULL) {
				rc = kp_store_err(st, KP_ENOMEM,
				    "out of memory");
				goto out;
			}
			v = nv;
		}
		if ((rc = row_key(st, s, 0, &v[cnt])) != KP_OK)
			goto out;
		cnt++;
	}
	if (r != SQLITE_DONE)
		rc = dberr(st, "list keys");
out:
	if (rc != KP_OK) {
		free(v);
		v = NULL;
		cnt = 0;
	}
	*keys = v;
	*n = cnt;
	return rc;
}

/*
 * The keys "SELECT KEY_COLS FROM keypackages WHERE <where>" yields, with
 * ?1 bound to text (NULL when NULL) and ?2 to num.
 */
static int
select_keys(struct kp_store *st, const char *where, const char *text,
    int64_t num, struct kp_key **keys, size_t *n)
{
	sqlite3_stmt	*s = NULL;
	char		 sql[1024];
	int		 rc;

	*keys = NULL;
	*n = 0;
	if ((size_t)snprintf(sql, sizeof(sql), "SELECT " KEY_COLS " FROM "
	    "keypackages WHERE %s", where) >= sizeof(sql)) {
		rc = kp_store_err(st, KP_EINVAL, "query too long");
		goto out;
	}
	if ((rc = prepare(st, sql, &s)) != KP_OK)
		goto out;
	if (text != NULL)
		sqlite3_bind_text(s, 1, text, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, num);
	rc = collect(st, s, keys, n);
out:
	sqlite3_finalize(s);
	return rc;
}

int
kp_store_list(struct kp_store *st, int state, struct kp_key **keys, size_t *n)
{
	*keys = NULL;
	*n = 0;
	if (state != -1 && kp_state_name(state) == NULL)
		return kp_store_err(st, KP_EINVAL, "bad state %d", state);
	return select_keys(st, "?1 IS NULL OR status = ?1 "
	    "ORDER BY created_at, rowid", kp_state_name(state), 0, keys, n);
}

int
kp_store_expired(struct kp_store *st, int64_t now, struct kp_key **keys,
    size_t *n)
{
	return select_keys(st, "not_after < ?2 AND status IN ('created', "
	    "'available', 'reserved') ORDER BY not_after, rowid", NULL, now,
	    keys, n);
}

int
kp_store_wipe_spent(struct kp_store *st, int64_t now, uint32_t *n)
{
	int	rc, changed;

	rc = exec_wipe(st, "UPDATE keypackages SET private_init_key = "
	    "NULL, private_encryption_key = NULL WHERE not_after < ?2 AND "
	    "status = 'spent' AND private_init_key IS NOT NULL", NULL, now,
	    "wipe spent keys",
	    &changed);
	*n = (uint32_t)changed;
	return rc;
}
