/* SPDX-License-Identifier: ISC */
/*
 * 2021-store-copy: the store's copy operations (kps_store_dump, _load,
 * _census) that kpool-server migrate is made of.  A SQLite store is
 * given rows of every kind and state (a user whose name has capitals,
 * the users' devices, a name set aside by the case rule, a reservation
 * with and without a request_id, one released, one burned, a spend, a
 * last-resort key, a retirement's tombstones, nonces, and the drain
 * budget's rows: vouches and a spend's links, grants open, lapsed,
 * spent and released, to strangers and to a contact, one of a removed
 * caller, registrations (two alike), invitations with uses left and
 * none), then copied into a database of the backend under test, and
 * back again into a second SQLite file: the census is the same at every
 * step, and so is every row, column by column, NULLs included; the
 * copy finds the user in any case and refuses the nonces as replays.
 * Contacts that name a removed user are left behind, and counted as
 * such.  On the copy the budget holds: a stranger is refused by the
 * target's budget, a caller holding its cap (a lapsed grant among its
 * two) by the cap, and a vouched contact gets a regular key.  A value
 * too long for its field stops a dump rather than being cut short.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "tap.h"

#include "kps.h"
#include "kps_db.h"

#define T0	1700000000
#define MAXROWS	64

/* Rows as a dump gave them, bytes copied. */
struct rows {
	struct kps_row	r[MAXROWS];
	uint8_t		bytes[MAXROWS][64];
	size_t		n;
};

static int
keep(void *arg, const struct kps_row *r)
{
	struct rows	*d = arg;

	if (d->n == MAXROWS)
		return KP_ETOOBIG;
	d->r[d->n] = *r;
	if (r->kind == KPS_ROW_KEY) {
		memcpy(d->bytes[d->n], r->key.bytes, r->key.len);
		d->r[d->n].key.bytes = d->bytes[d->n];
	}
	d->n++;
	return KP_OK;
}

static int
load(void *arg, const struct kps_row *r)
{
	return kps_store_load(arg, r);
}

/* same: 1 when a and b hold the same rows, column by column. */
static int
same(const struct rows *a, const struct rows *b)
{
	struct kps_row	x, y;
	size_t		i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++) {
		x = a->r[i];
		y = b->r[i];
		if (x.kind == KPS_ROW_KEY &&
		    (x.key.len != y.key.len ||
		    memcmp(x.key.bytes, y.key.bytes, x.key.len) != 0)) {
			diag("row %zu: the bytes differ", i);
			return 0;
		}
		x.key.bytes = y.key.bytes = NULL;
		if (memcmp(&x, &y, sizeof(x)) != 0) {
			diag("row %zu (kind %d) differs", i, x.kind);
			return 0;
		}
	}
	return 1;
}

static struct kps_store *
open_db(const char *db, int burn)
{
	struct kps_store_conf	 conf = { 0 };
	struct kps_store	*s = NULL;

	conf.burn = burn;
	if (kps_store_open(db, &conf, &s) != KP_OK)
		bail("open %s: %s", db, s ? kps_store_errmsg(s) : "?");
	return s;
}

static void
mkkey(struct kps_key *k, int n, int lr)
{
	static uint8_t	bytes[8][64];

	memset(k, 0, sizeof(*k));
	k->ref[0] = (uint8_t)n;
	k->ref[31] = 0xee;
	memset(k->init_key, 0xa0, sizeof(k->init_key));
	k->init_key[0] = (uint8_t)n;
	snprintf(k->username, sizeof(k->username), "alice");
	memset(bytes[n % 8], n, sizeof(bytes[0]));
	k->bytes = bytes[n % 8];
	k->len = 40 + (size_t)n;
	memset(k->credential_hash, n, sizeof(k->credential_hash));
	k->uploaded_at = T0 + n;
	k->not_after = T0 + 86400;
	k->suite = 1;
	k->last_resort = lr;
}

/* copy: src into a fresh, empty dst, in one batch; KP_OK or the error. */
static int
copy(struct kps_store *src, struct kps_store *dst)
{
	int	rc;

	if ((rc = kps_store_begin(dst)) != KP_OK)
		return rc;
	if ((rc = kps_store_dump(src, load, dst)) != KP_OK) {
		(void)kps_store_rollback(dst);
		return rc;
	}
	return kps_store_commit(dst);
}

int
main(void)
{
	char			 dir[] = "/tmp/kpool-2021.XXXXXX", a[512];
	char			 mid[512], back[512];
	struct kps_store	*s, *sb, *m, *z;
	struct kps_census	 c1, c2, c3;
	struct kps_reserve	 r;
	struct kps_reservation	 res;
	struct kps_key		 k;
	struct kps_row		 one;
	static struct rows	 d1, d2, d3;
	sqlite3			*raw;
	uint8_t			 pk[32], got[32];
	char			 canon[KP_MAX_USERNAME + 1];
	struct kps_grant	 g;
	struct kps_budget	 bud;
	uint8_t			 hash[32];
	uint64_t		 n;
	int			 i, wait;

	plan(29);
	if (mkdtemp(dir) == NULL)
		bail("mkdtemp");
	diag("copied into: %s", db_backend());
	snprintf(a, sizeof(a), "%s/a.db", dir);
	snprintf(back, sizeof(back), "%s/back.db", dir);
	db_new(mid, sizeof(mid), dir);
	if (strcmp(mid, a) == 0)	/* on SQLite: another file */
		snprintf(mid, sizeof(mid), "%s/mid.db", dir);

	/* a SQLite store with rows of every kind and state */
	s = open_db(a, 0);
	/* one key, one device: each user a key of its own */
	memset(pk, 1, sizeof(pk));
	if (kps_user_add(s, "alice", pk, T0) != KP_OK ||
	    (pk[0] = 3, kps_user_add(s, "bob", pk, T0 + 1)) != KP_OK ||
	    (pk[0] = 4, kps_user_add(s, "Carol", pk, T0 + 2)) != KP_OK ||
	    kps_nonce_add(s, "bob", "n-1", T0 + 3) != KP_OK ||
	    kps_nonce_add(s, "carol", "n-2", T0 + 4) != KP_OK)
		bail("users and nonces");
	/* what the case rule's migration leaves of a look-alike */
	if (sqlite3_open(a, &raw) != SQLITE_OK || sqlite3_exec(raw,
	    "INSERT INTO users_set_aside VALUES ('ALICE', zeroblob(32), "
	    "1700000005, 'alice', 1700000006)", NULL, NULL, NULL) !=
	    SQLITE_OK)
		bail("set aside: %s", sqlite3_errmsg(raw));
	sqlite3_close(raw);
	for (i = 1; i <= 7; i++) {
		mkkey(&k, i, i == 7);
		if (kps_key_save(s, &k) != KP_OK)
			bail("save %d", i);
	}
	memset(&r, 0, sizeof(r));
	r.caller = "bob";
	r.target = "alice";
	r.group_id = (const uint8_t *)"grp";
	r.group_id_len = 3;
	r.ttl = 60;
	/* key 1 burned: reserved, and its TTL runs out under burn */
	sb = open_db(a, 1);
	r.now = T0 + 10;
	r.request_id = "rid-0";
	if (kps_reserve(sb, &r, &res) != KP_OK ||
	    kps_release_expired_reservations(sb, T0 + 71, &n) != KP_OK ||
	    n != 1)
		bail("burn 1");
	kps_reservation_clear(&res);
	kps_store_close(sb);
	r.now = T0 + 80;
	r.request_id = "rid-1";		/* key 2: reserved, request id */
	if (kps_reserve(s, &r, &res) != KP_OK)
		bail("reserve 2");
	kps_reservation_clear(&res);
	r.request_id = NULL;		/* key 3: reserved, none */
	if (kps_reserve(s, &r, &res) != KP_OK)
		bail("reserve 3");
	kps_reservation_clear(&res);
	if (kps_reserve(s, &r, &res) != KP_OK ||	/* key 4: spent */
	    kps_spend(s, "bob", res.ref, (const uint8_t *)"", 0, T0 + 81) !=
	    KP_OK)
		bail("spend 4");
	kps_reservation_clear(&res);
	if (kps_reserve(s, &r, &res) != KP_OK ||	/* key 5: released */
	    kps_release(s, "bob", res.ref, T0 + 82) != KP_OK)
		bail("release 5");
	kps_reservation_clear(&res);
	mkkey(&k, 6, 0);			/* key 6: retired */
	if (kps_retire(s, "alice", k.ref, T0 + 83) != KP_OK)
		bail("retire 6");

	/* the drain budget's: alice vouches for bob, carol for alice; a
	 * spend links bob and alice both ways */
	if (kps_contact_add(s, "alice", "bob", KPS_CONTACT_VOUCH, T0 + 20) !=
	    KP_OK || kps_contact_add(s, "carol", "alice", KPS_CONTACT_VOUCH,
	    T0 + 21) != KP_OK || kps_contact_add(s, "alice", "bob",
	    KPS_CONTACT_SPEND, T0 + 81) != KP_OK || kps_contact_add(s, "bob",
	    "alice", KPS_CONTACT_SPEND, T0 + 81) != KP_OK)
		bail("contacts");
	/* grants: carol's, a stranger's, one lapsed unspent (open, its
	 * expiry past) and one live; bob's, a contact's, spent; a
	 * stranger's released; one of zed, a caller since removed */
	memset(&g, 0, sizeof(g));
	g.target = "alice";
	g.device = "default";
	for (i = 0; i < 5; i++) {
		static const char *const caller[] = { "carol", "carol", "bob",
		    "carol", "zed" };

		mkkey(&k, i + 1, 0);
		g.caller = caller[i];
		g.ref = k.ref;
		g.stranger = i != 2;
		g.granted_at = T0 + 10 + 10 * i;
		g.expires_at = g.granted_at + (i == 0 ? 60 : 600);
		if (kps_grant_add(s, &g) != KP_OK)
			bail("grant %d", i);
	}
	mkkey(&k, 3, 0);
	if (kps_grant_end(s, "bob", k.ref, KPS_GRANT_SPENT, T0 + 81) != KP_OK)
		bail("grant spent");
	mkkey(&k, 4, 0);
	if (kps_grant_end(s, "carol", k.ref, KPS_GRANT_RELEASED, T0 + 82) !=
	    KP_OK)
		bail("grant released");
	/* registrations, two from one address in one second; invitations,
	 * one used up and one with 3 uses left */
	memset(hash, 0x5a, sizeof(hash));
	if (kps_reg_add(s, "127.0.0.1", T0 + 1) != KP_OK ||
	    kps_reg_add(s, "127.0.0.1", T0 + 1) != KP_OK ||
	    kps_reg_add(s, "2001:db8:ffff:ffff::/64", T0 + 2) != KP_OK ||
	    kps_invite_add(s, hash, 1, T0 + 3) != KP_OK ||
	    kps_invite_take(s, hash, 0) != KP_OK ||
	    (hash[0] = 0x01, kps_invite_add(s, hash, 3, T0 + 3)) != KP_OK)
		bail("registrations and invitations");
	/* what a removal before its contacts went with it would leave */
	if (sqlite3_open(a, &raw) != SQLITE_OK || sqlite3_exec(raw,
	    "INSERT INTO contacts VALUES ('alice', 'zed', 1, 1700000030), "
	    "('zed', 'bob', 1, 1700000031)", NULL, NULL, NULL) != SQLITE_OK)
		bail("orphans: %s", sqlite3_errmsg(raw));
	sqlite3_close(raw);

	is_int(kps_store_census(s, &c1), KP_OK, "census of the source");
	ok(c1.rows[KPS_ROW_USER] == 3 && c1.rows[KPS_ROW_DEVICE] == 3 &&
	    c1.rows[KPS_ROW_SET_ASIDE] == 1 &&
	    c1.rows[KPS_ROW_NONCE] == 2 && c1.rows[KPS_ROW_KEY] == 6 &&
	    c1.keys[KP_STATE_AVAILABLE] == 2 &&
	    c1.keys[KP_STATE_RESERVED] == 2 && c1.keys[KP_STATE_SPENT] == 2 &&
	    c1.last_resort == 1 && c1.reservations == 2 &&
	    c1.tombstones[0] == 1 && c1.tombstones[1] == 1,
	    "users, devices, names set aside, keys by state, reservations, "
	    "tombstones, nonces");
	ok(c1.rows[KPS_ROW_CONTACT] == 4 && c1.contacts_left == 2 &&
	    c1.rows[KPS_ROW_GRANT] == 5 && c1.grants_open == 3 &&
	    c1.grants_strangers == 4 && c1.rows[KPS_ROW_REGISTRATION] == 3 &&
	    c1.rows[KPS_ROW_INVITE] == 2 && c1.invite_uses == 3,
	    "contacts (2 naming a removed user apart), grants open and to "
	    "strangers, registrations, invitations and their uses left");
	is_int(kps_store_dump(s, keep, &d1), KP_OK, "dump the source");
	is_int((int)d1.n, 3 + 3 + 1 + 6 + 2 + 2 + 4 + 5 + 3 + 2,
	    "thirty-one rows: the contacts that name zed left behind");
	for (i = 0, n = 0; i < (int)d1.n; i++)
		if (d1.r[i].kind == KPS_ROW_CONTACT &&
		    (strcmp(d1.r[i].name, "zed") == 0 ||
		    strcmp(d1.r[i].peer, "zed") == 0))
			n++;
	is_int((int)n, 0, "no contact dumped names zed");

	m = open_db(mid, 0);
	c1.contacts_left = 0;		/* the copy's census: none */
	is_int(copy(s, m), KP_OK, "load them into %s", db_backend());
	is_int(kps_store_census(m, &c2), KP_OK, "its census");
	ok(memcmp(&c1, &c2, sizeof(c1)) == 0, "the same census");
	is_int(kps_store_dump(m, keep, &d2), KP_OK, "dump the copy");
	ok(same(&d1, &d2), "the same rows, column by column, NULLs and all");
	ok(c2.contacts_left == 0, "none left behind in the copy");
	one = d1.r[0];
	is_int(kps_store_load(m, &one), KP_EEXIST, "a row loaded again: "
	    "there already");
	for (i = 0; d1.r[i].kind != KPS_ROW_INVITE; i++)
		;
	one = d1.r[i];
	is_int(kps_store_load(m, &one), KP_EEXIST, "an invitation too");
	is_int(kps_device_get(m, "CAROL", "default", got, canon), KP_OK,
	    "the copy finds Carol as CAROL, with her device");
	is_string(canon, "Carol", "as she registered");
	is_int(kps_user_add(m, "carol", got, T0 + 9), KP_OK,
	    "carol with her key: the same user, no change");
	memset(got, 2, sizeof(got));
	is_int(kps_user_add(m, "CAROL", got, T0 + 9), KP_EEXIST,
	    "CAROL with another key: taken");
	is_int(kps_nonce_add(m, "carol", "n-2", T0 + 4), KP_EEXIST,
	    "a nonce of the source is a replay in the copy");

	z = open_db(back, 0);
	is_int(copy(m, z), KP_OK, "and back into SQLite");
	is_int(kps_store_census(z, &c3), KP_OK, "census");
	ok(memcmp(&c1, &c3, sizeof(c1)) == 0, "the same census again");
	is_int(kps_store_dump(z, keep, &d3) == KP_OK && same(&d1, &d3), 1,
	    "and the same rows");

	/* the budget holds on the copy, at T0 + 100 */
	memset(&bud, 0, sizeof(bud));
	bud.share = 25;
	bud.cap = 2;
	bud.window = 3600;
	r.now = T0 + 100;
	r.group_id_len = 0;
	r.caller = "erin";
	is_int(kps_reserve_budget(m, &r, &bud, &res, &wait), KPS_EBUDGET,
	    "a stranger: the target's budget is spent");
	is_int(wait, 3600 - 100 + 10, "until the first grant leaves the hour");
	r.caller = "carol";
	is_int(kps_reserve_budget(m, &r, &bud, &res, &wait), KPS_ECAP,
	    "carol holds her cap: her lapsed grant still counts");
	r.caller = "bob";
	is_int(kps_reserve_budget(m, &r, &bud, &res, &wait), KP_OK,
	    "bob, whom alice vouched for, gets a key");
	mkkey(&k, 5, 0);
	ok(!res.last_resort && memcmp(res.ref, k.ref, KP_REF_LEN) == 0,
	    "her one regular key available");
	kps_reservation_clear(&res);

	/* a value no server writes, too long for a row: the dump stops */
	if (sqlite3_open(a, &raw) != SQLITE_OK || sqlite3_exec(raw,
	    "INSERT INTO registrations VALUES (printf('%.64c', 'a'), 1)",
	    NULL, NULL, NULL) != SQLITE_OK)
		bail("long address: %s", sqlite3_errmsg(raw));
	sqlite3_close(raw);
	d3.n = 0;
	is_int(kps_store_dump(s, keep, &d3), KP_ETOOBIG,
	    "an address of 64 bytes: KP_ETOOBIG, not cut short");

	kps_store_close(z);
	kps_store_close(m);
	kps_store_close(s);
	db_drop(mid);
	db_drop(a);
	db_drop(back);
	rmdir(dir);
	return done_testing();
}
