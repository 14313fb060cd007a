#!/bin/sh
# SPDX-License-Identifier: ISC
# 4101-fault-crash: faultcrash (t/fault/) kills kpool-server with
# SIGKILL at a moment drawn from its seed (after N requests seen by
# faultproxy) in the middle of a load, and on demand; each time the
# server serves again on the same port and the same database, and what
# the clients saw succeed is there.
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/fault/fault.sh"

plan 30

K="$KP_BUILD/t/kpcli"
CRASH_OPTS="--seed 11 --after-requests 12-12 --count 1 --proxy $TMP/proxy.sock"
crash_server_start
proxy_start "$SERVER_PORT" --faults off
first=$(crash_ctl "$CRASH_CTL" pid | cut -d' ' -f2)
port=$SERVER_PORT

"$K" -u bob -k "$TMP/bob.seed" keygen >/dev/null
"$K" -u al -k "$TMP/al.seed" keygen >/dev/null
ok "bob registers through the proxy" \
    "$K" -s "$PROXY_URL" -u bob -k "$TMP/bob.seed" register
ok "alice too" "$K" -s "$PROXY_URL" -u al -k "$TMP/al.seed" register
"$K" -s "$PROXY_URL" -u bob -k "$TMP/bob.seed" upload-new 20 >"$TMP/refs"
is "$(wc -l <"$TMP/refs" | tr -d ' ')" 20 "bob uploads 20 keys"

# the load: 20 reserves, one after the other; the 12th request the
# proxy sees sets off the crash
i=0
: >"$TMP/got"
: >"$TMP/failed"
while [ $i -lt 20 ]; do
	i=$((i + 1))
	if out=$("$K" -s "$PROXY_URL" -u al -k "$TMP/al.seed" reserve bob \
	    "rid-$i" 2>>"$TMP/failed"); then
		echo "rid-$i $out" >>"$TMP/got"
	fi
done
failures=$(wc -l <"$TMP/failed" | tr -d ' ')
seen=$(wc -l <"$TMP/got" | tr -d ' ')
is "$(awk '$2 == "crash" { print $3 }' "$CRASH_LOG")" requests=12 \
    "the crash came after the 12th request, as seed 11 says"
is "$("$FAULTCRASH" --plan 1 --seed 11 --after-requests 12-12)" \
    "1 requests=12" "--plan says so too"
new=$(crash_ctl "$CRASH_CTL" pid | cut -d' ' -f2)
ok "the server was killed" sh -c "! kill -0 $first 2>/dev/null"
ok "and runs again as a new process" test "$new" -gt 0 -a "$new" != "$first"
is "$(crash_ctl "$CRASH_CTL" count)" "ok crashes 1 restarts 0 died 0" \
    "one crash, nothing else"
is "$(curl -s "http://127.0.0.1:$port/healthz")" '{"status":"ok"}' \
    "it serves on the same port"
ok "clients got keys before and after the crash ($seen of 20)" \
    test "$seen" -ge 15 -a "$(tail -n 1 "$TMP/got" | cut -d' ' -f1)" = rid-20
is "$(grep -cv 'server unreachable' "$TMP/failed")" 0 \
    "each of the $failures failures is a lost connection"
"$K" -s "$PROXY_URL" -u bob -k "$TMP/bob.seed" mine >"$TMP/mine"
is "$(wc -l <"$TMP/mine" | tr -d ' ')" 20 \
    "the same database: bob's 20 keys are there"
missing=0
while read -r _ ref _; do
	grep -q "^$ref reserved\$" "$TMP/mine" || missing=$((missing + 1))
done <"$TMP/got"
is "$missing" 0 "every reserve a client saw succeed is reserved"
reserved=$(grep -c ' reserved$' "$TMP/mine")
ok "no more, but for replies the crash lost ($reserved, $seen + $failures)" \
    test "$reserved" -ge "$seen" -a "$reserved" -le $((seen + failures))
for r in 1 20; do
	"$K" -s "$PROXY_URL" -u al -k "$TMP/al.seed" reserve bob "rid-$r" \
	    >"$TMP/again" 2>&1
	is "$(cut -d' ' -f1 "$TMP/again")" \
	    "$(grep "^rid-$r " "$TMP/got" | cut -d' ' -f2)" \
	    "a retry of rid-$r after the restart answers the same key"
done

# on demand: crash, kill and start, restart
before=$new
reply=$(crash_ctl "$CRASH_CTL" crash)
like "$reply" "^ok crash $before [0-9]+\$" "ctl crash: killed and back"
is "$(curl -s "http://127.0.0.1:$port/healthz")" '{"status":"ok"}' \
    "serving on the same port"
is "$(crash_ctl "$CRASH_CTL" kill | cut -d' ' -f1-2)" "ok kill" \
    "ctl kill: down"
nok "the port refuses connections" curl -s "http://127.0.0.1:$port/healthz"
nok "the proxy resets its clients" curl -s "$PROXY_URL/healthz"
like "$(grep '^# conn' "$PROXY_LOG" | tail -n 1)" \
    '^# conn [0-9]+: upstream: Connection refused; reset$' \
    "and its log says why"
like "$(crash_ctl "$CRASH_CTL" start)" '^ok start [0-9]+$' "ctl start: up"
like "$(crash_ctl "$CRASH_CTL" restart)" '^ok restart [0-9]+ [0-9]+$' \
    "ctl restart: SIGTERM, then up again"
"$K" -s "$PROXY_URL" -u bob -k "$TMP/bob.seed" status bob >"$TMP/status"
like "$(cat "$TMP/status")" '^available [0-9]+ reserved [0-9]+ spent 0' \
    "after it all, bob's counts"
is "$(awk '{print $2 + $4}' "$TMP/status")" 20 "sum to his 20 keys"
is "$(crash_ctl "$CRASH_CTL" count)" "ok crashes 3 restarts 1 died 0" \
    "three kills (one seeded, two asked for) and a restart"
proxy_stop
is $? 0 "the proxy stops cleanly"
kill "$SERVER_PID"
wait "$SERVER_PID"
is $? 0 "faultcrash stops: the server exited 0 and never died on its own"
want="1 start -,2 crash requests=12,3 crash ctl,4 kill ctl,5 start ctl,"
want="${want}6 restart ctl,7 exit -,"
is "$(grep -v '^#' "$CRASH_LOG" | cut -d' ' -f1-3 | tr '\n' ,)" "$want" \
    "its log: each event, with what set it off"
