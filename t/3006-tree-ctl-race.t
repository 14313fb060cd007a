#!/bin/sh
# SPDX-License-Identifier: ISC
# 3006-tree-ctl-race: writers hammer ctl while the refresh thread runs
# its own passes every second (refresh_interval from config).  Every
# write returns, with OK: a request that comes while the thread is
# deciding on a periodic pass is served, never dropped.  Each writer runs
# under a deadline, so a hang fails the test instead of stalling it.
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/3-fs.sh"
need_fuse

start_server
M=$TMP/mnt
mount_pool "$TMP/alice.db" "$M" -o user=alice,server="$SERVER_URL"
printf 'refresh_interval = 1\n' >"$M/config" || bail "config write"
ctl "$M" refresh

W=4		# writers
SECS=6		# of hammering: six periodic passes at least

plan 5

is "$(grep '^refresh_interval' "$M/config")" "refresh_interval = 1" \
    "the refresh thread runs every second"

# writer: ctl writes in a loop until the end time, one open, write and
# close each; prints a line per failure (the verb and errno) and "N
# writes", then done
writer() {
	perl -e '
use strict; use warnings; use POSIX; use Fcntl;
my ($ctl, $secs) = @ARGV;
my @verbs = ("cleanup", "cleanup", "cleanup", "sync");
my $end = time + $secs;
my $n = 0;
while (time < $end) {
	my $v = $verbs[$n++ % @verbs];
	my $fh;
	if (!sysopen($fh, $ctl, O_WRONLY)) { print "$v: open: $!\n"; next }
	my $w = syswrite($fh, $v);
	print "$v: $!\n" unless defined($w) && $w == length($v);
	close($fh);
}
print "$n writes\ndone\n";
' "$M/ctl" "$SECS"
}
i=0
pids=
while [ $i -lt $W ]; do
	i=$((i + 1))
	writer >"$TMP/w.$i" 2>&1 &
	pids="$pids $!"
done
# the deadline: a writer still running then is stuck in write(2)
end=$(($(date +%s) + SECS + 30))
for p in $pids; do
	while kill -0 "$p" 2>/dev/null && [ "$(date +%s)" -lt "$end" ]; do
		sleep 0.2
	done
done
stuck=0
for p in $pids; do
	kill -0 "$p" 2>/dev/null && stuck=$((stuck + 1))
done
if [ "$stuck" -gt 0 ]; then
	# a daemon that lost a request never answers it: killing it
	# aborts the connection, so the stuck writes fail and end
	kill -KILL "$FS_PID" 2>/dev/null
	wait "$FS_PID" 2>/dev/null
	fusermount3 -u "$M" 2>/dev/null || umount -l "$M" 2>/dev/null
	_tap_mounts=
fi
for p in $pids; do
	wait "$p"
done
is "$stuck" 0 "no ctl writer is stuck after $((SECS + 30)) s"
is "$(cat "$TMP"/w.* | grep -c '^done$')" $W "every writer finished"
n=$(cat "$TMP"/w.* | sed -n 's/ writes$//p' | paste -sd+ | bc)
is "$(cat "$TMP"/w.* | grep ':' | sort | uniq -c | tr -s ' ')" "" \
    "all $n ctl writes succeeded"
is "$(fsop write "$M/ctl" sync)" OK "ctl still works after the storm"
