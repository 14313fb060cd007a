#!/bin/sh
# SPDX-License-Identifier: ISC
# 4014-e2e-guide: docs/guide.md's worked session, run as written.  The
# test extracts every block the guide marks "<!-- guide-test cwd=DIR
# -->" (DIR mnt or top), runs its "$ " commands in one bash, in order,
# in a directory laid out as the repository's top after make run (build/
# and t/ there, the store in run/, the pool of demo mounted at mnt/ and
# filled), against a real server (its URL for the guide's
# http://127.0.0.1:8477), and checks each command: it fails exactly when
# the guide shows an error ("write error", "cannot move"), and what it
# prints is what the guide shows, whitespace aside, with "..." standing
# for any text (the guide shortens refs and keys) and any RFC 3339 time
# for the guide's.
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/3-fs.sh"
need_fuse
. "$KP_TOP/t/interop/need-node.sh"

W=$TMP/top
mkdir -p "$W/run"
ln -s "$KP_BUILD" "$W/build"
ln -s "$KP_TOP/t" "$W/t"
start_server
mount_pool "$W/run/demo.db" "$W/mnt" -o user=demo,server="$SERVER_URL",refresh=0
ctl "$W/mnt" refresh		# what make run does: publish the target
_tap_mounts="$W/mnt2 $_tap_mounts"	# the second device's, if mounted

# The commands and what each should print, from the guide: a script of
# "CWD<TAB>COMMAND" records and expected outputs, NUL-separated.
perl -e '
	my ($url) = @ARGV;
	open(my $g, "<", "$ENV{KP_TOP}/docs/guide.md") or die;
	my ($cwd, $in, $first, @cmds);
	while (my $l = <$g>) {
		chomp $l;
		if ($l =~ /^<!-- guide-test cwd=(\w+) -->$/) {
			$cwd = $1;
			$first = 1;
			next;
		}
		if ($l =~ /^```/) {
			if (defined $cwd && !$in) { $in = 1; next }
			if ($in) { $in = 0; $cwd = undef; next }
			next;
		}
		next unless $in;
		if ($l =~ /^\$ (.*)$/) {
			# a block starts in its directory; then the shell goes on
			push @cmds, { cwd => $first ? $cwd : "", cmd => $1,
			    out => [] };
			$first = 0;
		} elsif (@cmds && $cmds[-1]{cmd} =~ /\\$/) {
			$cmds[-1]{cmd} =~ s/\\$//;
			$cmds[-1]{cmd} .= " " . ($l =~ s/^\s+//r);
		} elsif (@cmds) {
			push @{$cmds[-1]{out}}, $l;
		}
	}
	for my $c (@cmds) {
		$c->{cmd} =~ s{http://127\.0\.0\.1:8477}{$url}g;
		s{http://127\.0\.0\.1:8477}{$url}g for @{$c->{out}};
		print join("\t", $c->{cwd}, $c->{cmd}), "\0",
		    join("\n", @{$c->{out}}), "\0";
	}
' "$SERVER_URL" >"$TMP/cmds"
n=$(tr -cd '\0' <"$TMP/cmds" | wc -c)
n=$((n / 2))
[ "$n" -gt 30 ] || bail "only $n commands found in docs/guide.md"
plan $((2 * n))

# one bash runs them all, so that variables (k, r) carry over
perl -e '
	my ($w, $tmp) = @ARGV;
	local $/ = "\0";
	my $i = 0;
	print "export URL=$ENV{SERVER_URL}\ncd \"$w\"\n";
	while (defined(my $c = <STDIN>)) {
		chomp $c;
		my $out = <STDIN>;
		my ($cwd, $cmd) = split /\t/, $c, 2;
		print "cd \"$w\"\n" if $cwd eq "top";
		print "cd \"$w/mnt\"\n" if $cwd eq "mnt";
		print "{ $cmd\n} >\"$tmp/out.$i\" 2>&1; echo \$? >\"$tmp/rc.$i\"\n";
		$i++;
	}
' "$W" "$TMP" <"$TMP/cmds" >"$TMP/guide.sh"
PATH=$KP_BUILD:$PATH bash "$TMP/guide.sh" </dev/null >"$TMP/guide.log" 2>&1 || { sed "s/^/# /" "$TMP/guide.log"; head -5 "$TMP/guide.sh"; }

# check: each command's status and output against the guide
perl -e '
	my ($tmp) = @ARGV;
	local $/ = "\0";
	my ($i, $t) = (0, 0);
	while (defined(my $c = <STDIN>)) {
		chomp $c;
		my $want = <STDIN>; chomp $want;
		my (undef, $cmd) = split /\t/, $c, 2;
		open(my $f, "<", "$tmp/out.$i") or die; my $got = do { local $/; <$f> };
		open(my $r, "<", "$tmp/rc.$i") or die; my $rc = <$r>;
		$rc =~ s/\s+//g;
		$i++;
		my $fails = $want =~ /write error|cannot move/;
		$t++;
		print +(($rc != 0) == $fails ? "ok" : "not ok"), " $t - \$ $cmd: ",
		    $fails ? "fails" : "succeeds", ($rc != 0) == $fails ? "" :
		    " (exit $rc)", "\n";
		# bash names the script and line where a terminal says bash:
		$got =~ s/^\S+: line \d+: /bash: /mg;
		my $norm = sub { my $s = shift; $s =~ s/\s+/ /g; $s =~ s/^ | $//g; $s };
		my $re = quotemeta($norm->($want));
		# a ref cut to 12 digits, a base64 key cut, anything cut
		$re =~ s/[0-9a-f]{12}\\\.\\\.\\\./[0-9a-f]{64}/g;
		$re =~ s/\w+\\\.\\\.\\\.(\\=)?/[A-Za-z0-9+\/]+=*/g;
		$re =~ s/\\\.\\\.\\\./.*?/g;
		$re =~ s/\d{4}\\-\d\d\\-\d\dT\d\d\\:\d\d\\:\d\dZ/[0-9T:.Z-]+/g;
		$t++;
		if ($norm->($got) =~ /^$re$/s) {
			print "ok $t - \$ $cmd: the output the guide shows\n";
		} else {
			print "not ok $t - \$ $cmd: the output the guide shows\n";
			print "#   guide: $_\n" for split /\n/, $want;
			print "#     got: $_\n" for split /\n/, $got;
		}
	}
	# the harness counts its own
' "$TMP" <"$TMP/cmds" >"$TMP/results"
while IFS= read -r l; do
	case $l in
	"ok "*) _tap_report 0 "${l#ok * - }" ;;
	"not ok "*) _tap_report 1 "${l#not ok * - }" ;;
	*) echo "$l" ;;
	esac
done <"$TMP/results"
