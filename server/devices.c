/* SPDX-License-Identifier: ISC */
/*
 * devices.c: the endpoints of users and their devices (docs/api.md):
 * POST /users registers a user with its first device, POST /devices
 * enrolls another device of the caller's user, DELETE /devices/{device}
 * removes one (retiring its keys), GET /devices lists them with their
 * counts.  A device is named by its principal (USER, or USER/DEVICE);
 * the route table is routes.c's.
 */

#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "request.h"

json_t *
kps_json_counts(const struct kps_counts *c)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I}",
	    "available", (json_int_t)c->n[KP_STATE_AVAILABLE],
	    "reserved", (json_int_t)c->n[KP_STATE_RESERVED],
	    "spent", (json_int_t)c->n[KP_STATE_SPENT],
	    "expired", (json_int_t)c->n[KP_STATE_EXPIRED],
	    "last_resort", (json_int_t)c->last_resort);
}

/* device_json: {"username", "device"} of a reply. */
static json_t *
device_json(const char *user, const char *device)
{
	return json_pack("{s:s, s:s}", "username", user, "device", device);
}

/*
 * add_reply: the reply to a kps_device_add() of device for user that
 * ended with rc (201 on KP_OK), the user as registered in canon.
 */
static void
add_reply(struct kps_reply *r, int rc, const char *canon, const char *user,
    const char *device)
{
	switch (rc) {
	case KP_OK:
		kps_reply_json(r, 201, device_json(canon, device));
		break;
	case KP_EEXIST:
		if (strcmp(device, KP_DEFAULT_DEVICE) == 0)
			kps_error(r, 409, "username_taken", "the user name %s "
			    "is taken", user);
		else
			kps_error(r, 409, "device_taken", "%s already has a "
			    "device %s with another key", user, device);
		break;
	case KP_ECONFLICT:
		kps_error(r, 409, "key_in_use", "this public key is already "
		    "another device's; make a key for this device");
		break;
	case KP_EFORBIDDEN:
		kps_error(r, 403, "enrollment_required", "%s exists and has "
		    "no device %s: enroll it from an enrolled device (echo "
		    "\"enroll %s KEY\" > MNT/ctl) or ask the operator "
		    "(kpool-server device add %s %s KEY)", user, device,
		    device, user, device);
		break;
	case KP_ETOOBIG:
		kps_error(r, 409, "too_many_devices", "%s has %d devices, "
		    "the most a user may have; remove one first", user,
		    KPS_MAX_DEVICES);
		break;
	case KP_ENOTFOUND:
		kps_error(r, 404, "unknown_user", "no user %s", user);
		break;
	default:
		kps_reply_dberr(r, rc);
		break;
	}
}

/* add_job: run a kps_device_add() of device with pk for user in the
 * writer, with the request's signature; its result. */
static int
add_job(struct kps_req *x, const char *user, const char *device,
    const uint8_t *pk, enum kps_dev_mode mode)
{
	struct kps_job	j;

	kps_req_job(x, &j, KPS_JOB_DEVICE_ADD);
	j.caller = user;
	j.device = device;
	j.pk = pk;
	j.mode = mode;
	kps_writer_run(&j);
	return j.rc;
}

/*
 * POST /users {"username", "public_key", "device"?}, signed by that
 * key as the principal of (username, device).  A device that has this
 * key already is answered 201 before anything else, so that a user the
 * operator added registers whatever the registration setting.
 */
void
kps_users(struct kps_req *x, const char *arg)
{
	struct kps_store	*rd;
	struct kps_job		 j;
	const char		*name, *dev, *tok = NULL;
	char			 canon[KP_MAX_USERNAME + 1];
	char			 who[KP_MAX_PRINCIPAL + 1];
	uint8_t			 pk[32], have[32], inv[32];
	int			 rc;

	if (kps_req_body(x) != 0 ||
	    kps_req_name(x, "username", 1, 0, &name) != 0 ||
	    kps_req_pk(x, pk) != 0 ||
	    kps_req_name(x, "device", 0, 1, &dev) != 0)
		return;
	if (dev == NULL)
		dev = KP_DEFAULT_DEVICE;
	if (kp_principal(name, dev, who, sizeof(who)) != KP_OK) {
		kps_reply_dberr(x->r, KP_EINVAL);
		return;
	}
	if (kps_req_auth(x, pk, who) != 0)
		return;
	if ((rd = kps_reader()) == NULL) {
		kps_reply_dberr(x->r, KP_EDB);
		return;
	}
	rc = kps_device_get(rd, name, dev, have, canon);
	if (rc == KP_OK) {
		add_reply(x->r, sodium_memcmp(have, pk, 32) == 0 ? KP_OK :
		    KP_EEXIST, canon, name, dev);
		return;
	}
	if (rc == KP_ENOTFOUND)
		rc = kps_user_get(rd, name, canon);
	if (rc == KP_ENOTFOUND &&
	    kps_conf.registration_open == KPS_REG_INVITE) {
		if (kps_req_str(x, "invite", 0, &tok) != 0)
			return;
		if (tok == NULL) {
			kps_error(x->r, 403, "invite_required", "registration "
			    "on this server needs an invitation: send "
			    "\"invite\" with the token its operator gave "
			    "you (kpool-server invite create)");
			return;
		}
		crypto_generichash(inv, sizeof(inv), (const uint8_t *)tok,
		    strlen(tok), NULL, 0);
	}
	if (rc == KP_ENOTFOUND && !kps_conf.registration_open) {
		kps_error(x->r, 403, "registration_closed", "registration "
		    "is closed on this server; ask its operator to add you "
		    "(kpool-server user add, or device add for a device other "
		    "than default)");
		return;
	}
	if (rc != KP_OK && rc != KP_ENOTFOUND) {
		kps_reply_dberr(x->r, rc);
		return;
	}
	kps_req_job(x, &j, KPS_JOB_DEVICE_ADD);
	j.caller = name;
	j.device = dev;
	j.pk = pk;
	j.mode = KPS_DEV_REGISTER;
	j.addr = x->c->addr;
	j.invite = tok != NULL ? inv : NULL;
	kps_writer_run(&j);
	if ((rc = j.rc) == KP_OK && (rc = kps_user_get(rd, name, canon)) !=
	    KP_OK) {
		kps_reply_dberr(x->r, rc);
		return;
	}
	if (rc == KPS_EREGRATE) {
		kps_metric_reason("reserve_refused", "registration_rate");
		x->r->retry_after = j.wait;
		kps_error(x->r, 429, "registration_rate", "this address "
		    "registered %d users within the hour, the most; retry in "
		    "%d s", kps_conf.register_rate, j.wait);
		return;
	}
	if (rc == KPS_EINVITE) {
		kps_error(x->r, 403, "bad_invite", "no such invitation, or "
		    "it has been used up");
		return;
	}
	add_reply(x->r, rc, canon, name, dev);
}

/*
 * POST /devices {"device", "public_key", "username"?}, signed by an
 * enrolled device: enroll another device of the caller's user.  A
 * username, when sent, must be the caller's (403 otherwise): no one
 * enrolls a device of another user.
 */
void
kps_device_enroll(struct kps_req *x, const char *arg)
{
	const char	*dev, *name;
	char		 a[KP_MAX_PRINCIPAL + 1], b[KP_MAX_PRINCIPAL + 1];
	uint8_t		 pk[32];

	if (kps_req_auth(x, NULL, NULL) != 0 || kps_req_body(x) != 0 ||
	    kps_req_name(x, "device", 1, 1, &dev) != 0 ||
	    kps_req_pk(x, pk) != 0 ||
	    kps_req_name(x, "username", 0, 0, &name) != 0)
		return;
	if (name != NULL) {
		kps_fold(a, name);
		kps_fold(b, x->user);
		if (strcmp(a, b) != 0) {
			kps_error(x->r, 403, "forbidden", "a device is enrolled "
			    "by a device of its own user; you are %s",
			    x->principal);
			return;
		}
	}
	add_reply(x->r, add_job(x, x->user, dev, pk, KPS_DEV_ENROLL), x->user,
	    x->user, dev);
}

/* DELETE /devices/{device}: remove a device of the caller's user. */
void
kps_device_remove_route(struct kps_req *x, const char *dev)
{
	struct kps_job	j;

	if (kps_req_auth(x, NULL, NULL) != 0)
		return;
	if (!kp_devicename_valid(dev)) {
		kps_error(x->r, 400, "bad_device", "not a device name");
		return;
	}
	kps_req_job(x, &j, KPS_JOB_DEVICE_REMOVE);
	j.caller = x->user;
	j.device = dev;
	kps_writer_run(&j);
	switch (j.rc) {
	case KP_OK:
		kps_metric_add("keys_retired", (int64_t)j.count);
		kps_reply_json(x->r, 200, json_pack("{s:s, s:s, s:I}",
		    "username", x->user, "device", dev, "retired",
		    (json_int_t)j.count));
		break;
	case KP_ENOTFOUND:
		kps_error(x->r, 404, "not_found", "%s has no device %s",
		    x->user, dev);
		break;
	case KP_ECONFLICT:
		kps_error(x->r, 409, "last_device", "%s is the only device "
		    "of %s; the operator removes users", dev, x->user);
		break;
	default:
		kps_reply_dberr(x->r, j.rc);
		break;
	}
}

json_t *
kps_json_suites(const struct kps_counts c[KPS_NSUITES])
{
	static const unsigned	 suites[KPS_NSUITES] = { 1, 3 };
	json_t			*o;
	char			 name[8];
	size_t			 i, k, n;

	if ((o = json_object()) == NULL)
		return NULL;
	for (i = 0; i < KPS_NSUITES; i++) {
		for (k = 0, n = 0; k < KP_NSTATES; k++)
			n += c[i].n[k];
		if (n == 0)
			continue;
		snprintf(name, sizeof(name), "0x%04x", suites[i]);
		json_object_set_new(o, name, kps_json_counts(&c[i]));
	}
	return o;
}

/* GET /devices: the caller's user's devices, with their counts. */
void
kps_devices(struct kps_req *x, const char *arg)
{
	struct kps_store	*rd;
	struct kps_device	 d[KPS_MAX_DEVICES];
	json_t			*arr, *o;
	char			 canon[KP_MAX_USERNAME + 1];
	size_t			 n, i;
	int			 rc;

	if (kps_req_auth(x, NULL, NULL) != 0)
		return;
	if ((rd = kps_reader()) == NULL) {
		kps_reply_dberr(x->r, KP_EDB);
		return;
	}
	if ((rc = kps_device_list(rd, x->user, 1, kps_now(), canon, d,
	    KPS_MAX_DEVICES, &n)) != KP_OK) {
		kps_reply_dberr(x->r, rc);
		return;
	}
	if ((arr = json_array()) == NULL) {
		kps_reply_dberr(x->r, KP_ENOMEM);
		return;
	}
	for (i = 0; i < n; i++) {
		if ((o = kps_json_counts(&d[i].counts)) == NULL)
			continue;
		json_object_set_new(o, "device", json_string(d[i].device));
		json_object_set_new(o, "public_key",
		    kps_json_b64(d[i].public_key, 32));
		json_object_set_new(o, "enrolled_at",
		    json_integer((json_int_t)d[i].created_at));
		json_object_set_new(o, "suites", kps_json_suites(d[i].suite));
		json_array_append_new(arr, o);
	}
	kps_reply_json(x->r, 200, json_pack("{s:s, s:o}", "username", canon,
	    "devices", arr));
}
