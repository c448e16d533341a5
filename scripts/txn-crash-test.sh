#!/usr/bin/env bash
# The crash test of transactions across InnoDB and a queue table through the
# server (make txn-crash-test; docs/OPERATIONS.md, "Transactions and
# crashes"): build/queue-stress -orders runs CYCLES kill -9 cycles of
# producers writing an order and its message in one transaction and
# consumers processing a message in the transaction that removes it, and
# checks the tables after each restart and after the final drain. It runs
# twice, each on a sandbox server of its own created afresh:
#   binlog    --log-bin --sync-binlog=1: the binary log coordinates (default)
#   nobinlog  two-phase commit between InnoDB and the queue engine through
#             the server's own coordinator log (tc.log). It fails: the
#             server's tc.log recovery (MariaDB 10.11, sql/handler.cc
#             xarecover_handlerton) rolls back every prepared transaction,
#             committed ones too, in InnoDB as in the queue; so it runs only
#             when asked for (TXN_CRASH_VARIANTS="binlog nobinlog"), to show
#             it. docs/SQL.md, "Transactions and crashes".
#
#   scripts/txn-crash-test.sh [CYCLES]      (default 5; TXN_CYCLES also works)
# The servers listen on QUEUE_TXN_CRASH_PORT (default: QUEUE_SANDBOX_PORT + 10,
# 3317) one after the other, beside a running sandbox, with data under
# var/txn-crash/ (QUEUE_TXN_CRASH_DIR moves it).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cycles=${1:-${TXN_CYCLES:-5}}
port=${QUEUE_TXN_CRASH_PORT:-$(( ${QUEUE_SANDBOX_PORT:-3307} + 10 ))}
base=${QUEUE_TXN_CRASH_DIR:-$root/var/txn-crash}
bin=$root/build/queue-stress
[ -x "$bin" ] || { echo "txn-crash-test: $bin missing (make stress-bin)" >&2; exit 2; }

status=0
for variant in ${TXN_CRASH_VARIANTS:-binlog}; do
  box=$base/$variant
  opts=
  [ $variant = binlog ] && opts="--log-bin=mysql-bin --sync-binlog=1 --server-id=1"
  start="QUEUE_SANDBOX_DIR='$box' QUEUE_SANDBOX_PORT=$port QUEUE_SANDBOX_OPTS='$opts' '$root/scripts/sandbox.sh' start"
  # A fresh data directory each run: the test's tables and the server's
  # logs start empty.
  QUEUE_SANDBOX_DIR=$box QUEUE_SANDBOX_PORT=$port "$root/scripts/sandbox.sh" stop >/dev/null 2>&1 || true
  rm -rf "$box"
  if ! sh -c "$start" >/dev/null; then
    echo "txn-crash-test: $variant: the server did not start (see $box/mysqld.err)"; status=1; continue
  fi
  echo "== txn-crash-test $variant: $cycles kill -9 cycles"
  if "$bin" -orders -cycles "$cycles" -producers 3 -consumers 3 -timeout $((60 + cycles * 20))s \
      -dsn "root@tcp(127.0.0.1:$port)/test" -pidfile "$box/mysqld.pid" -restart "$start"; then
    echo "txn-crash-test $variant: PASS"
  else
    echo "txn-crash-test $variant: FAIL (server log: $box/mysqld.err)"; status=1
  fi
  QUEUE_SANDBOX_DIR=$box QUEUE_SANDBOX_PORT=$port "$root/scripts/sandbox.sh" stop >/dev/null 2>&1 || true
done
exit $status
