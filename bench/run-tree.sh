#!/bin/sh
# SPDX-License-Identifier: ISC
#
# run-tree.sh: the kpoolfs tree with 10,000 keys in available/, beside
# two references measured in the same run: the same tree served from
# memory by a minimal FUSE file system (build/bench/memfs) and a copy on
# tmpfs.  Operations: ls -l available/ (cold: the kernel's 1 s caches
# expired; warm: within them), stat and cat of key files, a rename that
# stays local (created -> expired) and one that asks the server
# (available -> reserved).  Prints a table; the target is kpoolfs <= 1.5x
# memfs, and <= 32 MiB RSS.
set -eu
B=${KP_BUILD:-$(cd "$(dirname "$0")/.." && pwd)/build}
N=${KP_BENCH_KEYS:-10000}
NOPS=${KP_BENCH_OPS:-1000}	# files stat'ed and read
NREN=${KP_BENCH_RENAMES:-200}	# renames of each kind
[ -c /dev/fuse ] || { echo "tree: /dev/fuse missing, skipped"; exit 0; }

W=$(mktemp -d "${TMPDIR:-/tmp}/kpool-bench.XXXXXX")
SHM=$(mktemp -d /dev/shm/kpool-bench.XXXXXX)
spid= fpid= mpid=
cleanup() {
	for m in "$W/mnt" "$W/mem"; do
		mountpoint -q "$m" 2>/dev/null && fusermount3 -u "$m"
	done
	for p in $fpid $mpid $spid; do kill "$p" 2>/dev/null || true; done
	for p in $fpid $mpid $spid; do wait "$p" 2>/dev/null || true; done
	rm -rf "$W" "$SHM"
}
trap cleanup EXIT INT TERM

waitmount() {	# MNT PID
	i=0
	until mountpoint -q "$1"; do
		kill -0 "$2" 2>/dev/null || { echo "tree: mount of $1 died" >&2; exit 1; }
		i=$((i + 1)); [ $i -gt 400 ] && { echo "tree: $1 not mounted" >&2; exit 1; }
		sleep 0.05
	done
}

# the server and the pool
"$B/kpool-server" --listen 127.0.0.1:0 --db "$W/server.db" --rate-limit 0 \
    >"$W/port" 2>"$W/server.log" &
spid=$!
i=0
until [ -s "$W/port" ]; do i=$((i + 1)); [ $i -gt 200 ] && exit 1; sleep 0.05; done
url=http://127.0.0.1:$(head -n 1 "$W/port" | tr -dc 0-9)
mkdir -p "$W/mnt" "$W/mem"
"$B/kpoolfs" -f -o server="$url",user=bench,refresh=0 "$W/bench.db" "$W/mnt" \
    2>"$W/kpoolfs.log" &
fpid=$!
waitmount "$W/mnt" $fpid
M=$W/mnt
printf 'hard_cap = %d\ntarget = %d\nlow_watermark = 1\nlast_resort = 0\n' \
    "$N" "$N" >"$M/config"
t0=$(date +%s.%N)
printf refresh >"$M/ctl"
t1=$(date +%s.%N)
have=$(ls "$M/available" | wc -l)
echo "tree: $have keys generated, uploaded and listed in $(echo "$t1 - $t0" | bc) s"
# room for the local renames: retire NREN keys, then make NREN new ones
R=3	# rounds, see below
for k in $(ls "$M/available" | head -n $((R * NREN))); do mv "$M/available/$k" "$M/expired/"; done
printf 'generate %d' $((R * NREN)) >"$M/ctl"

# the references: a tmpfs copy, and memfs serving that copy.  The copy
# is read through a second kpoolfs on the same store, so that the one
# measured has seen nothing but the operations below.
mkdir -p "$W/src"
"$B/kpoolfs" -f -o server=none,refresh=0 "$W/bench.db" "$W/src" 2>"$W/src.log" &
cpid=$!
waitmount "$W/src" $cpid
cp -r "$W/src/." "$SHM/" 2>/dev/null || true	# ctl and welcome are write-only
fusermount3 -u "$W/src"
wait $cpid

# the measured kpoolfs starts fresh: its memory is that of serving the
# tree, not of generating 10,000 keys (reported apart)
gen_hwm=$(awk '/VmHWM/ { print $2 " " $3 }' /proc/$fpid/status)
fusermount3 -u "$M"
wait $fpid
"$B/kpoolfs" -f -o server="$url",user=bench,refresh=0 "$W/bench.db" "$M" \
    2>>"$W/kpoolfs.log" &
fpid=$!
waitmount "$M" $fpid
"$B/bench/memfs" -f "$SHM" "$W/mem" 2>"$W/memfs.log" &
mpid=$!
waitmount "$W/mem" $mpid

cat >"$W/t.pl" <<'EOF'
use strict; use warnings; use Time::HiRes qw(time);
my ($op, $root, $list) = @ARGV;
open(my $f, "<", $list) or die; my @l = map { chomp; $_ } <$f>; close($f);
my $t = time;
if ($op eq "stat") { for (@l) { my @s = lstat("$root/$_") or die "$root/$_: $!" } }
elsif ($op eq "cat") { for (@l) { open(my $h, "<", "$root/$_") or die "$root/$_: $!"; local $/; my $d = <$h>; close($h) } }
elsif ($op eq "rename") { for (@l) { my ($a, $b) = split / /; rename("$root/$a", "$root/$b") or die "$root/$a: $!" } }
elsif ($op eq "ls") { for (1) { system("ls -l '$root/$l[0]' >/dev/null") == 0 or die } }
printf "%.6f\n", time - $t;
EOF
run() { perl "$W/t.pl" "$@"; }

# R rounds; in each, every file system in turn (so that the load of the
# machine, shared with other work, falls on all three alike) runs every
# operation once, on its own slice of keys: ls -l with the kernel's 1 s
# caches expired (cold) and at once again (warm), then, caches expired
# again, stat and cat of key files and the two kinds of rename.  The
# figure is the median of the rounds.
ls "$M/available" | head -n $((R * NOPS)) >"$W/keys"
ls "$M/created" >"$W/ckeys"
ls "$M/available" | tail -n $((R * NREN)) >"$W/rkeys"
r=1
while [ $r -le $R ]; do
	sed -n "$(((r - 1) * NOPS + 1)),$((r * NOPS))p" "$W/keys" |
	    awk '{ print "available/" $0 "/status" }' >"$W/sfiles.$r"
	sed -n "$(((r - 1) * NOPS + 1)),$((r * NOPS))p" "$W/keys" |
	    awk '{ print "available/" $0 "/info" }' >"$W/files.$r"
	sed -n "$(((r - 1) * NREN + 1)),$((r * NREN))p" "$W/ckeys" |
	    awk '{ print "created/" $0 " expired/" $0 }' >"$W/local.$r"
	sed -n "$(((r - 1) * NREN + 1)),$((r * NREN))p" "$W/rkeys" |
	    awk '{ print "available/" $0 " reserved/" $0 }' >"$W/remote.$r"
	r=$((r + 1))
done
echo available >"$W/dir"

round() {	# NAME ROOT R: one round, appended to $W/res.NAME
	sleep 1.2
	lsc=$(run ls "$2" "$W/dir")
	lsw=$(run ls "$2" "$W/dir")
	sleep 1.2
	st=$(run stat "$2" "$W/sfiles.$3")
	ct=$(run cat "$2" "$W/files.$3")
	nl=$(wc -l <"$W/local.$3")
	rl=$(run rename "$2" "$W/local.$3")
	rr=$(run rename "$2" "$W/remote.$3")
	echo "$(echo "$lsc * 1000" | bc -l) $(echo "$lsw * 1000" | bc -l)" \
	    "$(echo "$st * 1000000 / $NOPS" | bc -l)" \
	    "$(echo "$ct * 1000000 / $NOPS" | bc -l)" \
	    "$(echo "$rl * 1000000 / $nl" | bc -l)" \
	    "$(echo "$rr * 1000000 / $NREN" | bc -l)" >>"$W/res.$1"
}

median() {	# NAME COLUMN
	cut -d' ' -f"$2" "$W/res.$1" | sort -g | sed -n "$(((R + 1) / 2))p"
}

r=1
while [ $r -le $R ]; do
	case $r in
	1) order="tmpfs memfs kpoolfs" ;;
	2) order="memfs kpoolfs tmpfs" ;;
	*) order="kpoolfs tmpfs memfs" ;;
	esac
	for fs in $order; do
		case $fs in
		tmpfs) round tmpfs "$SHM" $r ;;
		memfs) round memfs "$W/mem" $r ;;
		kpoolfs) round kpoolfs "$M" $r ;;
		esac
	done
	r=$((r + 1))
done

echo "tree: $N keys in available/, median of $R rounds; ls -l in ms," \
    "the rest in us per operation"
printf '%-8s %10s %10s %10s %10s %10s %10s\n' "" "ls-l cold" "ls-l warm" \
    "stat" "cat" "mv local" "mv server"
for fs in tmpfs memfs kpoolfs; do
	printf '%-8s' $fs
	for c in 1 2 3 4 5 6; do
		printf ' %10.1f' "$(median $fs $c)"
	done
	printf '\n'
done
printf '%-8s' "x memfs"
for c in 1 2 3 4 5 6; do
	printf ' %10.2f' "$(echo "$(median kpoolfs $c) / $(median memfs $c)" | bc -l)"
done
printf '\n'
echo "tree: kpoolfs RSS $(awk '/VmRSS/ { print $2 " " $3 }' /proc/$fpid/status)" \
    "(high water $(awk '/VmHWM/ { print $2 " " $3 }' /proc/$fpid/status)) serving $N keys;" \
    "high water $gen_hwm while generating and uploading them"
