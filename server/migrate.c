/* SPDX-License-Identifier: ISC */
/*
 * migrate.c: kpool-server migrate: copy one store into another, empty
 * one (SQLite into PostgreSQL, say) through the store's dump and load
 * operations, whatever the two backends, and check the copy: the counts
 * of every table, of keys per state and of tombstones must be equal
 * before the copy is committed.  The nonces of signatures are copied
 * too, so that a request signed before the move is not carried out
 * again after it, and so are the drain budget's tables (contacts,
 * grants, registrations, invitations), so that the budget holds across
 * the move; the rate buckets are not (they refill in seconds).  A
 * contact that names a removed user is left behind (store.h), and said.
 */

#include <stdio.h>
#include <string.h>

#include "kps.h"

/* A copy in progress. */
struct copy {
	struct kps_store	*to;
	uint64_t		 n[KPS_NROWKINDS];
	int			 rc;
	const char		*why;
};

static const char *const kind_name[KPS_NROWKINDS] = {
	[KPS_ROW_USER] = "users",
	[KPS_ROW_DEVICE] = "devices",
	[KPS_ROW_SET_ASIDE] = "names set aside",
	[KPS_ROW_KEY] = "keys",
	[KPS_ROW_TOMBSTONE] = "tombstones",
	[KPS_ROW_NONCE] = "nonces",
	[KPS_ROW_CONTACT] = "contacts",
	[KPS_ROW_GRANT] = "grants",
	[KPS_ROW_REGISTRATION] = "registrations",
	[KPS_ROW_INVITE] = "invitations",
};

/* load: one row of the source into the target. */
static int
load(void *arg, const struct kps_row *r)
{
	struct copy	*c = arg;
	int		 rc;

	if ((rc = kps_store_load(c->to, r)) != KP_OK) {
		c->why = rc == KP_EEXIST ? "a row is there already" :
		    kps_store_errmsg(c->to);
		return rc;
	}
	if (++c->n[r->kind] % 100000 == 0)
		fprintf(stderr, "kpool-server: migrate: %llu %s\n",
		    (unsigned long long)c->n[r->kind], kind_name[r->kind]);
	return KP_OK;
}

/* show: what a census counts, on one line. */
static void
show(FILE *f, const char *what, const struct kps_census *c)
{
	fprintf(f, "%s: %llu users (%llu devices, %llu names set aside), "
	    "%llu keys (%llu available, %llu reserved, %llu spent; %llu last "
	    "resort, %llu reservations), %llu tombstones (%llu refs, %llu "
	    "init keys), %llu nonces, %llu contacts (%llu left behind), "
	    "%llu grants (%llu open, %llu to strangers), %llu "
	    "registrations, %llu invitations (%llu uses left)\n", what,
	    (unsigned long long)c->rows[KPS_ROW_USER],
	    (unsigned long long)c->rows[KPS_ROW_DEVICE],
	    (unsigned long long)c->rows[KPS_ROW_SET_ASIDE],
	    (unsigned long long)c->rows[KPS_ROW_KEY],
	    (unsigned long long)c->keys[KP_STATE_AVAILABLE],
	    (unsigned long long)c->keys[KP_STATE_RESERVED],
	    (unsigned long long)c->keys[KP_STATE_SPENT],
	    (unsigned long long)c->last_resort,
	    (unsigned long long)c->reservations,
	    (unsigned long long)c->rows[KPS_ROW_TOMBSTONE],
	    (unsigned long long)c->tombstones[0],
	    (unsigned long long)c->tombstones[1],
	    (unsigned long long)c->rows[KPS_ROW_NONCE],
	    (unsigned long long)c->rows[KPS_ROW_CONTACT],
	    (unsigned long long)c->contacts_left,
	    (unsigned long long)c->rows[KPS_ROW_GRANT],
	    (unsigned long long)c->grants_open,
	    (unsigned long long)c->grants_strangers,
	    (unsigned long long)c->rows[KPS_ROW_REGISTRATION],
	    (unsigned long long)c->rows[KPS_ROW_INVITE],
	    (unsigned long long)c->invite_uses);
}

/* empty: 1 when c counts no row of any table. */
static int
empty(const struct kps_census *c)
{
	int	i;

	for (i = 0; i < KPS_NROWKINDS; i++)
		if (c->rows[i] != 0)
			return 0;
	return c->contacts_left == 0;
}

/* open: a connection to db, or NULL with the reason said. */
static struct kps_store *
open_store(const char *db, int readonly)
{
	struct kps_store_conf	 conf = { 0 };
	struct kps_store	*s = NULL;
	char			 shown[512];
	int			 rc;

	conf.readonly = readonly;
	if ((rc = kps_store_open(db, &conf, &s)) != KP_OK) {
		fprintf(stderr, "kpool-server: %s: %s\n", kps_store_shown(db,
		    shown, sizeof(shown)), s ? kps_store_errmsg(s) :
		    kp_strerror(rc));
		kps_store_close(s);
		return NULL;
	}
	return s;
}

int
kps_migrate(const char *from, const char *to)
{
	struct kps_store	*src = NULL, *dst = NULL;
	struct kps_census	 a, b;
	struct copy		 c;
	char			 shown[512];
	int			 rc = 1;

	memset(&c, 0, sizeof(c));
	if ((src = open_store(from, 1)) == NULL ||
	    (dst = open_store(to, 0)) == NULL)
		goto out;
	if (kps_store_census(dst, &b) != KP_OK) {
		fprintf(stderr, "kpool-server: %s: %s\n", kps_store_shown(to,
		    shown, sizeof(shown)), kps_store_errmsg(dst));
		goto out;
	}
	if (!empty(&b)) {
		show(stderr, "kpool-server: the target is not empty", &b);
		fprintf(stderr, "kpool-server: migrate copies into an empty "
		    "database only; nothing was written\n");
		goto out;
	}
	/* one transaction: a copy that does not check out is not kept */
	if (kps_store_begin(dst) != KP_OK) {
		fprintf(stderr, "kpool-server: %s: %s\n", kps_store_shown(to,
		    shown, sizeof(shown)), kps_store_errmsg(dst));
		goto out;
	}
	c.to = dst;
	if ((c.rc = kps_store_dump(src, load, &c)) != KP_OK) {
		fprintf(stderr, "kpool-server: copy: %s\n", c.why ? c.why :
		    c.rc == KP_ETOOBIG ? "a value of the source does not fit "
		    "its column" : kps_store_errmsg(src));
		goto rollback;
	}
	if (kps_store_census(src, &a) != KP_OK ||
	    kps_store_census(dst, &b) != KP_OK) {
		fprintf(stderr, "kpool-server: census: %s%s\n",
		    kps_store_errmsg(src), kps_store_errmsg(dst));
		goto rollback;
	}
	show(stdout, "source", &a);
	show(stdout, "copy", &b);
	if (a.contacts_left > 0)
		printf("left behind: %llu contacts that name a removed "
		    "user\n", (unsigned long long)a.contacts_left);
	a.contacts_left = 0;	/* the copy has none: not dumped */
	if (memcmp(&a, &b, sizeof(a)) != 0) {
		fprintf(stderr, "kpool-server: the copy's counts differ from "
		    "the source's; nothing was written\n");
		goto rollback;
	}
	if (kps_store_commit(dst) != KP_OK) {
		fprintf(stderr, "kpool-server: commit: %s\n",
		    kps_store_errmsg(dst));
		goto rollback;
	}
	/* the target's upkeep: on PostgreSQL, statistics for the planner */
	(void)kps_store_checkpoint(dst);
	printf("done: %s copied into %s\n", from, kps_store_shown(to,
	    shown, sizeof(shown)));
	rc = 0;
	goto out;
rollback:
	(void)kps_store_rollback(dst);
out:
	kps_store_close(dst);
	kps_store_close(src);
	return rc;
}
