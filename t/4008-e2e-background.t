#!/bin/sh
# SPDX-License-Identifier: ISC
# 4008-e2e-background: the background refresh runs every refresh_interval
# seconds of config, and what inviters do on the server shows in the
# tree without a ctl command, with nothing stale.
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/3-fs.sh"
need_fuse

start_server
M=$TMP/mnt
INV="$KP_BUILD/t/4000-kpinvite.t"
mount_pool "$TMP/alice.db" "$M" -o user=alice,server="$SERVER_URL"

# poll CMD for up to 10 s until its output is WANT; print the last output
poll() {
	_want=$1; shift
	_i=0
	until [ "$("$@" 2>/dev/null)" = "$_want" ] || [ $_i -ge 100 ]; do
		sleep 0.1; _i=$((_i + 1))
	done
	"$@" 2>&1
}

plan 7

is "$(poll "available: 33" grep '^available:' "$M/status")" "available: 33" \
    "the first background pass fills the pool at mount"
is_errno OK "config: refresh_interval = 1" write "$M/config" "refresh_interval = 1
"
set -- $("$INV" reserve "$SERVER_URL" inv1 alice 6731)
ref=$1
cat "$M/available/$ref/status" >/dev/null	# the kernel now caches it
is "$(poll reserved cat "$M/reserved/$ref/status")" reserved \
    "an inviter's reservation shows in reserved/ by itself"
is "$(cat "$M/reserved/$ref/reserved_by")" inv1 "with who holds it"
is "$(fsop read "$M/available/$ref/status")" ENOENT \
    "the old path is gone, not stale"
is "$(grep '^reserved:' "$M/status")" "reserved: 1" "status follows"
is "$("$INV" spend "$SERVER_URL" inv1 "$ref" 6731)$(poll spent cat "$M/spent/$ref/status")" \
    "OKspent" "the spend shows in spent/ by itself"
