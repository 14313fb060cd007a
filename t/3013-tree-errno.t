#!/bin/sh
# SPDX-License-Identifier: ISC
# 3013-tree-errno: the rows of the errno table of kpoolfs(1) that
# t/3002 does not reach: removing the root, unlinking a file of a key in
# use, directories taken for files and files for directories.
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/3-fs.sh"
need_fuse

start_server
M=$TMP/mnt
mount_pool "$TMP/alice.db" "$M" -o user=alice,server="$SERVER_URL",refresh=0
ctl "$M" "generate 2"
set -- $(ls "$M/created")
k1=$1 k2=$2
r=$(fsop rename "$M/created/$k2" "$M/available/$k2")
[ "$r" = OK ] || bail "upload: $r"

plan 8

is_errno EBUSY "rmdir of the root" rmdir "$M"
is_errno EBUSY "rmdir of a state directory" rmdir "$M/available"
is_errno EBUSY "unlink of a file of a key in available/" \
    unlink "$M/available/$k2/status"
is_errno EISDIR "unlink of a key directory" unlink "$M/created/$k1"
is_errno EISDIR "truncate of a state directory" trunc "$M/created" 0
is_errno ENOTDIR "rmdir of a root file" rmdir "$M/status"
is_errno ENOTDIR "a key file taken for a directory" read "$M/created/$k1/status/x"
is_errno EPERM "rename of the root's state directory onto another" \
    rename "$M/created" "$M/expired"
