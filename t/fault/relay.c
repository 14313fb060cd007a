/* SPDX-License-Identifier: ISC */
/*
 * relay.c: one client connection of faultproxy, on a thread of its
 * own.  It has one upstream connection, opened when the client's is
 * accepted (a client of a server that is down is reset at once), and
 * reads each request whole before it numbers it, draws its fault and
 * applies it; replies are read whole too.  A connection the server
 * closes between requests is closed to the client as well, so that
 * keep-alive looks as it does without the proxy.
 */

#include <sys/socket.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proxy.h"

enum { SLOT_CLIENT, SLOT_UP, SLOT_DUP };

#define CIN_MAX	(2 * HEAD_MAX + REQ_BODY_MAX)

struct conn {
	struct peer	 peer;	/* fd[SLOT_*]; also c->cfd, c->ufd */
	uint64_t	 id;
	int		 cfd;	/* -1 once closed; only this thread */
	int		 ufd;
	struct hbuf	 cin;	/* from the client, not handled yet */
	struct hbuf	 uin;	/* from upstream, not relayed yet */
};

/* How a request ended, for its log line. */
struct outcome {
	char		 param[48];
	char		 up[32];
	const char	*client;
	char		 note[48];
	int		 reset;		/* close the client with a reset */
};

enum rr { RR_OK, RR_EOF, RR_TIMEOUT, RR_ERROR };

static void
close_client(struct conn *c, int reset)
{
	peer_close(&c->peer, SLOT_CLIENT, reset);
	c->cfd = -1;
}

static void
close_upstream(struct conn *c)
{
	peer_close(&c->peer, SLOT_UP, 0);
	c->ufd = -1;
	hbuf_consume(&c->uin, c->uin.len);
}

/* pause_ms: sleep ms, or until stop. */
static void
pause_ms(uint64_t ms)
{
	int64_t	deadline = now_ms() + (int64_t)ms;
	int	t;

	while ((t = left_ms(deadline)) > 0 && !atomic_load(&px_stop))
		poll(NULL, 0, t > 100 ? 100 : t);
}

/* upstream_idle: the server closed (or spoke) between requests: pass on
 * what it said; the caller then closes both sides. */
static void
upstream_idle(struct conn *c)
{
	ssize_t	n;

	while ((n = io_fill(c->ufd, &c->uin, REPLY_MAX, now_ms() + 100,
	    NULL)) > 0)
		;
	if (c->uin.len > 0)
		(void)io_send(c->cfd, c->uin.p, c->uin.len,
		    now_ms() + px.client_ms);
	log_line("# conn %" PRIu64 ": closed by the upstream between "
	    "requests", c->id);
}

/*
 * read_request: wait for the client's next request and read it whole
 * into c->cin.  1 when it is there (*r frames it), -1 when it cannot be
 * framed (tunnel it), 0 when the connection ends: the client closed, the
 * upstream closed while idle, the request did not arrive whole within
 * client_ms, or stop.
 */
static int
read_request(struct conn *c, struct req *r)
{
	static const char	 cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	struct pollfd		 pfd[2];
	int64_t			 deadline = -1;
	ssize_t			 got;
	int			 pr, sent100 = 0, n, t, idle;

	for (;;) {
		if (c->cin.len > 0) {
			if (deadline == -1)
				deadline = now_ms() + px.client_ms;
			if ((pr = req_parse(c->cin.p, c->cin.len, r)) == -1)
				return -1;
			if (pr == 1 && c->cin.len >= r->headlen + r->bodylen)
				return 1;
			if (pr == 1 && r->expect100 && !sent100) {
				if (io_send(c->cfd, cont, sizeof(cont) - 1,
				    deadline) == -1)
					return 0;
				sent100 = 1;
			}
		}
		if (atomic_load(&px_stop))
			return 0;
		idle = c->cin.len == 0 && c->ufd != -1;
		pfd[0].fd = c->cfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = c->ufd;
		pfd[1].events = POLLIN;
		t = left_ms(deadline);
		if ((n = poll(pfd, idle ? 2 : 1, t < 0 || t > 100 ? 100 : t)) ==
		    -1) {
			if (errno == EINTR)
				continue;
			return 0;
		}
		if (n == 0) {
			if (deadline != -1 && left_ms(deadline) == 0)
				return 0;
			continue;
		}
		if (idle && pfd[1].revents != 0) {
			upstream_idle(c);
			return 0;
		}
		if ((got = io_fill(c->cfd, &c->cin, CIN_MAX, now_ms(),
		    NULL)) == 0 || got == -1)
			return 0;
	}
}

/* ensure_upstream: a live upstream connection: the one there is, unless
 * the server closed it while the request was held; 0 or -1 (errno). */
static int
ensure_upstream(struct conn *c)
{
	struct pollfd	pfd;
	int		fd;

	if (c->ufd != -1) {
		pfd.fd = c->ufd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 0) == 1)
			close_upstream(c);
	}
	if (c->ufd != -1)
		return 0;
	if ((fd = tcp_connect((struct sockaddr *)&px.up, px.uplen,
	    now_ms() + px.upstream_ms)) == -1)
		return -1;
	peer_set(&c->peer, SLOT_UP, fd);
	c->ufd = fd;
	return 0;
}

/* note_passed: request seq went through: forwarded, and its reply came
 * (or the upstream failed it); what a reorder hold waits for. */
static void
note_passed(uint64_t seq)
{
	pthread_mutex_lock(&px.mu);
	px.passed_seq[px.passed % 256] = seq;
	px.passed++;
	pthread_cond_broadcast(&px.cv);
	pthread_mutex_unlock(&px.mu);
}

/*
 * read_reply: read one reply (to a HEAD request when head) from fd into
 * b, by wait_ms; interim 1xx replies are dropped.  RR_OK with its
 * length in *total, or RR_EOF (b may hold part of it), RR_TIMEOUT,
 * RR_ERROR.  A reply the proxy cannot frame is taken to end with the
 * connection (status 0).
 */
static enum rr
read_reply(int fd, struct hbuf *b, int head, int64_t wait_ms,
    struct reply *rep, size_t *total)
{
	int64_t	deadline = now_ms() + wait_ms;
	ssize_t	n, cl;
	int	pr;

	for (;;) {
		pr = b->len > 0 ? reply_parse(b->p, b->len, head, rep) : 0;
		if (pr == -1) {
			memset(rep, 0, sizeof(*rep));
			rep->kind = BODY_EOF;
			rep->close = 1;
		}
		if (pr == 1 && rep->status >= 100 && rep->status < 200 &&
		    rep->status != 101) {
			hbuf_consume(b, rep->headlen);
			continue;
		}
		if (pr != 0 && rep->kind == BODY_NONE) {
			*total = rep->headlen;
			return RR_OK;
		}
		if (pr != 0 && rep->kind == BODY_LENGTH &&
		    b->len >= rep->headlen + rep->bodylen) {
			*total = rep->headlen + rep->bodylen;
			return RR_OK;
		}
		if (pr != 0 && rep->kind == BODY_CHUNKED) {
			cl = chunked_len(b->p + rep->headlen,
			    b->len - rep->headlen);
			if (cl > 0) {
				*total = rep->headlen + (size_t)cl;
				return RR_OK;
			}
			if (cl == -1) {
				rep->kind = BODY_EOF;
				rep->close = 1;
			}
		}
		n = io_fill(fd, b, REPLY_MAX, deadline, &px_stop);
		if (n == 0 || (n == -1 && (errno == ECONNRESET ||
		    errno == EPIPE))) {
			if (pr != 0 && rep->kind == BODY_EOF) {
				*total = b->len;
				return RR_OK;
			}
			return RR_EOF;
		}
		if (n == -2)
			return RR_TIMEOUT;
		if (n == -1)
			return RR_ERROR;
	}
}

/* up_str: what the upstream answered, for the log. */
static void
up_str(enum rr rr, const struct reply *rep, char *buf, size_t len)
{
	static const char *const what[] = { "", "eof", "timeout", "error" };

	if (rr != RR_OK)
		snprintf(buf, len, "%s", what[rr]);
	else if (rep->status == 0)
		snprintf(buf, len, "unframed");
	else
		snprintf(buf, len, "%d", rep->status);
}

/*
 * exchange: forward the request (msg, len) on the client's upstream
 * connection and read its reply into c->uin.
 */
static enum rr
exchange(struct conn *c, uint64_t seq, const char *msg, size_t len,
    int head, struct reply *rep, size_t *total, struct outcome *o)
{
	enum rr	rr;

	if (ensure_upstream(c) == -1) {
		snprintf(o->up, sizeof(o->up), "refused");
		o->reset = 1;
		return RR_ERROR;
	}
	/* a failed send may still have an answer (a 413 before the body) */
	(void)io_send(c->ufd, msg, len, now_ms() + px.upstream_ms);
	rr = read_reply(c->ufd, &c->uin, head, px.upstream_ms, rep, total);
	note_passed(seq);
	up_str(rr, rep, o->up, sizeof(o->up));
	return rr;
}

/* again: send the request once more, on a connection of its own, and
 * read that reply into b. */
static enum rr
again(struct conn *c, const char *msg, size_t len, int head,
    struct hbuf *b, struct reply *rep, size_t *total, char *up, size_t ulen)
{
	enum rr	rr = RR_ERROR;
	int	fd;

	if ((fd = tcp_connect((struct sockaddr *)&px.up, px.uplen,
	    now_ms() + px.upstream_ms)) == -1) {
		snprintf(up, ulen, "refused");
		return RR_ERROR;
	}
	peer_set(&c->peer, SLOT_DUP, fd);
	(void)io_send(fd, msg, len, now_ms() + px.upstream_ms);
	rr = read_reply(fd, b, head, px.upstream_ms, rep, total);
	up_str(rr, rep, up, ulen);
	peer_close(&c->peer, SLOT_DUP, 0);
	return rr;
}

/* hang: hold the client for ms, or until it leaves (then 1) or stop. */
static int
hang(struct conn *c, uint64_t ms)
{
	struct pollfd	pfd;
	int64_t		deadline = now_ms() + (int64_t)ms;
	int		t;

	while ((t = left_ms(deadline)) > 0 && !atomic_load(&px_stop)) {
		pfd.fd = c->cfd;
		pfd.events = POLLRDHUP;
		if (poll(&pfd, 1, t > 100 ? 100 : t) == 1 &&
		    (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)))
			return 1;
	}
	return 0;
}

/* hold: wait until a request of another connection has gone through
 * (see note_passed), or window ms. */
static void
hold(uint64_t window, struct outcome *o)
{
	struct timespec	ts;
	uint64_t	start;
	int64_t		deadline = now_ms() + (int64_t)window;
	int		t;

	pthread_mutex_lock(&px.mu);
	start = px.passed;
	while (px.passed == start && !atomic_load(&px_stop) &&
	    (t = left_ms(deadline)) > 0) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += t / 1000;
		ts.tv_nsec += (long)(t % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&px.cv, &px.mu, &ts);
	}
	if (px.passed > start)
		snprintf(o->note, sizeof(o->note), "passed-by=%" PRIu64,
		    px.passed_seq[start % 256]);
	else
		snprintf(o->note, sizeof(o->note), "alone");
	pthread_mutex_unlock(&px.mu);
}

/*
 * cut: forward all of the head and part of the body (or, without a
 * body, part of the head), close the client, end the upstream's input,
 * and wait cut_wait_ms for what the server says, for the log.
 */
static void
cut(struct conn *c, const struct req *rq, const struct decision *d,
    struct outcome *o)
{
	struct reply	rep;
	size_t		len = rq->headlen + rq->bodylen, k, total;
	enum rr		rr;

	if (rq->bodylen > 0)
		k = rq->headlen + (size_t)(d->x % rq->bodylen);
	else
		k = 1 + (size_t)(d->x % (rq->headlen - 1));
	snprintf(o->param, sizeof(o->param), "at=%zu/%zu", k, len);
	o->client = "closed";
	if (ensure_upstream(c) == -1) {
		snprintf(o->up, sizeof(o->up), "refused");
		o->client = "reset";
		o->reset = 1;
		return;
	}
	close_client(c, 0);
	if (io_send(c->ufd, c->cin.p, k, now_ms() + px.upstream_ms) == -1) {
		snprintf(o->up, sizeof(o->up), "error");
		return;
	}
	shutdown(c->ufd, SHUT_WR);
	rr = read_reply(c->ufd, &c->uin, rq->head, px.cut_wait_ms, &rep,
	    &total);
	up_str(rr, &rep, o->up, sizeof(o->up));
}

/*
 * apply: carry out request rq (whole at the head of c->cin), numbered
 * seq, under fault d.  Returns 1 when the connection must end after it.
 */
static int
apply(struct conn *c, const struct req *rq, uint64_t seq,
    const struct decision *d, struct outcome *o)
{
	struct hbuf	 b2 = { NULL, 0, 0 };
	struct reply	 rep, rep2;
	const char	*msg = c->cin.p, *out;
	size_t		 len = rq->headlen + rq->bodylen, total = 0, total2 = 0;
	enum rr		 rr, rr2 = RR_ERROR;
	char		 up2[32];
	int		 quit = 0;

	param_str(d, o->param, sizeof(o->param));
	switch (d->kind) {
	case K_DROP_REQUEST:
		o->client = "closed";
		return 1;
	case K_HANG_REQUEST:
		o->client = hang(c, d->param) ? "gone" : "hung";
		return 1;
	case K_CUT:
		cut(c, rq, d, o);
		return 1;
	case K_DELAY_REQUEST:
		pause_ms(d->param);
		break;
	case K_REORDER:
		hold(d->param, o);
		break;
	default:
		break;
	}
	rr = exchange(c, seq, msg, len, rq->head, &rep, &total, o);
	if (d->kind == K_DUPLICATE) {
		rr2 = again(c, msg, len, rq->head, &b2, &rep2, &total2,
		    up2, sizeof(up2));
		snprintf(o->up + strlen(o->up), sizeof(o->up) - strlen(o->up),
		    "+%s", up2);
	}
	if (d->kind == K_DUPLICATE && d->param == 1) {
		/* the first reply is dropped; a late one must not linger */
		if (rr == RR_OK)
			hbuf_consume(&c->uin, total);
		else
			close_upstream(c);
		rr = rr2;
		rep = rep2;
		total = total2;
		out = b2.p;
	} else
		out = c->uin.p;
	if (rr != RR_OK) {
		/* what came of a reply cut short is passed on, as it would */
		if (rr == RR_EOF && out == c->uin.p && c->uin.len > 0)
			(void)io_send(c->cfd, c->uin.p, c->uin.len,
			    now_ms() + px.client_ms);
		o->client = o->reset ? "reset" : "closed";
		quit = 1;
		goto out;
	}
	if (d->kind == K_DROP_REPLY) {
		o->client = "closed";
		quit = 1;
		goto out;
	}
	if (d->kind == K_DELAY_REPLY)
		pause_ms(d->param);
	if (io_send(c->cfd, out, total, now_ms() + px.client_ms) == -1) {
		o->client = "gone";
		quit = 1;
		goto out;
	}
	o->client = "sent";
	quit = rep.close || rq->close;
	if (out == c->uin.p)
		hbuf_consume(&c->uin, total);
out:
	hbuf_free(&b2);
	return quit;
}

/*
 * tunnel: pass the connection through as it is, both ways, until it
 * ends; o->up gets the status of the first reply when it looks like
 * one.
 */
static void
tunnel(struct conn *c, struct outcome *o)
{
	struct pollfd	pfd[2];
	struct hbuf	b = { NULL, 0, 0 };
	int		from_client = 1, n, i;
	ssize_t		got;

	o->client = "tunnel";
	if (ensure_upstream(c) == -1) {
		snprintf(o->up, sizeof(o->up), "refused");
		o->reset = 1;
		return;
	}
	if (io_send(c->ufd, c->cin.p, c->cin.len, now_ms() +
	    px.upstream_ms) == -1)
		return;
	hbuf_consume(&c->cin, c->cin.len);
	while (!atomic_load(&px_stop)) {
		pfd[0].fd = from_client ? c->cfd : -1;
		pfd[0].events = POLLIN;
		pfd[1].fd = c->ufd;
		pfd[1].events = POLLIN;
		if ((n = poll(pfd, 2, (int)px.client_ms)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			break;
		}
		for (i = 0; i < 2; i++) {
			if (pfd[i].revents == 0)
				continue;
			got = io_fill(pfd[i].fd, &b, REPLY_MAX, now_ms(), NULL);
			if (got == -2)
				continue;
			if (got <= 0 && i == 0) {
				/* the client is done sending: so are we */
				shutdown(c->ufd, SHUT_WR);
				from_client = 0;
				continue;
			}
			if (got <= 0)
				goto out;
			if (i == 1 && strcmp(o->up, "-") == 0 &&
			    b.len >= 12 && memcmp(b.p, "HTTP/1.", 7) == 0)
				snprintf(o->up, sizeof(o->up), "%.3s", b.p + 9);
			if (io_send(i == 0 ? c->ufd : c->cfd, b.p, b.len,
			    now_ms() + px.client_ms) == -1)
				goto out;
			hbuf_consume(&b, b.len);
		}
	}
out:
	hbuf_free(&b);
}

static void *
conn_main(void *arg)
{
	struct conn	*c = arg;
	struct req	 rq;
	struct decision	 d;
	struct outcome	 o;
	uint64_t	 seq;
	int		 r, quit = 0, fd;

	if ((fd = tcp_connect((struct sockaddr *)&px.up, px.uplen,
	    now_ms() + px.upstream_ms)) == -1) {
		log_line("# conn %" PRIu64 ": upstream: %s; reset", c->id,
		    strerror(errno));
		close_client(c, 1);
		goto out;
	}
	peer_set(&c->peer, SLOT_UP, fd);
	c->ufd = fd;
	while (!quit && (r = read_request(c, &rq)) != 0) {
		pthread_mutex_lock(&px.mu);
		seq = ++px.seq;
		memset(&d, 0, sizeof(d));
		if (r == -1)
			d.kind = K_TUNNEL;
		else
			decide(&px.cfg, px.seed, seq, rq.method, rq.target, &d);
		px.count[d.kind]++;
		pthread_cond_broadcast(&px.cv);
		pthread_mutex_unlock(&px.mu);

		memset(&o, 0, sizeof(o));
		snprintf(o.up, sizeof(o.up), "-");
		snprintf(o.note, sizeof(o.note), "-");
		o.client = "sent";
		if (r == -1) {
			param_str(&d, o.param, sizeof(o.param));
			tunnel(c, &o);
			quit = 1;
		} else
			quit = apply(c, &rq, seq, &d, &o);
		if (o.reset && c->cfd != -1)
			close_client(c, 1);
		log_line("%" PRIu64 " %" PRIu64 " %s %s %s %s %s %s %s", seq,
		    c->id, rq.method[0] ? rq.method : "-",
		    rq.target[0] ? rq.target : "-", kind_names[d.kind],
		    o.param, o.up, o.client, o.note);
		if (!quit)
			hbuf_consume(&c->cin, rq.headlen + rq.bodylen);
	}
out:
	close_client(c, 0);
	close_upstream(c);
	peer_del(&c->peer);
	hbuf_free(&c->cin);
	hbuf_free(&c->uin);
	free(c);
	return NULL;
}

int
conn_start(int fd)
{
	pthread_attr_t	 attr;
	pthread_t	 t;
	struct conn	*c;
	int		 i, rc;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return -1;
	}
	for (i = 0; i < PEER_FDS; i++)
		c->peer.fd[i] = -1;
	c->peer.fd[SLOT_CLIENT] = c->cfd = fd;
	c->ufd = -1;
	pthread_mutex_lock(&px.mu);
	c->id = ++px.nconn;
	pthread_mutex_unlock(&px.mu);
	peer_add(&c->peer);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&t, &attr, conn_main, c);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		close_client(c, 1);
		peer_del(&c->peer);
		free(c);
		return -1;
	}
	return 0;
}
