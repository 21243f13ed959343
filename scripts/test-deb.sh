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
#      then, as root, what a DBA on Debian types: pg_createcluster twice,
#      raftctl init --config-dir on the first cluster (it must lead:
#      raft_ext.is_leader()), raftctl join --config-dir --user postgres on
#      the second (pg_lsclusters: online,recovery; two voters), raftctl
#      status; raft_ext_rejoin must be installed beside pg_ctl.
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
    local version=$1 out=$2 deb bindir port=5499
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
    as_pg() { runuser -u postgres -- "$@"; }
    # systemd-tmpfiles makes it on a booted system; a chroot has none
    install -d -o postgres -g postgres -m 2775 /var/run/postgresql
    # A DBA's cluster of two, made the Debian way, as root: pg_createcluster
    # (configuration in /etc/postgresql/VERSION/NAME), raftctl init on the
    # first (it runs the server as postgres), raftctl join --user postgres
    # on the second (its fresh data directory removed first).
    local data=/var/lib/postgresql/$version conf=/etc/postgresql/$version
    local from="host=/var/run/postgresql port=$port dbname=postgres"
    # shellcheck disable=SC2064 # the version now: it is a local
    trap "pg_ctlcluster $version n1 stop -m immediate >/dev/null 2>&1 || true;
          pg_ctlcluster $version n2 stop -m immediate >/dev/null 2>&1 || true" EXIT
    pg_createcluster -p "$port" "$version" n1 >/dev/null
    "$bindir/raftctl" init -D "$data/n1" --config-dir "$conf/n1" --node-id 1 \
        --address "127.0.0.1:$port" --cluster-name pkgtest ||
        die "raftctl init of pg_createcluster's $version/n1 failed"
    pg_lsclusters "$version" n1 | grep -q online || die "pg_lsclusters does not show $version/n1 online"
    [ "$(as_pg "$bindir/psql" -X -At -d "$from" \
        -c "SELECT raft_ext.is_leader() AND raft_ext.leader_id() = 1")" = t ] ||
        die "raft_ext.is_leader() is not true on node 1"
    pg_createcluster -p $((port + 1)) "$version" n2 >/dev/null
    rm -rf "${data:?}/n2"
    "$bindir/raftctl" join -D "$data/n2" --config-dir "$conf/n2" --node-id 2 --user postgres \
        --address "127.0.0.1:$((port + 1))" --password-file "$data/n1.raft_ext/pgpass" \
        --from "$from" || die "raftctl join of $version/n2 failed"
    pg_lsclusters "$version" n2 | grep -q 'online,recovery' ||
        die "pg_lsclusters does not show $version/n2 online,recovery"
    [ "$(stat -c %U "$data/n2" "$data/n2.raft_ext" | sort -u)" = postgres ] ||
        die "raftctl join as root left files not owned by postgres"
    # over TCP as a DBA's monitoring would: a role with a password
    as_pg "$bindir/raftctl" -d "host=127.0.0.1 port=$port dbname=postgres user=raft_transport passfile=$data/n1.raft_ext/pgpass" status ||
        die "raftctl status does not find a healthy cluster"
    [ "$(as_pg "$bindir/psql" -X -At -d "$from" \
        -c "SELECT count(*) FILTER (WHERE voter) FROM raft_ext.raft_peers")" = 2 ] ||
        die "the cluster does not have two voters"
    echo "ok: postgresql-$version-raft-ext installs; raftctl init and join as root make a cluster of two from pg_createcluster's"
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
