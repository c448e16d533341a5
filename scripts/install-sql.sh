#!/usr/bin/env bash
# Prints the SQL that installs the engine and the SQL functions that
# ha_queue.so exports, idempotently:
#   scripts/install-sql.sh [--functions-only|--uninstall] path/to/ha_queue.so
set -euo pipefail
mode=install
case "${1:-}" in --functions-only) mode=functions; shift ;; --uninstall) mode=uninstall; shift ;; esac
so=${1:?usage: install-sql.sh [--functions-only|--uninstall] ha_queue.so}
here=$(cd "$(dirname "$0")" && pwd)
exported=$(nm -D --defined-only "$so" | awk '{print $3}')
if [ $mode = install ]; then
  # INSTALL SONAME fails when the plugin is already installed: check first.
  cat <<'SQL'
SET @queue_installed= (SELECT COUNT(*) FROM information_schema.PLUGINS WHERE PLUGIN_NAME='QUEUE');
SET @queue_sql= IF(@queue_installed > 0, 'DO 0', 'INSTALL SONAME ''ha_queue.so''');
PREPARE queue_stmt FROM @queue_sql;
EXECUTE queue_stmt;
DEALLOCATE PREPARE queue_stmt;
SQL
fi
while read -r name type; do
  case "$name" in ''|'#'*) continue ;; esac
  printf '%s\n' "$exported" | grep -qx "$name" || continue
  if [ $mode = uninstall ]; then
    echo "DROP FUNCTION IF EXISTS $name;"
  else
    echo "CREATE FUNCTION IF NOT EXISTS $name RETURNS $type SONAME 'ha_queue.so';"
  fi
done < "$here/functions.list"
if [ $mode = uninstall ]; then
  cat <<'SQL'
SET @queue_installed= (SELECT COUNT(*) FROM mysql.plugin WHERE name='QUEUE');
SET @queue_sql= IF(@queue_installed > 0, 'UNINSTALL SONAME ''ha_queue.so''', 'DO 0');
PREPARE queue_stmt FROM @queue_sql;
EXECUTE queue_stmt;
DEALLOCATE PREPARE queue_stmt;
SQL
fi
