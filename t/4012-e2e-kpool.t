#!/bin/sh
# SPDX-License-Identifier: ISC
# 4012-e2e-kpool: kpool(1) against a real server.  Closed registration
# end to end: kpool init makes the default store ($XDG_DATA_HOME),
# register is refused with 403 registration_closed until the operator
# adds the key kpool pubkey prints, then it registers (201) and
# publishes the pool, which a status sync sees as healthy.  The
# inviter's verbs with --json parsed: reserve another user's key for a
# group, spend it (a wrong group refused with 409 group_mismatch),
# release, claim (--all-devices), status of a user, and the owner's
# keys showing who reserved and spent what in which group; the owner's
# own spend names its group.  Exact exit codes and messages: unknown
# user (404 unknown_user), an exhausted pool (409 pool_exhausted), a
# release of a spent key (409 already_spent; a repeated release
# answers as the first), no store, bad usage (2), and the
# server down (1, "server unreachable", while status shows offline).
. "${KP_TOP:-.}/t/tap.sh"

perl -MJSON::PP -e 1 2>/dev/null || skip_all "no JSON::PP"
plan 46

K=$KP_BUILD/kpool
S=$KP_BUILD/kpool-server

# jf PATH: the value at PATH (keys and indexes with dots) of the JSON
# on stdin; true/false for booleans, null for none, N for a length (#).
jf() {
	perl -MJSON::PP -e '
	    local $/; my $v = decode_json(<STDIN>);
	    for my $k (split /\./, $ARGV[0]) {
		if ($k eq "#") { $v = scalar @$v; last }
		$v = ref $v eq "ARRAY" ? $v->[$k] : $v->{$k};
	    }
	    print JSON::PP::is_bool($v) ? ($v ? "true" : "false") :
		defined $v ? $v : "null";' "$1"
}

# keyof JSON REF PATH: PATH of the key REF in a "kpool --json keys" array.
keyof() {
	printf '%s' "$1" | perl -MJSON::PP -e '
	    local $/; my $a = decode_json(<STDIN>);
	    my ($k) = grep { $_->{ref} eq $ARGV[0] } @$a;
	    my $v = $k ? $k->{$ARGV[1]} : "missing";
	    print defined $v ? $v : "null";' "$2" "$3"
}

# run ARGS...: kpool with ARGS; its stdout in OUT, stderr in ERR, status in RC.
run() {
	"$K" "$@" >"$TMP/out" 2>"$TMP/err"
	RC=$?
	OUT=$(cat "$TMP/out")
	ERR=$(cat "$TMP/err")
}

start_server --registration closed

# alice works from the default store
export XDG_DATA_HOME=$TMP/alice-data
run init --server "$SERVER_URL" --user alice
is "$RC" 0 "init exits 0"
ok "init made the default store under XDG_DATA_HOME" \
    test -f "$XDG_DATA_HOME/kpool/pool.db"
run pubkey
pk=$OUT
like "$pk" '^[A-Za-z0-9+/]{43}=$' "pubkey prints a base64 Ed25519 key"
run --json pubkey
is "$(printf '%s' "$OUT" | jf public_key)" "$pk" "--json pubkey: the same key"
is "$(printf '%s' "$OUT" | jf server)" "$SERVER_URL" \
    "the store remembers its server"
run register
is "$RC" 1 "register before the operator adds alice exits 1"
like "$ERR" 'register: HTTP 403 registration_closed' \
    "with the server's status and error code"
ok "the operator adds alice with the key kpool pubkey printed" \
    "$S" --db "$SERVER_DB" user add alice "$pk"
run --json register
is "$RC" 0 "register exits 0 once added"
is "$(printf '%s' "$OUT" | jf status)" 201 "POST /users answered 201"
is "$(printf '%s' "$OUT" | jf available)" 33 \
    "and the pool was published: 32 keys and a last-resort one"
run --json status
is "$(printf '%s' "$OUT" | jf health)" ok "a status sync: health ok"
is "$(printf '%s' "$OUT" | jf counts.available)" 33 "33 keys available"

# bob, an inviter on his phone, has a store of his own
B="--store $TMP/bob/pool.db"
run $B init --server "$SERVER_URL" --user bob --device phone
is "$RC" 0 "bob's store on the device phone"
"$S" --db "$SERVER_DB" device add bob phone "$("$K" $B pubkey)" >/dev/null
run $B register
is "$RC" 0 "bob/phone registers"

run $B --json reserve alice --group 0a0b
is "$RC" 0 "reserve alice --group exits 0"
ref=$(printf '%s' "$OUT" | jf ref)
like "$ref" '^[0-9a-f]{64}$' "reserve gives a ref"
is "$(printf '%s' "$OUT" | jf device)/$(printf '%s' "$OUT" | jf last_resort)" \
    default/false "of alice's device default, not the last-resort key"
like "$(printf '%s' "$OUT" | jf keypackage)" '^[A-Za-z0-9+/]{100,}=*$' \
    "with the KeyPackage in base64"
run $B --json status alice
is "$(printf '%s' "$OUT" | jf has_keys)" true "status alice: has keys"
run --json keys
is "$(keyof "$OUT" "$ref" state)/$(keyof "$OUT" "$ref" reserved_by)" \
    reserved/bob/phone "alice's keys: reserved by bob/phone"

run $B spend "$ref" --group 0c
is "$RC" 1 "a spend for another group exits 1"
like "$ERR" 'spend: HTTP 409 group_mismatch' "409 group_mismatch"
run $B --json spend "$ref" --group 0a0b
is "$RC" 0 "the spend for its group exits 0"
is "$(printf '%s' "$OUT" | jf group_id)" 0a0b "and names the group"
run --json keys
is "$(keyof "$OUT" "$ref" state)/$(keyof "$OUT" "$ref" group_id)/$(keyof "$OUT" "$ref" spent_by)" \
    spent/0a0b/bob/phone "alice's keys: spent in 0a0b by bob/phone"

run $B reserve alice
ref2=${OUT%% *}
run $B release "$ref2"
is "$RC" 0 "release exits 0"
run keys
like "$OUT" "^$ref2 available " "the released key is available again"
run $B release "$ref2"
is "$RC" 0 "a release repeated by its caller answers as the first (exit 0)"
run $B release "$ref"
like "$RC:$ERR" '^1:.*release: HTTP 409 already_spent' \
    "a release of a spent key exits 1: 409 already_spent"

# the owner's own spend goes through the pool and names its group
run --json keys
own=$(printf '%s' "$OUT" | perl -MJSON::PP -e 'local $/;
    print((grep { $_->{state} eq "available" && !$_->{last_resort} }
    @{decode_json(<STDIN>)})[0]->{ref})')
run spend "$own" --group 0d
is "$RC" 0 "alice spends a key of her own for group 0d"
run --json keys
is "$(keyof "$OUT" "$own" state)/$(keyof "$OUT" "$own" group_id)" spent/0d \
    "her store has it spent in 0d"

run $B --json reserve alice --all-devices --group 0e
is "$RC" 0 "reserve --all-devices (a claim) exits 0"
is "$(printf '%s' "$OUT" | jf keys.#)/$(printf '%s' "$OUT" | jf exhausted.#)" \
    1/0 "one key of alice's one device"

run $B reserve carol
is "$RC" 1 "reserve of an unknown user exits 1"
like "$ERR" 'reserve: HTTP 404 unknown_user' "404 unknown_user"

# dave is added but never publishes: his pool is empty
D="--store $TMP/dave/pool.db"
"$K" $D init --server "$SERVER_URL" --user dave >/dev/null
"$S" --db "$SERVER_DB" user add dave "$("$K" $D pubkey)" >/dev/null
run $B reserve dave
is "$RC" 1 "reserve from an exhausted pool exits 1"
like "$ERR" 'reserve: HTTP 409 pool_exhausted' "409 pool_exhausted"
run $B reserve dave --all-devices
like "$RC $ERR" '^1 kpool: claim: HTTP 409 pool_exhausted' \
    "a claim of it too"

run reserve
is "$RC" 2 "reserve without a user exits 2"
run spend not-a-ref
is "$RC" 2 "spend of a malformed ref exits 2"
run $B reserve alice --device phone --all-devices
is "$RC" 2 "--device with --all-devices exits 2"
run --store "$TMP/none/pool.db" keys
like "$RC $ERR" '^1 kpool: no store at .*kpool init' \
    "no store: exit 1, naming init"

stop_server
run $B reserve alice
is "$RC" 1 "server down: reserve exits 1"
like "$ERR" "reserve: server unreachable \\($SERVER_URL\\)" \
    "saying the server is unreachable, and which"
run --json status
is "$RC/$(printf '%s' "$OUT" | jf health)" 0/offline \
    "status still answers from the store: offline"
