/* SPDX-License-Identifier: ISC */
/*
 * store_pg_db.c: one connection of the server's PostgreSQL store: its
 * schema's migration (versioned in kpool_schema, under an advisory lock
 * so that instances starting together do not race), its statements
 * (store_pg_sql.c) and their arguments, its pipelines, transactions and
 * reconnection, its upkeep, and the reading of results; see
 * store_pg_db.h.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "store_pg_db.h"
#include "store_rules.h"

/* Type OIDs of the parameters (pg_type.h is a server header). */
#define OID_BOOL	16
#define OID_BYTEA	17
#define OID_INT8	20
#define OID_INT4	23
#define OID_TEXT	25
#define OID_FLOAT8	701

static int64_t
mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
kps_pg_err(struct kps_pg *s, const char *what)
{
	char	*nl;

	snprintf(s->err, sizeof(s->err), "%s: %s", what,
	    s->conn ? PQerrorMessage(s->conn) : "no connection");
	if ((nl = strchr(s->err, '\n')) != NULL)
		*nl = '\0';
	return KP_EDB;
}

/* result_err: keep what failed and the message of result r. */
static void
result_err(struct kps_pg *s, const char *what, const PGresult *r)
{
	const char	*m = r ? PQresultErrorMessage(r) : "";
	char		*nl;

	if (m == NULL || *m == '\0') {
		kps_pg_err(s, what);
		return;
	}
	snprintf(s->err, sizeof(s->err), "%s: %s", what, m);
	if ((nl = strchr(s->err, '\n')) != NULL)
		*nl = '\0';
}

void
kps_pg_args_init(struct kps_pg_args *a)
{
	memset(a, 0, sizeof(*a));
}

/* arg: the next argument, of type t; NULL when there are too many. */
static int
arg(struct kps_pg_args *a, char t)
{
	if (a->n >= KPS_PG_MAXARGS) {
		a->types[0] = '!';	/* matches no statement */
		return -1;
	}
	a->types[a->n] = t;
	a->types[a->n + 1] = '\0';
	a->v[a->n] = NULL;
	a->len[a->n] = 0;
	a->fmt[a->n] = 1;
	return a->n++;
}

void
kps_pg_arg_text(struct kps_pg_args *a, const char *s)
{
	int	i;

	if ((i = arg(a, 't')) < 0)
		return;
	a->v[i] = s;
	a->len[i] = s ? (int)strlen(s) : 0;
}

void
kps_pg_arg_bytea(struct kps_pg_args *a, const uint8_t *p, size_t n)
{
	int	i;

	if ((i = arg(a, 'b')) < 0)
		return;
	/* a zero-length value needs a pointer that is not NULL */
	a->v[i] = p ? (const char *)p : NULL;
	if (p != NULL && n == 0)
		a->v[i] = "";
	a->len[i] = (int)n;
}

/* be: v in n bytes, most significant first, into the slot of arg i. */
static void
be(struct kps_pg_args *a, int i, uint64_t v, int n)
{
	int	k;

	for (k = 0; k < n; k++)
		a->num[i][k] = (unsigned char)(v >> (8 * (n - 1 - k)));
	a->v[i] = (const char *)a->num[i];
	a->len[i] = n;
}

void
kps_pg_arg_i64(struct kps_pg_args *a, int64_t v)
{
	int	i;

	if ((i = arg(a, 'i')) >= 0)
		be(a, i, (uint64_t)v, 8);
}

void
kps_pg_arg_i32(struct kps_pg_args *a, int32_t v)
{
	int	i;

	if ((i = arg(a, 'n')) >= 0)
		be(a, i, (uint32_t)v, 4);
}

void
kps_pg_arg_f64(struct kps_pg_args *a, double v)
{
	uint64_t	u;
	int		i;

	memcpy(&u, &v, sizeof(u));
	if ((i = arg(a, 'f')) >= 0)
		be(a, i, u, 8);
}

void
kps_pg_arg_bool(struct kps_pg_args *a, int v)
{
	int	i;

	if ((i = arg(a, 'l')) >= 0)
		be(a, i, v ? 1 : 0, 1);
}

void
kps_pg_arg_null(struct kps_pg_args *a, char t)
{
	(void)arg(a, t);
}

/* prepare: statement i on the connection, once. */
static int
prepare(struct kps_pg *s, enum kps_pg_stmt i)
{
	Oid		 types[KPS_PG_MAXARGS];
	PGresult	*r;
	char		 name[16];
	const char	*t;
	int		 n, ok;

	if (s->prepared[i / 64] & (1ULL << (i % 64)))
		return KP_OK;
	for (n = 0, t = kps_pg_types(i); *t != '\0'; t++, n++)
		types[n] = *t == 't' ? OID_TEXT : *t == 'b' ? OID_BYTEA :
		    *t == 'i' ? OID_INT8 : *t == 'n' ? OID_INT4 :
		    *t == 'f' ? OID_FLOAT8 : OID_BOOL;
	snprintf(name, sizeof(name), "kps%d", (int)i);
	r = PQprepare(s->conn, name, kps_pg_sql(i), n, types);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		result_err(s, "prepare", r);
	PQclear(r);
	if (!ok)
		return KP_EDB;
	s->prepared[i / 64] |= 1ULL << (i % 64);
	return KP_OK;
}

/* session: what a new or reset connection is set to. */
static int
session(struct kps_pg *s)
{
	PGresult	*r;
	int		 ok;

	memset(s->prepared, 0, sizeof(s->prepared));
	/*
	 * The statements are written for their generic plans (t/2013
	 * reads them); planning reserve's anew for each run would cost
	 * more than running it.  A reader cannot write by mistake.
	 */
	r = PQexec(s->conn, s->conf.readonly ? "SET plan_cache_mode = "
	    "force_generic_plan; SET default_transaction_read_only = on" :
	    "SET plan_cache_mode = force_generic_plan");
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		result_err(s, "session", r);
	PQclear(r);
	return ok ? KP_OK : KP_EDB;
}

/*
 * alive: a connection to run on.  A broken one is reset, at most one
 * try every 100 ms (a database that is down answers at once, and a
 * burst of requests should not each wait for a connect).
 */
static int
alive(struct kps_pg *s)
{
	int64_t	now;

	if (PQstatus(s->conn) == CONNECTION_OK)
		return KP_OK;
	now = mono_ms();
	if (s->reset_at != 0 && now - s->reset_at < 100) {
		snprintf(s->err, sizeof(s->err), "the database is unavailable");
		return KP_EDB;
	}
	s->reset_at = now;
	PQreset(s->conn);
	if (PQstatus(s->conn) != CONNECTION_OK)
		return kps_pg_err(s, "reconnect");
	return session(s);
}

/*
 * pipe_send: run the n statements of c in one pipeline (one round trip),
 * after the batch's BEGIN when it is still to be sent; c[i].res is the
 * result of each, or all are NULL and KP_EDB says the first failure.
 */
static int
pipe_send(struct kps_pg *s, struct kps_pg_call *c, size_t n)
{
	PGresult	*r;
	char		 name[16];
	size_t		 i;
	int		 st, failed = 0, begin = s->begin_pending;

	for (i = 0; i < n; i++)
		if (prepare(s, c[i].stmt) != KP_OK)
			return KP_EDB;
	if (!PQenterPipelineMode(s->conn))
		return kps_pg_err(s, "pipeline");
	if (begin && !PQsendQueryParams(s->conn, "BEGIN", 0, NULL, NULL, NULL,
	    NULL, 0))
		failed = 1;
	for (i = 0; i < n && !failed; i++) {
		snprintf(name, sizeof(name), "kps%d", (int)c[i].stmt);
		if (!PQsendQueryPrepared(s->conn, name, c[i].args->n,
		    c[i].args->v, c[i].args->len, c[i].args->fmt, 1))
			failed = 1;
	}
	if (failed || !PQpipelineSync(s->conn)) {
		kps_pg_err(s, "send");
		(void)PQexitPipelineMode(s->conn);
		return KP_EDB;
	}
	/* each statement's result, then a NULL; then the sync's */
	for (i = 0; i < n + (size_t)begin; i++) {
		if ((r = PQgetResult(s->conn)) == NULL) {
			if (!failed)
				kps_pg_err(s, "result");
			failed = 1;
			break;
		}
		st = PQresultStatus(r);
		if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
			if (!failed && st != PGRES_PIPELINE_ABORTED)
				result_err(s, "statement", r);
			failed = 1;
			PQclear(r);
		} else if (begin && i == 0) {
			s->begin_pending = 0;	/* the BEGIN went */
			PQclear(r);
		} else
			c[i - (size_t)begin].res = r;
		while ((r = PQgetResult(s->conn)) != NULL &&
		    PQresultStatus(r) != PGRES_PIPELINE_SYNC)
			PQclear(r);
		if (r != NULL) {	/* the sync, early: the rest is gone */
			PQclear(r);
			failed = 1;
			break;
		}
	}
	if (i == n + (size_t)begin) {
		while ((r = PQgetResult(s->conn)) != NULL) {
			st = PQresultStatus(r);
			PQclear(r);
			if (st == PGRES_PIPELINE_SYNC)
				break;
		}
	}
	(void)PQexitPipelineMode(s->conn);
	if (!failed)
		return KP_OK;
	for (i = 0; i < n; i++) {
		PQclear(c[i].res);
		c[i].res = NULL;
	}
	return KP_EDB;
}

int
kps_pg_pipeline(struct kps_pg *s, struct kps_pg_call *c, size_t n)
{
	static const struct kps_pg_args	 none;
	size_t					 i;
	int					 idle, again, reads;

	for (i = 0, reads = 1; i < n; i++) {
		c[i].res = NULL;
		if (c[i].args == NULL)
			c[i].args = &none;
		if (strcmp(c[i].args->types, kps_pg_types(c[i].stmt)) != 0) {
			snprintf(s->err, sizeof(s->err), "statement %d takes "
			    "\"%s\", given \"%s\"", (int)c[i].stmt,
			    kps_pg_types(c[i].stmt), c[i].args->types);
			return KP_EDB;
		}
		reads &= strncmp(kps_pg_sql(c[i].stmt), "SELECT", 6) == 0;
	}
	/*
	 * The database may end the writer's transaction on its own (an
	 * error, a lost connection): then what the batch did is gone, and
	 * a statement now would run alone.  Refuse until the writer ends
	 * the batch.
	 */
	if ((s->batch || s->own) && !s->begin_pending &&
	    PQtransactionStatus(s->conn) != PQTRANS_INTRANS) {
		snprintf(s->err, sizeof(s->err), "the transaction was ended "
		    "by the database");
		return KP_EDB;
	}
	/*
	 * Out of a transaction, or first in the batch (nothing done yet),
	 * a connection found broken is reset; reads, and a batch's first
	 * statements, are tried once more when it breaks under them.
	 */
	idle = (!s->batch && !s->own) || s->begin_pending;
	for (again = idle && (reads || s->begin_pending); ; again = 0) {
		if (idle && alive(s) != KP_OK)
			return KP_EDB;
		if (pipe_send(s, c, n) == KP_OK)
			return KP_OK;
		if (!again || PQstatus(s->conn) == CONNECTION_OK)
			return KP_EDB;
		s->reset_at = 0;
	}
}

PGresult *
kps_pg_run(struct kps_pg *s, enum kps_pg_stmt i, const struct kps_pg_args *a)
{
	struct kps_pg_call	c = { i, a, NULL };

	return kps_pg_pipeline(s, &c, 1) == KP_OK ? c.res : NULL;
}

int
kps_pg_each(struct kps_pg *s, enum kps_pg_stmt i,
    int (*fn)(void *, const PGresult *), void *arg)
{
	PGresult	*r;
	char		 name[16];
	int		 rc = KP_OK, st;

	if (alive(s) != KP_OK || prepare(s, i) != KP_OK)
		return KP_EDB;
	snprintf(name, sizeof(name), "kps%d", (int)i);
	if (!PQsendQueryPrepared(s->conn, name, 0, NULL, NULL, NULL, 1))
		return kps_pg_err(s, "send");
	(void)PQsetSingleRowMode(s->conn);
	/* every result is read, whatever fn says, to free the connection */
	while ((r = PQgetResult(s->conn)) != NULL) {
		st = PQresultStatus(r);
		if (st == PGRES_SINGLE_TUPLE) {
			if (rc == KP_OK)
				rc = fn(arg, r);
		} else if (st != PGRES_TUPLES_OK && rc == KP_OK) {
			result_err(s, "read", r);
			rc = KP_EDB;
		}
		PQclear(r);
	}
	return rc;
}

int
kps_pg_done(struct kps_pg *s, enum kps_pg_stmt i, const struct kps_pg_args *a,
    uint64_t *changed)
{
	PGresult	*r;

	if ((r = kps_pg_run(s, i, a)) == NULL)
		return KP_EDB;
	if (changed != NULL)
		*changed = strtoull(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return KP_OK;
}

int
kps_pg_sweep(struct kps_pg *s, enum kps_pg_stmt i, int64_t a, int64_t b,
    uint64_t *n)
{
	struct kps_pg_args	args;

	if (n != NULL)
		*n = 0;
	kps_pg_args_init(&args);
	kps_pg_arg_i64(&args, a);
	if (b >= 0)
		kps_pg_arg_i64(&args, b);
	return kps_pg_done(s, i, &args, n);
}

/* simple: run sql (no arguments, text results) for its status. */
static int
simple(struct kps_pg *s, const char *sql, const char *want)
{
	PGresult	*r;
	int		 ok;

	r = PQexec(s->conn, sql);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK ||
	    PQresultStatus(r) == PGRES_TUPLES_OK;
	if (ok && want != NULL && strcmp(PQcmdStatus(r), want) != 0) {
		snprintf(s->err, sizeof(s->err), "%s: the database answered "
		    "%s", sql, PQcmdStatus(r));
		PQclear(r);
		return KP_EDB;
	}
	if (!ok)
		result_err(s, sql, r);
	PQclear(r);
	return ok ? KP_OK : KP_EDB;
}

int
kps_pg_op_begin(struct kps_pg *s, int *own)
{
	int	rc;

	*own = !s->batch && !s->own;
	if (!*own)
		return KP_OK;
	if ((rc = alive(s)) != KP_OK ||
	    (rc = simple(s, "BEGIN", NULL)) != KP_OK) {
		*own = 0;
		return rc;
	}
	s->own = 1;
	return KP_OK;
}

int
kps_pg_op_end(struct kps_pg *s, int own, int rc)
{
	if (!own)
		return rc;
	s->own = 0;
	if (rc == KP_OK) {
		if (PQtransactionStatus(s->conn) == PQTRANS_INTRANS &&
		    simple(s, "COMMIT", "COMMIT") == KP_OK)
			return KP_OK;
		rc = KP_EDB;
	}
	if (PQtransactionStatus(s->conn) == PQTRANS_INTRANS ||
	    PQtransactionStatus(s->conn) == PQTRANS_INERROR)
		(void)simple(s, "ROLLBACK", NULL);
	return rc;
}

/*
 * migrate: bring the schema to its last version, each step in a
 * transaction of its own, under the migration's advisory lock (held by
 * the session until the end): an instance that starts meanwhile waits,
 * then finds the schema done.
 */
static int
migrate(struct kps_pg *s)
{
	PGresult	*r;
	char		 sql[128];
	int		 v, rc;

	snprintf(sql, sizeof(sql), "SELECT pg_advisory_lock(x'%x'::int, %d)",
	    KPS_PG_LOCKS, KPS_PG_LOCK_MIGRATE);
	if ((rc = simple(s, sql, NULL)) != KP_OK)
		return rc;
	if ((rc = simple(s, "CREATE TABLE IF NOT EXISTS kpool_schema "
	    "(version integer NOT NULL)", NULL)) != KP_OK)
		goto out;
	r = PQexec(s->conn, "SELECT max(version) FROM kpool_schema");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		result_err(s, "schema version", r);
		PQclear(r);
		rc = KP_EDB;
		goto out;
	}
	v = PQgetisnull(r, 0, 0) ? 0 : atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	if (v > kps_pg_nmigrations()) {
		snprintf(s->err, sizeof(s->err), "the database's schema is "
		    "version %d, newer than this kpool-server's %d", v,
		    kps_pg_nmigrations());
		rc = KP_EDB;
		goto out;
	}
	for (; v < kps_pg_nmigrations(); v++) {
		snprintf(sql, sizeof(sql), "DELETE FROM kpool_schema; "
		    "INSERT INTO kpool_schema VALUES (%d)", v + 1);
		if ((rc = simple(s, "BEGIN", NULL)) != KP_OK)
			goto out;
		if ((rc = simple(s, kps_pg_migration(v), NULL)) != KP_OK ||
		    (rc = simple(s, sql, NULL)) != KP_OK ||
		    (rc = simple(s, "COMMIT", "COMMIT")) != KP_OK) {
			(void)simple(s, "ROLLBACK", NULL);
			goto out;
		}
	}
	rc = KP_OK;
out:
	snprintf(sql, sizeof(sql), "SELECT pg_advisory_unlock(x'%x'::int, %d)",
	    KPS_PG_LOCKS, KPS_PG_LOCK_MIGRATE);
	if (simple(s, sql, NULL) != KP_OK && rc == KP_OK)
		rc = KP_EDB;
	return rc;
}

int
kps_pg_open_with(const char *conninfo, const struct kps_store_conf *conf,
    const struct kps_store_ops *ops, struct kps_store **out)
{
	/* defaults first: what conninfo says overrides them */
	static const char *const keys[] = { "connect_timeout",
	    "tcp_user_timeout", "application_name", "dbname", NULL };
	const char	*vals[] = { "5", "10000", "kpool-server", conninfo,
			    NULL };
	struct kps_pg	*s;
	int		 rc;

	*out = NULL;
	if (sodium_init() < 0)
		return KP_ECRYPTO;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return KP_ENOMEM;
	s->base.ops = ops;
	if (conf != NULL)
		s->conf = *conf;
	*out = &s->base;
	if ((s->conn = PQconnectdbParams(keys, vals, 1)) == NULL) {
		snprintf(s->err, sizeof(s->err), "out of memory");
		return KP_ENOMEM;
	}
	if (PQstatus(s->conn) != CONNECTION_OK)
		return kps_pg_err(s, "connect");
	if ((rc = session(s)) != KP_OK)
		return rc;
	/* quiet: CREATE ... IF NOT EXISTS says a NOTICE otherwise */
	if ((rc = simple(s, "SET client_min_messages = warning", NULL)) !=
	    KP_OK)
		return rc;
	if (!s->conf.readonly && (rc = migrate(s)) != KP_OK)
		return rc;
	return KP_OK;
}

void
kps_pg_close(struct kps_store *b)
{
	struct kps_pg	*s = (struct kps_pg *)b;

	if (s->conn != NULL)
		PQfinish(s->conn);
	free(s);
}

const char *
kps_pg_errmsg(struct kps_store *b)
{
	return ((struct kps_pg *)b)->err;
}

int
kps_pg_begin(struct kps_store *b)
{
	struct kps_pg	*s = (struct kps_pg *)b;

	/* sent with the batch's first statement: one round trip less */
	s->batch = 1;
	s->begin_pending = 1;
	return KP_OK;
}

int
kps_pg_commit(struct kps_store *b)
{
	struct kps_pg	*s = (struct kps_pg *)b;

	if (s->begin_pending) {		/* nothing was sent */
		s->batch = s->begin_pending = 0;
		return KP_OK;
	}
	/* a failed COMMIT leaves the batch for a rollback */
	if (PQtransactionStatus(s->conn) != PQTRANS_INTRANS) {
		snprintf(s->err, sizeof(s->err), "the transaction was ended "
		    "by the database");
		return KP_EDB;
	}
	if (simple(s, "COMMIT", "COMMIT") != KP_OK)
		return KP_EDB;
	s->batch = 0;
	return KP_OK;
}

int
kps_pg_rollback(struct kps_store *b)
{
	struct kps_pg	*s = (struct kps_pg *)b;
	int		 rc = KP_OK, ts = PQtransactionStatus(s->conn);

	if (!s->begin_pending &&
	    (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR))
		rc = simple(s, "ROLLBACK", NULL);
	s->batch = s->begin_pending = 0;
	return rc;
}

int
kps_pg_in_batch(struct kps_store *b)
{
	struct kps_pg	*s = (struct kps_pg *)b;

	return s->batch && (s->begin_pending ||
	    PQtransactionStatus(s->conn) == PQTRANS_INTRANS);
}

/*
 * Each reserve leaves the version of its key that was available behind,
 * and until vacuum removes it, every later reserve's scan of the
 * available keys steps over it: oldest first, the dead are always in
 * front.  Autovacuum comes by the minute; this comes by the second,
 * once some thousand are dead, on one instance at a time.  A table
 * without statistics (just filled by migrate) is analyzed first.
 */
#define VACUUM_EVERY_MS	1000
#define VACUUM_DEAD	2000

int
kps_pg_checkpoint(struct kps_store *b)
{
	struct kps_pg	*s = (struct kps_pg *)b;
	PGresult	*r;
	char		 sql[128];
	int64_t		 now = mono_ms();
	long		 dead;
	int		 rc, ok, blind;

	if (now - s->vacuumed < VACUUM_EVERY_MS || alive(s) != KP_OK)
		return KP_OK;
	s->vacuumed = now;
	/* a table filled at once (migrate) has no statistics yet */
	r = PQexec(s->conn, "SELECT n_dead_tup, n_live_tup > 0 AND "
	    "coalesce(last_analyze, last_autoanalyze) IS NULL "
	    "FROM pg_stat_user_tables WHERE relid = 'keypackages'::regclass");
	ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
	dead = ok ? atol(PQgetvalue(r, 0, 0)) : 0;
	blind = ok && strcmp(PQgetvalue(r, 0, 1), "t") == 0;
	PQclear(r);
	if (blind)
		(void)simple(s, "ANALYZE keypackages", NULL);
	if (dead < VACUUM_DEAD)
		return KP_OK;
	snprintf(sql, sizeof(sql), "SELECT pg_try_advisory_lock(x'%x'::int, "
	    "%d)", KPS_PG_LOCKS, KPS_PG_LOCK_VACUUM);
	r = PQexec(s->conn, sql);
	rc = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
	    strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	if (!rc)
		return KP_OK;	/* another instance is at it */
	rc = simple(s, "VACUUM (INDEX_CLEANUP ON) keypackages", NULL);
	snprintf(sql, sizeof(sql), "SELECT pg_advisory_unlock(x'%x'::int, %d)",
	    KPS_PG_LOCKS, KPS_PG_LOCK_VACUUM);
	(void)simple(s, sql, NULL);
	return rc;
}

int
kps_pg_isnull(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col);
}

int64_t
kps_pg_int(const PGresult *r, int row, int col)
{
	const unsigned char	*p;
	uint64_t		 v = 0;
	int			 n, i;

	if (PQgetisnull(r, row, col))
		return 0;
	p = (const unsigned char *)PQgetvalue(r, row, col);
	n = PQgetlength(r, row, col);
	if (n != 1 && n != 2 && n != 4 && n != 8)
		return 0;
	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	/* sign-extend the narrower ones */
	if (n == 2)
		return (int16_t)v;
	if (n == 4)
		return (int32_t)v;
	return (int64_t)v;
}

double
kps_pg_f64(const PGresult *r, int row, int col)
{
	const unsigned char	*p;
	uint64_t		 v = 0;
	double			 d;
	int			 i;

	if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 8)
		return 0;
	p = (const unsigned char *)PQgetvalue(r, row, col);
	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	memcpy(&d, &v, sizeof(d));
	return d;
}

void
kps_pg_text(const PGresult *r, int row, int col, char *out, size_t cap)
{
	size_t	n = (size_t)PQgetlength(r, row, col);

	if (PQgetisnull(r, row, col))
		n = 0;
	if (n >= cap)
		n = cap - 1;
	memcpy(out, PQgetvalue(r, row, col), n);
	out[n] = '\0';
}

void
kps_pg_bytea(const PGresult *r, int row, int col, uint8_t *out, size_t cap,
    size_t *len)
{
	size_t	n = (size_t)PQgetlength(r, row, col);

	if (PQgetisnull(r, row, col))
		n = 0;
	if (n > cap)
		n = cap;
	if (n > 0)
		memcpy(out, PQgetvalue(r, row, col), n);
	if (len != NULL)
		*len = n;
}

int
kps_pg_dupbytea(const PGresult *r, int row, int col, uint8_t **out,
    size_t *len)
{
	size_t	n = (size_t)PQgetlength(r, row, col);

	if ((*out = malloc(n ? n : 1)) == NULL)
		return KP_ENOMEM;
	if (n > 0)
		memcpy(*out, PQgetvalue(r, row, col), n);
	*len = n;
	return KP_OK;
}

/* null: set bit in r->null when column col of res is NULL. */
static void
null(const PGresult *res, int row, int col, struct kps_row *r, unsigned bit)
{
	if (PQgetisnull(res, row, col))
		r->null |= bit;
}

int
kps_pg_row(const PGresult *res, int row, struct kps_row *r)
{
	struct kps_key	*k = &r->key;
	char		 status[16];

	memset(r, 0, sizeof(*r));
	r->kind = KPS_ROW_KEY;
	kps_pg_bytea(res, row, 0, k->ref, sizeof(k->ref), NULL);
	kps_pg_text(res, row, 1, k->username, sizeof(k->username));
	if (kps_pg_dupbytea(res, row, 2, &k->bytes, &k->len) != KP_OK)
		return KP_ENOMEM;
	k->uploaded_at = kps_pg_int(res, row, 3);
	if (PQftype(res, 4) == OID_TEXT) {
		kps_pg_text(res, row, 4, status, sizeof(status));
		k->status = kps_state_parse(status);
	} else
		k->status = (int)kps_pg_int(res, row, 4);
	k->last_resort = (int)kps_pg_int(res, row, 5);
	kps_pg_text(res, row, 6, k->reservation_id,
	    sizeof(k->reservation_id));
	null(res, row, 6, r, KPS_NULL_RESERVATION_ID);
	k->reserved_at = kps_pg_int(res, row, 7);
	null(res, row, 7, r, KPS_NULL_RESERVED_AT);
	k->reservation_expires_at = kps_pg_int(res, row, 8);
	null(res, row, 8, r, KPS_NULL_EXPIRES);
	kps_pg_text(res, row, 9, k->reserved_by, sizeof(k->reserved_by));
	null(res, row, 9, r, KPS_NULL_RESERVED_BY);
	k->spent_at = kps_pg_int(res, row, 10);
	null(res, row, 10, r, KPS_NULL_SPENT_AT);
	kps_pg_text(res, row, 11, k->spent_by, sizeof(k->spent_by));
	null(res, row, 11, r, KPS_NULL_SPENT_BY);
	kps_pg_bytea(res, row, 12, k->group_id, sizeof(k->group_id),
	    &k->group_id_len);
	null(res, row, 12, r, KPS_NULL_GROUP_ID);
	k->not_after = kps_pg_int(res, row, 13);
	kps_pg_bytea(res, row, 14, k->credential_hash,
	    sizeof(k->credential_hash), NULL);
	k->suite = (uint16_t)kps_pg_int(res, row, 15);
	kps_pg_bytea(res, row, 16, k->init_key, sizeof(k->init_key), NULL);
	kps_pg_text(res, row, 17, k->device, sizeof(k->device));
	r->null |= KPS_NULL_REQUEST_ID;
	if (PQnfields(res) > 18) {
		kps_pg_text(res, row, 18, r->request_id,
		    sizeof(r->request_id));
		if (!PQgetisnull(res, row, 18))
			r->null &= ~KPS_NULL_REQUEST_ID;
	}
	return KP_OK;
}
