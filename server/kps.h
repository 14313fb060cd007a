/* SPDX-License-Identifier: ISC */
/* kps.h: kpool-server's internal interfaces between its files. */
#ifndef KPS_H
#define KPS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "kpool.h"
#include "store.h"

#define KPS_MAX_BODY		(1024 * 1024)	/* 1 MiB */
#define KPS_MAX_REQUEST_ID	64
#define KPS_REQUEST_ID		16	/* hex digits of a request's log id
					   (X-Request-Id), not the
					   request_id of a reserve */
#define KPS_ADDR_TEXT		48	/* an address as text, with room */
#define KPS_MAX_NONCE		64	/* lib's KP_HTTPSIG_MAX_NONCE */
#define KPS_BUDGET_WINDOW	3600	/* the drain budget's window, s */
#define KPS_REG_INVITE		2	/* --registration invite */
/* Why a registration was refused (beyond lib's codes and store.h's). */
#define KPS_EREGRATE		(-203)	/* --register-rate from its address */
#define KPS_EINVITE		(-204)	/* no such invitation, or used up */
#define KPS_SIG_SKEW		60	/* seconds a signature's created may
					   be ahead of the server's time */

struct kps_config {
	const char	*listen;	/* host:port */
	const char	*db;
	const char	*test_clock;	/* file with a unix time, or NULL */
	unsigned	 test_writer_delay;	/* ms each batch of writes
						   waits first; 0 off */
	int64_t		 reservation_ttl;	/* 60 s */
	int		 burn;		/* --expired-reservations burn */
	int64_t		 max_lifetime;	/* 90 days */
	int64_t		 expired_retention;	/* keep expired keys 1 day */
	int		 registration_open;	/* 1 open, 0 closed,
						   KPS_REG_INVITE */
	int		 register_rate;	/* new users an hour from one
					   address; 0 off */
	double		 rate_per_min;	/* reserves per (caller, target);
					   0 off */
	double		 rate_burst;
	int		 stranger_share; /* % of a pool to strangers an
					   hour; 0 off */
	int		 contact_floor;	/* keys kept for contacts; 0 off */
	int		 caller_cap;	/* grants a caller holds; 0 off */
	unsigned	 threads;	/* HTTP thread pool */
	unsigned	 max_connections;	/* all addresses */
	unsigned	 max_per_address;	/* one address; 0 off */
	unsigned	 request_deadline;	/* seconds for a whole
						   request (head and body) */
	int		 public_metrics; /* /metrics for anyone */
	const char	*metrics_token;	/* the operator's /metrics token
					   (--metrics-token), or NULL */
	int		 quiet;		/* no request log */
	const char	*tls_cert;	/* --tls-cert: PEM file, or NULL
					   (plain HTTP) */
	const char	*tls_key;	/* --tls-key: PEM file, or NULL */
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

/* kps_fold: name (a valid user name or principal) folded to lower case
 * into out. */
static inline void
kps_fold(char out[KP_MAX_PRINCIPAL + 1], const char *name)
{
	size_t	i;

	for (i = 0; i < KP_MAX_PRINCIPAL && name[i] != '\0'; i++)
		out[i] = name[i] >= 'A' && name[i] <= 'Z' ?
		    (char)(name[i] - 'A' + 'a') : name[i];
	out[i] = '\0';
}

/*
 * A signed request as replays see it: its signer (the principal,
 * folded), nonce and created; a replay repeats all three.
 */
/* A job's signer is no longer what signed it: its device was removed
 * or given another key after the request was authenticated. */
#define KPS_EKEYGONE	(-210)

struct kps_sig {
	char	 keyid[KP_MAX_PRINCIPAL + 1];
	char	 nonce[KPS_MAX_NONCE + 1];
	int64_t	 created;
	uint8_t	 pk[32];	/* the key it was verified with */
	int	 keyed;		/* pk was the device's in the store (not
				   one a registration brings) */
};

/* The work the single writer thread does, in group commits. */
enum kps_job_kind {
	KPS_JOB_NONCE,		/* only remember sig */
	KPS_JOB_DEVICE_ADD,
	KPS_JOB_DEVICE_REMOVE,
	KPS_JOB_SAVE,
	KPS_JOB_RESERVE,
	KPS_JOB_CLAIM,
	KPS_JOB_SPEND,
	KPS_JOB_RELEASE,
	KPS_JOB_RETIRE,
	KPS_JOB_CONTACT_ADD,	/* caller vouches for device (a user) */
	KPS_JOB_CONTACT_REMOVE,
};

struct kps_job {
	enum kps_job_kind	 kind;
	const struct kps_sig	*sig;		/* remembered first, in the
						   same transaction; a replay
						   is rc KP_EAUTH, not done */
	int			 sig_rc;	/* the writer's kps_nonce_add
						   of sig (for the batch) */
	int			 rate;		/* RESERVE, CLAIM: take a
						   token of (caller's user,
						   target) first */
	int			 wait;		/* KP_ERATE, KPS_EBUDGET,
						   KPS_ECAP: seconds */
	const char		*caller;	/* a principal; the user
						   for DEVICE_* */
	const uint8_t		*ref;
	const uint8_t		*group_id;
	size_t			 group_id_len;
	const char		*device;	/* DEVICE_* */
	const uint8_t		*pk;		/* DEVICE_ADD */
	enum kps_dev_mode	 mode;		/* DEVICE_ADD */
	const char		*addr;		/* DEVICE_ADD (register):
						   the source address */
	const uint8_t		*invite;	/* DEVICE_ADD (register):
						   an invitation's hash */
	uint64_t		 count;		/* DEVICE_REMOVE: retired */
	struct kps_key		*keys;		/* SAVE */
	int			*rcs;		/* SAVE: one per key */
	size_t			 nkeys;
	struct kps_reserve	 reserve;	/* RESERVE, CLAIM */
	struct kps_reservation	 res;		/* RESERVE result */
	struct kps_claim	*claim;		/* CLAIM result */
	int64_t			 now;
	int			 rc;
	int			 done;		/* guarded by the writer lock */
	pthread_cond_t		 cv;		/* signals done */
	void			(*wake)(void *); /* async: called when done */
	void			*wake_arg;
	struct kps_job		*next;
};

/*
 * tls.c: the certificate and key of --tls-cert and --tls-key, read at
 * start and checked, for libmicrohttpd (GnuTLS) to serve HTTPS with.
 */
#define KPS_TLS_PRIORITIES "SECURE128:-VERS-ALL:+VERS-TLS1.3:" \
	"+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:" \
	"+CHACHA20-POLY1305:-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:" \
	"+ECDHE-RSA:%SERVER_PRECEDENCE"
/* kps_tls_load: read and check the PEM files cert (a certificate, then
 * its chain) and key (its unencrypted private key, not open to others);
 * 0, or -1 with why in err.  Both stay in memory for kps_tls_cert() and
 * kps_tls_key() until kps_tls_wipe(). */
int	kps_tls_load(const char *cert, const char *key, char *err,
	    size_t errlen);
/* kps_tls_cert, kps_tls_key: the PEM texts loaded (NUL-terminated),
 * or NULL. */
const char *kps_tls_cert(void);
const char *kps_tls_key(void);
/* kps_tls_wipe: wipe and free them (once libmicrohttpd has its own
 * copies). */
void	kps_tls_wipe(void);

/* writer.c */
/* kps_budget_conf: the drain budget of the settings. */
void	kps_budget_conf(struct kps_budget *b);
/* kps_writer_start: open the writer's connection and start it and the
 * checkpointer. */
int	kps_writer_start(const char *db, char *err, size_t errlen);
/* kps_writer_run: queue a job and wait until it is committed; j->rc
 * KP_EBUSY at once when the server is stopping (kps_http_writing). */
void	kps_writer_run(struct kps_job *j);
/* kps_writer_submit: queue a job; the writer calls j->wake(j->wake_arg)
 * from its thread once it is committed. */
void	kps_writer_submit(struct kps_job *j);
/* kps_writer_remember: queue the nonce of sig (copied) to be remembered
 * without waiting; KP_OK or KP_ENOMEM. */
int	kps_writer_remember(const struct kps_sig *sig);
/* kps_writer_stop: finish the queue, checkpoint, close. */
void	kps_writer_stop(void);

/* lock.c */
/* kps_db_lock: for a SQLite database, hold an exclusive lock on
 * DB.lock until the process exits; 0, or -1 with why in err (another
 * server holds it).  A PostgreSQL database: 0, no lock. */
int	kps_db_lock(const char *db, char *err, size_t errlen);

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
	const char	*expect_keyid;	/* a principal, or NULL */
};
/*
 * kps_auth: check a request's signature (created from 300 s before the
 * server's time to KPS_SIG_SKEW after it) by the key of the device its
 * keyid names (a principal) and this process's replay cache; KP_OK
 * with the user in user (as registered, or as given when a->pk is),
 * the device in device, its key in pk_out (when not NULL) and what
 * names the signature in sig, for the database to remember; or
 * KP_EAUTH with a static reason in *why (counted in metrics).
 */
int	kps_auth(const struct kps_authreq *a, char user[KP_MAX_USERNAME + 1],
	    char device[KP_MAX_DEVICE + 1], uint8_t *pk_out,
	    struct kps_sig *sig, const char **why);
/* kps_auth_init: key the replay cache; KP_OK or KP_ECRYPTO. */
int	kps_auth_init(void);
/* kps_auth_fini: forget the replay cache. */
void	kps_auth_fini(void);

/*
 * metrics.c: the other files report to it, and it asks nothing of them
 * but the store's counts.  A route is a number below KPS_MAX_ROUTES
 * (an entry of the route table in routes.c).
 */
#define KPS_MAX_ROUTES	24
/* kps_metric_request: count a reply of status to route (ignored when
 * out of range). */
void	kps_metric_request(int route, int status);
/* kps_metric_add: add n to the counter or gauge called name (see
 * metrics.c; an unknown name counts nothing). */
void	kps_metric_add(const char *name, int64_t n);
/* kps_metric_reason: count one in the labelled counter family (as
 * "auth_refused") under reason (an unknown pair counts nothing). */
void	kps_metric_reason(const char *family, const char *reason);
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
	int	 retry_after;	/* seconds, for 429 and 503 */
	char	 allow[32];	/* the methods of the path, for 405 */
	int	 close;		/* no further request on the connection */
};
struct kps_call {
	const char	*method;
	const char	*path;		/* raw, without the query */
	const char	*query;		/* raw, without '?' */
	const char	*sig_input, *signature, *digest;
	const char	*authorization;	/* the header, or NULL */
	char		 addr[64];	/* the source: an IPv4 address, or
					   an IPv6 /64 ("" unknown) */
	const uint8_t	*body;
	size_t		 len;
	int		 route;		/* set by kps_handle: see
					   kps_route_of() */
	char		 user[KP_MAX_PRINCIPAL + 1]; /* set by kps_handle:
					   the authenticated caller (its
					   principal) or "" */
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
/* kps_log_request: log a request to standard error (not with --quiet):
 * the time (RFC 3339, UTC, milliseconds), the client's address, the
 * request's id, method, path (the target without its query), status,
 * milliseconds and caller ("" for none), each byte not printable ASCII
 * as '?'.  See docs/server.md. */
void	kps_log_request(const char *addr, const char *rid, const char *method,
	    const char *target, int status, double ms, const char *user,
	    int aborted);
/* kps_request_id: a new request id, KPS_REQUEST_ID hex digits, into
 * out; unique within the process, unlikely to repeat across runs. */
void	kps_request_id(char out[KPS_REQUEST_ID + 1]);
/* kps_addr_text: sa's address as text (IPv6 without brackets, an
 * IPv4-mapped one as IPv4) into out (cap bytes); "-" when unknown. */
void	kps_addr_text(const struct sockaddr *sa, char *out, size_t cap);

/*
 * conn.c: the connections: an accept front that reads each connection's
 * first request head before libmicrohttpd does, the per-address and
 * global limits, and the deadline of a whole request.  A connection
 * that libmicrohttpd serves is a struct kps_conn, given to the hooks
 * below from its threads.
 */
struct kps_conn;
/* kps_conn_start: listen on kps_conf.listen (the limit of open files
 * raised to its hard limit) and accept; a connection whose first head
 * is good is given to give_to(fd, addr, len), which returns 0, or -1
 * having closed fd.  0 with the port in *port, or -1 with why in err. */
int	kps_conn_start(int (*give_to)(int, const struct sockaddr *,
	    socklen_t), char *err, size_t errlen, unsigned *port);
/* kps_listen_split: HOST:PORT, [IPV6]:PORT or NAME:PORT (s) into host
 * (without brackets) and port (digits, at most 65535); 0, or -1 when s
 * is none of those or a part does not fit. */
int	kps_listen_split(const char *s, char *host, size_t hcap, char *port,
	    size_t pcap);
/*
 * kps_listen_open: a listening socket in fds (at most max; *nfd counts
 * them) for each address of spec (see kps_listen_split; a name is
 * resolved); with port 0, the port the first one gets is the others'.
 * An address of a name that this system cannot bind (no such address,
 * no IPv6) is passed over with a warning.  The addresses go into bound
 * as "A:P [B]:P ...".  0 with the port in *port, or -1 with the reason
 * in err (and the sockets opened so far left in fds for the caller).
 */
int	kps_listen_open(const char *spec, int *fds, size_t max, size_t *nfd,
	    char *bound, size_t boundcap, unsigned *port, char *err,
	    size_t errlen);
/* kps_conn_bound: the addresses listened on, as "A:P [B]:P ..."
 * (static; "" before kps_conn_start). */
const char *kps_conn_bound(void);
/* kps_conn_drain: stop listening; the heads being read go on. */
void	kps_conn_drain(void);
/* kps_conn_pending: how many first heads the front is reading. */
int	kps_conn_pending(void);
/* kps_conn_stop: stop the front and close what it holds; the hooks
 * still work (libmicrohttpd's connections end after). */
void	kps_conn_stop(void);
/* kps_conn_fini: free the tables, once libmicrohttpd has stopped. */
void	kps_conn_fini(void);
/* kps_conn_attach: the connection of socket fd given to libmicrohttpd
 * (NULL when it is not one). */
struct kps_conn *kps_conn_attach(int fd);
/* kps_conn_begin: a request's line is read; rid is its id (for a 408
 * the deadline sends). */
void	kps_conn_begin(struct kps_conn *c, const char *rid);
/* kps_conn_busy: its body is read: the deadline stops; 0 when the
 * deadline has already closed the connection (do not answer). */
int	kps_conn_busy(struct kps_conn *c);
/* kps_conn_done: its answer is sent (the next request's clock starts);
 * 1 when the deadline had closed it (it was answered 408). */
int	kps_conn_done(struct kps_conn *c);
/* kps_conn_detach: libmicrohttpd closes the connection (before its
 * socket). */
void	kps_conn_detach(struct kps_conn *c);

/* head.c: a request's head, as conn.c and http.c check it. */
/* What the header fields say of a request's framing, and whether it
 * is refused (status 0: not). */
struct kps_framing {
	int		 ncl, nte;	/* Content-Length, Transfer-Encoding */
	uint64_t	 length;	/* the Content-Length */
	int		 status;	/* 400, 413, ... or 0 */
	const char	*code;		/* of the JSON error */
	const char	*message;
	const char	*reason;	/* kpool_connections_refused_total,
					   or NULL */
};
/* kps_framing_field: check one header field (name and value, not
 * NUL-terminated, the value without its leading whitespace) into f;
 * 0 when f now holds a refusal, else 1. */
int	kps_framing_field(struct kps_framing *f, const char *name,
	    size_t nlen, const char *value, size_t vlen);
/* kps_framing_end: check the fields seen as a whole; f->status. */
int	kps_framing_end(struct kps_framing *f);

#define KPS_HEAD_MORE	0	/* the head is not complete yet */
#define KPS_HEAD_DONE	1	/* complete, or refused */
struct kps_head {
	size_t			 len;	/* bytes of the head (blank line
					   included) when complete */
	int			 line;	/* the request line is in */
	char			 method[16];	/* for the log, cut */
	char			 target[128];
	struct kps_framing	 f;	/* f.status: 0, or the refusal */
};
/* kps_head_parse: check the head of a request at the start of buf;
 * KPS_HEAD_MORE when len (below cap) holds no complete head yet, else
 * KPS_HEAD_DONE with h->f.status 0 (h->len) or the refusal. */
int	kps_head_parse(const char *buf, size_t len, size_t cap,
	    struct kps_head *h);

/* http.c */
/* kps_http_tls_supported: 0 when libmicrohttpd can serve TLS, else
 * -1. */
int	kps_http_tls_supported(void);
/* kps_http_start: listen on kps_conf.listen and serve; 0 with the port
 * bound in *port, or -1 with the reason in err. */
int	kps_http_start(char *err, size_t errlen, unsigned *port);
/* kps_http_writing: a request's thread is about to wait for the
 * writer (kps_writer_run): the drain waits for its answer.  0, or -1
 * when the server is stopping and the write is refused. */
int	kps_http_writing(void);
/* kps_writer_admit: fn is asked before a request's thread waits in
 * kps_writer_run(); nonzero refuses the write (KP_EBUSY).  http.c gives
 * kps_http_writing, so the writer never calls into http.c. */
void	kps_writer_admit(int (*fn)(void));
/* kps_http_stop: drain (see http.c) and stop the daemon. */
void	kps_http_stop(void);

#endif /* KPS_H */
