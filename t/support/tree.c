/* SPDX-License-Identifier: ISC */
/* tree.c: ratchet tree entry points only the tests use; see kptest.h. */

#include "kptest.h"
#include "mls.h"

int
kp_tree_signature_key(const uint8_t *tree, size_t len, uint32_t leaf,
    struct kp_span *key)
{
	struct kp_rd	 r, body;
	struct kp_leaf	 l;
	struct kp_span	 a, b, c;
	uint64_t	 want = 2 * (uint64_t)leaf, i;
	uint8_t		 present, type;
	int		 rc;

	kp_rd_init(&r, tree, len);
	if ((rc = kp_rd_sub(&r, &body)) != KP_OK)
		return rc;
	if ((rc = kp_rd_end(&r)) != KP_OK)
		return rc;
	for (i = 0; kp_rd_left(&body) > 0; i++) {
		if ((rc = kp_rd_u8(&body, &present)) != KP_OK)
			return KP_EMALFORMED;
		if (present > 1)
			return KP_EMALFORMED;
		if (!present) {
			if (i == want)
				return KP_ENOTFOUND;
			continue;
		}
		if ((rc = kp_rd_u8(&body, &type)) != KP_OK)
			return KP_EMALFORMED;
		if (type == 1) {
			if ((rc = kp_leaf_read(&body, &l)) != KP_OK)
				return kp_nested(rc);
			if (i % 2 != 0)
				return KP_EMALFORMED;
			if (i == want) {
				*key = l.sig_key;
				return KP_OK;
			}
		} else if (type == 2) {
			if (kp_rd_span(&body, &a) != KP_OK ||
			    kp_rd_span(&body, &b) != KP_OK ||
			    kp_rd_span(&body, &c) != KP_OK || c.n % 4 != 0 ||
			    i % 2 != 1)
				return KP_EMALFORMED;
		} else
			return KP_EMALFORMED;
	}
	return KP_ENOTFOUND;
}
