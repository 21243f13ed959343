#!/usr/bin/env bash
# The raft_ext demo: automatic failover of a primary with two streaming
# standbys, on loopback.
#
# Builds and installs raft_ext, then, under one directory (default
# /tmp/raft_ext_demo):
#   1. makes the cluster with the commands a DBA types: raftctl init makes
#      node1 (port 5441: initdb, raft_ext's settings, roles and password,
#      start, lead), raftctl join makes node2 and node3 (ports 5442 and
#      5443) hot standbys cloned from it and adds them to the Raft
#      membership; every setting at its default (auto_promote, auto_follow
#      and auto_rejoin in effect);
#   2. waits for the Raft leader: the healthy primary stays primary;
#   3. kills the primary's postmaster with SIGKILL, and retries an INSERT
#      through a multi-host conninfo (target_session_attrs=read-write) until
#      the standby that won the election has promoted itself and acknowledges
#      it: prints the time from the kill to that first acknowledged write;
#   4. shows the other standby streaming from the new primary;
#   5. restarts the old primary: it comes back as a primary but is fenced,
#      its write is refused (SQLSTATE 25006);
#   6. waits while it rejoins as a standby of the new primary by itself
#      (raft_ext.auto_rejoin: the worker's helper stops it, rewinds it
#      since its WAL diverged, and starts it as a standby), and shows the
#      helper's log lines;
#   7. stops everything, unless --keep is given, in which case it prints the
#      commands that stop the cluster.
#
# Works as root (the servers run as the "postgres" user) or as a normal user
# (sudo is used for installing packages and the extension).
#
# Usage: scripts/demo.sh [--keep] [--dir DIR] [--no-build]
set -euo pipefail

cd "$(dirname "$0")/.."
keep=0
build=1
dir=/tmp/raft_ext_demo
while [ $# -gt 0 ]; do
    case "$1" in
        --keep) keep=1 ;;
        --no-build) build=0 ;;
        --dir) dir=${2:?--dir needs a directory}; shift ;;
        *) echo "usage: $0 [--keep] [--dir DIR] [--no-build]" >&2; exit 2 ;;
    esac
    shift
done

export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

if [ "$build" -eq 1 ]; then
    scripts/install-deps.sh
    make -s -j2 PG_CONFIG="$PG_CONFIG"
    $SUDO make -s install PG_CONFIG="$PG_CONFIG"
fi

CLUSTER_DIR=$dir
CLUSTER_NODES=3
CLUSTER_PORT=5441
CLUSTER_NAME=demo
CLUSTER_BUILD=raftctl
# shellcheck source=lib/cluster.sh
. scripts/lib/cluster.sh

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

# Each node's own view of the cluster.
show_status()
{
    local i
    for i in "$@"; do
        node_psql "$i" -P footer=off -F ' | ' -c "SELECT node_id, role, term, leader_id, has_lease, in_recovery, wal_position FROM raft_status" 2>/dev/null ||
            echo "(node $i does not answer)"
    done | { echo "node_id | role | term | leader_id | has_lease | in_recovery | wal_position"; cat; }
}

cleanup()
{
    if [ "$keep" -eq 1 ]; then
        say "the cluster keeps running in $dir; stop it with:"
        cluster_stop_commands
    else
        say "stopping the cluster (use --keep to leave it running)"
        cluster_stop_all
    fi
}

say "making a primary and two streaming standbys in $dir (ports 5441-5443) with raftctl"
trap cleanup EXIT
made_start=$(date +%s%N)
cluster_create
echo "node1: primary (raftctl init); node2, node3: streaming standbys and members (raftctl join)," \
    "$(ms_since "$made_start") ms from empty directories to three streaming members"

say "waiting for the Raft leader (the healthy primary stays primary)"
primary=$(cluster_wait_primary 60)
echo "node $primary leads, holds the lease, and is the primary"
node_psql "$primary" -c "CREATE TABLE demo_writes (id serial PRIMARY KEY, written_on int, at timestamptz DEFAULT clock_timestamp())" \
    -c "INSERT INTO demo_writes (written_on) SELECT node_id FROM raft_status"
cluster_wait_settled "$primary" 60
show_status 1 2 3

say "killing the primary (node $primary) with SIGKILL"
start=$(date +%s%N)
node_kill "$primary" >/dev/null
echo "kill -9 sent; a client keeps retrying INSERT through:"
echo "  $(cluster_writer_conninfo)"
new=""
attempts=0
while [ -z "$new" ]; do
    attempts=$((attempts + 1))
    new=$(as_pg "$PG_BINDIR/psql" -X -q -At -d "$(cluster_writer_conninfo)" \
        -c "INSERT INTO demo_writes (written_on) SELECT node_id FROM raft_status RETURNING written_on" 2>/dev/null) || new=""
    [ -n "$new" ] || sleep 0.02
    if [ "$(ms_since "$start")" -gt 60000 ]; then
        echo "no write was acknowledged within 60 s; the logs are in $dir" >&2
        exit 1
    fi
done
echo "first write acknowledged by node $new, $(ms_since "$start") ms after the kill ($attempts attempts)"
show_status $(seq 3 | grep -vx "$primary")
grep -h "node $new is now leader\|node $new is the Raft leader\|promoted\|ready to accept" "$(node_log "$new")" | tail -n 4 | sed 's/^/  log: /'

say "the other standby follows the new primary"
other=$(seq 3 | grep -vx "$primary" | grep -vx "$new")
for _ in $(seq 300); do
    [ "$(node_psql "$other" -c "SELECT sender_port FROM pg_stat_wal_receiver WHERE status = 'streaming'" 2>/dev/null)" = "$(node_port "$new")" ] && break
    sleep 0.1
done
node_psql "$other" -P footer=off -F ' | ' -c "SELECT 'node $other streams from port ' || sender_port || ', timeline ' || received_tli FROM pg_stat_wal_receiver"
cluster_wait_settled "$new" 60 && echo "node $other has replayed the new primary's writes:"
node_psql "$other" -P footer=off -F ' | ' -c "SELECT id, written_on, at FROM demo_writes ORDER BY id"

say "restarting the old primary (node $primary): it is fenced"
node_start "$primary"
for _ in $(seq 100); do
    [ "$(node_leader "$primary")" = "$new" ] && break
    sleep 0.1
done
show_status "$primary"
echo "node $primary is out of recovery (a primary) but does not hold the lease; a write there:"
echo "  BEGIN READ WRITE; INSERT INTO demo_writes ...; COMMIT;"
if as_pg "$PG_BINDIR/psql" -X -q -d "$(node_conninfo "$primary")" -v ON_ERROR_STOP=1 -v VERBOSITY=verbose \
    -c "BEGIN READ WRITE" -c "INSERT INTO demo_writes (written_on) VALUES ($primary)" -c "COMMIT" >"$dir/fenced.out" 2>&1; then
    echo "  the write was ACCEPTED: this build of raft_ext does not fence (raft_ext.fencing)"
else
    grep -E "ERROR|DETAIL|HINT" "$dir/fenced.out" | sed 's/^/  /'
fi

say "node $primary rejoins as a standby of node $new by itself (raft_ext.auto_rejoin)"
rejoin_start=$(date +%s%N)
rejoined=0
for _ in $(seq 600); do
    if [ "$(node_psql "$primary" -c "SELECT rejoin_state = 'done' AND in_recovery FROM raft_status" 2>/dev/null)" = "t" ] &&
        [ "$(node_psql "$primary" -c "SELECT sender_port FROM pg_stat_wal_receiver WHERE status = 'streaming'" 2>/dev/null)" = "$(node_port "$new")" ]; then
        rejoined=1
        break
    fi
    sleep 0.1
done
grep -h "rejoining as its standby\|raft_ext_rejoin\[" "$(node_log "$primary")" | sed 's/^/  log: /'
if [ "$rejoined" -eq 1 ]; then
    echo "node $primary streams from node $new, $(ms_since "$rejoin_start") ms after its rejoin was awaited"
    cluster_wait_settled "$new" 60
    show_status 1 2 3
    echo "node $primary has replayed the new primary's writes:"
    node_psql "$primary" -P footer=off -F ' | ' -c "SELECT id, written_on, at FROM demo_writes ORDER BY id"
else
    echo "node $primary did not rejoin within 60 s; raft_status there:" >&2
    node_psql "$primary" -c "SELECT rejoin_state, rejoin_error FROM raft_status" >&2 || true
fi
