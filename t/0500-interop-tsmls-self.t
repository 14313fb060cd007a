#!/bin/sh
# SPDX-License-Identifier: ISC
#
# The ts-mls side of the interop test on its own, ts-mls to ts-mls, for
# suites 1 and 3: what gen-kp.mjs writes validate-kp.mjs accepts with the
# same ref; a Welcome from make-welcome.mjs opens in open-welcome.mjs with
# the same group_id and epoch.  Bad twins: a flipped signature bit,
# trailing bytes, a wrong init key.  t/0501 relies on these scripts.

. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/interop/need-node.sh"

plan 18

for s in 1 3; do
	kp=$TMP/kp$s
	line=$(node "$INTEROP/gen-kp.mjs" --suite "$s" --identity "alice$s" \
	    --out "$kp" --init-priv-out "$kp.init" --sign-pub-out "$kp.pub")
	like "$line" "^ref=[0-9a-f]{64} suite=$s identity=alice$s not_before=[0-9]+ not_after=[0-9]+\$" \
	    "suite $s: gen-kp prints the KeyPackage's summary"
	is "$(stat -c %s "$kp.init") $(stat -c %s "$kp.pub")" "32 32" \
	    "suite $s: raw 32-byte init private key and signature key"
	is "$(node "$INTEROP/validate-kp.mjs" "$kp")" "$line" \
	    "suite $s: validate-kp accepts it with the same ref"

	want="group_id=00c0ffee0$s epoch=3"
	is "$(node "$INTEROP/make-welcome.mjs" --suite "$s" --kp "$kp" \
	    --group-id 00c0ffee0$s --epochs 2 --others 2 \
	    --welcome-out "$kp.welcome" --signer-pub-out "$kp.signer")" \
	    "$want" "suite $s: make-welcome adds it at epoch 3"
	is "$(node "$INTEROP/open-welcome.mjs" --welcome "$kp.welcome" \
	    --kp "$kp" --init-priv "$kp.init" --signer-pub "$kp.signer")" \
	    "$want" "suite $s: open-welcome opens it, same group_id and epoch"

	# Bad twins.
	perl -0777 -pe 'substr($_, -1, 1) ^= "\x01"' "$kp" >"$kp.flip"
	exits 1 "suite $s: a flipped signature bit is rejected (exit 1)" \
	    node "$INTEROP/validate-kp.mjs" "$kp.flip"
	head -c 32 /dev/zero >"$kp.zero"
	exits 1 "suite $s: the Welcome does not open with another init key" \
	    node "$INTEROP/open-welcome.mjs" --welcome "$kp.welcome" \
	    --kp "$kp" --init-priv "$kp.zero"
done

# The MLSMessage form.
line=$(node "$INTEROP/gen-kp.mjs" --identity wrapped --wrapped \
    --out "$TMP/wrapped")
is "$(node "$INTEROP/validate-kp.mjs" --wrapped "$TMP/wrapped")" "$line" \
    "gen-kp --wrapped and validate-kp --wrapped agree"

# Exact outcomes: exit 1 and the reason, and exit 2 on usage errors.
node "$INTEROP/validate-kp.mjs" "$TMP/kp1.flip" 2>"$TMP/err"
is "$? $(head -n 1 "$TMP/err")" "1 $TMP/kp1.flip: Invalid keypackage signature" \
    "the flipped bit fails the KeyPackage signature, exit 1"
cat "$TMP/kp1" "$TMP/kp1.init" >"$TMP/trail"
node "$INTEROP/validate-kp.mjs" "$TMP/trail" 2>"$TMP/err"
is "$? $(head -n 1 "$TMP/err")" "1 $TMP/trail: 32 trailing bytes" \
    "trailing bytes are rejected, exit 1"
node "$INTEROP/gen-kp.mjs" --suite 2 --identity x --out "$TMP/x" 2>/dev/null
is "$?" 2 "an unsupported suite is a usage error, exit 2"
