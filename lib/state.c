/* SPDX-License-Identifier: ISC */
/*
 * state.c: the key state machine.  The names of the states, the table
 * of the moves between them (who may make each, and the call to the
 * server that goes with it), and the field updates of a move, of the
 * server's view in a pull and of an opened Welcome.
 *
 *	created ──upload──▶ available ──reserve──▶ reserved ──spend──▶ spent
 *	   │                  ▲   │                  │  │
 *	   │                  └───┼──release─────────┘  │
 *	   └──── any state but spent: not_after passes ──▶ expired
 *
 * The owner moves a key through kp_pool_transition, asking the server
 * first; the server's view moves it in a pull (an inviter reserved or
 * spent it, a reservation passed, the server lost it); expiry moves
 * live keys past not_after, then retires them on the server; a Welcome
 * spends the key it was made for.  Spent and expired keys never move
 * again: a key is never handed out twice.
 */

#include <stddef.h>
#include <string.h>

#include "kpool.h"
#include "state.h"

#define C	KP_STATE_CREATED
#define A	KP_STATE_AVAILABLE
#define R	KP_STATE_RESERVED
#define S	KP_STATE_SPENT
#define E	KP_STATE_EXPIRED
#define OWNER	KP_BY_OWNER
#define SERVER	KP_BY_SERVER
#define LIFE	KP_BY_LIFETIME
#define WELCOME	KP_BY_WELCOME

static const struct {
	int		from, to;
	unsigned	by;
	int		call;
} moves[] = {
	/* from to  who may make it			 its call */
	{ C, A, OWNER | SERVER,				KP_CALL_UPLOAD },
	{ C, R, SERVER,					KP_CALL_NONE },
	{ C, S, SERVER | WELCOME,			KP_CALL_NONE },
	{ C, E, OWNER | SERVER | LIFE,			KP_CALL_NONE },
	{ A, C, SERVER,					KP_CALL_NONE },
	{ A, R, OWNER | SERVER,				KP_CALL_RESERVE },
	{ A, S, OWNER | SERVER | WELCOME,		KP_CALL_SPEND },
	{ A, E, OWNER | SERVER | LIFE,			KP_CALL_RETIRE },
	{ R, C, SERVER,					KP_CALL_NONE },
	{ R, A, OWNER | SERVER,				KP_CALL_RELEASE },
	{ R, S, OWNER | SERVER | WELCOME,		KP_CALL_SPEND },
	{ R, E, OWNER | SERVER | LIFE,			KP_CALL_RETIRE },
	/*
	 * Changes that keep the state: a last-resort key records its
	 * Welcomes; a reservation passes to another holder; spent_by
	 * learnt after the Welcome; the owner takes the private keys
	 * of a spent key, expiry wipes them.
	 */
	{ C, C, WELCOME,				KP_CALL_NONE },
	{ A, A, WELCOME,				KP_CALL_NONE },
	{ R, R, SERVER | WELCOME,			KP_CALL_NONE },
	{ S, S, OWNER | SERVER | LIFE | WELCOME,	KP_CALL_NONE },
};

static const char *const names[KP_NSTATES] = {
	"created", "available", "reserved", "spent", "expired",
};

const char *
kp_state_name(int state)
{
	if (state < 0 || state >= KP_NSTATES)
		return NULL;
	return names[state];
}

int
kp_state_from_name(const char *name)
{
	int	i;

	if (name == NULL)
		return -1;
	for (i = 0; i < KP_NSTATES; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

int
kp_state_may(int from, int to, unsigned by)
{
	size_t	i;

	for (i = 0; i < sizeof(moves) / sizeof(moves[0]); i++)
		if (moves[i].from == from && moves[i].to == to)
			return (moves[i].by & by) != 0;
	return 0;
}

int
kp_state_call(int from, int to)
{
	size_t	i;

	for (i = 0; i < sizeof(moves) / sizeof(moves[0]); i++)
		if (moves[i].from == from && moves[i].to == to)
			return moves[i].call;
	return KP_CALL_NONE;
}

int
kp_state_live(int state)
{
	return state == C || state == A || state == R;
}

int
kp_state_published(int state)
{
	return state == A || state == R;
}

int
kp_state_deletable(int state)
{
	return state == C || state == S || state == E;
}

void
kp_rec_move(struct kp_rec *k, int to, int64_t now)
{
	switch (to) {
	case C:
	case A:
		if (to == C)
			k->uploaded_at = 0;	/* not on the server */
		else if (k->uploaded_at == 0)
			k->uploaded_at = now;
		k->reserved_at = k->reservation_expires_at = 0;
		k->reservation_id[0] = k->reserved_by[0] = '\0';
		break;
	case R:
		k->reserved_at = now;
		break;
	case S:
		k->spent_at = now;
		break;
	case E:
		k->expired_at = now;
		k->has_private = 0;	/* the store wipes them with the move */
		break;
	}
	k->state = to;
	k->changed_at = now;
	k->changed_ns = -1;
}

/* The spend the server reports: who spent the key, in which group. */
static void
pull_spend(struct kp_rec *k, const struct kp_remote_key *rk)
{
	memcpy(k->spent_by, rk->spent_by, sizeof(k->spent_by));
	if (rk->group_id_len <= KP_MAX_GROUP_ID) {
		memcpy(k->group_id, rk->group_id, rk->group_id_len);
		k->group_id_len = rk->group_id_len;
	}
}

int
kp_rec_pull(struct kp_rec *k, const struct kp_remote_key *rk, int64_t now,
    int *retire)
{
	*retire = 0;
	if (!kp_state_live(k->state)) {
		/* never hand it out again (a last-resort key serves on) */
		if (kp_state_published(rk->state) &&
		    !(k->state == S && k->last_resort))
			*retire = 1;
		/* a Welcome spent it before the server said who did */
		if (k->state == S && rk->state == S && k->spent_by[0] == '\0' &&
		    rk->spent_by[0] != '\0') {
			if (k->group_id_len == 0)
				pull_spend(k, rk);
			else
				memcpy(k->spent_by, rk->spent_by,
				    sizeof(k->spent_by));
			return 1;
		}
		return 0;
	}
	if (!kp_state_may(k->state, rk->state, KP_BY_SERVER))
		return 0;	/* the same state, or created: no news */
	switch (rk->state) {
	case A:
		/*
		 * The server serves a last-resort key without ever holding
		 * it, so it says available while our own hold of it (a
		 * move to reserved) runs: that hold stands until it ends.
		 */
		if (k->last_resort && k->state == R &&
		    k->reservation_expires_at > now)
			return 0;
		k->reserved_at = k->reservation_expires_at = 0;
		k->reservation_id[0] = k->reserved_by[0] = '\0';
		break;
	case R:
		if (k->state == R &&
		    k->reservation_expires_at == rk->reservation_expires_at &&
		    strcmp(k->reserved_by, rk->reserved_by) == 0)
			return 0;
		if (strcmp(k->reserved_by, rk->reserved_by) != 0)
			k->reservation_id[0] = '\0';
		k->reserved_at = rk->reserved_at ? rk->reserved_at : now;
		k->reservation_expires_at = rk->reservation_expires_at;
		memcpy(k->reserved_by, rk->reserved_by, sizeof(k->reserved_by));
		break;
	case S:
		k->spent_at = rk->spent_at ? rk->spent_at : now;
		pull_spend(k, rk);
		break;
	case E:
		k->expired_at = now;
		break;
	default:
		return 0;	/* created: the server never says so */
	}
	if (k->uploaded_at == 0)
		k->uploaded_at = rk->uploaded_at ? rk->uploaded_at : now;
	k->state = rk->state;
	k->changed_at = now;
	k->changed_ns = -1;
	return 1;
}

int
kp_rec_welcome(struct kp_rec *k, const uint8_t *gid, size_t len,
    uint64_t epoch, int64_t now)
{
	if (len > KP_MAX_GROUP_ID)
		return KP_ETOOBIG;
	if (k->state == E)
		return KP_ESTATE;
	if (!k->last_resort && k->state == S && k->epoch >= 0) {
		/* its Welcome was opened: the same one again changes nothing */
		if (k->group_id_len == len &&
		    memcmp(k->group_id, gid, len) == 0 &&
		    k->epoch == (int64_t)epoch)
			return KP_WELCOME_AGAIN;
		return KP_EPERM;
	}
	if (!k->last_resort && k->state != S)
		kp_rec_move(k, S, now);
	memcpy(k->group_id, gid, len);
	k->group_id_len = len;
	k->epoch = (int64_t)epoch;
	return KP_WELCOME_RECORDED;
}
