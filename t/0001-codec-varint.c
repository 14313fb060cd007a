/* SPDX-License-Identifier: ISC */
/*
 * 0001-codec-varint: MLS varints and the TLS codec (lib/tls.c) against
 * deserialization.json, both ways, plus bad and truncated encodings.
 */

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kpool.h"
#include "tls.h"
#include "kptest.h"
#include "tap.h"
#include "0-vectors.h"

static void
check_bad(const char *hex, int want, const char *what)
{
	uint8_t		*b;
	size_t		 n;
	uint32_t	 v = 0;

	b = tap_unhex(hex, &n);
	is_int(kp_varint_decode(b, n, &v), want, "%s (%s)", what, hex);
	free(b);
}

static void
vectors(void)
{
	json_t		*root, *e;
	size_t		 i, run = 0;

	root = vec_load("deserialization.json");
	json_array_foreach(root, i, e) {
		const char	*hex = json_string_value(json_object_get(e,
				    "vlbytes_header"));
		uint64_t	 want = (uint64_t)json_integer_value(
				    json_object_get(e, "length"));
		uint8_t		*b, *enc;
		size_t		 n, elen;
		uint32_t	 v = 0;
		struct kp_wb	 w;

		b = tap_unhex(hex, &n);
		is_int(kp_varint_decode(b, n, &v), KP_OK, "decode %s", hex);
		is_int(v, want, "%s is %llu", hex, (unsigned long long)want);
		kp_wb_init(&w, 16);
		kp_wb_varint(&w, want);
		if (kp_wb_finish(&w, &enc, &elen) != KP_OK)
			bail("kp_wb_finish");
		is_blob(enc, elen, b, n, "encode %llu", (unsigned long long)want);
		is_int(kp_varint_size(want), n, "size of %llu",
		    (unsigned long long)want);
		free(enc);
		free(b);
		run++;
	}
	is_int(run, 14, "deserialization.json: all 14 cases run");
	json_decref(root);
}

static void
cursor(void)
{
	static const uint8_t	 in[] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
				    0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d,
				    0x0e, 0x0f, 0x02, 0xaa, 0xbb, 0x03 };
	struct kp_rd		 r, sub;
	uint8_t			 u8;
	uint16_t		 u16;
	uint32_t		 u32;
	uint64_t		 u64;
	const uint8_t		*p;
	size_t			 n;

	kp_rd_init(&r, in, sizeof(in));
	is_int(kp_rd_u8(&r, &u8), KP_OK, "u8");
	is_int(u8, 0x01, "u8 value");
	is_int(kp_rd_u16(&r, &u16), KP_OK, "u16");
	is_int(u16, 0x0203, "u16 value");
	is_int(kp_rd_u32(&r, &u32), KP_OK, "u32");
	is_int(u32, 0x04050607, "u32 value");
	is_int(kp_rd_u64(&r, &u64), KP_OK, "u64");
	ok(u64 == 0x08090a0b0c0d0e0fULL, "u64 value");
	is_int(kp_rd_sub(&r, &sub), KP_OK, "sub-cursor");
	is_int(kp_rd_left(&sub), 2, "sub-cursor holds the body");
	is_int(kp_rd_u16(&sub, &u16), KP_OK, "u16 in the body");
	is_int(u16, 0xaabb, "body value");
	is_int(kp_rd_u8(&sub, &u8), KP_ETRUNC, "the body is bounded");
	is_int(kp_rd_end(&sub), KP_OK, "body consumed");
	is_int(kp_rd_end(&r), KP_ETRAILING, "one byte trails");
	is_int(kp_rd_vec(&r, &p, &n), KP_ETRUNC,
	    "a vector longer than the input is truncated");
	is_int(kp_rd_left(&r), 1, "a failed vector read consumes nothing");

	/* every truncation of every integer width */
	kp_rd_init(&r, in, 0);
	is_int(kp_rd_u8(&r, &u8), KP_ETRUNC, "u8 of nothing");
	kp_rd_init(&r, in, 1);
	is_int(kp_rd_u16(&r, &u16), KP_ETRUNC, "u16 of one byte");
	kp_rd_init(&r, in, 3);
	is_int(kp_rd_u32(&r, &u32), KP_ETRUNC, "u32 of three bytes");
	kp_rd_init(&r, in, 7);
	is_int(kp_rd_u64(&r, &u64), KP_ETRUNC, "u64 of seven bytes");
	is_int(kp_rd_left(&r), 7, "failed reads consume nothing");
	kp_rd_init(&r, in, 4);
	is_int(kp_rd_fixed(&r, 5, &p), KP_ETRUNC, "fixed past the end");
}

static void
writer(void)
{
	struct kp_wb	 w;
	uint8_t		*out, body[16384];
	size_t		 len, m, m2;

	memset(body, 0x5a, sizeof(body));
	kp_wb_init(&w, 1 << 20);
	m = kp_wb_begin(&w);
	kp_wb_bytes(&w, body, 63);
	kp_wb_end(&w, m);
	m = kp_wb_begin(&w);
	kp_wb_bytes(&w, body, 64);
	kp_wb_end(&w, m);
	m = kp_wb_begin(&w);
	kp_wb_bytes(&w, body, 16384);
	kp_wb_end(&w, m);
	m = kp_wb_begin(&w);
	m2 = kp_wb_begin(&w);
	kp_wb_u16(&w, 0x0102);
	kp_wb_end(&w, m2);
	kp_wb_end(&w, m);
	kp_wb_u32(&w, 0xdeadbeef);
	kp_wb_u64(&w, 0x0102030405060708ULL);
	is_int(kp_wb_finish(&w, &out, &len), KP_OK, "writer finishes");
	is_int(len, 1 + 63 + 2 + 64 + 4 + 16384 + 4 + 4 + 8, "total length");
	is_int(out[0], 63, "63-byte body: 1-byte length");
	is_int(out[64] << 8 | out[65], 0x4040, "64-byte body: 2-byte length");
	ok(memcmp(out + 130, "\x80\x00\x40\x00", 4) == 0,
	    "16384-byte body: 4-byte length");
	ok(memcmp(out + 130 + 4 + 16384, "\x03\x02\x01\x02", 4) == 0,
	    "nested vectors");
	ok(memcmp(out + len - 12, "\xde\xad\xbe\xef\x01\x02\x03\x04\x05\x06"
	    "\x07\x08", 12) == 0, "u32 and u64 are big-endian");
	free(out);

	kp_wb_init(&w, 8);
	kp_wb_bytes(&w, body, 9);
	is_int(kp_wb_finish(&w, &out, &len), KP_ETOOBIG,
	    "the writer refuses to grow past its cap");
	kp_wb_init(&w, 8);
	kp_wb_varint(&w, KP_VARINT_MAX + 1ULL);
	is_int(kp_wb_finish(&w, &out, &len), KP_ETOOBIG,
	    "a varint past 2^30-1 is refused");
	kp_wb_init(&w, 8);
	kp_wb_varint(&w, KP_VARINT_MAX);
	is_int(kp_wb_finish(&w, &out, &len), KP_OK, "2^30-1 is the largest");
	is_blob(out, len, "\xbf\xff\xff\xff", 4, "and is bfffffff");
	free(out);
}

int
main(void)
{
	vectors();
	check_bad("c0", KP_EVARINT, "8-byte form refused");
	check_bad("c000000000000001", KP_EVARINT, "8-byte form refused");
	check_bad("ff", KP_EVARINT, "prefix 0b11 refused");
	check_bad("4000", KP_EVARINT, "non-minimal 2-byte zero");
	check_bad("403f", KP_EVARINT, "non-minimal 2-byte 63");
	check_bad("80000000", KP_EVARINT, "non-minimal 4-byte zero");
	check_bad("80003fff", KP_EVARINT, "non-minimal 4-byte 16383");
	check_bad("", KP_ETRUNC, "empty input");
	check_bad("40", KP_ETRUNC, "2-byte form cut after 1");
	check_bad("80", KP_ETRUNC, "4-byte form cut after 1");
	check_bad("8000", KP_ETRUNC, "4-byte form cut after 2");
	check_bad("800040", KP_ETRUNC, "4-byte form cut after 3");
	check_bad("0000", KP_ETRAILING, "a byte after the varint");
	check_bad("404000", KP_ETRAILING, "a byte after a 2-byte varint");
	cursor();
	writer();
	return done_testing();
}
