/* SPDX-License-Identifier: ISC */
/* util.c: hex and other small encodings shared by the programs. */

#include <stddef.h>
#include <stdint.h>

#include "kpool.h"

void
kp_hex(const uint8_t *buf, size_t len, char *out)
{
	static const char	digits[] = "0123456789abcdef";
	size_t			i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[buf[i] >> 4];
		out[2 * i + 1] = digits[buf[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

static int
nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
kp_unhex(const char *hex, uint8_t *out, size_t outlen)
{
	size_t	i;
	int	hi, lo;

	for (i = 0; i < outlen; i++) {
		if ((hi = nibble(hex[2 * i])) < 0 ||
		    (lo = nibble(hex[2 * i + 1])) < 0)
			return KP_EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	if (hex[2 * outlen] != '\0')
		return KP_EINVAL;
	return KP_OK;
}
