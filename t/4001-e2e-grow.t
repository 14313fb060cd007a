#!/bin/sh
# SPDX-License-Identifier: ISC
# 4001-e2e-grow: a pool that starts at 1 key grows to its target of 32
# through a refresh, by ctl and by the background thread.
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/3-fs.sh"
need_fuse

start_server
M=$TMP/mnt
mount_pool "$TMP/alice.db" "$M" -o user=alice,server="$SERVER_URL",refresh=0

plan 12

ctl "$M" "generate 1"
k=$(first_key "$M/created")
is_errno OK "publish the one key" rename "$M/created/$k" "$M/available/$k"
is "$(grep -E '^(available|total|health):' "$M/status" | tr '\n' ' ')" \
    "available: 1 total: 1 health: low " "one key: health low"
ctl "$M" refresh
regular=0 lr=0
for d in "$M"/available/*; do
	if [ "$(cat "$d/last_resort")" = 1 ]; then lr=$((lr + 1)); else regular=$((regular + 1)); fi
done
is "$regular" 32 "after a refresh: 32 regular keys available"
is "$lr" 1 "and one last-resort key"
is "$(ls "$M/created" | wc -l | tr -d ' ')" 0 "nothing left unpublished"
is "$(grep '^health:' "$M/status")" "health: ok" "health ok"
like "$(grep '^last_sync:' "$M/status")" '^last_sync: [0-9-]{10}T[0-9:]{8}Z$' \
    "last_sync is set"
ls "$M/available" | sort >"$TMP/before"
ctl "$M" refresh
ls "$M/available" | sort >"$TMP/after"
ok "a second refresh changes nothing" cmp "$TMP/before" "$TMP/after"
unmount_pool "$M"

# the background thread, every second, on a new user's empty pool
mount_pool "$TMP/bob.db" "$M" -o user=bob,server="$SERVER_URL",refresh=1
i=0
until [ "$(grep '^available:' "$M/status")" = "available: 33" ] || [ $i -ge 100 ]; do
	sleep 0.1; i=$((i + 1))
done
is "$(grep '^available:' "$M/status")" "available: 33" \
    "the background refresh fills an empty pool (32 + last resort)"
is "$(ls "$M/available" | wc -l | tr -d ' ')" 33 "available/ lists them"
is "$(stat -c %h "$M/available")" 35 "available/ has 2 + 33 links"
is "$(grep '^health:' "$M/status")" "health: ok" "health ok"
