/* SPDX-License-Identifier: ISC */
/*
 * listen.c: the listening sockets of one --listen: an IPv4 address, an
 * IPv6 one in brackets, or a name and every address it resolves to.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kps.h"

int
kps_listen_split(const char *s, char *host, size_t hcap, char *port,
    size_t pcap)
{
	const char	*colon, *h = s, *end;
	size_t		 hlen, i;

	if (s[0] == '[') {
		/* [IPv6]:port */
		if ((end = strchr(s, ']')) == NULL || end[1] != ':')
			return -1;
		h = s + 1;
		hlen = (size_t)(end - h);
		colon = end + 1;
	} else {
		if ((colon = strrchr(s, ':')) == NULL ||
		    memchr(s, ':', (size_t)(colon - s)) != NULL)
			return -1;	/* an IPv6 literal wants brackets */
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || hlen >= hcap || strlen(colon + 1) >= pcap)
		return -1;
	for (i = 1; colon[i] != '\0'; i++)
		if (colon[i] < '0' || colon[i] > '9')
			return -1;
	if (i == 1 || i > 6 || strtoul(colon + 1, NULL, 10) > 65535)
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	snprintf(port, pcap, "%s", colon + 1);
	return 0;
}

/* listen_one: a listening socket on ai in fds[*n] (*n counts it); 0,
 * or the errno of what failed. */
static int
listen_one(const struct addrinfo *ai, int *fds, size_t *n)
{
	int	fd, one = 1, e;

	if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol)) == -1)
		return errno;
	/* SO_REUSEADDR, never SO_REUSEPORT: a taken port is an error;
	 * IPV6_V6ONLY is left to the system (Linux: off, so [::] takes
	 * IPv4 clients too, as IPv4-mapped addresses) */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) != 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
	    listen(fd, SOMAXCONN) != 0) {
		e = errno;
		close(fd);
		return e;
	}
	fds[(*n)++] = fd;
	return 0;
}

int
kps_listen_open(const char *spec, int *fds, size_t max, size_t *nfd,
    char *bound, size_t boundcap, unsigned *port, char *err, size_t errlen)
{
	struct addrinfo		 hints, *res = NULL, *ai;
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	char			 host[256], serv[8], num[INET6_ADDRSTRLEN];
	const char		*sep = "";
	size_t			 used = 0;
	unsigned		 p = 0;
	int			 rc, e, first_e = 0, numeric;

	if (kps_listen_split(spec, host, sizeof(host), serv,
	    sizeof(serv)) != 0) {
		snprintf(err, errlen, "bad --listen address %.300s (want "
		    "HOST:PORT, [IPV6]:PORT or NAME:PORT)", spec);
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	numeric = inet_pton(AF_INET, host, &ss) == 1 ||
	    inet_pton(AF_INET6, host, &ss) == 1;
	if ((rc = getaddrinfo(host, serv, &hints, &res)) != 0) {
		snprintf(err, errlen, "--listen %.300s: %s", spec,
		    gai_strerror(rc));
		return -1;
	}
	bound[0] = '\0';
	for (ai = res; ai != NULL && *nfd < max; ai = ai->ai_next) {
		if (p != 0) {
			/* the first one's port */
			if (ai->ai_family == AF_INET)
				((struct sockaddr_in *)ai->ai_addr)->sin_port =
				    htons((uint16_t)p);
			else if (ai->ai_family == AF_INET6)
				((struct sockaddr_in6 *)ai->ai_addr)->
				    sin6_port = htons((uint16_t)p);
		}
		if ((e = listen_one(ai, fds, nfd)) != 0) {
			if (numeric || (e != EADDRNOTAVAIL &&
			    e != EAFNOSUPPORT)) {
				snprintf(err, errlen, "cannot listen on %.300s: "
				    "%s", spec, strerror(e));
				goto fail;
			}
			if (first_e == 0)
				first_e = e;
			fprintf(stderr, "kpool-server: --listen %s: passing "
			    "over an address: %s\n", spec,
			    strerror(e));
			continue;
		}
		len = sizeof(ss);
		if (getsockname(fds[*nfd - 1], (struct sockaddr *)&ss,
		    &len) != 0 || getnameinfo((struct sockaddr *)&ss, len,
		    num, sizeof(num), NULL, 0, NI_NUMERICHOST) != 0) {
			snprintf(err, errlen, "cannot listen on %.300s: %s",
			    spec, strerror(errno));
			goto fail;
		}
		p = ntohs(ss.ss_family == AF_INET ?
		    ((struct sockaddr_in *)&ss)->sin_port :
		    ((struct sockaddr_in6 *)&ss)->sin6_port);
		rc = snprintf(bound + used, boundcap - used, "%s%s%s%s:%u",
		    sep, ss.ss_family == AF_INET6 ? "[" : "", num,
		    ss.ss_family == AF_INET6 ? "]" : "", p);
		if (rc > 0 && (size_t)rc < boundcap - used)
			used += (size_t)rc;
		sep = " ";
	}
	freeaddrinfo(res);
	if (*nfd == 0) {
		snprintf(err, errlen, "cannot listen on %.300s: %s",
		    spec, strerror(first_e ? first_e : EADDRNOTAVAIL));
		return -1;
	}
	*port = p;
	return 0;
fail:
	freeaddrinfo(res);
	return -1;
}
