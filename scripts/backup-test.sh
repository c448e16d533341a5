#!/usr/bin/env bash
# The hot backup test (ops/backup_test.go): starts a source sandbox server,
# runs the Go test that backs it up with scripts/queue-backup.sh while
# producers and consumers run, restores the backup into a second server
# and checks its queue table; then stops both servers.
# Ports: BACKUP_SRC_PORT (3372), BACKUP_DST_PORT (3373); dirs var/backup-src, var/backup-dst.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH=/usr/local/go/bin:$PATH
src_dir=$root/var/backup-src dst_dir=$root/var/backup-dst
src_port=${BACKUP_SRC_PORT:-3372} dst_port=${BACKUP_DST_PORT:-3373}
box() { QUEUE_SANDBOX_DIR=$1 QUEUE_SANDBOX_PORT=$2 scripts/sandbox.sh "${@:3}"; }
stop_all() {
  box "$src_dir" "$src_port" stop >/dev/null 2>&1 || true
  box "$dst_dir" "$dst_port" stop >/dev/null 2>&1 || true
}
trap stop_all EXIT
command -v mariabackup >/dev/null || { echo "backup-test: mariabackup missing (make setup)" >&2; exit 1; }
# A fresh source server: only the test's tables.
box "$src_dir" "$src_port" stop >/dev/null 2>&1
rm -rf "$src_dir/data"
box "$src_dir" "$src_port" start || exit 1
QUEUE_BACKUP_SRC=$src_dir:$src_port QUEUE_BACKUP_DST=$dst_dir:$dst_port \
  go test -race -count=1 -v -run 'TestHotBackup' ./ops
