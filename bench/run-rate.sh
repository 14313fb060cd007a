#!/bin/sh
# SPDX-License-Identifier: ISC
#
# run-rate.sh (make bench): what the rate limit's token buckets (a
# store operation, in the database) cost a signed reserve: 64 clients,
# with the limit on (a limit so high that it never refuses, so every
# reserve takes its token) and off (--rate-limit 0), rounds alternating,
# each on a fresh copy of the pool; per round throughput, p50, p99 and
# the server's CPU per request (utime + stime from /proc).  SQLite, then
# PostgreSQL with one instance (on a throwaway cluster, mk/pg.sh).
#
# KP_BENCH_OTHER=DIR adds the server of another build (DIR/kpool-server
# with DIR/bench/kpfill and DIR/bench/loadgen) to the SQLite rounds: the
# in-memory limiter of a build from before the buckets moved into the
# store, say.  KP_BENCH_ROUNDS sets the rounds (default 3).
set -eu

B=${KP_BUILD:-$(pwd)/build}
TOP=${KP_TOP:-$(pwd)}
OTHER=${KP_BENCH_OTHER:-}
ROUNDS=${KP_BENCH_ROUNDS:-3}
POOL=120000
. "$(dirname "$0")/lib.sh"
pg_dirs rate
tck=$(getconf CLK_TCK)
ON="--rate-limit 100000000 --rate-burst 100000000"

# round NAME BUILD DB ARGS...: one round on a copy of the SQLite file DB,
# or of the PostgreSQL database pool when DB is a URI; into $T/NAME.
round() {
	name=$1 b=$2 db=$3; shift 3
	case $db in
	postgresql:*)
		psql -X -q -h "$PG" -U kpool -d postgres \
		    -c "SET client_min_messages = warning" \
		    -c "DROP DATABASE IF EXISTS run" \
		    -c "CREATE DATABASE run TEMPLATE pool" >/dev/null
		run=$(uri run) ;;
	*)
		cp "$db" "$T/run.db"; rm -f "$T/run.db-wal" "$T/run.db-shm"
		run=$T/run.db ;;
	esac
	ob=$B; B=$b
	start "$run" "$@"
	B=$ob
	"$b/bench/loadgen" -p "$port" -c 64 -m reserve -n 50 >/dev/null
	c0=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
	r=$("$b/bench/loadgen" -p "$port" -c 64 -m reserve -n 300)
	c1=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
	kill "$pid"; wait "$pid" 2>/dev/null || true; pids=
	us=$(echo $((c1 - c0)) | awk -v t="$tck" \
	    '{ printf "%d", $1 * 1e6 / t / 19200 }')
	echo "$(field "$r" ops/s) $(field "$r" reserve_p50 | tr -d ms)" \
	    "$(field "$r" reserve_p99 | tr -d ms) $us" >>"$T/$name"
	echo "  $name: $(field "$r" ops/s)/s, p50 $(field "$r" reserve_p50)," \
	    "p99 $(field "$r" reserve_p99), server CPU $us us/request"
}
# medians NAME: the median of each column of $T/NAME
medians() {
	for c in 1 2 3 4; do
		awk -v c=$c '{ print $c }' "$T/$1" | sort -n |
		    awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
	done | tr '\n' ' ' | awk -v n="$1" '{ printf "  => %s: %d/s, p50 " \
	    "%.2f ms, p99 %.2f ms, server CPU %d us/request\n", n, $1, $2,
	    $3, $4 }'
}

echo "rate limit buckets, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "-- SQLite, signed reserve, 64 clients, $POOL keys, $ROUNDS rounds"
"$B/bench/kpfill" "$T/pool.db" owner "$POOL" >/dev/null
[ -n "$OTHER" ] && "$OTHER/bench/kpfill" "$T/other.db" owner "$POOL" \
    >/dev/null
: >"$T/sqlite-on"; : >"$T/sqlite-off"; : >"$T/other-on"; : >"$T/other-off"
k=0
while [ $k -lt "$ROUNDS" ]; do
	k=$((k + 1))
	round sqlite-on "$B" "$T/pool.db" $ON
	[ -n "$OTHER" ] && round other-on "$OTHER" "$T/other.db" $ON
	round sqlite-off "$B" "$T/pool.db" --rate-limit 0
	[ -n "$OTHER" ] && round other-off "$OTHER" "$T/other.db" \
	    --rate-limit 0
done
medians sqlite-on
medians sqlite-off
[ -n "$OTHER" ] && medians other-on && medians other-off

echo "-- PostgreSQL, one instance, the same"
pg_up
createdb pool
db=$(uri pool)
"$B/bench/kpfill" "$db" owner "$POOL" >/dev/null
: >"$T/pg-on"; : >"$T/pg-off"
k=0
while [ $k -lt "$ROUNDS" ]; do
	k=$((k + 1))
	round pg-on "$B" "$db" $ON
	round pg-off "$B" "$db" --rate-limit 0
done
medians pg-on
medians pg-off
