#!/usr/bin/env bash
# Install what raft_ext needs to build, test and benchmark on Debian 12.
# Idempotent: does nothing when every package is already present.
set -euo pipefail

packages=(
    build-essential
    postgresql-15
    postgresql-server-dev-15
    libpq-dev
    libkrb5-dev
    libipc-run-perl
    libdbd-pg-perl
    libcmocka-dev
    clang
    libclang-rt-14-dev
    gnuplot-nox
    rsync
    iproute2
    libmicrohttpd-dev
    haproxy
    prometheus
    # the chroots of the other PostgreSQL versions (scripts/pg-env.sh)
    debootstrap
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian's postgresql-15 package starts a cluster on port 5432; the tests do
# not need it, but leave it alone: it belongs to the machine, not to us.
