/* SPDX-License-Identifier: ISC */
/*
 * 0-vectors.h: helpers shared by the 0xxx tests that read the JSON test
 * vectors of ../shared/vectors/.  Static functions only; each test
 * includes this once.
 */
#ifndef VECTORS_H
#define VECTORS_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "tap.h"

/* hexf: the hex string field k of o, decoded (malloc'd); bails if absent. */
static __attribute__((unused)) uint8_t *
hexf(json_t *o, const char *k, size_t *n)
{
	const char	*s = json_string_value(json_object_get(o, k));

	if (s == NULL)
		bail("missing field %s", k);
	return tap_unhex(s, n);
}

/* vec_load: the vector file name as JSON (json_decref it); bails. */
static __attribute__((unused)) json_t *
vec_load(const char *name)
{
	json_error_t	 jerr;
	json_t		*root;
	char		 rel[128];

	if ((size_t)snprintf(rel, sizeof(rel), "../shared/vectors/%s",
	    name) >= sizeof(rel))
		bail("%s: name too long", name);
	if ((root = json_load_file(tap_path(rel), 0, &jerr)) == NULL)
		bail("%s: %s", name, jerr.text);
	return root;
}

#endif /* VECTORS_H */
