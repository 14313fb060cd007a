/* SPDX-License-Identifier: ISC */
/* state.c: names of the key states, shared by the store and the API. */

#include <string.h>

#include "kpool.h"

static const char *const names[KP_NSTATES] = {
	"created", "available", "reserved", "spent", "expired",
};

const char *
kp_state_name(int state)
{
	if (state < 0 || state >= KP_NSTATES)
		return NULL;
	return names[state];
}

int
kp_state_from_name(const char *name)
{
	int	i;

	if (name == NULL)
		return -1;
	for (i = 0; i < KP_NSTATES; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}
