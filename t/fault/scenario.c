/* SPDX-License-Identifier: ISC */
/*
 * scenario: the seeded scenario runner of the fault harness
 * (docs/reliability.md, "The scenario runner").  One seed makes one
 * world: kpool-server under faultcrash, faultproxy before it with
 * seeded faults, four owners (one pool behind a kpoolfs mount, itself
 * under faultcrash; two devices of one user and another user through
 * the library) and three inviters (library clients), all talking
 * through the proxy.  The seed then draws a sequence of operations
 * (reserve, claim, spend, release, Welcome, refresh, sync, rotate, the
 * owners' own moves, the test clock, crashes and restarts of the
 * server and of kpoolfs), runs them one after the other, heals
 * everything and checks the invariants (scen_check.c).
 *
 *     scenario --seed N [--keep] [-v]
 *     scenario --first S --seeds N [--jobs J] [--tap]
 *
 * One line per seed; a failing seed says what broke and the command
 * that replays it, and the program exits 1.  KP_BACKEND=pg runs the
 * server on PostgreSQL (in the cluster of mk/pg.sh, as t/2xxx do).
 */

#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fault/ctl.h"
#include "fault/scenario.h"
#include "kps_db.h"
#include "kptest.h"

#define FAULT_DOM_SCEN	0x5343454eULL		/* "SCEN" */

const char *const sc_op_name[OP_N] = {
	"reserve", "claim", "spend", "release", "welcome", "refresh",
	"sync", "rotate", "move", "clock", "crash-server",
	"restart-server", "crash-fs", "remount",
};
/* each operation's weight in a hundred */
static const int op_weight[OP_N] = {
	25, 5, 12, 7, 6, 7, 6, 2, 14, 5, 4, 1, 3, 3,
};
static struct sc_world	*W;	/* for the exit handler */

static int64_t
mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
sc_fail(struct sc_world *w, const char *fmt, ...)
{
	va_list	ap;

	w->violations++;
	printf("seed %" PRIu64 ": VIOLATION: ", w->seed);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

void
sc_note(struct sc_world *w, const char *fmt, ...)
{
	va_list	ap;

	if (!w->verbose)
		return;
	printf("# seed %" PRIu64 " %5" PRId64 " ms, clock %" PRId64 ": ",
	    w->seed, mono_ms() - w->t0, w->now);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* rnd: the seed's next draw in [0, n). */
uint32_t
sc_rnd(struct sc_world *w, uint32_t n)
{
	return (uint32_t)fault_range(fault_next(&w->rng), 0, n - 1);
}

static void
rnd_bytes(struct sc_world *w, uint8_t *buf, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)sc_rnd(w, 256);
}

/* ------------------------------------------------------------------ */
/* Files, the clock, the daemons. */

/* sc_fs_write: write buf to path at once, as `echo ... > path` does;
 * 0, or the errno. */
int
sc_fs_write(const char *path, const void *buf, size_t len)
{
	ssize_t	r;
	int	fd, e = 0;

	if ((fd = open(path, O_WRONLY)) == -1)
		return errno;
	if ((r = write(fd, buf, len)) == -1)
		e = errno;
	else if ((size_t)r != len)
		e = EIO;
	if (close(fd) == -1 && e == 0)
		e = errno;
	return e;
}

static void
clock_set(struct sc_world *w, int64_t t)
{
	char	tmp[SC_MAXPATH + 8], line[32];
	int	n;

	w->now = t;
	snprintf(tmp, sizeof(tmp), "%s.tmp", w->clock);
	n = snprintf(line, sizeof(line), "%" PRId64 "\n", t);
	unlink(tmp);
	if (sc_fs_write(tmp, line, (size_t)n) != 0 &&
	    (creat(tmp, 0600) == -1 || sc_fs_write(tmp, line, (size_t)n) != 0))
		bail("clock %s: %s", tmp, strerror(errno));
	if (rename(tmp, w->clock) != 0)
		bail("clock: %s", strerror(errno));
}

static int64_t
clock_now(void *arg)
{
	return kp_clock_file(((struct sc_world *)arg)->clock, 0);
}

/* ------------------------------------------------------------------ */
/* Setting the world up, with the proxy's faults off. */

static void
owner_open(struct sc_world *w, int i, const char *user, const char *device)
{
	struct sc_owner	*o = &w->owner[i];
	char		 name[64];

	snprintf(o->user, sizeof(o->user), "%s", user);
	snprintf(o->device, sizeof(o->device), "%s", device);
	if (kp_principal(user, device, o->principal,
	    sizeof(o->principal)) != KP_OK)
		bail("principal");
	snprintf(name, sizeof(name), "%s-%s.db", user, device);
	sc_path(w, o->db, name);
	if (kp_pool_open(o->db, NULL, user, device, &o->p) != KP_OK)
		bail("open %s: %s", o->db, o->p ? kp_errmsg(o->p) : "");
	kp_pool_set_clock(o->p, clock_now, w);
	if (kp_pool_set_server(o->p, w->proxy_url) != KP_OK ||
	    kp_pool_config_set(o->p, "low_watermark", "3") != KP_OK ||
	    kp_pool_config_set(o->p, "target", "6") != KP_OK ||
	    kp_pool_config_set(o->p, "hard_cap", "12") != KP_OK)
		bail("set up %s: %s", o->principal, kp_errmsg(o->p));
}

static void
owner_fill(struct sc_world *w, int i)
{
	struct sc_owner		*o = &w->owner[i];
	struct kp_sync_report	 r;

	if (kp_pool_refresh(o->p, KP_REFRESH_TARGET, &r) != KP_OK)
		bail("refresh %s: %s", o->principal, kp_errmsg(o->p));
}

static void
setup(struct sc_world *w)
{
	struct sc_owner	*fo = &w->owner[0];
	uint8_t		 pub[KP_SIGN_PK_LEN];
	char		 name[32];
	int		 i;

	sc_path(w, w->clock, "clock");
	clock_set(w, (int64_t)time(NULL));
	db_new(w->serverdb, sizeof(w->serverdb), w->dir);
	sc_server_start(w);
	sc_proxy_start(w);

	owner_open(w, 0, "alice", "default");
	owner_open(w, 1, "bob", "default");
	owner_open(w, 2, "bob", "phone");
	owner_open(w, 3, "carol", "default");
	owner_fill(w, 0);
	owner_fill(w, 1);
	kp_pool_identity(w->owner[2].p, pub);
	if (kp_pool_enroll(w->owner[1].p, "phone", pub) != KP_OK)
		bail("enroll: %s", kp_errmsg(w->owner[1].p));
	owner_fill(w, 2);
	owner_fill(w, 3);
	for (i = 0; i < SC_INVITERS; i++) {
		snprintf(w->inv[i].name, sizeof(w->inv[i].name), "inv%d",
		    i + 1);
		rnd_bytes(w, w->inv[i].seed, sizeof(w->inv[i].seed));
		if (kp_client_new(w->proxy_url, w->inv[i].name,
		    w->inv[i].seed, &w->inv[i].c) != KP_OK ||
		    kp_client_register(w->inv[i].c) != KP_OK)
			bail("inviter %s", w->inv[i].name);
	}
	/* owner 0 from now on behind its mount; its handle stays, with no
	 * server, to read the store */
	if (kp_pool_set_server(fo->p, NULL) != KP_OK)
		bail("offline");
	sc_path(w, fo->mnt, "mnt");
	if (mkdir(fo->mnt, 0700) != 0)
		bail("mkdir %s", fo->mnt);
	sc_fs_start(w);
	snprintf(name, sizeof(name), "faults on");
	if (sc_daemon_ctl(&w->proxy, name, NULL, 0) != 0)
		bail("proxy: faults on");
}

/* ------------------------------------------------------------------ */
/* Grants and refs. */

struct sc_ref *
sc_ref_get(struct sc_world *w, const uint8_t *ref, int owner)
{
	int	i;

	for (i = 0; i < w->nrefs; i++)
		if (memcmp(w->refs[i].ref, ref, KP_REF_LEN) == 0)
			return &w->refs[i];
	if (owner < 0 || w->nrefs == SC_REFS)
		return NULL;
	memset(&w->refs[w->nrefs], 0, sizeof(w->refs[0]));
	memcpy(w->refs[w->nrefs].ref, ref, KP_REF_LEN);
	w->refs[w->nrefs].owner = owner;
	return &w->refs[w->nrefs++];
}

const char *
sc_hex8(const uint8_t *ref)
{
	static char	buf[4][17];
	static int	i;

	i = (i + 1) % 4;
	kp_hex(ref, 8, buf[i]);
	return buf[i];
}

static const char *
who_name(struct sc_world *w, int who)
{
	return who >= 0 ? w->inv[who].name : w->owner[-1 - who].principal;
}

/* grant_live: whether g's caller still holds its key, as far as the
 * answers it saw tell. */
static int
grant_live(const struct sc_world *w, const struct sc_grant *g)
{
	return !g->released && !g->spent && !g->unsure && !g->over &&
	    w->now + 1 < g->expires && w->now < g->not_after;
}

/*
 * grant_add: a caller was handed a key.  The invariant: not while
 * another caller holds it, not after a spend or a retirement anyone saw
 * succeed (last-resort keys aside, handed out again by design).
 */
static struct sc_grant *
grant_add(struct sc_world *w, int who, int owner, const uint8_t *ref,
    int64_t expires, int last_resort, const uint8_t *gid)
{
	struct sc_grant	*g;
	struct sc_ref	*r = sc_ref_get(w, ref, owner);
	int		 i;

	w->n.handed++;
	for (i = 0; i < w->ngrants && !last_resort; i++) {
		g = &w->grant[i];
		if (memcmp(g->ref, ref, KP_REF_LEN) != 0 || g->last_resort)
			continue;
		if (g->spent)
			sc_fail(w, "key %s handed to %s after %s's spend of "
			    "it was answered 200", sc_hex8(ref),
			    who_name(w, who), who_name(w, g->who));
		else if (grant_live(w, g))
			sc_fail(w, "key %s handed to %s while %s held it "
			    "(until %" PRId64 ", now %" PRId64 ")", sc_hex8(ref),
			    who_name(w, who), who_name(w, g->who),
			    g->expires, w->now);
	}
	if (r != NULL && !last_resort && (r->spent || r->retired))
		sc_fail(w, "key %s handed to %s after its owner %s it",
		    sc_hex8(ref), who_name(w, who),
		    r->spent ? "spent" : "retired");
	for (i = 0; i < w->ngrants; i++)
		if (memcmp(w->grant[i].ref, ref, KP_REF_LEN) == 0)
			w->grant[i].over = 1;
	if (w->ngrants == SC_GRANTS)
		return NULL;
	g = &w->grant[w->ngrants++];
	memset(g, 0, sizeof(*g));
	memcpy(g->ref, ref, KP_REF_LEN);
	g->who = who;
	g->owner = owner;
	g->at = w->now;
	g->expires = expires;
	g->last_resort = last_resort;
	if (gid != NULL)
		memcpy(g->gid, gid, sizeof(g->gid));
	sc_note(w, "%s holds %s of %s%s until %" PRId64, who_name(w, who),
	    sc_hex8(ref), w->owner[owner].principal,
	    last_resort ? " (last resort)" : "", expires);
	return g;
}

/* unsure_rc: an answer that does not say whether the call was carried
 * out (no reply, a 5xx, a replay's 401, a reply not understood). */
static int
unsure_rc(int rc)
{
	return rc == KP_ENET || rc == KP_ESERVER || rc == KP_EAUTH ||
	    rc == KP_EPROTO;
}

/* owner_of: the owner index of user's device dev ("" the default). */
static int
owner_of(struct sc_world *w, const char *user, const char *dev)
{
	int	i;

	if (dev == NULL || *dev == '\0')
		dev = KP_DEFAULT_DEVICE;
	for (i = 0; i < SC_OWNERS; i++)
		if (strcmp(w->owner[i].user, user) == 0 &&
		    strcmp(w->owner[i].device, dev) == 0)
			return i;
	return -1;
}

static void
grant_from(struct sc_world *w, int inv, const char *user,
    struct kp_reservation *r, const uint8_t *gid)
{
	struct kp_keypackage	*kp;
	struct sc_grant		*g;
	int			 o = owner_of(w, user, r->device);

	if (o < 0) {
		sc_fail(w, "reserve of %s answered a key of device '%s'",
		    user, r->device);
		return;
	}
	g = grant_add(w, inv, o, r->ref, r->expires_at, r->last_resort, gid);
	if (g == NULL)
		return;
	if ((g->kp = malloc(r->keypackage_len)) != NULL) {
		memcpy(g->kp, r->keypackage, r->keypackage_len);
		g->kplen = r->keypackage_len;
	}
	if (kp_keypackage_decode(r->keypackage, r->keypackage_len, 1,
	    &kp) != KP_OK) {
		sc_fail(w, "%s: reserve answered a KeyPackage that does not "
		    "decode", w->inv[inv].name);
		return;
	}
	g->not_after = (int64_t)kp_keypackage_not_after(kp);
	kp_keypackage_free(kp);
}

/* pick_grant: one of inviter inv's grants it may still hold; NULL when
 * none. */
static struct sc_grant *
pick_grant(struct sc_world *w, int inv, int live_only)
{
	int	i, n = 0, k, cand[SC_GRANTS];

	for (i = 0; i < w->ngrants; i++)
		if (w->grant[i].who == inv && !w->grant[i].spent &&
		    !w->grant[i].released && !w->grant[i].over &&
		    (!live_only || grant_live(w, &w->grant[i])))
			cand[n++] = i;
	if (n == 0)
		return NULL;
	k = (int)sc_rnd(w, (uint32_t)n);
	return &w->grant[cand[k]];
}

/* ------------------------------------------------------------------ */
/* The operations. */

static const char *const targets[] = { "alice", "bob", "carol" };

/* op_hand_out: an inviter reserves a key of alice, bob or carol, or
 * claims one of each of bob's devices, for a fresh group. */
static void
op_hand_out(struct sc_world *w, int opn, int claim)
{
	struct kp_reserve_opts	 o;
	struct kp_reservation	 r;
	struct kp_claim		 cl;
	uint8_t			 gid[16];
	char			 rid[48];
	size_t			 i;
	int			 inv = (int)sc_rnd(w, SC_INVITERS), rc;
	const char		*t = claim ? "bob" : targets[sc_rnd(w, 3)];

	rnd_bytes(w, gid, sizeof(gid));
	snprintf(rid, sizeof(rid), "s%" PRIu64 "-%d", w->seed, opn);
	memset(&o, 0, sizeof(o));
	o.group_id = gid;
	o.group_id_len = sizeof(gid);
	o.request_id = rid;
	memset(&r, 0, sizeof(r));
	memset(&cl, 0, sizeof(cl));
	rc = claim ? kp_client_claim(w->inv[inv].c, t, &o, &cl) :
	    kp_client_reserve(w->inv[inv].c, t, &o, &r);
	sc_note(w, "%s %s %s: %s", w->inv[inv].name, claim ? "claim" :
	    "reserve", t, kp_strerror(rc));
	if (rc == KP_OK && claim)
		for (i = 0; i < cl.n; i++)
			grant_from(w, inv, t, &cl.keys[i], gid);
	else if (rc == KP_OK)
		grant_from(w, inv, t, &r, gid);
	kp_reservation_free(&r);
	kp_claim_free(&cl);
}

/* op_ref: the inviter holding g spends (spend) or releases its key. */
static void
op_ref(struct sc_world *w, struct sc_grant *g, int spend)
{
	struct kp_client	*c = w->inv[g->who].c;
	int			 rc;

	rc = spend ? kp_client_spend(c, g->ref, g->gid, sizeof(g->gid)) :
	    kp_client_release(c, g->ref);
	sc_note(w, "%s %s %s: %s", w->inv[g->who].name, spend ? "spend" :
	    "release", sc_hex8(g->ref), kp_strerror(rc));
	if (rc == KP_OK && spend)
		g->spent = 1;
	else if (rc == KP_OK)
		g->released = 1;
	else if (unsure_rc(rc))
		g->unsure = 1;
}

/* op_welcome: the inviter spends its key, then the owner opens the
 * Welcome of the group it named. */
static void
op_welcome(struct sc_world *w, struct sc_grant *g)
{
	struct sc_owner		*o = &w->owner[g->owner];
	struct kp_welcome_info	 info;
	struct sc_ref		*r;
	uint8_t			 cseed[KP_SIGN_SEED_LEN], got[KP_REF_LEN];
	uint8_t			*msg = NULL;
	size_t			 len;
	char			 path[SC_MAXPATH + 16];
	int			 rc;

	rnd_bytes(w, cseed, sizeof(cseed));
	op_ref(w, g, 1);
	if (!g->spent || g->kp == NULL)
		return;
	if (kp_welcome_build(g->kp, g->kplen, g->gid, sizeof(g->gid), 1,
	    cseed, 0, 0, &msg, &len) != KP_OK)
		bail("welcome build");
	if (o->mnt[0] != '\0') {
		snprintf(path, sizeof(path), "%s/welcome", o->mnt);
		rc = sc_fs_write(path, msg, len);
		memcpy(got, g->ref, KP_REF_LEN);
	} else {
		memset(&info, 0, sizeof(info));
		rc = kp_pool_welcome(o->p, msg, len, NULL, 0, got, &info);
		kp_welcome_info_free(&info);
	}
	sc_note(w, "%s opens the Welcome of %s: %d", o->principal,
	    sc_hex8(g->ref), rc);
	free(msg);
	if (rc != 0)
		return;
	if (memcmp(got, g->ref, KP_REF_LEN) != 0)
		sc_fail(w, "the Welcome of %s opened key %s", sc_hex8(g->ref),
		    sc_hex8(got));
	g->welcomed = 1;
	if ((r = sc_ref_get(w, g->ref, g->owner)) != NULL) {
		r->welcomed = 1;
		memcpy(r->gid, g->gid, sizeof(r->gid));
	}
}

/* owner_ctl: one verb to a mount's ctl, or the same call of the
 * library; rc 0 on success. */
static int
owner_call(struct sc_world *w, int oi, int op)
{
	static const char *const verb[OP_N] = {
		[OP_REFRESH] = "refresh\n", [OP_SYNC] = "sync\n",
		[OP_ROTATE] = "rotate\n",
	};
	struct sc_owner		*o = &w->owner[oi];
	struct kp_sync_report	 r;
	char			 path[SC_MAXPATH + 8];

	if (o->mnt[0] != '\0') {
		snprintf(path, sizeof(path), "%s/ctl", o->mnt);
		return sc_fs_write(path, verb[op], strlen(verb[op]));
	}
	switch (op) {
	case OP_REFRESH:
		return kp_pool_refresh(o->p, (int)sc_rnd(w, 2), &r);
	case OP_SYNC:
		return kp_pool_sync(o->p, &r);
	default:
		return kp_pool_rotate(o->p, &r);
	}
}

/* op_owner: refresh, sync or rotate; a rotate's retired keys are
 * remembered (never handed out again). */
static void
op_owner(struct sc_world *w, int op)
{
	struct sc_owner	 *o;
	struct kp_key	**before = NULL, *k;
	struct sc_ref	 *r;
	size_t		  n = 0, i;
	int		  oi = (int)sc_rnd(w, SC_OWNERS), rc;

	o = &w->owner[oi];
	if (op == OP_ROTATE &&
	    kp_pool_list(o->p, KP_STATE_AVAILABLE, &before, &n) != KP_OK)
		n = 0;
	rc = owner_call(w, oi, op);
	sc_note(w, "%s %s: %d", o->principal, sc_op_name[op], rc);
	for (i = 0; rc == 0 && i < n; i++) {
		if (kp_pool_key(o->p, kp_key_ref(before[i]), &k) != KP_OK)
			continue;
		if (kp_key_state(k) == KP_STATE_EXPIRED &&
		    (r = sc_ref_get(w, kp_key_ref(k), oi)) != NULL)
			r->retired = 1;
		kp_key_free(k);
	}
	if (before != NULL)
		kp_keys_free(before, n);
}

/* grant_of_owner: the owner's own last grant of ref. */
static struct sc_grant *
grant_of_owner(struct sc_world *w, int oi, const uint8_t *ref)
{
	int	i;

	for (i = w->ngrants - 1; i >= 0; i--)
		if (w->grant[i].who == -1 - oi &&
		    memcmp(w->grant[i].ref, ref, KP_REF_LEN) == 0)
			return &w->grant[i];
	return NULL;
}

/* op_move: an owner moves one of its keys: reserve it for itself, give
 * its reservation back, or spend it. */
static void
op_move(struct sc_world *w)
{
	static const int moves[4][2] = {
		{ KP_STATE_AVAILABLE, KP_STATE_RESERVED },
		{ KP_STATE_RESERVED, KP_STATE_AVAILABLE },
		{ KP_STATE_AVAILABLE, KP_STATE_SPENT },
		{ KP_STATE_RESERVED, KP_STATE_SPENT },
	};
	struct sc_owner	 *o;
	struct kp_key	**keys = NULL, *k;
	struct sc_grant	 *g;
	struct sc_ref	 *r;
	uint8_t		  ref[KP_REF_LEN];
	char		  a[SC_MAXPATH * 2], b[SC_MAXPATH * 2], hex[80];
	size_t		  n = 0;
	int		  oi = (int)sc_rnd(w, SC_OWNERS), m = (int)sc_rnd(w, 4);
	int		  from = moves[m][0], to = moves[m][1], rc, lr, i;

	o = &w->owner[oi];
	if (kp_pool_list(o->p, from, &keys, &n) != KP_OK || n == 0) {
		if (keys != NULL)
			kp_keys_free(keys, n);
		return;
	}
	i = (int)sc_rnd(w, (uint32_t)n);
	memcpy(ref, kp_key_ref(keys[i]), KP_REF_LEN);
	lr = kp_key_last_resort(keys[i]);
	kp_keys_free(keys, n);
	if (o->mnt[0] != '\0') {
		kp_hex(ref, KP_REF_LEN, hex);
		snprintf(a, sizeof(a), "%s/%s/%s", o->mnt,
		    kp_state_name(from), hex);
		snprintf(b, sizeof(b), "%s/%s/%s", o->mnt, kp_state_name(to),
		    hex);
		rc = rename(a, b) == 0 ? 0 : errno;
	} else
		rc = kp_pool_transition(o->p, ref, from, to);
	sc_note(w, "%s moves %s %s -> %s: %d", o->principal, sc_hex8(ref),
	    kp_state_name(from), kp_state_name(to), rc);
	g = grant_of_owner(w, oi, ref);
	if (rc != 0) {
		/* no clear answer (the mount's EIO, ENOTCONN, or
		 * ECONNABORTED when it was killed): what the owner held may
		 * be gone */
		if (g != NULL && (o->mnt[0] != '\0' ? rc != EPERM &&
		    rc != EBUSY && rc != EINVAL && rc != ENOENT :
		    unsure_rc(rc)))
			g->unsure = 1;
		return;
	}
	if (to == KP_STATE_RESERVED) {
		if (kp_pool_key(o->p, ref, &k) != KP_OK)
			return;
		if ((g = grant_add(w, -1 - oi, oi, ref,
		    kp_key_time(k, KP_T_RESERVATION_EXPIRES), lr,
		    NULL)) != NULL)
			g->not_after = kp_key_time(k, KP_T_NOT_AFTER);
		kp_key_free(k);
	} else if (to == KP_STATE_AVAILABLE) {
		if (g != NULL)
			g->released = 1;
	} else if (!lr && (r = sc_ref_get(w, ref, oi)) != NULL) {
		r->spent = 1;
		/* whoever held it does no longer */
		for (i = 0; i < w->ngrants; i++)
			if (memcmp(w->grant[i].ref, ref, KP_REF_LEN) == 0)
				w->grant[i].unsure = 1;
	}
}

static void
op_clock(struct sc_world *w)
{
	int64_t	step = sc_rnd(w, 20) == 0 ? 15 * 86400 : 61 + sc_rnd(w, 60);

	clock_set(w, w->now + step);
	sc_note(w, "clock +%" PRId64 " s", step);
}

static void
op_daemon(struct sc_world *w, struct sc_daemon *d, const char *cmd)
{
	char	reply[256];

	if (sc_daemon_ctl(d, cmd, reply, sizeof(reply)) != 0)
		sc_fail(w, "%s %s: %s", d->ctl, cmd, reply);
	sc_note(w, "%s %s: %s", strstr(d->ctl, "fs.") ? "kpoolfs" :
	    "server", cmd, reply);
}

static void
run_ops(struct sc_world *w)
{
	struct sc_grant	*g;
	int		 nops = 40 + (int)sc_rnd(w, 41), i, op, x, inv;

	for (i = 0; i < nops; i++) {
		x = (int)sc_rnd(w, 100);
		for (op = 0; op < OP_N - 1 && x >= op_weight[op]; op++)
			x -= op_weight[op];
		w->n.ops++;
		w->n.op[op]++;
		switch (op) {
		case OP_RESERVE:
		case OP_CLAIM:
			op_hand_out(w, i, op == OP_CLAIM);
			break;
		case OP_SPEND:
		case OP_RELEASE:
		case OP_WELCOME:
			inv = (int)sc_rnd(w, SC_INVITERS);
			if ((g = pick_grant(w, inv, op == OP_WELCOME)) ==
			    NULL)
				break;
			if (op == OP_SPEND || op == OP_RELEASE)
				op_ref(w, g, op == OP_SPEND);
			else if (!g->last_resort)
				op_welcome(w, g);
			break;
		case OP_REFRESH:
		case OP_SYNC:
		case OP_ROTATE:
			op_owner(w, op);
			break;
		case OP_MOVE:
			op_move(w);
			break;
		case OP_CLOCK:
			op_clock(w);
			break;
		case OP_CRASH_SERVER:
			op_daemon(w, &w->server, "crash");
			break;
		case OP_RESTART_SERVER:
			op_daemon(w, &w->server, "restart");
			break;
		case OP_CRASH_FS:
			op_daemon(w, &w->fs, "crash");
			break;
		case OP_REMOUNT:
			op_daemon(w, &w->fs, "restart");
			break;
		}
	}
}

/* ------------------------------------------------------------------ */
/* One seed, start to end. */

/* counts_from: the proxy's and the crash tools' counters. */
static void
counts_from(struct sc_world *w)
{
	char		 reply[1024], key[32];
	const char	*q;
	int		 f;
	unsigned long	 a, b;

	if (sc_daemon_ctl(&w->proxy, "stats", reply, sizeof(reply)) == 0) {
		if ((q = strstr(reply, "requests ")) != NULL)
			w->n.requests = strtoull(q + 9, NULL, 10);
		for (f = 0; f < F_N; f++) {
			snprintf(key, sizeof(key), " %s ", sc_fault_name[f]);
			if ((q = strstr(reply, key)) != NULL)
				w->n.fault[f] = strtoull(q + strlen(key),
				    NULL, 10);
		}
	}
	if (sc_daemon_ctl(&w->server, "count", reply, sizeof(reply)) == 0 &&
	    sscanf(reply, "ok crashes %lu restarts %lu", &a, &b) == 2)
		w->n.server_crashes = a;
	if (sc_daemon_ctl(&w->fs, "count", reply, sizeof(reply)) == 0 &&
	    sscanf(reply, "ok crashes %lu restarts %lu", &a, &b) == 2)
		w->n.fs_crashes = a;
}

static void
world_end(struct sc_world *w)
{
	int	i, st;

	for (i = 0; i < SC_INVITERS; i++) {
		kp_client_free(w->inv[i].c);
		w->inv[i].c = NULL;
	}
	for (i = 0; i < SC_OWNERS; i++) {
		kp_pool_close(w->owner[i].p);
		w->owner[i].p = NULL;
	}
	if ((st = sc_daemon_stop(&w->fs)) != 0)
		sc_fail(w, "kpoolfs under faultcrash ended with %d (a death "
		    "of its own, or an unclean exit; see %s)", st,
		    w->fs.log);
	sc_daemon_stop(&w->proxy);
	if ((st = sc_daemon_stop(&w->server)) != 0)
		sc_fail(w, "kpool-server under faultcrash ended with %d "
		    "(see %s)", st, w->server.log);
	for (i = 0; i < w->ngrants; i++)
		free(w->grant[i].kp);
}

static void
cleanup(void)
{
	char	cmd[SC_MAXPATH + 16];

	if (W == NULL || W->dir[0] == '\0')
		return;
	sc_daemon_stop(&W->fs);
	sc_daemon_stop(&W->proxy);
	sc_daemon_stop(&W->server);
	if (W->violations == 0 && getenv("KP_KEEP") == NULL) {
		if (W->pg)
			db_drop(W->serverdb);
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", W->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", W->dir);
	}
}

void
sc_print_counts(const char *head, const struct sc_counts *n, int seeds)
{
	int	i;

	printf("%s", head);
	if (seeds)
		printf(" %" PRIu64 " seeds, %" PRIu64 " failed,", n->seeds,
		    n->failed);
	printf(" %" PRIu64 " ops (", n->ops);
	for (i = 0; i < OP_N; i++)
		printf("%s%s %" PRIu64, i ? " " : "", sc_op_name[i], n->op[i]);
	printf("), %" PRIu64 " keys handed out, %" PRIu64
	    " keys checked, %" PRIu64 " requests, faults (", n->handed,
	    n->checked_keys, n->requests);
	for (i = 0; i < F_N; i++)
		printf("%s%s %" PRIu64, i ? " " : "", sc_fault_name[i],
		    n->fault[i]);
	printf("), crashes (server %" PRIu64 " kpoolfs %" PRIu64 "), %.1f s\n",
	    n->server_crashes, n->fs_crashes, n->ms / 1000.0);
}

int
sc_run_seed(struct sc_world *w)
{
	const char	*tmp = getenv("TMPDIR");
	char		 head[64];
	int64_t		 t0 = mono_ms();

	W = w;
	w->t0 = t0;
	atexit(cleanup);
	w->pg = db_is_pg();
	w->rng = fault_stream(w->seed, FAULT_DOM_SCEN, 0);
	snprintf(w->dir, sizeof(w->dir), "%s/kpool-scen-%" PRIu64 ".XXXXXX",
	    tmp ? tmp : "/tmp", w->seed);
	if (mkdtemp(w->dir) == NULL)
		bail("mkdtemp: %s", strerror(errno));
	setup(w);
	run_ops(w);
	sc_heal(w);
	counts_from(w);
	sc_check(w);
	world_end(w);
	sc_check_files(w);
	w->n.seeds = 1;
	w->n.failed = w->violations > 0;
	w->n.ms = (uint64_t)(mono_ms() - t0);
	snprintf(head, sizeof(head), "seed %" PRIu64 ": %s,", w->seed,
	    w->violations ? "FAIL" : "ok");
	sc_print_counts(head, &w->n, 0);
	if (w->violations) {
		printf("seed %" PRIu64 ": %d violations; its files are in %s; "
		    "replay: %sKP_BUILD=%s %s/t/scenario --seed %" PRIu64
		    " -v\n", w->seed, w->violations, w->dir,
		    w->pg ? "KP_BACKEND=pg sh mk/pg.sh run env " : "",
		    w->build, w->build, w->seed);
	}
	fflush(stdout);
	return w->violations > 0;
}

