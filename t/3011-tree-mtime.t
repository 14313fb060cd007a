#!/bin/sh
# SPDX-License-Identifier: ISC
# 3011-tree-mtime: a state directory's mtime moves forward whenever a
# key enters or leaves it, by rename, rmdir or a sync, even twice within
# one second (the test clock stands still: the nanoseconds move), and
# only then: a key that changes but stays, and the directories a move
# does not touch, keep theirs.  status follows the newest.
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/3-fs.sh"
need_fuse

T=$(date +%s)
echo "$T" >"$TMP/clock"
start_server --test-clock "$TMP/clock"
M=$TMP/mnt
INV="$KP_BUILD/t/4000-kpinvite.t"
mount_pool "$TMP/alice.db" "$M" \
    -o user=alice,server="$SERVER_URL",refresh=0,test_clock="$TMP/clock"
ctl "$M" "generate 3"
set -- $(ls "$M/created")
k1=$1 k2=$2 k3=$3

# mt: the mtimes of the five state directories, with nanoseconds
mt() {
	for s in created available reserved spent expired; do
		stat -c %.9Y "$M/$s"
	done | tr '\n' ' '
}
# cmpt A B: for each directory "+" when its mtime in B is after A, "=" when
# the same, "-" when before (same-length decimal strings compare as text)
cmpt() {
	perl -e '
my @a = split " ", $ARGV[0]; my @b = split " ", $ARGV[1];
print join("", map { $b[$_] gt $a[$_] ? "+" : $b[$_] eq $a[$_] ? "=" : "-" } 0 .. $#a);
' "$1" "$2"
}

plan 9

m0=$(mt)
r=$(fsop rename "$M/created/$k1" "$M/available/$k1")
m1=$(mt)
is "$r:$(cmpt "$m0" "$m1")" "OK:++===" \
    "created -> available: created/ and available/ move, the rest stay"
r=$(fsop rename "$M/created/$k2" "$M/available/$k2")
m2=$(mt)
is "$r:$(cmpt "$m1" "$m2")" "OK:++===" "again within the same second: they move again"
is "$(stat -c %Y "$M/available")" "$T" "the seconds are the clock's"
ok "rmdir created/<key>" rmdir "$M/created/$k3"
m3=$(mt)
is "$(cmpt "$m2" "$m3")" "+====" "rmdir: created/ moves"

set -- $("$INV" reserve "$SERVER_URL" bob alice 6731)
ctl "$M" sync
m4=$(mt)
is "$1:$(cmpt "$m3" "$m4")" "$(ls "$M/reserved"):=++==" \
    "a sync that sees bob's reservation: available/ and reserved/ move"
"$INV" release "$SERVER_URL" bob "$1" >/dev/null
"$INV" reserve "$SERVER_URL" carol alice 6732 >/dev/null
ctl "$M" sync
m5=$(mt)
is "$(cat "$M/reserved/$1/reserved_by"):$(cmpt "$m4" "$m5")" "carol:=====" \
    "a reservation passed from bob to carol moves no directory"
ctl "$M" sync
is "$(cmpt "$m5" "$(mt)")" "=====" "a sync that changes nothing moves none"
newest=$(echo "$m5" | tr ' ' '\n' | sort -n | tail -n 1)
is "$(stat -c %.9Y "$M/status")" "$newest" "status has the newest mtime"
