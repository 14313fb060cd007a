#!/bin/sh
# SPDX-License-Identifier: ISC
# 4009-e2e-lost-commit: bob reserves one of alice's keys and spends it,
# but his commit is lost and the Welcome never reaches alice.  Her tree
# shows the key in spent/ with who spent it and for which group, and
# keeps its private keys (the Welcome may still come) until not_after;
# past it they are wiped and the key stays in spent/.  The server and
# the pool share a test clock.
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/3-fs.sh"
need_fuse

T0=$(date +%s)
echo "$T0" >"$TMP/clock"
start_server --test-clock "$TMP/clock"
M=$TMP/mnt
INV="$KP_BUILD/t/4000-kpinvite.t"
mount_pool "$TMP/alice.db" "$M" \
    -o user=alice,server="$SERVER_URL",refresh=0,test_clock="$TMP/clock"
ctl "$M" refresh
G=6c6f7374		# "lost"

plan 14

set -- $("$INV" reserve "$SERVER_URL" bob alice $G)
k=$1
is "$2" 0 "bob reserves one of alice's keys (not her last resort)"
is "$("$INV" spend "$SERVER_URL" bob "$k" $G)" OK "and spends it for group $G"
# no Welcome: nothing is written to welcome
ctl "$M" sync
ok "alice's tree has the key in spent/" test -d "$M/spent/$k"
nok "and nowhere else" test -d "$M/available/$k" -o -d "$M/reserved/$k"
is "$(cat "$M/spent/$k/spent_by")" bob "spent_by: bob"
is "$(cat "$M/spent/$k/group_id")" $G "group_id: $G"
nok "no epoch: no Welcome was opened" test -e "$M/spent/$k/epoch"
is "$(cat "$M/spent/$k/private_keys")" stored \
    "the private keys are kept for a Welcome that may still come"

na=$(rfc3339_to_unix "$(cat "$M/spent/$k/not_after")")
echo "$na" >"$TMP/clock"
ctl "$M" refresh
is "$(cat "$M/spent/$k/private_keys")" stored "at not_after they are still kept"
echo $((na + 1)) >"$TMP/clock"
ctl "$M" refresh
is "$(cat "$M/spent/$k/private_keys")" wiped "past not_after they are wiped"
is "$(grep -E '^(status|spent_by|private_keys):' "$M/spent/$k/info" | tr '\n' ' ')" \
    "status: spent spent_by: bob private_keys: wiped " \
    "info agrees (a wipe changes no state and no changed_at)"
ok "the key stays in spent/" test -d "$M/spent/$k"
ctl "$M" cleanup
nok "cleanup deletes it: spent, its private keys gone" test -d "$M/spent/$k"
is "$(grep '^spent:' "$M/status")" "spent: 0" "status counts no spent key"
