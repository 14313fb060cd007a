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

/* The GroupContext extensions the flags ask for, as an extensions<V>. */
static void
gc_extensions(int flags, struct kp_wb *w)
{
	size_t	mark = kp_wb_begin(w), data;

	if (flags & (KP_WB_REQCAPS | KP_WB_REQCAPS_BASIC)) {
		/* RequiredCapabilities {extension_types, proposal_types,
		   credential_types} */
		kp_wb_u16(w, KP_EXT_REQUIRED_CAPS);
		data = kp_wb_begin(w);
		if (flags & KP_WB_REQCAPS) {
			kp_wb_vec(w, "\xff\x0f", 2);
			kp_wb_vec(w, NULL, 0);
			kp_wb_vec(w, NULL, 0);
		} else {
			kp_wb_vec(w, "\x00\x02", 2);	/* a default one */
			kp_wb_vec(w, NULL, 0);
			kp_wb_vec(w, "\x00\x01", 2);
		}
		kp_wb_end(w, data);
	}
	kp_wb_end(w, mark);
}

/*
 * The joiner_secret and psk_secret of the GroupSecrets gs, as the
 * joiner will read them; the builder's own joiner when gs does not
 * read (a hook broke it), so that the rest is built all the same.
 */
static int
secrets_of(const struct kp_suite *suite, const struct kp_wb *gs,
    const uint8_t *joiner, uint8_t member[KP_HASH_LEN])
{
	static const uint8_t	 zero[KP_HASH_LEN];
	struct kp_psk		 have = { (const uint8_t *)"psk", 3, zero, 32 };
	struct kp_group_secrets	 g;
	uint8_t			 psk[KP_HASH_LEN];
	int			 rc;

	memset(psk, 0, sizeof(psk));
	if (kp_group_secrets_read(gs->buf, gs->len, &g) == KP_OK &&
	    g.joiner.n == suite->nh) {
		joiner = g.joiner.p;
		if (kp_psk_secret(suite, g.psks, &have, 1, psk) != KP_OK)
			memset(psk, 0, sizeof(psk));
	}
	rc = kp_hkdf_extract(joiner, suite->nh, psk, suite->nh, member);
	sodium_memzero(psk, sizeof(psk));
	return rc;
}

int
kp_welcome_build_ex(const struct kp_wb_args *a, uint8_t **out,
    size_t *outlen, uint8_t **treeout, size_t *treelen)
{
	struct kp_keypackage	*kp = NULL;
	const struct kp_suite	*suite;
	struct kp_group_plan	 g;
	struct kp_wb_parts	 parts;
	struct kp_wb		 gi, gs, w, gce;
	uint8_t			 joiner[KP_HASH_LEN], member[KP_HASH_LEN];
	uint8_t			 epoch_secret[KP_HASH_LEN];
	uint8_t			 confirm[KP_HASH_LEN], tag[KP_HASH_LEN];
	uint8_t			 wsecret[KP_HASH_LEN], wkey[KP_AEAD_MAXKEY];
	uint8_t			 wnonce[KP_NONCE_LEN], th[KP_HASH_LEN];
	uint8_t			 cth[KP_HASH_LEN], pk[KP_SIGN_PK_LEN];
	uint8_t			 sk[KP_SIGN_SK_LEN], sig[KP_SIG_LEN];
	uint8_t			 kem[KP_HPKE_ENC_LEN], nonce[KP_HASH_LEN];
	uint8_t			*egi = NULL, *ct = NULL, *h = NULL;
	const uint8_t		*init_key;
	uint32_t		 signer;
	size_t			 gclen, ctlen, n, mark, width;
	int			 rc;

	*out = NULL;
	*outlen = 0;
	if (treeout != NULL) {
		*treeout = NULL;
		*treelen = 0;
	}
	memset(&g, 0, sizeof(g));
	kp_wb_init(&gi, KP_MAX_WELCOME);
	kp_wb_init(&gs, KP_MAX_WELCOME);
	kp_wb_init(&w, KP_MAX_WELCOME);
	kp_wb_init(&gce, KP_MAX_WELCOME);
	if ((rc = kp_crypto_init()) != KP_OK)
		goto out;
	if ((rc = kp_keypackage_decode(a->kp, a->kplen, 1, &kp)) != KP_OK)
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
	if ((rc = kp_group_plan(a, kp, &g)) != KP_OK)
		goto out;
	randombytes_buf(joiner, sizeof(joiner));
	randombytes_buf(cth, sizeof(cth));
	randombytes_buf(nonce, sizeof(nonce));

	/* GroupSecrets {joiner_secret, optional path_secret, psks} */
	kp_wb_vec(&gs, joiner, sizeof(joiner));
	kp_wb_u8(&gs, (uint8_t)g.has_path);
	if (g.has_path)
		kp_wb_vec(&gs, g.path_secret, sizeof(g.path_secret));
	mark = kp_wb_begin(&gs);
	if (a->flags & KP_WB_PSK) {
		kp_wb_u8(&gs, KP_PSK_EXTERNAL);
		kp_wb_vec(&gs, "psk", 3);
		kp_wb_vec(&gs, nonce, sizeof(nonce));
	}
	kp_wb_end(&gs, mark);
	if (a->flags & KP_WB_GS_TRAIL)
		kp_wb_u8(&gs, 0);
	gc_extensions(a->flags, &gce);
	signer = (a->flags & KP_WB_TREE_OTHER) ? g.joiner : a->signer;

	/* the hook's turn, then what follows from the plaintexts */
	memset(&parts, 0, sizeof(parts));
	parts.tree = &g.tree;
	parts.gs = &gs;
	parts.gc_exts = &gce;
	parts.signer = &signer;
	if (a->hook != NULL && (rc = a->hook(a->ctx, &parts)) != KP_OK)
		goto out;
	if (parts.resign && (rc = kp_group_resign(&g.tree, &g, a->group_id,
	    a->gidlen)) != KP_OK)
		goto out;
	if ((rc = g.tree.err) != KP_OK || (rc = gs.err) != KP_OK ||
	    (rc = gce.err) != KP_OK)
		goto out;
	if ((rc = secrets_of(suite, &gs, joiner, member)) != KP_OK)
		goto out;
	if (kp_tree_hashes(g.tree.buf, g.tree.len, &h, &width) == KP_OK)
		memcpy(th, h + (width - 1) / 2 * KP_HASH_LEN, sizeof(th));
	else
		randombytes_buf(th, sizeof(th));

	/* GroupContext, then the rest of the GroupInfo */
	kp_wb_u16(&gi, KP_MLS10);
	kp_wb_u16(&gi, suite->id);
	kp_wb_vec(&gi, a->group_id, a->gidlen);
	kp_wb_u64(&gi, a->epoch);
	kp_wb_vec(&gi, th, sizeof(th));
	kp_wb_vec(&gi, cth, sizeof(cth));
	kp_wb_bytes(&gi, gce.buf, gce.len);
	if ((rc = gi.err) != KP_OK)
		goto out;
	gclen = gi.len;
	if ((rc = kp_expand_with_label(member, suite->nh, "epoch", gi.buf,
	    gclen, epoch_secret, suite->nh)) != KP_OK ||
	    (rc = kp_derive_secret(epoch_secret, suite->nh, "confirm",
	    confirm)) != KP_OK ||
	    (rc = kp_hmac(confirm, suite->nh, cth, sizeof(cth), tag)) != KP_OK)
		goto out;
	if (a->flags & KP_WB_BAD_TAG)
		tag[0] ^= 0x01;
	/* extensions: the ratchet tree, or a broken one for the twins */
	if (a->flags & KP_WB_TREE_CUT)
		kp_wb_vec(&gi, "\x00\x02\x02\x05\x01", 5);
	else if (a->flags & KP_WB_TREE_TRAIL)
		kp_wb_vec(&gi, "\x00\x02\x02\x00\x00", 5);
	else if (a->flags & KP_WB_NO_TREE)
		kp_wb_vec(&gi, NULL, 0);
	else {
		mark = kp_wb_begin(&gi);
		kp_wb_u16(&gi, KP_EXT_RATCHET_TREE);
		kp_wb_vec(&gi, g.tree.buf, g.tree.len);
		kp_wb_end(&gi, mark);
	}
	kp_wb_vec(&gi, tag, suite->nh);
	kp_wb_u32(&gi, signer);
	if ((rc = gi.err) != KP_OK)
		goto out;
	if (crypto_sign_seed_keypair(pk, sk, a->seed) != 0) {
		rc = KP_ECRYPTO;
		goto out;
	}
	if ((rc = kp_sign_with_label(sk, "GroupInfoTBS", gi.buf, gi.len,
	    sig)) != KP_OK)
		goto out;
	if (a->flags & KP_WB_BAD_GISIG)
		sig[KP_SIG_LEN - 1] ^= 0x01;
	kp_wb_vec(&gi, sig, sizeof(sig));
	if (a->flags & KP_WB_GI_TRAIL)
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
	if ((rc = kp_wb_finish(&w, out, outlen)) != KP_OK)
		goto out;
	if (treeout != NULL && (rc = kp_wb_finish(&g.tree, treeout,
	    treelen)) != KP_OK) {
		free(*out);
		*out = NULL;
		*outlen = 0;
	}
out:
	kp_keypackage_free(kp);
	free(egi);
	free(ct);
	free(h);
	kp_wb_free(&gi);
	kp_wb_free(&gs);
	kp_wb_free(&w);
	kp_wb_free(&gce);
	kp_wb_free(&g.tree);
	sodium_memzero(&g, sizeof(g));
	sodium_memzero(joiner, sizeof(joiner));
	sodium_memzero(member, sizeof(member));
	sodium_memzero(epoch_secret, sizeof(epoch_secret));
	sodium_memzero(confirm, sizeof(confirm));
	sodium_memzero(wsecret, sizeof(wsecret));
	sodium_memzero(wkey, sizeof(wkey));
	sodium_memzero(wnonce, sizeof(wnonce));
	sodium_memzero(sk, sizeof(sk));
	return rc;
}

int
kp_welcome_build(const uint8_t *kp, size_t kplen, const uint8_t *group_id,
    size_t gidlen, uint64_t epoch, const uint8_t seed[KP_SIGN_SEED_LEN],
    uint32_t signer, int flags, uint8_t **out, size_t *outlen)
{
	struct kp_wb_args	a;

	memset(&a, 0, sizeof(a));
	a.kp = kp;
	a.kplen = kplen;
	a.group_id = group_id;
	a.gidlen = gidlen;
	a.epoch = epoch;
	a.seed = seed;
	a.signer = signer;
	a.flags = flags;
	return kp_welcome_build_ex(&a, out, outlen, NULL, NULL);
}

int
kp_welcome_open_signer(const uint8_t *welcome, size_t len, const uint8_t *kp,
    size_t kplen, const uint8_t init_priv[KP_KEY_LEN],
    const uint8_t signer_pub[KP_SIGN_PK_LEN], struct kp_welcome_info *info)
{
	struct kp_welcome_state	st;
	int			rc;

	memset(info, 0, sizeof(*info));
	if ((rc = kp_welcome_decrypt(welcome, len, kp, kplen, init_priv, NULL,
	    0, &st)) != KP_OK)
		return rc;
	if (kp_verify_with_label(signer_pub, KP_SIGN_PK_LEN, "GroupInfoTBS",
	    st.gibuf, st.gi.tbs_len, st.gi.sig.p, st.gi.sig.n) != KP_OK)
		rc = KP_EGISIG;
	else if ((rc = kp_welcome_confirm(&st, info)) == KP_OK)
		info->signature_checked = 1;
	if (rc != KP_OK)
		kp_welcome_info_free(info);
	kp_welcome_state_free(&st);
	return rc;
}
