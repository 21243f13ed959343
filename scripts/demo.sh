#!/usr/bin/env bash
# The raft_ext demo: a local three-node cluster on loopback.
#
# Builds and installs raft_ext, starts three PostgreSQL 15 instances on
# 127.0.0.1 (ports 5441-5443) under one directory, waits for them to elect a
# leader, shows raft_status, kills the leader's postmaster with SIGKILL,
# shows the survivors electing a new leader, restarts the killed node and
# shows it rejoining as a follower.  Then it stops everything, unless --keep
# is given, in which case it prints the command that stops the cluster.
#
# Works as root (the servers run as the "postgres" user) or as a normal user
# (sudo is used for installing packages and the extension).
#
# Usage: scripts/demo.sh [--keep] [--dir DIR] [--no-build]
set -euo pipefail

cd "$(dirname "$0")/.."
keep=0
build=1
base=/tmp/raft_ext_demo
while [ $# -gt 0 ]; do
    case "$1" in
        --keep) keep=1 ;;
        --no-build) build=0 ;;
        --dir) base=$2; shift ;;
        *) echo "usage: $0 [--keep] [--dir DIR] [--no-build]" >&2; exit 2 ;;
    esac
    shift
done

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

if [ "$build" -eq 1 ]; then
    scripts/install-deps.sh
    make -s -j2 PG_CONFIG="$PG_CONFIG"
    $SUDO make -s install PG_CONFIG="$PG_CONFIG"
fi

bindir=$("$PG_CONFIG" --bindir)
if [ "$(id -u)" -eq 0 ]; then
    runner=postgres
    as_runner() { runuser -u "$runner" -- "$@"; }
else
    runner=$(id -un)
    as_runner() { "$@"; }
fi

ports=(5441 5442 5443)
peers=""
for i in 1 2 3; do
    peers+="${peers:+;}$i:host=127.0.0.1 port=${ports[$((i - 1))]} dbname=postgres user=$runner connect_timeout=2"
done

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
psql_node() { as_runner "$bindir/psql" -X -q -h 127.0.0.1 -p "${ports[$(($1 - 1))]}" -U "$runner" -d postgres "${@:2}"; }
pid_of() { head -n 1 "$base/node$1/postmaster.pid"; }

stop_all()
{
    for i in 1 2 3; do
        [ -f "$base/node$i/postmaster.pid" ] &&
            as_runner "$bindir/pg_ctl" -D "$base/node$i" -m immediate stop >/dev/null 2>&1 || true
    done
}

# Which node leads, according to the nodes that answer; empty if none yet.
leader()
{
    local i out
    for i in 1 2 3; do
        out=$(psql_node "$i" -At -c "SELECT leader_id FROM raft_status WHERE leader_id IS NOT NULL" 2>/dev/null) || continue
        [ -n "$out" ] && { echo "$out"; return; }
    done
}

# Wait up to 30 s for a leader other than $1 (0: any); print its id.
wait_leader()
{
    local not=$1 l
    for _ in $(seq 300); do
        l=$(leader)
        if [ -n "$l" ] && [ "$l" != "$not" ]; then echo "$l"; return 0; fi
        sleep 0.1
    done
    echo "no leader elected within 30 s" >&2
    return 1
}

show_status()
{
    local i
    for i in "$@"; do
        psql_node "$i" -c "SELECT node_id, role, term, leader_id, has_lease, lease_remaining, commit_index, last_contact FROM raft_status" 2>/dev/null ||
            echo "(node $i does not answer)"
    done
}

if [ -d "$base" ]; then
    for i in 1 2 3; do
        [ -f "$base/node$i/postmaster.pid" ] && as_runner "$bindir/pg_ctl" -D "$base/node$i" -m immediate stop >/dev/null 2>&1 || true
    done
    rm -rf "$base"
fi
mkdir -p "$base"
chown "$runner" "$base"
trap '[ $keep -eq 1 ] || stop_all' EXIT

say "creating three instances in $base"
for i in 1 2 3; do
    as_runner "$bindir/initdb" -D "$base/node$i" -U "$runner" --auth=trust -N >/dev/null
    cat >>"$base/node$i/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = ${ports[$((i - 1))]}
unix_socket_directories = '$base'
shared_preload_libraries = 'raft_ext'
raft_ext.node_id = $i
raft_ext.peers = '$peers'
raft_ext.cluster_name = 'demo'
EOF
    as_runner "$bindir/pg_ctl" -D "$base/node$i" -l "$base/node$i.log" -w start >/dev/null
    psql_node "$i" -c "CREATE EXTENSION raft_ext"
done

say "waiting for an election"
first=$(wait_leader 0)
echo "node $first is the leader"
show_status 1 2 3

say "killing the leader (node $first) with SIGKILL"
kill -9 "$(pid_of "$first")"
start=$(date +%s%N)
second=$(wait_leader "$first")
echo "node $second took over after $(( ($(date +%s%N) - start) / 1000000 )) ms"
show_status 1 2 3

say "restarting node $first: it rejoins as a follower in the new term"
as_runner "$bindir/pg_ctl" -D "$base/node$first" -l "$base/node$first.log" -w start >/dev/null
for _ in $(seq 100); do
    [ "$(psql_node "$first" -At -c "SELECT leader_id FROM raft_status" 2>/dev/null)" = "$second" ] && break
    sleep 0.1
done
show_status "$first"

if [ "$keep" -eq 1 ]; then
    say "the cluster keeps running; stop it with:"
    for i in 1 2 3; do echo "  $([ "$(id -u)" -eq 0 ] && echo "runuser -u $runner -- ")$bindir/pg_ctl -D $base/node$i stop"; done
else
    say "stopping the cluster (use --keep to leave it running)"
fi
