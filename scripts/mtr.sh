#!/usr/bin/env bash
# Runs the MTR suite mysql-test/queue on Debian's installed mariadbd with
# the freshly built plugin. Extra arguments go to mariadb-test-run.pl
# (test names, --record, ...). Fails when a test fails, when any test was
# skipped (a missing plugin makes MTR skip everything and still succeed) or
# when no test ran. Prints "mtr: N passed, N failed, N skipped".
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
plugin_dir=${QUEUE_PLUGIN_DIR:-$root/build/plugin}
vardir=${QUEUE_MTR_VARDIR:-$root/var/mtr}
mtrdir=/usr/share/mysql/mysql-test
[ -f "$plugin_dir/ha_queue.so" ] || { echo "mtr: $plugin_dir/ha_queue.so missing" >&2; exit 1; }
[ -x "$mtrdir/mariadb-test-run.pl" ] || { echo "mtr: $mtrdir/mariadb-test-run.pl missing (package mariadb-test)" >&2; exit 1; }

# MTR splits suite names at '-', so the suite needs a dash-free absolute
# path: a symlink under /tmp named after a hash of this checkout.
link=/tmp/queuemtr_$(printf '%s' "$root" | cksum | cut -d' ' -f1)
mkdir -p "$link"
ln -sfn "$root/mysql-test/queue" "$link/queue"

# mysqltest passes a test that has no recorded result whenever its
# statements succeed: such a test checks nothing, so it counts as failed.
missing=""
if [ $# = 0 ]; then
  for t in "$root"/mysql-test/queue/t/*.test; do
    n=$(basename "$t" .test)
    [ -f "$root/mysql-test/queue/r/$n.result" ] || missing="$missing $n"
  done
fi

export QUEUE_PLUGIN_DIR=$plugin_dir
export QUEUE_SOURCE_DIR=$root
mkdir -p "$vardir"
log=$vardir/../mtr.log
parallel=${QUEUE_MTR_PARALLEL:-2}
(cd "$mtrdir" && ./mariadb-test-run.pl --suite="$link/queue" --vardir="$vardir" \
   --parallel="$parallel" --force --max-test-fail=0 --retry=0 --testcase-timeout=10 \
   --mysqld=--plugin-maturity=gamma "$@") 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
pass=$(grep -cE '\[ pass \]' "$log")
fail=$(grep -cE '\[ fail \]' "$log")
skip=$(grep -cE '\[ skipped \]' "$log")
# A test without a result "passed" in MTR's count: move it to failed.
for n in $missing; do
  echo "mtr: $n has no recorded result (mysql-test/queue/r/$n.result): counted as failed"
  if grep -qE "queue\.$n +(w[0-9]+ )?\[ pass \]" "$log"; then
    pass=$((pass - 1)); fail=$((fail + 1))
  fi
done
echo "mtr: $pass passed, $fail failed, $skip skipped"
if [ "$status" != 0 ] || [ "$fail" != 0 ] || [ "$skip" != 0 ] || [ "$pass" -le 0 ]; then
  exit 1
fi
