/* SPDX-License-Identifier: ISC */
/* util.h: libkpool's own small helpers, defined in lib/util.c. */
#ifndef KP_UTIL_H
#define KP_UTIL_H

#include <stddef.h>

/*
 * kp_grow: room for element n in the array at *(T **)vp of *cap
 * elements of size bytes, doubling it (first elements at first); 0, or
 * -1 when out of memory, the array as it was.
 */
int kp_grow(void *vp, size_t *cap, size_t n, size_t size, size_t first);

#endif /* KP_UTIL_H */
