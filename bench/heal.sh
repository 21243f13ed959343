#!/usr/bin/env bash
# bench/heal.sh: how long the cluster takes to heal itself after a crash
# of its primary (raft_ext.auto_rejoin).  Planned switchovers, with their
# clean demotion, are bench/switchover.sh's.
#
#   bench/heal.sh [--trials N] [--dir DIR] [--port PORT]
#
# A primary and two streaming standbys on 127.0.0.1 (scripts/lib/cluster.sh,
# default timing), auto_promote, auto_follow and auto_rejoin on.  Per trial:
#   kill   kill -9 of the primary; the killed node is started again as soon
#          as a new primary leads; measured from the kill until every node
#          but the new primary streams from it (the restarted node rejoined,
#          with pg_rewind: its crash recovery wrote past the fork).
# Prints p50, p90 and max; raw data in bench/results/heal-<date>/.
# Reports; asserts nothing.
set -euo pipefail

trials=5
CLUSTER_DIR=/tmp/raft_ext_bench_heal
CLUSTER_PORT=5461
. "$(dirname "$0")/options.sh"
bench_options 6 trials=trials dir=CLUSTER_DIR port=CLUSTER_PORT -- "$@"
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
    node_kill "$primary" >/dev/null
    start=$((NODE_KILLED_AT_NS / 1000000))
    new=$(cluster_wait_primary 60)
    node_start "$primary"
    ms=$(wait_whole "$new" "$start")
    echo "  trial $t: node $primary killed, node $new primary, whole again after $ms ms"
    [ "$ms" = timeout ] || echo "$ms" >>"$res/kill.ms"
    primary=$new
done

{
    echo "kill -9 -> every node streams from the new primary: $(summary "$res/kill.ms")"
} | tee "$res/summary.txt"
