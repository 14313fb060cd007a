#!/bin/sh
# SPDX-License-Identifier: ISC
# 9007-debian-package: debian/ builds the four packages from a copy of
# the tree (dpkg-buildpackage -us -uc -b, the suite off: nocheck), and
# lintian finds no error in them (its warnings are listed here).  As
# root, where systemd does not run (CI's container), they are installed
# for real: the server's files and unit are in place, the unit is
# enabled, the installed server runs; then purged, and every file they
# installed is gone.  Elsewhere (a developer's machine, where
# installing would start the service) each package is unpacked into a
# scratch directory instead and the same files are looked for there.
. "${KP_TOP:-.}/t/tap.sh"

plan 12
for c in dpkg-buildpackage dh lintian; do
	command -v $c >/dev/null ||
	    bail "$c missing (apt-get install dpkg-dev debhelper lintian," \
	    "or make deps)"
done
# the make that runs this test must not reach the package's build
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
version=$(sed -n 's/^VERSION[ 	]*=[ 	]*//p' "$KP_TOP/Makefile")
src=$TMP/kpool-$version
mkdir "$src"
(cd "$KP_TOP" && tar --exclude-vcs --exclude=./build --exclude=./build-san \
    --exclude=./build-fuzz --exclude=./run --exclude=./mnt \
    --exclude=./t/interop/.node --exclude=node_modules -cf - .) |
    tar -xf - -C "$src" || bail "copy the tree"

(cd "$src" && DEB_BUILD_OPTIONS="nocheck noddebs parallel=2" \
    dpkg-buildpackage -us -uc -b) >"$TMP/build.log" 2>&1
rc=$?
is "$rc" 0 "dpkg-buildpackage -us -uc -b: exit 0"
[ "$rc" -eq 0 ] || tail -n 30 "$TMP/build.log" | sed 's/^/# /'
arch=$(dpkg --print-architecture)
debs=
for p in kpool-server kpoolfs libkpool0 libkpool-dev; do
	debs="$debs $TMP/${p}_${version}_$arch.deb"
done
is "$(cd "$TMP" && ls *.deb | sort | tr '\n' ' ')" \
    "kpool-server_${version}_$arch.deb kpoolfs_${version}_$arch.deb libkpool-dev_${version}_$arch.deb libkpool0_${version}_$arch.deb " \
    "the four packages are built, and no other"

# lintian refuses to look as root only in words
lintian --tag-display-limit 0 $debs >"$TMP/lintian" 2>&1
grep '^[EW]: ' "$TMP/lintian" | sed 's/^/# lintian: /'
is "$(grep -c '^E: ' "$TMP/lintian")" 0 "lintian: no error"

is "$(dpkg-deb -f "$TMP/kpool-server_${version}_$arch.deb" Depends |
    grep -c 'libmicrohttpd')" 1 "kpool-server depends on libmicrohttpd"
like "$(dpkg-deb -c "$TMP/libkpool0_${version}_$arch.deb")" \
    "libkpool\\.so\\.0 -> libkpool\\.so\\.$version" \
    "libkpool0 holds the SONAME link"

ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
files="/usr/sbin/kpool-server /lib/systemd/system/kpool-server.service
/etc/kpool/kpool-server.conf /usr/bin/kpoolfs /usr/bin/kpool
/usr/lib/systemd/user/kpoolfs@.service /usr/lib/$ma/libkpool.so.0
/usr/include/kpool.h /usr/lib/$ma/pkgconfig/kpool.pc
/usr/share/man/man8/kpool-server.8.gz"
wants=/etc/systemd/system/multi-user.target.wants/kpool-server.service

if [ "$(id -u)" -eq 0 ] && [ ! -d /run/systemd/system ]; then
	diag "installing for real (root, systemd not running)"
	# one install at a time on this machine: another checkout's run of
	# this test would hold dpkg's lock, or purge what this one checks
	exec 9>/run/lock/kpool-t9007.lock
	flock -w 900 9 || bail "another run of 9007 holds the machine's dpkg"
	ok "dpkg -i installs the four" dpkg -i $debs
	R=
	for p in kpool-server kpoolfs libkpool0 libkpool-dev; do
		dpkg -L $p
	done | while read -r f; do
		[ -d "$f" ] || echo "$f"
	done | sort -u >"$TMP/installed"
	ok "kpool-server.service is enabled" test -L "$wants"
else
	diag "unpacking into $TMP/root (not root, or systemd runs here)"
	R=$TMP/root
	ok "dpkg-deb -x unpacks the four" sh -c "for d in $debs; do
	    dpkg-deb -x \"\$d\" '$R' || exit 1; done"
	: >"$TMP/installed"
	skip 1 "the unit's enablement needs a real install"
fi
missing=
for f in $files; do
	[ -e "$R$f" ] || missing="$missing $f"
done
is "$missing" "" "the programs, units, settings, library and header"
is "$(LD_LIBRARY_PATH=$R/usr/lib/$ma "$R/usr/sbin/kpool-server" --version)" \
    "kpool-server $version" "the installed server runs"
like "$(cat "$R/lib/systemd/system/kpool-server.service")" \
    "ExecStart=/usr/sbin/kpool-server --config /etc/kpool/kpool-server.conf" \
    "its unit runs it on /etc/kpool/kpool-server.conf"

if [ -z "$R" ]; then
	ok "dpkg --purge removes the four" dpkg --purge kpool-server kpoolfs \
	    libkpool-dev libkpool0
	left=
	while read -r f; do
		[ -e "$f" ] && left="$left $f"
	done <"$TMP/installed"
	[ -L "$wants" ] && left="$left $wants"
	is "$left" "" "every file they installed is gone, and the enablement"
else
	skip 2 "the removal needs a real install"
fi
