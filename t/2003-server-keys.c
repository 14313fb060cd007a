/* SPDX-License-Identifier: ISC */
/*
 * 2003-server-keys: a real kpool-server with KeyPackages: upload
 * (accepted and every rejection), reserve oldest first, idempotent
 * request ids, spend and its refusals, release, reservation timeout
 * (release and burn), expiry and cleanup, last resort, tombstones of
 * spent refs and init keys, named reserve, owner's spend, retire, and
 * what GET /keypackages/mine shows.  Time moves by the test clock.
 */

#include <stdarg.h>

#include "kps_test.h"
#include "crypto.h"

static int64_t	T;
static struct rawreply *last;	/* the reply of the last rawj() */
static char	hex[2 * KP_REF_LEN + 1];

/* H: a ref in hex, in a static buffer. */
static const char *
H(const uint8_t *ref)
{
	kp_hex(ref, KP_REF_LEN, hex);
	return hex;
}

/*
 * with_init_key: a copy of fresh whose init_key is old's, re-signed by
 * w: a valid KeyPackage reusing an init key.
 */
static void
with_init_key(struct who *w, const struct kpb *old, const struct kpb *fresh,
    struct kpb *out)
{
	uint8_t	sig[64];

	out->len = fresh->len;
	if ((out->buf = malloc(out->len)) == NULL)
		bail("malloc");
	memcpy(out->buf, fresh->buf, fresh->len);
	/* version(2) suite(2) init_key<V>(1 + 32) ... signature<V>(2 + 64) */
	if (out->buf[4] != 32 || out->buf[out->len - 66] != 0x40 ||
	    out->buf[out->len - 65] != 0x40)
		bail("unexpected KeyPackage layout");
	memcpy(out->buf + 5, old->buf + 5, 32);
	if (kp_sign_with_label(w->sk, "KeyPackageTBS", out->buf,
	    out->len - 66, sig) != KP_OK)
		bail("sign");
	memcpy(out->buf + out->len - 64, sig, 64);
	if (kp_keypackage_ref_compute(1, out->buf, out->len, out->ref) != KP_OK)
		bail("ref");
}

/* upload1: upload one KeyPackage; the result in *res. */
static int
upload1(struct who *w, const struct kpb *k, struct kp_upload_result *res)
{
	const uint8_t	*p = k->buf;

	return kp_client_upload(w->c, &p, &k->len, 1, res);
}

/* rawj: a signed raw request with a printf-made body. */
static void __attribute__((format(printf, 5, 6)))
rawj(struct srv *s, struct who *w, const char *method, const char *path,
    const char *fmt, ...)
{
	static struct rawreply	r;
	char			body[512];
	va_list			ap;

	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	raw(s, w, method, path, *body ? body : NULL, T_NONE, &r);
	last = &r;
}

static const struct kp_remote_key *
find(const struct kp_remote_key *keys, size_t n, const uint8_t *ref)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (memcmp(keys[i].ref, ref, KP_REF_LEN) == 0)
			return &keys[i];
	return NULL;
}

int
main(void)
{
	struct srv			 s, sb;
	struct who			 alice, bob, carol, mallory;
	struct kpb			 k[6], bad[8], lr, reuse, reuse2;
	struct kp_upload_result		 res[8];
	struct kp_reservation		 r1, r2;
	struct kp_remote_status		 st;
	struct kp_remote_key		*keys;
	const struct kp_remote_key	*mk;
	struct rawreply			 rr;
	const uint8_t			*ptrs[8];
	size_t				 lens[8], n, i;
	const char *const		 opts[] = { "--rate-limit", "0",
					    "--expired-retention", "100",
					    "--max-lifetime", "2592000",
					    "--metrics-token", token_file(),
					    NULL };
	const char *const		 burn[] = { "--expired-reservations",
					    "burn", NULL };

	plan(153);
	srv_start(&s, opts);
	T = (int64_t)time(NULL);
	srv_set_clock(&s, T);
	who_new(&s, &alice, "alice", 1);
	who_new(&s, &bob, "bob", 1);
	who_new(&s, &carol, "carol", 1);
	who_new(&s, &mallory, "mallory", 1);

	/* upload: three good keys, in one batch */
	for (i = 0; i < 3; i++) {
		gen(&alice, "alice", T - 10, T + 86400, 0, &k[i]);
		ptrs[i] = k[i].buf;
		lens[i] = k[i].len;
	}
	is_int(kp_client_upload(alice.c, ptrs, lens, 3, res), KP_OK,
	    "upload three keys");
	for (i = 0; i < 3; i++) {
		ok(res[i].accepted, "key %zu accepted", i);
		is_blob(res[i].ref, KP_REF_LEN, k[i].ref, KP_REF_LEN,
		    "key %zu: the server derived the same ref", i);
	}
	is_int(upload1(&alice, &k[0], res), KP_OK, "upload key 0 again");
	ok(res[0].accepted, "a re-upload of a live key is accepted "
	    "(a lost reply can be retried)");

	/* upload: each rejection, by its code */
	gen(&bob, "bob", T - 10, T + 86400, 0, &bad[0]);
	gen(&mallory, "alice", T - 10, T + 86400, 0, &bad[1]);
	gen(&alice, "alice", T - 100, T - 1, 0, &bad[2]);
	gen(&alice, "alice", T - 10, T + 31 * 86400, 0, &bad[3]);
	gen(&alice, "alice", T + 3600, T + 86400, 0, &bad[4]);
	gen(&alice, "alice", T - 10, T + 86400, 0, &bad[5]);
	bad[5].buf[bad[5].len - 1] ^= 1;		/* forged signature */
	gen(&alice, "alice", T - 10, T + 86400, 0, &bad[6]);
	bad[6].buf = realloc(bad[6].buf, bad[6].len + 1);
	bad[6].buf[bad[6].len++] = 0;			/* trailing byte */
	bad[7].buf = malloc(3);
	memcpy(bad[7].buf, "\x00\x01\x00", 3);		/* truncated */
	bad[7].len = 3;
	for (i = 0; i < 8; i++) {
		ptrs[i] = bad[i].buf;
		lens[i] = bad[i].len;
	}
	is_int(kp_client_upload(alice.c, ptrs, lens, 8, res), KP_OK,
	    "upload eight bad keys: 200");
	is_string(res[0].code, "wrong_identity", "bob's key: wrong_identity");
	is_int(res[0].error, KP_ECRED, "... as KP_ECRED");
	is_string(res[1].code, "wrong_signature_key",
	    "alice's name, mallory's key: wrong_signature_key");
	is_string(res[2].code, "expired", "past not_after: expired");
	is_int(res[2].error, KP_EEXPIRED, "... as KP_EEXPIRED");
	is_string(res[3].code, "lifetime_too_long",
	    "31 days over a 30-day maximum: lifetime_too_long");
	is_string(res[4].code, "not_yet_valid", "not_before ahead");
	is_string(res[5].code, "invalid_keypackage", "forged signature");
	ok(strstr(res[5].message, "signature") != NULL,
	    "the message names the signature: %s", res[5].message);
	is_string(res[6].code, "bad_keypackage", "a trailing byte");
	is_string(res[6].message, "not a KeyPackage: trailing bytes",
	    "the message says what is wrong");
	is_string(res[7].code, "bad_keypackage", "truncated");
	for (i = 0, n = 0; i < 8; i++)
		n += res[i].accepted;
	is_int(n, 0, "none accepted");

	/* reserve: oldest first, idempotent by request id */
	is_int(kp_client_reserve(bob.c, "alice",
	    &(struct kp_reserve_opts){ .group_id = (const uint8_t *)"grp1",
	    .group_id_len = 4, .request_id = "req-1" }, &r1), KP_OK,
	    "bob reserves one of alice's keys");
	is_blob(r1.ref, KP_REF_LEN, k[0].ref, KP_REF_LEN, "the oldest one");
	is_blob(r1.keypackage, r1.keypackage_len, k[0].buf, k[0].len,
	    "its bytes");
	is_int(r1.expires_at, T + 60, "expires after the 60 s TTL");
	is_int(r1.last_resort, 0, "not last resort");
	is_int(kp_client_reserve(bob.c, "alice",
	    &(struct kp_reserve_opts){ .group_id = (const uint8_t *)"grp1",
	    .group_id_len = 4, .request_id = "req-1" }, &r2), KP_OK,
	    "retry with the same request_id");
	is_blob(r2.ref, KP_REF_LEN, r1.ref, KP_REF_LEN, "the same key");
	is_string(r2.reservation_id, r1.reservation_id,
	    "the same reservation");
	kp_reservation_free(&r2);
	is_int(kp_client_status(alice.c, "alice", &st), KP_OK, "status");
	ok(st.available == 2 && st.reserved == 1 && st.spent == 0 &&
	    st.expired == 0 && st.last_resort == 0,
	    "2 available, 1 reserved (not two)");

	/* concurrent reservers get different keys */
	is_int(kp_client_reserve(carol.c, "alice", NULL, &r2),
	    KP_OK, "carol reserves too");
	ok(memcmp(r2.ref, r1.ref, KP_REF_LEN) != 0, "another key");
	is_blob(r2.ref, KP_REF_LEN, k[1].ref, KP_REF_LEN, "the next oldest");

	/* spend and release: who may */
	is_int(kp_client_spend(carol.c, r1.ref, NULL, 0), KP_EFORBIDDEN,
	    "carol cannot spend bob's reservation");
	rawj(&s, &carol, "POST", "/keypackages/spend",
	    "{\"keypackage_ref\":\"%s\"}", H(r1.ref));
	is_reply(last, 403, "forbidden", "raw: spend without a reservation");
	is_int(kp_client_last_status(carol.c), 403, "403");
	raw(&s, &carol, "POST", "/keypackages/release", NULL, T_NONE, &rr);
	is_reply(&rr, 400, "bad_json", "release without a body");
	is_int(kp_client_release(carol.c, r1.ref), KP_EFORBIDDEN,
	    "carol cannot release bob's reservation");
	is_int(kp_client_release(alice.c, r1.ref), KP_EFORBIDDEN,
	    "nor can alice, the owner");
	is_int(kp_client_spend(bob.c, r1.ref, (const uint8_t *)"grp1", 4),
	    KP_OK, "bob spends his reservation");
	/* a retry by the spender for the same group: answered as the first */
	is_int(kp_client_spend(bob.c, r1.ref, (const uint8_t *)"grp1", 4),
	    KP_OK, "bob's spend again, same group: 200, a retry");
	rawj(&s, &bob, "POST", "/keypackages/spend",
	    "{\"keypackage_ref\":\"%s\"}", H(r1.ref));
	is_int(last->status, 200, "raw: bob's spend again naming no group");
	is_int(kp_client_spend(bob.c, r1.ref, (const uint8_t *)"grp2", 4),
	    KP_ECONFLICT, "bob's spend for another group: conflict");
	rawj(&s, &bob, "POST", "/keypackages/spend",
	    "{\"keypackage_ref\":\"%s\",\"group_id\":\"Z3JwMg==\"}",
	    H(r1.ref));
	is_reply(last, 409, "already_spent", "raw: for another group");
	is_int(kp_client_spend(carol.c, r1.ref, (const uint8_t *)"grp1", 4),
	    KP_ECONFLICT, "carol's spend of it, same group: conflict");
	is_int(kp_client_last_status(carol.c), 409, "409 already spent");
	is_int(kp_client_spend(alice.c, r1.ref, NULL, 0), KP_ECONFLICT,
	    "the owner cannot spend it either");
	is_int(kp_client_release(bob.c, r1.ref), KP_ECONFLICT,
	    "release of a spent key: 409");
	rawj(&s, &bob, "POST", "/keypackages/release",
	    "{\"keypackage_ref\":\"%s\"}", H(r1.ref));
	is_reply(last, 409, "already_spent", "raw: release of a spent key");
	is_int(kp_client_release(carol.c, r2.ref), KP_OK, "carol releases");
	/* a retry by the releaser: answered as the first; others: 409 */
	is_int(kp_client_release(carol.c, r2.ref), KP_OK,
	    "carol's release again: 200, a retry");
	rawj(&s, &carol, "POST", "/keypackages/release",
	    "{\"keypackage_ref\":\"%s\"}", H(r2.ref));
	is_int(last->status, 200, "raw: carol's release again");
	is_int(kp_client_release(bob.c, r2.ref), KP_ECONFLICT,
	    "bob's release of it: not reserved");
	rawj(&s, &bob, "POST", "/keypackages/release",
	    "{\"keypackage_ref\":\"%s\"}", H(r2.ref));
	is_reply(last, 409, "not_reserved", "raw: bob's release of it");
	is_int(kp_client_spend(carol.c, r2.ref, NULL, 0), KP_EFORBIDDEN,
	    "carol's spend after her release: 403 as before");

	/* mine: who, when, which group */
	srv_set_clock(&s, T + 5);
	is_int(kp_client_mine(alice.c, &keys, &n), KP_OK, "alice's keys");
	is_int(n, 3, "three");
	mk = find(keys, n, r1.ref);
	ok(mk != NULL && mk->state == KP_STATE_SPENT, "key 0 spent");
	if (mk != NULL) {
		is_string(mk->spent_by, "bob", "spent by bob");
		is_string(mk->reserved_by, "bob", "reserved by bob");
		is_int(mk->spent_at, T, "spent at T");
		is_int(mk->reserved_at, T, "reserved at T");
		is_blob(mk->group_id, mk->group_id_len, "grp1", 4, "group");
		is_int(mk->uploaded_at, T, "uploaded at T");
		is_int(mk->not_after, T + 86400, "not_after");
	} else
		skip(7, "no key 0");
	mk = find(keys, n, k[1].ref);
	ok(mk != NULL && mk->state == KP_STATE_AVAILABLE &&
	    mk->reserved_by[0] == '\0', "key 1 available, no reserver");
	free(keys);
	kp_reservation_free(&r1);
	kp_reservation_free(&r2);

	/* tombstones: the spent ref, its init key */
	is_int(upload1(&alice, &k[0], res), KP_OK, "re-upload the spent key");
	is_string(res[0].code, "spent", "refused: spent");
	is_int(res[0].error, KP_ECONFLICT, "... as KP_ECONFLICT");
	gen(&alice, "alice", T - 10, T + 86400, 0, &k[3]);
	with_init_key(&alice, &k[0], &k[3], &reuse);
	is_int(upload1(&alice, &reuse, res), KP_OK,
	    "a new key with the spent key's init_key");
	is_string(res[0].code, "init_key_reused", "refused: init_key_reused");
	with_init_key(&alice, &k[1], &k[3], &reuse2);
	is_int(upload1(&alice, &reuse2, res), KP_OK,
	    "a new key with a live key's init_key");
	is_string(res[0].code, "init_key_reused", "refused too");

	/* reservation timeout: back to available, reserved again */
	is_int(kp_client_reserve(bob.c, "alice",
	    &(struct kp_reserve_opts){ .request_id = "req-2" }, &r1),
	    KP_OK, "bob reserves key 1 at T+5");
	is_blob(r1.ref, KP_REF_LEN, k[1].ref, KP_REF_LEN, "key 1");
	srv_set_clock(&s, T + 64);
	is_int(kp_client_status(alice.c, "alice", &st), KP_OK, "status");
	ok(st.reserved == 1, "reserved until the TTL passes");
	srv_set_clock(&s, T + 65);
	is_int(kp_client_status(alice.c, "alice", &st), KP_OK, "status");
	ok(st.available == 2 && st.reserved == 0,
	    "at T+65 the reservation is over: 2 available");
	is_int(kp_client_reserve(carol.c, "alice", NULL, &r2),
	    KP_OK, "carol reserves");
	is_blob(r2.ref, KP_REF_LEN, k[1].ref, KP_REF_LEN,
	    "the same key 1: released for reuse");
	is_int(kp_client_spend(bob.c, r1.ref, NULL, 0), KP_EFORBIDDEN,
	    "bob's late spend of a key carol now holds: 403");
	is_int(kp_client_spend(carol.c, r2.ref, (const uint8_t *)"g2", 2),
	    KP_OK, "carol spends it");
	kp_reservation_free(&r1);
	kp_reservation_free(&r2);
	is_int(kp_client_reserve(bob.c, "alice", NULL, &r1),
	    KP_OK, "bob reserves key 2");
	srv_set_clock(&s, T + 130);
	is_int(kp_client_spend(bob.c, r1.ref, NULL, 0), KP_EGONE,
	    "spend after the TTL: reservation expired");
	rawj(&s, &bob, "POST", "/keypackages/spend",
	    "{\"keypackage_ref\":\"%s\"}", H(r1.ref));
	is_reply(last, 410, "reservation_expired", "raw: spend after the TTL");
	is_int(kp_client_last_status(bob.c), 410, "410");
	kp_reservation_free(&r1);

	/* named reserve (owner only), owner's out-of-band spend, retire */
	is_int(kp_client_reserve(bob.c, "alice",
	    &(struct kp_reserve_opts){ .ref = k[2].ref }, &r1),
	    KP_EFORBIDDEN, "bob cannot reserve a named key of alice");
	rawj(&s, &bob, "POST", "/keypackages/reserve",
	    "{\"target_username\":\"alice\",\"keypackage_ref\":\"%s\"}",
	    H(k[2].ref));
	is_reply(last, 403, "forbidden", "raw: a named key of someone else");
	rawj(&s, &alice, "POST", "/keypackages/reserve",
	    "{\"target_username\":\"alice\",\"keypackage_ref\":\"%s\"}",
	    H(k[0].buf));
	is_reply(last, 404, "not_found", "raw: a named key alice lacks");
	is_int(kp_client_reserve(alice.c, "alice",
	    &(struct kp_reserve_opts){ .ref = k[2].ref }, &r1), KP_OK,
	    "alice reserves her key 2 by ref");
	is_blob(r1.ref, KP_REF_LEN, k[2].ref, KP_REF_LEN, "that key");
	kp_reservation_free(&r1);
	is_int(kp_client_reserve(alice.c, "alice",
	    &(struct kp_reserve_opts){ .ref = k[2].ref }, &r1), KP_ECONFLICT,
	    "named key not available: 409");
	rawj(&s, &alice, "POST", "/keypackages/reserve",
	    "{\"target_username\":\"alice\",\"keypackage_ref\":\"%s\"}",
	    H(k[2].ref));
	is_reply(last, 409, "not_available", "raw: named key not available");
	is_int(kp_client_release(alice.c, k[2].ref), KP_OK,
	    "alice releases her own reservation");
	gen(&alice, "alice", T, T + 86400, 0, &k[4]);
	is_int(upload1(&alice, &k[4], res), KP_OK, "upload key 4");
	is_int(kp_client_spend(alice.c, k[4].ref, NULL, 0), KP_OK,
	    "the owner spends an available key (used out of band)");
	is_int(kp_client_spend(bob.c, k[2].ref, NULL, 0), KP_EFORBIDDEN,
	    "bob spends without a reservation: 403");
	is_int(kp_client_retire(bob.c, k[2].ref), KP_EFORBIDDEN,
	    "bob cannot retire alice's key");
	{
		char	path[96];

		snprintf(path, sizeof(path), "/keypackages/%s", H(k[2].ref));
		raw(&s, &bob, "DELETE", path, NULL, T_NONE, last);
	}
	is_reply(last, 403, "forbidden", "raw: retire someone else's key");
	raw(&s, &bob, "DELETE", "/keypackages/"
	    "zz5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a",
	    NULL, T_NONE, last);
	is_reply(last, 400, "bad_ref", "raw: retire a ref that is not hex");
	is_int(kp_client_last_status(bob.c), 403, "403");
	is_int(kp_client_retire(alice.c, k[2].ref), KP_OK, "alice retires key 2");
	is_int(upload1(&alice, &k[2], res), KP_OK, "re-upload key 2");
	is_string(res[0].code, "spent", "a retired ref cannot come back");
	is_int(kp_client_retire(alice.c, k[2].ref), KP_ENOTFOUND,
	    "retire it again: 404");

	/* last resort: served when nothing else is, never consumed */
	is_int(kp_client_reserve(bob.c, "alice", NULL, &r1),
	    KP_EEXHAUSTED, "alice's pool is empty: 409 pool_exhausted");
	gen(&alice, "alice", T, T + 86400, 1, &lr);
	is_int(upload1(&alice, &lr, res), KP_OK, "upload a last-resort key");
	ok(res[0].accepted, "accepted");
	gen(&alice, "alice", T, T + 200, 0, &k[5]);
	is_int(upload1(&alice, &k[5], res), KP_OK,
	    "upload a key that expires at T+200");
	srv_set_clock(&s, T + 200);
	for (i = 0; i < 2; i++) {
		is_int(kp_client_reserve(bob.c, "alice", NULL, &r1), KP_OK,
		    "reserve %zu with an empty pool", i);
		is_int(r1.last_resort, 1, "flagged last_resort");
		is_blob(r1.ref, KP_REF_LEN, lr.ref, KP_REF_LEN,
		    "the last-resort key (the expired key is never handed "
		    "out)");
		kp_reservation_free(&r1);
	}
	is_int(kp_client_spend(bob.c, lr.ref, NULL, 0), KP_OK,
	    "spending the last-resort key is accepted");
	is_int(kp_client_status(alice.c, "alice", &st), KP_OK, "status");
	ok(st.available == 1 && st.last_resort == 1 && st.expired == 1,
	    "the last-resort key stays available; one expired (%u %u %u)",
	    st.available, st.last_resort, st.expired);
	is_int(kp_client_mine(alice.c, &keys, &n), KP_OK, "mine");
	mk = find(keys, n, k[5].ref);
	ok(mk != NULL && mk->state == KP_STATE_EXPIRED, "key 5 is expired");
	mk = find(keys, n, lr.ref);
	ok(mk != NULL && mk->last_resort && mk->state == KP_STATE_AVAILABLE,
	    "the last-resort key is flagged and available");
	free(keys);

	/* expired keys are cleaned up (retention 100 s, every 60 s) */
	srv_set_clock(&s, T + 400);
	is_int(kp_client_reserve(bob.c, "alice", NULL, &r1),
	    KP_OK, "a write runs the cleanup");
	kp_reservation_free(&r1);
	is_int(kp_client_mine(alice.c, &keys, &n), KP_OK, "mine");
	ok(find(keys, n, k[5].ref) == NULL, "the expired key is gone");
	free(keys);

	/* metrics count what happened */
	raw_bearer(&s, TEST_TOKEN, "/metrics", &rr);
	ok(strstr(rr.body, "kpool_last_resort_served_total 3\n") != NULL,
	    "three last-resort keys served");
	ok(strstr(rr.body, "kpool_reservations_expired_total 2\n") != NULL,
	    "two reservations expired");
	ok(strstr(rr.body, "kpool_pool_exhausted_total 1\n") != NULL,
	    "one pool-exhausted answer");
	ok(strstr(rr.body, "kpool_keys{state=\"spent\"} 3\n") != NULL,
	    "three spent keys");
	is_int(srv_stop(&s), 0, "a clean exit");

	/* burn: an expired reservation spends the key */
	srv_start(&sb, burn);
	srv_set_clock(&sb, T);
	who_free(&alice);
	who_free(&bob);
	who_new(&sb, &alice, "alice", 1);
	who_new(&sb, &bob, "bob", 1);
	free(k[0].buf);
	gen(&alice, "alice", T - 10, T + 86400, 0, &k[0]);
	is_int(upload1(&alice, &k[0], res), KP_OK, "upload one key");
	is_int(kp_client_reserve(bob.c, "alice", NULL, &r1),
	    KP_OK, "bob reserves it");
	kp_reservation_free(&r1);
	srv_set_clock(&sb, T + 61);
	is_int(kp_client_reserve(bob.c, "alice", NULL, &r1),
	    KP_EEXHAUSTED, "after the TTL it is not handed out again");
	is_int(kp_client_status(alice.c, "alice", &st), KP_OK, "status");
	ok(st.spent == 1 && st.available == 0, "burned: spent");
	is_int(kp_client_spend(bob.c, k[0].ref, NULL, 0), KP_EGONE,
	    "bob's late spend: 410");
	is_int(upload1(&alice, &k[0], res), KP_OK, "re-upload the burned key");
	is_string(res[0].code, "spent", "refused: spent");
	is_int(srv_stop(&sb), 0, "a clean exit");

	for (i = 0; i < 6; i++)
		free(k[i].buf);
	for (i = 0; i < 8; i++)
		free(bad[i].buf);
	free(lr.buf);
	free(reuse.buf);
	free(reuse2.buf);
	who_free(&alice);
	who_free(&bob);
	who_free(&carol);
	who_free(&mallory);
	return done_testing();
}
