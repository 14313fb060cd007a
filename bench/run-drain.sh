#!/bin/sh
# SPDX-License-Identifier: ISC
#
# run-drain.sh (make bench): what the drain budget (docs/security.md,
# "Draining") costs a signed reserve: 64 clients reserving one owner's
# keys with the budget off (the reference), as strangers to the owner,
# and as its contacts (kpfill -c: the owner vouched for them), rounds
# alternating, each on a fresh copy of the pool; per round throughput,
# p50, p99 and the server's CPU per request.  The caller cap is off
# (--caller-cap 0) so that the 64 callers are not refused after 32
# each; the pool (20,000 keys) is large enough that the strangers'
# share (25 %) does not run out.  SQLite, then PostgreSQL with one
# instance (on a throwaway cluster, mk/pg.sh).  KP_BENCH_ROUNDS sets
# the rounds (default 5).
set -eu

B=${KP_BUILD:-$(pwd)/build}
TOP=${KP_TOP:-$(pwd)}
ROUNDS=${KP_BENCH_ROUNDS:-5}
POOL=20000
OPS=60		# per client and round: 3,840 reserves
. "$(dirname "$0")/lib.sh"
pg_dirs drain
tck=$(getconf CLK_TCK)
OFF="--stranger-share 0 --contact-floor 0 --caller-cap 0"
ON="--stranger-share 25 --contact-floor 8 --caller-cap 0"	# the defaults
							# but the cap

# round NAME DB ARGS...: one round on a copy of the SQLite file DB, or
# of the PostgreSQL database DB names (a template) when PG is up; into
# $T/NAME.
round() {
	name=$1 db=$2; shift 2
	case $db in
	*.db)
		cp "$db" "$T/run.db"; rm -f "$T/run.db-wal" "$T/run.db-shm"
		run=$T/run.db ;;
	*)
		psql -X -q -h "$PG" -U kpool -d postgres \
		    -c "SET client_min_messages = warning" \
		    -c "DROP DATABASE IF EXISTS run" \
		    -c "CREATE DATABASE run TEMPLATE $db" >/dev/null
		run=$(uri run) ;;
	esac
	start "$run" "$@"
	c0=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
	r=$("$B/bench/loadgen" -p "$port" -c 64 -m reserve -n $OPS)
	c1=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
	kill "$pid"; wait "$pid" 2>/dev/null || true; pids=
	us=$(echo $((c1 - c0)) | awk -v t="$tck" -v n=$((64 * OPS)) \
	    '{ printf "%d", $1 * 1e6 / t / n }')
	echo "$(field "$r" ops/s) $(field "$r" reserve_p50 | tr -d ms)" \
	    "$(field "$r" reserve_p99 | tr -d ms) $us" >>"$T/$name"
	echo "  $name: $(field "$r" ops/s)/s, p50 $(field "$r" reserve_p50)," \
	    "p99 $(field "$r" reserve_p99), server CPU $us us/request" \
	    "($(field "$r" errors) errors)"
}
# medians NAME: the median of each column of $T/NAME, and the ratio of
# its throughput to that of REF
medians() {
	for c in 1 2 3 4; do
		awk -v c=$c '{ print $c }' "$T/$1" | sort -n |
		    awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
	done | tr '\n' ' ' >"$T/$1.med"
	awk -v n="$1" '{ printf "  => %s: %d/s, p50 %.2f ms, p99 %.2f ms, " \
	    "server CPU %d us/request", n, $1, $2, $3, $4 }' "$T/$1.med"
	if [ $# -gt 1 ]; then
		paste "$T/$1.med" "$T/$2.med" | awk '{ printf ", %.2f of " \
		    "the throughput with the budget off\n", $1 / $5 }'
	else
		echo
	fi
}

echo "drain budget, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "-- SQLite, signed reserve, 64 clients, $POOL keys, $ROUNDS rounds"
"$B/bench/kpfill" "$T/s.db" owner "$POOL" >/dev/null
"$B/bench/kpfill" -c "$T/c.db" owner "$POOL" >/dev/null
: >"$T/sqlite-off"; : >"$T/sqlite-strangers"; : >"$T/sqlite-contacts"
k=0
while [ $k -lt "$ROUNDS" ]; do
	k=$((k + 1))
	round sqlite-off "$T/s.db" $OFF
	round sqlite-strangers "$T/s.db" $ON
	round sqlite-contacts "$T/c.db" $ON
done
medians sqlite-off
medians sqlite-strangers sqlite-off
medians sqlite-contacts sqlite-off

echo "-- PostgreSQL, one instance, the same"
pg_up
createdb strangers
createdb contacts
"$B/bench/kpfill" "$(uri strangers)" owner "$POOL" >/dev/null
"$B/bench/kpfill" -c "$(uri contacts)" owner "$POOL" >/dev/null
: >"$T/pg-off"; : >"$T/pg-strangers"; : >"$T/pg-contacts"
k=0
while [ $k -lt "$ROUNDS" ]; do
	k=$((k + 1))
	round pg-off strangers $OFF
	round pg-strangers strangers $ON
	round pg-contacts contacts $ON
done
medians pg-off
medians pg-strangers pg-off
medians pg-contacts pg-off
