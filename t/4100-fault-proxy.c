/* SPDX-License-Identifier: ISC */
/*
 * 4100-fault-proxy: faultproxy (t/fault/) in front of a real
 * kpool-server.  With faults off it is transparent; each fault, forced
 * with rate 1 on one chosen request, has its exact effect on the client,
 * the server (its log and database) and the proxy's log; one seed and
 * one sequence of requests give one log.
 */

#include <sys/stat.h>

#include "kps_test.h"
#include "fault/prox.h"

static struct srv	s;

/*
 * logline: the proxy's log line of request seq without its number
 * and connection ("METHOD PATH FAULT PARAM UPSTREAM CLIENT NOTE"),
 * waiting 5 s at most for it (a line is written once the request is
 * done, which may be after the client saw its end); static.
 */
static const char *
logline(struct prox *p, unsigned long long seq)
{
	static char	 out[512];
	char		*log, *l, head[32];
	size_t		 n, hl;
	int		 i;

	hl = (size_t)snprintf(head, sizeof(head), "%llu ", seq);
	out[0] = '\0';
	for (i = 0; i < 500 && out[0] == '\0'; i++) {
		if (i > 0)
			usleep(10000);
		log = tap_slurp(p->log, &n);
		for (l = log; l != NULL && *l != '\0'; l = strchr(l, '\n')) {
			if (*l == '\n')
				l++;
			if (strncmp(l, head, hl) == 0) {
				/* skip the connection */
				l = strchr(l + hl, ' ');
				snprintf(out, sizeof(out), "%.*s",
				    (int)strcspn(l + 1, "\n"), l + 1);
				break;
			}
		}
		free(log);
	}
	return out;
}

/* srv_lines: lines of the server's log holding needle. */
static int
srv_lines(const char *needle)
{
	char	*log, *q;
	size_t	 n;
	int	 c = 0;

	log = tap_slurp(s.log, &n);
	for (q = log; (q = strstr(q, needle)) != NULL; q += strlen(needle))
		c++;
	free(log);
	return c;
}

/*
 * srv_settle: wait until the server's log has not grown for 100 ms: it
 * writes a request's line just after its reply, so a count taken as
 * soon as a client has its reply can miss that request.
 */
static void
srv_settle(void)
{
	struct stat	st;
	off_t		last = -1;
	int		same = 0;

	while (same < 5) {
		usleep(20000);
		if (stat(s.log, &st) != 0)
			bail("stat %s", s.log);
		same = st.st_size == last ? same + 1 : 0;
		last = st.st_size;
	}
}

/* srv_lines_wait: srv_lines(needle), once it is want (5 s at most). */
static int
srv_lines_wait(const char *needle, int want)
{
	int	i, c = 0;

	for (i = 0; i < 500 && (c = srv_lines(needle)) != want; i++)
		usleep(10000);
	return c;
}

static int64_t
mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* exchange: send req on a new connection to port, read until closed (3 s
 * at most); the reply with its Date and X-Request-Id lines (which differ
 * from one request to the next) dropped, in out. */
static void
exchange(int port, const char *req, char *out, size_t cap)
{
	static const char *const	 drop[] = { "\r\nDate: ",
	    "\r\nX-Request-Id: " };
	struct srv			 t = s;
	char				*d, *e;
	size_t				 i;
	int				 fd;

	t.port = port;
	fd = sock_open(&t);
	sock_send(fd, req, strlen(req));
	sock_read(fd, out, cap, 3000);
	close(fd);
	for (i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
		if ((d = strstr(out, drop[i])) != NULL &&
		    (e = strstr(d + 2, "\r\n")) != NULL)
			memmove(d, e, strlen(e) + 1);
}

/* signed_req: a whole signed request of w, "Connection: close". */
static void
signed_req(struct who *w, const char *method, const char *path,
    const char *body, char *out, size_t cap)
{
	struct kp_httpsig	sig;
	size_t			len = body ? strlen(body) : 0;
	int			n;

	if (kp_httpsig_sign(method, path, "", body, len, w->name, w->sk,
	    (int64_t)time(NULL), &sig) != KP_OK)
		bail("sign");
	n = snprintf(out, cap, "%s %s HTTP/1.1\r\nHost: x\r\n"
	    "Content-Type: application/json\r\nContent-Digest: %s\r\n"
	    "Signature-Input: %s\r\nSignature: %s\r\nConnection: close\r\n"
	    "Content-Length: %zu\r\n\r\n%s", method, path, sig.digest,
	    sig.input, sig.signature, len, body ? body : "");
	if (n < 0 || (size_t)n >= cap)
		bail("request too long");
}

/* reserve: alice reserves a key of bob through p, request id rid. */
static void
reserve(struct prox *p, struct who *w, const char *rid, struct rawreply *r)
{
	char	body[256];

	snprintf(body, sizeof(body), "{\"target_username\":\"bob\","
	    "\"request_id\":\"%s\"}", rid);
	raw(&p->view, w, "POST", "/keypackages/reserve", body, T_NONE, r);
}

/* ref_of: the keypackage_ref of a reply, or "" (static). */
static const char *
ref_of(const char *body)
{
	static char	 ref[2 * KP_REF_LEN + 1];
	const char	*q = strstr(body, "\"keypackage_ref\":\"");

	ref[0] = '\0';
	if (q != NULL && strlen(q + 18) >= 2 * KP_REF_LEN)
		snprintf(ref, sizeof(ref), "%.*s", 2 * KP_REF_LEN, q + 18);
	return ref;
}

static long long
reserved_with(const char *rid)
{
	char	q[200];

	snprintf(q, sizeof(q), "SELECT count(*) FROM keypackages WHERE "
	    "status = 'reserved' AND request_id = '%s'", rid);
	return srv_count(&s, q);
}

static int
cmp_seq(const void *a, const void *b)
{
	unsigned long long	x = strtoull(*(char *const *)a, NULL, 10);
	unsigned long long	y = strtoull(*(char *const *)b, NULL, 10);

	return x < y ? -1 : x > y;
}

/* by_seq: the request lines of a log, sorted by number (they are
 * written as requests end), fields (1-based) from..to of each; one
 * malloc'd string. */
static char *
by_seq(const char *path, int from, int to)
{
	char	*log, *l, **v, *out, *f;
	size_t	 n, nl = 0, i, o = 0;
	int	 k;

	log = tap_slurp(path, &n);
	if ((v = calloc(n + 1, sizeof(*v))) == NULL ||
	    (out = calloc(n + 1, 1)) == NULL)
		bail("calloc");
	for (l = strtok(log, "\n"); l != NULL; l = strtok(NULL, "\n"))
		if (*l != '#')
			v[nl++] = l;
	qsort(v, nl, sizeof(*v), cmp_seq);
	for (i = 0; i < nl; i++) {
		for (k = 1, f = v[i]; k <= to && f != NULL; k++) {
			size_t	w = strcspn(f, " ");

			if (k >= from) {
				memcpy(out + o, f, w);
				o += w;
				out[o++] = k == to ? '\n' : ' ';
			}
			f = f[w] == ' ' ? f + w + 1 : NULL;
		}
	}
	free(v);
	free(log);
	return out;
}

/* run40: forty GET /healthz through p, each on a new connection. */
static void
run40(struct prox *p)
{
	struct rawreply	r;
	int		i;

	for (i = 0; i < 40; i++)
		raw_bearer(&p->view, NULL, "/healthz", &r);
}

/* plan_of: faultproxy --plan 40 with the options of opts, fields 1-2. */
static char *
plan_of(const char *opts)
{
	const char	*build = getenv("KP_BUILD");
	char		 cmd[1024], line[256], *out;
	size_t		 o = 0;
	FILE		*f;

	snprintf(cmd, sizeof(cmd), "%s/t/faultproxy --plan 40 %s",
	    build ? build : "build", opts);
	if ((f = popen(cmd, "r")) == NULL || (out = calloc(4096, 1)) == NULL)
		bail("popen");
	while (fgets(line, sizeof(line), f) != NULL && o < 4000)
		o += (size_t)snprintf(out + o, 4096 - o, "%.*s\n",
		    (int)(strchr(strchr(line, ' ') + 1, ' ') - line), line);
	pclose(f);
	return out;
}

int
main(void)
{
	static const char *const srv_args[] = { "--public-metrics", NULL };
	static const char *const px_args[] = { "--faults", "off",
	    "--hang-ms", "1000", "--reorder-window", "5000", "--delay-max",
	    "400", "--cut-wait", "500", NULL };
	struct who		 bob, alice, carol;
	struct kpb		 k[10];
	struct kp_upload_result	 res[10];
	const uint8_t		*ptrs[10];
	size_t			 lens[10];
	struct prox		 p, p2;
	struct rawreply		 r;
	char			 a[8192], b[8192], req[4096], want[512];
	char			 hex[2 * KP_REF_LEN + 1], *l1, *l2, *pl;
	const char		*rep, *cut;
	unsigned long long	 n, m;
	uint64_t		 st;
	int64_t			 now = (int64_t)time(NULL), t0;
	int			 i, fa, fb, before, ms;

	plan(70);
	if (sodium_init() < 0)
		bail("sodium_init");
	curl_global_init(CURL_GLOBAL_DEFAULT);

	/* the generator: splitmix64's known first outputs from state 0 */
	st = 0;
	ok(fault_next(&st) == 0xe220a8397b1dcdafULL &&
	    fault_next(&st) == 0x6e789e6aa1b965f4ULL &&
	    fault_next(&st) == 0x06c45d188009454fULL,
	    "splitmix64 from 0: e220a8397b1dcdaf 6e789e6aa1b965f4 "
	    "06c45d188009454f");
	ok(fault_unit(UINT64_MAX) < 1.0 && fault_unit(0) == 0.0 &&
	    fault_range(UINT64_MAX, 1, 200) <= 200 &&
	    fault_range(0, 1, 200) == 1, "unit in [0, 1), range in [lo, hi]");

	srv_start(&s, srv_args);
	prox_start(&p, &s, "p", px_args);

	/* faults off: the proxy is transparent */
	who_new(&p.view, &bob, "bob", 1);
	who_new(&p.view, &alice, "alice", 1);
	who_new(&p.view, &carol, "carol", 1);
	is_string(logline(&p, 1), "POST /users none - 201 sent -",
	    "log: request 1 registered bob, no fault");
	for (i = 0; i < 10; i++) {
		gen(&bob, "bob", now - 60, now + 86400, 0, &k[i]);
		ptrs[i] = k[i].buf;
		lens[i] = k[i].len;
	}
	is_int(kp_client_upload(bob.c, ptrs, lens, 10, res), KP_OK,
	    "upload ten keys through the proxy");
	for (i = 0, fa = 0; i < 10; i++)
		fa += res[i].accepted && memcmp(res[i].ref, k[i].ref,
		    KP_REF_LEN) == 0;
	is_int(fa, 10, "each accepted under its own ref");
	exchange(s.port, "GET /healthz HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\n\r\n", a, sizeof(a));
	exchange(p.view.port, "GET /healthz HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\n\r\n", b, sizeof(b));
	ok(strncmp(a, "HTTP/1.1 200", 12) == 0, "GET /healthz direct: 200");
	is_string(b, a, "through the proxy: the same bytes (Date, id aside)");
	exchange(s.port, "GET /nope HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\n\r\n", a, sizeof(a));
	exchange(p.view.port, "GET /nope HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\n\r\n", b, sizeof(b));
	is_string(b, a, "a 404: the same bytes");
	exchange(s.port, "GET /keypackages/reserve HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\n\r\n", a, sizeof(a));
	exchange(p.view.port, "GET /keypackages/reserve HTTP/1.1\r\n"
	    "Host: x\r\nConnection: close\r\n\r\n", b, sizeof(b));
	ok(strstr(a, "Allow: POST") != NULL, "a 405 direct, with Allow");
	is_string(b, a, "a 405: the same bytes");
	/* framing the proxy does not take: passed through untouched */
	n = next_seq(&p);
	snprintf(req, sizeof(req), "POST /keypackages/reserve HTTP/1.1\r\n"
	    "Host: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n{}");
	exchange(s.port, req, a, sizeof(a));
	exchange(p.view.port, req, b, sizeof(b));
	ok(strstr(a, "\"bad_framing\"") != NULL, "bad framing direct: 400");
	is_string(b, a, "bad framing: the same bytes, tunnelled");
	is_string(logline(&p, n), "POST /keypackages/reserve tunnel - 400 "
	    "tunnel -", "log: the tunnel, with the status it saw");
	/* keep-alive: two requests in one write, two replies */
	{
		struct srv	t = p.view;
		int		fd = sock_open(&t);

		static const char two[] = "GET /healthz HTTP/1.1\r\n"
		    "Host: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n"
		    "Connection: close\r\n\r\n";

		n = next_seq(&p);
		sock_send(fd, two, sizeof(two) - 1);
		sock_read(fd, a, sizeof(a), 3000);
		close(fd);
		ok(strstr(a, "HTTP/1.1 200") != NULL && strstr(strstr(a,
		    "HTTP/1.1 200") + 1, "HTTP/1.1 200") != NULL,
		    "pipelined on one connection: two replies");
		l1 = strdup(logline(&p, n));
		is_string(l1, "GET /healthz none - 200 sent -", "log: one");
		is_string(logline(&p, n + 1), l1, "log: and two");
		free(l1);
	}
	reserve(&p, &alice, "r-plain", &r);
	kp_hex(k[0].ref, KP_REF_LEN, hex);
	is_int(r.status, 200, "a reserve through the proxy: 200");
	is_string(ref_of(r.body), hex, "the oldest key");

	/* drop-request: the server never sees it; the client is closed */
	srv_settle();
	before = srv_lines("POST /keypackages/reserve");
	fa = srv_lines("POST /keypackages/reserve 200");
	force(&p, "drop-request", n = next_seq(&p));
	reserve(&p, &alice, "r-drop", &r);
	heal(&p, "drop-request");
	is_int(r.status, 0, "drop-request: the client gets no reply");
	is_string(logline(&p, n), "POST /keypackages/reserve drop-request "
	    "- - closed -", "log: dropped, never forwarded");
	is_int(srv_lines("POST /keypackages/reserve"), before,
	    "the server never saw it");
	is_int(reserved_with("r-drop"), 0, "nothing reserved");

	/* hang-request: held for hang-ms, then closed; never forwarded */
	force(&p, "hang-request", n = next_seq(&p));
	t0 = mono_ms();
	reserve(&p, &alice, "r-hang", &r);
	ms = (int)(mono_ms() - t0);
	heal(&p, "hang-request");
	is_int(r.status, 0, "hang-request: no reply");
	ok(ms >= 950 && ms < 5000, "after the 1000 ms hang (%d ms)", ms);
	is_string(logline(&p, n), "POST /keypackages/reserve hang-request "
	    "ms=1000 - hung -", "log: hung for 1000 ms");
	is_int(srv_lines("POST /keypackages/reserve"), before,
	    "the server never saw it");

	/* drop-reply: the server acted, the client got a closed connection */
	force(&p, "drop-reply", n = next_seq(&p));
	reserve(&p, &alice, "r-lost", &r);
	heal(&p, "drop-reply");
	is_int(r.status, 0, "drop-reply: the client gets no reply");
	is_string(logline(&p, n), "POST /keypackages/reserve drop-reply - "
	    "200 closed -", "log: the server said 200, the client got "
	    "nothing");
	is_int(srv_lines_wait("POST /keypackages/reserve 200", fa + 1),
	    fa + 1, "the server served it");
	is_int(reserved_with("r-lost"), 1, "the key is reserved");
	reserve(&p, &alice, "r-lost", &r);
	kp_hex(k[1].ref, KP_REF_LEN, hex);
	ok(r.status == 200 && strcmp(ref_of(r.body), hex) == 0,
	    "a retry with its request id gets that key, the next oldest");

	/* duplicate: forwarded twice; the reply returned is the seed's;
	 * the copy carries the same signature, so it is a replay (401) */
	pctl(&p, "set duplicate 1");
	for (i = 0; i < 2; i++) {
		const char	*which = i == 0 ? "first" : "second";
		char		 rid[16];

		n = next_seq(&p);
		for (m = n; ; m++) {
			rep = pctl(&p, "plan %llu", m);
			snprintf(want, sizeof(want), "ok %llu duplicate "
			    "reply=%s", m, which);
			if (strcmp(rep, want) == 0)
				break;
		}
		pctl(&p, "seq %llu", m);
		pctl(&p, "faults on");
		for (; n < m; n++)	/* to bring request m's turn */
			raw_bearer(&p.view, NULL, "/healthz", &r);
		srv_settle();
		fa = srv_lines("POST /keypackages/reserve 200");
		fb = srv_lines("POST /keypackages/reserve 401");
		snprintf(rid, sizeof(rid), "r-dup%d", i);
		reserve(&p, &alice, rid, &r);
		pctl(&p, "faults off");
		if (i == 0)
			is_int(r.status, 200, "duplicate, reply=first: the "
			    "client gets the first reply, 200");
		else
			is_reply(&r, 401, "unauthorized", "duplicate, "
			    "reply=second: the client gets the replay's 401");
		snprintf(want, sizeof(want), "POST /keypackages/reserve "
		    "duplicate reply=%s 200+401 sent -", which);
		is_string(logline(&p, m), want, "log: both answers, %s sent",
		    which);
		is_int(srv_lines_wait("POST /keypackages/reserve 200",
		    fa + 1), fa + 1, "the server served it once");
		is_int(srv_lines_wait("POST /keypackages/reserve 401",
		    fb + 1), fb + 1, "and refused the copy as a replay");
		is_int(reserved_with(rid), 1, "one key reserved for it");
	}
	heal(&p, "duplicate");

	/* reorder: alice's request is held until carol's, sent later on
	 * another connection, has gone through */
	{
		struct srv	t = p.view;
		char		ra[4096], rb[4096];
		int		fda, fdb;

		n = next_seq(&p);
		force(&p, "reorder", n);
		signed_req(&alice, "POST", "/keypackages/reserve",
		    "{\"target_username\":\"bob\",\"request_id\":\"r-a\"}",
		    req, sizeof(req));
		fda = sock_open(&t);
		sock_send(fda, req, strlen(req));
		rep = pctl(&p, "wait %llu 5000", n);
		snprintf(want, sizeof(want), "ok %llu", n);
		is_string(rep, want, "the held request is numbered %llu", n);
		signed_req(&carol, "POST", "/keypackages/reserve",
		    "{\"target_username\":\"bob\",\"request_id\":\"r-b\"}",
		    req, sizeof(req));
		fdb = sock_open(&t);
		sock_send(fdb, req, strlen(req));
		sock_read(fdb, rb, sizeof(rb), 5000);
		sock_read(fda, ra, sizeof(ra), 5000);
		close(fda);
		close(fdb);
		heal(&p, "reorder");
		ok(strncmp(ra, "HTTP/1.1 200", 12) == 0 &&
		    strncmp(rb, "HTTP/1.1 200", 12) == 0, "both served");
		kp_hex(k[4].ref, KP_REF_LEN, hex);
		ok(strstr(rb, hex) != NULL, "the later request (carol's) got "
		    "the older key");
		kp_hex(k[5].ref, KP_REF_LEN, hex);
		ok(strstr(ra, hex) != NULL, "the held one (alice's) the next");
		snprintf(want, sizeof(want), "POST /keypackages/reserve "
		    "reorder window=5000 200 sent passed-by=%llu", n + 1);
		is_string(logline(&p, n), want, "log: held, passed by %llu",
		    n + 1);
	}

	/* delay-request and delay-reply: the seeded milliseconds */
	for (i = 0; i < 2; i++) {
		const char	*kind = i ? "delay-reply" : "delay-request";

		n = next_seq(&p);
		pctl(&p, "set %s 1", kind);
		rep = pctl(&p, "plan %llu", n);
		ms = atoi(strstr(rep, "ms=") + 3);
		force(&p, kind, n);
		t0 = mono_ms();
		reserve(&p, &alice, i ? "r-dr" : "r-dq", &r);
		t0 = mono_ms() - t0;
		heal(&p, kind);
		ok(r.status == 200 && t0 >= ms, "%s: served, after %lld ms "
		    "(the seed's %d)", kind, (long long)t0, ms);
		snprintf(want, sizeof(want), "POST /keypackages/reserve %s "
		    "ms=%d 200 sent -", kind, ms);
		is_string(logline(&p, n), want, "log: %s ms=%d", kind, ms);
	}

	/* cut: part of an upload's body, then both sides closed */
	{
		struct kpb	nk[2];
		char		b64[2][2048], body[4200];

		for (i = 0; i < 2; i++) {
			gen(&bob, "bob", now - 60, now + 86400, 0, &nk[i]);
			sodium_bin2base64(b64[i], sizeof(b64[i]), nk[i].buf,
			    nk[i].len, sodium_base64_VARIANT_ORIGINAL);
			free(nk[i].buf);
		}
		snprintf(body, sizeof(body), "{\"keypackages\":[\"%s\","
		    "\"%s\"]}", b64[0], b64[1]);
		srv_settle();
		fa = srv_lines("POST /keypackages/upload");
		force(&p, "cut", n = next_seq(&p));
		raw(&p.view, &bob, "POST", "/keypackages/upload", body, T_NONE,
		    &r);
		heal(&p, "cut");
		is_int(r.status, 0, "cut: the client gets no reply");
		cut = logline(&p, n);
		ok(strncmp(cut, "POST /keypackages/upload cut at=", 32) == 0,
		    "log: %s", cut);
		{
			unsigned long	at = 0, len = 0;

			sscanf(cut + 32, "%lu/%lu", &at, &len);
			ok(at > len - strlen(body) && at < len,
			    "the head and part of the body (%lu of %lu bytes)"
			    " went upstream", at, len);
		}
		ok(strstr(cut, " eof closed -") != NULL ||
		    strstr(cut, " timeout closed -") != NULL ||
		    strstr(cut, " 40") != NULL, "the server answered nothing "
		    "(within --cut-wait), or a 4xx");
		is_int(srv_count(&s, "SELECT count(*) FROM keypackages WHERE "
		    "username = 'bob'"), 10, "and stored nothing");
		is_int(srv_lines("POST /keypackages/upload 200"), fa,
		    "no upload served");
	}

	/* control: bad settings are refused and change nothing */
	ok(strncmp(pctl(&p, "set drop-reply 2"), "error ", 6) == 0,
	    "a rate over 1 is refused");
	pctl(&p, "set drop-reply 0.6");
	ok(strncmp(pctl(&p, "set cut 0.5"), "error the rates would sum", 25)
	    == 0, "rates summing over 1 are refused");
	ok(strncmp(pctl(&p, "set frob 1"), "error frob: no such", 19) == 0,
	    "an unknown fault is refused");
	ok(strstr(pctl(&p, "rates"), " drop-reply 0.6 ") != NULL &&
	    strstr(pctl(&p, "rates"), " cut 0 ") != NULL,
	    "rates shows what took");
	ok(strncmp(pctl(&p, "wait 999999 50"), "error timeout ", 14) == 0,
	    "wait gives up at its timeout");
	is_int(prox_stop(&p), 0, "the proxy stops cleanly on SIGTERM");

	/* one seed, one sequence of requests: one log */
	{
		static const char *const mix[] = { "--seed", "4242",
		    "--drop-request", "0.1", "--hang-request", "0.05",
		    "--drop-reply", "0.1", "--delay-request", "0.1",
		    "--delay-reply", "0.1", "--duplicate", "0.1",
		    "--reorder", "0.05", "--cut", "0.1", "--delay-max", "20",
		    "--hang-ms", "100", "--reorder-window", "20",
		    "--cut-wait", "100", NULL };
		const char	*other[40];

		prox_start(&p, &s, "d1", mix);
		run40(&p);
		is_int(prox_stop(&p), 0, "run 1 of seed 4242 done");
		prox_start(&p2, &s, "d2", mix);
		run40(&p2);
		is_int(prox_stop(&p2), 0, "run 2 of seed 4242 done");
		l1 = by_seq(p.log, 1, 9);
		l2 = by_seq(p2.log, 1, 9);
		is_string(l2, l1, "the same seed gives the same log");
		for (i = 0; mix[i] != NULL; i++)
			other[i] = mix[i];
		other[i] = NULL;
		other[1] = "4243";
		prox_start(&p2, &s, "d3", other);
		run40(&p2);
		is_int(prox_stop(&p2), 0, "a run of seed 4243 done");
		free(l2);
		l2 = by_seq(p2.log, 1, 9);
		ok(strcmp(l1, l2) != 0, "another seed, another log");
		free(l1);
		free(l2);
		l1 = by_seq(p.log, 1, 5);
		pl = plan_of("--seed 4242 --drop-request 0.1 --hang-request "
		    "0.05 --drop-reply 0.1 --delay-request 0.1 --delay-reply "
		    "0.1 --duplicate 0.1 --reorder 0.05 --cut 0.1");
		/* the log's number and fault, against --plan's */
		{
			char	*x = calloc(4096, 1), *f, *g;
			size_t	 o = 0;

			for (f = strtok(l1, "\n"); f != NULL && o < 4000;
			    f = strtok(NULL, "\n")) {
				g = strrchr(f, ' ');
				o += (size_t)snprintf(x + o, 4096 - o,
				    "%.*s%s\n", (int)strcspn(f, " "), f,
				    g ? g : "");
			}
			is_string(x, pl, "--plan foretells each request's "
			    "fault");
			ok(strstr(pl, "drop-reply") && strstr(pl, "cut") &&
			    strstr(pl, "duplicate") && strstr(pl, "none"),
			    "and the plan has a mix of them");
			free(x);
		}
		free(l1);
		free(pl);
	}

	srv_stop(&s);
	who_free(&bob);
	who_free(&alice);
	who_free(&carol);
	for (i = 0; i < 10; i++)
		free(k[i].buf);
	curl_global_cleanup();
	return done_testing();
}
