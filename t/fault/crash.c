/* SPDX-License-Identifier: ISC */
/*
 * faultcrash: the crash injector of the fault harness.  It runs one
 * target (kpool-server, kpoolfs), and at moments drawn from --seed (a
 * number of requests seen by faultproxy, or a delay) kills it with
 * SIGKILL and starts it again with the same command line (so on the
 * same files and port), then waits until it serves again.  A control
 * socket crashes, restarts, stops and starts it on demand, so that a
 * scenario runner can put a crash at a step of its own.
 * docs/reliability.md ("The tools") is the reference.
 *
 *	faultcrash [options] -- command [argument ...]
 *	faultcrash --plan n [--seed n] --after-requests a-b | --after-ms a-b
 *	faultcrash ctl socket command
 */

#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"

enum ready { READY_LINE, READY_MOUNT, READY_HTTP };

/*
 * The target is started, killed and reaped by the main thread alone:
 * PR_SET_PDEATHSIG follows the thread that forked, so a target started
 * by a short-lived thread would die with it.  The control threads hand
 * their commands to the main thread (ctlq).  So every field
 * here but healed is the main thread's.
 */
static struct {
	pid_t		 pid;		/* the target, 0 when down */
	int		 outfd;		/* its stdout (READY_LINE or a
					   {port}), -1 */
	int		 port;		/* the port it first printed, or 0
					   before, -1 without {port} */
	uint64_t	 events;	/* log lines so far */
	uint64_t	 crashes;
	uint64_t	 restarts;
	uint64_t	 died;		/* exits nobody asked for */
	int		 status;	/* its last exit, as a shell says */
	atomic_int	 healed;	/* no more seeded crashes */
	char		**argv;		/* the command, {port} unreplaced */
	enum ready	 ready;
	char		 where[PATH_MAX];	/* the mount point (realpath)
						   or host:port to probe */
	int64_t		 ready_ms;
	int64_t		 stop_ms;
	int		 logfd;
} cr;

/* One control command at a time, for the main thread to carry out. */
static struct {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;	/* a command posted, or done */
	char		*cmd;	/* mu: posted, NULL when none */
	char		*out;	/* mu: its reply */
	size_t		 len;
	int		 taken;	/* mu: the main thread works on it */
	int		 done;	/* mu */
} ctlq = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL,
    0, 0, 0 };

static atomic_int		stopping;
static volatile sig_atomic_t	got_signal;

static void
on_signal(int sig)
{
	got_signal = sig;
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: faultcrash [--seed n] [--count n] [--after-requests a-b "
	    "--proxy socket]\n"
	    "\t[--after-ms a-b] [--ready line | mount:dir | "
	    "http:host:port]\n"
	    "\t[--ready-timeout ms] [--stop-timeout ms] [--control socket] "
	    "[--log file]\n"
	    "\t-- command [argument ...]\n"
	    "       faultcrash --plan n [--seed n] --after-requests a-b | "
	    "--after-ms a-b\n"
	    "       faultcrash ctl socket command\n");
	exit(2);
}

/* event: one line of the log, "N EVENT TRIGGER OLD NEW MS". */
static void
event(const char *what, const char *trigger, pid_t old, pid_t new,
    int64_t ms)
{
	char	line[256], o[24] = "-", n[24] = "-", m[24] = "-";
	int	len;

	cr.events++;
	if (old > 0)
		snprintf(o, sizeof(o), "%ld", (long)old);
	if (new > 0)
		snprintf(n, sizeof(n), "%ld", (long)new);
	if (ms >= 0)
		snprintf(m, sizeof(m), "%" PRId64, ms);
	len = snprintf(line, sizeof(line), "%" PRIu64 " %s %s %s %s %s\n",
	    cr.events, what, trigger, o, n, m);
	if (cr.logfd != -1 && len > 0 && (size_t)len < sizeof(line) &&
	    write(cr.logfd, line, (size_t)len) != len)
		warn("log");
}

/* shell_status: a wait status as a shell reports it. */
static int
shell_status(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/*
 * is_mounted: dir (a realpath) is a mount point in this namespace;
 * /proc/self/mountinfo is read, since a dead FUSE mount fails stat(2).
 */
static int
is_mounted(const char *dir)
{
	FILE	*f;
	char	 line[8192], mp[PATH_MAX], *p, *q;
	int	 found = 0, field;

	if ((f = fopen("/proc/self/mountinfo", "re")) == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		for (p = line, field = 0; field < 4 && p != NULL; field++)
			if ((p = strchr(p, ' ')) != NULL)
				p++;
		if (p == NULL)
			continue;
		/* the mount point, with \NNN octal escapes */
		for (q = mp; *p != ' ' && *p != '\0' &&
		    q < mp + sizeof(mp) - 1; q++) {
			if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' &&
			    p[2] >= '0' && p[2] <= '7' && p[3] >= '0' &&
			    p[3] <= '7') {
				*q = (char)((p[1] - '0') * 64 + (p[2] - '0') *
				    8 + (p[3] - '0'));
				p += 4;
			} else
				*q = *p++;
		}
		*q = '\0';
		found = strcmp(mp, dir) == 0;
	}
	fclose(f);
	return found;
}

/* run: a helper command to its end, its output dropped; its status. */
static int
run(const char *const *argv)
{
	posix_spawn_file_actions_t	fa;
	pid_t				pid;
	int				st = -1;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv,
	    environ) == 0)
		while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
			;
	posix_spawn_file_actions_destroy(&fa);
	return st;
}

/* unmount: undo a dead or live mount at cr.where: fusermount3 -u, then
 * lazily (-z), then umount -l; 0 when it is gone. */
static int
unmount(void)
{
	const char *const	u[] = { "fusermount3", "-u", cr.where, NULL };
	const char *const	z[] = { "fusermount3", "-uz", cr.where, NULL };
	const char *const	l[] = { "umount", "-l", cr.where, NULL };

	if (is_mounted(cr.where))
		run(u);
	if (is_mounted(cr.where))
		run(z);
	if (is_mounted(cr.where))
		run(l);
	return is_mounted(cr.where) ? -1 : 0;
}

/* http_ok: GET /healthz at cr.where (host:port) answers 200. */
static int
http_ok(const char *hostport)
{
	static const char	 req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\n\r\n";
	struct sockaddr_storage	 ss;
	struct hbuf		 b = { NULL, 0, 0 };
	socklen_t		 len;
	char			 why[128];
	int			 fd, ok = 0;

	if (tcp_resolve(hostport, 0, &ss, &len, why, sizeof(why)) == -1 ||
	    (fd = tcp_connect((struct sockaddr *)&ss, len, now_ms() + 500)) ==
	    -1)
		return 0;
	if (io_send(fd, req, sizeof(req) - 1, now_ms() + 500) == 0)
		while (b.len < 12 && io_fill(fd, &b, 4096, now_ms() + 1000,
		    NULL) > 0)
			;
	ok = b.len >= 12 && memcmp(b.p, "HTTP/1.", 7) == 0 &&
	    memcmp(b.p + 8, " 200", 4) == 0;
	hbuf_free(&b);
	close(fd);
	return ok;
}

/* subst: s with each "{port}" replaced by port (malloc'd), or NULL. */
static char *
subst(const char *s, int port)
{
	const char	*p;
	char		 num[16], *out;
	size_t		 n = 0, cap;

	snprintf(num, sizeof(num), "%d", port < 0 ? 0 : port);
	cap = strlen(s) + 1;
	for (p = s; (p = strstr(p, "{port}")) != NULL; p += 6)
		cap += strlen(num);
	if ((out = malloc(cap)) == NULL)
		return NULL;
	while (*s != '\0') {
		if (strncmp(s, "{port}", 6) == 0) {
			memcpy(out + n, num, strlen(num));
			n += strlen(num);
			s += 6;
		} else
			out[n++] = *s++;
	}
	out[n] = '\0';
	return out;
}

static int
has_port(void)
{
	char	**a;

	for (a = cr.argv; *a != NULL; a++)
		if (strstr(*a, "{port}") != NULL)
			return 1;
	return strstr(cr.where, "{port}") != NULL;
}

/* first_line: the first line the target writes to its stdout. */
static int
first_line(int fd, int64_t deadline, char *buf, size_t cap)
{
	struct pollfd	pfd = { .fd = fd, .events = POLLIN };
	size_t		n = 0;
	ssize_t		r;

	while (n < cap - 1) {
		if (poll(&pfd, 1, left_ms(deadline)) != 1)
			return -1;
		if ((r = read(fd, buf + n, 1)) == -1 && errno == EAGAIN)
			continue;
		if (r != 1)
			return -1;
		if (buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = '\0';
	return 0;
}

/* down: the target gone: reaped, its stdout closed. */
static void
down(int st)
{
	cr.status = shell_status(st);
	cr.pid = 0;
	if (cr.outfd != -1) {
		close(cr.outfd);
		cr.outfd = -1;
	}
}

/*
 * launch: start the target and wait (ready-timeout) until it serves;
 * 0, or -1 with the target killed again and a reason on
 * stderr.
 */
static int
launch(void)
{
	char		**argv = NULL, line[64], *where = NULL;
	int		  p[2] = { -1, -1 }, n, i, st, rc = -1, port;
	int64_t		  deadline = now_ms() + cr.ready_ms;
	pid_t		  pid;

	for (n = 0; cr.argv[n] != NULL; n++)
		;
	if ((argv = calloc((size_t)n + 1, sizeof(*argv))) == NULL)
		goto out;
	for (i = 0; i < n; i++)
		if ((argv[i] = subst(cr.argv[i], cr.port)) == NULL)
			goto out;
	if ((where = subst(cr.where, cr.port)) == NULL)
		goto out;
	/* the read end does not block: reap() drains it */
	if ((cr.ready == READY_LINE || cr.port != -1) &&
	    (pipe2(p, O_CLOEXEC) == -1 ||
	    fcntl(p[0], F_SETFL, O_NONBLOCK) == -1))
		goto out;
	if ((pid = fork()) == -1)
		goto out;
	if (pid == 0) {
		/* the target ends with us, even after a SIGKILL of ours */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		signal(SIGPIPE, SIG_DFL);
		if (p[1] != -1 && dup2(p[1], 1) == -1)
			_exit(127);
		execvp(argv[0], argv);
		warn("%s", argv[0]);
		_exit(127);
	}
	cr.pid = pid;
	if (p[1] != -1) {
		close(p[1]);
		p[1] = -1;
		cr.outfd = p[0];
		p[0] = -1;
		if (first_line(cr.outfd, deadline, line, sizeof(line)) == -1) {
			warnx("%s printed no line", argv[0]);
			goto fail;
		}
		if (cr.port != -1) {
			port = atoi(line);
			if (port <= 0 || port > 65535 || (cr.port > 0 &&
			    port != cr.port)) {
				warnx("%s printed \"%s\", not its port %d",
				    argv[0], line, cr.port);
				goto fail;
			}
			cr.port = port;
			if (where != NULL && strstr(cr.where, "{port}")) {
				free(where);
				if ((where = subst(cr.where, cr.port)) == NULL)
					goto fail;
			}
		}
	}
	while (cr.ready != READY_LINE) {
		if (cr.ready == READY_MOUNT && is_mounted(where))
			break;
		if (cr.ready == READY_HTTP && http_ok(where))
			break;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			down(st);
			warnx("%s exited (%d) before it served", argv[0],
			    cr.status);
			goto out;
		}
		if (left_ms(deadline) == 0) {
			warnx("%s did not serve within %" PRId64 " ms",
			    argv[0], cr.ready_ms);
			goto fail;
		}
		poll(NULL, 0, 20);
	}
	rc = 0;
	goto out;
fail:
	kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
		;
	down(st);
out:
	if (p[0] != -1)
		close(p[0]);
	if (p[1] != -1)
		close(p[1]);
	for (i = 0; argv != NULL && i < n; i++)
		free(argv[i]);
	free(argv);
	free(where);
	return rc;
}

/*
 * end: end the target with sig, SIGKILL after stop-timeout when sig is
 * SIGTERM, and unmount its mount.  Its exit status.
 */
static int
end(int sig)
{
	int64_t	deadline = now_ms() + cr.stop_ms;
	pid_t	r;
	int	st = 0;

	if (cr.pid <= 0)
		return cr.status;
	kill(cr.pid, sig);
	while ((r = waitpid(cr.pid, &st, WNOHANG)) == 0 ||
	    (r == -1 && errno == EINTR)) {
		if (sig != SIGKILL && left_ms(deadline) == 0) {
			warnx("pid %ld still ran %" PRId64 " ms after signal "
			    "%d: killed", (long)cr.pid, cr.stop_ms, sig);
			kill(cr.pid, SIGKILL);
			sig = SIGKILL;
		}
		poll(NULL, 0, 10);
	}
	down(st);
	if (cr.ready == READY_MOUNT && unmount() == -1)
		warnx("%s is still mounted", cr.where);
	return cr.status;
}

/*
 * bounce: what "crash" (SIGKILL) and "restart" (SIGTERM) do: end the
 * target, start it again, wait until it serves.  0 or -1.
 */
static int
bounce(int sig, const char *trigger, pid_t *old)
{
	int64_t	t0 = now_ms();

	*old = cr.pid;
	end(sig);
	if (sig == SIGKILL)
		cr.crashes++;
	else
		cr.restarts++;
	if (launch() == -1) {
		event(sig == SIGKILL ? "crash" : "restart", trigger, *old, 0,
		    -1);
		return -1;
	}
	event(sig == SIGKILL ? "crash" : "restart", trigger, *old, cr.pid,
	    now_ms() - t0);
	return 0;
}

/* reap: notice a target that exited on its own. */
static void
reap(void)
{
	char	trig[32];
	pid_t	old = cr.pid;
	int	st;

	if (cr.pid > 0 && waitpid(cr.pid, &st, WNOHANG) == cr.pid) {
		down(st);
		cr.died++;
		snprintf(trig, sizeof(trig), "status=%d", cr.status);
		event("died", trig, old, 0, -1);
		warnx("pid %ld exited on its own (%d)", (long)old, cr.status);
		/* a dead FUSE mount is in the way of a start */
		if (cr.ready == READY_MOUNT && unmount() == -1)
			warnx("%s is still mounted", cr.where);
	}
	/* what the target writes after its first line is dropped */
	if (cr.outfd != -1) {
		char	drop[4096];

		while (read(cr.outfd, drop, sizeof(drop)) > 0)
			;
	}
}

/*
 * The control protocol, a line in and a line out:
 *
 *	crash		ok crash OLD NEW: SIGKILL, start again, serving
 *	restart		ok restart OLD NEW: SIGTERM, start again, serving
 *	kill		ok kill OLD: SIGKILL, and leave it down
 *	stop		ok stop OLD STATUS: SIGTERM, and leave it down
 *	start		ok start NEW: start it when down, serving
 *	pid		ok PID (0 when down)
 *	port		ok PORT (0 before the first start)
 *	heal		ok: no more seeded crashes
 *	count		ok crashes N restarts N died N
 */
static void
ctl_command(char *line, char *out, size_t len)
{
	char	*w[2];
	pid_t	 old;
	int	 nw, st;

	if ((nw = split_words(line, w, 2)) != 1) {
		snprintf(out, len, "error one word, please");
		return;
	}
	if (strcmp(w[0], "heal") == 0) {
		atomic_store(&cr.healed, 1);
		snprintf(out, len, "ok");
		return;
	}
	reap();
	if (strcmp(w[0], "crash") == 0 || strcmp(w[0], "restart") == 0) {
		if (bounce(w[0][0] == 'c' ? SIGKILL : SIGTERM, "ctl", &old) ==
		    0)
			snprintf(out, len, "ok %s %ld %ld", w[0], (long)old,
			    (long)cr.pid);
		else
			snprintf(out, len, "error %s: it did not start again",
			    w[0]);
	} else if (strcmp(w[0], "kill") == 0 || strcmp(w[0], "stop") == 0) {
		old = cr.pid;
		st = end(w[0][0] == 'k' ? SIGKILL : SIGTERM);
		if (w[0][0] == 'k')
			cr.crashes++;
		event(w[0], "ctl", old, 0, -1);
		if (w[0][0] == 'k')
			snprintf(out, len, "ok kill %ld", (long)old);
		else
			snprintf(out, len, "ok stop %ld %d", (long)old, st);
	} else if (strcmp(w[0], "start") == 0) {
		if (cr.pid > 0)
			snprintf(out, len, "error it runs (pid %ld)",
			    (long)cr.pid);
		else if (launch() == 0) {
			event("start", "ctl", 0, cr.pid, -1);
			snprintf(out, len, "ok start %ld", (long)cr.pid);
		} else
			snprintf(out, len, "error start: it did not serve");
	} else if (strcmp(w[0], "pid") == 0) {
		snprintf(out, len, "ok %ld", (long)cr.pid);
	} else if (strcmp(w[0], "port") == 0) {
		snprintf(out, len, "ok %d", cr.port < 0 ? 0 : cr.port);
	} else if (strcmp(w[0], "count") == 0) {
		snprintf(out, len, "ok crashes %" PRIu64 " restarts %" PRIu64
		    " died %" PRIu64, cr.crashes, cr.restarts, cr.died);
	} else
		snprintf(out, len, "error unknown command: %s (see "
		    "docs/reliability.md)", w[0]);
}

/* post: have the main thread carry out a control command (all but
 * heal, which any thread may). */
static void
post(char *line, char *out, size_t len)
{
	struct timespec	ts;

	if (strcmp(line, "heal") == 0) {
		ctl_command(line, out, len);
		return;
	}
	pthread_mutex_lock(&ctlq.mu);
	while (ctlq.cmd != NULL && !atomic_load(&stopping))
		pthread_cond_wait(&ctlq.cv, &ctlq.mu);
	if (atomic_load(&stopping)) {
		snprintf(out, len, "error stopping");
		pthread_mutex_unlock(&ctlq.mu);
		return;
	}
	ctlq.cmd = line;
	ctlq.out = out;
	ctlq.len = len;
	ctlq.taken = 0;
	ctlq.done = 0;
	pthread_cond_broadcast(&ctlq.cv);
	while (!ctlq.done) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec++;
		pthread_cond_timedwait(&ctlq.cv, &ctlq.mu, &ts);
		if (!ctlq.done && !ctlq.taken && atomic_load(&stopping)) {
			/* the main thread takes no more */
			ctlq.cmd = NULL;
			snprintf(out, len, "error stopping");
			break;
		}
	}
	pthread_cond_broadcast(&ctlq.cv);
	pthread_mutex_unlock(&ctlq.mu);
}

static void *
ctl_main(void *arg)
{
	int		 fd = (int)(intptr_t)arg;
	struct hbuf	 in = { NULL, 0, 0 };
	char		 out[512], *nl;
	size_t		 ll;

	while (io_fill(fd, &in, 4096, -1, &stopping) > 0) {
		while ((nl = memchr(in.p, '\n', in.len)) != NULL) {
			ll = (size_t)(nl - in.p);
			*nl = '\0';
			post(in.p, out, sizeof(out) - 1);
			hbuf_consume(&in, ll + 1);
			ll = strlen(out);
			out[ll++] = '\n';
			if (io_send(fd, out, ll, now_ms() + 5000) == -1)
				goto out;
		}
	}
out:
	hbuf_free(&in);
	close(fd);
	return NULL;
}

/* ctl_accept: serve the control socket, a thread per connection. */
static void *
ctl_accept(void *arg)
{
	pthread_attr_t	attr;
	pthread_t	t;
	struct pollfd	pfd = { .fd = (int)(intptr_t)arg, .events = POLLIN };
	int		fd;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	while (!atomic_load(&stopping)) {
		if (poll(&pfd, 1, 100) != 1 ||
		    (fd = accept4(pfd.fd, NULL, NULL, SOCK_CLOEXEC)) == -1)
			continue;
		if (pthread_create(&t, &attr, ctl_main, (void *)(intptr_t)fd))
			close(fd);
	}
	pthread_attr_destroy(&attr);
	return NULL;
}

/* tick: wait ms (100 at most); then look after the target.  0 when it
 * is time to stop. */
static int
tick(int ms)
{
	struct timespec	 ts;
	char		*cmd;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (long)(ms < 0 || ms > 100 ? 100 : ms) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&ctlq.mu);
	if (ctlq.cmd == NULL || ctlq.done)
		pthread_cond_timedwait(&ctlq.cv, &ctlq.mu, &ts);
	cmd = ctlq.done || atomic_load(&stopping) ? NULL : ctlq.cmd;
	if (cmd != NULL)
		ctlq.taken = 1;
	pthread_mutex_unlock(&ctlq.mu);
	if (cmd != NULL) {
		ctl_command(cmd, ctlq.out, ctlq.len);
		pthread_mutex_lock(&ctlq.mu);
		ctlq.cmd = NULL;
		ctlq.done = 1;
		pthread_cond_broadcast(&ctlq.cv);
		pthread_mutex_unlock(&ctlq.mu);
	}
	reap();
	if (got_signal)
		atomic_store(&stopping, 1);
	return !atomic_load(&stopping);
}

/* The seeded moments: crash i comes after_requests (cumulative) or
 * after_ms (from the last start) later, drawn from its own stream. */
static uint64_t	lo, hi;
static int	by_requests;

static uint64_t
moment(uint64_t seed, uint64_t i)
{
	uint64_t	st = fault_stream(seed, FAULT_DOM_CRASH, i);

	return fault_range(fault_next(&st), lo, hi);
}

/* await: wait for the moment of crash i; 1 when it came, 0 at stop
 * or heal. */
static int
await(const char *proxy, uint64_t mark, uint64_t ms)
{
	int64_t	deadline = now_ms() + (int64_t)ms;
	char	cmd[64], reply[128];
	int	rc = 0;

	for (;;) {
		/* a proxy not there (yet) is asked again 100 ms later */
		if (atomic_load(&cr.healed) || !tick(by_requests ?
		    (rc == -1 ? 100 : 0) : left_ms(deadline)))
			return 0;
		if (!by_requests && left_ms(deadline) == 0)
			return 1;
		if (!by_requests)
			continue;
		snprintf(cmd, sizeof(cmd), "wait %" PRIu64 " 200", mark);
		if ((rc = fault_ctl(proxy, cmd, reply, sizeof(reply), 2000)) ==
		    0)
			return 1;
	}
}

enum {
	O_SEED = 256, O_COUNT, O_AFTER_REQ, O_PROXY, O_AFTER_MS, O_READY,
	O_READY_TO, O_STOP_TO, O_CONTROL, O_LOG, O_PLAN
};

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seed", 1, NULL, O_SEED },
		{ "count", 1, NULL, O_COUNT },
		{ "after-requests", 1, NULL, O_AFTER_REQ },
		{ "proxy", 1, NULL, O_PROXY },
		{ "after-ms", 1, NULL, O_AFTER_MS },
		{ "ready", 1, NULL, O_READY },
		{ "ready-timeout", 1, NULL, O_READY_TO },
		{ "stop-timeout", 1, NULL, O_STOP_TO },
		{ "control", 1, NULL, O_CONTROL },
		{ "log", 1, NULL, O_LOG },
		{ "plan", 1, NULL, O_PLAN },
		{ NULL, 0, NULL, 0 }
	};
	struct sigaction	 sa;
	pthread_t		 acc;
	const char		*proxy = NULL, *control = NULL, *logpath = NULL;
	char			 reply[1024], trig[48], hdr[1024];
	uint64_t		 seed = 0, count = 0, plan = 0, v, i, mark = 0;
	size_t			 hn;
	pid_t			 old;
	int			 ch, mode = 0, cfd = -1, rc, a;

	if (argc >= 2 && strcmp(argv[1], "ctl") == 0) {
		if (argc != 4)
			usage();
		if ((rc = fault_ctl(argv[2], argv[3], reply, sizeof(reply),
		    -1)) == -1)
			errx(1, "%s", reply);
		printf("%s\n", reply);
		return rc;
	}
	cr.ready_ms = 20000;
	cr.stop_ms = 20000;
	cr.logfd = -1;
	cr.outfd = -1;
	cr.ready = READY_LINE;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case O_SEED:
			if (parse_u64(optarg, 0, UINT64_MAX, &seed) == -1)
				errx(2, "--seed: %s is not a number", optarg);
			break;
		case O_COUNT:
			if (parse_u64(optarg, 0, UINT32_MAX, &count) == -1)
				errx(2, "--count: %s is not a number", optarg);
			break;
		case O_AFTER_REQ:
		case O_AFTER_MS:
			if (mode != 0 || parse_range(optarg, 1, 86400000, &lo,
			    &hi) == -1)
				errx(2, "--after-requests or --after-ms, once: "
				    "A-B, 1 to 86400000");
			mode = ch;
			by_requests = ch == O_AFTER_REQ;
			break;
		case O_PROXY:
			proxy = optarg;
			break;
		case O_READY:
			if (strcmp(optarg, "line") == 0)
				cr.ready = READY_LINE;
			else if (strncmp(optarg, "mount:", 6) == 0) {
				cr.ready = READY_MOUNT;
				if (realpath(optarg + 6, cr.where) == NULL)
					err(2, "--ready %s", optarg);
			} else if (strncmp(optarg, "http:", 5) == 0 &&
			    strlen(optarg + 5) < sizeof(cr.where)) {
				cr.ready = READY_HTTP;
				snprintf(cr.where, sizeof(cr.where), "%s",
				    optarg + 5);
			} else
				errx(2, "--ready line, mount:DIR or "
				    "http:HOST:PORT");
			break;
		case O_READY_TO:
		case O_STOP_TO:
			if (parse_u64(optarg, 1, 3600000, &v) == -1)
				errx(2, "%s: 1 to 3600000 ms", optarg);
			*(ch == O_READY_TO ? &cr.ready_ms : &cr.stop_ms) =
			    (int64_t)v;
			break;
		case O_CONTROL:
			control = optarg;
			break;
		case O_LOG:
			logpath = optarg;
			break;
		case O_PLAN:
			if (parse_u64(optarg, 1, 100000000, &plan) == -1)
				errx(2, "--plan: 1 to 100000000");
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (plan > 0) {
		if (mode == 0 || argc != 0)
			usage();
		for (i = 1; i <= plan; i++) {
			mark = by_requests ? mark + moment(seed, i) :
			    moment(seed, i);
			printf("%" PRIu64 " %s=%" PRIu64 "\n", i, by_requests ?
			    "requests" : "ms", mark);
		}
		return fflush(stdout) == 0 ? 0 : 1;
	}
	if (argc < 1 || (by_requests && proxy == NULL))
		usage();
	cr.argv = argv;
	cr.port = has_port() ? 0 : -1;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	if (logpath != NULL && (cr.logfd = open(logpath, O_WRONLY | O_CREAT |
	    O_APPEND | O_CLOEXEC, 0644)) == -1)
		err(1, "%s", logpath);
	if (control != NULL && (cfd = unix_listen(control)) == -1)
		err(1, "%s", control);
	hn = (size_t)snprintf(hdr, sizeof(hdr), "# faultcrash seed %" PRIu64
	    " count %" PRIu64 " %s %" PRIu64 "-%" PRIu64 ":", seed, count,
	    mode == O_AFTER_REQ ? "after-requests" : mode == O_AFTER_MS ?
	    "after-ms" : "on-demand", lo, hi);
	for (a = 0; a < argc && hn < sizeof(hdr); a++)
		hn += (size_t)snprintf(hdr + hn, sizeof(hdr) - hn, " %s",
		    argv[a]);
	if (hn >= sizeof(hdr) - 1)
		hn = sizeof(hdr) - 2;
	hdr[hn++] = '\n';
	if (cr.logfd != -1 && write(cr.logfd, hdr, hn) != (ssize_t)hn)
		warn("log");

	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	rc = launch();
	if (rc == 0)
		event("start", "-", 0, cr.pid, -1);
	if (rc == -1) {
		if (cfd != -1)
			unlink(control);
		errx(1, "%s did not start", argv[0]);
	}
	printf("%d\n", cr.port < 0 ? 0 : cr.port);
	if (fflush(stdout) != 0)
		warn("stdout");
	if (cfd != -1 && pthread_create(&acc, NULL, ctl_accept,
	    (void *)(intptr_t)cfd) != 0)
		errx(1, "pthread_create");

	i = 0;
	while (!atomic_load(&stopping)) {
		if (mode == 0 || (count > 0 && i >= count) ||
		    atomic_load(&cr.healed)) {
			tick(100);
			continue;
		}
		i++;
		v = moment(seed, i);
		mark += v;
		snprintf(trig, sizeof(trig), "%s=%" PRIu64, by_requests ?
		    "requests" : "ms", by_requests ? mark : v);
		/* a heal that came while the moment did wins: a runner that
		 * healed and then asked the main thread anything (its next
		 * command) sees no crash after its answer */
		if (!await(proxy, mark, v) || atomic_load(&cr.healed))
			continue;
		reap();
		if (cr.pid <= 0)
			event("skip", trig, 0, 0, -1);
		else if (bounce(SIGKILL, trig, &old) == -1)
			warnx("crash %" PRIu64 ": the target did not start "
			    "again", i);
	}

	if (cfd != -1) {
		pthread_join(acc, NULL);
		close(cfd);
		unlink(control);
	}
	pthread_mutex_lock(&ctlq.mu);
	pthread_cond_broadcast(&ctlq.cv);
	pthread_mutex_unlock(&ctlq.mu);
	reap();
	rc = cr.pid > 0 ? end(SIGTERM) : 0;
	event("exit", "-", 0, 0, -1);
	if (cr.logfd != -1)
		close(cr.logfd);
	return cr.died > 0 || rc != 0 ? 1 : 0;
}
