#!/bin/sh
# SPDX-License-Identifier: ISC
# 4015-e2e-kpool-errors: kpool --json reports a failure as one JSON
# object on stdout, {"error": CODE, "message": TEXT} as the server's
# errors are (the server's code when it gave one, server_unreachable,
# usage, else error), beside the human line on stderr, with the exit
# status of kpool(1): no store, an unknown user (404 unknown_user), a
# bad argument and a missing one (2), the server down.
. "${KP_TOP:-.}/t/tap.sh"
perl -MJSON::PP -e 1 2>/dev/null || bail "no JSON::PP"
command -v gdb >/dev/null 2>&1 || bail "no gdb (make deps installs it)"
plan 14

K=$KP_BUILD/kpool
run() {
	"$K" "$@" >"$TMP/out" 2>"$TMP/err"
	RC=$?
	OUT=$(cat "$TMP/out")
	ERR=$(cat "$TMP/err")
}
# obj: "CODE|MESSAGE" of the one JSON object on stdout, or why not
obj() {
	perl -MJSON::PP -e '
	    local $/; my $s = <STDIN>;
	    my $o = eval { decode_json($s) } or do { print "not JSON: $s"; exit };
	    print join("|", $o->{error} // "-", $o->{message} // "-"),
		scalar(keys %$o) == 2 ? "" : " (other members)";' <"$TMP/out"
}

run --json --store "$TMP/none.db" status
is "$RC" 1 "no store: exit 1"
is "$(obj)" "error|no store at $TMP/none.db: make one with \"kpool init --server URL --user NAME\"" \
    "stdout: the error object"
is "$ERR" "kpool: no store at $TMP/none.db: make one with \"kpool init --server URL --user NAME\"" \
    "stderr: the same message"

start_server
run --json --store "$TMP/a.db" init --server "$SERVER_URL" --user alice
is "$RC" 0 "init"
"$K" --store "$TMP/a.db" register >/dev/null 2>&1 || bail "register"
run --json --store "$TMP/a.db" reserve nobody
is "$RC:$(obj)" "1:unknown_user|reserve: HTTP 404 unknown_user: no user nobody" \
    "an unknown user: exit 1, the server's code and message"
run --json --store "$TMP/a.db" reserve alice --suite 0
is "$RC:$(obj)" "2:usage|0: not a cipher suite number" \
    "a bad argument: exit 2, usage"
run --json --store "$TMP/a.db" reserve
is "$RC:$(obj)" "2:usage|bad usage (see kpool(1))" "a missing one: exit 2"
is "$ERR" "kpool: bad usage (see kpool(1))" "stderr says so"
stop_server
run --json --store "$TMP/a.db" reserve alice
is "$RC" 1 "server down: exit 1"
like "$(obj)" "^server_unreachable\\|reserve: server unreachable \\($SERVER_URL\\)" \
    "code server_unreachable"
run --store "$TMP/a.db" reserve alice
is "$OUT" "" "without --json nothing on stdout"
like "$ERR" "^kpool: reserve: server unreachable" "only the human line"

# on a failure's way out (errx), the store is closed: its signing key
# wiped (kp_pool_close, run by the atexit handler); gdb stops there
closed() {
	# LeakSanitizer cannot run under ptrace: it stays out of this run
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
	    gdb -q -batch -ex 'set breakpoint pending on' \
	    -ex 'break kp_pool_close' -ex run -ex 'print $rdi != 0' \
	    -ex continue --args "$K" "$@" 2>&1 | grep -c '^\$1 = 1$'
}
is "$(closed --store "$TMP/a.db" reserve alice)" 1 \
    "a failure (server down): the pool is closed before the exit"
is "$(closed --json --store "$TMP/a.db" reserve alice)" 1 \
    "and with --json (the error object's way out)"
