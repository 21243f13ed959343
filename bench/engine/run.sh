#!/bin/sh
# bench/engine/run.sh -- engine benchmarks from the deterministic simulator.
#
# Builds test/raft's simulator (-O2) and prints: simulated node-steps per
# second, the time 5,000 seeds take (normal build), and the split-vote table
# for each cluster size, latency and profile that bench/engine/README.md
# reports.  Benchmarks report; they assert nothing.
#
#   bench/engine/run.sh            everything (a few minutes)
#   ROUNDS=500 bench/engine/run.sh fewer election rounds per row
set -e
cd "$(dirname "$0")/../.."
make -s -C test/raft build/normal/sim
SIM=test/raft/build/normal/sim
ROUNDS=${ROUNDS:-10000}
BENCH_SECONDS=${BENCH_SECONDS:-5}

echo "== machine: $(nproc) cores, $(uname -srm), $(cc --version | head -1)"
echo "== node-steps per second (random seeds, faults on, invariants checked)"
$SIM --bench "$BENCH_SECONDS"
echo "== node-steps per second (5 voters, no faults)"
$SIM --bench "$BENCH_SECONDS" --nodes 5 --no-faults
echo "== 5,000 seeds"
$SIM --seeds 5000 --quiet --no-liveness | head -1
for n in 3 5; do
	for lat in 1 10; do
		$SIM --elections "$ROUNDS" --nodes "$n" --latency "$lat"
	done
done
for n in 3 5; do
	$SIM --elections "$ROUNDS" --nodes "$n" --profile aggressive
done
