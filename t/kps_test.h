/* SPDX-License-Identifier: ISC */
/*
 * kps_test.h: helpers of the server tests (t/2xxx-*.c): start a real
 * kpool-server on 127.0.0.1 port 0 with a fresh database of the backend
 * under test (kps_db.h) and a test clock, make users, and send raw
 * (possibly tampered) signed requests.  Header-only: each test includes
 * it once.
 */
#ifndef KPS_TEST_H
#define KPS_TEST_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>
#include <sqlite3.h>

#include "kpool.h"
#include "httpsig.h"
#include "kps_db.h"
#include "tap.h"

struct srv {
	pid_t	pid;
	int	port;
	char	url[64];
	char	dir[64];
	char	db[512];
	char	clock[128];
	char	log[128];
};

/*
 * srv_set_clocks: the server's time t and, when sig >= 0, the time its
 * signature checks follow (else the real time).
 */
static void
srv_set_clocks(struct srv *s, int64_t t, int64_t sig)
{
	char	tmp[160];
	FILE	*f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", s->clock);
	if ((f = fopen(tmp, "w")) == NULL)
		bail("clock: %s", strerror(errno));
	if (sig >= 0)
		fprintf(f, "%lld %lld\n", (long long)t, (long long)sig);
	else
		fprintf(f, "%lld\n", (long long)t);
	fclose(f);
	if (rename(tmp, s->clock) != 0)
		bail("clock: %s", strerror(errno));
}

/* srv_set_clock: the server's time t; signatures follow the real one. */
static void
srv_set_clock(struct srv *s, int64_t t)
{
	srv_set_clocks(s, t, -1);
}

/*
 * The drain limits (docs/security.md, "Draining") would hold back the
 * strangers most tests drain pools with: a test runs without them (and
 * with the burst of before them), unless it sets srv_drain_limits to
 * run with the server's defaults; its extra arguments come after, and
 * override.
 */
static int	srv_drain_limits;

/* srv_restart: start kpool-server again on the database and clock of
 * s, with extra arguments (NULL-ended). */
static void
srv_restart(struct srv *s, const char *const *extra)
{
	const char	*build = getenv("KP_BUILD");
	const char	*argv[58];
	char		 bin[512], line[32];
	int		 p[2], i = 0, n;
	ssize_t		 r;

	snprintf(bin, sizeof(bin), "%s/kpool-server", build ? build : "build");
	argv[i++] = bin;
	argv[i++] = "--listen";
	argv[i++] = "127.0.0.1:0";
	argv[i++] = "--db";
	argv[i++] = s->db;
	argv[i++] = "--test-clock";
	argv[i++] = s->clock;
	if (!srv_drain_limits) {
		argv[i++] = "--stranger-share";
		argv[i++] = "0";
		argv[i++] = "--contact-floor";
		argv[i++] = "0";
		argv[i++] = "--caller-cap";
		argv[i++] = "0";
		argv[i++] = "--rate-burst";
		argv[i++] = "100";
		argv[i++] = "--register-rate";
		argv[i++] = "0";
	}
	while (extra != NULL && *extra != NULL && i < 56)
		argv[i++] = *extra++;
	argv[i] = NULL;
	if (pipe(p) != 0)
		bail("pipe");
	if ((s->pid = fork()) == -1)
		bail("fork");
	if (s->pid == 0) {
		FILE *lf = freopen(s->log, "a", stderr);

		/* the server dies with the test, even when the test bails */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		(void)lf;
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	n = 0;
	while (n < (int)sizeof(line) - 1 &&
	    (r = read(p[0], line + n, 1)) == 1 && line[n] != '\n')
		n++;
	line[n] = '\0';
	close(p[0]);
	if ((s->port = atoi(line)) <= 0)
		bail("kpool-server did not report a port (see %s)", s->log);
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", s->port);
}

/* srv_start: start kpool-server on a fresh database, with extra
 * arguments (NULL-ended). */
static void
srv_start(struct srv *s, const char *const *extra)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "/tmp/kpool-srv.XXXXXX");
	if (mkdtemp(s->dir) == NULL)
		bail("mkdtemp: %s", strerror(errno));
	db_new(s->db, sizeof(s->db), s->dir);
	snprintf(s->clock, sizeof(s->clock), "%s/clock", s->dir);
	snprintf(s->log, sizeof(s->log), "%s/server.log", s->dir);
	srv_set_clock(s, (int64_t)time(NULL));
	srv_restart(s, extra);
}

/* srv_wait: wait for the server to exit (signalled by the test); its
 * exit status as srv_stop() gives it.  The directory stays. */
static __attribute__((unused)) int
srv_wait(struct srv *s)
{
	int	st = -1;

	if (s->pid > 0 && waitpid(s->pid, &st, 0) == s->pid) {
		s->pid = 0;
		return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	}
	return -1;
}

/* srv_stop: SIGTERM and wait; returns the exit status (0: clean). */
static int
srv_stop(struct srv *s)
{
	char	cmd[256];
	int	st = -1;

	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, &st, 0);
		s->pid = 0;
	}
	if (getenv("KP_KEEP") == NULL) {
		db_drop(s->db);
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
		if (system(cmd) != 0)
			diag("cannot remove %s", s->dir);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

struct who {
	char		 name[KP_MAX_USERNAME + 1];
	uint8_t		 seed[KP_SIGN_SEED_LEN];
	uint8_t		 pk[32], sk[64];
	struct kp_client *c;
};

/* who_new: a user with a fresh key and a client; registered when reg. */
static __attribute__((unused)) void
who_new(struct srv *s, struct who *w, const char *name, int reg)
{
	int	rc;

	memset(w, 0, sizeof(*w));
	snprintf(w->name, sizeof(w->name), "%s", name);
	randombytes_buf(w->seed, sizeof(w->seed));
	crypto_sign_seed_keypair(w->pk, w->sk, w->seed);
	if (kp_client_new(s->url, name, w->seed, &w->c) != KP_OK)
		bail("client for %s", name);
	if (reg && (rc = kp_client_register(w->c)) != KP_OK)
		bail("register %s: %s (%s)", name, kp_strerror(rc),
		    kp_client_errmsg(w->c));
}

static __attribute__((unused)) void
who_free(struct who *w)
{
	kp_client_free(w->c);
	sodium_memzero(w->sk, sizeof(w->sk));
	sodium_memzero(w->seed, sizeof(w->seed));
	w->c = NULL;
}

/* A KeyPackage made by gen(): its bytes (malloc'd) and its ref. */
struct kpb {
	uint8_t	*buf;
	size_t	 len;
	uint8_t	 ref[KP_REF_LEN];
};

/* gen: a KeyPackage of w with identity, valid from nb to na, flagged
 * last resort when lr; bails on failure. */
static __attribute__((unused)) void
gen(struct who *w, const char *identity, int64_t nb, int64_t na, int lr,
    struct kpb *k)
{
	struct kp_kpopts	o;
	struct kp_kpsecrets	sec;
	int			rc;

	memset(&o, 0, sizeof(o));
	o.identity = (const uint8_t *)identity;
	o.identity_len = strlen(identity);
	o.not_before = (uint64_t)nb;
	o.not_after = (uint64_t)na;
	o.last_resort = lr;
	if ((rc = kp_keypackage_generate(&o, w->seed, &k->buf, &k->len,
	    k->ref, &sec)) != KP_OK)
		bail("generate: %s", kp_strerror(rc));
	sodium_memzero(&sec, sizeof(sec));
}

/* What a raw request does to its signature. */
enum tamper {
	T_NONE = 0,
	T_UNSIGNED,		/* no signature headers at all */
	T_NO_DIGEST,		/* no Content-Digest */
	T_BAD_DIGEST,		/* digest of another body */
	T_STALE,		/* created 301 s ago */
	T_FUTURE,		/* created 301 s ahead */
	T_FORGED,		/* signed by another key */
	T_BAD_INPUT,		/* Signature-Input of another profile */
	T_BAD_SIG,		/* Signature not base64 */
	T_OTHER_PATH,		/* signed for another path */
};

struct rawreply {
	long	status;
	char	body[8192];
	size_t	len;
	char	retry_after[16];
	char	allow[32];
};

static size_t
raw_write(char *p, size_t sz, size_t n, void *arg)
{
	struct rawreply	*r = arg;
	size_t		 len = sz * n, room = sizeof(r->body) - 1 - r->len;

	if (len > room)
		len = room;
	memcpy(r->body + r->len, p, len);
	r->len += len;
	r->body[r->len] = '\0';
	return sz * n;
}

static size_t
raw_header(char *p, size_t sz, size_t n, void *arg)
{
	struct rawreply	*r = arg;
	size_t		 len = sz * n;

	if (len > 13 && strncasecmp(p, "Retry-After: ", 13) == 0)
		snprintf(r->retry_after, sizeof(r->retry_after), "%.*s",
		    (int)(len - 13 - 2 > 15 ? 15 : len - 13 - 2), p + 13);
	if (len > 7 && strncasecmp(p, "Allow: ", 7) == 0)
		snprintf(r->allow, sizeof(r->allow), "%.*s",
		    (int)(len - 7 - 2 > 31 ? 31 : len - 7 - 2), p + 7);
	return len;
}

/* raw_source: the address raw requests come from (NULL: any). */
static const char	*raw_source;

/*
 * raw: send method path (with an optional query) and body as w
 * (tampered with t); replay, when not NULL, holds the headers to send
 * again (first call fills it).  Fills *out.
 */
static void
raw_ex(struct srv *s, struct who *w, const char *method, const char *target,
    const void *body, size_t len, enum tamper t, struct kp_httpsig *keep,
    int reuse, struct rawreply *out)
{
	struct kp_httpsig	 sig, tmp;
	struct curl_slist	*h = NULL;
	CURL			*c;
	char			 url[4096], path[2048], line[600];
	const char		*q;
	uint8_t			 opk[32], osk[64];
	int64_t			 now = (int64_t)time(NULL);

	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "%s", target);
	q = "";
	if (strchr(path, '?') != NULL) {
		*strchr(path, '?') = '\0';
		q = strchr(target, '?') + 1;
	}
	if (reuse && keep != NULL)
		sig = *keep;
	else {
		if (t == T_STALE)
			now -= 301;
		if (t == T_FUTURE)
			now += 301;
		if (t == T_FORGED) {
			crypto_sign_keypair(opk, osk);
			if (kp_httpsig_sign(method, path, q, body, len,
			    w->name, osk, now, &sig) != KP_OK)
				bail("sign");
		} else if (kp_httpsig_sign(method, t == T_OTHER_PATH ?
		    "/elsewhere" : path, q, body, len, w->name, w->sk, now,
		    &sig) != KP_OK)
			bail("sign");
		if (t == T_BAD_DIGEST) {
			kp_httpsig_digest("other", 5, tmp.digest);
			memcpy(sig.digest, tmp.digest, sizeof(sig.digest));
		}
		if (t == T_BAD_INPUT)
			snprintf(sig.input, sizeof(sig.input), "kpool=(\"@method\""
			    ");created=%lld;keyid=\"%s\"", (long long)now,
			    w->name);
		if (t == T_BAD_SIG)
			snprintf(sig.signature, sizeof(sig.signature),
			    "kpool=:not base64!:");
		if (keep != NULL)
			*keep = sig;
	}
	if (t != T_UNSIGNED) {
		if (t != T_NO_DIGEST) {
			snprintf(line, sizeof(line), "Content-Digest: %s",
			    sig.digest);
			h = curl_slist_append(h, line);
		}
		snprintf(line, sizeof(line), "Signature-Input: %s", sig.input);
		h = curl_slist_append(h, line);
		snprintf(line, sizeof(line), "Signature: %s", sig.signature);
		h = curl_slist_append(h, line);
	}
	h = curl_slist_append(h, "Expect:");
	h = curl_slist_append(h, "Content-Type: application/json");
	snprintf(url, sizeof(url), "%s%s", s->url, target);
	if ((c = curl_easy_init()) == NULL)
		bail("curl");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, raw_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, raw_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	if (raw_source != NULL)
		curl_easy_setopt(c, CURLOPT_INTERFACE, raw_source);
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)len);
	}
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
}

static __attribute__((unused)) void
raw(struct srv *s, struct who *w, const char *method, const char *target,
    const char *body, enum tamper t, struct rawreply *out)
{
	raw_ex(s, w, method, target, body, body ? strlen(body) : 0, t, NULL,
	    0, out);
}

/* The operator's metrics token of the tests, and a file that holds it. */
#define TEST_TOKEN	"operator-token-0123456789"

/* token_file: the path (static) of a file holding TEST_TOKEN, for
 * --metrics-token; made on first use, removed at exit. */
static char	token_path[64];

static void
token_gone(void)
{
	unlink(token_path);
}

static __attribute__((unused)) const char *
token_file(void)
{
	int	fd;

	if (token_path[0] != '\0')
		return token_path;
	snprintf(token_path, sizeof(token_path), "/tmp/kpool-token.XXXXXX");
	if ((fd = mkstemp(token_path)) == -1 ||
	    write(fd, TEST_TOKEN "\n", sizeof(TEST_TOKEN)) !=
	    (ssize_t)sizeof(TEST_TOKEN))
		bail("token file: %s", strerror(errno));
	close(fd);
	atexit(token_gone);
	return token_path;
}

/* raw_bearer: GET path with "Authorization: Bearer token" (none when
 * token is NULL), unsigned; fills *out. */
static __attribute__((unused)) void
raw_bearer(struct srv *s, const char *token, const char *path,
    struct rawreply *out)
{
	struct curl_slist	*h = NULL;
	CURL			*c;
	char			 url[512], line[300];

	memset(out, 0, sizeof(*out));
	if (token != NULL) {
		snprintf(line, sizeof(line), "Authorization: Bearer %s",
		    token);
		h = curl_slist_append(h, line);
	}
	snprintf(url, sizeof(url), "%s%s", s->url, path);
	if ((c = curl_easy_init()) == NULL)
		bail("curl");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, raw_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
}

/* error_code: the "error" member of a JSON reply, in a static buffer. */
static __attribute__((unused)) const char *
error_code(const struct rawreply *r)
{
	static char	 code[64];
	const char	*p = strstr(r->body, "\"error\":\"");
	size_t		 n = 0;

	code[0] = '\0';
	if (p == NULL)
		return code;
	p += 9;
	while (p[n] != '"' && p[n] != '\0' && n < sizeof(code) - 1)
		n++;
	memcpy(code, p, n);
	code[n] = '\0';
	return code;
}

/* srv_metric: the value of metric name in an unsigned GET /metrics
 * (the server runs with --public-metrics), or -1. */
static __attribute__((unused)) long long
srv_metric(struct srv *s, const char *name)
{
	struct rawreply	 r;
	struct who	 anon;
	const char	*p;

	memset(&anon, 0, sizeof(anon));
	strcpy(anon.name, "x");		/* unsigned: any name */
	raw(s, &anon, "GET", "/metrics", NULL, T_UNSIGNED, &r);
	for (p = r.body; p != NULL && *p != '\0'; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (strncmp(p, name, strlen(name)) == 0 &&
		    p[strlen(name)] == ' ')
			return atoll(p + strlen(name) + 1);
	}
	return -1;
}

/* srv_count: the integer the query gives on the server's database (read
 * only, beside the running server), or -1. */
static __attribute__((unused)) long long
srv_count(struct srv *s, const char *query)
{
	sqlite3		*db;
	sqlite3_stmt	*st = NULL;
	long long	 n = -1;

	if (db_is_pg())
		return db_count(s->db, query);
	if (sqlite3_open_v2(s->db, &db, SQLITE_OPEN_READONLY, NULL) ==
	    SQLITE_OK && sqlite3_prepare_v2(db, query, -1, &st, NULL) ==
	    SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/* srv_sql: run the statements text on the server's database; bails on
 * failure. */
static __attribute__((unused)) void
srv_sql(struct srv *s, const char *text)
{
	sqlite3	*db;
	char	*msg = NULL;

	if (db_is_pg()) {
		PQclear(db_sql(s->db, text));
		return;
	}
	if (sqlite3_open_v2(s->db, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK || sqlite3_exec(db, text, NULL, NULL, &msg) !=
	    SQLITE_OK)
		bail("sql: %s", msg ? msg : sqlite3_errmsg(db));
	sqlite3_close(db);
}

/*
 * srv_hold_writer: hold the server's writer (one test): take the write
 * lock of its SQLite file, or lock its PostgreSQL keypackages table
 * (every batch of the writer begins by sweeping it), so that its writer
 * waits and writes queue; srv_free_writer() lets it go.
 */
struct hold {
	sqlite3	*db;
	PGconn	*pg;
};

static __attribute__((unused)) struct hold *
srv_hold_writer(struct srv *s)
{
	struct hold	*h;
	PGresult	*r;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		bail("calloc");
	if (db_is_pg()) {
		if ((h->pg = PQconnectdb(s->db)) == NULL ||
		    PQstatus(h->pg) != CONNECTION_OK)
			bail("connect %s", s->db);
		r = PQexec(h->pg, "BEGIN; LOCK TABLE keypackages IN "
		    "EXCLUSIVE MODE");
		is_int(PQresultStatus(r), PGRES_COMMAND_OK, "the test "
		    "locks the database's keypackages");
		PQclear(r);
		return h;
	}
	if (sqlite3_open_v2(s->db, &h->db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK)
		bail("sqlite3_open %s", s->db);
	sqlite3_busy_timeout(h->db, 5000);
	is_int(sqlite3_exec(h->db, "BEGIN IMMEDIATE", NULL, NULL, NULL),
	    SQLITE_OK, "the test takes the database's write lock");
	return h;
}

static __attribute__((unused)) void
srv_free_writer(struct hold *h)
{
	PGresult	*r;

	if (h->pg != NULL) {
		r = PQexec(h->pg, "ROLLBACK");
		is_int(PQresultStatus(r), PGRES_COMMAND_OK,
		    "the test lets the writer go");
		PQclear(r);
		PQfinish(h->pg);
	} else {
		is_int(sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL),
		    SQLITE_OK, "the test lets the writer go");
		sqlite3_close(h->db);
	}
	free(h);
}

/* sock_open: a TCP connection to the server; bails on failure. */
static __attribute__((unused)) int
sock_open(const struct srv *s)
{
	struct sockaddr_in	sin;
	int			fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)s->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0)
		bail("connect to port %d: %s", s->port, strerror(errno));
	return fd;
}

/* sock_send: write all of buf; bails on failure. */
static __attribute__((unused)) void
sock_send(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		if ((n = send(fd, p, len, MSG_NOSIGNAL)) <= 0)
			bail("send: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
}

/*
 * sock_read: read into buf (NUL-terminated) until the peer closes, for
 * at most ms milliseconds; the number of bytes read.
 */
static __attribute__((unused)) size_t
sock_read(int fd, char *buf, size_t cap, int ms)
{
	struct pollfd	pfd = { .fd = fd, .events = POLLIN };
	size_t		len = 0;
	ssize_t		n;

	while (len + 1 < cap && poll(&pfd, 1, ms) == 1) {
		if ((n = recv(fd, buf + len, cap - 1 - len, 0)) <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return len;
}

/* srv_log_wait: wait (5 s at most) until the server's log holds
 * needle; 1 when it does. */
static __attribute__((unused)) int
srv_log_wait(const struct srv *s, const char *needle)
{
	char	*log;
	size_t	 n;
	int	 i, found = 0;

	for (i = 0; i < 500 && !found; i++) {
		if (i > 0)
			usleep(10000);
		log = tap_slurp(s->log, &n);
		found = memmem(log, n, needle, strlen(needle)) != NULL;
		free(log);
	}
	return found;
}

/*
 * Devices.  dev_new: a device that signs as principal (USER or
 * USER/DEVICE) with a fresh key, without a client (raw() signs with
 * w->name as the keyid).
 */
static __attribute__((unused)) void
dev_new(struct who *w, const char *principal)
{
	memset(w, 0, sizeof(*w));
	snprintf(w->name, sizeof(w->name), "%s", principal);
	randombytes_buf(w->seed, sizeof(w->seed));
	crypto_sign_seed_keypair(w->pk, w->sk, w->seed);
}

/* pk_b64: w's public key in standard base64 (static buffer). */
static __attribute__((unused)) const char *
pk_b64(const struct who *w)
{
	static char	out[64];

	sodium_bin2base64(out, sizeof(out), w->pk, 32,
	    sodium_base64_VARIANT_ORIGINAL);
	return out;
}

/*
 * put: make n KeyPackages of w (identity its name, signed by its key)
 * of suite (0: 1), last resort when lr, upload them as w in one raw
 * request and keep their refs in refs (when not NULL); the number
 * accepted, or -1 when the upload is refused as a whole.  With signer
 * not NULL the keys are signed by signer's key instead.
 */
static __attribute__((unused)) int
put_ex(struct srv *s, struct who *w, const struct who *signer,
    const char *identity, int n, uint16_t suite, int lr,
    uint8_t (*refs)[KP_REF_LEN], struct rawreply *r)
{
	struct kp_kpopts	 o;
	struct kp_kpsecrets	 sec;
	uint8_t			*kp, ref[KP_REF_LEN];
	size_t			 len, cap = 64 + (size_t)n * 600, used;
	char			*body;
	int			 i, acc = 0;
	const char		*p;
	int64_t			 now = (int64_t)time(NULL);

	if ((body = malloc(cap)) == NULL)
		bail("malloc");
	used = (size_t)snprintf(body, cap, "{\"keypackages\":[");
	for (i = 0; i < n; i++) {
		memset(&o, 0, sizeof(o));
		o.suite = suite;
		o.identity = (const uint8_t *)(identity ? identity : w->name);
		o.identity_len = strlen((const char *)o.identity);
		o.not_before = (uint64_t)(now - 60);
		o.not_after = (uint64_t)(now + 7 * 86400);
		o.last_resort = lr;
		if (kp_keypackage_generate(&o, (signer ? signer : w)->seed,
		    &kp, &len, refs ? refs[i] : ref, &sec) != KP_OK)
			bail("generate");
		sodium_memzero(&sec, sizeof(sec));
		used += (size_t)snprintf(body + used, cap - used, "%s\"",
		    i ? "," : "");
		sodium_bin2base64(body + used, cap - used, kp, len,
		    sodium_base64_VARIANT_ORIGINAL);
		used += strlen(body + used);
		used += (size_t)snprintf(body + used, cap - used, "\"");
		free(kp);
	}
	snprintf(body + used, cap - used, "]}");
	raw(s, w, "POST", "/keypackages/upload", body, T_NONE, r);
	free(body);
	if (r->status != 200)
		return -1;
	/* only an accepted entry names a ref */
	for (p = r->body; (p = strstr(p, "\"keypackage_ref\"")) != NULL; p++)
		acc++;
	return acc;
}

static __attribute__((unused)) int
put(struct srv *s, struct who *w, int n, uint16_t suite, int lr,
    uint8_t (*refs)[KP_REF_LEN])
{
	struct rawreply	r;

	return put_ex(s, w, NULL, NULL, n, suite, lr, refs, &r);
}

/*
 * srv_twin: another instance of s's server, on the same database and
 * clock, with extra arguments; stop it with srv_kill() (srv_stop()
 * would remove s's directory).
 */
static __attribute__((unused)) void
srv_twin(const struct srv *s, struct srv *t, const char *const *extra)
{
	*t = *s;
	srv_restart(t, extra);
}

/* srv_kill: send sig to the server and wait for it; its exit status. */
static __attribute__((unused)) int
srv_kill(struct srv *s, int sig)
{
	if (s->pid > 0)
		kill(s->pid, sig);
	return srv_wait(s);
}

/*
 * A reserver of the load tests: a thread that reserves keys of target
 * through url until the pool is exhausted (409), each reserve with a
 * request_id of its own, retried on a 5xx after 20 ms (the same id: a
 * committed reservation comes back, never a second one), given up at
 * the first network error (the instance is gone) or at `until`.
 */
#define RESERVER_MAX	1024
struct reserver {
	pthread_t	 t;
	const char	*url;
	const char	*name;
	const uint8_t	*seed;
	const char	*target;
	time_t		 until;
	int		 id;
	/* results */
	size_t		 n;		/* reservations answered 200 */
	uint8_t		 refs[RESERVER_MAX][KP_REF_LEN];
	char		 rids[RESERVER_MAX][65];
	unsigned	 s5xx;		/* 5xx answers */
	int		 end;		/* KP_EEXHAUSTED, KP_ENET, ... */
};

static __attribute__((unused)) void *
reserver_main(void *arg)
{
	struct reserver		*v = arg;
	struct kp_client	*c;
	struct kp_reservation	 res;
	char			 rid[64];
	unsigned		 seq = 0;
	int			 rc;

	if (kp_client_new(v->url, v->name, v->seed, &c) != KP_OK) {
		v->end = KP_ENOMEM;
		return NULL;
	}
	kp_client_set_timeouts(c, 2000, 10000);
	/* it sees each answer: its own loop is the retry */
	kp_client_set_retry(c, 1, 0);
	snprintf(rid, sizeof(rid), "r%d-%u", v->id, seq);
	for (;;) {
		if (time(NULL) > v->until) {
			v->end = KP_ENET;
			break;
		}
		rc = kp_client_reserve(c, v->target,
		    &(struct kp_reserve_opts){ .group_id = (const uint8_t *)"g",
		    .group_id_len = 1, .request_id = rid }, &res);
		if (rc == KP_OK) {
			if (v->n < RESERVER_MAX) {
				memcpy(v->refs[v->n], res.ref, KP_REF_LEN);
				snprintf(v->rids[v->n], sizeof(v->rids[0]),
				    "%s", res.reservation_id);
				v->n++;
			}
			kp_reservation_free(&res);
			snprintf(rid, sizeof(rid), "r%d-%u", v->id, ++seq);
			continue;
		}
		kp_reservation_free(&res);
		if (rc == KP_ESERVER) {
			v->s5xx++;
			usleep(20000);
			continue;
		}
		v->end = rc;
		break;
	}
	kp_client_free(c);
	return NULL;
}

/*
 * upload_new: n fresh keys of w (valid for a day) through s, in batches of
 * 100; their refs into refs (when not NULL).  Bails on a refusal.
 */
static __attribute__((unused)) void
upload_new(struct srv *s, struct who *w, size_t n, uint8_t (*refs)[KP_REF_LEN])
{
	struct kpb		 k[100];
	const uint8_t		*kps[100];
	size_t			 lens[100], i, j, m;
	struct kp_upload_result	 up[100];
	int64_t			 t = (int64_t)time(NULL);
	struct kp_client	*c;

	if (kp_client_new(s->url, w->name, w->seed, &c) != KP_OK)
		bail("client");
	for (i = 0; i < n; i += m) {
		m = n - i < 100 ? n - i : 100;
		for (j = 0; j < m; j++) {
			gen(w, w->name, t - 10, t + 86400, 0, &k[j]);
			kps[j] = k[j].buf;
			lens[j] = k[j].len;
			if (refs != NULL)
				memcpy(refs[i + j], k[j].ref, KP_REF_LEN);
		}
		if (kp_client_upload(c, kps, lens, m, up) != KP_OK)
			bail("upload: %s", kp_client_errmsg(c));
		for (j = 0; j < m; j++) {
			if (!up[j].accepted)
				bail("key %zu refused", i + j);
			free(k[j].buf);
		}
	}
	kp_client_free(c);
}

/*
 * reservers_missing: how many of the reservations the n reservers of v
 * were answered 200 are not in the PostgreSQL database db, reserved by
 * them under the reservation id they were given.
 */
static __attribute__((unused)) size_t
reservers_missing(const char *db, const struct reserver *v, size_t n)
{
	char	q[512], hex[2 * KP_REF_LEN + 1];
	size_t	i, j, missing = 0;

	for (i = 0; i < n; i++)
		for (j = 0; j < v[i].n; j++) {
			kp_hex(v[i].refs[j], KP_REF_LEN, hex);
			snprintf(q, sizeof(q), "SELECT count(*) FROM "
			    "keypackages WHERE keypackage_ref = '\\x%s' AND "
			    "reservation_id = '%.64s' AND reserved_by = "
			    "'%.64s' AND status = 'reserved'", hex,
			    v[i].rids[j], v[i].name);
			missing += db_count(db, q) != 1;
		}
	return missing;
}

/* ref_cmp: qsort order of KeyPackageRefs. */
static __attribute__((unused)) int
ref_cmp(const void *a, const void *b)
{
	return memcmp(a, b, KP_REF_LEN);
}

#define is_reply(r, st, code, ...) do {					\
	is_int((r)->status, (st), __VA_ARGS__);				\
	is_string(error_code(r), (code), __VA_ARGS__);			\
} while (0)

#endif /* KPS_TEST_H */
