/* SPDX-License-Identifier: ISC */
/* tap.c: the Test Anything Protocol helper; see tap.h. */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpool.h"
#include "tap.h"

static int	planned = -1;
static int	ran;
static int	failed;

void
tap_plan(int n)
{
	planned = n;
	printf("1..%d\n", n);
	fflush(stdout);
}

void
tap_skip_all(const char *why)
{
	printf("1..0 # SKIP %s\n", why);
	fflush(stdout);
	exit(0);
}

static int
report(int cond, const char *file, int line, const char *fmt, va_list ap)
{
	ran++;
	if (!cond)
		failed++;
	printf("%sok %d - ", cond ? "" : "not ", ran);
	vprintf(fmt, ap);
	printf("\n");
	if (!cond)
		printf("#   Failed test at %s line %d.\n", file, line);
	fflush(stdout);
	return cond;
}

int
tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
	va_list	ap;
	int	r;

	va_start(ap, fmt);
	r = report(cond, file, line, fmt, ap);
	va_end(ap);
	return r;
}

int
tap_is_int(long long got, long long want, const char *file, int line,
    const char *fmt, ...)
{
	va_list	ap;
	int	r;

	va_start(ap, fmt);
	r = report(got == want, file, line, fmt, ap);
	va_end(ap);
	if (!r)
		printf("#          got: %lld\n#     expected: %lld\n", got, want);
	return r;
}

int
tap_is_string(const char *got, const char *want, const char *file, int line,
    const char *fmt, ...)
{
	va_list	ap;
	int	r, same;

	if (got == NULL || want == NULL)
		same = got == want;
	else
		same = strcmp(got, want) == 0;
	va_start(ap, fmt);
	r = report(same, file, line, fmt, ap);
	va_end(ap);
	if (!r)
		printf("#          got: '%s'\n#     expected: '%s'\n",
		    got ? got : "(null)", want ? want : "(null)");
	return r;
}

static void
hexdiag(const char *what, const unsigned char *p, size_t len)
{
	size_t	i;

	printf("# %13s: (%zu bytes) ", what, len);
	for (i = 0; i < len && i < 48; i++)
		printf("%02x", p[i]);
	printf("%s\n", len > 48 ? "..." : "");
}

int
tap_is_blob(const void *got, size_t gotlen, const void *want, size_t wantlen,
    const char *file, int line, const char *fmt, ...)
{
	va_list	ap;
	int	r, same;

	same = gotlen == wantlen && (gotlen == 0 || (got != NULL &&
	    want != NULL && memcmp(got, want, gotlen) == 0));
	va_start(ap, fmt);
	r = report(same, file, line, fmt, ap);
	va_end(ap);
	if (!r) {
		hexdiag("got", got, got ? gotlen : 0);
		hexdiag("expected", want, want ? wantlen : 0);
	}
	return r;
}

void
tap_skip(int n, const char *why)
{
	while (n-- > 0) {
		ran++;
		printf("ok %d # skip %s\n", ran, why);
	}
	fflush(stdout);
}

void
tap_diag(const char *fmt, ...)
{
	va_list	ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

void
tap_bail(const char *fmt, ...)
{
	va_list	ap;

	printf("Bail out! ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(255);
}

int
tap_done(void)
{
	if (planned < 0 && ran == 0) {
		/* "1..0" would read as a skip: no test is a failure */
		printf("# no plan and no tests ran\n");
		fflush(stdout);
		return 255;
	}
	if (planned < 0)
		printf("1..%d\n", ran);
	else if (planned != ran)
		printf("# planned %d tests but ran %d\n", planned, ran);
	fflush(stdout);
	if (planned >= 0 && planned != ran)
		return 255;
	return failed > 254 ? 254 : failed;
}

char *
tap_slurp(const char *path, size_t *len)
{
	FILE	*f;
	char	*buf = NULL;
	size_t	 cap = 0, n = 0, r;

	if ((f = fopen(path, "rb")) == NULL)
		tap_bail("open %s: %s", path, strerror(errno));
	for (;;) {
		if (n + 65536 + 1 > cap) {
			cap = (cap ? cap * 2 : 131072);
			if ((buf = realloc(buf, cap)) == NULL)
				tap_bail("out of memory reading %s", path);
		}
		r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f))
		tap_bail("read %s: %s", path, strerror(errno));
	fclose(f);
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return buf;
}

uint8_t *
tap_unhex(const char *hex, size_t *len)
{
	size_t	 n = strlen(hex);
	uint8_t	*out;

	if (n % 2 != 0)
		tap_bail("odd hex length %zu", n);
	if ((out = malloc(n / 2 + 1)) == NULL)
		tap_bail("out of memory");
	if (kp_unhex(hex, out, n / 2) != KP_OK)
		tap_bail("bad hex: %.64s", hex);
	*len = n / 2;
	return out;
}

const char *
tap_path(const char *rel)
{
	static char	 buf[4096];
	const char	*top = getenv("KP_TOP");
	int		 r;

	r = snprintf(buf, sizeof(buf), "%s/%s", top ? top : ".", rel);
	if (r < 0 || (size_t)r >= sizeof(buf))
		tap_bail("path too long: %s", rel);
	return buf;
}
