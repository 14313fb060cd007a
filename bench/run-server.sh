#!/bin/sh
# SPDX-License-Identifier: ISC
#
# run-server.sh (make bench): kpool-server throughput and latency.
#
# 1. Signed reserve + spend with 1, 16 and 64 clients against a pool of
#    100,000 keys, each beside GET /healthz under the same load in the
#    same run (the HTTP ceiling); then signed reserve alone with 64,
#    three rounds.
# 2. A claim for a user with 4 devices of 100,000 keys each, 64 clients,
#    beside single-device signed reserve in the same run, three rounds.
# 3. Reserve p50 (one client) with 10,000 and with 1,000,000 stored keys.
# 4. The server's RSS with 1,000,000 keys.
#
# KP_BENCH_BIG=100000 makes step 3 and 4 smaller (quicker, for a try).
set -eu

B=${KP_BUILD:-$(pwd)/build}
BIG=${KP_BENCH_BIG:-1000000}
T=$(mktemp -d "${TMPDIR:-/tmp}/kpool-bench.XXXXXX")
pid= spid= bpid=
cleanup() {
	for p in $pid $spid $bpid; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

. "$(dirname "$0")/lib.sh"
stop() {
	kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
}
lg() { "$B/bench/loadgen" -p "$port" "$@"; }

echo "kpool-server on $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "-- reserve + spend, 100,000 keys (each line: healthz, then the API)"
"$B/bench/kpfill" "$T/pool.db" owner 100000 >/dev/null
start "$T/pool.db"
for c in 1 16 64; do
	n=$((12800 / c)); [ $c -eq 1 ] && n=3000
	h=$(lg -c $c -m healthz -d 2)
	r=$(lg -c $c -m reserve-spend -n $n)
	echo "  $h"
	echo "  $r"
	echo "  => $c clients: $(field "$r" ops/s) reserve+spend pairs/s" \
	    "($(field "$r" req/s) signed req/s) vs healthz $(field "$h" ops/s)" \
	    "req/s"
done
# three rounds (the cores are shared: one round says little), each
# beside its healthz, with the server's CPU time per request (utime +
# stime from /proc, which the load of other jobs changes far less)
tck=$(getconf CLK_TCK)
for round in 1 2 3; do
	h=$(lg -c 64 -m healthz -d 2)
	c0=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
	r=$(lg -c 64 -m reserve -n 300)
	c1=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
	echo "  $h"
	echo "  $r"
	echo "  => signed reserve, 64 clients, round $round:" \
	    "$(field "$r" ops/s)/s, p50 $(field "$r" reserve_p50)," \
	    "p99 $(field "$r" reserve_p99), server CPU" \
	    "$(( (c1 - c0) * 1000000 / tck / (64 * 300) )) us/request," \
	    "vs healthz $(field "$h" ops/s) req/s" \
	    "(target >= 10000/s, p99 <= 10 ms)"
done
stop

echo "-- claim of a user with 4 devices (100,000 keys each) beside" \
    "single-device reserve (100,000 keys), one server, 64 clients"
"$B/bench/kpfill" "$T/claim.db" solo 100000 >/dev/null
"$B/bench/kpfill" "$T/claim.db" multi 100000 4 >/dev/null
start "$T/claim.db"
lg -c 64 -m reserve -n 20 -t solo >/dev/null	# warm up
lg -c 64 -m claim -n 20 -t multi >/dev/null
for round in 1 2 3; do
	r=$(lg -c 64 -m reserve -n 300 -t solo)
	c=$(lg -c 64 -m claim -n 300 -t multi)
	echo "  $r"
	echo "  $c"
	echo "  => round $round: claim $(field "$c" ops/s)/s" \
	    "($(field "$c" keys) keys), p99 $(field "$c" reserve_p99);" \
	    "reserve $(field "$r" ops/s)/s, p99 $(field "$r" reserve_p99):" \
	    "$(awk -v a="$(field "$c" ops/s)" -v b="$(field "$r" ops/s)" \
	    'BEGIN { printf "%.0f", 100 * a / b }') % (target >= 25 %)"
done
stop

echo "-- reserve latency by pool size (1 client; two servers side by side," \
    "5 alternating rounds of 1,000, median p50)"
"$B/bench/kpfill" "$T/small.db" owner 10000 >/dev/null
"$B/bench/kpfill" "$T/big.db" owner "$BIG" >/dev/null
start "$T/small.db"
spid=$pid sport=$port
start "$T/big.db"
bpid=$pid bport=$port
p50_by_size "$sport" "$bport" "$BIG"
port=$bport lg -c 64 -m reserve -n 100 >/dev/null
rss=$(awk '/VmRSS/ { print $2 }' "/proc/$bpid/status")
echo "  => kpool-server RSS with $BIG keys after the runs:" \
    "$((rss / 1024)) MiB (target <= 64 MiB)"
kill "$spid" "$bpid"
wait "$spid" "$bpid" 2>/dev/null || true
pid= spid= bpid=
