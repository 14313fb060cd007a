#!/bin/sh
# SPDX-License-Identifier: ISC
# 3009-tree-fresh: a sync that changes a key without moving it (bob's
# reservation passed on to carol within the same second of a test clock:
# same state, same changed_at) shows at once: the key's files read
# before and after hold the new content and the new size, through the
# daemon's key cache and the kernel's attribute cache.
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/3-fs.sh"
need_fuse

date +%s >"$TMP/clock"
start_server --test-clock "$TMP/clock"
M=$TMP/mnt
INV="$KP_BUILD/t/4000-kpinvite.t"
mount_pool "$TMP/alice.db" "$M" \
    -o user=alice,server="$SERVER_URL",refresh=0,test_clock="$TMP/clock"
# one key on the server: every reservation gets it
ctl "$M" "generate 1"
k=$(ls "$M/created")
r=$(fsop rename "$M/created/$k" "$M/available/$k")
[ "$r" = OK ] || bail "upload: $r"

plan 9

set -- $("$INV" reserve "$SERVER_URL" bob alice 6731)
is "$1" "$k" "bob reserves alice's one key"
ctl "$M" sync
is "$(cat "$M/reserved/$k/reserved_by")" bob "alice sees it reserved by bob"
is "$(grep "^reserved_by:" "$M/reserved/$k/info")" "reserved_by: bob" "and so does info"
size=$(stat -c %s "$M/reserved/$k/reserved_by")
is "$size" 4 "reserved_by is 4 bytes"
# the key directory's mtime is its last transition (kpool(7))
ca=$(stat -c %Y "$M/reserved/$k")
[ -n "$ca" ] || bail "no mtime for $k"

# within the same second: bob lets go, carol takes it
is "$("$INV" release "$SERVER_URL" bob "$k")" OK "bob releases it"
set -- $("$INV" reserve "$SERVER_URL" carol alice 6732)
is "$1" "$k" "carol reserves it"
ctl "$M" sync
is "$(stat -c %Y "$M/reserved/$k")" "$ca" \
    "same state and the same transition time (the clock stands still)"
is "$(cat "$M/reserved/$k/reserved_by"):$(stat -c %s "$M/reserved/$k/reserved_by")" \
    "carol:6" "after the sync reserved_by says carol, 6 bytes"
is "$(grep '^reserved_by:' "$M/reserved/$k/info")" "reserved_by: carol" \
    "and so does info"
