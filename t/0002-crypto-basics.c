/* SPDX-License-Identifier: ISC */
/*
 * 0002-crypto-basics: RFC 9420 §5 helpers against crypto-basics.json,
 * both suites, byte for byte.
 */

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "kpool.h"
#include "crypto.h"
#include "hpke.h"
#include "kptest.h"
#include "tap.h"
#include "0-vectors.h"

static const char *
strf(json_t *o, const char *k)
{
	const char	*s = json_string_value(json_object_get(o, k));

	if (s == NULL)
		bail("missing field %s", k);
	return s;
}

static void
one(json_t *v)
{
	int		 cs = (int)json_integer_value(json_object_get(v,
			    "cipher_suite"));
	const struct kp_suite *suite = kp_suite_find((uint16_t)cs);
	json_t		*g;
	uint8_t		*a, *b, *c, *want, out[256], sk[64], sig[64];
	size_t		 al, bl, cl, wl, len;

	ok(suite != NULL, "suite %d is supported", cs);
	if (suite == NULL)
		return;

	g = json_object_get(v, "ref_hash");
	a = hexf(g, "value", &al);
	want = hexf(g, "out", &wl);
	is_int(kp_ref_hash(strf(g, "label"), a, al, out), KP_OK,
	    "suite %d ref_hash", cs);
	is_blob(out, 32, want, wl, "suite %d ref_hash out", cs);
	free(a);
	free(want);

	g = json_object_get(v, "expand_with_label");
	a = hexf(g, "secret", &al);
	b = hexf(g, "context", &bl);
	want = hexf(g, "out", &wl);
	len = (size_t)json_integer_value(json_object_get(g, "length"));
	is_int(kp_expand_with_label(a, al, strf(g, "label"), b, bl, out, len),
	    KP_OK, "suite %d expand_with_label", cs);
	is_blob(out, len, want, wl, "suite %d expand_with_label out", cs);
	free(a);
	free(b);
	free(want);

	g = json_object_get(v, "derive_secret");
	a = hexf(g, "secret", &al);
	want = hexf(g, "out", &wl);
	is_int(kp_derive_secret(a, al, strf(g, "label"), out), KP_OK,
	    "suite %d derive_secret", cs);
	is_blob(out, 32, want, wl, "suite %d derive_secret out", cs);
	free(a);
	free(want);

	g = json_object_get(v, "derive_tree_secret");
	a = hexf(g, "secret", &al);
	want = hexf(g, "out", &wl);
	len = (size_t)json_integer_value(json_object_get(g, "length"));
	is_int(kp_derive_tree_secret(a, al, strf(g, "label"),
	    (uint32_t)json_integer_value(json_object_get(g, "generation")),
	    out, len), KP_OK, "suite %d derive_tree_secret", cs);
	is_blob(out, len, want, wl, "suite %d derive_tree_secret out", cs);
	free(a);
	free(want);

	g = json_object_get(v, "sign_with_label");
	a = hexf(g, "priv", &al);
	b = hexf(g, "pub", &bl);
	c = hexf(g, "content", &cl);
	want = hexf(g, "signature", &wl);
	is_int(kp_verify_with_label(b, bl, strf(g, "label"), c, cl, want, wl),
	    KP_OK, "suite %d VerifyWithLabel", cs);
	memcpy(sk, a, 32);
	memcpy(sk + 32, b, 32);
	is_int(kp_sign_with_label(sk, strf(g, "label"), c, cl, sig), KP_OK,
	    "suite %d SignWithLabel", cs);
	is_blob(sig, sizeof(sig), want, wl, "suite %d signature bytes", cs);
	want[5] ^= 0x01;
	is_int(kp_verify_with_label(b, bl, strf(g, "label"), c, cl, want, wl),
	    KP_ECRYPTO, "suite %d a flipped bit fails", cs);
	is_int(kp_verify_with_label(b, bl, "KeyPackageTBS", c, cl, sig, 64),
	    KP_ECRYPTO, "suite %d another label fails", cs);
	sodium_memzero(sk, sizeof(sk));
	free(a);
	free(b);
	free(c);
	free(want);

#ifdef KP_HPKE_H
	{
		uint8_t	*ctx, *pt, *kem, *ct, *mine, enc[32];
		size_t	 ctxl, ptl, keml, ctl, ml;

		g = json_object_get(v, "encrypt_with_label");
		a = hexf(g, "priv", &al);
		b = hexf(g, "pub", &bl);
		ctx = hexf(g, "context", &ctxl);
		pt = hexf(g, "plaintext", &ptl);
		kem = hexf(g, "kem_output", &keml);
		ct = hexf(g, "ciphertext", &ctl);
		if ((mine = malloc(ctl + 64)) == NULL)
			bail("oom");
		is_int(kp_decrypt_with_label(suite, a, strf(g, "label"), ctx,
		    ctxl, kem, keml, ct, ctl, mine, &ml), KP_OK,
		    "suite %d DecryptWithLabel", cs);
		is_blob(mine, ml, pt, ptl, "suite %d plaintext", cs);
		free(mine);
		mine = NULL;
		is_int(kp_encrypt_with_label(suite, b, strf(g, "label"), ctx,
		    ctxl, pt, ptl, enc, &mine, &ml), KP_OK,
		    "suite %d EncryptWithLabel", cs);
		{
			uint8_t	*back = malloc(ml + 1);
			size_t	 bkl = 0;

			if (back == NULL)
				bail("oom");
			is_int(kp_decrypt_with_label(suite, a, strf(g,
			    "label"), ctx, ctxl, enc, 32, mine, ml, back,
			    &bkl), KP_OK, "suite %d own ciphertext opens", cs);
			is_blob(back, bkl, pt, ptl,
			    "suite %d round trip", cs);
			mine[0] ^= 1;
			is_int(kp_decrypt_with_label(suite, a, strf(g,
			    "label"), ctx, ctxl, enc, 32, mine, ml, back,
			    &bkl), KP_EDECRYPT,
			    "suite %d a flipped ciphertext bit", cs);
			free(back);
		}
		free(mine);
		free(a);
		free(b);
		free(ctx);
		free(pt);
		free(kem);
		free(ct);
	}
#endif
}

int
main(void)
{
	json_t		*root, *e;
	size_t		 i;

	root = vec_load("crypto-basics.json");
	is_int(json_array_size(root), 2, "two suites");
	json_array_foreach(root, i, e)
		one(e);
	ok(kp_suite_find(0x0002) == NULL, "suite 2 is not supported");
	json_decref(root);
	return done_testing();
}
