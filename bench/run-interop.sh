#!/bin/sh
# SPDX-License-Identifier: ISC
#
# The ts-mls reference: KeyPackage generation and validation per second in
# ts-mls (t/interop/bench-kp.mjs), suite 1, one core (pinned to CPU 0,
# one libuv worker thread), so kpool's figures can be set beside an
# independent implementation's.  Needs node >= 20.19 and t/interop's
# node_modules (make bench installs them).
set -eu
top=${KP_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
pin=
command -v taskset >/dev/null 2>&1 && pin="taskset -c 0"
UV_THREADPOOL_SIZE=1 $pin node "$top/t/interop/bench-kp.mjs" --suite 1 \
    --seconds "${KP_BENCH_SECONDS:-3}"
