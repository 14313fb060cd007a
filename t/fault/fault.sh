# SPDX-License-Identifier: ISC
#
# fault.sh: the fault tools for shell tests: faultproxy in front of a
# server, faultcrash running kpool-server or kpoolfs.  Source it after
# t/tap.sh (docs/reliability.md, "The tools", says what each does):
#
#	. "$KP_TOP/t/fault/fault.sh"
#	CRASH_OPTS="--seed 7 --after-requests 20-40 --proxy $TMP/proxy.sock"
#	crash_server_start --public-metrics	# SERVER_PORT, SERVER_URL
#	proxy_start "$SERVER_PORT" --seed 42 --drop-reply 0.1
#	kpcli -s "$PROXY_URL" ...		# clients go through the proxy
#	proxy_ctl heal				# no more faults
#	crash_ctl "$CRASH_CTL" heal		# no more seeded crashes
#	crash_ctl "$CRASH_CTL" crash		# one now: kill -9, restart
#
# The daemons are stopped at exit by t/tap.sh, as start_server's are.

FAULTPROXY=$KP_BUILD/t/faultproxy
FAULTCRASH=$KP_BUILD/t/faultcrash

# _fault_line FILE PID: wait (20 s at most) for the first line of FILE,
# which PID writes, and print it; 1 when PID died first.
_fault_line() {
	_i=0
	while :; do
		if [ -s "$1" ] && [ "$(wc -l <"$1")" -ge 1 ]; then
			head -n 1 "$1"
			return 0
		fi
		kill -0 "$2" 2>/dev/null || return 1
		_i=$((_i + 1))
		[ "$_i" -gt 400 ] && return 1
		sleep 0.05
	done
}

# _fault_spawn OUT ERR WHAT CMD...: run CMD in the background, its
# standard output to OUT and its standard error added to ERR, to be
# stopped at exit, and wait for its first line; sets _fault_pid and
# _fault_first.  When CMD dies or says nothing, show ERR and bail.
_fault_spawn() {
	_out=$1
	_err=$2
	_what=$3
	shift 3
	rm -f "$_out"
	"$@" >"$_out" 2>>"$_err" &
	_fault_pid=$!
	_tap_pids="$_tap_pids $_fault_pid"
	if ! _fault_first=$(_fault_line "$_out" "$_fault_pid"); then
		sed "s/^/# $_what: /" "$_err"
		bail "$_what did not start"
	fi
}

# proxy_start UPSTREAM_PORT [OPTIONS...]: start faultproxy on 127.0.0.1,
# port 0, in front of 127.0.0.1:UPSTREAM_PORT, logging to $PROXY_LOG
# ($TMP/proxy.log) with its control socket at $PROXY_CTL
# ($TMP/proxy.sock); OPTIONS go to faultproxy (--seed, rates, ...).
# Sets PROXY_PID, PROXY_PORT and PROXY_URL.  Its stderr goes to
# $TMP/proxy.err.
proxy_start() {
	_up=$1
	shift
	PROXY_LOG=${PROXY_LOG:-$TMP/proxy.log}
	PROXY_CTL=${PROXY_CTL:-$TMP/proxy.sock}
	_fault_spawn "$PROXY_CTL.port" "$TMP/proxy.err" faultproxy \
	    "$FAULTPROXY" --upstream "127.0.0.1:$_up" --log "$PROXY_LOG" \
	    --control "$PROXY_CTL" "$@"
	PROXY_PID=$_fault_pid
	PROXY_PORT=$_fault_first
	PROXY_URL=http://127.0.0.1:$PROXY_PORT
	export PROXY_PID PROXY_PORT PROXY_URL PROXY_CTL PROXY_LOG
}

# proxy_ctl COMMAND [ARGS...]: one command to the proxy's control
# socket; prints the reply, and fails unless it begins with "ok".
proxy_ctl() {
	"$FAULTPROXY" ctl "$PROXY_CTL" "$@"
}

# _fault_stop NAME: SIGTERM the daemon whose pid is in $NAME, wait for
# it and empty NAME; its exit status (0 when there was none).
_fault_stop() {
	eval "_p=\${$1:-}"
	[ -n "$_p" ] || return 0
	kill "$_p" 2>/dev/null
	wait "$_p"
	_r=$?
	eval "$1="
	return $_r
}

# proxy_stop: SIGTERM the proxy and wait; its exit status.
proxy_stop() {
	_fault_stop PROXY_PID
}

# crash_ctl SOCKET COMMAND: one command to a faultcrash control socket
# (crash, restart, kill, stop, start, pid, port, heal, count); prints
# the reply, and fails unless it begins with "ok".
crash_ctl() {
	"$FAULTCRASH" ctl "$1" "$2"
}

# crash_server_start [SERVER ARGS...]: start kpool-server under
# faultcrash, on 127.0.0.1 port 0 the first time and on that port
# after each crash, on $SERVER_DB ($TMP/server.db); faultcrash's
# options come from $CRASH_OPTS (split at spaces), its control socket
# is $CRASH_CTL ($TMP/crash.sock) and its log $CRASH_LOG
# ($TMP/crash.log).  Sets SERVER_PID (faultcrash's: stop_server stops
# both), SERVER_PORT, SERVER_URL and SERVER_DB, as start_server does.
crash_server_start() {
	SERVER_DB=${SERVER_DB:-$TMP/server.db}
	CRASH_CTL=${CRASH_CTL:-$TMP/crash.sock}
	CRASH_LOG=${CRASH_LOG:-$TMP/crash.log}
	# shellcheck disable=SC2086
	_fault_spawn "$CRASH_CTL.port" "$TMP/server.log" kpool-server \
	    "$FAULTCRASH" --control "$CRASH_CTL" --log "$CRASH_LOG" \
	    ${CRASH_OPTS:-} -- "$KP_BUILD/kpool-server" \
	    --listen '127.0.0.1:{port}' --db "$SERVER_DB" \
	    $KP_NO_DRAIN_LIMITS "$@"
	SERVER_PID=$_fault_pid
	SERVER_PORT=$_fault_first
	SERVER_URL=http://127.0.0.1:$SERVER_PORT
	export SERVER_PID SERVER_PORT SERVER_URL SERVER_DB CRASH_CTL CRASH_LOG
}

# crash_fs_start STORE MNT [KPOOLFS ARGS...]: mount STORE at MNT with
# kpoolfs -f under faultcrash (--ready mount:MNT: after a crash MNT is
# unmounted, kpoolfs started again, and MNT polled until it is a mount
# again); options from $CRASH_OPTS, control socket $FS_CTL
# ($TMP/fs.sock), log $FS_CRASH_LOG ($TMP/fs-crash.log).  Sets FS_PID
# (faultcrash's).  Stop it with crash_fs_stop, not unmount_pool.
crash_fs_start() {
	_store=$1
	_mnt=$2
	shift 2
	FS_CTL=${FS_CTL:-$TMP/fs.sock}
	FS_CRASH_LOG=${FS_CRASH_LOG:-$TMP/fs-crash.log}
	mkdir -p "$_mnt"
	_tap_mounts="$_mnt $_tap_mounts"
	# shellcheck disable=SC2086
	_fault_spawn "$FS_CTL.ready" "$TMP/kpoolfs.log" kpoolfs \
	    "$FAULTCRASH" --control "$FS_CTL" --log "$FS_CRASH_LOG" \
	    --ready "mount:$_mnt" ${CRASH_OPTS:-} -- "$KP_BUILD/kpoolfs" -f \
	    "$@" "$_store" "$_mnt"
	FS_PID=$_fault_pid
	export FS_PID FS_CTL FS_CRASH_LOG
}

# crash_fs_stop: stop kpoolfs (SIGTERM; faultcrash unmounts what is
# left) and its faultcrash; faultcrash's exit status (0: kpoolfs never
# died on its own and exited 0).
crash_fs_stop() {
	_fault_stop FS_PID
}
