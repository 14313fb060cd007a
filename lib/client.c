/* SPDX-License-Identifier: ISC */
/*
 * client.c: the HTTP client of kpool-server (libcurl, jansson): the
 * connection, the signed request, the one map of replies to KP_E*
 * codes, and the calls on one's own keys (claim.c has those that hand
 * out keys and the devices' calls).  Every request is signed with the
 * device's Ed25519 key, keyid its principal (httpsig.c); the server's
 * "message" is kept for kp_client_errmsg().
 */

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "kpool.h"
#include "client.h"
#include "retry.h"
#include "httpsig.h"

#define B64V		sodium_base64_VARIANT_ORIGINAL
#define MAX_REPLY	(64UL << 20)	/* cap on a reply body */

struct kp_client {
	CURL	*curl;
	char	*url;			/* base, no trailing slash */
	char	 principal[KP_MAX_PRINCIPAL + 1];	/* the keyid */
	char	 user[KP_MAX_USERNAME + 1];
	char	 device[KP_MAX_DEVICE + 1];
	uint8_t	 sk[crypto_sign_SECRETKEYBYTES];
	uint8_t	 pk[crypto_sign_PUBLICKEYBYTES];
	char	*cafile;		/* CAs to verify https:// with, or
					   NULL: the system's */
	long	 connect_ms, total_ms;
	int	 attempts, deadline_ms;	/* retry.c's bounds */
	long	 status;
	char	 code[32];		/* server error code of the last call */
	char	 errmsg[256];
	char	*reply;
	size_t	 replylen, replycap;
	int	 toobig;
};

static pthread_once_t	curl_once = PTHREAD_ONCE_INIT;
static int		curl_ok;

static void
curl_init_once(void)
{
	curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

static void
seterr(struct kp_client *c, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
	va_end(ap);
}

int
kp_client_new(const char *url, const char *principal,
    const uint8_t seed[KP_SIGN_SEED_LEN], struct kp_client **out)
{
	struct kp_client	*c = NULL;
	char			 user[KP_MAX_USERNAME + 1];
	char			 device[KP_MAX_DEVICE + 1];
	size_t			 n;
	int			 rc;

	*out = NULL;
	if (url == NULL || kp_principal_parse(principal, user, device) !=
	    KP_OK || (strncmp(url, "http://", 7) != 0 &&
	    strncmp(url, "https://", 8) != 0))
		return KP_EINVAL;
	if (sodium_init() < 0)
		return KP_ECRYPTO;
	pthread_once(&curl_once, curl_init_once);
	if (!curl_ok)
		return KP_ENOMEM;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return KP_ENOMEM;
	if ((c->url = strdup(url)) == NULL) {
		rc = KP_ENOMEM;
		goto out;
	}
	n = strlen(c->url);
	while (n > 0 && c->url[n - 1] == '/')
		c->url[--n] = '\0';
	snprintf(c->user, sizeof(c->user), "%s", user);
	snprintf(c->device, sizeof(c->device), "%s", device);
	if (kp_principal(user, device, c->principal,
	    sizeof(c->principal)) != KP_OK) {
		rc = KP_EINVAL;
		goto out;
	}
	crypto_sign_seed_keypair(c->pk, c->sk, seed);
	c->connect_ms = 5000;
	c->total_ms = 30000;
	c->attempts = KP_RETRY_ATTEMPTS;
	c->deadline_ms = KP_RETRY_DEADLINE_MS;
	if ((c->curl = curl_easy_init()) == NULL) {
		rc = KP_ENOMEM;
		goto out;
	}
	*out = c;
	c = NULL;
	rc = KP_OK;
out:
	kp_client_free(c);
	return rc;
}

void
kp_client_free(struct kp_client *c)
{
	if (c == NULL)
		return;
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	sodium_memzero(c->sk, sizeof(c->sk));
	free(c->cafile);
	free(c->url);
	free(c->reply);
	free(c);
}

const char *
kp_client_errmsg(const struct kp_client *c)
{
	return c->errmsg;
}

/* kp_client_set_cafile: see client.h. */
int
kp_client_set_cafile(struct kp_client *c, const char *path)
{
	char	*p = NULL;

	if (path != NULL && *path != '\0' && (p = strdup(path)) == NULL)
		return KP_ENOMEM;
	free(c->cafile);
	c->cafile = p;
	return KP_OK;
}

void
kp_client_set_timeouts(struct kp_client *c, long connect_ms, long total_ms)
{
	c->connect_ms = connect_ms;
	c->total_ms = total_ms;
}

void
kp_client_set_retry(struct kp_client *c, int attempts, int deadline_ms)
{
	c->attempts = attempts < 1 ? 1 : attempts;
	c->deadline_ms = deadline_ms < 0 ? 0 : deadline_ms;
}

long
kp_client_last_status(const struct kp_client *c)
{
	return c->status;
}

const char *
kp_client_error_code(const struct kp_client *c)
{
	return c->code;
}

/* kp_client_last_json: the last reply's body as JSON, NULL if none. */
json_t *
kp_client_last_json(const struct kp_client *c)
{
	json_error_t	jerr;

	if (c->reply == NULL || c->replylen == 0)
		return NULL;
	return json_loadb(c->reply, c->replylen, 0, &jerr);
}

/* kp_client_user: the user part of the client's principal. */
const char *
kp_client_user(const struct kp_client *c)
{
	return c->user;
}

static size_t
on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct kp_client	*c = arg;
	size_t			 n = size * nmemb, cap;
	char			*p;

	if (c->replylen + n + 1 > MAX_REPLY) {
		c->toobig = 1;
		return 0;
	}
	if (c->replylen + n + 1 > c->replycap) {
		cap = c->replycap ? c->replycap : 4096;
		while (cap < c->replylen + n + 1)
			cap *= 2;
		if ((p = realloc(c->reply, cap)) == NULL)
			return 0;
		c->reply = p;
		c->replycap = cap;
	}
	memcpy(c->reply + c->replylen, ptr, n);
	c->replylen += n;
	c->reply[c->replylen] = '\0';
	return n;
}

/*
 * The one map from a reply (its HTTP status and the server's error
 * code) to a KP_E* code, for every call.
 */
static int
status_code(long status, const char *code)
{
	if (status >= 200 && status < 300)
		return KP_OK;
	switch (status) {
	case 400:
		return KP_EREJECTED;
	case 401:
		return KP_EAUTH;
	case 403:
		return strcmp(code, "enrollment_required") == 0 ?
		    KP_ENOTENROLLED : KP_EFORBIDDEN;
	case 404:
		return KP_ENOTFOUND;
	case 409:
		if (strcmp(code, "group_mismatch") == 0)
			return KP_EGROUP;
		return strcmp(code, "pool_exhausted") == 0 ?
		    KP_EEXHAUSTED : KP_ECONFLICT;
	case 410:
		return KP_EGONE;
	case 413:
		return KP_ETOOBIG;
	case 429:
		return KP_ERATE;
	}
	if (status >= 500)
		return KP_ESERVER;
	return KP_EPROTO;
}

/*
 * tls_refused: cc says the server's certificate (or the CA file) did
 * not do: a failure of trust, not of the network, so not retried.
 */
static int
tls_refused(CURLcode cc)
{
	return cc == CURLE_PEER_FAILED_VERIFICATION ||
	    cc == CURLE_SSL_CACERT_BADFILE || cc == CURLE_SSL_CERTPROBLEM ||
	    cc == CURLE_SSL_ISSUER_ERROR;
}

/*
 * kp_client_request: send one signed request; body (JSON text) may be
 * NULL.  On a 2xx reply with a JSON body *reply (when not NULL) holds
 * it; the caller json_decref()s it.
 */
int
kp_client_request(struct kp_client *c, const char *method, const char *path,
    const char *body, json_t **reply)
{
	struct curl_slist	*h = NULL, *t;
	struct kp_httpsig	 sig;
	json_t			*j = NULL;
	json_error_t		 jerr;
	char			 line[512], *url = NULL;
	char			 cerr[CURL_ERROR_SIZE];
	size_t			 blen = body ? strlen(body) : 0, ulen;
	CURLcode		 cc;
	int			 rc;

	if (reply != NULL)
		*reply = NULL;
	c->status = 0;
	c->code[0] = '\0';
	c->errmsg[0] = '\0';
	c->replylen = 0;
	c->toobig = 0;
	if (c->reply != NULL)
		c->reply[0] = '\0';
	ulen = strlen(c->url) + strlen(path) + 1;
	if ((url = malloc(ulen)) == NULL)
		return KP_ENOMEM;
	snprintf(url, ulen, "%s%s", c->url, path);
	if ((rc = kp_httpsig_sign(method, path, "", body, blen, c->principal,
	    c->sk, (int64_t)time(NULL), &sig)) != KP_OK) {
		seterr(c, "cannot sign the request");
		goto out;
	}
	rc = KP_ENOMEM;
#define ADD(...) do {							\
	snprintf(line, sizeof(line), __VA_ARGS__);			\
	if ((t = curl_slist_append(h, line)) == NULL)			\
		goto out;						\
	h = t;								\
} while (0)
	ADD("Content-Digest: %s", sig.digest);
	ADD("Signature-Input: %s", sig.input);
	ADD("Signature: %s", sig.signature);
	ADD("Expect:");
	if (body != NULL)
		ADD("Content-Type: application/json");
#undef ADD
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, c->connect_ms);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, c->total_ms);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
	/* https://: TLS 1.2 or later, the peer and its name verified (the
	 * defaults), against the CA file when one is set */
	curl_easy_setopt(c->curl, CURLOPT_SSLVERSION,
	    (long)CURL_SSLVERSION_TLSv1_2);
	if (c->cafile != NULL)
		curl_easy_setopt(c->curl, CURLOPT_CAINFO, c->cafile);
	cerr[0] = '\0';
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, cerr);
	if (body != NULL) {
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)blen);
	} else if (strcmp(method, "GET") == 0)
		curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
	if ((cc = curl_easy_perform(c->curl)) != CURLE_OK) {
		if (c->toobig) {
			seterr(c, "reply larger than %lu bytes", MAX_REPLY);
			rc = KP_EPROTO;
		} else if (tls_refused(cc)) {
			seterr(c, "the server's certificate does not verify "
			    "against %s: %s", c->cafile != NULL ? c->cafile :
			    "the system's CAs", cerr[0] != '\0' ? cerr :
			    curl_easy_strerror(cc));
			rc = KP_ETLS;
		} else {
			seterr(c, "%s", curl_easy_strerror(cc));
			rc = KP_ENET;
		}
		goto out;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &c->status);
	if (c->replylen > 0)
		j = json_loadb(c->reply, c->replylen, 0, &jerr);
	if (c->status < 200 || c->status >= 300) {
		const char *code = NULL, *msg = NULL;

		if (j != NULL && json_is_object(j)) {
			code = json_string_value(json_object_get(j, "error"));
			msg = json_string_value(json_object_get(j, "message"));
		}
		snprintf(c->code, sizeof(c->code), "%s", code ? code : "");
		if (msg != NULL)
			seterr(c, "%s", msg);
		else
			seterr(c, "HTTP %ld", c->status);
		rc = status_code(c->status, c->code);
		goto out;
	}
	if (reply != NULL) {
		if (j == NULL || !json_is_object(j)) {
			seterr(c, "reply is not a JSON object");
			rc = KP_EPROTO;
			goto out;
		}
		*reply = j;
		j = NULL;
	}
	rc = KP_OK;
out:
	/* cerr goes with this frame */
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, NULL);
	json_decref(j);
	curl_slist_free_all(h);
	free(url);
	return rc;
}

/*
 * kp_client_get_list: GET path, whose reply's member name is an array:
 * *reply (the caller json_decref()s it) and *arr, borrowed from it.
 */
int
kp_client_get_list(struct kp_client *c, const char *path, const char *name,
    json_t **reply, json_t **arr)
{
	int	rc;

	*arr = NULL;
	if ((rc = kp_client_call(c, "GET", path, NULL, reply)) != KP_OK)
		return rc;
	*arr = json_object_get(*reply, name);
	if (!json_is_array(*arr))
		return kp_client_proto(c, name);
	return KP_OK;
}

/* kp_client_dumps: serialize j (stolen) compactly; NULL on failure. */
char *
kp_client_dumps(json_t *j)
{
	char	*s;

	if (j == NULL)
		return NULL;
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return s;
}

static char *
b64(const uint8_t *buf, size_t len)
{
	size_t	 n = sodium_base64_ENCODED_LEN(len, B64V);
	char	*s;

	if ((s = malloc(n)) == NULL)
		return NULL;
	sodium_bin2base64(s, n, buf, len, B64V);
	return s;
}

/* kp_client_jb64: a JSON string of buf in base64; NULL on failure. */
json_t *
kp_client_jb64(const uint8_t *buf, size_t len)
{
	char	*s;
	json_t	*j;

	if ((s = b64(buf, len)) == NULL)
		return NULL;
	j = json_string(s);
	free(s);
	return j;
}

/* kp_client_unb64: decode base64 s into out (cap); -1 on bad input. */
int
kp_client_unb64(const char *s, uint8_t *out, size_t cap, size_t *len)
{
	if (s == NULL)
		return -1;
	return sodium_base642bin(out, cap, s, strlen(s), NULL, len, NULL,
	    B64V) == 0 ? 0 : -1;
}

/* kp_client_proto: KP_EPROTO, "bad reply: what" as the message. */
int
kp_client_proto(struct kp_client *c, const char *what)
{
	seterr(c, "bad reply: %s", what);
	return KP_EPROTO;
}

int
kp_client_register(struct kp_client *c)
{
	return kp_client_register_invited(c, NULL);
}

int
kp_client_register_invited(struct kp_client *c, const char *invite)
{
	json_t	*o;
	char	*body;
	int	 rc;

	if ((o = json_pack("{s:s, s:o*}", "username", c->user, "public_key",
	    kp_client_jb64(c->pk, sizeof(c->pk)))) == NULL)
		return KP_ENOMEM;
	/* the device "default" is named by no member: as old clients do */
	if ((strcmp(c->device, KP_DEFAULT_DEVICE) != 0 &&
	    json_object_set_new(o, "device", json_string(c->device)) != 0) ||
	    (invite != NULL &&
	    json_object_set_new(o, "invite", json_string(invite)) != 0)) {
		json_decref(o);
		return KP_ENOMEM;
	}
	if ((body = kp_client_dumps(o)) == NULL)
		return KP_ENOMEM;
	rc = kp_client_request(c, "POST", "/users", body, NULL);
	sodium_memzero(body, strlen(body));
	free(body);
	return rc;
}

/* upload_code: the KP_E* code of an upload rejection code. */
static int
upload_code(const char *code)
{
	static const struct {
		const char	*code;
		int		 err;
	} tab[] = {
		{ "bad_base64", KP_EINVAL },
		{ "bad_keypackage", KP_EMALFORMED },
		{ "invalid_keypackage", KP_EREJECTED },
		{ "expired", KP_EEXPIRED },
		{ "not_yet_valid", KP_ENOTYET },
		{ "wrong_identity", KP_ECRED },
		{ "wrong_signature_key", KP_EFORBIDDEN },
		{ "lifetime_too_long", KP_ELIFETIME },
		{ "spent", KP_ECONFLICT },
		{ "init_key_reused", KP_ECONFLICT },
		{ "too_big", KP_ETOOBIG },
		{ "internal", KP_ESERVER },	/* transient: upload it again */
	};
	size_t	i;

	for (i = 0; code != NULL && i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strcmp(tab[i].code, code) == 0)
			return tab[i].err;
	return KP_EREJECTED;
}

int
kp_client_upload(struct kp_client *c, const uint8_t *const *kps,
    const size_t *lens, size_t n, struct kp_upload_result *res)
{
	json_t	*arr = NULL, *reply = NULL, *e;
	char	*body = NULL;
	size_t	 i, idx;
	int	 rc;

	if (n > KP_MAX_BATCH)
		return KP_ETOOBIG;
	for (i = 0; i < n; i++) {
		memset(&res[i], 0, sizeof(res[i]));
		res[i].error = KP_EPROTO;
		snprintf(res[i].message, sizeof(res[i].message),
		    "not in the server's reply");
	}
	rc = KP_ENOMEM;
	if ((arr = json_array()) == NULL)
		goto out;
	for (i = 0; i < n; i++)
		if (json_array_append_new(arr, kp_client_jb64(kps[i],
		    lens[i])) != 0)
			goto out;
	body = kp_client_dumps(json_pack("{s:o}", "keypackages", arr));
	arr = NULL;
	if (body == NULL)
		goto out;
	if ((rc = kp_client_call(c, "POST", "/keypackages/upload", body,
	    &reply)) != KP_OK)
		goto out;
	json_array_foreach(json_object_get(reply, "accepted"), i, e) {
		const char *ref = json_string_value(json_object_get(e,
		    "keypackage_ref"));

		idx = (size_t)json_integer_value(json_object_get(e, "index"));
		if (!json_is_integer(json_object_get(e, "index")) || idx >= n ||
		    ref == NULL || kp_unhex(ref, res[idx].ref, KP_REF_LEN) != 0) {
			rc = kp_client_proto(c, "accepted entry");
			goto out;
		}
		res[idx].accepted = 1;
		res[idx].error = KP_OK;
		res[idx].message[0] = '\0';
	}
	json_array_foreach(json_object_get(reply, "rejected"), i, e) {
		const char *code = json_string_value(json_object_get(e,
		    "error"));
		const char *msg = json_string_value(json_object_get(e,
		    "message"));

		idx = (size_t)json_integer_value(json_object_get(e, "index"));
		if (!json_is_integer(json_object_get(e, "index")) ||
		    idx >= n) {
			rc = kp_client_proto(c, "rejected entry");
			goto out;
		}
		res[idx].accepted = 0;
		res[idx].error = upload_code(code);
		snprintf(res[idx].code, sizeof(res[idx].code), "%s",
		    code ? code : "");
		snprintf(res[idx].message, sizeof(res[idx].message), "%s",
		    msg ? msg : "");
	}
	rc = KP_OK;
out:
	json_decref(arr);
	json_decref(reply);
	free(body);
	return rc;
}

/* replayed: whether the last reply was the server's 401 for a replayed
 * signature. */
static int
replayed(const struct kp_client *c)
{
	return c->status == 401 && strncmp(c->errmsg, "replayed signature",
	    18) == 0;
}

/*
 * transient: 1 when rc, the last request's result, says nothing of
 * whether the server carried it out (no reply, a 502, 503 or 504, the
 * 401 of a replayed signature), with *after_ms the wait a Retry-After
 * asked for (0: none); else 0.
 */
static int
transient(const struct kp_client *c, int rc, int64_t *after_ms)
{
	curl_off_t	ra = 0;

	*after_ms = 0;
	if (rc == KP_ENET || (rc == KP_EAUTH && replayed(c)))
		return 1;
	if (c->status != 502 && c->status != 503 && c->status != 504)
		return 0;
	if (curl_easy_getinfo(c->curl, CURLINFO_RETRY_AFTER, &ra) ==
	    CURLE_OK && ra > 0)
		*after_ms = ra > 3600 ? 3600000 : (int64_t)ra * 1000;
	return 1;
}

int
kp_client_call(struct kp_client *c, const char *method, const char *path,
    const char *body, json_t **reply)
{
	int64_t	start = kp_retry_now(), wait, after;
	int	rc, n;

	for (n = 0;; n++) {
		rc = kp_client_request(c, method, path, body, reply);
		if (!transient(c, rc, &after) || (wait = kp_retry_wait(n,
		    c->attempts, after, kp_retry_now() - start,
		    c->deadline_ms)) < 0)
			return rc;
		if (reply != NULL) {
			json_decref(*reply);
			*reply = NULL;
		}
		kp_retry_sleep(wait);
	}
}

static int
ref_call(struct kp_client *c, const char *path, const uint8_t ref[KP_REF_LEN],
    const uint8_t *group_id, size_t group_id_len, int with_group)
{
	char	 hex[2 * KP_REF_LEN + 1], *body;
	int	 rc;

	if (group_id_len > KP_MAX_GROUP_ID)
		return KP_EINVAL;
	kp_hex(ref, KP_REF_LEN, hex);
	if (with_group)
		body = kp_client_dumps(json_pack("{s:s, s:o*}",
		    "keypackage_ref", hex, "group_id",
		    kp_client_jb64(group_id, group_id_len)));
	else
		body = kp_client_dumps(json_pack("{s:s}", "keypackage_ref",
		    hex));
	if (body == NULL)
		return KP_ENOMEM;
	/*
	 * The reply may have been lost after the server acted: nothing
	 * came back, or libcurl sent the same bytes again on a new
	 * connection and the server refused that copy as a replay.  The
	 * server answers a spend or release repeated by its caller as it
	 * answered the first, so retry.c asks again, signed afresh
	 * (docs/reliability.md).
	 */
	rc = kp_client_call(c, "POST", path, body, NULL);
	free(body);
	return rc;
}

int
kp_client_spend(struct kp_client *c, const uint8_t ref[KP_REF_LEN],
    const uint8_t *group_id, size_t group_id_len)
{
	return ref_call(c, "/keypackages/spend", ref, group_id, group_id_len,
	    1);
}

int
kp_client_release(struct kp_client *c, const uint8_t ref[KP_REF_LEN])
{
	return ref_call(c, "/keypackages/release", ref, NULL, 0, 0);
}

int
kp_client_retire(struct kp_client *c, const uint8_t ref[KP_REF_LEN])
{
	char	hex[2 * KP_REF_LEN + 1], path[32 + 2 * KP_REF_LEN];

	kp_hex(ref, KP_REF_LEN, hex);
	snprintf(path, sizeof(path), "/keypackages/%s", hex);
	return kp_client_request(c, "DELETE", path, NULL, NULL);
}

/* kp_client_u32: member name of o as a uint32; -1 when not one. */
int
kp_client_u32(json_t *o, const char *name, uint32_t *out)
{
	json_t	*v = json_object_get(o, name);

	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > UINT32_MAX)
		return -1;
	*out = (uint32_t)json_integer_value(v);
	return 0;
}

int
kp_client_status(struct kp_client *c, const char *user,
    struct kp_remote_status *out)
{
	json_t	*reply = NULL, *hk;
	char	 path[64 + KP_MAX_USERNAME];
	int	 rc;

	memset(out, 0, sizeof(*out));
	if (!kp_username_valid(user))
		return KP_EINVAL;
	snprintf(path, sizeof(path), "/keypackages/status/%s", user);
	if ((rc = kp_client_call(c, "GET", path, NULL, &reply)) != KP_OK)
		goto out;
	/* another user's: whether a reserve would get a key, no more */
	if (json_is_boolean(hk = json_object_get(reply, "has_keys")) &&
	    json_object_get(reply, "available") == NULL) {
		out->has_keys = json_is_true(hk);
		rc = KP_OK;
		goto out;
	}
	if (kp_client_u32(reply, "available", &out->available) != 0 ||
	    kp_client_u32(reply, "reserved", &out->reserved) != 0 ||
	    kp_client_u32(reply, "spent", &out->spent) != 0 ||
	    kp_client_u32(reply, "expired", &out->expired) != 0 ||
	    kp_client_u32(reply, "last_resort", &out->last_resort) != 0) {
		rc = kp_client_proto(c, "status counts");
		goto out;
	}
	out->counts = 1;
	out->has_keys = out->available > 0;
	rc = KP_OK;
out:
	json_decref(reply);
	return rc;
}

static int64_t
i64field(json_t *o, const char *name)
{
	json_t	*v = json_object_get(o, name);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static void
strfield(json_t *o, const char *name, char *out, size_t cap)
{
	const char	*s = json_string_value(json_object_get(o, name));

	snprintf(out, cap, "%s", s ? s : "");
}

/* One key of /keypackages/mine (e) into k; -1 (a proto error) or 0. */
static int
remote_key(struct kp_client *c, json_t *e, struct kp_remote_key *k)
{
	const char	*s;

	s = json_string_value(json_object_get(e, "keypackage_ref"));
	if (s == NULL || kp_unhex(s, k->ref, KP_REF_LEN) != 0)
		return kp_client_proto(c, "keypackage_ref");
	k->state = kp_state_from_name(json_string_value(json_object_get(e,
	    "status")));
	if (k->state < 0)
		return kp_client_proto(c, "status");
	k->last_resort = json_is_true(json_object_get(e, "last_resort"));
	k->uploaded_at = i64field(e, "uploaded_at");
	k->not_after = i64field(e, "not_after");
	k->reserved_at = i64field(e, "reserved_at");
	k->reservation_expires_at = i64field(e, "reservation_expires_at");
	k->spent_at = i64field(e, "spent_at");
	strfield(e, "reserved_by", k->reserved_by, sizeof(k->reserved_by));
	strfield(e, "spent_by", k->spent_by, sizeof(k->spent_by));
	s = json_string_value(json_object_get(e, "group_id"));
	if (s != NULL && kp_client_unb64(s, k->group_id, sizeof(k->group_id),
	    &k->group_id_len) != 0)
		return kp_client_proto(c, "group_id");
	return KP_OK;
}

int
kp_client_mine(struct kp_client *c, struct kp_remote_key **keys, size_t *n)
{
	struct kp_remote_key	*k = NULL;
	json_t			*reply = NULL, *arr, *e;
	size_t			 i, cnt;
	int			 rc;

	*keys = NULL;
	*n = 0;
	if ((rc = kp_client_get_list(c, "/keypackages/mine", "keypackages",
	    &reply, &arr)) != KP_OK)
		goto out;
	cnt = json_array_size(arr);
	if ((k = calloc(cnt ? cnt : 1, sizeof(*k))) == NULL) {
		rc = KP_ENOMEM;
		goto out;
	}
	json_array_foreach(arr, i, e) {
		if ((rc = remote_key(c, e, &k[i])) != KP_OK)
			goto out;
	}
	*keys = k;
	*n = cnt;
	k = NULL;
	rc = KP_OK;
out:
	free(k);
	json_decref(reply);
	return rc;
}

int
kp_client_mine_one(struct kp_client *c, const uint8_t ref[KP_REF_LEN],
    struct kp_remote_key *out)
{
	json_t	*reply = NULL;
	char	 hex[2 * KP_REF_LEN + 1], path[32 + 2 * KP_REF_LEN];
	int	 rc;

	memset(out, 0, sizeof(*out));
	kp_hex(ref, KP_REF_LEN, hex);
	(void)snprintf(path, sizeof(path), "/keypackages/mine/%s", hex);
	if ((rc = kp_client_call(c, "GET", path, NULL, &reply)) == KP_OK &&
	    (rc = remote_key(c, reply, out)) == KP_OK &&
	    memcmp(out->ref, ref, KP_REF_LEN) != 0)
		rc = kp_client_proto(c, "keypackage_ref");
	json_decref(reply);
	return rc;
}
