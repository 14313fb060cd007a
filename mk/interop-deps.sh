#!/bin/sh
# SPDX-License-Identifier: ISC
#
# Install the interop test's npm packages (ts-mls) into t/interop from the
# committed package.json and lockfile, once.
#
# ts-mls needs Node.js >= 20.19.  Debian 12's own nodejs is 18: when the
# node on PATH is older (or absent), a Node.js 20 binary is installed
# from the npm registry (package node-linux-<arch>) into t/interop/.node,
# and t/interop/.node/bin goes first on the tests' PATH (see Makefile).

set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$top/t/interop
nodever=20.20.2
[ -f "$dir/package-lock.json" ] || exit 0
if ! command -v npm >/dev/null 2>&1; then
	echo "interop-deps: npm missing (run make deps)" >&2
	exit 1
fi

node_ok() {
	v=$(node -p 'process.versions.node' 2>/dev/null) || return 1
	maj=${v%%.*}; min=${v#*.}; min=${min%%.*}
	[ "$maj" -gt 20 ] || { [ "$maj" -eq 20 ] && [ "$min" -ge 19 ]; }
}

PATH=$dir/.node/bin:$PATH
if ! node_ok; then
	case $(uname -m) in
	x86_64) arch=x64 ;;
	aarch64) arch=arm64 ;;
	*) echo "interop-deps: no Node.js >= 20.19 for $(uname -m)" >&2
	   exit 1 ;;
	esac
	echo "interop-deps: node >= 20.19 not found; installing" \
	    "node-linux-$arch@$nodever from npm into t/interop/.node"
	npm install --prefix "$dir/.node" --no-save --no-audit --no-fund \
	    --loglevel=error "node-linux-$arch@$nodever"
	mkdir -p "$dir/.node/bin"
	ln -sf "../node_modules/node-linux-$arch/bin/node" "$dir/.node/bin/node"
	node_ok || { echo "interop-deps: installed node does not run" >&2; exit 1; }
fi

[ -d "$dir/node_modules" ] &&
    [ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ] &&
    exit 0
echo "interop-deps: npm ci in t/interop"
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
