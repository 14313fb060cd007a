#!/bin/sh
# SPDX-License-Identifier: ISC
# 0008-tap-harness: the TAP helpers themselves (t/tap.sh, t/tap.c): a
# crashed or missing command never counts as an expected failure, no plan
# and no test is a failure, a failed unmount fails the test, and a
# sanitizer report from a daemon fails the test at cleanup.
. "${KP_TOP:-.}/t/tap.sh"

plan 22

# inner SCRIPT: run SCRIPT in a new shell that sources t/tap.sh; sets
# OUT (its stdout and stderr) and RC (its exit status).
inner() {
	printf '. "%s/t/tap.sh"\n%s\n' "$KP_TOP" "$1" >"$TMP/inner.sh"
	OUT=$(TMPDIR=$TMP sh "$TMP/inner.sh" 2>&1)
	RC=$?
}

# nok
inner 'plan 1; nok "false fails" false'
is "$RC:$OUT" "0:1..1
ok 1 - false fails" "nok passes when the command exits 1"
inner 'plan 1; nok "no such command" /nonexistent/kpool-cmd'
is "$RC:$(echo "$OUT" | sed -n 2,3p)" "1:not ok 1 - no such command
#   the command did not run (exit 127)" "nok fails when the command is not found"
: >"$TMP/noexec"
inner "plan 1; nok 'not executable' $TMP/noexec"
is "$RC:$(echo "$OUT" | sed -n 2,3p)" "1:not ok 1 - not executable
#   the command did not run (exit 126)" \
    "nok fails when the command is not executable"
inner 'plan 1; nok "segfault" sh -c "kill -SEGV \$\$"'
is "$RC:$(echo "$OUT" | sed -n 2,3p)" "1:not ok 1 - segfault
#   the command was killed by signal 11 (exit 139)" \
    "nok fails when the command is killed by a signal"
inner 'plan 1; nok "abort" sh -c "exit 134"'
is "$RC:$(echo "$OUT" | sed -n 2,3p)" "1:not ok 1 - abort
#   the command was killed by signal 6 (exit 134)" \
    "nok fails on exit 134 (an abort, or a sanitizer's exit)"
inner 'plan 1; nok "succeeds" true'
is "$RC:$(echo "$OUT" | sed -n 2,3p)" "1:not ok 1 - succeeds
#   the command succeeded" "nok fails when the command succeeds"
inner 'plan 1; fails_with ENOENT "crash" sh -c "ls /nonexistent; kill -SEGV \$\$"'
is "$RC:$(echo "$OUT" | sed -n 2p)" "1:not ok 1 - crash" \
    "fails_with does not take a crash for the errno"

# plans
inner ':'
is "$RC:$OUT" "255:# no plan and no tests ran" \
    "shell: no plan and no test fails"
inner 'ok "one" true'
is "$RC:$OUT" "0:ok 1 - one
1..1" "shell: no plan, the plan comes at the end"
inner 'skip_all "nothing to do"'
is "$RC:$OUT" "0:1..0 # SKIP nothing to do" "shell: skip_all still skips"
inner 'plan 2; ok "one" true'
is "$RC:$OUT" "255:1..2
ok 1 - one
# planned 2 tests but ran 1" "shell: a short plan fails"

T=$KP_BUILD/t/taptool
out=$("$T" empty); rc=$?
is "$rc:$out" "255:# no plan and no tests ran" "C: no plan and no test fails"
out=$("$T" noplan); rc=$?
is "$rc:$out" "0:ok 1 - one
1..1" "C: no plan, the plan comes at the end"
out=$("$T" short); rc=$?
is "$rc:$out" "255:1..2
ok 1 - one
# planned 2 tests but ran 1" "C: a short plan fails"
out=$("$T" fail); rc=$?
is "$rc:$(echo "$out" | head -n 3)" "1:1..2
ok 1 - one
not ok 2 - two" "C: a failure fails"

# unmount_pool on a directory that is not a mount: fusermount3 -u fails
if command -v fusermount3 >/dev/null 2>&1; then
	inner "plan 1; mkdir \$TMP/m; unmount_pool \$TMP/m; is \$? 1 'returns 1'"
	is "$RC" 1 "unmount_pool: a failed fusermount3 -u fails the test"
	like "$(echo "$OUT" | sed -n 2p)" \
	    "^# unmount_pool: fusermount3 -u $TMP/kpool-test\.[^/]*/m failed:\$" \
	    "and says so"
	like "$OUT" '#   fusermount3: .*(not found|not mounted|Invalid argument)' \
	    "with fusermount3's reason"
else
	skip 3 "no fusermount3"
fi

# A daemon started by start_server that a sanitizer stops at SIGTERM: its
# report lands in the inner test's $TMP and fails the test at cleanup,
# though every test passed.
mkdir -p "$TMP/fake"
cat >"$TMP/daemon.c" <<'C'
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

int
main(int argc, char **argv)
{
	sigset_t	 s;
	int		 sig;
	char		*volatile p;
	volatile int	 big = INT_MAX;

	sigemptyset(&s);
	sigaddset(&s, SIGTERM);
	sigprocmask(SIG_BLOCK, &s, NULL);
	printf("4242\n");
	fflush(stdout);
	sigwait(&s, &sig);
#ifdef UB
	return big + argc;
#else
	p = malloc(8);
	free(p);
	return p[0] + (big & 0);
#endif
}
C
san_case() {	# NAME ERE FLAGS...: build the fake kpool-server, run a test
	_n=$1; _re=$2; shift 2
	rm -f "$TMP/fake/kpool-server"
	if ! ${CC:-cc} "$@" -g -o "$TMP/fake/kpool-server" "$TMP/daemon.c" \
	    >"$TMP/cc.out" 2>&1; then
		sed 's/^/# cc: /' "$TMP/cc.out"
		skip 2 "no $_n runtime for ${CC:-cc}"
		return
	fi
	inner "KP_BUILD=$TMP/fake; plan 1; start_server; is \$SERVER_PORT 4242 port"
	is "$RC" 134 "$_n: the daemon's report fails the test (exit 134)"
	like "$OUT" "$_re" "$_n: the report is shown"
}
san_case ASan '^#   .*ERROR: AddressSanitizer: heap-use-after-free' \
    -fsanitize=address
san_case UBSan '^#   .*runtime error: signed integer overflow' \
    -DUB -fsanitize=undefined -fno-sanitize-recover=all
