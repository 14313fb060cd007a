#!/bin/sh
# SPDX-License-Identifier: ISC
# 3014-tree-crash-rename: a local rename (created -> expired) that
# returned 0 survives a kill -9 of the daemon that comes at once, before
# the daemon commits its batch: the next mount finds the keys expired and
# their private keys wiped, and the move journal it left is empty again
# (t/1020 looks for their sealed bytes).  A second mount of the same
# store meanwhile works as before (without batching).
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/3-fs.sh"
need_fuse

M=$TMP/mnt
M2=$TMP/mnt2
DB=$TMP/alice.db

plan 9

mount_pool "$DB" "$M" -o user=alice,server=none,refresh=0
ctl "$M" "generate 6"
keys=$(ls "$M/created")
is "$(echo "$keys" | wc -l | tr -d ' ')" 6 "six created keys"
n=0
for k in $keys; do
	[ "$(fsop rename "$M/created/$k" "$M/expired/$k")" = OK ] && n=$((n + 1))
done
is "$n" 6 "six renames to expired return 0"
kill -9 "$FS_PID"
wait "$FS_PID" 2>/dev/null
fusermount3 -u "$M" 2>/dev/null || umount -l "$M"
ok "the daemon left its journal" test -s "$DB-moves"

mount_pool "$DB" "$M" -o user=alice,server=none,refresh=0
is "$(ls "$M/expired" | wc -l | tr -d ' ')" 6 \
    "after kill -9 and a remount: the six keys are expired"
is "$(ls "$M/created" | wc -l | tr -d ' ')" 0 "none is created"
is "$(cat "$M"/expired/*/private_keys | sort -u)" wiped \
    "their private keys are wiped"
ok "the journal is empty again" test ! -s "$DB-moves"

mount_pool "$DB" "$M2" -o user=alice,server=none,refresh=0
ctl "$M2" "generate 1"
k=$(ls "$M2/created")
is_errno OK "a second mount of the store renames too" \
    rename "$M2/created/$k" "$M2/expired/$k"
unmount_pool "$M2"
unmount_pool "$M"
mount_pool "$DB" "$M" -o user=alice,server=none,refresh=0
is "$(ls "$M/expired" | wc -l | tr -d ' ')" 7 "seven expired after both"
unmount_pool "$M"
