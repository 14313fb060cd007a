/* SPDX-License-Identifier: ISC */
/*
 * scen_world.c: the daemons of a scenario seed's world (scenario.c):
 * kpool-server and kpoolfs under faultcrash, faultproxy before the
 * server, each started with its seeded options, stopped, and asked
 * through its control socket.
 */

#include <sys/prctl.h>
#include <sys/wait.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault/ctl.h"
#include "fault/scenario.h"
#include "tap.h"

const char *const sc_fault_name[F_N] = {
	"drop-request", "hang-request", "drop-reply", "delay-request",
	"delay-reply", "duplicate", "reorder", "cut",
};

/*
 * spawn: run argv with its standard error appended to errlog, in a
 * process that dies with us; its first line of output read into d->port
 * (the tools print their port, faultcrash once its target serves).
 */
static void
spawn(struct sc_daemon *d, const char *const *argv, const char *errlog)
{
	char	line[32];
	int	fd[2], n = 0;

	if (pipe(fd) != 0 || (d->pid = fork()) == -1)
		bail("pipe or fork: %s", strerror(errno));
	if (d->pid == 0) {
		if (freopen(errlog, "a", stderr) == NULL)
			_exit(127);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(fd[1], 1);
		close(fd[0]);
		close(fd[1]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(fd[1]);
	while (n < (int)sizeof(line) - 1 && read(fd[0], line + n, 1) == 1 &&
	    line[n] != '\n')
		n++;
	line[n] = '\0';
	close(fd[0]);
	if (n == 0)
		bail("%s did not start (see %s)", argv[0], errlog);
	d->port = atoi(line);
}

int
sc_daemon_stop(struct sc_daemon *d)
{
	int	st = -1;

	if (d->pid <= 0)
		return 0;
	kill(d->pid, SIGTERM);
	waitpid(d->pid, &st, 0);
	d->pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int
sc_daemon_ctl(struct sc_daemon *d, const char *cmd, char *reply, size_t cap)
{
	char	buf[512];

	if (reply == NULL) {
		reply = buf;
		cap = sizeof(buf);
	}
	return fault_ctl(d->ctl, cmd, reply, cap, 30000);
}

void
sc_path(struct sc_world *w, char *out, const char *name)
{
	if ((size_t)snprintf(out, SC_MAXPATH, "%s/%s", w->dir, name) >=
	    SC_MAXPATH)
		bail("path too long");
}

/* struct argv: a command line being built. */
struct argv {
	const char	*v[64];
	int		 n;
};

/* add: more arguments (NULL ends them) to a. */
static void
add(struct argv *a, ...)
{
	const char	*s;
	va_list		 ap;

	va_start(ap, a);
	while ((s = va_arg(ap, const char *)) != NULL) {
		if (a->n >= (int)(sizeof(a->v) / sizeof(a->v[0])) - 1)
			bail("too many arguments");
		a->v[a->n++] = s;
	}
	va_end(ap);
	a->v[a->n] = NULL;
}

/* server_start: kpool-server under faultcrash, crashing at seeded
 * request counts of the proxy. */
void
sc_server_start(struct sc_world *w)
{
	struct argv	 a = { .n = 0 };
	char		 crash[SC_MAXPATH], server[SC_MAXPATH], range[32];
	char		 psock[SC_MAXPATH], seed[24], count[8], err[SC_MAXPATH];
	uint32_t	 lo = 40 + sc_rnd(w, 80), ncrash = sc_rnd(w, 3);

	snprintf(crash, sizeof(crash), "%s/t/faultcrash", w->build);
	snprintf(server, sizeof(server), "%s/kpool-server", w->build);
	sc_path(w, w->server.ctl, "server.sock");
	sc_path(w, w->server.log, "server-crash.log");
	sc_path(w, psock, "proxy.sock");
	sc_path(w, err, "server.err");
	snprintf(seed, sizeof(seed), "%" PRIu64, w->seed);
	snprintf(range, sizeof(range), "%u-%u", lo, lo + 60);
	snprintf(count, sizeof(count), "%u", ncrash);
	add(&a, crash, "--seed", seed, NULL);
	if (ncrash > 0)
		add(&a, "--after-requests", range, "--count", count,
		    "--proxy", psock, NULL);
	add(&a, "--control", w->server.ctl, "--log", w->server.log, "--",
	    server, "--listen", "127.0.0.1:{port}", "--db", w->serverdb,
	    "--test-clock", w->clock, NULL);
	/* as the server tests run: the drain budget would hold back the
	 * inviters, strangers to the owners */
	add(&a, "--stranger-share", "0", "--contact-floor", "0",
	    "--caller-cap", "0", "--rate-burst", "10000", "--register-rate",
	    "0", NULL);
	/* a request the proxy cut stays open until this deadline, and a
	 * stop waits for it (up to its drain's 10 s) */
	add(&a, "--request-deadline", "1", NULL);
	spawn(&w->server, a.v, err);
	snprintf(w->server_url, sizeof(w->server_url), "http://127.0.0.1:%d",
	    w->server.port);
}

/* proxy_start: faultproxy before the server, faults drawn now and off
 * until the world is set up. */
void
sc_proxy_start(struct sc_world *w)
{
	struct argv	 a = { .n = 0 };
	char		 bin[SC_MAXPATH], up[32], seed[24], err[SC_MAXPATH];
	char		 rate[F_N][16], opt[F_N][24];
	double		 total = 0.04 + sc_rnd(w, 25) / 100.0, wt[F_N], sum = 0;
	int		 f;

	snprintf(bin, sizeof(bin), "%s/t/faultproxy", w->build);
	sc_path(w, w->proxy.ctl, "proxy.sock");
	sc_path(w, w->proxy.log, "proxy.log");
	sc_path(w, err, "proxy.err");
	snprintf(up, sizeof(up), "127.0.0.1:%d", w->server.port);
	snprintf(seed, sizeof(seed), "%" PRIu64, w->seed);
	add(&a, bin, "--upstream", up, "--seed", seed, "--faults", "off",
	    NULL);
	for (f = 0; f < F_N; f++)
		sum += wt[f] = sc_rnd(w, 4) == 0 ? 0 : 1 + sc_rnd(w, 10);
	if (sum == 0)
		wt[F_DROP_REPLY] = sum = 1;
	wt[F_HANG_REQUEST] /= 3;
	for (f = 0; f < F_N; f++) {
		snprintf(opt[f], sizeof(opt[f]), "--%s", sc_fault_name[f]);
		snprintf(rate[f], sizeof(rate[f]), "%.4f",
		    total * wt[f] / sum);
		add(&a, opt[f], rate[f], NULL);
	}
	add(&a, "--delay-max", "40", "--hang-ms", "300", "--reorder-window",
	    "40", "--cut-wait", "50", "--upstream-timeout", "10000",
	    "--control", w->proxy.ctl, "--log", w->proxy.log, NULL);
	spawn(&w->proxy, a.v, err);
	snprintf(w->proxy_url, sizeof(w->proxy_url), "http://127.0.0.1:%d",
	    w->proxy.port);
}

/* fs_start: kpoolfs -f on owner 0's store under faultcrash, which may
 * kill it once at a seeded moment after it mounted. */
void
sc_fs_start(struct sc_world *w)
{
	struct sc_owner	*o = &w->owner[0];
	struct argv	 a = { .n = 0 };
	char		 crash[SC_MAXPATH], fs[SC_MAXPATH], ready[SC_MAXPATH + 8];
	char		 opts[SC_MAXPATH * 2], seed[24], range[32];
	char		 err[SC_MAXPATH];
	uint32_t	 lo = 200 + sc_rnd(w, 1500);

	snprintf(crash, sizeof(crash), "%s/t/faultcrash", w->build);
	snprintf(fs, sizeof(fs), "%s/kpoolfs", w->build);
	sc_path(w, w->fs.ctl, "fs.sock");
	sc_path(w, w->fs.log, "fs-crash.log");
	sc_path(w, err, "kpoolfs.err");
	snprintf(ready, sizeof(ready), "mount:%s", o->mnt);
	snprintf(opts, sizeof(opts), "user=%s,server=%s,refresh=0,"
	    "test_clock=%s", o->user, w->proxy_url, w->clock);
	snprintf(seed, sizeof(seed), "%" PRIu64, w->seed);
	snprintf(range, sizeof(range), "%u-%u", lo, lo + 400);
	add(&a, crash, "--seed", seed, NULL);
	if (sc_rnd(w, 2))
		add(&a, "--after-ms", range, "--count", "1", NULL);
	add(&a, "--ready", ready, "--control", w->fs.ctl, "--log", w->fs.log,
	    "--", fs, "-f", "-o", opts, o->db, o->mnt, NULL);
	spawn(&w->fs, a.v, err);
}
