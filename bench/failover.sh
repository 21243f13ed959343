#!/usr/bin/env bash
# bench/failover.sh: how long automatic failover takes, from kill -9 of the
# primary's postmaster to the first write the new primary acknowledges.
#
#   bench/failover.sh [--trials N] [--profile default|aggressive|both]
#                     [--dir DIR] [--port PORT]
#
# A primary and two streaming standbys on 127.0.0.1 (scripts/lib/cluster.sh:
# auto_promote, auto_follow and fencing on).  Per trial: a client
# (bench/writer.c) commits a row every ~5 ms through a multi-host conninfo
# with target_session_attrs=read-write, reconnecting after every failure; the
# primary's postmaster is killed with SIGKILL; measured from the kill:
#   leader_ms       a survivor logs "is now leader" (server log, %m)
#   write_ms        the first commit acknowledged by another node (client)
# and the phases in between, from the survivors' logs:
#   detect_ms       kill -> first survivor stands (precandidate/candidate):
#                   the election timeout running out
#   election_ms     -> it is leader (PreVote + vote round trips)
#   promote_wait_ms -> it decides to promote (holds the lease, sees no
#                   healthy primary)
#   promotion_ms    -> "database system is ready to accept connections"
#                   (end of recovery, new timeline)
#   reconnect_ms    -> the client's first acknowledged commit
# Then the killed node is rejoined as a standby of the new primary with
# scripts/rejoin-standby.sh (pg_rewind), and the next trial kills whichever
# node is primary then.  Raw data: bench/results/failover-<date>/.
# Reports; asserts nothing about time.
set -euo pipefail

trials=30
profile=both
CLUSTER_DIR=/tmp/raft_ext_bench
CLUSTER_PORT=5451
. "$(dirname "$0")/options.sh"
bench_options 5,6 trials=trials profile=profile dir=CLUSTER_DIR port=CLUSTER_PORT -- "$@"
case "$profile" in
    both) profiles="default aggressive" ;;
    default|aggressive) profiles=$profile ;;
    *) echo "--profile: default, aggressive or both" >&2; exit 2 ;;
esac
CLUSTER_NODES=3
CLUSTER_NAME=bench

. "$(dirname "$0")/lib.sh"
bench_start failover writer
columns="leader_ms write_ms detect_ms election_ms promote_wait_ms promotion_ms reconnect_ms"

trap bench_finish EXIT

for profile in $profiles; do
    echo "== profile $profile: creating the cluster in $CLUSTER_DIR"
    CLUSTER_CONF=$(profile_conf "$profile")
    cluster_create
    primary=$(cluster_wait_primary 60)
    node_psql "$primary" -c "CREATE TABLE bench_writes (id bigint PRIMARY KEY, at timestamptz)"
    tsv="$res/$profile.tsv"
    printf '%s\tnew_port\tlost_acked\n' "$(echo $columns | tr ' ' '\t')" >"$tsv"
    mkdir -p "$res/$profile"

    for trial in $(seq "$trials"); do
        cluster_wait_settled "$primary" 120
        sleep 1
        writes="$res/$profile/trial$trial.writes"
        : >"$writes"
        "$writer_bin" "$(cluster_writer_conninfo)" "$writes" 5 &
        writer_pid=$!
        # Steady state first: the client commits on the primary.
        for _ in $(seq 200); do
            [ "$(writes_after "$writes" 0)" -ge 5 ] && break
            sleep 0.05
        done

        logs=()
        for i in $(seq "$CLUSTER_NODES"); do
            [ "$i" = "$primary" ] || logs+=("$(node_log "$i"):$(file_size "$(node_log "$i")")")
        done
        node_kill "$primary" >/dev/null
        kill_ns=$NODE_KILLED_AT_NS

        # Wait for a commit acknowledged by another node (at most 60 s).
        old_port=$(node_port "$primary")
        ok=0
        for _ in $(seq 1200); do
            if awk -v t=$((kill_ns / 1000)) -v p="$old_port" '$2 != "-" && $2 != p && $1 > t { f = 1 } END { exit !f }' "$writes"; then
                ok=1
                break
            fi
            sleep 0.05
        done
        sleep 0.2
        bench_stop_writer
        row=$($ANALYZE trial "$kill_ns" "$old_port" "$writes" "${logs[@]}")
        new_port=$(printf '%s' "$row" | awk -F'\t' '{print $8}')
        # Commits the old primary acknowledged that the new one does not have
        # (asynchronous replication may lose the last ones).
        lost=""
        if [ -n "$new_port" ]; then
            ids=$(awk -v p="$old_port" '$2 == p { print $3 }' "$writes" | paste -sd, -)
            lost=$(node_psql $((new_port - CLUSTER_PORT + 1)) -c "SELECT count(*) FROM unnest('{$ids}'::bigint[]) AS a(id) WHERE NOT EXISTS (SELECT FROM bench_writes b WHERE b.id = a.id)" 2>/dev/null || true)
        fi
        printf '%s\t%s\n' "$row" "$lost" >>"$tsv"
        printf 'profile %s trial %d: killed node %d; %s\n' "$profile" "$trial" "$primary" \
            "$(printf '%s' "$row" | awk -F'\t' '{printf "leader %s ms, first write %s ms (detect %s, election %s, promote wait %s, promotion %s, reconnect %s)", $1, $2, $3, $4, $5, $6, $7}'); lost acknowledged commits: ${lost:-?}"
        if [ "$ok" -eq 0 ] || [ -z "$new_port" ]; then
            echo "  no write acknowledged within 60 s; logs kept in $res/$profile/failed-trial$trial" >&2
            mkdir -p "$res/$profile/failed-trial$trial"
            cp "$CLUSTER_DIR"/node*.log "$res/$profile/failed-trial$trial/"
            new=$(cluster_wait_primary 60 "$primary") || break
        else
            new=$((new_port - CLUSTER_PORT + 1))
        fi

        # Rejoin the killed node as a standby of the new primary.
        if ! node_rejoin "$primary" "$new" >"$res/$profile/trial$trial.rejoin" 2>&1; then
            echo "  rejoin of node $primary failed (see $res/$profile/trial$trial.rejoin); rebuilding the cluster" >&2
            cluster_create
            new=$(cluster_wait_primary 60)
            node_psql "$new" -c "CREATE TABLE bench_writes (id bigint PRIMARY KEY, at timestamptz)"
        fi
        repaired=$(cluster_repair "$new" 15 | paste -sd, -) || { echo "  could not repair the cluster" >&2; break; }
        [ -z "$repaired" ] || echo "  node(s) $repaired did not follow node $new and were rejoined with pg_rewind"
        echo "$trial $repaired" >>"$res/$profile.repaired"
        primary=$new
    done
    cp "$CLUSTER_DIR"/node*.log "$res/$profile/"
    cluster_destroy
    $ANALYZE cdf "$tsv" leader_ms "$res/$profile-leader.cdf"
    $ANALYZE cdf "$tsv" write_ms "$res/$profile-write.cdf"
done

{
    echo "# failover, $(date -u '+%Y-%m-%d %H:%M UTC'), $trials trials per profile"
    echo
    sed 's/^/    /' "$res/machine.txt"
    for profile in $profiles; do
        echo
        echo "## profile $profile ($(profile_conf "$profile" | sed 's/raft_ext\.//; s/ = /=/' | paste -sd' '))"
        echo
        $ANALYZE summary "$res/$profile.tsv" $columns
        echo
        echo "trials: $(($(wc -l <"$res/$profile.tsv") - 1)); surviving standbys that could not follow and needed pg_rewind: $(awk 'NF > 1' "$res/$profile.repaired" 2>/dev/null | wc -l); acknowledged commits lost (sum over trials): $(awk -F'\t' 'NR > 1 { s += $9 } END { print s + 0 }' "$res/$profile.tsv")"
    done
} | tee "$res/summary.md"

if command -v gnuplot >/dev/null; then
    gnuplot -e "dir='$res'; profiles='$profiles'" "$BENCH_ROOT/bench/failover.gp" &&
        cp "$res/failover.png" "$BENCH_ROOT/bench/failover.png" &&
        echo "plot: bench/failover.png"
fi
echo "raw data: $res"
