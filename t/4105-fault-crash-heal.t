#!/bin/sh
# SPDX-License-Identifier: ISC
# 4105-fault-crash-heal: a heal that reaches faultcrash while it waits
# for a seeded request count wins: the request that completes the count
# comes after the heal and sets off no crash.  Found by the scenario
# runner's seed 159 (then): kpoolfs was killed after the runner had
# healed everything, and its `echo sync > ctl` failed with
# ECONNABORTED.
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/fault/fault.sh"

plan 5

CRASH_OPTS="--seed 1 --after-requests 3-3 --count 1 --proxy $TMP/proxy.sock"
crash_server_start
proxy_start "$SERVER_PORT" --faults off
first=$(crash_ctl "$CRASH_CTL" pid | cut -d' ' -f2)
curl -s "$PROXY_URL/healthz" >/dev/null
curl -s "$PROXY_URL/healthz" >/dev/null
# faultcrash now waits for the third request, asking the proxy in turns
# of 200 ms; the heal comes in the middle of one, the third request
# right after it
is "$(crash_ctl "$CRASH_CTL" heal)" ok "heal"
is "$(curl -s "$PROXY_URL/healthz")" '{"status":"ok"}' \
    "the third request is answered"
is "$(crash_ctl "$CRASH_CTL" count)" "ok crashes 0 restarts 0 died 0" \
    "and sets off no crash"
is "$(crash_ctl "$CRASH_CTL" pid | cut -d' ' -f2)" "$first" \
    "the server is the one that started"
proxy_stop
kill "$SERVER_PID"
wait "$SERVER_PID"
is $? 0 "faultcrash stops cleanly"
