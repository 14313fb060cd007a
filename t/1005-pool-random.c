/* SPDX-License-Identifier: ISC */
/*
 * 1005-pool-random: a random sequence of operations (generate, publish,
 * reserve, spend, release, expire, delete, forbidden moves, refresh and
 * the clock moving on) against a real kpool-server.  After each one the
 * store must agree with a model of what the operation should have done,
 * every key must be in exactly one state, and the counts must sum to
 * the total.  KP_SEED=N replays a run.
 */

#include <sodium.h>

#include "1-pooltest.h"

#define NOPS	300
#define MAXKEYS	512

struct mkey {
	uint8_t	ref[KP_REF_LEN];
	int	state;
};

static struct mkey	model[MAXKEYS];
static size_t		nmodel;
static unsigned long	rng;

static unsigned
rnd(unsigned n)
{
	rng = rng * 6364136223846793005UL + 1442695040888963407UL;
	return (unsigned)(rng >> 33) % n;
}

/* Reload the model from the store (after refresh, which decides). */
static void
reload(struct kp_pool *p)
{
	struct kp_key	**keys;
	size_t		 n, i;

	if (kp_pool_list(p, -1, &keys, &n) != KP_OK || n > MAXKEYS)
		bail("list: %s", kp_errmsg(p));
	for (i = 0; i < n; i++) {
		memcpy(model[i].ref, kp_key_ref(keys[i]), KP_REF_LEN);
		model[i].state = kp_key_state(keys[i]);
	}
	nmodel = n;
	kp_keys_free(keys, n);
}

/* A random model key in one of the states of mask; -1 if none. */
static int
pick(unsigned mask)
{
	size_t	i, cand[MAXKEYS], n = 0;

	for (i = 0; i < nmodel; i++)
		if (mask & (1u << model[i].state))
			cand[n++] = i;
	return n == 0 ? -1 : (int)cand[rnd((unsigned)n)];
}

/* The store against the model; 0 when they agree. */
static int
check(struct kp_pool *p, int step, const char *op)
{
	struct kp_counts c;
	struct kp_key	**all, **in;
	size_t		 n, m, i, j, k, seen;
	int		 bad = 0, s;

	if (kp_pool_counts(p, 0, &c) != KP_OK || kp_pool_list(p, -1, &all,
	    &n) != KP_OK)
		bail("counts/list: %s", kp_errmsg(p));
	if (c.total != n || pt_sum(&c) != (int)c.total) {
		diag("step %d (%s): counts do not sum to the total", step, op);
		bad = 1;
	}
	if (n != nmodel) {
		diag("step %d (%s): %zu keys, model has %zu", step, op, n,
		    nmodel);
		bad = 1;
	}
	/* each key is listed in exactly one state directory */
	seen = 0;
	for (s = 0; s < KP_NSTATES; s++) {
		if (kp_pool_list(p, s, &in, &m) != KP_OK)
			bail("list");
		if (m != c.n[s])
			bad = 1;
		seen += m;
		for (j = 0; j < m; j++) {
			for (k = 0; k < n; k++)
				if (memcmp(kp_key_ref(all[k]),
				    kp_key_ref(in[j]), KP_REF_LEN) == 0)
					break;
			if (k == n || kp_key_state(all[k]) != s)
				bad = 1;
		}
		kp_keys_free(in, m);
	}
	if (seen != n) {
		diag("step %d (%s): %zu keys listed by state, %zu in all",
		    step, op, seen, n);
		bad = 1;
	}
	for (i = 0; i < nmodel && !bad; i++) {
		for (k = 0; k < n; k++)
			if (memcmp(kp_key_ref(all[k]), model[i].ref,
			    KP_REF_LEN) == 0)
				break;
		if (k == n || kp_key_state(all[k]) != model[i].state) {
			diag("step %d (%s): key %zu is %s, model says %s", step,
			    op, i, k == n ? "missing" :
			    kp_state_name(kp_key_state(all[k])),
			    kp_state_name(model[i].state));
			bad = 1;
		}
		if (k < n && kp_key_state(all[k]) == KP_STATE_EXPIRED &&
		    kp_key_has_private(all[k])) {
			diag("step %d (%s): expired key with private keys",
			    step, op);
			bad = 1;
		}
	}
	kp_keys_free(all, n);
	return bad;
}

static int
expect(int got, int want, int step, const char *op, struct kp_pool *p)
{
	if (got == want)
		return 0;
	diag("step %d (%s): got %d (%s: %s), wanted %d", step, op, got,
	    kp_strerror(got), kp_errmsg(p), want);
	return 1;
}

int
main(void)
{
	static const struct {
		int	from, to;
	} forbidden[] = {
		{ KP_STATE_CREATED, KP_STATE_RESERVED },
		{ KP_STATE_CREATED, KP_STATE_SPENT },
		{ KP_STATE_AVAILABLE, KP_STATE_CREATED },
		{ KP_STATE_RESERVED, KP_STATE_CREATED },
		{ KP_STATE_SPENT, KP_STATE_AVAILABLE },
		{ KP_STATE_SPENT, KP_STATE_EXPIRED },
		{ KP_STATE_EXPIRED, KP_STATE_AVAILABLE },
		{ KP_STATE_EXPIRED, KP_STATE_CREATED },
	};
	struct kp_pool		*p;
	struct kp_sync_report	 r;
	struct kp_counts	 c;
	const char		*url, *seedenv, *op = "";
	int			 step, i, rc, bad = 0, from, to, ops[10];
	uint32_t		 k;

	memset(ops, 0, sizeof(ops));
	if (sodium_init() < 0)
		bail("sodium_init");
	pt_init();
	seedenv = getenv("KP_SEED");
	rng = seedenv ? strtoul(seedenv, NULL, 10) : randombytes_random();
	diag("KP_SEED=%lu", rng);
	url = pt_server(1);
	if (kp_pool_open(pt_file("r.db"), NULL, "rita", NULL, &p) != KP_OK)
		bail("open: %s", kp_errmsg(p));
	kp_pool_set_clock(p, pt_now, NULL);
	if (kp_pool_set_server(p, url) != KP_OK ||
	    kp_pool_config_set(p, "hard_cap", "80") != KP_OK)
		bail("setup: %s", kp_errmsg(p));

	for (step = 0; step < NOPS && !bad; step++) {
		op = "";
		switch (rnd(10)) {
		case 0:		/* generate */
			op = "generate";
			k = 1 + rnd(6);
			if (kp_pool_counts(p, 0, &c) != KP_OK)
				bail("counts");
			rc = kp_pool_generate(p, k, 0);
			/* the cap counts regular keys of the suite only */
			if (rc == KP_OK) {
				ops[0]++;
				reload(p);
			} else
				bad |= expect(rc, KP_ETOOBIG, step, op, p);
			break;
		case 1:		/* publish */
			op = "publish";
			if ((i = pick(1u << KP_STATE_CREATED)) < 0)
				break;
			rc = kp_pool_transition(p, model[i].ref,
			    KP_STATE_CREATED, KP_STATE_AVAILABLE);
			bad |= expect(rc, KP_OK, step, op, p);
			model[i].state = KP_STATE_AVAILABLE;
			ops[1]++;
			break;
		case 2:		/* reserve for the owner */
			op = "reserve";
			if ((i = pick(1u << KP_STATE_AVAILABLE)) < 0)
				break;
			rc = kp_pool_transition(p, model[i].ref,
			    KP_STATE_AVAILABLE, KP_STATE_RESERVED);
			bad |= expect(rc, KP_OK, step, op, p);
			model[i].state = KP_STATE_RESERVED;
			ops[2]++;
			break;
		case 3:		/* release */
			op = "release";
			if ((i = pick(1u << KP_STATE_RESERVED)) < 0)
				break;
			rc = kp_pool_transition(p, model[i].ref,
			    KP_STATE_RESERVED, KP_STATE_AVAILABLE);
			bad |= expect(rc, KP_OK, step, op, p);
			model[i].state = KP_STATE_AVAILABLE;
			ops[3]++;
			break;
		case 4:		/* spend */
			op = "spend";
			if ((i = pick(1u << KP_STATE_AVAILABLE |
			    1u << KP_STATE_RESERVED)) < 0)
				break;
			rc = kp_pool_transition(p, model[i].ref,
			    model[i].state, KP_STATE_SPENT);
			bad |= expect(rc, KP_OK, step, op, p);
			model[i].state = KP_STATE_SPENT;
			ops[4]++;
			break;
		case 5:		/* expire */
			op = "expire";
			if ((i = pick(1u << KP_STATE_CREATED |
			    1u << KP_STATE_AVAILABLE |
			    1u << KP_STATE_RESERVED)) < 0)
				break;
			rc = kp_pool_transition(p, model[i].ref,
			    model[i].state, KP_STATE_EXPIRED);
			bad |= expect(rc, KP_OK, step, op, p);
			model[i].state = KP_STATE_EXPIRED;
			ops[5]++;
			break;
		case 6:		/* delete */
			op = "delete";
			if ((i = pick(0x1f)) < 0)
				break;
			rc = kp_pool_delete(p, model[i].ref);
			if (model[i].state == KP_STATE_AVAILABLE ||
			    model[i].state == KP_STATE_RESERVED) {
				bad |= expect(rc, KP_EBUSY, step, op, p);
				break;
			}
			bad |= expect(rc, KP_OK, step, op, p);
			model[i] = model[--nmodel];
			ops[6]++;
			break;
		case 7:		/* a forbidden move */
			op = "forbidden move";
			k = rnd(sizeof(forbidden) / sizeof(forbidden[0]));
			from = forbidden[k].from;
			to = forbidden[k].to;
			if ((i = pick(1u << from)) < 0)
				break;
			rc = kp_pool_transition(p, model[i].ref, from, to);
			bad |= expect(rc, KP_ESTATE, step, op, p);
			/* and from a state the key is not in */
			rc = kp_pool_transition(p, model[i].ref,
			    (from + 1 + (int)rnd(KP_NSTATES - 1)) % KP_NSTATES,
			    KP_STATE_EXPIRED);
			bad |= expect(rc, KP_ESTATE, step, op, p);
			ops[7]++;
			break;
		case 8:		/* time passes, then refresh */
			op = "clock + refresh";
			pt_set_clock(pt_clock + rnd(4) * 86400 + rnd(3600));
			/* FALLTHROUGH */
		case 9:		/* refresh */
			if (op[0] != 'c')
				op = "refresh";
			rc = kp_pool_refresh(p, KP_REFRESH_WATERMARK, &r);
			bad |= expect(rc, KP_OK, step, op, p);
			reload(p);
			ops[8]++;
			break;
		}
		bad |= check(p, step, op);
	}
	ok(!bad, "%d random operations keep the store and the model in step",
	    step);
	diag("generate %d, publish %d, reserve %d, release %d, spend %d, "
	    "expire %d, delete %d, forbidden %d, refresh %d", ops[0], ops[1],
	    ops[2], ops[3], ops[4], ops[5], ops[6], ops[7], ops[8]);
	is_int(kp_pool_refresh(p, KP_REFRESH_WATERMARK, &r), KP_OK,
	    "a last refresh");
	is_int(kp_pool_refresh(p, KP_REFRESH_WATERMARK, &r), KP_OK,
	    "and another");
	ok(r.expired == 0 && r.pulled == 0 && r.generated == 0 &&
	    r.uploaded == 0, "changes nothing");
	reload(p);
	ok(!check(p, step, "final"), "the store is consistent at the end");
	kp_pool_close(p);
	return done_testing();
}
