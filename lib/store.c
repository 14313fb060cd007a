/* SPDX-License-Identifier: ISC */
/*
 * store.c: the local pool's SQLite store: the connection, its
 * transactions and checkpoints, the settings and the identity (the key
 * rows are lib/keys.c's, the at-rest key and sealing lib/seal.c's).
 *
 * One file per device, mode 0600, WAL, secure_delete on, schema versioned
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
#include "view.h"
#include "util.h"


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
	/* 2: what the server records of each key; the owner's groups */
	KP_VIEW_SCHEMA,
	/*
	 * 3: devices.  The identity names its device (a store made before
	 * is the device "default", its keys kept); the user's devices as
	 * the server last listed them, for display when offline.
	 */
	"ALTER TABLE identity ADD COLUMN device TEXT NOT NULL"
	"  DEFAULT 'default';"
	"CREATE TABLE devices ("
	"  device TEXT PRIMARY KEY NOT NULL,"
	"  public_key BLOB NOT NULL CHECK (length(public_key) = 32),"
	"  enrolled_at INTEGER NOT NULL,"
	"  available INTEGER NOT NULL,"
	"  reserved INTEGER NOT NULL,"
	"  spent INTEGER NOT NULL,"
	"  expired INTEGER NOT NULL,"
	"  last_resort INTEGER NOT NULL);",
	/*
	 * 4: sub-second key times: nanoseconds within created_at's and
	 * changed_at's second (0 for the keys of before)
	 */
	"ALTER TABLE keypackages ADD COLUMN created_ns INTEGER NOT NULL"
	"  DEFAULT 0;"
	"ALTER TABLE keypackages ADD COLUMN changed_ns INTEGER NOT NULL"
	"  DEFAULT 0;",
};
#define NMIGRATIONS	(int)(sizeof(migrations) / sizeof(migrations[0]))

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

/* KP_EDB for what ended with SQLite's r after the retries of BUSY_MS. */
static int
busy_err(struct kp_store *st, const char *what, int r)
{
	return kp_store_err(st, KP_EDB, "%s: %s", what, r == SQLITE_BUSY ||
	    r == SQLITE_LOCKED ? "the store stayed busy for 5 s" :
	    sqlite3_errmsg(st->db));
}

void
kp_store_errbuf(struct kp_store *st, char *err, size_t errlen)
{
	st->err = err;
	st->errlen = errlen;
}

int
kp_store_dberr(struct kp_store *st, const char *what)
{
	return kp_store_err(st, KP_EDB, "%s: %s", what, sqlite3_errmsg(st->db));
}

static int
exec(struct kp_store *st, const char *sql)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return kp_store_dberr(st, sql);
	return KP_OK;
}

int
kp_store_prepare(struct kp_store *st, const char *sql, sqlite3_stmt **stmt)
{
	if (sqlite3_prepare_v2(st->db, sql, -1, stmt, NULL) != SQLITE_OK) {
		*stmt = NULL;
		return kp_store_dberr(st, "prepare");
	}
	return KP_OK;
}

static void	scrub_flush(struct kp_store *, int);
static int	wal_hook(void *, sqlite3 *, const char *, int);

/*
 * kp_store_prepare_kept: a statement of the hot paths (enum kp_stmt),
 * prepared once and kept: preparing costs more than running them.
 */
int
kp_store_prepare_kept(struct kp_store *st, int which, const char *sql,
    sqlite3_stmt **stmt)
{
	if (st->stmts[which] == NULL && sqlite3_prepare_v3(st->db, sql, -1,
	    SQLITE_PREPARE_PERSISTENT, &st->stmts[which], NULL) !=
	    SQLITE_OK) {
		st->stmts[which] = NULL;
		*stmt = NULL;
		return kp_store_dberr(st, "prepare");
	}
	*stmt = st->stmts[which];
	return KP_OK;
}

/* kp_store_done: reset a kept statement for its next use. */
void
kp_store_done(sqlite3_stmt *s)
{
	if (s != NULL) {
		(void)sqlite3_reset(s);
		(void)sqlite3_clear_bindings(s);
	}
}

/* ------------------------------------------------------------------ */
/* Opening. */

/* Bring the schema to NMIGRATIONS, in the open transaction. */
static int
migrate(struct kp_store *st)
{
	return kp_sqlite_migrate(st->db, migrations, NMIGRATIONS, st->err,
	    st->errlen);
}

/*
 * The key check: a sealed block of zeros in the settings.  A store that
 * has one only opens with the key that made it; a new store gets a new
 * key file and its check.
 */
static int
key_check(struct kp_store *st, const char *keyfile)
{
	uint8_t	sealed[KP_SEALED_LEN], zero[32], pt[32];
	char	hex[2 * KP_SEALED_LEN + 1];
	int	found, rc;

	memset(zero, 0, sizeof(zero));
	rc = kp_store_setting_get(st, "key_check", hex, sizeof(hex), &found);
	if (rc != KP_OK)
		goto out;
	if (!found) {
		if ((rc = kp_store_load_key(st, keyfile, 1)) != KP_OK)
			goto out;
		kp_store_seal(st, "key_check", NULL, 0, zero, sealed);
		kp_hex(sealed, sizeof(sealed), hex);
		rc = kp_store_setting_set(st, "key_check", hex);
		goto out;
	}
	if ((rc = kp_store_load_key(st, keyfile, 0)) != KP_OK)
		goto out;
	if (kp_unhex(hex, sealed, sizeof(sealed)) != KP_OK) {
		rc = kp_store_err(st, KP_EDB, "key_check setting is damaged");
		goto out;
	}
	if (kp_store_unseal(st, "key_check", NULL, 0, sealed, sizeof(sealed),
	    pt) != KP_OK) {
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
		if ((rc = kp_store_prepare(st, "PRAGMA journal_mode = WAL",
		    &s)) != KP_OK)
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
		rc = busy_err(st, "PRAGMA journal_mode = WAL", r);
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
	st->jfd = -1;
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
	sqlite3_wal_hook(st->db, wal_hook, st);
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
	for (i = 0; i < KP_NSTMTS; i++)
		sqlite3_finalize(st->stmts[i]);
	if (st->db != NULL) {
		kp_store_rollback(st);
		scrub_flush(st, 0);
		sqlite3_close_v2(st->db);
	}
	if (st->jfd != -1)
		close(st->jfd);
	sodium_memzero(st->key, sizeof(st->key));
	free(st->changes);
	free(st->pend);
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

	if ((rc = exec(st, "COMMIT")) != KP_OK) {
		kp_store_rollback(st);
		return rc;
	}
	st->txstart = st->nchanges;	/* the transaction's are made */
	return KP_OK;
}

void
kp_store_rollback(struct kp_store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		(void)sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	st->nchanges = st->txstart;	/* they were never made */
}

void
kp_store_change(struct kp_store *st, const uint8_t ref[KP_REF_LEN],
    int from, int to, const char *by)
{
	struct kp_change	*c;

	if (kp_grow(&st->changes, &st->capchanges, st->nchanges,
	    sizeof(*st->changes), 16) == -1) {
		st->lost = 1;
		return;
	}
	c = &st->changes[st->nchanges++];
	memcpy(c->ref, ref, KP_REF_LEN);
	c->from = from;
	c->to = to;
	(void)snprintf(c->by, sizeof(c->by), "%s", by != NULL ? by : "");
	/* a statement outside a transaction commits itself */
	if (sqlite3_get_autocommit(st->db))
		st->txstart = st->nchanges;
}

void
kp_store_changes(struct kp_store *st, struct kp_change **out, size_t *n,
    int *lost)
{
	*out = NULL;
	*n = 0;
	*lost = st->lost;
	st->lost = 0;
	if (st->txstart == 0)
		return;
	if (st->txstart == st->nchanges) {
		*out = st->changes;	/* all of them: hand the array over */
		*n = st->nchanges;
		st->changes = NULL;
		st->nchanges = st->capchanges = st->txstart = 0;
		return;
	}
	if ((*out = reallocarray(NULL, st->txstart, sizeof(**out))) == NULL) {
		*lost = 1;
	} else {
		memcpy(*out, st->changes, st->txstart * sizeof(**out));
		*n = st->txstart;
	}
	memmove(st->changes, st->changes + st->txstart,
	    (st->nchanges - st->txstart) * sizeof(*st->changes));
	st->nchanges -= st->txstart;
	st->txstart = 0;
}

int
kp_store_data_version(struct kp_store *st, int64_t *v)
{
	sqlite3_stmt	*s = NULL;
	int		 rc;

	*v = 0;
	if ((rc = kp_store_prepare(st, "PRAGMA data_version", &s)) != KP_OK)
		goto out;
	if (sqlite3_step(s) != SQLITE_ROW) {
		rc = kp_store_dberr(st, "data_version");
		goto out;
	}
	*v = sqlite3_column_int64(s, 0);
out:
	sqlite3_finalize(s);
	return rc;
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
		return busy_err(st, "checkpoint", r);
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
 * After each commit (SQLite's WAL hook, in place of its automatic
 * checkpoint): note the WAL's size for kp_store_flush, and copy the WAL
 * back at once only when it grew past KP_WAL_MAX pages (no flush came).
 */
static int
wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct kp_store	*st = arg;

	st->wal_frames = frames;
	if (frames >= KP_WAL_MAX)
		(void)sqlite3_wal_checkpoint_v2(db, name,
		    SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	return SQLITE_OK;
}

/*
 * Run the owed scrub.  The change itself is committed, so a checkpoint
 * that cannot finish now is not the caller's failure (the message is
 * kept): it stays owed, and the next flush, checkpoint or the close does
 * it.  With prime, a commit that changes nothing (the schema version
 * written again: page 1, which holds no secret) then starts the next
 * WAL: the first commit into a new WAL syncs its header, one more
 * fsync, which is paid here rather than by the next transition.
 */
static void
scrub_flush(struct kp_store *st, int prime)
{
	char	saved[KP_ERRLEN], sql[64];

	if (!sqlite3_get_autocommit(st->db))
		return;
	if (!st->scrub_owed) {
		if (st->wal_frames >= KP_WAL_FLUSH &&
		    sqlite3_wal_checkpoint_v2(st->db, NULL,
		    SQLITE_CHECKPOINT_PASSIVE, NULL, NULL) == SQLITE_OK)
			st->wal_frames = 0;
		return;
	}
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
	if ((rc = kp_store_prepare(st, "SELECT value FROM settings WHERE "
	    "name = ?", &s)) != KP_OK)
		goto out;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	r = sqlite3_step(s);
	if (r == SQLITE_DONE)
		goto out;
	if (r != SQLITE_ROW) {
		rc = kp_store_dberr(st, "setting");
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

	if ((rc = kp_store_prepare(st, "INSERT INTO settings (name, value) "
	    "VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = "
	    "excluded.value", &s)) != KP_OK)
		goto out;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = kp_store_dberr(st, "save setting");
out:
	sqlite3_finalize(s);
	return rc;
}

int
kp_store_identity_get(struct kp_store *st, char user[KP_MAX_USERNAME + 1],
    char device[KP_MAX_DEVICE + 1], uint8_t pub[KP_SIGN_PK_LEN],
    uint8_t seed[KP_SIGN_SEED_LEN], int *registered, int *found)
{
	sqlite3_stmt	*s = NULL;
	const char	*u, *d;
	size_t		 ulen;
	int		 rc, r;

	*found = 0;
	if ((rc = kp_store_prepare(st, "SELECT username, sign_pub, sign_seed, "
	    "registered_at IS NOT NULL, device FROM identity WHERE id = 1",
	    &s)) != KP_OK)
		goto out;
	r = sqlite3_step(s);
	if (r == SQLITE_DONE)
		goto out;
	if (r != SQLITE_ROW) {
		rc = kp_store_dberr(st, "identity");
		goto out;
	}
	u = (const char *)sqlite3_column_text(s, 0);
	ulen = u ? strlen(u) : 0;
	d = (const char *)sqlite3_column_text(s, 4);
	if (ulen == 0 || ulen > KP_MAX_USERNAME ||
	    sqlite3_column_bytes(s, 1) != KP_SIGN_PK_LEN ||
	    !kp_devicename_valid(d)) {
		rc = kp_store_err(st, KP_EDB, "identity row is damaged");
		goto out;
	}
	memcpy(user, u, ulen + 1);
	memcpy(device, d, strlen(d) + 1);
	memcpy(pub, sqlite3_column_blob(s, 1), KP_SIGN_PK_LEN);
	if ((rc = kp_store_unseal(st, "sign_seed", (const uint8_t *)user, ulen,
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
    const char *device, const uint8_t pub[KP_SIGN_PK_LEN],
    const uint8_t seed[KP_SIGN_SEED_LEN], int64_t now)
{
	sqlite3_stmt	*s = NULL;
	uint8_t		 sealed[KP_SEALED_LEN];
	int		 rc;

	kp_store_seal(st, "sign_seed", (const uint8_t *)user, strlen(user),
	    seed, sealed);
	if ((rc = kp_store_prepare(st, "INSERT INTO identity (id, username, "
	    "sign_pub, sign_seed, credential_type, created_at, device) VALUES "
	    "(1, ?, ?, ?, ?, ?, ?)", &s)) != KP_OK)
		goto out;
	sqlite3_bind_text(s, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, pub, KP_SIGN_PK_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(s, 3, sealed, sizeof(sealed), SQLITE_STATIC);
	sqlite3_bind_int(s, 4, KP_CRED_BASIC);
	sqlite3_bind_int64(s, 5, now);
	sqlite3_bind_text(s, 6, device, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = kp_store_dberr(st, "save identity");
out:
	sqlite3_finalize(s);
	return rc;
}

int
kp_store_identity_registered(struct kp_store *st, int64_t now)
{
	sqlite3_stmt	*s = NULL;
	int		 rc;

	if ((rc = kp_store_prepare(st, "UPDATE identity SET registered_at = ? "
	    "WHERE id = 1 AND registered_at IS NULL", &s)) != KP_OK)
		goto out;
	sqlite3_bind_int64(s, 1, now);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = kp_store_dberr(st, "identity registered");
out:
	sqlite3_finalize(s);
	return rc;
}

/* ------------------------------------------------------------------ */
/* The user's devices, as the server last listed them. */

int
kp_store_devices_put(struct kp_store *st, const struct kp_device *d,
    size_t n)
{
	sqlite3_stmt	*s = NULL;
	size_t		 i;
	int		 rc;

	if ((rc = exec(st, "DELETE FROM devices")) != KP_OK ||
	    (rc = kp_store_prepare(st, "INSERT INTO devices (device, "
	    "public_key, enrolled_at, available, reserved, spent, expired, "
	    "last_resort) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", &s)) != KP_OK)
		goto out;
	for (i = 0; i < n; i++) {
		sqlite3_reset(s);
		sqlite3_bind_text(s, 1, d[i].name, -1, SQLITE_STATIC);
		sqlite3_bind_blob(s, 2, d[i].public_key, KP_SIGN_PK_LEN,
		    SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, d[i].enrolled_at);
		sqlite3_bind_int64(s, 4, d[i].available);
		sqlite3_bind_int64(s, 5, d[i].reserved);
		sqlite3_bind_int64(s, 6, d[i].spent);
		sqlite3_bind_int64(s, 7, d[i].expired);
		sqlite3_bind_int64(s, 8, d[i].last_resort);
		if (sqlite3_step(s) != SQLITE_DONE) {
			rc = kp_store_dberr(st, "save devices");
			goto out;
		}
	}
out:
	sqlite3_finalize(s);
	return rc;
}

int
kp_store_devices_get(struct kp_store *st, struct kp_device **list, size_t *n)
{
	sqlite3_stmt	 *s = NULL;
	struct kp_device *d = NULL, *dd;
	const char	 *name;
	size_t		  cap = 0;
	int		  rc, r;

	*list = NULL;
	*n = 0;
	if ((rc = kp_store_prepare(st, "SELECT device, public_key, "
	    "enrolled_at, available, reserved, spent, expired, last_resort "
	    "FROM devices ORDER BY device", &s)) != KP_OK)
		goto out;
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		name = (const char *)sqlite3_column_text(s, 0);
		if (!kp_devicename_valid(name) ||
		    sqlite3_column_bytes(s, 1) != KP_SIGN_PK_LEN) {
			rc = kp_store_err(st, KP_EDB, "devices row is damaged");
			goto out;
		}
		if (kp_grow(&d, &cap, *n, sizeof(*d), 8) == -1) {
			rc = kp_store_err(st, KP_ENOMEM, "out of memory");
			goto out;
		}
		dd = &d[(*n)++];
		memset(dd, 0, sizeof(*dd));
		(void)snprintf(dd->name, sizeof(dd->name), "%s", name);
		memcpy(dd->public_key, sqlite3_column_blob(s, 1),
		    KP_SIGN_PK_LEN);
		dd->enrolled_at = sqlite3_column_int64(s, 2);
		dd->available = (uint32_t)sqlite3_column_int64(s, 3);
		dd->reserved = (uint32_t)sqlite3_column_int64(s, 4);
		dd->spent = (uint32_t)sqlite3_column_int64(s, 5);
		dd->expired = (uint32_t)sqlite3_column_int64(s, 6);
		dd->last_resort = (uint32_t)sqlite3_column_int64(s, 7);
	}
	if (r != SQLITE_DONE)
		rc = kp_store_dberr(st, "devices");
out:
	sqlite3_finalize(s);
	if (rc != KP_OK) {
		free(d);
		d = NULL;
		*n = 0;
	}
	*list = d;
	return rc;
}
