/* SPDX-License-Identifier: ISC */
/*
 * sqlite.c: what the programs' SQLite databases share: the schema,
 * migrated step by step and numbered by PRAGMA user_version.
 */

#include <stdio.h>

#include <sqlite3.h>

#include "kpool.h"

/* exec: run sql; KP_OK, or KP_EDB with SQLite's message in err. */
static int
exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	char	*msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return KP_OK;
	(void)snprintf(err, errlen, "%s", msg != NULL ? msg :
	    sqlite3_errmsg(db));
	sqlite3_free(msg);
	return KP_EDB;
}

int
kp_sqlite_migrate(sqlite3 *db, const char *const *steps, size_t nsteps,
    char *err, size_t errlen)
{
	sqlite3_stmt	*st = NULL;
	char		 sql[64];
	size_t		 i;
	int		 own, rc, v;

	own = sqlite3_get_autocommit(db);
	if (own && (rc = exec(db, "BEGIN IMMEDIATE", err, errlen)) != KP_OK)
		return rc;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st,
	    NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		(void)snprintf(err, errlen, "user_version: %s",
		    sqlite3_errmsg(db));
		rc = KP_EDB;
		goto out;
	}
	v = sqlite3_column_int(st, 0);
	/* done with it: a statement still running would keep a step
	 * from dropping a table ("database table is locked") */
	sqlite3_reset(st);
	if (v < 0 || (size_t)v > nsteps) {
		(void)snprintf(err, errlen, "schema version %d is newer than "
		    "this program's (%zu)", v, nsteps);
		rc = KP_EDB;
		goto out;
	}
	for (i = (size_t)v; i < nsteps; i++)
		if ((rc = exec(db, steps[i], err, errlen)) != KP_OK)
			goto out;
	(void)snprintf(sql, sizeof(sql), "PRAGMA user_version = %zu", nsteps);
	rc = exec(db, sql, err, errlen);
out:
	sqlite3_finalize(st);
	if (own && rc == KP_OK)
		rc = exec(db, "COMMIT", err, errlen);
	if (own && rc != KP_OK)
		(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}
