#!/usr/bin/env bash
# A private mariadbd (Debian's binary) with the queue engine loaded from
# build/plugin: datadir, socket, pid and log under var/sandbox/, TCP
# 127.0.0.1:3307, user root without password, database test.
#   scripts/sandbox.sh start|stop|status|sql [client args]
# QUEUE_SANDBOX_DIR and QUEUE_SANDBOX_PORT move it; QUEUE_SANDBOX_OPTS adds
# server options to start (e.g. "--log-bin=mysql-bin --sync-binlog=1").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
box=${QUEUE_SANDBOX_DIR:-$root/var/sandbox}
plugin_dir=${QUEUE_PLUGIN_DIR:-$root/build/plugin}
port=${QUEUE_SANDBOX_PORT:-3307}
read -r -a extra_opts <<<"${QUEUE_SANDBOX_OPTS:-}"
sock=$box/mysqld.sock
pidf=$box/mysqld.pid
data=$box/data
log=$box/mysqld.err

client() { mariadb --no-defaults -uroot -S "$sock" "$@"; }
alive() { [ -S "$sock" ] && mariadb-admin --no-defaults -uroot -S "$sock" ping >/dev/null 2>&1; }

start() {
  if alive; then
    echo "sandbox: already running (socket $sock, port $port)"
    return 0
  fi
  [ -f "$plugin_dir/ha_queue.so" ] || { echo "sandbox: $plugin_dir/ha_queue.so missing; run make build" >&2; exit 1; }
  mkdir -p "$box"
  if [ ! -d "$data/mysql" ]; then
    echo "sandbox: creating the data directory $data"
    rm -rf "$data"
    mariadb-install-db --no-defaults --datadir="$data" --user="$(id -un)" \
      --auth-root-authentication-method=normal --skip-test-db >"$box/install-db.log" 2>&1 ||
      { tail -20 "$box/install-db.log" >&2; exit 1; }
  fi
  # GOTRACEBACK=crash: a fatal Go error aborts with a core instead of exit(2).
  GOTRACEBACK=crash setsid /usr/sbin/mariadbd --no-defaults --user="$(id -un)" \
    --datadir="$data" --socket="$sock" --pid-file="$pidf" --log-error="$log" \
    --port="$port" --bind-address=127.0.0.1 --plugin-dir="$plugin_dir" \
    --plugin-load-add=ha_queue.so --plugin-maturity=gamma \
    --innodb-buffer-pool-size=64M --max-connections=200 ${extra_opts[@]+"${extra_opts[@]}"} \
    </dev/null >/dev/null 2>&1 &
  for _ in $(seq 1 120); do
    alive && break
    if ! kill -0 $! 2>/dev/null; then
      echo "sandbox: mariadbd exited; last lines of $log:" >&2; tail -20 "$log" >&2; exit 1
    fi
    sleep 0.5
  done
  alive || { echo "sandbox: server did not come up; see $log" >&2; exit 1; }
  client -e "CREATE DATABASE IF NOT EXISTS test"
  "$root/scripts/install-sql.sh" --functions-only "$plugin_dir/ha_queue.so" | client
  echo "sandbox: running (socket $sock, TCP 127.0.0.1:$port, user root, database test)"
}

stop() {
  if ! alive; then
    echo "sandbox: not running"
    return 0
  fi
  local pid
  pid=$(cat "$pidf" 2>/dev/null || true)
  mariadb-admin --no-defaults -uroot -S "$sock" shutdown
  if [ -n "$pid" ]; then
    for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then echo "sandbox: server $pid still running after 60 s" >&2; exit 1; fi
  fi
  echo "sandbox: stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if alive; then echo "sandbox: running (socket $sock, port $port)"; else echo "sandbox: not running"; exit 1; fi ;;
  sql) shift; exec mariadb --no-defaults -uroot -S "$sock" test "$@" ;;
  *) echo "usage: $0 start|stop|status|sql" >&2; exit 2 ;;
esac
