# SPDX-License-Identifier: ISC
#
# lib.sh: what the server benchmarks share (sourced by run-server.sh,
# run-pg.sh and run-rate.sh, which set B, the build directory, and TOP,
# the tree's; T, a temporary directory, run-server.sh sets, pg_dirs the
# others).

# pg_dirs NAME: temporary directories T (files) and PG (a PostgreSQL
# cluster's, mk/pg.sh), removed on exit with the servers of pids.
pg_dirs() {
	T=$(mktemp -d "${TMPDIR:-/tmp}/kpool-bench-$1.XXXXXX")
	PG=$(mktemp -d "${TMPDIR:-/tmp}/kpool-bench-${1}db.XXXXXX")
	pids=
	trap pg_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}
pg_cleanup() {
	stop_all
	sh "$TOP/mk/pg.sh" stop "$PG"
	rm -rf "$T"
}

# pg_up: the cluster in PG started, fsync on (commits as durable as
# PostgreSQL makes them).
pg_up() {
	KP_PG_FSYNC=on sh "$TOP/mk/pg.sh" start "$PG" || {
		echo "no cluster"; exit 1; }
}
# uri DBNAME: the cluster's database DBNAME for --db.
uri() { echo "postgresql://kpool@/$1?host=$PG"; }
# createdb DBNAME: a new database in the cluster.
createdb() { psql -X -q -h "$PG" -U kpool -d postgres -c "CREATE DATABASE $1"; }

# stop_all: the servers of pids ended.
stop_all() {
	for p in ${pids:-}; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true
	done
	pids=
}

# start DB [ARGS]: a kpool-server on DB, its pid in pid (and added to
# pids), its port in port, once it listens.  The rate limit and the
# drain budget are off (the benchmarks measure the reserve path, not
# the admission in front of it; the 64 reservers would pass the caller
# cap): ARGS may turn them on again, the last of an option winning.
start() {
	db=$1; shift
	rm -f "$T/port"
	"$B/kpool-server" --listen 127.0.0.1:0 --db "$db" --rate-limit 0 \
	    --stranger-share 0 --contact-floor 0 --caller-cap 0 \
	    --quiet "$@" >"$T/port" 2>>"$T/server.log" &
	pid=$!
	pids="${pids:-} $pid"
	i=0
	until grep -q '^[0-9][0-9]*$' "$T/port" 2>/dev/null; do
		i=$((i + 1)); [ $i -gt 100 ] && { echo "no server"; exit 1; }
		sleep 0.1
	done
	port=$(head -n 1 "$T/port")
}

# field LINE KEY: the value of KEY=VALUE in loadgen's LINE.
field() { echo "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { print $2 }'; }

# p50_by_size SPORT BPORT BIG: reserve p50 with one client on the server
# of 10,000 keys (SPORT) and that of BIG keys (BPORT): a warm-up, then 5
# alternating rounds of 1,000; each round, then the medians' ratio
# against the target.
p50_by_size() {
	"$B/bench/loadgen" -p "$1" -c 1 -m reserve -n 300 >/dev/null
	"$B/bench/loadgen" -p "$2" -c 1 -m reserve -n 300 >/dev/null
	: >"$T/small.p50"; : >"$T/big.p50"
	for round in 1 2 3 4 5; do
		s=$("$B/bench/loadgen" -p "$1" -c 1 -m reserve -n 1000)
		l=$("$B/bench/loadgen" -p "$2" -c 1 -m reserve -n 1000)
		field "$s" reserve_p50 | tr -d ms >>"$T/small.p50"
		field "$l" reserve_p50 | tr -d ms >>"$T/big.p50"
		echo "  round $round: 10,000 keys p50" \
		    "$(field "$s" reserve_p50), $3 keys p50" \
		    "$(field "$l" reserve_p50)"
	done
	s50=$(sort -n "$T/small.p50" | sed -n 3p)
	l50=$(sort -n "$T/big.p50" | sed -n 3p)
	echo "  => reserve p50 $s50 ms at 10,000 keys, $l50 ms at $3:" \
	    "$(awk -v a="$l50" -v b="$s50" 'BEGIN { printf "%.2f", a / b }')x" \
	    "(target <= 1.2x)"
}
