/* SPDX-License-Identifier: ISC */
/*
 * fuzz/keypackage: libFuzzer target for the KeyPackage decoder.  Every
 * input that decodes must re-encode to the same bytes and validate
 * without a crash.
 */

#include <stdlib.h>
#include <string.h>

#include "kpool.h"
#include "mls.h"
#include "tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kp_keypackage	*kp = NULL;
	struct kp_kpfields	 f;
	struct kp_rd		 r;
	struct kp_wb		 w;
	const uint8_t		*raw;
	uint8_t			*enc, h[32];
	size_t			 rawlen, enclen;
	int			 allow;

	for (allow = 0; allow <= 1; allow++) {
		if (kp_keypackage_decode(data, size, allow, &kp) != KP_OK)
			continue;
		raw = kp_keypackage_bytes(kp, &rawlen);
		kp_rd_init(&r, raw, rawlen);
		if (kp_kp_read(&r, &f) != KP_OK || kp_rd_end(&r) != KP_OK)
			abort();
		kp_wb_init(&w, KP_MAX_KEYPACKAGE);
		if (kp_kp_write(&w, &f, NULL) != KP_OK)
			abort();
		if (kp_wb_finish(&w, &enc, &enclen) != KP_OK)
			abort();
		if (enclen != rawlen || memcmp(enc, raw, rawlen) != 0)
			abort();
		free(enc);
		(void)kp_keypackage_validate(kp, 1700000000);
		kp_credential_hash(kp, h);
		(void)kp_keypackage_has_extension(kp, KP_EXT_LAST_RESORT);
		kp_keypackage_free(kp);
		kp = NULL;
	}
	return 0;
}
