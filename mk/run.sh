#!/bin/sh
# SPDX-License-Identifier: ISC
#
# make run / make stop: a local kpool-server on 127.0.0.1 and a demo
# user's pool mounted at ./mnt with 32 keys published.  Everything lives
# in ./run (databases, keys, logs, pid files).
#
#	sh mk/run.sh start	start (from a terminal: stay in the
#				foreground until Ctrl-C or make stop)
#	sh mk/run.sh stop	unmount and stop the server
#
# make run has built everything (make deps, make all) before this runs.

set -u
top=$(cd "$(dirname "$0")/.." && pwd)
B=${KP_BUILD:-$top/build}
run=$top/run
mnt=$top/mnt
user=demo
port=8477

alive() {	# PIDFILE: the process it names runs
	[ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

# wait_gone PID SECONDS: wait for PID to end; 1 if it did not
wait_gone() {
	_i=0
	while kill -0 "$1" 2>/dev/null; do
		_i=$((_i + 1))
		[ "$_i" -gt $(($2 * 10)) ] && return 1
		sleep 0.1
	done
	return 0
}

stop() {
	if mountpoint -q "$mnt" 2>/dev/null; then
		fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -u -z "$mnt" \
		    2>/dev/null || umount -l "$mnt" 2>/dev/null
	fi
	if alive "$run/kpoolfs.pid"; then
		p=$(cat "$run/kpoolfs.pid")
		wait_gone "$p" 5 || { kill "$p" 2>/dev/null; wait_gone "$p" 5; }
	fi
	if alive "$run/server.pid"; then
		p=$(cat "$run/server.pid")
		kill "$p" 2>/dev/null
		wait_gone "$p" 5 || kill -9 "$p" 2>/dev/null
	fi
	rm -f "$run/kpoolfs.pid" "$run/server.pid" "$run/server.port"
}

# start_server PORT: start kpool-server; sets port; 1 if it died
start_server() {
	: >"$run/server.port"
	"$B/kpool-server" --listen "127.0.0.1:$1" --db "$run/server.db" \
	    >"$run/server.port" 2>>"$run/server.log" </dev/null &
	echo $! >"$run/server.pid"
	_i=0
	while :; do
		port=$(head -n 1 "$run/server.port" 2>/dev/null | tr -dc 0-9)
		[ -n "$port" ] && return 0
		alive "$run/server.pid" || return 1
		_i=$((_i + 1))
		[ "$_i" -gt 100 ] && return 1
		sleep 0.05
	done
}

fail() {
	echo "make run: $*" >&2
	stop
	exit 1
}

# died LOG WHAT: fail, showing the last lines of LOG
died() {
	echo "make run: $2; the end of ${1#"$top"/}:" >&2
	tail -n 5 "$1" 2>/dev/null | sed 's/^/    /' >&2
	stop
	exit 1
}

# man_hint: how to read man/kpool.7 with what is installed
man_hint() {
	if command -v man >/dev/null 2>&1; then
		_h="man -l man/kpool.7"
	elif command -v groff >/dev/null 2>&1; then
		_h="groff -mandoc -Tutf8 man/kpool.7 | more"
	else
		_h="apt-get install groff-base; groff -mandoc -Tutf8 man/kpool.7"
	fi
	printf '%-42s ' "$_h"
}

start() {
	for b in kpool-server kpoolfs; do
		[ -x "$B/$b" ] || fail "$B/$b is not built (make all)"
	done
	command -v fusermount3 >/dev/null 2>&1 ||
	    fail "fusermount3 missing: FUSE is not installed" \
	    "(apt-get install fuse3, or make deps)"
	[ -c /dev/fuse ] || fail "/dev/fuse missing: this kernel or container" \
	    "offers no FUSE (on a host: modprobe fuse; in a container: start" \
	    "it with --device /dev/fuse --cap-add SYS_ADMIN)"
	if alive "$run/server.pid" || alive "$run/kpoolfs.pid"; then
		echo "kpool is already running (make stop ends it)"
		exit 0
	fi
	mkdir -p "$run" "$mnt"
	chmod 700 "$run"
	# a mount left by a crash
	mountpoint -q "$mnt" 2>/dev/null && fusermount3 -u -z "$mnt" 2>/dev/null

	# port 8477, or any free one when it is taken (the server refuses
	# a port another process listens on)
	start_server $port || start_server 0 ||
	    died "$run/server.log" "kpool-server did not start"
	url=http://127.0.0.1:$port

	"$B/kpoolfs" -f -o server="$url",user=$user "$run/$user.db" "$mnt" \
	    >>"$run/kpoolfs.log" 2>&1 </dev/null &
	echo $! >"$run/kpoolfs.pid"
	_i=0
	until mountpoint -q "$mnt"; do
		alive "$run/kpoolfs.pid" ||
		    died "$run/kpoolfs.log" "kpoolfs could not mount ./mnt"
		_i=$((_i + 1))
		[ "$_i" -gt 100 ] && fail "kpoolfs did not mount ./mnt"
		sleep 0.05
	done
	printf refresh >"$mnt/ctl" 2>/dev/null ||
	    died "$run/kpoolfs.log" "the first refresh failed"

	cat <<EOF
kpool is running: kpool-server at $url (database run/server.db),
and the pool of user "$user" mounted at ./mnt: $(grep '^available:' "$mnt/status" | cut -d' ' -f2) keys published
(a target of $(grep '^target:' "$mnt/status" | cut -d' ' -f2) and one last-resort key).

Try, in another terminal:
    ls mnt mnt/available
    cat mnt/status mnt/config
    # the oldest available key that is not the last-resort one
    k=\$(ls -tr mnt/available | while read -r k; do
        grep -qx 0 mnt/available/\$k/last_resort && { echo \$k; break; }; done)
    cat mnt/available/\$k/info
    mv mnt/available/\$k mnt/reserved/          # reserve it (asks the server)
    mv mnt/reserved/\$k mnt/available/          # and release it
    mv mnt/available/\$k mnt/spent/             # or spend it
    echo refresh > mnt/ctl                     # replenish to the target
    $(man_hint)# the tree and the errno table

Logs are in run/.  Stop with make stop$( [ -n "${fg:-}" ] && echo " or Ctrl-C here").
EOF
}

case ${1:-} in
start)
	fg=
	[ -t 0 ] && [ -t 1 ] && fg=1
	# the background children must not take Ctrl-C: this script does
	trap '' INT
	start
	[ -n "$fg" ] || exit 0
	trap 'echo; echo "make run: stopping"; stop; exit 0' INT TERM HUP
	# until Ctrl-C, or make stop from elsewhere unmounts the tree
	wait "$(cat "$run/kpoolfs.pid")" 2>/dev/null
	stop
	echo "make run: stopped"
	;;
stop)
	stop
	echo "kpool: stopped (nothing left running; data kept in run/)"
	;;
*)
	echo "usage: mk/run.sh start|stop" >&2
	exit 2
	;;
esac
