/* SPDX-License-Identifier: ISC */
/*
 * 2025-server-drain: the drain budget (docs/security.md, "Draining") on
 * a real kpool-server with its default settings: 10 attacker names
 * against a 100-key pool for 20 s of the test's clock get 25 keys
 * together, the 26th reserve is 429 budget_exhausted, and a real
 * inviter who is a contact gets a regular key every time; the same
 * attack without the limits (the server before them) takes all 100
 * and leaves the inviter none.  Then: a lapsed reservation still
 * counts, the window slides (an hour later, the budget is back), the
 * caller cap, the contact floor and the last-resort key within the
 * budget, a spend that makes the key's owner a contact of the spender
 * (not the other way round), the contacts endpoints, a claim held back
 * by the floor, a retried reserve at a full budget, and
 * racing attackers (on PostgreSQL through two instances) that never
 * get more than the budget.
 */

#include <jansson.h>

#include "kps_test.h"

#define NATT	10
#define POOL	100

/* body: a JSON body in a static buffer. */
static const char *
rbody(const char *target)
{
	static char	buf[256];

	snprintf(buf, sizeof(buf), "{\"target_username\":\"%s\","
	    "\"group_id\":\"Zw==\"}", target);
	return buf;
}

/* reserve: one reserve of target's keys as w. */
static void
reserve(struct srv *s, struct who *w, const char *target, struct rawreply *r)
{
	raw(s, w, "POST", "/keypackages/reserve", rbody(target), T_NONE, r);
}

/* reserve_paced: reserve, again while the rate limit says to wait. */
static void
reserve_paced(struct srv *s, struct who *w, const char *target,
    struct rawreply *r)
{
	int	i;

	for (i = 0; i < 100; i++) {
		reserve(s, w, target, r);
		if (r->status != 429 || strcmp(error_code(r), "rate_limited"))
			return;
		usleep(150000);
	}
}

/* regular: 1 when r is a reservation of a regular key. */
static int
regular(const struct rawreply *r)
{
	return r->status == 200 && strstr(r->body, "\"last_resort\":false");
}

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

/*
 * attack: the attackers m reserve target's keys for 20 s of the test's
 * clock from t0, up to 10 times each a second until refused, and the
 * inviter tries once a second after them; the attackers' regular keys, the
 * inviter's regular keys in *inv, the first refusal after the
 * attackers' keys ran out in first.
 */
static int
attack(struct srv *s, struct who *m, struct who *inviter, const char *target,
    int64_t t0, int *inv, struct rawreply *first)
{
	struct rawreply	r;
	int		t, i, k, got = 0;

	*inv = 0;
	memset(first, 0, sizeof(*first));
	for (t = 0; t < 20; t++) {
		srv_set_clock(s, t0 + t);
		for (i = 0; i < NATT; i++)
			for (k = 0; k < 10; k++) {
				reserve(s, &m[i], target, &r);
				if (r.status == 200) {
					/* a last-resort key is not consumed */
					got += regular(&r);
					continue;
				}
				/* the rate limit is per (caller, target):
				 * the next attacker then */
				if (first->status == 0 &&
				    strcmp(error_code(&r), "rate_limited"))
					*first = r;
				break;
			}
		reserve_paced(s, inviter, target, &r);
		*inv += regular(&r);
		usleep(50000);	/* a real second: 20 tokens of 10 names */
	}
	return got;
}

/* setup: alice with POOL keys and a last-resort key, the attackers and
 * bob, registered. */
static void
setup(struct srv *s, struct who *alice, struct who *m, struct who *bob)
{
	char	name[16];
	int	i;

	who_new(s, alice, "alice", 1);
	upload_new(s, alice, POOL, NULL);
	if (put(s, alice, 1, 1, 1, NULL) != 1)
		bail("alice's last-resort key");
	for (i = 0; i < NATT; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		who_new(s, &m[i], name, 1);
	}
	who_new(s, bob, "bob", 1);
}

/* racer: reserve target's keys 10 times as w through s as fast as
 * answered; exits with the keys it got. */
static void
racer(struct srv *s, struct who *w, const char *target)
{
	struct rawreply	r;
	int		k, got = 0;

	for (k = 0; k < 10; k++) {
		reserve(s, w, target, &r);
		got += r.status == 200;
	}
	_exit(got);
}

int
main(void)
{
	const char *const	 before[] = { "--stranger-share", "0",
				    "--contact-floor", "0", "--caller-cap", "0",
				    "--rate-burst", "100", "--register-rate", "0",
				    "--quiet", NULL };
	/* the defaults, but for the registrations of the test's 15 names
	 * from one address (t/2026 tests that limit) */
	const char *const	 opts[] = { "--public-metrics", "--quiet",
				    "--register-rate", "100", NULL };
	struct srv		 s, twin;
	struct who		 alice, bob, carol, erin, dave, fay, m[NATT];
	struct rawreply		 r, first;
	char			 b[256], ref[2 * KP_REF_LEN + 1], cmd[1024];
	pid_t			 pid[NATT];
	int64_t			 t0 = (int64_t)time(NULL), t1;
	int			 i, n, inv, st, total;

	plan(54);

	/* before the limits: the server's behaviour without them */
	srv_start(&s, before);
	setup(&s, &alice, m, &bob);
	raw(&s, &alice, "POST", "/contacts", "{\"username\":\"bob\"}",
	    T_NONE, &r);
	n = attack(&s, m, &bob, "alice", t0, &inv, &first);
	diag("without the limits: attackers %d keys of %d, the inviter %d "
	    "regular keys in 20 tries", n, POOL, inv);
	is_int(n, POOL, "without the limits: the attackers take all 100");
	is_int(inv, 0, "without the limits: the inviter gets no regular key");
	is_int(srv_stop(&s), 0, "a clean exit");
	who_free(&alice);
	who_free(&bob);
	for (i = 0; i < NATT; i++)
		who_free(&m[i]);

	/* the defaults */
	srv_drain_limits = 1;
	srv_start(&s, opts);
	setup(&s, &alice, m, &bob);
	raw(&s, &alice, "POST", "/contacts", "{\"username\":\"bob\"}",
	    T_NONE, &r);
	is_int(r.status, 200, "alice vouches for bob (POST /contacts)");
	n = attack(&s, m, &bob, "alice", t0, &inv, &first);
	diag("with the limits: attackers %d keys of %d, the inviter %d "
	    "regular keys in 20 tries", n, POOL, inv);
	is_int(n, POOL / 4, "the 10 attackers get 25 keys together (25 %% "
	    "of 100) in 20 s");
	is_reply(&first, 429, "budget_exhausted", "the 26th reserve: 429 "
	    "budget_exhausted");
	is_string(first.retry_after, "3600", "Retry-After: when the "
	    "oldest grant leaves the hour");
	is_int(inv, 20, "bob, a contact, gets a regular key each of his "
	    "20 tries");
	reserve_paced(&s, &m[3], "alice", &r);
	is_reply(&r, 429, "budget_exhausted", "an attacker at the end of "
	    "the 20 s: refused");
	is_string(r.retry_after, "3581", "Retry-After 3600 - 19");
	ok(srv_metric(&s, "kpool_reserve_refused_total{reason=\""
	    "budget_exhausted\"}") >= 1, "counted in kpool_reserve_refused"
	    "_total{reason=\"budget_exhausted\"}");

	/* lapsed reservations still count; the window slides */
	srv_set_clock(&s, t0 + 100);
	reserve_paced(&s, &m[1], "alice", &r);
	is_reply(&r, 429, "budget_exhausted", "the attackers' lapsed "
	    "reservations still count: refused at +100 s");
	srv_set_clock(&s, t0 + 3599);
	reserve_paced(&s, &m[2], "alice", &r);
	is_reply(&r, 429, "budget_exhausted", "refused 3599 s after the "
	    "first grants");
	n = attack(&s, m, &bob, "alice", t0 + 3600, &inv, &first);
	is_int(n, POOL / 4, "an hour after the first grants the budget is "
	    "back: 25 again");

	/* the caller cap: a contact too holds 32 at most */
	t1 = t0 + 3 * 3600;
	srv_set_clock(&s, t1);
	who_new(&s, &carol, "carol", 1);
	raw(&s, &alice, "POST", "/contacts", "{\"username\":\"Carol\"}",
	    T_NONE, &r);
	is_int(r.status, 200, "alice vouches for carol (any case)");
	for (n = 0; n < 40; n++) {
		reserve_paced(&s, &carol, "alice", &r);
		if (r.status != 200)
			break;
		if (n == 0)
			snprintf(ref, sizeof(ref), "%s", ref_of(&r));
	}
	is_int(n, 32, "carol holds 32 reservations");
	is_reply(&r, 429, "caller_cap", "the 33rd: 429 caller_cap");
	srv_set_clock(&s, t1 + 61);
	/* giving a lapsed one back frees nothing: it lapsed */
	snprintf(b, sizeof(b), "{\"keypackage_ref\":\"%s\"}", ref);
	raw(&s, &carol, "POST", "/keypackages/release", b, T_NONE, &r);
	reserve_paced(&s, &carol, "alice", &r);
	is_reply(&r, 429, "caller_cap", "lapsed without a spend, they "
	    "still count, one released after it lapsed too");
	is_string(r.retry_after, "3599", "Retry-After: until the first "
	    "lapsed one leaves the hour");
	srv_set_clock(&s, t1 + 3661);
	reserve_paced(&s, &carol, "alice", &r);
	is_int(r.status, 200, "an hour after they lapsed: carol reserves "
	    "again");

	/* the contacts endpoints */
	raw(&s, &alice, "GET", "/contacts", NULL, T_NONE, &r);
	ok(r.status == 200 && strstr(r.body, "\"contacts\":[\"bob\","
	    "\"carol\"]") != NULL, "GET /contacts lists bob and carol");
	raw(&s, &alice, "DELETE", "/contacts/bob", NULL, T_NONE, &r);
	is_int(r.status, 200, "DELETE /contacts/bob");
	raw(&s, &alice, "DELETE", "/contacts/bob", NULL, T_NONE, &r);
	is_reply(&r, 404, "not_found", "again: 404 not_found");
	/* a name set free takes none of its contacts to its next owner */
	snprintf(cmd, sizeof(cmd), "%s/kpool-server --db '%s' user remove "
	    "carol >/dev/null", getenv("KP_BUILD") ? getenv("KP_BUILD") :
	    "build", s.db);
	is_int(system(cmd), 0, "operator: user remove carol");
	is_int((int)srv_count(&s, "SELECT count(*) FROM contacts WHERE "
	    "owner = 'carol' OR contact = 'carol'"), 0,
	    "carol's contacts went with her");
	raw(&s, &alice, "GET", "/contacts", NULL, T_NONE, &r);
	ok(r.status == 200 && strstr(r.body, "carol") == NULL,
	    "alice's list no longer names carol");

	/* the floor, the last-resort key within the budget, a spend */
	who_new(&s, &erin, "erin", 1);
	if (put(&s, &erin, 9, 1, 0, NULL) != 9)
		bail("erin's keys");
	reserve_paced(&s, &m[3], "erin", &r);
	ok(regular(&r), "a stranger gets erin's first key of 9");
	snprintf(ref, sizeof(ref), "%s", ref_of(&r));
	reserve_paced(&s, &m[4], "erin", &r);
	is_reply(&r, 409, "contact_floor", "the next would leave 7: 409 "
	    "contact_floor");
	if (put(&s, &erin, 1, 1, 1, NULL) != 1)
		bail("erin's last-resort key");
	reserve_paced(&s, &m[4], "erin", &r);
	ok(r.status == 200 && strstr(r.body, "\"last_resort\":true"),
	    "with a last-resort key: the stranger gets it");
	reserve_paced(&s, &m[5], "erin", &r);
	is_reply(&r, 429, "budget_exhausted", "the third stranger: the "
	    "budget of a 9-key pool is 2");
	snprintf(b, sizeof(b), "{\"keypackage_ref\":\"%s\",\"group_id\":"
	    "\"Zw==\"}", ref);
	raw(&s, &m[3], "POST", "/keypackages/spend", b, T_NONE, &r);
	is_int(r.status, 200, "m3 spends erin's key: erin is in its group");
	reserve_paced(&s, &m[3], "erin", &r);
	is_reply(&r, 429, "budget_exhausted", "a spend of erin's key does "
	    "not make m3 erin's contact: still refused");
	if (put(&s, &m[3], 2, 1, 0, NULL) != 2)
		bail("m3's keys");
	reserve_paced(&s, &erin, "m3", &r);
	ok(regular(&r), "erin is m3's contact: she gets one of m3's 2 keys "
	    "below the floor");
	snprintf(b, sizeof(b), "{\"keypackage_ref\":\"%s\",\"group_id\":"
	    "\"Zw==\"}", ref_of(&r));
	raw(&s, &erin, "POST", "/keypackages/spend", b, T_NONE, &r);
	is_int(r.status, 200, "erin spends it: m3 is in her group");
	reserve_paced(&s, &m[3], "erin", &r);
	ok(regular(&r), "now m3 is erin's contact: a regular key below the "
	    "floor");

	/* a claim held back by the floor alone; a retry of a reserve */
	who_new(&s, &fay, "fay", 1);
	if (put(&s, &fay, 8, 1, 0, NULL) != 8)
		bail("fay's keys");
	raw(&s, &m[6], "POST", "/keypackages/claim", rbody("fay"), T_NONE,
	    &r);
	is_reply(&r, 409, "contact_floor", "a stranger's claim of fay's 8 "
	    "keys: 409 contact_floor");
	upload_new(&s, &fay, 4, NULL);
	snprintf(b, sizeof(b), "{\"target_username\":\"fay\",\"request_id\":"
	    "\"r1\"}");
	raw(&s, &m[8], "POST", "/keypackages/reserve", b, T_NONE, &r);
	is_int(r.status, 200, "with 12 keys: m8 reserves with request_id r1");
	snprintf(ref, sizeof(ref), "%s", ref_of(&r));
	reserve_paced(&s, &m[9], "fay", &r);
	reserve_paced(&s, &m[9], "fay", &r);
	reserve_paced(&s, &m[9], "fay", &r);
	is_reply(&r, 429, "budget_exhausted", "m9's second fills the "
	    "budget of 3, its third is refused");
	raw(&s, &m[8], "POST", "/keypackages/reserve", b, T_NONE, &r);
	ok(r.status == 200 && strcmp(ref_of(&r), ref) == 0, "m8 retries "
	    "r1: the same reservation, budget or not");

	/* racing attackers: never more than the budget */
	who_new(&s, &dave, "dave", 1);
	upload_new(&s, &dave, POOL, NULL);
	if (db_is_pg())
		srv_twin(&s, &twin, opts);
	for (i = 0; i < NATT; i++) {
		if ((pid[i] = fork()) == -1)
			bail("fork");
		if (pid[i] == 0)
			racer(db_is_pg() && i % 2 ? &twin : &s, &m[i], "dave");
	}
	for (i = total = 0; i < NATT; i++)
		if (waitpid(pid[i], &st, 0) == pid[i] && WIFEXITED(st))
			total += WEXITSTATUS(st);
	is_int(total, POOL / 4, "10 attackers racing%s: 25 keys of dave's "
	    "100", db_is_pg() ? " through two instances" : "");
	is_int((int)srv_count(&s, "SELECT count(*) FROM grants WHERE "
	    "target = 'dave'"), POOL / 4, "the grants log holds 25");
	if (db_is_pg())
		srv_kill(&twin, SIGTERM);

	is_int(srv_stop(&s), 0, "a clean exit");
	who_free(&alice);
	who_free(&bob);
	who_free(&carol);
	who_free(&erin);
	who_free(&dave);
	who_free(&fay);
	for (i = 0; i < NATT; i++)
		who_free(&m[i]);
	return done_testing();
}
