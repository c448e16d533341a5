#!/usr/bin/env bash
# Debian's prometheus-mysqld-exporter against a sandbox server with queue
# tables: a fresh server, a known workload (rows written, consumed, one row
# owned, one consumer waiting), then the exporter's /metrics must show every
# Queue_% status variable as mysql_global_status_queue_<name> with the
# server's value, and the per-table figures of the info_schema.tables
# collector; and the alert rules (ops/prometheus) pass their unit test
# (promtool). The exporter is tried both ways Debian's 0.14 configures it:
# a .my.cnf (socket) and DATA_SOURCE_NAME (TCP).
# Ports: EXPORTER_TEST_PORT (server, 3371), EXPORTER_PORT (exporter, 9105).
# Ends with "exporter-test: N passed, N failed".
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
box=$root/var/exporter-test
port=${EXPORTER_TEST_PORT:-3371}
eport=${EXPORTER_PORT:-9105}
sock=$box/mysqld.sock
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  QUEUE_SANDBOX_DIR=$box QUEUE_SANDBOX_PORT=$port scripts/sandbox.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
exporter=$(command -v prometheus-mysqld-exporter) ||
  { echo "exporter-test: prometheus-mysqld-exporter missing (make setup)" >&2; exit 1; }
passed=0 failed=0
check() { # check NAME GOT WANT
  if [ "$2" = "$3" ]; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL $1: got '$2', want '$3'"; fi
}

# A fresh server, so that the counters start at zero.
QUEUE_SANDBOX_DIR=$box QUEUE_SANDBOX_PORT=$port scripts/sandbox.sh stop >/dev/null 2>&1 || true
rm -rf "$box/data"
QUEUE_SANDBOX_DIR=$box QUEUE_SANDBOX_PORT=$port scripts/sandbox.sh start || exit 1
sql() { mariadb --no-defaults -uroot -S "$sock" test -N -B "$@"; }

# The exporter's account: the privileges its documentation asks for
# (SLAVE MONITOR is MariaDB's name for what SHOW SLAVE STATUS needs).
sql -e "CREATE USER 'exporter'@'localhost' IDENTIFIED BY 'exp-pw' WITH MAX_USER_CONNECTIONS 3;
  CREATE USER 'exporter'@'127.0.0.1' IDENTIFIED BY 'exp-pw' WITH MAX_USER_CONNECTIONS 3;
  GRANT PROCESS, REPLICATION CLIENT, SLAVE MONITOR, SELECT ON *.* TO 'exporter'@'localhost';
  GRANT PROCESS, REPLICATION CLIENT, SLAVE MONITOR, SELECT ON *.* TO 'exporter'@'127.0.0.1';"

# Workload: 10 rows in 2 statements 2 seconds apart, 3 consumed, 1 owned, 1
# consumer waiting on an empty table. The oldest queued row (row 5) is then
# at least 2 seconds old.
sql -e "CREATE TABLE jobs (id INT NOT NULL, body VARCHAR(50)) ENGINE=queue;
  CREATE TABLE idle (id INT NOT NULL) ENGINE=queue;
  INSERT INTO jobs SELECT seq, CONCAT('job ', seq) FROM seq_1_to_6;
  DO SLEEP(2);
  INSERT INTO jobs SELECT seq, CONCAT('job ', seq) FROM seq_7_to_10;"
for _ in 1 2 3; do sql -e "SELECT queue_wait('jobs', 1); SELECT queue_end();" >/dev/null; done
sql -e "SELECT queue_wait('jobs', 1); SELECT SLEEP(60);" >/dev/null 2>&1 & pids+=($!)
sql -e "SELECT queue_wait('idle', 60);" >/dev/null 2>&1 & pids+=($!)
for _ in $(seq 1 100); do
  [ "$(sql -e "SHOW GLOBAL STATUS LIKE 'Queue_waiting_consumers'" | cut -f2)" = 1 ] &&
  [ "$(sql -e "SHOW GLOBAL STATUS LIKE 'Queue_rows_owned'" | cut -f2)" = 1 ] && break
  sleep 0.1
done

scrape() { # scrape: starts the exporter with "$@" as its environment and options, prints /metrics
  env "$@" --web.listen-address="127.0.0.1:$eport" --collect.info_schema.tables \
    --collect.info_schema.tables.databases=test >"$box/exporter.log" 2>&1 &
  local pid=$!
  pids+=($pid)
  local out=""
  for _ in $(seq 1 50); do
    out=$(curl -sf "http://127.0.0.1:$eport/metrics") && grep -q '^mysql_up 1' <<<"$out" && break
    sleep 0.2
  done
  kill "$pid"; wait "$pid" 2>/dev/null
  printf '%s\n' "$out"
}

cat >"$box/exporter.cnf" <<EOF
[client]
user=exporter
password=exp-pw
socket=$sock
EOF
chmod 600 "$box/exporter.cnf"
ways=("my.cnf:$exporter --config.my-cnf=$box/exporter.cnf"
      "DATA_SOURCE_NAME:DATA_SOURCE_NAME=exporter:exp-pw@tcp(127.0.0.1:$port)/ $exporter --config.my-cnf=/nonexistent")
for way in "${ways[@]}"; do
  name=${way%%:*}
  # shellcheck disable=SC2086
  metrics=$(scrape ${way#*:})
  status=$(sql -e "SHOW GLOBAL STATUS LIKE 'Queue%'")
  check "$name: mysql_up" "$(sed -n 's/^mysql_up //p' <<<"$metrics")" 1
  # Every status variable, with the server's value (go_entries grows with
  # each statement, including the exporter's: it must only be there).
  n=0
  while read -r var val; do
    metric="mysql_global_status_$(tr 'A-Z' 'a-z' <<<"$var")"
    got=$(sed -n "s/^$metric //p" <<<"$metrics")
    if [ "$var" = Queue_go_entries ]; then
      [ -n "$got" ] && got=present; check "$name: $metric" "$got" present
    elif [ "$var" = Queue_oldest_age ]; then
      # seconds: the server's answer came after the scrape, up to a second later
      [ -n "$got" ] && [ $((val - got)) -ge 0 ] && [ $((val - got)) -le 1 ] && got=close
      check "$name: $metric ($got, server $val)" "$got" close
    else
      check "$name: $metric" "$got" "$val"
    fi
    n=$((n + 1))
  done <<<"$status"
  check "$name: number of Queue_ variables" "$n" 30
  # The workload's figures, stated independently of the server's answer.
  m() { sed -n "s/^mysql_global_status_queue_$1 //p" <<<"$metrics"; }
  check "$name: rows_written" "$(m rows_written)" 10
  check "$name: append" "$(m append)" 2
  check "$name: rows_removed" "$(m rows_removed)" 3
  check "$name: queue_end" "$(m queue_end)" 3
  check "$name: rows_queued" "$(m rows_queued)" 7
  check "$name: rows_owned" "$(m rows_owned)" 1
  check "$name: waiting_consumers" "$(m waiting_consumers)" 1
  check "$name: open_tables" "$(m open_tables)" 2
  check "$name: io_errors" "$(m io_errors)" 0
  check "$name: corrupt_rows_skipped" "$(m corrupt_rows_skipped)" 0
  check "$name: sync_off" "$(m sync_off)" 0
  age=$(m oldest_age)
  [ -n "$age" ] && [ "$age" -ge 2 ] && [ "$age" -lt 60 ] && age=ok
  check "$name: oldest_age at least 2 seconds" "$age" ok
  # Per table, from information_schema.TABLES (the handler's row count:
  # live rows, the owned one included).
  check "$name: table_rows jobs" "$(sed -n 's/^mysql_info_schema_table_rows{schema="test",table="jobs"} //p' <<<"$metrics")" 7
  check "$name: table_rows idle" "$(sed -n 's/^mysql_info_schema_table_rows{schema="test",table="idle"} //p' <<<"$metrics")" 0
  check "$name: engine label" "$(grep -c '^mysql_info_schema_table_version{.*engine="QUEUE".*table="jobs"' <<<"$metrics")" 1
done
# The alert rules of docs/OPERATIONS.md: valid, and their unit test passes.
if command -v promtool >/dev/null; then
  (cd ops/prometheus && promtool check rules queue-alerts.yml >/dev/null && promtool test rules queue-alerts.test.yml) >"$box/promtool.log" 2>&1
  check "promtool check and test rules" "$?" 0 || true
  grep -q SUCCESS "$box/promtool.log" || cat "$box/promtool.log"
else
  check "promtool present (make setup)" missing present
fi
# docs/OPERATIONS.md shows the same rules.
doc_rules=$(sed -n '/^#### Alert rules/,/^#### /p' docs/OPERATIONS.md | sed -n '/^```yaml$/,/^```$/p' | sed '1d;$d')
check "docs/OPERATIONS.md has ops/prometheus/queue-alerts.yml" "$(md5sum <<<"$doc_rules")" "$(md5sum <<<"$(cat ops/prometheus/queue-alerts.yml)")"
echo "exporter-test: $passed passed, $failed failed"
[ "$failed" = 0 ]
