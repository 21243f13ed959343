#!/usr/bin/env bash
# bench/flapping.sh: the clients' acknowledged writes per second while the
# network flaps, against the same cluster undisturbed.
#
#   bench/flapping.sh [--seconds N] [--seed S]
#
# Runs scripts/partition-soak.sh --self-healing: 3 nodes, each in its own
# network namespace, raft_ext.synchronous = quorum and auto_rejoin on; 10 s
# undisturbed, then a seeded random schedule of real partitions for N
# seconds (default 120), no operator step.  Reports both rates, the
# promotions and the rejoins (with and without pg_rewind), and the safety
# counts (lost, split-brain writes, breaches).  Needs root.  Saves the
# report in bench/results/flapping-<date>/summary.txt.  Reports; asserts
# nothing about speed.
set -euo pipefail

seconds=120
seed=""
. "$(dirname "$0")/options.sh"
bench_options 5 seconds=seconds seed=seed -- "$@"
root=$(cd "$(dirname "$0")/.." && pwd)
res="$root/bench/results/flapping-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$res"
"$root/scripts/partition-soak.sh" --self-healing --seconds "$seconds" ${seed:+--seed "$seed"} |
    tee "$res/summary.txt"
echo "report: $res/summary.txt"
