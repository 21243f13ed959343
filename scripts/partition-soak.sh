#!/usr/bin/env bash
# partition-soak.sh: real network partitions for as long as asked.
#
#   scripts/partition-soak.sh [--seconds N] [--seed S] [--nodes N] [--async]
#                             [--self-healing]
#
# Runs test/netns/209_flapping_partitions.pl (a cluster of 3 nodes, or
# --nodes N, every node in its own network namespace, a random schedule of
# cuts drawn from the seed, writers recording every commit) for N seconds
# (default 600), then prints the seed, the real partitions injected, the
# writes attempted and acknowledged, the acknowledged writes lost, the
# split-brain writes, the timeline regressions and the invariant breaches.
# The same seed replays the same schedule.  --async runs the cluster
# without synchronous replication (lost writes and timeline regressions
# are then expected and counted).  --self-healing runs
# test/netns/214_flapping_self_healing.pl instead: 3 nodes,
# raft_ext.synchronous = quorum, raft_ext.auto_rejoin on, no operator step;
# it also prints the acknowledged writes per second through the schedule
# and undisturbed (bench/flapping.sh keeps them).  Needs root (network namespaces); the
# servers run as the postgres user.  Builds and installs the extension
# against PG_CONFIG first.  Exit status: 0 no breach, 1 otherwise.
set -euo pipefail

cd "$(dirname "$0")/.."
top=$(pwd)
seconds=600
seed=""
async=0
nodes=3
test=209_flapping_partitions
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds=${2:?}; shift 2 ;;
        --seed) seed=${2:?}; shift 2 ;;
        --nodes) nodes=${2:?}; shift 2 ;;
        --async) async=1; shift ;;
        --self-healing) test=214_flapping_self_healing; shift ;;
        -h|--help) sed -n '4,5p' "$0" >&2; exit 2 ;;
        *) echo "unknown argument: $1" >&2; sed -n '4,5p' "$0" >&2; exit 2 ;;
    esac
done
case "$seconds" in ''|*[!0-9]*) echo "--seconds needs a whole number" >&2; exit 2 ;; esac
[ -z "$seed" ] && seed=$(( (RANDOM << 15 | RANDOM) % 1000000 ))
case "$seed" in *[!0-9]*) echo "--seed needs a whole number" >&2; exit 2 ;; esac
case "$nodes" in ''|*[!0-9]*|[012]) echo "--nodes needs a whole number, 3 or more" >&2; exit 2 ;; esac
if [ "$(id -u)" -ne 0 ]; then
    echo "partition-soak.sh: must run as root (network namespaces); the servers run as postgres" >&2
    exit 1
fi

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
export PG_CONFIG
make -s -j2 PG_CONFIG="$PG_CONFIG"
make -s install PG_CONFIG="$PG_CONFIG"

work=$(mktemp -d /tmp/raft_ext_soak.XXXXXX)
keep=0
trap '[ "$keep" -eq 1 ] || rm -rf "$work"' EXIT
rsync -a --exclude .git --exclude test/raft/build --exclude 'tmp_check*' "$top/" "$work/"

if [ "$test" = 214_flapping_self_healing ]; then
    echo "partition soak: $seconds s, seed $seed, 3 nodes, raft_ext.synchronous = quorum, auto_rejoin on"
else
    echo "partition soak: $seconds s, seed $seed, $nodes nodes, $([ "$async" -eq 1 ] && echo a)synchronous replication"
fi
status=0
out=$(NETNS_SECONDS="$seconds" NETNS_SEED="$seed" NETNS_ASYNC="$async" NETNS_NODES="$nodes" \
    make -s -C "$work" installcheck REGRESS= PG_CONFIG="$PG_CONFIG" \
    PROVE_TESTS="test/netns/$test.pl" 2>&1) || status=1
printf '%s\n' "$out" | grep -E '^# (flapping partitions|self-healing|acknowledged writes/s|[0-9]+ promotions|netns 2)' || true

line=$(printf '%s\n' "$out" | grep -E "^# netns $test:" | tail -n 1)
get() { printf '%s\n' "$line" | grep -oE "(^| )$1=[^ ]*" | sed 's/.*=//'; }
if [ -n "$line" ]; then
    echo "seed:                    $seed"
    echo "real partitions:         $(get partitions)"
    echo "writes attempted:        $(get attempts)"
    echo "writes acknowledged:     $(get acked)"
    echo "acknowledged, lost:      $(get lost)"
    echo "split-brain writes:      $(get split_brain)"
    echo "timeline regressions:    $(get timeline_regressions)"
    echo "invariant breaches:      $(get breaches)"
    echo "diverged standbys:       $(get diverged_standbys)"
    if [ "$test" = 214_flapping_self_healing ]; then
        echo "promotions:              $(get promotions)"
        echo "rejoins with pg_rewind:  $(get rejoins_rewound)"
        echo "rejoins without:         $(get rejoins_clean)"
        echo "acked/s undisturbed:     $(get acked_per_s_undisturbed)"
        echo "acked/s flapping:        $(get acked_per_s_flapping)"
    fi
    echo "history:                 $work/tmp_check/netns/$test.history.jsonl"
    keep=1
fi
if [ "$status" -ne 0 ]; then
    printf '%s\n' "$out" | tail -n 30
    echo "FAILED (seed $seed; replay: $0 --seconds $seconds --seed $seed --nodes $nodes$([ "$async" -eq 1 ] && echo ' --async')$([ "$test" = 214_flapping_self_healing ] && echo ' --self-healing')); logs in $work/tmp_check/log"
    keep=1
    exit 1
fi
echo "ok"
