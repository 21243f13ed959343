#!/usr/bin/env bash
# The whole raft_ext test suite: the one command the README and CI run.
#
#   1. engine unit tests + simulator seeds (normal build)
#   2. the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   3. the mutants: each safety fix reverted must be caught by the simulator
#   4. a short libFuzzer run on the message decoder
#   5. build, install, then pg_regress (make installcheck) and the TAP
#      suites on real PostgreSQL clusters, run as an unprivileged user,
#      then the totals of the TAP run (scripts/test-summary.pl)
#   6. the real network partition suite (test/netns), as root: network
#      namespaces need it; the servers still run as the postgres user;
#      215-218 compile the linearizability checker and its register client
#      (test/lincheck, cc -Wall -Wextra -Werror, libpq) themselves;
#      then its totals, with the linearizability verdicts
#   7. for each other PostgreSQL version (PG_VERSIONS, default "17 18"),
#      in the background from the start, beside steps 1-6 (its output
#      follows step 6's), in a chroot of the Debian suite that ships it
#      (scripts/pg-env.sh, made once and cached): the warning-free build,
#      pg_regress, the core TAP subset (CORE_TAP below) on real clusters,
#      the partition files that need 17 or later (test/netns17, as root in
#      the chroot), and the Debian package built there and installed into a
#      clean chroot
#      (scripts/test-deb.sh).  Steps 1-4 do not depend on the PostgreSQL
#      version: they run once.  docs/testing.md says which file runs where
#      and why.
#
# Works as root (servers then run as the "postgres" user, on a private copy
# of the tree) or as a normal user with sudo for the install step.
# Environment: SEEDS (default 5000), SANITIZE_SEEDS (default 1000), FUZZ_SECONDS (default 30),
# PG_VERSIONS (default "17 18"; empty: PostgreSQL 15 only).
set -euo pipefail

cd "$(dirname "$0")/.."
top=$(pwd)
SEEDS=${SEEDS:-5000}
# the sanitized simulator runs about 10 times slower: fewer seeds
SANITIZE_SEEDS=${SANITIZE_SEEDS:-1000}
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
PG_VERSIONS=${PG_VERSIONS-17 18}
# The TAP files that also run on the other versions: election, kill -9
# failover with auto_promote/auto_follow, fencing, auto_rejoin with
# pg_rewind, clean switchover, synchronous quorum, the HTTP endpoint, and
# raftctl's init, join, remove and reinit (initdb, pg_basebackup and the
# re-clone with each version's binaries), member slots (each version's slot
# API and invalidation), logical slots that follow the primary (17's slot
# synchronization, which 15 lacks), the fencing token read beside the
# fence's lease (each version's atomics).
CORE_TAP="test/t/001_three_node_election.pl test/t/020_fencing.pl
test/t/030_failover_kill.pl test/t/033_switchover.pl
test/t/037_failover_auto_rejoin.pl test/t/040_http_endpoint.pl
test/t/055_raftctl_init_join.pl test/t/056_raftctl_remove_reinit.pl
test/t/057_member_passfile.pl test/t/058_adopt_existing_cluster.pl
test/t/060_member_slots.pl test/t/061_logical_failover_slots.pl
test/t/062_fencing_token_matches_fence.pl test/t/120_sync_quorum.pl"
# The fault scenarios (test/t/1xx) exercise the engine and the worker's
# logic through real clusters, not one version's APIs: they run once, on the
# last of PG_VERSIONS, in the same run as its core subset, beside the host's
# TAP files (CI time: the host's part is the longer one).  Without another
# version they run on the host.
FAULT_TAP=$(echo test/t/1*.pl)
fault_version=${PG_VERSIONS##* }
if [ -n "$fault_version" ]; then
    HOST_TAP=$(ls test/t/*.pl | grep -v '^test/t/1' | tr '\n' ' ')
else
    HOST_TAP=$(echo test/t/*.pl)
fi
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
export PG_CONFIG

passed=0
failed=0
failures=()

# Run one named suite; remember its outcome, keep going.
suite()
{
    local name=$1
    shift
    echo
    echo "=== $name"
    local start=$SECONDS
    if "$@"; then
        passed=$((passed + 1))
        echo "=== $name: ok ($((SECONDS - start)) s)"
    else
        failed=$((failed + 1))
        failures+=("$name")
        echo "=== $name: FAILED ($((SECONDS - start)) s)"
    fi
}

scripts/install-deps.sh

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

make -s -j2 PG_CONFIG="$PG_CONFIG"
$SUDO make -s install PG_CONFIG="$PG_CONFIG"

# The other PostgreSQL versions, each in its chroot (root only: debootstrap,
# chroot and mounts need it; pg-env.sh says so in one line otherwise).
# The partition files that need 17 or later (test/netns17), as root in the
# chroot (its raft_ext is the one the build step there installed), on a
# copy of the checkout kept in the chroot's /tmp (installcheck empties
# tmp_check; the logs stay); on failure the end of each failed file's log.
netns17='d=$(mktemp -d /tmp/raft_ext_netns17.XXXXXX) &&
rsync -a --exclude .git --exclude test/raft/build --exclude "tmp_check*" ./ "$d/" &&
env -u PG_TEST_PORT_DIR make -s -C "$d" installcheck REGRESS= PROVE_TESTS="test/netns17/*.pl" ||
{ for f in "$d"/tmp_check/log/regress_log_*; do echo "--- $f (tail)"; tail -n 60 "$f"; done; exit 1; }'
# (sudo would drop PG_TEST_PORT_DIR from the environment: pass it on)
pg_env() { $SUDO env PG_TEST_PORT_DIR="$PG_TEST_PORT_DIR" scripts/pg-env.sh "$@"; }
other_versions()
{
    local v
    for v in $PG_VERSIONS; do
        suite "postgres $v: chroot and warning-free build (scripts/pg-env.sh $v)" \
            pg_env "$v" true
        suite "postgres $v: pg_regress on one node" \
            pg_env "$v" make -s installcheck TAP_TESTS=
        local tap="$CORE_TAP" what="core TAP subset"
        if [ "$v" = "$fault_version" ]; then
            tap="$CORE_TAP $FAULT_TAP"
            what="core TAP subset and the fault scenarios"
        fi
        suite "postgres $v: $what on real clusters ($(echo $tap | wc -w) files)" \
            pg_env "$v" make -s installcheck REGRESS= PROVE_TESTS="$(echo $tap)"
        suite "postgres $v: a logical consumer across real network partitions (test/netns17, as root)" \
            pg_env --root "$v" bash -c "$netns17"
        suite "postgres $v: Debian package built, installed in a clean chroot, one-node election" \
            $SUDO scripts/test-deb.sh "$v"
    done
    # what the parent adds to its own counts
    { echo "$passed $failed"; printf '%s\n' "${failures[@]}"; } >"$versions_results"
}

# The other versions run in the background from the start, beside
# everything below: they mostly wait on servers and on the registry (the
# chroots), so the whole suite takes about as long as the host's part.
# They do not meet the host's tests: the partition suite's servers listen
# inside its own network namespaces, and the TAP frameworks on 127.0.0.1
# (here and in the chroots) reserve their ports in one shared directory
# (PG_TEST_PORT_DIR, which pg-env.sh mounts into the chroot).  Their output
# is held in a file and shown after the partition suite's, in one piece.
# Stop a background run and everything it started (the test frameworks
# stop their servers on TERM), children first seen before the parent goes.
stop_tree()
{
    local pid=$1 child
    [ -n "$pid" ] || return 0
    for child in $(pgrep -P "$pid"); do
        stop_tree "$child"
    done
    kill -TERM "$pid" 2>/dev/null || true
}

PG_TEST_PORT_DIR=$(mktemp -d /tmp/raft_ext_ports.XXXXXX)
chmod 1777 "$PG_TEST_PORT_DIR"
export PG_TEST_PORT_DIR
versions_log=$(mktemp /tmp/raft_ext_versions.XXXXXX)
versions_results=$(mktemp /tmp/raft_ext_versions.XXXXXX)
versions_pid=""
work=""
netns_work=""
trap 'stop_tree "$versions_pid"; rm -f "$versions_log" "$versions_results"; $SUDO rm -rf "$PG_TEST_PORT_DIR" ${netns_work:+"$netns_work"}; [ -z "$work" ] || [ "$work" = "$top" ] || rm -rf "$work"' EXIT
if [ -n "$PG_VERSIONS" ]; then
    (
        passed=0
        failed=0
        failures=()
        other_versions
    ) >"$versions_log" 2>&1 &
    versions_pid=$!
fi

suite "engine: unit tests and $SEEDS simulator seeds" \
    make -s -C test/raft check SEEDS="$SEEDS"
suite "engine: unit tests and $SANITIZE_SEEDS seeds under ASan+UBSan" \
    make -s -C test/raft check-sanitize SEEDS="$SANITIZE_SEEDS"
suite "engine: every mutant caught by the simulator (make mutants)" \
    make -s -C test/raft mutants
suite "engine: decoder fuzzing for $FUZZ_SECONDS s" \
    make -s -C test/raft fuzz FUZZ_SECONDS="$FUZZ_SECONDS"

# PostgreSQL refuses to run as root: run the server tests as an unprivileged
# user on a private copy of the tree that this user owns.
if [ "$(id -u)" -eq 0 ]; then
    runner=postgres
    work=$(mktemp -d /tmp/raft_ext_tests.XXXXXX)
    rsync -a --exclude .git --exclude test/raft/build "$top/" "$work/"
    chown -R "$runner" "$work"
    as_runner() { (umask 0000; runuser -u "$runner" -- env PATH="$PATH" PG_CONFIG="$PG_CONFIG" "$@"); }
else
    work=$top
    as_runner() { (umask 0000; "$@"); }
fi
# (umask 0000: the port reservations in PG_TEST_PORT_DIR are shared with
# the chroots' postgres user, another uid, which must open them too)

# pg_regress and the TAP clusters as separate suites, so that a failure in
# one does not hide the other's results.
suite "postgres: pg_regress on one node (make installcheck)" \
    as_runner make -s -C "$work" installcheck TAP_TESTS= PG_CONFIG="$PG_CONFIG"
suite "postgres: TAP tests on real clusters (test/t$([ -z "$fault_version" ] || echo ", but the fault scenarios"))" \
    as_runner make -s -C "$work" installcheck REGRESS= PG_CONFIG="$PG_CONFIG" \
    PROVE_TESTS="$HOST_TAP"
# Real network partitions: every node in its own network namespace, so this
# suite runs as root (it starts the servers as the postgres user itself);
# without root it says why and fails.
# It has its own copy of the tree: make installcheck empties tmp_check, and
# the TAP suite's logs must stay for the report below.
netns_work=$(mktemp -d /tmp/raft_ext_netns.XXXXXX)
rsync -a --exclude .git --exclude test/raft/build --exclude 'tmp_check*' "$top/" "$netns_work/"
suite "postgres: real network partitions (test/netns, as root)" \
    $SUDO env -u PG_TEST_PORT_DIR PATH="$PATH" make -s -C "$netns_work" installcheck REGRESS= \
    PG_CONFIG="$PG_CONFIG" PROVE_TESTS='test/netns/*.pl'
suite "postgres: real network partitions, totals (scripts/test-summary.pl)" \
    $SUDO scripts/test-summary.pl netns "$netns_work"

# The other versions' results, once they are done.
if [ -n "$versions_pid" ]; then
    wait "$versions_pid" || true
    versions_pid=""
    cat "$versions_log"
    if read -r p f <"$versions_results" && [ -n "$p" ]; then
        passed=$((passed + p))
        failed=$((failed + f))
        while IFS= read -r name; do
            [ -n "$name" ] && failures+=("$name")
        done < <(tail -n +2 "$versions_results")
    else
        failed=$((failed + 1))
        failures+=("postgres $PG_VERSIONS: the other versions' run ended without its results")
    fi
fi
# The totals across the files of the TAP runs (faults injected, breaches):
# the host's and the fault scenarios' (in the chroot of $fault_version,
# whose copy of the tree keeps its tmp_check); after prove, so that they
# hold whatever order or subset prove ran.
fault_trees=("$work")
[ -z "$fault_version" ] ||
    fault_trees+=("${RAFT_PG_ENV_DIR:-/var/cache/raft_ext/pg-env}/$fault_version/home/raft_ext")
suite "postgres: fault totals of the TAP runs (scripts/test-summary.pl)" \
    $SUDO scripts/test-summary.pl faults "${fault_trees[@]}"

# A TAP file failed if its log has a failed test (a TODO test's failure is
# expected, not one) or no closing plan (it died, or was stopped half-way).
tap_log_failed()
{
    grep -E '^\[[0-9:.]+\]\([0-9.]+s\) not ok' "$1" | grep -qv '# TODO' ||
        grep -Eq 'Looks like (you failed|your test exited)' "$1" ||
        ! grep -Eq '^\[[0-9:.]+\]\([0-9.]+s\) 1\.\.[0-9]+$' "$1"
}

failed_files=()
if [ "$failed" -ne 0 ]; then
    # Show what the failing server tests left behind, and only that: the end
    # of the output is what a CI report keeps.
    for f in "$work"/regression.diffs; do
        [ -f "$f" ] && { echo "--- $f (tail)"; tail -n 60 "$f"; failed_files+=("$f"); }
    done
    for f in "$work"/tmp_check/log/regress_log_* "$netns_work"/tmp_check/log/regress_log_*; do
        [ -f "$f" ] && tap_log_failed "$f" || continue
        failed_files+=("$f")
        echo "--- $f (failed; tail)"
        tail -n 60 "$f"
        # the servers' own last words for that file
        for l in "${f%/regress_log_*}/$(basename "$f" | sed 's/^regress_log_//')"_*.log; do
            [ -f "$l" ] && { echo "--- $l (tail)"; tail -n 15 "$l"; }
        done
    done
fi

echo
echo "suites: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ] || {
    printf 'failed: %s\n' "${failures[@]}"
    [ "${#failed_files[@]}" -eq 0 ] || printf 'failed file: %s\n' "${failed_files[@]}"
    exit 1
}
