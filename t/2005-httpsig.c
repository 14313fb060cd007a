/* SPDX-License-Identifier: ISC */
/*
 * 2005-httpsig: the RFC 9421 signature profile (lib/httpsig.c): the
 * worked example of docs/api.md byte for byte, a sign/verify round trip,
 * and every malformed Signature-Input, Signature and Content-Digest.
 */

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "tap.h"
#include "kpool.h"
#include "httpsig.h"

#define BODY	"{\"target_username\":\"bob\",\"group_id\":\"Z3JvdXAtMQ==\"," \
		"\"request_id\":\"7f1c0b5e\"}"
#define DIGEST	"sha-256=:BWty674KVaRtcBZzD7rSdQX6N3sm7Jgm4fvSERTGWwQ=:"
#define PARAMS	"(\"@method\" \"@path\" \"@query\" \"content-digest\");" \
		"created=1700000000;nonce=\"0123456789abcdef0123456789abcdef\";" \
		"keyid=\"alice\";alg=\"ed25519\""
#define INPUT	"kpool=" PARAMS
#define SIG	"kpool=:q+0Qd/0LqsoQSL3xCZep8Kp2A4H4HJyjQaIfmgtvnYhxMbdE+C5op" \
		"D+eTWNe4tu5SqGlXKv963WplPs84D3rAA==:"
#define PK	"A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="

static const char *const bad_inputs[] = {
	"",
	"sig1=" PARAMS,
	"kpool=(\"@method\" \"@path\" \"content-digest\");created=1;"
	    "nonce=\"0123456789\";keyid=\"alice\";alg=\"ed25519\"",
	"kpool=(\"@path\" \"@method\" \"@query\" \"content-digest\");created=1;"
	    "nonce=\"0123456789\";keyid=\"alice\";alg=\"ed25519\"",
	"kpool=(\"@method\" \"@path\" \"@query\" \"content-digest\");"
	    "nonce=\"0123456789\";keyid=\"alice\";alg=\"ed25519\"",
	"kpool=(\"@method\" \"@path\" \"@query\" \"content-digest\");created=1;"
	    "keyid=\"alice\";alg=\"ed25519\"",
	"kpool=(\"@method\" \"@path\" \"@query\" \"content-digest\");created=1;"
	    "nonce=\"0123456789\";alg=\"ed25519\"",
	"kpool=(\"@method\" \"@path\" \"@query\" \"content-digest\");created=1;"
	    "nonce=\"0123456789\";keyid=\"alice\"",
	"kpool=(\"@method\" \"@path\" \"@query\" \"content-digest\");created=1;"
	    "nonce=\"0123456789\";keyid=\"alice\";alg=\"rsa-pss-sha512\"",
	"kpool=(\"@method\" \"@path\" \"@query\" \"content-digest\");created=1;"
	    "created=2;nonce=\"0123456789\";keyid=\"alice\";alg=\"ed25519\"",
	"kpool=(\"@method\" \"@path\" \"@query\" \"content-digest\");created=1;"
	    "nonce=\"0123456789\";keyid=\"alice\";alg=\"ed25519\";expires=9",
	"kpool=(\"@method\" \"@path\" \"@query\" \"content-digest\");created=x;"
	    "nonce=\"0123456789\";keyid=\"alice\";alg=\"ed25519\"",
	"kpool=(\"@method\" \"@path\" \"@query\" \"content-digest\");"
	    "created=99999999999999999999;nonce=\"0123456789\";keyid=\"alice\";"
	    "alg=\"ed25519\"",
	"kpool=(\"@method\" \"@path\" \"@query\" \"content-digest\");created=1;"
	    "nonce=\"short\";keyid=\"alice\";alg=\"ed25519\"",
	"kpool=(\"@method\" \"@path\" \"@query\" \"content-digest\");created=1;"
	    "nonce=\"0123456789\";keyid=\"al ice\";alg=\"ed25519\"",
	"kpool=(\"@method\" \"@path\" \"@query\" \"content-digest\");created=1;"
	    "nonce=\"01234\\\"56789\";keyid=\"alice\";alg=\"ed25519\"",
	"kpool=(\"@method\" \"@path\" \"@query\" \"content-digest\");created=1;"
	    "nonce=\"0123456789\";keyid=\"alice\";alg=\"ed25519\" ",
	"kpool=(\"@method\" \"@path\" \"@query\" \"content-digest\");created=1;"
	    "nonce=\"0123456789;keyid=\"alice\";alg=\"ed25519\"",
};

static const char *const bad_sigs[] = {
	"",
	"sig1=:q+0Qd/0LqsoQSL3xCZep8Kp2A4H4HJyjQaIfmgtvnYhxMbdE+C5opD+eTWNe4t"
	    "u5SqGlXKv963WplPs84D3rAA==:",
	"kpool=:q+0Qd/0LqsoQSL3xCZep8Kp2A4H4HJyjQaIfmgtvnYhxMbdE+C5opD+eTWNe4t"
	    "u5SqGlXKv963WplPs84D3rAA==",
	"kpool=:q+0Qd/0LqsoQSL3xCZep8Kp2A4H4HJyjQaIfmgtvnYhxMbdE+C5opD+eTWNe4t"
	    "u5SqGlXKv963WplPs84D3r:",
	"kpool=:q-0Qd_0LqsoQSL3xCZep8Kp2A4H4HJyjQaIfmgtvnYhxMbdE+C5opD+eTWNe4t"
	    "u5SqGlXKv963WplPs84D3rAA==:",
	"kpool=::",
};

int
main(void)
{
	struct kp_httpsig_params	 p;
	struct kp_httpsig		 s;
	const char			*why;
	char				 d[KP_HTTPSIG_DIGEST_LEN];
	uint8_t				 pk[32], sk[64], seed[32];
	size_t				 len, i;

	plan(22 + 2 * (int)(sizeof(bad_inputs) / sizeof(bad_inputs[0])) +
	    (int)(sizeof(bad_sigs) / sizeof(bad_sigs[0])));
	if (sodium_init() < 0)
		bail("sodium_init");
	for (i = 0; i < 32; i++)
		seed[i] = (uint8_t)i;
	crypto_sign_seed_keypair(pk, sk, seed);
	{
		uint8_t	want[32];

		if (sodium_base642bin(want, 32, PK, strlen(PK), NULL, &len,
		    NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
			bail("pk");
		is_blob(pk, 32, want, 32, "the example's public key");
	}

	/* Content-Digest */
	kp_httpsig_digest(BODY, strlen(BODY), d);
	is_string(d, DIGEST, "Content-Digest of the example body");
	kp_httpsig_digest(NULL, 0, d);
	is_string(d, "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:",
	    "Content-Digest of an empty body");
	is_int(kp_httpsig_check_digest(DIGEST, BODY, strlen(BODY), &why),
	    KP_OK, "the digest matches");
	is_int(kp_httpsig_check_digest(DIGEST, BODY, strlen(BODY) - 1, &why),
	    KP_EAUTH, "a body one byte short");
	is_int(kp_httpsig_check_digest(NULL, BODY, strlen(BODY), &why),
	    KP_EAUTH, "no digest");
	is_string(why, "missing Content-Digest header", "why");
	is_int(kp_httpsig_check_digest("sha-512=:BWty674KVaRtcBZzD7rSdQX6N3sm"
	    "7Jgm4fvSERTGWwQ=:", BODY, strlen(BODY), &why), KP_EAUTH,
	    "another algorithm");

	/* the worked example */
	is_int(kp_httpsig_parse(INPUT, SIG, &p, &why), KP_OK,
	    "parse the example");
	is_string(p.keyid, "alice", "keyid");
	is_string(p.nonce, "0123456789abcdef0123456789abcdef", "nonce");
	is_int(p.created, 1700000000, "created");
	is_string(p.params, PARAMS, "signature params");
	is_int(kp_httpsig_verify(&p, "POST", "/keypackages/reserve", "",
	    DIGEST, pk, &why), KP_OK, "the example verifies");
	is_int(kp_httpsig_verify(&p, "GET", "/keypackages/reserve", "",
	    DIGEST, pk, &why), KP_EAUTH, "another method");
	is_string(why, "signature does not verify", "why");
	is_int(kp_httpsig_verify(&p, "POST", "/keypackages/reserve", "a=1",
	    DIGEST, pk, &why), KP_EAUTH, "another query");
	is_int(kp_httpsig_verify(&p, "POST", "/keypackages/spend", "",
	    DIGEST, pk, &why), KP_EAUTH, "another path");
	kp_httpsig_digest("x", 1, d);
	is_int(kp_httpsig_verify(&p, "POST", "/keypackages/reserve", "",
	    d, pk, &why), KP_EAUTH, "another digest");

	/* round trip */
	is_int(kp_httpsig_sign("GET", "/keypackages/mine", "a=b", NULL, 0,
	    "bob", sk, 1700000123, &s), KP_OK, "sign");
	ok(kp_httpsig_parse(s.input, s.signature, &p, &why) == KP_OK &&
	    kp_httpsig_verify(&p, "GET", "/keypackages/mine", "a=b", s.digest,
	    pk, &why) == KP_OK, "what we sign verifies");
	is_int(kp_httpsig_sign("GET", "/", "", NULL, 0, "bad name", sk, 1,
	    &s), KP_EINVAL, "signing as an invalid name");

	/* malformed headers */
	for (i = 0; i < sizeof(bad_inputs) / sizeof(bad_inputs[0]); i++) {
		is_int(kp_httpsig_parse(bad_inputs[i], SIG, &p, &why),
		    KP_EAUTH, "bad Signature-Input %zu", i);
		ok(why != NULL && strstr(why, "Signature-Input") != NULL,
		    "why names Signature-Input");
	}
	for (i = 0; i < sizeof(bad_sigs) / sizeof(bad_sigs[0]); i++)
		is_int(kp_httpsig_parse(INPUT, bad_sigs[i], &p, &why),
		    KP_EAUTH, "bad Signature %zu", i);
	return done_testing();
}
