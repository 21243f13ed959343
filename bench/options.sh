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
bench_options()
{
    local lines=$1 spec name var
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
        if [ -n "$name" ] && [ -n "${sets_flag[$name]:-}" ]; then
            printf -v "${sets_flag[$name]%%:*}" '%s' "${sets_flag[$name]#*:}"
            shift
        elif [ -n "$name" ] && [ -n "${takes_value[$name]:-}" ] && [ $# -ge 2 ]; then
            printf -v "${takes_value[$name]}" '%s' "$2"
            shift 2
        else
            sed -n "${lines}p" "$0" >&2
            exit 2
        fi
    done
}
