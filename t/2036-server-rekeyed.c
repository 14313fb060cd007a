/* SPDX-License-Identifier: ISC */
/*
 * 2036-server-rekeyed: a request is authenticated with the signing
 * device's key as it is then, and its write waits for the writer; a
 * device given another key (or removed) meanwhile signs nothing more:
 * the writer checks the key again in its transaction, and the write is
 * refused 401 unauthorized, with nothing done.  The writer is slowed
 * (--test-writer-delay, 6 s: the test sees the write wait, through
 * /metrics, even on a busy machine) so that the key changes while the
 * write waits.  The same for a device removed by a job of the same
 * batch before its own.
 */

#include <sys/wait.h>

#include "kps_test.h"

/* sql: run text on s's database, waiting for its lock. */
static void
sql(struct srv *s, const char *text)
{
	sqlite3	*db;
	char	*msg = NULL;

	if (db_is_pg()) {
		srv_sql(s, text);
		return;
	}
	if (sqlite3_open_v2(s->db, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK)
		bail("open %s", s->db);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, text, NULL, NULL, &msg) != SQLITE_OK)
		bail("sql: %s", msg ? msg : sqlite3_errmsg(db));
	sqlite3_close(db);
}

/*
 * later: as w, in a child, an upload of one new key (path NULL) or the
 * request method path body; the fd its answer ("STATUS CODE") comes
 * on, once, when it is answered (the child ends after writing it).
 */
static int
later(struct srv *s, struct who *w, const char *method, const char *path,
    const char *body)
{
	struct rawreply	r;
	char		b[128];
	int		fd[2];
	pid_t		pid;

	if (pipe(fd) != 0 || (pid = fork()) == -1)
		bail("pipe, fork");
	if (pid == 0) {
		close(fd[0]);
		if (path == NULL)
			(void)put_ex(s, w, NULL, NULL, 1, 1, 0, NULL, &r);
		else
			raw(s, w, method, path, body, T_NONE, &r);
		snprintf(b, sizeof(b), "%ld %s", r.status, error_code(&r));
		(void)!write(fd[1], b, strlen(b));
		_exit(0);
	}
	close(fd[1]);
	return fd[0];
}

/* answer: the answer of later()'s fd (static). */
static const char *
answer(int fd)
{
	static char	b[128];
	ssize_t		n;

	n = read(fd, b, sizeof(b) - 1);
	b[n > 0 ? n : 0] = '\0';
	close(fd);
	return b;
}

/* waiting: wait until s has n writes waiting; 1 when it has. */
static int
waiting(struct srv *s, long long n)
{
	int	i;

	for (i = 0; i < 500; i++) {
		if (srv_metric(s, "kpool_writes_waiting") == n)
			return 1;
		usleep(10000);
	}
	return 0;
}

int
main(void)
{
	const char *const	 opts[] = { "--quiet", "--public-metrics",
				    NULL };
	const char *const	 slow[] = { "--quiet", "--public-metrics",
				    "--test-writer-delay", "6000", NULL };
	struct srv		 s;
	struct who		 alice, laptop, phone, bob;
	struct rawreply		 r;
	char			 b[256];
	int			 fd, fd2;

	plan(12);
	srv_start(&s, opts);
	who_new(&s, &alice, "alice", 1);
	dev_new(&laptop, "alice/laptop");
	snprintf(b, sizeof(b), "{\"device\":\"laptop\",\"public_key\":\"%s\"}",
	    pk_b64(&laptop));
	raw(&s, &alice, "POST", "/devices", b, T_NONE, &r);
	is_int(r.status, 201, "alice enrolls her laptop");
	is_int(put(&s, &laptop, 2, 1, 0, NULL), 2, "the laptop uploads 2 "
	    "keys");
	dev_new(&phone, "alice/phone");
	snprintf(b, sizeof(b), "{\"device\":\"phone\",\"public_key\":\"%s\"}",
	    pk_b64(&phone));
	raw(&s, &alice, "POST", "/devices", b, T_NONE, &r);
	if (r.status != 201)
		bail("enroll the phone: %ld", r.status);
	who_new(&s, &bob, "bob", 1);
	kill(s.pid, SIGTERM);
	if (srv_wait(&s) != 0)
		bail("the server did not stop cleanly");
	srv_restart(&s, slow);

	/* the laptop uploads; its key changes while the upload waits */
	fd = later(&s, &laptop, NULL, NULL, NULL);
	ok(waiting(&s, 1), "the upload is authenticated and waits for the "
	    "writer");
	sql(&s, db_is_pg() ? "UPDATE devices SET public_key = "
	    "sha256('another'::bytea) WHERE username = 'alice' AND "
	    "device = 'laptop'" : "UPDATE devices SET public_key = "
	    "randomblob(32) WHERE username = 'alice' AND device = 'laptop'");
	is_string(answer(fd), "401 unauthorized", "the laptop was given "
	    "another key meanwhile: 401 unauthorized");
	is_int((int)srv_count(&s, "SELECT count(*) FROM keypackages WHERE "
	    "username = 'alice' AND device = 'laptop'"), 2, "nothing was "
	    "saved");
	ok(srv_metric(&s, "kpool_auth_refused_total{reason=\"unknown_key\"}")
	    >= 1, "counted in kpool_auth_refused_total{reason=\"unknown_key\"}");

	/* the phone's removal and the phone's upload, in one batch */
	fd2 = later(&s, &alice, "DELETE", "/devices/phone", NULL);
	ok(waiting(&s, 1), "alice's removal of her phone waits");
	fd = later(&s, &phone, NULL, NULL, NULL);
	/* most often the same batch; on a busy machine the upload may come
	 * after it, and is refused at its authentication: 401 too */
	(void)waiting(&s, 2);
	is_string(answer(fd2), "200 ", "the phone is removed");
	is_string(answer(fd), "401 unauthorized", "the phone's upload, in "
	    "the same batch after its removal: 401 unauthorized");
	is_int((int)srv_count(&s, "SELECT count(*) FROM keypackages WHERE "
	    "username = 'alice' AND device = 'phone'"), 0, "nothing of the "
	    "phone's is kept");

	/* a write of a device whose key stays goes through */
	kill(s.pid, SIGTERM);
	if (srv_wait(&s) != 0)
		bail("the server did not stop cleanly");
	srv_restart(&s, opts);
	is_int(put(&s, &alice, 1, 1, 0, NULL), 1, "alice's default device "
	    "uploads: accepted");
	raw(&s, &bob, "POST", "/keypackages/reserve",
	    "{\"target_username\":\"alice\"}", T_NONE, &r);
	is_int(r.status, 200, "bob reserves one of alice's keys");

	srv_stop(&s);
	who_free(&alice);
	who_free(&laptop);
	who_free(&phone);
	who_free(&bob);
	return done_testing();
}
