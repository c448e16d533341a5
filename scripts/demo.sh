#!/usr/bin/env bash
# A short producer/consumer run on the sandbox server: a consumer blocks in
# queue_wait() while a producer inserts jobs; each job is read in owner mode
# and acknowledged with queue_end(); then a message commits and rolls back with
# an InnoDB row, and is consumed in the transaction that updates it. Without
# the SQL functions it falls back to INSERT / SELECT / DELETE.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sock=${QUEUE_SANDBOX_DIR:-$root/var/sandbox}/mysqld.sock
jobs=${DEMO_JOBS:-12}
sql() { mariadb --no-defaults -uroot -S "$sock" -N -B test "$@"; }

sql -e "DROP TABLE IF EXISTS demo_jobs;
        CREATE TABLE demo_jobs (id INT NOT NULL, body VARCHAR(100), queued_at DATETIME(3)) ENGINE=queue"
echo "demo: created table test.demo_jobs (ENGINE=queue)"

have_udf=$(sql -e "SELECT COUNT(*) FROM mysql.func WHERE name IN ('queue_wait','queue_end')")
produce() {
  local batch=3 n=0
  while [ $n -lt "$jobs" ]; do
    local values="" i
    for i in $(seq $((n + 1)) $((n + batch))); do
      [ "$i" -le "$jobs" ] || break
      values+="${values:+,}($i, 'job $i', NOW(3))"
    done
    sql -e "INSERT INTO demo_jobs VALUES $values"
    n=$((n + batch)); [ $n -le "$jobs" ] || n=$jobs
    echo "producer: inserted up to job $n of $jobs (durable when INSERT returned)"
    sleep 0.3
  done
}

if [ "$have_udf" = 2 ]; then
  echo "demo: consumer waits with queue_wait(), acknowledges with queue_end()"
  # One connection consumes everything: owner mode belongs to a connection.
  {
    for _ in $(seq 1 "$jobs"); do
      echo "SELECT IF(queue_wait('test.demo_jobs', 10) = 1, 'consumer: owning a row', 'consumer: timed out');"
      echo "SELECT CONCAT('consumer: processing ', body, ' (queued at ', queued_at, ')') FROM demo_jobs;"
      echo "SELECT IF(queue_end() = 1, 'consumer: done, row removed', 'consumer: nothing to end');"
    done
  } | sql --unbuffered > >(sed -u 's/^/  /') &
  consumer=$!
  sleep 0.5
  produce
  wait $consumer
else
  echo "demo: the SQL functions are not installed; consuming with SELECT and DELETE"
  produce
  sql -e "SELECT CONCAT('consumer: read ', body) FROM demo_jobs"
  sql -e "DELETE FROM demo_jobs ORDER BY id LIMIT $jobs"
fi
sleep 0.2
left=$(sql -e "SELECT COUNT(*) FROM demo_jobs")
echo "demo: $jobs jobs produced and consumed; rows left in test.demo_jobs: $left"
if [ "$have_udf" = 2 ]; then
  echo "demo: statistics of the queue (queue_stats):"
  sql -e "SELECT queue_stats('test.demo_jobs')" | sed 's/\\n$//; s/\\n/\n  /g; s/^/  /'
fi

# Transactions: a message commits and rolls back with an InnoDB row.
if [ "$have_udf" = 2 ]; then
  sql -e "DROP TABLE IF EXISTS demo_orders;
          CREATE TABLE demo_orders (id INT PRIMARY KEY, done INT NOT NULL DEFAULT 0) ENGINE=InnoDB;
          BEGIN; INSERT INTO demo_orders (id) VALUES (1); INSERT INTO demo_jobs VALUES (101, 'order 1', NOW(3)); ROLLBACK;
          BEGIN; INSERT INTO demo_orders (id) VALUES (2); INSERT INTO demo_jobs VALUES (102, 'order 2', NOW(3)); COMMIT;"
  echo "demo: order 1 and its message rolled back, order 2 and its message committed: $(sql -e "SELECT GROUP_CONCAT(body) FROM demo_jobs")"
  sql -e "BEGIN; SELECT queue_wait('test.demo_jobs', 1) INTO @got; UPDATE demo_orders SET done = 1 WHERE id = 2;
          SELECT queue_end() INTO @ended; COMMIT;"
  echo "demo: message consumed in the transaction that marked the order done: orders $(sql -e "SELECT GROUP_CONCAT(CONCAT(id, ':done=', done)) FROM demo_orders"), messages left $(sql -e "SELECT COUNT(*) FROM demo_jobs")"
  sql -e "DROP TABLE demo_orders"
fi
