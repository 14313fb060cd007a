#!/bin/sh
# SPDX-License-Identifier: ISC
# 4006-e2e-offline: with the server down the tree keeps serving the local
# state and status says offline; when the server returns the daemon
# reconnects on its own.
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/3-fs.sh"
need_fuse

start_server
M=$TMP/mnt
mount_pool "$TMP/alice.db" "$M" -o user=alice,server="$SERVER_URL",refresh=1

# wait_health WANT: poll status (the refresh runs every second) for 10 s
wait_health() {
	_i=0
	until [ "$(grep '^health:' "$M/status")" = "health: $1" ] || [ $_i -ge 100 ]; do
		sleep 0.1; _i=$((_i + 1))
	done
	grep '^health:' "$M/status"
}

plan 9

is "$(wait_health ok)" "health: ok" "online: health ok"
ctl "$M" refresh
ls "$M/available" | sort >"$TMP/before"
port=$SERVER_PORT
stop_server
is "$(wait_health offline)" "health: offline" "server down: health offline"
ls "$M/available" | sort >"$TMP/during"
ok "the tree still lists the local keys" cmp "$TMP/before" "$TMP/during"
k=$(head -n 1 "$TMP/before")
is "$(cat "$M/available/$k/status")" available "and reads them"
is_errno EHOSTUNREACH "ctl sync fails with EHOSTUNREACH" write "$M/ctl" sync
is_errno EHOSTUNREACH "a rename that needs the server fails with EHOSTUNREACH" \
    rename "$M/available/$k" "$M/reserved/$k"

# the same server comes back on the same port and database
restart_server "$port"
is "$(wait_health ok)" "health: ok" "the daemon reconnects on its own"
is_errno OK "renames work again" rename "$M/available/$k" "$M/reserved/$k"
like "$(grep '^last_sync:' "$M/status")" 'Z$' "last_sync is set"
