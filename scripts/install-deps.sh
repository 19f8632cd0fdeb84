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
  prometheus-postgres-exporter prometheus
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
# prometheus and prometheus-postgres-exporter are services, but the tests run their
# binaries themselves: none may start (a policy-rc.d of our own while apt runs, unless
# the system has one), and under systemd their units are disabled.
own_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  own_policy=/usr/sbin/policy-rc.d
  printf '#!/bin/sh\nexit 101\n' > "$own_policy" && chmod 755 "$own_policy"
  trap 'rm -f "$own_policy"' EXIT
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}"
if [ -d /run/systemd/system ]; then
  for service in prometheus prometheus-postgres-exporter; do
    systemctl disable --now "$service" >/dev/null 2>&1 || true
  done
fi
