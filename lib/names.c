/* SPDX-License-Identifier: ISC */
/*
 * names.c: the rules for names that cross the wire: user names, device
 * names and the principal that names one device of a user, as the
 * client, the pool and the server check them.
 */

#include <stdio.h>
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

/*
 * kp_devicename_valid: 1 to KP_MAX_DEVICE bytes of a-z 0-9, and . _ -
 * after the first.  Lower case only, so that two devices never differ
 * by case alone.
 */
int
kp_devicename_valid(const char *name)
{
	size_t	i, n;
	char	c;

	if (name == NULL || (n = strlen(name)) == 0 || n > KP_MAX_DEVICE)
		return 0;
	for (i = 0; i < n; i++) {
		c = name[i];
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			continue;
		if (i > 0 && (c == '.' || c == '_' || c == '-'))
			continue;
		return 0;
	}
	return 1;
}

/*
 * kp_principal: USER for the device "default" (or NULL), USER/DEVICE
 * for any other.  '/' is in neither name, so the split is unambiguous.
 */
int
kp_principal(const char *user, const char *device, char *buf, size_t len)
{
	int	n;

	if (!kp_username_valid(user) ||
	    (device != NULL && !kp_devicename_valid(device)))
		return KP_EINVAL;
	if (device == NULL || strcmp(device, KP_DEFAULT_DEVICE) == 0)
		n = snprintf(buf, len, "%s", user);
	else
		n = snprintf(buf, len, "%s/%s", user, device);
	if (n < 0 || (size_t)n >= len)
		return KP_EINVAL;
	return KP_OK;
}

/*
 * kp_principal_parse: the reverse of kp_principal; "alice/default"
 * parses too, as the device "default".
 */
int
kp_principal_parse(const char *s, char user[KP_MAX_USERNAME + 1],
    char device[KP_MAX_DEVICE + 1])
{
	const char	*slash;
	size_t		 n;

	if (s == NULL)
		return KP_EINVAL;
	if ((slash = strchr(s, '/')) == NULL) {
		if (!kp_username_valid(s))
			return KP_EINVAL;
		memcpy(user, s, strlen(s) + 1);
		memcpy(device, KP_DEFAULT_DEVICE, sizeof(KP_DEFAULT_DEVICE));
		return KP_OK;
	}
	n = (size_t)(slash - s);
	if (n == 0 || n > KP_MAX_USERNAME || !kp_devicename_valid(slash + 1))
		return KP_EINVAL;
	memcpy(user, s, n);
	user[n] = '\0';
	if (!kp_username_valid(user)) {
		user[0] = '\0';
		return KP_EINVAL;
	}
	memcpy(device, slash + 1, strlen(slash + 1) + 1);
	return KP_OK;
}
