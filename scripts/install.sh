#!/usr/bin/env bash
# Installs the engine into the system server, idempotently:
#   scripts/install.sh install    copy ha_queue.so + libqueue_core.so into the
#                                 server's plugin_dir, INSTALL SONAME, CREATE FUNCTIONs
#   scripts/install.sh uninstall  DROP FUNCTIONs, UNINSTALL SONAME, remove the files
# The server must be running; connect options come from MYSQL_OPTS
# (default: the root account through the default socket).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${QUEUE_PLUGIN_DIR:-$root/build/plugin}
opts=${MYSQL_OPTS:--uroot}
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
sql() { mariadb $opts "$@"; }

plugin_dir=$(sql -N -B -e "SELECT @@plugin_dir") ||
  { echo "install: cannot connect to the server (set MYSQL_OPTS)" >&2; exit 1; }
case "${1:-}" in
  install)
    [ -f "$build/ha_queue.so" ] || { echo "install: build first (make build)" >&2; exit 1; }
    # Copy under temporary names and rename: a running server may have the
    # old files mapped.
    for f in libqueue_core.so ha_queue.so; do
      if ! cmp -s "$build/$f" "$plugin_dir/$f"; then
        $SUDO install -m 0644 "$build/$f" "$plugin_dir/.$f.new"
        $SUDO mv -f "$plugin_dir/.$f.new" "$plugin_dir/$f"
      fi
    done
    "$root/scripts/install-sql.sh" "$plugin_dir/ha_queue.so" | sql
    echo "install: QUEUE engine and functions installed in $plugin_dir"
    ;;
  uninstall)
    if [ -f "$plugin_dir/ha_queue.so" ]; then
      "$root/scripts/install-sql.sh" --uninstall "$plugin_dir/ha_queue.so" | sql
      $SUDO rm -f "$plugin_dir/ha_queue.so" "$plugin_dir/libqueue_core.so"
    fi
    echo "install: QUEUE engine and functions removed"
    ;;
  *) echo "usage: $0 install|uninstall" >&2; exit 2 ;;
esac
