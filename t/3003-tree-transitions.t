#!/bin/sh
# SPDX-License-Identifier: ISC
# 3003-tree-transitions: every row of the rename table against a real
# kpool-server, successes and failures with their exact errno, and the
# tree right after each move.
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/3-fs.sh"
need_fuse

date +%s >"$TMP/clock"
start_server --test-clock "$TMP/clock" --max-lifetime 2592000
M=$TMP/mnt
mount_pool "$TMP/alice.db" "$M" \
    -o user=alice,server="$SERVER_URL",refresh=0,test_clock="$TMP/clock"
ctl "$M" "generate 12"
set -- $(ls "$M/created")
C=$M/created A=$M/available R=$M/reserved S=$M/spent X=$M/expired
INV="$KP_BUILD/t/4000-kpinvite.t"

plan 55

# created -> available: upload
for k in $1 $2 $3 $4 $5 $6 $7 $8 $9; do
	r=$(fsop rename "$C/$k" "$A/$k")
	[ "$r" = OK ] || diag "upload $k: $r"
done
is "$(ls "$A" | wc -l | tr -d ' ')" 9 "created -> available: nine keys uploaded"
k1=$1 k2=$2 k3=$3 k4=$4 k5=$5 k6=$6 k7=$7 k8=$8 k9=$9
shift 9
c1=$1 c2=$2 c3=$3
is "$(cat "$A/$k1/status")" available "an uploaded key says available"
ok "it has uploaded_at" test -f "$A/$k1/uploaded_at"
is "$(grep -E '^(created|available):' "$M/status" | tr '\n' ' ')" \
    "created: 3 available: 9 " "status counts the move at once"

# forbidden from created
is_errno EPERM "created -> reserved is forbidden" rename "$C/$c1" "$R/$c1"
is_errno EPERM "created -> spent is forbidden" rename "$C/$c1" "$S/$c1"

# available -> reserved -> available
is_errno OK "available -> reserved (reserve for the owner)" rename "$A/$k1" "$R/$k1"
is "$(cat "$R/$k1/status")" reserved "the key says reserved"
is "$(stat -c %s "$R/$k1/status")" 9 "its status size follows"
ok "it has reserved_at" test -f "$R/$k1/reserved_at"
is "$(cat "$R/$k1/reserved_by")" alice "reserved_by: the owner"
like "$(cat "$R/$k1/reservation_id")" '^[[:graph:]]+$' "and its reservation_id"
is_errno EPERM "reserved -> created is forbidden" rename "$R/$k1" "$C/$k1"
is_errno OK "reserved -> available (release)" rename "$R/$k1" "$A/$k1"
is "$(cat "$A/$k1/status")" available "released: available again"
is_errno EPERM "available -> created is forbidden" rename "$A/$k1" "$C/$k1"

# spends
is_errno OK "available -> spent (spend)" rename "$A/$k2" "$S/$k2"
is "$(cat "$S/$k2/status")" spent "the key says spent"
ok "it has spent_at" test -f "$S/$k2/spent_at"
is_errno OK "available -> reserved" rename "$A/$k3" "$R/$k3"
is_errno OK "reserved -> spent (spend)" rename "$R/$k3" "$S/$k3"
is "$(cat "$S/$k3/private_keys")" stored "a spent key keeps its private keys"
for d in available reserved created expired; do
	is_errno EPERM "spent -> $d is forbidden" rename "$S/$k2" "$M/$d/$k2"
done

# expiry by hand
is_errno OK "available -> expired (retire)" rename "$A/$k4" "$X/$k4"
is "$(cat "$X/$k4/private_keys")" wiped "an expired key's private keys are wiped"
is_errno OK "available -> reserved" rename "$A/$k5" "$R/$k5"
is_errno OK "reserved -> expired (retire)" rename "$R/$k5" "$X/$k5"
is_errno OK "created -> expired (local)" rename "$C/$c1" "$X/$c1"
for d in available reserved created spent; do
	is_errno EPERM "expired -> $d is forbidden" rename "$X/$k4" "$M/$d/$k4"
done
is "$(grep -E '^(created|available|reserved|spent|expired|total):' "$M/status" | tr '\n' ' ')" \
    "created: 2 available: 5 reserved: 0 spent: 2 expired: 3 total: 12 " \
    "status: every key in exactly one state"
is "$(ls "$A" "$R" "$S" "$X" "$C" | grep -c '^[0-9a-f]\{64\}$')" 12 \
    "the tree lists each key once"

# someone else holds the key: EBUSY, then EPERM for release and spend
held=$($INV race "$SERVER_URL" 1 alice | cut -d' ' -f2)
like "$held" '^[0-9a-f]{64}$' "an inviter reserves one of alice's keys"
is_errno EBUSY "available -> reserved of the inviter's key: someone else holds it" \
    rename "$A/$held" "$R/$held"
is "$(cat "$A/$held/status")" available "it stays available until a sync"
ctl "$M" sync
is "$(cat "$R/$held/status" 2>&1)" reserved "after a sync it is in reserved/"
is "$(cat "$R/$held/reserved_by")" inv1 "reserved_by: the inviter"
is "$(ls "$A" | grep -c "$held")" 0 "and no longer in available/"
is_errno EPERM "reserved -> available: the reservation is another user's" \
    rename "$R/$held" "$A/$held"
is "$($INV spend "$SERVER_URL" inv1 "$held" 6731)" OK "the inviter spends it"
is_errno EPERM "reserved -> spent: already spent" rename "$R/$held" "$S/$held"
ctl "$M" sync
is "$(cat "$S/$held/spent_by")" inv1 "after a sync: spent/, spent_by the inviter"
is "$(cat "$S/$held/group_id")" 6731 "group_id: the inviter's group"

# the server rejects a key: lifetime over its maximum (30 days)
is_errno OK "config: lifetime = 40 days" write "$M/config" "lifetime = 3456000
"
ctl "$M" "generate 1"
long=$(ls "$C" | grep -v -e "$c2" -e "$c3")
is_errno EINVAL "created -> available of a key the server rejects" \
    rename "$C/$long" "$A/$long"
is "$(cat "$C/$long/status")" created "the rejected key stays created"

# the server is away (a sync pushed c2 and c3: make a new created key)
ctl "$M" "generate 1"
c4=$(ls "$C" | grep -v -e "$long")
stop_server
is_errno EHOSTUNREACH "created -> available with the server down" \
    rename "$C/$c4" "$A/$c4"
k=$(first_key "$A")
is_errno EHOSTUNREACH "available -> reserved with the server down" \
    rename "$A/$k" "$R/$k"
is "$(grep '^health:' "$M/status")" "health: offline" "status says offline"
is "$(cat "$A/$k/status")" available "the tree still serves the local state"
