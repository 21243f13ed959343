#!/usr/bin/env bash
# bench/read_check.sh: what the fence's statement check costs a read-only
# workload (docs/fencing.md, "Cost").
#
#   bench/read_check.sh [--runs 5] [--seconds 15] [--clients 2] [--scale 10]
#
# One instance with raft_ext preloaded, a one-node cluster that leads and
# holds the lease; pgbench -i at --scale, then pgbench -S -M prepared
# (select-only, the cheapest statement there is: the check's share is the
# largest) for --seconds, alternately with raft_ext.fencing = on (the check
# runs on every SELECT: one atomic read and one clock read) and off (the
# ExecutorStart hook skips it), --runs pairs in ABBA order.  Prints every
# pair's tps and backend CPU time per transaction, the medians, and the
# medians of the pairs' differences.  On a busy machine tps swings far more
# than the check costs; CPU per transaction is the steadier figure.  Run it as a non-root user (or root: the server then
# runs as postgres) on an otherwise idle machine.
set -euo pipefail

runs=5
seconds=15
clients=2
scale=10
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --clients) clients=$2; shift 2 ;;
        --scale) scale=$2; shift 2 ;;
        *) echo "usage: $0 [--runs N] [--seconds N] [--clients N] [--scale N]" >&2; exit 2 ;;
    esac
done

PG_CONFIG=${PG_CONFIG:-pg_config}
BIN=$("$PG_CONFIG" --bindir)
DIR=${BENCH_DIR:-/tmp/raft_ext_read_check}
PORT=${BENCH_PORT:-5461}
as=()
if [ "$(id -u)" = 0 ]; then as=(runuser -u postgres --); fi

cleanup() { "${as[@]}" "$BIN/pg_ctl" -D "$DIR" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$DIR"; }
trap cleanup EXIT
rm -rf "$DIR"
mkdir -p "$DIR"
[ ${#as[@]} -eq 0 ] || chown postgres "$DIR"
"${as[@]}" "$BIN/initdb" -D "$DIR" -A trust >/dev/null
cat >> "$DIR/postgresql.conf" <<CONF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DIR'
shared_preload_libraries = 'raft_ext'
raft_ext.node_id = 1
raft_ext.peers = '1:host=127.0.0.1 port=$PORT dbname=postgres'
raft_ext.cluster_name = 'read_check'
CONF
"${as[@]}" "$BIN/pg_ctl" -D "$DIR" -l "$DIR/log" -w start >/dev/null
psql=("${as[@]}" "$BIN/psql" -X -At -h "$DIR" -p "$PORT" -d postgres)
"${psql[@]}" -c "CREATE EXTENSION raft_ext" >/dev/null
"${psql[@]}" -c "SELECT raft_ext.wait_for_leader('30s')" >/dev/null
until [ "$("${psql[@]}" -c 'SELECT raft_ext.fencing_token() IS NOT NULL')" = t ]; do sleep 0.1; done
"${as[@]}" "$BIN/pgbench" -i -q -s "$scale" -h "$DIR" -p "$PORT" postgres >/dev/null 2>&1

set_fencing()
{
    "${psql[@]}" -c "ALTER SYSTEM SET raft_ext.fencing = $1" -c "SELECT pg_reload_conf()" >/dev/null
    sleep 1
}

# CPU ticks of the server's exited children (the postmaster's cutime +
# cstime): pgbench's backends once they have exited.  CPU time per
# transaction is what the check adds to; unlike tps, it hardly depends on
# what else the machine runs.
pm_pid=$(head -1 "$DIR/postmaster.pid")
child_ticks() { sed 's/^.*) //' "/proc/$pm_pid/stat" | awk '{ print $14 + $15 }'; }
hz=$(getconf CLK_TCK)

# ABBA order (on off, off on, ...) so that a load that drifts over the
# benchmark weighs on both sides alike; each pair gives one difference.
declare -A tps cpu last lastcpu
diffs=""
cdiffs=""
for r in $(seq 1 "$runs"); do
    if [ $((r % 2)) = 1 ]; then order="on off"; else order="off on"; fi
    for mode in $order; do
        set_fencing "$mode"
        before=$(child_ticks)
        out=$("${as[@]}" "$BIN/pgbench" -n -S -M prepared -c "$clients" -j "$clients" -T "$seconds" \
            -h "$DIR" -p "$PORT" postgres 2>/dev/null)
        sleep 0.5
        after=$(child_ticks)
        t=$(echo "$out" | awk '/^tps/ { print int($3) }')
        n=$(echo "$out" | awk '/actually processed/ { print $NF }')
        c=$(awk -v d=$((after - before)) -v hz="$hz" -v n="$n" 'BEGIN { printf "%.2f", d * 1e6 / hz / n }')
        tps[$mode]+="$t "
        cpu[$mode]+="$c "
        last[$mode]=$t
        lastcpu[$mode]=$c
    done
    d=$(awk -v a="${last[on]}" -v b="${last[off]}" 'BEGIN { printf "%.2f", (b - a) * 100 / b }')
    cpud=$(awk -v a="${lastcpu[on]}" -v b="${lastcpu[off]}" 'BEGIN { printf "%.2f", (a - b) * 100 / b }')
    diffs+="$d "
    cdiffs+="$cpud "
    echo "pair $r: fencing=on ${last[on]} tps ${lastcpu[on]} us CPU/xact, fencing=off ${last[off]} tps ${lastcpu[off]} us CPU/xact: tps -$d %, CPU +$cpud %"
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
echo "median tps: fencing=on $(echo "${tps[on]}" | median), fencing=off $(echo "${tps[off]}" | median); median of the pairs' tps loss: $(echo "$diffs" | median) %"
echo "median backend CPU per transaction: fencing=on $(echo "${cpu[on]}" | median) us, fencing=off $(echo "${cpu[off]}" | median) us; median of the pairs' CPU increase: $(echo "$cdiffs" | median) %"
