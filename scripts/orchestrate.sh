#!/usr/bin/env bash
# orchestrate.sh: an example failover orchestrator for clusters that keep
# raft_ext.auto_promote and raft_ext.auto_follow off.
#
#   scripts/orchestrate.sh -n 'host=db1 port=5432 dbname=postgres' \
#       -n 'host=db2 port=5432 dbname=postgres' -n '...' \
#       [--pgdata ID=DIR ...] [--interval SECONDS] [--duration SECONDS]
#       [--bindir DIR] [--dry-run]
#
# Every interval it reads raft_ext.raft_status and pg_is_in_recovery() on
# every node (psql, connect_timeout=2) and acts on what it sees:
#
#   - the Raft leader is a standby holding the lease and no reachable node
#     is a primary, twice in a row (raft_ext hands leadership to a healthy
#     primary by itself within a few heartbeats; the second look leaves it
#     that time): promote the leader (SELECT pg_promote());
#   - the leader is a primary: every other standby whose primary_conninfo
#     does not name the leader is re-pointed at it (ALTER SYSTEM SET
#     primary_conninfo, then pg_reload_conf());
#   - the leader is a primary and another reachable node is a primary too
#     (a former primary that came back; raft_ext's fence refuses its
#     writes): rejoin it as a standby with scripts/rejoin-standby.sh, if
#     --pgdata gives its data directory on this machine (else say so).
#
# It needs a role that may read raft_status, call pg_promote() and run ALTER
# SYSTEM (a superuser) on every node.  Every decision is logged with a UTC
# timestamp on standard output.  It stops after --duration seconds (default
# 3600), or at SIGINT/SIGTERM after the current round.  Exit status: 0, or 2
# on bad usage.
set -uo pipefail

usage()
{
    sed -n '4,8p' "$0" >&2
    exit 2
}

log()
{
    printf '%s orchestrate: %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S')" "$*"
}

nodes=()
declare -A pgdata_of=()
interval=1
duration=3600
bindir=""
dry_run=0
while [ $# -gt 0 ]; do
    case "$1" in
        -n|--node) nodes+=("${2:?}"); shift 2 ;;
        --pgdata) pgdata_of[${2%%=*}]=${2#*=}; shift 2 ;;
        --interval) interval=${2:?}; shift 2 ;;
        --duration) duration=${2:?}; shift 2 ;;
        --bindir) bindir=${2:?}; shift 2 ;;
        --dry-run) dry_run=1; shift ;;
        -h|--help) usage ;;
        *) echo "unknown argument: $1" >&2; usage ;;
    esac
done
[ ${#nodes[@]} -ge 2 ] || usage
if [ -z "$bindir" ]; then
    bindir=$(command -v pg_config >/dev/null 2>&1 && pg_config --bindir || echo /usr/lib/postgresql/15/bin)
fi
psql_bin="$bindir/psql"
[ -x "$psql_bin" ] || psql_bin=psql
here=$(cd "$(dirname "$0")" && pwd)

stop=0
trap 'stop=1; log "signal received, stopping after this round"' INT TERM

# Run one query on a node: prints the row (fields separated by |).
query()
{
    PGCONNECT_TIMEOUT=2 timeout 10 "$psql_bin" -X -q -A -t -F '|' \
        -d "$1" -c "$2" 2>/dev/null
}

# A conninfo without dbname and application_name, for primary_conninfo.
replication_conninfo()
{
    printf '%s' "$1" |
        sed -E "s/(^|[[:space:]])(dbname|application_name)=('[^']*'|[^[:space:]]*)//g; s/^[[:space:]]+//"
}

# host and port named by a conninfo, as "host:port" (libpq's defaults).
target_of()
{
    local host port
    host=$(printf '%s' "$1" | grep -oE "(^|[[:space:]])host=('[^']*'|[^[:space:]]*)" | tail -n 1 | sed -E "s/^[[:space:]]*host=//; s/'//g")
    port=$(printf '%s' "$1" | grep -oE "(^|[[:space:]])port=('[^']*'|[^[:space:]]*)" | tail -n 1 | sed -E "s/^[[:space:]]*port=//; s/'//g")
    printf '%s:%s' "${host:-/var/run/postgresql}" "${port:-5432}"
}

# Do it, or only say it with --dry-run.
act()
{
    if [ "$dry_run" -eq 1 ]; then
        log "(dry run) would: $*"
        return 0
    fi
    "$@"
}

promote_pending=""
deadline=$((SECONDS + duration))
while [ "$stop" -eq 0 ] && [ "$SECONDS" -lt "$deadline" ]; do
    declare -A id=() role=() lease=() recovery=() upstream=()
    leader=""
    primaries=()
    for i in "${!nodes[@]}"; do
        row=$(query "${nodes[$i]}" \
            "SELECT s.node_id, s.role, s.has_lease, pg_is_in_recovery(), current_setting('primary_conninfo') FROM raft_ext.raft_status s") || row=""
        [ -n "$row" ] || continue
        IFS='|' read -r id[$i] role[$i] lease[$i] recovery[$i] upstream[$i] <<<"$row"
        [ "${role[$i]}" = leader ] && [ "${lease[$i]}" = t ] && leader=$i
        [ "${recovery[$i]}" = f ] && primaries+=("$i")
    done

    if [ -z "$leader" ]; then
        promote_pending=""
    elif [ "${recovery[$leader]}" = t ]; then
        if [ ${#primaries[@]} -gt 0 ]; then
            promote_pending=""
            log "leader node ${id[$leader]} is a standby but node(s) $(for p in "${primaries[@]}"; do printf '%s ' "${id[$p]}"; done)is a primary: waiting for raft_ext to hand leadership over"
        elif [ "$promote_pending" = "${id[$leader]}" ]; then
            log "leader node ${id[$leader]} is a standby with the lease and no primary is reachable: promoting it"
            act query "${nodes[$leader]}" "SELECT pg_promote(wait => false)" >/dev/null ||
                log "pg_promote() failed on node ${id[$leader]}"
            promote_pending=""
        else
            promote_pending=${id[$leader]}
            log "leader node ${id[$leader]} is a standby with the lease and no primary is reachable: promoting it if that still holds next round"
        fi
    else
        promote_pending=""
        want=$(target_of "${nodes[$leader]}")
        for i in "${!nodes[@]}"; do
            [ -n "${id[$i]:-}" ] && [ "$i" != "$leader" ] || continue
            if [ "${recovery[$i]}" = t ]; then
                [ "$(target_of "${upstream[$i]}")" = "$want" ] && continue
                appname=$(printf '%s' "${upstream[$i]}" | grep -oE "application_name=[A-Za-z0-9_]+" | sed 's/application_name=//' || true)
                conninfo="$(replication_conninfo "${nodes[$leader]}") application_name=${appname:-node${id[$i]}}"
                log "standby node ${id[$i]} streams from $(target_of "${upstream[$i]}"), not from the leader node ${id[$leader]} ($want): re-pointing it"
                quoted=$(printf '%s' "$conninfo" | sed "s/'/''/g")
                act query "${nodes[$i]}" "ALTER SYSTEM SET primary_conninfo = '$quoted'" >/dev/null &&
                    act query "${nodes[$i]}" "SELECT pg_reload_conf()" >/dev/null ||
                    log "could not re-point node ${id[$i]}"
            else
                dir=${pgdata_of[${id[$i]}]:-}
                if [ -z "$dir" ]; then
                    log "node ${id[$i]} is a primary but node ${id[$leader]} leads: it is fenced; give --pgdata ${id[$i]}=DIR to rejoin it"
                    continue
                fi
                log "node ${id[$i]} is a former primary (node ${id[$leader]} leads): rejoining it as a standby"
                act "$here/rejoin-standby.sh" -D "$dir" --source "${nodes[$leader]}" \
                    --application-name "node${id[$i]}" --bindir "$bindir" ||
                    log "rejoin-standby.sh failed for node ${id[$i]}"
            fi
        done
    fi
    unset id role lease recovery upstream
    [ "$stop" -eq 0 ] && sleep "$interval"
done
log "stopped"
exit 0
