/* SPDX-License-Identifier: ISC */
/* kps.h: kpool-server's internal interfaces between its files. */
#ifndef KPS_H
#define KPS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "kpool.h"
#include "kpool-httpsig.h"
#include "store.h"

#define KPS_MAX_BODY		(1024 * 1024)	/* 1 MiB */
#define KPS_MAX_REQUEST_ID	64

struct kps_config {
	const char	*listen;	/* host:port */
	const char	*db;
	const char	*test_clock;	/* file with a unix time, or NULL */
	int64_t		 reservation_ttl;	/* 60 s */
	int		 burn;		/* --expired-reservations burn */
	int64_t		 max_lifetime;	/* 90 days */
	int64_t		 expired_retention;	/* keep expired keys 1 day */
	int		 registration_open;
	double		 rate_per_min;	/* reserves per (caller, target);
					   0 off */
	double		 rate_burst;
	unsigned	 threads;	/* HTTP thread pool */
	unsigned	 max_connections;
	int		 public_metrics; /* /metrics without a signature */
	int		 quiet;		/* no request log */
};

/* config.c: the settings, which main.c sets from the options. */
extern struct kps_config kps_conf;

/* clock.c */
/* kps_now: the server's time for lifetimes and TTLs (the test clock
 * when one is set), unix seconds. */
int64_t	kps_now(void);
/* kps_real_now: the real time, for signature freshness (the test
 * clock's second field when it has one). */
int64_t	kps_real_now(void);

/*
 * A signed request as replays see it: its signer, nonce and created.
 * The writer remembers it in the database (kps_nonce_put) with the
 * request's write, or alone (KPS_JOB_NONCE) for a read.
 */
struct kps_sig {
	char	 keyid[KP_MAX_USERNAME + 1];
	char	 nonce[KP_HTTPSIG_MAX_NONCE + 1];
	int64_t	 created;
};

/* The work the single writer thread does, in group commits. */
enum kps_job_kind {
	KPS_JOB_NONCE,		/* only remember sig */
	KPS_JOB_USER_ADD,
	KPS_JOB_SAVE,
	KPS_JOB_RESERVE,
	KPS_JOB_SPEND,
	KPS_JOB_RELEASE,
	KPS_JOB_RETIRE,
};

struct kps_job {
	enum kps_job_kind	 kind;
	struct kps_sig		 sig;		/* remembered first when
						   has_sig; a replay is rc
						   KP_EAUTH and does nothing */
	int			 has_sig;
	int			 sig_rc;	/* the writer's kps_nonce_put
						   of sig */
	int			 rate;		/* RESERVE: take a token of
						   (caller, target) first */
	int			 wait;		/* KP_ERATE: seconds */
	const char		*caller;
	const uint8_t		*ref;
	const uint8_t		*group_id;
	size_t			 group_id_len;
	const uint8_t		*pk;		/* USER_ADD */
	struct kps_key		*keys;		/* SAVE */
	int			*rcs;		/* SAVE: one per key */
	size_t			 nkeys;
	struct kps_reserve	 reserve;	/* RESERVE */
	struct kps_reservation	 res;		/* RESERVE result */
	int64_t			 now;
	int			 rc;
	int			 done;		/* guarded by the writer lock */
	pthread_cond_t		 cv;		/* signals done */
	void			(*wake)(void *); /* async: called when done */
	void			*wake_arg;
	struct kps_job		*next;
};

/* writer.c */
/* kps_writer_start: open the writer's connection and start it and the
 * checkpointer. */
int	kps_writer_start(const char *db, char *err, size_t errlen);
/* kps_writer_run: queue a job and wait until it is committed. */
void	kps_writer_run(struct kps_job *j);
/* kps_writer_submit: queue a job; the writer calls j->wake(j->wake_arg)
 * from its thread once it is committed. */
void	kps_writer_submit(struct kps_job *j);
/* kps_writer_stop: finish the queue, checkpoint, close. */
void	kps_writer_stop(void);

/* migrate.c */
/* kps_migrate: copy the store from into the store to, which must be
 * empty, and commit the copy once its counts equal the source's; says
 * what it did on stdout, why not on stderr.  Exit status: 0 or 1. */
int	kps_migrate(const char *from, const char *to);

/* readers.c */
/* kps_reader: this thread's read connection to kps_conf.db (NULL on
 * failure), opened on its first use. */
struct kps_store *kps_reader(void);
/* kps_readers_close: close every thread's read connection. */
void	kps_readers_close(void);

/* auth.c */
struct kps_authreq {
	const char	*method;
	const char	*path;
	const char	*query;
	const char	*sig_input;
	const char	*signature;
	const char	*digest;
	const void	*body;
	size_t		 len;
	const uint8_t	*pk;		/* the key to check with, or NULL:
					   the registered key of keyid */
	const char	*expect_keyid;	/* or NULL */
};
/*
 * kps_auth: check a request's signature and this process's replay
 * cache; KP_OK with the user in user, its key in pk_out (when not
 * NULL) and what names the signature in sig, for the database to
 * remember (which refuses a replay to another instance); or KP_EAUTH
 * with a static reason in *why.
 */
int	kps_auth(const struct kps_authreq *a, char user[KP_MAX_USERNAME + 1],
	    uint8_t *pk_out, struct kps_sig *sig, const char **why);
/* kps_auth_init: key the replay cache; KP_OK or KP_ECRYPTO. */
int	kps_auth_init(void);
/* kps_auth_fini: forget the replay cache. */
void	kps_auth_fini(void);

/*
 * metrics.c: the other files report to it, and it asks nothing of them
 * but the store's counts.  A route is a number below KPS_MAX_ROUTES
 * (an entry of the route table in routes.c).
 */
#define KPS_MAX_ROUTES	16
/* kps_metric_request: count a reply of status to route (ignored when
 * out of range). */
void	kps_metric_request(int route, int status);
/* kps_metric_add: add n to the counter or gauge called name (see
 * metrics.c; an unknown name counts nothing). */
void	kps_metric_add(const char *name, int64_t n);
/* kps_metrics_text: the Prometheus text, malloc'd (NULL: no memory);
 * route i is called routes[i], for i below nroutes. */
char	*kps_metrics_text(const char *const *routes, size_t nroutes);

/* routes.c */
struct kps_http;	/* one request, see http.c */
struct kps_reply {
	int	 status;
	char	*body;		/* malloc'd */
	size_t	 len;
	const char *content_type;
	int	 retry_after;	/* seconds, for 429 */
	char	 allow[32];	/* the methods of the path, for 405 */
};
struct kps_call {
	const char	*method;
	const char	*path;		/* raw, without the query */
	const char	*query;		/* raw, without '?' */
	const char	*sig_input, *signature, *digest;
	const uint8_t	*body;
	size_t		 len;
	int		 route;		/* set by kps_handle: see
					   kps_route_of() */
	char		 user[KP_MAX_USERNAME + 1]; /* set by kps_handle:
					   the authenticated caller or "" */
	struct kps_pending *pending;	/* set by kps_handle: a write to
					   submit, r is not filled yet */
};
struct kps_pending;
/* kps_route_of: the route of a path without its query: the number of
 * its entry in the route table, or that of the entry for no route. */
int	kps_route_of(const char *path);
/* kps_handle: answer one complete request, or leave c->pending. */
void	kps_handle(struct kps_call *c, struct kps_reply *r);
/* kps_pending_submit: hand a pending write to the writer; wake(arg)
 * runs in the writer's thread when it is done. */
void	kps_pending_submit(struct kps_pending *p, void (*wake)(void *),
	    void *arg);
/* kps_pending_cancel: answer a pending write that will not be
 * submitted (the server is stopping) with 503; frees p. */
void	kps_pending_cancel(struct kps_pending *p, struct kps_reply *r);
/* kps_finish: the reply of a done pending write; frees p. */
void	kps_finish(struct kps_pending *p, struct kps_reply *r);

/* request.c (the rest of it in request.h, for the endpoints) */
/* kps_error: fill r with {"error": code, "message": ...}. */
void	kps_error(struct kps_reply *r, int status, const char *code,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* http.c */
/* kps_http_start: listen on kps_conf.listen and serve; 0 with the port
 * bound in *port, or -1 with the reason in err. */
int	kps_http_start(char *err, size_t errlen, unsigned *port);
/* kps_http_stop: drain (see http.c) and stop the daemon. */
void	kps_http_stop(void);

#endif /* KPS_H */
