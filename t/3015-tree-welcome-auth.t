#!/bin/sh
# SPDX-License-Identifier: ISC
# 3015-tree-welcome-auth: who may make the pool open a Welcome, through
# the tree, against a real kpool-server.  A forged Welcome for a key
# nobody reserved fails with EACCES, one for another group than the
# reservation's with EPERM, and nothing moves; the genuine one that
# follows opens.  A Welcome without a ratchet tree is refused at close
# (EINVAL), and opens when its tree follows it in the same file, in one
# write or two (cat welcome tree > welcome).  The owner names the group
# of its own spend in a key's group_id file (mode 0644 in available/
# and reserved/, hex; bad hex is EINVAL) and mv to spent/ sends it; the
# ctl verb "spend REF GROUPHEX" does both; that group's Welcome opens.
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/3-fs.sh"
need_fuse
. "$KP_TOP/t/interop/need-node.sh"

start_server
M=$TMP/mnt
INV="$KP_BUILD/t/4000-kpinvite.t"
mount_pool "$TMP/alice.db" "$M" -o user=alice,server="$SERVER_URL",refresh=0
ctl "$M" refresh

plan 30

# regular: the first key of available/ that is not the last-resort key
# (whose Welcome rules differ, and which ls may list first)
regular() {
	for k in $(ls "$M/available"); do
		[ "$(cat "$M/available/$k/last_resort")" = 0 ] && { echo "$k"; return; }
	done
}

# a forged Welcome: nobody reserved the key
kf=$(regular)
ts_welcome "$M/available/$kf" 0f forged
is_errno EACCES "a forged Welcome for a key nobody reserved: EACCES" \
    writefile "$M/welcome" "$TMP/forged"
is "$(cat "$M/available/$kf/status")" available "the key stays in available/"
grep -q "records no reservation or spend" "$TMP/kpoolfs.log"
ok "the log says why" test $? = 0

# an inviter reserves a key for group 6731
set -- $("$INV" reserve "$SERVER_URL" inv1 alice 6731)
kr=$1
ts_welcome "$M/available/$kr" 0bad other
is_errno EPERM "a Welcome for another group than the reservation's: EPERM" \
    writefile "$M/welcome" "$TMP/other"
is "$(cat "$M/available/$kr/status")" available "nothing moved"
ts_welcome "$M/available/$kr" 6731 genuine --no-ratchet-tree \
    --tree-out "$TMP/tree"
is_errno EINVAL "the genuine Welcome without its tree: EINVAL at close" \
    writefile "$M/welcome" "$TMP/genuine"
is "$(cat "$M/available/$kr/status")" available "nothing moved"
cat "$TMP/genuine" "$TMP/tree" >"$TMP/both"
is_errno OK "the Welcome and its tree in one write open" \
    writefile "$M/welcome" "$TMP/both"
is "$(cat "$M/spent/$kr/group_id" "$M/spent/$kr/epoch" | tr '\n' ' ')" \
    "6731 1 " "the key is spent for group 6731 at epoch 1"

set -- $("$INV" reserve "$SERVER_URL" inv1 alice 6732)
k2=$1
ts_welcome "$M/available/$k2" 6732 w2 --no-ratchet-tree \
    --tree-out "$TMP/tree2"
cat "$TMP/w2" "$TMP/tree2" >"$M/welcome"
ok "cat welcome tree > welcome (two writes) opens" test $? = 0
is "$(cat "$M/spent/$k2/group_id")" 6732 "for group 6732"

# the owner's own spend names its group
ko=$(regular)
is "$(stat -c %a "$M/available/$ko/group_id")" 644 \
    "available/<key>/group_id is writable"
is "$(cat "$M/available/$ko/group_id")" "" "and empty at first"
is_errno EINVAL "bad hex: EINVAL" write "$M/available/$ko/group_id" "zz"
is_errno EINVAL "an odd number of digits: EINVAL" \
    write "$M/available/$ko/group_id" "abc"
echo 0a1b >"$M/available/$ko/group_id"
ok "echo 0a1b > available/<key>/group_id" test $? = 0
is "$(cat "$M/available/$ko/group_id")" 0a1b "it reads back"
is "$(cat "$M/available/$ko/status")" available "the key stays available"
is_errno OK "mv available/<key> spent/" rename "$M/available/$ko" "$M/spent/$ko"
is "$(cat "$M/spent/$ko/group_id")" 0a1b "spent/<key>/group_id: 0a1b"
is "$(stat -c %a "$M/spent/$ko/group_id")" 444 "read-only in spent/"
is_errno EACCES "writing it there: EACCES" write "$M/spent/$ko/group_id" 01
ts_welcome "$M/spent/$ko" 0a1b own
is_errno OK "the Welcome of the owner's group opens" \
    writefile "$M/welcome" "$TMP/own"
is "$(cat "$M/spent/$ko/epoch")" 1 "its epoch is recorded"
ts_welcome "$M/spent/$ko" 0a1c own2
is_errno EPERM "another group's Welcome for it: EPERM" \
    writefile "$M/welcome" "$TMP/own2"

kc=$(regular)
is_errno OK "ctl: spend REF GROUPHEX" write "$M/ctl" "spend $kc 0c0d"
is "$(cat "$M/spent/$kc/group_id")" 0c0d "the key is in spent/ for 0c0d"
ts_welcome "$M/spent/$kc" 0c0d ctlw
is_errno OK "its Welcome opens" writefile "$M/welcome" "$TMP/ctlw"
is_errno EPERM "ctl spend of a spent key: EPERM" write "$M/ctl" "spend $kc 0c0d"
is_errno EINVAL "ctl spend without a group: EINVAL" write "$M/ctl" "spend $kc"
