#!/bin/sh
# SPDX-License-Identifier: ISC
#
# make bench, the pool: generate and persist 32 keys in one transaction
# (beside the same keys without the store), and refresh against a local
# kpool-server (an empty pool filled to 32 + 1, and a healthy one).
set -eu
KP_BUILD=${KP_BUILD:-build}
dir=$(mktemp -d "${TMPDIR:-/tmp}/kpool-poolbench.XXXXXX")
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

url=
if [ -x "$KP_BUILD/kpool-server" ]; then
	"$KP_BUILD/kpool-server" --listen 127.0.0.1:0 --db "$dir/server.db" \
	    >"$dir/port" 2>"$dir/server.log" &
	pid=$!
	i=0
	while [ -z "$(head -n 1 "$dir/port" 2>/dev/null | tr -dc 0-9)" ]; do
		i=$((i + 1))
		if [ "$i" -gt 200 ] || ! kill -0 "$pid" 2>/dev/null; then
			echo "run-pool: kpool-server did not start" >&2
			exit 1
		fi
		sleep 0.05
	done
	url=http://127.0.0.1:$(head -n 1 "$dir/port" | tr -dc 0-9)
else
	echo "run-pool: no kpool-server built; refresh figures skipped"
fi
"$KP_BUILD/bench/poolbench" "$dir" $url
