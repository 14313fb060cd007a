/* SPDX-License-Identifier: ISC */
/* crypto.c: derivations only the tests use; see kptest.h. */

#include "crypto.h"
#include "kptest.h"

int
kp_derive_tree_secret(const uint8_t *secret, size_t slen, const char *label,
    uint32_t generation, uint8_t *out, size_t olen)
{
	uint8_t	g[4] = { (uint8_t)(generation >> 24),
	    (uint8_t)(generation >> 16), (uint8_t)(generation >> 8),
	    (uint8_t)generation };

	return kp_expand_with_label(secret, slen, label, g, sizeof(g), out,
	    olen);
}
