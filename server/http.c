/* SPDX-License-Identifier: ISC */
/*
 * http.c: the HTTP plumbing on libmicrohttpd (thread pool, epoll), which
 * serves the connections the accept front (conn.c) gives it: check each
 * request's framing (head.c), read its raw target and body (1 MiB cap),
 * hand it to kps_handle(), send the reply, log one line per request,
 * count it, tell conn.c where each request stands (its deadline), and
 * on shutdown drain: refuse new connections, let the requests in
 * flight finish and never stop the daemon while a connection waits for
 * the writer.  With --tls-cert, libmicrohttpd speaks TLS (GnuTLS) on
 * the connections it is given, and the framing checks here are the
 * only ones (the front cannot read an encrypted head).
 */

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "kps.h"

struct kps_http {
	struct MHD_Connection *con;
	struct kps_conn	*conn;		/* conn.c's, or NULL */
	char		*target;	/* raw request target */
	struct kps_pending *pending;	/* a write the writer is doing */
	int		 woken;		/* plock: the writer is done */
	int		 orphan;	/* plock: done before the writer */
	char		*body;
	size_t		 len, cap;
	int		 too_big;
	int		 started;
	int		 submitted;	/* counted in `waiting` */
	int		 answered;
	int		 status;
	int		 route;
	char		 method[16];
	char		 user[KP_MAX_PRINCIPAL + 1];	/* the caller or "" */
	char		 rid[KPS_REQUEST_ID + 1];	/* X-Request-Id */
	char		 addr[KPS_ADDR_TEXT];		/* the client's */
	struct timespec	 t0;
};

static struct MHD_Daemon	*daemon_;	/* main thread: start, stop */
/* requests between on_uri and on_done */
static _Atomic int		 inflight;
/* connections accepted that have not begun a request yet */
static _Atomic int		 fresh;
/* requests that submitted a write, until on_done: the daemon must not
 * stop while one is suspended, the writer would resume a freed one */
static _Atomic int		 waiting;
/* orders the writer's wake and a connection's end: see wake() */
static pthread_mutex_t		 plock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int		 draining;	/* stopping: close after each
						   answer */
static _Atomic int		 closing;	/* refuse new writes too */
/* the request kps_handle() serves on this thread, for
 * kps_http_writing() */
static _Thread_local struct kps_http *serving;

/* A connection's socket context. */
struct conn {
	struct kps_conn	*conn;	/* conn.c's */
	int		 fresh;	/* no request begun yet: counted in `fresh` */
};

static void
on_connection(void *cls, struct MHD_Connection *con, void **socket_context,
    enum MHD_ConnectionNotificationCode toe)
{
	const union MHD_ConnectionInfo	*ci;
	struct conn			*cn;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		if ((cn = calloc(1, sizeof(*cn))) != NULL) {
			ci = MHD_get_connection_info(con,
			    MHD_CONNECTION_INFO_CONNECTION_FD);
			cn->conn = ci != NULL ?
			    kps_conn_attach(ci->connect_fd) : NULL;
			cn->fresh = 1;
			atomic_fetch_add(&fresh, 1);
		}
		*socket_context = cn;
		return;
	}
	/* before libmicrohttpd closes the socket */
	if ((cn = *socket_context) != NULL) {
		if (cn->fresh)
			atomic_fetch_sub(&fresh, 1);
		kps_conn_detach(cn->conn);
	}
	free(cn);
	*socket_context = NULL;
}

static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *con)
{
	const union MHD_ConnectionInfo	*ci;
	struct conn			*cn = NULL;
	struct kps_http			*h;

	ci = MHD_get_connection_info(con, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (ci != NULL && (cn = ci->socket_context) != NULL && cn->fresh) {
		cn->fresh = 0;
		atomic_fetch_sub(&fresh, 1);
	}
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	h->con = con;
	kps_request_id(h->rid);
	ci = MHD_get_connection_info(con,
	    MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	kps_addr_text(ci != NULL ? ci->client_addr : NULL, h->addr,
	    sizeof(h->addr));
	if (cn != NULL) {
		h->conn = cn->conn;
		kps_conn_begin(h->conn, h->rid);
	}
	clock_gettime(CLOCK_MONOTONIC, &h->t0);
	if ((h->target = strdup(uri ? uri : "/")) == NULL) {
		free(h);
		return NULL;
	}
	h->route = -1;		/* named by kps_handle() or name_route() */
	atomic_fetch_add(&inflight, 1);
	kps_metric_add("requests_in_flight", 1);
	return h;
}

/* http_free: free a request done with, and its write when done. */
static void
http_free(struct kps_http *h)
{
	struct kps_reply	r;

	if (h->pending != NULL) {
		kps_finish(h->pending, &r);	/* nobody to answer */
		free(r.body);
	}
	if (h->submitted)
		atomic_fetch_sub(&waiting, 1);
	free(h->target);
	free(h->body);
	free(h);
}

/* name_route: the route of the request's path, for a reply made
 * before kps_handle() names it. */
static void
name_route(struct kps_http *h)
{
	char	*q;

	if ((q = strchr(h->target, '?')) != NULL)
		*q = '\0';
	h->route = kps_route_of(h->target);
	if (q != NULL)
		*q = '?';
}

static void
on_done(void *cls, struct MHD_Connection *con, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct kps_http	*h = *con_cls;
	struct timespec	 t1;
	double		 ms;

	if (h == NULL)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - h->t0.tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - h->t0.tv_nsec) / 1e6;
	if (kps_conn_done(h->conn) && h->status == 0) {
		/* the deadline answered it */
		h->status = 408;
		name_route(h);
	}
	if (h->status != 0)
		kps_metric_request(h->route, h->status);
	kps_log_request(h->addr, h->rid, h->method, h->target, h->status, ms,
	    h->user, toe != MHD_REQUEST_TERMINATED_COMPLETED_OK);
	*con_cls = NULL;
	atomic_fetch_sub(&inflight, 1);
	kps_metric_add("requests_in_flight", -1);
	/*
	 * The client may go while its write is queued (libmicrohttpd can
	 * end a suspended connection): the writer still holds the job and
	 * will call wake(), which then frees h instead of resuming.  Only
	 * this connection's thread sets and clears h->pending, so a request
	 * without one needs no lock.
	 */
	if (h->pending != NULL) {
		pthread_mutex_lock(&plock);
		if (!h->woken) {
			h->orphan = 1;
			pthread_mutex_unlock(&plock);
			return;
		}
		pthread_mutex_unlock(&plock);
	}
	http_free(h);
}

static enum MHD_Result
send_reply(struct MHD_Connection *con, struct kps_http *h,
    struct kps_reply *r)
{
	struct MHD_Response	*resp;
	enum MHD_Result		 ret;
	char			 ra[16];

	resp = MHD_create_response_from_buffer(r->len, r->body,
	    MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(r->body);
		return MHD_NO;
	}
	r->body = NULL;
	if (r->content_type != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
		    r->content_type);
	if (r->retry_after > 0) {
		snprintf(ra, sizeof(ra), "%d", r->retry_after);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	if (r->allow[0] != '\0')
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	MHD_add_response_header(resp, "X-Request-Id", h->rid);
	/* stopping, or unsure framing: no further request on it */
	if (atomic_load(&draining) || r->close)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION,
		    "close");
	h->status = r->status;
	h->answered = 1;
	ret = MHD_queue_response(con, (unsigned int)r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/*
 * refuse: answer status with code and message before the body is read
 * (413, or 400 for its framing), and close the connection after: its
 * bytes cannot be trusted to end where this request ends.
 */
static enum MHD_Result
refuse(struct MHD_Connection *con, struct kps_http *h, int status,
    const char *code, const char *message)
{
	struct kps_reply	r;

	name_route(h);
	if (!kps_conn_busy(h->conn))
		return MHD_NO;
	memset(&r, 0, sizeof(r));
	kps_error(&r, status, code, "%s", message);
	r.close = 1;
	return send_reply(con, h, &r);
}

static enum MHD_Result
framing_field(void *cls, enum MHD_ValueKind kind, const char *key,
    size_t klen, const char *value, size_t vlen)
{
	return kps_framing_field(cls, key, klen, value, vlen) ? MHD_YES :
	    MHD_NO;
}

static const char *
header(struct MHD_Connection *con, const char *name)
{
	return MHD_lookup_connection_value(con, MHD_HEADER_KIND, name);
}

/*
 * wake: the writer's callback, in its thread: the pending write of the
 * request arg is done.  Resume its connection, or free the request if
 * the connection ended meanwhile (on_done left it to us).
 */
static void
wake(void *arg)
{
	struct kps_http	*h = arg;

	pthread_mutex_lock(&plock);
	h->woken = 1;
	if (!h->orphan) {
		MHD_resume_connection(h->con);
		pthread_mutex_unlock(&plock);
		return;
	}
	pthread_mutex_unlock(&plock);
	http_free(h);
}

/*
 * source: the source address of con as the registration limit counts
 * it into out: an IPv4 address, or the /64 of an IPv6 one (a host
 * holds a /64 as cheaply as one address); "" when unknown.
 */
static void
source(struct MHD_Connection *con, char *out, size_t len)
{
	const union MHD_ConnectionInfo	*ci;
	struct sockaddr_in6		 a6;
	char				 t[INET6_ADDRSTRLEN];

	out[0] = '\0';
	ci = MHD_get_connection_info(con, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || ci->client_addr == NULL)
		return;
	if (ci->client_addr->sa_family == AF_INET) {
		if (inet_ntop(AF_INET, &((const struct sockaddr_in *)
		    ci->client_addr)->sin_addr, t, sizeof(t)) != NULL)
			snprintf(out, len, "%s", t);
	} else if (ci->client_addr->sa_family == AF_INET6) {
		memcpy(&a6, ci->client_addr, sizeof(a6));
		memset(a6.sin6_addr.s6_addr + 8, 0, 8);
		if (inet_ntop(AF_INET6, &a6.sin6_addr, t, sizeof(t)) != NULL)
			snprintf(out, len, "%s/64", t);
	}
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *con, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct kps_http		*h = *con_cls;
	struct kps_reply	 r;
	struct kps_call		 c;
	struct kps_framing	 f;
	char			*q, *nb;
	size_t			 cap;

	if (h == NULL)
		return MHD_NO;
	if (!h->started) {
		/* the head is read, the body not yet */
		h->started = 1;
		snprintf(h->method, sizeof(h->method), "%s", method);
		memset(&f, 0, sizeof(f));
		(void)MHD_get_connection_values_n(con, MHD_HEADER_KIND,
		    framing_field, &f);
		if (kps_framing_end(&f) != 0) {
			if (f.reason != NULL)
				kps_metric_reason("connections_refused",
				    f.reason);
			return refuse(con, h, f.status, f.code, f.message);
		}
		return MHD_YES;
	}
	if (h->answered) {
		*upload_data_size = 0;	/* drop the rest of the body */
		return MHD_YES;
	}
	if (h->pending != NULL) {
		/* resumed: the writer has committed our write */
		kps_finish(h->pending, &r);
		h->pending = NULL;
		return send_reply(con, h, &r);
	}
	if (*upload_data_size > 0) {
		if (h->too_big || h->len + *upload_data_size > KPS_MAX_BODY) {
			h->too_big = 1;
			*upload_data_size = 0;
			return MHD_YES;
		}
		if (h->len + *upload_data_size + 1 > h->cap) {
			cap = h->cap ? h->cap : 4096;
			while (cap < h->len + *upload_data_size + 1)
				cap *= 2;
			if ((nb = realloc(h->body, cap)) == NULL)
				return MHD_NO;
			h->body = nb;
			h->cap = cap;
		}
		memcpy(h->body + h->len, upload_data, *upload_data_size);
		h->len += *upload_data_size;
		h->body[h->len] = '\0';
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (h->too_big)
		return refuse(con, h, 413, "too_big", "the body is larger "
		    "than 1048576 bytes");
	/* the whole request is read: its deadline is over */
	if (!kps_conn_busy(h->conn))
		return MHD_NO;

	memset(&c, 0, sizeof(c));
	c.method = method;
	c.path = h->target;
	c.query = "";
	if ((q = strchr(h->target, '?')) != NULL) {
		*q = '\0';
		c.query = q + 1;
	}
	c.sig_input = header(con, "Signature-Input");
	c.signature = header(con, "Signature");
	c.digest = header(con, "Content-Digest");
	c.authorization = header(con, MHD_HTTP_HEADER_AUTHORIZATION);
	source(con, c.addr, sizeof(c.addr));
	c.body = (const uint8_t *)h->body;
	c.len = h->len;
	serving = h;
	kps_handle(&c, &r);
	serving = NULL;
	if (q != NULL)
		*q = '?';
	h->route = c.route;
	memcpy(h->user, c.user, sizeof(h->user));
	if (c.pending != NULL) {
		/* counted before closing is read: see kps_http_stop() */
		if (!h->submitted) {
			h->submitted = 1;
			atomic_fetch_add(&waiting, 1);
		}
		if (atomic_load(&closing)) {
			kps_pending_cancel(c.pending, &r);
			return send_reply(con, h, &r);
		}
		/* suspend first: the writer may be done before we return */
		h->pending = c.pending;
		MHD_suspend_connection(con);
		kps_pending_submit(h->pending, wake, h);
		return MHD_YES;
	}
	return send_reply(con, h, &r);
}

/* give: take a connection from the accept front (conn.c). */
static int
give(int fd, const struct sockaddr *addr, socklen_t len)
{
	return MHD_add_connection(daemon_, fd, addr, len) == MHD_YES ? 0 :
	    -1;
}

/*
 * A write done in the request's own thread (kps_writer_run: uploads,
 * registrations, enrollments, retirements) counts the request in
 * `waiting` as a submitted one does, so the drain waits for its answer
 * however long the writer takes; once closing, it is refused.
 */
int
kps_http_writing(void)
{
	struct kps_http	*h = serving;

	if (h == NULL)
		return 0;	/* not a request's thread */
	/* counted before closing is read: see kps_http_stop() */
	if (!h->submitted) {
		h->submitted = 1;
		atomic_fetch_add(&waiting, 1);
	}
	return atomic_load(&closing) ? -1 : 0;
}

int
kps_http_tls_supported(void)
{
	return MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES ? 0 : -1;
}

int
kps_http_start(char *err, size_t errlen, unsigned *port)
{
	/* with --tls-cert, libmicrohttpd's GnuTLS does the handshake of
	 * each connection the front gives it (docs/security.md, "TLS") */
	struct MHD_OptionItem	 tls[] = {
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)kps_tls_cert() },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)kps_tls_key() },
		{ MHD_OPTION_HTTPS_PRIORITIES, 0, KPS_TLS_PRIORITIES },
		{ MHD_OPTION_END, 0, NULL },
	};
	unsigned		 flags = MHD_USE_EPOLL_INTERNAL_THREAD |
				    MHD_USE_NO_LISTEN_SOCKET |
				    MHD_ALLOW_SUSPEND_RESUME |
				    MHD_USE_ERROR_LOG;

	if (kps_tls_key() != NULL)
		flags |= MHD_USE_TLS;
	else
		tls[0].option = MHD_OPTION_END;
	kps_writer_admit(kps_http_writing);
	/* the front listens: libmicrohttpd serves what it is given */
	daemon_ = MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL,
	    MHD_OPTION_THREAD_POOL_SIZE, kps_conf.threads,
	    MHD_OPTION_CONNECTION_LIMIT, kps_conf.max_connections + 64,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
	    MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
	    MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
	    MHD_OPTION_ARRAY, tls,
	    MHD_OPTION_END);
	/* GnuTLS has parsed the key into its own credentials */
	kps_tls_wipe();
	if (daemon_ == NULL) {
		snprintf(err, errlen, "cannot start libmicrohttpd%s",
		    flags & MHD_USE_TLS ? " with this certificate and key" :
		    "");
		return -1;
	}
	if (kps_conn_start(give, err, errlen, port) != 0) {
		MHD_stop_daemon(daemon_);
		daemon_ = NULL;
		return -1;
	}
	return 0;
}

void
kps_http_stop(void)
{
	int	i;

	if (daemon_ == NULL)
		return;
	/*
	 * Refuse new connections (MHD_quiesce_daemon() would race the
	 * epoll workers and can abort the process), then let what is in
	 * flight finish: requests begun, and connections accepted whose
	 * request is not read yet; 10 s at most.
	 */
	atomic_store(&draining, 1);
	kps_conn_drain();
	for (i = 0; i < 1000 && (atomic_load(&inflight) > 0 ||
	    atomic_load(&fresh) > 0 || kps_conn_pending() > 0); i++)
		usleep(10000);
	/*
	 * Then refuse new writes and wait for every submitted one, and
	 * every request whose thread waits in kps_writer_run(), however
	 * long the writer takes (it always answers, if only with an
	 * error): the writer resumes their connections, which must exist,
	 * and each is answered before the daemon stops.
	 * A request counts itself in `waiting` before it reads `closing`,
	 * and this reads `waiting` after setting `closing`, so either it
	 * sees `closing` or this sees it.
	 */
	atomic_store(&closing, 1);
	while (atomic_load(&waiting) > 0)
		usleep(10000);
	kps_conn_stop();
	MHD_stop_daemon(daemon_);
	daemon_ = NULL;
	kps_conn_fini();
}
