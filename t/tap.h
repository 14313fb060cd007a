/* SPDX-License-Identifier: ISC */
/*
 * tap.h: a small Test Anything Protocol helper for the C tests.
 *
 *	plan(3);
 *	ok(x == 1, "x is one");
 *	is_int(rc, KP_ETRUNC, "truncated input");
 *	is_blob(buf, len, want, wantlen, "bytes");
 *	return done_testing();
 */
#ifndef TAP_H
#define TAP_H

#include <stddef.h>
#include <stdint.h>

void	tap_plan(int n);
void	tap_skip_all(const char *why);
int	tap_ok(int cond, const char *file, int line, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));
int	tap_is_int(long long got, long long want, const char *file, int line,
	    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
int	tap_is_string(const char *got, const char *want, const char *file,
	    int line, const char *fmt, ...)
	    __attribute__((format(printf, 5, 6)));
int	tap_is_blob(const void *got, size_t gotlen, const void *want,
	    size_t wantlen, const char *file, int line, const char *fmt, ...)
	    __attribute__((format(printf, 7, 8)));
void	tap_skip(int n, const char *why);
void	tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	tap_bail(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
/*
 * tap_done: the trailing plan when there was none; returns the exit
 * status: 0 when all passed, the count of failures (at most 254), 255
 * when the plan was not met or nothing was planned and nothing ran.
 */
int	tap_done(void);

/* Test data helpers. */
/* tap_slurp: read a whole file; exits through tap_bail on failure. */
char	*tap_slurp(const char *path, size_t *len);
/* tap_unhex: decode hex into a malloc'd buffer; bails on bad hex. */
uint8_t	*tap_unhex(const char *hex, size_t *len);
/* tap_path: KP_TOP-relative path in a static buffer. */
const char *tap_path(const char *rel);

#define plan(n)			tap_plan(n)
#define skip_all(why)		tap_skip_all(why)
#define ok(c, ...)		tap_ok(!!(c), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(g, w, ...)	tap_is_int((g), (w), __FILE__, __LINE__, \
				    __VA_ARGS__)
#define is_string(g, w, ...)	tap_is_string((g), (w), __FILE__, __LINE__, \
				    __VA_ARGS__)
#define is_blob(g, gl, w, wl, ...) tap_is_blob((g), (gl), (w), (wl), \
				    __FILE__, __LINE__, __VA_ARGS__)
#define skip(n, why)		tap_skip((n), (why))
#define diag(...)		tap_diag(__VA_ARGS__)
#define bail(...)		tap_bail(__VA_ARGS__)
#define done_testing()		tap_done()

#endif /* TAP_H */
