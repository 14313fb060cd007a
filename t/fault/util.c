/* SPDX-License-Identifier: ISC */
/*
 * util.c: buffers, sockets with deadlines, and number parsing for the
 * fault tools.
 */

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"

int
hbuf_append(struct hbuf *b, const void *p, size_t n, size_t max)
{
	size_t	 cap;
	char	*np;

	if (n > max || b->len > max - n) {
		errno = ENOMEM;
		return -1;
	}
	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		if ((np = realloc(b->p, cap)) == NULL)
			return -1;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

void
hbuf_consume(struct hbuf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
	} else {
		memmove(b->p, b->p + n, b->len - n);
		b->len -= n;
	}
	if (b->p != NULL)
		b->p[b->len] = '\0';
}

void
hbuf_free(struct hbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
left_ms(int64_t deadline)
{
	int64_t	l;

	if (deadline < 0)
		return -1;
	l = deadline - now_ms();
	if (l < 0)
		return 0;
	return l > 1000000000 ? 1000000000 : (int)l;
}

ssize_t
io_fill(int fd, struct hbuf *b, size_t max, int64_t deadline,
    const atomic_int *stop)
{
	struct pollfd	pfd;
	char		buf[16384];
	ssize_t		n;
	int		t, r;

	for (;;) {
		if (stop != NULL && atomic_load(stop))
			return -2;
		t = left_ms(deadline);
		if (stop != NULL && (t < 0 || t > 100))
			t = 100;
		pfd.fd = fd;
		pfd.events = POLLIN;
		if ((r = poll(&pfd, 1, t)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0) {
			if (deadline >= 0 && left_ms(deadline) == 0)
				return -2;
			continue;
		}
		if ((n = recv(fd, buf, sizeof(buf), 0)) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		if (n > 0 && hbuf_append(b, buf, (size_t)n, max) == -1)
			return -1;
		return n;
	}
}

int
io_send(int fd, const void *p, size_t len, int64_t deadline)
{
	const char	*c = p;
	struct pollfd	 pfd;
	ssize_t		 n;

	while (len > 0) {
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if ((n = poll(&pfd, 1, left_ms(deadline))) == -1 &&
		    errno == EINTR)
			continue;
		if (n != 1) {
			if (n == 0)
				errno = ETIMEDOUT;
			return -1;
		}
		if ((n = send(fd, c, len, MSG_NOSIGNAL | MSG_DONTWAIT)) ==
		    -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

int
tcp_connect(const struct sockaddr *sa, socklen_t salen, int64_t deadline)
{
	struct pollfd	pfd;
	socklen_t	elen = sizeof(int);
	int		fd, e = 0, one = 1, r;

	if ((fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, sa, salen) == 0)
		goto done;
	if (errno != EINPROGRESS)
		goto fail;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	while ((r = poll(&pfd, 1, left_ms(deadline))) == -1 && errno == EINTR)
		;
	if (r != 1) {
		errno = r == 0 ? ETIMEDOUT : errno;
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) == -1)
		goto fail;
	if (e != 0) {
		errno = e;
		goto fail;
	}
done:
	/* blocking again: every read and write polls first anyway */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) == -1)
		goto fail;
	return fd;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

int
tcp_resolve(const char *hostport, int passive, struct sockaddr_storage *ss,
    socklen_t *len, char *err, size_t errlen)
{
	struct addrinfo	 hints, *res = NULL;
	const char	*colon;
	char		 host[256];
	uint64_t	 port;
	size_t		 hlen;
	int		 e;

	if ((colon = strrchr(hostport, ':')) == NULL ||
	    parse_u64(colon + 1, 0, 65535, &port) == -1) {
		snprintf(err, errlen, "%s: not host:port", hostport);
		return -1;
	}
	hlen = (size_t)(colon - hostport);
	if (hlen >= 2 && hostport[0] == '[' && hostport[hlen - 1] == ']') {
		hostport++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(host)) {
		snprintf(err, errlen, "%s: no host", hostport);
		return -1;
	}
	memcpy(host, hostport, hlen);
	host[hlen] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = passive ? AI_PASSIVE : 0;
	if ((e = getaddrinfo(host, NULL, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s: %s", host, gai_strerror(e));
		return -1;
	}
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
	freeaddrinfo(res);
	return 0;
}

int
tcp_listen(const struct sockaddr_storage *ss, socklen_t len, int *port)
{
	struct sockaddr_storage	 got;
	socklen_t		 glen = sizeof(got);
	int			 fd, one = 1, e;

	if ((fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ==
	    -1 || bind(fd, (const struct sockaddr *)ss, len) == -1 ||
	    listen(fd, 128) == -1 ||
	    getsockname(fd, (struct sockaddr *)&got, &glen) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	*port = ntohs(got.ss_family == AF_INET ?
	    ((struct sockaddr_in *)&got)->sin_port :
	    ((struct sockaddr_in6 *)&got)->sin6_port);
	return fd;
}

void
abort_close(int fd)
{
	struct linger	l = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

int
unix_listen(const char *path)
{
	struct sockaddr_un	sun;
	struct stat		st;
	int			fd, e;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(fd, 16) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int
parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *v)
{
	unsigned long long	 n;
	char			*end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || n < lo || n > hi)
		return -1;
	*v = n;
	return 0;
}

int
parse_rate(const char *s, double *v)
{
	char	*end;
	double	 d;

	if (*s == '\0' || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	d = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !isfinite(d) || d < 0 || d > 1)
		return -1;
	*v = d;
	return 0;
}

int
parse_range(const char *s, uint64_t lo, uint64_t hi, uint64_t *a,
    uint64_t *b)
{
	char		 buf[64];
	const char	*dash = strchr(s, '-');

	if (dash == NULL) {
		if (parse_u64(s, lo, hi, a) == -1)
			return -1;
		*b = *a;
		return 0;
	}
	if ((size_t)(dash - s) >= sizeof(buf))
		return -1;
	memcpy(buf, s, (size_t)(dash - s));
	buf[dash - s] = '\0';
	if (parse_u64(buf, lo, hi, a) == -1 ||
	    parse_u64(dash + 1, lo, hi, b) == -1 || *a > *b)
		return -1;
	return 0;
}

int
split_words(char *line, char **w, int max)
{
	int	n = 0;

	for (;;) {
		while (*line == ' ' || *line == '\t' || *line == '\r')
			*line++ = '\0';
		if (*line == '\0')
			return n;
		if (n == max)
			return -1;
		w[n++] = line;
		while (*line != '\0' && *line != ' ' && *line != '\t' &&
		    *line != '\r')
			line++;
	}
}
