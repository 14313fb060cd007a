/* SPDX-License-Identifier: ISC */
/* 0000-tap-util: the TAP helper itself, hex, and error names. */

#include <string.h>

#include "kpool.h"
#include "tap.h"

int
main(void)
{
	uint8_t	b[4] = { 0x00, 0x7f, 0xa5, 0xff }, back[4];
	char	hex[9];

	plan(7);
	kp_hex(b, sizeof(b), hex);
	is_string(hex, "007fa5ff", "kp_hex is lowercase");
	is_int(kp_unhex("007FA5ff", back, sizeof(back)), KP_OK,
	    "kp_unhex takes either case");
	is_blob(back, sizeof(back), b, sizeof(b), "hex round-trips");
	is_int(kp_unhex("007fa5f", back, sizeof(back)), KP_EINVAL,
	    "kp_unhex refuses a short string");
	is_int(kp_unhex("007fa5ff00", back, sizeof(back)), KP_EINVAL,
	    "kp_unhex refuses a long string");
	is_int(kp_unhex("007fa5fg", back, sizeof(back)), KP_EINVAL,
	    "kp_unhex refuses a non-hex digit");
	is_string(kp_strerror(KP_ETRUNC), "truncated input",
	    "kp_strerror names a code");
	return done_testing();
}
