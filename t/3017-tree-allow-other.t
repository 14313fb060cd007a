#!/bin/sh
# SPDX-License-Identifier: ISC
# 3017-tree-allow-other: a mount shows as type fuse.kpoolfs, and
# allow_other implies default_permissions: another local user (nobody)
# may read status but cannot move or delete a key, write config or
# ctl, or open a Welcome; the owner still can.  Without allow_other, nobody cannot even
# read.
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/3-fs.sh"
need_fuse
command -v setpriv >/dev/null || bail "setpriv (util-linux) is needed"

plan 12
chmod 755 "$TMP"
M=$TMP/mnt
# as nobody, with nobody's own errno names
asnobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups \
	    env PATH="$PATH" sh -c ". '$KP_TOP/t/3-fs.sh'; fsop \"\$@\"" \
	    fsop "$@"
}

mount_pool "$TMP/a.db" "$M" -o user=alice,server=none,refresh=0
ctl "$M" "generate 3"
is "$(findmnt -n -o FSTYPE "$M")" fuse.kpoolfs "the mount's type is fuse.kpoolfs"
is "$(asnobody read "$M/status")" EACCES \
    "without allow_other, another user cannot read status"
unmount_pool "$M"

mount_pool "$TMP/a.db" "$M" -o user=alice,server=none,refresh=0,allow_other
like "$(findmnt -n -o OPTIONS "$M")" "default_permissions" \
    "allow_other alone mounts with default_permissions"
is "$(asnobody read "$M/status")" OK \
    "another user may read status"
k=$(ls "$M/created" | head -n 1)
is "$(asnobody rename "$M/created/$k" "$M/expired/$k")" EACCES \
    "but not move a key"
is "$(asnobody write "$M/config" "target = 1")" EACCES \
    "nor write config"
is "$(asnobody write "$M/ctl" "generate 1")" EACCES "nor write ctl"
is "$(asnobody openw "$M/welcome")" EACCES "nor open welcome to write"
is "$(asnobody rmdir "$M/created/$k")" EACCES "nor delete a key"
is "$(cat "$M/created/$k/status")" created "the key stayed where it was"
is_errno OK "the owner still moves it" \
    rename "$M/created/$k" "$M/expired/$k"
like "$(cat "$M/config")" "target = 32" "and config is unchanged"
