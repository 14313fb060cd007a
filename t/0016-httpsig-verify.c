/* SPDX-License-Identifier: ISC */
/*
 * 0016-httpsig-verify: kp_httpsig_verify on components a caller may get
 * wrong: a NULL component or an over-long Content-Digest is KP_EAUTH
 * with its own reason, before any signature base is built; a NULL body
 * digests as the empty one; and the signing side's round trip still
 * verifies.
 */

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "kpool.h"
#include "httpsig.h"
#include "tap.h"

#define WHY_COMPONENT	"a request component is missing, or Content-Digest " \
			"too long"

int
main(void)
{
	struct kp_httpsig	 hs;
	struct kp_httpsig_params p;
	uint8_t			 seed[32], pk[32], sk[64];
	const char		*why;
	char			*longd;

	memset(seed, 0x5a, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
	if (kp_httpsig_sign("POST", "/keypackages/reserve", "", "{}", 2,
	    "alice", sk, 1700000000, &hs) != KP_OK)
		bail("kp_httpsig_sign");
	if (kp_httpsig_parse(hs.input, hs.signature, &p, &why) != KP_OK)
		bail("kp_httpsig_parse: %s", why);
	is_int(kp_httpsig_verify(&p, "POST", "/keypackages/reserve", "",
	    hs.digest, pk, &why), KP_OK, "the round trip verifies");
	ok(why == NULL, "with no reason");

	is_int(kp_httpsig_verify(&p, "POST", "/keypackages/reserve", "",
	    NULL, pk, &why), KP_EAUTH, "no Content-Digest: KP_EAUTH");
	is_string(why, WHY_COMPONENT, "no Content-Digest: the reason");
	is_int(kp_httpsig_verify(&p, NULL, "/keypackages/reserve", "",
	    hs.digest, pk, &why), KP_EAUTH, "no method: KP_EAUTH");
	is_int(kp_httpsig_verify(&p, "POST", NULL, "", hs.digest, pk, &why),
	    KP_EAUTH, "no path: KP_EAUTH");
	is_int(kp_httpsig_verify(&p, "POST", "/keypackages/reserve", NULL,
	    hs.digest, pk, &why), KP_EAUTH, "no query: KP_EAUTH");
	is_string(why, WHY_COMPONENT, "no query: the reason");

	if ((longd = malloc(1 << 20)) == NULL)
		bail("oom");
	memset(longd, 'a', (1 << 20) - 1);
	longd[(1 << 20) - 1] = '\0';
	is_int(kp_httpsig_verify(&p, "POST", "/keypackages/reserve", "",
	    longd, pk, &why), KP_EAUTH, "a 1 MiB Content-Digest: KP_EAUTH");
	is_string(why, WHY_COMPONENT,
	    "a 1 MiB Content-Digest: refused before the base is built");
	/* the longest that fits char[KP_HTTPSIG_DIGEST_LEN] is let through */
	longd[KP_HTTPSIG_DIGEST_LEN - 1] = '\0';
	is_int(kp_httpsig_verify(&p, "POST", "/keypackages/reserve", "",
	    longd, pk, &why), KP_EAUTH, "a %d-byte digest: KP_EAUTH",
	    KP_HTTPSIG_DIGEST_LEN - 1);
	is_string(why, "signature does not verify",
	    "a %d-byte digest: reaches the signature",
	    KP_HTTPSIG_DIGEST_LEN - 1);
	longd[KP_HTTPSIG_DIGEST_LEN - 1] = 'a';
	longd[KP_HTTPSIG_DIGEST_LEN] = '\0';
	is_int(kp_httpsig_verify(&p, "POST", "/keypackages/reserve", "",
	    longd, pk, &why), KP_EAUTH, "a %d-byte digest: KP_EAUTH",
	    KP_HTTPSIG_DIGEST_LEN);
	is_string(why, WHY_COMPONENT, "a %d-byte digest: refused first",
	    KP_HTTPSIG_DIGEST_LEN);
	free(longd);

	/* a NULL body is the empty body, whatever length comes with it */
	{
		char	empty[KP_HTTPSIG_DIGEST_LEN];
		char	null5[KP_HTTPSIG_DIGEST_LEN];

		kp_httpsig_digest("", 0, empty);
		kp_httpsig_digest(NULL, 5, null5);
		is_string(null5, empty, "digest of (NULL, 5) is the empty one");
		is_string(empty, "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJ"
		    "WZG3hSuFU=:", "which is SHA-256 of nothing");
		is_int(kp_httpsig_check_digest(empty, NULL, 5, &why), KP_OK,
		    "and checks against (NULL, 5)");
	}
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(seed, sizeof(seed));
	return done_testing();
}
