/* SPDX-License-Identifier: ISC */
/*
 * 1018-pool-observer: kp_pool_set_observer hears of each key a call
 * changed, once, after the commit: new keys from -1, moves with their
 * states, deletions to -1, wipes that keep the state; nothing of a call
 * that changed nothing or failed; and, from expire, a change another
 * handle committed, as a NULL ref.
 */

#include <sodium.h>

#include "1-pooltest.h"

#define MAXEV	64

struct ev {
	uint8_t	ref[KP_REF_LEN];
	int	null, from, to;
};

static struct ev	evs[MAXEV];
static int		nev;

static void
hear(void *arg, const uint8_t *ref, int from, int to)
{
	(void)arg;
	if (nev == MAXEV)
		bail("too many changes");
	evs[nev].null = ref == NULL;
	if (ref != NULL)
		memcpy(evs[nev].ref, ref, KP_REF_LEN);
	evs[nev].from = from;
	evs[nev].to = to;
	nev++;
}

/* 1 when every change heard since the last call is from -> to. */
static int
all_are(int from, int to)
{
	int	i;

	for (i = 0; i < nev; i++)
		if (evs[i].null || evs[i].from != from || evs[i].to != to)
			return 0;
	return 1;
}

int
main(void)
{
	struct kp_pool		*p, *q;
	struct kp_key		**keys = NULL;
	struct kp_sync_report	 r;
	uint8_t			 a[KP_REF_LEN], b[KP_REF_LEN];
	size_t			 n = 0;

	if (sodium_init() < 0)
		bail("sodium_init");
	pt_init();
	if (kp_pool_open(pt_file("o.db"), NULL, "olive", NULL, &p) != KP_OK)
		bail("open: %s", kp_errmsg(p));
	kp_pool_set_observer(p, hear, NULL);

	nev = 0;
	is_int(kp_pool_generate(p, 3, 0), KP_OK, "generate 3");
	is_int(nev, 3, "three changes heard");
	ok(all_are(-1, KP_STATE_CREATED), "each a new key, created");
	if (kp_pool_list(p, KP_STATE_CREATED, &keys, &n) != KP_OK || n != 3)
		bail("list: %s", kp_errmsg(p));
	memcpy(a, kp_key_ref(keys[0]), KP_REF_LEN);
	memcpy(b, kp_key_ref(keys[1]), KP_REF_LEN);
	kp_keys_free(keys, n);

	nev = 0;
	is_int(kp_pool_counts(p, 0, &(struct kp_counts){ 0 }), KP_OK, "counts");
	is_int(nev, 0, "a read changes nothing");
	is_int(kp_pool_transition(p, a, KP_STATE_CREATED, KP_STATE_AVAILABLE),
	    KP_ENET, "a move the server must allow, offline: KP_ENET");
	is_int(nev, 0, "a failed call is not heard");

	is_int(kp_pool_transition(p, a, KP_STATE_CREATED, KP_STATE_EXPIRED),
	    KP_OK, "created -> expired");
	is_int(nev, 1, "one change");
	ok(nev == 1 && memcmp(evs[0].ref, a, KP_REF_LEN) == 0 &&
	    all_are(KP_STATE_CREATED, KP_STATE_EXPIRED), "of that key, "
	    "created to expired");

	nev = 0;
	is_int(kp_pool_delete(p, a), KP_OK, "delete it");
	ok(nev == 1 && memcmp(evs[0].ref, a, KP_REF_LEN) == 0 &&
	    all_are(KP_STATE_EXPIRED, -1), "heard as expired to none");

	/* another handle on the store changes a key: expire says so */
	if (kp_pool_open(pt_file("o.db"), NULL, NULL, NULL, &q) != KP_OK)
		bail("open: %s", kp_errmsg(q));
	is_int(kp_pool_transition(q, b, KP_STATE_CREATED, KP_STATE_EXPIRED),
	    KP_OK, "another handle expires a key");
	nev = 0;
	is_int(kp_pool_expire(p, &r), KP_OK, "expire");
	ok(nev == 1 && evs[0].null && evs[0].from == -1 && evs[0].to == -1,
	    "any key may have changed: a NULL ref");
	nev = 0;
	is_int(kp_pool_expire(p, &r), KP_OK, "expire again");
	is_int(nev, 0, "nothing new");
	kp_pool_close(q);

	kp_pool_set_observer(p, NULL, NULL);
	nev = 0;
	is_int(kp_pool_delete(p, b), KP_OK, "with no observer");
	is_int(nev, 0, "nobody hears");
	kp_pool_close(p);
	return done_testing();
}
