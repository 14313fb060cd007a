/* SPDX-License-Identifier: ISC */
/*
 * main.c: kpool-server, the sync server of kpool: options (and the
 * --config file, whose names are the long options'), the operator's
 * commands ("user add", "device add|remove|list", "invite create",
 * "migrate"), start-up and a clean stop on SIGTERM.
 */

#include <err.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "kps.h"

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: kpool-server [--config file] [--listen host:port] "
	    "--db database "
	    "[--reservation-ttl seconds]\n"
	    "\t[--expired-reservations release | burn] "
	    "[--max-lifetime seconds]\n"
	    "\t[--expired-retention seconds] [--rate-limit per-minute] "
	    "[--rate-burst n]\n"
	    "\t[--stranger-share percent] [--contact-floor n] "
	    "[--caller-cap n]\n"
	    "\t[--registration open | closed | invite] [--register-rate n]\n"
	    "\t[--threads n] "
	    "[--max-connections n]\n"
	    "\t[--max-connections-per-address n] "
	    "[--request-deadline seconds]\n"
	    "\t[--metrics-token file] [--public-metrics] [--quiet] "
	    "[--tls-cert file --tls-key file]\n"
	    "\t[--test-clock file] [--test-writer-delay ms]\n"
	    "       kpool-server --db database user add name public-key\n"
	    "       kpool-server --db database user list\n"
	    "       kpool-server --db database user remove name\n"
	    "       kpool-server --db database user set-key name public-key\n"
	    "       kpool-server --db database device add name device "
	    "public-key\n"
	    "       kpool-server --db database device remove name device\n"
	    "       kpool-server --db database device list name\n"
	    "       kpool-server --db database invite create [--uses n]\n"
	    "       kpool-server migrate --from database --to database\n"
	    "       kpool-server --version\n");
	exit(2);
}

/* "FILE:LINE" while a --config file is read, for its errors; or NULL */
static const char *origin;

/* bad: a bad option or setting: say so (where, in a file) and exit 2. */
static void __attribute__((noreturn, format(printf, 1, 2)))
bad(const char *fmt, ...)
{
	va_list	ap;
	char	msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (origin != NULL)
		errx(2, "%s: %s", origin, msg);
	errx(2, "%s", msg);
}

static long long
number(const char *s, const char *what, long long lo, long long hi)
{
	char		*end;
	long long	 v;

	v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < lo || v > hi)
		bad("%s: %s is not a number from %lld to %lld", what, s,
		    lo, hi);
	return v;
}

/*
 * metrics_token: the operator's token for GET /metrics, from the first
 * line of path: 16 to 256 printable characters, no space (a trailing
 * newline is dropped); exits 1 when path does not read, 2 when the
 * token is not one.
 */
static const char *
metrics_token(const char *path)
{
	static char	 tok[258];
	FILE		*f;
	size_t		 n, i;

	if ((f = fopen(path, "re")) == NULL)
		err(1, "%s%s--metrics-token %s", origin ? origin : "",
		    origin ? ": " : "", path);
	if (fgets(tok, sizeof(tok), f) == NULL)
		tok[0] = '\0';
	fclose(f);
	n = strcspn(tok, "\r\n");
	tok[n] = '\0';
	for (i = 0; i < n; i++)
		if (tok[i] <= 0x20 || tok[i] >= 0x7f)
			break;
	if (n < 16 || n > 256 || i < n)
		bad("--metrics-token %s: the first line must be a token "
		    "of 16 to 256 printable characters without spaces", path);
	return tok;
}

/* open_db: the store of --db for a command; exits 1 when it does not
 * open. */
static struct kps_store *
open_db(void)
{
	struct kps_store_conf	 conf = { 0 };
	struct kps_store	*s = NULL;
	char			 shown[512];
	int			 rc;

	if ((rc = kps_store_open(kps_conf.db, &conf, &s)) != KP_OK) {
		warnx("%s: %s", kps_store_shown(kps_conf.db, shown,
		    sizeof(shown)), s ? kps_store_errmsg(s) : kp_strerror(rc));
		kps_store_close(s);
		exit(1);
	}
	return s;
}

/* names: check a command's user and device names (exit 2). */
static void
names(const char *user, const char *device)
{
	if (!kp_username_valid(user))
		errx(2, "%s: not a valid user name", user);
	if (device != NULL && !kp_devicename_valid(device))
		errx(2, "%s: not a valid device name (lower case)", device);
}

/* decode_key: a public key in standard base64 of 32 bytes, or exit 2. */
static void
decode_key(const char *b64, uint8_t pk[32])
{
	uint8_t	buf[64];
	size_t	len;

	if (sodium_base642bin(buf, sizeof(buf), b64, strlen(b64), NULL, &len,
	    NULL, sodium_base64_VARIANT_ORIGINAL) != 0 || len != 32)
		errx(2, "the public key must be standard base64 of 32 bytes");
	memcpy(pk, buf, 32);
}

/* device_add: add device of user with key b64 (and the user when it
 * does not exist), as "device add" and "user add" do. */
static int
device_add(const char *user, const char *device, const char *b64)
{
	struct kps_store	*s;
	uint8_t			 pk[32];
	char			 who[KP_MAX_PRINCIPAL + 1];
	int			 rc;

	names(user, device);
	decode_key(b64, pk);
	s = open_db();
	rc = kps_device_add(s, user, device, pk, KPS_DEV_OPERATOR,
	    (int64_t)time(NULL));
	if (rc == KP_EEXIST)
		warnx("%s: the device %s has another key", user, device);
	else if (rc == KP_ECONFLICT)
		warnx("the key is another device's");
	else if (rc == KP_ETOOBIG)
		warnx("%s has %d devices, the most a user may have", user,
		    KPS_MAX_DEVICES);
	else if (rc != KP_OK)
		warnx("%s", kps_store_errmsg(s));
	else if (kp_principal(user, device, who, sizeof(who)) == KP_OK)
		printf("%s\n", who);
	kps_store_close(s);
	return rc == KP_OK ? 0 : 1;
}

/* device_remove: remove device of user, retiring its keys. */
static int
device_remove(const char *user, const char *device)
{
	struct kps_store	*s;
	uint64_t		 n;
	int			 rc;

	names(user, device);
	s = open_db();
	rc = kps_device_remove(s, user, device, (int64_t)time(NULL), &n);
	if (rc == KP_ENOTFOUND)
		warnx("%s has no device %s", user, device);
	else if (rc == KP_ECONFLICT)
		warnx("%s is the only device of %s", device, user);
	else if (rc != KP_OK)
		warnx("%s", kps_store_errmsg(s));
	else
		printf("%s %s: %llu keys retired\n", user, device,
		    (unsigned long long)n);
	kps_store_close(s);
	return rc == KP_OK ? 0 : 1;
}

/* device_list: the devices of user, one a line: name, key, counts. */
static int
device_list(const char *user)
{
	struct kps_store	*s;
	struct kps_device	 d[KPS_MAX_DEVICES];
	char			 b64[64];
	size_t			 n, i;
	int			 rc;

	names(user, NULL);
	s = open_db();
	rc = kps_device_list(s, user, 1, (int64_t)time(NULL), NULL, d,
	    KPS_MAX_DEVICES, &n);
	if (rc == KP_ENOTFOUND)
		warnx("no user %s", user);
	else if (rc != KP_OK)
		warnx("%s", kps_store_errmsg(s));
	for (i = 0; rc == KP_OK && i < n; i++) {
		sodium_bin2base64(b64, sizeof(b64), d[i].public_key, 32,
		    sodium_base64_VARIANT_ORIGINAL);
		printf("%s %s available=%llu reserved=%llu spent=%llu\n",
		    d[i].device, b64,
		    (unsigned long long)d[i].counts.n[KP_STATE_AVAILABLE],
		    (unsigned long long)d[i].counts.n[KP_STATE_RESERVED],
		    (unsigned long long)d[i].counts.n[KP_STATE_SPENT]);
	}
	kps_store_close(s);
	return rc == KP_OK ? 0 : 1;
}

/*
 * invite_create: a new invitation for uses registrations: its token
 * (32 characters of base64url) on stdout, its hash in the database.
 */
static int
invite_create(int uses)
{
	struct kps_store	*s;
	uint8_t			 raw[24], hash[32];
	char			 tok[40];
	int			 rc;

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(tok, sizeof(tok), raw, sizeof(raw),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	crypto_generichash(hash, sizeof(hash), (const uint8_t *)tok,
	    strlen(tok), NULL, 0);
	s = open_db();
	if ((rc = kps_invite_add(s, hash, uses, (int64_t)time(NULL))) !=
	    KP_OK)
		warnx("%s", kps_store_errmsg(s));
	else
		printf("%s\n", tok);
	kps_store_close(s);
	sodium_memzero(raw, sizeof(raw));
	return rc == KP_OK ? 0 : 1;
}

/* One line of "user list": the user, its devices, its counts. */
static int
user_line(void *arg, const char *user)
{
	struct kps_store	*s = arg;
	struct kps_device	 d[KPS_MAX_DEVICES];
	uint64_t		 c[KP_NSTATES] = { 0 };
	size_t			 n, i;
	int			 rc, st;

	if ((rc = kps_device_list(s, user, 1, (int64_t)time(NULL), NULL, d,
	    KPS_MAX_DEVICES, &n)) != KP_OK)
		return rc;
	printf("%s ", user);
	for (i = 0; i < n; i++)
		printf("%s%s", i > 0 ? "," : "", d[i].device);
	for (i = 0; i < n; i++)
		for (st = 0; st < KP_NSTATES; st++)
			c[st] += d[i].counts.n[st];
	printf("%s available=%llu reserved=%llu spent=%llu expired=%llu\n",
	    n == 0 ? "-" : "",
	    (unsigned long long)c[KP_STATE_AVAILABLE],
	    (unsigned long long)c[KP_STATE_RESERVED],
	    (unsigned long long)c[KP_STATE_SPENT],
	    (unsigned long long)c[KP_STATE_EXPIRED]);
	return KP_OK;
}

/* user_list: every user, one a line: name, devices, key counts. */
static int
user_list(void)
{
	struct kps_store	*s;
	int			 rc;

	s = open_db();
	if ((rc = kps_user_list(s, user_line, s)) != KP_OK)
		warnx("%s", kps_store_errmsg(s));
	kps_store_close(s);
	return rc == KP_OK ? 0 : 1;
}

/*
 * user_change: with b64 NULL, remove user, its devices and keys
 * (tombstones kept); else give its default device the key b64,
 * retiring the keys signed with the old one.
 */
static int
user_change(const char *user, const char *b64)
{
	struct kps_store	*s;
	uint8_t			 pk[32];
	uint64_t		 n;
	int			 rc;

	names(user, NULL);
	if (b64 != NULL)
		decode_key(b64, pk);
	s = open_db();
	if (b64 == NULL)
		rc = kps_user_remove(s, user, (int64_t)time(NULL), &n);
	else
		rc = kps_device_set_key(s, user, KP_DEFAULT_DEVICE, pk,
		    (int64_t)time(NULL), &n);
	if (rc == KP_ENOTFOUND)
		warnx("no user %s%s", user, b64 != NULL ?
		    " with a device " KP_DEFAULT_DEVICE : "");
	else if (rc == KP_ECONFLICT)
		warnx("the key is another device's");
	else if (rc != KP_OK)
		warnx("%s", kps_store_errmsg(s));
	else
		printf("%s: %s, %llu keys retired\n", user, b64 == NULL ?
		    "removed" : "key set", (unsigned long long)n);
	kps_store_close(s);
	return rc == KP_OK ? 0 : 1;
}

/* command: the operator's commands, "user ...", "device ..." and
 * "invite create". */
static int
command(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[0], "invite") == 0 &&
	    strcmp(argv[1], "create") == 0) {
		if (argc == 2)
			return invite_create(1);
		if (argc == 4 && strcmp(argv[2], "--uses") == 0)
			return invite_create((int)number(argv[3], "--uses", 1,
			    1000000));
		usage();
	}
	if (argc >= 2 && strcmp(argv[0], "user") == 0) {
		if (argc == 4 && strcmp(argv[1], "add") == 0)
			return device_add(argv[2], KP_DEFAULT_DEVICE, argv[3]);
		if (argc == 2 && strcmp(argv[1], "list") == 0)
			return user_list();
		if (argc == 3 && strcmp(argv[1], "remove") == 0)
			return user_change(argv[2], NULL);
		if (argc == 4 && strcmp(argv[1], "set-key") == 0)
			return user_change(argv[2], argv[3]);
		usage();
	}
	if (argc < 2 || strcmp(argv[0], "device") != 0)
		usage();
	if (argc == 5 && strcmp(argv[1], "add") == 0)
		return device_add(argv[2], argv[3], argv[4]);
	if (argc == 4 && strcmp(argv[1], "remove") == 0)
		return device_remove(argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[1], "list") == 0)
		return device_list(argv[2]);
	usage();
}

/* migrate --from DB --to DB: copy a store into an empty one. */
static int
migrate(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char	*from = NULL, *to = NULL;
	int		 ch;

	optind = 1;	/* argv[0] is "migrate" */
	while ((ch = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			from = optarg;
			break;
		case 't':
			to = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || from == NULL || to == NULL)
		usage();
	return kps_migrate(from, to);
}

/* The options; a --config file's names are their long names. */
static const struct option opts[] = {
	{ "listen", required_argument, NULL, 'l' },
	{ "db", required_argument, NULL, 'd' },
	{ "reservation-ttl", required_argument, NULL, 't' },
	{ "expired-reservations", required_argument, NULL, 'e' },
	{ "max-lifetime", required_argument, NULL, 'm' },
	{ "expired-retention", required_argument, NULL, 'k' },
	{ "rate-limit", required_argument, NULL, 'r' },
	{ "rate-burst", required_argument, NULL, 'b' },
	{ "registration", required_argument, NULL, 'g' },
	{ "stranger-share", required_argument, NULL, 'S' },
	{ "contact-floor", required_argument, NULL, 'L' },
	{ "caller-cap", required_argument, NULL, 'K' },
	{ "register-rate", required_argument, NULL, 'R' },
	{ "threads", required_argument, NULL, 'T' },
	{ "max-connections", required_argument, NULL, 'c' },
	{ "max-connections-per-address", required_argument, NULL,
	    'A' },
	{ "request-deadline", required_argument, NULL, 'D' },
	{ "public-metrics", no_argument, NULL, 'P' },
	{ "metrics-token", required_argument, NULL, 'M' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "tls-cert", required_argument, NULL, 'X' },
	{ "tls-key", required_argument, NULL, 'Y' },
	{ "test-clock", required_argument, NULL, 'C' },
	{ "test-writer-delay", required_argument, NULL, 'W' },
	{ "config", required_argument, NULL, 'F' },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* apply: option ch (of opts) with its argument arg, which lives on. */
static void
apply(int ch, const char *arg)
{
	char	host[256], port[8];

	switch (ch) {
	case 'l':
		if (kps_listen_split(arg, host, sizeof(host), port,
		    sizeof(port)) != 0)
			bad("--listen %s: want HOST:PORT, [IPV6]:PORT or "
			    "NAME:PORT", arg);
		kps_conf.listen = arg;
		break;
	case 'd':
		kps_conf.db = arg;
		break;
	case 't':
		kps_conf.reservation_ttl = number(arg,
		    "--reservation-ttl", 1, 86400);
		break;
	case 'e':
		if (strcmp(arg, "release") == 0)
			kps_conf.burn = 0;
		else if (strcmp(arg, "burn") == 0)
			kps_conf.burn = 1;
		else
			bad("--expired-reservations: release or burn");
		break;
	case 'm':
		kps_conf.max_lifetime = number(arg,
		    "--max-lifetime", 1, 10LL * 365 * 86400);
		break;
	case 'k':
		kps_conf.expired_retention = number(arg,
		    "--expired-retention", 0, 10LL * 365 * 86400);
		break;
	case 'r':
		kps_conf.rate_per_min = (double)number(arg,
		    "--rate-limit", 0, 100000000);
		break;
	case 'b':
		kps_conf.rate_burst = (double)number(arg,
		    "--rate-burst", 1, 100000000);
		break;
	case 'g':
		if (strcmp(arg, "open") == 0)
			kps_conf.registration_open = 1;
		else if (strcmp(arg, "closed") == 0)
			kps_conf.registration_open = 0;
		else if (strcmp(arg, "invite") == 0)
			kps_conf.registration_open = KPS_REG_INVITE;
		else
			bad("--registration: open, closed or invite");
		break;
	case 'S':
		kps_conf.stranger_share = (int)number(arg,
		    "--stranger-share", 0, 100);
		break;
	case 'L':
		kps_conf.contact_floor = (int)number(arg,
		    "--contact-floor", 0, 100000);
		break;
	case 'K':
		kps_conf.caller_cap = (int)number(arg,
		    "--caller-cap", 0, 100000);
		break;
	case 'R':
		kps_conf.register_rate = (int)number(arg,
		    "--register-rate", 0, 1000000);
		break;
	case 'T':
		kps_conf.threads = (unsigned)number(arg,
		    "--threads", 1, 256);
		break;
	case 'c':
		kps_conf.max_connections = (unsigned)number(arg,
		    "--max-connections", 1, 100000);
		break;
	case 'A':
		kps_conf.max_per_address = (unsigned)number(arg,
		    "--max-connections-per-address", 0, 100000);
		break;
	case 'D':
		kps_conf.request_deadline = (unsigned)number(arg,
		    "--request-deadline", 1, 3600);
		break;
	case 'P':
		kps_conf.public_metrics = 1;
		break;
	case 'M':
		kps_conf.metrics_token = metrics_token(arg);
		break;
	case 'q':
		kps_conf.quiet = 1;
		break;
	case 'X':
		kps_conf.tls_cert = arg;
		break;
	case 'Y':
		kps_conf.tls_key = arg;
		break;
	case 'C':
		kps_conf.test_clock = arg;
		break;
	case 'W':
		kps_conf.test_writer_delay = (unsigned)number(arg,
		    "--test-writer-delay", 0, 600000);
		break;
	default:
		usage();
	}
}

/* trim: s without its leading and trailing blanks (in place). */
static char *
trim(char *s)
{
	size_t	n;

	s += strspn(s, " \t");
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
	    s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* keep: a copy of value that lives until exit (held here, so that a
 * setting the command line overrides is not a leak); exits 1 when out
 * of memory. */
static const char *
keep(const char *value, const char *where)
{
	static char	**kept;		/* every copy */
	static size_t	  nkept;
	char		**nk;

	if ((nk = realloc(kept, (nkept + 1) * sizeof(*kept))) == NULL ||
	    (nk[nkept] = strdup(value)) == NULL)
		err(1, "%s", where);
	kept = nk;
	return kept[nkept++];
}

/*
 * config_file: apply the settings of path, "name = value" lines whose
 * names are the long options' (config, version and help aside); a
 * line whose first non-blank is '#' and a blank line say nothing.  An
 * option without an argument takes "yes" (set) or "no" (left as is).
 * An unknown name or a bad value exits 2 naming the file and line; a
 * file that does not read exits 1.
 */
static void
config_file(const char *path)
{
	const struct option	*o;
	FILE			*f;
	char			 line[4096], where[4200], *name, *value, *eq;
	unsigned		 n = 0;

	if ((f = fopen(path, "re")) == NULL)
		err(1, "--config %s", path);
	while (fgets(line, sizeof(line), f) != NULL) {
		snprintf(where, sizeof(where), "%s:%u", path, ++n);
		origin = where;
		if (strchr(line, '\n') == NULL && !feof(f))
			bad("a line longer than %zu bytes", sizeof(line) - 2);
		name = trim(line);
		if (*name == '\0' || *name == '#')
			continue;
		if ((eq = strchr(name, '=')) == NULL)
			bad("want name = value");
		*eq = '\0';
		name = trim(name);
		value = trim(eq + 1);
		for (o = opts; o->name != NULL; o++)
			if (strcmp(o->name, name) == 0)
				break;
		if (o->name == NULL || o->val == 'F' || o->val == 'V' ||
		    o->val == 'h')
			bad("unknown setting \"%s\"", name);
		if (o->has_arg == no_argument) {
			if (strcmp(value, "yes") == 0)
				apply(o->val, NULL);
			else if (strcmp(value, "no") != 0)
				bad("%s: yes or no", name);
			continue;
		}
		if (*value == '\0')
			bad("%s: no value", name);
		apply(o->val, keep(value, where));
	}
	if (ferror(f))
		err(1, "--config %s", path);
	fclose(f);
	origin = NULL;
}

/*
 * tls: with --tls-cert and --tls-key (both or neither), read them now
 * (tls.c), before anything else starts; a missing file, a bad one or a
 * libmicrohttpd without TLS exits 2.
 */
static void
tls(void)
{
	char	why[512];

	if ((kps_conf.tls_cert == NULL) != (kps_conf.tls_key == NULL))
		bad("--tls-cert and --tls-key go together: give both, or "
		    "neither for plain HTTP");
	if (kps_conf.tls_cert == NULL)
		return;
	if (kps_http_tls_supported() != 0)
		bad("this libmicrohttpd is built without TLS: --tls-cert "
		    "cannot be served");
	if (kps_tls_load(kps_conf.tls_cert, kps_conf.tls_key, why,
	    sizeof(why)) != 0)
		bad("%s", why);
	/* wiped once libmicrohttpd has it, or on an exit before */
	atexit(kps_tls_wipe);
}

int
main(int argc, char **argv)
{
	const char	*config = NULL;
	sigset_t	 set;
	char		 errbuf[512], shown[512];
	unsigned	 port;
	int		 ch, sig, version = 0;

	/* first --config and --version, then the file, then the options:
	 * an option given wins over the file's setting */
	while ((ch = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (ch == 'F')
			config = optarg;
		else if (ch == 'V')
			version = 1;
		else if (ch == '?' || ch == 'h')
			usage();
	}
	if (version) {
		printf("kpool-server %s\n", KPS_VERSION);
		return 0;
	}
	if (config != NULL)
		config_file(config);
	optind = 0;	/* glibc: start again */
	while ((ch = getopt_long(argc, argv, "+", opts, NULL)) != -1)
		if (ch != 'F' && ch != 'V')
			apply(ch, optarg);
	argc -= optind;
	argv += optind;
	if (sodium_init() < 0)
		errx(1, "libsodium does not initialize");
	if (argc > 0 && strcmp(argv[0], "migrate") == 0)
		return migrate(argc, argv);
	if (kps_conf.db == NULL)
		usage();
	if (argc > 0)
		return command(argc, argv);

	/* Threads inherit this mask; main takes the signals in sigwait. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	tls();
	if (kps_auth_init() != KP_OK)
		errx(1, "libsodium does not initialize");
	if (kps_db_lock(kps_conf.db, errbuf, sizeof(errbuf)) != 0)
		errx(1, "%s", errbuf);
	if (kps_writer_start(kps_conf.db, errbuf, sizeof(errbuf)) != KP_OK)
		errx(1, "%s", errbuf);
	if (kps_http_start(errbuf, sizeof(errbuf), &port) != 0) {
		kps_writer_stop();
		errx(1, "%s", errbuf);
	}
	printf("%u\n", port);
	fflush(stdout);
	fprintf(stderr, "kpool-server %s: listening on %s (port %u), "
	    "database %s\n", KPS_VERSION, kps_conn_bound(), port,
	    kps_store_shown(kps_conf.db, shown, sizeof(shown)));

	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig != SIGHUP)
			break;
	}
	fprintf(stderr, "kpool-server: signal %d, stopping\n", sig);
	kps_http_stop();
	kps_writer_stop();
	kps_readers_close();
	kps_auth_fini();
	return 0;
}
