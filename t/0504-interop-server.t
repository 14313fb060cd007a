#!/bin/sh
# SPDX-License-Identifier: ISC
#
# Interop on a real server: a ts-mls member (its requests signed by the
# tests' inviter client, t/4000-kpinvite) reserves a key of alice on a
# real kpool-server for its group, and ts-mls makes the Welcome; alice's
# kpoolfs opens it.  Welcomes made the same way are refused, each with
# its own error (errno, and the reason kpoolfs logs):
#   - for a key nobody reserved: EACCES, "records no reservation";
#   - for another group id than the reservation's: EPERM, "another group";
#   - with a broken GroupInfo signature: EINVAL, "bad GroupInfo signature";
#   - with a broken parent hash: EINVAL, "parent hash not valid";
#   - without a ratchet tree (none follows it): EINVAL at close, "no
#     ratchet tree"; with its tree after it, it opens.
# A refused Welcome moves nothing.

. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/3-fs.sh"
need_fuse
. "$KP_TOP/t/interop/need-node.sh"

start_server
M=$TMP/mnt
INV="$KP_BUILD/t/4000-kpinvite.t"
LOG=$TMP/kpoolfs.log
mount_pool "$TMP/alice.db" "$M" -o user=alice,server="$SERVER_URL",refresh=0
ctl "$M" refresh

plan 18

# refused WANT REASON DESC OUT REF: writing $TMP/OUT gives errno WANT,
# kpoolfs logs REASON, and REF stays in available/
refused() {
	_n=$(wc -l <"$LOG")
	is_errno "$1" "$3: $1" writefile "$M/welcome" "$TMP/$4"
	tail -n +$((_n + 1)) "$LOG" | grep -q "$2"
	ok "$3: kpoolfs says \"$2\"" test $? = 0
	is "$(cat "$M/available/$5/status" 2>&1)" available "$3: nothing moved"
}

set -- $("$INV" reserve "$SERVER_URL" tsmls alice 7473)
kr=$1
like "$kr" '^[0-9a-f]{64}$' "the ts-mls member reserves a key for group 7473"
set -- $(ls "$M/available" | grep -v "$kr")
kn=$1

ts_welcome "$M/available/$kn" 7473 nobody
refused EACCES "records no reservation" "a key nobody reserved" nobody "$kn"
ts_welcome "$M/available/$kr" 7474 othergroup
refused EPERM "another group" "another group id" othergroup "$kr"
ts_welcome "$M/available/$kr" 7473 badsig --break-signature
refused EINVAL "bad GroupInfo signature" "a broken GroupInfo signature" \
    badsig "$kr"
ts_welcome "$M/available/$kr" 7473 badph --break-parent-hash
refused EINVAL "parent hash not valid" "a broken parent hash" badph "$kr"
ts_welcome "$M/available/$kr" 7473 notree --no-ratchet-tree \
    --tree-out "$TMP/tree"
refused EINVAL "no ratchet tree" "no ratchet tree, none follows" notree "$kr"

cat "$TMP/notree" "$TMP/tree" >"$TMP/withtree"
is_errno OK "the Welcome with its tree after it opens" \
    writefile "$M/welcome" "$TMP/withtree"
is "$(cat "$M/spent/$kr/group_id") $(cat "$M/spent/$kr/epoch")" \
    "$(sed 's/group_id=\(.*\) epoch=\(.*\)/\1 \2/' "$TMP/notree.out")" \
    "the key is spent for the group and epoch ts-mls reports"
