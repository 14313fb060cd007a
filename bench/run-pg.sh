#!/bin/sh
# SPDX-License-Identifier: ISC
#
# run-pg.sh (make bench): kpool-server on PostgreSQL against SQLite in
# the same run, on a throwaway cluster (mk/pg.sh, fsync on: commits are
# as durable as PostgreSQL makes them).
#
# 1. Signed reserve with 64 clients, three rounds, each round in turn:
#    SQLite, PostgreSQL with one instance, PostgreSQL with two (32
#    clients on each); per request the server's CPU and the database's
#    (utime + stime from /proc of the kpool-server and postgres
#    processes); the median round of each against the targets.
# 2. Reserve p50 (one client) on PostgreSQL with 10,000 and 1,000,000
#    stored keys: two databases side by side, 5 alternating rounds.
#
# KP_BENCH_BIG=100000 makes step 2 smaller (quicker, for a try).
set -eu

B=${KP_BUILD:-$(pwd)/build}
TOP=${KP_TOP:-$(pwd)}
BIG=${KP_BENCH_BIG:-1000000}
POOL=${KP_BENCH_POOL:-160000}
. "$(dirname "$0")/lib.sh"
pg_dirs pg
pg_up
cpu() {	# PIDS: their utime + stime, in ticks
	for p in "$@"; do
		awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0
	done | awk '{ s += $1 } END { print s + 0 }'
}
pgpids() {	# the cluster's postmaster and its children
	pm=$(head -n 1 "$PG/data/postmaster.pid")
	echo "$pm $(ps -o pid= --ppid "$pm" | tr '\n' ' ')"
}
tck=$(getconf CLK_TCK)
us() {	# TICKS N: microseconds per request
	echo "$1" "$2" | awk -v t="$tck" '{ printf "%d", $1 * 1e6 / t / $2 }'
}

echo "kpool-server on PostgreSQL $(psql -X -A -t -h "$PG" -U kpool \
    -d postgres -c 'SHOW server_version'), $(nproc) cores," \
    "$(date -u +%Y-%m-%dT%H:%MZ)"
echo "-- signed reserve, 64 clients; SQLite, PostgreSQL with one" \
    "instance and with two, $POOL keys each, three rounds in turn"
"$B/bench/kpfill" "$T/pool.db" owner "$POOL" >/dev/null
createdb pool
"$B/bench/kpfill" "$(uri pool)" owner "$POOL" >/dev/null
: >"$T/sqlite"; : >"$T/pg1"; : >"$T/pg2"
for round in 1 2 3; do
	# SQLite
	start "$T/pool.db"
	"$B/bench/loadgen" -p "$port" -c 64 -m reserve -n 50 >/dev/null
	c0=$(cpu $pid)
	r=$("$B/bench/loadgen" -p "$port" -c 64 -m reserve -n 300)
	c1=$(cpu $pid)
	echo "$(field "$r" ops/s) $(field "$r" reserve_p50 | tr -d ms)" \
	    "$(field "$r" reserve_p99 | tr -d ms) $(us $((c1 - c0)) 19200) 0" \
	    >>"$T/sqlite"
	echo "  round $round sqlite: $r"
	stop_all
	# PostgreSQL, one instance
	start "$(uri pool)"
	"$B/bench/loadgen" -p "$port" -c 64 -m reserve -n 50 >/dev/null
	c0=$(cpu $pid); d0=$(cpu $(pgpids))
	r=$("$B/bench/loadgen" -p "$port" -c 64 -m reserve -n 300)
	c1=$(cpu $pid); d1=$(cpu $(pgpids))
	echo "$(field "$r" ops/s) $(field "$r" reserve_p50 | tr -d ms)" \
	    "$(field "$r" reserve_p99 | tr -d ms) $(us $((c1 - c0)) 19200)" \
	    "$(us $((d1 - d0)) 19200)" >>"$T/pg1"
	echo "  round $round postgresql, 1 instance: $r"
	stop_all
	# PostgreSQL, two instances, 32 clients each
	start "$(uri pool)"; p1=$pid; port1=$port
	start "$(uri pool)"; p2=$pid; port2=$port
	"$B/bench/loadgen" -p "$port1" -c 32 -m reserve -n 50 >/dev/null &
	"$B/bench/loadgen" -p "$port2" -c 32 -m reserve -n 50 >/dev/null
	wait $!
	c0=$(cpu $p1 $p2); d0=$(cpu $(pgpids))
	"$B/bench/loadgen" -p "$port1" -c 32 -m reserve -n 300 >"$T/lg1" &
	"$B/bench/loadgen" -p "$port2" -c 32 -m reserve -n 300 >"$T/lg2"
	wait $!
	c1=$(cpu $p1 $p2); d1=$(cpu $(pgpids))
	r1=$(cat "$T/lg1"); r2=$(cat "$T/lg2")
	echo "$(field "$r1" ops/s) $(field "$r2" ops/s)" \
	    "$(field "$r1" reserve_p50 | tr -d ms)" \
	    "$(field "$r2" reserve_p50 | tr -d ms)" \
	    "$(field "$r1" reserve_p99 | tr -d ms)" \
	    "$(field "$r2" reserve_p99 | tr -d ms)" \
	    "$(us $((c1 - c0)) 19200) $(us $((d1 - d0)) 19200)" |
	    awk '{ print $1 + $2, ($3 > $4 ? $3 : $4), ($5 > $6 ? $5 : $6),
	        $7, $8 }' >>"$T/pg2"
	echo "  round $round postgresql, 2 instances: $r1"
	echo "  round $round postgresql, 2 instances: $r2"
	stop_all
done
# median: the round with the median throughput of FILE
median() { sort -n "$1" | sed -n 2p; }
s=$(median "$T/sqlite"); p=$(median "$T/pg1"); q=$(median "$T/pg2")
show() {	# NAME LINE
	echo "$2" | awk -v n="$1" '{ printf "  => %s: %d/s, p50 %.2f ms, " \
	    "p99 %.2f ms, server CPU %d us/request, database CPU %d " \
	    "us/request\n", n, $1, $2, $3, $4, $5 }'
}
show "SQLite" "$s"
show "PostgreSQL, one instance" "$p"
show "PostgreSQL, two instances (the slower p50 and p99 of the two)" "$q"
echo "$s $p" | awk '{ printf "  => PostgreSQL one instance / SQLite: " \
    "throughput %.2f (target >= 0.50), p99 %.2fx (target <= 2x)\n",
    $6 / $1, $8 / $3 }'
echo "$s" | awk '{ printf "  => SQLite signed reserve p99 at 64 " \
    "clients: %.2f ms (target <= 10 ms)\n", $3 }'

echo "-- reserve latency by pool size on PostgreSQL (1 client; two" \
    "servers side by side, 5 alternating rounds of 1,000, median p50)"
createdb small
createdb big
"$B/bench/kpfill" "$(uri small)" owner 10000 >/dev/null
"$B/bench/kpfill" "$(uri big)" owner "$BIG" >/dev/null
start "$(uri small)"; sport=$port
start "$(uri big)"; bport=$port
p50_by_size "$sport" "$bport" "$BIG"
stop_all
