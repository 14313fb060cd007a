/* SPDX-License-Identifier: ISC */
/*
 * request.h: a request of the API as its endpoints see it (routes.c,
 * upload.c): the call, the reply being made, the caller once
 * authenticated, the JSON body once parsed.  The kps_req_ functions
 * that check something return 0, or -1 with the error reply (400, 401,
 * 500 or 503) made in x->r.
 */
#ifndef KPS_REQUEST_H
#define KPS_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kps.h"

struct kps_route;	/* an entry of the route table (routes.c) */

struct kps_req {
	struct kps_call		*c;
	struct kps_reply	*r;
	const struct kps_route	*route;		/* the request's entry */
	char			 user[KP_MAX_USERNAME + 1]; /* the caller's
						   user, as registered */
	char			 device[KP_MAX_DEVICE + 1]; /* its device */
	char			 principal[KP_MAX_PRINCIPAL + 1]; /* both */
	uint8_t			 pk[32];	/* the caller device's key */
	json_t			*in;		/* the body, or NULL */
	struct kps_sig		 sig;		/* the signature, once
						   authenticated */
	int			 sig_unsaved;	/* sig is for kps_handle()
						   to remember */
};

/* kps_reply_json: fill r with status and j (taken) as its body, or a
 * 500 when j is NULL or does not encode. */
void	kps_reply_json(struct kps_reply *r, int status, json_t *j);
/* kps_reply_dberr: fill r with the error of store result rc (401 for
 * a replay the database refused, 500 out of memory, else 503 with a
 * Retry-After: KP_EBUSY, the server is stopping); returns -1. */
int	kps_reply_dberr(struct kps_reply *r, int rc);

/*
 * kps_req_auth: check the signature with pk (NULL: the key registered
 * for the device its keyid names; the keyid must be the principal
 * expect when not NULL); fills x->user, x->device, x->principal, x->pk
 * and x->sig.  A GET, which no write will follow, is refused when
 * the database remembers its signature (a replay across a restart).
 * The signature is then remembered by the write the endpoint makes
 * (kps_req_sig()), or by kps_handle() when it makes none.
 */
int	kps_req_auth(struct kps_req *x, const uint8_t *pk, const char *expect);
/* kps_req_sig: the signature for the write the request makes, which
 * remembers it in its transaction (kps_job.sig). */
const struct kps_sig *kps_req_sig(struct kps_req *x);
/* kps_req_job: clear j into a write of kind that remembers the request's
 * signature (kps_req_sig()), for kps_writer_run(). */
void	kps_req_job(struct kps_req *x, struct kps_job *j,
	    enum kps_job_kind kind);
/* kps_req_body: the body as a JSON object in x->in. */
int	kps_req_body(struct kps_req *x);
/* kps_req_str: the string member name of the body in *out, NULL when
 * absent and not required. */
int	kps_req_str(struct kps_req *x, const char *name, int required,
	    const char **out);
/* kps_req_ref: the KeyPackageRef s (lower-case hex only) into ref. */
int	kps_req_ref(struct kps_req *x, const char *s, uint8_t ref[KP_REF_LEN]);
/* kps_req_group: the body's "group_id" (base64, may be absent: empty)
 * into g, its length in *glen. */
int	kps_req_group(struct kps_req *x, uint8_t *g, size_t *glen);

/* kps_unb64: decode standard base64 s of at most max bytes into out;
 * 0, or -1 on bad base64 or size. */
int	kps_unb64(const char *s, size_t max, uint8_t *out, size_t *len);
/* kps_json_b64: a new JSON string of buf in standard base64, or NULL. */
json_t	*kps_json_b64(const uint8_t *buf, size_t len);
/* kps_json_hex: a new JSON string of buf (at most 64 bytes) in hex, or
 * NULL. */
json_t	*kps_json_hex(const uint8_t *buf, size_t len);

/* kps_req_name: the string member name of the body, required or not,
 * that must be a valid user name (bad_username) or, when device, a
 * valid device name (bad_device); *out NULL when absent. */
int	kps_req_name(struct kps_req *x, const char *name, int required,
	    int device, const char **out);
/* kps_req_user: the user name (any case) as registered into canon,
 * read through this thread's reader (404 unknown_user when none). */
int	kps_req_user(struct kps_req *x, const char *name,
	    char canon[KP_MAX_USERNAME + 1]);
/* kps_req_pk: the body's "public_key", standard base64 of 32 bytes
 * (bad_base64), into pk. */
int	kps_req_pk(struct kps_req *x, uint8_t pk[32]);

/* upload.c: POST /keypackages/upload. */
void	kps_upload(struct kps_req *x, const char *arg);

/* devices.c: POST /users, and POST, GET and DELETE /devices. */
void	kps_users(struct kps_req *x, const char *arg);
void	kps_device_enroll(struct kps_req *x, const char *arg);
void	kps_device_remove_route(struct kps_req *x, const char *device);
void	kps_devices(struct kps_req *x, const char *arg);
/* contacts.c: POST, DELETE and GET /contacts. */
void	kps_contact_add_route(struct kps_req *x, const char *arg);
void	kps_contact_remove_route(struct kps_req *x, const char *name);
void	kps_contacts(struct kps_req *x, const char *arg);
/* kps_json_counts: the counts c as a JSON object (available, reserved,
 * spent, expired, last_resort), or NULL. */
json_t	*kps_json_counts(const struct kps_counts *c);
/* kps_json_suites: {"0x0001": {counts}, ...} of the suites (by
 * kps_suite_index()) in c that have keys, or NULL. */
json_t	*kps_json_suites(const struct kps_counts c[KPS_NSUITES]);

#endif /* KPS_REQUEST_H */
