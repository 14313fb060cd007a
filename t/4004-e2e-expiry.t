#!/bin/sh
# SPDX-License-Identifier: ISC
# 4004-e2e-expiry: keys past not_after move to expired/ with their
# private keys wiped, and the refresh replenishes the pool.  The server
# and the pool share a test clock.
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/3-fs.sh"
need_fuse

T0=$(date +%s)
echo "$T0" >"$TMP/clock"
start_server --test-clock "$TMP/clock"
M=$TMP/mnt
mount_pool "$TMP/alice.db" "$M" \
    -o user=alice,server="$SERVER_URL",refresh=0,test_clock="$TMP/clock"
ctl "$M" refresh
ls "$M/available" | sort >"$TMP/old"

plan 10

is "$(wc -l <"$TMP/old" | tr -d ' ')" 33 "33 keys available"
k=$(head -n 1 "$TMP/old")
na=$(rfc3339_to_unix "$(cat "$M/available/$k/not_after")")
echo $((na + 1)) >"$TMP/clock"
ctl "$M" refresh
is "$(ls "$M/expired" | sort | comm -12 - "$TMP/old" | wc -l | tr -d ' ')" 33 \
    "past not_after every old key is in expired/"
is "$(cat "$M/expired/$k/status")" expired "an old key says expired"
is "$(cat "$M/expired/$k/private_keys")" wiped "its private keys are wiped"
is "$(cat "$M/expired/$k/expired_at")" "$(date -u -d @$((na + 1)) +%Y-%m-%dT%H:%M:%SZ)" \
    "expired_at is the clock's now"
is "$(ls "$M/available" | sort | comm -12 - "$TMP/old" | wc -l | tr -d ' ')" 0 \
    "no old key is left in available/"
is "$(ls "$M/available" | wc -l | tr -d ' ')" 33 "the refresh replenished: 33 new keys"
k2=$(first_key "$M/available")
na2=$(rfc3339_to_unix "$(cat "$M/available/$k2/not_after")")
ok "the new keys live past the clock" test "$na2" -gt $((na + 1))
is "$(grep -E '^(available|expired|health):' "$M/status" | tr '\n' ' ')" \
    "available: 33 expired: 33 health: ok " "status agrees"
ctl "$M" cleanup
is "$(ls "$M/expired" | wc -l | tr -d ' ')" 0 "cleanup deletes the expired keys"
