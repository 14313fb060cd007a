#!/bin/sh
# SPDX-License-Identifier: ISC
# 2020-server-migrate: kpool-server migrate moves a SQLite deployment to
# a database of the backend under test (PostgreSQL, or another SQLite
# file, as a restore would).  A server on SQLite is given users,
# keys in every state (available, reserved, spent, last resort,
# retired: a tombstone), a name with capitals; the copy is refused into a
# non-empty database; then a server on the copy answers as the first
# did: counts, every field of every key, a reserve retried with its
# request_id, a spend of the live reservation, the retired key's
# tombstone, the name found in any case and its look-alike refused.
. "${KP_TOP:-.}/t/tap.sh"

plan 18
src=$TMP/src.db
SERVER_DB=$src start_server --rate-limit 0 --quiet
cli() { _u=$1; shift; "$KP_BUILD/t/kpcli" -s "$SERVER_URL" -u "$_u" \
    -k "$TMP/$_u.seed" "$@"; }

for u in alice bob carol Dave; do
	cli $u keygen >/dev/null && cli $u register || bail "register $u"
done
cli Dave upload-new 1 >/dev/null || bail "upload Dave's"
cli alice upload-new 6 >"$TMP/keys" || bail "upload"
cli alice upload-new 1 last-resort >/dev/null || bail "upload last resort"
r1=$(cli bob reserve alice rid-1) || bail "reserve 1"
r2=$(cli bob reserve alice rid-2) || bail "reserve 2"
cli bob spend "${r2%% *}" g || bail "spend"
r3=$(cli carol reserve alice rid-3) || bail "reserve 3"
cli carol release "${r3%% *}" || bail "release"
gone=$(tail -n 1 "$TMP/keys")
cli alice retire "$gone" || bail "retire"

snapshot() {	# NAME: what the API answers, in $TMP/NAME.*
	cli alice status alice >"$TMP/$1.status"
	cli alice mine long | sort >"$TMP/$1.mine"
	cli bob reserve alice rid-1 >"$TMP/$1.replay"
	cli bob spend "$gone" >"$TMP/$1.spend" 2>&1
}
snapshot before
stop_server

db_new copy
ok "migrate into an empty database ($(db_is_pg && echo PostgreSQL ||
    echo SQLite))" \
    "$KP_BUILD/kpool-server" migrate --from "$src" --to "$DB"
like "$(cat "$TMP/.out")" "done: " "it says done"
like "$(cat "$TMP/.out")" "source: 4 users \(4 devices, 0 names set aside\), 7 keys \(5 available, 1 reserved, 1 spent; 1 last resort, 1 reservations\), 2 tombstones \(1 refs, 1 init keys\), [0-9]+ nonces" \
    "with the source's counts"
nok "migrate again: the target is not empty" \
    "$KP_BUILD/kpool-server" migrate --from "$src" --to "$DB"
like "$(cat "$TMP/.out")" "not empty" "it says why"
nok "migrate from a database that is not there" \
    "$KP_BUILD/kpool-server" migrate --from "$TMP/none.db" --to "$DB"
is "$(db_sql "$DB" "SELECT status, count(*) FROM keypackages GROUP BY 1 ORDER BY 1" | tr '\n' ' ')" \
    "available|5 reserved|1 spent|1 " "the copy holds each state"
is "$(db_sql "$DB" "SELECT kind, count(*) FROM tombstones GROUP BY 1 ORDER BY 1" | tr '\n' ' ')" \
    "0|1 1|1 " "and the retired key's tombstones"

SERVER_DB=$DB start_server --rate-limit 0 --quiet
snapshot after
is "$(cat "$TMP/after.status")" "$(cat "$TMP/before.status")" \
    "the status of alice is the same"
is "$(wc -l <"$TMP/after.mine")" 6 "six keys listed (one retired)"
is "$(cat "$TMP/after.mine")" "$(cat "$TMP/before.mine")" \
    "every field of every key is the same"
is "$(cat "$TMP/after.replay")" "$r1" \
    "bob's retry of rid-1: the same reservation, before and after"
like "$(cat "$TMP/after.spend")" "HTTP 409: .*already spent \(or was retired\)" \
    "a spend of the retired key: 409, its tombstone came along"
ok "bob spends the reservation he held before the move" \
    cli bob spend "${r1%% *}" g
is "$(cli alice status alice)" \
    "available 4 reserved 0 spent 2 expired 0 last_resort 1" \
    "the counts move on from there"
ok "bob reserves Dave's key as DAVE" cli bob reserve DAVE rid-d
cli dave keygen >/dev/null || bail "keygen"
nok "dave, with a key of his own, cannot register: Dave has the name" \
    cli dave register
like "$(cat "$TMP/.out")" "HTTP 409" "409 username_taken"
