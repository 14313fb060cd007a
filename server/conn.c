/* SPDX-License-Identifier: ISC */
/*
 * conn.c: the server's connections.  An accept front (one thread, epoll)
 * owns the listening socket: it applies the per-address and global
 * limits, reads each new connection's first request head with MSG_PEEK
 * until it is complete (head.c checks it), answers what it refuses with
 * the documented JSON, and hands a good connection, its bytes unread,
 * to libmicrohttpd (http.c's handoff).  The same thread is the
 * deadline's sweeper: a request's clock starts when the connection is
 * accepted or its previous answer has been sent, and runs until its
 * body is read; whatever trickles in, a request past
 * kps_conf.request_deadline is answered 408 and its connection closed
 * (one between requests is closed without a word).
 *
 * With --tls-cert the bytes are encrypted: the front cannot read a head,
 * nor write an answer the client could read.  It still applies both
 * limits (a refused connection is closed at once, without a word), and
 * peeks at each connection's first byte only: a TLS handshake's (22)
 * hands it to libmicrohttpd, anything else is plain HTTP on the HTTPS
 * port, answered 400 https_required in plain HTTP.  The deadline then
 * covers the handshake and the first request, and a request past it is
 * closed without its 408.  The framing checks are
 * http.c's, on the decrypted head (docs/security.md, "TLS").
 *
 * It listens on each address --listen names (a host name may have
 * several).  The per-address limit counts an IPv4 client by its
 * address and an IPv6 one by its /64, the block one host or site is
 * given: counting whole IPv6 addresses would let one client take as
 * many as it likes.
 *
 * A connection is a slot of a table indexed by its socket, whose state
 * says who holds it: the front (HEAD, LINGER) or libmicrohttpd (IDLE,
 * REQUEST, BUSY), through the hooks http.c calls.  libmicrohttpd calls
 * kps_conn_detach() before it closes a socket, and the sweeper shuts a
 * socket down under the same lock, so it never touches a reused one.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kps.h"

#define HEAD_CAP	16384	/* bytes of a first head the front reads */
#define LINGER_MS	1000	/* a refused request's rest is read for */
#define DROP_MAX	64	/* reads of 4 KiB dropped at a time */
#define MAX_LISTEN	8	/* sockets of one --listen */
#define FD_MARGIN(t)	(32 + 8 * (t))	/* descriptors kept for SQLite,
					   libmicrohttpd's threads, ... */

enum state {
	FREE,		/* no connection */
	HEAD,		/* the front reads its first head */
	LINGER,		/* answered by the front, read until closed */
	IDLE,		/* libmicrohttpd's, between requests */
	REQUEST,	/* libmicrohttpd's, reading a request */
	BUSY,		/* libmicrohttpd's, the request read: answering */
};

struct kps_conn {
	enum state	 state;		/* clk */
	int		 killed;	/* clk: closed by the deadline */
	int		 counted;	/* clk: key is counted in peers */
	uint8_t		 key[16];	/* clk: its peer's key */
	struct sockaddr_storage sa;	/* clk: the client's address */
	socklen_t	 salen;
	char		 rid[KPS_REQUEST_ID + 1];	/* clk: the request
					   being read, for a 408 */
	int64_t		 since;		/* clk: ms, the request's clock */
	/* the front's, while HEAD: */
	int		 begun;		/* the request line is in, counted
					   in flight */
	size_t		 seen;		/* bytes of the head so far */
	char		 method[16], target[128];
};

struct peer {
	uint8_t		 key[16];	/* see peer_key() */
	uint32_t	 n;		/* connections open; 0: empty */
};

static pthread_mutex_t	 clk = PTHREAD_MUTEX_INITIALIZER;
static struct kps_conn	*slots;		/* clk; the array: start, fini */
static size_t		 nslots;	/* start */
static unsigned		 nopen;		/* clk: slots not FREE */
static unsigned		 nhead;		/* clk: slots HEAD */
static struct peer	*peers;		/* clk; the array: start, fini */
static size_t		 npeers;	/* start: a power of two */
static unsigned		 maxconn;	/* start: the global limit */
static int64_t		 deadline_ms;	/* start */
static int		(*handoff)(int, const struct sockaddr *, socklen_t);
static int		 lfds[MAX_LISTEN];	/* start; then the front
					   thread; -1 when closed */
static size_t		 nlfd;		/* start */
static char		 bound[512];	/* start: the addresses, as text */
static int		 ep = -1, wakefd = -1;	/* start, stop */
static int		 spare = -1;	/* front: closed to accept at EMFILE */
static int		*expired;	/* front: the sweep's list, nslots */
static pthread_t	 front;		/* start, stop */
static int		 running;	/* main thread: the front runs */
static int		 tls;		/* start: the connections speak TLS
					   (libmicrohttpd's), the front
					   neither reads nor answers */
static _Atomic int	 stopping, draining;

static int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * peer_key: the key a client is counted under in key: an IPv4 address
 * (or an IPv4-mapped IPv6 one) whole, as ::ffff:a.b.c.d; an IPv6
 * address by its /64.  0, or -1 for another family (not counted).
 */
static int
peer_key(const struct sockaddr *sa, uint8_t key[16])
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	memset(key, 0, 16);
	if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)sa;
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &sin->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family != AF_INET6)
		return -1;
	sin6 = (const struct sockaddr_in6 *)sa;
	if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
		memcpy(key, &sin6->sin6_addr, 16);
	else
		memcpy(key, &sin6->sin6_addr, 8);
	return 0;
}

/* peer_hash: the first slot of key's probe in peers. */
static size_t
peer_hash(const uint8_t key[16])
{
	uint32_t	h = 2166136261u;
	size_t		i;

	for (i = 0; i < 16; i++)
		h = (h ^ key[i]) * 16777619u;
	return (size_t)((h * 0x9e3779b1u) & (npeers - 1));
}

/* peer: the entry of key (clk); with add, a new one when none. */
static struct peer *
peer(const uint8_t key[16], int add)
{
	size_t	i = peer_hash(key);

	for (; peers[i].n != 0; i = (i + 1) & (npeers - 1))
		if (memcmp(peers[i].key, key, 16) == 0)
			return &peers[i];
	if (!add)
		return NULL;
	memcpy(peers[i].key, key, 16);
	return &peers[i];
}

/* peer_put: key has one connection fewer (clk); an entry that falls
 * to none is deleted by shifting back the ones probed past it. */
static void
peer_put(const uint8_t key[16])
{
	struct peer	*p;
	size_t		 i, j, k, mask = npeers - 1;

	if ((p = peer(key, 0)) == NULL || --p->n > 0)
		return;
	for (i = j = (size_t)(p - peers);;) {
		j = (j + 1) & mask;
		if (peers[j].n == 0)
			break;
		k = peer_hash(peers[j].key);
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		peers[i] = peers[j];
		i = j;
	}
	peers[i].n = 0;
}

/* slot_free: a connection is gone (clk). */
static void
slot_free(struct kps_conn *s)
{
	if (s->state == HEAD)
		nhead--;
	if (s->state != FREE) {
		nopen--;
		kps_metric_add("connections_open", -1);
		if (s->counted)
			peer_put(s->key);
	}
	memset(s, 0, sizeof(*s));
}

static const char *
phrase(int status)
{
	switch (status) {
	case 400:
		return "Bad Request";
	case 408:
		return "Request Timeout";
	case 413:
		return "Content Too Large";
	case 414:
		return "URI Too Long";
	case 431:
		return "Request Header Fields Too Large";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Service Unavailable";
	}
}

/*
 * answer: write the JSON error {code, message} with status on fd, and
 * "Connection: close", and the request's id rid when not NULL; as much
 * as the socket takes at once (the whole of it: a few hundred bytes
 * into an empty buffer).
 */
static void
answer(int fd, int status, const char *code, const char *message,
    const char *rid)
{
	struct kps_reply	r;
	struct tm		tm;
	time_t			t = time(NULL);
	char			head[384], date[64], idh[KPS_REQUEST_ID + 32];
	int			n;

	memset(&r, 0, sizeof(r));
	kps_error(&r, status, code, "%s", message);
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
		date[0] = '\0';
	idh[0] = '\0';
	if (rid != NULL)
		snprintf(idh, sizeof(idh), "X-Request-Id: %s\r\n", rid);
	n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nDate: %s\r\n"
	    "%sContent-Type: application/json\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n\r\n", r.status, phrase(r.status), date,
	    idh, r.len);
	if (n > 0 && (size_t)n < sizeof(head) &&
	    send(fd, head, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT |
	    MSG_MORE) == n && r.body != NULL)
		(void)send(fd, r.body, r.len, MSG_NOSIGNAL | MSG_DONTWAIT);
	free(r.body);
}

/* refuse_now: answer a connection the limits refuse (unless it speaks
 * TLS), and close it. */
static void
refuse_now(int fd, const char *reason)
{
	kps_metric_reason("connections_refused", reason);
	if (!tls)
		answer(fd, 503, "too_many_connections",
		    strcmp(reason, "global") ? "this address has too many "
		    "connections open; close some and retry" : "the server "
		    "has too many connections open; retry later", NULL);
	close(fd);
}

/* request_log: log and count a request the front answered or lost. */
static void
request_log(struct kps_conn *s, int status)
{
	char	*q, addr[KPS_ADDR_TEXT];

	if ((q = strchr(s->target, '?')) != NULL)
		*q = '\0';
	if (status != 0)
		kps_metric_request(kps_route_of(s->target), status);
	if (q != NULL)
		*q = '?';
	kps_addr_text((const struct sockaddr *)&s->sa, addr, sizeof(addr));
	kps_log_request(addr, s->rid, s->method, s->target, status,
	    (double)(now_ms() - s->since), "", status == 0);
}

/* front_close: close a connection the front holds (not clk). */
static void
front_close(int fd)
{
	struct kps_conn	*s = &slots[fd];

	if (s->begun)
		kps_metric_add("requests_in_flight", -1);
	pthread_mutex_lock(&clk);
	slot_free(s);
	pthread_mutex_unlock(&clk);
	close(fd);
}

/*
 * front_refuse: answer the head the front holds on fd with a refusal
 * and keep reading (and dropping) what the client sends for a while,
 * so that the answer is not lost to a reset of unread bytes.
 */
static void
front_refuse(int fd, int status, const char *code, const char *message,
    const char *reason)
{
	struct kps_conn	*s = &slots[fd];
	char		 buf[4096];
	int		 i;

	if (reason != NULL)
		kps_metric_reason("connections_refused", reason);
	for (i = 0; i < DROP_MAX && recv(fd, buf, sizeof(buf),
	    MSG_DONTWAIT) > 0; i++)
		;
	answer(fd, status, code, message, s->begun ? s->rid : NULL);
	(void)shutdown(fd, SHUT_WR);
	if (s->begun) {
		kps_metric_add("requests_in_flight", -1);
		request_log(s, status);
		s->begun = 0;
	}
	pthread_mutex_lock(&clk);
	nhead--;
	s->state = LINGER;
	s->since = now_ms();
	pthread_mutex_unlock(&clk);
}

/* give: hand fd, its first head complete and unread, to libmicrohttpd
 * (which closes it when it cannot take it). */
static void
give(int fd)
{
	struct kps_conn		*s = &slots[fd];

	(void)epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
	if (s->begun) {
		/* libmicrohttpd counts it again when it reads it */
		kps_metric_add("requests_in_flight", -1);
		s->begun = 0;
	}
	pthread_mutex_lock(&clk);
	nhead--;
	s->state = IDLE;
	pthread_mutex_unlock(&clk);
	if (handoff(fd, (struct sockaddr *)&s->sa, s->salen) != 0) {
		/* closed by libmicrohttpd; only this thread accepts, so the
		 * slot cannot be another connection's yet */
		pthread_mutex_lock(&clk);
		slot_free(s);
		pthread_mutex_unlock(&clk);
	}
}

/* head: what the head of fd's first request says so far; hup: the
 * client will send no more. */
static void
head(int fd, int hup)
{
	static char	 buf[HEAD_CAP];		/* the front thread's */
	struct kps_conn	*s = &slots[fd];
	struct kps_head	 h;
	ssize_t		 n;
	int		 more;

	/* under TLS only its first byte: a handshake's is 22 */
	if ((n = recv(fd, buf, tls ? 1 : sizeof(buf), MSG_PEEK)) <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			if (s->begun)
				request_log(s, 0);
			front_close(fd);
		}
		return;
	}
	s->seen = (size_t)n;
	if (tls) {
		if (buf[0] == 0x16)
			give(fd);
		else
			front_refuse(fd, 400, "https_required", "this port "
			    "speaks HTTPS: use an https:// URL", "malformed");
		return;
	}
	more = kps_head_parse(buf, (size_t)n, sizeof(buf), &h) ==
	    KPS_HEAD_MORE;
	if (h.line && !s->begun) {
		/* a request begun, as libmicrohttpd counts one */
		s->begun = 1;
		kps_request_id(s->rid);
		memcpy(s->method, h.method, sizeof(s->method));
		memcpy(s->target, h.target, sizeof(s->target));
		kps_metric_add("requests_in_flight", 1);
	}
	if (more) {
		if (hup) {
			/* gone before its head was whole */
			if (s->begun)
				request_log(s, 0);
			front_close(fd);
		}
		return;
	}
	if (h.f.status != 0) {
		front_refuse(fd, h.f.status, h.f.code, h.f.message,
		    h.f.reason);
		return;
	}
	give(fd);
}

/* linger: drop what a refused connection still sends; close at its
 * end. */
static void
linger(int fd)
{
	char	buf[4096];
	ssize_t	n = -1;
	int	i;

	/* a few at a time: the sweep closes it after LINGER_MS anyway */
	for (i = 0; i < DROP_MAX &&
	    (n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0; i++)
		;
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		front_close(fd);
}

/* admit: a new connection fd from sa (len bytes): NULL, or why it is
 * refused. */
static const char *
admit(int fd, const struct sockaddr_storage *sa, socklen_t len)
{
	struct kps_conn	*s;
	struct peer	*p;
	const char	*why = NULL;
	uint8_t		 key[16];
	int		 counted;

	counted = peer_key((const struct sockaddr *)sa, key) == 0;
	pthread_mutex_lock(&clk);
	if ((size_t)fd >= nslots || nopen >= maxconn)
		why = "global";
	else if (kps_conf.max_per_address > 0 && counted &&
	    (p = peer(key, 0)) != NULL &&
	    p->n >= kps_conf.max_per_address)
		why = "per_address";
	else {
		s = &slots[fd];
		if (s->state != FREE)
			slot_free(s);	/* closed by libmicrohttpd unsaid */
		s->state = HEAD;
		memcpy(&s->sa, sa, sizeof(s->sa));
		s->salen = len;
		memcpy(s->key, key, sizeof(s->key));
		s->counted = counted;
		s->since = now_ms();
		if (counted)
			peer(key, 1)->n++;
		nopen++;
		nhead++;
		kps_metric_add("connections_open", 1);
	}
	pthread_mutex_unlock(&clk);
	return why;
}

/* accept_all: take every connection waiting on listening socket lfd. */
static void
accept_all(int lfd)
{
	struct epoll_event	ev;
	struct sockaddr_storage	sa;
	socklen_t		len;
	const char		*why;
	int			fd;

	for (;;) {
		len = sizeof(sa);
		memset(&sa, 0, sizeof(sa));
		fd = accept4(lfd, (struct sockaddr *)&sa, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if ((errno != EMFILE && errno != ENFILE) ||
			    spare == -1)
				return;
			/* out of descriptors: refuse one, with the spare */
			close(spare);
			if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) != -1)
				refuse_now(fd, "global");
			spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
			continue;
		}
		if (atomic_load(&draining)) {
			close(fd);
			continue;
		}
		if ((why = admit(fd, &sa, len)) != NULL) {
			refuse_now(fd, why);
			continue;
		}
		/* edge-triggered: a peek leaves the bytes in the socket */
		ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
		ev.data.fd = fd;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
			front_close(fd);
	}
}

/*
 * sweep: end what overran its time.  libmicrohttpd's connections are
 * shut down under clk (it closes a socket only after it detached it):
 * one reading a request past the deadline gets 408 first.  The front's
 * own are ended after, out of the lock: a head past the deadline gets
 * 408 if it sent anything, a refused one is closed after LINGER_MS.
 */
static void
sweep(int64_t now)
{
	struct kps_conn	*s;
	size_t		 fd, n = 0, i;

	pthread_mutex_lock(&clk);
	for (fd = 0; fd < nslots; fd++) {
		s = &slots[fd];
		switch (s->state) {
		case HEAD:
			if (now - s->since >= deadline_ms)
				expired[n++] = (int)fd;
			break;
		case LINGER:
			if (now - s->since >= LINGER_MS)
				expired[n++] = (int)fd;
			break;
		case IDLE:
		case REQUEST:
			if (s->killed || now - s->since < deadline_ms)
				break;
			s->killed = 1;
			if (s->state == REQUEST) {
				kps_metric_reason("connections_refused",
				    "deadline");
				if (!tls)
					answer((int)fd, 408,
					    "request_timeout", "the request "
					    "took longer than the server's "
					    "deadline for a whole request",
					    s->rid[0] != '\0' ? s->rid :
					    NULL);
			} else
				kps_metric_add("connections_idle_closed", 1);
			(void)shutdown((int)fd, SHUT_RDWR);
			break;
		default:
			break;
		}
	}
	pthread_mutex_unlock(&clk);
	for (i = 0; i < n; i++) {
		s = &slots[expired[i]];
		if (s->state == HEAD && s->seen == 0)
			kps_metric_add("connections_idle_closed", 1);
		if (s->state == LINGER || s->seen == 0) {
			front_close(expired[i]);
			continue;
		}
		kps_metric_reason("connections_refused", "deadline");
		front_refuse(expired[i], 408, "request_timeout", "the "
		    "request's head took longer than the server's deadline "
		    "for a whole request", NULL);
	}
}

/* listener: fd is one of the listening sockets. */
static int
listener(int fd)
{
	size_t	i;

	for (i = 0; i < nlfd; i++)
		if (lfds[i] == fd)
			return 1;
	return 0;
}

static void *
front_main(void *arg)
{
	struct epoll_event	ev[64];
	uint64_t		v;
	int64_t			now, next = 0, every;
	int			n, i, fd;
	size_t			j;

	/* sweeps an eighth of the deadline apart, 50 to 500 ms */
	every = deadline_ms / 8 < 50 ? 50 : deadline_ms / 8 > 500 ? 500 :
	    deadline_ms / 8;
	while (!atomic_load(&stopping)) {
		n = epoll_wait(ep, ev, 64, (int)every);
		for (i = 0; i < n; i++) {
			fd = ev[i].data.fd;
			if (fd == wakefd)
				(void)!read(wakefd, &v, sizeof(v));
			else if (listener(fd))
				accept_all(fd);
			else if (slots[fd].state == HEAD)
				head(fd, (ev[i].events & (EPOLLRDHUP |
				    EPOLLHUP | EPOLLERR)) != 0);
			else if (slots[fd].state == LINGER)
				linger(fd);
		}
		for (j = 0; atomic_load(&draining) && j < nlfd; j++)
			if (lfds[j] != -1) {
				close(lfds[j]);
				lfds[j] = -1;
			}
		if ((now = now_ms()) >= next) {
			sweep(now);
			next = now + every;
		}
	}
	return NULL;
}

const char *
kps_conn_bound(void)
{
	return bound;
}

/*
 * budget: raise the soft limit of descriptors to the hard one and
 * take the global limit below it, keeping FD_MARGIN for the rest;
 * 0, or -1 with the reason in err.
 */
static int
budget(char *err, size_t errlen)
{
	struct rlimit	rl;
	rlim_t		soft, margin = FD_MARGIN(kps_conf.threads);

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		rl.rlim_cur = rl.rlim_max = 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		soft = rl.rlim_cur;
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? 1 << 20 :
		    rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			rl.rlim_cur = soft;
	}
	soft = rl.rlim_cur == RLIM_INFINITY ? 1 << 20 : rl.rlim_cur;
	if (soft <= margin + 1) {
		snprintf(err, errlen, "the limit of open files (%llu) leaves "
		    "no room for connections", (unsigned long long)soft);
		return -1;
	}
	maxconn = kps_conf.max_connections;
	if (maxconn > soft - margin) {
		maxconn = (unsigned)(soft - margin);
		fprintf(stderr, "kpool-server: --max-connections %u is more "
		    "than the limit of open files (%llu) allows: %u\n",
		    kps_conf.max_connections, (unsigned long long)soft,
		    maxconn);
	}
	nslots = maxconn + margin + 64;
	for (npeers = 64; npeers < 2 * (size_t)maxconn; npeers *= 2)
		;
	return 0;
}

/* watch: the front waits for fd to be readable (level-triggered). */
static int
watch(int fd)
{
	struct epoll_event	ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.fd = fd;
	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

int
kps_conn_start(int (*give_to)(int, const struct sockaddr *, socklen_t),
    char *err, size_t errlen, unsigned *port)
{
	size_t	i;

	handoff = give_to;
	tls = kps_conf.tls_cert != NULL;
	deadline_ms = (int64_t)kps_conf.request_deadline * 1000;
	if (budget(err, errlen) != 0)
		return -1;
	if ((slots = calloc(nslots, sizeof(*slots))) == NULL ||
	    (expired = calloc(nslots, sizeof(*expired))) == NULL ||
	    (peers = calloc(npeers, sizeof(*peers))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (kps_listen_open(kps_conf.listen, lfds, MAX_LISTEN, &nlfd, bound,
	    sizeof(bound), port, err, errlen) != 0)
		goto fail;
	spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    (wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1 ||
	    watch(wakefd) != 0)
		goto front;
	for (i = 0; i < nlfd; i++)
		if (watch(lfds[i]) != 0)
			goto front;
	if (pthread_create(&front, NULL, front_main, NULL) != 0)
		goto front;
	running = 1;
	return 0;
front:
	snprintf(err, errlen, "the accept front: %s", strerror(errno));
fail:
	kps_conn_stop();
	kps_conn_fini();
	return -1;
}

/* wake: have the front thread look at its flags. */
static void
wake(void)
{
	uint64_t	one = 1;

	if (wakefd != -1)
		(void)!write(wakefd, &one, sizeof(one));
}

void
kps_conn_drain(void)
{
	size_t	i;

	atomic_store(&draining, 1);
	/* stop listening now: new connections are refused at once (the
	 * front closes the socket when it wakes) */
	for (i = 0; i < nlfd; i++)
		if (lfds[i] != -1)
			(void)shutdown(lfds[i], SHUT_RD);
	wake();
}

int
kps_conn_pending(void)
{
	int	n;

	pthread_mutex_lock(&clk);
	n = (int)nhead;
	pthread_mutex_unlock(&clk);
	return n;
}

void
kps_conn_stop(void)
{
	size_t	fd, n = 0, i;

	if (running) {
		atomic_store(&stopping, 1);
		wake();
		pthread_join(front, NULL);
		running = 0;
	}
	/* what the front held */
	pthread_mutex_lock(&clk);
	for (fd = 0; expired != NULL && fd < nslots; fd++)
		if (slots[fd].state == HEAD || slots[fd].state == LINGER)
			expired[n++] = (int)fd;
	pthread_mutex_unlock(&clk);
	for (i = 0; i < n; i++)
		front_close(expired[i]);
	for (i = 0; i < nlfd; i++)
		if (lfds[i] != -1)
			close(lfds[i]);
	nlfd = 0;
	if (ep != -1)
		close(ep);
	if (wakefd != -1)
		close(wakefd);
	if (spare != -1)
		close(spare);
	ep = wakefd = spare = -1;
}

void
kps_conn_fini(void)
{
	free(slots);
	free(expired);
	free(peers);
	slots = NULL;
	expired = NULL;
	peers = NULL;
	nslots = npeers = 0;
}

struct kps_conn *
kps_conn_attach(int fd)
{
	struct kps_conn	*s = NULL;

	pthread_mutex_lock(&clk);
	if (fd >= 0 && (size_t)fd < nslots && slots[fd].state == IDLE)
		s = &slots[fd];
	pthread_mutex_unlock(&clk);
	return s;
}

void
kps_conn_begin(struct kps_conn *s, const char *rid)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&clk);
	snprintf(s->rid, sizeof(s->rid), "%s", rid);
	if (s->state == IDLE)
		s->state = REQUEST;
	pthread_mutex_unlock(&clk);
}

int
kps_conn_busy(struct kps_conn *s)
{
	int	ok = 1;

	if (s == NULL)
		return 1;
	pthread_mutex_lock(&clk);
	if (s->killed)
		ok = 0;
	else
		s->state = BUSY;
	pthread_mutex_unlock(&clk);
	return ok;
}

int
kps_conn_done(struct kps_conn *s)
{
	int	killed = 0;

	if (s == NULL)
		return 0;
	pthread_mutex_lock(&clk);
	if (!(killed = s->killed)) {
		s->state = IDLE;
		s->since = now_ms();
	}
	pthread_mutex_unlock(&clk);
	return killed;
}

void
kps_conn_detach(struct kps_conn *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&clk);
	slot_free(s);
	pthread_mutex_unlock(&clk);
}
