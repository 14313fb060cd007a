#!/bin/sh
# SPDX-License-Identifier: ISC
#
# Install the Debian packages kpool needs to build and test, if any is
# missing.  Quiet when everything is there.  The list is what a fresh
# Debian 12 root (make and git aside) lacks for make check, make check
# SANITIZE=1 (gcc's libasan8 and libubsan1 come with build-essential),
# make run, make bench and make fuzz:
#	perl		prove, and errno names in t/tap.sh
#	procps		pgrep in the daemon tests
#	bc		the benchmarks' arithmetic
#	groff-base	make check formats the man pages
#	libclang-rt-14-dev	clang's sanitizer and libFuzzer runtimes
#			(only recommended by clang, so not installed with it)
#	ca-certificates	npm fetches ts-mls over https
#	postgresql	the server's second backend: make check runs the
#			store and API tests on a throwaway cluster too
#			(mk/pg.sh; initdb, pg_ctl, psql)
#	libpq-dev	the server's PostgreSQL client library
#	nginx		t/9004 checks docs/deploy.md's proxy configuration
#			(nginx -t; Debian's policy in containers keeps the
#			service from starting)
#	openssl		t/9004's test certificate; the CAs and server
#			certificates of the TLS tests (t/2030, t/4013)
#	systemd		t/9006 checks the units with systemd-analyze verify
#			(offline: systemd need not run, nor be PID 1)
#	dpkg-dev debhelper lintian
#			t/9007 builds the Debian packages and checks them

set -eu

pkgs="build-essential pkg-config libsodium-dev libssl-dev libsqlite3-dev
	sqlite3 libcurl4-openssl-dev libfuse3-dev fuse3 libmicrohttpd-dev
	libjansson-dev perl procps bc groff-base nodejs npm ca-certificates
	clang libclang-rt-14-dev curl postgresql libpq-dev nginx openssl
	systemd dpkg-dev debhelper lintian"

missing=
for p in $pkgs; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] && continue
	# nodejs and npm may come from elsewhere than Debian; a working
	# binary on PATH is enough.
	case $p in
	nodejs) command -v node >/dev/null 2>&1 && continue ;;
	npm) command -v npm >/dev/null 2>&1 && continue ;;
	clang) command -v clang >/dev/null 2>&1 && continue ;;
	esac
	missing="$missing $p"
done

[ -z "$missing" ] && exit 0

echo "deps: installing:$missing"
if [ "$(id -u)" -eq 0 ]; then
	sudo=
elif command -v sudo >/dev/null 2>&1; then
	sudo=sudo
else
	echo "deps: not root and no sudo; install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
# shellcheck disable=SC2086
$sudo apt-get install -y -q --no-install-recommends $missing
