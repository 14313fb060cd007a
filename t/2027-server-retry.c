/* SPDX-License-Identifier: ISC */
/*
 * 2027-server-retry: a spend or a release whose reply was lost after
 * the server acted (faultproxy's drop-reply) and that its caller sends
 * again, signed afresh, is answered as the first was; anyone else still
 * gets the refusals of before.  The library's kp_client_spend and
 * kp_client_release make that retry themselves, on a reused connection
 * (where libcurl resends the same bytes, refused as a replay) and on a
 * fresh one (where nothing comes back).
 */

#include "kps_test.h"
#include "fault/prox.h"

static struct srv	s;

/* drop_next: the proxy's next request alone has its reply dropped (the
 * server acts, the client sees its connection closed). */
static void
drop_next(struct prox *p)
{
	force(p, "drop-reply", next_seq(p));
}

static long long
count(const char *status)
{
	char	q[128];

	snprintf(q, sizeof(q), "SELECT count(*) FROM keypackages WHERE "
	    "status = '%s'", status);
	return srv_count(&s, q);
}

/* refreq: a raw signed spend or release of ref by w through v. */
static void
refreq(struct srv *v, struct who *w, const char *what, const uint8_t *ref,
    const char *group_b64, struct rawreply *r)
{
	char	hex[2 * KP_REF_LEN + 1], body[256], path[64];

	kp_hex(ref, KP_REF_LEN, hex);
	snprintf(path, sizeof(path), "/keypackages/%s", what);
	if (group_b64 != NULL)
		snprintf(body, sizeof(body), "{\"keypackage_ref\":\"%s\","
		    "\"group_id\":\"%s\"}", hex, group_b64);
	else
		snprintf(body, sizeof(body), "{\"keypackage_ref\":\"%s\"}",
		    hex);
	raw(v, w, "POST", path, body, T_NONE, r);
}

int
main(void)
{
	static const char *const	 opts[] = { "--rate-limit", "0", NULL };
	static const char *const	 px_args[] = { "--faults", "off", NULL };
	struct who			 alice, bob, carol;
	struct kpb			 k[8];
	struct kp_upload_result		 res[8];
	struct kp_reservation		 rv[6];
	struct kp_reserve_opts		 o;
	struct kp_client		*viap, *fresh;
	struct prox			 p;
	struct rawreply			 r;
	const uint8_t			*ptrs[8];
	size_t				 lens[8], i;
	int64_t				 now;

	plan(37);
	srv_start(&s, opts);
	now = (int64_t)time(NULL);
	prox_start(&p, &s, "p", px_args);
	who_new(&s, &alice, "alice", 1);
	who_new(&s, &bob, "bob", 1);
	who_new(&s, &carol, "carol", 1);
	for (i = 0; i < 8; i++) {
		gen(&alice, "alice", now - 10, now + 86400, 0, &k[i]);
		ptrs[i] = k[i].buf;
		lens[i] = k[i].len;
	}
	is_int(kp_client_upload(alice.c, ptrs, lens, 8, res), KP_OK,
	    "alice uploads eight keys");
	memset(&o, 0, sizeof(o));
	o.group_id = (const uint8_t *)"grp1";
	o.group_id_len = 4;
	for (i = 0; i < 6; i++)
		if (kp_client_reserve(bob.c, "alice", &o, &rv[i]) != KP_OK)
			bail("reserve %zu: %s", i, kp_client_errmsg(bob.c));

	/* a spend whose reply is lost, sent again: 200 as the first */
	drop_next(&p);
	refreq(&p.view, &bob, "spend", rv[0].ref, "Z3JwMQ==", &r);
	heal(&p, "drop-reply");
	is_int(r.status, 0, "spend: the reply is lost");
	is_int(count("spent"), 1, "the server spent the key");
	refreq(&p.view, &bob, "spend", rv[0].ref, "Z3JwMQ==", &r);
	is_int(r.status, 200, "bob sends it again (a new signature): 200");
	refreq(&p.view, &bob, "spend", rv[0].ref, NULL, &r);
	is_int(r.status, 200, "again naming no group: 200");
	is_int(count("spent"), 1, "still one key spent");
	refreq(&p.view, &bob, "spend", rv[0].ref, "Z3JwMg==", &r);
	is_reply(&r, 409, "already_spent", "bob for another group: 409");
	refreq(&p.view, &carol, "spend", rv[0].ref, "Z3JwMQ==", &r);
	is_reply(&r, 409, "already_spent", "carol, same group: 409");
	refreq(&p.view, &alice, "spend", rv[0].ref, NULL, &r);
	is_reply(&r, 409, "already_spent", "alice, the owner: 409");

	/* a release whose reply is lost, sent again: 200 as the first */
	drop_next(&p);
	refreq(&p.view, &bob, "release", rv[1].ref, NULL, &r);
	heal(&p, "drop-reply");
	is_int(r.status, 0, "release: the reply is lost");
	is_int(count("reserved"), 4, "the server released the key");
	refreq(&p.view, &bob, "release", rv[1].ref, NULL, &r);
	is_int(r.status, 200, "bob sends it again: 200");
	refreq(&p.view, &carol, "release", rv[1].ref, NULL, &r);
	is_reply(&r, 409, "not_reserved", "carol's release of it: 409");
	refreq(&p.view, &alice, "release", rv[1].ref, NULL, &r);
	is_reply(&r, 409, "not_reserved", "alice's release of it: 409");
	refreq(&p.view, &bob, "spend", rv[1].ref, "Z3JwMQ==", &r);
	is_reply(&r, 403, "forbidden", "bob's spend after his release: 403");
	refreq(&p.view, &carol, "spend", rv[2].ref, "Z3JwMQ==", &r);
	is_reply(&r, 403, "forbidden", "carol's spend of bob's "
	    "reservation: 403");
	refreq(&p.view, &carol, "release", rv[2].ref, NULL, &r);
	is_reply(&r, 403, "forbidden", "carol's release of bob's "
	    "reservation: 403");

	/*
	 * The library, on a connection it used before: libcurl resends the
	 * bytes (a replay, 401); the library signs afresh and asks again.
	 */
	if (kp_client_new(p.view.url, "bob", bob.seed, &viap) != KP_OK)
		bail("client");
	is_int(kp_client_release(viap, rv[5].ref), KP_OK,
	    "bob's client through the proxy releases a key (no fault)");
	drop_next(&p);
	is_int(kp_client_spend(viap, rv[2].ref, (const uint8_t *)"grp1", 4),
	    KP_OK, "lib: a spend whose reply is lost: KP_OK");
	heal(&p, "drop-reply");
	is_int(count("spent"), 2, "the key is spent, once");
	drop_next(&p);
	is_int(kp_client_release(viap, rv[3].ref), KP_OK,
	    "lib: a release whose reply is lost: KP_OK");
	heal(&p, "drop-reply");
	is_int(count("reserved"), 1, "the key is released");
	ok(strstr(pctl(&p, "stats"), " drop-reply 4 ") != NULL,
	    "the proxy dropped both replies (four in all)");
	kp_client_free(viap);
	{
		size_t	 n;
		char	*log = tap_slurp(p.log, &n);

		ok(log != NULL && strstr(log, "POST /keypackages/spend none "
		    "- 401 sent") != NULL && strstr(log, "POST "
		    "/keypackages/release none - 401 sent") != NULL,
		    "libcurl's resends were refused as replays (401) before "
		    "the library's own retries");
		free(log);
	}

	/* on a fresh connection: nothing comes back, the library asks
	 * again */
	if (kp_client_new(p.view.url, "bob", bob.seed, &fresh) != KP_OK)
		bail("client");
	drop_next(&p);
	is_int(kp_client_spend(fresh, rv[4].ref, (const uint8_t *)"grp1", 4),
	    KP_OK, "lib, fresh connection: a spend whose reply is lost: "
	    "KP_OK");
	heal(&p, "drop-reply");
	is_int(count("spent"), 3, "the key is spent");
	is_int(kp_client_spend(fresh, rv[4].ref, (const uint8_t *)"grp2", 4),
	    KP_ECONFLICT, "lib: the same key for another group: conflict");
	kp_client_free(fresh);
	ok(strstr(pctl(&p, "stats"), " drop-reply 5 ") != NULL,
	    "the proxy dropped five replies in all");

	for (i = 0; i < 6; i++)
		kp_reservation_free(&rv[i]);
	for (i = 0; i < 8; i++)
		free(k[i].buf);
	who_free(&alice);
	who_free(&bob);
	who_free(&carol);
	(void)prox_stop(&p);
	is_int(srv_stop(&s), 0, "the server stops cleanly");
	return tap_done();
}
