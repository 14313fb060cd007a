# SPDX-License-Identifier: ISC
#
# 3-fs.sh: helpers for the mounted-tree tests (t/3xxx, t/4xxx).  Source
# it after t/tap.sh.
#
#	fsop rename OLD NEW [FLAGS]	renameat2(2); FLAGS 1 NOREPLACE, 2 EXCHANGE
#	fsop write FILE DATA		open(O_WRONLY), one write(2) of DATA, close(2)
#	fsop writefile FILE SRC		the same with the bytes of SRC
#	fsop write2 FILE SRC DATA	the bytes of SRC, then DATA, on one open
#					file: the error of the second write,
#					else close(2)'s
#	fsop read FILE			open(O_RDONLY) and read
#	fsop readnb FILE		open(O_RDONLY|O_NONBLOCK) and read
#	fsop openw FILE			open(O_WRONLY)
#	fsop trunc FILE N		truncate(2)
#	fsop rmdir DIR | unlink FILE | mkdir DIR | create FILE | chmod FILE
#
# Each prints OK, or the errno's name (EPERM, ...), and nothing else.
# is_errno WANT DESC fsop ...: a test that the operation gave WANT.
# restart_server PORT brings a stopped server back on its port.
# ts_welcome KEYDIR GROUP OUT [ARGS...]: ts-mls adds a key to a group.

fsop() {
	perl -e '
use strict; use warnings; use POSIX; use Fcntl;
require "syscall.ph";
my %name;
for my $n (qw(EPERM ENOENT EIO EBADF EACCES EBUSY EEXIST EXDEV ENOTDIR
    EISDIR EINVAL ENOSPC EROFS ENOTEMPTY ENOTCONN ENOSYS ENAMETOOLONG
    EFBIG ENOMEM EHOSTUNREACH EAGAIN EINTR EMFILE)) {
	my $v = eval "POSIX::$n()";
	$name{$v} = $n if defined $v;
}
my ($op, @a) = @ARGV;
my $ok;
if ($op eq "rename") {
	$ok = syscall(&SYS_renameat2, -100, $a[0], -100, $a[1],
	    ($a[2] // 0) + 0) == 0;
} elsif ($op eq "write" || $op eq "writefile") {
	my $data = $a[1];
	if ($op eq "writefile") {
		open(my $f, "<:raw", $a[1]) or die "$a[1]: $!";
		local $/; $data = <$f>; close($f);
	}
	if (sysopen(my $fh, $a[0], O_WRONLY)) {
		# a write error first, else a close(2) error (an incomplete
		# Welcome is reported by close)
		my $n = syswrite($fh, $data);
		$ok = defined($n) && $n == length($data);
		my $e = $!;
		my $c = close($fh);
		if ($ok) { $ok = $c } else { $! = $e }
	}
} elsif ($op eq "write2") {
	open(my $f, "<:raw", $a[1]) or die "$a[1]: $!";
	local $/; my $first = <$f>; close($f);
	if (sysopen(my $fh, $a[0], O_WRONLY)) {
		my $n = syswrite($fh, $first);
		die "write2: the first write: $!\n" unless defined($n) &&
		    $n == length($first);
		$n = syswrite($fh, $a[2]);
		$ok = defined($n) && $n == length($a[2]);
		my $e = $!;
		my $c = close($fh);
		if ($ok) { $ok = $c } else { $! = $e }
	}
} elsif ($op eq "read" || $op eq "readnb") {
	if (sysopen(my $fh, $a[0], O_RDONLY | ($op eq "readnb" ?
	    O_NONBLOCK : 0))) {
		my $buf;
		$ok = defined(sysread($fh, $buf, 65536));
	}
} elsif ($op eq "openw") {
	$ok = sysopen(my $fh, $a[0], O_WRONLY);
} elsif ($op eq "trunc") {
	$ok = truncate($a[0], $a[1]);
} elsif ($op eq "rmdir") {
	$ok = rmdir($a[0]);
} elsif ($op eq "unlink") {
	$ok = unlink($a[0]) == 1;
} elsif ($op eq "mkdir") {
	$ok = mkdir($a[0]);
} elsif ($op eq "create") {
	$ok = sysopen(my $fh, $a[0], O_WRONLY | O_CREAT | O_EXCL, 0644);
} elsif ($op eq "chmod") {
	$ok = chmod(0600, $a[0]) == 1;
} else {
	die "fsop: unknown op $op\n";
}
if ($ok) { print "OK" } else { my $e = 0 + $!; print $name{$e} // "E$e" }
' "$@"
}

is_errno() {
	_want=$1; _desc=$2; shift 2
	is "$(fsop "$@")" "$_want" "$_desc"
}

# mtime_of PATH: st_mtime in unix seconds.
mtime_of() {
	stat -c %Y "$1"
}

# rfc3339_to_unix TIME: 2026-11-22T03:16:47Z as unix seconds.
rfc3339_to_unix() {
	date -u -d "$(echo "$1" | sed 's/T/ /; s/Z$//')" +%s
}

# ctl MNT CMD: write CMD to MNT/ctl in one write; fail the test script
# (bail) when it fails.
ctl() {
	_r=$(fsop write "$1/ctl" "$2")
	[ "$_r" = OK ] || bail "ctl $2: $_r"
}

# first_key DIR: the first key directory name in DIR (oldest first).
first_key() {
	ls -tr "$1" | head -n 1
}

# restart_server PORT [ARGS...]: start kpool-server again on
# 127.0.0.1:PORT with the database of the last start_server (the same
# server coming back), as start_server does.
restart_server() {
	_tap_port=$1
	shift
	start_server "$@"
	_tap_port=
}

# ts_welcome KEYDIR GROUP OUT [ARGS...]: ts-mls (make-welcome.mjs, after
# t/interop/need-node.sh) adds the key of KEYDIR to group GROUP (hex),
# with one other new member; the Welcome goes to $TMP/OUT and what
# make-welcome.mjs prints (group_id=HEX epoch=N) to $TMP/OUT.out.
ts_welcome() {
	_d=$1; _g=$2; _o=$3; shift 3
	node "$INTEROP/make-welcome.mjs" --kp "$_d/keypackage" \
	    --welcome-out "$TMP/$_o" --group-id "$_g" --others 1 "$@" \
	    >"$TMP/$_o.out" || bail "make-welcome.mjs failed for $_d"
}
