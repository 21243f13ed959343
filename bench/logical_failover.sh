#!/usr/bin/env bash
# bench/logical_failover.sh: a logical consumer across a failover
# (raft_ext.sync_logical_slots, PostgreSQL 17+).
#
#   bench/logical_failover.sh [--trials N] [--seconds S] [--rounds R]
#                             [--pg 17|18] [--dir DIR] [--port PORT]
#
# The cluster is made as a DBA makes it: raftctl init on node 1,
# wal_level = logical and raft_ext.sync_logical_slots = on there (ALTER
# SYSTEM, a restart: pg_basebackup copies postgresql.auto.conf to the
# others), then raftctl join of nodes 2 and 3.  raftctl's defaults apply:
# member slots (it sets max_slot_wal_keep_size), auto_promote, auto_follow,
# auto_rejoin, the default timing.  Slot "cdc" is made with failover = true
# and pg_recvlogical consumes it through a conninfo naming every member with
# target_session_attrs=read-write, for the whole run.
#
# Part 1, --trials failovers (default 5).  bench/writer.c commits a row every
# ~5 ms; once every standby has "cdc" synced and ready, the primary's
# postmaster gets SIGKILL.  Measured from the kill:
#   write_ms   the first commit another node acknowledges (client)
#   resume_ms  the consumer's first change from the new primary: one sent
#              again (the slot resumes from the last confirmed position)
#              or one the new primary committed
#   change_ms  the consumer's first change that the new primary committed
# and, on the new primary, rows it has that the consumer never received
# (lost), rows the consumer received that it lacks (phantom), rows received
# twice (duplicates), commits the writer saw acknowledged that it lacks
# (acked_lost).  Then the killed node is started again (auto_rejoin rewinds
# it); ready_ms is that start -> every node streams from the new primary
# and has "cdc" synced and ready, and the next trial kills the new primary.
#
# Part 2, --rounds R (default 1) pairs of pgbench -N runs of --seconds S
# (default 30) on the primary while the consumer reads "cdc": the first with
# the synchronized_standby_slots raft_ext writes, the second with the
# setting off on the primary (raft_ext then removes the list).  Measured:
# tps; per transaction, its commit on the primary -> its COMMIT line at the
# consumer (test_decoding include-timestamp); about every second on the
# primary, the WAL end minus the slot's confirmed position and minus what
# the WAL sender has sent.
#
# Raw data: bench/results/logical_failover-<date>/.  Reports; asserts
# nothing.
#
# The conditions given to wait_until are evaluated at each try, hence in
# single quotes:
# shellcheck disable=SC2016
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

trials=5
lag_seconds=30
lag_rounds=1
CLUSTER_DIR=/tmp/raft_ext_bench_logical
# Not 5451-5453: the other benchmarks may run at the same time.
CLUSTER_PORT=5461

# shellcheck source=options.sh
. "$(dirname "$0")/options.sh"
# Failover slots exist from PostgreSQL 17 on: 17 is the default, and 15 is
# refused before anything starts (bench_options would otherwise accept it).
args=("$@")
pg_given=0
for ((i = 0; i < ${#args[@]}; i++)); do
    if [ "${args[i]}" = --pg ] && [ $((i + 1)) -lt ${#args[@]} ]; then
        pg_given=1
        case "${args[i + 1]}" in
            15) echo "bench/logical_failover.sh: PostgreSQL 15 has no slot synchronization (failover slots are 17+): use --pg 17 or --pg 18" >&2
                exit 2 ;;
        esac
    fi
done
# Inside the chroot bench_use_pg reruns this script without --pg; 17's own
# binaries are there, so --pg 17 only sets PG_CONFIG.
[ "$pg_given" -eq 1 ] || args+=(--pg 17)
bench_options 5,6 trials=trials seconds=lag_seconds rounds=lag_rounds dir=CLUSTER_DIR port=CLUSTER_PORT -- "${args[@]}"
CLUSTER_NODES=3
CLUSTER_NAME=bench
CLUSTER_BUILD=raftctl

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
major=$("$PG_CONFIG" --version | sed 's/^PostgreSQL \([0-9]*\).*/\1/')
if [ "$major" -lt 17 ]; then
    echo "bench/logical_failover.sh: $PG_CONFIG is PostgreSQL $major; failover slots need 17 or later (--pg 17)" >&2
    exit 2
fi
HELPER="python3 $BENCH_ROOT/bench/logical_failover.py"

bench_start logical_failover writer
# Files the servers' user writes itself (the writer's log, pg_recvlogical's
# output) live beside the cluster: as root that user may not write into
# this checkout.  They are copied into $res at the end.
run=$CLUSTER_DIR/run

# Background processes of this run, by PID (never by name).
declare -A pids=()

# Start "$@" in the background as the servers' user, stdout and stderr to
# $2, and remember its PID as pids[$1].  setpriv execs the program itself
# (runuser would stay in between as its parent), so the PID is the
# program's, and stopping it by that PID stops it.
spawn_pg()
{
    local name=$1 out=$2
    shift 2
    if [ "$(id -u)" -eq 0 ]; then
        setpriv --reuid="$CLUSTER_USER" --regid="$CLUSTER_USER" --init-groups --reset-env -- "$@" >"$out" 2>&1 &
    else
        "$@" >"$out" 2>&1 &
    fi
    pids[$name]=$!
}

# Stop background process $1 (SIGTERM, then wait for it).
stop_bg()
{
    local pid=${pids[$1]:-}
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset "pids[$1]"
}

# EXIT trap: stop what this run started, keep the logs, remove the cluster.
finish()
{
    local name i
    for name in "${!pids[@]}"; do
        stop_bg "$name"
    done
    if [ -d "$CLUSTER_DIR" ]; then
        mkdir -p "$res/logs"
        for i in $(seq "$CLUSTER_NODES"); do
            cp "$(node_log "$i")" "$res/logs/node$i.log" 2>/dev/null || true
            cp "$(node_dir "$i")/raft_ext_rejoin.server.log" "$res/logs/node$i.rejoin.server.log" 2>/dev/null || true
        done
        cp "$run"/*.writes "$run"/*.log "$res/" 2>/dev/null || true
    fi
    cluster_destroy
}
trap finish EXIT

# Wait up to $2 seconds for the command "$1" (evaluated) to succeed.
wait_until()
{
    local cond=$1 deadline=$(($(date +%s) + $2))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        eval "$cond" && return 0
        sleep 0.2
    done
    return 1
}

# Whether every standby that runs has slot "cdc" synced and ready (a
# temporary copy is dropped by a promotion), and primary $1 shows every
# member's copies ready (raft_cluster.logical_slots).
slots_ready()
{
    local p=$1 i out
    for i in $(seq "$CLUSTER_NODES"); do
        if [ "$i" = "$p" ] || [ -z "$(node_pid "$i")" ]; then
            continue
        fi
        out=$(node_psql "$i" -c "SELECT coalesce(bool_and(synced AND NOT temporary), false) FROM pg_replication_slots WHERE slot_name = 'cdc'" 2>/dev/null) || return 1
        [ "$out" = t ] || return 1
    done
    out=$(node_psql "$p" -c "SELECT count(*) FILTER (WHERE logical_slots IS DISTINCT FROM 'ready') FROM raft_ext.raft_cluster WHERE NOT is_self" 2>/dev/null) || return 1
    [ "$out" = 0 ]
}

# The list raft_ext keeps on primary $1 (empty when it keeps none).
standby_slots() { node_psql "$1" -c "SHOW synchronized_standby_slots"; }

# Milliseconds since the epoch (bash's clock, no process started).
now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

# --- the cluster ---------------------------------------------------------
echo "== creating the cluster in $CLUSTER_DIR with raftctl"
cluster_destroy
mkdir -p "$CLUSTER_DIR"
[ "$(id -u)" -ne 0 ] || chown "$CLUSTER_USER" "$CLUSTER_DIR"
mapfile -t raftctl_cmds < <(cluster_raftctl_commands)
for n in "${!raftctl_cmds[@]}"; do
    printf '$ %s\n' "${raftctl_cmds[n]}"
    eval "\"\$PG_BINDIR/\"${raftctl_cmds[n]}" >"$res/raftctl$((n + 1)).out" 2>&1 ||
        { cat "$res/raftctl$((n + 1)).out" >&2; echo "raftctl failed" >&2; exit 1; }
    if [ "$n" -eq 0 ]; then
        # Before the joins, so that their base backups carry both settings.
        node_psql 1 -c "ALTER SYSTEM SET wal_level = logical" \
            -c "ALTER SYSTEM SET raft_ext.sync_logical_slots = on"
        node_stop 1 fast
        node_start 1
        cluster_wait_primary 60 >/dev/null
    fi
done
primary=$(cluster_wait_primary 60)
wait_until '[ "$(standby_slots "$primary" 2>/dev/null | tr -cd , | wc -c)" = 1 ]' 60 ||
    { echo "node $primary never listed both standbys in synchronized_standby_slots" >&2; exit 1; }
echo "node $primary leads; synchronized_standby_slots = $(standby_slots "$primary"); wal_level on node 2: $(node_psql 2 -c 'SHOW wal_level')"
{
    echo "raft_ext settings on node $primary:"
    node_psql "$primary" -c "SELECT name || ' = ' || setting FROM pg_settings WHERE name IN ('raft_ext.election_timeout', 'raft_ext.heartbeat_interval', 'raft_ext.election_spread', 'raft_ext.auto_promote', 'raft_ext.auto_follow', 'raft_ext.auto_rejoin', 'raft_ext.member_slots', 'raft_ext.sync_logical_slots', 'raft_ext.synchronous', 'wal_level', 'max_slot_wal_keep_size') ORDER BY name"
    # git is not in the chroot, where bench_machine's commit line is empty.
    if ! git -C "$BENCH_ROOT" rev-parse HEAD >/dev/null 2>&1; then
        head=$(cat "$BENCH_ROOT/.git/HEAD" 2>/dev/null || true)
        if [ "${head#ref: }" != "$head" ]; then
            head=$(cat "$BENCH_ROOT/.git/${head#ref: }" 2>/dev/null ||
                awk -v r="${head#ref: }" '$2 == r { print $1 }' "$BENCH_ROOT/.git/packed-refs" 2>/dev/null || true)
        fi
        echo "raft_ext HEAD (read from .git): ${head:-?}"
    fi
} >>"$res/machine.txt"

mkdir -p "$run"
[ "$(id -u)" -ne 0 ] || chown "$CLUSTER_USER" "$run"
cp "$writer_bin" "$run/writer"
node_psql "$primary" -c "CREATE TABLE bench_writes (id bigint PRIMARY KEY, at timestamptz)"
node_psql "$primary" -c "SELECT pg_create_logical_replication_slot('cdc', 'test_decoding', false, false, true)" >/dev/null

conninfo=$(cluster_writer_conninfo)
# The stamper first, so that it sees the file from its first byte.
: >"$res/received.txt"
$HELPER tail "$run/changes.txt" "$res/received.txt" &
pids[tail]=$!
spawn_pg consumer "$run/pg_recvlogical.log" \
    "$PG_BINDIR/pg_recvlogical" -d "$conninfo" --slot cdc --start -f "$run/changes.txt" -F 1 -s 1

# --- part 1: failovers -----------------------------------------------------
tsv=$res/failover.tsv
printf 'trial\tkilled\tnew\tready_before_kill\twrite_ms\tresume_ms\tchange_ms\tready_ms\tlost\tphantom\tduplicates\tacked_lost\n' >"$tsv"
for trial in $(seq "$trials"); do
    cluster_wait_settled "$primary" 180 || break
    writes=$run/trial$trial.writes
    : >"$writes"
    [ "$(id -u)" -ne 0 ] || chown "$CLUSTER_USER" "$writes"
    from_us=${EPOCHREALTIME/./}
    spawn_pg writer "$run/writer.log" "$run/writer" "$conninfo" "$writes" 5
    # The consumer gets this trial's rows, and the standbys' copies are
    # ready: a promotion drops a copy that is still temporary.
    wait_until "awk -v t=$from_us '\$2 > t { f = 1 } END { exit !f }' '$res/received.txt'" 60 ||
        echo "  trial $trial: the consumer received nothing within 60 s" >&2
    ready=yes
    wait_until 'slots_ready "$primary"' 120 || { ready=no; echo "  trial $trial: slot cdc not ready on every standby after 120 s; killing anyway" >&2; }
    sleep 1

    old_port=$(node_port "$primary")
    node_kill "$primary" >/dev/null
    kill_us=$((NODE_KILLED_AT_NS / 1000))
    # Another node acknowledges a commit; then the consumer receives a row
    # that node committed (pg_recvlogical retries every 5 s).
    wait_until "awk -v t=$kill_us -v p=$old_port '\$2 != \"-\" && \$2 != p && \$1 > t { f = 1 } END { exit !f }' '$writes'" 60 ||
        echo "  trial $trial: no write acknowledged by another node within 60 s" >&2
    new_port=$(awk -v t="$kill_us" -v p="$old_port" '$2 != "-" && $2 != p && $1 > t { print $2; exit }' "$writes")
    if [ -n "$new_port" ]; then
        wait_until "awk -v p=$new_port 'NR == FNR { w[\$3] = (\$2 == p); next } w[\$2] { f = 1 } END { exit !f }' '$writes' '$res/received.txt'" 90 ||
            echo "  trial $trial: the consumer received no row of the new primary within 90 s" >&2
    fi
    sleep 0.5
    stop_bg writer
    to_us=${EPOCHREALTIME/./}
    new=$(cluster_wait_primary 60 "$primary") || { echo "  trial $trial: no new primary" >&2; break; }
    # Everything the new primary acknowledged reaches the consumer (up to 30 s;
    # what does not is counted as lost).
    wait_until "awk -v p=$(node_port "$new") 'NR == FNR { got[\$2] = 1; next } \$2 == p && !(\$3 in got) { n++ } END { exit n > 0 }' '$res/received.txt' '$writes'" 30 || true
    node_psql "$new" -c "SELECT id FROM bench_writes WHERE id BETWEEN $from_us AND $to_us ORDER BY id" >"$res/trial$trial.primary_ids" || true
    cp "$writes" "$res/"
    row=$($HELPER trial "$kill_us" "$old_port" "$writes" "$res/received.txt" "$res/trial$trial.primary_ids" "$from_us" "$to_us")

    # The killed node comes back by itself as a standby (auto_rejoin: pg_rewind).
    start_ms=$(now_ms)
    node_start "$primary" >"$res/trial$trial.start" 2>&1 || true
    ready_ms=""
    if cluster_wait_settled "$new" 180 && wait_until 'slots_ready "$new"' 120; then
        ready_ms=$(($(now_ms) - start_ms))
    else
        echo "  trial $trial: node $primary did not rejoin with slot cdc ready" >&2
    fi
    IFS=$'\t' read -r write_ms resume_ms change_ms _ lost phantom dups acked_lost <<<"$row"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$trial" "$primary" "$new" "$ready" \
        "$write_ms" "$resume_ms" "$change_ms" "$ready_ms" "$lost" "$phantom" "$dups" "$acked_lost" >>"$tsv"
    echo "trial $trial: killed node $primary, node $new leads; first write ${write_ms:-?} ms, consumer resumes ${resume_ms:-?} ms, first change of node $new ${change_ms:-?} ms; lost $lost, phantom $phantom, duplicates $dups, acknowledged commits lost $acked_lost; rejoined and slot ready ${ready_ms:-?} ms after the start"
    primary=$new
done
stop_bg tail

# --- part 2: consumer lag under pgbench, with and without the list --------
primary=$(cluster_wait_primary 60)
port=$(node_port "$primary")
echo "== lag: pgbench -i -s 10 on node $primary"
# pgbench's initial load (a million rows) is not what is measured: the
# consumer stops, the slot is moved past the load, the consumer starts again.
stop_bg consumer
as_pg "$PG_BINDIR/pgbench" -h "$CLUSTER_DIR" -p "$port" -i -s 10 -q postgres >"$res/pgbench-init.log" 2>&1
wait_until "node_psql $primary -c \"SELECT pg_replication_slot_advance('cdc', pg_current_wal_lsn())\" >/dev/null 2>&1" 60 ||
    { echo "could not move slot cdc past pgbench's load" >&2; exit 1; }
# test_decoding's include-timestamp: each COMMIT line carries the commit's
# time on the primary; the stamper adds the time it arrived.
: >"$res/lag-commits.txt"
$HELPER tail "$run/changes-lag.txt" "$res/lag-commits.txt" commits &
pids[tail]=$!
spawn_pg consumer "$run/pg_recvlogical-lag.log" \
    "$PG_BINDIR/pg_recvlogical" -d "$conninfo" --slot cdc --start -f "$run/changes-lag.txt" -F 1 -s 1 \
    -o include-timestamp=on

# Set the mode on the primary and wait until raft_ext's list follows it.
set_mode()
{
    local p=$1 mode=$2
    if [ "$mode" = with ]; then
        node_psql "$p" -c "ALTER SYSTEM SET raft_ext.sync_logical_slots = on" -c "SELECT pg_reload_conf()" >/dev/null
        wait_until '[ "$(standby_slots "$p" 2>/dev/null | tr -cd , | wc -c)" = 1 ]' 60
    else
        node_psql "$p" -c "ALTER SYSTEM SET raft_ext.sync_logical_slots = off" -c "SELECT pg_reload_conf()" >/dev/null
        wait_until '[ -z "$(standby_slots "$p" 2>/dev/null)" ]' 60
    fi
}

# Whether the consumer has confirmed WAL position $2 on node $1, and its WAL
# sender has read that far (after the slot was moved past pgbench's load,
# the sender still reads through that WAL from the slot's restart point).
consumer_at()
{
    [ "$(node_psql "$1" -c "SELECT s.confirmed_flush_lsn >= '$2' AND r.sent_lsn >= '$2' FROM pg_replication_slots s JOIN pg_stat_replication r ON r.pid = s.active_pid WHERE s.slot_name = 'cdc'" 2>/dev/null)" = t ]
}

lag_tsv=$res/lag.tsv
printf 'round\tmode\tsynchronized_standby_slots\ttps\tdrain_ms\n' >"$lag_tsv"
for round in $(seq "$lag_rounds"); do
    for mode in with without; do
        set_mode "$primary" "$mode" || { echo "synchronized_standby_slots did not follow the setting ($mode)" >&2; exit 1; }
        list=$(standby_slots "$primary")
        cluster_wait_settled "$primary" 120
        lsn=$(node_psql "$primary" -c "SELECT pg_current_wal_lsn()")
        wait_until "consumer_at $primary $lsn" 120 || echo "  the consumer did not catch up before the run" >&2
        samples=$res/lag-$round-$mode.tsv
        printf 't\tslot_lag_bytes\tsent_lag_bytes\n' >"$samples"
        echo "== lag round $round, $mode the list (synchronized_standby_slots = '$list'): pgbench -c 4 -j 2 -T $lag_seconds -N"
        load_from_us=${EPOCHREALTIME/./}
        spawn_pg pgbench "$res/pgbench-$round-$mode.log" \
            "$PG_BINDIR/pgbench" -h "$CLUSTER_DIR" -p "$port" -c 4 -j 2 -T "$lag_seconds" -N postgres
        # About one sample a second on the primary: the WAL end against the
        # slot's confirmed position (pg_recvlogical confirms once a second,
        # -F 1 -s 1, so this is mostly a second of WAL) and against what the
        # WAL sender has sent (it holds back what the listed standbys have
        # not flushed).  pg_stat_replication's write_lag is NULL for a
        # logical WAL sender: the time lag comes from the COMMIT lines.
        while kill -0 "${pids[pgbench]}" 2>/dev/null; do
            node_psql "$primary" -F $'\t' -c "SELECT extract(epoch FROM clock_timestamp())::numeric(16,3), pg_current_wal_lsn() - s.confirmed_flush_lsn, pg_current_wal_lsn() - r.sent_lsn FROM pg_replication_slots s LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid WHERE s.slot_name = 'cdc'" >>"$samples" 2>/dev/null || true
            sleep 1
        done
        wait "${pids[pgbench]}" || echo "  pgbench failed: see $res/pgbench-$round-$mode.log" >&2
        unset "pids[pgbench]"
        load_to_us=${EPOCHREALTIME/./}
        # How long the consumer needs, once the load stops, to confirm the
        # WAL end (the backlog it had plus up to one -F interval).
        end_lsn=$(node_psql "$primary" -c "SELECT pg_current_wal_lsn()")
        drain_start=$(now_ms)
        drain_ms=""
        wait_until "consumer_at $primary $end_lsn" 120 && drain_ms=$(($(now_ms) - drain_start))
        $HELPER latency "$res/lag-commits.txt" "$load_from_us" "$load_to_us" "$res/latency-$round-$mode.tsv"
        tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$res/pgbench-$round-$mode.log" | head -n 1)
        printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$mode" "${list:-''}" "$tps" "$drain_ms" >>"$lag_tsv"
        echo "  tps $tps; consumer caught up ${drain_ms:-?} ms after the load stopped"
    done
done
# Leave the setting as the cluster was made.
set_mode "$primary" with || true

# --- summary ---------------------------------------------------------------
{
    echo "# logical_failover, $(date -u '+%Y-%m-%d %H:%M UTC'), $trials failover trials, $lag_rounds lag round(s) of $lag_seconds s"
    echo
    sed 's/^/    /' "$res/machine.txt"
    echo
    echo "## kill -9 of the primary, consumer on slot cdc (failover = true)"
    echo
    echo "| measure | n | min | p50 | p90 | max |"
    echo "|---|---|---|---|---|---|"
    $HELPER stats "$tsv" ms write_ms resume_ms change_ms ready_ms
    echo
    echo "| trial | killed | new | slot ready before the kill | lost | phantom | duplicates | acked_lost |"
    echo "|---|---|---|---|---|---|---|---|"
    awk -F'\t' 'NR > 1 { printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $9, $10, $11, $12 }' "$tsv"
    for round in $(seq "$lag_rounds"); do
        for mode in with without; do
            echo
            echo "## lag, round $round, $mode synchronized_standby_slots ($(awk -F'\t' -v r="$round" -v m="$mode" '$1 == r && $2 == m { printf "list %s, %s tps, caught up %s ms after the load", $3, $4, $5 }' "$lag_tsv"))"
            echo
            echo "| measure | n | min | p50 | p90 | max |"
            echo "|---|---|---|---|---|---|"
            $HELPER stats "$res/latency-$round-$mode.tsv" ms latency_ms
            $HELPER stats "$res/lag-$round-$mode.tsv" bytes slot_lag_bytes sent_lag_bytes
        done
    done
} | tee "$res/summary.md"
echo "raw data: $res"
