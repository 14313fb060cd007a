/* SPDX-License-Identifier: ISC */
/*
 * http.c: just enough of HTTP/1.1 (RFC 9112) for the fault proxy to
 * tell where a request and its reply end: the request line, header
 * fields, Content-Length bodies, keep-alive; replies framed by
 * Content-Length, chunked coding or the end of the connection.  What
 * it cannot frame the proxy passes through untouched (a tunnel).
 *
 * Lines end at LF, a CR before it dropped, as RFC 9112 §2.2 lets a
 * recipient do.  Nothing here allocates.
 */

#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "fault.h"

/* head_end: the length of the head at buf (through its blank line), 0
 * when it is not whole yet. */
static size_t
head_end(const char *buf, size_t len)
{
	const char	*nl;
	size_t		 pos = 0;

	while (pos < len && (nl = memchr(buf + pos, '\n', len - pos)) !=
	    NULL) {
		size_t	end = (size_t)(nl - buf);

		if (end > 0 && end == pos + 1 && buf[pos] == '\r')
			return end + 1;
		if (end == pos && pos > 0)
			return end + 1;
		pos = end + 1;
	}
	return 0;
}

static int
is_tchar(int c)
{
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

/* A line of a head: [p, p + len), without its CR LF. */
struct line {
	const char	*p;
	size_t		 len;
};

/* next_line: the line at *pos within a head of hlen bytes. */
static struct line
next_line(const char *buf, size_t hlen, size_t *pos)
{
	struct line	 l;
	const char	*nl = memchr(buf + *pos, '\n', hlen - *pos);
	size_t		 end = nl ? (size_t)(nl - buf) : hlen;

	l.p = buf + *pos;
	l.len = end - *pos;
	if (l.len > 0 && l.p[l.len - 1] == '\r')
		l.len--;
	*pos = end + 1;
	return l;
}

/*
 * field: split a header line into its name and value (leading and
 * trailing blanks dropped); -1 for a folded line, a line without a
 * colon or a name that is not a token.
 */
static int
field(struct line l, struct line *name, struct line *value)
{
	const char	*colon;
	size_t		 i;

	if (l.len == 0 || l.p[0] == ' ' || l.p[0] == '\t' ||
	    (colon = memchr(l.p, ':', l.len)) == NULL || colon == l.p)
		return -1;
	name->p = l.p;
	name->len = (size_t)(colon - l.p);
	for (i = 0; i < name->len; i++)
		if (!is_tchar((unsigned char)name->p[i]))
			return -1;
	value->p = colon + 1;
	value->len = l.len - name->len - 1;
	while (value->len > 0 && (*value->p == ' ' || *value->p == '\t')) {
		value->p++;
		value->len--;
	}
	while (value->len > 0 && (value->p[value->len - 1] == ' ' ||
	    value->p[value->len - 1] == '\t'))
		value->len--;
	return 0;
}

/*
 * next_field: the next header field of a head of hlen bytes at *pos:
 * 1 with its name and value, 0 at the blank line that ends the head,
 * -1 for a line field() refuses.
 */
static int
next_field(const char *buf, size_t hlen, size_t *pos, struct line *name,
    struct line *value)
{
	struct line	l;

	if (*pos >= hlen || (l = next_line(buf, hlen, pos)).len == 0)
		return 0;
	return field(l, name, value) == -1 ? -1 : 1;
}

static int
named(struct line name, const char *s)
{
	return name.len == strlen(s) && strncasecmp(name.p, s, name.len) == 0;
}

/* has_token: the comma-separated list v holds token t (any case). */
static int
has_token(struct line v, const char *t)
{
	size_t	i = 0, j, tl = strlen(t);

	while (i < v.len) {
		while (i < v.len && (v.p[i] == ' ' || v.p[i] == '\t' ||
		    v.p[i] == ','))
			i++;
		j = i;
		while (j < v.len && v.p[j] != ',' && v.p[j] != ' ' &&
		    v.p[j] != '\t')
			j++;
		if (j - i == tl && strncasecmp(v.p + i, t, tl) == 0)
			return 1;
		i = j;
	}
	return 0;
}

/* length: Content-Length, 1 to 19 digits, at most max; -1 if not. */
static int
length(struct line v, size_t max, size_t *out)
{
	uint64_t	n = 0;
	size_t		i;

	if (v.len == 0 || v.len > 19)
		return -1;
	for (i = 0; i < v.len; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return -1;
		n = n * 10 + (uint64_t)(v.p[i] - '0');
	}
	if (n > max)
		return -1;
	*out = (size_t)n;
	return 0;
}

/* copy_printable: the first n bytes of p into dst (cap bytes), each
 * byte outside 0x21 to 0x7e as '?'. */
static void
copy_printable(char *dst, size_t cap, const char *p, size_t n)
{
	size_t	i;

	if (n >= cap)
		n = cap - 1;
	for (i = 0; i < n; i++)
		dst[i] = p[i] > 0x20 && p[i] < 0x7f ? p[i] : '?';
	dst[n] = '\0';
}

/* request_line: METHOD SP TARGET SP HTTP/1.D; fills method, target,
 * *minor; -1 when it is not one. */
static int
request_line(struct line l, struct req *r, int *minor)
{
	const char	*sp1, *sp2;
	size_t		 i, mlen, tlen;

	if ((sp1 = memchr(l.p, ' ', l.len)) == NULL)
		sp1 = l.p + l.len;
	mlen = (size_t)(sp1 - l.p);
	copy_printable(r->method, sizeof(r->method), l.p, mlen);
	if (sp1 == l.p + l.len)
		return -1;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(l.p + l.len - sp1 - 1));
	tlen = (size_t)((sp2 ? sp2 : l.p + l.len) - sp1 - 1);
	copy_printable(r->target, sizeof(r->target), sp1 + 1, tlen);
	if (mlen == 0 || mlen >= sizeof(r->method) || tlen == 0 ||
	    sp2 == NULL)
		return -1;
	for (i = 0; i < mlen; i++)
		if (!is_tchar((unsigned char)l.p[i]))
			return -1;
	for (i = 0; i < tlen; i++)
		if (sp1[1 + i] <= 0x20 || sp1[1 + i] >= 0x7f)
			return -1;
	if ((size_t)(l.p + l.len - sp2 - 1) != 8 ||
	    memcmp(sp2 + 1, "HTTP/1.", 7) != 0 ||
	    sp2[8] < '0' || sp2[8] > '9')
		return -1;
	*minor = sp2[8] - '0';
	return 0;
}

int
req_parse(const char *buf, size_t len, struct req *r)
{
	struct line	 l, name, value;
	size_t		 hlen, pos = 0;
	int		 minor = 1, seen_len = 0, keepalive = 0, f;

	memset(r, 0, sizeof(*r));
	if ((hlen = head_end(buf, len)) == 0) {
		if (len <= HEAD_MAX && memchr(buf, '\0', len) == NULL)
			return 0;
		/* too long or binary: say what it began with, and give up */
		l = next_line(buf, len, &pos);
		(void)request_line(l, r, &minor);
		return -1;
	}
	if (hlen > HEAD_MAX || memchr(buf, '\0', hlen) != NULL)
		return -1;
	l = next_line(buf, hlen, &pos);
	if (request_line(l, r, &minor) == -1)
		return -1;
	r->head = strcmp(r->method, "HEAD") == 0;
	while ((f = next_field(buf, hlen, &pos, &name, &value)) == 1) {
		if (named(name, "Content-Length")) {
			if (seen_len++ || length(value, REQ_BODY_MAX,
			    &r->bodylen) == -1)
				return -1;
		} else if (named(name, "Transfer-Encoding")) {
			return -1;
		} else if (named(name, "Expect")) {
			r->expect100 = value.len == 12 &&
			    strncasecmp(value.p, "100-continue", 12) == 0;
		} else if (named(name, "Connection")) {
			if (has_token(value, "close"))
				r->close = 1;
			if (has_token(value, "keep-alive"))
				keepalive = 1;
		}
	}
	if (f == -1)
		return -1;
	if (minor == 0 && !keepalive)
		r->close = 1;
	r->headlen = hlen;
	return 1;
}

int
reply_parse(const char *buf, size_t len, int head, struct reply *r)
{
	struct line	 l, name, value;
	size_t		 hlen, pos = 0, i;
	int		 seen_len = 0, chunked = 0, coded = 0, minor, f;

	memset(r, 0, sizeof(*r));
	if ((hlen = head_end(buf, len)) == 0)
		return len > HEAD_MAX ? -1 : 0;
	if (hlen > HEAD_MAX)
		return -1;
	l = next_line(buf, hlen, &pos);
	if (l.len < 12 || memcmp(l.p, "HTTP/1.", 7) != 0 ||
	    !isdigit((unsigned char)l.p[7]) || l.p[8] != ' ' ||
	    (l.len > 12 && l.p[12] != ' '))
		return -1;
	minor = l.p[7] - '0';
	for (i = 9; i < 12; i++) {
		if (!isdigit((unsigned char)l.p[i]))
			return -1;
		r->status = r->status * 10 + (l.p[i] - '0');
	}
	if (minor == 0)
		r->close = 1;
	while ((f = next_field(buf, hlen, &pos, &name, &value)) == 1) {
		if (named(name, "Content-Length")) {
			size_t	n;

			if (length(value, REPLY_MAX, &n) == -1 ||
			    (seen_len++ && n != r->bodylen))
				return -1;
			r->bodylen = n;
		} else if (named(name, "Transfer-Encoding")) {
			coded = 1;
			/* chunked when it is the last coding */
			chunked = value.len >= 7 && strncasecmp(value.p +
			    value.len - 7, "chunked", 7) == 0 &&
			    (value.len == 7 || value.p[value.len - 8] == ' ' ||
			    value.p[value.len - 8] == ',');
		} else if (named(name, "Connection")) {
			if (has_token(value, "close"))
				r->close = 1;
		}
	}
	if (f == -1)
		return -1;
	r->headlen = hlen;
	if (head || (r->status >= 100 && r->status < 200) ||
	    r->status == 204 || r->status == 304) {
		r->kind = BODY_NONE;
		r->bodylen = 0;
	} else if (chunked) {
		r->kind = BODY_CHUNKED;
	} else if (coded || !seen_len) {
		r->kind = BODY_EOF;
		r->close = 1;
	} else
		r->kind = BODY_LENGTH;
	return 1;
}

ssize_t
chunked_len(const char *buf, size_t len)
{
	const char	*nl;
	size_t		 pos = 0, size, i;

	for (;;) {
		if ((nl = memchr(buf + pos, '\n', len - pos)) == NULL)
			return len - pos > 4096 ? -1 : 0;
		size = 0;
		for (i = pos; i < (size_t)(nl - buf) &&
		    isxdigit((unsigned char)buf[i]); i++) {
			if (i - pos == 15)
				return -1;
			size = size * 16 + (size_t)(isdigit((unsigned char)
			    buf[i]) ? buf[i] - '0' :
			    tolower((unsigned char)buf[i]) - 'a' + 10);
		}
		if (i == pos || (buf[i] != ';' && buf[i] != ' ' &&
		    buf[i] != '\t' && buf[i] != '\r' && buf[i] != '\n'))
			return -1;
		pos = (size_t)(nl - buf) + 1;
		if (size == 0)
			break;
		if (size > REPLY_MAX)
			return -1;
		if (len - pos < size + 1)
			return 0;
		pos += size;
		if (buf[pos] == '\r') {
			if (len - pos < 2)
				return 0;
			pos++;
		}
		if (buf[pos] != '\n')
			return -1;
		pos++;
	}
	/* the trailer section, then a blank line */
	for (;;) {
		if ((nl = memchr(buf + pos, '\n', len - pos)) == NULL)
			return len - pos > HEAD_MAX ? -1 : 0;
		i = (size_t)(nl - buf);
		if (i == pos || (i == pos + 1 && buf[pos] == '\r'))
			return (ssize_t)(i + 1);
		pos = i + 1;
	}
}
