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

#define MAX_WELCOME	(1 << 20)	/* cap on a Welcome we parse */
#define MAX_PSKS	64

#define PSK_EXTERNAL	1
#define PSK_RESUMPTION	2

struct egs {
	struct kp_span	new_member, kem_output, ciphertext;
};

struct welcome {
	uint16_t	suite;
	struct kp_span	secrets;	/* body of secrets<V> */
	struct kp_span	egi;		/* encrypted_group_info */
};

struct psk_id {
	uint8_t		type;
	struct kp_span	id;		/* external psk_id */
	uint8_t		usage;		/* resumption */
	struct kp_span	group_id;
	uint64_t	epoch;
	struct kp_span	nonce;
	struct kp_span	raw;		/* the encoded PreSharedKeyID */
};

struct group_secrets {
	struct kp_span	joiner;
	uint8_t		has_path;
	struct kp_span	path;
	struct kp_span	psks;		/* body of psks<V> */
};

struct group_info {
	uint16_t	version, suite;
	struct kp_span	group_id;
	uint64_t	epoch;
	struct kp_span	tree_hash, cth, gc_exts;
	struct kp_span	context;	/* the encoded GroupContext */
	struct kp_span	exts, tag;
	uint32_t	signer;
	struct kp_span	sig;
	size_t		tbs_len;
};

static int
rd_egs(struct kp_rd *r, struct egs *e)
{
	int	rc;

	if ((rc = kp_rd_span(r, &e->new_member)) != KP_OK ||
	    (rc = kp_rd_span(r, &e->kem_output)) != KP_OK ||
	    (rc = kp_rd_span(r, &e->ciphertext)) != KP_OK)
		return rc;
	return KP_OK;
}

/* MLSMessage(Welcome): the header, the Welcome, nothing after. */
static int
welcome_read(const uint8_t *buf, size_t len, struct welcome *w)
{
	struct kp_rd	r, s;
	struct egs	e;
	uint16_t	version, wf;
	int		rc;

	if (buf == NULL && len > 0)
		return KP_EINVAL;
	if (len > MAX_WELCOME)
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
		if ((rc = rd_egs(&s, &e)) != KP_OK)
			return kp_nested(rc);
	return KP_OK;
}

static int
rd_psk_id(struct kp_rd *r, struct psk_id *p)
{
	const uint8_t	*start = kp_rd_pos(r);
	int		 rc;

	memset(p, 0, sizeof(*p));
	if ((rc = kp_rd_u8(r, &p->type)) != KP_OK)
		return rc;
	switch (p->type) {
	case PSK_EXTERNAL:
		if ((rc = kp_rd_span(r, &p->id)) != KP_OK)
			return rc;
		break;
	case PSK_RESUMPTION:
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

static int
group_secrets_read(const uint8_t *buf, size_t len, struct group_secrets *g)
{
	struct kp_rd	r, s;
	struct psk_id	p;
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
		if ((rc = rd_psk_id(&s, &p)) != KP_OK)
			return kp_nested(rc);
	return KP_OK;
}

static int
group_info_read(const uint8_t *buf, size_t len, struct group_info *g)
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

int
kp_group_info_check(const uint8_t *buf, size_t len)
{
	struct group_info	g;

	return group_info_read(buf, len, &g);
}

/* psk_secret of RFC 9420 §8.4 over the PSKs the GroupSecrets name. */
static int
psk_secret(const struct kp_suite *s, struct kp_span psks,
    const struct kp_psk *have, size_t nhave, uint8_t out[KP_HASH_LEN])
{
	struct kp_rd	 r;
	struct psk_id	 p;
	struct kp_wb	 label;
	uint8_t		 ext[KP_HASH_LEN], in[KP_HASH_LEN], next[KP_HASH_LEN];
	const struct kp_psk *k;
	size_t		 count = 0, idx, j;
	int		 rc = KP_OK;

	memset(out, 0, KP_HASH_LEN);
	kp_rd_init(&r, psks.p, psks.n);
	while (kp_rd_left(&r) > 0) {
		if (rd_psk_id(&r, &p) != KP_OK)
			return KP_EMALFORMED;
		count++;
	}
	if (count > MAX_PSKS || count > 0xffff)
		return KP_ETOOBIG;
	kp_rd_init(&r, psks.p, psks.n);
	kp_wb_init(&label, (size_t)1 << 20);
	for (idx = 0; idx < count; idx++) {
		if (rd_psk_id(&r, &p) != KP_OK) {
			rc = KP_EMALFORMED;
			goto out;
		}
		if (p.type != PSK_EXTERNAL) {
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
	struct welcome	 w;
	struct kp_rd	 s;
	struct egs	 e;
	size_t		 count = 0, i;
	uint8_t		*out = NULL;
	int		 rc;

	*refs = NULL;
	*n = 0;
	if ((rc = welcome_read(welcome, len, &w)) != KP_OK)
		goto out;
	kp_rd_init(&s, w.secrets.p, w.secrets.n);
	while (kp_rd_left(&s) > 0) {
		if (rd_egs(&s, &e) != KP_OK || e.new_member.n != KP_REF_LEN) {
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
		if (rd_egs(&s, &e) != KP_OK) {
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
	struct welcome		 w;
	struct group_secrets	 gs;
	struct group_info	 gi;
	struct kp_rd		 s;
	struct egs		 e, mine;
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
	if ((rc = welcome_read(welcome, len, &w)) != KP_OK)
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
		if (rd_egs(&s, &e) != KP_OK) {
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
	if ((rc = group_secrets_read(gsbuf, gslen, &gs)) != KP_OK) {
		rc = kp_nested(rc);
		goto out;
	}
	if (gs.joiner.n != suite->nh) {
		rc = KP_EMALFORMED;
		goto out;
	}

	/* key schedule to the welcome secret */
	if ((rc = psk_secret(suite, gs.psks, psks, npsks, psk)) != KP_OK)
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
	if ((rc = group_info_read(gibuf, gilen, &gi)) != KP_OK) {
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

int
kp_welcome_reencode(const uint8_t *buf, size_t len, uint8_t **out,
    size_t *outlen)
{
	struct welcome	w;
	struct kp_rd	s;
	struct egs	e;
	struct kp_wb	wb;
	size_t		mark;
	int		rc;

	kp_wb_init(&wb, MAX_WELCOME);
	if ((rc = welcome_read(buf, len, &w)) != KP_OK)
		goto out;
	kp_wb_u16(&wb, KP_MLS10);
	kp_wb_u16(&wb, KP_WF_WELCOME);
	kp_wb_u16(&wb, w.suite);
	mark = kp_wb_begin(&wb);
	kp_rd_init(&s, w.secrets.p, w.secrets.n);
	while (kp_rd_left(&s) > 0) {
		if (rd_egs(&s, &e) != KP_OK) {
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
	struct group_secrets	g;
	struct psk_id		p;
	struct kp_rd		s;
	struct kp_wb		wb;
	size_t			mark;
	int			rc;

	kp_wb_init(&wb, MAX_WELCOME);
	if ((rc = group_secrets_read(buf, len, &g)) != KP_OK)
		goto out;
	kp_wb_vec(&wb, g.joiner.p, g.joiner.n);
	kp_wb_u8(&wb, g.has_path);
	if (g.has_path)
		kp_wb_vec(&wb, g.path.p, g.path.n);
	mark = kp_wb_begin(&wb);
	kp_rd_init(&s, g.psks.p, g.psks.n);
	while (kp_rd_left(&s) > 0) {
		if (rd_psk_id(&s, &p) != KP_OK) {
			rc = KP_EMALFORMED;
			goto out;
		}
		kp_wb_u8(&wb, p.type);
		if (p.type == PSK_EXTERNAL)
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
	kp_wb_init(&gi, MAX_WELCOME);
	kp_wb_init(&gs, MAX_WELCOME);
	kp_wb_init(&w, MAX_WELCOME);
	kp_wb_init(&tree, MAX_WELCOME);
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
		kp_wb_u8(&gs, PSK_EXTERNAL);
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
		if ((rc = psk_secret(suite, body, &have, 1, psk)) != KP_OK)
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
