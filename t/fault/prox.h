/* SPDX-License-Identifier: ISC */
/*
 * prox.h: faultproxy in front of a test's kpool-server, for the C tests
 * in t/ (after "kps_test.h"): start and stop it, send it control
 * commands, force one fault on one request and heal.  Header-only.
 */
#ifndef FAULT_PROX_H
#define FAULT_PROX_H

#include <stdarg.h>

#include "fault/ctl.h"

struct prox {
	pid_t		pid;
	char		ctl[160];
	char		log[160];
	char		err[160];
	struct srv	view;	/* the server as the proxy's clients see it */
};

/* prox_start: faultproxy in front of s, named name (its files in s's
 * directory), with extra arguments (NULL-ended). */
static __attribute__((unused)) void
prox_start(struct prox *p, const struct srv *s, const char *name,
    const char *const *extra)
{
	const char	*build = getenv("KP_BUILD");
	const char	*argv[48];
	char		 bin[512], up[64], line[32];
	int		 fd[2], i = 0, n = 0;

	memset(p, 0, sizeof(*p));
	snprintf(bin, sizeof(bin), "%s/t/faultproxy", build ? build : "build");
	snprintf(up, sizeof(up), "127.0.0.1:%d", s->port);
	snprintf(p->ctl, sizeof(p->ctl), "%s/%s.sock", s->dir, name);
	snprintf(p->log, sizeof(p->log), "%s/%s.log", s->dir, name);
	snprintf(p->err, sizeof(p->err), "%s/%s.err", s->dir, name);
	argv[i++] = bin;
	argv[i++] = "--upstream";
	argv[i++] = up;
	argv[i++] = "--control";
	argv[i++] = p->ctl;
	argv[i++] = "--log";
	argv[i++] = p->log;
	while (extra != NULL && *extra != NULL && i < 46)
		argv[i++] = *extra++;
	argv[i] = NULL;
	if (pipe(fd) != 0 || (p->pid = fork()) == -1)
		bail("pipe or fork");
	if (p->pid == 0) {
		if (freopen(p->err, "a", stderr) == NULL)
			_exit(127);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(fd[1], 1);
		close(fd[0]);
		close(fd[1]);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	close(fd[1]);
	while (n < (int)sizeof(line) - 1 && read(fd[0], line + n, 1) == 1 &&
	    line[n] != '\n')
		n++;
	line[n] = '\0';
	close(fd[0]);
	p->view = *s;
	if ((p->view.port = atoi(line)) <= 0)
		bail("faultproxy did not report a port (see %s)", p->err);
	snprintf(p->view.url, sizeof(p->view.url), "http://127.0.0.1:%d",
	    p->view.port);
}

/* prox_stop: SIGTERM; the exit status (0: clean). */
static __attribute__((unused)) int
prox_stop(struct prox *p)
{
	int	st = -1;

	kill(p->pid, SIGTERM);
	waitpid(p->pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* pctl: one control command (printf-like); the reply (static). */
static const char *
pctl(struct prox *p, const char *fmt, ...) __attribute__((format(printf,
    2, 3)));

static const char *
pctl(struct prox *p, const char *fmt, ...)
{
	static char	reply[1024];
	char		cmd[256];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (fault_ctl(p->ctl, cmd, reply, sizeof(reply), 20000) == -1)
		bail("control %s: %s", cmd, reply);
	return reply;
}

/* next_seq: the number the proxy gives its next request. */
static __attribute__((unused)) unsigned long long
next_seq(struct prox *p)
{
	return strtoull(pctl(p, "count") + 3, NULL, 10) + 1;
}

/* force: fault kind, rate 1, on request seq alone. */
static __attribute__((unused)) void
force(struct prox *p, const char *kind, unsigned long long seq)
{
	pctl(p, "seq %llu", seq);
	pctl(p, "set %s 1", kind);
	pctl(p, "faults on");
}

/* heal: every request goes through untouched again, kind's rate 0. */
static __attribute__((unused)) void
heal(struct prox *p, const char *kind)
{
	pctl(p, "heal");
	pctl(p, "set %s 0", kind);
	pctl(p, "seq any");
}

#endif /* FAULT_PROX_H */
