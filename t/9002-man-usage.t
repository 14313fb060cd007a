#!/bin/sh
# SPDX-License-Identifier: ISC
# 9002-man-usage: each program's usage() text, printed on a bad option,
# is its man page's SYNOPSIS, word for word, so the two cannot drift.
# Both are compared with whitespace collapsed (and the space mdoc puts
# before an ellipsis dropped); the exit status is the one EXIT STATUS
# gives for a usage error.
. "${KP_TOP:-.}/t/tap.sh"

plan 6

# synopsis PAGE: the SYNOPSIS section of PAGE as formatted text.
synopsis() {
	groff -mandoc -Tascii -P-cbu "$KP_TOP/man/$1" 2>/dev/null |
	    sed -n '/^SYNOPSIS/,/^[A-Z]/p' | sed '1d;$d' | flat
}

# flat: stdin as one line, whitespace collapsed, " ..." as "...".
flat() {
	tr -s ' \t\n' '   ' | sed 's/^ //; s/ $//; s/ \.\.\./.../g'
}

# usage FILE: what FILE (a program's stderr) holds from its "usage:"
# line on, without "usage:".
usage() {
	sed -n '/^usage: /,$p' "$1" | sed '1s/^usage: //' | flat
}

for p in "kpool-server 8 2" "kpoolfs 1 1" "kpool 1 2"; do
	set -- $p
	"$KP_BUILD/$1" --no-such-option >/dev/null 2>"$TMP/err"
	rc=$?
	is "$(usage "$TMP/err")" "$(synopsis "$1.$2")" \
	    "$1: usage() is the SYNOPSIS of $1($2)"
	is "$rc" "$3" "$1: a bad option exits $3, as EXIT STATUS says"
done
