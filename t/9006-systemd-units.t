#!/bin/sh
# SPDX-License-Identifier: ISC
# 9006-systemd-units: the units make install writes are ones systemd
# takes: systemd-analyze verify (offline: no systemd needs to run) is
# silent on kpool-server.service and on an instance of the user unit
# kpoolfs@.service, installed under a PREFIX of the test's own so that
# the programs they start exist; the server's unit runs the installed
# server with --config SYSCONFDIR/kpool/kpool-server.conf, under its
# own dynamic user, with the hardening docs/deploy.md lists, and
# systemd-analyze security rates its exposure "OK" (below 2.0).
. "${KP_TOP:-.}/t/tap.sh"

plan 9
command -v systemd-analyze >/dev/null ||
    bail "systemd-analyze missing (apt-get install systemd, or make deps)"
R=$TMP/root
san=
[ "${KP_BUILD##*/}" = build-san ] && san=1
make -s --no-print-directory -C "$KP_TOP" B="$KP_BUILD" SANITIZE="$san" \
    PREFIX="$R/usr" install >"$TMP/make.out" 2>&1 ||
    { sed 's/^/# /' "$TMP/make.out"; bail "make install PREFIX=$R/usr"; }
sys=$R/usr/lib/systemd/system/kpool-server.service
usr=$R/usr/lib/systemd/user

# the user manager's verify wants a runtime directory
mkdir -m 700 "$TMP/run"

out=$(systemd-analyze --man=no verify "$sys" 2>&1)
is "$?" 0 "systemd-analyze verify kpool-server.service: exit 0"
is "$out" "" "and it says nothing"
out=$(XDG_RUNTIME_DIR=$TMP/run systemd-analyze --man=no --user verify \
    "$usr/kpoolfs@kpool.service" 2>&1)
is "$?" 0 "systemd-analyze --user verify kpoolfs@kpool.service: exit 0"
is "$out" "" "and it says nothing"

is "$(sed -n 's/^ExecStart=//p' "$sys")" \
    "$R/usr/sbin/kpool-server --config $R/usr/etc/kpool/kpool-server.conf" \
    "the server's unit runs the installed server on its settings file"
ok "which make install wrote" test -f "$R/usr/etc/kpool/kpool-server.conf"
missing=
for l in DynamicUser=yes StateDirectory=kpool ProtectSystem=strict \
    ProtectHome=yes PrivateTmp=yes NoNewPrivileges=yes \
    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' \
    SystemCallFilter=@system-service MemoryDenyWriteExecute=yes \
    LockPersonality=yes CapabilityBoundingSet=; do
	grep -qx "$l" "$sys" || missing="$missing $l"
done
is "$missing" "" "the server's unit has each hardening setting"
score=$(systemd-analyze security --offline=yes "$sys" 2>/dev/null |
    sed -n 's/.*Overall exposure level for [^ ]*: \([0-9.]*\).*/\1/p')
diag "systemd-analyze security: exposure $score"
ok "systemd-analyze security: exposure below 2.0 ($score)" \
    awk -v s="$score" 'BEGIN { exit !(s != "" && s < 2.0) }'
like "$(sed -n 's/^ExecStart=//p' "$usr/kpoolfs@.service")" \
    "^$R/usr/bin/kpoolfs -f .* %h/%I\$" \
    "the user unit mounts kpoolfs at ~/INSTANCE"
