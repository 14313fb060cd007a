#!/bin/sh
# SPDX-License-Identifier: ISC
# 4104-fault-scenario: the scenario runner (t/fault/scenario.c,
# docs/reliability.md "The scenario runner") on a fixed set of seeds:
# each seed's world (a kpoolfs mount, library owners and inviters,
# kpool-server under faultcrash, faultproxy with seeded faults) runs
# its operations, heals, and every invariant holds.  On PostgreSQL
# (KP_BACKEND=pg, the Makefile's PG_TESTS) the first four seeds.
#
# A seed that found a bug stays in this list once it is fixed, with a
# comment naming the bug, so that it keeps being checked.
. "${KP_TOP:-.}/t/tap.sh"
need_fuse

if db_is_pg; then
	SEEDS="1 2 3 4"
else
	# 159: kpoolfs was killed by a seeded crash after the runner had
	# healed (faultcrash; t/4105)
	SEEDS="$(seq 1 24) 159"
fi
plan $(echo $SEEDS | wc -w)

for s in $SEEDS; do
	out=$(TMPDIR=$TMP "$KP_BUILD/t/scenario" --seed "$s" 2>&1)
	rc=$?
	echo "$out" | sed 's/^/# /'
	is "$rc" 0 "seed $s: every invariant held"
done
