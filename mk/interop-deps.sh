#!/bin/sh
# SPDX-License-Identifier: ISC
#
# Install the interop test's npm packages (ts-mls) into t/interop from the
# committed package.json and lockfile, once.

set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$top/t/interop
[ -f "$dir/package-lock.json" ] || exit 0
[ -d "$dir/node_modules" ] && [ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ] && exit 0
if ! command -v npm >/dev/null 2>&1; then
	echo "interop-deps: npm missing (run make deps)" >&2
	exit 1
fi
echo "interop-deps: npm ci in t/interop"
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
