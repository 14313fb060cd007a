/* SPDX-License-Identifier: ISC */
/*
 * 2035-server-drain-batch: the drain budget decided inside one batch of
 * the writer.  The writer checks a run of budgeted reserves and claims
 * against one look at each target's grants and pool (server/store_drain.c,
 * the run's memo); here the writer is slowed (--test-writer-delay) so
 * that 40 strangers' claims of a 4-device, 400-key pool land in one
 * batch, 160 keys asked for: they get exactly the budget, 100 (25 % of
 * 400; past the 65 grants the pool was first counted for, it is counted
 * again), and the grants log holds as many.  Then 40 strangers' reserves
 * of a 100-key pool beside 8 of a contact's, in one batch: 25 and 8.
 */

#include <sys/wait.h>

#include "kps_test.h"

#define NDEV	4
#define PERDEV	100
#define NSTR	40	/* strangers */
#define NCON	8	/* a contact's reserves */

static const char *const devname[NDEV] = { "default", "d1", "d2", "d3" };

#define RID	"{\"target_username\":\"dora\",\"request_id\":\"r1\"}"

/* ref_of: the keypackage_ref of a reservation r (static). */
static const char *
ref_of(const struct rawreply *r)
{
	static char	 ref[2 * KP_REF_LEN + 1];
	const char	*p = strstr(r->body, "\"keypackage_ref\":\"");

	ref[0] = '\0';
	if (p != NULL)
		snprintf(ref, sizeof(ref), "%.*s", 2 * KP_REF_LEN, p + 18);
	return ref;
}

/* keys: the keys of a 200 reply r (claim or reserve). */
static int
keys(const struct rawreply *r)
{
	const char	*p;
	int		 n = 0;

	if (r->status != 200)
		return 0;
	for (p = r->body; (p = strstr(p, "\"keypackage_ref\"")) != NULL; p++)
		n++;
	return n;
}

/*
 * asker: as w, the request of path for target once; exits with the keys
 * it got, or 200 + the HTTP status when refused otherwise than with
 * 429 budget_exhausted.
 */
static void
asker(struct srv *s, struct who *w, const char *path, const char *target)
{
	struct rawreply	r;
	char		b[128];

	snprintf(b, sizeof(b), "{\"target_username\":\"%s\"}", target);
	raw(s, w, "POST", path, b, T_NONE, &r);
	if (r.status == 200)
		_exit(keys(&r));
	if (r.status == 429 && strcmp(error_code(&r), "budget_exhausted") == 0)
		_exit(0);
	_exit(r.status > 55 ? 255 : 200 + (int)r.status);
}

/* run: the children of n askers at once; the keys they got in *got,
 * and how many failed otherwise. */
static int
run(struct srv *s, struct who *w, int n, const char *path, const char *target,
    int *got)
{
	pid_t	pid[NSTR];
	int	i, st, bad = 0;

	for (i = 0; i < n; i++) {
		if ((pid[i] = fork()) == -1)
			bail("fork");
		if (pid[i] == 0)
			asker(s, &w[i], path, target);
	}
	for (i = 0, *got = 0; i < n; i++) {
		if (waitpid(pid[i], &st, 0) != pid[i] || !WIFEXITED(st) ||
		    WEXITSTATUS(st) >= 200) {
			bad++;
			continue;
		}
		*got += WEXITSTATUS(st);
	}
	return bad;
}

int
main(void)
{
	const char *const	 opts[] = { "--quiet", "--register-rate", "100",
				    "--public-metrics", NULL };
	const char *const	 slow[] = { "--quiet", "--register-rate", "100",
				    "--public-metrics", "--test-writer-delay",
				    "1500", NULL };
	struct srv		 s;
	struct who		 alice[NDEV], bob, carol[NCON], m[NSTR];
	struct who		 dora, zed[2];
	char			 ref[2][2 * KP_REF_LEN + 1];
	struct rawreply		 r;
	char			 name[32], b[256];
	int			 i, k, got;

	plan(12);
	srv_drain_limits = 1;
	srv_start(&s, opts);
	who_new(&s, &alice[0], "alice", 1);
	for (i = 1; i < NDEV; i++) {
		snprintf(name, sizeof(name), "alice/%s", devname[i]);
		dev_new(&alice[i], name);
		snprintf(b, sizeof(b), "{\"device\":\"%s\",\"public_key\":"
		    "\"%s\"}", devname[i], pk_b64(&alice[i]));
		raw(&s, &alice[0], "POST", "/devices", b, T_NONE, &r);
		if (r.status != 201)
			bail("enroll %s: %ld", devname[i], r.status);
	}
	for (i = 0; i < NDEV; i++)
		(void)put(&s, &alice[i], PERDEV, 1, 0, NULL);
	is_int((int)srv_count(&s, "SELECT count(*) FROM keypackages WHERE "
	    "username = 'alice'"), NDEV * PERDEV, "alice's 4 devices upload "
	    "100 keys each");
	who_new(&s, &bob, "bob", 1);
	upload_new(&s, &bob, 100, NULL);
	/* carol's 8 devices are one contact of bob's */
	who_new(&s, &carol[0], "carol", 1);
	for (i = 1; i < NCON; i++) {
		snprintf(name, sizeof(name), "carol/c%d", i);
		dev_new(&carol[i], name);
		snprintf(b, sizeof(b), "{\"device\":\"c%d\",\"public_key\":"
		    "\"%s\"}", i, pk_b64(&carol[i]));
		raw(&s, &carol[0], "POST", "/devices", b, T_NONE, &r);
		if (r.status != 201)
			bail("enroll c%d: %ld", i, r.status);
	}
	raw(&s, &bob, "POST", "/contacts", "{\"username\":\"carol\"}",
	    T_NONE, &r);
	if (r.status != 200)
		bail("bob vouches for carol: %ld", r.status);
	for (i = 0; i < NSTR; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		who_new(&s, &m[i], name, 1);
	}

	/* the writer slowed: what comes within 1.5 s is one batch */
	kill(s.pid, SIGTERM);
	if (srv_wait(&s) != 0)
		bail("the server did not stop cleanly");
	srv_restart(&s, slow);
	is_int(run(&s, m, NSTR, "/keypackages/claim", "alice", &got), 0,
	    "40 strangers claim alice's keys at once: each a claim or 429 "
	    "budget_exhausted");
	is_int(got, NDEV * PERDEV / 4, "they get 100 keys together: 25 %% "
	    "of 400, of 160 asked for");
	is_int((int)srv_count(&s, "SELECT count(*) FROM grants WHERE "
	    "target = 'alice' AND stranger"), NDEV * PERDEV / 4,
	    "the grants log holds 100 to strangers");

	/* strangers and a contact in one batch */
	if (fork() == 0) {
		usleep(100000);
		_exit(run(&s, carol, NCON, "/keypackages/reserve", "bob",
		    &got) == 0 ? got : 255);
	}
	is_int(run(&s, m, NSTR, "/keypackages/reserve", "bob", &got), 0,
	    "40 strangers reserve bob's keys at once");
	is_int(got, 25, "they get 25 of 100");
	k = -1;
	if (wait(&i) > 0 && WIFEXITED(i))
		k = WEXITSTATUS(i);
	is_int(k, NCON, "carol, a contact, gets each of her 8 in the same "
	    "batch");

	/* request ids are per device */
	kill(s.pid, SIGTERM);
	if (srv_wait(&s) != 0)
		bail("the server did not stop cleanly");
	srv_restart(&s, opts);
	who_new(&s, &dora, "dora", 1);
	upload_new(&s, &dora, 12, NULL);
	who_new(&s, &zed[0], "zed", 1);
	dev_new(&zed[1], "zed/z2");
	snprintf(b, sizeof(b), "{\"device\":\"z2\",\"public_key\":\"%s\"}",
	    pk_b64(&zed[1]));
	raw(&s, &zed[0], "POST", "/devices", b, T_NONE, &r);
	if (r.status != 201)
		bail("enroll z2: %ld", r.status);
	for (i = 0; i < 2; i++) {
		raw(&s, &zed[i], "POST", "/keypackages/reserve", RID, T_NONE,
		    &r);
		if (r.status != 200)
			bail("zed's reserve: %ld", r.status);
		snprintf(ref[i], sizeof(ref[i]), "%s", ref_of(&r));
	}
	ok(ref[0][0] != '\0' && strcmp(ref[0], ref[1]) != 0, "zed's two "
	    "devices reserve with the same request_id: two keys");
	raw(&s, &m[0], "POST", "/keypackages/reserve", RID, T_NONE, &r);
	is_int(r.status, 200, "a third stranger: dora's budget of 3 full");
	raw(&s, &m[1], "POST", "/keypackages/reserve", RID, T_NONE, &r);
	is_reply(&r, 429, "budget_exhausted", "a fourth: 429");
	for (i = k = 0; i < 2; i++) {
		raw(&s, &zed[i], "POST", "/keypackages/reserve", RID, T_NONE,
		    &r);
		k += r.status == 200 && strcmp(ref_of(&r), ref[i]) == 0;
	}
	is_int(k, 2, "each device's retry, at the full budget: its own key");

	srv_stop(&s);
	who_free(&dora);
	who_free(&zed[0]);
	who_free(&zed[1]);
	for (i = 0; i < NDEV; i++)
		who_free(&alice[i]);
	for (i = 0; i < NCON; i++)
		who_free(&carol[i]);
	for (i = 0; i < NSTR; i++)
		who_free(&m[i]);
	who_free(&bob);
	return done_testing();
}
