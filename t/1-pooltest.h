/* SPDX-License-Identifier: ISC */
/*
 * 1-pooltest.h: helpers shared by the 1xxx (local pool) tests: a
 * temporary directory, a byte search in files, a test clock, a real
 * kpool-server on 127.0.0.1 port 0, a key's sealed bytes, and random
 * owner calls racing others.  Static functions only; each test includes
 * this once.
 */
#ifndef POOLTEST_H
#define POOLTEST_H

#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "kpool.h"
#include "tap.h"

static char	pt_dir[256];
static pid_t	pt_server_pid;
static int64_t	pt_clock = 1790000000;	/* the test clock, unix seconds */

/* pt_sum: the counts of every state added up (the invariant: = total). */
static int __attribute__((unused))
pt_sum(const struct kp_counts *c)
{
	int	i, s = 0;

	for (i = 0; i < KP_NSTATES; i++)
		s += (int)c->n[i];
	return s;
}

static int64_t __attribute__((unused))
pt_now(void *arg)
{
	(void)arg;
	return pt_clock;
}

/* pt_server_stop: stop the server pt_server() started, if any. */
static void __attribute__((unused))
pt_server_stop(void)
{
	if (pt_server_pid > 0) {
		kill(pt_server_pid, SIGTERM);
		waitpid(pt_server_pid, NULL, 0);
		pt_server_pid = 0;
	}
}

static void
pt_cleanup(void)
{
	char	cmd[300];

	pt_server_stop();
	if (pt_dir[0] != '\0' && getenv("KP_KEEP") == NULL) {
		(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pt_dir);
		if (system(cmd) != 0)
			diag("could not remove %s", pt_dir);
	}
}

/* pt_init: make the test's temporary directory, removed at exit. */
static void __attribute__((unused))
pt_init(void)
{
	const char	*tmp = getenv("TMPDIR");

	(void)snprintf(pt_dir, sizeof(pt_dir), "%s/kpool-1xxx.XXXXXX",
	    tmp ? tmp : "/tmp");
	if (mkdtemp(pt_dir) == NULL)
		bail("mkdtemp: %s", strerror(errno));
	atexit(pt_cleanup);
}

/* pt_file: a path in the temporary directory (static buffer, rotates). */
static __attribute__((unused)) const char *
pt_file(const char *name)
{
	static char	buf[4][512];
	static int	i;

	i = (i + 1) % 4;
	(void)snprintf(buf[i], sizeof(buf[i]), "%s/%s", pt_dir, name);
	return buf[i];
}

/* pt_file_has: 1 when the file holds needle, 0 when not or missing. */
static int __attribute__((unused))
pt_file_has(const char *path, const void *needle, size_t len)
{
	struct stat	 sb;
	uint8_t		*buf;
	ssize_t		 r;
	size_t		 got = 0;
	int		 fd, found;

	if ((fd = open(path, O_RDONLY)) == -1)
		return 0;
	if (fstat(fd, &sb) == -1 || (buf = malloc((size_t)sb.st_size + 1)) ==
	    NULL)
		bail("fstat/malloc %s", path);
	while (got < (size_t)sb.st_size &&
	    (r = read(fd, buf + got, (size_t)sb.st_size - got)) > 0)
		got += (size_t)r;
	close(fd);
	found = memmem(buf, got, needle, len) != NULL;
	free(buf);
	return found;
}

/* pt_store_has: the needle in the database, its -wal or its -shm. */
static int __attribute__((unused))
pt_store_has(const char *db, const void *needle, size_t len)
{
	char	path[600];
	int	found;

	found = pt_file_has(db, needle, len);
	(void)snprintf(path, sizeof(path), "%s-wal", db);
	found |= pt_file_has(path, needle, len);
	(void)snprintf(path, sizeof(path), "%s-shm", db);
	found |= pt_file_has(path, needle, len);
	return found;
}

/* pt_mode: permission bits of path, -1 when missing. */
static int __attribute__((unused))
pt_mode(const char *path)
{
	struct stat	sb;

	if (lstat(path, &sb) == -1)
		return -1;
	return (int)(sb.st_mode & 07777);
}

/*
 * pt_set_clock: move the test clock, for the pools (pt_now) and for the
 * server started with pt_server(1), whose --test-clock file holds it.
 */
static void __attribute__((unused))
pt_set_clock(int64_t now)
{
	char	tmp[600], buf[32];
	FILE	*f;

	pt_clock = now;
	(void)snprintf(tmp, sizeof(tmp), "%s/clock.tmp", pt_dir);
	if ((f = fopen(tmp, "w")) == NULL)
		bail("clock file: %s", strerror(errno));
	(void)snprintf(buf, sizeof(buf), "%lld\n", (long long)now);
	if (fputs(buf, f) == EOF || fclose(f) == EOF ||
	    rename(tmp, pt_file("clock")) == -1)
		bail("clock file: %s", strerror(errno));
}

/*
 * pt_server: start build/kpool-server on 127.0.0.1 port 0 with a fresh
 * database in the test directory (a new one each call) (and the test clock when test_clock),
 * read the port it prints, and return its URL (static).  Skips the whole
 * test when the server is not built.
 */
static __attribute__((unused)) const char *
pt_server(int test_clock)
{
	static char	 url[64];
	static int	 nserver;
	const char	*build = getenv("KP_BUILD");
	char		 bin[512], line[64], db[32], *argv[20];
	FILE		*f;
	int		 fds[2], port, i = 0;

	(void)snprintf(bin, sizeof(bin), "%s/kpool-server",
	    build ? build : "build");
	if (access(bin, X_OK) == -1)
		skip_all("kpool-server is not built");
	if (test_clock)
		pt_set_clock(pt_clock);
	if (pipe(fds) == -1)
		bail("pipe: %s", strerror(errno));
	argv[i++] = bin;
	argv[i++] = "--listen";
	argv[i++] = "127.0.0.1:0";
	(void)snprintf(db, sizeof(db), "server%d.db", nserver++);
	argv[i++] = "--db";
	argv[i++] = (char *)pt_file(db);
	/* without the drain limits, which would hold back the strangers
	 * these tests drain pools with (docs/security.md, "Draining") */
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
	if (test_clock) {
		argv[i++] = "--test-clock";
		argv[i++] = (char *)pt_file("clock");
	}
	argv[i] = NULL;
	if ((pt_server_pid = fork()) == -1)
		bail("fork: %s", strerror(errno));
	if (pt_server_pid == 0) {
		/* die with the test, even when it aborts (a sanitizer) */
		(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		if (freopen(pt_file("server.log"), "a", stderr) == NULL)
			_exit(126);
		execv(bin, argv);
		_exit(127);
	}
	close(fds[1]);
	if ((f = fdopen(fds[0], "r")) == NULL)
		bail("fdopen");
	if (fgets(line, sizeof(line), f) == NULL)
		bail("kpool-server printed no port (see %s)",
		    pt_file("server.log"));
	/* keep the pipe open: the server may print more */
	port = atoi(line + strcspn(line, "0123456789"));
	if (port <= 0 || port > 65535)
		bail("kpool-server printed \"%s\"", line);
	(void)snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	return url;
}

/*
 * pt_small_policy: a small policy for a test (low watermark, target and
 * hard cap, set in an order that keeps it consistent, no last-resort
 * key); bails on failure.
 */
static void __attribute__((unused))
pt_small_policy(struct kp_pool *p, const char *low, const char *target,
    const char *cap)
{
	if (kp_pool_config_set(p, "low_watermark", low) != KP_OK ||
	    kp_pool_config_set(p, "target", target) != KP_OK ||
	    kp_pool_config_set(p, "hard_cap", cap) != KP_OK ||
	    kp_pool_config_set(p, "last_resort", "0") != KP_OK)
		bail("policy: %s", kp_errmsg(p));
}

/*
 * pt_key: kp_pool_key of ref into *k, releasing what *k held first
 * (NULL is fine); returns kp_pool_key's code.
 */
static int __attribute__((unused))
pt_key(struct kp_pool *p, const uint8_t ref[KP_REF_LEN], struct kp_key **k)
{
	kp_key_free(*k);
	*k = NULL;
	return kp_pool_key(p, ref, k);
}

/* pt_key_same: 1 when the records a and b say the same of every field. */
static int __attribute__((unused))
pt_key_same(const struct kp_key *a, const struct kp_key *b)
{
	const uint8_t	*ga, *gb;
	size_t		 la, lb;
	int		 i;

	for (i = KP_T_CREATED; i <= KP_T_CHANGED; i++)
		if (kp_key_time(a, i) != kp_key_time(b, i))
			return 0;
	for (i = KP_X_RESERVATION_ID; i <= KP_X_SPENT_BY; i++)
		if (strcmp(kp_key_text(a, i), kp_key_text(b, i)) != 0)
			return 0;
	ga = kp_key_group_id(a, &la);
	gb = kp_key_group_id(b, &lb);
	return memcmp(kp_key_ref(a), kp_key_ref(b), KP_REF_LEN) == 0 &&
	    strcmp(kp_key_ref_hex(a), kp_key_ref_hex(b)) == 0 &&
	    kp_key_state(a) == kp_key_state(b) &&
	    kp_key_suite(a) == kp_key_suite(b) &&
	    kp_key_last_resort(a) == kp_key_last_resort(b) &&
	    kp_key_has_private(a) == kp_key_has_private(b) &&
	    kp_key_keypackage_len(a) == kp_key_keypackage_len(b) &&
	    la == lb && memcmp(ga, gb, la) == 0 &&
	    kp_key_epoch(a) == kp_key_epoch(b) &&
	    memcmp(kp_key_credential_hash(a), kp_key_credential_hash(b),
	    32) == 0;
}

/*
 * pt_sealed: the sealed private init key of ref as db holds it, len
 * bytes into out; bails unless the row holds one of that length.
 */
static void __attribute__((unused))
pt_sealed(sqlite3 *db, const uint8_t *ref, uint8_t *out, size_t len)
{
	sqlite3_stmt	*s;

	if (sqlite3_prepare_v2(db, "SELECT private_init_key FROM "
	    "keypackages WHERE keypackage_ref = ?", -1, &s, NULL) !=
	    SQLITE_OK)
		bail("prepare");
	sqlite3_bind_blob(s, 1, ref, KP_REF_LEN, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_ROW ||
	    (size_t)sqlite3_column_bytes(s, 0) != len)
		bail("no sealed key");
	memcpy(out, sqlite3_column_blob(s, 0), len);
	sqlite3_finalize(s);
}

/*
 * pt_operate: n random owner calls on p from seed (make a key, delete
 * one, move one), each of which succeeds or loses a race that another
 * thread or handle won or forbade; *done counts the calls, *bad those
 * that failed otherwise (with a diag).
 */
static void __attribute__((unused))
pt_operate(struct kp_pool *p, unsigned seed, int n, int *done, int *bad)
{
	static const int	  to[] = {
		KP_STATE_RESERVED, KP_STATE_SPENT, KP_STATE_EXPIRED,
		KP_STATE_AVAILABLE,
	};
	struct kp_key		**keys;
	size_t			  nk;
	int			  i, rc;
	const uint8_t		 *ref;

	for (i = 0; i < n; i++) {
		seed = seed * 1103515245 + 12345;
		if (kp_pool_list(p, -1, &keys, &nk) != KP_OK)
			bail("list: %s", kp_errmsg(p));
		if (nk == 0 || seed % 7 == 0) {
			rc = kp_pool_generate(p, 1, 0);
			if (rc != KP_OK && rc != KP_ETOOBIG)
				goto bad;
		} else if (seed % 7 == 1) {
			rc = kp_pool_delete(p, kp_key_ref(keys[seed % nk]));
			if (rc != KP_OK && rc != KP_EBUSY && rc != KP_ENOTFOUND)
				goto bad;
		} else {
			ref = kp_key_ref(keys[seed % nk]);
			rc = kp_pool_transition(p, ref,
			    kp_key_state(keys[seed % nk]), to[(seed >> 8) % 4]);
			if (rc != KP_OK && rc != KP_ESTATE &&
			    rc != KP_ENOTFOUND && rc != KP_EBUSY &&
			    rc != KP_EPERM && rc != KP_EREJECTED)
				goto bad;
		}
		(*done)++;
		kp_keys_free(keys, nk);
		continue;
bad:
		diag("op %d: %s: %s", i, kp_strerror(rc), kp_errmsg(p));
		(*bad)++;
		kp_keys_free(keys, nk);
	}
}

/*
 * pt_refreshes: n kp_pool_refresh calls on p; *done counts them, *bad
 * those that failed (with a diag).
 */
static void __attribute__((unused))
pt_refreshes(struct kp_pool *p, int n, int *done, int *bad)
{
	struct kp_sync_report	r;
	int			i, rc;

	for (i = 0; i < n; i++) {
		rc = kp_pool_refresh(p, KP_REFRESH_WATERMARK, &r);
		if (rc != KP_OK) {
			diag("refresh: %s: %s", kp_strerror(rc), kp_errmsg(p));
			(*bad)++;
		}
		(*done)++;
	}
}

/*
 * pt_one_state: the tests (three) that p's counts, its list of every
 * key and its lists by state agree: every key in exactly one state.
 */
static void __attribute__((unused))
pt_one_state(struct kp_pool *p)
{
	struct kp_counts	  c;
	struct kp_key		**keys;
	size_t			  n, m, sum = 0;
	int			  s;

	is_int(kp_pool_counts(p, 0, &c), KP_OK, "counts");
	is_int(kp_pool_list(p, -1, &keys, &n), KP_OK, "list");
	kp_keys_free(keys, n);
	for (s = 0; s < KP_NSTATES; s++) {
		if (kp_pool_list(p, s, &keys, &m) != KP_OK)
			bail("list");
		kp_keys_free(keys, m);
		sum += m;
	}
	ok(c.total == n && sum == n && pt_sum(&c) == (int)c.total,
	    "every key in exactly one state (%zu keys)", n);
}

/* pt_get: the key ref of p into *k (as pt_key), or bail. */
static void __attribute__((unused))
pt_get(struct kp_pool *p, const uint8_t ref[KP_REF_LEN], struct kp_key **k)
{
	if (pt_key(p, ref, k) != KP_OK)
		bail("get: %s", kp_errmsg(p));
}

/*
 * pt_inviter: a client of url for a new user name (a random seed),
 * registered; bails.  Free it with kp_client_free().
 */
static __attribute__((unused)) struct kp_client *
pt_inviter(const char *url, const char *name)
{
	struct kp_client	*c;
	uint8_t			 seed[KP_SIGN_SEED_LEN];
	int			 fd;

	if ((fd = open("/dev/urandom", O_RDONLY)) == -1 ||
	    read(fd, seed, sizeof(seed)) != (ssize_t)sizeof(seed))
		bail("/dev/urandom");
	close(fd);
	if (kp_client_new(url, name, seed, &c) != KP_OK ||
	    kp_client_register(c) != KP_OK)
		bail("register %s at %s", name, url);
	return c;
}

/*
 * pt_reserve: c reserves one key of target for the group gid (len
 * bytes), its ref into ref; bails.
 */
static void __attribute__((unused))
pt_reserve(struct kp_client *c, const char *target, const void *gid,
    size_t len, uint8_t ref[KP_REF_LEN])
{
	struct kp_reservation	res;

	if (kp_client_reserve(c, target,
	    &(struct kp_reserve_opts){ .group_id = gid, .group_id_len = len },
	    &res) != KP_OK)
		bail("reserve a key of %s: %s", target, kp_client_errmsg(c));
	memcpy(ref, res.ref, KP_REF_LEN);
	kp_reservation_free(&res);
}

/*
 * pt_need_node: bail unless node >= 20.19 and t/interop's ts-mls are
 * there.  make check installs them, so, as in the t/05xx interop tests,
 * their absence is a failure, not a skip.
 */
static void __attribute__((unused))
pt_need_node(void)
{
	char	line[64];
	FILE	*f;
	int	maj = 0, min = 0;

	if (getenv("KP_TOP") == NULL)
		bail("KP_TOP not set (run it with make check)");
	if ((f = popen("node -p process.versions.node 2>/dev/null", "r")) ==
	    NULL || fgets(line, sizeof(line), f) == NULL) {
		if (f != NULL)
			pclose(f);
		bail("node missing (make deps installs it)");
	}
	pclose(f);
	if (sscanf(line, "%d.%d", &maj, &min) != 2)
		bail("node does not run");
	if (maj < 20 || (maj == 20 && min < 19))
		bail("node %d.%d is too old: ts-mls needs node >= 20.19", maj,
		    min);
	if (access(tap_path("t/interop/node_modules/ts-mls/package.json"),
	    R_OK) == -1)
		bail("t/interop/node_modules missing (run sh "
		    "mk/interop-deps.sh)");
}

#endif /* POOLTEST_H */
