#!/bin/sh
# SPDX-License-Identifier: ISC
# 3019-tree-store: kpoolfs on the user's own store and its remembered
# server.  "kpoolfs MNT" mounts $XDG_DATA_HOME/kpool/pool.db as kpool
# init made it, with the server the store remembers; a store mounted
# with -o server=URL keeps it for the next mount (and for kpool); a new
# store without server= or user=, an existing one that remembers no
# server, and "kpoolfs MNT" with no store there exit 1 with the reason,
# before anything is mounted or made.  server=none stays offline.
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/3-fs.sh"
need_fuse
plan 16

K=$KP_BUILD/kpool
FS=$KP_BUILD/kpoolfs
start_server
M=$TMP/mnt
mkdir -p "$M"

# mount_default MNT [ARGS...]: kpoolfs -f ARGS MNT, the default store.
mount_default() {
	_m=$1; shift
	"$FS" -f "$@" "$_m" 2>>"$TMP/kpoolfs.log" &
	FS_PID=$!
	_tap_pids="$_tap_pids $FS_PID"
	_tap_mounts="$_m $_tap_mounts"
	_i=0
	until mountpoint -q "$_m"; do
		kill -0 "$FS_PID" 2>/dev/null || bail "kpoolfs died at mount"
		_i=$((_i + 1))
		[ "$_i" -gt 200 ] && bail "kpoolfs did not mount $_m"
		sleep 0.05
	done
}

export XDG_DATA_HOME=$TMP/data
"$FS" -f "$M" >"$TMP/out" 2>&1; rc=$?
is "$rc:$(cat "$TMP/out")" "1:kpoolfs: no store at $TMP/data/kpool/pool.db: make one with \"kpool init --server URL --user NAME\", or name one (kpoolfs [options] store mountpoint)" \
    "kpoolfs MNT with no store: exit 1, and what to do"
nok "nothing is mounted" mountpoint -q "$M"

ok "kpool init makes the default store" "$K" init --server "$SERVER_URL" \
    --user alice
mount_default "$M" -o refresh=0
is "$(grep -E '^(user|server):' "$M/status" | tr '\n' ' ')" \
    "user: alice server: $SERVER_URL " \
    "kpoolfs MNT: the default store, its user and remembered server"
ctl "$M" "generate 2"
ctl "$M" sync
is "$(grep -E '^(available|health):' "$M/status" | tr '\n' ' ')" \
    "available: 2 health: low " "and it syncs with that server (low: 2 < 8)"
unmount_pool "$M"

# a store named on the command line keeps the server of its first mount
mount_pool "$TMP/bob.db" "$M" -o user=bob,server="$SERVER_URL",refresh=0
unmount_pool "$M"
mount_pool "$TMP/bob.db" "$M" -o refresh=0
is "$(grep '^server:' "$M/status")" "server: $SERVER_URL" \
    "a second mount without server= uses the one the store kept"
ctl "$M" sync
is "$(grep "^health:" "$M/status")" "health: empty" "and reaches it (empty, not offline)"
unmount_pool "$M"
is "$("$K" --store "$TMP/bob.db" --json pubkey >/dev/null 2>&1; echo $?)" 0 \
    "kpool opens the store kpoolfs made"
"$K" --store "$TMP/bob.db" status >"$TMP/out" 2>&1
like "$(cat "$TMP/out")" "^available: 0" \
    "and reaches the server kpoolfs kept (status)"

# server=none: offline, and nothing is kept
mount_pool "$TMP/carol.db" "$M" -o user=carol,server=none,refresh=0
is "$(grep -E '^(health|server):' "$M/status" | tr '\n' ' ')" \
    "health: offline server: none " "server=none: offline"
unmount_pool "$M"
"$FS" -f -o refresh=0 "$TMP/carol.db" "$M" >"$TMP/out" 2>&1; rc=$?
is "$rc:$(cat "$TMP/out")" "1:kpoolfs: $TMP/carol.db remembers no server: mount with -o server=URL (the store keeps it), or -o server=none to stay offline" \
    "a store that remembers no server, mounted without server=: exit 1"
nok "nothing is mounted" mountpoint -q "$M"

# a new store needs both
"$FS" -f -o user=dave "$TMP/dave.db" "$M" >"$TMP/out" 2>&1; rc=$?
is "$rc:$(cat "$TMP/out")" "1:kpoolfs: $TMP/dave.db is a new store: it needs -o user=NAME and -o server=URL (or server=none to stay offline)" \
    "a new store without server=: exit 1, and why"
nok "no store is made" test -e "$TMP/dave.db"
"$FS" -f -o server="$SERVER_URL" "$TMP/dave.db" "$M" >"$TMP/out" 2>&1; rc=$?
is "$rc:$(cat "$TMP/out")" "1:kpoolfs: $TMP/dave.db is a new store: it needs -o user=NAME and -o server=URL (or server=none to stay offline)" \
    "a new store without user=: exit 1"
nok "nor is one made then" test -e "$TMP/dave.db"
