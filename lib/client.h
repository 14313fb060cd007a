/* SPDX-License-Identifier: ISC */
/*
 * client.h: what lib/client.c (the connection and the signed request)
 * gives lib/claim.c (reserve, claim and the devices' calls), internal
 * to libkpool.
 */
#ifndef KP_CLIENT_H
#define KP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kpool.h"

/*
 * kp_client_request: send one signed request; body (JSON text) may be
 * NULL.  On a 2xx reply with a JSON body *reply (when not NULL) holds
 * it; the caller json_decref()s it.  Any other reply is its KP_E* code
 * (the one map, client.c) with the server's message kept.
 */
int	kp_client_request(struct kp_client *c, const char *method,
	    const char *path, const char *body, json_t **reply) KP_WUR;
/*
 * kp_client_call: kp_client_request for a request whose repeat the
 * server answers as the first; asked again, signed afresh, after an
 * answer that says nothing of its fate (no reply, a 502, 503 or 504, a
 * replayed signature's 401), with retry.c's backoff, within the
 * client's attempts and deadline (kp_client_set_retry).  What the last
 * attempt got.
 */
int	kp_client_call(struct kp_client *c, const char *method,
	    const char *path, const char *body, json_t **reply) KP_WUR;
/*
 * kp_client_get_list: GET path, whose reply's member name is an array:
 * *reply (the caller json_decref()s it, also on failure) and *arr,
 * borrowed from it; KP_EPROTO when it is not an array.
 */
int	kp_client_get_list(struct kp_client *c, const char *path,
	    const char *name, json_t **reply, json_t **arr) KP_WUR;
/* kp_client_dumps: serialize j (stolen) compactly; NULL on failure. */
char	*kp_client_dumps(json_t *j);
/* kp_client_jb64: a JSON string of buf in base64; NULL on failure. */
json_t	*kp_client_jb64(const uint8_t *buf, size_t len);
/* kp_client_unb64: decode base64 s into out (cap); -1 on bad input. */
int	kp_client_unb64(const char *s, uint8_t *out, size_t cap,
	    size_t *len);
/* kp_client_proto: KP_EPROTO, with "bad reply: what" as the message. */
int	kp_client_proto(struct kp_client *c, const char *what);
/* kp_client_u32: member name of o as a uint32 into *out; -1 when not. */
int	kp_client_u32(json_t *o, const char *name, uint32_t *out);
/*
 * kp_client_last_json: the body of the last reply (an error's too) as
 * JSON, NULL when there was none or it is not JSON; json_decref() it.
 */
json_t	*kp_client_last_json(const struct kp_client *c);
/* kp_client_set_cafile: verify an https:// server against the CAs of
 * the PEM file path (NULL or "": the system's); KP_OK or KP_ENOMEM. */
int	kp_client_set_cafile(struct kp_client *c, const char *path) KP_WUR;
/* kp_client_user: the user part of the client's principal. */
const char *kp_client_user(const struct kp_client *c);

#endif /* KP_CLIENT_H */
