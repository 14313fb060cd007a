/* SPDX-License-Identifier: ISC */
/*
 * upload.c: POST /keypackages/upload {"keypackages": [base64, ...]}:
 * each KeyPackage is decoded and validated (RFC 9420 §10.1) and bound to
 * the caller, and the valid ones are saved in one write; the reply tells
 * each one's fate.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "request.h"

#define B64V	sodium_base64_VARIANT_ORIGINAL

/* check_kp: decode and validate one uploaded KeyPackage for the
 * caller's device (identity its principal, signed by its key); fills k,
 * or returns the rejection code and message. */
static const char *
check_kp(struct kps_req *x, const uint8_t *buf, size_t len, int64_t now,
    struct kps_key *k, char *msg, size_t msglen)
{
	struct kp_keypackage	*kp = NULL;
	const uint8_t		*p;
	const char		*code = NULL;
	size_t			 n;
	int			 rc;

	if ((rc = kp_keypackage_decode(buf, len, 1, &kp)) != KP_OK) {
		snprintf(msg, msglen, "not a KeyPackage: %s", kp_strerror(rc));
		code = "bad_keypackage";
		goto out;
	}
	if ((rc = kp_keypackage_validate(kp, (uint64_t)now)) != KP_OK) {
		snprintf(msg, msglen, "invalid KeyPackage: %s",
		    kp_strerror(rc));
		code = rc == KP_EEXPIRED ? "expired" : rc == KP_ENOTYET ?
		    "not_yet_valid" : "invalid_keypackage";
		goto out;
	}
	p = kp_keypackage_identity(kp, &n);
	if (kp_keypackage_credential_type(kp) != KP_CRED_BASIC || p == NULL ||
	    n != strlen(x->principal) || memcmp(p, x->principal, n) != 0) {
		snprintf(msg, msglen, "the credential identity is not the "
		    "caller %s", x->principal);
		code = "wrong_identity";
		goto out;
	}
	p = kp_keypackage_signature_key(kp, &n);
	if (p == NULL || n != 32 || sodium_memcmp(p, x->pk, 32) != 0) {
		snprintf(msg, msglen, "the signature key is not the key "
		    "registered for %s", x->principal);
		code = "wrong_signature_key";
		goto out;
	}
	if (kp_keypackage_not_after(kp) < kp_keypackage_not_before(kp) ||
	    kp_keypackage_not_after(kp) - kp_keypackage_not_before(kp) >
	    (uint64_t)kps_conf.max_lifetime) {
		snprintf(msg, msglen, "the lifetime is longer than this "
		    "server's maximum of %lld s",
		    (long long)kps_conf.max_lifetime);
		code = "lifetime_too_long";
		goto out;
	}
	p = kp_keypackage_init_key(kp, &n);
	if (p == NULL || n != KP_KEY_LEN) {
		snprintf(msg, msglen, "init_key is not %d bytes", KP_KEY_LEN);
		code = "invalid_keypackage";
		goto out;
	}
	memcpy(k->init_key, p, KP_KEY_LEN);
	memcpy(k->ref, kp_keypackage_ref(kp), KP_REF_LEN);
	snprintf(k->username, sizeof(k->username), "%s", x->user);
	snprintf(k->device, sizeof(k->device), "%s", x->device);
	p = kp_keypackage_bytes(kp, &n);
	if ((k->bytes = malloc(n)) == NULL) {
		snprintf(msg, msglen, "out of memory");
		code = "internal";
		goto out;
	}
	memcpy(k->bytes, p, n);
	k->len = n;
	k->not_after = (int64_t)kp_keypackage_not_after(kp);
	k->suite = kp_keypackage_suite(kp);
	kp_credential_hash(kp, k->credential_hash);
	k->last_resort = kp_keypackage_has_extension(kp, KP_EXT_LAST_RESORT);
out:
	if (kp != NULL)
		kp_keypackage_free(kp);
	return code;
}

static int
reject(json_t *rej, size_t i, const char *code, const char *msg)
{
	return json_array_append_new(rej, json_pack("{s:I, s:s, s:s}",
	    "index", (json_int_t)i, "error", code, "message", msg));
}

void
kps_upload(struct kps_req *x, const char *arg)
{
	struct kps_job	 j;
	json_t		*arr, *acc = NULL, *rej = NULL, *item;
	struct kps_key	*keys = NULL;
	size_t		*idx = NULL, n, i, nk = 0, len;
	int		*rcs = NULL;
	uint8_t		*buf = NULL;
	const char	*s, *code;
	char		 msg[256];
	int64_t		 now;

	if (kps_req_auth(x, NULL, NULL) != 0 || kps_req_body(x) != 0)
		return;
	arr = json_object_get(x->in, "keypackages");
	if (!json_is_array(arr)) {
		kps_error(x->r, 400, "bad_request", "\"keypackages\" must be "
		    "an array of base64 KeyPackages");
		return;
	}
	if ((n = json_array_size(arr)) > KP_MAX_BATCH) {
		kps_error(x->r, 413, "batch_too_big", "%zu KeyPackages in one "
		    "upload; the limit is %d", n, KP_MAX_BATCH);
		return;
	}
	acc = json_array();
	rej = json_array();
	keys = calloc(n ? n : 1, sizeof(*keys));
	idx = calloc(n ? n : 1, sizeof(*idx));
	rcs = calloc(n ? n : 1, sizeof(*rcs));
	buf = malloc(KP_MAX_KEYPACKAGE);
	if (acc == NULL || rej == NULL || keys == NULL || idx == NULL ||
	    rcs == NULL || buf == NULL) {
		kps_reply_dberr(x->r, KP_ENOMEM);
		goto out;
	}
	now = kps_now();
	json_array_foreach(arr, i, item) {
		if ((s = json_string_value(item)) == NULL) {
			reject(rej, i, "bad_base64", "not a base64 string");
			continue;
		}
		if (strlen(s) > sodium_base64_ENCODED_LEN(KP_MAX_KEYPACKAGE,
		    B64V)) {
			snprintf(msg, sizeof(msg), "larger than %d bytes",
			    KP_MAX_KEYPACKAGE);
			reject(rej, i, "too_big", msg);
			continue;
		}
		if (kps_unb64(s, KP_MAX_KEYPACKAGE, buf, &len) != 0) {
			reject(rej, i, "bad_base64", "not standard base64");
			continue;
		}
		code = check_kp(x, buf, len, now, &keys[nk], msg, sizeof(msg));
		if (code != NULL) {
			kps_key_clear(&keys[nk]);
			reject(rej, i, code, msg);
			continue;
		}
		idx[nk++] = i;
	}
	if (nk > 0) {
		kps_req_job(x, &j, KPS_JOB_SAVE);
		j.keys = keys;
		j.rcs = rcs;
		j.nkeys = nk;
		kps_writer_run(&j);
		if (j.rc != KP_OK) {
			/* replayed, or not committed: nothing is saved */
			kps_reply_dberr(x->r, j.rc);
			goto out;
		}
	}
	for (i = 0; i < nk; i++) {
		switch (rcs[i]) {
		case KP_OK:
			kps_metric_add("keys_uploaded", 1);
			/* FALLTHROUGH */
		case KP_EEXIST:
			json_array_append_new(acc, json_pack("{s:I, s:o}",
			    "index", (json_int_t)idx[i], "keypackage_ref",
			    kps_json_hex(keys[i].ref, KP_REF_LEN)));
			break;
		case KP_ESTATE:
			reject(rej, idx[i], "spent", "this KeyPackage was "
			    "spent or retired; generate a new one");
			break;
		case KP_ECONFLICT:
			reject(rej, idx[i], "init_key_reused", "its init_key "
			    "is in another KeyPackage of yours, live or "
			    "spent; generate a new one");
			break;
		default:
			reject(rej, idx[i], "internal", "database error; "
			    "upload it again");
			break;
		}
	}
	kps_reply_json(x->r, 200, json_pack("{s:O, s:O}", "accepted", acc,
	    "rejected", rej));
out:
	for (i = 0; keys != NULL && i < nk; i++)
		kps_key_clear(&keys[i]);
	free(keys);
	free(idx);
	free(rcs);
	free(buf);
	json_decref(acc);
	json_decref(rej);
}
