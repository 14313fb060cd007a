/* SPDX-License-Identifier: ISC */
/*
 * fuzz/welcome-inner: libFuzzer target for what lies past the HPKE of a
 * Welcome: the GroupSecrets, the GroupInfo and the ratchet tree a joiner
 * decrypts, through the whole of kp_welcome_open (kp_welcome_open_ex,
 * with a fixed time).
 *
 * The harness holds a KeyPackage and its init key, made once.  Each input
 * describes a Welcome for it: the group (suite, leaves, committer, blank
 * leaves, kp_welcome_build flags), then edits of the plaintexts, which
 * kp_welcome_build_ex applies through its hook before it hashes the tree
 * into the GroupContext, signs the GroupInfo, computes the confirmation
 * tag and encrypts it all with the real keys.  So a mutated tree, parent
 * hash, unmerged list, leaf, path_secret or GroupContext extension meets
 * the joiner's checks themselves, not a failed decryption.
 *
 * Input: byte 0: bit 0 suite 3 (else 1), bits 1-2 leaves (2, 4, 8, 16),
 * bit 3 the tree beside the Welcome, bit 4 the members' leaves signed
 * again after the edits, bit 5 KP_WELCOME_ANY_LIFETIME; byte 1 the
 * committer's leaf (modulo leaves); bytes 2-3 blank leaves; bytes 4-7
 * kp_welcome_build flags.  Then edits, each an op byte (target in bits
 * 6-7: tree, GroupSecrets, GroupContext extensions, signer; kind in bits
 * 0-2: xor, set, insert, delete, replace), a 2-byte offset, a length
 * byte and, for insert and replace, that many bytes.
 *
 * Oracles: a Welcome built with no flag and no edit opens; one built with
 * one bad-twin flag and no edit is refused with its code; one that opens
 * names the group it was made for.  RNG: libsodium's, replaced by a
 * ChaCha20 stream restarted for each input, so that an input always
 * builds the same Welcome.
 */

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "kpool.h"
#include "crypto.h"
#include "kptest.h"
#include "tls.h"
#include "welcome.h"

#define NOW		1700000000ULL
#define GID		"fuzz-group"
#define MAX_EDITS	32

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A deterministic RNG: ChaCha20 under a fixed key, one nonce a call. */
static uint64_t	rng_calls;

static const char *
rng_name(void)
{
	return "fuzz-chacha20";
}

static void
rng_buf(void * const buf, const size_t size)
{
	static const uint8_t	key[crypto_stream_chacha20_KEYBYTES] = { 7 };
	uint8_t			nonce[crypto_stream_chacha20_NONCEBYTES];

	memset(nonce, 0, sizeof(nonce));
	memcpy(nonce, &rng_calls, sizeof(rng_calls));
	rng_calls++;
	crypto_stream_chacha20(buf, size, nonce, key);
}

static uint32_t
rng_random(void)
{
	uint32_t	v;

	rng_buf(&v, sizeof(v));
	return v;
}

static randombytes_implementation rng = {
	rng_name, rng_random, NULL, NULL, rng_buf, NULL
};

/* The joiner: KeyPackages of both suites and their init keys. */
static uint8_t			*kps[2];
static size_t			 kplens[2];
static struct kp_kpsecrets	 secs[2];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const uint16_t	 creds[] = { KP_CRED_BASIC };
	struct kp_kpopts	 o;
	uint8_t			 seed[32] = { 1 }, ref[KP_REF_LEN];
	int			 i;

	(void)argc;
	(void)argv;
	if (randombytes_set_implementation(&rng) != 0 || sodium_init() < 0)
		abort();
	for (i = 0; i < 2; i++) {
		memset(&o, 0, sizeof(o));
		o.suite = i ? KP_SUITE_X25519_CHACHA20 :
		    KP_SUITE_X25519_AES128GCM;
		o.identity = (const uint8_t *)"fuzz-joiner";
		o.identity_len = 11;
		o.not_before = NOW - 86400;
		o.not_after = NOW + 86400;
		o.cap_credentials = creds;
		o.ncap_credentials = 1;
		if (kp_keypackage_generate(&o, seed, &kps[i], &kplens[i], ref,
		    &secs[i]) != KP_OK)
			abort();
	}
	return 0;
}

/* One edit of a plaintext. */
struct edit {
	uint8_t		 target, kind;
	size_t		 off, len;
	const uint8_t	*data;
};

struct program {
	struct edit	e[MAX_EDITS];
	size_t		n;
	int		resign;		/* sign the members' leaves again */
};

/* Apply e to the buffer w. */
static void
apply(struct kp_wb *w, const struct edit *e)
{
	struct kp_wb	 nw;
	size_t		 off, n;

	if (w->err != KP_OK)
		return;
	off = w->len == 0 ? 0 : e->off % (w->len + 1);
	switch (e->kind) {
	case 0:		/* xor a byte */
	case 1:		/* set a byte */
		if (off < w->len)
			w->buf[off] = e->kind == 0 ?
			    (uint8_t)(w->buf[off] ^ e->len) : (uint8_t)e->len;
		return;
	case 2:		/* insert */
	case 4:		/* replace all */
		kp_wb_init(&nw, KP_MAX_WELCOME);
		if (e->kind == 2)
			kp_wb_bytes(&nw, w->buf, off);
		kp_wb_bytes(&nw, e->data, e->len);
		if (e->kind == 2)
			kp_wb_bytes(&nw, w->buf + off, w->len - off);
		break;
	case 3:		/* delete */
		n = e->len < w->len - off ? e->len : w->len - off;
		memmove(w->buf + off, w->buf + off + n, w->len - off - n);
		w->len -= n;
		return;
	default:
		return;
	}
	if (nw.err == KP_OK) {
		w->len = 0;
		kp_wb_bytes(w, nw.buf, nw.len);
	}
	kp_wb_free(&nw);
}

/* The hook of kp_welcome_build_ex: run the program. */
static int
hook(void *ctx, struct kp_wb_parts *parts)
{
	const struct program	*p = ctx;
	struct kp_wb		*w[3] = { parts->tree, parts->gs,
				    parts->gc_exts };
	size_t			 i;

	for (i = 0; i < p->n; i++) {
		if (p->e[i].target == 3)
			*parts->signer = (uint32_t)p->e[i].off;
		else
			apply(w[p->e[i].target], &p->e[i]);
	}
	parts->resign = p->resign;
	return KP_OK;
}

/* The code each bad-twin flag, alone and unedited, must give. */
static int
twin_code(int flags, int any)
{
	static const struct {
		int	flag, code;
	} t[] = {
		{ KP_WB_BAD_TAG, KP_ECONFIRM },
		{ KP_WB_PSK, KP_EPSK },
		{ KP_WB_TREE_CUT, KP_EMALFORMED },
		{ KP_WB_TREE_TRAIL, KP_EMALFORMED },
		{ KP_WB_GI_TRAIL, KP_EMALFORMED },
		{ KP_WB_GS_TRAIL, KP_EMALFORMED },
		{ KP_WB_NO_TREE, KP_ENOTREE },
		{ KP_WB_TREE_BADLEAF, KP_ELEAFSIG },
		{ KP_WB_TREE_OTHER, KP_EGISIG },
		{ KP_WB_TREE_DUP, KP_ETREE },
		{ KP_WB_TREE_BADUNMERGED, KP_ETREE },
		{ KP_WB_BAD_PARENT_HASH, KP_EPARENTHASH },
		{ KP_WB_BAD_PATH_SECRET, KP_EPATHSECRET },
		{ KP_WB_X509_MEMBER, KP_ECREDTYPE },
		{ KP_WB_UNLISTED_EXT, KP_ECAPS },
		{ KP_WB_GREASE_EXT, KP_ECAPS },
		{ KP_WB_EXPIRED, KP_EEXPIRED },
		{ KP_WB_NOTYET, KP_ENOTYET },
		{ KP_WB_REQCAPS, KP_ECAPS },
		{ KP_WB_BAD_GISIG, KP_EGISIG },
		{ KP_WB_LATE_HIDDEN, KP_EPARENTHASH },
	};
	size_t	i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (flags == t[i].flag)
			return any && (flags & (KP_WB_EXPIRED |
			    KP_WB_NOTYET)) ? KP_OK : t[i].code;
	return 1;	/* no single twin: no expectation */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kp_welcome_info	 info;
	struct kp_welcome_args	 wa;
	struct kp_wb_args	 a;
	struct program		 prog;
	struct kp_rd		 r;
	uint8_t			 op, lb, seed[32];
	uint8_t			*w = NULL, *tree = NULL;
	uint16_t		 off, blank;
	size_t			 wl = 0, tl = 0;
	int			 cs, beside, any, rc, want, flags;

	if (size < 8)
		return 0;
	rng_calls = 0;
	cs = data[0] & 1;
	beside = (data[0] >> 3) & 1;
	any = (data[0] >> 5) & 1;
	blank = (uint16_t)(data[2] << 8 | data[3]);
	flags = (int)((uint32_t)data[4] << 24 | (uint32_t)data[5] << 16 |
	    (uint32_t)data[6] << 8 | data[7]) & 0x1ffffff;
	memset(&prog, 0, sizeof(prog));
	kp_rd_init(&r, data + 8, size - 8);
	while (prog.n < MAX_EDITS && kp_rd_u8(&r, &op) == KP_OK &&
	    kp_rd_u16(&r, &off) == KP_OK && kp_rd_u8(&r, &lb) == KP_OK) {
		struct edit	*e = &prog.e[prog.n];

		e->target = (uint8_t)((op >> 6) % 4);
		e->kind = op & 7;
		e->off = off;
		e->len = lb;
		if (e->kind == 2 || e->kind == 4) {
			if (kp_rd_left(&r) < lb)
				break;
			e->data = kp_rd_pos(&r);
			r.off += lb;
		}
		prog.n++;
	}
	prog.resign = (data[0] >> 4) & 1;

	memset(seed, 0x5e, sizeof(seed));
	memset(&a, 0, sizeof(a));
	a.kp = kps[cs];
	a.kplen = kplens[cs];
	a.group_id = (const uint8_t *)GID;
	a.gidlen = sizeof(GID) - 1;
	a.epoch = 9;
	a.seed = seed;
	a.leaves = 2U << ((data[0] >> 1) & 3);
	a.signer = data[1] % a.leaves;
	a.blank = blank;
	a.now = NOW;
	a.flags = flags | (beside ? KP_WB_NO_TREE : 0);
	a.hook = prog.n > 0 ? hook : NULL;
	a.ctx = &prog;
	if (kp_welcome_build_ex(&a, &w, &wl, &tree, &tl) != KP_OK)
		return 0;
	memset(&wa, 0, sizeof(wa));
	if (beside) {
		wa.tree = tree;
		wa.treelen = tl;
	}
	wa.now = NOW;
	wa.flags = any ? KP_WELCOME_ANY_LIFETIME : 0;
	rc = kp_welcome_open_ex(w, wl, kps[cs], kplens[cs], secs[cs].init_priv,
	    &wa, &info);
	if (rc == KP_OK) {
		if (info.group_id_len != sizeof(GID) - 1 ||
		    memcmp(info.group_id, GID, sizeof(GID) - 1) != 0 ||
		    info.epoch != 9)
			abort();
		kp_welcome_info_free(&info);
	}
	if (prog.n == 0) {
		/* the builder's Welcomes are what the joiner expects */
		want = flags == 0 || (beside && flags == KP_WB_NO_TREE) ?
		    KP_OK : twin_code(flags, any);
		if (want != 1 && rc != want)
			abort();
	}
	free(w);
	free(tree);
	return 0;
}
