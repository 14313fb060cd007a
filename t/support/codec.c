/* SPDX-License-Identifier: ISC */
/* codec.c: codec entry points only the tests use; see kptest.h. */

#include "kptest.h"

int
kp_rd_fixed(struct kp_rd *r, size_t n, const uint8_t **p)
{
	if (n > r->len - r->off)
		return KP_ETRUNC;
	*p = r->p + r->off;
	r->off += n;
	return KP_OK;
}

int
kp_varint_decode(const uint8_t *buf, size_t len, uint32_t *v)
{
	struct kp_rd	r;
	int		rc;

	kp_rd_init(&r, buf, len);
	if ((rc = kp_rd_varint(&r, v)) != KP_OK)
		return rc;
	return kp_rd_end(&r);
}
