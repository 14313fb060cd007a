/* SPDX-License-Identifier: ISC */
/*
 * scen_check.c: the end of a seed of the scenario runner (scenario.c):
 * heal everything (faults off, every daemon up), sync every owner, and
 * check the invariants of docs/reliability.md, "The scenario runner",
 * on both sides: the server's record of each owner's keys and the
 * owner's store.
 */

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "fault/scenario.h"

/* up: a daemon under faultcrash serving, its seeded crashes over. */
static void
up(struct sc_world *w, struct sc_daemon *d, const char *what)
{
	char	reply[256];

	if (sc_daemon_ctl(d, "heal", reply, sizeof(reply)) != 0 ||
	    sc_daemon_ctl(d, "pid", reply, sizeof(reply)) != 0) {
		sc_fail(w, "%s: faultcrash does not answer: %s", what, reply);
		return;
	}
	if (strcmp(reply, "ok 0") == 0 &&
	    sc_daemon_ctl(d, "start", reply, sizeof(reply)) != 0)
		sc_fail(w, "%s does not start again: %s", what, reply);
}

void
sc_heal(struct sc_world *w)
{
	struct kp_sync_report	 r;
	struct sc_owner		*o;
	char			 path[SC_MAXPATH + 8], reply[256];
	int			 i, rc;

	if (sc_daemon_ctl(&w->proxy, "heal", reply, sizeof(reply)) != 0)
		sc_fail(w, "proxy heal: %s", reply);
	up(w, &w->server, "kpool-server");
	up(w, &w->fs, "kpoolfs");
	/* the mount syncs by its ctl, then stops: its store is checked
	 * through a handle of the library, which syncs it once more */
	o = &w->owner[0];
	snprintf(path, sizeof(path), "%s/ctl", o->mnt);
	if ((rc = sc_fs_write(path, "sync\n", 5)) != 0)
		sc_fail(w, "after healing, echo sync > ctl: %s",
		    strerror(rc));
	if (sc_daemon_ctl(&w->fs, "stop", reply, sizeof(reply)) != 0 ||
	    sscanf(reply, "ok stop %*d %d", &rc) != 1 || rc != 0)
		sc_fail(w, "kpoolfs stop: %s (want status 0)", reply);
	if (kp_pool_set_server(o->p, w->proxy_url) != KP_OK)
		sc_fail(w, "set server");
	for (i = 0; i < SC_OWNERS; i++) {
		o = &w->owner[i];
		if ((rc = kp_pool_expire(o->p, &r)) != KP_OK ||
		    (rc = kp_pool_sync(o->p, &r)) != KP_OK ||
		    (rc = kp_pool_refresh(o->p, KP_REFRESH_WATERMARK,
		    &r)) != KP_OK)
			sc_fail(w, "after healing, %s does not sync: %s (%s)",
			    o->principal, kp_strerror(rc), kp_errmsg(o->p));
	}
}

/* The server's keys of every owner, after the heal. */
struct side {
	struct kp_remote_key	*keys;
	size_t			 n;
};

static struct kp_remote_key *
remote_find(struct side *s, const uint8_t *ref)
{
	size_t	i;

	for (i = 0; i < s->n; i++)
		if (memcmp(s->keys[i].ref, ref, KP_REF_LEN) == 0)
			return &s->keys[i];
	return NULL;
}

static const char *
state_of(const struct kp_remote_key *k)
{
	return k == NULL ? "none" : kp_state_name(k->state);
}

/* check_owner: one owner's two sides against each other. */
static void
check_owner(struct sc_world *w, int oi, struct side *s)
{
	struct sc_owner		 *o = &w->owner[oi];
	struct kp_key		**keys = NULL, *k;
	struct kp_remote_key	 *rk;
	struct kp_counts	  c;
	size_t			  n = 0, i;
	int			  st, sum = 0, j;
	int64_t			  na;

	if (kp_pool_counts(o->p, 0, &c) != KP_OK ||
	    kp_pool_list(o->p, -1, &keys, &n) != KP_OK) {
		sc_fail(w, "%s: the store cannot be read: %s", o->principal,
		    kp_errmsg(o->p));
		return;
	}
	for (j = 0; j < KP_NSTATES; j++)
		sum += (int)c.n[j];
	if ((uint32_t)sum != c.total || c.total != n)
		sc_fail(w, "%s: the store's counts sum to %d, its total is "
		    "%u, it lists %zu keys", o->principal, sum, c.total, n);
	/* each key of the server's available: its private key here */
	for (i = 0; i < s->n; i++) {
		rk = &s->keys[i];
		w->n.checked_keys++;
		if (rk->state != KP_STATE_AVAILABLE)
			continue;
		if (kp_pool_key(o->p, rk->ref, &k) != KP_OK) {
			sc_fail(w, "%s: key %s available on the server is "
			    "not in the store", o->principal, sc_hex8(rk->ref));
			continue;
		}
		if (!kp_key_has_private(k))
			sc_fail(w, "%s: key %s available on the server has "
			    "no private key in the store (%s there)",
			    o->principal, sc_hex8(rk->ref),
			    kp_state_name(kp_key_state(k)));
		kp_key_free(k);
	}
	for (i = 0; i < n; i++) {
		k = keys[i];
		st = kp_key_state(k);
		rk = remote_find(s, kp_key_ref(k));
		na = kp_key_time(k, KP_T_NOT_AFTER);
		if (st == KP_STATE_AVAILABLE && (rk == NULL ||
		    rk->state != KP_STATE_AVAILABLE))
			sc_fail(w, "%s: key %s available in the store, %s on "
			    "the server after a sync", o->principal,
			    sc_hex8(kp_key_ref(k)), state_of(rk));
		if (kp_key_has_private(k) && (st == KP_STATE_EXPIRED ||
		    (st == KP_STATE_SPENT && na <= w->now)))
			sc_fail(w, "%s: key %s %s (not_after %" PRId64 ", now "
			    "%" PRId64 ") keeps its private key", o->principal,
			    sc_hex8(kp_key_ref(k)), kp_state_name(st), na,
			    w->now);
		if (na <= w->now && st != KP_STATE_SPENT &&
		    st != KP_STATE_EXPIRED)
			sc_fail(w, "%s: key %s %s past its not_after after an "
			    "expiry", o->principal, sc_hex8(kp_key_ref(k)),
			    kp_state_name(st));
	}
	kp_keys_free(keys, n);
}

/* check_counts: the server's counts of a user sum to the keys it
 * lists for the user's devices. */
static void
check_counts(struct sc_world *w, int oi, struct side *sides)
{
	struct sc_owner		*o = &w->owner[oi];
	struct kp_remote_status	 rs;
	struct kp_client	*c = NULL;
	uint32_t		 by[KP_NSTATES] = { 0 };
	size_t			 i;
	int			 j, rc;

	for (j = 0; j < SC_OWNERS; j++)
		if (strcmp(w->owner[j].user, o->user) == 0)
			for (i = 0; i < sides[j].n; i++)
				if (sides[j].keys[i].state >= 0 &&
				    sides[j].keys[i].state < KP_NSTATES)
					by[sides[j].keys[i].state]++;
	if ((rc = kp_pool_client(o->p, &c)) != KP_OK ||
	    (rc = kp_client_status(c, o->user, &rs)) != KP_OK) {
		sc_fail(w, "%s: status: %s", o->user, kp_strerror(rc));
		kp_client_free(c);
		return;
	}
	kp_client_free(c);
	if (!rs.counts || rs.available != by[KP_STATE_AVAILABLE] ||
	    rs.reserved != by[KP_STATE_RESERVED] ||
	    rs.spent != by[KP_STATE_SPENT])
		sc_fail(w, "%s: the server counts available %u reserved %u "
		    "spent %u, and lists %u %u %u", o->user, rs.available,
		    rs.reserved, rs.spent, by[KP_STATE_AVAILABLE],
		    by[KP_STATE_RESERVED], by[KP_STATE_SPENT]);
}

/* check_grants: every 200 the callers saw is in the server's record
 * and the stores. */
static void
check_grants(struct sc_world *w, struct side *sides)
{
	struct sc_grant		*g;
	struct sc_ref		*r;
	struct kp_remote_key	*rk;
	struct kp_key		*k;
	const uint8_t		*gid;
	size_t			 glen;
	int			 i;

	for (i = 0; i < w->ngrants; i++) {
		g = &w->grant[i];
		/* past not_after the server may have forgotten it */
		if (g->who < 0 || g->last_resort || w->now >= g->not_after)
			continue;
		rk = remote_find(&sides[g->owner], g->ref);
		if (g->spent && (rk == NULL || rk->state != KP_STATE_SPENT ||
		    strcmp(rk->spent_by, w->inv[g->who].name) != 0 ||
		    rk->group_id_len != sizeof(g->gid) ||
		    memcmp(rk->group_id, g->gid, sizeof(g->gid)) != 0))
			sc_fail(w, "%s's spend of %s was answered 200; the "
			    "server has it %s by '%s'", w->inv[g->who].name,
			    sc_hex8(g->ref), state_of(rk), rk ? rk->spent_by :
			    "");
		if (!g->spent && !g->released && !g->unsure && !g->over &&
		    w->now + 1 < g->expires && (rk == NULL ||
		    rk->state != KP_STATE_RESERVED ||
		    strcmp(rk->reserved_by, w->inv[g->who].name) != 0))
			sc_fail(w, "%s holds %s until %" PRId64 " (now %"
			    PRId64 "); the server has it %s by '%s'",
			    w->inv[g->who].name, sc_hex8(g->ref), g->expires,
			    w->now, state_of(rk), rk ? rk->reserved_by : "");
	}
	for (i = 0; i < w->nrefs; i++) {
		r = &w->refs[i];
		rk = remote_find(&sides[r->owner], r->ref);
		if (r->spent && rk != NULL && rk->state != KP_STATE_SPENT)
			sc_fail(w, "%s spent %s; the server has it %s",
			    w->owner[r->owner].principal, sc_hex8(r->ref),
			    state_of(rk));
		if (r->retired && rk != NULL &&
		    (rk->state == KP_STATE_AVAILABLE ||
		    rk->state == KP_STATE_RESERVED))
			sc_fail(w, "%s retired %s; the server has it %s",
			    w->owner[r->owner].principal, sc_hex8(r->ref),
			    state_of(rk));
		if (!r->welcomed && !r->spent)
			continue;
		if (kp_pool_key(w->owner[r->owner].p, r->ref, &k) != KP_OK) {
			sc_fail(w, "%s: key %s it spent is not in its store",
			    w->owner[r->owner].principal, sc_hex8(r->ref));
			continue;
		}
		gid = kp_key_group_id(k, &glen);
		if (kp_key_state(k) != KP_STATE_SPENT || (r->welcomed &&
		    (glen != sizeof(r->gid) || memcmp(gid, r->gid, glen))))
			sc_fail(w, "%s: key %s whose %s succeeded is %s, "
			    "group of %zu bytes", w->owner[r->owner].principal,
			    sc_hex8(r->ref), r->welcomed ? "Welcome" : "spend",
			    kp_state_name(kp_key_state(k)), glen);
		kp_key_free(k);
	}
}

void
sc_check(struct sc_world *w)
{
	struct side		 sides[SC_OWNERS];
	struct kp_client	*c;
	int			 i, rc;

	memset(sides, 0, sizeof(sides));
	for (i = 0; i < SC_OWNERS; i++) {
		c = NULL;
		if ((rc = kp_pool_client(w->owner[i].p, &c)) != KP_OK ||
		    (rc = kp_client_mine(c, &sides[i].keys,
		    &sides[i].n)) != KP_OK)
			sc_fail(w, "%s: mine: %s", w->owner[i].principal,
			    kp_strerror(rc));
		kp_client_free(c);
	}
	for (i = 0; i < SC_OWNERS; i++)
		check_owner(w, i, &sides[i]);
	check_counts(w, 0, sides);
	check_counts(w, 1, sides);
	check_counts(w, 3, sides);
	check_grants(w, sides);
	for (i = 0; i < SC_OWNERS; i++)
		free(sides[i].keys);
}

static void
integrity(struct sc_world *w, const char *db)
{
	sqlite3		*h = NULL;
	sqlite3_stmt	*st = NULL;
	const char	*v;

	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK || sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1,
	    &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW ||
	    (v = (const char *)sqlite3_column_text(st, 0)) == NULL ||
	    strcmp(v, "ok") != 0)
		sc_fail(w, "%s: integrity_check: %s", db, h ?
		    sqlite3_errmsg(h) : "cannot open");
	sqlite3_finalize(st);
	sqlite3_close(h);
}

/* no_tmp: no file of dir (the mount's directory aside) is a
 * temporary file left behind. */
static void
no_tmp(struct sc_world *w, const char *dir)
{
	struct dirent	*e;
	DIR		*d;
	size_t		 l;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		l = strlen(e->d_name);
		if (l > 4 && strcmp(e->d_name + l - 4, ".tmp") == 0)
			sc_fail(w, "%s/%s left behind", dir, e->d_name);
	}
	closedir(d);
}

void
sc_check_files(struct sc_world *w)
{
	int	i;

	for (i = 0; i < SC_OWNERS; i++)
		integrity(w, w->owner[i].db);
	if (!w->pg)
		integrity(w, w->serverdb);
	no_tmp(w, w->dir);
}
