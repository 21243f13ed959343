#!/usr/bin/env bash
# bench/switchover.sh: how long a planned switchover takes, from
# raft_ext.transfer_leadership(target) to the first write the target
# acknowledges as the new primary.
#
#   bench/switchover.sh [--trials N] [--profile default|aggressive]
#                       [--dir DIR] [--port PORT]
#
# The cluster of bench/failover.sh (a primary, two streaming standbys;
# auto_promote, auto_follow, fencing on), the same client committing every
# ~5 ms through a multi-host conninfo.  Per trial the primary is asked to
# hand leadership to a standby, the one that was a target least often; measured
# from the call:
#   leader_ms     the target logs "is now leader"
#   promoted_ms   the target logs "ready to accept connections"
#   write_ms      the target acknowledges the client's first commit
#   promote_wait_ms  from leader_ms to the target's "promoting this standby"
#   call_ms       transfer_leadership() returns (it waits for the target to lead)
#   whole_ms      every other node streams from the target again
# raft_ext.auto_rejoin is on (as wherever auto_follow is): the old primary
# demotes itself and rejoins as a standby of the target.  A clean
# switchover needs no pg_rewind anywhere: the old primary's shutdown
# checkpoint reaches the target and the bystander standby before the target
# promotes.  Counts the nodes that ran pg_rewind (from their logs) and the
# commits the old primary acknowledged that the new one does not have.
# Raw data:
# bench/results/switchover-<date>/.  Reports; asserts nothing about time.
set -euo pipefail

trials=10
profile=default
CLUSTER_DIR=/tmp/raft_ext_bench
CLUSTER_PORT=5451
. "$(dirname "$0")/options.sh"
bench_options 6,7 trials=trials profile=profile dir=CLUSTER_DIR port=CLUSTER_PORT -- "$@"
CLUSTER_NODES=3
CLUSTER_NAME=bench
CLUSTER_AUTO_REJOIN=on

. "$(dirname "$0")/lib.sh"
bench_require_extension
res=$(bench_results_dir switchover)
writer_bin=$(bench_build_writer "$res")
bench_machine "$res"
columns="leader_ms promoted_ms write_ms promote_wait_ms"

trap bench_finish EXIT

echo "== profile $profile: creating the cluster in $CLUSTER_DIR"
CLUSTER_CONF=$(profile_conf "$profile")
cluster_create
primary=$(cluster_wait_primary 60)
node_psql "$primary" -c "CREATE TABLE bench_writes (id bigint PRIMARY KEY, at timestamptz)"
tsv="$res/$profile.tsv"
printf '%s\tcall_ms\twhole_ms\ttarget\tlost_acked\trewound\n' "$(echo $columns | tr ' ' '\t')" >"$tsv"
mkdir -p "$res/$profile"
declare -a targeted=()

for trial in $(seq "$trials"); do
    cluster_wait_settled "$primary" 120
    sleep 1
    # The standby that was a target least often (the lowest id on a tie).
    target=""
    for i in $(seq "$CLUSTER_NODES"); do
        [ "$i" = "$primary" ] && continue
        if [ -z "$target" ] || [ "${targeted[$i]:-0}" -lt "${targeted[$target]:-0}" ]; then
            target=$i
        fi
    done
    targeted[$target]=$((${targeted[$target]:-0} + 1))

    writes="$res/$profile/trial$trial.writes"
    : >"$writes"
    "$writer_bin" "$(cluster_writer_conninfo)" "$writes" 5 &
    writer_pid=$!
    for _ in $(seq 200); do
        [ "$(writes_after "$writes" 0)" -ge 5 ] && break
        sleep 0.05
    done

    declare -A log_at=()
    for i in $(seq "$CLUSTER_NODES"); do log_at[$i]=$(file_size "$(node_log "$i")"); done
    logs=("$(node_log "$target"):${log_at[$target]}")
    start_ns=$(date +%s%N)
    call_error=""
    node_psql "$primary" -c "SELECT raft_ext.transfer_leadership($target)" >/dev/null 2>"$res/$profile/trial$trial.call" ||
        call_error=$(head -c 200 "$res/$profile/trial$trial.call")
    call_ms=$((($(date +%s%N) - start_ns) / 1000000))

    target_port=$(node_port "$target")
    for _ in $(seq 600); do
        awk -v t=$((start_ns / 1000)) -v p="$target_port" '$2 == p && $1 > t { f = 1 } END { exit !f }' "$writes" && break
        sleep 0.05
    done
    # The writer goes on while the old primary demotes and rejoins.
    whole_ms=timeout
    for _ in $(seq 1200); do
        if cluster_settled "$target" 2>/dev/null; then
            whole_ms=$((($(date +%s%N) - start_ns) / 1000000))
            break
        fi
        sleep 0.05
    done
    bench_stop_writer
    row=$($ANALYZE switch "$start_ns" "$target_port" "$writes" "${logs[@]}")
    old_port=$(node_port "$primary")
    ids=$(awk -v p="$old_port" '$2 == p { print $3 }' "$writes" | paste -sd, -)
    lost=$(node_psql "$target" -c "SELECT count(*) FROM unnest('{$ids}'::bigint[]) AS a(id) WHERE NOT EXISTS (SELECT FROM bench_writes b WHERE b.id = a.id)" 2>/dev/null || true)
    rewound=""
    for i in $(seq "$CLUSTER_NODES"); do
        if tail -c +"$((${log_at[$i]} + 1))" "$(node_log "$i")" | grep -q "raft_ext_rejoin\[.*running pg_rewind"; then
            rewound="${rewound:+$rewound,}$i"
        fi
    done
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$row" "$call_ms" "$whole_ms" "$target" "${lost:-?}" "${rewound:--}" >>"$tsv"
    printf 'trial %d: node %d -> node %d: %s; call %d ms; whole %s ms; lost acknowledged commits: %s; pg_rewind: %s%s\n' \
        "$trial" "$primary" "$target" \
        "$(printf '%s' "$row" | awk -F'\t' '{printf "leader %s ms, promoted %s ms, first write %s ms", $1, $2, $3}')" \
        "$call_ms" "$whole_ms" "${lost:-?}" "${rewound:-none}" "${call_error:+ (call failed: $call_error)}"
    [ "$whole_ms" != timeout ] || { echo "  the cluster did not become whole around node $target within 60 s" >&2; break; }
    primary=$target
done
cp "$CLUSTER_DIR"/node*.log "$res/$profile/"

{
    echo "# switchover, $(date -u '+%Y-%m-%d %H:%M UTC'), profile $profile"
    echo
    sed 's/^/    /' "$res/machine.txt"
    echo
    $ANALYZE summary "$tsv" $columns call_ms whole_ms
    echo
    echo "trials: $(($(wc -l <"$tsv") - 1)); trials where a node ran pg_rewind: $(awk -F'\t' 'NR > 1 && $NF != "-"' "$tsv" | wc -l); acknowledged commits lost (sum over trials): $(awk -F'\t' 'NR > 1 { s += $(NF - 1) } END { print s + 0 }' "$tsv")"
} | tee "$res/summary.md"
echo "raw data: $res"
