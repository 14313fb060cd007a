/* SPDX-License-Identifier: ISC */
/*
 * 2026-server-register: registration against draining (docs/security.md,
 * "Draining") on a real kpool-server: with the default settings one
 * source address registers 5 users an hour, the 6th is 429
 * registration_rate with Retry-After, another address is counted on
 * its own, a refused registration does not count, and an hour later
 * the address registers again; with --registration invite, a user
 * registers only with a token of "kpool-server invite create", each
 * good for its --uses, and a registration that fails gives its use
 * back.
 */

#include "kps_test.h"

/* reg: POST /users of a new name with a fresh key, with invite when
 * not NULL. */
static void
reg(struct srv *s, const char *name, const char *invite, struct rawreply *r)
{
	struct who	w;
	char		b[512];

	dev_new(&w, name);
	if (invite != NULL)
		snprintf(b, sizeof(b), "{\"username\":\"%s\",\"public_key\":"
		    "\"%s\",\"invite\":\"%s\"}", name, pk_b64(&w), invite);
	else
		snprintf(b, sizeof(b), "{\"username\":\"%s\",\"public_key\":"
		    "\"%s\"}", name, pk_b64(&w));
	raw(s, &w, "POST", "/users", b, T_NONE, r);
}

/* invite: a token of "invite create" with uses (static), or bails. */
static const char *
invite(struct srv *s, int uses)
{
	static char	 tok[64];
	const char	*build = getenv("KP_BUILD");
	char		 cmd[1024];
	FILE		*p;

	snprintf(cmd, sizeof(cmd), "%s/kpool-server --db '%s' invite create "
	    "--uses %d", build ? build : "build", s->db, uses);
	if ((p = popen(cmd, "r")) == NULL || fgets(tok, sizeof(tok), p) ==
	    NULL)
		bail("invite create");
	pclose(p);
	tok[strcspn(tok, "\n")] = '\0';
	return tok;
}

int
main(void)
{
	const char *const	 opts[] = { "--public-metrics", "--quiet",
				    NULL };
	const char *const	 inv[] = { "--registration", "invite",
				    "--quiet", NULL };
	struct srv		 s;
	struct rawreply		 r;
	char			 name[16];
	const char		*tok;
	int64_t			 t0 = (int64_t)time(NULL);
	int			 i, n;

	plan(32);
	srv_drain_limits = 1;
	srv_start(&s, opts);
	srv_set_clock(&s, t0);
	for (i = n = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "u%d", i);
		reg(&s, name, NULL, &r);
		n += r.status == 201;
		srv_set_clock(&s, t0 + 10 * (i + 1));
	}
	is_int(n, 5, "127.0.0.1 registers 5 users");
	reg(&s, "u5", NULL, &r);
	is_reply(&r, 429, "registration_rate", "the 6th: 429 "
	    "registration_rate");
	is_string(r.retry_after, "3550", "Retry-After: until the first "
	    "leaves the hour");
	reg(&s, "u0", NULL, &r);
	is_reply(&r, 409, "username_taken", "a taken name: 409 as before "
	    "(found before the limit is asked)");
	is_int(srv_metric(&s, "kpool_reserve_refused_total{reason=\""
	    "registration_rate\"}"), 1, "counted by reason");
	raw_source = "127.0.0.2";
	reg(&s, "v0", NULL, &r);
	is_int(r.status, 201, "127.0.0.2 is counted on its own");
	reg(&s, "v0", NULL, &r);
	is_reply(&r, 409, "username_taken", "a name taken");
	for (i = 1, n = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "v%d", i);
		reg(&s, name, NULL, &r);
		n += r.status == 201;
	}
	is_int(n, 4, "the refused registration did not count: 4 more");
	reg(&s, "v5", NULL, &r);
	is_reply(&r, 429, "registration_rate", "then 429");
	raw_source = NULL;
	srv_set_clock(&s, t0 + 3599);
	reg(&s, "u5", NULL, &r);
	is_reply(&r, 429, "registration_rate", "3599 s after the first: "
	    "still 429");
	srv_set_clock(&s, t0 + 3600);
	reg(&s, "u5", NULL, &r);
	is_int(r.status, 201, "3600 s after the first: one more");
	reg(&s, "u6", NULL, &r);
	is_reply(&r, 429, "registration_rate", "and only one");
	is_int((int)srv_count(&s, "SELECT count(*) FROM registrations"), 11,
	    "the database counts 11 registrations");
	is_int(srv_stop(&s), 0, "a clean exit");

	/* invitations */
	srv_start(&s, inv);
	reg(&s, "ann", NULL, &r);
	is_reply(&r, 403, "invite_required", "no invite: 403 "
	    "invite_required");
	reg(&s, "ann", "not-a-token", &r);
	is_reply(&r, 403, "bad_invite", "an unknown token: 403 bad_invite");
	tok = invite(&s, 2);
	is_int((int)strlen(tok), 32, "invite create prints a token");
	reg(&s, "ann", tok, &r);
	is_int(r.status, 201, "ann registers with it");
	reg(&s, "ANN", tok, &r);
	is_reply(&r, 409, "username_taken", "a taken name with it: 409");
	reg(&s, "ben", tok, &r);
	is_int(r.status, 201, "ben with the same token: its second use "
	    "(the refused one took none)");
	reg(&s, "cy", tok, &r);
	is_reply(&r, 403, "bad_invite", "a third: used up");
	is_int(srv_stop(&s), 0, "a clean exit");
	return done_testing();
}
