#!/bin/sh
# SPDX-License-Identifier: ISC
# 3021-tree-events: the events file.  A shell "while read" loop sees a
# local mv and a reservation bob made with kpool, within the one sync
# that pulls it, as "TIME REF FROM TO [BY]" lines (TIME with
# nanoseconds, strictly increasing); poll(2) on an open events file
# wakes at the next change; a non-blocking read with nothing pending is
# EAGAIN; a reader sees only what happened after its open; a reader
# interrupted by a signal returns; one that fell more than 1024 changes
# behind reads "TIME * lost N" first, then the oldest kept.
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/3-fs.sh"
need_fuse
plan 17

K=$KP_BUILD/kpool
start_server
M=$TMP/mnt
mount_pool "$TMP/alice.db" "$M" -o user=alice,server="$SERVER_URL",refresh=0
C=$M/created A=$M/available R=$M/reserved
"$K" --store "$TMP/bob.db" init --server "$SERVER_URL" --user bob >/dev/null ||
    bail "kpool init"
"$K" --store "$TMP/bob.db" register >/dev/null || bail "kpool register"
ctl "$M" "generate 2"
set -- $(ls "$C")
k1=$1 k2=$2

is "$(fsop readnb "$M/events")" EAGAIN \
    "a non-blocking read with nothing pending: EAGAIN"

# wait_lines FILE N: until FILE has N lines (10 s at most)
wait_lines() {
	_i=0
	while [ "$(cat "$1" 2>/dev/null | wc -l)" -lt "$2" ] && [ $_i -lt 200 ]; do
		sleep 0.05
		_i=$((_i + 1))
	done
}

# the shell's loop, as a script would write it
(
	while read -r t ref from to by; do
		echo "$t $ref $from $to${by:+ $by}" >>"$TMP/seen"
	done <"$M/events"
) &
LOOP=$!
_tap_pids="$_tap_pids $LOOP"
sleep 0.3	# the loop has opened the file

is_errno OK "mv created -> available" rename "$C/$k1" "$A/$k1"
wait_lines "$TMP/seen" 1
like "$(sed -n 1p "$TMP/seen")" \
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z $k1 created available\$" \
    "the loop reads the local mv: TIME REF FROM TO"

held=$("$K" --store "$TMP/bob.db" --json reserve alice |
    perl -MJSON::PP -e 'local $/; print decode_json(<STDIN>)->{ref}')
is "$held" "$k1" "bob reserves alice's key with kpool"
ctl "$M" sync
wait_lines "$TMP/seen" 3
is "$(sed -n 2,3p "$TMP/seen" | cut -d' ' -f2- | sort | tr '\n' ';')" \
    "$(printf '%s\n' "$k1 available reserved bob" "$k2 created available" |
    sort | tr '\n' ';')" \
    "the one sync: bob's reservation (BY bob) and the upload it made"
is "$(wc -l <"$TMP/seen")" 3 "nothing else"
ok "the times increase" test "$(cut -d' ' -f1 "$TMP/seen" | sort -u)" = \
    "$(cut -d' ' -f1 "$TMP/seen")"

# poll(2) wakes on the next change; a late reader sees only what follows
perl -e '
	use strict; use IO::Poll qw(POLLIN); use Fcntl; use POSIX;
	sysopen(my $fh, $ARGV[0], O_RDONLY | O_NONBLOCK) or die "$!";
	my $buf;
	print defined(sysread($fh, $buf, 4096)) ? "data\n" :
	    $! == EAGAIN ? "EAGAIN\n" : "$!\n";
	open(my $r, ">", $ARGV[1]) or die; close($r);	# ready
	my $p = IO::Poll->new;
	$p->mask($fh => POLLIN);
	my $n = $p->poll(10);
	print "poll $n ", ($p->events($fh) & POLLIN ? "POLLIN" : "-"), "\n";
	sysread($fh, $buf, 4096);
	print $buf;
' "$M/events" "$TMP/ready" >"$TMP/poll" 2>&1 &
POLLER=$!
_tap_pids="$_tap_pids $POLLER"
i=0
while [ ! -e "$TMP/ready" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
sleep 0.3	# it sleeps in poll(2)
is_errno OK "mv available -> expired" rename "$A/$k2" "$M/expired/$k2"
wait "$POLLER"
is "$(sed -n 1,2p "$TMP/poll" | tr '\n' ' ')" "EAGAIN poll 1 POLLIN " \
    "poll(2): nothing at first (EAGAIN), then POLLIN at the mv"
like "$(sed -n 3p "$TMP/poll")" " $k2 available expired\$" \
    "and the read gives the one change made after its open"
wait_lines "$TMP/seen" 4
is "$(sed -n 4p "$TMP/seen" | cut -d' ' -f2-)" "$k2 available expired" \
    "the loop sees it too: each reader has its own position"

# a reader blocked in read(2) returns when interrupted
timeout 1 cat "$M/events" >/dev/null; rc=$?
is "$rc" 124 "a blocked read: timeout's signal ends it (no hang)"

kill "$LOOP" 2>/dev/null
wait "$LOOP" 2>/dev/null
is "$(wc -l <"$TMP/seen")" 4 "the loop read the four changes"
ok "each a whole line" test "$(grep -cvE '^[0-9T:.Z-]+ [0-9a-f]{64} [a-z]+ [a-z]+( [a-z/]+)?$' "$TMP/seen")" = 0

# a reader 1100 changes behind
printf 'hard_cap = 2000\ntarget = 32\n' >"$TMP/cfg"
is_errno OK "config: hard_cap 2000" writefile "$M/config" "$TMP/cfg"
exec 3<"$M/events"
ctl "$M" "generate 1100"
{ read -r l1; read -r l2; } <&3
exec 3<&-
printf '%s\n%s\n' "$l1" "$l2" >"$TMP/late"
like "$(sed -n 1p "$TMP/late")" '^[0-9T:.Z-]+ \* lost 76$' \
    "a reader 1100 behind: first a lost line (76 of 1100 dropped)"
like "$(sed -n 2p "$TMP/late")" ' [0-9a-f]{64} none created$' \
    "then the oldest kept: a new key (none -> created)"
