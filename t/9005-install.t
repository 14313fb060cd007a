#!/bin/sh
# SPDX-License-Identifier: ISC
# 9005-install: make install into a DESTDIR with Debian's layout writes
# exactly the files install-list names (kpool-server in sbin, the library
# in the multiarch directory as libkpool.so.VERSION with its SONAME and
# two links, the headers, kpool.pc, the man pages); a program built with
# pkg-config against the installed copy runs; make uninstall removes
# every file it wrote.
. "${KP_TOP:-.}/t/tap.sh"

plan 12
R=$TMP/root
san=
[ "${KP_BUILD##*/}" = build-san ] && san=1
mk() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory \
	    -C "$KP_TOP" B="$KP_BUILD" \
	    SANITIZE="$san" PREFIX=/usr DESTDIR="$R" "$@"
}

ok "make install DESTDIR= runs" mk install
mk install-list | sort >"$TMP/want"
(cd "$R" && find . ! -type d | sed 's|^\.||' | sort) >"$TMP/got"
is "$(cat "$TMP/got")" "$(cat "$TMP/want")" \
    "install wrote exactly the files install-list names"
ma=$(${CC:-cc} -print-multiarch)
lib=$R/usr/lib/$ma
is "$(grep -c '^/usr/sbin/kpool-server$' "$TMP/got")" 1 \
    "kpool-server is in /usr/sbin"
is "$(grep -c '^/usr/bin/kpoolfs$' "$TMP/got")" 1 "kpoolfs is in /usr/bin"
is "$(grep -c '^/usr/bin/kpool$' "$TMP/got")" 1 "kpool is in /usr/bin"
soname=$(readelf -d "$lib"/libkpool.so.0.* | sed -n 's/.*soname: \[\(.*\)\]/\1/p')
is "$soname" libkpool.so.0 "the library's SONAME is libkpool.so.0"
is "$(readlink "$lib/libkpool.so")" libkpool.so.0 \
    "libkpool.so links to the SONAME"

cat >"$TMP/p.c" <<'C'
#include <stdio.h>
#include <kpool.h>
int
main(void)
{
	char	p[KP_MAX_PRINCIPAL + 1];

	if (kp_principal("alice", "laptop", p, sizeof(p)) != KP_OK)
		return 1;
	printf("%s %s\n", p, kp_strerror(KP_EINVAL));
	return 0;
}
C
export PKG_CONFIG_PATH="$lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$R"
cf=$(pkg-config --cflags kpool) && lf=$(pkg-config --libs kpool | sed 's/ *$//')
is "$lf" "-L$lib -lkpool" "pkg-config --libs kpool names the library"
sf=
[ -n "$san" ] && sf="-fsanitize=address,undefined"
ok "a program builds against the installed header and library" \
    ${CC:-cc} $sf $cf -o "$TMP/p" "$TMP/p.c" $lf
like "$(readelf -d "$TMP/p" | grep NEEDED)" 'libkpool\.so\.0' \
    "and needs libkpool.so.0"
is "$(LD_LIBRARY_PATH=$lib "$TMP/p")" "alice/laptop invalid argument" \
    "and runs, with the installed library"
mk uninstall
is "$(cd "$R" && find . ! -type d | wc -l)" 0 \
    "make uninstall removed every file"
