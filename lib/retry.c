/* SPDX-License-Identifier: ISC */
/*
 * retry.c: how long the client waits before it asks again
 * (docs/reliability.md, "Retries after a lost reply"): a bounded
 * exponential backoff with full jitter, a server's Retry-After
 * honoured, within a number of attempts and a total deadline.  Which
 * requests are asked again, and after which answers, is client.c's
 * (kp_client_call).
 */

#include <time.h>

#include <sodium.h>

#include "retry.h"

#define RETRY_BASE_MS	50	/* the first wait's ceiling */
#define RETRY_CAP_MS	1000	/* no wait longer (Retry-After aside) */

int64_t
kp_retry_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
kp_retry_wait(int n, int attempts, int64_t after_ms, int64_t elapsed_ms,
    int deadline_ms)
{
	int64_t	ceiling = RETRY_BASE_MS, wait;

	if (n + 1 >= attempts)
		return -1;
	while (n-- > 0 && ceiling < RETRY_CAP_MS)
		ceiling *= 2;
	if (ceiling > RETRY_CAP_MS)
		ceiling = RETRY_CAP_MS;
	wait = ceiling / 2 + (int64_t)randombytes_uniform(
	    (uint32_t)(ceiling / 2 + 1));
	if (after_ms > wait)
		wait = after_ms;
	return elapsed_ms + wait > deadline_ms ? -1 : wait;
}

void
kp_retry_sleep(int64_t ms)
{
	struct timespec	ts;

	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1)
		;
}
