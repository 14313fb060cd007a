#!/bin/sh
# SPDX-License-Identifier: ISC
#
# run-tls.sh (make bench): what native HTTPS (--tls-cert) costs a signed
# reserve.  Two kpool-servers side by side, each on its own copy of one
# database of 100,000 keys: one plain, one serving TLS with a P-256
# certificate (mk/testcert.sh).  Three rounds, each in turn: 64 keep-alive
# clients (loadgen; -s for TLS, handshakes made before the clock), 300
# signed reserves each, with the server's CPU time per request (utime +
# stime from /proc); then GET /healthz for 2 s on each, the HTTP
# ceiling.  Handshakes are not in the figures: see the last step.
#
# Last: the cost of a handshake, as new connections a second (one
# request each, curl with the CA) on each server, 200 in a row.
set -eu

B=${KP_BUILD:-$(pwd)/build}
TOP=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/kpool-bench-tls.XXXXXX")
pids=
trap 'stop_all; rm -rf "$T"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
. "$(dirname "$0")/lib.sh"

sh "$TOP/mk/testcert.sh" "$T/certs"
"$B/bench/kpfill" "$T/plain.db" owner 100000 >/dev/null
cp "$T/plain.db" "$T/tls.db"
# the drain limits off: 64 reservers take 19,200 keys a round
nolimits="--caller-cap 0 --stranger-share 0 --contact-floor 0"
start "$T/plain.db" $nolimits
ppid=$pid pport=$port
start "$T/tls.db" $nolimits --tls-cert "$T/certs/server.pem" \
    --tls-key "$T/certs/server.key"
tpid=$pid tport=$port
tck=$(getconf CLK_TCK)

echo "kpool-server on $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "-- signed reserve, 64 clients, 300 each, plain HTTP then HTTPS"
"$B/bench/loadgen" -p "$pport" -c 64 -m reserve -n 20 >/dev/null
"$B/bench/loadgen" -p "$tport" -c 64 -m reserve -n 20 -s >/dev/null
for round in 1 2 3; do
	for kind in plain tls; do
		if [ $kind = plain ]; then p=$pport s=$ppid o=; else
			p=$tport s=$tpid o=-s; fi
		c0=$(awk '{ print $14 + $15 }' "/proc/$s/stat")
		r=$("$B/bench/loadgen" -p "$p" -c 64 -m reserve -n 300 $o)
		c1=$(awk '{ print $14 + $15 }' "/proc/$s/stat")
		echo "  $kind: $r"
		echo "  => round $round, $kind: $(field "$r" ops/s)/s," \
		    "p50 $(field "$r" reserve_p50), p99" \
		    "$(field "$r" reserve_p99), server CPU" \
		    "$(( (c1 - c0) * 1000000 / tck / (64 * 300) )) us/request"
	done
done
echo "-- GET /healthz, 64 clients, 2 s each"
echo "  plain: $("$B/bench/loadgen" -p "$pport" -c 64 -m healthz -d 2)"
echo "  tls:   $("$B/bench/loadgen" -p "$tport" -c 64 -m healthz -d 2 -s)"

echo "-- new connections, one GET /healthz each, 200 in a row (curl)"
for kind in plain tls; do
	if [ $kind = plain ]; then
		u=http://127.0.0.1:$pport/healthz s=$ppid
	else
		u=https://127.0.0.1:$tport/healthz s=$tpid
	fi
	i=0
	: >"$T/urls"
	while [ $i -lt 200 ]; do
		printf 'url = "%s"\noutput = "/dev/null"\n' "$u" >>"$T/urls"
		i=$((i + 1))
	done
	c0=$(awk '{ print $14 + $15 }' "/proc/$s/stat")
	t0=$(date +%s.%N)
	# Connection: close: a new connection (and handshake) for each
	curl -sS -K "$T/urls" --cacert "$T/certs/ca.pem" \
	    -H 'Connection: close'
	t1=$(date +%s.%N)
	c1=$(awk '{ print $14 + $15 }' "/proc/$s/stat")
	echo "  => $kind: $(echo "200 / ($t1 - $t0)" | bc -l | cut -d. -f1)" \
	    "connections/s, server CPU" \
	    "$(( (c1 - c0) * 1000000 / tck / 200 )) us/connection"
done
