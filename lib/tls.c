/* SPDX-License-Identifier: ISC */
/*
 * tls.c: the TLS presentation codec with MLS varints (RFC 9420 §2.1.2).
 */

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tls.h"

void
kp_rd_init(struct kp_rd *r, const uint8_t *buf, size_t len)
{
	r->p = buf;
	r->len = buf == NULL ? 0 : len;
	r->off = 0;
}

size_t
kp_rd_left(const struct kp_rd *r)
{
	return r->len - r->off;
}

const uint8_t *
kp_rd_pos(const struct kp_rd *r)
{
	return r->p + r->off;
}

int
kp_rd_end(const struct kp_rd *r)
{
	return r->off == r->len ? KP_OK : KP_ETRAILING;
}

int
kp_rd_u8(struct kp_rd *r, uint8_t *v)
{
	if (r->len - r->off < 1)
		return KP_ETRUNC;
	*v = r->p[r->off++];
	return KP_OK;
}

int
kp_rd_u16(struct kp_rd *r, uint16_t *v)
{
	const uint8_t	*p;

	if (r->len - r->off < 2)
		return KP_ETRUNC;
	p = r->p + r->off;
	*v = (uint16_t)(p[0] << 8 | p[1]);
	r->off += 2;
	return KP_OK;
}

int
kp_rd_u32(struct kp_rd *r, uint32_t *v)
{
	const uint8_t	*p;

	if (r->len - r->off < 4)
		return KP_ETRUNC;
	p = r->p + r->off;
	*v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
	r->off += 4;
	return KP_OK;
}

int
kp_rd_u64(struct kp_rd *r, uint64_t *v)
{
	uint32_t	hi, lo;
	int		rc;

	if (r->len - r->off < 8)
		return KP_ETRUNC;
	if ((rc = kp_rd_u32(r, &hi)) != KP_OK ||
	    (rc = kp_rd_u32(r, &lo)) != KP_OK)
		return rc;
	*v = (uint64_t)hi << 32 | lo;
	return KP_OK;
}

int
kp_rd_varint(struct kp_rd *r, uint32_t *v)
{
	const uint8_t	*p;
	uint32_t	 x;

	if (r->len - r->off < 1)
		return KP_ETRUNC;
	p = r->p + r->off;
	switch (p[0] >> 6) {
	case 0:
		*v = p[0];
		r->off += 1;
		return KP_OK;
	case 1:
		if (r->len - r->off < 2)
			return KP_ETRUNC;
		x = (uint32_t)(p[0] & 0x3f) << 8 | p[1];
		if (x < 0x40)
			return KP_EVARINT;
		*v = x;
		r->off += 2;
		return KP_OK;
	case 2:
		if (r->len - r->off < 4)
			return KP_ETRUNC;
		x = (uint32_t)(p[0] & 0x3f) << 24 | (uint32_t)p[1] << 16 |
		    (uint32_t)p[2] << 8 | p[3];
		if (x < 0x4000)
			return KP_EVARINT;
		*v = x;
		r->off += 4;
		return KP_OK;
	default:
		return KP_EVARINT;
	}
}

int
kp_rd_vec(struct kp_rd *r, const uint8_t **p, size_t *n)
{
	uint32_t	len;
	size_t		save = r->off;
	int		rc;

	if ((rc = kp_rd_varint(r, &len)) != KP_OK)
		return rc;
	if (len > r->len - r->off) {
		r->off = save;
		return KP_ETRUNC;
	}
	*p = r->p + r->off;
	*n = len;
	r->off += len;
	return KP_OK;
}

int
kp_rd_sub(struct kp_rd *r, struct kp_rd *sub)
{
	const uint8_t	*p;
	size_t		 n;
	int		 rc;

	if ((rc = kp_rd_vec(r, &p, &n)) != KP_OK)
		return rc;
	kp_rd_init(sub, p, n);
	sub->p = p;	/* keep a valid pointer even for empty bodies */
	return KP_OK;
}

size_t
kp_varint_size(uint64_t v)
{
	if (v < 0x40)
		return 1;
	if (v < 0x4000)
		return 2;
	if (v <= KP_VARINT_MAX)
		return 4;
	return 0;
}

/* Writing. */

void
kp_wb_init(struct kp_wb *w, size_t max)
{
	w->buf = NULL;
	w->len = w->cap = 0;
	w->max = max;
	w->err = KP_OK;
}

static int
wb_grow(struct kp_wb *w, size_t n)
{
	size_t	 ncap;
	uint8_t	*nb;

	if (w->err != KP_OK)
		return 0;
	if (n > w->max || w->len > w->max - n) {
		w->err = KP_ETOOBIG;
		return 0;
	}
	if (w->len + n <= w->cap)
		return 1;
	ncap = w->cap < 256 ? 256 : w->cap;
	while (ncap < w->len + n)
		ncap = ncap > SIZE_MAX / 2 ? w->len + n : ncap * 2;
	if (ncap > w->max)
		ncap = w->max;
	if ((nb = malloc(ncap)) == NULL) {
		w->err = KP_ENOMEM;
		return 0;
	}
	if (w->buf != NULL) {
		memcpy(nb, w->buf, w->len);
		sodium_memzero(w->buf, w->cap);
		free(w->buf);
	}
	w->buf = nb;
	w->cap = ncap;
	return 1;
}

void
kp_wb_reserve(struct kp_wb *w, size_t n)
{
	(void)wb_grow(w, n);
}

void
kp_wb_bytes(struct kp_wb *w, const void *p, size_t n)
{
	if (n == 0 || !wb_grow(w, n))
		return;
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

void
kp_wb_u8(struct kp_wb *w, uint8_t v)
{
	kp_wb_bytes(w, &v, 1);
}

void
kp_wb_u16(struct kp_wb *w, uint16_t v)
{
	uint8_t	b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	kp_wb_bytes(w, b, sizeof(b));
}

void
kp_wb_u32(struct kp_wb *w, uint32_t v)
{
	uint8_t	b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16),
	    (uint8_t)(v >> 8), (uint8_t)v };

	kp_wb_bytes(w, b, sizeof(b));
}

void
kp_wb_u64(struct kp_wb *w, uint64_t v)
{
	kp_wb_u32(w, (uint32_t)(v >> 32));
	kp_wb_u32(w, (uint32_t)v);
}

size_t
kp_varint_put(uint8_t b[4], uint64_t v)
{
	switch (kp_varint_size(v)) {
	case 1:
		b[0] = (uint8_t)v;
		return 1;
	case 2:
		b[0] = (uint8_t)(0x40 | v >> 8);
		b[1] = (uint8_t)v;
		return 2;
	case 4:
		b[0] = (uint8_t)(0x80 | v >> 24);
		b[1] = (uint8_t)(v >> 16);
		b[2] = (uint8_t)(v >> 8);
		b[3] = (uint8_t)v;
		return 4;
	}
	return 0;
}

void
kp_wb_varint(struct kp_wb *w, uint64_t v)
{
	uint8_t	b[4];
	size_t	n;

	if ((n = kp_varint_put(b, v)) == 0) {
		if (w->err == KP_OK)
			w->err = KP_ETOOBIG;
		return;
	}
	kp_wb_bytes(w, b, n);
}

void
kp_wb_vec(struct kp_wb *w, const void *p, size_t n)
{
	kp_wb_varint(w, n);
	kp_wb_bytes(w, p, n);
}

size_t
kp_wb_begin(struct kp_wb *w)
{
	return w->len;
}

void
kp_wb_end(struct kp_wb *w, size_t mark)
{
	uint8_t	b[4];
	size_t	body, n;

	if (w->err != KP_OK)
		return;
	body = w->len - mark;
	if ((n = kp_varint_put(b, body)) == 0) {
		w->err = KP_ETOOBIG;
		return;
	}
	if (!wb_grow(w, n))
		return;
	memmove(w->buf + mark + n, w->buf + mark, body);
	memcpy(w->buf + mark, b, n);
	w->len += n;
}

int
kp_wb_finish(struct kp_wb *w, uint8_t **out, size_t *len)
{
	int	rc = w->err;

	if (rc == KP_OK && w->buf == NULL) {
		/* an empty result still gets a buffer the caller can free */
		if ((w->buf = malloc(1)) == NULL)
			rc = KP_ENOMEM;
	}
	if (rc != KP_OK) {
		kp_wb_free(w);
		return rc;
	}
	*out = w->buf;
	*len = w->len;
	w->buf = NULL;
	w->len = w->cap = 0;
	return KP_OK;
}

void
kp_wb_free(struct kp_wb *w)
{
	if (w->buf != NULL) {
		sodium_memzero(w->buf, w->cap);
		free(w->buf);
	}
	w->buf = NULL;
	w->len = w->cap = 0;
}
