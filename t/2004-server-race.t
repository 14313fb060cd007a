#!/bin/sh
# SPDX-License-Identifier: ISC
# 2004-server-race: 32 processes race to reserve from a pool of 200
# keys: exactly 200 distinct keys go out, zero duplicates, and every
# process ends on 409 pool_exhausted.
. "${KP_TOP:-.}/t/tap.sh"

plan 6
start_server --rate-limit 0 --quiet
cli() { "$KP_BUILD/t/kpcli" -s "$SERVER_URL" "$@"; }

cli -u alice -k "$TMP/alice.seed" keygen >/dev/null
cli -u bob -k "$TMP/bob.seed" keygen >/dev/null
cli -u alice -k "$TMP/alice.seed" register || bail "register alice"
cli -u bob -k "$TMP/bob.seed" register || bail "register bob"
cli -u alice -k "$TMP/alice.seed" upload-new 200 >"$TMP/uploaded" ||
    bail "upload"
is "$(sort -u "$TMP/uploaded" | wc -l)" 200 "200 keys uploaded"

i=0
pids=
while [ $i -lt 32 ]; do
	cli -u bob -k "$TMP/bob.seed" reserve-all alice >"$TMP/got.$i" \
	    2>"$TMP/err.$i" &
	pids="$pids $!"
	i=$((i + 1))
done
fails=0
for p in $pids; do
	wait "$p" || fails=$((fails + 1))
done
is "$fails" 0 "all 32 reservers finished without an error"
cat "$TMP"/got.* | grep -v '^exhausted$' >"$TMP/all"
is "$(wc -l <"$TMP/all")" 200 "200 reservations in all"
is "$(sort -u "$TMP/all" | wc -l)" 200 "200 distinct keys: no duplicate"
is "$(sort "$TMP/all" | comm -3 - "$(sort "$TMP/uploaded" >"$TMP/u.s"; echo "$TMP/u.s")" | wc -l)" 0 \
    "exactly the uploaded keys"
is "$(cat "$TMP"/got.* | grep -c '^exhausted$')" 32 \
    "every process ended on 409 pool_exhausted"
