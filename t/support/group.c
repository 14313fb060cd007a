/* SPDX-License-Identifier: ISC */
/*
 * group.c: the ratchet tree a committer sends with a Welcome, for the
 * tests and the fuzzers (kp_welcome_build_ex): the members' leaves, the
 * committer's path with its path secrets and parent hashes (RFC 9420
 * §7.4, §7.9), and the bad twins of kptest.h.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "crypto.h"
#include "hpke.h"
#include "kptest.h"
#include "mls.h"
#include "tls.h"
#include "tree.h"
#include "welcome.h"

#define MAX_LEAVES	32
#define MAX_NODES	(2 * MAX_LEAVES - 1)
#define DAY		86400
#define LATE		(KP_WB_LATE_MEMBER | KP_WB_LATE_HIDDEN)

/* A parent node of the tree being built. */
struct pnode {
	int		present;
	uint8_t		enc[KP_KEY_LEN];
	uint8_t		ph[KP_HASH_LEN];
	size_t		phlen;
	int		nunmerged;	/* 0 or 1 */
	uint32_t	unmerged;
};

/* A tree being built. */
struct plan {
	const struct kp_wb_args	*a;
	struct kp_group_plan	*g;
	uint16_t	 suite;
	uint64_t	 now;
	size_t		 leaves;
	uint32_t	 s, j, o;	/* committer, joiner, the member beside
					   the joiner */
	uint8_t		*leaf[MAX_LEAVES];	/* encoded LeafNodes */
	size_t		 leaflen[MAX_LEAVES];
	struct pnode	 node[MAX_NODES];	/* at odd indexes */
};

/* What a member's LeafNode holds beyond its keys and credential. */
struct leafspec {
	uint8_t		 source;
	uint64_t	 nb, na;
	const uint8_t	*ph;
	size_t		 phlen;
	int		 x509;
	const uint8_t	*exts;
	size_t		 extslen;
};

/* Leaf i's encoding: a LeafNode signed with g->seeds[i] (RFC 9420 §7.2). */
static int
leaf_encode(struct plan *pl, uint32_t i, const struct leafspec *ls)
{
	static const uint8_t	 mls10[2] = { 0x00, 0x01 };
	static const uint8_t	 basic[2] = { 0x00, 0x01 };
	static const uint8_t	 both[4] = { 0x00, 0x01, 0x00, 0x02 };
	struct kp_leaf		 l;
	struct kp_wb		 w, tbs;
	uint8_t			 pk[KP_SIGN_PK_LEN], sk[KP_SIGN_SK_LEN];
	uint8_t			 esk[KP_KEY_LEN], epk[KP_KEY_LEN];
	uint8_t			 sig[KP_SIG_LEN], suite[2], cred[64];
	char			 id[32];
	size_t			 credlen, idlen;
	int			 rc;

	kp_wb_init(&w, KP_MAX_KEYPACKAGE);
	kp_wb_init(&tbs, KP_MAX_KEYPACKAGE);
	memset(&l, 0, sizeof(l));
	crypto_sign_seed_keypair(pk, sk, pl->g->seeds[i]);
	/* an encryption key of its own for each source */
	crypto_generichash(esk, sizeof(esk), pl->g->seeds[i], 32,
	    &ls->source, 1);
	crypto_scalarmult_base(epk, esk);
	idlen = (size_t)snprintf(id, sizeof(id), "%s-%u",
	    ls->x509 ? "cert" : "member", i);
	cred[0] = 0x00;
	if (ls->x509) {		/* certificates<V> of one "cert-i" */
		cred[1] = KP_CRED_X509;
		cred[2] = (uint8_t)(idlen + 1);
		cred[3] = (uint8_t)idlen;
		memcpy(cred + 4, id, idlen);
		credlen = 4 + idlen;
	} else {
		cred[1] = KP_CRED_BASIC;
		cred[2] = (uint8_t)idlen;
		memcpy(cred + 3, id, idlen);
		credlen = 3 + idlen;
	}
	suite[0] = (uint8_t)(pl->suite >> 8);
	suite[1] = (uint8_t)pl->suite;
	l.enc_key.p = epk;
	l.enc_key.n = sizeof(epk);
	l.sig_key.p = pk;
	l.sig_key.n = sizeof(pk);
	l.cred.p = cred;
	l.cred.n = credlen;
	l.cap_versions.p = mls10;
	l.cap_versions.n = sizeof(mls10);
	l.cap_suites.p = suite;
	l.cap_suites.n = sizeof(suite);
	l.cap_creds.p = ls->x509 ? both : basic;
	l.cap_creds.n = ls->x509 ? sizeof(both) : sizeof(basic);
	l.source = ls->source;
	l.not_before = ls->nb;
	l.not_after = ls->na;
	l.parent_hash.p = ls->ph;
	l.parent_hash.n = ls->phlen;
	l.exts.p = ls->exts;
	l.exts.n = ls->extslen;
	/* the fields and an empty signature, which the real one replaces */
	if ((rc = kp_leaf_write(&w, &l, NULL)) != KP_OK)
		goto out;
	w.len--;
	kp_wb_bytes(&tbs, w.buf, w.len);
	if (ls->source != KP_LEAF_KEY_PACKAGE) {
		kp_wb_vec(&tbs, pl->a->group_id, pl->a->gidlen);
		kp_wb_u32(&tbs, i);
	}
	if ((rc = tbs.err) != KP_OK ||
	    (rc = kp_sign_with_label(sk, KP_LEAF_SIG_LABEL, tbs.buf, tbs.len,
	    sig)) != KP_OK)
		goto out;
	kp_wb_vec(&w, sig, sizeof(sig));
	free(pl->leaf[i]);
	pl->leaf[i] = NULL;
	rc = kp_wb_finish(&w, &pl->leaf[i], &pl->leaflen[i]);
out:
	kp_wb_free(&w);
	kp_wb_free(&tbs);
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(esk, sizeof(esk));
	return rc;
}

/* The serialized tree: nodes up to the last non-blank one. */
static int
serialize(const struct plan *pl, struct kp_wb *t)
{
	size_t	i, count = 0, mark;

	for (i = 0; i < 2 * pl->leaves - 1; i++)
		if (i % 2 == 0 ? pl->leaf[i / 2] != NULL : pl->node[i].present)
			count = i + 1;
	t->len = 0;
	mark = kp_wb_begin(t);
	for (i = 0; i < count; i++) {
		if (i % 2 == 0 && pl->leaf[i / 2] != NULL) {
			kp_wb_u16(t, 0x0101);
			kp_wb_bytes(t, pl->leaf[i / 2], pl->leaflen[i / 2]);
		} else if (i % 2 == 1 && pl->node[i].present) {
			kp_wb_u16(t, 0x0102);
			kp_wb_vec(t, pl->node[i].enc, KP_KEY_LEN);
			kp_wb_vec(t, pl->node[i].ph, pl->node[i].phlen);
			kp_wb_u8(t, (uint8_t)(4 * pl->node[i].nunmerged));
			if (pl->node[i].nunmerged)
				kp_wb_u32(t, pl->node[i].unmerged);
		} else
			kp_wb_u8(t, 0);
	}
	kp_wb_end(t, mark);
	return t->err;
}

/* 1 when a non-blank node is under node x. */
static int
covered(const struct plan *pl, size_t x)
{
	size_t	half = ((size_t)1 << kp_tree_level(x)) - 1, y;

	for (y = x - half; y <= x + half; y++)
		if (y % 2 == 0 ? pl->leaf[y / 2] != NULL : pl->node[y].present)
			return 1;
	return 0;
}

/* H(ParentHashInput {enc, ph, sibling}) (RFC 9420 §7.9). */
static void
parent_hash(const uint8_t *enc, const uint8_t *ph, size_t phlen,
    const uint8_t *sibling, uint8_t out[KP_HASH_LEN])
{
	uint8_t	buf[1 + KP_KEY_LEN + 1 + KP_HASH_LEN + 1 + KP_HASH_LEN];
	size_t	n = 0;

	buf[n++] = KP_KEY_LEN;
	memcpy(buf + n, enc, KP_KEY_LEN);
	n += KP_KEY_LEN;
	buf[n++] = (uint8_t)phlen;
	memcpy(buf + n, ph, phlen);
	n += phlen;
	buf[n++] = KP_HASH_LEN;
	memcpy(buf + n, sibling, KP_HASH_LEN);
	n += KP_HASH_LEN;
	crypto_hash_sha256(out, buf, n);
}

/* A parent node with a fresh key and no parent_hash yet. */
static void
fresh_parent(struct pnode *p)
{
	uint8_t	sk[KP_KEY_LEN];

	memset(p, 0, sizeof(*p));
	p->present = 1;
	randombytes_buf(sk, sizeof(sk));
	crypto_scalarmult_base(p->enc, sk);
	sodium_memzero(sk, sizeof(sk));
}

/*
 * The members' leaves, all but the committer's: the joiner's from its
 * KeyPackage, the others key_package leaves; o's changed as the member
 * flags and KP_WB_TREE_UNMERGED ask.
 */
static int
members(struct plan *pl, const struct kp_kpfields *jf)
{
	static const uint8_t	 unlisted[] = { 0xff, 0x0e, 0x01, 0x01 };
	static const uint8_t	 grease[] = { 0x1a, 0x1a, 0x00 };
	const struct kp_wb_args	*a = pl->a;
	struct leafspec		 ls;
	struct pnode		*p;
	uint8_t			 bh[KP_HASH_LEN], ph[KP_HASH_LEN];
	uint32_t		 i;
	int			 rc;

	for (i = 0; i < pl->leaves; i++) {
		if (i == pl->s || (i != pl->j && (a->blank & (1U << i)) != 0) ||
		    (i == (pl->s ^ 1) && (a->flags & LATE) != 0))
			continue;
		if (i == pl->j || (i == pl->o &&
		    (a->flags & KP_WB_TREE_DUP) != 0)) {
			if ((pl->leaf[i] = malloc(jf->leaf.len)) == NULL)
				return KP_ENOMEM;
			memcpy(pl->leaf[i], jf->leaf.start, jf->leaf.len);
			pl->leaflen[i] = jf->leaf.len;
			continue;
		}
		memset(&ls, 0, sizeof(ls));
		ls.source = KP_LEAF_KEY_PACKAGE;
		ls.nb = pl->now - DAY / 2;
		ls.na = pl->now + DAY / 2;
		if (i == pl->o) {
			ls.x509 = (a->flags & KP_WB_X509_MEMBER) != 0;
			if (a->flags & KP_WB_UNLISTED_EXT) {
				ls.exts = unlisted;
				ls.extslen = sizeof(unlisted);
			} else if (a->flags & KP_WB_GREASE_EXT) {
				ls.exts = grease;
				ls.extslen = sizeof(grease);
			}
			if (a->flags & KP_WB_EXPIRED) {
				ls.nb = pl->now - DAY;
				ls.na = pl->now - 3600;
			} else if (a->flags & KP_WB_NOTYET) {
				ls.nb = pl->now + 3600;
				ls.na = pl->now + DAY;
			}
		}
		if (i == pl->o && (a->flags & KP_WB_TREE_UNMERGED) != 0) {
			/*
			 * o's earlier path set the parent of o and the
			 * joiner, which came later: it is unmerged there,
			 * and blank in the sibling hash o's leaf signs.
			 */
			p = &pl->node[kp_tree_ancestor(2 * pl->j, 1)];
			fresh_parent(p);
			randombytes_buf(p->ph, KP_HASH_LEN);
			p->phlen = KP_HASH_LEN;
			p->nunmerged = 1;
			p->unmerged = pl->j;
			kp_tree_blank_leaf_hash(pl->j, bh);
			parent_hash(p->enc, p->ph, p->phlen, bh, ph);
			ls.source = KP_LEAF_COMMIT;
			ls.ph = ph;
			ls.phlen = sizeof(ph);
		}
		if ((rc = leaf_encode(pl, i, &ls)) != KP_OK)
			return rc;
	}
	return KP_OK;
}

/*
 * The committer's path (RFC 9420 §7.4, §7.5): each node of its filtered
 * direct path gets the key of a path secret, the parent hashes chain
 * them from the root down to the committer's new leaf (§7.9), and the
 * joiner gets the path secret of its common ancestor with the
 * committer.  Without a path the committer keeps a key_package leaf.
 */
static int
commit(struct plan *pl)
{
	const struct kp_wb_args	*a = pl->a;
	struct leafspec		 ls;
	struct kp_wb		 t;
	uint8_t			 ps[MAX_LEAVES][KP_HASH_LEN];
	uint8_t			 node[KP_HASH_LEN], sk[KP_KEY_LEN];
	uint8_t			 ph[KP_HASH_LEN], *h = NULL;
	size_t			 f[MAX_LEAVES], sib[MAX_LEAVES], nf = 0, k, w;
	size_t			 x = 2 * (size_t)pl->s, c, an, lca;
	unsigned		 l;
	int			 rc;

	kp_wb_init(&t, KP_MAX_WELCOME);
	memset(&ls, 0, sizeof(ls));
	ls.source = KP_LEAF_KEY_PACKAGE;
	ls.nb = pl->now - DAY / 2;
	ls.na = pl->now + DAY / 2;
	/* the committer's leaf as it was: all of it when there is no path */
	if ((rc = leaf_encode(pl, pl->s, &ls)) != KP_OK ||
	    (a->flags & KP_WB_NO_PATH) != 0)
		goto out;
	for (l = 1; ((size_t)1 << l) <= pl->leaves; l++) {
		an = kp_tree_ancestor(x, l);
		c = kp_tree_ancestor(x, l - 1);
		pl->node[an].present = 0;
		if (covered(pl, c < an ? an + (an - c) : an - (c - an))) {
			sib[nf] = c < an ? an + (an - c) : an - (c - an);
			f[nf++] = an;
		}
	}
	randombytes_buf(ps[0], KP_HASH_LEN);
	for (k = 0; k < nf; k++) {
		if ((k > 0 && (rc = kp_derive_secret(ps[k - 1], KP_HASH_LEN,
		    "path", ps[k])) != KP_OK) ||
		    (rc = kp_derive_secret(ps[k], KP_HASH_LEN, "node", node)) !=
		    KP_OK ||
		    (rc = kp_hpke_derive_keypair(node, KP_HASH_LEN, sk,
		    pl->node[f[k]].enc)) != KP_OK)
			goto out;
		pl->node[f[k]].present = 1;
		pl->node[f[k]].phlen = 0;
		pl->node[f[k]].nunmerged = 0;
	}
	/* the siblings' tree hashes, the same before and after the path */
	if ((rc = serialize(pl, &t)) != KP_OK ||
	    (rc = kp_tree_hashes(t.buf, t.len, &h, &w)) != KP_OK)
		goto out;
	memset(ph, 0, sizeof(ph));
	for (k = nf; k-- > 0;) {
		struct pnode	*p = &pl->node[f[k]];

		if (k + 1 < nf) {
			memcpy(p->ph, ph, sizeof(ph));
			p->phlen = sizeof(ph);
		}
		parent_hash(p->enc, p->ph, p->phlen, h + sib[k] * KP_HASH_LEN,
		    ph);
	}
	ls.source = KP_LEAF_COMMIT;
	ls.ph = ph;
	ls.phlen = sizeof(ph);
	if ((rc = leaf_encode(pl, pl->s, &ls)) != KP_OK)
		goto out;
	/*
	 * The committer's neighbour joined after this path, so the path's
	 * nodes list it as unmerged; or do not, when it is hidden.
	 */
	if (a->flags & LATE) {
		memset(&ls, 0, sizeof(ls));
		ls.source = KP_LEAF_KEY_PACKAGE;
		ls.nb = pl->now - DAY / 2;
		ls.na = pl->now + DAY / 2;
		if ((rc = leaf_encode(pl, pl->s ^ 1, &ls)) != KP_OK)
			goto out;
		for (k = 0; k < nf && (a->flags & KP_WB_LATE_MEMBER); k++) {
			pl->node[f[k]].nunmerged = 1;
			pl->node[f[k]].unmerged = pl->s ^ 1;
		}
	}
	/* the joiner's path secret: its common ancestor is on the path */
	for (l = 1; kp_tree_ancestor(2 * (size_t)pl->j, l) !=
	    kp_tree_ancestor(x, l); l++)
		;
	lca = kp_tree_ancestor(x, l);
	for (k = 0; k < nf && f[k] != lca; k++)
		;
	if (k == nf) {
		rc = KP_EINVAL;
		goto out;
	}
	pl->g->has_path = 1;
	memcpy(pl->g->path_secret, ps[k], KP_HASH_LEN);
	if (a->flags & KP_WB_BAD_PATH_SECRET)
		randombytes_buf(pl->g->path_secret, KP_HASH_LEN);
	/* the twins that change the path */
	if (a->flags & KP_WB_BAD_PARENT_HASH) {
		if (pl->node[f[0]].phlen > 0)
			pl->node[f[0]].ph[KP_HASH_LEN - 1] ^= 0x01;
		else {
			pl->node[f[0]].ph[0] = 0x01;
			pl->node[f[0]].phlen = 1;
		}
	}
	if (a->flags & KP_WB_TREE_BADUNMERGED) {
		pl->node[f[nf - 1]].nunmerged = 1;
		pl->node[f[nf - 1]].unmerged = 0x7fffffff;
	}
out:
	if (rc == KP_OK && (a->flags & KP_WB_TREE_BADLEAF) != 0)
		pl->leaf[pl->s][pl->leaflen[pl->s] - 1] ^= 0x01;
	free(h);
	kp_wb_free(&t);
	sodium_memzero(ps, sizeof(ps));
	sodium_memzero(node, sizeof(node));
	sodium_memzero(sk, sizeof(sk));
	return rc;
}

int
kp_group_plan(const struct kp_wb_args *a, const struct kp_keypackage *kp,
    struct kp_group_plan *g)
{
	struct plan		*pl;
	struct kp_kpfields	 jf;
	struct kp_rd		 r;
	const uint8_t		*raw;
	size_t			 rawlen, i;
	uint8_t			 in[36];
	int			 rc;

	memset(g, 0, sizeof(*g));
	kp_wb_init(&g->tree, KP_MAX_WELCOME);
	if ((pl = calloc(1, sizeof(*pl))) == NULL)
		return KP_ENOMEM;
	pl->a = a;
	pl->g = g;
	pl->suite = kp_keypackage_suite(kp);
	pl->now = a->now != 0 ? a->now : (uint64_t)time(NULL);
	pl->leaves = a->leaves;
	if (pl->leaves == 0)
		for (pl->leaves = 4; pl->leaves <= a->signer; pl->leaves *= 2)
			;
	rc = KP_EINVAL;
	if (pl->leaves < 2 || pl->leaves > MAX_LEAVES ||
	    (pl->leaves & (pl->leaves - 1)) != 0 || a->signer >= pl->leaves)
		goto out;
	pl->s = a->signer;
	pl->j = pl->s < pl->leaves / 2 ? pl->leaves - 1 : pl->leaves / 2 - 1;
	pl->o = pl->j ^ 1;
	g->joiner = pl->j;
	if (pl->o == pl->s || (a->blank & (1U << pl->o)) != 0) {
		/* no member beside the joiner to change */
		if (a->flags & (KP_WB_MEMBER_ALL | KP_WB_TREE_DUP |
		    KP_WB_TREE_UNMERGED))
			goto out;
	}
	/* the committer's neighbour, who joins late, is someone else */
	if ((a->flags & LATE) != 0 && ((pl->s ^ 1) == pl->j ||
	    (pl->s ^ 1) == pl->o))
		goto out;
	if ((a->flags & KP_WB_NO_PATH) != 0 && (a->flags &
	    (KP_WB_BAD_PARENT_HASH | KP_WB_TREE_BADUNMERGED |
	    KP_WB_BAD_PATH_SECRET | LATE)) != 0)
		goto out;
	/* every leaf's seed: the committer's, or one derived from it */
	for (i = 0; i < pl->leaves; i++) {
		memcpy(in, a->seed, 32);
		in[32] = (uint8_t)(i >> 24);
		in[33] = (uint8_t)(i >> 16);
		in[34] = (uint8_t)(i >> 8);
		in[35] = (uint8_t)i;
		if (i == pl->s)
			memcpy(g->seeds[i], a->seed, 32);
		else
			crypto_generichash(g->seeds[i], 32, in, sizeof(in),
			    NULL, 0);
	}
	raw = kp_keypackage_bytes(kp, &rawlen);
	kp_rd_init(&r, raw, rawlen);
	if ((rc = kp_kp_read(&r, &jf)) != KP_OK ||
	    (rc = members(pl, &jf)) != KP_OK ||
	    (rc = commit(pl)) != KP_OK)
		goto out;
	rc = serialize(pl, &g->tree);
out:
	for (i = 0; i < MAX_LEAVES; i++)
		free(pl->leaf[i]);
	sodium_memzero(in, sizeof(in));
	free(pl);
	if (rc != KP_OK) {
		kp_wb_free(&g->tree);
		sodium_memzero(g, sizeof(*g));
	}
	return rc;
}

int
kp_group_resign(struct kp_wb *t, const struct kp_group_plan *g,
    const uint8_t *gid, size_t gidlen)
{
	struct kp_tree	 tr;
	struct kp_leaf	 l;
	struct kp_rd	 r;
	struct kp_wb	 out, tbs;
	uint8_t		 pk[32][KP_SIGN_PK_LEN], sk[KP_SIGN_SK_LEN];
	uint8_t		 sig[KP_SIG_LEN];
	size_t		 i, m, mark;
	int		 rc;

	if (kp_tree_load(t->buf, t->len, &tr) != KP_OK)
		return KP_OK;
	kp_wb_init(&out, KP_MAX_WELCOME);
	kp_wb_init(&tbs, KP_MAX_WELCOME);
	for (m = 0; m < 32; m++)
		crypto_sign_seed_keypair(pk[m], sk, g->seeds[m]);
	mark = kp_wb_begin(&out);
	for (i = 0; i < tr.count; i++) {
		if (tr.nodes[i].p == NULL) {
			kp_wb_u8(&out, 0);
			continue;
		}
		kp_wb_u8(&out, 1);
		kp_wb_u8(&out, i % 2 == 0 ? 1 : 2);
		kp_rd_init(&r, tr.nodes[i].p, tr.nodes[i].n);
		m = 32;
		if (i % 2 == 0 && kp_leaf_read(&r, &l) == KP_OK &&
		    l.sig_key.n == KP_SIGN_PK_LEN)
			for (m = 0; m < 32; m++)
				if (memcmp(l.sig_key.p, pk[m],
				    KP_SIGN_PK_LEN) == 0)
					break;
		if (m == 32) {
			kp_wb_bytes(&out, tr.nodes[i].p, tr.nodes[i].n);
			continue;
		}
		tbs.len = 0;
		kp_wb_bytes(&tbs, l.start, l.tbs_len);
		if (l.source != KP_LEAF_KEY_PACKAGE) {
			kp_wb_vec(&tbs, gid, gidlen);
			kp_wb_u32(&tbs, (uint32_t)(i / 2));
		}
		crypto_sign_seed_keypair(pk[m], sk, g->seeds[m]);
		if ((rc = tbs.err) != KP_OK ||
		    (rc = kp_sign_with_label(sk, KP_LEAF_SIG_LABEL, tbs.buf,
		    tbs.len, sig)) != KP_OK)
			goto out;
		kp_wb_bytes(&out, l.start, l.tbs_len);
		kp_wb_vec(&out, sig, sizeof(sig));
	}
	kp_wb_end(&out, mark);
	if ((rc = out.err) != KP_OK)
		goto out;
	t->len = 0;
	kp_wb_bytes(t, out.buf, out.len);
	rc = t->err;
out:
	kp_tree_free(&tr);
	kp_wb_free(&out);
	kp_wb_free(&tbs);
	sodium_memzero(sk, sizeof(sk));
	return rc;
}
