# shellcheck shell=bash
# bench/options.sh: the benchmarks' command-line options, parsed one way.
# Sourced before lib.sh, so that a wrong option prints the usage even where
# PostgreSQL is not installed (lib.sh needs pg_config).
#
#   bench_options LINES SPEC... -- "$@"
#
# Each SPEC is NAME=VAR (--NAME VALUE sets the variable VAR) or
# NAME=VAR:VALUE (--NAME alone sets VAR to VALUE).  Anything else, or an
# option missing its value, prints lines LINES (a sed range) of the calling
# script, its usage, and exits with status 2.
#
# Every benchmark also takes --pg VERSION (15, 17 or 18): that PostgreSQL's
# binaries, this machine's if it has them (/usr/lib/postgresql/VERSION),
# else the benchmark runs again inside the chroot of the Debian suite that
# ships it (scripts/pg-env.sh, which builds and installs raft_ext there
# first; as root), its results in this checkout's bench/results/.
bench_options()
{
    local lines=$1 spec name var pg_version=""
    local -a kept=()
    local -A takes_value=() sets_flag=()
    shift
    while [ "$1" != -- ]; do
        spec=$1
        name=${spec%%=*}
        var=${spec#*=}
        if [[ $var == *:* ]]; then sets_flag[$name]=$var; else takes_value[$name]=$var; fi
        shift
    done
    shift
    while [ $# -gt 0 ]; do
        name=${1#--}
        [ "$1" = "--$name" ] && [ -n "$name" ] || name=
        if [ "$name" = pg ] && [ $# -ge 2 ]; then
            pg_version=$2
            shift 2
            continue
        fi
        kept+=("$1")
        if [ -n "$name" ] && [ -n "${sets_flag[$name]:-}" ]; then
            printf -v "${sets_flag[$name]%%:*}" '%s' "${sets_flag[$name]#*:}"
            shift
        elif [ -n "$name" ] && [ -n "${takes_value[$name]:-}" ] && [ $# -ge 2 ]; then
            printf -v "${takes_value[$name]}" '%s' "$2"
            kept+=("$2")
            shift 2
        else
            sed -n "${lines}p" "$0" >&2
            exit 2
        fi
    done
    [ -z "$pg_version" ] || bench_use_pg "$pg_version" "${kept[@]}"
}

# --pg VERSION: this machine's PostgreSQL VERSION, or run the calling
# benchmark again (arguments $2...) inside VERSION's chroot.
bench_use_pg()
{
    local version=$1 top script
    shift
    case "$version" in
        15|17|18) ;;
        *) echo "--pg: PostgreSQL $version is not supported: choose 15, 17 or 18" >&2; exit 2 ;;
    esac
    if [ -x "/usr/lib/postgresql/$version/bin/pg_config" ]; then
        export PG_CONFIG=/usr/lib/postgresql/$version/bin/pg_config
        return
    fi
    top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    script=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
    echo "PostgreSQL $version is not installed here: running in its chroot (scripts/pg-env.sh)" >&2
    "$top/scripts/pg-env.sh" "$version" true
    exec "$top/scripts/pg-env.sh" --root "$version" "$script" "$@"
}
