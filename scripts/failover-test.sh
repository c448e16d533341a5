#!/usr/bin/env bash
# Failover of a primary -> replica pair with queue tables (docs/SCALING.md):
# for each mode, fresh servers (binary log, GTID, semi-synchronous
# replication AFTER_SYNC, the engine loaded on both), then test/failover:
# producers and consumers on the primary, kill -9 of the primary, the
# replica promoted, consumers going on there; nothing acknowledged may be
# missing. Modes (FAILOVER_MODES, default "delete end"):
#   delete  consumers remove rows with the owner's DELETE (logged): only the
#           rows owned at the kill are delivered again
#   end     consumers use queue_end (not logged): the replica kept every
#           consumed row, all are delivered again
# Ports FAILOVER_PRIMARY_PORT (3341), FAILOVER_REPLICA_PORT (3342); dirs
# var/failover-primary, var/failover-replica.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH=/usr/local/go/bin:$PATH
pdir=$root/var/failover-primary
rdir=$root/var/failover-replica
pport=${FAILOVER_PRIMARY_PORT:-3341}
rport=${FAILOVER_REPLICA_PORT:-3342}
common="--log-bin=mysql-bin --sync-binlog=1 --binlog-format=MIXED --gtid-strict-mode=1 --log-slave-updates"

box() { QUEUE_SANDBOX_DIR=$1 QUEUE_SANDBOX_PORT=$2 QUEUE_SANDBOX_OPTS=${3:-} scripts/sandbox.sh "${@:4}"; }
stop_all() {
  box "$pdir" "$pport" "" stop >/dev/null 2>&1 || true
  box "$rdir" "$rport" "" stop >/dev/null 2>&1 || true
}
trap stop_all EXIT
sqlp() { mariadb --no-defaults -uroot -S "$pdir/mysqld.sock" test -N "$@"; }
sqlr() { mariadb --no-defaults -uroot -S "$rdir/mysqld.sock" test -N "$@"; }

status=0
for mode in ${FAILOVER_MODES:-delete end}; do
  stop_all
  rm -rf "$pdir" "$rdir"
  box "$pdir" "$pport" "$common --server-id=1 --rpl-semi-sync-master-wait-point=AFTER_SYNC --rpl-semi-sync-master-timeout=600000" start || exit 1
  box "$rdir" "$rport" "$common --server-id=2 --read-only=ON --rpl-semi-sync-slave-enabled=ON" start || exit 1
  # The replica starts where the primary is now: both installed the
  # functions themselves.
  pos=$(sqlp -e "SELECT @@gtid_binlog_pos")
  sqlr -e "RESET MASTER; SET GLOBAL gtid_slave_pos = '$pos';
    CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = $pport, MASTER_USER = 'root',
      MASTER_PASSWORD = '', MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1;
    START SLAVE;" || exit 1
  # Semi-synchronous from now on (enabled at start, the primary's own
  # statements would wait for a replica that is not connected yet).
  sqlp -e "SET GLOBAL rpl_semi_sync_master_enabled = ON" || exit 1
  QUEUE_FAILOVER_PRIMARY=$pdir:$pport QUEUE_FAILOVER_REPLICA=$rdir:$rport QUEUE_FAILOVER_MODE=$mode \
    go test -count=1 -v ./test/failover || status=1
done
exit $status
