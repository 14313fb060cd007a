#!/bin/sh
# SPDX-License-Identifier: ISC
# 3023-tree-events-cap: readers of the events file cannot stop the
# mount.  Each blocked read holds one of libfuse's workers; at most 4
# events files are open at once (the 5th open is EMFILE), and the
# loop has 4 workers more than it would, so with 4 readers blocked
# status, ls and a rename still answer; once a reader goes, another
# may open.  And the token of -o invite= is not left in the daemon's
# command line, which every local user reads.
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/3-fs.sh"
need_fuse
plan 7

M=$TMP/mnt
mount_pool "$TMP/alice.db" "$M" \
    -o user=alice,server=none,refresh=0,invite=SECRETTOKEN123
ctl "$M" "generate 2"

ok "the invitation's token is not in the daemon's command line" sh -c \
    "! tr '\\0' ' ' </proc/$FS_PID/cmdline | grep -q SECRETTOKEN123"

pids=
for i in 1 2 3 4; do
	cat "$M/events" >"$TMP/ev.$i" 2>&1 &
	pids="$pids $!"
done
_tap_pids="$_tap_pids $pids"
sleep 0.5
is "$(fsop readnb "$M/events" 2>&1)" EMFILE "a 5th events file: EMFILE"
is "$(timeout 10 cat "$M/status" | grep -c '^available:')" 1 \
    "with 4 readers blocked, status answers"
is "$(timeout 10 ls "$M/created" | wc -l)" 2 "and ls"
k=$(ls "$M/created" | head -n 1)
timeout 10 mv "$M/created/$k" "$M/expired/"
is "$?" 0 "and a rename"
kill $pids 2>/dev/null
for p in $pids; do wait "$p" 2>/dev/null; done
like "$(cat "$TMP/ev.1")" "$k created expired" \
    "the readers saw the rename before they went"
# their files are released once the kernel passes on their close
r=EMFILE i=0
while [ "$r" = EMFILE ] && [ $i -lt 100 ]; do
	r=$(fsop readnb "$M/events" 2>&1); i=$((i + 1)); sleep 0.05
done
is "$r" EAGAIN "once they went, events opens again (and has nothing yet)"
unmount_pool "$M"
