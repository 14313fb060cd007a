/* SPDX-License-Identifier: ISC */
/*
 * 1006-pool-welcome: a Welcome made by ts-mls (t/interop/make-welcome.mjs)
 * for a key the pool generated in another process opens with the init
 * key persisted in the store; the key becomes spent with the group_id and
 * epoch ts-mls reports; take hands over its private keys once and wipes
 * them.  Both suites.  A Welcome for someone else's key is KP_ENOTOURS.
 * Needs node >= 20.19 and ts-mls, as make check installs them: without
 * them it bails, like the t/05xx interop tests.
 *
 * Run as "1006-pool-welcome.t gen DB SUITE KPFILE" it is the first
 * process: it makes the store and one key, and writes the KeyPackage.
 */

#include <sodium.h>

#include "1-pooltest.h"

static int
gen(const char *db, const char *suite, const char *kpfile)
{
	struct kp_pool	*p;
	struct kp_key	**keys;
	uint8_t		*buf;
	size_t		 n, len;
	FILE		*f;

	if (kp_pool_open(db, NULL, "walt", NULL, &p) != KP_OK ||
	    kp_pool_config_set(p, "suite", suite) != KP_OK ||
	    kp_pool_generate(p, 1, 0) != KP_OK ||
	    kp_pool_list(p, KP_STATE_CREATED, &keys, &n) != KP_OK || n < 1 ||
	    kp_pool_keypackage(p, kp_key_ref(keys[n - 1]), &buf, &len) !=
	    KP_OK) {
		fprintf(stderr, "gen: %s\n", kp_errmsg(p));
		return 1;
	}
	if ((f = fopen(kpfile, "wb")) == NULL || fwrite(buf, 1, len, f) !=
	    len || fclose(f) == EOF)
		return 1;
	printf("%s\n", kp_key_ref_hex(keys[n - 1]));
	free(buf);
	kp_keys_free(keys, n);
	kp_pool_close(p);
	return 0;
}

/* Run cmd (a shell line), return its first output line in out. */
static int
run(const char *cmd, char *out, size_t len)
{
	FILE	*f;
	int	 st;

	out[0] = '\0';
	if ((f = popen(cmd, "r")) == NULL)
		return -1;
	if (fgets(out, (int)len, f) == NULL)
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	while (fgetc(f) != EOF)
		;
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
one_suite(const char *self, const char *dir, int suite)
{
	struct kp_client	*bob;
	const char		*url;
	struct kp_pool		*p;
	struct kp_welcome_info	 info;
	struct kp_kpsecrets	 sec, sec2;
	struct kp_key		*k = NULL;
	const uint8_t		*g;
	size_t			 gl;
	uint8_t			 ref[KP_REF_LEN], got[KP_REF_LEN], *w, *gid;
	char			 cmd[2048], line[512], refhex[80], gidhex[600];
	size_t			 wlen, gidlen;
	long long		 epoch;

	(void)snprintf(cmd, sizeof(cmd), "%s gen %s/w%d.db %d %s/kp%d",
	    self, pt_dir, suite, suite, pt_dir, suite);
	is_int(run(cmd, refhex, sizeof(refhex)), 0,
	    "suite %d: a first process makes the store and a key", suite);
	pt_server_stop();
	url = pt_server(0);
	/* the pool publishes its key; an inviter reserves it for a group */
	(void)snprintf(cmd, sizeof(cmd), "w%d.db", suite);
	if (kp_pool_open(pt_file(cmd), NULL, NULL, NULL, &p) != KP_OK ||
	    kp_pool_set_server(p, url) != KP_OK ||
	    kp_pool_sync(p, NULL) != KP_OK)
		bail("publish: %s", kp_errmsg(p));
	bob = pt_inviter(url, "bob");
	pt_reserve(bob, "walt", suite == 1 ? "\x01\xa1" : "\x03\xa3", 2,
	    ref);
	kp_client_free(bob);
	(void)snprintf(cmd, sizeof(cmd), "cd '%s/t/interop' && node "
	    "make-welcome.mjs --suite %d --kp %s/kp%d --welcome-out %s/w%d "
	    "--others 2 --epochs 1 --group-id %s 2>%s/node%d.err",
	    getenv("KP_TOP"), suite, pt_dir, suite, pt_dir, suite,
	    suite == 1 ? "01a1" : "03a3", pt_dir, suite);
	is_int(run(cmd, line, sizeof(line)), 0,
	    "suite %d: ts-mls adds the key to a group", suite);
	if (sscanf(line, "group_id=%599s epoch=%lld", gidhex, &epoch) != 2)
		bail("make-welcome printed \"%s\"", line);
	gid = tap_unhex(gidhex, &gidlen);

	(void)snprintf(cmd, sizeof(cmd), "w%d", suite);
	w = (uint8_t *)tap_slurp(pt_file(cmd), &wlen);
	if (kp_unhex(refhex, got, sizeof(got)) != KP_OK ||
	    memcmp(got, ref, KP_REF_LEN) != 0)
		bail("gen printed \"%s\", not the reserved key", refhex);

	is_int(kp_pool_take(p, ref, &sec), KP_ESTATE,
	    "suite %d: take before the Welcome: KP_ESTATE", suite);
	is_int(kp_pool_welcome(p, w, wlen, NULL, 0, got, &info), KP_OK,
	    "suite %d: the Welcome opens in a new process (%s)", suite,
	    kp_errmsg(p));
	is_blob(got, sizeof(got), ref, sizeof(ref), "for our key");
	is_blob(info.group_id, info.group_id_len, gid, gidlen,
	    "the group_id ts-mls reports");
	is_int((long long)info.epoch, epoch, "epoch %lld", epoch);
	is_int(info.suite, suite, "suite");
	is_int(info.signature_checked, 1, "GroupInfo signature checked");
	kp_welcome_info_free(&info);

	is_int(pt_key(p, ref, &k), KP_OK, "get the key");
	is_int(kp_key_state(k), KP_STATE_SPENT, "spent");
	g = kp_key_group_id(k, &gl);
	is_blob(g, gl, gid, gidlen, "group_id recorded");
	is_int(kp_key_epoch(k), epoch, "epoch recorded");
	is_int(kp_key_has_private(k), 1,
	    "private keys kept for the MLS client");

	is_int(kp_pool_take(p, ref, &sec), KP_OK, "take them");
	ok(!sodium_is_zero(sec.init_priv, KP_KEY_LEN), "an init key");
	is_int(kp_pool_take(p, ref, &sec2), KP_ENOTFOUND,
	    "take again: KP_ENOTFOUND");
	is_int(pt_key(p, ref, &k), KP_OK, "get the key");
	is_int(kp_key_has_private(k), 0, "the store has them no more");
	is_int(kp_pool_welcome(p, w, wlen, NULL, 0, got, &info), KP_ENOTFOUND,
	    "the Welcome again, keys taken: KP_ENOTFOUND");
	sodium_memzero(&sec, sizeof(sec));
	kp_key_free(k);
	kp_pool_close(p);
	free(w);
	free(gid);
	(void)dir;
}

static void
not_ours(const char *self)
{
	struct kp_pool		*p;
	struct kp_welcome_info	 info;
	uint8_t			 got[KP_REF_LEN], *w;
	size_t			 wlen;

	/* the Welcome of suite 1 names a key of w1.db, not of x.db */
	if (kp_pool_open(pt_file("x.db"), NULL, "xena", NULL, &p) != KP_OK)
		bail("open: %s", kp_errmsg(p));
	w = (uint8_t *)tap_slurp(pt_file("w1"), &wlen);
	is_int(kp_pool_welcome(p, w, wlen, NULL, 0, got, &info), KP_ENOTOURS,
	    "a Welcome for another pool's key: KP_ENOTOURS");
	is_int(kp_pool_welcome(p, w, wlen - 1, NULL, 0, got, &info), KP_ETRUNC,
	    "a truncated Welcome: KP_ETRUNC");
	free(w);
	kp_pool_close(p);
	(void)self;
}

int
main(int argc, char *argv[])
{
	char	self[512];
	ssize_t	n;

	if (argc == 5 && strcmp(argv[1], "gen") == 0)
		return gen(argv[2], argv[3], argv[4]);
	if (sodium_init() < 0)
		bail("sodium_init");
	pt_need_node();
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0)
		bail("readlink /proc/self/exe");
	self[n] = '\0';
	pt_init();
	one_suite(self, pt_dir, 1);
	one_suite(self, pt_dir, 3);
	not_ours(self);
	return done_testing();
}
