/* SPDX-License-Identifier: ISC */
/*
 * tls.h: the TLS presentation language codec with the MLS variable-length
 * integers of RFC 9420 §2.1.2.  Internal to libkpool.
 *
 * Reading goes through a bounded cursor (struct kp_rd): every get checks
 * the bytes left and fails with KP_ETRUNC when a field runs past the end.
 * Varints must be minimal (KP_EVARINT).  Callers finish with kp_rd_end(),
 * which refuses trailing bytes (KP_ETRAILING).
 *
 * Writing goes into a growable buffer (struct kp_wb) whose errors are
 * sticky: put_* calls never fail, kp_wb_finish() reports the first error.
 */
#ifndef KP_TLS_H
#define KP_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "kpool.h"

/* Largest value an MLS varint can carry (the 4-byte form). */
#define KP_VARINT_MAX	0x3fffffffU

struct kp_rd {
	const uint8_t	*p;
	size_t		 len;
	size_t		 off;
};

/* kp_rd_init: a cursor over buf[0..len). */
void	kp_rd_init(struct kp_rd *r, const uint8_t *buf, size_t len);
/* kp_rd_left: bytes not yet read. */
size_t	kp_rd_left(const struct kp_rd *r);
/* kp_rd_pos: pointer to the next unread byte. */
const uint8_t *kp_rd_pos(const struct kp_rd *r);
/* kp_rd_end: KP_ETRAILING when bytes are left, else KP_OK. */
int	kp_rd_end(const struct kp_rd *r) KP_WUR;

/* kp_rd_u8 .. kp_rd_u64: a big-endian integer; KP_ETRUNC past the end. */
int	kp_rd_u8(struct kp_rd *r, uint8_t *v) KP_WUR;
int	kp_rd_u16(struct kp_rd *r, uint16_t *v) KP_WUR;
int	kp_rd_u32(struct kp_rd *r, uint32_t *v) KP_WUR;
int	kp_rd_u64(struct kp_rd *r, uint64_t *v) KP_WUR;
/* kp_rd_varint: a minimal MLS varint (KP_EVARINT otherwise). */
int	kp_rd_varint(struct kp_rd *r, uint32_t *v) KP_WUR;
/* kp_rd_vec: an opaque<V>; *p points into the input, *n its length. */
int	kp_rd_vec(struct kp_rd *r, const uint8_t **p, size_t *n) KP_WUR;
/* kp_rd_sub: the body of a vector<V> as a cursor of its own. */
int	kp_rd_sub(struct kp_rd *r, struct kp_rd *sub) KP_WUR;

/* kp_varint_size: bytes of the minimal encoding of v (0 if too big). */
size_t	kp_varint_size(uint64_t v);
/* kp_varint_put: the minimal encoding of v into b; its size, 0 if too big. */
size_t	kp_varint_put(uint8_t b[4], uint64_t v);

struct kp_wb {
	uint8_t	*buf;
	size_t	 len;
	size_t	 cap;
	size_t	 max;		/* cap on len */
	int	 err;		/* first error, sticky */
};

/* kp_wb_init: an empty buffer that refuses to grow past max bytes. */
void	kp_wb_init(struct kp_wb *w, size_t max);
/* kp_wb_reserve: make room for n more bytes up front. */
void	kp_wb_reserve(struct kp_wb *w, size_t n);
/* kp_wb_u8 .. kp_wb_u64: a big-endian integer; kp_wb_bytes: raw bytes. */
void	kp_wb_u8(struct kp_wb *w, uint8_t v);
void	kp_wb_u16(struct kp_wb *w, uint16_t v);
void	kp_wb_u32(struct kp_wb *w, uint32_t v);
void	kp_wb_u64(struct kp_wb *w, uint64_t v);
/* kp_wb_varint: minimal encoding; KP_ETOOBIG past KP_VARINT_MAX. */
void	kp_wb_varint(struct kp_wb *w, uint64_t v);
void	kp_wb_bytes(struct kp_wb *w, const void *p, size_t n);
/* kp_wb_vec: an opaque<V> holding p[0..n). */
void	kp_wb_vec(struct kp_wb *w, const void *p, size_t n);
/*
 * kp_wb_begin/kp_wb_end: bracket a vector<V> whose body is written in
 * between; kp_wb_end writes the minimal length in front of the body.
 */
size_t	kp_wb_begin(struct kp_wb *w);
void	kp_wb_end(struct kp_wb *w, size_t mark);
/*
 * kp_wb_finish: the first error, or KP_OK and the bytes in *out (malloc'd,
 * caller frees) and *len.  The buffer is released either way.
 */
int	kp_wb_finish(struct kp_wb *w, uint8_t **out, size_t *len) KP_WUR;
/* kp_wb_free: wipe and release the buffer. */
void	kp_wb_free(struct kp_wb *w);

#endif /* KP_TLS_H */
