#!/bin/sh
# SPDX-License-Identifier: ISC
# 4013-e2e-tls: kpool(1) and kpoolfs(1) against a real kpool-server
# serving HTTPS, with a CA made by the test.  kpool: init --cafile
# (remembered in the store), register, the pool published, reserve,
# spend and release by an inviter, all over https://; an inviter whose
# store trusts another CA is refused (exit 1, KP_ETLS, not "server
# unreachable") with the message libcurl gives, and what the
# certificate was checked against; a relative
# --cafile is kept absolute.  kpoolfs: a mount with -o cafile= syncs
# (health ok) and its key is reserved and spent by the inviter through
# HTTPS; a mount whose store trusts another CA is not silently offline:
# a rename that asks the server fails with EIO and the log says why; a
# CA file that does not exist stops the mount with a message.
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/3-fs.sh"
need_fuse
perl -MJSON::PP -e 1 2>/dev/null || skip_all "no JSON::PP"

plan 25

K=$KP_BUILD/kpool
C=$TMP/certs
make_certs "$C"

# jf PATH: the value at PATH (keys with dots) of the JSON on stdin.
jf() {
	perl -MJSON::PP -e '
	    local $/; my $v = decode_json(<STDIN>);
	    $v = $v->{$_} for split /\./, $ARGV[0];
	    print JSON::PP::is_bool($v) ? ($v ? "true" : "false") :
		defined $v ? $v : "null";' "$1"
}

# run ARGS...: kpool with ARGS; stdout in OUT, stderr in ERR, status in RC.
run() {
	"$K" "$@" >"$TMP/out" 2>"$TMP/err"
	RC=$?
	OUT=$(cat "$TMP/out")
	ERR=$(cat "$TMP/err")
}

start_server --tls-cert "$C/server.pem" --tls-key "$C/server.key"
U=https://localhost:$SERVER_PORT

A="--store $TMP/alice/pool.db"
run $A init --server "$U" --user alice --cafile "$C/ca.pem"
is "$RC" 0 "kpool init --server https://... --cafile exits 0"
run $A --json register
is "$RC:$(printf '%s' "$OUT" | jf status)" 0:201 \
    "alice registers over HTTPS (201)"
is "$(printf '%s' "$OUT" | jf available)" 33 "and publishes her pool"

B="--store $TMP/bob/pool.db"
(cd "$C" && "$K" $B init --server "$U" --user bob --cafile ca.pem \
    >/dev/null 2>&1)
is "$?" 0 "bob's store, with a relative --cafile"
is "$(sqlite3 "$TMP/bob/pool.db" \
    "SELECT value FROM settings WHERE name = 'cafile'")" "$C/ca.pem" \
    "kept in the store as an absolute path"
run $B register
is "$RC" 0 "bob registers"
run $B --json reserve alice --group 0a0b
ref=$(printf '%s' "$OUT" | jf ref)
is "$RC" 0 "bob reserves one of alice's keys over HTTPS"
like "$ref" '^[0-9a-f]{64}$' "and gets its ref"
run $B --json spend "$ref" --group 0a0b
is "$RC" 0 "and spends it"
run $B --json reserve alice
ref2=$(printf '%s' "$OUT" | jf ref)
run $B release "$ref2"
is "$RC" 0 "a reserve and a release"
run $A --json status
is "$(printf '%s' "$OUT" | jf health):$(printf '%s' "$OUT" | jf counts.spent)" \
    ok:1 "alice's status, synced over HTTPS: health ok, 1 spent"

E="--store $TMP/eve/pool.db"
run $E init --server "$U" --user eve --cafile "$C/other-ca.pem"
is "$RC" 0 "eve's store trusts another CA"
run $E register
is "$RC" 1 "her register exits 1"
is "$ERR" "kpool: register: the server's certificate does not verify against $C/other-ca.pem: SSL certificate problem: unable to get local issuer certificate" \
    "saying the certificate does not verify, and against what"
run $E reserve alice
is "$RC:$ERR" "1:kpool: reserve: the server's certificate does not verify against $C/other-ca.pem: SSL certificate problem: unable to get local issuer certificate" \
    "so does a reserve"

# kpoolfs over HTTPS
M=$TMP/mnt
mount_pool "$TMP/carol.db" "$M" \
    -o user=carol,server="$U",cafile="$C/ca.pem",refresh=0
ctl "$M" refresh
is "$(grep '^health:' "$M/status")" "health: ok" \
    "kpoolfs -o cafile=: synced over HTTPS, health ok"
is "$(ls "$M/available" | wc -l | tr -d ' ')" 33 \
    "its 32 keys and the last-resort one uploaded"
run $B --json reserve carol --group 0c0d
cref=$(printf '%s' "$OUT" | jf ref)
is "$RC" 0 "bob reserves one of carol's keys"
ctl "$M" sync
ok "the mount sees it reserved" test -d "$M/reserved/$cref"
run $B spend "$cref" --group 0c0d
ctl "$M" sync
ok "and spent" test -d "$M/spent/$cref"
unmount_pool "$M"
is "$(sqlite3 "$TMP/carol.db" \
    "SELECT value FROM settings WHERE name = 'cafile'")" "$C/ca.pem" \
    "the store keeps the mount's cafile"

# a store that trusts another CA: loud, not silently offline
mount_pool "$TMP/carol.db" "$M" \
    -o user=carol,server="$U",cafile="$C/other-ca.pem",refresh=0
k=$(ls "$M/available" | head -n 1)
is_errno EIO "a rename that asks the server fails with EIO" \
    rename "$M/available/$k" "$M/reserved/$k"
like "$(cat "$TMP/kpoolfs.log")" \
    "certificate does not verify against $C/other-ca.pem" \
    "and the log says the certificate does not verify"
unmount_pool "$M"

"$KP_BUILD/kpoolfs" -f -o user=carol,server="$U",cafile="$C/none.pem" \
    "$TMP/carol.db" "$M" >/dev/null 2>"$TMP/err"
is "$?" 1 "a CA file that does not exist: kpoolfs exits 1"
like "$(cat "$TMP/err")" "CA file $C/none.pem: No such file or directory" \
    "saying which"
