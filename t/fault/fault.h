/* SPDX-License-Identifier: ISC */
/*
 * fault.h: the parts of faultproxy and faultcrash that are not the
 * driver's business: a growable byte buffer, socket I/O with deadlines,
 * HTTP/1.1 framing (http.c) and the server side of a control socket
 * (util.c).  The generator and the control client are in ctl.h.
 */
#ifndef FAULT_H
#define FAULT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ctl.h"

/* A byte buffer; p is NUL-terminated past len when cap > len. */
struct hbuf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

/* hbuf_append: add n bytes; -1 (ENOMEM) when they do not fit max. */
int	hbuf_append(struct hbuf *b, const void *p, size_t n, size_t max);
/* hbuf_consume: drop the first n bytes (n <= len). */
void	hbuf_consume(struct hbuf *b, size_t n);
void	hbuf_free(struct hbuf *b);

/* now_ms: CLOCK_MONOTONIC in milliseconds. */
int64_t	now_ms(void);
/* left_ms: the milliseconds until deadline (0 when past; -1 when the
 * deadline is -1, meaning none), for poll(2). */
int	left_ms(int64_t deadline);

/*
 * io_fill: read what fd has into b (bounded by max), waiting until
 * deadline (-1: for ever), or until *stop is set when stop is not NULL
 * (looked at every 100 ms).  Returns the bytes read, 0 at end of file,
 * -1 on error (errno), -2 at the deadline or on stop.
 */
ssize_t	io_fill(int fd, struct hbuf *b, size_t max, int64_t deadline,
	    const atomic_int *stop);
/* io_send: write all of p to fd (MSG_NOSIGNAL) by deadline; 0 or -1. */
int	io_send(int fd, const void *p, size_t len, int64_t deadline);

/* tcp_connect: a connected TCP socket to sa, waiting until deadline;
 * -1 with errno (ECONNREFUSED, ETIMEDOUT, ...). */
int	tcp_connect(const struct sockaddr *sa, socklen_t salen,
	    int64_t deadline);
/*
 * tcp_resolve: parse "host:port" (numeric port; host a name, an IPv4
 * address or a bracketed IPv6 one) into *ss; 0, or -1 with a message
 * in err (errlen bytes).
 */
int	tcp_resolve(const char *hostport, int passive,
	    struct sockaddr_storage *ss, socklen_t *len, char *err,
	    size_t errlen);
/* tcp_listen: bind and listen on *ss; the fd, its port in *port. */
int	tcp_listen(const struct sockaddr_storage *ss, socklen_t len,
	    int *port);
/* abort_close: close fd with a reset (SO_LINGER 0). */
void	abort_close(int fd);

/* unix_listen: listen on a Unix socket at path (replaced if it is a
 * socket); the fd or -1 (errno). */
int	unix_listen(const char *path);

/* parse_u64: a decimal in [lo, hi] into *v; 0 or -1. */
int	parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *v);
/* parse_rate: a probability in [0, 1] ("0.05", "1", "5e-2"); 0 or -1. */
int	parse_rate(const char *s, double *v);
/* parse_range: "A-B" or "A" (then B = A) of decimals in [lo, hi], A <=
 * B; 0 or -1. */
int	parse_range(const char *s, uint64_t lo, uint64_t hi, uint64_t *a,
	    uint64_t *b);
/* split_words: split line in place at spaces into words (w, max of
 * them); the count, or -1 when there are more than max. */
int	split_words(char *line, char **w, int max);

/*
 * HTTP/1.1 framing (http.c).  A message is read whole into a buffer
 * before anything is done with it; these find where it ends.
 */
#define HEAD_MAX	(64 * 1024)		/* a request or reply head */
#define REQ_BODY_MAX	(8 * 1024 * 1024)	/* a request body */
#define REPLY_MAX	(32 * 1024 * 1024)	/* a whole reply */

struct req {
	char	method[16];
	char	target[256];	/* the request target, for the log: cut
				   short, unprintable bytes as '?' */
	size_t	headlen;	/* bytes of the head, its blank line too */
	size_t	bodylen;	/* Content-Length, 0 without one */
	int	expect100;	/* Expect: 100-continue */
	int	close;		/* Connection: close, or HTTP/1.0 without
				   keep-alive */
	int	head;		/* HEAD: the reply has no body */
};

enum body_kind { BODY_NONE, BODY_LENGTH, BODY_CHUNKED, BODY_EOF };

struct reply {
	int		status;
	size_t		headlen;
	enum body_kind	kind;
	size_t		bodylen;	/* BODY_LENGTH */
	int		close;		/* Connection: close, HTTP/1.0, or
					   a body that ends at EOF */
};

/*
 * req_parse: the head of a request at buf (len bytes so far).  1 when
 * the head is whole and framed (r filled), 0 when more bytes are
 * needed, -1 when the proxy cannot frame it (a malformed head, a
 * Transfer-Encoding, two or a malformed Content-Length, a body over
 * REQ_BODY_MAX, a head over HEAD_MAX): r->method and r->target then
 * hold what could be read.
 */
int	req_parse(const char *buf, size_t len, struct req *r);
/*
 * reply_parse: the head of a reply at buf (len bytes), to a HEAD
 * request when head; 1, 0 or -1 as req_parse.
 */
int	reply_parse(const char *buf, size_t len, int head, struct reply *r);
/*
 * chunked_len: the length of a chunked body (trailer and last blank
 * line included) at buf: > 0 when it is whole, 0 when more is needed,
 * -1 when malformed.
 */
ssize_t	chunked_len(const char *buf, size_t len);

#endif /* FAULT_H */
