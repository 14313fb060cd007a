/* SPDX-License-Identifier: ISC */
/*
 * 1009-pool-keyfile-race: the at-rest key file is made atomically, so
 * processes that create it at once agree on one key.  One process is
 * held between opening its new key file and writing the key (the test's
 * randombytes_buf stops there) while a second creates the same key file
 * for another store: both stores open, and both open again with the one
 * key file.  Then rounds of processes started together on one new
 * store, and on two stores sharing a key file: every process opens,
 * stores a key and reads its private keys back, and afterwards every
 * key of every store opens.  No temp file is left behind.
 */

#include <sys/random.h>

#include <dirent.h>

#include <sodium.h>

#include "1-pooltest.h"
#include "pool.h"
#include "store.h"

static int	hold_w = -1, hold_r = -1;	/* the held process's pipes */

/*
 * The test's randombytes_buf (it takes the place of libsodium's): real
 * random bytes from the kernel.  In a held process the first 32-byte
 * request, the new at-rest key, first says so on hold_w and waits for a
 * byte on hold_r.
 */
void
randombytes_buf(void *const buf, const size_t size)
{
	uint8_t	*b = buf;
	size_t	 got = 0;
	ssize_t	 r;
	char	 c = 'x';

	if (size == 32 && hold_w != -1) {
		if (write(hold_w, &c, 1) != 1 || read(hold_r, &c, 1) != 1)
			_exit(90);
		hold_w = -1;
	}
	while (got < size) {
		if ((r = getrandom(b + got, size - got, 0)) == -1) {
			if (errno == EINTR)
				continue;
			abort();
		}
		got += (size_t)r;
	}
}

/*
 * In a child: open db with keyfile, store one key and read its private
 * keys back; the exit status says which step failed.
 */
static int
child(const char *db, const char *keyfile)
{
	struct kp_pool		*p = NULL;
	struct kp_key		**keys = NULL;
	struct kp_bundle	 b;
	size_t			 n = 0, i;
	int			 rc = 0, found;

	if (kp_pool_open(db, keyfile, "alice", NULL, &p) != KP_OK) {
		fprintf(stderr, "open %s: %s\n", db, kp_errmsg(p));
		rc = 2;
		goto out;
	}
	if (kp_pool_generate(p, 1, 0) != KP_OK ||
	    kp_pool_list(p, -1, &keys, &n) != KP_OK || n == 0) {
		fprintf(stderr, "generate: %s\n", kp_errmsg(p));
		rc = 3;
		goto out;
	}
	for (i = 0; i < n && rc == 0; i++) {
		if (kp_store_load(p->st, kp_key_ref(keys[i]), 1, &b, &found) !=
		    KP_OK || !found || !b.key.has_private ||
		    sodium_is_zero(b.sec.init_priv, KP_KEY_LEN)) {
			fprintf(stderr, "load: %s\n", kp_errmsg(p));
			rc = 4;
		}
		kp_bundle_clear(&b);
	}
out:
	kp_keys_free(keys, n);
	kp_pool_close(p);
	return rc;
}

/* Every key of db opens with keyfile: how many, -1 when one does not. */
static int
all_open(const char *db, const char *keyfile)
{
	struct kp_pool		*p = NULL;
	struct kp_key		**keys = NULL;
	struct kp_bundle	 b;
	size_t			 n = 0, i;
	int			 found, bad = 0;

	if (kp_pool_open(db, keyfile, NULL, NULL, &p) != KP_OK) {
		diag("open %s: %s", db, kp_errmsg(p));
		kp_pool_close(p);
		return -1;
	}
	if (kp_pool_list(p, -1, &keys, &n) != KP_OK)
		bail("list: %s", kp_errmsg(p));
	for (i = 0; i < n; i++) {
		if (kp_store_load(p->st, kp_key_ref(keys[i]), 1, &b, &found) !=
		    KP_OK || !found || !b.key.has_private)
			bad = 1;
		kp_bundle_clear(&b);
	}
	kp_keys_free(keys, n);
	kp_pool_close(p);
	return bad ? -1 : (int)n;
}

static int
wait_child(pid_t pid)
{
	int	st;

	if (waitpid(pid, &st, 0) != pid)
		bail("waitpid: %s", strerror(errno));
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Temp files left in the test directory. */
static int
leftovers(void)
{
	DIR		*d;
	struct dirent	*e;
	int		 n = 0;

	if ((d = opendir(pt_dir)) == NULL)
		bail("opendir");
	while ((e = readdir(d)) != NULL)
		if (strstr(e->d_name, ".tmp") != NULL)
			n++;
	closedir(d);
	return n;
}

static void
test_held(void)
{
	int	to_test[2], to_child[2], st1, st2;
	pid_t	p1, p2;
	char	c;

	if (pipe(to_test) == -1 || pipe(to_child) == -1)
		bail("pipe");
	if ((p1 = fork()) == -1)
		bail("fork");
	if (p1 == 0) {
		hold_w = to_test[1];
		hold_r = to_child[0];
		_exit(child(pt_file("a.db"), pt_file("shared.key")));
	}
	if (read(to_test[0], &c, 1) != 1)
		bail("the first process did not reach its key");
	ok(pt_mode(pt_file("shared.key")) == -1,
	    "while the first process makes the key, the key file is absent");
	if ((p2 = fork()) == -1)
		bail("fork");
	if (p2 == 0)
		_exit(child(pt_file("b.db"), pt_file("shared.key")));
	st2 = wait_child(p2);
	is_int(st2, 0, "a second process creates the key file and uses it "
	    "meanwhile");
	if (write(to_child[1], "x", 1) != 1)
		bail("release");
	st1 = wait_child(p1);
	is_int(st1, 0, "the first process then opens its store too");
	is_int(pt_mode(pt_file("shared.key")), 0600, "the key file is 0600");
	is_int(all_open(pt_file("a.db"), pt_file("shared.key")), 1,
	    "the first store opens with the one key file");
	is_int(all_open(pt_file("b.db"), pt_file("shared.key")), 1,
	    "and so does the second: they agree on the key");
	close(to_test[0]);
	close(to_test[1]);
	close(to_child[0]);
	close(to_child[1]);
}

/*
 * rounds of two processes started at once: on one new store (shared)
 * or on two new stores with one key file.
 */
static void
test_rounds(int shared, int rounds)
{
	char	db[2][64], key[64];
	int	go[2], r, i, bad = 0, badopen = 0, n0, n1;
	pid_t	pid[2];
	char	c;

	for (r = 0; r < rounds; r++) {
		(void)snprintf(key, sizeof(key), "r%d-%d.key", shared, r);
		for (i = 0; i < 2; i++)
			(void)snprintf(db[i], sizeof(db[i]), "r%d-%d-%d.db",
			    shared, r, shared ? 0 : i);
		if (pipe(go) == -1)
			bail("pipe");
		for (i = 0; i < 2; i++) {
			if ((pid[i] = fork()) == -1)
				bail("fork");
			if (pid[i] == 0) {
				close(go[1]);
				if (read(go[0], &c, 1) != 0)
					_exit(9);
				_exit(child(pt_file(db[i]), pt_file(key)));
			}
		}
		close(go[0]);
		close(go[1]);	/* both start now */
		for (i = 0; i < 2; i++)
			if (wait_child(pid[i]) != 0)
				bad++;
		n0 = all_open(pt_file(db[0]), pt_file(key));
		n1 = shared ? n0 : all_open(pt_file(db[1]), pt_file(key));
		if (n0 < 0 || n1 < 0 || (shared ? n0 != 2 : n0 + n1 != 2))
			badopen++;
	}
	is_int(bad, 0, "%d rounds of 2 processes creating %s at once: every "
	    "process opens, stores and reads back", rounds, shared ?
	    "one store" : "two stores with one key file");
	is_int(badopen, 0, "afterwards every key of every store opens with "
	    "the one key file");
}

int
main(void)
{
	if (sodium_init() < 0)
		bail("sodium_init");
	pt_init();
	test_held();
	test_rounds(1, 10);
	test_rounds(0, 10);
	is_int(leftovers(), 0, "no temp file is left behind");
	return done_testing();
}
