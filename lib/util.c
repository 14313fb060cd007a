/* SPDX-License-Identifier: ISC */
/* util.c: hex and other small encodings shared by the programs. */

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kpool.h"
#include "util.h"

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

int64_t
kp_clock_file(const char *path, int field)
{
	char		 buf[64], *p, *end;
	ssize_t		 n;
	long long	 v = 0;
	int		 fd, i;

	if (path == NULL || field < 0 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (int64_t)time(NULL);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return (int64_t)time(NULL);
	buf[n] = '\0';
	for (p = buf, i = 0; i <= field; i++, p = end) {
		errno = 0;
		v = strtoll(p, &end, 10);
		if (errno != 0 || end == p ||
		    (*end != '\0' && !isspace((unsigned char)*end)))
			return (int64_t)time(NULL);
	}
	return (int64_t)v;
}

int
kp_grow(void *vp, size_t *cap, size_t n, size_t size, size_t first)
{
	void	*v, *nv;
	size_t	 ncap;

	if (n < *cap)
		return 0;
	ncap = *cap > 0 ? 2 * *cap : first;
	memcpy(&v, vp, sizeof(v));
	if ((nv = reallocarray(v, ncap, size)) == NULL)
		return -1;
	memcpy(vp, &nv, sizeof(nv));
	*cap = ncap;
	return 0;
}
