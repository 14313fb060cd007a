# SPDX-License-Identifier: ISC
#
# tap.sh: TAP verbs for shell tests, the twins of t/tap.h, and helpers to
# start a kpool-server and mount a pool.  Source it:
#
#	. "${KP_TOP:-.}/t/tap.sh"
#	plan 3
#	is "$(cat f)" "x" "f holds x"
#	ok "mv works" mv a b
#	fails_with EPERM "spent cannot move" mv spent/x available/
#
# Every test gets its own $TMP (mktemp -d), removed on exit after the
# mounts are undone and the servers stopped.
#
# The server tests (t/2xxx) run on both backends: on SQLite, and on
# PostgreSQL when KP_BACKEND=pg (the Makefile runs them a second time
# so), in the cluster mk/pg.sh started for the run (KP_PG_DIR); db_new
# makes each server a fresh database, dropped at exit.  Without a
# cluster such a test skips, or fails under KP_REQUIRE_PG=1 (CI).
#
# Sanitizer builds: every program the test runs (kpool-server, kpoolfs,
# the tools) writes its ASan/UBSan/LSan reports to $TMP/sanitizer.PID
# (log_path, added to the ASAN_OPTIONS and UBSAN_OPTIONS that make test
# sets).  At exit, once the daemons are stopped, any such report is shown
# and fails the test, whatever the test's own verdicts were.

KP_TOP=${KP_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
KP_BUILD=${KP_BUILD:-$KP_TOP/build}
export KP_TOP KP_BUILD
PATH=$KP_BUILD:$KP_BUILD/t:$PATH

_tap_n=0
_tap_failed=0
_tap_planned=
_tap_mounts=
_tap_pids=

_tap_skipped=
_tap_dbs=

TMP=$(mktemp -d "${TMPDIR:-/tmp}/kpool-test.XXXXXX")
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$TMP/sanitizer
UBSAN_OPTIONS=${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$TMP/sanitizer
export ASAN_OPTIONS UBSAN_OPTIONS

# _tap_sanitizer: show the sanitizer reports in $TMP as diagnostics; 1
# when there is one.
_tap_sanitizer() {
	_found=0
	for f in "$TMP"/sanitizer.*; do
		[ -s "$f" ] || continue
		_found=1
		echo "# sanitizer report in ${f##*/}:"
		sed 's/^/#   /' "$f"
	done
	return $_found
}

# _tap_alive PID: the process runs (a zombie waiting to be reaped does not).
_tap_alive() {
	_st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	[ -n "$_st" ] && [ "$_st" != Z ]
}

_tap_cleanup() {
	_rc=$?
	for m in $_tap_mounts; do
		fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
	for p in $_tap_pids; do
		kill "$p" 2>/dev/null
	done
	# a daemon that hangs on its way out fails the test, not the run:
	# SIGKILL after 20 s (TAP_KILL_TICKS tenths of a second)
	for p in $_tap_pids; do
		_i=0
		while _tap_alive "$p" && [ $_i -lt "${TAP_KILL_TICKS:-200}" ]; do
			sleep 0.1
			_i=$((_i + 1))
		done
		if _tap_alive "$p"; then
			echo "# pid $p still ran after SIGTERM: killed"
			kill -KILL "$p" 2>/dev/null
			_tap_failed=$((_tap_failed + 1))
		fi
		wait "$p" 2>/dev/null
	done
	_tap_sanitizer
	_san=$?
	for d in $_tap_dbs; do
		db_admin "DROP DATABASE IF EXISTS $d WITH (FORCE)" \
		    >/dev/null 2>&1
	done
	rm -rf "$TMP"
	if [ -n "$_tap_planned" ] && [ "$_tap_n" -ne "$_tap_planned" ]; then
		echo "# planned $_tap_planned tests but ran $_tap_n"
		exit 255
	fi
	if [ -z "$_tap_planned" ] && [ -z "$_tap_skipped" ] &&
	    [ "$_rc" -ne 255 ]; then
		if [ "$_tap_n" -eq 0 ]; then
			echo "# no plan and no tests ran"
			exit 255
		fi
		echo "1..$_tap_n"
	fi
	if [ "$_san" -ne 0 ]; then
		echo "# failed: a sanitizer reported an error"
		exit 134
	fi
	[ "$_tap_failed" -gt 0 ] && exit 1
	exit $_rc
}
trap _tap_cleanup EXIT
trap 'exit 130' INT TERM

plan() {
	_tap_planned=$1
	echo "1..$1"
}

skip_all() {
	echo "1..0 # SKIP $*"
	_tap_planned=
	_tap_skipped=1
	exit 0
}

_tap_report() {	# cond desc
	_tap_n=$((_tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $_tap_n - $2"
	else
		_tap_failed=$((_tap_failed + 1))
		echo "not ok $_tap_n - $2"
		_c=$(caller 1 2>/dev/null || true)
		[ -n "$_c" ] && echo "#   Failed test at line ${_c%% *}"
	fi
	return "$1"
}

# ok DESC CMD...: passes when CMD exits 0.
ok() {
	_d=$1; shift
	"$@" >"$TMP/.out" 2>&1
	_r=$?
	_tap_report $(( _r != 0 )) "$_d" || sed 's/^/#   /' "$TMP/.out"
}

# _tap_broken STATUS: 0 when an exit status means the command did not
# run (126 not executable, 127 not found) or was killed by a signal
# (128 + signal, as the shell reports it), with a diagnostic line.
_tap_broken() {
	case $1 in
	126|127) echo "#   the command did not run (exit $1)" ;;
	129|1[3-8][0-9]|19[0-2])
		echo "#   the command was killed by signal $(($1 - 128))" \
		    "(exit $1)" ;;
	*) return 1 ;;
	esac
	return 0
}

# nok DESC CMD...: passes when CMD runs and fails: exits 1 to 125 (or
# above 192).  A command that was not found, not executable or killed
# by a signal (a crash, an abort, a sanitizer's exit 134) fails the test.
nok() {
	_d=$1; shift
	"$@" >"$TMP/.out" 2>&1
	_r=$?
	if [ "$_r" -eq 0 ]; then
		_tap_report 1 "$_d"
		echo "#   the command succeeded"
		return 1
	elif _tap_broken "$_r" >"$TMP/.why"; then
		_tap_report 1 "$_d"
		cat "$TMP/.why"
		sed 's/^/#   /' "$TMP/.out"
		return 1
	else
		_tap_report 0 "$_d"
	fi
}

# is GOT WANT DESC
is() {
	if [ "$1" = "$2" ]; then
		_tap_report 0 "$3"
	else
		_tap_report 1 "$3"
		printf '#          got: %s\n#     expected: %s\n' "$1" "$2"
		return 1
	fi
}

# like GOT ERE DESC
like() {
	if printf '%s' "$1" | grep -Eq -- "$2"; then
		_tap_report 0 "$3"
	else
		_tap_report 1 "$3"
		printf '#          got: %s\n#  should match: %s\n' "$1" "$2"
		return 1
	fi
}

# fails_with ERRNO DESC CMD...: CMD must fail with strerror(ERRNO) on
# stderr (the errno's text as the C library prints it, e.g. EPERM is
# "Operation not permitted").
fails_with() {
	_e=$1; _d=$2; shift 2
	_msg=$(errno_text "$_e")
	"$@" >"$TMP/.out" 2>&1
	_r=$?
	if [ "$_r" -ne 0 ] && ! _tap_broken "$_r" >/dev/null &&
	    grep -qF -- "$_msg" "$TMP/.out"; then
		_tap_report 0 "$_d"
	else
		_tap_report 1 "$_d"
		echo "#   exit $_r, wanted $_e ($_msg); output:"
		sed 's/^/#   /' "$TMP/.out"
		return 1
	fi
}

# errno_text NAME: the C library's message for errno NAME.
errno_text() {
	perl -MPOSIX -e 'my $n = eval "POSIX::$ARGV[0]()"; $! = $n; print "$!"' "$1"
}

skip() {	# N WHY
	_i=0
	while [ "$_i" -lt "$1" ]; do
		_tap_n=$((_tap_n + 1))
		echo "ok $_tap_n # skip $2"
		_i=$((_i + 1))
	done
}

diag() {
	echo "# $*"
}

bail() {
	echo "Bail out! $*"
	_tap_planned=
	exit 255
}

# db_is_pg: the tests run on PostgreSQL.
db_is_pg() {
	[ "${KP_BACKEND:-}" = pg ]
}

# db_admin SQL: run SQL in the cluster's database postgres.
db_admin() {
	psql -X -q -v ON_ERROR_STOP=1 -h "$KP_PG_DIR" -U kpool -d postgres \
	    -c "$1"
}

# db_new [NAME]: a fresh database, its --db in DB: $TMP/NAME.db (NAME
# is server by default) on SQLite, a new database of the cluster on
# PostgreSQL.
db_new() {
	if ! db_is_pg; then
		DB=$TMP/${1:-server}.db
		return
	fi
	_d=kpt_$$_${1:-server}
	db_admin "CREATE DATABASE $_d" >/dev/null || bail "CREATE DATABASE $_d"
	_tap_dbs="$_tap_dbs $_d"
	DB="postgresql://kpool@/$_d?host=$KP_PG_DIR"
}

# db_sql DB SQL: the rows SQL gives on the database DB (of the backend
# under test), unaligned, "|" between columns.
db_sql() {
	if db_is_pg; then
		psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$1" -c "$2"
	else
		sqlite3 -bail "$1" "$2"
	fi
}

if db_is_pg && [ -z "${KP_PG_DIR:-}" ]; then
	[ -n "${KP_REQUIRE_PG:-}" ] && bail "KP_BACKEND=pg but no cluster" \
	    "(KP_PG_DIR): run the tests with make check"
	skip_all "no PostgreSQL cluster (KP_PG_DIR): make check starts one"
fi

# The drain limits (docs/security.md, "Draining") would hold back the
# strangers the tests drain pools with: servers run without them (and
# with the burst of before them); a test's ARGS come after, and
# override.
KP_NO_DRAIN_LIMITS="--stranger-share 0 --contact-floor 0 --caller-cap 0
    --rate-burst 100 --register-rate 0"

# start_server [ARGS...]: start kpool-server on 127.0.0.1, port 0 (or
# $_tap_port, see restart_server), with a fresh database (db_new) unless
# SERVER_DB names one; sets
# SERVER_PID, SERVER_PORT, SERVER_URL and SERVER_DB and returns once the
# server listens (it prints its port then).  Extra ARGS go to the server.
start_server() {
	if [ -z "${SERVER_DB:-}" ]; then
		db_new
		SERVER_DB=$DB
	fi
	_log=$TMP/server.log
	_pf=$TMP/server.port
	rm -f "$_pf"
	"$KP_BUILD/kpool-server" --listen "127.0.0.1:${_tap_port:-0}" \
	    --db "$SERVER_DB" $KP_NO_DRAIN_LIMITS \
	    "$@" >"$_pf" 2>>"$_log" &
	SERVER_PID=$!
	_tap_pids="$_tap_pids $SERVER_PID"
	_i=0
	while :; do
		SERVER_PORT=$(head -n 1 "$_pf" 2>/dev/null | tr -dc 0-9)
		[ -n "$SERVER_PORT" ] && break
		if ! kill -0 "$SERVER_PID" 2>/dev/null; then
			sed 's/^/# server: /' "$_log"
			bail "kpool-server died at start"
		fi
		_i=$((_i + 1))
		[ "$_i" -gt 200 ] && bail "kpool-server did not report a port"
		sleep 0.05
	done
	SERVER_URL=http://127.0.0.1:$SERVER_PORT
	export SERVER_PID SERVER_PORT SERVER_URL SERVER_DB
}

# stop_server: SIGTERM the server and wait for it.
stop_server() {
	[ -n "${SERVER_PID:-}" ] || return 0
	kill "$SERVER_PID" 2>/dev/null
	wait "$SERVER_PID" 2>/dev/null
	SERVER_PID=
}

# make_certs DIR: the certificates of mk/testcert.sh in DIR (a test CA
# ca.pem, the server's server.pem and server.key for localhost and
# 127.0.0.1, another CA other-ca.pem), made with openssl.
make_certs() {
	command -v openssl >/dev/null 2>&1 || bail "openssl missing (make deps)"
	sh "$KP_TOP/mk/testcert.sh" "$1" ||
	    bail "openssl could not make the test certificates"
}

# need_fuse: skip the whole test when /dev/fuse is absent, unless
# KP_REQUIRE_FUSE is set (CI), where that is a failure.
need_fuse() {
	if [ ! -c /dev/fuse ] || ! command -v fusermount3 >/dev/null 2>&1; then
		[ -n "${KP_REQUIRE_FUSE:-}" ] && bail "/dev/fuse or fusermount3 missing"
		skip_all "/dev/fuse or fusermount3 missing"
	fi
}

# mount_pool STORE MNT [ARGS...]: run kpoolfs in the foreground in the
# background, poll until MNT is a mount, fail fast if the daemon died.
# Sets FS_PID.
mount_pool() {
	_store=$1; _mnt=$2; shift 2
	mkdir -p "$_mnt"
	"$KP_BUILD/kpoolfs" -f "$@" "$_store" "$_mnt" 2>>"$TMP/kpoolfs.log" &
	FS_PID=$!
	_tap_pids="$_tap_pids $FS_PID"
	_tap_mounts="$_mnt $_tap_mounts"
	_i=0
	until mountpoint -q "$_mnt"; do
		if ! kill -0 "$FS_PID" 2>/dev/null; then
			sed 's/^/# kpoolfs: /' "$TMP/kpoolfs.log"
			bail "kpoolfs died at mount"
		fi
		_i=$((_i + 1))
		[ "$_i" -gt 200 ] && bail "kpoolfs did not mount $_mnt"
		sleep 0.05
	done
	export FS_PID
}

# unmount_pool MNT: fusermount3 -u and wait for the daemon.  When
# fusermount3 fails (busy, not mounted), say why and fail the test (it
# exits 1 at the end) without waiting: the daemon still runs, and the
# cleanup at exit unmounts it lazily.
unmount_pool() {
	if ! fusermount3 -u "$1" >"$TMP/.umount" 2>&1; then
		echo "# unmount_pool: fusermount3 -u $1 failed:"
		sed 's/^/#   /' "$TMP/.umount"
		_tap_failed=$((_tap_failed + 1))
		return 1
	fi
	[ -n "${FS_PID:-}" ] && wait "$FS_PID" 2>/dev/null
	FS_PID=
	return 0
}
