/* SPDX-License-Identifier: ISC */
/*
 * kpool: the command for people and scripts, on libkpool.  It works from
 * the user's own store (one device's pool, which remembers its server,
 * user and device): it makes the store and registers the user, prints
 * the device's public key for an operator, reserves, claims, spends and
 * releases other users' KeyPackages (the inviter's side), and shows the
 * pool.  See kpool(1).
 *
 * Exit status: 0 done, 1 refused or failed (the reason on stderr, with
 * the server's error code when it gave one), 2 usage.
 */
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "kpool.h"

#define EX_FAIL		1
#define EX_USAGE	2

static const char	*store;		/* --store, or the default */
static int		 json;		/* --json */
static struct kp_pool	*pool;
static struct kp_client	*client;
static char		 server[KP_MAX_URL + 1];

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: kpool [--json] [--store path] init --server url "
	    "--user name\n"
	    "\t[--device name] [--cafile path]\n"
	    "       kpool [--json] [--store path] register\n"
	    "       kpool [--json] [--store path] pubkey\n"
	    "       kpool [--json] [--store path] reserve user "
	    "[--device name | --all-devices]\n"
	    "\t[--group hex] [--suite n]\n"
	    "       kpool [--json] [--store path] spend ref [--group hex]\n"
	    "       kpool [--json] [--store path] release ref\n"
	    "       kpool [--json] [--store path] status [user]\n"
	    "       kpool [--json] [--store path] keys\n");
	exit(EX_USAGE);
}

/* ------------------------------------------------------------------ */
/* Output. */

/* Print o (taken) as one line of JSON on stdout. */
static void
put_json(json_t *o)
{
	if (o == NULL || json_dumpf(o, stdout, JSON_COMPACT) == -1)
		errx(EX_FAIL, "out of memory");
	putchar('\n');
	json_decref(o);
}

/* An RFC 3339 UTC time of t into buf; "-" for 0. */
static const char *
rfc3339(int64_t t, char buf[32])
{
	struct tm	tm;
	time_t		tt = (time_t)t;

	if (t == 0 || gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return "-";
	return buf;
}

/* A JSON time: RFC 3339 text, or null for 0. */
static json_t *
jtime(int64_t t)
{
	char	buf[32];

	return t == 0 ? json_null() : json_string(rfc3339(t, buf));
}

/* len bytes as a JSON string of lowercase hex (null for none). */
static json_t *
jhex(const uint8_t *b, size_t len)
{
	char	 hex[2 * KP_MAX_GROUP_ID + 1];

	if (len == 0 || len > KP_MAX_GROUP_ID)
		return json_null();
	kp_hex(b, len, hex);
	return json_string(hex);
}

/* len bytes as standard base64 into a malloc'd string. */
static char *
b64(const uint8_t *b, size_t len)
{
	size_t	 n = sodium_base64_ENCODED_LEN(len,
		    sodium_base64_VARIANT_ORIGINAL);
	char	*s;

	if ((s = malloc(n)) == NULL)
		err(EX_FAIL, NULL);
	sodium_bin2base64(s, n, b, len, sodium_base64_VARIANT_ORIGINAL);
	return s;
}

/* ------------------------------------------------------------------ */
/* Failures. */

/* The pool refused what (rc): say why and exit 1. */
static void __attribute__((noreturn))
pool_fail(const char *what, int rc)
{
	const char	*m = pool != NULL ? kp_errmsg(pool) : "";

	if (rc == KP_ENET)
		errx(EX_FAIL, "%s: server unreachable (%s)%s%s", what,
		    server[0] != '\0' ? server : "none set", *m ? ": " : "",
		    m);
	if (rc == KP_ETLS && *m != '\0')	/* the message says it all */
		errx(EX_FAIL, "%s: %s", what, m);
	errx(EX_FAIL, "%s: %s%s%s", what, kp_strerror(rc), *m ? ": " : "", m);
}

/* The server refused what (rc): its status, code and message; exit 1. */
static void __attribute__((noreturn))
client_fail(const char *what, int rc)
{
	const char	*code = kp_client_error_code(client);
	const char	*m = kp_client_errmsg(client);
	long		 st = kp_client_last_status(client);

	if (rc == KP_ENET)
		errx(EX_FAIL, "%s: server unreachable (%s)%s%s", what,
		    server, *m ? ": " : "", m);
	if (rc == KP_ETLS && *m != '\0')
		errx(EX_FAIL, "%s: %s", what, m);
	if (st != 0 && *code != '\0')
		errx(EX_FAIL, "%s: HTTP %ld %s: %s", what, st, code,
		    *m ? m : kp_strerror(rc));
	errx(EX_FAIL, "%s: %s%s%s", what, kp_strerror(rc), *m ? ": " : "", m);
}

/* ------------------------------------------------------------------ */
/* Arguments. */

/* A KeyPackageRef in hex, or exit 2. */
static void
parse_ref(const char *s, uint8_t ref[KP_REF_LEN])
{
	if (strlen(s) != 2 * KP_REF_LEN || kp_unhex(s, ref, KP_REF_LEN) != KP_OK)
		errx(EX_USAGE, "%s: not a KeyPackageRef (64 hex digits)", s);
}

/* A group_id in hex (1 to KP_MAX_GROUP_ID bytes), or exit 2. */
static size_t
parse_group(const char *s, uint8_t gid[KP_MAX_GROUP_ID])
{
	size_t	n = strlen(s);

	if (n == 0 || n % 2 != 0 || n / 2 > KP_MAX_GROUP_ID ||
	    kp_unhex(s, gid, n / 2) != KP_OK)
		errx(EX_USAGE, "%s: not a group id (2 to %d hex digits)", s,
		    2 * KP_MAX_GROUP_ID);
	return n / 2;
}

/* A cipher suite number (decimal or 0x hex), or exit 2. */
static uint16_t
parse_suite(const char *s)
{
	unsigned long	 v;
	char		*end;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno != 0 || *s == '\0' || *end != '\0' || v == 0 || v > 0xffff)
		errx(EX_USAGE, "%s: not a cipher suite number", s);
	return (uint16_t)v;
}

/* ------------------------------------------------------------------ */
/* The store. */

/* The default store: $XDG_DATA_HOME/kpool/pool.db. */
static const char *
default_store(void)
{
	static char	 path[PATH_MAX];
	const char	*d = getenv("XDG_DATA_HOME"), *h = getenv("HOME");
	int		 n;

	if (d != NULL && *d == '/')
		n = snprintf(path, sizeof(path), "%s/kpool/pool.db", d);
	else if (h != NULL && *h != '\0')
		n = snprintf(path, sizeof(path),
		    "%s/.local/share/kpool/pool.db", h);
	else
		errx(EX_FAIL, "neither XDG_DATA_HOME nor HOME is set: "
		    "name the store with --store");
	if (n < 0 || (size_t)n >= sizeof(path))
		errx(EX_FAIL, "the default store's path is too long");
	return path;
}

/* Make the directories above path (mode 0700), as mkdir -p. */
static void
make_parents(const char *path)
{
	char	dir[PATH_MAX], *s, c;

	if (strlen(path) >= sizeof(dir))
		errx(EX_FAIL, "%s: path too long", path);
	strcpy(dir, path);
	if ((s = strrchr(dir, '/')) == NULL || s == dir)
		return;
	*s = '\0';
	for (s = dir + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		c = *s;
		*s = '\0';
		if (mkdir(dir, 0700) == -1 && errno != EEXIST)
			err(EX_FAIL, "%s", dir);
		if ((*s = c) == '\0')
			break;
	}
}

/*
 * Open the store: with user set (init), made when missing; else it
 * must exist.  With need_server, set the server it remembers.
 */
static void
open_store(const char *user, const char *device, int need_server)
{
	struct stat	sb;
	int		rc;

	if (user == NULL && stat(store, &sb) == -1) {
		if (errno == ENOENT)
			errx(EX_FAIL, "no store at %s: make one with "
			    "\"kpool init --server URL --user NAME\"", store);
		err(EX_FAIL, "%s", store);
	}
	if (user != NULL)
		make_parents(store);
	if ((rc = kp_pool_open(store, NULL, user, device, &pool)) != KP_OK)
		pool_fail(store, rc);
	if ((rc = kp_pool_remembered_server(pool, server,
	    sizeof(server))) != KP_OK)
		pool_fail(store, rc);
	if (!need_server)
		return;
	if (server[0] == '\0')
		errx(EX_FAIL, "%s remembers no server: set one with "
		    "\"kpool init --server URL --user %s\"", store,
		    kp_pool_user(pool));
	if ((rc = kp_pool_set_server(pool, server)) != KP_OK)
		pool_fail(server, rc);
}

/* A client of the store's server, signed as its device. */
static void
open_client(void)
{
	int	rc;

	if ((rc = kp_pool_client(pool, &client)) != KP_OK)
		pool_fail("client", rc);
	kp_client_set_timeouts(client, 5000, 30000);
}

/* ------------------------------------------------------------------ */
/* Verbs.  Each parses its own options from argv[0] (the verb) on. */

/* getopt_long over a verb's arguments (argv[0] is the verb). */
static int
verb_opt(int argc, char **argv, const struct option *lo)
{
	int	ch;

	/* GNU getopt permutes: options may follow the operands */
	ch = getopt_long(argc, argv, "", lo, NULL);
	if (ch == '?' || ch == ':')
		usage();
	return ch;
}

/* What the store is: user, device, principal, public key, server. */
static json_t *
whoami(void)
{
	uint8_t	 pub[KP_SIGN_PK_LEN];
	char	*pk;
	json_t	*o;

	kp_pool_identity(pool, pub);
	pk = b64(pub, sizeof(pub));
	o = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s}", "user",
	    kp_pool_user(pool), "device", kp_pool_device(pool), "principal",
	    kp_pool_principal(pool), "public_key", pk, "server",
	    server[0] != '\0' ? server : NULL, "store", store);
	free(pk);
	return o;
}

/* Print whoami() as "key: value" lines or JSON. */
static void
put_whoami(void)
{
	json_t		*o = whoami();
	const char	*k;
	json_t		*v;

	if (json) {
		put_json(o);
		return;
	}
	json_object_foreach(o, k, v)
		printf("%s: %s\n", k, json_is_string(v) ?
		    json_string_value(v) : "-");
	json_decref(o);
}

/* init --server URL --user NAME [--device NAME] [--cafile PATH] */
static int
cmd_init(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "server", required_argument, NULL, 's' },
		{ "user", required_argument, NULL, 'u' },
		{ "device", required_argument, NULL, 'd' },
		{ "cafile", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*url = NULL, *user = NULL, *device = NULL;
	const char	*cafile = NULL;
	char		 ca[PATH_MAX];
	int		 ch, rc;

	while ((ch = verb_opt(argc, argv, lo)) != -1) {
		switch (ch) {
		case 's':
			url = optarg;
			break;
		case 'u':
			user = optarg;
			break;
		case 'd':
			device = optarg;
			break;
		case 'c':
			cafile = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || url == NULL || user == NULL)
		usage();
	/* the store keeps it absolute: its programs run anywhere */
	if (cafile != NULL && realpath(cafile, ca) == NULL)
		err(EX_FAIL, "--cafile %s", cafile);
	if (!kp_username_valid(user))
		errx(EX_USAGE, "%s: not a valid user name", user);
	if (device != NULL && !kp_devicename_valid(device))
		errx(EX_USAGE, "%s: not a valid device name", device);
	open_store(user, device, 0);
	if ((rc = kp_pool_remember_server(pool, url)) != KP_OK)
		pool_fail(url, rc);
	/* the server's CAs go with it: the system's unless given */
	if ((rc = kp_pool_set_cafile(pool, cafile != NULL ? ca : NULL)) !=
	    KP_OK)
		pool_fail("--cafile", rc);
	(void)snprintf(server, sizeof(server), "%s", url);
	put_whoami();
	return 0;
}

/* pubkey: the device's Ed25519 public key in base64. */
static int
cmd_pubkey(int argc, char **argv)
{
	uint8_t	 pub[KP_SIGN_PK_LEN];
	char	*pk;

	if (argc != 1)
		usage();
	open_store(NULL, NULL, 0);
	if (json) {
		put_whoami();
		return 0;
	}
	kp_pool_identity(pool, pub);
	pk = b64(pub, sizeof(pub));
	printf("%s\n", pk);
	free(pk);
	return 0;
}

/* register: POST /users, then publish the pool to its target. */
static int
cmd_register(int argc, char **argv)
{
	struct kp_sync_report	r;
	struct kp_status	st;
	long			code;
	int			rc;

	if (argc != 1)
		usage();
	open_store(NULL, NULL, 1);
	open_client();
	if ((rc = kp_client_register(client)) != KP_OK)
		client_fail("register", rc);
	code = kp_client_last_status(client);
	memset(&r, 0, sizeof(r));
	if ((rc = kp_pool_refresh(pool, KP_REFRESH_TARGET, &r)) != KP_OK)
		pool_fail("publish", rc);
	if ((rc = kp_pool_status(pool, &st)) != KP_OK)
		pool_fail("status", rc);
	if (json)
		put_json(json_pack("{s:s, s:s, s:s, s:i, s:i, s:i}", "user",
		    kp_pool_user(pool), "device", kp_pool_device(pool),
		    "server", server, "status", (int)code, "uploaded",
		    (int)r.uploaded, "available",
		    (int)st.counts.n[KP_STATE_AVAILABLE]));
	else
		printf("registered %s on %s; %u keys available\n",
		    kp_pool_principal(pool), server,
		    st.counts.n[KP_STATE_AVAILABLE]);
	return 0;
}

/* One reservation as JSON. */
static json_t *
jreservation(const struct kp_reservation *r)
{
	char	*kp = b64(r->keypackage, r->keypackage_len);
	json_t	*o;

	o = json_pack("{s:o, s:s, s:i, s:b, s:s, s:o, s:s}", "ref",
	    jhex(r->ref, KP_REF_LEN), "device", r->device, "suite",
	    (int)r->cipher_suite, "last_resort", r->last_resort,
	    "reservation_id", r->reservation_id, "expires_at",
	    jtime(r->expires_at), "keypackage", kp);
	free(kp);
	return o;
}

/* One reservation as a line: REF DEVICE SUITE EXPIRES [last-resort]. */
static void
put_reservation(const struct kp_reservation *r)
{
	char	hex[2 * KP_REF_LEN + 1], t[32];

	kp_hex(r->ref, KP_REF_LEN, hex);
	printf("%s %s 0x%04x %s%s\n", hex, r->device[0] ? r->device : "-",
	    r->cipher_suite, rfc3339(r->expires_at, t),
	    r->last_resort ? " last-resort" : "");
}

/* reserve USER [--device D | --all-devices] [--group HEX] [--suite N] */
static int
cmd_reserve(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "all-devices", no_argument, NULL, 'a' },
		{ "group", required_argument, NULL, 'g' },
		{ "suite", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 }
	};
	struct kp_reserve_opts	 o;
	struct kp_reservation	 r;
	struct kp_claim		 c;
	uint8_t			 gid[KP_MAX_GROUP_ID];
	const char		*target;
	json_t			*a, *e;
	size_t			 i;
	int			 ch, rc, all = 0;

	memset(&o, 0, sizeof(o));
	while ((ch = verb_opt(argc, argv, lo)) != -1) {
		switch (ch) {
		case 'd':
			if (!kp_devicename_valid(optarg))
				errx(EX_USAGE, "%s: not a valid device name",
				    optarg);
			o.target_device = optarg;
			break;
		case 'a':
			all = 1;
			break;
		case 'g':
			o.group_id_len = parse_group(optarg, gid);
			o.group_id = gid;
			break;
		case 's':
			o.cipher_suite = parse_suite(optarg);
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1 || (all && o.target_device != NULL))
		usage();
	target = argv[optind];
	if (!kp_username_valid(target))
		errx(EX_USAGE, "%s: not a valid user name", target);
	open_store(NULL, NULL, 1);
	open_client();
	if (!all) {
		if ((rc = kp_client_reserve(client, target, &o, &r)) != KP_OK)
			client_fail("reserve", rc);
		if (json)
			put_json(jreservation(&r));
		else
			put_reservation(&r);
		kp_reservation_free(&r);
		return 0;
	}
	rc = kp_client_claim(client, target, &o, &c);
	if (rc != KP_OK && rc != KP_EEXHAUSTED)
		client_fail("claim", rc);
	if (rc == KP_EEXHAUSTED && c.n == 0) {
		kp_claim_free(&c);
		client_fail("claim", rc);
	}
	if (json) {
		a = json_array();
		e = json_array();
		for (i = 0; i < c.n; i++)
			json_array_append_new(a, jreservation(&c.keys[i]));
		for (i = 0; i < c.nexhausted; i++)
			json_array_append_new(e, json_string(c.exhausted[i]));
		put_json(json_pack("{s:o, s:o}", "keys", a, "exhausted", e));
	} else {
		for (i = 0; i < c.n; i++)
			put_reservation(&c.keys[i]);
		for (i = 0; i < c.nexhausted; i++)
			printf("exhausted %s\n", c.exhausted[i]);
	}
	kp_claim_free(&c);
	return 0;
}

/*
 * Move one of our own keys to "to" through the pool (the owner's spend
 * or release), so the store follows; 0 when ref is not ours.
 */
static int
own_move(const uint8_t ref[KP_REF_LEN], int to, const uint8_t *gid,
    size_t glen, const char *what)
{
	struct kp_key	*k;
	int		 rc, from;

	if ((rc = kp_pool_key(pool, ref, &k)) == KP_ENOTFOUND)
		return 0;
	if (rc != KP_OK)
		pool_fail(what, rc);
	from = kp_key_state(k);
	kp_key_free(k);
	if (glen > 0 && (rc = kp_pool_set_group(pool, ref, gid,
	    glen)) != KP_OK)
		pool_fail(what, rc);
	if ((rc = kp_pool_transition(pool, ref, from, to)) != KP_OK)
		pool_fail(what, rc);
	return 1;
}

/* Print the outcome of a spend or release. */
static void
put_done(const char *verb, const char *ref, const uint8_t *gid, size_t glen)
{
	if (json)
		put_json(json_pack("{s:s, s:s, s:o}", "ref", ref, "state",
		    verb, "group_id", jhex(gid, glen)));
	else
		printf("%s %s\n", ref, verb);
}

/* spend REF [--group HEX] */
static int
cmd_spend(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "group", required_argument, NULL, 'g' },
		{ NULL, 0, NULL, 0 }
	};
	uint8_t	ref[KP_REF_LEN], gid[KP_MAX_GROUP_ID];
	size_t	glen = 0;
	int	ch, rc;

	while ((ch = verb_opt(argc, argv, lo)) != -1) {
		if (ch != 'g')
			usage();
		glen = parse_group(optarg, gid);
	}
	if (optind != argc - 1)
		usage();
	parse_ref(argv[optind], ref);
	open_store(NULL, NULL, 1);
	if (!own_move(ref, KP_STATE_SPENT, gid, glen, "spend")) {
		open_client();
		if ((rc = kp_client_spend(client, ref, gid, glen)) != KP_OK)
			client_fail("spend", rc);
	}
	put_done("spent", argv[optind], gid, glen);
	return 0;
}

/* release REF */
static int
cmd_release(int argc, char **argv)
{
	uint8_t	ref[KP_REF_LEN];
	int	rc;

	if (argc != 2)
		usage();
	parse_ref(argv[1], ref);
	open_store(NULL, NULL, 1);
	if (!own_move(ref, KP_STATE_AVAILABLE, NULL, 0, "release")) {
		open_client();
		if ((rc = kp_client_release(client, ref)) != KP_OK)
			client_fail("release", rc);
	}
	put_done("available", argv[1], NULL, 0);
	return 0;
}

/*
 * Sync the pool with its server before showing it; when the server
 * cannot be reached, say so and show the local state.
 */
static void
sync_quietly(void)
{
	struct kp_sync_report	r;
	int			rc;

	memset(&r, 0, sizeof(r));
	if ((rc = kp_pool_sync(pool, &r)) == KP_ENET)
		warnx("server unreachable (%s): the local state follows",
		    server);
	else if (rc != KP_OK)
		pool_fail("sync", rc);
}

/* status of this pool: counts, policy, health, last sync. */
static int
status_own(void)
{
	struct kp_status	 st;
	struct kp_policy	 pol;
	json_t			*o, *c;
	char			 t[32];
	int			 rc, i;

	sync_quietly();
	if ((rc = kp_pool_status(pool, &st)) != KP_OK ||
	    (rc = kp_pool_policy_get(pool, &pol)) != KP_OK)
		pool_fail("status", rc);
	if (json) {
		o = whoami();
		c = json_object();
		for (i = 0; i < KP_NSTATES; i++)
			json_object_set_new(c, kp_state_name(i),
			    json_integer(st.counts.n[i]));
		json_object_set_new(c, "last_resort",
		    json_integer(st.counts.last_resort));
		json_object_set_new(c, "total",
		    json_integer(st.counts.total));
		json_object_set_new(o, "counts", c);
		json_object_set_new(o, "target", json_integer(pol.target));
		json_object_set_new(o, "low_watermark",
		    json_integer(pol.low_watermark));
		json_object_set_new(o, "hard_cap", json_integer(pol.hard_cap));
		json_object_set_new(o, "health",
		    json_string(kp_health_name(st.health)));
		json_object_set_new(o, "last_sync", jtime(st.last_sync));
		json_object_set_new(o, "enrolled", st.enrolled < 0 ?
		    json_null() : json_boolean(st.enrolled));
		put_json(o);
		return 0;
	}
	printf("user: %s\ndevice: %s\nserver: %s\n", kp_pool_user(pool),
	    kp_pool_device(pool), server);
	for (i = 0; i < KP_NSTATES; i++)
		printf("%s: %u\n", kp_state_name(i), st.counts.n[i]);
	printf("last_resort: %u\ntotal: %u\ntarget: %u\nlow_watermark: %u\n"
	    "hard_cap: %u\nhealth: %s\nlast_sync: %s\n",
	    st.counts.last_resort, st.counts.total, pol.target,
	    pol.low_watermark, pol.hard_cap, kp_health_name(st.health),
	    rfc3339(st.last_sync, t));
	return 0;
}

/* status [USER] */
static int
cmd_status(int argc, char **argv)
{
	struct kp_remote_status	 s;
	int			 rc;

	if (argc > 2)
		usage();
	if (argc == 2 && !kp_username_valid(argv[1]))
		errx(EX_USAGE, "%s: not a valid user name", argv[1]);
	open_store(NULL, NULL, 1);
	if (argc == 1)
		return status_own();
	open_client();
	if ((rc = kp_client_status(client, argv[1], &s)) != KP_OK)
		client_fail("status", rc);
	if (json) {
		if (s.counts)
			put_json(json_pack("{s:s, s:b, s:{s:i, s:i, s:i, s:i, "
			    "s:i}}", "user", argv[1], "has_keys",
			    s.has_keys || s.available > 0, "counts",
			    "available", (int)s.available, "reserved",
			    (int)s.reserved, "spent", (int)s.spent, "expired",
			    (int)s.expired, "last_resort",
			    (int)s.last_resort));
		else
			put_json(json_pack("{s:s, s:b}", "user", argv[1],
			    "has_keys", s.has_keys));
		return 0;
	}
	printf("user: %s\nhas_keys: %s\n", argv[1],
	    s.has_keys || s.available > 0 ? "yes" : "no");
	if (s.counts)
		printf("available: %u\nreserved: %u\nspent: %u\nexpired: %u\n"
		    "last_resort: %u\n", s.available, s.reserved, s.spent,
		    s.expired, s.last_resort);
	return 0;
}

/* One key of the pool as JSON (public facts only). */
static json_t *
jkey(const struct kp_key *k)
{
	const uint8_t	*g;
	size_t		 glen;
	json_t		*o;

	g = kp_key_group_id(k, &glen);
	o = json_pack("{s:s, s:s, s:i, s:b, s:o, s:o, s:o, s:o, s:o}",
	    "ref", kp_key_ref_hex(k), "state", kp_state_name(kp_key_state(k)),
	    "suite", (int)kp_key_suite(k), "last_resort",
	    kp_key_last_resort(k), "created",
	    jtime(kp_key_time(k, KP_T_CREATED)), "changed",
	    jtime(kp_key_time(k, KP_T_CHANGED)), "not_after",
	    jtime(kp_key_time(k, KP_T_NOT_AFTER)), "reservation_expires",
	    jtime(kp_key_time(k, KP_T_RESERVATION_EXPIRES)), "group_id",
	    jhex(g, glen));
	json_object_set_new(o, "reserved_by",
	    *kp_key_text(k, KP_X_RESERVED_BY) ?
	    json_string(kp_key_text(k, KP_X_RESERVED_BY)) : json_null());
	json_object_set_new(o, "spent_by",
	    *kp_key_text(k, KP_X_SPENT_BY) ?
	    json_string(kp_key_text(k, KP_X_SPENT_BY)) : json_null());
	return o;
}

/* keys: this pool's keys, oldest first. */
static int
cmd_keys(int argc, char **argv)
{
	struct kp_key	**keys;
	const char	 *by;
	json_t		 *a;
	char		  t[32];
	size_t		  n, i;
	int		  rc;

	if (argc != 1)
		usage();
	open_store(NULL, NULL, 1);
	sync_quietly();
	if ((rc = kp_pool_list(pool, -1, &keys, &n)) != KP_OK)
		pool_fail("keys", rc);
	if (json) {
		a = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(a, jkey(keys[i]));
		put_json(a);
	}
	for (i = 0; !json && i < n; i++) {
		by = kp_key_text(keys[i], kp_key_state(keys[i]) ==
		    KP_STATE_SPENT ? KP_X_SPENT_BY : KP_X_RESERVED_BY);
		printf("%s %-9s 0x%04x %s%s%s%s\n", kp_key_ref_hex(keys[i]),
		    kp_state_name(kp_key_state(keys[i])),
		    kp_key_suite(keys[i]),
		    rfc3339(kp_key_time(keys[i], KP_T_CHANGED), t),
		    *by ? " " : "", by,
		    kp_key_last_resort(keys[i]) ? " last-resort" : "");
	}
	kp_keys_free(keys, n);
	return 0;
}

static const struct {
	const char	*name;
	int		(*fn)(int, char **);
} verbs[] = {
	{ "init", cmd_init },
	{ "register", cmd_register },
	{ "pubkey", cmd_pubkey },
	{ "reserve", cmd_reserve },
	{ "spend", cmd_spend },
	{ "release", cmd_release },
	{ "status", cmd_status },
	{ "keys", cmd_keys },
};

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "store", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 }
	};
	size_t	i;
	int	ch, rc;

	while ((ch = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
		switch (ch) {
		case 'j':
			json = 1;
			break;
		case 'S':
			store = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	if (sodium_init() < 0)
		errx(EX_FAIL, "sodium_init failed");
	if (store == NULL)
		store = default_store();
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(argv[0], verbs[i].name) == 0)
			break;
	if (i == sizeof(verbs) / sizeof(verbs[0]))
		usage();
	optind = 0;	/* GNU getopt: start afresh at argv[1] */
	rc = verbs[i].fn(argc, argv);
	kp_client_free(client);
	kp_pool_close(pool);
	return rc;
}
