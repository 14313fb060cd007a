/* SPDX-License-Identifier: ISC */
/*
 * request.c: a request of the API as its endpoints see it: its
 * signature, its JSON body and members, and the JSON reply; see
 * request.h.
 */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "request.h"

#define B64V	sodium_base64_VARIANT_ORIGINAL

static uint32_t	run_value;	/* once: request ids' first half */

static void
run_init(void)
{
	run_value = randombytes_random();
}

void
kps_reply_json(struct kps_reply *r, int status, json_t *j)
{
	r->status = status;
	r->content_type = "application/json";
	r->body = NULL;
	r->len = 0;
	if (j != NULL) {
		r->body = json_dumps(j, JSON_COMPACT);
		json_decref(j);
	}
	if (r->body == NULL) {
		r->status = 500;
		r->body = strdup("{\"error\":\"internal\","
		    "\"message\":\"out of memory\"}");
	}
	if (r->body != NULL) {
		r->len = strlen(r->body);
		if (r->len + 1 < 1 << 20) {
			/* a newline makes curl output readable */
			char *nb = realloc(r->body, r->len + 2);

			if (nb != NULL) {
				r->body = nb;
				r->body[r->len++] = '\n';
				r->body[r->len] = '\0';
			}
		}
	}
}

void
kps_error(struct kps_reply *r, int status, const char *code,
    const char *fmt, ...)
{
	va_list	ap;
	char	msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	kps_reply_json(r, status, json_pack("{s:s, s:s}", "error", code,
	    "message", msg));
}

/*
 * printable: copy s up to stop (or its end) into out, as much as out
 * holds, each byte that is not printable ASCII as '?', so that no client
 * writes a newline or an escape sequence into the log; "-" for "".
 */
static void
printable(char *out, size_t cap, const char *s, int stop)
{
	size_t	i;

	for (i = 0; i + 1 < cap && s[i] != '\0' && s[i] != stop; i++)
		out[i] = s[i] > 0x20 && s[i] < 0x7f ? s[i] : '?';
	if (i == 0 && cap > 1)
		out[i++] = '-';
	out[i] = '\0';
}

void
kps_request_id(char out[KPS_REQUEST_ID + 1])
{
	static _Atomic uint32_t	 next;
	static pthread_once_t	 once = PTHREAD_ONCE_INIT;
	uint32_t		 n;

	(void)pthread_once(&once, run_init);
	n = atomic_fetch_add(&next, 1);
	snprintf(out, KPS_REQUEST_ID + 1, "%08x%08x", run_value, n);
}

void
kps_addr_text(const struct sockaddr *sa, char *out, size_t cap)
{
	const struct sockaddr_in6	*sin6;
	const void			*a = NULL;
	int				 af = sa != NULL ? sa->sa_family : 0;

	if (af == AF_INET)
		a = &((const struct sockaddr_in *)sa)->sin_addr;
	else if (af == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)sa;
		a = &sin6->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			af = AF_INET;
			a = (const uint8_t *)&sin6->sin6_addr + 12;
		}
	}
	if (a == NULL || inet_ntop(af, a, out, (socklen_t)cap) == NULL)
		snprintf(out, cap, "-");
}

void
kps_log_request(const char *addr, const char *rid, const char *method,
    const char *target, int status, double ms, const char *user,
    int aborted)
{
	char		line[448], m[16], path[121], u[KP_MAX_PRINCIPAL + 1];
	char		when[40];
	struct timespec	ts;
	struct tm	tm;
	int		n;

	if (kps_conf.quiet)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (gmtime_r(&ts.tv_sec, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		snprintf(when, sizeof(when), "-");
	/* the path only: no query, header, key or signature */
	printable(m, sizeof(m), method, '\0');
	printable(path, sizeof(path), target, '?');
	printable(u, sizeof(u), user, '\0');
	n = snprintf(line, sizeof(line), "%s.%03ldZ %s %s %s %s %d %.3fms "
	    "%s%s\n", when, ts.tv_nsec / 1000000, addr, rid[0] ? rid : "-",
	    m, path, status, ms, u, aborted ? " (aborted)" : "");
	/* one write: lines of concurrent requests do not mix */
	if (n > 0 && (size_t)n < sizeof(line))
		(void)!write(STDERR_FILENO, line, (size_t)n);
}

int
kps_reply_dberr(struct kps_reply *r, int rc)
{
	if (rc == KP_EAUTH) {
		kps_metric_reason("auth_refused", "replay");
		kps_error(r, 401, "unauthorized", "replayed signature: this "
		    "nonce was already used");
	} else if (rc == KPS_EKEYGONE) {
		kps_metric_reason("auth_refused", "unknown_key");
		kps_error(r, 401, "unauthorized", "unknown keyid: the device "
		    "that signed was removed or given another key");
	} else if (rc == KP_ENOMEM)
		kps_error(r, 500, "internal", "out of memory");
	else if (rc == KP_EBUSY) {
		/* kps_writer_run() while the server stops */
		kps_error(r, 503, "unavailable", "the server is stopping; try "
		    "again");
		r->retry_after = 1;
	}
	else {
		kps_error(r, 503, "unavailable", "database error; try again");
		r->retry_after = 1;
	}
	return -1;
}

int
kps_req_auth(struct kps_req *x, const uint8_t *pk, const char *expect)
{
	struct kps_authreq	 a;
	struct kps_store	*rd;
	const char		*why = NULL;
	int			 rc;

	memset(&a, 0, sizeof(a));
	a.method = x->c->method;
	a.path = x->c->path;
	a.query = x->c->query;
	a.sig_input = x->c->sig_input;
	a.signature = x->c->signature;
	a.digest = x->c->digest;
	a.body = x->c->body;
	a.len = x->c->len;
	a.pk = pk;
	a.expect_keyid = expect;
	if ((rc = kps_auth(&a, x->user, x->device, x->pk, &x->sig,
	    &why)) != KP_OK) {
		if (rc != KP_EAUTH)
			return kps_reply_dberr(x->r, rc);
		kps_error(x->r, 401, "unauthorized", "%s", why ? why :
		    "refused");
		return -1;
	}
	if (kp_principal(x->user, x->device, x->principal,
	    sizeof(x->principal)) != KP_OK)
		return kps_reply_dberr(x->r, KP_EINVAL);
	if (strcmp(x->c->method, "GET") == 0) {
		if ((rd = kps_reader()) == NULL)
			return kps_reply_dberr(x->r, KP_EDB);
		if ((rc = kps_nonce_seen(rd, x->sig.keyid, x->sig.nonce,
		    x->sig.created)) != KP_OK)
			return kps_reply_dberr(x->r, rc == KP_EEXIST ?
			    KP_EAUTH : rc);
	}
	x->sig_unsaved = 1;
	return 0;
}

const struct kps_sig *
kps_req_sig(struct kps_req *x)
{
	x->sig_unsaved = 0;
	return &x->sig;
}

void
kps_req_job(struct kps_req *x, struct kps_job *j, enum kps_job_kind kind)
{
	memset(j, 0, sizeof(*j));
	j->kind = kind;
	j->sig = kps_req_sig(x);
}

int
kps_req_body(struct kps_req *x)
{
	json_error_t	e;

	if (x->c->len == 0) {
		kps_error(x->r, 400, "bad_json", "the body is empty; "
		    "send a JSON object");
		return -1;
	}
	x->in = json_loadb((const char *)x->c->body, x->c->len,
	    JSON_REJECT_DUPLICATES, &e);
	if (x->in == NULL) {
		kps_error(x->r, 400, "bad_json", "malformed JSON at line %d "
		    "column %d: %s", e.line, e.column, e.text);
		return -1;
	}
	if (!json_is_object(x->in)) {
		kps_error(x->r, 400, "bad_json", "the body is not a JSON "
		    "object");
		return -1;
	}
	return 0;
}

int
kps_req_str(struct kps_req *x, const char *name, int required, const char **out)
{
	json_t	*v = json_object_get(x->in, name);

	*out = NULL;
	if (v == NULL || json_is_null(v)) {
		if (!required)
			return 0;
		kps_error(x->r, 400, "bad_request", "\"%s\" is missing", name);
		return -1;
	}
	if (!json_is_string(v)) {
		kps_error(x->r, 400, "bad_request", "\"%s\" is not a string",
		    name);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

int
kps_req_name(struct kps_req *x, const char *name, int required, int device,
    const char **out)
{
	if (kps_req_str(x, name, required, out) != 0)
		return -1;
	if (*out == NULL || (device ? kp_devicename_valid(*out) :
	    kp_username_valid(*out)))
		return 0;
	if (device)
		kps_error(x->r, 400, "bad_device", "\"%s\": a device name is "
		    "1 to %d lower-case letters, digits, '.', '_' or '-', "
		    "starting with a letter or digit", name, KP_MAX_DEVICE);
	else
		kps_error(x->r, 400, "bad_username", "\"%s\": a user name "
		    "is 1 to %d letters, digits, '.', '_', '-' or '@', "
		    "starting with a letter or digit", name, KP_MAX_USERNAME);
	return -1;
}

int
kps_req_user(struct kps_req *x, const char *name,
    char canon[KP_MAX_USERNAME + 1])
{
	struct kps_store	*rd;
	int			 rc;

	if (!kp_username_valid(name)) {
		kps_error(x->r, 404, "unknown_user", "no such user");
		return -1;
	}
	if ((rd = kps_reader()) == NULL) {
		kps_reply_dberr(x->r, KP_EDB);
		return -1;
	}
	if ((rc = kps_user_get(rd, name, canon)) == KP_ENOTFOUND) {
		kps_error(x->r, 404, "unknown_user", "no user %s", name);
		return -1;
	}
	return rc == KP_OK ? 0 : kps_reply_dberr(x->r, rc);
}

int
kps_req_pk(struct kps_req *x, uint8_t pk[32])
{
	const char	*s;
	uint8_t		 buf[64];
	size_t		 len;

	if (kps_req_str(x, "public_key", 1, &s) != 0)
		return -1;
	if (kps_unb64(s, sizeof(buf), buf, &len) != 0 || len != 32) {
		kps_error(x->r, 400, "bad_base64", "public_key is not "
		    "standard base64 of a 32-byte Ed25519 key");
		return -1;
	}
	memcpy(pk, buf, 32);
	return 0;
}

int
kps_unb64(const char *s, size_t max, uint8_t *out, size_t *len)
{
	size_t	n = strlen(s);

	if (n > sodium_base64_ENCODED_LEN(max, B64V))
		return -1;
	if (sodium_base642bin(out, max, s, n, NULL, len, NULL, B64V) != 0)
		return -1;
	return 0;
}

int
kps_req_ref(struct kps_req *x, const char *s, uint8_t ref[KP_REF_LEN])
{
	/* one spelling of a ref: lower case, as the server writes it */
	if (strlen(s) != 2 * KP_REF_LEN ||
	    strspn(s, "0123456789abcdef") != 2 * KP_REF_LEN ||
	    kp_unhex(s, ref, KP_REF_LEN) != 0) {
		kps_error(x->r, 400, "bad_ref", "a KeyPackageRef is %d "
		    "lower-case hex digits", 2 * KP_REF_LEN);
		return -1;
	}
	return 0;
}

int
kps_req_group(struct kps_req *x, uint8_t *g, size_t *glen)
{
	const char	*s;

	*glen = 0;
	if (kps_req_str(x, "group_id", 0, &s) != 0)
		return -1;
	if (s != NULL && kps_unb64(s, KP_MAX_GROUP_ID, g, glen) != 0) {
		kps_error(x->r, 400, "bad_base64", "group_id is not standard "
		    "base64 of at most %d bytes", KP_MAX_GROUP_ID);
		return -1;
	}
	return 0;
}

json_t *
kps_json_b64(const uint8_t *buf, size_t len)
{
	size_t	 n = sodium_base64_ENCODED_LEN(len, B64V);
	char	*s;
	json_t	*j;

	if ((s = malloc(n)) == NULL)
		return NULL;
	sodium_bin2base64(s, n, buf, len, B64V);
	j = json_string(s);
	free(s);
	return j;
}

json_t *
kps_json_hex(const uint8_t *buf, size_t len)
{
	char	hex[2 * 64 + 1];

	if (len > 64)
		return NULL;
	kp_hex(buf, len, hex);
	return json_string(hex);
}
