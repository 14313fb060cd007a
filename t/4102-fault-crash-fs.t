#!/bin/sh
# SPDX-License-Identifier: ISC
# 4102-fault-crash-fs: faultcrash (t/fault/) kills kpoolfs with SIGKILL
# at a seeded moment and on demand, unmounts the dead mount, and mounts
# the same store at the same place again; the tree is the same after.
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/3-fs.sh"
. "$KP_TOP/t/fault/fault.sh"
need_fuse

plan 14

start_server
M=$TMP/mnt
OPTS="user=alice,server=$SERVER_URL,refresh=0"

snapshot() {	# every key as "state ref", sorted
	for s in created available reserved spent expired; do
		ls "$M/$s" | sed "s/^/$s /"
	done | sort
}

# a pool of 33 keys (32 and the last-resort one), made without faults
mount_pool "$TMP/alice.db" "$M" -o "$OPTS"
ctl "$M" refresh
unmount_pool "$M"

CRASH_OPTS="--seed 5 --after-ms 400-400 --count 1"
crash_fs_start "$TMP/alice.db" "$M" -o "$OPTS"
first=$(crash_ctl "$FS_CTL" pid | cut -d' ' -f2)
snapshot >"$TMP/s1"
ok "mounted under faultcrash" mountpoint -q "$M"
is "$(wc -l <"$TMP/s1" | tr -d ' ')" 33 "33 keys in the tree"

# the seeded crash, 400 ms after the mount was there
i=0
while ! grep -q ' crash ms=400 ' "$FS_CRASH_LOG" && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
like "$(grep ' crash ' "$FS_CRASH_LOG")" \
    "^2 crash ms=400 $first [0-9]+ [0-9]+\$" \
    "seed 5 crashed kpoolfs once, 400 ms after it served"
ok "the killed daemon is gone" sh -c "! kill -0 $first 2>/dev/null"
ok "the store is mounted again" mountpoint -q "$M"
snapshot >"$TMP/s2"
ok "the same keys in the same states" cmp "$TMP/s1" "$TMP/s2"

# on demand, in the middle of reads
k=$(first_key "$M/available")
is_errno OK "reserve one key by hand" rename "$M/available/$k" "$M/reserved/$k"
snapshot >"$TMP/s3"
like "$(crash_ctl "$FS_CTL" crash)" '^ok crash [0-9]+ [0-9]+$' \
    "ctl crash: killed, unmounted, mounted again"
snapshot >"$TMP/s4"
ok "the hand-made reservation survived" cmp "$TMP/s3" "$TMP/s4"
is "$(crash_ctl "$FS_CTL" kill | cut -d' ' -f1-2)" "ok kill" "ctl kill: down"
nok "and unmounted" mountpoint -q "$M"
like "$(crash_ctl "$FS_CTL" start)" '^ok start [0-9]+$' "ctl start: mounted"
is "$(cat "$M/reserved/$k/status")" reserved "the key is still reserved"
crash_fs_stop
is $? 0 "stopping faultcrash unmounts cleanly; kpoolfs never died on its own"
