#!/usr/bin/env bash
# bench/heal.sh: how long the cluster takes to heal itself
# (raft_ext.auto_rejoin), and how long a planned switchover with a clean
# demotion takes.
#
#   bench/heal.sh [--trials N] [--dir DIR] [--port PORT]
#
# A primary and two streaming standbys on 127.0.0.1 (scripts/lib/cluster.sh,
# default timing), auto_promote, auto_follow and auto_rejoin on.  Per trial:
#   kill   kill -9 of the primary; the killed node is started again as soon
#          as a new primary leads; measured from the kill until every node
#          but the new primary streams from it (the restarted node rejoined,
#          with pg_rewind: its crash recovery wrote past the fork);
#   switch raft_ext.transfer_leadership(next node) on the primary; measured
#          from the call until every node but the target streams from it,
#          and whether the old primary needed pg_rewind (it should not).
# Prints p50, p90 and max of each; raw data in bench/results/heal-<date>/.
# Reports; asserts nothing.
set -euo pipefail

trials=5
CLUSTER_DIR=/tmp/raft_ext_bench_heal
CLUSTER_PORT=5461
while [ $# -gt 0 ]; do
    case "$1" in
        --trials) trials=${2:?}; shift ;;
        --dir) CLUSTER_DIR=${2:?}; shift ;;
        --port) CLUSTER_PORT=${2:?}; shift ;;
        *) sed -n '6p' "$0" >&2; exit 2 ;;
    esac
    shift
done
CLUSTER_NODES=3
CLUSTER_NAME=bench
CLUSTER_AUTO_REJOIN=on
CLUSTER_CONF=""

. "$(dirname "$0")/lib.sh"
bench_require_extension
res=$(bench_results_dir heal)
bench_machine "$res"
trap 'cp "$CLUSTER_DIR"/node*.log "$res"/ 2>/dev/null; cluster_destroy' EXIT

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Whether every node but $1 is a standby streaming from it.
whole()
{
    local p=$1 i
    for i in $(seq "$CLUSTER_NODES"); do
        [ "$i" = "$p" ] && continue
        [ "$(node_psql "$i" -c "SELECT sender_port FROM pg_stat_wal_receiver WHERE status = 'streaming'" 2>/dev/null)" = "$(node_port "$p")" ] || return 1
    done
}

# Wait up to 120 s until whole $1; print the ms since $2, or "timeout".
wait_whole()
{
    local deadline=$(($(now_ms) + 120000))
    while [ "$(now_ms)" -lt "$deadline" ]; do
        if whole "$1"; then
            echo $(($(now_ms) - $2))
            return 0
        fi
        sleep 0.05
    done
    echo timeout
}

# p50, p90, max of the numbers in file $1.
summary()
{
    sort -n "$1" | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "no data"; exit }
        p50 = v[int((NR - 1) * 0.5) + 1]; p90 = v[int((NR - 1) * 0.9 + 0.999) + 1 > NR ? NR : int((NR - 1) * 0.9 + 0.999) + 1]
        printf "n=%d p50=%d ms p90=%d ms max=%d ms\n", NR, p50, p90, v[NR] }'
}

echo "== creating the cluster in $CLUSTER_DIR"
cluster_create
primary=$(cluster_wait_primary 60)
cluster_wait_settled "$primary" 60

echo "== kill -9 of the primary, $trials trials"
: >"$res/kill.ms"
for t in $(seq "$trials"); do
    start=$(now_ms)
    node_kill "$primary" >/dev/null
    new=$(cluster_wait_primary 60)
    node_start "$primary"
    ms=$(wait_whole "$new" "$start")
    rewound=$(grep -c "raft_ext_rejoin\[.*running pg_rewind" "$(node_log "$primary")" || true)
    echo "  trial $t: node $primary killed, node $new primary, whole again after $ms ms"
    [ "$ms" = timeout ] || echo "$ms" >>"$res/kill.ms"
    primary=$new
done

echo "== planned switchovers, $trials trials"
: >"$res/switch.ms"
rewinds=0
for t in $(seq "$trials"); do
    target=$((primary % CLUSTER_NODES + 1))
    before=$(file_size "$(node_log "$primary")")
    start=$(now_ms)
    for _ in $(seq 50); do
        node_psql "$primary" -c "SELECT raft_ext.transfer_leadership($target)" >/dev/null 2>&1 && break
        [ "$(node_leader "$target" 2>/dev/null)" = "$target" ] && break
        sleep 0.1
    done
    ms=$(wait_whole "$target" "$start")
    if tail -c +"$((before + 1))" "$(node_log "$primary")" | grep -q "raft_ext_rejoin\[.*running pg_rewind"; then
        rewinds=$((rewinds + 1))
    fi
    echo "  trial $t: node $primary -> node $target, whole again after $ms ms"
    [ "$ms" = timeout ] || echo "$ms" >>"$res/switch.ms"
    primary=$target
done

{
    echo "kill -9 -> every node streams from the new primary: $(summary "$res/kill.ms")"
    echo "switchover call -> every node streams from the target: $(summary "$res/switch.ms")"
    echo "switchovers that needed pg_rewind: $rewinds of $trials"
} | tee "$res/summary.txt"
