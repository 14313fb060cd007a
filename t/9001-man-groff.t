#!/bin/sh
# SPDX-License-Identifier: ISC
# 9001-man-groff: every man page formats without a warning.
. "${KP_TOP:-.}/t/tap.sh"

pages=$(ls "$KP_TOP"/man/*.[1-8] 2>/dev/null)
[ -n "$pages" ] || skip_all "no man pages yet"
plan $(echo "$pages" | wc -l)
for m in $pages; do
	out=$(groff -mandoc -ww -z "$m" 2>&1)
	is "$out" "" "groff -mandoc -ww -z $(basename "$m") is silent"
done
