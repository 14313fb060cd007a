#!/bin/sh
# SPDX-License-Identifier: ISC
# 4002-e2e-inviters: several inviters reserve alice's keys at the same
# moment through the server; each gets a distinct key, and alice's tree
# shows each in reserved/ and then spent/, with who and which group.
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/3-fs.sh"
need_fuse

start_server
M=$TMP/mnt
INV="$KP_BUILD/t/4000-kpinvite.t"
mount_pool "$TMP/alice.db" "$M" -o user=alice,server="$SERVER_URL",refresh=0
ctl "$M" refresh
N=8

plan $((6 * N + 8))

"$INV" race "$SERVER_URL" $N alice >"$TMP/race"
is "$(grep -c ' [0-9a-f]\{64\}$' "$TMP/race")" $N "all $N inviters got a key"
is "$(cut -d' ' -f2 "$TMP/race" | sort -u | wc -l | tr -d ' ')" $N \
    "the keys are distinct"
ctl "$M" sync
is "$(ls "$M/reserved" | wc -l | tr -d ' ')" $N "alice sees $N keys in reserved/"
while read -r who ref; do
	is "$(cat "$M/reserved/$ref/reserved_by" 2>&1)" "$who" \
	    "reserved/$ref: reserved_by $who"
	like "$(cat "$M/reserved/$ref/reservation_expires_at")" \
	    '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$' \
	    "reserved/$ref: reservation_expires_at in RFC 3339"
	nok "reserved/$ref: no reservation_id (the inviter's own)" \
	    test -e "$M/reserved/$ref/reservation_id"
done <"$TMP/race"
while read -r who ref; do
	g=$(printf 'g%s' "${who#inv}" | od -An -tx1 | tr -d ' \n')
	r=$("$INV" spend "$SERVER_URL" "$who" "$ref" "$g")
	[ "$r" = OK ] || diag "$who spend: $r"
done <"$TMP/race"
ctl "$M" sync
is "$(ls "$M/reserved" | wc -l | tr -d ' ')" 0 "after the spends reserved/ is empty"
is "$(ls "$M/spent" | wc -l | tr -d ' ')" $N "and spent/ holds $N keys"
while read -r who ref; do
	g=$(printf 'g%s' "${who#inv}" | od -An -tx1 | tr -d ' \n')
	is "$(cat "$M/spent/$ref/spent_by" 2>&1)" "$who" "spent/$ref: spent_by $who"
	is "$(cat "$M/spent/$ref/group_id" 2>&1)" "$g" "spent/$ref: group $g"
	like "$(cat "$M/spent/$ref/spent_at")" 'Z$' "spent/$ref: spent_at"
done <"$TMP/race"
is "$(grep -E '^(reserved|spent):' "$M/status" | tr '\n' ' ')" \
    "reserved: 0 spent: $N " "status counts them"
is "$(grep '^available:' "$M/status")" "available: $((33 - N))" \
    "the spent keys left available/"
ctl "$M" refresh
is "$(grep '^available:' "$M/status")" "available: 33" \
    "echo refresh > ctl tops the pool up to target again"
