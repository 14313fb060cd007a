/* SPDX-License-Identifier: ISC */
/*
 * 2009-server-http: the HTTP plumbing of a real kpool-server, with raw
 * bytes on a socket: the request log prints a client's control bytes
 * (ESC, DEL, CR, non-ASCII) as '?', and a 413 for a body over 1 MiB is
 * counted under its route in /metrics; a taken port or an over-long
 * --listen stops a second server from starting.  (t/2022 has the
 * rest of a log line: time, address and request id.)
 */

#include "kps_test.h"

/* ask: send a raw request on a fresh connection; the status code. */
static int
ask(struct srv *s, const void *req, size_t len)
{
	char	buf[4096];
	int	fd, code = 0;

	fd = sock_open(s);
	sock_send(fd, req, len);
	if (sock_read(fd, buf, sizeof(buf), 10000) > 12 &&
	    strncmp(buf, "HTTP/1.1 ", 9) == 0)
		code = atoi(buf + 9);
	close(fd);
	return code;
}

#define ASK(s, lit)	ask((s), (lit), sizeof(lit) - 1)

/* clean: 1 when the log has no byte but printable ASCII and '\n'. */
static int
clean(const char *log, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (log[i] != '\n' && (log[i] < 0x20 || log[i] > 0x7e))
			return 0;
	return 1;
}

/* line: what follows after in the log line that starts with start. */
static const char *
line(const char *log, const char *start, const char *after)
{
	static char	 out[128];
	const char	*p, *e;

	out[0] = '\0';
	if ((p = strstr(log, start)) == NULL ||
	    (p = strstr(p + 1, after)) == NULL)
		return out;
	p += strlen(after);
	if ((e = strchr(p, '\n')) == NULL)
		e = p + strlen(p);
	snprintf(out, sizeof(out), "%.*s", (int)(e - p), p);
	return out;
}

int
main(void)
{
	const char *const	 pub[] = { "--public-metrics", NULL };
	struct srv		 s;
	struct who		 alice;
	struct rawreply		 r;
	char			 hdr[256], *log, *chunk;
	size_t			 n, i;
	int			 fd;

	plan(25);
	srv_start(&s, pub);
	who_new(&s, &alice, "alice", 1);

	/* the log: one line a request, a client's control bytes as '?' */
	is_int(ASK(&s, "GET /a\x1b[31mb\x01\x7f\xc3\xa9" "c HTTP/1.1\r\n"
	    "Host: x\r\nConnection: close\r\n\r\n"), 404,
	    "a path with ESC, ^A, DEL and UTF-8: 404");
	is_int(ASK(&s, "GET /d\re HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\n\r\n"), 404, "a path with a CR: 404");
	is_int(ASK(&s, "G\x1bT /x HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\n\r\n"), 404, "a method with ESC: 404");
	raw(&s, &alice, "GET", "/keypackages/mine", NULL, T_NONE, &r);
	is_int(r.status, 200, "alice's signed GET /keypackages/mine: 200");
	raw(&s, &alice, "GET", "/keypackages/mine", NULL, T_FORGED, &r);
	is_int(r.status, 401, "a forged signature in alice's name: 401");
	ok(srv_log_wait(&s, "GET /keypackages/mine 401 "),
	    "the last request is in the log");
	log = tap_slurp(s.log, &n);
	ok(clean(log, n), "the log holds printable ASCII lines only");
	ok(strstr(log, " GET /a?[31mb????c 404 ") != NULL,
	    "ESC, ^A, DEL and each UTF-8 byte logged as '?'");
	ok(strstr(log, " GET /d?e 404 ") != NULL, "CR logged as '?'");
	ok(strstr(log, " G?T /x 404 ") != NULL, "the method's ESC as '?'");
	is_string(line(log, " GET /keypackages/mine 200 ", "ms "),
	    "alice", "a signed request's line ends with its caller");
	is_string(line(log, " GET /keypackages/mine 401 ", "ms "), "-",
	    "an unauthenticated request's with '-'");
	free(log);

	/* a 413 is counted under its route */
	n = (size_t)snprintf(hdr, sizeof(hdr), "POST /keypackages/upload "
	    "HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nConnection: close"
	    "\r\n\r\n", 2 * 1024 * 1024);
	is_int(ask(&s, hdr, n), 413,
	    "upload announcing 2 MiB (Content-Length): 413");
	n = (size_t)snprintf(hdr, sizeof(hdr), "POST /nothing HTTP/1.1\r\n"
	    "Host: x\r\nContent-Length: %d\r\nConnection: close\r\n\r\n",
	    2 * 1024 * 1024);
	is_int(ask(&s, hdr, n), 413, "an unknown path announcing 2 MiB: 413");
	/* chunked: the size is known only once the body is over the cap */
	fd = sock_open(&s);
	{
		char	buf[4096];

		static const char head[] = "POST /keypackages/reserve "
		    "HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
		    "Connection: close\r\n\r\n";

		sock_send(fd, head, sizeof(head) - 1);
		if ((chunk = malloc(65536 + 16)) == NULL)
			bail("malloc");
		memcpy(chunk, "10000\r\n", 7);
		memset(chunk + 7, ' ', 65536);
		memcpy(chunk + 7 + 65536, "\r\n", 2);
		for (i = 0; i < 17; i++)	/* 17 * 64 KiB > 1 MiB */
			sock_send(fd, chunk, 7 + 65536 + 2);
		sock_send(fd, "0\r\n\r\n", 5);
		free(chunk);
		sock_read(fd, buf, sizeof(buf), 10000);
		is_int(strncmp(buf, "HTTP/1.1 ", 9) == 0 ? atoi(buf + 9) : 0,
		    413, "reserve with 1.06 MiB chunked: 413");
	}
	close(fd);
	raw(&s, &alice, "GET", "/metrics", NULL, T_UNSIGNED, &r);
	ok(strstr(r.body, "kpool_requests_total{route=\"upload\","
	    "code=\"413\"} 1\n") != NULL, "the upload's 413 under upload");
	ok(strstr(r.body, "kpool_requests_total{route=\"reserve\","
	    "code=\"413\"} 1\n") != NULL, "the reserve's 413 under reserve");
	ok(strstr(r.body, "kpool_requests_total{route=\"other\","
	    "code=\"413\"} 1\n") != NULL, "the unknown path's 413 under other");
	ok(strstr(r.body, "kpool_requests_total{route=\"other\","
	    "code=\"404\"} 3\n") != NULL, "the three 404s under other");
	/* --listen longer than the server reads is refused, not cut */
	{
		char	cmd[1536], out[256], *build = getenv("KP_BUILD");
		FILE	*f;
		int	st;

		/* (a server that listens instead is stopped after 10 s) */
		snprintf(cmd, sizeof(cmd), "timeout 10 %s/kpool-server --db '%s' "
		    "--listen 127.0.0.1:%s080 2>&1", build ? build : "build", s.db,
		    "0000000000000000000000000000000000000000000000000000");
		if ((f = popen(cmd, "r")) == NULL)
			bail("popen");
		out[0] = '\0';
		if (fgets(out, sizeof(out), f) == NULL)
			out[0] = '\0';
		st = pclose(f);
		is_int(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 2,
		    "a 65-byte --listen: exit status 2, a bad option");
		ok(strstr(out, "want HOST:PORT") != NULL,
		    "the message says why");
	}
	/*
	 * A second server on a port that is taken fails to start: it must
	 * not share the port (SO_REUSEPORT) and take half the connections.
	 */
	{
		char	cmd[1536], out[256], *build = getenv("KP_BUILD");
		FILE	*f;
		int	st;

		snprintf(cmd, sizeof(cmd), "timeout 10 %s/kpool-server --db "
		    "%s/second.db --listen 127.0.0.1:%d 2>&1",
		    build ? build : "build", s.dir, s.port);
		if ((f = popen(cmd, "r")) == NULL)
			bail("popen");
		/* libmicrohttpd's own line comes first: keep the last */
		out[0] = '\0';
		while (fgets(out, sizeof(out), f) != NULL)
			;
		st = pclose(f);
		is_int(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 1,
		    "a second server on a taken port: exit status 1");
		ok(strstr(out, "cannot listen on 127.0.0.1:") != NULL,
		    "the message names the address");
		is_int(ASK(&s, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"),
		    200, "and the first server still answers");
	}

	is_int(srv_stop(&s), 0, "SIGTERM: a clean exit");

	who_free(&alice);
	return done_testing();
}
