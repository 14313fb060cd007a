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
# The drain budget moves along (docs/security.md, "Draining"): both
# servers run with its limits and invitations only, on one test clock.
# Vouches and a spend's links, grants (a stranger's lapsed one and its
# live one, contacts' open, spent and released), the registrations and
# the invitations (one used up, one with 2 uses left) are copied row
# for row; a contact naming a removed user is left behind, and said.
# On the copy, the target whose budget strangers spent still refuses
# them 429 budget_exhausted while a contact it vouched for gets a
# regular key, the address's registrations still count (429
# registration_rate), and the invitations are as they were.
. "${KP_TOP:-.}/t/tap.sh"

plan 37
src=$TMP/src.db
now=$(date +%s)
echo "$now" >"$TMP/clock"
drain="--rate-limit 0 --stranger-share 25 --contact-floor 0 --caller-cap 32
    --registration invite --test-clock $TMP/clock --quiet"
t1=$("$KP_BUILD/kpool-server" --db "$src" invite create --uses 7) &&
    t2=$("$KP_BUILD/kpool-server" --db "$src" invite create --uses 2) ||
    bail "invite create"
SERVER_DB=$src start_server $drain --register-rate 7
cli() { _u=$1; shift; "$KP_BUILD/t/kpcli" -s "$SERVER_URL" -u "$_u" \
    -k "$TMP/$_u.seed" "$@"; }

for u in alice bob carol Dave erin mallory frank; do
	cli $u keygen >/dev/null && cli $u register "$t1" ||
	    bail "register $u"
done
# erin's budget for strangers: 25 % of 8 keys, 2 an hour
cli erin upload-new 8 >/dev/null || bail "upload erin's"
cli mallory reserve erin m-1 >/dev/null || bail "mallory's first"
now=$((now + 61))			# it lapses unspent, and still counts
echo "$now" >"$TMP/clock"
cli mallory reserve erin m-2 >/dev/null || bail "mallory's second"
nok "mallory's third: erin's budget for strangers is spent" \
    cli mallory reserve erin m-3
like "$(cat "$TMP/.out")" "HTTP 429: .*handed to" "429 budget_exhausted"
cli erin contact frank && cli alice contact bob && cli alice contact carol ||
    bail "vouch"
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
# what a removal before a user's contacts went with it would leave
sqlite3 -bail "$src" "INSERT INTO contacts VALUES ('erin', 'zed', 1, $now)" ||
    bail "orphan"

# drain_rows DB: the drain budget's tables of DB (SQLite, or a URI of
# PostgreSQL), a row a line, in one order on both
drain_rows() {
	case $1 in
	postgresql:*)
		_q() { psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
		_h() { echo "upper(encode($1, 'hex'))"; }
		_c=' COLLATE "C"' _i=::int _r=id ;;
	*)	_q() { sqlite3 -bail "$1" "$2"; }
		_h() { echo "hex($1)"; }
		_c= _i= _r=rowid ;;
	esac
	_q "$1" "SELECT 'contact', owner, contact, kind, created_at FROM
	    contacts ORDER BY owner$_c, contact$_c, kind" &&
	_q "$1" "SELECT 'grant', caller, target, device, $(_h ref),
	    stranger$_i, granted_at, expires_at, ended FROM grants
	    ORDER BY granted_at, $_r" &&
	_q "$1" "SELECT 'registration', address, at FROM registrations
	    ORDER BY at, $_r" &&
	_q "$1" "SELECT 'invitation', $(_h hash), uses, created_at FROM
	    invites ORDER BY created_at, hash"
}
is "$(sqlite3 "$src" "SELECT sum(ended = 0), sum(ended = 1),
    sum(ended = 2), sum(stranger), sum(ended = 0 AND expires_at <= $now)
    FROM grants")" "3|1|1|2|1" \
    "grants: 3 open (1 lapsed unspent), 1 spent, 1 released; 2 strangers'"
is "$(sqlite3 "$src" "SELECT kind, count(*) FROM contacts GROUP BY 1" |
    tr '\n' ' ')" "1|4 2|1 " "contacts: 4 vouches (1 for zed), 1 link (a spend)"
is "$(sqlite3 "$src" "SELECT uses FROM invites ORDER BY uses" |
    tr '\n' ' ')" "0 2 " "invitations: one used up, one with 2 uses left"

db_new copy
ok "migrate into an empty database ($(db_is_pg && echo PostgreSQL ||
    echo SQLite))" \
    "$KP_BUILD/kpool-server" migrate --from "$src" --to "$DB"
like "$(cat "$TMP/.out")" "done: " "it says done"
like "$(cat "$TMP/.out")" "source: 7 users \(7 devices, 0 names set aside\), 15 keys \(12 available, 2 reserved, 1 spent; 1 last resort, 2 reservations\), 2 tombstones \(1 refs, 1 init keys\), [0-9]+ nonces, 4 contacts \(1 left behind\), 5 grants \(3 open, 2 to strangers\), 7 registrations, 2 invitations \(2 uses left\)" \
    "with the source's counts"
like "$(cat "$TMP/.out")" "left behind: 1 contacts that name a removed user" \
    "the contact of zed is said to be left behind"
drain_rows "$src" | grep -v '|zed|' >"$TMP/src.drain" || bail "source rows"
drain_rows "$DB" >"$TMP/copy.drain" || bail "copy's rows"
is "$(cut -d '|' -f 1 "$TMP/copy.drain" | uniq -c | tr -s ' \n' '  ')" \
    " 4 contact 5 grant 7 registration 2 invitation " \
    "the copy's contacts, grants, registrations and invitations"
is "$(cat "$TMP/copy.drain")" "$(cat "$TMP/src.drain")" \
    "each the same, column by column, but the contact of zed"
nok "migrate again: the target is not empty" \
    "$KP_BUILD/kpool-server" migrate --from "$src" --to "$DB"
like "$(cat "$TMP/.out")" "not empty" "it says why"
nok "migrate from a database that is not there" \
    "$KP_BUILD/kpool-server" migrate --from "$TMP/none.db" --to "$DB"
is "$(db_sql "$DB" "SELECT status, count(*) FROM keypackages GROUP BY 1 ORDER BY 1" | tr '\n' ' ')" \
    "available|12 reserved|2 spent|1 " "the copy holds each state"
is "$(db_sql "$DB" "SELECT kind, count(*) FROM tombstones GROUP BY 1 ORDER BY 1" | tr '\n' ' ')" \
    "0|1 1|1 " "and the retired key's tombstones"

SERVER_DB=$DB start_server $drain --register-rate 8
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

nok "mallory still: erin's budget for strangers is spent" \
    cli mallory reserve erin m-4
like "$(cat "$TMP/.out")" "HTTP 429: .*handed to" "429 budget_exhausted"
nok "bob, a stranger to erin: the same" cli bob reserve erin b-1
like "$(cat "$TMP/.out")" "HTTP 429: .*handed to" "429 budget_exhausted"
f=$(cli frank reserve erin f-1)
ok "frank, whom erin vouched for, reserves" test -n "$f"
is "${f##* }" 0 "a regular key"
for u in heidi ivan; do cli $u keygen >/dev/null || bail "keygen $u"; done
nok "heidi with the used-up invitation" cli heidi register "$t1"
like "$(cat "$TMP/.out")" "HTTP 403: .*used up" "403 bad_invite"
ok "heidi with the other: the address's 8th registration within the hour" \
    cli heidi register "$t2"
nok "ivan, with its last use: the 9th" cli ivan register "$t2"
like "$(cat "$TMP/.out")" "HTTP 429: .*registered 8 users" \
    "429 registration_rate: the 7 of before count"
