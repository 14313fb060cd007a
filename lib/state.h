/* SPDX-License-Identifier: ISC */
/*
 * state.h: the key state machine (lib/state.c), internal to libkpool.
 *
 * One table says which moves between states exist, who may make each,
 * and which call to the server goes with it; the pool, the store and
 * the sync ask it, and the moves' field updates are made here alone.
 */
#ifndef KP_STATE_H
#define KP_STATE_H

#include <stdint.h>

#include "kpool.h"
#include "rec.h"

/* Who makes a move (a mask). */
#define KP_BY_OWNER	0x01	/* the pool's user: kp_pool_transition,
				   kp_pool_take */
#define KP_BY_SERVER	0x02	/* the server's word: its view in a pull,
				   its refusal of an upload */
#define KP_BY_LIFETIME	0x04	/* not_after passed: expiry */
#define KP_BY_WELCOME	0x08	/* kp_pool_welcome opened a Welcome */

/*
 * The call to the server that goes with a move: the owner asks it
 * before the move is recorded; expiry tells it after.  A pull records
 * what the server said, a Welcome what it holds: neither calls.
 */
enum kp_call {
	KP_CALL_NONE = 0,	/* local */
	KP_CALL_UPLOAD,
	KP_CALL_RESERVE,
	KP_CALL_RELEASE,
	KP_CALL_SPEND,
	KP_CALL_RETIRE,
};

/* kp_state_may: 1 when by (KP_BY_*) may move a key from from to to. */
int	kp_state_may(int from, int to, unsigned by);
/* kp_state_call: the call of the move from -> to (KP_CALL_*). */
int	kp_state_call(int from, int to);
/* kp_state_live: 1 for created, available and reserved. */
int	kp_state_live(int state);
/* kp_state_published: 1 for available and reserved: on the server. */
int	kp_state_published(int state);
/* kp_state_deletable: 1 when the owner may delete a key in state. */
int	kp_state_deletable(int state);

/*
 * kp_rec_move: set k's state to to at now, with the timestamps that go
 * with it (reservation details cleared on the way back to created or
 * available, private keys gone on the way to expired); the caller
 * stores it (kp_store_update, which wipes them).
 */
void	kp_rec_move(struct kp_rec *k, int to, int64_t now);
/*
 * kp_rec_pull: apply the server's view rk of our key k at now.  Returns
 * 1 when k changed (it holds the new record), 0 when not; *retire is set
 * when the server should forget the key (it is no longer live here).
 */
int	kp_rec_pull(struct kp_rec *k, const struct kp_remote_key *rk,
	    int64_t now, int *retire);

/* What kp_rec_welcome made of a Welcome for a key. */
#define KP_WELCOME_RECORDED	0	/* k holds the new record */
#define KP_WELCOME_AGAIN	1	/* the same Welcome again: no change */

/*
 * kp_rec_welcome: record in k that a Welcome of group gid (len bytes)
 * at epoch was opened for it at now: a regular key becomes spent, a
 * last-resort key keeps its state (it may serve again); both record the
 * group_id and epoch.  KP_WELCOME_RECORDED or KP_WELCOME_AGAIN; KP_ESTATE
 * for an expired key, KP_EPERM when a regular key's Welcome of another
 * group or epoch was recorded already (a key joins one group once).
 */
int	kp_rec_welcome(struct kp_rec *k, const uint8_t *gid, size_t len,
	    uint64_t epoch, int64_t now) KP_WUR;

#endif /* KP_STATE_H */
