/* SPDX-License-Identifier: ISC */
/*
 * kptool: generate, validate and open MLS KeyPackages from the shell, for
 * tests and interop.
 *
 *	kptool gen [--suite 1|3] [--identity NAME] [--lifetime-days N]
 *	    [--sign-key FILE] [--credentials basic,x509] [--init-priv-out FILE]
 *	    [--last-resort] --out FILE
 *	kptool validate FILE
 *	kptool open-welcome --welcome FILE --kp FILE --init-priv FILE
 *	    [--tree FILE] [--any-lifetime]
 *
 * open-welcome takes the ratchet tree from --tree when the Welcome
 * carries none; --any-lifetime accepts tree leaves whose lifetime does
 * not cover now (KP_WELCOME_ANY_LIFETIME).
 *
 * Exit 0 on success, 1 when the input is rejected (or an I/O error),
 * 2 on a usage error.  One line on stdout.
 */

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "kpool.h"

#define MAX_FILE	(1 << 20)

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: kptool gen [--suite 1|3] [--identity NAME] "
	    "[--lifetime-days N]\n"
	    "           [--sign-key FILE] [--credentials basic,x509] "
	    "[--init-priv-out FILE]\n"
	    "           [--last-resort] --out FILE\n"
	    "       kptool validate FILE\n"
	    "       kptool open-welcome --welcome FILE --kp FILE "
	    "--init-priv FILE\n"
	    "           [--tree FILE] [--any-lifetime]\n");
	exit(2);
}

/* Read a whole file of at most max bytes; exits 1 on failure. */
static uint8_t *
slurp(const char *path, size_t max, size_t *len)
{
	uint8_t	*buf;
	size_t	 n = 0;
	ssize_t	 r;
	int	 fd;

	if ((fd = open(path, O_RDONLY)) == -1)
		err(1, "%s", path);
	if ((buf = malloc(max + 1)) == NULL)
		err(1, NULL);
	while ((r = read(fd, buf + n, max + 1 - n)) > 0) {
		n += (size_t)r;
		if (n > max)
			errx(1, "%s: larger than %zu bytes", path, max);
	}
	if (r == -1)
		err(1, "%s", path);
	close(fd);
	*len = n;
	return buf;
}

/* Write buf to path; secret files are 0600 and must not exist yet. */
static void
spit(const char *path, const uint8_t *buf, size_t len, int secret)
{
	int	fd, flags = O_WRONLY | O_CREAT | O_NOFOLLOW;
	ssize_t	r;
	size_t	n = 0;

	flags |= secret ? O_EXCL : O_TRUNC;
	if ((fd = open(path, flags, secret ? 0600 : 0644)) == -1)
		err(1, "%s", path);
	while (n < len) {
		if ((r = write(fd, buf + n, len - n)) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "%s", path);
		}
		n += (size_t)r;
	}
	if (close(fd) == -1)
		err(1, "%s", path);
}

/* The signing seed in path: read it, or make it (0600) when missing. */
static void
load_seed(const char *path, uint8_t seed[KP_SIGN_SEED_LEN])
{
	uint8_t	*buf;
	size_t	 len;

	if (access(path, F_OK) == -1 && errno == ENOENT) {
		randombytes_buf(seed, KP_SIGN_SEED_LEN);
		spit(path, seed, KP_SIGN_SEED_LEN, 1);
		return;
	}
	buf = slurp(path, KP_SIGN_SEED_LEN, &len);
	if (len != KP_SIGN_SEED_LEN)
		errx(1, "%s: not a %d-byte Ed25519 seed", path,
		    KP_SIGN_SEED_LEN);
	memcpy(seed, buf, KP_SIGN_SEED_LEN);
	sodium_memzero(buf, len);
	free(buf);
}

static unsigned long long
number(const char *s, unsigned long long max)
{
	char			*end;
	unsigned long long	 v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s == '\0' || *s == '-' || *end != '\0' || errno != 0 || v > max)
		usage();
	return v;
}

static int
cmd_gen(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "suite", required_argument, NULL, 's' },
		{ "identity", required_argument, NULL, 'i' },
		{ "lifetime-days", required_argument, NULL, 'l' },
		{ "sign-key", required_argument, NULL, 'k' },
		{ "credentials", required_argument, NULL, 'c' },
		{ "init-priv-out", required_argument, NULL, 'p' },
		{ "last-resort", no_argument, NULL, 'r' },
		{ "out", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct kp_kpopts	 o;
	struct kp_kpsecrets	 sec;
	uint8_t			 seed[KP_SIGN_SEED_LEN], ref[KP_REF_LEN];
	uint8_t			*kp = NULL;
	uint16_t		 creds[2];
	size_t			 ncreds = 0, kplen;
	const char		*identity = "kptool", *keyfile = NULL;
	const char		*privout = NULL, *outfile = NULL;
	char			 hex[2 * KP_REF_LEN + 1], *list, *tok, *save;
	unsigned long long	 days = 0;
	int			 ch, rc;

	memset(&o, 0, sizeof(o));
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			o.suite = (uint16_t)number(optarg, 0xffff);
			if (o.suite != KP_SUITE_X25519_AES128GCM &&
			    o.suite != KP_SUITE_X25519_CHACHA20)
				usage();
			break;
		case 'i':
			identity = optarg;
			break;
		case 'l':
			days = number(optarg, 36500);
			if (days == 0)
				usage();
			break;
		case 'k':
			keyfile = optarg;
			break;
		case 'c':
			if ((list = strdup(optarg)) == NULL)
				err(1, NULL);
			for (tok = strtok_r(list, ",", &save); tok != NULL;
			    tok = strtok_r(NULL, ",", &save)) {
				if (ncreds == 2)
					usage();
				if (strcmp(tok, "basic") == 0)
					creds[ncreds++] = KP_CRED_BASIC;
				else if (strcmp(tok, "x509") == 0)
					creds[ncreds++] = KP_CRED_X509;
				else
					usage();
			}
			free(list);
			if (ncreds == 0)
				usage();
			break;
		case 'p':
			privout = optarg;
			break;
		case 'r':
			o.last_resort = 1;
			break;
		case 'o':
			outfile = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || outfile == NULL)
		usage();
	if (strlen(identity) == 0 || strlen(identity) > KP_MAX_IDENTITY)
		usage();
	if (sodium_init() < 0)
		errx(1, "libsodium does not initialise");
	o.identity = (const uint8_t *)identity;
	o.identity_len = strlen(identity);
	if (ncreds > 0) {
		o.cap_credentials = creds;
		o.ncap_credentials = ncreds;
	}
	if (days > 0) {
		uint64_t now = (uint64_t)time(NULL);

		o.not_before = now - 3600;
		o.not_after = now + days * 86400;
	}
	if (keyfile != NULL)
		load_seed(keyfile, seed);
	else
		randombytes_buf(seed, sizeof(seed));
	rc = kp_keypackage_generate(&o, seed, &kp, &kplen, ref, &sec);
	sodium_memzero(seed, sizeof(seed));
	if (rc != KP_OK) {
		const char	*why = NULL;

		if (kp_kpopts_check(&o, &why) != KP_OK && why != NULL)
			errx(1, "generate: %s: %s", kp_strerror(rc), why);
		errx(1, "generate: %s", kp_strerror(rc));
	}
	if (privout != NULL)
		spit(privout, sec.init_priv, sizeof(sec.init_priv), 1);
	sodium_memzero(&sec, sizeof(sec));
	spit(outfile, kp, kplen, 0);
	free(kp);
	kp_hex(ref, sizeof(ref), hex);
	printf("%s\n", hex);
	return 0;
}

/* A short explanation of why kp was refused, beyond the code's name. */
static void
detail(const struct kp_keypackage *kp, int rc, uint64_t now, char *buf,
    size_t sz)
{
	int	r = 0;

	switch (rc) {
	case KP_EVERSION:
		r = snprintf(buf, sz, "only mls10 (1) is supported");
		break;
	case KP_ESUITE:
		r = snprintf(buf, sz, "suite 0x%04x; supported: 0x0001, "
		    "0x0003", kp_keypackage_suite(kp));
		break;
	case KP_EEXPIRED:
		r = snprintf(buf, sz, "not_after %llu < now %llu",
		    (unsigned long long)kp_keypackage_not_after(kp),
		    (unsigned long long)now);
		break;
	case KP_ENOTYET:
		r = snprintf(buf, sz, "not_before %llu > now %llu",
		    (unsigned long long)kp_keypackage_not_before(kp),
		    (unsigned long long)now);
		break;
	case KP_ELIFETIME:
		r = snprintf(buf, sz, "not_before %llu > not_after %llu",
		    (unsigned long long)kp_keypackage_not_before(kp),
		    (unsigned long long)kp_keypackage_not_after(kp));
		break;
	case KP_ECRED:
		r = snprintf(buf, sz, "credential type 0x%04x, identity "
		    "of 1..%d bytes required",
		    kp_keypackage_credential_type(kp), KP_MAX_IDENTITY);
		break;
	default:
		buf[0] = '\0';
		return;
	}
	if (r < 0 || (size_t)r >= sz)
		buf[0] = '\0';
}

/*
 * 1 when an identity can be printed as it is: UTF-8 with no control
 * characters and no spaces (the output is space-separated key=value).
 */
static int
printable(const uint8_t *p, size_t n)
{
	size_t	i = 0, k, more;

	while (i < n) {
		if (p[i] >= 0x21 && p[i] <= 0x7e) {
			i++;
			continue;
		}
		if (p[i] >= 0xc2 && p[i] <= 0xdf)
			more = 1;
		else if (p[i] >= 0xe0 && p[i] <= 0xef)
			more = 2;
		else if (p[i] >= 0xf0 && p[i] <= 0xf4)
			more = 3;
		else
			return 0;
		if (n - i <= more)
			return 0;
		for (k = 1; k <= more; k++)
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
		i += more + 1;
	}
	return 1;
}

static int
cmd_validate(int argc, char **argv)
{
	struct kp_keypackage	*kp = NULL;
	uint8_t			*buf;
	const uint8_t		*id;
	size_t			 len, idlen, i;
	uint64_t		 now = (uint64_t)time(NULL);
	char			 hex[2 * KP_REF_LEN + 1], why[160];
	int			 rc;

	if (argc != 2)
		usage();
	buf = slurp(argv[1], MAX_FILE, &len);
	if ((rc = kp_keypackage_decode(buf, len, 1, &kp)) != KP_OK) {
		warnx("%s: %s", argv[1], kp_strerror(rc));
		free(buf);
		return 1;
	}
	if ((rc = kp_keypackage_validate(kp, now)) != KP_OK) {
		detail(kp, rc, now, why, sizeof(why));
		warnx("%s: %s%s%s", argv[1], kp_strerror(rc),
		    why[0] != '\0' ? ": " : "", why);
		kp_keypackage_free(kp);
		free(buf);
		return 1;
	}
	kp_hex(kp_keypackage_ref(kp), KP_REF_LEN, hex);
	printf("ref=%s suite=%u identity=", hex, kp_keypackage_suite(kp));
	id = kp_keypackage_identity(kp, &idlen);
	if (printable(id, idlen))
		fwrite(id, 1, idlen, stdout);
	else {
		printf("hex:");
		for (i = 0; i < idlen; i++)
			printf("%02x", id[i]);
	}
	printf(" not_before=%llu not_after=%llu\n",
	    (unsigned long long)kp_keypackage_not_before(kp),
	    (unsigned long long)kp_keypackage_not_after(kp));
	kp_keypackage_free(kp);
	free(buf);
	return 0;
}

static int
cmd_open_welcome(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "welcome", required_argument, NULL, 'w' },
		{ "kp", required_argument, NULL, 'k' },
		{ "init-priv", required_argument, NULL, 'p' },
		{ "tree", required_argument, NULL, 't' },
		{ "any-lifetime", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	struct kp_welcome_info	 info;
	const char		*wf = NULL, *kf = NULL, *pf = NULL, *tf = NULL;
	uint8_t			*wb, *kb, *pb, *tb = NULL;
	size_t			 wl, kl, pl, tl = 0, i;
	int			 ch, rc, flags = 0;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'w':
			wf = optarg;
			break;
		case 'k':
			kf = optarg;
			break;
		case 'p':
			pf = optarg;
			break;
		case 't':
			tf = optarg;
			break;
		case 'a':
			flags |= KP_WELCOME_ANY_LIFETIME;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || wf == NULL || kf == NULL || pf == NULL)
		usage();
	wb = slurp(wf, MAX_FILE, &wl);
	kb = slurp(kf, MAX_FILE, &kl);
	pb = slurp(pf, KP_KEY_LEN, &pl);
	if (pl != KP_KEY_LEN)
		errx(1, "%s: not a %d-byte X25519 private key", pf, KP_KEY_LEN);
	if (tf != NULL)
		tb = slurp(tf, MAX_FILE, &tl);
	rc = kp_welcome_open(wb, wl, kb, kl, pb, tb, tl, flags, &info);
	sodium_memzero(pb, pl);
	free(pb);
	free(wb);
	free(kb);
	free(tb);
	if (rc != KP_OK) {
		warnx("%s: %s", wf, kp_strerror(rc));
		return 1;
	}
	printf("group_id=");
	for (i = 0; i < info.group_id_len; i++)
		printf("%02x", info.group_id[i]);
	printf(" epoch=%llu\n", (unsigned long long)info.epoch);
	kp_welcome_info_free(&info);
	return 0;
}

int
main(int argc, char *argv[])
{
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "gen") == 0)
		return cmd_gen(argc - 1, argv + 1);
	if (strcmp(argv[1], "validate") == 0)
		return cmd_validate(argc - 1, argv + 1);
	if (strcmp(argv[1], "open-welcome") == 0)
		return cmd_open_welcome(argc - 1, argv + 1);
	usage();
}
