#!/usr/bin/env bash
# bench/stability.sh: does a saturated primary keep its leadership, and what
# does raft_ext cost its throughput?
#
#   bench/stability.sh [--duration 10m] [--rounds 1] [--clients 4]
#                      [--threads 2] [--scale 10] [--dir DIR] [--port PORT]
#
# A primary and two streaming standbys at default settings
# (scripts/lib/cluster.sh); pgbench -i -s SCALE, then pgbench -c CLIENTS
# -j THREADS -T DURATION (TPC-B-like) against the primary, which saturates
# both cores of a 2-core machine with the standbys replaying.  With
# raft_ext it counts, over the run:
#   leader changes   "node N is now ..." role-change lines in any
#                    node's log, and the term before/after (target 0);
#   fencing events   commits refused ("fenced node") or warned about ("lease
#                    ran out") in any node's log (target 0);
# then the same cluster without raft_ext in shared_preload_libraries, and
# reports tps with and without and the difference in %.  --rounds N
# alternates the two N times (with, without, with, ...) and compares the
# means, which evens out a shared machine's load.  Duration: 90s, 10m, or
# seconds.  Raw data: bench/results/stability-<date>/.
set -euo pipefail

duration=10m
rounds=1
clients=4
threads=2
scale=10
CLUSTER_DIR=/tmp/raft_ext_bench
CLUSTER_PORT=5451
. "$(dirname "$0")/options.sh"
bench_options 5,6 duration=duration rounds=rounds clients=clients threads=threads scale=scale dir=CLUSTER_DIR port=CLUSTER_PORT -- "$@"
case "$duration" in
    *m) seconds=$((${duration%m} * 60)) ;;
    *s) seconds=${duration%s} ;;
    *) seconds=$duration ;;
esac
CLUSTER_NODES=3
CLUSTER_NAME=bench

. "$(dirname "$0")/lib.sh"
bench_start stability
trap cluster_destroy EXIT

# Sum of the terms the nodes report.
terms()
{
    local i
    for i in $(seq "$CLUSTER_NODES"); do
        node_psql "$i" -c "SELECT node_id || ':' || term || ':' || coalesce(leader_id, 0) FROM raft_status" 2>/dev/null || echo "$i:?"
    done | paste -sd' ' -
}

# Run pgbench on a fresh cluster; $1: label (raft_ext or baseline).
run()
{
    local label=$1 p i offsets=() out
    cluster_create
    if [ "$CLUSTER_RAFT" -eq 1 ]; then
        p=$(cluster_wait_primary 60)
    else
        p=1
    fi
    echo "== $label: pgbench -i -s $scale on node $p"
    as_pg "$PG_BINDIR/pgbench" -i -s "$scale" -q -d "$(node_conninfo "$p")" >"$res/$label-init.txt" 2>&1
    [ "$CLUSTER_RAFT" -eq 0 ] || cluster_wait_settled "$p" 120
    for i in $(seq "$CLUSTER_NODES"); do
        offsets+=("$(file_size "$(node_log "$i")")")
    done
    [ "$CLUSTER_RAFT" -eq 0 ] || echo "terms before: $(terms)" | tee "$res/$label-terms.txt"
    echo "== $label: pgbench -c $clients -j $threads -T $seconds"
    as_pg "$PG_BINDIR/pgbench" -c "$clients" -j "$threads" -T "$seconds" -P 10 \
        -d "$(node_conninfo "$p")" >"$res/$label-pgbench.txt" 2>&1 || true
    grep -E "^tps|failed|aborted|latency average" "$res/$label-pgbench.txt" || true
    [ "$CLUSTER_RAFT" -eq 0 ] || echo "terms after: $(terms)" | tee -a "$res/$label-terms.txt"
    for i in $(seq "$CLUSTER_NODES"); do
        out="$res/$label-node$i.log"
        tail -c +"$((offsets[i - 1] + 1))" "$(node_log "$i")" >"$out"
    done
    cluster_destroy
}

for round in $(seq "$rounds"); do
    CLUSTER_CONF=$(profile_conf default)
    CLUSTER_RAFT=1
    run "raft_ext$round"
    CLUSTER_CONF=""
    CLUSTER_RAFT=0
    run "baseline$round"
done

tps() { awk '/^tps = / { print $3; exit }' "$res/$1-pgbench.txt"; }
field() { grep -m1 "$2" "$res/$1-pgbench.txt" | sed 's/^[^=:]*[=:] *//'; }
changes=$(cat "$res"/raft_ext*-node*.log | grep -c "LOG:  node [0-9]* is now" || true)
fenced=$(cat "$res"/raft_ext*-node*.log | grep -c "fenced node\|lease ran out" || true)
{
    echo "# stability, $(date -u '+%Y-%m-%d %H:%M UTC'), pgbench -s $scale -c $clients -j $threads -T $seconds, $rounds round(s)"
    echo
    sed 's/^/    /' "$res/machine.txt"
    echo
    echo "| run | tps | latency average | failed transactions | aborted clients |"
    echo "|---|---|---|---|---|"
    for round in $(seq "$rounds"); do
        for label in "raft_ext$round" "baseline$round"; do
            echo "| $label | $(tps "$label") | $(field "$label" 'latency average') | $(field "$label" 'failed transactions') | $(grep -c 'aborted' "$res/$label-pgbench.txt" || true) |"
        done
    done
    echo
    echo "leader changes during the raft_ext runs (role-change log lines, all nodes): $changes"
    echo "fencing events during the raft_ext runs (refused or late commits): $fenced"
    echo
    cat "$res"/raft_ext*-terms.txt | sed 's/^/    /'
    echo
    for round in $(seq "$rounds"); do
        echo "$(tps "raft_ext$round") $(tps "baseline$round")"
    done | awk '$1 != "" && $2 != "" { a += $1; b += $2; n++ }
        END { if (n) printf "mean tps with raft_ext %.1f, without %.1f: %+.2f%%\n", a / n, b / n, (a - b) / b * 100 }'
} | tee "$res/summary.md"
echo "raw data: $res"
