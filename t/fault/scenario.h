/* SPDX-License-Identifier: ISC */
/*
 * scenario.h: what the scenario runner's files share (t/fault/:
 * scen_main.c the command, scenario.c one seed's operations,
 * scen_world.c its daemons, scen_check.c the heal and the invariants).  docs/reliability.md, "The scenario
 * runner", says what a seed does and what is checked.
 */
#ifndef FAULT_SCENARIO_H
#define FAULT_SCENARIO_H

#include <stdint.h>
#include <sys/types.h>

#include "kpool.h"

#define SC_OWNERS	4	/* pools: the mount, two devices of one
				   user, one more user */
#define SC_INVITERS	3
#define SC_GRANTS	512
#define SC_REFS		1024
#define SC_MAXPATH	512

/* Operations, in the order of their counters. */
enum sc_op {
	OP_RESERVE, OP_CLAIM, OP_SPEND, OP_RELEASE, OP_WELCOME,
	OP_REFRESH, OP_SYNC, OP_ROTATE, OP_MOVE, OP_CLOCK,
	OP_CRASH_SERVER, OP_RESTART_SERVER, OP_CRASH_FS, OP_REMOUNT,
	OP_N
};

/* The proxy's faults, in the order of its stats line. */
enum sc_fault {
	F_DROP_REQUEST, F_HANG_REQUEST, F_DROP_REPLY, F_DELAY_REQUEST,
	F_DELAY_REPLY, F_DUPLICATE, F_REORDER, F_CUT, F_N
};

/* A daemon under faultcrash (or faultproxy itself). */
struct sc_daemon {
	pid_t	pid;
	int	port;
	char	ctl[SC_MAXPATH];
	char	log[SC_MAXPATH];
};

/* One owner: a device's pool, by the library or behind a mount. */
struct sc_owner {
	char		 user[KP_MAX_USERNAME + 1];
	char		 device[KP_MAX_DEVICE + 1];
	char		 principal[KP_MAX_PRINCIPAL + 1];
	char		 db[SC_MAXPATH];
	char		 mnt[SC_MAXPATH];	/* "" unless mounted */
	struct kp_pool	*p;	/* the library's handle (for a mount: one
				   with no server, to read the store) */
};

struct sc_inviter {
	char		  name[KP_MAX_USERNAME + 1];
	uint8_t		  seed[KP_SIGN_SEED_LEN];
	struct kp_client *c;
};

/*
 * A key handed to a caller (a 200 of reserve or claim, or an owner's
 * own reserve): what later calls on it answered.  unsure: a call on
 * it got no clear answer (no reply, a 5xx, a replay's 401), so it may
 * have been released or spent.
 */
struct sc_grant {
	uint8_t		 ref[KP_REF_LEN];
	int		 who;		/* inviter index, or -1 - owner */
	int		 owner;		/* whose key */
	int64_t		 at, expires;	/* the test clock */
	int		 last_resort;
	int		 released, spent, unsure, welcomed;
	int		 over;	/* the key was handed out again since */
	int64_t		 not_after;	/* the key's */
	uint8_t		 gid[16];
	uint8_t		*kp;		/* the KeyPackage (inviters') */
	size_t		 kplen;
};

/* What the owner itself did to one key, and saw succeed. */
struct sc_ref {
	uint8_t	ref[KP_REF_LEN];
	int	owner;
	int	spent;		/* the owner's spend or a Welcome it opened */
	uint8_t	gid[16];	/* the Welcome's group */
	int	welcomed;
	int	retired;	/* by a rotate the owner saw succeed */
};

/* Counters of one seed (and, added up, of a soak). */
struct sc_counts {
	uint64_t	seeds, failed;
	uint64_t	ops, op[OP_N];
	uint64_t	requests, fault[F_N];
	uint64_t	server_crashes, fs_crashes;
	uint64_t	handed, checked_keys;
	uint64_t	ms;
};

struct sc_world {
	uint64_t		seed;
	uint64_t		rng;
	int			pg;
	char			dir[SC_MAXPATH];
	char			build[256];
	char			clock[SC_MAXPATH];
	char			serverdb[SC_MAXPATH];
	char			proxy_url[64];
	char			server_url[64];
	int64_t			now;
	struct sc_daemon	server, proxy, fs;
	struct sc_owner		owner[SC_OWNERS];
	struct sc_inviter	inv[SC_INVITERS];
	struct sc_grant		grant[SC_GRANTS];
	int			ngrants;
	struct sc_ref		refs[SC_REFS];
	int			nrefs;
	struct sc_counts	n;
	int			violations;
	int			verbose;
	int64_t			t0;	/* the seed's start, ms */
};

/* scenario.c */
extern const char *const sc_op_name[OP_N];
/* sc_run_seed: w->seed's world, operations and checks in this process;
 * its line printed; 0 when every invariant held. */
int	sc_run_seed(struct sc_world *w);
/* sc_print_counts: head, then n (with seeds: its seed counts) as one
 * line. */
void	sc_print_counts(const char *head, const struct sc_counts *n,
	    int seeds);
/* sc_rnd: the seed's next draw in [0, n). */
uint32_t sc_rnd(struct sc_world *w, uint32_t n);
void	sc_fail(struct sc_world *w, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	sc_note(struct sc_world *w, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
int	sc_fs_write(const char *path, const void *buf, size_t len);
struct sc_ref *sc_ref_get(struct sc_world *w, const uint8_t *ref, int owner);
/* sc_hex8: the first 8 bytes of a ref in hex (static, 4 in turn). */
const char *sc_hex8(const uint8_t *ref);

/* scen_world.c */
extern const char *const sc_fault_name[F_N];
/* sc_path: name's path in the seed's directory into out (SC_MAXPATH). */
void	sc_path(struct sc_world *w, char *out, const char *name);
/* sc_server_start: kpool-server under faultcrash, crashing at seeded
 * request counts of the proxy. */
void	sc_server_start(struct sc_world *w);
/* sc_proxy_start: faultproxy before the server, its rates drawn, its
 * faults off until the world is set up. */
void	sc_proxy_start(struct sc_world *w);
/* sc_fs_start: kpoolfs -f on owner 0's store under faultcrash, which
 * may kill it once at a seeded moment. */
void	sc_fs_start(struct sc_world *w);
/* sc_daemon_stop: SIGTERM and wait; its exit status (0 when down). */
int	sc_daemon_stop(struct sc_daemon *d);
/* sc_daemon_ctl: one command to d's control socket, its reply in
 * reply (NULL: dropped); 0 on "ok" (fault_ctl). */
int	sc_daemon_ctl(struct sc_daemon *d, const char *cmd, char *reply,
	    size_t cap);

/* scen_check.c */
void	sc_heal(struct sc_world *w);
void	sc_check(struct sc_world *w);
void	sc_check_files(struct sc_world *w);

#endif /* FAULT_SCENARIO_H */
