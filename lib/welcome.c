/* SPDX-License-Identifier: ISC */
/*
 * welcome.c: open an RFC 9420 Welcome (§12.4.3.1) addressed to one of
 * our KeyPackages: find our EncryptedGroupSecrets, decrypt GroupSecrets
 * with the init private key, run the key schedule to the welcome and
 * epoch secrets, decrypt the GroupInfo, check the ratchet tree
 * (tree.c, treepath.c), verify the GroupInfo signature and the
 * confirmation tag, and derive the epoch_authenticator.
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/*
 * kp_welcome_split: buf holds an MLSMessage(Welcome) of *wlen bytes and
 * then, if anything, a ratchet tree (a vector) of *treelen bytes.
 */
int
kp_welcome_split(const uint8_t *buf, size_t len, size_t *wlen,
    size_t *treelen)
{
	struct kp_rd	r;
	struct kp_span	sp;
	uint16_t	v;
	int		rc;

	*wlen = *treelen = 0;
	kp_rd_init(&r, buf, len);
	if ((rc = kp_rd_u16(&r, &v)) != KP_OK ||
	    (rc = kp_rd_u16(&r, &v)) != KP_OK ||
	    (rc = kp_rd_u16(&r, &v)) != KP_OK ||
	    (rc = kp_rd_span(&r, &sp)) != KP_OK ||
	    (rc = kp_rd_span(&r, &sp)) != KP_OK)
		return rc;
	*wlen = len - kp_rd_left(&r);
	if (kp_rd_left(&r) == 0)
		return KP_OK;
	if ((rc = kp_rd_span(&r, &sp)) != KP_OK)
		return rc;
	*treelen = len - *wlen - kp_rd_left(&r);
	return kp_rd_end(&r);
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

void
kp_welcome_state_free(struct kp_welcome_state *st)
{
	kp_keypackage_free(st->kp);
	if (st->gsbuf != NULL) {
		sodium_memzero(st->gsbuf, st->gscap);
		free(st->gsbuf);
	}
	if (st->gibuf != NULL) {
		sodium_memzero(st->gibuf, st->gicap);
		free(st->gibuf);
	}
	sodium_memzero(st, sizeof(*st));
}

/* The EncryptedGroupSecrets of w for kp; KP_ENOTOURS if none. */
static int
find_ours(const struct kp_welcome_msg *w, const struct kp_keypackage *kp,
    struct kp_egs *mine)
{
	struct kp_rd	s;
	struct kp_egs	e;

	kp_rd_init(&s, w->secrets.p, w->secrets.n);
	while (kp_rd_left(&s) > 0) {
		if (kp_egs_read(&s, &e) != KP_OK)
			return KP_EMALFORMED;
		if (e.new_member.n == KP_REF_LEN &&
		    memcmp(e.new_member.p, kp_keypackage_ref(kp),
		    KP_REF_LEN) == 0) {
			*mine = e;
			return KP_OK;
		}
	}
	return KP_ENOTOURS;
}

/* kp_welcome_decrypt: see welcome.h. */
int
kp_welcome_decrypt(const uint8_t *welcome, size_t len, const uint8_t *kpbuf,
    size_t kplen, const uint8_t init_priv[KP_KEY_LEN],
    const struct kp_psk *psks, size_t npsks, struct kp_welcome_state *st)
{
	struct kp_welcome_msg	 w;
	struct kp_egs		 mine;
	uint8_t			 psk[KP_HASH_LEN], wsecret[KP_HASH_LEN];
	uint8_t			 wkey[KP_AEAD_MAXKEY], wnonce[KP_NONCE_LEN];
	size_t			 gslen = 0;
	int			 rc;

	memset(st, 0, sizeof(*st));
	if ((rc = kp_crypto_init()) != KP_OK)
		return rc;
	if ((rc = kp_welcome_read(welcome, len, &w)) != KP_OK)
		return rc;
	if ((st->suite = kp_suite_find(w.suite)) == NULL)
		return KP_ESUITE;
	if ((rc = kp_keypackage_decode(kpbuf, kplen, 1, &st->kp)) != KP_OK)
		goto out;
	if (kp_keypackage_suite(st->kp) != w.suite) {
		rc = KP_ENOTOURS;
		goto out;
	}
	if ((rc = find_ours(&w, st->kp, &mine)) != KP_OK)
		goto out;

	/* GroupSecrets */
	st->gscap = mine.ciphertext.n + 1;
	if ((st->gsbuf = malloc(st->gscap)) == NULL) {
		rc = KP_ENOMEM;
		goto out;
	}
	if ((rc = kp_decrypt_with_label(st->suite, init_priv, "Welcome",
	    w.egi.p, w.egi.n, mine.kem_output.p, mine.kem_output.n,
	    mine.ciphertext.p, mine.ciphertext.n, st->gsbuf, &gslen)) != KP_OK)
		goto out;
	if ((rc = kp_group_secrets_read(st->gsbuf, gslen, &st->gs)) != KP_OK) {
		rc = kp_nested(rc);
		goto out;
	}
	if (st->gs.joiner.n != st->suite->nh) {
		rc = KP_EMALFORMED;
		goto out;
	}

	/* key schedule to the welcome secret */
	if ((rc = kp_psk_secret(st->suite, st->gs.psks, psks, npsks, psk)) !=
	    KP_OK)
		goto out;
	if ((rc = kp_hkdf_extract(st->gs.joiner.p, st->gs.joiner.n, psk,
	    st->suite->nh, st->member)) != KP_OK ||
	    (rc = kp_derive_secret(st->member, st->suite->nh, "welcome",
	    wsecret)) != KP_OK ||
	    (rc = kp_expand_with_label(wsecret, st->suite->nh, "key", NULL, 0,
	    wkey, st->suite->nk)) != KP_OK ||
	    (rc = kp_expand_with_label(wsecret, st->suite->nh, "nonce", NULL,
	    0, wnonce, st->suite->nn)) != KP_OK)
		goto out;

	/* GroupInfo */
	if (w.egi.n < KP_TAG_LEN) {
		rc = KP_EDECRYPT;
		goto out;
	}
	st->gicap = w.egi.n;
	if ((st->gibuf = malloc(st->gicap)) == NULL) {
		rc = KP_ENOMEM;
		goto out;
	}
	if ((rc = kp_aead_open(st->suite->aead, wkey, wnonce, NULL, 0,
	    w.egi.p, w.egi.n, st->gibuf)) != KP_OK)
		goto out;
	if ((rc = kp_group_info_read(st->gibuf, w.egi.n - KP_TAG_LEN,
	    &st->gi)) != KP_OK) {
		rc = kp_nested(rc);
		goto out;
	}
	if (st->gi.version != KP_MLS10)
		rc = KP_EVERSION;
	else if (st->gi.suite != w.suite)
		rc = KP_EMALFORMED;
out:
	if (rc != KP_OK)
		kp_welcome_state_free(st);
	sodium_memzero(psk, sizeof(psk));
	sodium_memzero(wsecret, sizeof(wsecret));
	sodium_memzero(wkey, sizeof(wkey));
	sodium_memzero(wnonce, sizeof(wnonce));
	return rc;
}

/* kp_welcome_confirm: see welcome.h. */
int
kp_welcome_confirm(const struct kp_welcome_state *st,
    struct kp_welcome_info *info)
{
	const struct kp_suite	*s = st->suite;
	const struct kp_group_info *gi = &st->gi;
	uint8_t			 epoch[KP_HASH_LEN], confirm[KP_HASH_LEN];
	uint8_t			 tag[KP_HASH_LEN];
	int			 rc;

	if ((rc = kp_expand_with_label(st->member, s->nh, "epoch",
	    gi->context.p, gi->context.n, epoch, s->nh)) != KP_OK ||
	    (rc = kp_derive_secret(epoch, s->nh, "confirm", confirm)) !=
	    KP_OK ||
	    (rc = kp_hmac(confirm, s->nh, gi->cth.p, gi->cth.n, tag)) != KP_OK)
		goto out;
	if (gi->tag.n != s->nh || sodium_memcmp(tag, gi->tag.p, s->nh) != 0) {
		rc = KP_ECONFIRM;
		goto out;
	}
	if ((rc = kp_derive_secret(epoch, s->nh, "authentication",
	    info->epoch_authenticator)) != KP_OK)
		goto out;
	if ((info->group_id = malloc(gi->group_id.n + 1)) == NULL) {
		rc = KP_ENOMEM;
		goto out;
	}
	memcpy(info->group_id, gi->group_id.p, gi->group_id.n);
	info->group_id_len = gi->group_id.n;
	info->epoch = gi->epoch;
	info->suite = gi->suite;
out:
	sodium_memzero(epoch, sizeof(epoch));
	sodium_memzero(confirm, sizeof(confirm));
	sodium_memzero(tag, sizeof(tag));
	return rc;
}

/*
 * The joiner's checks of the ratchet tree t (RFC 9420 §12.4.3.1): the
 * tree itself, the GroupInfo signature with the signer's leaf, then the
 * path_secret.
 */
static int
check_tree(const struct kp_welcome_state *st, const struct kp_tree *t,
    const struct kp_welcome_args *a)
{
	const struct kp_group_info *gi = &st->gi;
	struct kp_tree_want	 want;
	struct kp_kpfields	 f;
	struct kp_leaf		 signer;
	struct kp_rd		 r;
	const uint8_t		*raw;
	size_t			 rawlen;
	uint32_t		 ours;
	int			 rc;

	raw = kp_keypackage_bytes(st->kp, &rawlen);
	kp_rd_init(&r, raw, rawlen);
	if ((rc = kp_kp_read(&r, &f)) != KP_OK)
		return rc;
	memset(&want, 0, sizeof(want));
	want.tree_hash = gi->tree_hash;
	want.ours.p = f.leaf.start;
	want.ours.n = f.leaf.len;
	want.gid = gi->group_id;
	want.gc_exts = gi->gc_exts;
	want.now = a->now;
	want.any_lifetime = (a->flags & KP_WELCOME_ANY_LIFETIME) != 0;
	if ((rc = kp_tree_verify(t, &want, &ours)) != KP_OK)
		return rc;
	rc = kp_tree_leaf(t, gi->signer, &signer);
	if (rc == KP_ENOTFOUND)
		return KP_EGISIG;
	if (rc != KP_OK)
		return rc;
	if (kp_verify_with_label(signer.sig_key.p, signer.sig_key.n,
	    "GroupInfoTBS", st->gibuf, gi->tbs_len, gi->sig.p, gi->sig.n) !=
	    KP_OK)
		return KP_EGISIG;
	if (st->gs.has_path)
		return kp_tree_path_secret(t, ours, gi->signer, st->gs.path);
	return KP_OK;
}

/* kp_welcome_open_ex: see welcome.h. */
int
kp_welcome_open_ex(const uint8_t *welcome, size_t len, const uint8_t *kpbuf,
    size_t kplen, const uint8_t init_priv[KP_KEY_LEN],
    const struct kp_welcome_args *a, struct kp_welcome_info *info)
{
	struct kp_welcome_state	 st;
	struct kp_tree		 t;
	struct kp_span		 ext;
	const uint8_t		*tree = a->tree;
	size_t			 treelen = a->treelen;
	int			 from_ext, rc;

	memset(info, 0, sizeof(*info));
	memset(&t, 0, sizeof(t));
	if ((a->flags & ~KP_WELCOME_ANY_LIFETIME) != 0)
		return KP_EINVAL;
	if ((rc = kp_welcome_decrypt(welcome, len, kpbuf, kplen, init_priv,
	    a->psks, a->npsks, &st)) != KP_OK)
		return rc;

	/*
	 * The ratchet tree: the GroupInfo's extension, else the caller's;
	 * a joiner cannot check the GroupInfo without one (§12.4.3.1).  A
	 * nested tree that does not fit its extension is KP_EMALFORMED.
	 */
	if ((from_ext = kp_exts_find(st.gi.exts, KP_EXT_RATCHET_TREE,
	    &ext))) {
		tree = ext.p;
		treelen = ext.n;
	}
	if (tree == NULL) {
		rc = KP_ENOTREE;
		goto out;
	}
	if ((rc = kp_tree_load(tree, treelen, &t)) != KP_OK) {
		if (from_ext)
			rc = kp_nested(rc);
		goto out;
	}
	if ((rc = check_tree(&st, &t, a)) != KP_OK ||
	    (rc = kp_welcome_confirm(&st, info)) != KP_OK)
		goto out;
	info->signature_checked = 1;
	info->tree_checked = 1;
out:
	if (rc != KP_OK)
		kp_welcome_info_free(info);
	kp_tree_free(&t);
	kp_welcome_state_free(&st);
	return rc;
}

int
kp_welcome_open(const uint8_t *welcome, size_t len, const uint8_t *kp,
    size_t kplen, const uint8_t init_priv[KP_KEY_LEN], const uint8_t *tree,
    size_t treelen, int flags, struct kp_welcome_info *info)
{
	struct kp_welcome_args	a;

	memset(&a, 0, sizeof(a));
	a.tree = tree;
	a.treelen = treelen;
	a.now = (uint64_t)time(NULL);
	a.flags = flags;
	return kp_welcome_open_ex(welcome, len, kp, kplen, init_priv, &a,
	    info);
}

void
kp_welcome_info_free(struct kp_welcome_info *info)
{
	if (info == NULL)
		return;
	free(info->group_id);
	sodium_memzero(info, sizeof(*info));
}
