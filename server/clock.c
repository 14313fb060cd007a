/* SPDX-License-Identifier: ISC */
/*
 * clock.c: the server's clock.  --test-clock FILE makes key lifetimes,
 * reservation TTLs and expiry follow a unix time the test writes into
 * FILE (read on every use); signatures use the real clock, unless FILE
 * holds a second unix time after the first: then signatures follow it.
 */

#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "kps.h"

/* test_clock: field 0 or 1 of the test clock file, or the real time. */
static int64_t
test_clock(int field)
{
	char		 buf[64], *p, *end;
	ssize_t		 n;
	long long	 v = 0;
	int		 fd, i;

	if (kps_conf.test_clock == NULL)
		return (int64_t)time(NULL);
	if ((fd = open(kps_conf.test_clock, O_RDONLY | O_CLOEXEC)) == -1)
		return (int64_t)time(NULL);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return (int64_t)time(NULL);
	buf[n] = '\0';
	for (p = buf, i = 0; i <= field; i++, p = end) {
		v = strtoll(p, &end, 10);
		if (end == p)
			return (int64_t)time(NULL);
	}
	return (int64_t)v;
}

int64_t
kps_real_now(void)
{
	return test_clock(1);
}

int64_t
kps_now(void)
{
	return test_clock(0);
}
