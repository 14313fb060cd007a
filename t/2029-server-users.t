#!/bin/sh
# SPDX-License-Identifier: ISC
# 2029-server-users: the operator's user commands, on both backends.
# user list prints each user with its devices and key counts; user
# set-key gives the default device a new key, retiring the keys signed
# with the old one (the old store is refused: its name is another
# key's; the new one registers and publishes), refuses another device's
# key, and changes nothing for the same key; user remove retires every key and removes
# the devices and the user, whose name then reserves nothing; unknown
# users exit 1 and a malformed key 2.
. "${KP_TOP:-.}/t/tap.sh"

plan 21
K=$KP_BUILD/kpool
S=$KP_BUILD/kpool-server

start_server
srv() { "$S" --db "$SERVER_DB" "$@"; }
A="--store $TMP/a/pool.db"
B="--store $TMP/b/pool.db"
C="--store $TMP/c/pool.db"
"$K" $A init --server "$SERVER_URL" --user alice >/dev/null
"$K" $B init --server "$SERVER_URL" --user bob --device phone >/dev/null
"$K" $C init --server "$SERVER_URL" --user alice >/dev/null
ok "alice registers and publishes" "$K" $A register
ok "bob/phone registers and publishes" "$K" $B register
"$K" $B reserve alice >/dev/null

is "$(srv user list)" "alice default available=32 reserved=1 spent=0 expired=0
bob phone available=33 reserved=0 spent=0 expired=0" \
    "user list: names, devices and counts"

srv user set-key alice "$("$K" $B pubkey)" >"$TMP/out" 2>&1
is "$?" 1 "set-key to another device's key exits 1"
like "$(cat "$TMP/out")" "another device's" "saying whose it is"
is "$(srv user set-key alice "$("$K" $A pubkey)")" \
    "alice: key set, 0 keys retired" "the same key again changes nothing"
is "$(srv user set-key alice "$("$K" $C pubkey)")" \
    "alice: key set, 33 keys retired" \
    "a new key retires the 33 keys signed with the old one"
like "$(srv user list)" '^alice default available=0 reserved=0 ' \
    "alice has no key left"
"$K" $A keys >/dev/null 2>"$TMP/err"
is "$?" 1 "the old store's requests are refused (exit 1)"
like "$(cat "$TMP/err")" 'is taken by another key' \
    "the name is taken by another key"
ok "the new store registers with the new key" "$K" $C register
like "$(srv user list)" '^alice default available=33 ' \
    "and publishes a fresh pool"

is "$(srv user remove bob)" "bob: removed, 33 keys retired" \
    "user remove retires every key of the user"
is "$(srv user list)" "alice default available=33 reserved=0 spent=0 expired=0" \
    "bob is gone from the list"
"$K" $C reserve bob >/dev/null 2>"$TMP/err"
is "$?" 1 "a reserve of bob exits 1"
like "$(cat "$TMP/err")" 'HTTP 404 unknown_user' "bob is an unknown user"
srv user remove bob >/dev/null 2>&1
is "$?" 1 "user remove of an unknown user exits 1"
srv user set-key nobody "$("$K" $A pubkey)" >/dev/null 2>&1
is "$?" 1 "set-key of an unknown user exits 1"
srv user set-key alice not-base64 >/dev/null 2>&1
is "$?" 2 "set-key with a malformed key exits 2"
srv user remove 'no such' >/dev/null 2>&1
is "$?" 2 "user remove of a malformed name exits 2"
srv user >/dev/null 2>&1
is "$?" 2 "user alone is a usage error"
