#!/bin/sh
# SPDX-License-Identifier: ISC
# 4003-e2e-exhaust: when a user's keys run out, inviters get the
# last-resort key (never consumed), or, without one, a clear error.
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/3-fs.sh"
need_fuse

start_server
M=$TMP/mnt
INV="$KP_BUILD/t/4000-kpinvite.t"
mount_pool "$TMP/alice.db" "$M" -o user=alice,server="$SERVER_URL",refresh=0

plan 11

is_errno OK "config: a pool of 3" write "$M/config" "target = 3
low_watermark = 1
"
ctl "$M" refresh

is "$(grep '^available:' "$M/status")" "available: 4" "3 keys and the last resort"
lr=$(grep -l '^1$' "$M"/available/*/last_resort | xargs dirname | xargs basename)
"$INV" race "$SERVER_URL" 3 alice >"$TMP/race"
is "$(grep -c ' [0-9a-f]\{64\}$' "$TMP/race")" 3 "three inviters take the three keys"
is "$(grep -c "$lr" "$TMP/race")" 0 "none of them got the last-resort key"
got=$("$INV" reserve "$SERVER_URL" inv4 alice 6734)
is "$got" "$lr 1" "the fourth gets the last-resort key, flagged"
got=$("$INV" reserve "$SERVER_URL" inv5 alice 6735)
is "$got" "$lr 1" "and so does the fifth: it is never consumed"
ctl "$M" sync
is "$(cat "$M/available/$lr/status" 2>&1)" available "it stays in alice's available/"
is "$(grep '^health:' "$M/status")" "health: empty" "alice's status says empty"

# a pool without a last-resort key
mkdir "$TMP/m2"
M2=$TMP/m2/mnt
mount_pool "$TMP/bob.db" "$M2" -o user=bob,server="$SERVER_URL",refresh=0
is_errno OK "bob: a pool of 1 without a last-resort key" write "$M2/config" "target = 1
low_watermark = 1
last_resort = 0
"
ctl "$M2" refresh
is "$("$INV" reserve "$SERVER_URL" inv6 bob 6736 | cut -c1-64 | grep -c '^[0-9a-f]*$')" 1 \
    "bob's one key goes to the first inviter"
like "$("$INV" reserve "$SERVER_URL" inv7 bob 6737)" '^ERR -75 ' \
    "the next one gets pool_exhausted (KP_EEXHAUSTED)"
