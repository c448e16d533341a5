#!/usr/bin/env bash
# Producers sharded through Spider (docs/SCALING.md): a front server with
# Debian's Spider plugin and a table ENGINE=SPIDER partitioned by HASH (id)
# over queue tables on two backend servers; test/spider checks that rows
# inserted through the front land on their partition's backend durably
# (kill -9 of the backends) and that one client.Consumer per backend gets
# each row once.
#   scripts/spider-test.sh [test|measure [ROWS]]
# Ports SPIDER_PORT_BASE (3351: front; 3352, 3353: backends); dirs
# var/spider-front, var/spider-b1, var/spider-b2.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH=/usr/local/go/bin:$PATH
base=${SPIDER_PORT_BASE:-3351}
spider_so=${QUEUE_SPIDER_SO:-/usr/lib/mysql/plugin/ha_spider.so}
[ -f "$spider_so" ] || { echo "spider-test: $spider_so missing (package mariadb-plugin-spider; run scripts/setup.sh)" >&2; exit 1; }
fdir=$root/var/spider-front
bdirs=("$root/var/spider-b1" "$root/var/spider-b2")

# The front loads both engines from one plugin directory.
plugdir=$root/var/spider-plugin
mkdir -p "$plugdir"
for f in "$root"/build/plugin/*; do ln -sf "$f" "$plugdir/"; done
ln -sf "$spider_so" "$plugdir/ha_spider.so"

box() { QUEUE_SANDBOX_DIR=$1 QUEUE_SANDBOX_PORT=$2 scripts/sandbox.sh "${@:3}"; }
stop_all() {
  QUEUE_PLUGIN_DIR=$plugdir box "$fdir" "$base" stop >/dev/null 2>&1 || true
  for i in "${!bdirs[@]}"; do box "${bdirs[$i]}" $((base + 1 + i)) stop >/dev/null 2>&1 || true; done
}
trap stop_all EXIT
QUEUE_PLUGIN_DIR=$plugdir box "$fdir" "$base" start || exit 1
backends=()
for i in "${!bdirs[@]}"; do
  box "${bdirs[$i]}" $((base + 1 + i)) start || exit 1
  backends+=("${bdirs[$i]}:$((base + 1 + i))")
done
mariadb --no-defaults -uroot -S "$fdir/mysqld.sock" -e "
  SET @have = (SELECT COUNT(*) FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'SPIDER');
  SET @sql = IF(@have > 0, 'DO 0', 'INSTALL SONAME ''ha_spider''');
  PREPARE s FROM @sql; EXECUTE s;" || exit 1

export QUEUE_SPIDER_FRONT=$fdir:$base QUEUE_SPIDER_BACKENDS=$(IFS=,; echo "${backends[*]}")
case "${1:-test}" in
  test) go test -count=1 -v -run TestSpiderShards ./test/spider ;;
  measure) QUEUE_SPIDER_MEASURE=${2:-20000} go test -count=1 -v -run TestSpiderRate ./test/spider ;;
  *) echo "usage: $0 [test|measure [ROWS]]" >&2; exit 2 ;;
esac
