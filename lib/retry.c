/* SPDX-License-Identifier: ISC */
/*
 * retry.c: the client's requests that may be sent again, and how long
 * it waits between them (docs/reliability.md, "The library's
 * retries"): a request whose repeat the server answers as the first
 * (a read, an upload, a reserve or claim with its request_id, a spend
 * or release by its caller) is asked again, signed afresh, after an
 * answer that says nothing of its fate (no reply, a 502, 503 or 504,
 * the 401 of a replayed signature), with a bounded exponential backoff
 * with full jitter, a 503's Retry-After honoured, within a total
 * deadline.
 */

#include <time.h>

#include <sodium.h>

#include "kpool.h"
#include "client.h"

#define RETRY_BASE_MS	50	/* the first wait's ceiling */
#define RETRY_CAP_MS	1000	/* no wait longer (Retry-After aside) */

static int64_t
mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(int64_t ms)
{
	struct timespec	ts;

	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1)
		;
}

/*
 * backoff: the wait before retry n (0 for the first): a uniform draw
 * in [ceiling/2, ceiling], ceiling = base * 2^n up to the cap; the
 * server's Retry-After when it asked for longer.
 */
static int64_t
backoff(int n, int64_t retry_after_ms)
{
	int64_t	ceiling = RETRY_BASE_MS;

	while (n-- > 0 && ceiling < RETRY_CAP_MS)
		ceiling *= 2;
	if (ceiling > RETRY_CAP_MS)
		ceiling = RETRY_CAP_MS;
	ceiling = ceiling / 2 + (int64_t)randombytes_uniform(
	    (uint32_t)(ceiling / 2 + 1));
	return retry_after_ms > ceiling ? retry_after_ms : ceiling;
}

int
kp_client_call(struct kp_client *c, const char *method, const char *path,
    const char *body, json_t **reply)
{
	int64_t	start = mono_ms(), wait, after;
	int	rc, n, attempts, deadline;

	kp_client_retry_policy(c, &attempts, &deadline);
	for (n = 0;; n++) {
		rc = kp_client_request(c, method, path, body, reply);
		if (n + 1 >= attempts || !kp_client_transient(c, rc, &after))
			return rc;
		wait = backoff(n, after);
		if (mono_ms() - start + wait > deadline)
			return rc;
		if (reply != NULL) {
			json_decref(*reply);
			*reply = NULL;
		}
		sleep_ms(wait);
	}
}
