#!/bin/sh
# SPDX-License-Identifier: ISC
# 3020-tree-status-json: status.json holds the facts of status as one
# JSON object (each "key: value" line of status is the same member, a
# number for counts; last_sync, server and last_error are null when
# none), plus public_key; and the last refused operation is readable in
# both: an mv of a key an inviter holds (EBUSY, the server's code and
# message), a ctl sync while the server is down (EHOSTUNREACH).
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/3-fs.sh"
need_fuse
perl -MJSON::PP -e 1 2>/dev/null || bail "no JSON::PP"
plan 14

start_server
M=$TMP/mnt
mount_pool "$TMP/alice.db" "$M" -o user=alice,server="$SERVER_URL",refresh=0
A=$M/available R=$M/reserved

# same STATUS JSON: "ok" when every line of STATUS is the member of the
# same name in JSON (null as "never" for last_sync, "none" for server
# and last_error; last_error an object as status renders it) and JSON
# has no member but those and public_key; else what differs.
same() {
	perl -MJSON::PP -e '
	    my ($st, $js) = @ARGV;
	    my $j = decode_json($js);
	    my %seen = (public_key => 1);
	    my @bad;
	    for my $l (split /\n/, $st) {
		my ($k, $v) = $l =~ /^([^:]+): (.*)$/ or next;
		$seen{$k} = 1;
		my $x = $j->{$k};
		if ($k eq "last_error" && ref $x) {
			$x = join(" ", $x->{time}, $x->{op}, $x->{ref} // "-",
			    $x->{from} // "-", $x->{to} // "-", $x->{errno},
			    $x->{code} // "-") . ": " . $x->{message};
		}
		$x = $k eq "last_sync" ? "never" : "none" if !defined $x;
		push @bad, "$k: $v vs $x" if "$x" ne $v;
	    }
	    for my $k (sort keys %$j) {
		push @bad, "only in JSON: $k" unless $seen{$k};
	    }
	    print @bad ? join("; ", @bad) : "ok";' "$1" "$2"
}

is "$(same "$(cat "$M/status")" "$(cat "$M/status.json")")" ok \
    "a new pool: status.json is status, as JSON"
is "$(perl -MJSON::PP -e 'local $/; my $j = decode_json(<STDIN>);
    print join(" ", map { defined $j->{$_} ? $j->{$_} : "null" }
    qw(total available health server last_error))' <"$M/status.json")" \
    "0 0 empty $SERVER_URL null" "its members: numbers, strings, null"
is "$(stat -c %s "$M/status.json")" "$(wc -c <"$M/status.json")" \
    "status.json: stat size = bytes read"
is "$(tail -c 1 "$M/status.json" | od -An -c | tr -d ' ')" '\n' \
    "it ends with a newline"
is "$(grep -c . "$M/status.json")" 1 "one line"

ctl "$M" "generate 3"
ctl "$M" sync
is "$(same "$(cat "$M/status")" "$(cat "$M/status.json")")" ok \
    "after a sync: the same facts again"
is "$(stat -c %.9Y "$M/status.json")" "$(stat -c %.9Y "$M/status")" \
    "status.json's mtime is status's (the last change or sync)"

# an inviter holds a key: the mv is refused, and the reason is kept
K=$KP_BUILD/kpool
"$K" --store "$TMP/bob.db" init --server "$SERVER_URL" --user bob >/dev/null ||
    bail "kpool init"
"$K" --store "$TMP/bob.db" register >/dev/null || bail "kpool register"
held=$("$K" --store "$TMP/bob.db" --json reserve alice |
    perl -MJSON::PP -e 'local $/; print decode_json(<STDIN>)->{ref}')
like "$held" '^[0-9a-f]{64}$' "bob reserves one of alice's keys (kpool)"
is_errno EBUSY "mv of the inviter's key: EBUSY" rename "$A/$held" "$R/$held"
le=$(sed -n 's/^last_error: //p' "$M/status")
like "$le" "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z mv $held available reserved EBUSY " \
    "status: last_error: the time (ns), mv, the key, from, to, the errno"
is "${le#* mv $held available reserved EBUSY }" \
    "not_available: reserve: $held is not available on the server" \
    "and the server's code and message"
is "$(same "$(cat "$M/status")" "$(cat "$M/status.json")")" ok \
    "status.json carries the same last_error, as an object"

# the server goes away: the refusal of a ctl pass is not an mv's, the
# next refused mv replaces the last one
stop_server
k=$(ls "$A" | grep -v "$held" | head -n 1)
is_errno EHOSTUNREACH "the server down: mv available -> reserved" \
    rename "$A/$k" "$R/$k"
like "$(sed -n 's/^last_error: //p' "$M/status")" \
    " mv $k available reserved EHOSTUNREACH -: reserve: [^ ]" \
    "last_error: EHOSTUNREACH, no code from a server that did not answer"
