#!/bin/sh
# SPDX-License-Identifier: ISC
# 3002-tree-errors: every refusal of the tree, with its exact errno, on
# an offline pool: read-only files, ctl and config syntax, rmdir and
# unlink rules, renames that need no server, rename(2) flags.
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/3-fs.sh"
need_fuse

echo 1790000000 >"$TMP/clock"
M=$TMP/mnt
mount_pool "$TMP/alice.db" "$M" -o user=alice,server=none,refresh=0,test_clock="$TMP/clock"
ctl "$M" "generate 4"
set -- $(ls "$M/created")
k1=$1 k2=$2 k3=$3 k4=$4
C=$M/created

plan 72

# writes to read-only files, reads of write-only ones
is_errno EACCES "status: open for writing" openw "$M/status"
is_errno EACCES "status: truncate" trunc "$M/status" 0
is_errno EACCES "a key file: open for writing" openw "$C/$k1/status"
is_errno EACCES "keypackage: open for writing" openw "$C/$k1/keypackage"
is_errno EACCES "a key file: truncate" trunc "$C/$k1/ref" 0
is_errno EACCES "ctl: open for reading" read "$M/ctl"
is_errno EACCES "welcome: open for reading" read "$M/welcome"
is_errno EACCES "create a file at the root" create "$M/new"
is_errno EACCES "create a file in a state directory" create "$C/new"
is_errno EACCES "create a file in a key directory" create "$C/$k1/new"
is_errno EACCES "mkdir in a state directory" mkdir "$C/$(printf '%064d' 0)"
is_errno EACCES "mkdir at the root" mkdir "$M/other"
is_errno EPERM "chmod" chmod "$C/$k1/status"
is_errno EACCES "unlink a root file" unlink "$M/status"
is_errno OK "truncate config to 0 (O_TRUNC) is harmless" trunc "$M/config" 0
is_errno OK "config survives the truncate" read "$M/config"
is "$(grep -c . "$M/config")" 10 "config still has its 10 lines"
fails_with EACCES "echo into status fails (shell)" sh -c "echo x > '$M/status'"
fails_with EACCES "cat ctl fails (shell)" cat "$M/ctl"

# ctl grammar
for bad in "bogus" "sync now" "generate" "generate 0" "generate -1" \
    "generate x" "generate 1 2" "generate 99999999999" "cleanup all" \
    "refresh
sync"; do
	is_errno EINVAL "ctl rejects '$(echo "$bad" | tr '\n' '|')'" write "$M/ctl" "$bad"
done
is_errno EINVAL "generate past the hard cap (64)" write "$M/ctl" "generate 61"
is "$(ls "$C" | wc -l)" 4 "failed ctl writes changed nothing"
is_errno EHOSTUNREACH "sync without a server" write "$M/ctl" "sync"
is_errno EHOSTUNREACH "refresh without a server" write "$M/ctl" "refresh"
is_errno OK "generate 1 without a newline" write "$M/ctl" "generate 1"
is "$(ls "$C" | wc -l)" 5 "one more key"

# config
cfg=$(cat "$M/config")
is_errno EINVAL "config: unknown key" write "$M/config" "bogus = 1
"
is_errno EINVAL "config: not a number" write "$M/config" "target = x
"
is_errno EINVAL "config: no '='" write "$M/config" "target 40
"
is_errno EINVAL "config: empty value" write "$M/config" "target =
"
is_errno EINVAL "config: low_watermark above target" write "$M/config" "low_watermark = 40
"
is_errno EINVAL "config: a good line then a bad one" write "$M/config" "target = 40
hard_cap = x
"
is "$(cat "$M/config")" "$cfg" "failed config writes changed nothing"
is_errno OK "config: two good lines, a comment and a blank" \
    write "$M/config" "# more keys
target = 40

hard_cap = 80
"
is "$(grep -E '^(target|hard_cap) ' "$M/config" | tr '\n' ' ')" \
    "target = 40 hard_cap = 80 " "both settings took effect"
is "$(grep -E '^target:' "$M/status")" "target: 40" "status shows the new target"
is_errno OK "config: settings that need each other, in any order" \
    write "$M/config" "target = 100
hard_cap = 200
"
is "$(grep -E '^(target|hard_cap) ' "$M/config" | tr '\n' ' ')" \
    "target = 100 hard_cap = 200 " "both took effect"
is "$(stat -c %s "$M/config")" "$(wc -c <"$M/config")" "config size follows"

# rmdir and unlink
is_errno EBUSY "rmdir of a state directory" rmdir "$M/created"
is_errno ENOENT "rmdir of an unknown key" rmdir "$C/$(printf '%064d' 0)"
is_errno ENOENT "rmdir of a key in another state's directory" \
    rmdir "$M/spent/$k1"
is_errno ENOTDIR "rmdir of a file" rmdir "$C/$k1/status"
is_errno OK "rmdir of a created key deletes it" rmdir "$C/$k4"
is "$(ls "$C" | grep -c "$k4")" 0 "it is gone"
ok "rm -r of a created key" rm -r "$C/$k3"
is "$(ls "$C" | grep -c "$k3")" 0 "it is gone too"
is "$(grep -E '^total:' "$M/status")" "total: 3" "status counts 3 keys"

# renames that need no server
is_errno EINVAL "rename to another name" rename "$C/$k1" "$C/$(printf '%064d' 1)"
is_errno EINVAL "rename to a name that is not a ref" rename "$C/$k1" "$C/${k1}x"
is_errno EINVAL "rename to another key's name" rename "$C/$k1" "$M/expired/$k2"
is_errno EINVAL "rename to the root" rename "$C/$k1" "$M/$k1"
is_errno EINVAL "rename into a key directory" rename "$C/$k1" "$C/$k2/$k1"
is_errno EINVAL "rename to a non-ref name" rename "$C/$k1" "$M/expired/foo"
is_errno ENOENT "rename of an unknown key" \
    rename "$C/$(printf '%064d' 0)" "$M/expired/$(printf '%064d' 0)"
is_errno EPERM "rename of a state directory" rename "$C" "$M/made"
is_errno EACCES "rename of a root file" rename "$M/status" "$M/status2"
is_errno EACCES "rename of a key file" rename "$C/$k1/status" "$C/$k1/st"
is_errno EINVAL "RENAME_EXCHANGE of two keys" rename "$C/$k1" "$C/$k2" 2
is_errno EHOSTUNREACH "created -> available with no server" \
    rename "$C/$k1" "$M/available/$k1"
is_errno OK "created -> expired with RENAME_NOREPLACE" \
    rename "$C/$k1" "$M/expired/$k1" 1
is_errno EPERM "expired -> created is forbidden" \
    rename "$M/expired/$k1" "$C/$k1"
is_errno EPERM "expired -> available is forbidden" \
    rename "$M/expired/$k1" "$M/available/$k1"
