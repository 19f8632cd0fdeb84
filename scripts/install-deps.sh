#!/usr/bin/env bash
# Installs, from Debian's own archive only, whatever the build, the tests and the
# demo need and is missing. Idempotent: a second run installs nothing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  postgresql-15 postgresql-server-dev-15 postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl
  postgresql-15-pgq3
  postgresql-server-dev-all debhelper dpkg-dev   # the Debian package (debian/, pg_buildext)
  libcurl4-openssl-dev libjansson-dev libssl-dev libphonenumber-dev libmicrohttpd-dev
  googletest libgtest-dev
  curl jq wrk openssl procps iproute2
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: everything is installed"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root (or install them with apt-get) and try again" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# The Debian package would also create and start a system-wide cluster; we never use it.
mkdir -p /etc/postgresql-common/createcluster.d
echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/chatwoot_sync-no-main.conf
apt-get install -y -qq --no-install-recommends "${missing[@]}"
