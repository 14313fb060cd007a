#!/bin/sh
# SPDX-License-Identifier: ISC
# 4010-e2e-welcome-states: a Welcome written to welcome for a key in each
# state gets the outcome kpool(7) gives.  A key an inviter reserved for
# the Welcome's group, or one the owner spent for it (its group_id file
# and a move to spent/), opens and is spent with the group's id and
# epoch; an available key nobody reserved and a created key the server
# has never seen fail with EACCES (the server records no reservation); a
# key the owner holds in reserved/ (a hold names no group) fails with
# EPERM; an expired key (its private keys wiped) or a key that is not
# ours fails with ENOENT; a refused Welcome moves nothing.
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/3-fs.sh"
need_fuse
. "$KP_TOP/t/interop/need-node.sh"

start_server
M=$TMP/mnt
INV="$KP_BUILD/t/4000-kpinvite.t"
mount_pool "$TMP/alice.db" "$M" -o user=alice,server="$SERVER_URL",refresh=0
ctl "$M" refresh
ctl "$M" "generate 1"

plan 21

# welcome_for DIR N: a ts-mls Welcome for the key in DIR, into $TMP/wN,
# for group N at epoch 1.
welcome_for() {
	node "$INTEROP/make-welcome.mjs" --kp "$1/keypackage" \
	    --welcome-out "$TMP/w$2" --group-id "$2" >/dev/null ||
	    bail "make-welcome.mjs failed for $1"
}

# opens STATE REF N: writing $TMP/wN opens the Welcome: the key is in
# spent/, with group N, epoch 1 and its private keys.
opens() {
	is_errno OK "$1: the Welcome opens" writefile "$M/welcome" "$TMP/w$3"
	is "$(cat "$M/spent/$2/status" 2>&1)" spent "$1: the key is now spent"
	is "$(cat "$M/spent/$2/group_id" "$M/spent/$2/epoch" 2>&1 | tr '\n' ' ')" \
	    "$3 1 " "$1: with the group's id and the epoch"
	is "$(cat "$M/spent/$2/private_keys" 2>&1)" stored \
	    "$1: its private keys stay for the MLS client"
}

# an inviter reserves the oldest key for group 0a; three more regular
# keys of available/ (a last-resort key keeps its state when its
# Welcome opens)
set -- $("$INV" reserve "$SERVER_URL" inv1 alice 0a)
kr=$1
regular=$(for k in $(ls "$M/available"); do
	if [ "$(cat "$M/available/$k/last_resort")" = 0 ] && [ "$k" != "$kr" ]
	then
		echo "$k"
	fi
done)
ka=$(echo "$regular" | sed -n 1p)
ks=$(echo "$regular" | sed -n 2p)
ke=$(echo "$regular" | sed -n 3p)
kh=$(echo "$regular" | sed -n 4p)
kc=$(ls "$M/created")
like "$kc" '^[0-9a-f]{64}$' "a key in created/"
welcome_for "$M/available/$kr" 0a
welcome_for "$M/available/$ka" 0b
welcome_for "$M/available/$ks" 0c
welcome_for "$M/available/$ke" 0d
welcome_for "$M/created/$kc" 0e
welcome_for "$M/available/$kh" 10
"$KP_BUILD/t/kptool" gen --identity alice --out "$TMP/other" >/dev/null
node "$INTEROP/make-welcome.mjs" --kp "$TMP/other" --welcome-out "$TMP/w0f" \
    >/dev/null || bail "make-welcome.mjs failed for another key"

opens "reserved by an inviter" "$kr" 0a

is_errno EACCES "available, nobody reserved it: EACCES" \
    writefile "$M/welcome" "$TMP/w0b"
is "$(cat "$M/available/$ka/status" 2>&1)" available \
    "available: the key stays in available/"

is_errno OK "mv available/ reserved/ (the owner's hold)" \
    rename "$M/available/$kh" "$M/reserved/$kh"
is_errno EPERM "held by the owner, no group: EPERM" \
    writefile "$M/welcome" "$TMP/w10"

is_errno OK "the owner names group 0c" write "$M/available/$ks/group_id" 0c
is_errno OK "mv available/ spent/" rename "$M/available/$ks" "$M/spent/$ks"
opens "spent by the owner for its group" "$ks" 0c

is_errno EACCES "created: the server has never seen it: EACCES" \
    writefile "$M/welcome" "$TMP/w0e"

is_errno OK "mv available/ expired/" rename "$M/available/$ke" "$M/expired/$ke"
is "$(cat "$M/expired/$ke/private_keys")" wiped \
    "expired: its private keys are wiped"
is_errno ENOENT "expired: the Welcome fails with ENOENT" \
    writefile "$M/welcome" "$TMP/w0d"

is_errno ENOENT "unknown: a Welcome for a key that is not ours: ENOENT" \
    writefile "$M/welcome" "$TMP/w0f"
is "$(grep -E '^(created|available|reserved|spent|expired):' "$M/status" |
    tr '\n' ' ')" \
    "created: 1 available: 29 reserved: 1 spent: 2 expired: 1 " \
    "the counts: two keys spent, one held, one expired, nothing else moved"
