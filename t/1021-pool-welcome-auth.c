/* SPDX-License-Identifier: ISC */
/*
 * 1021-pool-welcome-auth: a Welcome is accepted only when the server
 * records a live reservation or a spend of its key for the Welcome's
 * very group_id (lib/authz.c), against a real kpool-server:
 * - a forged Welcome, made from the public KeyPackage by someone who
 *   did not reserve it, with its own tree, is KP_ENOTRESERVED and
 *   changes nothing; one for another group than the reservation's is
 *   KP_EGROUP and changes nothing; the genuine one that follows opens;
 * - a Welcome without a tree is KP_ENOTREE, and opens with the tree
 *   given beside it;
 * - offline, the last sync's view decides: a key reserved for the group
 *   before it opens, one reserved after it is refused;
 * - the owner's spend names the group kp_pool_set_group gave it, and
 *   that group's Welcome opens; a spend without one names no group;
 * - the server refuses a spend for another group than the reservation's
 *   (KP_EGROUP, 409 group_mismatch) and keeps the reservation's group
 *   for a spend that names none.
 */

#include <sodium.h>

#include "1-pooltest.h"
#include "kptest.h"

static const uint8_t	forger_seed[KP_SIGN_SEED_LEN] = { 0x66, 0x6f };

/* A Welcome for ref of p into group gid (flags KP_WB_*); *tree too. */
static uint8_t *
make(struct kp_pool *p, const uint8_t ref[KP_REF_LEN], const char *gid,
    int flags, size_t *len, uint8_t **tree, size_t *treelen)
{
	struct kp_wb_args	a;
	uint8_t			*kp, *w;
	size_t			 kplen;

	if (kp_pool_keypackage(p, ref, &kp, &kplen) != KP_OK)
		bail("keypackage: %s", kp_errmsg(p));
	memset(&a, 0, sizeof(a));
	a.kp = kp;
	a.kplen = kplen;
	a.group_id = (const uint8_t *)gid;
	a.gidlen = strlen(gid);
	a.epoch = 1;
	a.seed = forger_seed;
	a.flags = flags;
	if (kp_welcome_build_ex(&a, &w, len, tree, treelen) != KP_OK)
		bail("build a Welcome");
	free(kp);
	return w;
}

/* The Welcome w is refused with want, and the key ref is unchanged. */
static void
refused(struct kp_pool *p, const uint8_t *w, size_t wlen, const uint8_t ref[
    KP_REF_LEN], int want, const char *says, const char *what)
{
	struct kp_welcome_info	 info;
	struct kp_key		*before = NULL, *after = NULL;
	uint8_t			 got[KP_REF_LEN];

	pt_get(p, ref, &before);
	is_int(kp_pool_welcome(p, w, wlen, NULL, 0, got, &info), want,
	    "%s: %s", what, kp_strerror(want));
	ok(strstr(kp_errmsg(p), says) != NULL, "the message says why: %s",
	    kp_errmsg(p));
	pt_get(p, ref, &after);
	ok(pt_key_same(before, after), "nothing changed: %s, epoch %lld",
	    kp_state_name(kp_key_state(after)), (long long)kp_key_epoch(after));
	kp_key_free(before);
	kp_key_free(after);
}

/* The Welcome w (with tree, when not NULL) opens for ref into gid. */
static void
opens(struct kp_pool *p, const uint8_t *w, size_t wlen, const uint8_t *tree,
    size_t treelen, const uint8_t ref[KP_REF_LEN], const char *gid,
    const char *what)
{
	struct kp_welcome_info	 info;
	struct kp_key		*k = NULL;
	const uint8_t		*g;
	size_t			 gl;
	uint8_t			 got[KP_REF_LEN];

	is_int(kp_pool_welcome(p, w, wlen, tree, treelen, got, &info), KP_OK,
	    "%s opens (%s)", what, kp_errmsg(p));
	is_blob(got, KP_REF_LEN, ref, KP_REF_LEN, "for the reserved key");
	if (info.group_id != NULL)
		kp_welcome_info_free(&info);
	pt_get(p, ref, &k);
	is_int(kp_key_state(k), KP_STATE_SPENT, "the key is spent");
	g = kp_key_group_id(k, &gl);
	is_blob(g, gl, gid, strlen(gid), "for group %s", gid);
	kp_key_free(k);
}

/* A pool of n published keys for user on url. */
static struct kp_pool *
pool(const char *db, const char *user, const char *url, int n)
{
	struct kp_pool	*p;

	if (kp_pool_open(pt_file(db), NULL, user, NULL, &p) != KP_OK ||
	    kp_pool_set_server(p, url) != KP_OK ||
	    kp_pool_generate(p, (uint32_t)n, 0) != KP_OK ||
	    kp_pool_sync(p, NULL) != KP_OK)
		bail("pool %s: %s", db, kp_errmsg(p));
	return p;
}

static void
forged_then_genuine(const char *url)
{
	struct kp_pool		*p;
	struct kp_client	*bob;
	struct kp_key		**keys;
	uint8_t			 ref[KP_REF_LEN], free_ref[KP_REF_LEN], *w, *tr;
	size_t			 n, wl, tl;

	p = pool("a.db", "alice", url, 3);
	bob = pt_inviter(url, "bob");

	/* nobody reserved it: any Welcome is a forgery */
	if (kp_pool_list(p, KP_STATE_AVAILABLE, &keys, &n) != KP_OK || n != 3)
		bail("list");
	memcpy(free_ref, kp_key_ref(keys[2]), KP_REF_LEN);
	kp_keys_free(keys, n);
	w = make(p, free_ref, "forged", 0, &wl, NULL, NULL);
	refused(p, w, wl, free_ref, KP_ENOTRESERVED, "records no reservation",
	    "a forged Welcome for a key nobody reserved");
	free(w);

	pt_reserve(bob, "alice", "g-bob", 5, ref);
	w = make(p, ref, "g-evil", 0, &wl, NULL, NULL);
	refused(p, w, wl, ref, KP_EGROUP, "another group",
	    "a Welcome for another group than bob's reservation");
	free(w);
	w = make(p, ref, "g-bob", 0, &wl, NULL, NULL);
	opens(p, w, wl, NULL, 0, ref, "g-bob", "then bob's genuine Welcome");
	free(w);
	w = make(p, ref, "g-evil", 0, &wl, NULL, NULL);
	refused(p, w, wl, ref, KP_EGROUP, "another group",
	    "after it, a Welcome of another group for the spent key");
	free(w);

	/* no tree in the Welcome: refused, then given beside it */
	pt_reserve(bob, "alice", "g-tree", 6, ref);
	w = make(p, ref, "g-tree", KP_WB_NO_TREE, &wl, &tr, &tl);
	refused(p, w, wl, ref, KP_ENOTREE, "has no ratchet tree",
	    "a Welcome without a tree");
	opens(p, w, wl, tr, tl, ref, "g-tree",
	    "the same Welcome with its tree given");
	free(w);
	free(tr);
	kp_client_free(bob);
	kp_pool_close(p);
}

static void
offline(void)
{
	struct kp_pool		*p;
	struct kp_client	*bob;
	const char		*url;
	uint8_t			 before[KP_REF_LEN], after[KP_REF_LEN], *w, *x;
	size_t			 wl, xl;

	url = pt_server(0);
	p = pool("o.db", "olga", url, 2);
	bob = pt_inviter(url, "bob");
	pt_reserve(bob, "olga", "g-before", 8, before);
	if (kp_pool_sync(p, NULL) != KP_OK)
		bail("sync: %s", kp_errmsg(p));
	pt_reserve(bob, "olga", "g-after", 7, after);
	w = make(p, before, "g-before", 0, &wl, NULL, NULL);
	x = make(p, after, "g-after", 0, &xl, NULL, NULL);
	kp_client_free(bob);
	pt_server_stop();

	refused(p, x, xl, after, KP_ENOTRESERVED, "last sync",
	    "offline, a key reserved after the last sync");
	opens(p, w, wl, NULL, 0, before, "g-before",
	    "offline, a key the last sync saw reserved for its group");
	free(w);
	free(x);
	kp_pool_close(p);
}

static void
owner_spend(void)
{
	struct kp_pool		*p;
	struct kp_client	*bob;
	struct kp_key		**keys, *k = NULL;
	const char		*url;
	const uint8_t		*gp;
	uint8_t			 r[3][KP_REF_LEN], g[KP_MAX_GROUP_ID], *w;
	size_t			 n, i, wl, gl;

	url = pt_server(0);
	p = pool("s.db", "sam", url, 3);
	if (kp_pool_list(p, KP_STATE_AVAILABLE, &keys, &n) != KP_OK || n != 3)
		bail("list");
	for (i = 0; i < 3; i++)
		memcpy(r[i], kp_key_ref(keys[i]), KP_REF_LEN);
	kp_keys_free(keys, n);

	is_int(kp_pool_set_group(p, r[0], (const uint8_t *)"g-own", 5), KP_OK,
	    "the owner names the group of its spend");
	is_int(kp_pool_group(p, r[0], g, &gl), KP_OK, "and reads it back");
	is_blob(g, gl, "g-own", 5, "g-own");
	is_int(kp_pool_transition(p, r[0], KP_STATE_AVAILABLE,
	    KP_STATE_SPENT), KP_OK, "the owner spends it (%s)", kp_errmsg(p));
	w = make(p, r[0], "g-own", 0, &wl, NULL, NULL);
	opens(p, w, wl, NULL, 0, r[0], "g-own",
	    "the Welcome of the owner's group");
	free(w);

	is_int(kp_pool_transition(p, r[1], KP_STATE_AVAILABLE,
	    KP_STATE_SPENT), KP_OK, "a spend without a group");
	w = make(p, r[1], "g-any", 0, &wl, NULL, NULL);
	refused(p, w, wl, r[1], KP_EGROUP, "named no group",
	    "a Welcome for a key spent without a group");
	free(w);
	is_int(kp_pool_set_group(p, r[1], (const uint8_t *)"x", 1), KP_ESTATE,
	    "a spent key takes no group: KP_ESTATE");

	/* the server: a spend for another group than the reservation's */
	bob = pt_inviter(url, "bob");
	pt_reserve(bob, "sam", "g-res", 5, r[2]);
	is_int(kp_client_spend(bob, r[2], (const uint8_t *)"g-other", 7),
	    KP_EGROUP, "a spend for another group: KP_EGROUP (409 "
	    "group_mismatch)");
	is_int(kp_client_spend(bob, r[2], NULL, 0), KP_OK,
	    "a spend that names no group");
	if (kp_pool_sync(p, NULL) != KP_OK)
		bail("sync: %s", kp_errmsg(p));
	pt_get(p, r[2], &k);
	is_int(kp_key_state(k), KP_STATE_SPENT, "the server says spent");
	gp = kp_key_group_id(k, &gl);
	is_blob(gp, gl, "g-res", 5, "for the reservation's group");
	kp_key_free(k);
	kp_client_free(bob);
	kp_pool_close(p);
}

int
main(void)
{
	if (sodium_init() < 0)
		bail("sodium_init");
	pt_init();
	forged_then_genuine(pt_server(0));
	pt_server_stop();
	offline();
	owner_spend();
	return done_testing();
}
