#!/usr/bin/env bash
# Installs everything the build and the tests need on a Debian 12 machine and
# prepares a MariaDB source tree configured like Debian's own build, so that
# ha_queue.so matches the installed mariadbd exactly (same version, same THD
# layout). Idempotent: a second run only checks and returns.
#
# Outputs (sourced by the Makefile through scripts/env.sh):
#   $QUEUE_CACHE/mariadb-<version>/src    the unpacked Debian source package
#   $QUEUE_CACHE/mariadb-<version>/build  cmake build dir (GenError, mysqlservices built)
#   $QUEUE_CACHE/version                  the chosen version string
set -euo pipefail

QUEUE_CACHE=${QUEUE_CACHE:-$HOME/.cache/queue}
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
log() { printf '[setup] %s\n' "$*" >&2; }

mkdir -p "$QUEUE_CACHE"
stamp="$QUEUE_CACHE/setup.done"
if [ -f "$stamp" ] && [ -f "$QUEUE_CACHE/version" ]; then
  V=$(cat "$QUEUE_CACHE/version")
  if [ "$(dpkg-query -W -f='${Version}' mariadb-server 2>/dev/null || true)" = "$V" ] &&
     [ "$(dpkg-query -W -f='${Version}' mariadb-backup 2>/dev/null || true)" = "$V" ] &&
     [ "$(dpkg-query -W -f='${Version}' mariadb-plugin-spider 2>/dev/null || true)" = "$V" ] &&
     command -v prometheus-mysqld-exporter promtool curl dpkg-deb >/dev/null &&
     [ -f "$QUEUE_CACHE/mariadb-$(printf '%s' "${V#*:}" | tr '+~' '__')/build/libservices/libmysqlservices.a" ]; then
    exit 0
  fi
fi

# 1. deb-src entries, so that the server's source package can be fetched.
enable_deb_src() {
  local changed=0
  if [ -f /etc/apt/sources.list.d/debian.sources ] &&
     grep -q '^Types: deb$' /etc/apt/sources.list.d/debian.sources; then
    $SUDO sed -i 's/^Types: deb$/Types: deb deb-src/' /etc/apt/sources.list.d/debian.sources
    changed=1
  fi
  if [ -f /etc/apt/sources.list ] && grep -q '^deb ' /etc/apt/sources.list &&
     ! grep -q '^deb-src ' /etc/apt/sources.list; then
    grep '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' |
      $SUDO tee -a /etc/apt/sources.list >/dev/null
    changed=1
  fi
  echo $changed
}
changed=$(enable_deb_src)
lists_age=$(( $(date +%s) - $(stat -c %Y /var/lib/apt/lists 2>/dev/null || echo 0) ))
if [ "$changed" = 1 ] || [ "$lists_age" -gt 86400 ] || [ -z "$(apt-cache showsrc mariadb 2>/dev/null | sed -n 's/^Version: //p')" ]; then
  log "apt-get update"
  $SUDO apt-get update -qq
fi

# 2. The newest version with both binaries and the source package downloadable.
export DEBIAN_FRONTEND=noninteractive
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
V=""
srcvers=$(apt-cache showsrc mariadb | sed -n 's/^Version: //p')
for cand in $(apt-cache madison mariadb-server | awk '$NF=="Packages"{print $3}' | sort -u -r -V); do
  printf '%s\n' "$srcvers" | grep -qx "$cand" || continue
  ckey=$(printf '%s' "${cand#*:}" | tr '+~' '__')
  if [ -d "$QUEUE_CACHE/mariadb-$ckey/src/sql" ] ||
     (cd "$tmp" && apt-get source --download-only -qq "mariadb=$cand" >/dev/null 2>&1); then
    V=$cand; break
  fi
  log "mariadb $cand: source package not downloadable, trying an older version"
done
[ -n "$V" ] || { log "no MariaDB version has both binaries and source"; exit 1; }
log "MariaDB version $V"

# 3. Packages: the server, client, test suite and mariabackup pinned to V
# (mariabackup must match the server it backs up; Spider, for the sharding
# recipe of docs/SCALING.md, must match the server that loads it); build tools; the
# monitoring exporter the operations tests scrape.
pkgs_pinned="mariadb-server mariadb-server-core mariadb-client mariadb-client-core
  mariadb-common mariadb-test mariadb-test-data mariadb-backup libmariadb3 mariadb-plugin-provider-bzip2
  mariadb-plugin-provider-lz4 mariadb-plugin-provider-lzma mariadb-plugin-provider-lzo
  mariadb-plugin-provider-snappy mariadb-plugin-spider"
want=()
for p in $pkgs_pinned; do
  vers=$(apt-cache madison "$p" | awk '{print $3}')
  if printf '%s\n' "$vers" | grep -qx "$V"; then want+=("$p=$V"); fi
done
build_pkgs="build-essential cmake bison pkg-config dpkg-dev libncurses-dev libssl-dev
  zlib1g-dev libpcre2-dev libxml2-dev libaio-dev liburing-dev libsystemd-dev
  libdbi-perl libdbd-mariadb-perl prometheus-mysqld-exporter curl"
need_install=0
for p in "${want[@]}"; do
  name=${p%%=*}
  [ "$(dpkg-query -W -f='${Version}' "$name" 2>/dev/null || true)" = "$V" ] || need_install=1
done
for p in $build_pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need_install=1
done
if [ $need_install = 1 ]; then
  log "installing packages"
  # Do not let the package scripts start the system server in containers
  # without an init system; nothing here needs it running.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    trap 'rm -rf "$tmp"; $SUDO rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  $SUDO apt-get install -y -qq --allow-downgrades "${want[@]}" $build_pkgs >/dev/null
fi
# promtool (package prometheus) checks the alert rules of docs/OPERATIONS.md;
# the server itself and its recommended exporters are not needed.
if ! command -v promtool >/dev/null; then
  log "installing prometheus (for promtool)"
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    trap 'rm -rf "$tmp"; $SUDO rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
# Keep apt from upgrading the server away from the version the plugin is built for.
for p in "${want[@]}"; do $SUDO apt-mark hold "${p%%=*}" >/dev/null; done

# 4. The source tree, configured like debian/rules (WITH_WSREP defaults to ON).
# The cache key leaves out the epoch and '+': cmake rejects ':' in paths.
key=$(printf '%s' "${V#*:}" | tr '+~' '__')
root="$QUEUE_CACHE/mariadb-$key"
if [ ! -d "$root/src/sql" ]; then
  log "fetching the source package"
  rm -rf "$root/dl" && mkdir -p "$root/dl"
  (cd "$root/dl" && apt-get source -qq "mariadb=$V" >/dev/null)
  src=$(find "$root/dl" -maxdepth 1 -mindepth 1 -type d -name 'mariadb-*' | head -1)
  [ -n "$src" ] || { log "source unpack failed"; exit 1; }
  mv "$src" "$root/src"
  rm -rf "$root/dl"
fi
if [ ! -f "$root/build/libservices/libmysqlservices.a" ]; then
  log "configuring the source tree (about a minute)"
  mkdir -p "$root/build"
  (cd "$root/build" && cmake "$root/src" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
     -DBUILD_CONFIG=mysql_release -DDEB=Debian -DIGNORE_AIO_CHECK=ON -DWITH_WSREP=ON \
     -DPLUGIN_AUTH_PAM=NO -DPLUGIN_COLUMNSTORE=NO -DPLUGIN_ROCKSDB=NO -DPLUGIN_MROONGA=NO \
     -DPLUGIN_SPIDER=NO -DPLUGIN_CONNECT=NO -DPLUGIN_OQGRAPH=NO -DPLUGIN_S3=NO \
     -DPLUGIN_AWS_KEY_MANAGEMENT=NO -DCONC_DEFAULT_CHARSET=utf8mb4 >"$root/configure.log" 2>&1) ||
    { tail -30 "$root/configure.log" >&2; exit 1; }
  log "building GenError and mysqlservices"
  (cd "$root/build" && make -j"$(nproc)" GenError mysqlservices >"$root/build.log" 2>&1) ||
    { tail -30 "$root/build.log" >&2; exit 1; }
fi
echo "$V" > "$QUEUE_CACHE/version"
ln -sfn "$root" "$QUEUE_CACHE/current"

# 5. Go modules.
if command -v go >/dev/null 2>&1 || [ -x /usr/local/go/bin/go ]; then
  here=$(cd "$(dirname "$0")/.." && pwd)
  (cd "$here" && PATH=$PATH:/usr/local/go/bin go mod download)
else
  log "Go is missing: install Go 1.22 or newer"; exit 1
fi
touch "$stamp"
log "ready: source $root/src, build $root/build"
