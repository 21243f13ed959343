#!/usr/bin/env bash
# bench/overhead.sh: what raft_ext costs an idle cluster.
#
#   bench/overhead.sh [--seconds 60] [--profile default|aggressive]
#                     [--no-baseline] [--dir DIR] [--port PORT]
#
# A primary and two streaming standbys (scripts/lib/cluster.sh), idle for
# --seconds once settled.  Per node:
#   cpu_pct      CPU of the postmaster and all its children (utime + stime
#                from /proc/<pid>/stat, plus cutime + cstime of the
#                postmaster for children that exited), before/after, as a
#                percentage of one core;
#   msgs_out/s   Raft messages sent and received per second (raft_peers
#   msgs_in/s    msgs_sent / msgs_received summed over the peers);
#   kB_out/s     TCP payload bytes sent and received by the raft_ext worker
#   kB_in/s      and by the backends serving the peers' connections
#                (application_name raft_ext_<id>): tcp_info bytes_sent /
#                bytes_received of their sockets (ss -tinp), libpq framing
#                included, TCP/IP headers not.
# Then (unless --no-baseline) the same cluster without raft_ext, for the CPU
# that PostgreSQL's own idle processes (WAL sender/receiver, checkpointer...)
# use anyway.  Raw data: bench/results/overhead-<date>/.
set -euo pipefail

seconds=60
profile=default
baseline=1
CLUSTER_DIR=/tmp/raft_ext_bench
CLUSTER_PORT=5451
. "$(dirname "$0")/options.sh"
bench_options 4,5 seconds=seconds profile=profile no-baseline=baseline:0 dir=CLUSTER_DIR port=CLUSTER_PORT -- "$@"
CLUSTER_NODES=3
CLUSTER_NAME=bench

. "$(dirname "$0")/lib.sh"
bench_start overhead
trap cluster_destroy EXIT
hz=$(getconf CLK_TCK)

# CPU ticks of node $1: the postmaster (with its reaped children) and its
# live children.
cpu_ticks()
{
    local pm
    pm=$(node_pid "$1")
    {
        # Fields after "(comm)": state is $3, utime $14 ... cstime $17.
        sed 's/^.*) //' "/proc/$pm/stat" | awk '{ print $12 + $13 + $14 + $15 }'
        for c in $(pgrep -P "$pm"); do
            sed 's/^.*) //' "/proc/$c/stat" 2>/dev/null | awk '{ print $12 + $13 }'
        done
    } | awk '{ s += $1 } END { print s + 0 }'
}

# "sent received" TCP bytes of node $1's raft_ext worker and of the backends
# serving its peers' connections (tcp_info of their sockets, from ss).
tcp_bytes()
{
    local pids
    pids=$(node_psql "$1" -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'raft_ext worker' OR application_name LIKE 'raft\_ext\_%'" | paste -sd' ' -)
    ss -tinpH state established '( sport >= :1 )' 2>/dev/null | awk -v pids=" $pids " '
        /users:\(/ { match($0, /pid=[0-9]+/); p = substr($0, RSTART + 4, RLENGTH - 4); mine = index(pids, " " p " ") > 0; next }
        mine {
            for (i = 1; i <= NF; i++) {
                if ($i ~ /^bytes_sent:/) { split($i, a, ":"); s += a[2] }
                if ($i ~ /^bytes_received:/) { split($i, a, ":"); r += a[2] }
            }
            mine = 0
        }
        END { print s + 0, r + 0 }'
}

# "sent received" Raft messages of node $1, summed over its peers.
msgs()
{
    node_psql "$1" -F ' ' -c "SELECT coalesce(sum(msgs_sent), 0), coalesce(sum(msgs_received), 0) FROM raft_peers WHERE NOT is_self"
}

# Read every node's counters into the arrays named $2 (CPU ticks), $3 (TCP
# bytes) and $4 (Raft messages); $1: 1 with raft_ext (else CPU ticks only).
read_counters()
{
    local raft=$1 i
    local -n cpu=$2 io=$3 m=$4
    for i in $(seq "$CLUSTER_NODES"); do
        cpu[$i]=$(cpu_ticks "$i")
        if [ "$raft" -eq 1 ]; then
            io[$i]=$(tcp_bytes "$i")
            m[$i]=$(msgs "$i")
        fi
    done
}

# Measure the idle cluster for $seconds; $1: label, $2: 1 with raft_ext.
measure()
{
    local label=$1 raft=$2 i t0 t1
    declare -A c0 c1 io0 io1 m0 m1
    read_counters "$raft" c0 io0 m0
    t0=$(date +%s%N)
    sleep "$seconds"
    read_counters "$raft" c1 io1 m1
    t1=$(date +%s%N)
    for i in $(seq "$CLUSTER_NODES"); do
        echo "$label $i $t0 $t1 ${c0[$i]} ${c1[$i]} ${io0[$i]:-0 0} ${io1[$i]:-0 0} ${m0[$i]:-0 0} ${m1[$i]:-0 0}"
    done | tee -a "$res/raw.txt" >/dev/null
}

echo "== idle cluster with raft_ext (profile $profile), $seconds s"
CLUSTER_RAFT=1
CLUSTER_CONF=$(profile_conf "$profile")
cluster_create
p=$(cluster_wait_primary 60)
cluster_wait_settled "$p" 60
sleep 5
measure raft_ext 1
cp "$CLUSTER_DIR"/node*.log "$res/"
cluster_destroy

if [ "$baseline" -eq 1 ]; then
    echo "== the same cluster without raft_ext, $seconds s"
    CLUSTER_RAFT=0
    CLUSTER_CONF=""
    cluster_create
    sleep 10
    measure baseline 0
    cluster_destroy
fi

# label node t0 t1 cpu0 cpu1 bytes_sent0 bytes_recv0 bytes_sent1 bytes_recv1 msgs_sent0 msgs_recv0 msgs_sent1 msgs_recv1
{
    echo "# overhead, $(date -u '+%Y-%m-%d %H:%M UTC'), idle $seconds s, profile $profile"
    echo
    sed 's/^/    /' "$res/machine.txt"
    echo
    echo "| cluster | node | cpu % of one core | msgs out/s | msgs in/s | kB out/s | kB in/s |"
    echo "|---|---|---|---|---|---|---|"
    awk -v hz="$hz" '{
        s = ($4 - $3) / 1e9
        cpu = ($6 - $5) / hz / s * 100
        if ($1 == "raft_ext")
            printf "| %s | %d | %.2f | %.1f | %.1f | %.2f | %.2f |\n", $1, $2, cpu,
                ($13 - $11) / s, ($14 - $12) / s, ($9 - $7) / s / 1024, ($10 - $8) / s / 1024
        else
            printf "| %s | %d | %.2f | | | | |\n", $1, $2, cpu
        tot[$1] += cpu; n[$1]++
    } END {
        if (n["raft_ext"] && n["baseline"])
            printf "\nmean CPU per node: %.2f%% with raft_ext, %.2f%% without: raft_ext adds %.2f%% of a core per idle node\n",
                tot["raft_ext"] / n["raft_ext"], tot["baseline"] / n["baseline"],
                (tot["raft_ext"] - tot["baseline"]) / n["raft_ext"]
        else if (n["raft_ext"])
            printf "\nmean CPU per node with raft_ext: %.2f%%\n", tot["raft_ext"] / n["raft_ext"]
    }' "$res/raw.txt"
} | tee "$res/summary.md"
echo "raw data: $res"
