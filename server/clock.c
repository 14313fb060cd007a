/* SPDX-License-Identifier: ISC */
/*
 * clock.c: the server's clock.  --test-clock FILE makes key lifetimes,
 * reservation TTLs and expiry follow a unix time the test writes into
 * FILE (read on every use); signatures always use the real clock.
 */

#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "kps.h"

int64_t
kps_real_now(void)
{
	return (int64_t)time(NULL);
}

int64_t
kps_now(void)
{
	char		 buf[32], *end;
	ssize_t		 n;
	long long	 v;
	int		 fd;

	if (kps_conf.test_clock == NULL)
		return kps_real_now();
	if ((fd = open(kps_conf.test_clock, O_RDONLY | O_CLOEXEC)) == -1)
		return kps_real_now();
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return kps_real_now();
	buf[n] = '\0';
	v = strtoll(buf, &end, 10);
	if (end == buf)
		return kps_real_now();
	return (int64_t)v;
}
