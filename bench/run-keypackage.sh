#!/bin/sh
# SPDX-License-Identifier: ISC
# KeyPackage generate+encode and validate per second on one core, beside
# the raw libsodium cost of the same primitives (see docs/benchmarks.md).
set -eu
: "${KP_BUILD:=$(cd "$(dirname "$0")/.." && pwd)/build}"
exec "$KP_BUILD/bench/kpbench" "$@"
