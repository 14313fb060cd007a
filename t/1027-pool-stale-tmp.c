/* SPDX-License-Identifier: ISC */
/*
 * 1027-pool-stale-tmp: a crash while the key file is made leaves its
 * temporary file (STORE.key.HEX.tmp) behind; the next open removes it,
 * whether it then makes the key file or reads it.  It removes only
 * regular files of that very name a minute or more older than its own
 * attempt: a younger one may be another opener's, and other names,
 * other stores' and directories stay.
 */

#include <sys/stat.h>
#include <sys/time.h>

#include <sodium.h>

#include "1-pooltest.h"

/* plant: an empty file (or directory, when dir) at name, last changed
 * age seconds ago. */
static void
plant(const char *name, int age, int dir)
{
	const char	*path = pt_file(name);
	struct timeval	 tv[2];
	int		 fd;

	if (dir) {
		if (mkdir(path, 0700) == -1)
			bail("mkdir %s: %s", path, strerror(errno));
	} else {
		if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1)
			bail("%s: %s", path, strerror(errno));
		close(fd);
	}
	gettimeofday(&tv[0], NULL);
	tv[0].tv_sec -= age;
	tv[1] = tv[0];
	if (utimes(path, tv) == -1)
		bail("utimes %s: %s", path, strerror(errno));
}

static int
there(const char *name)
{
	struct stat	sb;

	return lstat(pt_file(name), &sb) == 0;
}

int
main(void)
{
	static const char *const keep[] = {
		"o.db.key.fedcba9876543210.tmp",	/* young: another's */
		"o.db.key.0123456789ABCDEF.tmp",	/* not our hex */
		"o.db.key.0123456789abcde.tmp",		/* 15 digits */
		"o.db.key.0123456789abcdef.tmp.old",
		"x.db.key.0123456789abcdef.tmp",	/* another store's */
		"o.db.0123456789abcdef.tmp",
		"o.db.key.1111111111111111.tmp",	/* a directory */
	};
	struct kp_pool	*p;
	size_t		 i, kept;

	if (sodium_init() < 0)
		bail("sodium_init");
	pt_init();
	plan(7);

	/* a new store: the key file is made, the leftover goes */
	plant("o.db.key.0123456789abcdef.tmp", 3600, 0);
	plant("o.db.key.aaaaaaaaaaaaaaaa.tmp", 61, 0);
	plant(keep[0], 0, 0);
	for (i = 1; i < sizeof(keep) / sizeof(keep[0]); i++)
		plant(keep[i], 3600, i == 6);
	is_int(kp_pool_open(pt_file("o.db"), NULL, "olga", NULL, &p), KP_OK,
	    "a new store opens");
	kp_pool_close(p);
	ok(there("o.db.key"), "its key file is made");
	ok(!there("o.db.key.0123456789abcdef.tmp") &&
	    !there("o.db.key.aaaaaaaaaaaaaaaa.tmp"),
	    "the temporary key files of an hour and a minute ago are gone");
	for (i = 0, kept = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (there(keep[i]))
			kept++;
		else
			diag("%s is gone", keep[i]);
	is_int(kept, sizeof(keep) / sizeof(keep[0]),
	    "a young one, other names and a directory stay");

	/* an existing store: the key file is read, the leftover goes */
	plant("o.db.key.5555555555555555.tmp", 600, 0);
	is_int(kp_pool_open(pt_file("o.db"), NULL, NULL, NULL, &p), KP_OK,
	    "the store opens again");
	kp_pool_close(p);
	ok(!there("o.db.key.5555555555555555.tmp"),
	    "the leftover beside an existing key file is gone");
	ok(there(keep[0]) && there(keep[4]), "the others stay");
	return done_testing();
}
