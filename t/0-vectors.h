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

#ifdef KP_WELCOME_H
/*
 * vec_psks: the external_psks of a passive-client-welcome.json entry v
 * into psks (8 at most, or bail), their bytes malloc'd in bufs, two a
 * PSK (vec_psks_free); the count.
 */
static __attribute__((unused)) size_t
vec_psks(json_t *v, struct kp_psk psks[8], uint8_t *bufs[16])
{
	json_t	*ps = json_object_get(v, "external_psks"), *x;
	size_t	 j;

	if (json_array_size(ps) > 8)
		bail("too many PSKs");
	json_array_foreach(ps, j, x) {
		bufs[2 * j] = hexf(x, "psk_id", &psks[j].idlen);
		bufs[2 * j + 1] = hexf(x, "psk", &psks[j].psklen);
		psks[j].id = bufs[2 * j];
		psks[j].psk = bufs[2 * j + 1];
	}
	return json_array_size(ps);
}

/* vec_psks_free: free what vec_psks allocated for n PSKs. */
static __attribute__((unused)) void
vec_psks_free(uint8_t *bufs[16], size_t n)
{
	size_t	j;

	for (j = 0; j < 2 * n; j++)
		free(bufs[j]);
}
#endif

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
