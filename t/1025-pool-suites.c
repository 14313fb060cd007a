/* SPDX-License-Identifier: ISC */
/*
 * 1025-pool-suites: a pool of two suites and the capabilities of its
 * keys.  suites = 0x0001,0x0003 keeps each suite at target with its own
 * last-resort key (counts per suite, against a real kpool-server); the
 * old suite = X is one suite.  The capabilities lists are refused, each
 * with its reason (RFC 9420 §7.2), and the ones taken are written into
 * new keys (decoded here): ts-mls adds such a key to a group whose
 * required_capabilities ask for them, and refuses a key without them.
 */

#include <sys/wait.h>

#include <sodium.h>

#include "1-pooltest.h"
#include "mls.h"
#include "tls.h"

static void
test_bad_lists(struct kp_pool *p)
{
	static const struct {
		const char	*key, *value, *why;
	} bad[] = {
		{ "extensions", "0x0001", "capabilities.extensions "
		    "lists a default extension type (0x0001 to 0x0005), which "
		    "RFC 9420 section 7.2 forbids" },
		{ "extensions", "0x0a0a,5", "capabilities.extensions lists a "
		    "default extension type (0x0001 to 0x0005), which RFC "
		    "9420 section 7.2 forbids" },
		{ "proposals", "0x0007", "capabilities.proposals "
		    "lists a default proposal type (0x0001 to 0x0007), which "
		    "RFC 9420 section 7.2 forbids" },
		{ "extensions", "0x0a0a, 0x0a0a", "a capabilities list holds a "
		    "type twice" },
		{ "credentials", "basic,basic", "a capabilities list holds a "
		    "type twice" },
		{ "credentials", "x509", "capabilities.credentials does not "
		    "list basic (0x0001), the credential type in use" },
		{ "proposals", "0", "a capabilities list holds the "
		    "reserved type 0x0000" },
		{ "credentials", "pgp", "credentials: not a type (a number, "
		    "decimal or 0x hex)" },
		{ "extensions", "0x10000", "extensions: not a type (a number, "
		    "decimal or 0x hex)" },
		{ "extensions", "0x0a0a 0x0b0b", "extensions: types are "
		    "separated by commas" },
		{ "extensions", "0x0a0a,", "extensions: not a list of types "
		    "(\"a, b\" or \"none\")" },
		{ "suites", "0x0001,0x0002", "suites: each must be 0x0001 or "
		    "0x0003" },
		{ "suites", "1,1", "suites: a suite is listed twice" },
		{ "suites", "1,3,1", "suites: more than two suites" },
		{ "suites", "none", "suites must list one or two suites" },
	};
	char	many[1024];
	size_t	i, l = 0;
	char	*before = NULL, *after = NULL;

	if (kp_pool_config_text(p, &before) != KP_OK)
		bail("config: %s", kp_errmsg(p));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		is_int(kp_pool_config_set(p, bad[i].key, bad[i].value),
		    KP_EINVAL, "%s = %s: KP_EINVAL", bad[i].key, bad[i].value);
		is_string(kp_errmsg(p), bad[i].why, "%s = %s: the reason",
		    bad[i].key, bad[i].value);
	}
	for (i = 0; i < 65; i++)
		l += (size_t)snprintf(many + l, sizeof(many) - l, "%s%zu",
		    i ? "," : "", 0x1000 + i);
	is_int(kp_pool_config_set(p, "extensions", many), KP_EINVAL,
	    "65 extension types: KP_EINVAL");
	is_string(kp_errmsg(p), "extensions: more types than a capabilities "
	    "list holds (64)", "the reason");
	if (kp_pool_config_text(p, &after) != KP_OK)
		bail("config: %s", kp_errmsg(p));
	is_string(after, before, "the refused lists changed nothing");
	free(before);
	free(after);
}

/* Write the KeyPackage of the key ref of p to the file path. */
static void
write_kp(struct kp_pool *p, const uint8_t ref[KP_REF_LEN], const char *path)
{
	uint8_t	*buf = NULL;
	size_t	 len;
	FILE	*f;

	if (kp_pool_keypackage(p, ref, &buf, &len) != KP_OK ||
	    (f = fopen(path, "wb")) == NULL || fwrite(buf, 1, len, f) != len ||
	    fclose(f) == EOF)
		bail("write %s", path);
	free(buf);
}

/*
 * ts-mls makes a group whose required_capabilities ask for the
 * extension type 0xff00 and x509 and adds the KeyPackage in file kp:
 * make-welcome.mjs's exit status.
 */
static int
tsmls_adds(const char *kp)
{
	char	cmd[2048];
	int	st;

	(void)snprintf(cmd, sizeof(cmd), "node %s/t/interop/make-welcome.mjs "
	    "--suite 1 --kp %s --welcome-out %s.w --require-extensions ff00 "
	    "--require-credentials basic,x509 >%s.out 2>&1",
	    getenv("KP_TOP") ? getenv("KP_TOP") : ".", kp, kp, kp);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The capabilities of the key ref of p, decoded, into *f (bytes kept). */
static void
caps_of(struct kp_pool *p, const uint8_t ref[KP_REF_LEN],
    struct kp_kpfields *f, uint8_t **bytes)
{
	struct kp_rd	r;
	size_t		len;

	if (kp_pool_keypackage(p, ref, bytes, &len) != KP_OK)
		bail("keypackage: %s", kp_errmsg(p));
	kp_rd_init(&r, *bytes, len);
	if (kp_kp_read(&r, f) != KP_OK)
		bail("decode");
}

static void
test_caps(struct kp_pool *p)
{
	struct kp_key		**keys = NULL;
	struct kp_kpfields	  f;
	uint8_t			 *bytes = NULL;
	char			 *text = NULL;
	size_t			  n = 0;

	/* ts-mls checks lifetimes against the real clock */
	kp_pool_set_clock(p, NULL, NULL);
	is_int(kp_pool_config_set(p, "credentials", "basic, x509"), KP_OK,
	    "credentials = basic, x509");
	is_int(kp_pool_config_set(p, "extensions", "0x0a0a,0xff00"), KP_OK,
	    "extensions = 0x0a0a,0xff00");
	is_int(kp_pool_config_set(p, "proposals", "0x0a0a"), KP_OK,
	    "proposals = 0x0a0a");
	if (kp_pool_config_text(p, &text) != KP_OK)
		bail("config: %s", kp_errmsg(p));
	ok(strstr(text, "credentials = basic,x509\nextensions = "
	    "0x0a0a,0xff00\nproposals = 0x0a0a\n") != NULL,
	    "config shows the lists");
	free(text);
	if (kp_pool_generate(p, 1, 0) != KP_OK ||
	    kp_pool_list(p, KP_STATE_CREATED, &keys, &n) != KP_OK || n != 1)
		bail("generate: %s", kp_errmsg(p));
	caps_of(p, kp_key_ref(keys[0]), &f, &bytes);
	ok(kp_u16_list_has(f.leaf.cap_creds, KP_CRED_BASIC) &&
	    kp_u16_list_has(f.leaf.cap_creds, KP_CRED_X509) &&
	    f.leaf.cap_creds.n == 4, "the key lists basic and x509");
	ok(kp_u16_list_has(f.leaf.cap_exts, 0x0a0a) &&
	    kp_u16_list_has(f.leaf.cap_exts, 0xff00) &&
	    f.leaf.cap_exts.n == 4, "and the two extension types");
	ok(kp_u16_list_has(f.leaf.cap_props, 0x0a0a) &&
	    f.leaf.cap_props.n == 2, "and the proposal type");
	free(bytes);
	write_kp(p, kp_key_ref(keys[0]), pt_file("caps.kp"));
	is_int(tsmls_adds(pt_file("caps.kp")), 0, "ts-mls adds it to a group "
	    "that requires 0xff00 and x509");
	is_int(kp_pool_delete(p, kp_key_ref(keys[0])), KP_OK, "delete it");
	kp_keys_free(keys, n);
	if (kp_pool_config_set(p, "credentials", "basic") != KP_OK ||
	    kp_pool_config_set(p, "extensions", "none") != KP_OK ||
	    kp_pool_config_set(p, "proposals", "none") != KP_OK)
		bail("back: %s", kp_errmsg(p));
	if (kp_pool_generate(p, 1, 0) != KP_OK ||
	    kp_pool_list(p, KP_STATE_CREATED, &keys, &n) != KP_OK || n != 1)
		bail("generate: %s", kp_errmsg(p));
	write_kp(p, kp_key_ref(keys[0]), pt_file("plain.kp"));
	is_int(tsmls_adds(pt_file("plain.kp")), 1, "a key without them: "
	    "ts-mls refuses to add it");
	ok(pt_file_has(pt_file("plain.kp.out"), "required capabilities",
	    strlen("required capabilities")), "for the required capabilities");
	is_int(kp_pool_delete(p, kp_key_ref(keys[0])), KP_OK, "delete it");
	kp_keys_free(keys, n);
	kp_pool_set_clock(p, pt_now, NULL);
}

static void
counts_of(struct kp_pool *p, uint16_t suite, uint32_t av, uint32_t lr,
    const char *what)
{
	struct kp_counts	c;

	if (kp_pool_counts(p, suite, &c) != KP_OK)
		bail("counts: %s", kp_errmsg(p));
	ok(c.n[KP_STATE_AVAILABLE] == av && c.last_resort == lr &&
	    c.total == av, "%s: %u available, %u last-resort (got %u, %u, "
	    "total %u)", what, av, lr, c.n[KP_STATE_AVAILABLE], c.last_resort,
	    c.total);
}

static void
test_suites(struct kp_pool *p)
{
	struct kp_sync_report	r;
	struct kp_policy	pol;

	is_int(kp_pool_config_set(p, "suite", "3"), KP_OK,
	    "suite = 3, the old name");
	if (kp_pool_policy_get(p, &pol) != KP_OK)
		bail("policy: %s", kp_errmsg(p));
	ok(pol.nsuites == 1 && pol.suites[0] == 3, "one suite: 0x0003");
	is_int(kp_pool_config_set(p, "suites", "0x0001, 0x0003"), KP_OK,
	    "suites = 0x0001, 0x0003");
	if (kp_pool_policy_get(p, &pol) != KP_OK)
		bail("policy: %s", kp_errmsg(p));
	ok(pol.nsuites == 2 && pol.suites[0] == 1 && pol.suites[1] == 3,
	    "two suites");
	is_int(kp_pool_refresh(p, KP_REFRESH_WATERMARK, &r), KP_OK,
	    "refresh (%s)", kp_errmsg(p));
	is_int(r.generated, 2 * 33, "32 + 1 last-resort key of each suite");
	is_int(r.uploaded, 2 * 33, "all uploaded");
	counts_of(p, KP_SUITE_X25519_AES128GCM, 33, 1, "suite 0x0001");
	counts_of(p, KP_SUITE_X25519_CHACHA20, 33, 1, "suite 0x0003");
	counts_of(p, 0, 66, 2, "every suite");
	is_int(kp_pool_refresh(p, KP_REFRESH_TARGET, &r), KP_OK,
	    "refresh to target");
	is_int(r.generated, 0, "both suites are at target: nothing made");
}

int
main(void)
{
	struct kp_pool	*p;
	const char	*url;

	if (sodium_init() < 0)
		bail("sodium_init");
	pt_init();
	url = pt_server(1);
	if (kp_pool_open(pt_file("a.db"), NULL, "alice", NULL, &p) != KP_OK)
		bail("open: %s", kp_errmsg(p));
	kp_pool_set_clock(p, pt_now, NULL);
	test_bad_lists(p);
	test_caps(p);
	if (kp_pool_set_server(p, url) != KP_OK)
		bail("set_server: %s", kp_errmsg(p));
	test_suites(p);
	kp_pool_close(p);
	return done_testing();
}
