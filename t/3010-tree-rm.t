#!/bin/sh
# SPDX-License-Identifier: ISC
# 3010-tree-rm: rm -r of a key directory, and what the listings show
# afterwards: a removed key is gone from its state directory at once
# (even for a listing repeated within the second the daemon reuses
# listings), its directory answers ENOENT, the counts and link counts
# drop; a key in use refuses and keeps every file; and a file unlinked
# from a key that then moves (here a sync uploads it) is listed again.
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/3-fs.sh"
need_fuse

start_server
M=$TMP/mnt
mount_pool "$TMP/alice.db" "$M" -o user=alice,server="$SERVER_URL",refresh=0
ctl "$M" "generate 3"
set -- $(ls "$M/created")
k1=$1 k2=$2 k3=$3
r=$(fsop rename "$M/created/$k3" "$M/available/$k3")
[ "$r" = OK ] || bail "upload: $r"
files=$(ls "$M/created/$k1" | tr '\n' ' ')

plan 12

ls "$M/created" >/dev/null		# a listing the daemon may reuse
ok "rm -r created/<key>" rm -r "$M/created/$k1"
is "$(ls "$M/created" | grep -c "^$k1\$")" 0 "the key is gone from created/"
is "$(ls -a "$M/created" | tr '\n' ' ')" ". .. $k2 " "created/ lists the other key only"
is_errno ENOENT "its directory is gone" read "$M/created/$k1/status"
is "$(grep '^created:' "$M/status")" "created: 1" "status counts one created key"
is "$(stat -c %h "$M/created")" 3 "created/ has 3 links"

fails_with EBUSY "rm -r of a key in available/ fails with EBUSY" \
    rm -r "$M/available/$k3"
is "$(ls "$M/available/$k3" | tr '\n' ' ')" \
    "$(printf '%s\n' $files group_id uploaded_at | sort | tr '\n' ' ')" \
    "and leaves every file listed (the owner's group_id too)"

ok "rm created/<key>/info" rm "$M/created/$k2/info"
is "$(ls "$M/created/$k2" | grep -c '^info$')" 0 "info is no longer listed"
ctl "$M" sync
is "$(ls "$M/available/$k2" | grep -c '^info$')" 1 \
    "once a sync uploads the key, available/<key>/info is listed again"
is "$(grep -c . "$M/available/$k2/info" 2>&1)" "$(grep -c . "$M/available/$k3/info")" \
    "and reads like any other key's info"
