/* SPDX-License-Identifier: ISC */
/*
 * 0502-interop-cwelcome: the other way round from t/0501: kpool builds a
 * Welcome (kp_welcome_build, the committer's side) for its own
 * KeyPackage, and ts-mls opens it (t/interop/open-welcome.mjs): HPKE
 * EncryptWithLabel of the GroupSecrets, the welcome_secret and AEAD of the
 * GroupInfo, its encoding, signature and confirmation tag, in suites 1
 * and 3.  Bad twins: a wrong confirmation tag and a Welcome that needs a
 * PSK are refused by ts-mls (exit 1).  Needs node and t/interop's
 * node_modules, as make check provides (docs/interop.md).
 */

#include <sys/stat.h>
#include <sys/wait.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "kpool.h"
#include "kptest.h"
#include "tap.h"

static char	dir[PATH_MAX];

/* put: write len bytes to dir/name; bails on failure. */
static void
put(const char *name, const void *buf, size_t len)
{
	char	 path[PATH_MAX];
	FILE	*f;
	int	 n;

	n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		bail("path too long");
	if ((f = fopen(path, "wb")) == NULL ||
	    fwrite(buf, 1, len, f) != len || fclose(f) != 0)
		bail("cannot write %s", path);
}

/*
 * node_open: run open-welcome.mjs on dir's files, with welcome file w;
 * its first line of output (stdout and stderr) into out, its exit status
 * as the return value (-1 when it did not exit).
 */
static int
node_open(const char *w, char *out, size_t outsz)
{
	char	 cmd[4 * PATH_MAX];
	FILE	*p;
	int	 n, st;

	n = snprintf(cmd, sizeof(cmd), "node '%s' --welcome '%s/%s' "
	    "--kp '%s/kp' --init-priv '%s/init' --signer-pub '%s/signer' 2>&1",
	    tap_path("t/interop/open-welcome.mjs"), dir, w, dir, dir, dir);
	if (n < 0 || (size_t)n >= sizeof(cmd))
		bail("command too long");
	if ((p = popen(cmd, "r")) == NULL)
		bail("popen");
	out[0] = '\0';
	if (fgets(out, outsz, p) != NULL)
		out[strcspn(out, "\n")] = '\0';
	while (fgetc(p) != EOF)
		;
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
suite(uint16_t cs)
{
	static const uint8_t	 gid[] = "kpool-cwelcome";
	struct kp_kpopts	 o;
	struct kp_kpsecrets	 sec;
	uint8_t			 seed[32], gseed[32], gpk[32], gsk[64];
	uint8_t			 ref[KP_REF_LEN], *kp, *w;
	char			 want[128], got[512], hex[2 * sizeof(gid) + 1];
	size_t			 kl, wl;

	memset(&o, 0, sizeof(o));
	o.suite = cs;
	o.identity = (const uint8_t *)"kpool";
	o.identity_len = 5;
	randombytes_buf(seed, sizeof(seed));
	randombytes_buf(gseed, sizeof(gseed));
	crypto_sign_seed_keypair(gpk, gsk, gseed);
	if (kp_keypackage_generate(&o, seed, &kp, &kl, ref, &sec) != KP_OK)
		bail("kp_keypackage_generate");
	put("kp", kp, kl);
	put("init", sec.init_priv, sizeof(sec.init_priv));
	put("signer", gpk, sizeof(gpk));
	kp_hex(gid, sizeof(gid) - 1, hex);
	snprintf(want, sizeof(want), "group_id=%s epoch=42", hex);

	if (kp_welcome_build(kp, kl, gid, sizeof(gid) - 1, 42, gseed, 3, 0,
	    &w, &wl) != KP_OK)
		bail("kp_welcome_build");
	put("welcome", w, wl);
	free(w);
	is_int(node_open("welcome", got, sizeof(got)), 0,
	    "suite %u: ts-mls opens kpool's Welcome", cs);
	is_string(got, want, "suite %u: with the same group_id and epoch", cs);

	if (kp_welcome_build(kp, kl, gid, sizeof(gid) - 1, 42, gseed, 3,
	    KP_WB_BAD_TAG, &w, &wl) != KP_OK)
		bail("kp_welcome_build bad tag");
	put("bad-tag", w, wl);
	free(w);
	is_int(node_open("bad-tag", got, sizeof(got)), 1,
	    "suite %u: a wrong confirmation tag: exit 1", cs);
	is_string(got, "open-welcome.mjs: bad GroupInfo confirmation tag",
	    "suite %u: ... for the confirmation tag", cs);

	if (kp_welcome_build(kp, kl, gid, sizeof(gid) - 1, 42, gseed, 3,
	    KP_WB_PSK, &w, &wl) != KP_OK)
		bail("kp_welcome_build psk");
	put("psk", w, wl);
	free(w);
	is_int(node_open("psk", got, sizeof(got)), 1,
	    "suite %u: a Welcome that needs a PSK: exit 1", cs);
	is_string(got, "open-welcome.mjs: the Welcome needs PSKs",
	    "suite %u: ... for the PSK", cs);

	sodium_memzero(&sec, sizeof(sec));
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(gseed, sizeof(gseed));
	sodium_memzero(gsk, sizeof(gsk));
	free(kp);
}

int
main(void)
{
	const char	*tmp;
	char		 rm[PATH_MAX + 16];
	struct stat	 sb;
	int		 n;

	if (sodium_init() < 0)
		bail("sodium_init");
	if (system("node -e 0 >/dev/null 2>&1") != 0)
		bail("node missing (make deps installs it)");
	if (stat(tap_path("t/interop/node_modules/ts-mls/package.json"),
	    &sb) != 0)
		bail("t/interop/node_modules missing "
		    "(run sh mk/interop-deps.sh)");
	if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
		tmp = "/tmp";
	n = snprintf(dir, sizeof(dir), "%s/kpool-test.XXXXXX", tmp);
	if (n < 0 || (size_t)n >= sizeof(dir) || mkdtemp(dir) == NULL ||
	    strchr(dir, '\'') != NULL || strchr(tap_path("t"), '\'') != NULL)
		bail("cannot make a temporary directory");

	plan(12);
	suite(KP_SUITE_X25519_AES128GCM);
	suite(KP_SUITE_X25519_CHACHA20);

	n = snprintf(rm, sizeof(rm), "rm -rf '%s'", dir);
	if (n > 0 && (size_t)n < sizeof(rm) && system(rm) != 0)
		diag("cannot remove %s", dir);
	return done_testing();
}
