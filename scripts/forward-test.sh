#!/usr/bin/env bash
# The relay between two servers: starts two sandbox servers (source and
# destination, their own directories and ports), runs the Go tests of
# cmd/queue-forward against them (exactly once with mixed column types,
# SIGKILL of the forwarder, kill -9 of either server, --reset) and the
# client package's examples against the source, then stops both servers.
#   scripts/forward-test.sh [test|measure [ROWS]]
# Ports: FWD_SRC_PORT (3327), FWD_DST_PORT (3328); dirs var/fwd-src, var/fwd-dst.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH=/usr/local/go/bin:$PATH
src_dir=${FWD_SRC_DIR:-$root/var/fwd-src}
dst_dir=${FWD_DST_DIR:-$root/var/fwd-dst}
src_port=${FWD_SRC_PORT:-3327}
dst_port=${FWD_DST_PORT:-3328}

box() { QUEUE_SANDBOX_DIR=$1 QUEUE_SANDBOX_PORT=$2 scripts/sandbox.sh "${@:3}"; }
stop_all() {
  box "$src_dir" "$src_port" stop >/dev/null 2>&1 || true
  box "$dst_dir" "$dst_port" stop >/dev/null 2>&1 || true
}
trap stop_all EXIT
box "$src_dir" "$src_port" start || exit 1
box "$dst_dir" "$dst_port" start || exit 1

case "${1:-test}" in
  test)
    status=0
    QUEUE_FWD_SRC=$src_dir:$src_port QUEUE_FWD_DST=$dst_dir:$dst_port \
      go test -race -count=1 -v ./cmd/queue-forward || status=1
    QUEUE_TEST_DSN="root@unix($src_dir/mysqld.sock)/test" go test -race -count=1 -v ./client || status=1
    exit $status
    ;;
  measure)
    rows=${2:-20000}
    sql() { mariadb --no-defaults -uroot -S "$1/mysqld.sock" test -e "$2"; }
    sql "$src_dir" "DROP TABLE IF EXISTS fwd_measure;
      CREATE TABLE fwd_measure (id BIGINT NOT NULL, at DATETIME(6), payload VARCHAR(200)) ENGINE=queue;
      INSERT INTO fwd_measure SELECT seq, NOW(6), REPEAT('x', 100) FROM seq_1_to_$rows;"
    sql "$dst_dir" "DROP TABLE IF EXISTS fwd_measure;
      CREATE TABLE fwd_measure (id BIGINT NOT NULL, at DATETIME(6), payload VARCHAR(200)) ENGINE=queue;"
    go build -o build/queue-forward ./cmd/queue-forward || exit 1
    start=$(date +%s.%N)
    MYSQL_USER=root build/queue-forward --defaults-file '' --sender 9 --stats 5s \
      "dbi:mysql:database=test;mysql_socket=$src_dir/mysqld.sock;table=fwd_measure" \
      "dbi:mysql:database=test;host=127.0.0.1;port=$dst_port;table=fwd_measure" &
    pid=$!
    until [ "$(mariadb --no-defaults -uroot -S "$dst_dir/mysqld.sock" test -N -e 'SELECT COUNT(*) FROM fwd_measure')" -ge "$rows" ]; do
      sleep 0.2
    done
    end=$(date +%s.%N)
    kill -TERM $pid; wait $pid
    awk -v r="$rows" -v s="$start" -v e="$end" 'BEGIN { printf "forward-measure: %d rows (source socket -> destination TCP, 3 columns, 100-byte payload) in %.1f s: %.0f rows/s\n", r, e - s, r / (e - s) }'
    ;;
  *) echo "usage: $0 [test|measure [ROWS]]" >&2; exit 2 ;;
esac
