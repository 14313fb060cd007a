#!/bin/sh
# SPDX-License-Identifier: ISC
# 3012-tree-online: health says offline after a failed server call, and
# any later exchange with the server clears it, a rename as well as the
# refresh thread's passes (here there are none: refresh=0).  The server
# is stopped and started again on the same port and database.
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/3-fs.sh"
need_fuse

start_server
M=$TMP/mnt
mount_pool "$TMP/alice.db" "$M" -o user=alice,server="$SERVER_URL",refresh=0
ctl "$M" refresh
set -- $(ls "$M/available")
k1=$1 k2=$2

health() {
	grep '^health:' "$M/status"
}

plan 8

is "$(health)" "health: ok" "online: health ok"
port=$SERVER_PORT
stop_server
is_errno EHOSTUNREACH "server down: a rename fails with EHOSTUNREACH" \
    rename "$M/available/$k1" "$M/reserved/$k1"
is "$(health)" "health: offline" "and health says offline"
restart_server "$port"
is "$(health)" "health: offline" "the server is back: nothing asked it yet"
is_errno OK "a rename reaches it" rename "$M/available/$k1" "$M/reserved/$k1"
is "$(health)" "health: ok" "and clears offline at once"

stop_server
is_errno EHOSTUNREACH "down again: ctl sync fails with EHOSTUNREACH" write "$M/ctl" sync
restart_server "$port"
is "$(fsop rename "$M/reserved/$k1" "$M/available/$k1"):$(health)" \
    "OK:health: ok" "a rename after a failed sync clears offline too"
