/* SPDX-License-Identifier: ISC */
/*
 * 1016-pool-dbmode: the store's files are 0600.  A store whose database
 * (and -wal, -shm) were given a wider mode is narrowed back to 0600 when
 * it is opened, and opens; a key file with a wider mode is refused
 * (KP_EPERM) and left as it is.
 */

#include <sodium.h>

#include "1-pooltest.h"

/* Make path exist (empty when new) with exactly mode. */
static void
set_mode(const char *path, mode_t mode)
{
	int	fd;

	if ((fd = open(path, O_RDWR | O_CREAT, 0600)) == -1 ||
	    fchmod(fd, mode) == -1)
		bail("%s: %s", path, strerror(errno));
	close(fd);
}

int
main(void)
{
	struct kp_pool	*p;
	struct kp_counts c;
	char		 wal[600], shm[600];
	const char	*db;

	if (sodium_init() < 0)
		bail("sodium_init");
	pt_init();
	db = pt_file("o.db");
	(void)snprintf(wal, sizeof(wal), "%s-wal", db);
	(void)snprintf(shm, sizeof(shm), "%s-shm", db);
	if (kp_pool_open(db, NULL, "olga", NULL, &p) != KP_OK ||
	    kp_pool_generate(p, 2, 0) != KP_OK)
		bail("setup: %s", kp_errmsg(p));
	kp_pool_close(p);

	set_mode(db, 0644);
	set_mode(wal, 0666);
	set_mode(shm, 0664);
	is_int(kp_pool_open(db, NULL, NULL, NULL, &p), KP_OK,
	    "a store of mode 0644 opens (%s)", kp_errmsg(p));
	is_int(pt_mode(db), 0600, "the database is 0600 again");
	is_int(pt_mode(wal), 0600, "so is its -wal");
	is_int(pt_mode(shm), 0600, "and its -shm");
	is_int(kp_pool_counts(p, 0, &c), KP_OK, "counts");
	is_int(c.total, 2, "its 2 keys are there");
	kp_pool_close(p);

	set_mode(pt_file("o.db.key"), 0640);
	is_int(kp_pool_open(db, NULL, NULL, NULL, &p), KP_EPERM,
	    "a key file of mode 0640: KP_EPERM");
	ok(strstr(kp_errmsg(p), "must be 0600") != NULL, "which says so: %s",
	    kp_errmsg(p));
	kp_pool_close(p);
	is_int(pt_mode(pt_file("o.db.key")), 0640, "the key file is left as "
	    "it is");
	return done_testing();
}
