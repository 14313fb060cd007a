#!/bin/sh
# SPDX-License-Identifier: ISC
# 3022-tree-subsecond: key times have nanoseconds.  A refresh makes 32
# keys and the last-resort key within a second or so: their directories'
# mtimes (the last transition) and their keypackage files' (created) are
# all apart, so ls -tr orders them strictly, oldest first as they were
# made; the documented pick of the oldest regular key (kpoolfs(1),
# docs/tree.md) never gives the last-resort key, wherever it sorts.  A
# store of schema 3 (whole seconds) opens, migrates, and keeps its keys.
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/3-fs.sh"
need_fuse
plan 10

start_server
M=$TMP/mnt
DB=$TMP/alice.db
mount_pool "$DB" "$M" -o user=alice,server="$SERVER_URL",refresh=0
A=$M/available
ctl "$M" refresh
is "$(ls "$A" | wc -l)" 33 "a refresh: 32 keys and the last-resort key"
lr=$(grep -l '^1$' "$A"/*/last_resort | cut -d/ -f"$(echo "$A" | tr -cd / | wc -c | awk '{ print $1 + 2 }')")
like "$lr" '^[0-9a-f]{64}$' "one of them is the last-resort key"
is "$(cd "$A" && stat -c %.9Y * | sort -u | wc -l)" 33 \
    "33 distinct directory mtimes (nanoseconds)"
is "$(cd "$A" && stat -c %.9Y */keypackage | sort -u | wc -l)" 33 \
    "33 distinct created times (keypackage mtimes)"
is "$(ls -tr "$A" | tr '\n' ' ')" \
    "$(cd "$A" && stat -c '%.9Y %n' */keypackage | sort -n | cut -d' ' -f2 | cut -d/ -f1 | tr '\n' ' ')" \
    "ls -tr: the keys as they were made"

# the documented pick (kpoolfs(1) EXAMPLES)
oldest() {
	for k in $(ls -tr "$1"); do
		[ "$(cat "$1/$k/last_resort")" = 0 ] && { echo "$k"; break; }
	done
}
want=$(cd "$A" && stat -c '%.9Y %n' * | sort -n | cut -d' ' -f2 | grep -vx "$lr" | head -n 1)
is "$(oldest "$A")" "$want" "the pick: the oldest regular key, not the last-resort one"
# make the last-resort key the oldest by mtime: move everything else
for k in $(ls "$A" | grep -vx "$lr" | head -n 5); do
	fsop rename "$A/$k" "$M/reserved/$k" >/dev/null
	fsop rename "$M/reserved/$k" "$A/$k" >/dev/null
done
isnt_lr=$(oldest "$A")
ok "with the last-resort key among the oldest, still a regular key" \
    test "$isnt_lr" != "$lr" -a "$(cat "$A/$isnt_lr/last_resort")" = 0
unmount_pool "$M"

# back to schema 3: no sub-second columns, whole seconds
sqlite3 "$DB" "ALTER TABLE keypackages DROP COLUMN created_ns;
    ALTER TABLE keypackages DROP COLUMN changed_ns;
    PRAGMA user_version = 3" || bail "cannot make a schema-3 store"
mount_pool "$DB" "$M" -o refresh=0
is "$(ls "$A" | wc -l)" 33 "a schema-3 store opens with its 33 keys"
is "$(sqlite3 "$DB" 'PRAGMA user_version')" 4 "migrated to schema 4"
is "$(cd "$A" && stat -c %.9Y * | sed 's/.*\.//' | sort -u)" 000000000 \
    "its keys' times are whole seconds"
