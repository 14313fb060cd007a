#!/bin/sh
# SPDX-License-Identifier: ISC
# 3004-tree-race: two processes rename the same key at once; exactly one
# wins, the other gets ENOENT, and the key ends in exactly one state.
. "${KP_TOP:-.}/t/tap.sh"
. "$KP_TOP/t/3-fs.sh"
need_fuse

start_server
M=$TMP/mnt
mount_pool "$TMP/alice.db" "$M" -o user=alice,server="$SERVER_URL",refresh=0
ctl "$M" "generate 8"
for k in $(ls "$M/created"); do
	r=$(fsop rename "$M/created/$k" "$M/available/$k")
	[ "$r" = OK ] || bail "upload $k: $r"
done

N=8
plan $((2 * N + 1))
i=0
for k in $(ls "$M/available"); do
	i=$((i + 1))
	# the same source, two targets, started together
	if [ $((i % 2)) -eq 0 ]; then t1=reserved t2=reserved; else t1=reserved t2=spent; fi
	fsop rename "$M/available/$k" "$M/$t1/$k" >"$TMP/a.$i" &
	p1=$!
	fsop rename "$M/available/$k" "$M/$t2/$k" >"$TMP/b.$i" &
	p2=$!
	wait $p1 $p2
	got=$( (cat "$TMP/a.$i"; echo; cat "$TMP/b.$i"; echo) | sort | tr '\n' ' ')
	is "$got" "ENOENT OK " "key $i: to $t1 and $t2 at once, exactly one wins"
	n=$(ls "$M/available" "$M/reserved" "$M/spent" | grep -c "^$k\$")
	is "$n" 1 "key $i is in exactly one state directory"
done
is "$(grep -E '^total:' "$M/status")" "total: $N" "no key lost or doubled"
