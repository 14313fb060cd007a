/* SPDX-License-Identifier: ISC */
/*
 * welcome.c: open an RFC 9420 Welcome (§12.4.3.1) addressed to one of
 * our KeyPackages: find our EncryptedGroupSecrets, decrypt GroupSecrets
 * with the init private key, run the key schedule to the welcome and
 * epoch secrets, decrypt the GroupInfo, verify its signature and its
 * confirmation tag, and derive the epoch_authenticator.
 */

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto.h"
#include "hpke.h"
#include "mls.h"
#include "tls.h"
#include "tree.h"
#include "welcome.h"

int
kp_egs_read(struct kp_rd *r, struct kp_egs *e)
{
	int	rc;

	if ((rc = kp_rd_span(r, &e->new_member)) != KP_OK ||
	    (rc = kp_rd_span(r, &e->kem_output)) != KP_OK ||
	    (rc = kp_rd_span(r, &e->ciphertext)) != KP_OK)
		return rc;
	return KP_OK;
}

/* kp_welcome_read: see welcome.h. */
int
kp_welcome_read(const uint8_t *buf, size_t len, struct kp_welcome_msg *w)
{
	struct kp_rd	r, s;
	struct kp_egs	e;
	uint16_t	version, wf;
	int		rc;

	if (buf == NULL && len > 0)
		return KP_EINVAL;
	if (len > KP_MAX_WELCOME)
		return KP_ETOOBIG;
	kp_rd_init(&r, buf, len);
	if ((rc = kp_rd_u16(&r, &version)) != KP_OK ||
	    (rc = kp_rd_u16(&r, &wf)) != KP_OK)
		return rc;
	if (version != KP_MLS10)
		return KP_EVERSION;
	if (wf != KP_WF_WELCOME)
		return KP_EWIREFMT;
	if ((rc = kp_rd_u16(&r, &w->suite)) != KP_OK ||
	    (rc = kp_rd_span(&r, &w->secrets)) != KP_OK ||
	    (rc = kp_rd_span(&r, &w->egi)) != KP_OK)
		return rc;
	if ((rc = kp_rd_end(&r)) != KP_OK)
		return rc;
	kp_rd_init(&s, w->secrets.p, w->secrets.n);
	while (kp_rd_left(&s) > 0)
		if ((rc = kp_egs_read(&s, &e)) != KP_OK)
			return kp_nested(rc);
	return KP_OK;
}

int
kp_psk_id_read(struct kp_rd *r, struct kp_psk_id *p)
{
	const uint8_t	*start = kp_rd_pos(r);
	int		 rc;

	memset(p, 0, sizeof(*p));
	if ((rc = kp_rd_u8(r, &p->type)) != KP_OK)
		return rc;
	switch (p->type) {
	case KP_PSK_EXTERNAL:
		if ((rc = kp_rd_span(r, &p->id)) != KP_OK)
			return rc;
		break;
	case KP_PSK_RESUMPTION:
		if ((rc = kp_rd_u8(r, &p->usage)) != KP_OK ||
		    (rc = kp_rd_span(r, &p->group_id)) != KP_OK ||
		    (rc = kp_rd_u64(r, &p->epoch)) != KP_OK)
			return rc;
		if (p->usage < 1 || p->usage > 3)
			return KP_EMALFORMED;
		break;
	default:
		return KP_EMALFORMED;
	}
	if ((rc = kp_rd_span(r, &p->nonce)) != KP_OK)
		return rc;
	p->raw.p = start;
	p->raw.n = (size_t)(kp_rd_pos(r) - start);
	return KP_OK;
}

int
kp_group_secrets_read(const uint8_t *buf, size_t len,
    struct kp_group_secrets *g)
{
	struct kp_rd	r, s;
	struct kp_psk_id	p;
	int		rc;

	memset(g, 0, sizeof(*g));
	kp_rd_init(&r, buf, len);
	if ((rc = kp_rd_span(&r, &g->joiner)) != KP_OK ||
	    (rc = kp_rd_u8(&r, &g->has_path)) != KP_OK)
		return rc;
	if (g->has_path > 1)
		return KP_EMALFORMED;
	if (g->has_path && (rc = kp_rd_span(&r, &g->path)) != KP_OK)
		return rc;
	if ((rc = kp_rd_span(&r, &g->psks)) != KP_OK)
		return rc;
	if ((rc = kp_rd_end(&r)) != KP_OK)
		return rc;
	kp_rd_init(&s, g->psks.p, g->psks.n);
	while (kp_rd_left(&s) > 0)
		if ((rc = kp_psk_id_read(&s, &p)) != KP_OK)
			return kp_nested(rc);
	return KP_OK;
}

int
kp_group_info_read(const uint8_t *buf, size_t len, struct kp_group_info *g)
{
	struct kp_rd	r;
	int		rc;

	memset(g, 0, sizeof(*g));
	kp_rd_init(&r, buf, len);
	if ((rc = kp_rd_u16(&r, &g->version)) != KP_OK ||
	    (rc = kp_rd_u16(&r, &g->suite)) != KP_OK ||
	    (rc = kp_rd_span(&r, &g->group_id)) != KP_OK ||
	    (rc = kp_rd_u64(&r, &g->epoch)) != KP_OK ||
	    (rc = kp_rd_span(&r, &g->tree_hash)) != KP_OK ||
	    (rc = kp_rd_span(&r, &g->cth)) != KP_OK ||
	    (rc = kp_rd_span(&r, &g->gc_exts)) != KP_OK)
		return rc;
	g->context.p = buf;
	g->context.n = r.off;
	if ((rc = kp_rd_span(&r, &g->exts)) != KP_OK ||
	    (rc = kp_rd_span(&r, &g->tag)) != KP_OK ||
	    (rc = kp_rd_u32(&r, &g->signer)) != KP_OK)
		return rc;
	g->tbs_len = r.off;
	if ((rc = kp_rd_span(&r, &g->sig)) != KP_OK)
		return rc;
	if ((rc = kp_rd_end(&r)) != KP_OK)
		return rc;
	if ((rc = kp_exts_check(g->gc_exts)) != KP_OK)
		return rc;
	return kp_exts_check(g->exts);
}

/* kp_psk_secret: see welcome.h. */
int
kp_psk_secret(const struct kp_suite *s, struct kp_span psks,
    const struct kp_psk *have, size_t nhave, uint8_t out[KP_HASH_LEN])
{
	struct kp_rd	 r;
	struct kp_psk_id	 p;
	struct kp_wb	 label;
	uint8_t		 ext[KP_HASH_LEN], in[KP_HASH_LEN], next[KP_HASH_LEN];
	const struct kp_psk *k;
	size_t		 count = 0, idx, j;
	int		 rc = KP_OK;

	memset(out, 0, KP_HASH_LEN);
	kp_rd_init(&r, psks.p, psks.n);
	while (kp_rd_left(&r) > 0) {
		if (kp_psk_id_read(&r, &p) != KP_OK)
			return KP_EMALFORMED;
		count++;
	}
	if (count > KP_MAX_PSKS || count > 0xffff)
		return KP_ETOOBIG;
	kp_rd_init(&r, psks.p, psks.n);
	kp_wb_init(&label, (size_t)1 << 20);
	for (idx = 0; idx < count; idx++) {
		if (kp_psk_id_read(&r, &p) != KP_OK) {
			rc = KP_EMALFORMED;
			goto out;
		}
		if (p.type != KP_PSK_EXTERNAL) {
			rc = KP_EPSK;
			goto out;
		}
		for (k = NULL, j = 0; j < nhave; j++)
			if (have[j].idlen == p.id.n &&
			    memcmp(have[j].id, p.id.p, p.id.n) == 0)
				k = &have[j];
		if (k == NULL) {
			rc = KP_EPSK;
			goto out;
		}
		label.len = 0;
		kp_wb_bytes(&label, p.raw.p, p.raw.n);
		kp_wb_u16(&label, (uint16_t)idx);
		kp_wb_u16(&label, (uint16_t)count);
		if ((rc = label.err) != KP_OK ||
		    (rc = kp_hkdf_extract(NULL, 0, k->psk, k->psklen, ext)) !=
		    KP_OK ||
		    (rc = kp_expand_with_label(ext, s->nh, "derived psk",
		    label.buf, label.len, in, s->nh)) != KP_OK ||
		    (rc = kp_hkdf_extract(in, s->nh, out, s->nh, next)) !=
		    KP_OK)
			goto out;
		memcpy(out, next, s->nh);
	}
out:
	if (rc != KP_OK)
		sodium_memzero(out, KP_HASH_LEN);
	kp_wb_free(&label);
	sodium_memzero(ext, sizeof(ext));
	sodium_memzero(in, sizeof(in));
	sodium_memzero(next, sizeof(next));
	return rc;
}

int
kp_welcome_refs(const uint8_t *welcome, size_t len, uint8_t **refs,
    size_t *n)
{
	struct kp_welcome_msg	 w;
	struct kp_rd	 s;
	struct kp_egs	 e;
	size_t		 count = 0, i;
	uint8_t		*out = NULL;
	int		 rc;

	*refs = NULL;
	*n = 0;
	if ((rc = kp_welcome_read(welcome, len, &w)) != KP_OK)
		goto out;
	kp_rd_init(&s, w.secrets.p, w.secrets.n);
	while (kp_rd_left(&s) > 0) {
		if (kp_egs_read(&s, &e) != KP_OK ||
		    e.new_member.n != KP_REF_LEN) {
			rc = KP_EMALFORMED;
			goto out;
		}
		count++;
	}
	if ((out = malloc(count * KP_REF_LEN + 1)) == NULL) {
		rc = KP_ENOMEM;
		goto out;
	}
	kp_rd_init(&s, w.secrets.p, w.secrets.n);
	for (i = 0; i < count; i++) {
		if (kp_egs_read(&s, &e) != KP_OK) {
			rc = KP_EMALFORMED;
			goto out;
		}
		memcpy(out + i * KP_REF_LEN, e.new_member.p, KP_REF_LEN);
	}
	*refs = out;
	*n = count;
	out = NULL;
out:
	free(out);
	return rc;
}

int
kp_welcome_open_ex(const uint8_t *welcome, size_t len, const uint8_t *kpbuf,
    size_t kplen, const uint8_t init_priv[KP_KEY_LEN],
    const uint8_t *signer_pub, size_t signer_pub_len, const uint8_t *tree,
    size_t treelen, const struct kp_psk *psks, size_t npsks,
    struct kp_welcome_info *info)
{
	struct kp_keypackage	*kp = NULL;
	const struct kp_suite	*suite;
	struct kp_welcome_msg		 w;
	struct kp_group_secrets	 gs;
	struct kp_group_info	 gi;
	struct kp_rd		 s;
	struct kp_egs		 e, mine;
	struct kp_span		 key, treeext, ours;
	struct kp_kpfields	 kpf;
	const uint8_t		*raw;
	size_t			 rawlen;
	uint8_t			*gsbuf = NULL, *gibuf = NULL;
	size_t			 gslen = 0, gilen = 0;
	uint8_t			 psk[KP_HASH_LEN], member[KP_HASH_LEN];
	uint8_t			 wsecret[KP_HASH_LEN], wkey[KP_AEAD_MAXKEY];
	uint8_t			 wnonce[KP_NONCE_LEN], epoch[KP_HASH_LEN];
	uint8_t			 confirm[KP_HASH_LEN], tag[KP_HASH_LEN];
	int			 found = 0, from_ext, rc;

	memset(info, 0, sizeof(*info));
	memset(&mine, 0, sizeof(mine));
	if (signer_pub != NULL && signer_pub_len != KP_SIGN_PK_LEN)
		return KP_EINVAL;
	if ((rc = kp_crypto_init()) != KP_OK)
		return rc;
	if ((rc = kp_welcome_read(welcome, len, &w)) != KP_OK)
		return rc;
	if ((suite = kp_suite_find(w.suite)) == NULL)
		return KP_ESUITE;
	if ((rc = kp_keypackage_decode(kpbuf, kplen, 1, &kp)) != KP_OK)
		goto out;
	if (kp_keypackage_suite(kp) != w.suite) {
		rc = KP_ENOTOURS;
		goto out;
	}
	kp_rd_init(&s, w.secrets.p, w.secrets.n);
	while (kp_rd_left(&s) > 0) {
		if (kp_egs_read(&s, &e) != KP_OK) {
			rc = KP_EMALFORMED;
			goto out;
		}
		if (e.new_member.n == KP_REF_LEN &&
		    memcmp(e.new_member.p, kp_keypackage_ref(kp),
		    KP_REF_LEN) == 0) {
			mine = e;
			found = 1;
			break;
		}
	}
	if (!found) {
		rc = KP_ENOTOURS;
		goto out;
	}

	/* GroupSecrets */
	if ((gsbuf = malloc(mine.ciphertext.n + 1)) == NULL) {
		rc = KP_ENOMEM;
		goto out;
	}
	if ((rc = kp_decrypt_with_label(suite, init_priv, "Welcome", w.egi.p,
	    w.egi.n, mine.kem_output.p, mine.kem_output.n, mine.ciphertext.p,
	    mine.ciphertext.n, gsbuf, &gslen)) != KP_OK)
		goto out;
	if ((rc = kp_group_secrets_read(gsbuf, gslen, &gs)) != KP_OK) {
		rc = kp_nested(rc);
		goto out;
	}
	if (gs.joiner.n != suite->nh) {
		rc = KP_EMALFORMED;
		goto out;
	}

	/* key schedule to the welcome secret */
	if ((rc = kp_psk_secret(suite, gs.psks, psks, npsks, psk)) != KP_OK)
		goto out;
	if ((rc = kp_hkdf_extract(gs.joiner.p, gs.joiner.n, psk, suite->nh,
	    member)) != KP_OK ||
	    (rc = kp_derive_secret(member, suite->nh, "welcome", wsecret)) !=
	    KP_OK ||
	    (rc = kp_expand_with_label(wsecret, suite->nh, "key", NULL, 0,
	    wkey, suite->nk)) != KP_OK ||
	    (rc = kp_expand_with_label(wsecret, suite->nh, "nonce", NULL, 0,
	    wnonce, suite->nn)) != KP_OK)
		goto out;

	/* GroupInfo */
	if (w.egi.n < KP_TAG_LEN) {
		rc = KP_EDECRYPT;
		goto out;
	}
	if ((gibuf = malloc(w.egi.n + 1)) == NULL) {
		rc = KP_ENOMEM;
		goto out;
	}
	if ((rc = kp_aead_open(suite->aead, wkey, wnonce, NULL, 0, w.egi.p,
	    w.egi.n, gibuf)) != KP_OK)
		goto out;
	gilen = w.egi.n - KP_TAG_LEN;
	if ((rc = kp_group_info_read(gibuf, gilen, &gi)) != KP_OK) {
		rc = kp_nested(rc);
		goto out;
	}
	if (gi.version != KP_MLS10) {
		rc = KP_EVERSION;
		goto out;
	}
	if (gi.suite != w.suite) {
		rc = KP_EMALFORMED;
		goto out;
	}

	/*
	 * The ratchet tree: the GroupInfo's extension, else the caller's.
	 * When there is one, it must be the group's, and the signer's leaf
	 * in it holds the key the signature is checked with; a signer_pub
	 * given as well must be that key.  Without a tree, signer_pub.
	 */
	from_ext = kp_exts_find(gi.exts, KP_EXT_RATCHET_TREE, &treeext);
	if (from_ext) {
		tree = treeext.p;
		treelen = treeext.n;
	}
	key.p = NULL;
	key.n = 0;
	if (tree != NULL) {
		raw = kp_keypackage_bytes(kp, &rawlen);
		kp_rd_init(&s, raw, rawlen);
		if ((rc = kp_kp_read(&s, &kpf)) != KP_OK)
			goto out;
		ours.p = kpf.leaf.start;
		ours.n = kpf.leaf.len;
		rc = kp_tree_verify(tree, treelen, gi.tree_hash, ours,
		    gi.group_id);
		if (from_ext)
			rc = kp_nested(rc);
		if (rc != KP_OK)
			goto out;
		info->tree_checked = 1;
		rc = kp_tree_signature_key(tree, treelen, gi.signer, &key);
		if (from_ext)
			rc = kp_nested(rc);
		if (rc == KP_ENOTFOUND || (rc == KP_OK && signer_pub != NULL &&
		    (key.n != signer_pub_len ||
		    memcmp(key.p, signer_pub, key.n) != 0)))
			rc = KP_EGISIG;
		if (rc != KP_OK)
			goto out;
	} else if (signer_pub != NULL) {
		key.p = signer_pub;
		key.n = signer_pub_len;
	}
	if (key.p != NULL) {
		if (kp_verify_with_label(key.p, key.n, "GroupInfoTBS", gibuf,
		    gi.tbs_len, gi.sig.p, gi.sig.n) != KP_OK) {
			rc = KP_EGISIG;
			goto out;
		}
		info->signature_checked = 1;
	}

	/* epoch secret, confirmation tag, epoch authenticator */
	if ((rc = kp_expand_with_label(member, suite->nh, "epoch",
	    gi.context.p, gi.context.n, epoch, suite->nh)) != KP_OK ||
	    (rc = kp_derive_secret(epoch, suite->nh, "confirm", confirm)) !=
	    KP_OK ||
	    (rc = kp_hmac(confirm, suite->nh, gi.cth.p, gi.cth.n, tag)) !=
	    KP_OK)
		goto out;
	if (gi.tag.n != suite->nh || sodium_memcmp(tag, gi.tag.p,
	    suite->nh) != 0) {
		rc = KP_ECONFIRM;
		goto out;
	}
	if ((rc = kp_derive_secret(epoch, suite->nh, "authentication",
	    info->epoch_authenticator)) != KP_OK)
		goto out;
	if ((info->group_id = malloc(gi.group_id.n + 1)) == NULL) {
		rc = KP_ENOMEM;
		goto out;
	}
	memcpy(info->group_id, gi.group_id.p, gi.group_id.n);
	info->group_id_len = gi.group_id.n;
	info->epoch = gi.epoch;
	info->suite = gi.suite;
	rc = KP_OK;
out:
	if (rc != KP_OK) {
		free(info->group_id);
		memset(info, 0, sizeof(*info));
	}
	kp_keypackage_free(kp);
	if (gsbuf != NULL) {
		sodium_memzero(gsbuf, mine.ciphertext.n);
		free(gsbuf);
	}
	if (gibuf != NULL) {
		sodium_memzero(gibuf, w.egi.n);
		free(gibuf);
	}
	sodium_memzero(psk, sizeof(psk));
	sodium_memzero(member, sizeof(member));
	sodium_memzero(wsecret, sizeof(wsecret));
	sodium_memzero(wkey, sizeof(wkey));
	sodium_memzero(wnonce, sizeof(wnonce));
	sodium_memzero(epoch, sizeof(epoch));
	sodium_memzero(confirm, sizeof(confirm));
	sodium_memzero(tag, sizeof(tag));
	return rc;
}

int
kp_welcome_open(const uint8_t *welcome, size_t len, const uint8_t *kp,
    size_t kplen, const uint8_t init_priv[KP_KEY_LEN],
    const uint8_t *signer_pub, size_t signer_pub_len,
    struct kp_welcome_info *info)
{
	return kp_welcome_open_ex(welcome, len, kp, kplen, init_priv,
	    signer_pub, signer_pub_len, NULL, 0, NULL, 0, info);
}

void
kp_welcome_info_free(struct kp_welcome_info *info)
{
	if (info == NULL)
		return;
	free(info->group_id);
	sodium_memzero(info, sizeof(*info));
}
