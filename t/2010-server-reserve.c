/* SPDX-License-Identifier: ISC */
/*
 * 2010-server-reserve: reserve corner cases on a real kpool-server, time
 * moved by the test clock: the owner's named reserve of its last-resort
 * key serves it without consuming it, and a retried reserve (same
 * request_id) never hands back a key that expired meanwhile nor a
 * reservation whose TTL passed.
 */

#include "kps_test.h"

static int
upload(struct who *w, const struct kpb *k)
{
	struct kp_upload_result	 res;
	const uint8_t		*p = k->buf;

	if (kp_client_upload(w->c, &p, &k->len, 1, &res) != KP_OK)
		return 0;
	return res.accepted;
}

int
main(void)
{
	const char *const	 ttl[] = { "--reservation-ttl", "600", NULL };
	struct srv		 s;
	struct who		 alice, bob;
	struct kpb		 lr, k1, k2;
	struct kp_reservation	 res;
	struct kp_remote_status	 st;
	char			 rid[65];
	int64_t			 T;

	plan(33);
	srv_start(&s, ttl);
	T = (int64_t)time(NULL);
	srv_set_clock(&s, T);
	who_new(&s, &alice, "alice", 1);
	who_new(&s, &bob, "bob", 1);

	/* the owner names its last-resort key: served, not consumed */
	gen(&alice, "alice", T - 10, T + 86400, 1, &lr);
	ok(upload(&alice, &lr), "alice uploads a last-resort key");
	memset(&res, 0, sizeof(res));
	is_int(kp_client_reserve(alice.c, "alice",
	    &(struct kp_reserve_opts){ .group_id = (const uint8_t *)"g",
	    .group_id_len = 1, .ref = lr.ref }, &res), KP_OK,
	    "alice reserves it by its ref");
	is_blob(res.ref, KP_REF_LEN, lr.ref, KP_REF_LEN, "that key");
	is_int(res.last_resort, 1, "flagged last_resort");
	is_int(res.expires_at, T + 600, "expires_at now + TTL");
	kp_reservation_free(&res);
	is_int(kp_client_status(alice.c, "alice", &st), KP_OK, "status");
	is_int(st.available, 1, "the last-resort key is still available");
	is_int(st.reserved, 0, "nothing is reserved");
	is_int(kp_client_reserve(alice.c, "alice",
	    &(struct kp_reserve_opts){ .group_id = (const uint8_t *)"g",
	    .group_id_len = 1, .ref = lr.ref }, &res), KP_OK,
	    "named again: served again");
	is_int(res.last_resort, 1, "flagged last_resort");
	kp_reservation_free(&res);
	is_int(kp_client_reserve(bob.c, "alice",
	    &(struct kp_reserve_opts){ .group_id = (const uint8_t *)"g",
	    .group_id_len = 1 }, &res), KP_OK,
	    "bob reserves from alice: served");
	is_blob(res.ref, KP_REF_LEN, lr.ref, KP_REF_LEN,
	    "the last-resort key, as nothing else is available");
	is_int(res.last_resort, 1, "flagged last_resort");
	kp_reservation_free(&res);

	/* a retry after the key expired: not that key */
	gen(&alice, "alice", T - 10, T + 100, 0, &k1);
	ok(upload(&alice, &k1), "k1, not_after now + 100");
	srv_set_clock(&s, T + 1);
	gen(&alice, "alice", T - 10, T + 86400, 0, &k2);
	ok(upload(&alice, &k2), "k2, uploaded later");
	is_int(kp_client_reserve(bob.c, "alice",
	    &(struct kp_reserve_opts){ .group_id = (const uint8_t *)"g",
	    .group_id_len = 1, .request_id = "r1" }, &res), KP_OK,
	    "bob reserves with request_id r1");
	is_blob(res.ref, KP_REF_LEN, k1.ref, KP_REF_LEN, "k1, the oldest");
	snprintf(rid, sizeof(rid), "%s", res.reservation_id);
	kp_reservation_free(&res);
	is_int(kp_client_reserve(bob.c, "alice",
	    &(struct kp_reserve_opts){ .group_id = (const uint8_t *)"g",
	    .group_id_len = 1, .request_id = "r1" }, &res), KP_OK,
	    "retry r1 at once");
	is_string(res.reservation_id, rid, "the same reservation");
	kp_reservation_free(&res);
	srv_set_clock(&s, T + 100);
	is_int(kp_client_reserve(bob.c, "alice",
	    &(struct kp_reserve_opts){ .group_id = (const uint8_t *)"g",
	    .group_id_len = 1, .request_id = "r1" }, &res), KP_OK,
	    "retry r1 once k1 expired: 200");
	is_blob(res.ref, KP_REF_LEN, k2.ref, KP_REF_LEN, "k2, not k1");
	ok(strcmp(res.reservation_id, rid) != 0, "a new reservation");
	is_int(res.expires_at, T + 100 + 600, "expires_at now + TTL");
	is_int(res.last_resort, 0, "not last resort");
	snprintf(rid, sizeof(rid), "%s", res.reservation_id);
	kp_reservation_free(&res);

	/* a retry after the reservation's TTL passed: a new one */
	srv_set_clock(&s, T + 700);
	is_int(kp_client_reserve(bob.c, "alice",
	    &(struct kp_reserve_opts){ .group_id = (const uint8_t *)"g",
	    .group_id_len = 1, .request_id = "r1" }, &res), KP_OK,
	    "retry r1 once its TTL passed: 200");
	ok(strcmp(res.reservation_id, rid) != 0, "a new reservation");
	is_int(res.expires_at, T + 700 + 600, "expires_at now + TTL");
	is_blob(res.ref, KP_REF_LEN, k2.ref, KP_REF_LEN,
	    "k2, available again, reserved anew");
	kp_reservation_free(&res);
	is_int(kp_client_status(alice.c, "alice", &st), KP_OK, "status");
	is_int(st.reserved, 1, "one key reserved");
	is_int(st.expired, 1, "k1 expired");
	is_int(st.available, 1, "the last-resort key available");

	is_int(srv_stop(&s), 0, "SIGTERM: a clean exit");
	free(lr.buf);
	free(k1.buf);
	free(k2.buf);
	who_free(&alice);
	who_free(&bob);
	return done_testing();
}
