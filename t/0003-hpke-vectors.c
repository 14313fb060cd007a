/* SPDX-License-Identifier: ISC */
/*
 * 0003-hpke-vectors: RFC 9180 Appendix A base-mode vectors for
 * DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM and
 * ChaCha20-Poly1305: every field of hpke-x25519.json.
 */

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "kpool.h"
#include "hpke.h"
#include "tap.h"
#include "0-vectors.h"

/* Compare out[0..len) with the hex field k of o. */
static void
field(json_t *o, const char *k, const uint8_t *out, size_t len,
    const char *what)
{
	uint8_t	*want;
	size_t	 wl;

	want = hexf(o, k, &wl);
	is_blob(out, len, want, wl, "%s %s", what, k);
	free(want);
}

static void
one(json_t *v)
{
	int			 aead = (int)json_integer_value(json_object_get(v,
				    "aead_id"));
	struct kp_hpke_ctx	 s, r;
	uint8_t			*ikm, *info, *skE, *pkR, *skR, *enc;
	uint8_t			 sk[32], pk[32], ss[32], ss2[32], e[32];
	size_t			 il, nl, l1, l2, l3, el, i;
	json_t			*x;
	char			 what[32];

	snprintf(what, sizeof(what), "aead %d:", aead);
	is_int(json_integer_value(json_object_get(v, "mode")), 0,
	    "%s base mode", what);
	is_int(json_integer_value(json_object_get(v, "kem_id")),
	    KP_HPKE_KEM_X25519, "%s DHKEM(X25519)", what);
	is_int(json_integer_value(json_object_get(v, "kdf_id")),
	    KP_HPKE_KDF_SHA256, "%s HKDF-SHA256", what);

	ikm = hexf(v, "ikmE", &il);
	is_int(kp_hpke_derive_keypair(ikm, il, sk, pk), KP_OK,
	    "%s DeriveKeyPair(ikmE)", what);
	field(v, "skEm", sk, 32, what);
	field(v, "pkEm", pk, 32, what);
	free(ikm);
	ikm = hexf(v, "ikmR", &il);
	is_int(kp_hpke_derive_keypair(ikm, il, sk, pk), KP_OK,
	    "%s DeriveKeyPair(ikmR)", what);
	field(v, "skRm", sk, 32, what);
	field(v, "pkRm", pk, 32, what);
	free(ikm);

	skE = hexf(v, "skEm", &l1);
	pkR = hexf(v, "pkRm", &l2);
	skR = hexf(v, "skRm", &l3);
	is_int(kp_hpke_encap(pkR, skE, ss, e), KP_OK, "%s Encap", what);
	field(v, "enc", e, 32, what);
	field(v, "shared_secret", ss, 32, what);
	enc = hexf(v, "enc", &el);
	is_int(kp_hpke_decap(enc, el, skR, ss2), KP_OK, "%s Decap", what);
	field(v, "shared_secret", ss2, 32, what);
	is_int(kp_hpke_decap(enc, el - 1, skR, ss2), KP_EDECRYPT,
	    "%s Decap of a short enc", what);
	memset(e, 0, sizeof(e));
	is_int(kp_hpke_decap(e, 32, skR, ss2), KP_EDECRYPT,
	    "%s Decap of the zero point", what);

	info = hexf(v, "info", &nl);
	is_int(kp_hpke_key_schedule((uint16_t)aead, ss, info, nl, &s), KP_OK,
	    "%s KeyScheduleS", what);
	is_int(kp_hpke_key_schedule((uint16_t)aead, ss2, info, nl, &r), KP_OK,
	    "%s KeyScheduleR", what);
	field(v, "key_schedule_context", s.ksc, sizeof(s.ksc), what);
	field(v, "secret", s.secret, sizeof(s.secret), what);
	field(v, "key", s.key, s.nk, what);
	field(v, "base_nonce", s.base_nonce, sizeof(s.base_nonce), what);
	field(v, "exporter_secret", s.exporter_secret,
	    sizeof(s.exporter_secret), what);

	json_array_foreach(json_object_get(v, "encryptions"), i, x) {
		uint64_t seq = (uint64_t)json_integer_value(json_object_get(x,
		    "sequence_number"));
		uint8_t	*pt, *aad, *ct, *out, nonce[12];
		size_t	 pl, al, cl;
		int	 k;

		pt = hexf(x, "pt", &pl);
		aad = hexf(x, "aad", &al);
		ct = hexf(x, "ct", &cl);
		if ((out = malloc(pl + cl + 16)) == NULL)
			bail("oom");
		memcpy(nonce, s.base_nonce, 12);
		for (k = 0; k < 8; k++)
			nonce[11 - k] ^= (uint8_t)(seq >> (8 * k));
		field(x, "nonce", nonce, 12, what);
		s.seq = seq;
		is_int(kp_hpke_seal(&s, aad, al, pt, pl, out), KP_OK,
		    "%s Seal #%llu", what, (unsigned long long)seq);
		is_blob(out, pl + 16, ct, cl, "%s ct #%llu", what,
		    (unsigned long long)seq);
		is_int(s.seq, seq + 1, "%s Seal advances the sequence", what);
		r.seq = seq;
		is_int(kp_hpke_open(&r, aad, al, ct, cl, out), KP_OK,
		    "%s Open #%llu", what, (unsigned long long)seq);
		is_blob(out, cl - 16, pt, pl, "%s pt #%llu", what,
		    (unsigned long long)seq);
		r.seq = seq + 1;
		is_int(kp_hpke_open(&r, aad, al, ct, cl, out), KP_EDECRYPT,
		    "%s Open at the wrong sequence fails", what);
		r.seq = seq;
		ct[0] ^= 0x80;
		is_int(kp_hpke_open(&r, aad, al, ct, cl, out), KP_EDECRYPT,
		    "%s Open of a flipped ciphertext fails", what);
		free(pt);
		free(aad);
		free(ct);
		free(out);
	}
	json_array_foreach(json_object_get(v, "exports"), i, x) {
		uint8_t	*ctx, out[256];
		size_t	 cl, L = (size_t)json_integer_value(json_object_get(x,
			    "L"));

		ctx = hexf(x, "exporter_context", &cl);
		is_int(kp_hpke_export(&s, ctx, cl, out, L), KP_OK,
		    "%s Export #%zu", what, i);
		field(x, "exported_value", out, L, what);
		free(ctx);
	}
	kp_hpke_ctx_wipe(&s);
	kp_hpke_ctx_wipe(&r);
	sodium_memzero(sk, sizeof(sk));
	free(info);
	free(skE);
	free(pkR);
	free(skR);
	free(enc);
}

int
main(void)
{
	json_t		*root, *e;
	size_t		 i;

	root = vec_load("hpke-x25519.json");
	is_int(json_array_size(root), 2, "two AEADs");
	json_array_foreach(root, i, e)
		one(e);
	json_decref(root);
	return done_testing();
}
