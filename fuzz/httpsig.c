/* SPDX-License-Identifier: ISC */
/*
 * fuzz/httpsig: libFuzzer target for the HTTP signature header parser
 * (kp_httpsig_parse) and the Content-Digest check.  The input is the
 * Signature-Input value, a newline, and the Signature value.  Whatever
 * parses must hold to the profile: a valid keyid, a nonce of 8 to 64
 * bytes, the parameters as received, and a signature base that builds.
 */

#include <stdlib.h>
#include <string.h>

#include "kpool.h"
#include "httpsig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t	pk[32] = { 1 };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kp_httpsig_params p;
	const uint8_t		*nl;
	const char		*why;
	char			*input, *sig;
	size_t			 ilen, n;

	if ((nl = memchr(data, '\n', size)) == NULL)
		nl = data + size;
	ilen = (size_t)(nl - data);
	if ((input = malloc(size + 2)) == NULL)
		return 0;
	memcpy(input, data, ilen);
	input[ilen] = '\0';
	sig = input + ilen + 1;
	n = ilen < size ? size - ilen - 1 : 0;
	memcpy(sig, nl + (ilen < size), n);
	sig[n] = '\0';

	if (kp_httpsig_parse(input, sig, &p, &why) == KP_OK) {
		if (why != NULL || !kp_username_valid(p.keyid))
			abort();
		n = strnlen(p.nonce, sizeof(p.nonce));
		if (n < 8 || n >= sizeof(p.nonce))
			abort();
		if (strnlen(p.params, sizeof(p.params)) >= sizeof(p.params) ||
		    strcmp(p.params, input + strlen(KP_HTTPSIG_LABEL "=")) !=
		    0)
			abort();
		if (kp_httpsig_verify(&p, "POST", "/keypackages/upload", "",
		    "sha-256=:x:", pk, &why) == KP_OK)
			abort();	/* no key signs for pk */
	} else if (why == NULL)
		abort();
	if (kp_httpsig_check_digest(input, sig, strlen(sig), &why) == KP_OK &&
	    why != NULL)
		abort();
	free(input);
	return 0;
}
