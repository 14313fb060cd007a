#!/bin/sh
# SPDX-License-Identifier: ISC
#
# Interop with ts-mls, an independent MLS implementation (RFC 9420), for
# suites 1 and 3 (docs/interop.md):
#   - our KeyPackage (kptool gen) validates in ts-mls with the same ref,
#     and both sides read the same suite, identity and lifetime from it;
#   - a ts-mls KeyPackage validates in kptool, raw and as an MLSMessage,
#     with the same ref, identity and lifetime;
#   - a ts-mls group that adds our KeyPackage makes a Welcome that kptool
#     open-welcome opens with the same group_id and epoch, the ratchet
#     tree given beside it (suite 3) or in it (suite 1, also without the
#     tree beside);
#   - bad twins: our KeyPackage with a flipped signature bit is rejected by
#     ts-mls, a ts-mls KeyPackage one byte short is rejected by kptool,
#     both with exit 1;
#   - suite 1: ts-mls KeyPackages with extensions (last_resort, the default
#     application_id, a private one) validate in kptool with the same
#     line, and kptool rejects them when a non-default one is not in the
#     capabilities; ts-mls KeyPackages expired, or valid only later, are
#     rejected by kptool, and so are ones with init_key = encryption_key
#     or a bad LeafNode signature; a Welcome that needs an external PSK is
#     refused.

. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/interop/need-node.sh"

[ -x "$KP_BUILD/t/kptool" ] || bail "$KP_BUILD/t/kptool missing (make tests)"

# 64 more bytes: identities whose length takes a 2-byte varint.
long=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx

plan 43

for s in 1 3; do
	d=$TMP/s$s
	mkdir "$d"

	# Ours into ts-mls.
	ref=$(kptool gen --suite "$s" --identity "kpool-$s" \
	    --sign-key "$d/sign.key" --init-priv-out "$d/ours.init" \
	    --out "$d/ours.kp")
	like "$ref" '^[0-9a-f]{64}$' "suite $s: kptool gen prints a ref"
	ours=$(kptool validate "$d/ours.kp")
	like "$ours" "^ref=$ref suite=$s identity=kpool-$s not_before=[0-9]+ not_after=[0-9]+\$" \
	    "suite $s: kptool validates its own KeyPackage"
	# And a last-resort one: x509 in the capabilities too, the
	# last_resort extension, a long UTF-8 identity, 90 days.
	kptool gen --suite "$s" --identity "kpool-ünï-$s-$long" --last-resort \
	    --credentials basic,x509 --lifetime-days 90 \
	    --sign-key "$d/sign.key" --out "$d/lr.kp" >/dev/null
	lr=$(kptool validate "$d/lr.kp")
	like "$lr" "^ref=[0-9a-f]{64} suite=$s identity=kpool-ünï-$s-$long " \
	    "suite $s: kptool validates its own last-resort KeyPackage"
	is "$(node "$INTEROP/validate-kp.mjs" "$d/ours.kp" "$d/lr.kp" 2>&1)" \
	    "$ours
$lr" "suite $s: ts-mls validates both: same ref, suite, identity, lifetime"

	# Theirs into kptool: suite 1 with GREASE in every capability list,
	# suite 3 with a long identity.
	if [ "$s" = 1 ]; then
		g=--grease id=ts-mls-1
	else
		g= id=ts-mls-3-$long
	fi
	theirs=$(node "$INTEROP/gen-kp.mjs" --suite "$s" $g \
	    --identity "$id" --out "$d/theirs.kp")
	like "$theirs" "^ref=[0-9a-f]{64} suite=$s identity=$id " \
	    "suite $s: ts-mls makes a KeyPackage"
	is "$(kptool validate "$d/theirs.kp" 2>&1)" "$theirs" \
	    "suite $s: kptool validates theirs: same ref, suite, identity, lifetime"
	{ printf '\000\001\000\005'; cat "$d/theirs.kp"; } >"$d/theirs.msg"
	is "$(kptool validate "$d/theirs.msg" 2>&1)" "$theirs" \
	    "suite $s: the same as an MLSMessage"

	# A ts-mls group adds ours; kptool opens the Welcome.  Suite 1: the
	# first Commit, the GroupInfo carries the ratchet tree; suite 3: at
	# epoch 3 with two other new members, no ratchet tree.
	if [ "$s" = 1 ]; then
		opts="--epochs 0 --others 0"
		want="group_id=6b706f6f6c2d696e7465726f702d31 epoch=1"
	else
		opts="--epochs 2 --others 2 --no-ratchet-tree"
		want="group_id=6b706f6f6c2d696e7465726f702d33 epoch=3"
	fi
	is "$(node "$INTEROP/make-welcome.mjs" --suite "$s" --kp "$d/ours.kp" \
	    --group-id "$(printf kpool-interop-$s | od -An -tx1 | tr -d ' \n')" \
	    $opts --welcome-out "$d/welcome" --signer-pub-out "$d/signer.pub" \
	    --tree-out "$d/tree" 2>&1)" "$want" \
	    "suite $s: ts-mls adds ours to a group"
	is "$(kptool open-welcome --welcome "$d/welcome" --kp "$d/ours.kp" \
	    --init-priv "$d/ours.init" --tree "$d/tree" 2>&1)" \
	    "$want" "suite $s: kptool opens the Welcome: same group_id and epoch"
	if [ "$s" = 1 ]; then
		is "$(kptool open-welcome --welcome "$d/welcome" \
		    --kp "$d/ours.kp" --init-priv "$d/ours.init" 2>&1)" "$want" \
		    "suite $s: the same with the tree of the ratchet_tree extension"
	fi
	is "$(node "$INTEROP/open-welcome.mjs" --welcome "$d/welcome" \
	    --kp "$d/ours.kp" --init-priv "$d/ours.init" \
	    --signer-pub "$d/signer.pub" 2>&1)" \
	    "$want" "suite $s: ts-mls opens it too with our init key"

	# Bad twins (t/0503 has those of the joining checks).
	perl -0777 -pe 'substr($_, -1, 1) ^= "\x01"' "$d/ours.kp" >"$d/flip.kp"
	node "$INTEROP/validate-kp.mjs" "$d/flip.kp" 2>"$d/err"
	is "$? $(head -n 1 "$d/err")" \
	    "1 $d/flip.kp: Invalid keypackage signature" \
	    "suite $s: ts-mls rejects ours with a flipped signature bit, exit 1"
	head -c -1 "$d/theirs.kp" >"$d/short.kp"
	kptool validate "$d/short.kp" >"$d/out" 2>"$d/err"
	is "$?:$(wc -c <"$d/out")" "1:0" \
	    "suite $s: kptool rejects theirs one byte short, exit 1"
	like "$(cat "$d/err")" "truncated" "suite $s: ... saying it is truncated"
	kptool open-welcome --welcome "$d/welcome" --kp "$d/ours.kp" \
	    --init-priv "$d/sign.key" --tree "$d/tree" >/dev/null 2>&1
	is "$?" 1 "suite $s: kptool does not open the Welcome with another key"
	head -c -1 "$d/welcome" >"$d/short.welcome"
	kptool open-welcome --welcome "$d/short.welcome" --kp "$d/ours.kp" \
	    --init-priv "$d/ours.init" --tree "$d/tree" >/dev/null 2>"$d/err"
	like "$?:$(cat "$d/err")" "^1:.*truncated" \
	    "suite $s: nor one byte short (truncated)"
	kptool open-welcome --welcome "$d/welcome" --kp "$d/lr.kp" \
	    --init-priv "$d/ours.init" --tree "$d/tree" >/dev/null 2>"$d/err"
	like "$?:$(cat "$d/err")" "^1:.*not addressed" \
	    "suite $s: nor for a KeyPackage it does not name"
done

# Extensions (suite 1): what kptool accepts of ts-mls KeyPackages and what
# it refuses.  A non-default extension in use must be listed in the leaf's
# capabilities (RFC 9420 §7.2, §10.1); default ones (1 to 5) need not be.
d=$TMP/ext
mkdir "$d"
for e in "lr --kp-ext 10" "appid --leaf-ext 1:6170702d6964" \
    "private --leaf-ext 0xf001:01"; do
	set -- $e
	n=$1; shift
	line=$(node "$INTEROP/gen-kp.mjs" --identity "ext-$n" "$@" \
	    --out "$d/$n.kp")
	is "$(kptool validate "$d/$n.kp" 2>&1)" "$line" \
	    "kptool validates theirs with $n extension listed as needed"
done
# ts-mls 1.6.4 itself accepts the first (it checks only LeafNode
# extensions against the capabilities); kptool, like OpenMLS, does not.
for e in "lr --kp-ext 10" "private --leaf-ext 0xf001:01"; do
	set -- $e
	n=$1; shift
	node "$INTEROP/gen-kp.mjs" --identity "ext-$n" "$@" --unlisted \
	    --out "$d/$n-unlisted.kp" >/dev/null
	kptool validate "$d/$n-unlisted.kp" >/dev/null 2>"$d/err"
	like "$?:$(cat "$d/err")" "^1:.*capabilities" \
	    "kptool rejects theirs with $n extension not in capabilities, exit 1"
done

# Lifetimes (suite 1): ts-mls KeyPackages that expired an hour ago or
# become valid in an hour are rejected by kptool.
now=$(date +%s)
node "$INTEROP/gen-kp.mjs" --identity old --not-before $((now - 7200)) \
    --not-after $((now - 3600)) --out "$d/old.kp" >/dev/null
kptool validate "$d/old.kp" >/dev/null 2>"$d/err"
like "$?:$(cat "$d/err")" "^1:.*expired" \
    "kptool rejects theirs expired an hour ago, exit 1"
node "$INTEROP/gen-kp.mjs" --identity early --not-before $((now + 3600)) \
    --not-after $((now + 7200)) --out "$d/early.kp" >/dev/null
kptool validate "$d/early.kp" >/dev/null 2>"$d/err"
like "$?:$(cat "$d/err")" "^1:.*not yet valid" \
    "kptool rejects theirs valid only in an hour, exit 1"

# Faults made by ts-mls's own encoder (suite 1), each KeyPackage signed
# again so that it holds that one fault: init_key equal to the
# encryption key, and a LeafNode signature with a flipped bit.
node "$INTEROP/gen-kp.mjs" --identity same --same-keys --out "$d/same.kp" \
    >/dev/null
kptool validate "$d/same.kp" >/dev/null 2>"$d/err"
like "$?:$(cat "$d/err")" "^1:.*init_key equals encryption_key" \
    "kptool rejects theirs with init_key = encryption_key, exit 1"
node "$INTEROP/gen-kp.mjs" --identity leafsig --bad-leaf-sig \
    --out "$d/leafsig.kp" >/dev/null
kptool validate "$d/leafsig.kp" >/dev/null 2>"$d/err"
like "$?:$(cat "$d/err")" "^1:.*LeafNode signature" \
    "kptool rejects theirs with a bad LeafNode signature, exit 1"

# A Welcome whose Commit carries an external PSK (suite 1): kptool has no
# PSK to give, so it refuses to open it.
d=$TMP/s1
node "$INTEROP/make-welcome.mjs" --suite 1 --kp "$d/ours.kp" \
    --external-psk 0909:0707070707070707 --welcome-out "$d/psk.welcome" \
    >/dev/null
kptool open-welcome --welcome "$d/psk.welcome" --kp "$d/ours.kp" \
    --init-priv "$d/ours.init" >/dev/null 2>"$d/err"
like "$?:$(cat "$d/err")" "^1:.*PSK" \
    "kptool refuses a Welcome that needs a PSK, exit 1"
