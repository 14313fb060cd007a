/* SPDX-License-Identifier: ISC */
/*
 * retry.h: the client's backoff (lib/retry.c), internal to libkpool.
 */
#ifndef KP_RETRY_H
#define KP_RETRY_H

#include <stdint.h>

/* kp_retry_now: a monotonic clock, milliseconds. */
int64_t	kp_retry_now(void);
/*
 * kp_retry_wait: the wait in ms before retry n (0 for the first): a
 * uniform draw in [c/2, c], c = 50 ms * 2^n up to 1 s, or after_ms
 * (a Retry-After) when longer; -1 when no retry may be made: n + 1
 * attempts were the last of attempts, or the wait would end past
 * deadline_ms after the first attempt began (elapsed_ms ago).
 */
int64_t	kp_retry_wait(int n, int attempts, int64_t after_ms,
	    int64_t elapsed_ms, int deadline_ms);
/* kp_retry_sleep: sleep ms milliseconds. */
void	kp_retry_sleep(int64_t ms);

#endif /* KP_RETRY_H */
