#!/bin/sh
# SPDX-License-Identifier: ISC
# 0012-kptool: the kptool interface other tests and the interop test use:
# output lines, exit codes (0 ok, 1 rejected, 2 usage) and secret files.
. "${KP_TOP:-.}/t/tap.sh"

plan 33
K=kptool
hex() { od -An -v -tx1 "$1" | tr -d ' \n'; }

out=$($K gen --identity alice --sign-key "$TMP/sk" --init-priv-out "$TMP/ip" \
    --out "$TMP/kp")
is "$?" 0 "gen exits 0"
like "$out" '^[0-9a-f]{64}$' "gen prints the ref in hex"
is "$(stat -c %a "$TMP/sk")" 600 "a new signing key is 0600"
is "$(stat -c %s "$TMP/sk")" 32 "it is a 32-byte seed"
is "$(stat -c %a "$TMP/ip")" 600 "the init private key is 0600"
is "$(stat -c %s "$TMP/ip")" 32 "it is 32 bytes"
v=$($K validate "$TMP/kp")
is "$?" 0 "validate exits 0"
like "$v" "^ref=$out suite=1 identity=alice not_before=[0-9]+ not_after=[0-9]+\$" \
    "validate prints ref, suite, identity, lifetime"
nb=$(echo "$v" | sed 's/.*not_before=\([0-9]*\).*/\1/')
na=$(echo "$v" | sed 's/.*not_after=\([0-9]*\)/\1/')
is "$((na - nb))" $((14 * 86400 + 3600)) "default lifetime 14 days + 1 h"

# the same key signs the next one; a different ref
out2=$($K gen --suite 3 --identity bob --lifetime-days 2 --sign-key "$TMP/sk" \
    --credentials basic,x509 --last-resort --out "$TMP/kp3")
v=$($K validate "$TMP/kp3")
like "$v" "^ref=$out2 suite=3 identity=bob " "suite 3 KeyPackage validates"
nb=$(echo "$v" | sed 's/.*not_before=\([0-9]*\).*/\1/')
na=$(echo "$v" | sed 's/.*not_after=\([0-9]*\)/\1/')
is "$((na - nb))" $((2 * 86400 + 3600)) "--lifetime-days 2"
ok "two KeyPackages, two refs" test "$out" != "$out2"
# capabilities.credentials without basic, the credential type in use: the
# KeyPackage would not validate, so gen refuses to make it
$K gen --credentials x509 --out "$TMP/kpx" >/dev/null 2>"$TMP/err"
like "$?:$(cat "$TMP/err")" \
    "^1:.*credentials does not list basic \\(0x0001\\), the credential type in use" \
    "gen --credentials x509: exit 1, basic not listed"
ok "gen --credentials x509: no file" test ! -e "$TMP/kpx"
# the signature key is the one in the seed file: bytes 71..102 of both agree
is "$(dd if="$TMP/kp" bs=1 skip=71 count=32 2>/dev/null | od -An -tx1)" \
    "$(dd if="$TMP/kp3" bs=1 skip=71 count=32 2>/dev/null | od -An -tx1)" \
    "both carry the signature key of --sign-key"

# the MLSMessage form validates too
{ printf '\000\001\000\005'; cat "$TMP/kp"; } >"$TMP/kpw"
like "$($K validate "$TMP/kpw")" "^ref=$out " "MLSMessage-wrapped: same ref"

# rejected input: exit 1, the reason on stderr
head -c 100 "$TMP/kp" >"$TMP/cut"
$K validate "$TMP/cut" >"$TMP/o" 2>"$TMP/e"
is "$?" 1 "a truncated KeyPackage: exit 1"
like "$(cat "$TMP/e")" "truncated input" "and says truncated input"
is "$(cat "$TMP/o")" "" "nothing on stdout"
{ cat "$TMP/kp"; printf x; } >"$TMP/trail"
$K validate "$TMP/trail" 2>"$TMP/e"
is "$?" 1 "a trailing byte: exit 1"
like "$(cat "$TMP/e")" "trailing bytes" "and says trailing bytes"
# flip the low bit of a signature byte: any other write may leave it as it was
cp "$TMP/kp" "$TMP/flip"
off=$(($(stat -c %s "$TMP/kp") - 3))
b=$(od -An -tu1 -j "$off" -N1 "$TMP/kp" | tr -d ' ')
printf "\\$(printf %o $((b ^ 1)))" |
    dd of="$TMP/flip" bs=1 seek="$off" conv=notrunc 2>/dev/null
is "$(cmp -l "$TMP/kp" "$TMP/flip" | wc -l)" 1 \
    "the copy differs from the original in one byte"
$K validate "$TMP/flip" 2>"$TMP/e"
is "$?" 1 "a changed signature: exit 1"
like "$(cat "$TMP/e")" "bad KeyPackage signature" "and says so"

# usage errors: exit 2
$K gen --identity x 2>/dev/null
is "$?" 2 "gen without --out: exit 2"
$K gen --suite 2 --out "$TMP/x" 2>/dev/null
is "$?" 2 "gen --suite 2: exit 2"
$K frobnicate 2>/dev/null
is "$?" 2 "an unknown command: exit 2"
$K validate 2>/dev/null
is "$?" 2 "validate without a file: exit 2"

# --init-priv-out never overwrites
$K gen --init-priv-out "$TMP/ip" --out "$TMP/kp4" >/dev/null 2>&1
is "$?" 1 "an existing --init-priv-out file is refused: exit 1"

# open-welcome: the Welcomes of the vectors.  vec FILE N DIR writes the
# hex fields of entry N of FILE into DIR, one file each.
vec() {
	perl -MJSON::PP -e '
	    local $/; open my $f, "<", $ARGV[0] or die; my $j = decode_json(<$f>);
	    my $e = $j->[$ARGV[1]];
	    for my $k (keys %$e) {
		next unless defined $e->{$k} && !ref $e->{$k} &&
		    $e->{$k} =~ /^([0-9a-f]{2})+$/;
		open my $o, ">", "$ARGV[2]/$k" or die; binmode $o;
		print $o pack("H*", $e->{$k}); }' \
	    "$KP_TOP/../shared/vectors/$1" "$2" "$3"
}
if perl -MJSON::PP -e 1 2>/dev/null; then
	# welcome.json carries no ratchet tree: a joiner cannot check it
	mkdir "$TMP/w0"
	vec welcome.json 0 "$TMP/w0"
	$K open-welcome --welcome "$TMP/w0/welcome" \
	    --kp "$TMP/w0/key_package" --init-priv "$TMP/w0/init_priv" \
	    >"$TMP/out" 2>"$TMP/err"
	like "$?:$(cat "$TMP/out" "$TMP/err")" "^1:.*no ratchet tree" \
	    "open-welcome without a tree: exit 1, no ratchet tree"
	# passive-client-welcome.json #4: the tree beside the Welcome; its
	# leaves' lifetimes ended in 2024
	mkdir "$TMP/w4"
	vec passive-client-welcome.json 4 "$TMP/w4"
	set -- --welcome "$TMP/w4/welcome" --kp "$TMP/w4/key_package" \
	    --init-priv "$TMP/w4/init_priv"
	out=$($K open-welcome "$@" --tree "$TMP/w4/ratchet_tree" \
	    --any-lifetime)
	like "$out" '^group_id=[0-9a-f]+ epoch=[0-9]+$' \
	    "open-welcome --tree --any-lifetime prints group_id and epoch"
	$K open-welcome "$@" --tree "$TMP/w4/ratchet_tree" >/dev/null \
	    2>"$TMP/err"
	like "$?:$(cat "$TMP/err")" "^1:.*lifetime expired" \
	    "without --any-lifetime: exit 1, lifetime expired"
	$K open-welcome "$@" --any-lifetime >/dev/null 2>"$TMP/err"
	like "$?:$(cat "$TMP/err")" "^1:.*no ratchet tree" \
	    "without --tree: exit 1, no ratchet tree"
else
	skip 4 "no JSON::PP"
fi
