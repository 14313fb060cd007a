#!/bin/sh
# SPDX-License-Identifier: ISC
# 3007-tree-rename-sync: renames race syncs.  A rename asks the server,
# then records the move; a sync that took the server's view before the
# rename must not apply it after the rename's record (undoing it), nor
# apply the rename itself before the record (which then finds the key
# moved and fails).  Every rename succeeds, and once the syncs stop
# each key is where its last rename put it.
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/3-fs.sh"
need_fuse

start_server
M=$TMP/mnt
mount_pool "$TMP/alice.db" "$M" -o user=alice,server="$SERVER_URL",refresh=0
ctl "$M" refresh
ROUNDS=3

plan 4

set -- $(ls "$M/available")
is "$#" 33 "33 keys available"

# syncs in a loop until the stop file appears; prints the count, then
# the failures
perl -e '
use strict; use warnings; use Fcntl;
my ($ctl, $stop) = @ARGV;
my ($n, $bad) = (0, 0);
my $end = time + 120;
while (!-e $stop && time < $end) {
	sysopen(my $fh, $ctl, O_WRONLY) or last;
	$n++;
	$bad++ unless defined(syswrite($fh, "sync"));
	close($fh);
}
print "$n $bad\n";
' "$M/ctl" "$TMP/stop" >"$TMP/syncs" &
h=$!

# each key to reserved/ and back, ROUNDS times, one rename at a time
perl -e '
use strict; use warnings;
require "syscall.ph";
my ($m, $rounds, @keys) = @ARGV;
my $bad = 0;
for my $r (1 .. $rounds) {
	for my $k (@keys) {
		for my $mv (["available", "reserved"], ["reserved", "available"]) {
			my ($a, $b) = @$mv;
			if (syscall(&SYS_renameat2, -100, "$m/$a/$k", -100,
			    "$m/$b/$k", 0) != 0) {
				print "$a -> $b $k: $!\n";
				$bad++;
			}
		}
	}
}
print "failed $bad\n";
' "$M" "$ROUNDS" "$@" >"$TMP/renames"
touch "$TMP/stop"
wait "$h"
read -r nsync badsync <"$TMP/syncs"
diag "$nsync syncs during $((2 * ROUNDS * $#)) renames"
is "$(tail -n 1 "$TMP/renames")" "failed 0" "every rename succeeded" ||
    sed 's/^/#   /' "$TMP/renames" | head -n 10
is "$badsync" 0 "every sync succeeded"
is "$(ls "$M/available" | wc -l | tr -d ' '):$(ls "$M/reserved" | wc -l | tr -d ' ')" \
    "33:0" "after the syncs every key is back in available/"
