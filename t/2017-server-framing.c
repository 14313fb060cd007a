/* SPDX-License-Identifier: ISC */
/*
 * 2017-server-framing: how a real kpool-server reads HTTP framing, with
 * raw bytes on a socket.  A connection's first request is read by the
 * accept front: duplicate or conflicting Content-Length, a
 * Transfer-Encoding other than exactly chunked, both of them,
 * whitespace before a colon, a malformed request line, a header line
 * without a colon, a folded line, a NUL, HTTP/2 or 0.9, and heads too
 * large are each answered with their status and the JSON error, the
 * connection then closed.  The framing rules hold for later requests
 * of a keep-alive connection too (libmicrohttpd reads those).  What
 * libmicrohttpd still answers itself, as docs/api.md says, is asserted
 * as it is: a later request it cannot parse, and a malformed chunk.
 */

#include "kps_test.h"

static struct srv	s;

/* exchange: send req (len bytes) on a new connection and read what
 * comes back until the server closes it (4 s at most); the reply is in
 * buf, and its length returned. */
static size_t
exchange(const char *req, size_t len, char *buf, size_t cap)
{
	size_t	n;
	int	fd;

	fd = sock_open(&s);
	sock_send(fd, req, len);
	n = sock_read(fd, buf, cap, 4000);
	close(fd);
	return n;
}

/*
 * json: 1 when the reply at r is "HTTP/1.1 status", JSON with the
 * error code, and closes the connection.
 */
static int
json(const char *r, int status, const char *code)
{
	char	want[64];

	snprintf(want, sizeof(want), "{\"error\":\"%s\",\"message\":", code);
	return r != NULL && strncmp(r, "HTTP/1.1 ", 9) == 0 &&
	    atoi(r + 9) == status &&
	    strstr(r, "Content-Type: application/json\r\n") != NULL &&
	    strstr(r, "Connection: close\r\n") != NULL &&
	    strstr(r, want) != NULL;
}

/* first: a bad first request (len bytes): its reply is status with
 * code. */
static void
first_n(const char *req, size_t len, int status, const char *code,
    const char *what)
{
	char	buf[4096];

	exchange(req, len, buf, sizeof(buf));
	ok(json(buf, status, code), "first request, %s: %d %s", what,
	    status, code);
}

#define first(req, ...)	first_n((req), strlen(req), __VA_ARGS__)
#define LIT(s)		(s), sizeof(s) - 1

/* second: a bad request after a good one on the same connection: the
 * second reply is status with code. */
static void
second(const char *req, int status, const char *code, const char *what)
{
	static const char	 good[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n"
				    "\r\n";
	char			 all[8192], buf[4096], *r;

	snprintf(all, sizeof(all), "%s%s", good, req);
	exchange(all, strlen(all), buf, sizeof(buf));
	r = strstr(buf + 1, "HTTP/1.1 ");
	ok(strncmp(buf, "HTTP/1.1 200 ", 13) == 0 && json(r, status, code),
	    "second request, %s: %d %s", what, status, code);
}

#define POST	"POST /keypackages/reserve HTTP/1.1\r\nHost: x\r\n"

int
main(void)
{
	const char *const	 pub[] = { "--public-metrics", "--quiet",
				    NULL };
	char			*big, buf[4096], *r;
	size_t			 n;

	plan(37);
	srv_start(&s, pub);

	/* Content-Length */
	first(POST "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}}", 400,
	    "bad_framing", "two different Content-Length");
	first(POST "Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}", 400,
	    "bad_framing", "two equal Content-Length");
	first(POST "Content-Length: 2, 2\r\n\r\n{}", 400, "bad_framing",
	    "Content-Length: 2, 2");
	first(POST "Content-Length: +2\r\n\r\n{}", 400, "bad_framing",
	    "Content-Length: +2");
	first(POST "Content-Length: 2 \r\n\r\n{}", 400, "bad_framing",
	    "Content-Length with a trailing space");
	first(POST "Content-Length: 99999999999999999999\r\n\r\n", 400,
	    "bad_framing", "Content-Length of 20 digits");
	first(POST "Content-Length: 1048577\r\n\r\n", 413, "too_big",
	    "Content-Length over 1 MiB");
	/* Transfer-Encoding */
	first(POST "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 400,
	    "bad_framing", "Transfer-Encoding: xchunked");
	first(POST "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 400,
	    "bad_framing", "Transfer-Encoding: gzip, chunked");
	first(POST "Transfer-Encoding: chunked\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n0\r\n\r\n", 400, "bad_framing",
	    "two Transfer-Encoding");
	first(POST "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "0\r\n\r\n", 400, "bad_framing",
	    "both Content-Length and Transfer-Encoding");
	first(POST "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400,
	    "bad_framing", "Transfer-Encoding : chunked (space before colon)");
	first(POST "Content-Length\t: 2\r\n\r\n{}", 400, "bad_framing",
	    "a tab before the colon");
	/* heads libmicrohttpd would answer with its HTML, or not at all */
	first("GARBAGE\r\n\r\n", 400, "bad_request", "a request line "
	    "without a space");
	first("GET /healthz\r\nHost: x\r\n\r\n", 400, "bad_request",
	    "a request line without a version");
	first("GET /healthz HTTX/1.1\r\nHost: x\r\n\r\n", 400, "bad_request",
	    "HTTX/1.1");
	first("GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", 505, "http_version",
	    "HTTP/2.0");
	first("GET /healthz HTTP/0.9\r\nHost: x\r\n\r\n", 505, "http_version",
	    "HTTP/0.9");
	first("GET /healthz HTTP/1.1\r\nHost x\r\n\r\n", 400, "bad_request",
	    "a header line without a colon");
	first("GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n", 400,
	    "bad_request", "a folded line");
	first_n(LIT("GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: 1\0002\r\n"
	    "\r\n"), 400, "bad_request", "a NUL in a value");
	if ((big = malloc(40000)) == NULL)
		bail("malloc");
	n = (size_t)snprintf(big, 40000, "GET /healthz HTTP/1.1\r\nX-A: ");
	memset(big + n, 'a', 20000);
	memcpy(big + n + 20000, "\r\n\r\n", 5);
	first(big, 431, "headers_too_large", "header fields of 20 KB");
	memcpy(big, "GET /", 5);
	memset(big + 5, 'a', 20000);
	memcpy(big + 5 + 20000, " HTTP/1.1\r\n\r\n", 14);
	first(big, 414, "uri_too_long", "a target of 20 KB");
	free(big);

	/* good framing passes: to the signature check */
	exchange(LIT(POST "Transfer-Encoding: Chunked\r\nConnection: close"
	    "\r\n\r\n2\r\n{}\r\n0\r\n\r\n"), buf, sizeof(buf));
	ok(strncmp(buf, "HTTP/1.1 401 ", 13) == 0,
	    "Transfer-Encoding: Chunked (any case), a good body: to the "
	    "signature (401)");
	exchange(LIT(POST "Content-Length: 2\r\nConnection: close\r\n\r\n{}"),
	    buf, sizeof(buf));
	ok(strncmp(buf, "HTTP/1.1 401 ", 13) == 0,
	    "one Content-Length: to the signature (401)");

	/* later requests of a keep-alive connection: the same rules */
	second(POST "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}}", 400,
	    "bad_framing", "two different Content-Length");
	second(POST "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 400,
	    "bad_framing", "Transfer-Encoding: xchunked");
	second("GET /healthz HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n",
	    400, "bad_framing", "a GET with Transfer-Encoding: xchunked");
	second(POST "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "0\r\n\r\n", 400, "bad_framing", "both");
	second(POST "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400,
	    "bad_framing", "space before colon");
	second(POST "Content-Length: 1048577\r\n\r\n", 413, "too_big",
	    "Content-Length over 1 MiB");

	is_int(srv_metric(&s, "kpool_connections_refused_total"
	    "{reason=\"framing\"}"), 17, "17 framing refusals counted");
	is_int(srv_metric(&s, "kpool_connections_refused_total"
	    "{reason=\"malformed\"}"), 10, "10 malformed heads counted");

	/*
	 * What libmicrohttpd answers itself (docs/api.md, "Errors the
	 * server does not word"): a later request it cannot parse, and a
	 * malformed chunk, get its own HTML, or nothing.
	 */
	exchange(LIT("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE\r\n\r\n"),
	    buf, sizeof(buf));
	ok(strncmp(buf, "HTTP/1.1 200 ", 13) == 0 &&
	    strstr(buf + 1, "HTTP/1.1 ") == NULL,
	    "documented: a later request line without a space is closed, "
	    "unanswered");
	exchange(LIT("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/2.0"
	    "\r\n\r\n"), buf, sizeof(buf));
	r = strstr(buf + 1, "HTTP/1.1 ");
	ok(r != NULL && atoi(r + 9) == 505 && strstr(r, "<html>") != NULL,
	    "documented: a later HTTP/2.0 gets libmicrohttpd's 505, in HTML");
	exchange(LIT(POST "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0"
	    "\r\n\r\n"), buf, sizeof(buf));
	ok(strncmp(buf, "HTTP/1.1 400 ", 13) == 0 && strstr(buf, "<html>") !=
	    NULL, "documented: a malformed chunk gets libmicrohttpd's 400, "
	    "in HTML");
	is_int(srv_stop(&s), 0, "a clean exit");
	return done_testing();
}
