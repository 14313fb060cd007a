/* SPDX-License-Identifier: ISC */
/*
 * proxy.h: faultproxy's state, shared by the program (proxy.c: options,
 * control socket, log) and its connections (relay.c: one thread per
 * client connection, which reads each request whole and applies the
 * fault drawn for it).
 */
#ifndef PROXY_H
#define PROXY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

#include "fault.h"

/* The faults, in the order a draw walks their rates. */
enum kind {
	K_NONE,
	K_DROP_REQUEST,		/* never forwarded; the client is closed */
	K_HANG_REQUEST,		/* never forwarded; closed after hang-ms */
	K_DROP_REPLY,		/* forwarded, reply read, client closed */
	K_DELAY_REQUEST,	/* forwarded after 1 to delay-max ms */
	K_DELAY_REPLY,		/* reply sent after 1 to delay-max ms */
	K_DUPLICATE,		/* forwarded twice; one reply, seeded */
	K_REORDER,		/* held until another connection's request
				   has gone through, or reorder-window ms */
	K_CUT,			/* part of it forwarded, both sides closed */
	K_TUNNEL,		/* not framed: passed through, no fault */
	K_COUNT
};

extern const char *const kind_names[K_COUNT];

/* What the faults are; changed by the control socket. */
struct cfg {
	double		rate[K_TUNNEL];	/* by kind; [K_NONE] unused */
	int		on;		/* faults on */
	uint64_t	delay_max;	/* ms */
	uint64_t	hang_ms;
	uint64_t	window_ms;	/* reorder */
	char		method[16];	/* faults only for this method ("":
					   any) */
	char		prefix[256];	/* and paths with this prefix */
	uint64_t	seq_lo;		/* and requests numbered in [lo, hi] */
	uint64_t	seq_hi;		/* (0 0: any) */
};

/* The fault drawn for one request. */
struct decision {
	enum kind	kind;
	uint64_t	param;	/* delay and hang ms, reorder window, the
				   duplicate's reply (0 first, 1 second) */
	uint64_t	x;	/* the second draw (where a cut falls) */
};

/* A thread's sockets, shut down by the main thread at stop. */
#define PEER_FDS	3
struct peer {
	struct peer	*next;
	struct peer	*prev;
	int		 fd[PEER_FDS];	/* px.mu to change, -1 unused */
};

struct proxy {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;		/* a request numbered or gone
					   through, a peer gone, stop; on
					   CLOCK_MONOTONIC */
	struct cfg	 cfg;		/* mu */
	uint64_t	 seed;		/* set before the threads start */
	uint64_t	 seq;		/* mu: requests numbered so far */
	uint64_t	 nconn;		/* mu: connections accepted */
	uint64_t	 passed;	/* mu: requests gone through (forwarded
					   and answered) */
	uint64_t	 passed_seq[256];	/* mu: the number of the
					   request that went through n-th
					   (from 0) at n % 256 */
	uint64_t	 count[K_COUNT];	/* mu: requests by fault */
	struct peer	*peers;		/* mu: live threads */
	int		 npeers;	/* mu */
	int		 logfd;		/* -1: no log; written under mu */
	struct sockaddr_storage up;	/* the upstream; set before threads */
	socklen_t	 uplen;
	int64_t		 client_ms;	/* a request must arrive whole in it */
	int64_t		 upstream_ms;	/* a reply must arrive whole in it */
	int64_t		 cut_wait_ms;	/* wait for the server after a cut */
};

extern struct proxy	px;
extern atomic_int	px_stop;	/* set once, at SIGTERM or SIGINT */

/*
 * decide: the fault for request seq (method and target) under cf; a
 * function of the seed and seq alone for given rates.  With method
 * NULL, the draw alone, as --plan and "plan" show it: faults on or
 * off, match and seq aside.
 */
void	decide(const struct cfg *cf, uint64_t seed, uint64_t seq,
	    const char *method, const char *target, struct decision *d);
/* param_str: the seeded parameter of d as the log shows it. */
void	param_str(const struct decision *d, char *buf, size_t len);

/* peer_add, peer_del: (un)list p, under px.mu. */
void	peer_add(struct peer *p);
void	peer_del(struct peer *p);
/* peer_set: p->fd[slot] = fd; peer_close: close it (abortive when
 * reset), under px.mu so that the stop never shuts a reused number. */
void	peer_set(struct peer *p, int slot, int fd);
void	peer_close(struct peer *p, int slot, int reset);

/* log_line: append one line (without its newline) to the log. */
void	log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* conn_start: serve the accepted client fd on a thread of its own;
 * -1 when it cannot (fd is closed). */
int	conn_start(int fd);

#endif /* PROXY_H */
