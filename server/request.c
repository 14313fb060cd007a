/* SPDX-License-Identifier: ISC */
/*
 * request.c: a request of the API as its endpoints see it: its
 * signature, its JSON body and members, and the JSON reply; see
 * request.h.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "request.h"

#define B64V	sodium_base64_VARIANT_ORIGINAL

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

int
kps_reply_dberr(struct kps_reply *r, int rc)
{
	if (rc == KP_EAUTH)
		kps_error(r, 401, "unauthorized", "replayed signature: this "
		    "nonce was already used");
	else if (rc == KP_ENOMEM)
		kps_error(r, 500, "internal", "out of memory");
	else {
		kps_error(r, 503, "unavailable", "database error; try again");
		r->retry_after = 1;
	}
	return -1;
}

void
kps_req_sign(struct kps_req *x, struct kps_job *j)
{
	if (!x->sig_pending)
		return;
	j->sig = x->sig;
	j->has_sig = 1;
	x->sig_pending = 0;
}

int
kps_req_auth(struct kps_req *x, const uint8_t *pk, const char *expect)
{
	struct kps_authreq	 a;
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
	if ((rc = kps_auth(&a, x->user, x->pk, &x->sig, &why)) == KP_OK) {
		x->sig_pending = 1;
		return 0;
	}
	if (rc != KP_EAUTH)
		return kps_reply_dberr(x->r, rc);
	kps_error(x->r, 401, "unauthorized", "%s", why ? why : "refused");
	return -1;
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
	if (strlen(s) != 2 * KP_REF_LEN || kp_unhex(s, ref, KP_REF_LEN) != 0) {
		kps_error(x->r, 400, "bad_ref", "keypackage_ref must be %d "
		    "hex digits", 2 * KP_REF_LEN);
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
