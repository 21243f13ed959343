# shellcheck shell=bash
# scripts/lib/cluster.sh: a local raft_ext cluster on 127.0.0.1, for the demo
# and the benchmarks.  Source it; it defines shell functions and runs nothing.
#
# The cluster: node1 is a primary, node2..nodeN are streaming hot standbys
# made with pg_basebackup -R, every node runs raft_ext with its own node_id.
# Everything lives under one directory:
#
#   $CLUSTER_DIR/node<i>/      data directory of node i (port CLUSTER_PORT + i - 1)
#   $CLUSTER_DIR/node<i>.log   its server log (log_line_prefix '%m [%p] ', UTC)
#   $CLUSTER_DIR/              also the Unix socket directory
#
# Settings, read when the functions run (set them before cluster_create):
#   CLUSTER_DIR      directory of the cluster (default /tmp/raft_ext_cluster)
#   CLUSTER_NODES    number of nodes (default 3)
#   CLUSTER_PORT     port of node1 (default 5441)
#   CLUSTER_NAME     raft_ext.cluster_name (default "local")
#   CLUSTER_RAFT     1 (default): shared_preload_libraries = 'raft_ext' and the
#                    extension is created; 0: the same streaming cluster
#                    without raft_ext (the overhead baseline)
#   CLUSTER_CONF     extra postgresql.conf lines for every node
#   CLUSTER_BUILD    manual (default): initdb, postgresql.conf lines and
#                    pg_basebackup -R by these functions, local connections
#                    trusted (the benchmarks); raftctl: as a DBA makes a
#                    cluster (the demo): raftctl init on node1 and raftctl
#                    join on the others, with their roles, passwords and
#                    settings; node i's log is then node<i>.raft_ext/postgresql.log
#                    and the functions connect over the Unix socket in
#                    $CLUSTER_DIR (peer authentication); CLUSTER_CONF and
#                    CLUSTER_RAFT do not apply
#
# Servers run as the "postgres" user when the caller is root (initdb and
# postgres refuse root), else as the caller.  Functions never stop servers
# they were not asked to: cluster_stop_all stops the cluster's own nodes by
# their data directories.

CLUSTER_DIR=${CLUSTER_DIR:-/tmp/raft_ext_cluster}
CLUSTER_NODES=${CLUSTER_NODES:-3}
CLUSTER_PORT=${CLUSTER_PORT:-5441}
CLUSTER_NAME=${CLUSTER_NAME:-local}
CLUSTER_RAFT=${CLUSTER_RAFT:-1}
CLUSTER_CONF=${CLUSTER_CONF:-}
CLUSTER_BUILD=${CLUSTER_BUILD:-manual}

PG_CONFIG=${PG_CONFIG:-$(command -v pg_config || echo /usr/lib/postgresql/15/bin/pg_config)}
PG_BINDIR=$("$PG_CONFIG" --bindir)

if [ "$(id -u)" -eq 0 ]; then
    CLUSTER_USER=postgres
else
    CLUSTER_USER=$(id -un)
fi

# Run a command as the user that owns the servers.
as_pg()
{
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u "$CLUSTER_USER" -- "$@"
    else
        "$@"
    fi
}

# Port, data directory, log file of node $1.
node_port() { echo $((CLUSTER_PORT + $1 - 1)); }
node_dir() { echo "$CLUSTER_DIR/node$1"; }
node_log()
{
    if [ "$CLUSTER_BUILD" = raftctl ]; then
        echo "$CLUSTER_DIR/node$1.raft_ext/postgresql.log"
    else
        echo "$CLUSTER_DIR/node$1.log"
    fi
}

# Where the functions connect: TCP on 127.0.0.1 (trusted), or the Unix
# socket (peer authentication) of a cluster made by raftctl, whose TCP
# connections need the roles' passwords.
cluster_host()
{
    if [ "$CLUSTER_BUILD" = raftctl ]; then echo "$CLUSTER_DIR"; else echo 127.0.0.1; fi
}

# A conninfo for node $1 (extra key=value pairs may follow).
node_conninfo()
{
    local i=$1
    shift
    echo "host=$(cluster_host) port=$(node_port "$i") dbname=postgres user=$CLUSTER_USER $*"
}

# A conninfo naming every node; libpq picks the one that accepts writes.
cluster_writer_conninfo()
{
    local hosts="" ports="" i
    for i in $(seq "$CLUSTER_NODES"); do
        hosts+="${hosts:+,}$(cluster_host)"
        ports+="${ports:+,}$(node_port "$i")"
    done
    echo "host=$hosts port=$ports dbname=postgres user=$CLUSTER_USER target_session_attrs=read-write connect_timeout=2"
}

# psql on node $1, quiet, unaligned, no psqlrc: node_psql 2 -c "SELECT 1".
node_psql()
{
    local i=$1
    shift
    as_pg "$PG_BINDIR/psql" -X -q -At -v ON_ERROR_STOP=1 \
        -d "$(node_conninfo "$i" connect_timeout=2)" "$@"
}

# The postmaster's PID of node $1 (empty if it does not run).
node_pid()
{
    local pidfile
    pidfile="$(node_dir "$1")/postmaster.pid"
    [ -f "$pidfile" ] || return 0
    local pid
    pid=$(head -n 1 "$pidfile")
    kill -0 "$pid" 2>/dev/null && echo "$pid"
    return 0
}

# Start node $1 (waits until it accepts connections, or is a standby that does).
node_start()
{
    node_wait_dead "$1"
    # After a crash pg_ctl warns about the leftover postmaster.pid (expected):
    # show its messages only if the start fails.  A file, not a pipe: the
    # postmaster would inherit a pipe and hold it open.
    if ! as_pg "$PG_BINDIR/pg_ctl" -D "$(node_dir "$1")" -l "$(node_log "$1")" -w -t 60 start \
        >"$CLUSTER_DIR/pg_ctl.out" 2>&1; then
        cat "$CLUSTER_DIR/pg_ctl.out" >&2
        return 1
    fi
}

# Stop node $1 (fast shutdown; nothing if it does not run).
node_stop()
{
    [ -n "$(node_pid "$1")" ] || return 0
    as_pg "$PG_BINDIR/pg_ctl" -D "$(node_dir "$1")" -m "${2:-fast}" -w -t 60 stop >/dev/null 2>&1 || true
}

# Kill node $1's postmaster with SIGKILL, as a crash would; prints its PID.
# Its children notice the postmaster's death and exit by themselves; their
# PIDs are kept in $CLUSTER_DIR/node<i>.killed for node_wait_dead.  Sets
# NODE_KILLED_AT_NS to the moment of the kill (the benchmarks measure from
# it): bash's own clock read right before the builtin kill, with no process
# started in between (finding the children takes a pgrep, 5-15 ms on a
# busy machine, which must not count as failover time).
NODE_KILLED_AT_NS=0
node_kill()
{
    local pid
    pid=$(node_pid "$1")
    [ -n "$pid" ] || return 1
    { echo "$pid"; pgrep -P "$pid" || true; } >"$CLUSTER_DIR/node$1.killed"
    NODE_KILLED_AT_NS=${EPOCHREALTIME/./}000
    kill -9 "$pid"
    echo "$pid"
}

# Wait (up to 30 s) until the processes of node $1 killed by node_kill are
# gone: until then its data directory is still in use (postmaster.pid and
# shared memory), and pg_ctl start or pg_rewind would refuse it.
node_wait_dead()
{
    local f="$CLUSTER_DIR/node$1.killed" p alive
    [ -f "$f" ] || return 0
    for _ in $(seq 300); do
        alive=0
        for p in $(cat "$f"); do
            # Until reaped, a zombie answers kill -0: pg_ctl would think
            # the postmaster still runs.
            if [ -e "/proc/$p" ]; then
                alive=1
                break
            fi
        done
        [ "$alive" -eq 1 ] || break
        sleep 0.1
    done
    rm -f "$f"
}

# Stop every node of the cluster (immediate: this is cleanup).
cluster_stop_all()
{
    local i
    for i in $(seq "$CLUSTER_NODES"); do
        node_stop "$i" immediate
    done
}

# The raft_ext.peers value: every node, this one included.
cluster_peers()
{
    local peers="" i
    for i in $(seq "$CLUSTER_NODES"); do
        peers+="${peers:+;}$i:$(node_conninfo "$i" connect_timeout=2)"
    done
    echo "$peers"
}

# postgresql.conf lines every node shares.
cluster_common_conf()
{
    cat <<EOF
# --- scripts/lib/cluster.sh ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$CLUSTER_DIR'
log_line_prefix = '%m [%p] '
log_timezone = 'UTC'
hot_standby = on
wal_log_hints = on
wal_keep_size = '256MB'
wal_receiver_status_interval = 1s
wal_retrieve_retry_interval = 200ms
EOF
    if [ "$CLUSTER_RAFT" -eq 1 ]; then
        cat <<EOF
shared_preload_libraries = 'raft_ext'
raft_ext.peers = '$(cluster_peers)'
raft_ext.cluster_name = '$CLUSTER_NAME'
raft_ext.auto_promote = on
raft_ext.auto_follow = on
raft_ext.auto_rejoin = ${CLUSTER_AUTO_REJOIN:-on}
raft_ext.fencing = on
EOF
    fi
    [ -z "$CLUSTER_CONF" ] || printf '%s\n' "$CLUSTER_CONF"
}

# Create and start the cluster: node1 from initdb, the others from a base
# backup of it.  Removes an earlier cluster in $CLUSTER_DIR first.
cluster_create()
{
    local i dir
    cluster_destroy
    mkdir -p "$CLUSTER_DIR"
    [ "$(id -u)" -ne 0 ] || chown "$CLUSTER_USER" "$CLUSTER_DIR"
    if [ "$CLUSTER_BUILD" = raftctl ]; then
        cluster_create_with_raftctl
        return
    fi

    dir=$(node_dir 1)
    as_pg "$PG_BINDIR/initdb" -D "$dir" -U "$CLUSTER_USER" --auth=trust -N >/dev/null
    {
        cluster_common_conf
        echo "port = $(node_port 1)"
        [ "$CLUSTER_RAFT" -eq 0 ] || echo "raft_ext.node_id = 1"
    } | as_pg tee -a "$dir/postgresql.conf" >/dev/null
    node_start 1
    [ "$CLUSTER_RAFT" -eq 0 ] || node_psql 1 -c "CREATE EXTENSION raft_ext"

    for i in $(seq 2 "$CLUSTER_NODES"); do
        dir=$(node_dir "$i")
        as_pg "$PG_BINDIR/pg_basebackup" -D "$dir" -R -c fast -X stream \
            -d "$(node_conninfo 1 application_name=node$i)"
        # Later lines win over the ones copied from node1.
        {
            echo "port = $(node_port "$i")"
            [ "$CLUSTER_RAFT" -eq 0 ] || echo "raft_ext.node_id = $i"
        } | as_pg tee -a "$dir/postgresql.conf" >/dev/null
        node_start "$i"
    done
}

# The raftctl commands that make the cluster, one per line, as a DBA types
# them (raftctl switches to $CLUSTER_USER by itself when run as root).
cluster_raftctl_commands()
{
    local i
    echo "raftctl init -D $(node_dir 1) --node-id 1 --address 127.0.0.1:$(node_port 1) --cluster-name $CLUSTER_NAME --socket-dir $CLUSTER_DIR"
    for i in $(seq 2 "$CLUSTER_NODES"); do
        echo "raftctl join -D $(node_dir "$i") --node-id $i --address 127.0.0.1:$(node_port "$i") --password-file $(node_dir 1).raft_ext/pgpass --socket-dir $CLUSTER_DIR --from 'host=$CLUSTER_DIR port=$(node_port 1) dbname=postgres'"
    done
}

# cluster_create for CLUSTER_BUILD=raftctl: run those commands, each shown
# with what raftctl prints.
cluster_create_with_raftctl()
{
    local cmd
    while IFS= read -r cmd; do
        printf '$ %s\n' "$cmd"
        eval "\"\$PG_BINDIR/\"$cmd" | sed 's/^/  /'
        [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "raftctl failed: $cmd" >&2; return 1; }
    done < <(cluster_raftctl_commands)
}

# Stop the cluster and remove its directory.
cluster_destroy()
{
    local i
    [ -d "$CLUSTER_DIR" ] || return 0
    for i in $(seq "$CLUSTER_NODES"); do
        node_stop "$i" immediate
    done
    rm -rf "$CLUSTER_DIR"
}

# The leader node $1 knows of (empty if none, or if it does not answer).
node_leader()
{
    node_psql "$1" -c "SELECT leader_id FROM raft_status" 2>/dev/null || true
}

# The node that leads, holds the lease and is out of recovery: the one that
# accepts writes.  Empty if there is none right now.
cluster_primary()
{
    local i out
    for i in $(seq "$CLUSTER_NODES"); do
        out=$(node_psql "$i" -c "SELECT role = 'leader' AND has_lease AND NOT pg_is_in_recovery() FROM raft_status" 2>/dev/null) || continue
        [ "$out" = t ] && { echo "$i"; return 0; }
    done
    return 0
}

# Wait up to $1 seconds (default 60) for a writable primary other than node
# $2 (optional); print its id.
cluster_wait_primary()
{
    local timeout=${1:-60} not=${2:-0} p deadline
    deadline=$(($(date +%s) + timeout))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        p=$(cluster_primary)
        if [ -n "$p" ] && [ "$p" != "$not" ]; then
            echo "$p"
            return 0
        fi
        sleep 0.1
    done
    echo "no writable primary within $timeout s" >&2
    return 1
}

# Whether every running node agrees that node $1 leads and every other running
# node is a streaming standby that has replayed what the primary had flushed.
cluster_settled()
{
    local p=$1 i lsn out
    lsn=$(node_psql "$p" -c "SELECT pg_current_wal_flush_lsn()" 2>/dev/null) || return 1
    for i in $(seq "$CLUSTER_NODES"); do
        [ -n "$(node_pid "$i")" ] || continue
        [ "$(node_leader "$i")" = "$p" ] || return 1
        [ "$i" = "$p" ] && continue
        out=$(node_psql "$i" -c "SELECT pg_is_in_recovery() AND pg_last_wal_replay_lsn() >= '$lsn' AND EXISTS (SELECT FROM pg_stat_wal_receiver WHERE status = 'streaming')" 2>/dev/null) || return 1
        [ "$out" = t ] || return 1
    done
    return 0
}

# Wait up to $2 seconds (default 60) for cluster_settled $1.
cluster_wait_settled()
{
    local p=$1 timeout=${2:-60} deadline
    deadline=$(($(date +%s) + timeout))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        cluster_settled "$p" && return 0
        sleep 0.2
    done
    echo "the cluster did not settle around node $p within $timeout s" >&2
    return 1
}

# Turn node $1 (a former primary, running or not) into a standby of node $2
# with scripts/rejoin-standby.sh (pg_rewind), and start it.
node_rejoin()
{
    local i=$1 source=$2
    node_wait_dead "$i"
    "$(dirname "${BASH_SOURCE[0]}")/../rejoin-standby.sh" -D "$(node_dir "$i")" \
        --source "$(node_conninfo "$source")" --application-name "node$i" \
        --bindir "$PG_BINDIR" --log "$(node_log "$i")"
}

# The command lines that stop the cluster by hand (for --keep).
cluster_stop_commands()
{
    local i prefix=""
    [ "$(id -u)" -ne 0 ] || prefix="runuser -u $CLUSTER_USER -- "
    for i in $(seq "$CLUSTER_NODES"); do
        echo "  ${prefix}$PG_BINDIR/pg_ctl -D $(node_dir "$i") stop"
    done
}

# After a failover or switchover to node $1: give every other running node
# $2 seconds (default 15) to stream from it; rejoin (pg_rewind) the ones that
# do not, e.g. a standby whose WAL went past the point where the new
# primary's timeline forked.  Prints the ids of the nodes it rejoined.
cluster_repair()
{
    local p=$1 timeout=${2:-15} i out deadline
    deadline=$(($(date +%s) + timeout))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        cluster_settled "$p" && return 0
        sleep 0.2
    done
    for i in $(seq "$CLUSTER_NODES"); do
        [ "$i" = "$p" ] && continue
        [ -n "$(node_pid "$i")" ] || continue
        out=$(node_psql "$i" -c "SELECT pg_is_in_recovery() AND EXISTS (SELECT FROM pg_stat_wal_receiver WHERE status = 'streaming' AND sender_port = $(node_port "$p"))" 2>/dev/null || true)
        if [ "$out" != t ]; then
            node_rejoin "$i" "$p" >>"$CLUSTER_DIR/repair.log" 2>&1 || return 1
            echo "$i"
        fi
    done
}
