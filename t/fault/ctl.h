/* SPDX-License-Identifier: ISC */
/*
 * ctl.h: what the fault tools (faultproxy, faultcrash) share with the
 * programs that drive them: the seeded generator every fault is drawn
 * from, and the client side of their control sockets.  Header-only,
 * so that a test or a scenario runner in t/ includes it as
 * "fault/ctl.h" and links nothing more.  docs/reliability.md ("The
 * tools") describes both.
 *
 * The generator is splitmix64 (Steele, Lea and Flood, "Fast splittable
 * pseudorandom number generators", OOPSLA 2014; the reference code is
 * Vigna's splitmix64.c): a 64-bit state, advanced by the golden gamma
 * 0x9e3779b97f4a7c15, each output the state passed through the mix
 * below.  From state 0 its first outputs are 0xe220a8397b1dcdaf,
 * 0x6e789e6aa1b965f4, 0x06c45d188009454f.
 *
 * Every decision has its own stream: the stream of item n (a request
 * the proxy numbered n, the n-th crash) in a domain (FAULT_DOM_*)
 * starts at seed XOR mix(n XOR domain).  A decision thus depends on the
 * seed and its item's number only, never on how many draws other items
 * made or in which order threads ran.
 */
#ifndef FAULT_CTL_H
#define FAULT_CTL_H

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define FAULT_DOM_PROXY	0x50524f5859ULL		/* "PROXY" */
#define FAULT_DOM_CRASH	0x4352415348ULL		/* "CRASH" */

/* fault_mix: the output function of splitmix64. */
static inline uint64_t
fault_mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* fault_next: advance *state and return the next output. */
static inline uint64_t
fault_next(uint64_t *state)
{
	*state += 0x9e3779b97f4a7c15ULL;
	return fault_mix(*state);
}

/* fault_stream: the first state of item n's stream in domain dom. */
static inline uint64_t
fault_stream(uint64_t seed, uint64_t dom, uint64_t n)
{
	return seed ^ fault_mix(n ^ dom);
}

/* fault_unit: an output as a double in [0, 1) (its top 53 bits). */
static inline double
fault_unit(uint64_t x)
{
	return (double)(x >> 11) * (1.0 / 9007199254740992.0);
}

/* fault_range: an output as an integer in [lo, hi] (lo <= hi), by
 * remainder (the bias, below 2^-32 for the ranges used, is ignored). */
static inline uint64_t
fault_range(uint64_t x, uint64_t lo, uint64_t hi)
{
	if (hi <= lo)
		return lo;
	if (hi - lo == UINT64_MAX)
		return x;
	return lo + x % (hi - lo + 1);
}

/*
 * fault_ctl: send one command line (cmd, without its newline) to the
 * control socket at path and read the one-line reply into reply (cap
 * bytes, NUL-terminated, without its newline), waiting timeout_ms at
 * most (a negative timeout waits for ever: "wait" may block).  Returns
 * 0 when the reply begins with "ok", 1 when it is another reply (an
 * "error ..."), -1 when the socket cannot be reached or no whole reply
 * came (errno says why; reply holds a description).
 */
static __attribute__((unused)) int
fault_ctl(const char *path, const char *cmd, char *reply, size_t cap,
    int timeout_ms)
{
	struct sockaddr_un	 sun;
	struct pollfd		 pfd;
	struct timespec		 t0, t1;
	size_t			 len = 0, clen = strlen(cmd);
	ssize_t			 n;
	int			 fd = -1, rc = -1, left, saved = 0;

	if (cap == 0)
		return -1;
	reply[0] = '\0';
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path) || memchr(cmd, '\n', clen)) {
		errno = EINVAL;
		snprintf(reply, cap, "bad socket path or command");
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    send(fd, cmd, clen, MSG_NOSIGNAL) != (ssize_t)clen ||
	    send(fd, "\n", 1, MSG_NOSIGNAL) != 1) {
		saved = errno;
		snprintf(reply, cap, "%s: %s", path, strerror(errno));
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		left = -1;
		if (timeout_ms >= 0) {
			clock_gettime(CLOCK_MONOTONIC, &t1);
			left = timeout_ms - (int)((t1.tv_sec - t0.tv_sec) *
			    1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
			if (left < 0)
				left = 0;
		}
		pfd.fd = fd;
		pfd.events = POLLIN;
		if ((n = poll(&pfd, 1, left)) == -1 && errno == EINTR)
			continue;
		if (n != 1) {
			saved = n == 0 ? ETIMEDOUT : errno;
			snprintf(reply, cap, "no reply from %s", path);
			goto out;
		}
		if ((n = recv(fd, reply + len, cap - 1 - len, 0)) <= 0) {
			saved = n == 0 ? ECONNRESET : errno;
			snprintf(reply, cap, "%s closed without a reply", path);
			goto out;
		}
		len += (size_t)n;
		reply[len] = '\0';
		if (memchr(reply, '\n', len) != NULL)
			break;
		if (len == cap - 1) {
			saved = EMSGSIZE;
			snprintf(reply, cap, "reply too long");
			goto out;
		}
	}
	*strchr(reply, '\n') = '\0';
	rc = strncmp(reply, "ok", 2) == 0 && (reply[2] == '\0' ||
	    reply[2] == ' ') ? 0 : 1;
	saved = 0;
out:
	if (fd != -1)
		close(fd);
	if (rc == -1)
		errno = saved;
	return rc;
}

#endif /* FAULT_CTL_H */
