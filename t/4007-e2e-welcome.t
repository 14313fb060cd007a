#!/bin/sh
# SPDX-License-Identifier: ISC
# 4007-e2e-welcome: an inviter reserves one of alice's keys, adds her to
# a group with ts-mls, spends the key; alice writes the Welcome to
# welcome, and the key moves to spent/ with its group and epoch, its
# private keys kept for the MLS client.
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/3-fs.sh"
need_fuse
. "$KP_TOP/t/interop/need-node.sh"

start_server
M=$TMP/mnt
INV="$KP_BUILD/t/4000-kpinvite.t"
mount_pool "$TMP/alice.db" "$M" -o user=alice,server="$SERVER_URL",refresh=0
ctl "$M" refresh

plan 13

set -- $("$INV" reserve "$SERVER_URL" inv1 alice 6731)
ref=$1
like "$ref" '^[0-9a-f]{64}$' "an inviter reserves a key of alice"
cp "$M/available/$ref/keypackage" "$TMP/kp"
out=$(node "$INTEROP/make-welcome.mjs" --kp "$TMP/kp" --welcome-out "$TMP/w" \
    --group-id 6731 --others 1 --epochs 2)
is "$out" "group_id=6731 epoch=3" "ts-mls adds alice to group 6731 at epoch 3"
is "$("$INV" spend "$SERVER_URL" inv1 "$ref" 6731)" OK "the inviter spends the key"

head -c 100 "$TMP/w" >"$TMP/wt"
is_errno EINVAL "a truncated Welcome fails (at close)" \
    writefile "$M/welcome" "$TMP/wt"
is_errno EINVAL "garbage fails" write "$M/welcome" "this is not a Welcome"
"$KP_BUILD/t/kptool" gen --identity bob --out "$TMP/bobkp" >/dev/null
node "$INTEROP/make-welcome.mjs" --kp "$TMP/bobkp" --welcome-out "$TMP/wb" \
    >/dev/null
is_errno ENOENT "a Welcome for someone else's key: ENOENT" \
    writefile "$M/welcome" "$TMP/wb"

is_errno OK "alice writes the Welcome to welcome" writefile "$M/welcome" "$TMP/w"
is "$(cat "$M/spent/$ref/status" 2>&1)" spent "the key is in spent/"
is "$(cat "$M/spent/$ref/group_id")" 6731 "with the group's id"
is "$(cat "$M/spent/$ref/epoch")" 3 "and the epoch it joins at"
is "$(cat "$M/spent/$ref/private_keys")" stored \
    "its private keys stay for the MLS client"

# after the Welcome opened, more bytes on the same open file fail: a
# second Welcome (trailing bytes) at its write, a stray line at close
is_errno EINVAL "the Welcome again, then a second one on the same fd" \
    write2 "$M/welcome" "$TMP/w" "$(cat "$TMP/w")"
is_errno EINVAL "the Welcome again, then a stray line on the same fd" \
    write2 "$M/welcome" "$TMP/w" "junk"
