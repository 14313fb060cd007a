#!/bin/sh
# SPDX-License-Identifier: ISC
# 2024-server-ops: what an operator runs the server with.  --version
# prints the Makefile's VERSION; --config reads "name = value" lines
# named as the long options, the command line winning, and an unknown
# name or a bad value exits 2 naming the file and line; --listen takes
# an IPv6 literal ([::1]:0) and a host name (localhost:0); each request
# gets an X-Request-Id that its log line carries, with an RFC 3339 UTC
# time in milliseconds and the client's address; the per-address limit
# holds for an IPv6 client; a second server on the same SQLite file
# exits 1 and the first keeps serving, where PostgreSQL takes both.
. "${KP_TOP:-.}/t/tap.sh"

plan 23
S=$KP_BUILD/kpool-server

# serve NAME ARGS...: start a server, its port in $TMP/NAME.port and its
# log in $TMP/NAME.log; sets PID and PORT, or fails the test.
serve() {
	_n=$1; shift
	"$S" "$@" >"$TMP/$_n.port" 2>"$TMP/$_n.log" &
	PID=$!
	_tap_pids="$_tap_pids $PID"
	_i=0
	PORT=
	while [ -z "$PORT" ]; do
		PORT=$(head -n 1 "$TMP/$_n.port" 2>/dev/null | tr -dc 0-9)
		[ -n "$PORT" ] && break
		kill -0 "$PID" 2>/dev/null || {
			sed 's/^/# server: /' "$TMP/$_n.log"
			bail "kpool-server $* died at start"; }
		_i=$((_i + 1))
		[ "$_i" -gt 200 ] && bail "kpool-server $* reported no port"
		sleep 0.05
	done
}

stop() {	# PID
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

version=$(sed -n 's/^VERSION[ 	]*=[ 	]*//p' "$KP_TOP/Makefile")
is "$("$S" --version)" "kpool-server $version" \
    "--version prints the Makefile's VERSION"

# the file names a database and an address no one can bind (TEST-NET):
# the command line's --listen must win for the server to start
db_new conf
cat >"$TMP/kpool-server.conf" <<EOF
# a comment
  # an indented one

listen = 192.0.2.1:0
db = $DB
reservation-ttl = 30
quiet = no
EOF
serve conf --config "$TMP/kpool-server.conf" --listen 127.0.0.1:0
is "$(curl -s -o /dev/null -w '%{http_code}' \
    "http://127.0.0.1:$PORT/healthz")" 200 \
    "the file's settings, with the command line's --listen: it serves"
like "$(cat "$TMP/conf.log")" "database $(echo "$DB" | sed 's/[?.]/./g')" \
    "on the file's database"
stop "$PID"

cfg() {	# LINES...: a config file of these lines; runs the server on it
	printf '%s\n' "$@" >"$TMP/bad.conf"
	"$S" --config "$TMP/bad.conf" --db "$TMP/never.db" \
	    >/dev/null 2>"$TMP/bad.err"
}
cfg "listen = 127.0.0.1:0" "# ok so far" "no-such-thing = 1"
is "$?" 2 "an unknown name: exit 2"
like "$(cat "$TMP/bad.err")" "bad.conf:3: unknown setting \"no-such-thing\"" \
    "the message names the file, the line and the name"
cfg "" "threads = 0"
is "$?" 2 "a bad value: exit 2"
like "$(cat "$TMP/bad.err")" "bad.conf:2: --threads: 0 is not a number" \
    "the message names the file and the line"
cfg "listen 127.0.0.1:0"
is "$?" 2 "a line without '=': exit 2"
cfg "listen = ::1:80"
is "$?" 2 "an IPv6 address without brackets: exit 2"
"$S" --config "$TMP/none.conf" --db "$TMP/never.db" 2>/dev/null
is "$?" 1 "a file that does not read: exit 1"

# IPv6 and names
db_new six
serve six --listen '[::1]:0' --db "$DB" --max-connections-per-address 1
hdr=$(curl -s -D - -o /dev/null "http://[::1]:$PORT/healthz")
like "$hdr" '^HTTP/1.1 200' "--listen [::1]:0 serves over IPv6"
rid=$(printf '%s\n' "$hdr" | tr -d '\r' | sed -n 's/^X-Request-Id: //p')
like "$rid" '^[0-9a-f]{16}$' "the answer carries an X-Request-Id"
sleep 0.2
line=$(grep " $rid " "$TMP/six.log")
like "$line" \
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z ::1 $rid GET /healthz 200 [0-9.]+ms -\$" \
    "its log line: time (UTC, ms), address, the same id, request"
like "$(head -n 1 "$TMP/six.log")" "listening on \\[::1\\]:$PORT " \
    "the start line names the address bound"
# one connection held open from ::1: the next from ::1 is refused
perl -MIO::Socket::IP -e '
	my $s = IO::Socket::IP->new(PeerHost => "::1", PeerPort => $ARGV[0])
	    or exit 1;
	print "held\n"; $| = 1; sleep 3;' "$PORT" >"$TMP/held" &
hp=$!
_i=0
until [ -s "$TMP/held" ] || [ "$_i" -gt 50 ]; do
	sleep 0.05; _i=$((_i + 1))
done
is "$(curl -s -o /dev/null -w '%{http_code}' \
    "http://[::1]:$PORT/healthz")" 503 \
    "--max-connections-per-address 1 refuses a second IPv6 connection"
kill "$hp" 2>/dev/null
wait "$hp" 2>/dev/null
stop "$PID"

db_new name
serve name --listen localhost:0 --db "$DB"
is "$(curl -s -o /dev/null -w '%{http_code}' \
    "http://127.0.0.1:$PORT/healthz")" 200 \
    "--listen localhost:0 is resolved and serves on 127.0.0.1"
stop "$PID"
"$S" --listen no-such-host.invalid:0 --db "$TMP/never.db" \
    2>"$TMP/gai.err" >/dev/null
is "$?" 1 "a name that does not resolve: exit 1"
like "$(cat "$TMP/gai.err")" "--listen no-such-host.invalid:0: " \
    "the message names it"

# one server to a SQLite file; PostgreSQL is shared
db_new one
serve first --listen 127.0.0.1:0 --db "$DB"
first=$PORT
firstpid=$PID
if db_is_pg; then
	serve second --listen 127.0.0.1:0 --db "$DB"
	is "$(curl -s -o /dev/null -w '%{http_code}' \
	    "http://127.0.0.1:$PORT/healthz")" 200 \
	    "PostgreSQL: a second server on the database serves"
	stop "$PID"
	ok "PostgreSQL: no lock file" test ! -e "$DB.lock"
	like "$(head -n 1 "$TMP/second.log")" "listening on 127.0.0.1:$PORT " \
	    "PostgreSQL: the second server said it listens"
else
	"$S" --listen 127.0.0.1:0 --db "$DB" >/dev/null 2>"$TMP/second.err"
	is "$?" 1 "a second server on the SQLite file: exit 1"
	like "$(cat "$TMP/second.err")" \
	    "in use by another kpool-server \\(it holds .*one.db.lock\\)" \
	    "the message says another server holds it"
	ok "the lock is a file of its own" test -f "$DB.lock"
fi
is "$(curl -s -o /dev/null -w '%{http_code}' \
    "http://127.0.0.1:$first/healthz")" 200 "the first server still serves"
stop "$firstpid"
serve again --listen 127.0.0.1:0 --db "$DB"
ok "once it is stopped, another starts" kill -0 "$PID"
stop "$PID"
