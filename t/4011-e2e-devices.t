#!/bin/sh
# SPDX-License-Identifier: ISC
# 4011-e2e-devices: two mounts of alice (devices default and laptop) on
# one real server.  laptop is pending until default enrolls it through
# ctl, then fills by itself; both fill to 32 (and a last-resort key
# each) and default's devices file lists both.  bob claims for all of
# alice's devices: one key a device, distinct, each in reserved/ of the
# right tree with bob as reserved_by.  A claim of suite 3 gets suite-3
# keys only.  Once default removes laptop, none of laptop's keys is
# handed out again.
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/3-fs.sh"
need_fuse

start_server --rate-limit 0
A=$TMP/a
L=$TMP/l
mount_pool "$TMP/alice.db" "$A" -o user=alice,server="$SERVER_URL",refresh=0
mount_pool "$TMP/laptop.db" "$L" \
    -o user=alice,device=laptop,server="$SERVER_URL",refresh=0
kpcli() { "$KP_BUILD/t/kpcli" -s "$SERVER_URL" -u bob -k "$TMP/bob.seed" "$@"; }
kpcli keygen >/dev/null && kpcli register || bail "bob cannot register"

plan 26

# enrollment
ctl "$A" refresh
is "$(grep -E '^(available|enrollment):' "$A/status" | tr '\n' ' ')" \
    "available: 33 enrollment: enrolled " "default: enrolled, 32 + 1 keys"
is_errno EPERM "laptop's refresh before it is enrolled" write "$L/ctl" refresh
is "$(grep '^enrollment:' "$L/status")" "enrollment: pending" \
    "laptop: pending"
key=$(sed -n 's/^public_key: //p' "$L/identity")
hint=$(grep '^hint:' "$L/status")
case $hint in
*"echo \"enroll laptop $key\" > MOUNT/ctl"*"kpool-server device add alice laptop $key"*)
	ok "status says how to enroll it" true ;;
*)	ok "status says how to enroll it: $hint" false ;;
esac
ctl "$A" "enroll laptop $key"
ctl "$L" refresh
is "$(grep -E '^(available|enrollment):' "$L/status" | tr '\n' ' ')" \
    "available: 33 enrollment: enrolled " "laptop: enrolled, 32 + 1 keys"
ctl "$A" sync
is "$(cut -d' ' -f1,2 "$A/devices" | tr '\n' ';')" \
    "default available=33;laptop available=33;" \
    "default's devices file lists both"

# a claim for every device
kpcli claim alice >"$TMP/claim" || bail "claim: $(cat "$TMP/claim")"
is "$(cut -d' ' -f1 "$TMP/claim" | tr '\n' ' ')" "default laptop " \
    "bob's claim: one key of each device, in name order"
is "$(cut -d' ' -f2 "$TMP/claim" | sort -u | wc -l | tr -d ' ')" 2 \
    "two distinct keys"
ctl "$A" sync
ctl "$L" sync
rd=$(awk '$1 == "default" { print $2 }' "$TMP/claim")
rl=$(awk '$1 == "laptop" { print $2 }' "$TMP/claim")
is "$(cat "$A/reserved/$rd/reserved_by" 2>&1)" bob \
    "default's key is in default's reserved/, by bob"
is "$(cat "$L/reserved/$rl/reserved_by" 2>&1)" bob \
    "laptop's key is in laptop's reserved/, by bob"
is "$(ls "$A/reserved" "$L/reserved" | grep -c '^[0-9a-f]')" 2 \
    "nothing else is reserved"
kpcli claim alice 0 again >"$TMP/again1"
kpcli claim alice 0 again >"$TMP/again2"
is "$(cat "$TMP/again2")" "$(cat "$TMP/again1")" \
    "a claim again with the same request_id: the same keys"

# suite 3
for m in "$A" "$L"; do
	is_errno OK "suites = 0x0001,0x0003 in $(basename "$m")" write \
	    "$m/config" "suites = 0x0001,0x0003"
	ctl "$m" refresh
done
is "$(grep '^suite_0x0003_available:' "$A/status" "$L/status" | cut -d' ' -f2 | tr '\n' ' ')" \
    "33 33 " "both devices keep 32 + 1 keys of suite 3"
kpcli claim alice 3 >"$TMP/claim3" || bail "claim 3: $(cat "$TMP/claim3")"
is "$(wc -l <"$TMP/claim3" | tr -d ' ')" 2 "a claim of suite 3: two keys"
is "$(cut -d' ' -f3 "$TMP/claim3" | sort -u)" 3 "both of suite 3"
ctl "$A" sync
ctl "$L" sync
r3=$(awk '$1 == "default" { print $2 }' "$TMP/claim3")
is "$(cat "$A/reserved/$r3/suite" 2>&1)" 0x0003 "the tree agrees: suite 0x0003"
is "$(kpcli reserve-device alice laptop 3 | cut -d' ' -f2,3)" "laptop 3" \
    "a reserve of one device and suite"

# removal
ls "$L/available" "$L/reserved" | grep '^[0-9a-f]' | sort >"$TMP/laptop-keys"
ctl "$A" "remove laptop"
ctl "$A" sync
is "$(cut -d' ' -f1 "$A/devices" | tr '\n' ' ')" "default " \
    "default's devices file: laptop is gone"
kpcli claim alice >"$TMP/claim4"
is "$(cut -d' ' -f1 "$TMP/claim4" | tr '\n' ' ')" "default " \
    "a claim after the removal: default alone"
kpcli reserve-device alice laptop >"$TMP/out" 2>&1
like "$(cat "$TMP/out")" 'HTTP 404' "a reserve of laptop: 404"
i=0
while [ $i -lt 40 ]; do
	kpcli reserve alice | cut -d' ' -f1
	i=$((i + 1))
done | sort >"$TMP/all"
is "$(sort -u "$TMP/all" | wc -l | tr -d ' ')" 40 \
    "40 reserves of alice: 40 keys of default"
is "$(comm -12 "$TMP/all" "$TMP/laptop-keys" | wc -l | tr -d ' ')" 0 \
    "and hand out none of laptop's keys"
is_errno EPERM "laptop's refresh once removed" write "$L/ctl" refresh
is "$(grep '^enrollment:' "$L/status")" "enrollment: pending" \
    "laptop: pending again"
