#!/bin/sh
# SPDX-License-Identifier: ISC
# 4016-e2e-invite: registration by invitation (kpool-server
# --registration invite) with the shipped clients.  kpool register
# without a token is refused 403 invite_required (exit 1), with one
# from `kpool-server invite create` it registers and publishes; the
# same token used up is bad_invite; a malformed token is refused before
# any request.  A kpoolfs mount with -o invite= registers its user and
# syncs; without one a sync fails (EPERM) with invite_required as the
# status's last error; the token is in no store nor log.
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/3-fs.sh"
need_fuse

plan 17

K=$KP_BUILD/kpool

# run ARGS...: kpool with ARGS; its stdout in OUT, stderr in ERR, status in RC.
run() {
	"$K" "$@" >"$TMP/out" 2>"$TMP/err"
	RC=$?
	OUT=$(cat "$TMP/out")
	ERR=$(cat "$TMP/err")
}
invite() {
	"$KP_BUILD/kpool-server" --db "$SERVER_DB" invite create "$@"
}

start_server --registration invite

export XDG_DATA_HOME=$TMP/alice-data
run init --server "$SERVER_URL" --user alice
is "$RC" 0 "alice: init"
run register
is "$RC:$ERR" "1:kpool: register: HTTP 403 invite_required: registration on this server needs an invitation: send \"invite\" with the token its operator gave you (kpool-server invite create)" \
    "register without a token: 403 invite_required, exit 1"
t1=$(invite) || bail "invite create"
run register --invite "$t1"
is "$RC" 0 "register --invite TOKEN: registered"
like "$OUT" "^registered alice on $SERVER_URL; [0-9]+ keys available\$" \
    "and the pool is published"

export XDG_DATA_HOME=$TMP/bob-data
run init --server "$SERVER_URL" --user bob
run register --invite "$t1"
is "$RC:$ERR" "1:kpool: register: HTTP 403 bad_invite: no such invitation, or it has been used up" \
    "bob with alice's used token: 403 bad_invite"
run register --invite 'not a token!'
is "$RC:$(sqlite3 "$SERVER_DB" "SELECT count(*) FROM users")" "1:1" \
    "a malformed token: exit 1, bob not registered"
t2=$(invite --uses 2) || bail "invite create"
run register --invite "$t2"
is "$RC" 0 "bob with a token of 2 uses: registered"

# kpoolfs: a mount without the token stays offline and says why
M=$TMP/mnt
mount_pool "$TMP/carol.db" "$M" -o user=carol,server="$SERVER_URL",refresh=0
printf sync 2>/dev/null >"$M/ctl"
is "$?:$(grep '^health:' "$M/status")" "1:health: empty" \
    "carol's mount without a token: sync fails (the server answered)"
like "$(grep '^last_error:' "$M/status")" \
    "^last_error: [-0-9T:.]+Z sync - - - EPERM invite_required: register: registration on this server needs an invitation" \
    "status says why: invite_required"
unmount_pool "$M"

# with the token it registers and publishes
mount_pool "$TMP/carol.db" "$M" -o invite="$t2",refresh=0
ctl "$M" refresh
is "$(grep '^health:' "$M/status")" "health: ok" \
    "carol's mount with -o invite=: registered, healthy"
ok "and its keys are published" sh -c \
    "[ \$(grep '^available:' '$M/status' | cut -d' ' -f2) -gt 0 ]"
is "$(sqlite3 "$SERVER_DB" "SELECT count(*) FROM users WHERE name = 'carol'")" 1 \
    "the server has carol"
unmount_pool "$M"

# the token is kept by no store, nor in any log
for f in "$TMP/carol.db" "$TMP/alice-data/kpool/pool.db" \
    "$TMP/bob-data/kpool/pool.db"; do
	ok "no token in $(basename "$(dirname "$f")")/$(basename "$f")" \
	    sh -c "! grep -q -e '$t1' -e '$t2' '$f'"
done
ok "no token in the logs" sh -c \
    "! grep -q -e '$t1' -e '$t2' '$TMP/kpoolfs.log' '$TMP/server.log'"
is "$(invite --uses 1 >/dev/null; sqlite3 "$SERVER_DB" "SELECT sum(uses) FROM invites")" 1 \
    "the server: both tokens used up (one more made)"
