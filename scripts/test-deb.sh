#!/usr/bin/env bash
# scripts/test-deb.sh: build the Debian package of raft_ext for one
# PostgreSQL version and install it where a DBA would.
#
#   scripts/test-deb.sh VERSION          (as root; VERSION 15, 17 or 18)
#
#   1. in that version's chroot (scripts/pg-env.sh): pg_buildext
#      updatecontrol, dpkg-buildpackage -b on a copy of the checkout; the
#      .deb files land in tmp_check_deb/VERSION/ of the checkout;
#   2. in a clean chroot of the same Debian suite (a throwaway copy of a bare
#      debootstrap, scripts/pg-env.sh --clean): apt-get install of the built
#      postgresql-VERSION-raft-ext, which pulls the server from the registry;
#      then, as the postgres user, a one-node cluster (raft_ext.node_id = 1,
#      raft_ext.peers naming only itself) that must elect itself, CREATE
#      EXTENSION raft_ext, raft_ext.is_leader(), and raftctl status against
#      it; raft_ext_rejoin must be installed beside pg_ctl.
# Exit status 0 when all of that holds.  The internal steps are
# "--build VERSION DIR" and "--check VERSION DIR", run inside the chroots.
set -euo pipefail

die() { echo "test-deb.sh: $*" >&2; exit 1; }

# Inside the version's chroot, as root: build the packages into $2.
build_inside()
{
    local version=$1 out=$2 src=/tmp/raft_ext-deb
    rm -rf "$src"
    mkdir -p "$src"
    rsync -a --exclude .git --exclude 'tmp_check*' --exclude test/raft/build \
        --exclude bench/results --exclude '*.o' --exclude '*.so' --exclude '*.bc' \
        --exclude tools/raftctl/raftctl ./ "$src/"
    cd "$src"
    # debian/control for the versions this suite has (debian/pgversions
    # intersected with postgresql-common's supported versions).
    pg_buildext updatecontrol
    grep -q "^Package: postgresql-$version-raft-ext\$" debian/control ||
        die "pg_buildext did not select PostgreSQL $version (debian/pgversions, supported_versions)"
    # the packages of an earlier run of this chroot are not this one's
    rm -f ../postgresql-*-raft-ext*_*.deb ../raft-ext_*.buildinfo ../raft-ext_*.changes
    DEB_BUILD_OPTIONS="parallel=$(nproc) nocheck" dpkg-buildpackage -us -uc -b
    rm -rf "$out"
    mkdir -p "$out"
    cp ../postgresql-"$version"-raft-ext_"$(dpkg-parsechangelog -S Version)"_*.deb "$out/"
    ls -l "$out"
}

# Inside a clean chroot of the suite, as root: install and elect.
check_inside()
{
    local version=$1 out=$2 deb bindir dir port=5499
    deb=$(ls "$out"/postgresql-"$version"-raft-ext_*.deb)
    # The test makes its own cluster: postgresql-common need not make "main".
    mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
    apt-get -o Acquire::Check-Valid-Until=false -q update >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::Check-Valid-Until=false \
        -o APT::Install-Recommends=false -y -q install "$deb" >/tmp/apt.log 2>&1 ||
        { tail -n 20 /tmp/apt.log; die "apt-get install $deb failed"; }
    echo "installed: $(dpkg-query -W -f='${Package} ${Version}' "postgresql-$version-raft-ext")"
    bindir=/usr/lib/postgresql/$version/bin
    for f in "$bindir/raftctl" "$bindir/raft_ext_rejoin" \
        "/usr/lib/postgresql/$version/lib/raft_ext.so" \
        "/usr/share/postgresql/$version/extension/raft_ext.control" \
        "/usr/share/doc/postgresql-$version-raft-ext/README.md.gz"; do
        [ -e "$f" ] || [ -e "${f%.gz}" ] || die "the package lacks $f"
    done
    dir=$(mktemp -d /tmp/raft_ext-pkg.XXXXXX)
    chown postgres "$dir"
    as_pg() { runuser -u postgres -- "$@"; }
    as_pg "$bindir/initdb" -D "$dir/data" -A trust >/dev/null
    cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
shared_preload_libraries = 'raft_ext'
raft_ext.node_id = 1
raft_ext.peers = '1:host=127.0.0.1 port=$port dbname=postgres'
raft_ext.cluster_name = 'pkgtest'
EOF
    # shellcheck disable=SC2064 # the paths now: they are locals
    trap "runuser -u postgres -- '$bindir/pg_ctl' -D '$dir/data' -m immediate stop >/dev/null 2>&1 || true" EXIT
    as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w start >/dev/null
    # The one node elects itself: its log says so within 30 s.
    for _ in $(seq 300); do
        grep -q "node 1 is now leader in term" "$dir/log" && break
        sleep 0.1
    done
    grep -q "node 1 is now leader in term" "$dir/log" ||
        { tail -n 20 "$dir/log"; die "the one-node cluster did not elect itself within 30 s"; }
    as_pg "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -d postgres \
        -c "CREATE EXTENSION raft_ext" >/dev/null
    [ "$(as_pg "$bindir/psql" -X -At -h "$dir" -p "$port" -d postgres \
        -c "SELECT raft_ext.wait_for_leader('10s') = 1 AND raft_ext.is_leader() AND raft_ext.leader_id() = 1")" = t ] ||
        die "raft_ext.is_leader() is not true on the one-node cluster"
    as_pg "$bindir/raftctl" -d "host=$dir port=$port dbname=postgres" status
    echo "ok: postgresql-$version-raft-ext installs, CREATE EXTENSION raft_ext works and node 1 leads"
}

case "${1:-}" in
    --build) build_inside "$2" "$3"; exit ;;
    --check) check_inside "$2" "$3"; exit ;;
esac

[ $# -eq 1 ] || { sed -n 4,5p "$0" >&2; exit 2; }
version=$1
case "$version" in
    15|17|18) ;;
    *) die "PostgreSQL $version is not supported: choose 15, 17 or 18" ;;
esac
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/tmp_check_deb/$version
"$top/scripts/pg-env.sh" --root "$version" scripts/test-deb.sh --build "$version" "$out"
"$top/scripts/pg-env.sh" --clean "$version" scripts/test-deb.sh --check "$version" "$out"
