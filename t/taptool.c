/* SPDX-License-Identifier: ISC */
/*
 * taptool: runs t/tap.c's verbs in a fixed pattern, for
 * t/0008-tap-harness.t to check their TAP output and exit status.
 *
 *	taptool empty		done_testing() with no plan and no test
 *	taptool noplan		one passing test, then done_testing()
 *	taptool short		plan(2), one passing test, done_testing()
 *	taptool fail		plan(2), one pass and one failure
 */

#include <stdio.h>
#include <string.h>

#include "tap.h"

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: taptool empty|noplan|short|fail\n");
		return 2;
	}
	if (strcmp(argv[1], "empty") == 0)
		return done_testing();
	if (strcmp(argv[1], "noplan") == 0) {
		ok(1, "one");
		return done_testing();
	}
	if (strcmp(argv[1], "short") == 0) {
		plan(2);
		ok(1, "one");
		return done_testing();
	}
	if (strcmp(argv[1], "fail") == 0) {
		plan(2);
		ok(1, "one");
		is_int(1, 2, "two");
		return done_testing();
	}
	fprintf(stderr, "taptool: unknown pattern %s\n", argv[1]);
	return 2;
}
