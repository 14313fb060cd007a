#!/bin/sh
# SPDX-License-Identifier: ISC
# 3018-tree-init-fail: the store opens before the mount (checked) but not
# once mounted (its key file went meanwhile, in the window the test-only
# test_init_delay opens): kpoolfs -f logs why, unmounts and exits 1, not
# 0; the same store with its key file back mounts and exits 0.
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/3-fs.sh"
need_fuse

FS=$KP_BUILD/kpoolfs
M=$TMP/mnt
mkdir -p "$M"

plan 7

# mounted DIR: DIR is in the mount table (read without touching DIR,
# which blocks until the daemon's init is done)
mounted() {
	awk -v d="$1" '$5 == d { f = 1 } END { exit !f }' /proc/self/mountinfo
}

"$FS" -f -o user=alice,server=none,refresh=0,test_init_delay=3000 "$TMP/a.db" "$M" \
    2>"$TMP/err" &
pid=$!
i=0
while ! mounted "$M" && [ $i -lt 200 ]; do sleep 0.01; i=$((i + 1)); done
ok "mounted, the store not opened yet" mounted "$M"
_tap_mounts="$M $_tap_mounts"
mv "$TMP/a.db.key" "$TMP/key.aside"
wait $pid; rc=$?
is "$rc" 1 "the store does not open once mounted: exit 1"
like "$(cat "$TMP/err")" 'a\.db\.key is missing' "the reason is logged"
like "$(cat "$TMP/err")" 'cannot start' "and that it cannot start"
nok "and no mount is left behind" mounted "$M"

mv "$TMP/key.aside" "$TMP/a.db.key"
"$FS" -f -o server=none,refresh=0,test_init_delay=100 "$TMP/a.db" "$M" 2>"$TMP/err" &
pid=$!
i=0
while ! mounted "$M" && [ $i -lt 200 ]; do sleep 0.01; i=$((i + 1)); done
is "$(grep -c . "$M/config")" 10 "with its key file the store mounts"
fusermount3 -u "$M"
wait $pid; rc=$?
is "$rc" 0 "and an unmount exits 0"
