#!/bin/sh
# SPDX-License-Identifier: ISC
# 4005-e2e-crash: the pool survives an unmount, a kill -9 of the daemon
# and a remount, with nothing lost or duplicated, locally or on the
# server.
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/3-fs.sh"
need_fuse

start_server
M=$TMP/mnt
INV="$KP_BUILD/t/4000-kpinvite.t"
OPTS="user=alice,server=$SERVER_URL,refresh=0"

snapshot() {	# every key as "state ref", sorted
	for s in created available reserved spent expired; do
		ls "$M/$s" | sed "s/^/$s /"
	done | sort
}

plan 10

mount_pool "$TMP/alice.db" "$M" -o "$OPTS"
ctl "$M" refresh
k=$(first_key "$M/available")
is_errno OK "reserve one key for ourselves" rename "$M/available/$k" "$M/reserved/$k"
ctl "$M" "generate 2"
snapshot >"$TMP/s1"
is "$(wc -l <"$TMP/s1" | tr -d ' ')" 35 "35 keys before"
unmount_pool "$M"
ok "the daemon is gone after fusermount3 -u" sh -c "! kill -0 $FS_PID 2>/dev/null"

mount_pool "$TMP/alice.db" "$M" -o "$OPTS"
snapshot >"$TMP/s2"
ok "after an unmount and a remount: the same keys in the same states" \
    cmp "$TMP/s1" "$TMP/s2"

kill -9 "$FS_PID"
wait "$FS_PID" 2>/dev/null
nok "after kill -9 the mount is dead" ls "$M/available"
fusermount3 -u "$M" 2>/dev/null || umount -l "$M"
mount_pool "$TMP/alice.db" "$M" -o "$OPTS"
snapshot >"$TMP/s3"
ok "after kill -9 and a remount: the same keys in the same states" \
    cmp "$TMP/s1" "$TMP/s3"

ctl "$M" sync
snapshot >"$TMP/s4"
sed 's/^created /available /' "$TMP/s1" | sort >"$TMP/s1x"
ok "a sync publishes the two created keys and changes nothing else" \
    cmp "$TMP/s1x" "$TMP/s4"
ctl "$M" refresh
is "$(grep -E '^(available|reserved|total):' "$M/status" | tr '\n' ' ')" \
    "available: 34 reserved: 1 total: 35 " \
    "after a refresh: nothing lost, nothing duplicated"

# the server agrees: 34 keys go out, each once, then the last resort
"$INV" race "$SERVER_URL" 34 alice >"$TMP/race"
is "$(cut -d' ' -f2 "$TMP/race" | sort -u | grep -c '^[0-9a-f]\{64\}$')" 34 \
    "34 inviters get 34 distinct keys"
is "$(cut -d' ' -f2 "$TMP/race" | grep -c "$k")" 0 "none is our reserved key"
