/* SPDX-License-Identifier: ISC */
/*
 * faultproxy: an HTTP/1.1 proxy for the fault harness.  It sits between
 * clients and kpool-server, numbers the requests it reads (1, 2, ...),
 * and applies to each a fault drawn from --seed: drop the request
 * (closing the client, or leaving it hanging), drop the reply after the
 * server acted, delay the request or the reply, send the request twice,
 * hold it until a later one passes, or cut it short.  A control socket
 * changes the rates at run time; a log has one line per request.
 * docs/reliability.md ("The tools") is the reference.
 *
 *	faultproxy --upstream host:port [options]
 *	faultproxy --plan n [options]
 *	faultproxy ctl socket command [argument ...]
 */

#include <sys/socket.h>
#include <sys/un.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxy.h"

const char *const kind_names[K_COUNT] = {
	"none", "drop-request", "hang-request", "drop-reply",
	"delay-request", "delay-reply", "duplicate", "reorder", "cut",
	"tunnel",
};

struct proxy	px;
atomic_int	px_stop;

static volatile sig_atomic_t	got_signal;

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: faultproxy --upstream host:port [--listen host:port] "
	    "[--seed n]\n"
	    "\t[--faults on | off] [--drop-request p] [--hang-request p] "
	    "[--drop-reply p]\n"
	    "\t[--delay-request p] [--delay-reply p] [--duplicate p] "
	    "[--reorder p] [--cut p]\n"
	    "\t[--delay-max ms] [--hang-ms ms] [--reorder-window ms]\n"
	    "\t[--match 'method prefix'] [--seq from-to] "
	    "[--client-timeout ms]\n"
	    "\t[--upstream-timeout ms] [--cut-wait ms] "
	    "[--max-connections n]\n"
	    "\t[--log file] [--control socket]\n"
	    "       faultproxy --plan n [--seed n] [fault options]\n"
	    "       faultproxy ctl socket command [argument ...]\n");
	exit(2);
}

void
decide(const struct cfg *cf, uint64_t seed, uint64_t seq,
    const char *method, const char *target, struct decision *d)
{
	uint64_t	st = fault_stream(seed, FAULT_DOM_PROXY, seq);
	double		u = fault_unit(fault_next(&st)), acc = 0;
	int		k;

	memset(d, 0, sizeof(*d));
	d->x = fault_next(&st);
	d->kind = K_NONE;
	if (method != NULL && (!cf->on || (cf->seq_hi != 0 &&
	    (seq < cf->seq_lo || seq > cf->seq_hi)) ||
	    (cf->method[0] != '\0' && strcmp(cf->method, method) != 0) ||
	    strncmp(target, cf->prefix, strlen(cf->prefix)) != 0))
		return;
	for (k = K_NONE + 1; k < K_TUNNEL; k++) {
		acc += cf->rate[k];
		if (cf->rate[k] > 0 && u < acc) {
			d->kind = (enum kind)k;
			break;
		}
	}
	switch (d->kind) {
	case K_DELAY_REQUEST:
	case K_DELAY_REPLY:
		d->param = fault_range(d->x, 1, cf->delay_max);
		break;
	case K_HANG_REQUEST:
		d->param = cf->hang_ms;
		break;
	case K_DUPLICATE:
		d->param = d->x >> 63;
		break;
	case K_REORDER:
		d->param = cf->window_ms;
		break;
	default:
		break;
	}
}

void
param_str(const struct decision *d, char *buf, size_t len)
{
	switch (d->kind) {
	case K_DELAY_REQUEST:
	case K_DELAY_REPLY:
	case K_HANG_REQUEST:
		snprintf(buf, len, "ms=%" PRIu64, d->param);
		break;
	case K_DUPLICATE:
		snprintf(buf, len, "reply=%s", d->param ? "second" : "first");
		break;
	case K_REORDER:
		snprintf(buf, len, "window=%" PRIu64, d->param);
		break;
	case K_CUT:
		/* where: a function of d->x and the request's length */
		snprintf(buf, len, "at=%" PRIu64, d->x);
		break;
	default:
		snprintf(buf, len, "-");
		break;
	}
}

void
peer_add(struct peer *p)
{
	pthread_mutex_lock(&px.mu);
	p->prev = NULL;
	p->next = px.peers;
	if (px.peers != NULL)
		px.peers->prev = p;
	px.peers = p;
	px.npeers++;
	pthread_mutex_unlock(&px.mu);
}

void
peer_del(struct peer *p)
{
	pthread_mutex_lock(&px.mu);
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		px.peers = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	px.npeers--;
	pthread_cond_broadcast(&px.cv);
	pthread_mutex_unlock(&px.mu);
}

void
peer_set(struct peer *p, int slot, int fd)
{
	pthread_mutex_lock(&px.mu);
	p->fd[slot] = fd;
	if (atomic_load(&px_stop))
		shutdown(fd, SHUT_RDWR);
	pthread_mutex_unlock(&px.mu);
}

void
peer_close(struct peer *p, int slot, int reset)
{
	pthread_mutex_lock(&px.mu);
	if (p->fd[slot] != -1) {
		if (reset)
			abort_close(p->fd[slot]);
		else
			close(p->fd[slot]);
		p->fd[slot] = -1;
	}
	pthread_mutex_unlock(&px.mu);
}

void
log_line(const char *fmt, ...)
{
	char	line[1024];
	va_list	ap;
	int	n;

	if (px.logfd == -1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line) - 1)
		n = sizeof(line) - 2;	/* cut short: still one line */
	line[n++] = '\n';
	pthread_mutex_lock(&px.mu);
	if (write(px.logfd, line, (size_t)n) != n)
		warn("log");
	pthread_mutex_unlock(&px.mu);
}

/* Settings by name, for options, "set" and "rates". */
static const char *const knob_names[] = {
	"delay-max", "hang-ms", "reorder-window",
};

static uint64_t *
knob(struct cfg *cf, const char *name)
{
	if (strcmp(name, knob_names[0]) == 0)
		return &cf->delay_max;
	if (strcmp(name, knob_names[1]) == 0)
		return &cf->hang_ms;
	if (strcmp(name, knob_names[2]) == 0)
		return &cf->window_ms;
	return NULL;
}

static int
kind_named(const char *name)
{
	int	k;

	for (k = K_NONE + 1; k < K_TUNNEL; k++)
		if (strcmp(name, kind_names[k]) == 0)
			return k;
	return -1;
}

/*
 * cfg_set: set name (a fault's rate, or a knob in ms) to value in cf;
 * 0, or -1 with a reason in why.  The rates may sum to 1 at most.
 */
static int
cfg_set(struct cfg *cf, const char *name, const char *value, char *why,
    size_t whylen)
{
	uint64_t	*kv, v;
	double		 r, sum = 0;
	int		 k;

	if ((kv = knob(cf, name)) != NULL) {
		if (parse_u64(value, 1, 3600000, &v) == -1) {
			snprintf(why, whylen, "%s: %s is not 1 to 3600000 ms",
			    name, value);
			return -1;
		}
		*kv = v;
		return 0;
	}
	if ((k = kind_named(name)) == -1) {
		snprintf(why, whylen, "%s: no such fault or setting", name);
		return -1;
	}
	if (parse_rate(value, &r) == -1) {
		snprintf(why, whylen, "%s: %s is not a rate from 0 to 1",
		    name, value);
		return -1;
	}
	for (int i = K_NONE + 1; i < K_TUNNEL; i++)
		sum += i == k ? r : cf->rate[i];
	if (sum > 1 + 1e-9) {
		snprintf(why, whylen, "the rates would sum to %g, over 1",
		    sum);
		return -1;
	}
	cf->rate[k] = r;
	return 0;
}

/* cfg_match: "any", or "METHOD PREFIX" (METHOD "*" for any). */
static int
cfg_match(struct cfg *cf, char **w, int n, char *why, size_t whylen)
{
	if (n == 1 && strcmp(w[0], "any") == 0) {
		cf->method[0] = cf->prefix[0] = '\0';
		return 0;
	}
	if (n != 2 || strlen(w[0]) >= sizeof(cf->method) ||
	    strlen(w[1]) >= sizeof(cf->prefix) || w[1][0] != '/') {
		snprintf(why, whylen, "match: any, or a method (or *) and a "
		    "path prefix");
		return -1;
	}
	snprintf(cf->method, sizeof(cf->method), "%s",
	    strcmp(w[0], "*") == 0 ? "" : w[0]);
	snprintf(cf->prefix, sizeof(cf->prefix), "%s", w[1]);
	return 0;
}

static int
cfg_seq(struct cfg *cf, const char *s, char *why, size_t whylen)
{
	if (strcmp(s, "any") == 0) {
		cf->seq_lo = cf->seq_hi = 0;
		return 0;
	}
	if (parse_range(s, 1, UINT64_MAX - 1, &cf->seq_lo, &cf->seq_hi) ==
	    -1) {
		snprintf(why, whylen, "seq: any, N or FROM-TO");
		return -1;
	}
	return 0;
}

/* cfg_str: the whole setting as "name value" pairs. */
static void
cfg_str(const struct cfg *cf, char *buf, size_t len)
{
	size_t	n;
	int	k;

	n = (size_t)snprintf(buf, len, "seed %" PRIu64 " faults %s",
	    px.seed, cf->on ? "on" : "off");
	for (k = K_NONE + 1; k < K_TUNNEL && n < len; k++)
		n += (size_t)snprintf(buf + n, len - n, " %s %g",
		    kind_names[k], cf->rate[k]);
	if (n < len)
		n += (size_t)snprintf(buf + n, len - n, " delay-max %" PRIu64
		    " hang-ms %" PRIu64 " reorder-window %" PRIu64,
		    cf->delay_max, cf->hang_ms, cf->window_ms);
	if (n < len && cf->prefix[0] == '\0' && cf->method[0] == '\0')
		n += (size_t)snprintf(buf + n, len - n, " match any");
	else if (n < len)
		n += (size_t)snprintf(buf + n, len - n, " match %s %s",
		    cf->method[0] ? cf->method : "*", cf->prefix);
	if (n < len && cf->seq_hi == 0)
		n += (size_t)snprintf(buf + n, len - n, " seq any");
	else if (n < len)
		n += (size_t)snprintf(buf + n, len - n, " seq %" PRIu64
		    "-%" PRIu64, cf->seq_lo, cf->seq_hi);
	if (n >= len && len > 4)
		memcpy(buf + len - 4, "...", 4);
}

/*
 * The control protocol: a line in, a line out ("ok ..." or "error
 * ..."), any number of them on one connection.
 *
 *	rates			ok seed N faults on|off KIND RATE ... (all)
 *	set NAME VALUE		a fault's rate, or delay-max, hang-ms,
 *				reorder-window (ms)
 *	faults on|off		faults on or off, rates kept
 *	heal			the same as "faults off"
 *	match any | METHOD PREFIX	faults only for these requests
 *	seq any | N | FROM-TO	faults only for requests so numbered
 *	count			ok N: requests numbered so far
 *	wait N [MS]		ok N once N requests are numbered;
 *				error timeout N after MS (default: none)
 *	plan SEQ		ok SEQ FAULT PARAM: the fault the rates
 *				now draw for request SEQ (faults on or
 *				off, match and seq aside)
 *	stats			ok requests N connections N KIND N ...
 *
 * A change of the setting is logged as "# after N: COMMAND", N the
 * number of the last request before it.
 */
static void
ctl_command(char *line, char *out, size_t len)
{
	struct decision	 d;
	struct timespec	 ts;
	char		*w[4], why[160] = "", buf[700], prm[48], cmd[300];
	uint64_t	 n, ms = 0, seq, last;
	size_t		 o;
	int		 nw, changed = 0, k;

	snprintf(cmd, sizeof(cmd), "%s", line);
	if ((nw = split_words(line, w, 4)) <= 0) {
		snprintf(out, len, "error empty or too long a command");
		return;
	}
	pthread_mutex_lock(&px.mu);
	if (strcmp(w[0], "rates") == 0 && nw == 1) {
		cfg_str(&px.cfg, buf, sizeof(buf));
		snprintf(out, len, "ok %s", buf);
	} else if (strcmp(w[0], "set") == 0 && nw == 3) {
		if (cfg_set(&px.cfg, w[1], w[2], why, sizeof(why)) == 0)
			changed = 1;
	} else if (strcmp(w[0], "faults") == 0 && nw == 2 &&
	    (strcmp(w[1], "on") == 0 || strcmp(w[1], "off") == 0)) {
		px.cfg.on = w[1][1] == 'n';
		changed = 1;
	} else if (strcmp(w[0], "heal") == 0 && nw == 1) {
		px.cfg.on = 0;
		changed = 1;
	} else if (strcmp(w[0], "match") == 0 && nw >= 2) {
		if (cfg_match(&px.cfg, w + 1, nw - 1, why, sizeof(why)) == 0)
			changed = 1;
	} else if (strcmp(w[0], "seq") == 0 && nw == 2) {
		if (cfg_seq(&px.cfg, w[1], why, sizeof(why)) == 0)
			changed = 1;
	} else if (strcmp(w[0], "count") == 0 && nw == 1) {
		snprintf(out, len, "ok %" PRIu64, px.seq);
	} else if (strcmp(w[0], "wait") == 0 && (nw == 2 || nw == 3) &&
	    parse_u64(w[1], 0, UINT64_MAX, &n) == 0 &&
	    (nw == 2 || parse_u64(w[2], 0, 86400000, &ms) == 0)) {
		int64_t	deadline = nw == 3 ? now_ms() + (int64_t)ms : -1;

		while (px.seq < n && !atomic_load(&px_stop) &&
		    (deadline == -1 || left_ms(deadline) > 0)) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_nsec += 100000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&px.cv, &px.mu, &ts);
		}
		snprintf(out, len, "%s %" PRIu64, px.seq >= n ? "ok" :
		    "error timeout", px.seq);
	} else if (strcmp(w[0], "plan") == 0 && nw == 2 &&
	    parse_u64(w[1], 1, UINT64_MAX, &seq) == 0) {
		decide(&px.cfg, px.seed, seq, NULL, NULL, &d);
		param_str(&d, prm, sizeof(prm));
		snprintf(out, len, "ok %" PRIu64 " %s %s", seq,
		    kind_names[d.kind], prm);
	} else if (strcmp(w[0], "stats") == 0 && nw == 1) {
		o = (size_t)snprintf(buf, sizeof(buf), "requests %" PRIu64
		    " connections %" PRIu64, px.seq, px.nconn);
		for (k = 0; k < K_COUNT && o < sizeof(buf); k++)
			o += (size_t)snprintf(buf + o, sizeof(buf) - o,
			    " %s %" PRIu64, kind_names[k], px.count[k]);
		snprintf(out, len, "ok %s", buf);
	} else {
		snprintf(out, len, "error unknown command or arguments: %s "
		    "(see docs/reliability.md)", w[0]);
	}
	if (changed) {
		cfg_str(&px.cfg, buf, sizeof(buf));
		snprintf(out, len, "ok %s", buf);
	} else if (strncmp(out, "ok", 2) != 0 && strncmp(out, "error", 5) !=
	    0)
		snprintf(out, len, "error %s", why);
	last = px.seq;
	pthread_mutex_unlock(&px.mu);
	if (changed)
		log_line("# after %" PRIu64 ": %s", last, cmd);
}

struct ctl_peer {
	struct peer	peer;
};

static void *
ctl_main(void *arg)
{
	struct ctl_peer	*cp = arg;
	struct hbuf	 in = { NULL, 0, 0 };
	char		 out[1024], *nl;
	ssize_t		 n;
	size_t		 ll;

	for (;;) {
		while (in.len > 0 && (nl = memchr(in.p, '\n', in.len)) !=
		    NULL) {
			ll = (size_t)(nl - in.p);
			*nl = '\0';
			out[0] = '\0';
			ctl_command(in.p, out, sizeof(out) - 1);
			hbuf_consume(&in, ll + 1);
			ll = strlen(out);
			out[ll++] = '\n';
			if (io_send(cp->peer.fd[0], out, ll, now_ms() + 5000))
				goto out;
		}
		if ((n = io_fill(cp->peer.fd[0], &in, 4096, -1, &px_stop)) <=
		    0)
			break;
	}
out:
	hbuf_free(&in);
	peer_close(&cp->peer, 0, 0);
	peer_del(&cp->peer);
	free(cp);
	return NULL;
}

static void
ctl_start(int fd)
{
	pthread_attr_t	 attr;
	pthread_t	 t;
	struct ctl_peer	*cp;
	int		 i;

	if ((cp = calloc(1, sizeof(*cp))) == NULL) {
		close(fd);
		return;
	}
	for (i = 0; i < PEER_FDS; i++)
		cp->peer.fd[i] = -1;
	cp->peer.fd[0] = fd;
	peer_add(&cp->peer);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, ctl_main, cp) != 0) {
		peer_close(&cp->peer, 0, 0);
		peer_del(&cp->peer);
		free(cp);
	}
	pthread_attr_destroy(&attr);
}

/* ctl_client: "faultproxy ctl SOCKET WORD..." */
static int
ctl_client(int argc, char **argv)
{
	char	cmd[1024], reply[4096];
	size_t	n = 0;
	int	i, rc;

	if (argc < 4)
		usage();
	for (i = 3; i < argc; i++) {
		if (strlen(argv[i]) + 1 >= sizeof(cmd) - n)
			errx(2, "command too long");
		n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, "%s%s",
		    i > 3 ? " " : "", argv[i]);
	}
	if ((rc = fault_ctl(argv[2], cmd, reply, sizeof(reply), -1)) == -1)
		errx(1, "%s", reply);
	printf("%s\n", reply);
	return rc;
}

static void
on_signal(int sig)
{
	got_signal = sig;
}

/* stop: end every connection and wait (5 s at most) for the threads. */
static void
stop(void)
{
	struct timespec	 ts;
	struct peer	*p;
	int		 i;

	atomic_store(&px_stop, 1);
	pthread_mutex_lock(&px.mu);
	for (p = px.peers; p != NULL; p = p->next)
		for (i = 0; i < PEER_FDS; i++)
			if (p->fd[i] != -1)
				shutdown(p->fd[i], SHUT_RDWR);
	pthread_cond_broadcast(&px.cv);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += 5;
	while (px.npeers > 0)
		if (pthread_cond_timedwait(&px.cv, &px.mu, &ts) != 0)
			break;
	if (px.npeers > 0)
		warnx("%d connections still open at exit", px.npeers);
	pthread_mutex_unlock(&px.mu);
}

enum {
	O_UPSTREAM = 256, O_LISTEN, O_SEED, O_FAULTS, O_MATCH, O_SEQ,
	O_CLIENT_TO, O_UPSTREAM_TO, O_CUT_WAIT, O_MAXCONN, O_LOG, O_CONTROL,
	O_PLAN, O_KNOB, O_RATE = 512
};

int
main(int argc, char **argv)
{
	static struct option	 opts[32];
	struct sockaddr_storage	 lss;
	struct pollfd		 pfd[2];
	struct sigaction	 sa;
	pthread_condattr_t	 ca;
	sigset_t		 block, old;
	socklen_t		 llen;
	const char		*upstream = NULL, *listen_on = "127.0.0.1:0";
	const char		*logpath = NULL, *control = NULL;
	char			 why[256], buf[700], prm[48], *mw[3], mbuf[300];
	uint64_t		 v, plan = 0, maxconn = 512, i;
	int			 ch, k, n = 0, lfd, cfd = -1, port, fd, nw;

	if (argc >= 2 && strcmp(argv[1], "ctl") == 0)
		return ctl_client(argc, argv);
	for (k = K_NONE + 1; k < K_TUNNEL; k++)
		opts[n++] = (struct option){ kind_names[k], 1, NULL,
		    O_RATE + k };
	for (k = 0; k < 3; k++)
		opts[n++] = (struct option){ knob_names[k], 1, NULL,
		    O_KNOB + k };
	opts[n++] = (struct option){ "upstream", 1, NULL, O_UPSTREAM };
	opts[n++] = (struct option){ "listen", 1, NULL, O_LISTEN };
	opts[n++] = (struct option){ "seed", 1, NULL, O_SEED };
	opts[n++] = (struct option){ "faults", 1, NULL, O_FAULTS };
	opts[n++] = (struct option){ "match", 1, NULL, O_MATCH };
	opts[n++] = (struct option){ "seq", 1, NULL, O_SEQ };
	opts[n++] = (struct option){ "client-timeout", 1, NULL, O_CLIENT_TO };
	opts[n++] = (struct option){ "upstream-timeout", 1, NULL,
	    O_UPSTREAM_TO };
	opts[n++] = (struct option){ "cut-wait", 1, NULL, O_CUT_WAIT };
	opts[n++] = (struct option){ "max-connections", 1, NULL, O_MAXCONN };
	opts[n++] = (struct option){ "log", 1, NULL, O_LOG };
	opts[n++] = (struct option){ "control", 1, NULL, O_CONTROL };
	opts[n++] = (struct option){ "plan", 1, NULL, O_PLAN };
	opts[n] = (struct option){ NULL, 0, NULL, 0 };

	px.cfg.on = 1;
	px.cfg.delay_max = 200;
	px.cfg.hang_ms = 5000;
	px.cfg.window_ms = 200;
	px.client_ms = 30000;
	px.upstream_ms = 30000;
	px.cut_wait_ms = 1000;
	px.logfd = -1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch >= O_RATE && ch < O_RATE + K_TUNNEL) {
			if (cfg_set(&px.cfg, kind_names[ch - O_RATE], optarg,
			    why, sizeof(why)) == -1)
				errx(2, "%s", why);
			continue;
		}
		if (ch >= O_KNOB && ch < O_KNOB + 3) {
			if (cfg_set(&px.cfg, knob_names[ch - O_KNOB], optarg,
			    why, sizeof(why)) == -1)
				errx(2, "%s", why);
			continue;
		}
		switch (ch) {
		case O_UPSTREAM:
			upstream = optarg;
			break;
		case O_LISTEN:
			listen_on = optarg;
			break;
		case O_SEED:
			if (parse_u64(optarg, 0, UINT64_MAX, &px.seed) == -1)
				errx(2, "--seed: %s is not a number", optarg);
			break;
		case O_FAULTS:
			if (strcmp(optarg, "on") != 0 &&
			    strcmp(optarg, "off") != 0)
				errx(2, "--faults: on or off");
			px.cfg.on = optarg[1] == 'n';
			break;
		case O_MATCH:
			snprintf(mbuf, sizeof(mbuf), "%s", optarg);
			if ((nw = split_words(mbuf, mw, 3)) <= 0 ||
			    cfg_match(&px.cfg, mw, nw, why, sizeof(why)) == -1)
				errx(2, "--match: 'METHOD PREFIX' (METHOD * "
				    "for any)");
			break;
		case O_SEQ:
			if (cfg_seq(&px.cfg, optarg, why, sizeof(why)) == -1)
				errx(2, "--%s", why);
			break;
		case O_CLIENT_TO:
		case O_UPSTREAM_TO:
		case O_CUT_WAIT:
			if (parse_u64(optarg, 1, 3600000, &v) == -1)
				errx(2, "%s: 1 to 3600000 ms", optarg);
			if (ch == O_CLIENT_TO)
				px.client_ms = (int64_t)v;
			else if (ch == O_UPSTREAM_TO)
				px.upstream_ms = (int64_t)v;
			else
				px.cut_wait_ms = (int64_t)v;
			break;
		case O_MAXCONN:
			if (parse_u64(optarg, 1, 100000, &maxconn) == -1)
				errx(2, "--max-connections: 1 to 100000");
			break;
		case O_LOG:
			logpath = optarg;
			break;
		case O_CONTROL:
			control = optarg;
			break;
		case O_PLAN:
			if (parse_u64(optarg, 1, 100000000, &plan) == -1)
				errx(2, "--plan: 1 to 100000000 requests");
			break;
		default:
			usage();
		}
	}
	if (optind != argc || (upstream == NULL && plan == 0))
		usage();
	if (plan > 0) {
		struct decision	d;

		for (i = 1; i <= plan; i++) {
			decide(&px.cfg, px.seed, i, NULL, NULL, &d);
			param_str(&d, prm, sizeof(prm));
			printf("%" PRIu64 " %s %s\n", i, kind_names[d.kind],
			    prm);
		}
		return fflush(stdout) == 0 ? 0 : 1;
	}

	if (tcp_resolve(upstream, 0, &px.up, &px.uplen, why,
	    sizeof(why)) == -1)
		errx(2, "--upstream %s", why);
	if (tcp_resolve(listen_on, 1, &lss, &llen, why, sizeof(why)) == -1)
		errx(2, "--listen %s", why);
	pthread_mutex_init(&px.mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&px.cv, &ca);
	pthread_condattr_destroy(&ca);
	if (logpath != NULL && (px.logfd = open(logpath, O_WRONLY |
	    O_CREAT | O_APPEND | O_CLOEXEC, 0644)) == -1)
		err(1, "%s", logpath);
	if ((lfd = tcp_listen(&lss, llen, &port)) == -1)
		err(1, "listen on %s", listen_on);
	if (control != NULL && (cfd = unix_listen(control)) == -1)
		err(1, "%s", control);

	/* the signals stop the main thread's poll, and only it */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	pthread_sigmask(SIG_BLOCK, &block, &old);

	cfg_str(&px.cfg, buf, sizeof(buf));
	log_line("# faultproxy %s", buf);
	printf("%d\n", port);
	if (fflush(stdout) != 0)
		err(1, "stdout");
	fprintf(stderr, "faultproxy: listening on %s (port %d), upstream %s, "
	    "%s\n", listen_on, port, upstream, buf);

	while (!got_signal) {
		pfd[0].fd = lfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = cfd;
		pfd[1].events = POLLIN;
		if (ppoll(pfd, cfd == -1 ? 1 : 2, NULL, &old) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "poll");
		}
		if ((pfd[0].revents & POLLIN) && (fd = accept4(lfd, NULL, NULL,
		    SOCK_CLOEXEC)) != -1) {
			pthread_mutex_lock(&px.mu);
			k = px.npeers >= (int)maxconn;
			pthread_mutex_unlock(&px.mu);
			if (k)
				abort_close(fd);
			else
				(void)conn_start(fd);
		}
		if (cfd != -1 && (pfd[1].revents & POLLIN) &&
		    (fd = accept4(cfd, NULL, NULL, SOCK_CLOEXEC)) != -1)
			ctl_start(fd);
	}
	fprintf(stderr, "faultproxy: signal %d, stopping\n", (int)got_signal);
	close(lfd);
	if (cfd != -1) {
		close(cfd);
		unlink(control);
	}
	stop();
	log_line("# stopped after %" PRIu64 " requests", px.seq);
	if (px.logfd != -1)
		close(px.logfd);
	return 0;
}
