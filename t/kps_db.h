/* SPDX-License-Identifier: ISC */
/*
 * kps_db.h: the database a server or store test runs on.  The store and
 * API suites run on both backends: on SQLite by default, on PostgreSQL
 * when KP_BACKEND=pg (the Makefile runs each such test a second time
 * so), in the cluster mk/pg.sh started for the run (KP_PG_DIR, its
 * socket directory), one fresh database per call of db_new().  Without
 * a cluster a PostgreSQL test skips, or fails under KP_REQUIRE_PG=1
 * (CI).  Header-only: each test includes it once.
 */
#ifndef KPS_DB_H
#define KPS_DB_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "tap.h"

/* db_is_pg: 1 when this run's tests are on PostgreSQL. */
static __attribute__((unused)) int
db_is_pg(void)
{
	const char	*b = getenv("KP_BACKEND");

	return b != NULL && strcmp(b, "pg") == 0;
}

/* db_backend: the backend's name, for test descriptions. */
static __attribute__((unused)) const char *
db_backend(void)
{
	return db_is_pg() ? "postgresql" : "sqlite";
}

/*
 * db_cluster: the cluster's socket directory; without one, skip the
 * whole test, or bail under KP_REQUIRE_PG.  Call before plan().
 */
static const char *
db_cluster(void)
{
	const char	*d = getenv("KP_PG_DIR");

	if (d != NULL && *d != '\0')
		return d;
	if (getenv("KP_REQUIRE_PG") != NULL)
		bail("KP_BACKEND=pg but no cluster (KP_PG_DIR): run the "
		    "tests with make check, or under sh mk/pg.sh run");
	skip_all("no PostgreSQL cluster (KP_PG_DIR): make check starts one");
	return NULL;
}

/* Before main: a PostgreSQL run without a cluster skips or bails
 * before the test plans anything. */
static void __attribute__((constructor))
db_check(void)
{
	if (db_is_pg())
		(void)db_cluster();
}

/* db_admin: run sql in the cluster's database postgres; bails. */
static void
db_admin(const char *sql)
{
	char		 uri[512];
	PGconn		*c;
	PGresult	*r;

	snprintf(uri, sizeof(uri), "postgresql://kpool@/postgres?host=%s",
	    db_cluster());
	if ((c = PQconnectdb(uri)) == NULL || PQstatus(c) != CONNECTION_OK)
		bail("connect to %s: %s", uri, c ? PQerrorMessage(c) : "?");
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		bail("%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
}

/*
 * db_new: a fresh, empty database and its name for --db in out: a file
 * in dir on SQLite, a new database of the cluster on PostgreSQL.
 */
static __attribute__((unused)) void
db_new(char *out, size_t cap, const char *dir)
{
	static int	 seq;
	char		 sql[128], name[64];

	if (!db_is_pg()) {
		if ((size_t)snprintf(out, cap, "%s/server%s.db", dir,
		    seq++ ? "2" : "") >= cap)
			bail("db_new: too long");
		return;
	}
	snprintf(name, sizeof(name), "kpt_%ld_%d", (long)getpid(), seq++);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
	db_admin(sql);
	if ((size_t)snprintf(out, cap, "postgresql://kpool@/%s?host=%s", name,
	    db_cluster()) >= cap)
		bail("db_new: too long");
}

/* db_drop: remove the database db_new() made (its files on SQLite). */
static __attribute__((unused)) void
db_drop(const char *db)
{
	const char	*sfx[] = { "", "-wal", "-shm" };
	char		 sql[192], path[512];
	const char	*p, *q;
	size_t		 i;

	if (!db_is_pg()) {
		for (i = 0; i < 3; i++) {
			snprintf(path, sizeof(path), "%s%s", db, sfx[i]);
			unlink(path);
		}
		return;
	}
	if (getenv("KP_KEEP") != NULL)
		return;
	p = strchr(db + strlen("postgresql://"), '/');
	q = p ? strchr(p, '?') : NULL;
	if (p == NULL || q == NULL)
		return;
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %.*s WITH (FORCE)",
	    (int)(q - p - 1), p + 1);
	db_admin(sql);
}

/* db_sql: run sql on the PostgreSQL database db (tests only). */
static __attribute__((unused)) PGresult *
db_sql(const char *db, const char *sql)
{
	PGconn		*c;
	PGresult	*r;

	if ((c = PQconnectdb(db)) == NULL || PQstatus(c) != CONNECTION_OK)
		bail("connect to %s: %s", db, c ? PQerrorMessage(c) : "?");
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK &&
	    PQresultStatus(r) != PGRES_TUPLES_OK)
		bail("%s: %s", sql, PQerrorMessage(c));
	PQfinish(c);
	return r;
}

/* db_only_pg: a test of what only PostgreSQL does, run without it:
 * fail (the Makefile runs it with KP_BACKEND=pg alone). */
static __attribute__((unused)) void
db_only_pg(const char *test)
{
	if (db_is_pg())
		return;
	plan(1);
	ok(0, "%s is a PostgreSQL test: run it with KP_BACKEND=pg", test);
	exit(done_testing());
}

/* db_count: the number the query q (one row, one column) gives on
 * the PostgreSQL database db. */
static __attribute__((unused)) long
db_count(const char *db, const char *q)
{
	PGresult	*r = db_sql(db, q);
	long		 n = atol(PQgetvalue(r, 0, 0));

	PQclear(r);
	return n;
}

#endif /* KPS_DB_H */
