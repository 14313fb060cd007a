/* SPDX-License-Identifier: ISC */
/*
 * names.c: the rules for names that cross the wire: user names, as the
 * client, the pool and the server check them.
 */

#include <string.h>

#include "kpool.h"

/*
 * kp_username_valid: 1 to KP_MAX_USERNAME bytes of A-Z a-z 0-9, and
 * . _ - @ after the first.
 */
int
kp_username_valid(const char *name)
{
	size_t	i, n;
	char	c;

	if (name == NULL || (n = strlen(name)) == 0 || n > KP_MAX_USERNAME)
		return 0;
	for (i = 0; i < n; i++) {
		c = name[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9'))
			continue;
		if (i > 0 && (c == '.' || c == '_' || c == '-' || c == '@'))
			continue;
		return 0;
	}
	return 1;
}
