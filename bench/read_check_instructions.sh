#!/usr/bin/env bash
# bench/read_check_instructions.sh: the fence's statement check in
# instructions per pgbench -S transaction, which unlike tps does not depend
# on what else the machine runs (docs/fencing.md, "Cost").
#
#   bench/read_check_instructions.sh [--rounds 2]
#
# A one-node cluster (raft_ext leading, slow timing so that it keeps its
# lease under valgrind) runs under callgrind, which follows every forked
# backend into its own output file.  For raft_ext.fencing = on and off,
# --rounds times each: pgbench -S -M prepared -c 1 with 1000 and with 3000
# transactions; the instructions of the pgbench backend (Ir) for 3000 minus
# those for 1000, over 2000, is the cost of one transaction without the
# connection's start and end.  Needs valgrind; takes a few minutes.  Run as
# a non-root user, or as root (the server then runs as postgres).
set -euo pipefail

rounds=2
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds=$2; shift 2 ;;
        *) echo "usage: $0 [--rounds N]" >&2; exit 2 ;;
    esac
done

PG_CONFIG=${PG_CONFIG:-pg_config}
BIN=$("$PG_CONFIG" --bindir)
DIR=${BENCH_DIR:-/tmp/raft_ext_read_check_cg}
PORT=${BENCH_PORT:-5471}
as=()
if [ "$(id -u)" = 0 ]; then as=(runuser -u postgres --); fi

cleanup() { "${as[@]}" "$BIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$DIR"; }
trap cleanup EXIT
rm -rf "$DIR"
mkdir -p "$DIR/out"
[ ${#as[@]} -eq 0 ] || chown -R postgres "$DIR"
"${as[@]}" "$BIN/initdb" -D "$DIR/data" -A trust >/dev/null
cat >> "$DIR/data/postgresql.conf" <<CONF
port = $PORT
listen_addresses = ''
unix_socket_directories = '$DIR'
autovacuum = off
shared_preload_libraries = 'raft_ext'
raft_ext.node_id = 1
raft_ext.peers = '1:host=127.0.0.1 port=$PORT dbname=postgres'
raft_ext.cluster_name = 'read_check'
raft_ext.heartbeat_interval = 500
raft_ext.election_timeout = 5000
raft_ext.election_spread = 1000
raft_ext.lease_drift_margin = 500
CONF
"${as[@]}" valgrind --tool=callgrind --trace-children=yes \
    --callgrind-out-file="$DIR/out/cg.%p" "$BIN/postgres" -D "$DIR/data" \
    >"$DIR/server.log" 2>&1 &
for _ in $(seq 1 120); do "$BIN/pg_isready" -q -h "$DIR" -p "$PORT" && break; sleep 1; done
psql=("${as[@]}" "$BIN/psql" -X -At -h "$DIR" -p "$PORT" -d postgres)
"${psql[@]}" -c "CREATE EXTENSION raft_ext" >/dev/null
until [ "$("${psql[@]}" -c 'SELECT raft_ext.fencing_token() IS NOT NULL')" = t ]; do sleep 0.5; done
"${as[@]}" "$BIN/pgbench" -i -q -s 1 -h "$DIR" -p "$PORT" postgres >/dev/null 2>&1

# Ir of the pgbench backend of one run of $1 transactions: the biggest
# callgrind file that appeared during the run (psql's backends are small).
backend_ir()
{
    local before f ir best=0
    before=$(ls "$DIR/out")
    "${as[@]}" "$BIN/pgbench" -n -S -M prepared -c 1 -t "$1" -h "$DIR" -p "$PORT" postgres >/dev/null 2>&1
    sleep 5
    for f in $(ls "$DIR/out"); do
        grep -qxF "$f" <<<"$before" && continue
        ir=$(awk '/^(summary|totals):/ { print $2; exit }' "$DIR/out/$f")
        [ -n "$ir" ] && [ "$ir" -gt "$best" ] && best=$ir
    done
    echo "$best"
}

for r in $(seq 1 "$rounds"); do
    for mode in on off; do
        "${psql[@]}" -c "ALTER SYSTEM SET raft_ext.fencing = $mode" -c "SELECT pg_reload_conf()" >/dev/null
        sleep 2
        small=$(backend_ir 1000)
        big=$(backend_ir 3000)
        echo "round $r fencing=$mode: $(( (big - small) / 2000 )) instructions per transaction"
    done
done
