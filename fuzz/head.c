/* SPDX-License-Identifier: ISC */
/*
 * fuzz/head: libFuzzer target for the server's request head checks
 * (server/head.c, kps_head_parse).  The input is the bytes a client
 * sends first.  Whatever the bytes: a complete head ends inside them
 * and at a line end, a refusal has a status, a code and a message, and
 * more is asked for only below the cap.
 */

#include <stdlib.h>
#include <string.h>

#include "kps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kps_head	 h;
	size_t		 cap = 4096;

	if (kps_head_parse((const char *)data, size, cap, &h) ==
	    KPS_HEAD_MORE) {
		if (size >= cap || h.f.status != 0)
			abort();
		return 0;
	}
	if (h.f.status == 0) {
		if (h.len == 0 || h.len > size || data[h.len - 1] != '\n' ||
		    !h.line)
			abort();
	} else if (h.f.code == NULL || h.f.message == NULL ||
	    h.f.status < 400 || h.f.status > 505)
		abort();
	if (memchr(h.method, '\0', sizeof(h.method)) == NULL ||
	    memchr(h.target, '\0', sizeof(h.target)) == NULL)
		abort();
	return 0;
}
