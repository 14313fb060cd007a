/* SPDX-License-Identifier: ISC */
/*
 * claim.c: the client's calls that hand out keys (reserve of one key,
 * claim of one key per device) and those on the user's devices
 * (enroll, remove, list), over client.c's signed request.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "kpool.h"
#include "client.h"

/* A request_id of 32 random hex digits into rid (33 bytes). */
static void
random_rid(char rid[33])
{
	uint8_t	rnd[16];

	randombytes_buf(rnd, sizeof(rnd));
	kp_hex(rnd, sizeof(rnd), rid);
}

/*
 * The body of a reserve (with_key: target_device and ref may be set)
 * or a claim of target as o says; NULL when out of memory.
 */
static char *
hand_out_body(const char *target, const struct kp_reserve_opts *o,
    int with_key)
{
	json_t	*req;
	char	 rid[33], refhex[2 * KP_REF_LEN + 1];
	int	 bad = 0;

	if ((req = json_pack("{s:s}", "target_username", target)) == NULL)
		return NULL;
	if (o->group_id != NULL || o->group_id_len > 0)
		bad |= json_object_set_new(req, "group_id",
		    kp_client_jb64(o->group_id, o->group_id_len));
	if (o->request_id == NULL)
		random_rid(rid);
	bad |= json_object_set_new(req, "request_id", json_string(
	    o->request_id != NULL ? o->request_id : rid));
	if (o->cipher_suite != 0)
		bad |= json_object_set_new(req, "cipher_suite",
		    json_integer(o->cipher_suite));
	if (with_key && o->target_device != NULL)
		bad |= json_object_set_new(req, "target_device",
		    json_string(o->target_device));
	if (with_key && o->ref != NULL) {
		kp_hex(o->ref, KP_REF_LEN, refhex);
		bad |= json_object_set_new(req, "keypackage_ref",
		    json_string(refhex));
	}
	if (bad) {
		json_decref(req);
		return NULL;
	}
	return kp_client_dumps(req);
}

/* One key handed out (a reserve's reply, a claim's entry) into *out. */
static int
parse_reservation(struct kp_client *c, json_t *e, struct kp_reservation *out)
{
	json_t		*v;
	const char	*s;
	uint8_t		*kp = NULL;
	size_t		 kplen;

	memset(out, 0, sizeof(*out));
	s = json_string_value(json_object_get(e, "keypackage_ref"));
	if (s == NULL || kp_unhex(s, out->ref, KP_REF_LEN) != 0)
		return kp_client_proto(c, "keypackage_ref");
	s = json_string_value(json_object_get(e, "keypackage"));
	if (s == NULL || (kp = malloc(strlen(s) + 1)) == NULL ||
	    kp_client_unb64(s, kp, strlen(s), &kplen) != 0 || kplen == 0) {
		free(kp);
		return kp_client_proto(c, "keypackage");
	}
	s = json_string_value(json_object_get(e, "reservation_id"));
	if (s == NULL || strlen(s) >= sizeof(out->reservation_id)) {
		free(kp);
		return kp_client_proto(c, "reservation_id");
	}
	snprintf(out->reservation_id, sizeof(out->reservation_id), "%s", s);
	out->expires_at = json_integer_value(json_object_get(e,
	    "expires_at"));
	out->last_resort = json_is_true(json_object_get(e, "last_resort"));
	s = json_string_value(json_object_get(e, "device"));
	if (s != NULL && kp_devicename_valid(s))
		snprintf(out->device, sizeof(out->device), "%s", s);
	v = json_object_get(e, "cipher_suite");
	if (json_is_integer(v) && json_integer_value(v) > 0 &&
	    json_integer_value(v) <= UINT16_MAX)
		out->cipher_suite = (uint16_t)json_integer_value(v);
	out->keypackage = kp;
	out->keypackage_len = kplen;
	return KP_OK;
}

int
kp_client_reserve(struct kp_client *c, const char *target,
    const struct kp_reserve_opts *o, struct kp_reservation *out)
{
	static const struct kp_reserve_opts none;
	json_t		*reply = NULL;
	char		*body = NULL;
	int		 rc;

	memset(out, 0, sizeof(*out));
	if (o == NULL)
		o = &none;
	if (target == NULL || o->group_id_len > KP_MAX_GROUP_ID ||
	    (o->target_device != NULL &&
	    !kp_devicename_valid(o->target_device)))
		return KP_EINVAL;
	if ((body = hand_out_body(target, o, 1)) == NULL)
		return KP_ENOMEM;
	if ((rc = kp_client_call(c, "POST", "/keypackages/reserve", body,
	    &reply)) == KP_OK)
		rc = parse_reservation(c, reply, out);
	json_decref(reply);
	free(body);
	return rc;
}

void
kp_reservation_free(struct kp_reservation *r)
{
	if (r == NULL)
		return;
	free(r->keypackage);
	r->keypackage = NULL;
	r->keypackage_len = 0;
}

/* The exhausted devices of a claim's reply into cl. */
static int
parse_exhausted(struct kp_client *c, json_t *arr, struct kp_claim *cl)
{
	json_t		*e;
	const char	*s;
	size_t		 i;

	if (arr == NULL)
		return KP_OK;
	if (!json_is_array(arr))
		return kp_client_proto(c, "exhausted");
	if (json_array_size(arr) == 0)
		return KP_OK;
	if ((cl->exhausted = calloc(json_array_size(arr),
	    sizeof(*cl->exhausted))) == NULL)
		return KP_ENOMEM;
	json_array_foreach(arr, i, e) {
		if ((s = json_string_value(e)) == NULL ||
		    !kp_devicename_valid(s))
			return kp_client_proto(c, "exhausted device");
		snprintf(cl->exhausted[i], sizeof(cl->exhausted[i]), "%s", s);
		cl->nexhausted++;
	}
	return KP_OK;
}

int
kp_client_claim(struct kp_client *c, const char *target,
    const struct kp_reserve_opts *o, struct kp_claim *out)
{
	static const struct kp_reserve_opts none;
	json_t		*reply = NULL, *arr, *e;
	char		*body = NULL;
	size_t		 i;
	int		 rc;

	memset(out, 0, sizeof(*out));
	if (o == NULL)
		o = &none;
	if (target == NULL || o->group_id_len > KP_MAX_GROUP_ID ||
	    o->target_device != NULL || o->ref != NULL)
		return KP_EINVAL;
	if ((body = hand_out_body(target, o, 0)) == NULL)
		return KP_ENOMEM;
	rc = kp_client_call(c, "POST", "/keypackages/claim", body, &reply);
	if (rc == KP_EEXHAUSTED) {
		/* the error's body still lists the devices */
		reply = kp_client_last_json(c);
		if (json_is_object(reply) && parse_exhausted(c,
		    json_object_get(reply, "exhausted"), out) != KP_OK)
			kp_claim_free(out);
		json_decref(reply);
		free(body);
		return rc;
	}
	if (rc != KP_OK)
		goto out;
	arr = json_object_get(reply, "keypackages");
	if (!json_is_array(arr)) {
		rc = kp_client_proto(c, "keypackages");
		goto out;
	}
	if ((out->keys = calloc(json_array_size(arr) + 1,
	    sizeof(*out->keys))) == NULL) {
		rc = KP_ENOMEM;
		goto out;
	}
	json_array_foreach(arr, i, e) {
		if ((rc = parse_reservation(c, e, &out->keys[i])) != KP_OK)
			goto out;
		out->n++;
	}
	rc = parse_exhausted(c, json_object_get(reply, "exhausted"), out);
out:
	if (rc != KP_OK)
		kp_claim_free(out);
	json_decref(reply);
	free(body);
	return rc;
}

void
kp_claim_free(struct kp_claim *cl)
{
	size_t	i;

	if (cl == NULL)
		return;
	for (i = 0; i < cl->n; i++)
		kp_reservation_free(&cl->keys[i]);
	free(cl->keys);
	free(cl->exhausted);
	memset(cl, 0, sizeof(*cl));
}

int
kp_client_enroll(struct kp_client *c, const char *device,
    const uint8_t pub[KP_SIGN_PK_LEN])
{
	char	*body;
	int	 rc;

	if (!kp_devicename_valid(device))
		return KP_EINVAL;
	if ((body = kp_client_dumps(json_pack("{s:s, s:o*}", "device",
	    device, "public_key", kp_client_jb64(pub, KP_SIGN_PK_LEN)))) ==
	    NULL)
		return KP_ENOMEM;
	rc = kp_client_request(c, "POST", "/devices", body, NULL);
	free(body);
	return rc;
}

int
kp_client_remove_device(struct kp_client *c, const char *device,
    uint32_t *retired)
{
	json_t	*reply = NULL;
	char	 path[16 + KP_MAX_DEVICE];
	int	 rc;

	if (retired != NULL)
		*retired = 0;
	if (!kp_devicename_valid(device))
		return KP_EINVAL;
	(void)snprintf(path, sizeof(path), "/devices/%s", device);
	if ((rc = kp_client_request(c, "DELETE", path, NULL, &reply)) ==
	    KP_OK && retired != NULL)
		(void)kp_client_u32(reply, "retired", retired);
	json_decref(reply);
	return rc;
}

/* One entry of GET /devices into *d. */
static int
parse_device(struct kp_client *c, json_t *e, struct kp_device *d)
{
	const char	*s;
	size_t		 len;
	json_t		*t;

	s = json_string_value(json_object_get(e, "device"));
	if (s == NULL || !kp_devicename_valid(s))
		return kp_client_proto(c, "device");
	snprintf(d->name, sizeof(d->name), "%s", s);
	s = json_string_value(json_object_get(e, "public_key"));
	if (s == NULL || kp_client_unb64(s, d->public_key,
	    sizeof(d->public_key), &len) != 0 || len != KP_SIGN_PK_LEN)
		return kp_client_proto(c, "public_key");
	t = json_object_get(e, "enrolled_at");
	d->enrolled_at = json_is_integer(t) ? json_integer_value(t) : 0;
	if (kp_client_u32(e, "available", &d->available) != 0 ||
	    kp_client_u32(e, "reserved", &d->reserved) != 0 ||
	    kp_client_u32(e, "spent", &d->spent) != 0 ||
	    kp_client_u32(e, "expired", &d->expired) != 0 ||
	    kp_client_u32(e, "last_resort", &d->last_resort) != 0)
		return kp_client_proto(c, "device counts");
	return KP_OK;
}

int
kp_client_devices(struct kp_client *c, struct kp_device **list, size_t *n)
{
	struct kp_device	*d = NULL;
	json_t			*reply = NULL, *arr, *e;
	size_t			 i;
	int			 rc;

	*list = NULL;
	*n = 0;
	if ((rc = kp_client_get_list(c, "/devices", "devices", &reply,
	    &arr)) != KP_OK)
		goto out;
	if ((d = calloc(json_array_size(arr) + 1, sizeof(*d))) == NULL) {
		rc = KP_ENOMEM;
		goto out;
	}
	json_array_foreach(arr, i, e)
		if ((rc = parse_device(c, e, &d[i])) != KP_OK)
			goto out;
	*list = d;
	*n = json_array_size(arr);
	d = NULL;
out:
	free(d);
	json_decref(reply);
	return rc;
}
