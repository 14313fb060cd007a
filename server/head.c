/* SPDX-License-Identifier: ISC */
/*
 * head.c: the checks of a request's head (RFC 9112), for the two places
 * that see one: the accept front reads the head of a connection's first
 * request before libmicrohttpd does (conn.c), and http.c sees the
 * header fields libmicrohttpd parsed of every request.  Both refuse
 * framing that a proxy in front could read another way:
 *
 *	- more than one Content-Length, even equal ones;
 *	- a Content-Length that is not 1 to 19 digits;
 *	- a Transfer-Encoding other than exactly "chunked" (any case),
 *	  or more than one;
 *	- both Content-Length and Transfer-Encoding;
 *	- a field name that is not a token (whitespace before the colon).
 *
 * The front also refuses what libmicrohttpd 0.9.75 would answer with
 * its own HTML (or not at all): a request line it cannot split, an
 * HTTP version other than 1.x (505), a header line without a colon, a
 * folded line (obs-fold), a NUL byte, and a head over the front's cap
 * (414 for the request line, 431 for the fields).  It accepts any
 * other byte in the method and target, as libmicrohttpd does.
 */

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "kps.h"

/* tchar of RFC 9110 §5.6.2 */
static int
tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || (c != '\0' &&
	    strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* refuse: fill f with a refusal (the first one stays); returns 0. */
static int
refuse(struct kps_framing *f, int status, const char *code,
    const char *reason, const char *message)
{
	if (f->status == 0) {
		f->status = status;
		f->code = code;
		f->reason = reason;
		f->message = message;
	}
	return 0;
}

int
kps_framing_field(struct kps_framing *f, const char *name, size_t nlen,
    const char *value, size_t vlen)
{
	size_t		i;
	uint64_t	v = 0;

	if (nlen == 0)
		return refuse(f, 400, "bad_framing", "framing",
		    "a header field has an empty name");
	for (i = 0; i < nlen; i++)
		if (!tchar((unsigned char)name[i]))
			return refuse(f, 400, "bad_framing", "framing",
			    name[i] == ' ' || name[i] == '\t' ?
			    "whitespace before a header field's colon" :
			    "a header field name is not a token");
	if (nlen == 14 && strncasecmp(name, "Content-Length", 14) == 0) {
		if (++f->ncl > 1)
			return refuse(f, 400, "bad_framing", "framing",
			    "more than one Content-Length");
		if (vlen == 0 || vlen > 19)
			return refuse(f, 400, "bad_framing", "framing",
			    "Content-Length is not 1 to 19 digits");
		for (i = 0; i < vlen; i++) {
			if (value[i] < '0' || value[i] > '9')
				return refuse(f, 400, "bad_framing", "framing",
				    "Content-Length is not 1 to 19 digits");
			v = v * 10 + (uint64_t)(value[i] - '0');
		}
		f->length = v;
	} else if (nlen == 17 &&
	    strncasecmp(name, "Transfer-Encoding", 17) == 0) {
		if (++f->nte > 1)
			return refuse(f, 400, "bad_framing", "framing",
			    "more than one Transfer-Encoding");
		if (vlen != 7 || strncasecmp(value, "chunked", 7) != 0)
			return refuse(f, 400, "bad_framing", "framing",
			    "Transfer-Encoding is not exactly chunked");
	}
	return 1;
}

int
kps_framing_end(struct kps_framing *f)
{
	if (f->status == 0 && f->ncl > 0 && f->nte > 0)
		refuse(f, 400, "bad_framing", "framing", "both "
		    "Content-Length and Transfer-Encoding");
	if (f->status == 0 && f->ncl > 0 && f->length > KPS_MAX_BODY)
		refuse(f, 413, "too_big", NULL, "the body is larger than "
		    "1048576 bytes");
	return f->status;
}

/* line: the end of the line at p (its LF), or NULL when none in len. */
static const char *
line(const char *p, size_t len)
{
	return memchr(p, '\n', len);
}

/* version: 0 when v (n bytes) is HTTP/1.x, else the refusal's status. */
static int
version(const char *v, size_t n)
{
	if (n != 8 || strncmp(v, "HTTP/", 5) != 0 || v[6] != '.' ||
	    v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9')
		return 400;
	return v[5] == '1' ? 0 : 505;
}

/* request_line: check the request line p (n bytes, no line end) as
 * libmicrohttpd splits it; 1, or 0 with the refusal in h->f. */
static int
request_line(struct kps_head *h, const char *p, size_t n)
{
	const char	*sp, *v, *t;
	size_t		 m;

	if ((sp = memchr(p, ' ', n)) == NULL || sp == p)
		return refuse(&h->f, 400, "bad_request", "malformed",
		    "the request line is not METHOD TARGET HTTP/1.1");
	m = (size_t)(sp - p);
	memcpy(h->method, p, m < sizeof(h->method) ? m : sizeof(h->method) -
	    1);
	h->method[m < sizeof(h->method) ? m : sizeof(h->method) - 1] = '\0';
	for (t = sp; t < p + n && *t == ' '; t++)
		;
	for (v = p + n; v > t && v[-1] == ' '; v--)
		;
	m = (size_t)(v - p);	/* the line without its trailing spaces */
	for (v = p + m; v > t && v[-1] != ' '; v--)
		;
	if (v == t)
		return refuse(&h->f, 400, "bad_request", "malformed",
		    "the request line has no HTTP version");
	switch (version(v, (size_t)(p + m - v))) {
	case 400:
		return refuse(&h->f, 400, "bad_request", "malformed",
		    "the request line's version is not HTTP/1.x");
	case 505:
		return refuse(&h->f, 505, "http_version", "malformed",
		    "this server speaks HTTP/1.1 (and 1.0)");
	}
	m = (size_t)(v - 1 - t);
	while (m > 0 && t[m - 1] == ' ')
		m--;
	memcpy(h->target, t, m < sizeof(h->target) ? m : sizeof(h->target) -
	    1);
	h->target[m < sizeof(h->target) ? m : sizeof(h->target) - 1] = '\0';
	return 1;
}

/* field: check the header line p (n bytes, no line end); 1, or 0 with
 * the refusal in h->f. */
static int
field(struct kps_head *h, const char *p, size_t n)
{
	const char	*colon, *v;

	if (*p == ' ' || *p == '\t')
		return refuse(&h->f, 400, "bad_request", "malformed",
		    "a folded header line (obs-fold)");
	if ((colon = memchr(p, ':', n)) == NULL)
		return refuse(&h->f, 400, "bad_request", "malformed",
		    "a header line without a colon");
	for (v = colon + 1; v < p + n && (*v == ' ' || *v == '\t'); v++)
		;
	return kps_framing_field(&h->f, p, (size_t)(colon - p), v,
	    (size_t)(p + n - v));
}

int
kps_head_parse(const char *buf, size_t len, size_t cap, struct kps_head *h)
{
	const char	*p = buf, *e, *end = buf + len;
	size_t		 n;

	memset(h, 0, sizeof(*h));
	if (memchr(buf, '\0', len) != NULL) {
		refuse(&h->f, 400, "bad_request", "malformed",
		    "a NUL byte in the request's head");
		return KPS_HEAD_DONE;
	}
	/* empty lines before the request line are skipped */
	while (p < end && (*p == '\n' || (*p == '\r' && p + 1 < end &&
	    p[1] == '\n')))
		p += *p == '\n' ? 1 : 2;
	for (; p < end; p = e + 1) {
		if ((e = line(p, (size_t)(end - p))) == NULL)
			break;
		n = (size_t)(e - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (!h->line) {
			h->line = 1;
			if (!request_line(h, p, n))
				return KPS_HEAD_DONE;
			continue;
		}
		if (n == 0) {
			h->len = (size_t)(e + 1 - buf);
			kps_framing_end(&h->f);
			return KPS_HEAD_DONE;
		}
		if (!field(h, p, n))
			return KPS_HEAD_DONE;
	}
	if (len < cap)
		return KPS_HEAD_MORE;
	if (!h->line)
		refuse(&h->f, 414, "uri_too_long", "malformed",
		    "the request line is too long");
	else
		refuse(&h->f, 431, "headers_too_large", "malformed",
		    "the request's header fields are too large");
	return KPS_HEAD_DONE;
}
