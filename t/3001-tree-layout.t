#!/bin/sh
# SPDX-License-Identifier: ISC
# 3001-tree-layout: the tree of an offline pool: names, modes, sizes,
# link counts, times, and the exact content of every file.
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/3-fs.sh"
need_fuse

T0=1790000000			# 2026-09-21T14:13:20Z
echo $T0 >"$TMP/clock"
M=$TMP/mnt
mount_pool "$TMP/alice.db" "$M" -o user=alice,server=none,refresh=0,test_clock="$TMP/clock"

plan 50

is "$(ls "$M" | tr '\n' ' ')" \
    "available config created ctl devices events expired identity reserved spent status status.json welcome " \
    "the root lists the eight files and the five state directories"
is "$(stat -c '%a %h' "$M")" "755 7" "root: mode 755, 7 links"
is "$(cd "$M" && stat -c '%n %F %a %h' status config ctl welcome | tr '\n' ';')" \
    "status regular file 444 1;config regular file 644 1;ctl regular empty file 200 1;welcome regular empty file 200 1;" \
    "root files: types, modes and link counts"
for d in created available reserved spent expired; do
	is "$(stat -c '%F %a %h %Y' "$M/$d")" "directory 755 2 $T0" \
	    "$d/: an empty directory, 755, 2 links, mtime at mount"
done

status0="created: 0
available: 0
reserved: 0
spent: 0
expired: 0
total: 0
target: 32
low_watermark: 8
hard_cap: 64
health: offline
last_sync: never
user: alice
device: default
enrollment: unknown
server: none
suite_0x0001_created: 0
suite_0x0001_available: 0
suite_0x0001_reserved: 0
last_error: none"
is "$(cat "$M/status")" "$status0" "status of an empty offline pool"
is "$(stat -c %s "$M/status")" "$(wc -c <"$M/status")" "status: stat size = bytes read"
config0="target = 32
low_watermark = 8
hard_cap = 64
lifetime = 1209600
refresh_interval = 30
suites = 0x0001
last_resort = 1
credentials = basic
extensions = none
proposals = none"
is "$(cat "$M/config")" "$config0" "config holds the default policy"
is "$(stat -c %s "$M/config")" "$(wc -c <"$M/config")" "config: stat size = bytes read"

ctl "$M" "generate 3"
is "$(ls "$M/created" | wc -l)" 3 "generate 3 makes three keys in created/"
is "$(stat -c %h "$M/created")" 5 "created/ has 2 + 3 links"
is "$(grep -E '^(created|total):' "$M/status" | tr '\n' ' ')" \
    "created: 3 total: 3 " "status counts them"
is "$(stat -c %Y "$M/created")" "$T0" "created/ mtime: the last arrival"

k=$(first_key "$M/created")
K=$M/created/$k
like "$k" '^[0-9a-f]{64}$' "a key directory is named by its ref in hex"
is "$(ls "$K" | tr '\n' ' ')" \
    "created_at info keypackage last_resort not_after not_before private_keys ref status suite " \
    "a created key has exactly the files that apply"
is "$(stat -c '%F %a %h %Y' "$K")" "directory 755 2 $T0" \
    "key directory: 755, 2 links, mtime = its last transition"
is "$(cat "$K/status")" "created" "status: created"
is "$(cat "$K/ref")" "$k" "ref: the directory's name"
is "$(cat "$K/suite")" "0x0001" "suite: 0x0001"
is "$(cat "$K/created_at")" "2026-09-21T14:13:20Z" "created_at: RFC 3339 UTC from the clock"
is "$(cat "$K/last_resort")" "0" "last_resort: 0"
is "$(cat "$K/private_keys")" "stored" "private_keys: stored"
like "$(cat "$K/not_before")" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$' \
    "not_before: RFC 3339"
nb=$(rfc3339_to_unix "$(cat "$K/not_before")")
na=$(rfc3339_to_unix "$(cat "$K/not_after")")
ok "not_before <= created_at < not_after" \
    test "$nb" -le "$T0" -a "$T0" -lt "$na"
is "$((na - T0 >= 1209600))" 1 "the lifetime covers 14 days from now"
is "$(od -An -tx1 -N4 "$K/keypackage" | tr -d ' ')" "00010001" \
    "keypackage starts with version mls10 and suite 0x0001"
is "$(stat -c '%Y' "$K/keypackage")" "$T0" "keypackage mtime: created_at"

want=""
for f in status ref suite not_before not_after created_at last_resort private_keys; do
	want="$want$f: $(cat "$K/$f")
"
done
want="${want}keypackage_size: $(stat -c %s "$K/keypackage")"
is "$(cat "$K/info")" "$want" "info: every value as key: value lines"

bad=0
for f in $(find "$M" -type f ! -name ctl ! -name welcome ! -name events); do
	[ "$(stat -c %s "$f")" = "$(wc -c <"$f")" ] || { bad=$((bad + 1)); diag "size of $f"; }
done
is "$bad" 0 "every readable file: stat size = bytes read (find, wc -c)"
bad=0
for f in $(find "$M/created" -type f ! -name keypackage); do
	[ "$(tail -c 1 "$f" | od -An -c | tr -d ' ')" = '\n' ] || bad=$((bad + 1))
	[ "$(stat -c %a "$f")" = 444 ] || bad=$((bad + 1))
done
is "$bad" 0 "every key text file ends with a newline and is 444"
is "$(find "$M" -type d | wc -l)" 9 "find sees 1 + 5 + 3 directories"
is "$(find "$M" -type f | wc -l)" $((8 + 3 * 10)) "find sees 8 + 3 * 10 files"
ok "cp -r copies a key directory" cp -r "$K" "$TMP/copy"
ok "the copy is identical (cmp of every file)" diff -r "$K" "$TMP/copy"
is "$(cat "$M"/created/*/status | sort | uniq -c | tr -s ' ')" " 3 created" \
    "cat of a glob reads every key"
is "$(ls -l "$M/created" | grep -c '^d')" 3 "ls -l lists three directories"
is "$(stat -c %s "$M/created/$k/status")" 8 "status of a created key is 8 bytes"

# the clock moves: a transition stamps the key directory
echo $((T0 + 60)) >"$TMP/clock"
is_errno OK "created -> expired stays local and succeeds" \
    rename "$K" "$M/expired/$k"
E=$M/expired/$k
is "$(cat "$E/status")" expired "the moved key says expired"
is "$(stat -c %s "$E/status")" 8 "its status size follows (8 bytes)"
is "$(stat -c %Y "$E")" $((T0 + 60)) "its mtime is the transition"
is "$(cat "$E/expired_at")" "2026-09-21T14:14:20Z" "expired_at appears"
is "$(cat "$E/private_keys")" "wiped" "an expired key's private keys are wiped"
is "$(stat -c '%h %Y' "$M/expired")" "3 $((T0 + 60))" \
    "expired/: 3 links, mtime of the arrival"
is "$(stat -c '%h' "$M/created")" 4 "created/: one link fewer"
is "$(grep -E '^(created|expired):' "$M/status" | tr '\n' ' ')" \
    "created: 2 expired: 1 " "status follows at once"
is "$(ls "$M/created" | grep -c "$k")" 0 "the key is gone from created/"
