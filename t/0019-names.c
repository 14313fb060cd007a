/* SPDX-License-Identifier: ISC */
/*
 * 0019-names: the rules for user names, device names and principals:
 * each edge of the grammar, the length limits, the default device that
 * a principal leaves unnamed, and the round trip of kp_principal and
 * kp_principal_parse.
 */

#include <string.h>

#include "kpool.h"
#include "tap.h"

static const char *const good_devices[] = {
	"laptop", "a", "0", "phone-2", "x.y_z",
	"abcdefghijklmnopqrstuvwxyz012345",	/* 32 bytes */
};
static const char *const bad_devices[] = {
	"", "Laptop", "-x", ".x", "_x", "a/b", "a b", "caf\xc3\xa9",
	"abcdefghijklmnopqrstuvwxyz0123456",	/* 33 bytes */
};

int
main(void)
{
	char	 u[KP_MAX_USERNAME + 1], d[KP_MAX_DEVICE + 1];
	char	 p[KP_MAX_PRINCIPAL + 1], small[8], longu[KP_MAX_USERNAME + 2];
	char	 longest[KP_MAX_PRINCIPAL + 2];
	size_t	 i;

	for (i = 0; i < sizeof(good_devices) / sizeof(*good_devices); i++)
		is_int(kp_devicename_valid(good_devices[i]), 1,
		    "device name '%s' is valid", good_devices[i]);
	for (i = 0; i < sizeof(bad_devices) / sizeof(*bad_devices); i++)
		is_int(kp_devicename_valid(bad_devices[i]), 0,
		    "device name '%s' is refused", bad_devices[i]);
	is_int(kp_devicename_valid(NULL), 0, "NULL is no device name");
	is_int(kp_username_valid("Alice@example.org"), 1,
	    "a user name may hold upper case and @");
	is_int(kp_username_valid("a/b"), 0, "a user name holds no '/'");

	is_int(kp_principal("alice", NULL, p, sizeof(p)), KP_OK,
	    "principal of the default device (NULL)");
	is_string(p, "alice", "is the user alone");
	is_int(kp_principal("alice", "default", p, sizeof(p)), KP_OK,
	    "principal of the device named default");
	is_string(p, "alice", "is the user alone too");
	is_int(kp_principal("alice", "laptop", p, sizeof(p)), KP_OK,
	    "principal of another device");
	is_string(p, "alice/laptop", "is user/device");
	is_int(kp_principal("alice", "Laptop", p, sizeof(p)), KP_EINVAL,
	    "a bad device name is KP_EINVAL");
	is_int(kp_principal("al ice", "laptop", p, sizeof(p)), KP_EINVAL,
	    "a bad user name is KP_EINVAL");
	is_int(kp_principal("alice", "laptop", small, sizeof(small)),
	    KP_EINVAL, "a short buffer is KP_EINVAL");

	memset(longu, 'u', KP_MAX_USERNAME);
	longu[KP_MAX_USERNAME] = '\0';
	is_int(kp_principal(longu, good_devices[5], longest,
	    KP_MAX_PRINCIPAL + 1), KP_OK,
	    "the longest principal fits KP_MAX_PRINCIPAL + 1 bytes");
	is_int((long long)strlen(longest), KP_MAX_PRINCIPAL,
	    "and is KP_MAX_PRINCIPAL bytes");
	is_int(kp_principal_parse(longest, u, d), KP_OK, "which parses");
	is_string(d, good_devices[5], "to its device");
	longu[KP_MAX_USERNAME] = 'u';
	longu[KP_MAX_USERNAME + 1] = '\0';
	is_int(kp_principal(longu, "laptop", longest, sizeof(longest)),
	    KP_EINVAL, "a 65-byte user name is refused");

	is_int(kp_principal_parse("alice", u, d), KP_OK, "parse 'alice'");
	is_string(u, "alice", "user alice");
	is_string(d, "default", "device default");
	is_int(kp_principal_parse("alice/laptop", u, d), KP_OK,
	    "parse 'alice/laptop'");
	is_string(u, "alice", "user alice");
	is_string(d, "laptop", "device laptop");
	is_int(kp_principal_parse("alice/default", u, d), KP_OK,
	    "parse 'alice/default'");
	is_int(kp_principal(u, d, p, sizeof(p)), KP_OK, "and rebuild it");
	is_string(p, "alice", "canonically, as 'alice'");
	is_int(kp_principal_parse("alice/", u, d), KP_EINVAL,
	    "'alice/' is refused");
	is_int(kp_principal_parse("/laptop", u, d), KP_EINVAL,
	    "'/laptop' is refused");
	is_int(kp_principal_parse("alice/lap/top", u, d), KP_EINVAL,
	    "two slashes are refused");
	is_int(kp_principal_parse("alice/Laptop", u, d), KP_EINVAL,
	    "an upper-case device is refused");
	is_int(kp_principal_parse("", u, d), KP_EINVAL, "'' is refused");
	is_int(kp_principal_parse(NULL, u, d), KP_EINVAL, "NULL is refused");
	return done_testing();
}
