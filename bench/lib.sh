# shellcheck shell=bash
# bench/lib.sh: what the benchmarks share.  Sourced by bench/*.sh after they
# set CLUSTER_* (see scripts/lib/cluster.sh).

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The benchmarks that repair the cluster by hand (cluster_repair) keep the
# worker from rejoining nodes behind their back; bench/heal.sh turns it on.
CLUSTER_AUTO_REJOIN=${CLUSTER_AUTO_REJOIN:-off}
# shellcheck source=../scripts/lib/cluster.sh
. "$BENCH_ROOT/scripts/lib/cluster.sh"

ANALYZE="python3 $BENCH_ROOT/bench/analyze.py"

# Create bench/results/<name>-<UTC date>/ and print its path.
bench_results_dir()
{
    local d
    d="$BENCH_ROOT/bench/results/$1-$(date -u +%Y%m%dT%H%M%SZ)"
    mkdir -p "$d"
    echo "$d"
}

# Check that raft_ext is installed where the servers will load it from.
bench_require_extension()
{
    local lib
    lib="$("$PG_CONFIG" --pkglibdir)/raft_ext.so"
    if [ ! -f "$lib" ]; then
        echo "raft_ext is not installed ($lib is missing): run make && make install first" >&2
        exit 1
    fi
}

# Build the writer client (bench/writer.c) into $1; print the binary's path.
bench_build_writer()
{
    local out=$1/writer
    cc -O2 -Wall -o "$out" "$BENCH_ROOT/bench/writer.c" \
        -I"$("$PG_CONFIG" --includedir)" -L"$("$PG_CONFIG" --libdir)" -lpq
    echo "$out"
}

# The start of a benchmark once its options are parsed: check the extension
# is installed, create bench/results/$1-<date>/ in $res, build the writer
# client into $writer_bin there if $2 is "writer", record the machine.
bench_start()
{
    bench_require_extension
    res=$(bench_results_dir "$1")
    if [ "${2:-}" = writer ]; then
        writer_bin=$(bench_build_writer "$res")
    fi
    bench_machine "$res"
}

# Record the machine and its load in $1/machine.txt.
bench_machine()
{
    {
        echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
        echo "nproc: $(nproc)"
        echo "memory: $(free -m | awk '/^Mem:/ {print $2 " MB"}')"
        echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
        echo "kernel: $(uname -sr)"
        echo "postgres: $("$PG_BINDIR/postgres" --version)"
        echo "uptime: $(uptime)"
        echo "other postgres processes: $(ps aux | grep -c '[p]ostgres:')"
        echo "raft_ext commit: $(git -C "$BENCH_ROOT" log -1 --format='%h %s' 2>/dev/null)"
    } >"$1/machine.txt"
}

# Byte size of a file (0 if missing): log offsets taken before an event.
file_size() { stat -c %s "$1" 2>/dev/null || echo 0; }

# Count acknowledged writes in a writer log after a given time (µs).
writes_after()
{
    awk -v t="$2" '$2 != "-" && $1 > t { n++ } END { print n + 0 }' "$1"
}

# Timing settings of a profile, as postgresql.conf lines.
profile_conf()
{
    case "$1" in
        default)
            printf '%s\n' "raft_ext.heartbeat_interval = 100ms" "raft_ext.election_timeout = 1000ms" \
                "raft_ext.election_spread = 500ms" "raft_ext.lease_drift_margin = 100ms" ;;
        aggressive)
            printf '%s\n' "raft_ext.heartbeat_interval = 20ms" "raft_ext.election_timeout = 200ms" \
                "raft_ext.election_spread = 100ms" "raft_ext.lease_drift_margin = 20ms" ;;
        *) echo "unknown profile: $1" >&2; return 1 ;;
    esac
}

# The PID of a benchmark's background writer, if one runs.
writer_pid=""

# Stop the background writer, if one runs.
bench_stop_writer()
{
    if [ -n "$writer_pid" ]; then
        kill "$writer_pid" 2>/dev/null || true
        wait "$writer_pid" 2>/dev/null || true
        writer_pid=""
    fi
}

# EXIT trap of a benchmark: stop the writer, keep the server logs of an
# interrupted run under $res, remove the cluster.
bench_finish()
{
    bench_stop_writer
    if [ -d "$CLUSTER_DIR" ] && [ -n "${res:-}" ]; then
        mkdir -p "$res/logs-at-exit"
        cp "$CLUSTER_DIR"/node*.log "$res/logs-at-exit/" 2>/dev/null || true
    fi
    cluster_destroy
}
