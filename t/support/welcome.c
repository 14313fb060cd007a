/* SPDX-License-Identifier: ISC */
/*
 * welcome.c: the committer's side of a Welcome and the re-encoders of
 * its parts, for the tests and the fuzzers; see kptest.h.  It builds on
 * libkpool's own decoders and key schedule (welcome.h, crypto.h).
 */

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto.h"
#include "hpke.h"
#include "kptest.h"
#include "mls.h"
#include "tls.h"
#include "tree.h"
#include "welcome.h"

int
kp_group_info_check(const uint8_t *buf, size_t len)
{
	struct kp_group_info	g;

	return kp_group_info_read(buf, len, &g);
}

int
kp_welcome_reencode(const uint8_t *buf, size_t len, uint8_t **out,
    size_t *outlen)
{
	struct kp_welcome_msg	w;
	struct kp_rd	s;
	struct kp_egs	e;
	struct kp_wb	wb;
	size_t		mark;
	int		rc;

	kp_wb_init(&wb, KP_MAX_WELCOME);
	if ((rc = kp_welcome_read(buf, len, &w)) != KP_OK)
		goto out;
	kp_wb_u16(&wb, KP_MLS10);
	kp_wb_u16(&wb, KP_WF_WELCOME);
	kp_wb_u16(&wb, w.suite);
	mark = kp_wb_begin(&wb);
	kp_rd_init(&s, w.secrets.p, w.secrets.n);
	while (kp_rd_left(&s) > 0) {
		if (kp_egs_read(&s, &e) != KP_OK) {
			rc = KP_EMALFORMED;
			goto out;
		}
		kp_wb_vec(&wb, e.new_member.p, e.new_member.n);
		kp_wb_vec(&wb, e.kem_output.p, e.kem_output.n);
		kp_wb_vec(&wb, e.ciphertext.p, e.ciphertext.n);
	}
	kp_wb_end(&wb, mark);
	kp_wb_vec(&wb, w.egi.p, w.egi.n);
	rc = kp_wb_finish(&wb, out, outlen);
out:
	kp_wb_free(&wb);
	return rc;
}

int
kp_group_secrets_reencode(const uint8_t *buf, size_t len, uint8_t **out,
    size_t *outlen)
{
	struct kp_group_secrets	g;
	struct kp_psk_id		p;
	struct kp_rd		s;
	struct kp_wb		wb;
	size_t			mark;
	int			rc;

	kp_wb_init(&wb, KP_MAX_WELCOME);
	if ((rc = kp_group_secrets_read(buf, len, &g)) != KP_OK)
		goto out;
	kp_wb_vec(&wb, g.joiner.p, g.joiner.n);
	kp_wb_u8(&wb, g.has_path);
	if (g.has_path)
		kp_wb_vec(&wb, g.path.p, g.path.n);
	mark = kp_wb_begin(&wb);
	kp_rd_init(&s, g.psks.p, g.psks.n);
	while (kp_rd_left(&s) > 0) {
		if (kp_psk_id_read(&s, &p) != KP_OK) {
			rc = KP_EMALFORMED;
			goto out;
		}
		kp_wb_u8(&wb, p.type);
		if (p.type == KP_PSK_EXTERNAL)
			kp_wb_vec(&wb, p.id.p, p.id.n);
		else {
			kp_wb_u8(&wb, p.usage);
			kp_wb_vec(&wb, p.group_id.p, p.group_id.n);
			kp_wb_u64(&wb, p.epoch);
		}
		kp_wb_vec(&wb, p.nonce.p, p.nonce.n);
	}
	kp_wb_end(&wb, mark);
	rc = kp_wb_finish(&wb, out, outlen);
out:
	kp_wb_free(&wb);	/* a GroupSecrets holds the joiner_secret */
	return rc;
}

/*
 * For kp_welcome_build: a ratchet tree of two leaves, the signer's (a
 * key_package LeafNode signed with seed, its signature broken when bad)
 * at the index signer (0 or 1) and the joiner's from kp at the other
 * (there as well when dup), and its root tree hash.  The parent between
 * them is blank, or with unmerged > 0 lists the joiner as unmerged, or
 * with unmerged < 0 lists leaf 5, which the tree does not have.
 */
static int
build_tree(const struct kp_keypackage *kp, const uint8_t *seed,
    uint32_t signer, int bad, int dup, int unmerged, struct kp_wb *t,
    uint8_t th[KP_HASH_LEN])
{
	struct kp_kpopts	 o;
	struct kp_kpfields	 f, sf;
	struct kp_rd		 r;
	struct kp_span		 leaf[2];
	const uint8_t		*raw;
	uint8_t			*h = NULL, *skp = NULL, ref[KP_REF_LEN];
	uint8_t			 pk[KP_KEY_LEN];
	size_t			 rawlen, skplen, mark, w, i;
	int			 rc;

	if (signer > 1)
		return KP_EINVAL;
	memset(&o, 0, sizeof(o));
	o.suite = kp_keypackage_suite(kp);
	o.identity = (const uint8_t *)"signer";
	o.identity_len = 6;
	if ((rc = kp_keypackage_generate(&o, seed, &skp, &skplen, ref,
	    NULL)) != KP_OK)
		return rc;
	raw = kp_keypackage_bytes(kp, &rawlen);
	kp_rd_init(&r, raw, rawlen);
	if ((rc = kp_kp_read(&r, &f)) != KP_OK)
		goto out;
	kp_rd_init(&r, skp, skplen);
	if ((rc = kp_kp_read(&r, &sf)) != KP_OK)
		goto out;
	leaf[signer].p = dup ? f.leaf.start : sf.leaf.start;
	leaf[signer].n = dup ? f.leaf.len : sf.leaf.len;
	leaf[1 - signer].p = f.leaf.start;
	leaf[1 - signer].n = f.leaf.len;
	if (bad)	/* the last byte of the signer's leaf signature */
		skp[(size_t)(sf.leaf.start - skp) + sf.leaf.len - 1] ^= 0x01;
	mark = kp_wb_begin(t);
	for (i = 0; i < 2; i++) {
		if (i == 1 && unmerged == 0)
			kp_wb_u8(t, 0);		/* a blank parent */
		else if (i == 1) {
			/* a parent with a random key, the joiner unmerged */
			randombytes_buf(pk, sizeof(pk));
			kp_wb_u16(t, 0x0102);	/* present, parent */
			kp_wb_vec(t, pk, sizeof(pk));
			kp_wb_vec(t, NULL, 0);
			kp_wb_u8(t, 4);
			kp_wb_u32(t, unmerged > 0 ? 1 - signer : 5);
		}
		kp_wb_u16(t, 0x0101);		/* present, leaf */
		kp_wb_bytes(t, leaf[i].p, leaf[i].n);
	}
	kp_wb_end(t, mark);
	if ((rc = t->err) != KP_OK ||
	    (rc = kp_tree_hashes(t->buf, t->len, &h, &w)) != KP_OK)
		goto out;
	memcpy(th, h + (w - 1) / 2 * KP_HASH_LEN, KP_HASH_LEN);
out:
	free(h);
	free(skp);
	return rc;
}

int
kp_welcome_build(const uint8_t *kpbuf, size_t kplen, const uint8_t *group_id,
    size_t gidlen, uint64_t epoch, const uint8_t seed[KP_SIGN_SEED_LEN],
    uint32_t signer, int flags, uint8_t **out, size_t *outlen)
{
	static const uint8_t	 zero[KP_HASH_LEN];
	struct kp_keypackage	*kp = NULL;
	const struct kp_suite	*suite;
	struct kp_wb		 gi, gs, w, tree;
	uint8_t			 joiner[KP_HASH_LEN], member[KP_HASH_LEN];
	uint8_t			 epoch_secret[KP_HASH_LEN], confirm[KP_HASH_LEN];
	uint8_t			 tag[KP_HASH_LEN], wsecret[KP_HASH_LEN];
	uint8_t			 wkey[KP_AEAD_MAXKEY], wnonce[KP_NONCE_LEN];
	uint8_t			 th[KP_HASH_LEN], cth[KP_HASH_LEN];
	uint8_t			 pk[KP_SIGN_PK_LEN], sk[KP_SIGN_SK_LEN];
	uint8_t			 sig[KP_SIG_LEN], kem[KP_HPKE_ENC_LEN];
	uint8_t			 psk[KP_HASH_LEN], nonce[KP_HASH_LEN];
	uint8_t			*egi = NULL, *ct = NULL;
	const uint8_t		*init_key;
	size_t			 gclen, ctlen, n, mark;
	int			 rc;

	*out = NULL;
	*outlen = 0;
	kp_wb_init(&gi, KP_MAX_WELCOME);
	kp_wb_init(&gs, KP_MAX_WELCOME);
	kp_wb_init(&w, KP_MAX_WELCOME);
	kp_wb_init(&tree, KP_MAX_WELCOME);
	if ((rc = kp_crypto_init()) != KP_OK)
		goto out;
	if ((rc = kp_keypackage_decode(kpbuf, kplen, 1, &kp)) != KP_OK)
		goto out;
	if ((suite = kp_suite_find(kp_keypackage_suite(kp))) == NULL) {
		rc = KP_ESUITE;
		goto out;
	}
	init_key = kp_keypackage_init_key(kp, &n);
	if (n != KP_KEY_LEN) {
		rc = KP_EMALFORMED;
		goto out;
	}
	randombytes_buf(joiner, sizeof(joiner));
	randombytes_buf(th, sizeof(th));
	if ((flags & KP_WB_ANY_TREE) != 0 &&
	    (rc = build_tree(kp, seed, signer, flags & KP_WB_TREE_BADLEAF,
	    flags & KP_WB_TREE_DUP, (flags & KP_WB_TREE_UNMERGED) ? 1 :
	    (flags & KP_WB_TREE_BADUNMERGED) ? -1 : 0, &tree, th)) != KP_OK)
		goto out;
	randombytes_buf(cth, sizeof(cth));
	randombytes_buf(nonce, sizeof(nonce));
	memset(psk, 0, sizeof(psk));

	/* GroupSecrets {joiner_secret, path_secret absent, psks} */
	kp_wb_vec(&gs, joiner, sizeof(joiner));
	kp_wb_u8(&gs, 0);
	mark = kp_wb_begin(&gs);
	if (flags & KP_WB_PSK) {
		kp_wb_u8(&gs, KP_PSK_EXTERNAL);
		kp_wb_vec(&gs, "psk", 3);
		kp_wb_vec(&gs, nonce, sizeof(nonce));
	}
	kp_wb_end(&gs, mark);
	if (flags & KP_WB_GS_TRAIL)
		kp_wb_u8(&gs, 0);
	if ((rc = gs.err) != KP_OK)
		goto out;
	if ((flags & KP_WB_PSK) != 0) {
		struct kp_psk	 have = { (const uint8_t *)"psk", 3, zero, 32 };
		struct kp_rd	 r;
		struct kp_span	 body;

		kp_rd_init(&r, gs.buf, gs.len);
		if (kp_rd_span(&r, &body) != KP_OK || kp_rd_u8(&r, &psk[0]) !=
		    KP_OK || kp_rd_span(&r, &body) != KP_OK) {
			rc = KP_EMALFORMED;
			goto out;
		}
		if ((rc = kp_psk_secret(suite, body, &have, 1, psk)) != KP_OK)
			goto out;
	}

	/* GroupContext, then the rest of the GroupInfo */
	kp_wb_u16(&gi, KP_MLS10);
	kp_wb_u16(&gi, suite->id);
	kp_wb_vec(&gi, group_id, gidlen);
	kp_wb_u64(&gi, epoch);
	kp_wb_vec(&gi, th, sizeof(th));
	kp_wb_vec(&gi, cth, sizeof(cth));
	kp_wb_vec(&gi, NULL, 0);
	if ((rc = gi.err) != KP_OK)
		goto out;
	gclen = gi.len;
	if ((rc = kp_hkdf_extract(joiner, suite->nh, psk, suite->nh,
	    member)) != KP_OK ||
	    (rc = kp_expand_with_label(member, suite->nh, "epoch", gi.buf,
	    gclen, epoch_secret, suite->nh)) != KP_OK ||
	    (rc = kp_derive_secret(epoch_secret, suite->nh, "confirm",
	    confirm)) != KP_OK ||
	    (rc = kp_hmac(confirm, suite->nh, cth, sizeof(cth), tag)) != KP_OK)
		goto out;
	if (flags & KP_WB_BAD_TAG)
		tag[0] ^= 0x01;
	/* extensions: a broken ratchet_tree for the bad twins */
	if (flags & KP_WB_TREE_CUT)
		kp_wb_vec(&gi, "\x00\x02\x02\x05\x01", 5);
	else if (flags & KP_WB_TREE_TRAIL)
		kp_wb_vec(&gi, "\x00\x02\x02\x00\x00", 5);
	else if (tree.len > 0) {
		mark = kp_wb_begin(&gi);
		kp_wb_u16(&gi, KP_EXT_RATCHET_TREE);
		kp_wb_vec(&gi, tree.buf, tree.len);
		kp_wb_end(&gi, mark);
	} else
		kp_wb_vec(&gi, NULL, 0);
	kp_wb_vec(&gi, tag, suite->nh);
	/* the twin whose signer field names the joiner's leaf instead */
	kp_wb_u32(&gi, (flags & KP_WB_TREE_OTHER) ? 1 - signer : signer);
	if ((rc = gi.err) != KP_OK)
		goto out;
	if (crypto_sign_seed_keypair(pk, sk, seed) != 0) {
		rc = KP_ECRYPTO;
		goto out;
	}
	if ((rc = kp_sign_with_label(sk, "GroupInfoTBS", gi.buf, gi.len,
	    sig)) != KP_OK)
		goto out;
	kp_wb_vec(&gi, sig, sizeof(sig));
	if (flags & KP_WB_GI_TRAIL)
		kp_wb_u8(&gi, 0);
	if ((rc = gi.err) != KP_OK)
		goto out;

	/* encrypt the GroupInfo with the welcome key and nonce */
	if ((rc = kp_derive_secret(member, suite->nh, "welcome", wsecret)) !=
	    KP_OK ||
	    (rc = kp_expand_with_label(wsecret, suite->nh, "key", NULL, 0,
	    wkey, suite->nk)) != KP_OK ||
	    (rc = kp_expand_with_label(wsecret, suite->nh, "nonce", NULL, 0,
	    wnonce, suite->nn)) != KP_OK)
		goto out;
	if ((egi = malloc(gi.len + KP_TAG_LEN)) == NULL) {
		rc = KP_ENOMEM;
		goto out;
	}
	if ((rc = kp_aead_seal(suite->aead, wkey, wnonce, NULL, 0, gi.buf,
	    gi.len, egi)) != KP_OK)
		goto out;
	if ((rc = kp_encrypt_with_label(suite, init_key, "Welcome", egi,
	    gi.len + KP_TAG_LEN, gs.buf, gs.len, kem, &ct, &ctlen)) != KP_OK)
		goto out;

	kp_wb_u16(&w, KP_MLS10);
	kp_wb_u16(&w, KP_WF_WELCOME);
	kp_wb_u16(&w, suite->id);
	mark = kp_wb_begin(&w);
	kp_wb_vec(&w, kp_keypackage_ref(kp), KP_REF_LEN);
	kp_wb_vec(&w, kem, sizeof(kem));
	kp_wb_vec(&w, ct, ctlen);
	kp_wb_end(&w, mark);
	kp_wb_vec(&w, egi, gi.len + KP_TAG_LEN);
	rc = kp_wb_finish(&w, out, outlen);
out:
	kp_keypackage_free(kp);
	free(egi);
	free(ct);
	kp_wb_free(&gi);
	kp_wb_free(&gs);
	kp_wb_free(&w);
	kp_wb_free(&tree);
	sodium_memzero(joiner, sizeof(joiner));
	sodium_memzero(member, sizeof(member));
	sodium_memzero(epoch_secret, sizeof(epoch_secret));
	sodium_memzero(confirm, sizeof(confirm));
	sodium_memzero(wsecret, sizeof(wsecret));
	sodium_memzero(wkey, sizeof(wkey));
	sodium_memzero(wnonce, sizeof(wnonce));
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(psk, sizeof(psk));
	return rc;
}
