/* SPDX-License-Identifier: ISC */
/*
 * 4103-fault-framing: the HTTP/1.1 framing of the fault proxy
 * (t/fault/http.c) and the parsers of the fault tools (t/fault/util.c):
 * where a request and a reply end, what is refused (and so tunnelled),
 * each with its bad twins.  Linked with those files alone.
 */

#include <string.h>

#include "tap.h"
#include "fault.h"

static int
req(const char *s, struct req *r)
{
	return req_parse(s, strlen(s), r);
}

static int
rep(const char *s, int head, struct reply *r)
{
	return reply_parse(s, strlen(s), head, r);
}

static ssize_t
chunks(const char *s)
{
	return chunked_len(s, strlen(s));
}

int
main(void)
{
	static const char	 post[] = "POST /keypackages/reserve HTTP/1.1\r\n"
	    "Host: x\r\nContent-Length: 2\r\n\r\n{}";
	static const char	 nul[] = "GET / HTTP/1.1\r\nA: \0\r\n\r\n";
	struct req		 r;
	struct reply		 p;
	char			 big[HEAD_MAX + 64], line[64], *w[4];
	uint64_t		 a, b;
	double			 d;
	size_t			 i;

	plan(62);

	/* requests */
	is_int(req(post, &r), 1, "a POST with a body: framed");
	is_string(r.method, "POST", "its method");
	is_string(r.target, "/keypackages/reserve", "its target");
	is_int((long long)r.headlen, (long long)strlen(post) - 2,
	    "its head ends at the blank line");
	is_int((long long)r.bodylen, 2, "its body is 2 bytes");
	ok(!r.close && !r.head && !r.expect100, "keep-alive, no Expect");
	is_int(req_parse(post, 20, &r), 0, "cut in the request line: more");
	is_int(req_parse(post, strlen(post) - 3, &r), 0,
	    "cut before the blank line: more");
	is_int(req("GET /healthz HTTP/1.1\n\n", &r), 1, "bare LF: framed");
	is_int((long long)r.bodylen, 0, "no Content-Length, no body");
	is_int(req("GET / HTTP/1.0\r\n\r\n", &r), 1, "HTTP/1.0: framed");
	ok(r.close, "HTTP/1.0 without keep-alive closes");
	is_int(req("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &r), 1,
	    "HTTP/1.0 with keep-alive");
	ok(!r.close, "stays open");
	is_int(req("GET / HTTP/1.1\r\nConnection: te, close\r\n\r\n", &r), 1,
	    "Connection: te, close");
	ok(r.close, "closes");
	is_int(req("HEAD /healthz HTTP/1.1\r\n\r\n", &r), 1, "HEAD");
	ok(r.head, "a HEAD's reply has no body");
	is_int(req("POST / HTTP/1.1\r\nExpect: 100-Continue\r\n"
	    "Content-Length: 5\r\n\r\n", &r), 1, "Expect: 100-continue");
	ok(r.expect100, "noted, so that the proxy answers 100 itself");
	is_int(req("POST / HTTP/1.1\r\nContent-Length:  7 \r\n\r\n", &r), 1,
	    "Content-Length with blanks around it");
	is_int((long long)r.bodylen, 7, "is 7");

	/* what the proxy passes through unframed */
	is_int(req("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
	    &r), -1, "chunked: tunnelled");
	is_string(r.method, "POST", "the method is known for the log");
	is_int(req("POST / HTTP/1.1\r\nContent-Length: 2\r\n"
	    "Content-Length: 2\r\n\r\n{}", &r), -1, "two Content-Lengths");
	is_int(req("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", &r), -1,
	    "a negative Content-Length");
	is_int(req("POST / HTTP/1.1\r\nContent-Length: 12345678901234567890"
	    "\r\n\r\n", &r), -1, "20 digits");
	is_int(req("POST / HTTP/1.1\r\nContent-Length: 8388609\r\n\r\n", &r),
	    -1, "a body over 8 MiB");
	is_int(req("GET / HTTP/2.0\r\n\r\n", &r), -1, "HTTP/2.0");
	is_int(req("GET /  HTTP/1.1\r\n\r\n", &r), -1, "two spaces");
	is_int(req("GET / HTTP/1.1\r\nHost : x\r\n\r\n", &r), -1,
	    "a blank before the colon");
	is_int(req("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", &r), -1,
	    "obs-fold");
	is_int(req("GET / HTTP/1.1\r\nno colon\r\n\r\n", &r), -1,
	    "a line without a colon");
	is_int(req_parse(nul, sizeof(nul) - 1, &r), -1, "a NUL");
	is_int(req("\r\nGET / HTTP/1.1\r\n\r\n", &r), -1,
	    "a blank line first");
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /", 5);
	is_int(req_parse(big, sizeof(big), &r), -1, "no end of head in 64 KiB");
	is_string(r.method, "GET", "the method is known");

	/* replies */
	is_int(rep("HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n", 0, &p), 1,
	    "a reply with Content-Length");
	ok(p.status == 200 && p.kind == BODY_LENGTH && p.bodylen == 15 &&
	    !p.close, "200, 15 bytes, keep-alive");
	is_int(rep("HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n", 1, &p), 1,
	    "the same to a HEAD");
	ok(p.kind == BODY_NONE, "has no body");
	is_int(rep("HTTP/1.1 204 No Content\r\n\r\n", 0, &p), 1, "a 204");
	ok(p.kind == BODY_NONE, "has no body");
	is_int(rep("HTTP/1.1 100 Continue\r\n\r\n", 0, &p), 1, "a 100");
	ok(p.status == 100 && p.kind == BODY_NONE, "interim, no body");
	is_int(rep("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n"
	    "\r\n", 0, &p), 1, "chunked last");
	ok(p.kind == BODY_CHUNKED, "is chunked");
	is_int(rep("HTTP/1.0 200 OK\r\n\r\n", 0, &p), 1, "no length");
	ok(p.kind == BODY_EOF && p.close, "ends with the connection");
	is_int(rep("HTTP/1.1 200 OK\r\nConnection: close\r\n"
	    "Content-Length: 0\r\n\r\n", 0, &p), 1, "Connection: close");
	ok(p.close && p.kind == BODY_LENGTH, "closes after its 0 bytes");
	is_int(rep("HTTP/1.1 2x0 OK\r\n\r\n", 0, &p), -1, "a bad status");
	is_int(rep("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
	    "Content-Length: 2\r\n\r\n", 0, &p), -1, "two lengths that differ");

	/* chunked bodies */
	is_int(chunks("5\r\nhello\r\n0\r\n\r\n"), 15, "one chunk and the end");
	is_int(chunks("5;x=y\r\nhello\r\n0\r\nT: v\r\n\r\nNEXT"), 25,
	    "an extension and a trailer; what follows is not counted");
	is_int(chunks("5\r\nhel"), 0, "cut in a chunk: more");
	ok(chunks("5\r\nhelloX\r\n0\r\n\r\n") == -1 && chunks("zz\r\n") == -1 &&
	    chunks("1234567890abcdef0\r\n") == -1,
	    "no CRLF after the data, no hex, 17 hex digits: refused");

	/* the tools' parsers */
	ok(parse_range("5-9", 1, 10, &a, &b) == 0 && a == 5 && b == 9 &&
	    parse_range("7", 1, 10, &a, &b) == 0 && a == 7 && b == 7,
	    "ranges A-B and A");
	ok(parse_range("9-5", 1, 10, &a, &b) == -1 &&
	    parse_range("0-5", 1, 10, &a, &b) == -1 &&
	    parse_range("-5", 1, 10, &a, &b) == -1 &&
	    parse_range("5-", 1, 10, &a, &b) == -1,
	    "backwards, out of range, halves: refused");
	ok(parse_rate("0.05", &d) == 0 && d == 0.05 && parse_rate("1", &d) ==
	    0 && parse_rate("1.01", &d) == -1 && parse_rate("-0", &d) == -1 &&
	    parse_rate("nan", &d) == -1 && parse_rate("", &d) == -1,
	    "rates: 0 to 1 only");
	snprintf(line, sizeof(line), " set  drop-reply\t0.5 ");
	i = (size_t)split_words(line, w, 4);
	ok(i == 3 && strcmp(w[0], "set") == 0 && strcmp(w[2], "0.5") == 0,
	    "words split at blanks");
	snprintf(line, sizeof(line), "a b c d e");
	is_int(split_words(line, w, 4), -1, "more words than room: -1");
	return done_testing();
}
