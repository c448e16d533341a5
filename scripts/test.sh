#!/usr/bin/env bash
# Every test of the project, in order: Go tests with the race detector
# (including the C driver test of the C ABI in engine/), the ABI smoke
# checks, and the MTR suite on the real server. Ends with the plain line
# "N passed, N failed" and a non-zero status if anything failed.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH=/usr/local/go/bin:$PATH
mkdir -p var
passed=0 failed=0

echo "== go test -race ./..."
go test -race -count=1 -v ./... > var/go-test.log 2>&1
go_status=$?
grep -E '^(ok|FAIL|panic)|^\s*--- FAIL' var/go-test.log || true
gp=$(grep -cE '^\s*--- PASS' var/go-test.log)
gf=$(grep -cE '^\s*--- FAIL' var/go-test.log)
if [ $go_status != 0 ] && [ "$gf" = 0 ]; then gf=1; echo "go test failed (build error?): see var/go-test.log"; fi
echo "go: $gp passed, $gf failed"
passed=$((passed + gp)); failed=$((failed + gf))

echo "== ABI checks"
scripts/abi-check.sh | tee var/abi-check.log
ap=$(grep -c '^abi: PASS' var/abi-check.log); af=$(grep -c '^abi: FAIL' var/abi-check.log)
passed=$((passed + ap)); failed=$((failed + af))

echo "== MTR suite queue"
scripts/mtr.sh > var/mtr-run.log 2>&1
mtr_status=$?
grep -E '\[ (fail|skipped) \]|^mtr:|^Completed|^Failing test' var/mtr-run.log || true
mp=$(sed -n 's/^mtr: \([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\1/p' var/mtr-run.log)
mf=$(sed -n 's/^mtr: \([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\2/p' var/mtr-run.log)
ms=$(sed -n 's/^mtr: \([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\3/p' var/mtr-run.log)
mp=${mp:-0}; mf=$(( ${mf:-0} + ${ms:-0} ))
if [ $mtr_status != 0 ] && [ "$mf" = 0 ]; then mf=1; echo "MTR failed (see var/mtr-run.log)"; fi
passed=$((passed + mp)); failed=$((failed + mf))

# Runs one make target as one test: its output goes to var/<name>.log.
run_target() {
  local name=$1; shift
  echo "== $name"
  if make --no-print-directory "$@" > "var/$name.log" 2>&1; then
    echo "$name: PASS"; passed=$((passed + 1))
  else
    tail -20 "var/$name.log"; echo "$name: FAIL (see var/$name.log)"; failed=$((failed + 1))
  fi
}
sandbox_was_running=0
scripts/sandbox.sh status >/dev/null 2>&1 && sandbox_was_running=1
# Producers and consumers through the sandbox server: exactly once, then
# nothing lost across a kill -9 of the server.
run_target stress stress
# Transactions across InnoDB and queue tables: transactional producers and
# consumers, then orders and their messages across kill -9 cycles with the
# binary log coordinating (stress.mk; TXN_CYCLES, default 3).
run_target stress-txn stress-txn
run_target txn-crash-test txn-crash-test TXN_CYCLES="${TXN_CYCLES:-3}"
# The benchmark harness on tiny counts (no timing), so it keeps working.
run_target bench-smoke bench-smoke
# The relay between two servers of their own (ports 3327, 3328): exactly
# once across kills of the forwarder and of either server (forward.mk).
run_target forward-test forward-test
# A primary -> replica pair (ports 3341, 3342): the replica mirrors the
# queue when consumers log their removals, and a kill -9 of the primary
# followed by a promotion loses nothing acknowledged (forward.mk).
run_target failover-test failover-test
# Producers sharded through a Spider table over queue tables on two
# backends (ports 3351-3353): rows on the right backend, durable, each
# consumed once (forward.mk).
run_target spider-test spider-test
# Debian's mysqld_exporter shows the Queue_ status variables (ports 3371,
# 9105); a hot backup while producers and consumers run, restored into a
# second server (3372, 3373); the Debian package in the system server
# (root only: it installs a package; it leaves the server stopped).
run_target exporter-test exporter-test
run_target backup-test backup-test
if [ "$(id -u)" = 0 ]; then run_target deb-test deb-test; else echo "== deb-test: skipped (needs root)"; fi
[ $sandbox_was_running = 1 ] || scripts/sandbox.sh stop >/dev/null 2>&1 || true

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
