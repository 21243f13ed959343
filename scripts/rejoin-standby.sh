#!/usr/bin/env bash
# rejoin-standby.sh: turn a former primary into a standby of the current
# leader, with pg_rewind.
#
#   scripts/rejoin-standby.sh -D PGDATA --source 'host=db2 port=5432 dbname=postgres'
#       [--application-name NAME] [--bindir DIR] [--log FILE] [--no-start]
#       [--restore-target-wal]
#
# What it does, in order (each step is skipped when already done, so the
# script can be run again after a failure):
#   1. stops the server if it runs (pg_ctl stop -m fast);
#   2. saves what pg_rewind would overwrite with the source's copy but that
#      belongs to this node: postgresql.conf, postgresql.auto.conf,
#      pg_hba.conf, pg_ident.conf, and raft_ext's state directory (this
#      node's Raft term and vote: a copy of the leader's would make this node
#      forget its vote, or take the leader's identity);
#   3. pg_rewind --target-pgdata=PGDATA --source-server=SOURCE (pg_rewind
#      itself replays a server that was not shut down cleanly);
#   4. puts the saved files back, writes standby.signal and sets
#      primary_conninfo (to SOURCE, without dbname, with application_name)
#      in postgresql.auto.conf;
#   5. starts the server as a standby (unless --no-start).
#
# pg_rewind needs, on this node, wal_log_hints = on or data checksums
# (initdb -k), set BEFORE the timelines diverged, and full_page_writes = on
# (the default); this node's WAL back to the last checkpoint before the
# divergence (keep it with wal_keep_size, or pass --restore-target-wal so
# that pg_rewind fetches it with this node's restore_command); the source
# must be reachable by a superuser (or a role granted pg_rewind's
# functions).  Until the node has rejoined, raft_ext's
# fence keeps it from committing writes: it does not hold the Raft lease.
#
# Usable as root (commands then run as the owner of PGDATA) or as that
# owner.  Exit status: 0 rejoined, 1 failed (with a message saying why),
# 2 bad usage.
set -euo pipefail

usage()
{
    sed -n '4,7p' "$0" >&2
    exit 2
}

log()
{
    printf '%s rejoin-standby: %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S')" "$*"
}

die()
{
    log "ERROR: $*" >&2
    exit 1
}

pgdata=""
source_conninfo=""
appname=""
bindir=""
logfile=""
start=1
rewind_opts=()
while [ $# -gt 0 ]; do
    case "$1" in
        -D|--pgdata) pgdata=${2:?}; shift 2 ;;
        --source) source_conninfo=${2:?}; shift 2 ;;
        --application-name) appname=${2:?}; shift 2 ;;
        --bindir) bindir=${2:?}; shift 2 ;;
        --log) logfile=${2:?}; shift 2 ;;
        --no-start) start=0; shift ;;
        --restore-target-wal) rewind_opts+=(--restore-target-wal); shift ;;
        -h|--help) usage ;;
        *) echo "unknown argument: $1" >&2; usage ;;
    esac
done
[ -n "$pgdata" ] && [ -n "$source_conninfo" ] || usage
[ -d "$pgdata" ] || die "data directory \"$pgdata\" does not exist"
[ -f "$pgdata/PG_VERSION" ] || die "\"$pgdata\" is not a PostgreSQL data directory"
pgdata=$(cd "$pgdata" && pwd)

if [ -z "$bindir" ]; then
    if command -v pg_config >/dev/null 2>&1; then
        bindir=$(pg_config --bindir)
    else
        bindir=/usr/lib/postgresql/$(cat "$pgdata/PG_VERSION")/bin
    fi
fi
for tool in pg_ctl pg_rewind; do
    [ -x "$bindir/$tool" ] || die "$bindir/$tool not found (use --bindir)"
done

# Run a command as the owner of the data directory.
owner=$(stat -c %U "$pgdata")
as_owner()
{
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u "$owner" -- "$@"
    else
        "$@"
    fi
}
if [ "$(id -u)" -ne 0 ] && [ "$(id -un)" != "$owner" ]; then
    die "run this as root or as $owner, the owner of $pgdata"
fi

# raft_ext's state directory, relative to PGDATA unless absolute.
state_dir=$(grep -hE "^[[:space:]]*raft_ext\.state_directory[[:space:]]*=" \
    "$pgdata/postgresql.conf" "$pgdata/postgresql.auto.conf" 2>/dev/null |
    tail -n 1 | sed -E "s/^[^=]*=[[:space:]]*'?([^'#]*)'?.*/\1/; s/[[:space:]]+$//" || true)
state_dir=${state_dir:-pg_raft}
case "$state_dir" in
    /*) ;;
    *) state_dir="$pgdata/$state_dir" ;;
esac

# The application_name: given, else the current primary_conninfo's, else
# node<raft_ext.node_id>.
if [ -z "$appname" ]; then
    appname=$(grep -hE "^[[:space:]]*primary_conninfo[[:space:]]*=" \
        "$pgdata/postgresql.conf" "$pgdata/postgresql.auto.conf" 2>/dev/null |
        tail -n 1 | grep -oE "application_name=[A-Za-z0-9_]+" |
        sed 's/application_name=//' || true)
fi
if [ -z "$appname" ]; then
    node_id=$(grep -hE "^[[:space:]]*raft_ext\.node_id[[:space:]]*=" \
        "$pgdata/postgresql.conf" "$pgdata/postgresql.auto.conf" 2>/dev/null |
        tail -n 1 | grep -oE "[0-9]+" | head -n 1 || true)
    appname="node${node_id:-unknown}"
fi

# 1. Stop the server if it runs.
if as_owner "$bindir/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
    log "stopping the server in $pgdata"
    as_owner "$bindir/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null ||
        die "could not stop the server in $pgdata"
else
    log "the server in $pgdata is not running"
fi

# 2. Save this node's own files (kept across runs until step 4 finished).
save="$pgdata.rejoin-save"
if [ ! -d "$save" ]; then
    log "saving configuration files and the raft_ext state to $save"
    as_owner mkdir -p "$save.tmp"
    for f in postgresql.conf postgresql.auto.conf pg_hba.conf pg_ident.conf; do
        [ -f "$pgdata/$f" ] && as_owner cp -p "$pgdata/$f" "$save.tmp/$f"
    done
    if [ -d "$state_dir" ]; then
        as_owner cp -a "$state_dir" "$save.tmp/raft_state"
    fi
    sync "$save.tmp" 2>/dev/null || sync
    as_owner mv "$save.tmp" "$save"
else
    log "using the files saved by an earlier run in $save"
fi

# 3. Rewind to the source's timeline.  A freshly promoted source records
# its new timeline in pg_control only at its first checkpoint, and until
# then pg_rewind takes both for the same timeline and rewinds nothing.
psql_bin="$bindir/psql"
if [ -x "$psql_bin" ]; then
    log "asking the source for a checkpoint (pg_rewind reads its timeline from pg_control)"
    as_owner "$psql_bin" -X -q -d "$source_conninfo" -c CHECKPOINT >/dev/null 2>&1 ||
        log "WARNING: CHECKPOINT on the source failed; if pg_rewind says no rewind is required right after a promotion, run CHECKPOINT there and try again"
fi
log "running pg_rewind from: $source_conninfo"
rewind_out=$(as_owner "$bindir/pg_rewind" --target-pgdata="$pgdata" \
    --source-server="$source_conninfo" "${rewind_opts[@]}" 2>&1) || {
    printf '%s\n' "$rewind_out" >&2
    die "pg_rewind failed; it needs wal_log_hints = on or data checksums on this node, its WAL back to the last common checkpoint (wal_keep_size, or --restore-target-wal), and a superuser connection to the source"
}
printf '%s\n' "$rewind_out" | tail -n 3

# 4. Put this node's files back; make it a standby of the source.
log "restoring this node's configuration files and raft_ext state"
for f in postgresql.conf postgresql.auto.conf pg_hba.conf pg_ident.conf; do
    [ -f "$save/$f" ] && as_owner cp -p "$save/$f" "$pgdata/$f"
done
if [ -d "$save/raft_state" ]; then
    as_owner rm -rf "$state_dir"
    as_owner cp -a "$save/raft_state" "$state_dir"
fi

# primary_conninfo: the source without dbname, with our application_name;
# quotes doubled for the configuration file.
conninfo=$(printf '%s' "$source_conninfo" |
    sed -E "s/(^|[[:space:]])dbname=('[^']*'|[^[:space:]]*)//g; s/(^|[[:space:]])application_name=('[^']*'|[^[:space:]]*)//g; s/^[[:space:]]+//")
conninfo="$conninfo application_name=$appname"
conninfo_quoted=$(printf '%s' "$conninfo" | sed "s/'/''/g")
auto="$pgdata/postgresql.auto.conf"
as_owner touch "$auto"
as_owner sh -c "grep -viE '^[[:space:]]*primary_conninfo[[:space:]]*=' '$auto' > '$auto.tmp' || true"
printf "primary_conninfo = '%s'\n" "$conninfo_quoted" | as_owner tee -a "$auto.tmp" >/dev/null
as_owner mv "$auto.tmp" "$auto"
as_owner touch "$pgdata/standby.signal"
sync "$pgdata" 2>/dev/null || sync
as_owner rm -rf "$save"
log "$pgdata is now a standby of: $conninfo"

# 5. Start it.
if [ "$start" -eq 1 ]; then
    logfile=${logfile:-$pgdata/rejoin-standby.log}
    log "starting the standby (log: $logfile)"
    as_owner "$bindir/pg_ctl" -D "$pgdata" -l "$logfile" -w start >/dev/null ||
        die "the standby did not start; see $logfile"
fi
log "done"
