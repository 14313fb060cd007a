/* SPDX-License-Identifier: ISC */
/*
 * 0007-welcome-decode: the Welcome-side decoders on hand-made inputs,
 * each bad twin with its exact error: the MLSMessage(Welcome) header,
 * EncryptedGroupSecrets, the optional path_secret and the PreSharedKeyIDs
 * of a GroupSecrets, a GroupInfo and a ratchet tree.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpool.h"
#include "mls.h"
#include "tree.h"
#include "welcome.h"
#include "kptest.h"
#include "tap.h"

#define B32(x)	x x x x x x x x x x x x x x x x \
		x x x x x x x x x x x x x x x x
#define JOINER	"20" B32("11")		/* joiner_secret<V>, 32 bytes */
#define PATH	"20" B32("22")		/* path_secret<V> */
#define NONCE	"20" B32("33")		/* psk_nonce<V> */

/* kp_group_secrets_reencode of hex: want rc, and the bytes back on KP_OK. */
static void
gs(const char *hex, int want, const char *what)
{
	uint8_t	*b, *enc = NULL;
	size_t	 n, elen = 0;
	int	 rc;

	b = tap_unhex(hex, &n);
	rc = kp_group_secrets_reencode(b, n, &enc, &elen);
	is_int(rc, want, "GroupSecrets, %s: %s", what, kp_strerror(want));
	if (want == KP_OK && rc == KP_OK)
		is_blob(enc, elen, b, n, "GroupSecrets, %s: re-encodes", what);
	if (rc == KP_OK)
		free(enc);
	free(b);
}

static void
group_secrets(void)
{
	gs("", KP_ETRUNC, "empty");
	gs(JOINER "00" "00", KP_OK, "no path_secret, no PSKs");
	gs(JOINER "01" PATH "00", KP_OK, "a path_secret");
	gs(JOINER "02" PATH "00", KP_EMALFORMED, "optional flag 2");
	gs(JOINER "ff" "00", KP_EMALFORMED, "optional flag 0xff");
	gs(JOINER "01", KP_ETRUNC, "flag 1 and no path_secret");
	gs(JOINER "01" PATH, KP_ETRUNC, "no psks<V>");
	gs(JOINER "00" "00" "00", KP_ETRAILING, "a byte after the struct");
	gs("4020" B32("11") "00" "00", KP_EVARINT,
	    "joiner_secret length not minimal");
	/* external: type 1, psk_id<V> "psk", psk_nonce<V> */
	gs(JOINER "00" "26" "01" "0370736b" NONCE, KP_OK, "an external PSK");
	/* resumption: type 2, usage, psk_group_id<V>, psk_epoch, nonce */
	gs(JOINER "00" "2d" "02" "01" "0167" "0000000000000007" NONCE, KP_OK,
	    "a resumption PSK, usage application");
	gs(JOINER "00" "2d" "02" "03" "0167" "0000000000000007" NONCE, KP_OK,
	    "a resumption PSK, usage branch");
	gs(JOINER "00" "2d" "02" "00" "0167" "0000000000000007" NONCE,
	    KP_EMALFORMED, "resumption usage 0");
	gs(JOINER "00" "2d" "02" "04" "0167" "0000000000000007" NONCE,
	    KP_EMALFORMED, "resumption usage 4");
	gs(JOINER "00" "02" "00" "00", KP_EMALFORMED, "PSK type 0");
	gs(JOINER "00" "02" "03" "00", KP_EMALFORMED, "PSK type 3");
	gs(JOINER "00" "11" "01" "0370736b" "20" "3333333333333333333333",
	    KP_EMALFORMED, "a PSK cut inside psks<V>");
	gs(JOINER "00" "05" "01" "0370736b", KP_EMALFORMED,
	    "a PSK without its nonce");
}

/* kp_welcome_refs of hex: want rc and, on KP_OK, n refs. */
static void
refs(const char *hex, int want, size_t wantn, const char *what)
{
	uint8_t	*b, *r = NULL;
	size_t	 n, nr = 99;
	int	 rc;

	b = tap_unhex(hex, &n);
	rc = kp_welcome_refs(b, n, &r, &nr);
	is_int(rc, want, "Welcome, %s: %s", what, kp_strerror(want));
	if (want == KP_OK)
		is_int(nr, wantn, "Welcome, %s: %zu refs", what, wantn);
	else
		ok(r == NULL && nr == 0, "Welcome, %s: no refs", what);
	free(r);
	free(b);
}

#define EGS	"20" B32("44") "00" "00"	/* new_member, kem, ct */

static void
welcome(void)
{
	refs("", KP_ETRUNC, 0, "empty");
	refs("000100030001" "00" "00", KP_OK, 0, "no secrets");
	refs("000100030001" "23" EGS "00", KP_OK, 1, "one secret");
	refs("000100030001" "4046" EGS EGS "00", KP_OK, 2, "two secrets");
	refs("000200030001" "00" "00", KP_EVERSION, 0, "version 2");
	refs("000100050001" "00" "00", KP_EWIREFMT, 0,
	    "wire format KeyPackage");
	refs("000100030001" "00" "00" "00", KP_ETRAILING, 0,
	    "a byte after it");
	refs("000100030001" "00", KP_ETRUNC, 0, "no encrypted_group_info");
	refs("000100030001" "30" B32("44"), KP_ETRUNC, 0,
	    "secrets<V> longer than the input");
	refs("000100030001" "22" "1f" "44444444444444444444444444444444"
	    "444444444444444444444444444444" "00" "00" "00", KP_EMALFORMED, 0,
	    "a 31-byte new_member");
	refs("000100030001" "21" "20" B32("44") "00", KP_EMALFORMED, 0,
	    "an EncryptedGroupSecrets cut inside secrets<V>");
}

/* A GroupInfo: GroupContext, extensions, tag, signer, signature. */
#define GC	"0001" "0001" "0167" "0000000000000001" "00" "00" "00"

static void
group_info(void)
{
	uint8_t	*b;
	size_t	 n;

	b = tap_unhex(GC "00" "00" "00000000" "00", &n);
	is_int(kp_group_info_check(b, n), KP_OK, "GroupInfo: minimal");
	is_int(kp_group_info_check(b, n - 1), KP_ETRUNC,
	    "GroupInfo: cut before the signature");
	free(b);
	b = tap_unhex(GC "00" "00" "00000000" "00" "00", &n);
	is_int(kp_group_info_check(b, n), KP_ETRAILING,
	    "GroupInfo: a byte after it");
	free(b);
	b = tap_unhex(GC "06" "000100" "000100" "00" "00000000" "00", &n);
	is_int(kp_group_info_check(b, n), KP_EMALFORMED,
	    "GroupInfo: an extension type twice");
	free(b);
	b = tap_unhex("0001" "0001" "0167" "0000000000000001" "00" "00"
	    "06" "000200" "000200" "00" "00" "00000000" "00", &n);
	is_int(kp_group_info_check(b, n), KP_EMALFORMED,
	    "GroupContext: an extension type twice");
	free(b);
}

static void
tree(const char *hex, uint32_t leaf, int want, const char *what)
{
	struct kp_span	 key;
	uint8_t		*b;
	size_t		 n;

	b = tap_unhex(hex, &n);
	is_int(kp_tree_signature_key(b, n, leaf, &key), want,
	    "ratchet tree, %s: %s", what, kp_strerror(want));
	free(b);
}

static void
trees(void)
{
	tree("", 0, KP_ETRUNC, "empty");
	tree("00", 0, KP_ENOTFOUND, "no nodes");
	tree("0100", 0, KP_ENOTFOUND, "a blank leaf");
	tree("0102", 0, KP_EMALFORMED, "optional flag 2");
	tree("020103", 0, KP_EMALFORMED, "node type 3");
	tree("00" "00", 0, KP_ETRAILING, "a byte after the vector");
	tree("0101", 0, KP_EMALFORMED, "a leaf node cut short");
}

int
main(void)
{
	group_secrets();
	welcome();
	group_info();
	trees();
	return done_testing();
}
