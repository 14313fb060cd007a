/* SPDX-License-Identifier: ISC */
/*
 * scen_main.c: the scenario runner's command (scenario.c runs one
 * seed): one seed in this process, or many, each in a child of its
 * own, some at once, with their totals; docs/reliability.md, "The
 * scenario runner".
 */

#include <sys/wait.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault/scenario.h"
#include "tap.h"

static void
add_counts(struct sc_counts *t, const struct sc_counts *n)
{
	int	i;

	t->seeds += n->seeds;
	t->failed += n->failed;
	t->ops += n->ops;
	for (i = 0; i < OP_N; i++)
		t->op[i] += n->op[i];
	t->requests += n->requests;
	for (i = 0; i < F_N; i++)
		t->fault[i] += n->fault[i];
	t->server_crashes += n->server_crashes;
	t->fs_crashes += n->fs_crashes;
	t->handed += n->handed;
	t->checked_keys += n->checked_keys;
	t->ms += n->ms;
}

struct child {
	pid_t		pid;
	int		fd;
	uint64_t	seed;
};

/* reap: wait for one child; its counts added to t, its status. */
static int
reap(struct child *ch, int nch, struct sc_counts *t, int tap, int *tapn,
    int *left)
{
	struct sc_counts	n;
	pid_t			pid;
	int			st, i, ok;

	if ((pid = wait(&st)) == -1)
		bail("wait: %s", strerror(errno));
	for (i = 0; i < nch; i++)
		if (ch[i].pid == pid)
			break;
	if (i == nch)
		return 0;
	memset(&n, 0, sizeof(n));
	ok = read(ch[i].fd, &n, sizeof(n)) == (ssize_t)sizeof(n) &&
	    WIFEXITED(st) && WEXITSTATUS(st) == 0;
	close(ch[i].fd);
	if (n.seeds == 0)
		n.seeds = n.failed = 1;
	add_counts(t, &n);
	if (tap)
		printf("%sok %d - seed %" PRIu64 "\n", ok ? "" : "not ",
		    ++*tapn, ch[i].seed);
	fflush(stdout);
	ch[i].pid = 0;
	(*left)--;
	return !ok;
}

static void
usage(void)
{
	fprintf(stderr, "usage: scenario --seed N [--keep] [-v]\n"
	    "       scenario --first S --seeds N [--jobs J] [--tap]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static struct sc_world	w;
	struct sc_counts	total;
	struct child		ch[16];
	char			exe[PATH_MAX], *q;
	uint64_t		first = 1, nseeds = 0, s;
	int			jobs = 1, tap = 0, i, fd[2], tapn = 0;
	int			left = 0, bad = 0, one = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
			first = strtoull(argv[++i], NULL, 10);
			one = 1;
		} else if (strcmp(argv[i], "--first") == 0 && i + 1 < argc)
			first = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--seeds") == 0 && i + 1 < argc)
			nseeds = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--jobs") == 0 && i + 1 < argc)
			jobs = atoi(argv[++i]);
		else if (strcmp(argv[i], "--tap") == 0)
			tap = 1;
		else if (strcmp(argv[i], "--keep") == 0)
			setenv("KP_KEEP", "1", 1);
		else if (strcmp(argv[i], "-v") == 0)
			w.verbose = 1;
		else
			usage();
	}
	if ((!one && nseeds == 0) || jobs < 1 || jobs > 16)
		usage();
	if ((q = getenv("KP_BUILD")) != NULL && strlen(q) < sizeof(w.build))
		memcpy(w.build, q, strlen(q) + 1);
	else if (realpath(argv[0], exe) != NULL &&
	    (q = strrchr(exe, '/')) != NULL) {
		*q = '\0';	/* .../build/t */
		if ((q = strrchr(exe, '/')) != NULL)
			*q = '\0';
		if (strlen(exe) >= sizeof(w.build))
			usage();
		memcpy(w.build, exe, strlen(exe) + 1);
	} else
		usage();
	signal(SIGPIPE, SIG_IGN);
	if (one) {
		w.seed = first;
		return sc_run_seed(&w);
	}
	if (tap)
		printf("1..%" PRIu64 "\n", nseeds);
	memset(&total, 0, sizeof(total));
	memset(ch, 0, sizeof(ch));
	for (s = first; s < first + nseeds; s++) {
		while (left >= jobs)
			bad |= reap(ch, jobs, &total, tap, &tapn, &left);
		for (i = 0; i < jobs && ch[i].pid != 0; i++)
			;
		if (pipe(fd) != 0)
			bail("pipe");
		fflush(stdout);
		if ((ch[i].pid = fork()) == -1)
			bail("fork");
		if (ch[i].pid == 0) {
			int rc;

			close(fd[0]);
			w.seed = s;
			rc = sc_run_seed(&w);
			if (write(fd[1], &w.n, sizeof(w.n)) !=
			    (ssize_t)sizeof(w.n))
				rc = 1;
			exit(rc);
		}
		close(fd[1]);
		ch[i].fd = fd[0];
		ch[i].seed = s;
		left++;
	}
	while (left > 0)
		bad |= reap(ch, jobs, &total, tap, &tapn, &left);
	sc_print_counts(tap ? "# total:" : "total:", &total, 1);
	return bad;
}
