#!/usr/bin/env bash
# scripts/pg-env.sh: run a command against another PostgreSQL major version,
# in a minimal Debian chroot of the suite that ships it.
#
#   scripts/pg-env.sh [--root | --clean] VERSION [COMMAND...]
#
#   VERSION   15 (Debian 12 bookworm), 17 (Debian 13 trixie) or 18 (forky)
#   COMMAND   default: an interactive shell
#
# The chroot is made once (debootstrap --variant=minbase, then
# postgresql-VERSION, postgresql-server-dev-VERSION and what the build, the
# tests and the packaging need) under $RAFT_PG_ENV_DIR/VERSION (default
# /var/cache/raft_ext/pg-env/VERSION) and reused afterwards; delete that
# directory to remake it.  The Debian mirror is the host's (its
# /etc/apt/sources.list(.d)) unless $RAFT_PG_ENV_MIRROR names another; no
# other registry is used.
#
# By default (a server test, as CI runs it): the checkout is copied into the
# chroot (/home/raft_ext, kept afterwards for its logs), built and
# installed there as root, and COMMAND runs in that copy as the postgres
# user, with the version's bindir first in PATH and PG_CONFIG set:
#   scripts/pg-env.sh 18 make installcheck
# With --root, COMMAND runs as root in the checkout itself, bind-mounted at
# its own path, and nothing is built first (packaging, a shell).  With
# --clean, the same but in a throwaway copy of a bare debootstrap of the
# suite (cached as $RAFT_PG_ENV_DIR/SUITE-minbase): what a DBA's machine
# has before installing raft_ext's package (scripts/test-deb.sh).
#
# PG_TEST_PORT_DIR, if set, is bind-mounted at its own path and passed on:
# PostgreSQL's TAP framework reserves each port it picks there, so a test
# run in the chroot and one on the host at the same time (scripts/
# run-tests.sh) never pick the same port on 127.0.0.1.
#
# Must run as root.  The mounts (proc, dev, the checkout) live in a private
# mount namespace (unshare) and are also unmounted on exit, so that neither a
# failure nor an interrupt leaves one behind; the host's own PostgreSQL is
# never touched.  Errors are one line on stderr, exit status 1.
set -euo pipefail

die() { echo "pg-env.sh: $*" >&2; exit 1; }

as_root=0
clean=0
case "${1:-}" in
    --root) as_root=1; shift ;;
    --clean) as_root=1; clean=1; shift ;;
esac
[ $# -ge 1 ] || { sed -n 4,7p "$0" >&2; exit 2; }
version=$1
shift

case "$version" in
    15) suite=bookworm ;;
    17) suite=trixie ;;
    18) suite=forky ;;
    *) die "PostgreSQL $version is not supported: choose 15, 17 or 18" ;;
esac

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot and mounts need it): sudo $0 $version $*"
command -v unshare >/dev/null || die "unshare is missing: apt-get install util-linux"

top=$(cd "$(dirname "$0")/.." && pwd)
base=${RAFT_PG_ENV_DIR:-/var/cache/raft_ext/pg-env}
root=$base/$version

# The Debian mirror the host's apt uses (the first non-security one), or
# $RAFT_PG_ENV_MIRROR.
host_mirror()
{
    local m=${RAFT_PG_ENV_MIRROR:-}
    [ -z "$m" ] || { echo "$m"; return; }
    m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:\/\//) { print $i; break } }' |
        grep -v -- '-security' | grep '/debian/\?$' | head -n 1 || true)
    [ -n "$m" ] || m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
        awk '$1 == "URIs:" { print $2 }' | grep -v -- '-security' | grep '/debian/\?$' | head -n 1 || true)
    echo "${m:-http://deb.debian.org/debian}"
}

# The packages of the chroot: the server and its headers, the build, the TAP
# tests (scripts/install-deps.sh's list, less what only the host's engine
# tests and benchmarks plots need), the Debian packaging.
packages()
{
    echo "postgresql-$version postgresql-server-dev-$version postgresql-server-dev-all" \
        "build-essential libpq-dev libkrb5-dev libmicrohttpd-dev" \
        "libipc-run-perl libdbd-pg-perl rsync iproute2 procps openssl haproxy prometheus python3" \
        "debhelper dpkg-dev fakeroot"
}

# debootstrap the suite into $1 (the checks first, each failure one line);
# no service starts inside the chroot.
debootstrap_into()
{
    local dir=$1 mirror script=() avail
    command -v debootstrap >/dev/null ||
        die "debootstrap is missing: apt-get install debootstrap (scripts/install-deps.sh installs it)"
    mirror=$(host_mirror)
    wget -q -T 20 -t 1 -O /dev/null "$mirror/dists/$suite/Release" ||
        die "the Debian registry is unreachable: cannot read $mirror/dists/$suite/Release"
    mkdir -p "$base"
    avail=$(df -Pk "$base" | awk 'NR == 2 { print $4 }')
    [ "$avail" -ge 2000000 ] ||
        die "no space: $base has $((avail / 1024)) MB free, the chroot needs about 2000 MB"
    # forky is too new for Debian 12's debootstrap: it is made like sid.
    [ "$suite" = forky ] && script=(/usr/share/debootstrap/scripts/sid)
    rm -rf "$dir"
    debootstrap --variant=minbase "$suite" "$dir" "$mirror" "${script[@]}" >"$base/$version-debootstrap.log" 2>&1 ||
        die "debootstrap $suite failed: see $base/$version-debootstrap.log"
    printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
    chmod +x "$dir/usr/sbin/policy-rc.d"
    cp /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null || true
}

# Make the chroot (once): debootstrap into a temporary directory, install
# the packages, then rename it into place so that an interrupted run leaves
# no half-made chroot behind.
make_chroot()
{
    local tmp=$base/.$version.tmp
    echo "pg-env.sh: making the $suite chroot for PostgreSQL $version in $root (once; a few minutes)" >&2
    debootstrap_into "$tmp"
    # No cluster is created when postgresql-$version is installed.
    mkdir -p "$tmp/etc/postgresql-common"
    echo "create_main_cluster = false" >"$tmp/etc/postgresql-common/createcluster.conf"
    install_packages "$tmp"
    mv "$tmp" "$root"
    echo "pg-env.sh: PostgreSQL $version chroot ready in $root" >&2
}

# Install packages() into chroot $1 and remember the list in it, so that a
# chroot made before the list grew gets what is missing on its next use.
install_packages()
{
    # The registry's copy of forky's Release file is past its validity date.
    # createcluster.conf above is kept where a package ships it too.
    local apt="apt-get -o Acquire::Check-Valid-Until=false -o APT::Install-Recommends=false -y -q"
    apt+=" -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold"
    if ! in_chroot "$1" sh -c "$apt update && DEBIAN_FRONTEND=noninteractive $apt install $(packages)" \
        >"$base/$version-apt.log" 2>&1; then
        die "installing PostgreSQL $version and the test dependencies into the $suite chroot failed: see $base/$version-apt.log"
    fi
    in_chroot "$1" apt-get clean
    packages >"$1/etc/raft_ext-pg-env.packages"
}

# Run a command in chroot $1 with /proc and /dev mounted, in a private mount
# namespace, unmounting on the way out.
in_chroot()
{
    local dir=$1
    shift
    unshare --mount --propagation private -- bash -c '
        set -e
        dir=$1; top=$2; ports=$3; shift 3
        cleanup() { for m in "$ports" "$top" dev/shm dev/pts dev proc; do
            [ -n "$m" ] || continue
            mountpoint -q "$dir/${m#/}" && umount -l "$dir/${m#/}"; done
            umount -l "$dir" 2>/dev/null; true; }
        trap cleanup EXIT
        # the root a mount point of its own: "ip netns exec" remounts "/"
        # (the partition suite on this version)
        mount --bind "$dir" "$dir"
        mount -t proc proc "$dir/proc"
        mount --bind /dev "$dir/dev"
        mount -t devpts -o newinstance,ptmxmode=0666 devpts "$dir/dev/pts" 2>/dev/null || true
        mount -t tmpfs -o mode=1777 shm "$dir/dev/shm"
        if [ -n "$top" ]; then
            mkdir -p "$dir$top"
            mount --bind "$top" "$dir$top"
        fi
        # the port reservations of the TAP frameworks, shared with the host
        # (PG_TEST_PORT_DIR, above)
        if [ -n "$ports" ]; then
            mkdir -p "$dir$ports"
            mount --bind "$ports" "$dir$ports"
        fi
        chroot "$dir" env -i HOME=/root TERM="${TERM:-dumb}" LANG=C.UTF-8 \
            ${ports:+PG_TEST_PORT_DIR="$ports"} \
            PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
    ' in_chroot "$dir" "${CHROOT_CHECKOUT:-}" "${PG_TEST_PORT_DIR:-}" "$@"
}

# One maker at a time; runs of the same version one at a time too (they
# share the copy in /home/raft_ext); clean chroots lock only their suite's
# bare copy, so that a package test runs beside the version's tests.
mkdir -p "$base"
if [ "$clean" -eq 1 ]; then
    exec 9>"$base/.$suite-minbase.lock"
else
    exec 9>"$base/.$version.lock"
fi
flock 9
if [ "$clean" -eq 1 ]; then
    :
elif [ ! -d "$root" ]; then
    make_chroot
elif [ "$(cat "$root/etc/raft_ext-pg-env.packages" 2>/dev/null)" != "$(packages)" ]; then
    echo "pg-env.sh: installing the packages the $suite chroot misses" >&2
    install_packages "$root"
fi

bindir=/usr/lib/postgresql/$version/bin
[ $# -gt 0 ] || set -- bash -i
CHROOT_CHECKOUT=$top
export CHROOT_CHECKOUT
if [ "$clean" -eq 1 ]; then
    # A throwaway copy of the bare suite, removed afterwards (its mounts
    # died with in_chroot's mount namespace; --one-file-system all the same).
    minbase=$base/$suite-minbase
    if [ ! -d "$minbase" ]; then
        echo "pg-env.sh: making a bare $suite chroot in $minbase (once)" >&2
        debootstrap_into "$base/.$suite-minbase.tmp"
        mv "$base/.$suite-minbase.tmp" "$minbase"
    fi
    root=$(mktemp -d "$base/.$suite-clean.XXXXXX")
    trap 'rm -rf --one-file-system "$root"' EXIT
    cp -a "$minbase/." "$root/"
fi
if [ "$as_root" -eq 1 ]; then
    in_chroot "$root" bash -c 'cd "$1"; export PATH="$2:$PATH" PG_CONFIG="$2/pg_config"; shift 2; exec "$@"' \
        - "$top" "$bindir" "$@"
    exit $?
fi
# The server tests: a copy owned by postgres, built and installed as root.
work=/home/raft_ext
in_chroot "$root" bash -c '
    set -e
    top=$1 work=$2 bindir=$3; shift 3
    mkdir -p "$work"
    # The build products are excluded both ways: the host'"'"'s (another
    # version'"'"'s) are not copied, this copy'"'"'s are removed: rsync keeps
    # the sources'"'"' times, so an object built here from an older source
    # can be newer than the new source, and make would keep it.
    changed=$(rsync -ai --delete --exclude .git --exclude test/raft/build --exclude "tmp_check*" \
        --exclude bench/results --exclude "*.o" --exclude "*.so" --exclude "*.bc" \
        --exclude tools/raftctl/raftctl --exclude /results --exclude "/regression.*" \
        --exclude /.built "$top/" "$work/" | grep -E "^[<>ch*]" || true)
    # Built and installed by an earlier run from these very sources (rsync
    # copied, made or deleted nothing; owners and times of directories do
    # not count): the test suite runs this script three times per version,
    # and a clean build with bitcode takes a minute.
    if [ -n "$changed" ] || [ ! -f "$work/.built" ]; then
        rm -f "$work/.built"
        make -s -C "$work" clean PG_CONFIG="$bindir/pg_config" >/dev/null
        make -s -C "$work" -j"$(nproc)" PG_CONFIG="$bindir/pg_config" >/dev/null
        make -s -C "$work" install PG_CONFIG="$bindir/pg_config" >/dev/null
        touch "$work/.built"
    fi
    chown -R postgres "$work"
    cd "$work"
    # shared port reservations: files that the host'"'"'s test user (another
    # uid) can open too
    [ -z "${PG_TEST_PORT_DIR:-}" ] || umask 0000
    exec runuser -u postgres -- env PATH="$bindir:$PATH" PG_CONFIG="$bindir/pg_config" "$@"
' - "$top" "$work" "$bindir" "$@"
