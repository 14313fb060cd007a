#!/bin/sh
# SPDX-License-Identifier: ISC
# 9003-run-messages: make run's helper (mk/run.sh) says plainly what is
# missing: fusermount3, /dev/fuse (hidden in a mount namespace of its
# own), and a way to read man/kpool.7 with or without man and groff.
# It runs from a copy in $TMP/top, so its run/ and mnt/ are the test's.
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/3-fs.sh"
need_fuse

plan 12

top=$TMP/top
mkdir -p "$top/mk"
_tap_mounts="$top/mnt $_tap_mounts"	# unmounted at exit, whatever happens
cp "$KP_TOP/mk/run.sh" "$top/mk/"
export KP_BUILD

# bin_without NAME...: a directory of links to every program on the
# system but NAME...; prints its path.
bin_without() {
	_b=$TMP/bin-$1
	mkdir -p "$_b"
	for d in /usr/local/bin /usr/bin /usr/sbin; do
		cp -s -n "$d"/* "$_b"/ 2>/dev/null
	done
	for n in "$@"; do
		rm -f "$_b/$n"
	done
	echo "$_b"
}

b=$(bin_without fusermount3)
PATH=$b sh "$top/mk/run.sh" start >"$TMP/out" 2>"$TMP/err"
is "$?:$(cat "$TMP/err")" "1:make run: fusermount3 missing: FUSE is not installed (apt-get install fuse3, or make deps)" \
    "no fusermount3: exit 1, and what to install"

# /dev/fuse hidden behind a plain file, in a private mount namespace
: >"$TMP/nofuse"
if unshare -m sh -c "mount --bind '$TMP/nofuse' /dev/fuse" 2>/dev/null; then
	unshare -m sh -c "mount --bind '$TMP/nofuse' /dev/fuse &&
	    sh '$top/mk/run.sh' start" >"$TMP/out" 2>"$TMP/err"
	is "$?:$(cat "$TMP/err")" "1:make run: /dev/fuse missing: this kernel or container offers no FUSE (on a host: modprobe fuse; in a container: start it with --device /dev/fuse --cap-add SYS_ADMIN)" \
	    "no /dev/fuse: exit 1, and what to do"
else
	skip 1 "no unshare -m here"
fi
ok "nothing left mounted" sh -c "! mountpoint -q '$top/mnt'"

# start_and_hint PATH: start with PATH, print the man line of the
# greeting, stop
start_and_hint() {
	PATH=$1 sh "$top/mk/run.sh" start >"$TMP/out" 2>"$TMP/err" </dev/null
	_rc=$?
	PATH=$1 sh "$top/mk/run.sh" stop >/dev/null 2>&1
	[ "$_rc" -eq 0 ] || { sed 's/^/# /' "$TMP/err"; return 1; }
	grep 'the tree and the errno table' "$TMP/out" | sed 's/  *#.*//'
}

is "$(start_and_hint "$PATH")" "    man -l man/kpool.7" \
    "with man: man -l man/kpool.7"
is "$(start_and_hint "$(bin_without man)")" \
    "    groff -mandoc -Tutf8 man/kpool.7 | more" \
    "without man: groff, through more"
is "$(start_and_hint "$(bin_without man groff)")" \
    "    apt-get install groff-base; groff -mandoc -Tutf8 man/kpool.7" \
    "without groff: what to install first"
ok "make stop leaves nothing mounted" sh -c "! mountpoint -q '$top/mnt'"
ok "and no server" sh -c "! [ -e '$top/run/server.pid' ]"

# port 8477 already served (here by a server of the test's own): make
# run takes another port rather than share it.  The test's server is
# started again until it listens (the port may still be held for a
# moment by the server of make run's last stop, and then be free when
# make run starts), for up to 30 s.
i=0
while :; do
	: >"$TMP/other.port"
	"$KP_BUILD/kpool-server" --listen 127.0.0.1:8477 --db "$TMP/other.db" \
	    >"$TMP/other.port" 2>/dev/null &
	other=$!
	until [ -s "$TMP/other.port" ] || ! kill -0 $other 2>/dev/null; do
		sleep 0.05
	done
	[ -s "$TMP/other.port" ] && break
	i=$((i + 1))
	[ $i -gt 150 ] && break
	sleep 0.2
done
_tap_pids="$_tap_pids $other"	# (else another process held 8477 all along)
sh "$top/mk/run.sh" start >"$TMP/out" 2>"$TMP/err" </dev/null
rc=$?
url=$(sed -n 's/^kpool is running: kpool-server at \([^ ]*\) .*/\1/p' "$TMP/out")
sh "$top/mk/run.sh" stop >/dev/null 2>&1
is "$rc" 0 "8477 taken: make run starts"
ok "on another port ($url)" sh -c "echo '$url' |
    grep -Eq '^http://127\.0\.0\.1:[0-9]+\$' && [ '$url' != http://127.0.0.1:8477 ]"

# kpoolfs that cannot open its store: the end of its log is shown
echo "not a database" >"$top/run/demo.db"
sh "$top/mk/run.sh" start >"$TMP/out" 2>"$TMP/err" </dev/null
is "$?:$(head -n 1 "$TMP/err")" \
    "1:make run: kpoolfs could not mount ./mnt; the end of run/kpoolfs.log:" \
    "a store that is not one: exit 1, and why"
like "$(cat "$TMP/err")" "^    kpoolfs: .*run/demo.db" \
    "with the daemon's own words"
