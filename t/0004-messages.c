/* SPDX-License-Identifier: ISC */
/*
 * 0004-messages: the KeyPackages, Welcomes and GroupSecrets of
 * messages.json: decode, re-encode byte for byte, KeyPackageRef, both
 * signatures.
 */

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kpool.h"
#include "crypto.h"
#include "mls.h"
#include "tls.h"
#include "welcome.h"
#include "kptest.h"
#include "tap.h"
#include "0-vectors.h"

static void
keypackage(const uint8_t *b, size_t n, int wrapped, const char *what)
{
	struct kp_keypackage	*kp = NULL;
	struct kp_kpfields	 f;
	struct kp_rd		 r;
	struct kp_wb		 w;
	const uint8_t		*raw;
	uint8_t			*enc, ref[KP_REF_LEN];
	size_t			 rawlen, enclen;
	int			 rc;

	rc = kp_keypackage_decode(b, n, wrapped, &kp);
	if (!is_int(rc, KP_OK, "%s decodes", what)) {
		skip(6, "no KeyPackage");
		return;
	}
	raw = kp_keypackage_bytes(kp, &rawlen);
	is_blob(raw, rawlen, b + (wrapped ? 4 : 0), n - (wrapped ? 4 : 0),
	    "%s keeps its bytes", what);
	kp_rd_init(&r, raw, rawlen);
	if (kp_kp_read(&r, &f) != KP_OK || kp_rd_end(&r) != KP_OK)
		bail("%s: re-read failed", what);
	kp_wb_init(&w, KP_MAX_KEYPACKAGE + 4);
	if (wrapped) {
		kp_wb_u16(&w, KP_MLS10);
		kp_wb_u16(&w, KP_WF_KEY_PACKAGE);
	}
	is_int(kp_kp_write(&w, &f, NULL), KP_OK, "%s re-encodes", what);
	if (kp_wb_finish(&w, &enc, &enclen) != KP_OK)
		bail("kp_wb_finish");
	is_blob(enc, enclen, b, n, "%s re-encodes byte for byte", what);
	free(enc);
	is_int(kp_keypackage_ref_compute(kp_keypackage_suite(kp), raw, rawlen,
	    ref), KP_OK, "%s ref computes", what);
	is_blob(kp_keypackage_ref(kp), KP_REF_LEN, ref, sizeof(ref),
	    "%s ref matches", what);
	ok(f.leaf.source == KP_LEAF_KEY_PACKAGE &&
	    kp_leaf_verify(&f.leaf) == KP_OK &&
	    kp_verify_with_label(f.leaf.sig_key.p, f.leaf.sig_key.n,
	    "KeyPackageTBS", raw, f.tbs_len, f.sig.p, f.sig.n) == KP_OK,
	    "%s: key_package leaf, both signatures verify", what);
	kp_keypackage_free(kp);
}

int
main(void)
{
	json_t		*root, *e;
	size_t		 i, n;
	uint8_t		*b;
	char		 what[64];

	root = vec_load("messages.json");
	is_int(json_array_size(root), 200, "200 entries");
	json_array_foreach(root, i, e) {
		snprintf(what, sizeof(what), "#%zu mls_key_package", i);
		b = hexf(e, "mls_key_package", &n);
		keypackage(b, n, 1, what);
		free(b);
		snprintf(what, sizeof(what), "#%zu add_proposal", i);
		b = hexf(e, "add_proposal", &n);
		keypackage(b, n, 0, what);
		free(b);
#ifdef KP_WELCOME_H
		{
			uint8_t	*enc;
			size_t	 elen;

			b = hexf(e, "mls_welcome", &n);
			is_int(kp_welcome_reencode(b, n, &enc, &elen), KP_OK,
			    "#%zu mls_welcome decodes", i);
			is_blob(enc, elen, b, n,
			    "#%zu mls_welcome re-encodes", i);
			free(enc);
			free(b);
			b = hexf(e, "group_secrets", &n);
			is_int(kp_group_secrets_reencode(b, n, &enc, &elen),
			    KP_OK, "#%zu group_secrets decodes", i);
			is_blob(enc, elen, b, n,
			    "#%zu group_secrets re-encodes", i);
			free(enc);
			free(b);
		}
#endif
	}
	json_decref(root);
	return done_testing();
}
