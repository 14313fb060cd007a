#!/bin/sh
# SPDX-License-Identifier: ISC
# 3005-tree-daemon: the command line and the life of the daemon: --help,
# usage errors, a store of another user, detaching, a clean unmount on
# SIGTERM and on fusermount3 -u.
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/3-fs.sh"
need_fuse

FS=$KP_BUILD/kpoolfs
M=$TMP/mnt
mkdir -p "$M"

plan 21

# gone PID: PID names a process (a number) and it has ended
gone() {
	case $1 in
	''|*[!0-9]*) echo "not a pid: '$1'"; return 1 ;;
	esac
	! kill -0 "$1" 2>/dev/null
}

out=$("$FS" --help 2>&1); rc=$?
is "$rc" 0 "--help exits 0"
like "$out" '^usage: kpoolfs \[-dfhsV\] \[-o option\[,option\.\.\.\]\] \[store\] mountpoint' \
    "--help starts with the usage line"
like "$out" '-o server=URL' "--help lists our options"
like "$out" '-o kernel_cache' "--help lists libfuse's options"
"$FS" >"$TMP/out" 2>&1; rc=$?
is "$rc" 1 "no arguments: exit 1"
is "$(cat "$TMP/out")" \
    "usage: kpoolfs [-dfhsV] [-o option[,option...]] [store] mountpoint" \
    "no arguments: the usage line"
"$FS" "$TMP/a.db" >/dev/null 2>&1; rc=$?
is "$rc" 1 "no mount point: exit 1"
"$FS" -o refresh=-5 "$TMP/a.db" "$M" >"$TMP/out" 2>&1; rc=$?
is "$rc" 1 "a negative refresh: exit 1"
"$FS" -o user="$(printf '%070d' 0)" "$TMP/a.db" "$M" >/dev/null 2>&1; rc=$?
is "$rc" 1 "a user name over 64 bytes: exit 1"
"$FS" -o user=alice,server=none -Z "$TMP/z.db" "$M" >"$TMP/out" 2>&1; rc=$?
is "$rc:$(cat "$TMP/out")" "1:fuse: unknown option(s): \`-Z'" \
    "an unknown option: exit 1, and libfuse's reason on the terminal"
nok "and no store is made for it" test -e "$TMP/z.db"
nok "nor its key file" test -e "$TMP/z.db.key"

# detached: the command returns once mounted; SIGTERM unmounts
"$FS" -o user=alice,server=none,refresh=0 "$TMP/a.db" "$M" 2>"$TMP/err"; rc=$?
is "$rc" 0 "without -f kpoolfs detaches and exits 0"
ok "the tree is mounted" mountpoint -q "$M"
_tap_mounts="$M $_tap_mounts"
pid=$(pgrep -xf "$FS -o user=alice,server=none,refresh=0 $TMP/a.db $M")
like "$pid" '^[0-9]+$' "the daemon runs"
is "$(grep -c . "$M/config")" 10 "and serves the tree"
kill -TERM "$pid"
i=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
ok "SIGTERM ends the daemon" gone "$pid"
nok "and leaves no mount behind" mountpoint -q "$M"

"$FS" -o user=bob "$TMP/a.db" "$M" >"$TMP/out" 2>&1; rc=$?
is "$rc:$(cat "$TMP/out")" \
    "1:kpoolfs: $TMP/a.db: the store belongs to user \"alice\", not \"bob\"" \
    "a store of another user: exit 1, and why"
"$FS" -o user=alice,server=none,refresh=0 "$TMP/a.db" "$M" 2>/dev/null
pid=$(pgrep -xf "$FS -o user=alice,server=none,refresh=0 $TMP/a.db $M")
like "$pid" '^[0-9]+$' "the daemon runs again"
fusermount3 -u "$M"
i=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
ok "fusermount3 -u ends the daemon" gone "$pid"
