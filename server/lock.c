/* SPDX-License-Identifier: ISC */
/*
 * lock.c: one server to a SQLite file.  A server that serves a SQLite
 * database holds an exclusive flock(2) on DB.lock beside it, from
 * before its writer opens the database until it exits; a second one
 * finds it held and refuses to start.  The lock is on a file of its
 * own, not the database: SQLite locks the database with fcntl(2)
 * record locks, and where flock is emulated with those (NFS, some FUSE
 * file systems) a flock on the database itself would stand in the way
 * of every other process that reads it ("user add", sqlite3).  The
 * lock file is never removed: removing it would let a second server
 * lock a new file while the first holds the old one.  The kernel
 * releases the lock when the process ends, however it ends.
 * PostgreSQL databases are shared by design: no lock.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "kps.h"

int
kps_db_lock(const char *db, char *err, size_t errlen)
{
	char	path[4096];
	int	fd;

	if (kps_store_is_pg(db))
		return 0;
	if (strncmp(db, "sqlite:", 7) == 0)
		db += 7;
	if ((size_t)snprintf(path, sizeof(path), "%s.lock", db) >=
	    sizeof(path)) {
		snprintf(err, errlen, "%.64s...: the name is too long", db);
		return -1;
	}
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) == -1) {
		snprintf(err, errlen, "%.400s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK)
			snprintf(err, errlen, "%.400s is in use by another "
			    "kpool-server (it holds %.400s); one server to a "
			    "SQLite database", db, path);
		else
			snprintf(err, errlen, "%.400s: %s", path,
			    strerror(errno));
		close(fd);
		return -1;
	}
	return 0;	/* fd stays open, and locked, until exit */
}
