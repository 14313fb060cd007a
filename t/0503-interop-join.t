#!/bin/sh
# SPDX-License-Identifier: ISC
#
# The joining checks of kp_welcome_open (RFC 9420 §12.4.3.1) against
# Welcomes made by ts-mls, an independent MLS implementation, in suites 1
# and 3 (docs/mls.md):
#   - a Commit with a path: the Welcome's path_secret gives the tree's keys
#     of the common ancestor and above, and kptool opens it;
#   - no ratchet tree in the Welcome: refused ("no ratchet tree") unless
#     the tree is given beside it;
#   - the GroupInfo signed with another key than the committer's leaf's:
#     refused ("bad GroupInfo signature"), by ts-mls's open-welcome.mjs
#     too;
#   - a parent node whose parent_hash was flipped before the Commit that
#     adds ours, which ts-mls hashed and signed as it was: refused ("parent
#     hash not valid"), while open-welcome.mjs, which checks no parent
#     hash, opens it: the parent hash is its only fault.
# Each refusal is exit 1 with its own message.

. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/interop/need-node.sh"

[ -x "$KP_BUILD/t/kptool" ] || bail "$KP_BUILD/t/kptool missing (make tests)"

plan 16

kptool() { "$KP_BUILD/t/kptool" "$@"; }

for s in 1 3; do
	d=$TMP/s$s
	mkdir "$d"
	kptool gen --suite "$s" --identity "joiner-$s" \
	    --init-priv-out "$d/init" --out "$d/kp" >/dev/null ||
	    bail "kptool gen"
	# mkw NAME OPTIONS...: a ts-mls Welcome for our key into $d/NAME
	mkw() {
		_n=$1; shift
		node "$INTEROP/make-welcome.mjs" --suite "$s" --kp "$d/kp" \
		    --group-id 6a6f696e --welcome-out "$d/$_n" "$@"
	}
	# opens NAME [OPTIONS]: kptool open-welcome's exit and output
	opens() {
		_n=$1; shift
		kptool open-welcome --welcome "$d/$_n" --kp "$d/kp" \
		    --init-priv "$d/init" "$@" 2>&1
		echo "exit $?"
	}

	want=$(mkw path --with-path --others 1 --epochs 1) ||
	    bail "make-welcome --with-path"
	like "$want" '^group_id=6a6f696e epoch=3$' \
	    "suite $s: ts-mls adds ours in a Commit with a path"
	is "$(opens path)" "$want
exit 0" "suite $s: kptool opens it: path_secret, parent hashes, leaves"

	want=$(mkw notree --no-ratchet-tree --tree-out "$d/tree") ||
	    bail "make-welcome --no-ratchet-tree"
	is "$(opens notree)" "kptool: $d/notree: Welcome has no ratchet tree
exit 1" "suite $s: no ratchet tree: refused"
	is "$(opens notree --tree "$d/tree")" "$want
exit 0" "suite $s: the same with the tree given beside it opens"

	mkw badsig --break-signature >/dev/null || bail "--break-signature"
	is "$(opens badsig)" "kptool: $d/badsig: bad GroupInfo signature
exit 1" "suite $s: the GroupInfo signed with another key: refused"
	node "$INTEROP/open-welcome.mjs" --welcome "$d/badsig" --kp "$d/kp" \
	    --init-priv "$d/init" >"$d/out" 2>&1
	is "$?:$(cat "$d/out")" \
	    "1:open-welcome.mjs: bad GroupInfo signature" \
	    "suite $s: ... and by ts-mls"

	want=$(mkw badph --break-parent-hash) || bail "--break-parent-hash"
	is "$(opens badph)" \
	    "kptool: $d/badph: ratchet tree parent hash not valid
exit 1" "suite $s: a parent_hash byte flipped: refused"
	is "$(node "$INTEROP/open-welcome.mjs" --welcome "$d/badph" \
	    --kp "$d/kp" --init-priv "$d/init" 2>&1)" "$want" \
	    "suite $s: ... which open-welcome.mjs, checking none, opens"
done
