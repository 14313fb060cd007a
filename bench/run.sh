#!/bin/sh
# SPDX-License-Identifier: ISC
# make bench: run every bench/run-*.sh in turn.  Each prints its figures
# beside the reference it measures in the same run.
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
for b in "$dir"/run-*.sh; do
	[ -e "$b" ] || continue
	echo "== $(basename "$b" .sh | sed 's/^run-//')"
	sh "$b"
done
