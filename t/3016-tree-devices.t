#!/bin/sh
# SPDX-License-Identifier: ISC
# 3016-tree-devices: a mount of one device (-o device=), its identity,
# devices and status files, the config keys suites, credentials,
# extensions and proposals (a bad list is EINVAL with its reason
# logged), and the ctl verbs rotate, refresh (to target), enroll and
# remove, offline and against a real kpool-server.
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/3-fs.sh"
need_fuse

echo 1790000000 >"$TMP/clock"
M=$TMP/mnt
mount_pool "$TMP/laptop.db" "$M" \
    -o user=alice,device=laptop,server=none,refresh=0,test_clock="$TMP/clock"

plan 33

# identity, devices, status
like "$(cat "$M/identity")" \
    '^user: alice
device: laptop
public_key: [A-Za-z0-9+/]{43}=$' "identity: user, device, public key"
is "$(stat -c '%a %s' "$M/identity")" "444 $(wc -c <"$M/identity")" \
    "identity: 444, stat size = bytes read"
is "$(stat -c '%a %s' "$M/devices")" "444 0" \
    "devices: 444, empty before the server was asked"
is "$(grep -E '^(user|device|enrollment):' "$M/status" | tr '\n' ' ')" \
    "user: alice device: laptop enrollment: unknown " \
    "status: user, device, enrollment not asked yet"

# config
is_errno OK "config: suites = 0x0001,0x0003" write "$M/config" \
    "suites = 0x0001,0x0003"
is "$(grep '^suites' "$M/config")" "suites = 0x0001,0x0003" "config shows both"
is "$(grep -c '^suite_0x000[13]_available: 0$' "$M/status")" 2 \
    "status: counts per suite"
is_errno OK "config: capabilities" write "$M/config" \
    "credentials = basic,x509
extensions = 0x0a0a, 0xff00
proposals = 0x0a0a"
is "$(grep -E '^(credentials|extensions|proposals)' "$M/config" | tr '\n' ';')" \
    "credentials = basic,x509;extensions = 0x0a0a,0xff00;proposals = 0x0a0a;" \
    "config shows the lists"
for bad in "extensions = 0x0003" "proposals = 0x0001" "credentials = x509" \
    "extensions = 0x0a0a,0x0a0a" "suites = 0x0002" "extensions = "; do
	is_errno EINVAL "config: $bad" write "$M/config" "$bad"
done
sleep 0.2
like "$(cat "$TMP/kpoolfs.log")" \
    'config extensions = 0x0003: capabilities.extensions lists a default extension type' \
    "the reason is logged"
is "$(grep '^extensions' "$M/config")" "extensions = 0x0a0a,0xff00" \
    "a refused write changed nothing"

# ctl
is_errno EINVAL "ctl: enroll without a key" write "$M/ctl" "enroll phone"
is_errno EINVAL "ctl: enroll with a bad name" write "$M/ctl" \
    "enroll Phone $(sed -n 's/^public_key: //p' "$M/identity")"
is_errno EINVAL "ctl: enroll with a bad key" write "$M/ctl" "enroll phone AAAA"
is_errno EINVAL "ctl: remove without a name" write "$M/ctl" "remove"
is_errno EINVAL "ctl: rotate takes nothing" write "$M/ctl" "rotate now"
is_errno EHOSTUNREACH "ctl: rotate offline" write "$M/ctl" "rotate"
is_errno EHOSTUNREACH "ctl: enroll offline" write "$M/ctl" \
    "enroll phone $(sed -n 's/^public_key: //p' "$M/identity")"
unmount_pool "$M"

# another device's mount of the store is refused
"$KP_BUILD/kpoolfs" -f -o device=phone "$TMP/laptop.db" "$M" \
    >"$TMP/out" 2>&1
is "$?" 1 "the store of laptop mounted as phone: exit 1"
like "$(cat "$TMP/out")" 'the store belongs to device "laptop", not "phone"' \
    "and says why"

# against a server: enrolled, refresh to target, rotate
start_server --test-clock "$TMP/clock"
M2=$TMP/mnt2
mount_pool "$TMP/bob.db" "$M2" -o user=bob,refresh=0,server="$SERVER_URL",test_clock="$TMP/clock"
ctl "$M2" refresh
is "$(grep -E '^(available|enrollment):' "$M2/status" | tr '\n' ' ')" \
    "available: 33 enrollment: enrolled " "refresh: 32 + 1 available, enrolled"
is_errno OK "config: target = 40" write "$M2/config" "target = 40"
ctl "$M2" refresh
is "$(grep '^available:' "$M2/status")" "available: 41" \
    "echo refresh > ctl tops up to the new target"
ls "$M2/available" | sort >"$TMP/before"
ctl "$M2" rotate
ls "$M2/available" | sort >"$TMP/after"
is "$(wc -l <"$TMP/after")" 41 "rotate: 41 keys available again"
is "$(comm -12 "$TMP/before" "$TMP/after" | wc -l)" 0 \
    "none of them an old one"
is "$(ls "$M2/expired" | sort | comm -3 - "$TMP/before" | wc -l)" 0 \
    "the old ones are in expired/"
k=$(head -n 1 "$TMP/before")
is "$(cat "$M2/expired/$k/private_keys" 2>&1)" "wiped" \
    "their private keys are wiped"
