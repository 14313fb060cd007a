#!/bin/sh
# SPDX-License-Identifier: ISC
#
# pg.sh: a throwaway PostgreSQL cluster for the tests and benchmarks,
# from Debian's postgresql package: initdb and pg_ctl into a directory,
# a Unix socket in that directory and no TCP, the superuser role kpool
# with trust authentication.  The postgres server refuses to run as
# root: as root, the cluster runs as the user postgres (Debian's
# package creates it), with runuser.
#
#	sh mk/pg.sh run CMD...	start a cluster in a new temporary
#				directory, run CMD with KP_PG_DIR set to it,
#				then stop and remove the cluster, whatever
#				CMD does (exit, signal); exits as CMD did
#	sh mk/pg.sh start DIR [SETTING=VALUE...]
#				a new cluster in DIR (made if absent; as
#				root, the user postgres must reach it: a
#				directory of /tmp, not one in a private
#				one), started; settings go to postgresql.conf
#	sh mk/pg.sh stop DIR	stop it (immediate) and remove DIR
#	sh mk/pg.sh restart DIR [fast|immediate]
#				stop (immediate by default) and start again
#	sh mk/pg.sh kill DIR	stop it at once, leave it in place
#	sh mk/pg.sh up DIR	start a stopped cluster again
#	sh mk/pg.sh conninfo DIR [DBNAME]
#				print the URI of DBNAME (default postgres)
#
# Without the postgres binaries, "run" runs CMD without a cluster (no
# KP_PG_DIR): the PostgreSQL tests then skip, or fail under
# KP_REQUIRE_PG=1 (CI).

set -u

bindir() {
	d=$(pg_config --bindir 2>/dev/null || true)
	if [ -z "$d" ] || [ ! -x "$d/initdb" ]; then
		d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V |
		    tail -n 1)
	fi
	[ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

# as_owner CMD...: run CMD as the cluster's owner (postgres under root).
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

start() {	# DIR [SETTING=VALUE...]
	dir=$1; shift
	bin=$(bindir) || { echo "pg.sh: no initdb (install postgresql)" >&2
	    return 1; }
	mkdir -p "$dir" || return 1
	if [ "$(id -u)" -eq 0 ]; then
		id postgres >/dev/null 2>&1 || { echo "pg.sh: no user" \
		    "postgres to run the server as (install postgresql)" >&2
		    return 1; }
		chown postgres "$dir" || return 1
	fi
	chmod 700 "$dir"
	as_owner "$bin/initdb" -D "$dir/data" -U kpool --auth=trust \
	    -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
		cat "$dir/initdb.log" >&2; return 1; }
	{
		echo "listen_addresses = ''"
		echo "unix_socket_directories = '$dir'"
		echo "port = 5432"
		echo "max_connections = 200"
		echo "fsync = ${KP_PG_FSYNC:-off}"
		echo "full_page_writes = ${KP_PG_FSYNC:-off}"
		echo "logging_collector = off"
		for s in "$@"; do
			echo "$s"
		done
	} | as_owner sh -c "cat >>'$dir/data/postgresql.conf'"
	up "$dir"
}

up() {	# DIR
	bin=$(bindir) || return 1
	as_owner "$bin/pg_ctl" -D "$1/data" -l "$1/server.log" -w -t 60 \
	    start >/dev/null || { cat "$1/server.log" >&2; return 1; }
}

down() {	# DIR MODE
	bin=$(bindir) || return 1
	[ -f "$1/data/postmaster.pid" ] || return 0
	as_owner "$bin/pg_ctl" -D "$1/data" -m "$2" -w -t 60 stop \
	    >/dev/null 2>&1
}

stop() {	# DIR
	down "$1" immediate
	rm -rf "$1"
}

conninfo() {	# DIR [DBNAME]
	echo "postgresql://kpool@/${2:-postgres}?host=$1"
}

run() {	# CMD...
	if ! bindir >/dev/null; then
		echo "pg.sh: no PostgreSQL server binaries: the PostgreSQL" \
		    "tests cannot run" >&2
		"$@"
		return $?
	fi
	dir=$(mktemp -d "${TMPDIR:-/tmp}/kpool-pg.XXXXXX") || return 1
	# the cluster goes whatever happens to CMD or to this script; a
	# signal here ends CMD too
	child=
	trap 'stop "$dir"' EXIT
	trap '[ -n "$child" ] && kill "$child" 2>/dev/null; exit 130' INT
	trap '[ -n "$child" ] && kill "$child" 2>/dev/null; exit 143' TERM
	trap '[ -n "$child" ] && kill "$child" 2>/dev/null; exit 129' HUP
	start "$dir" || return 1
	KP_PG_DIR=$dir "$@" &
	child=$!
	wait "$child"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
run)	run "$@"; exit $? ;;
start)	start "$@" ;;
stop)	stop "$1" ;;
restart)
	down "$1" "${2:-immediate}" && up "$1" ;;
kill)	down "$1" immediate ;;
up)	up "$1" ;;
conninfo) conninfo "$@" ;;
*)	echo "usage: pg.sh run CMD... | start DIR [SETTING=VALUE...] |" \
	    "stop DIR | restart DIR [fast|immediate] | kill DIR | up DIR |" \
	    "conninfo DIR [DBNAME]" >&2
	exit 2 ;;
esac
