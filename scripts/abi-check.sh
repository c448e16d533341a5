#!/usr/bin/env bash
# ABI smoke checks of ha_queue.so against the installed server (guide §5.2):
#  1. offsetof(THD, killed) in our build equals the displacement Debian's
#     thd_kill_level() reads: our headers/defines give the server's layout.
#  2. every undefined symbol of ha_queue.so is provided by mariadbd, by a
#     library mariadbd links, or by a library ha_queue.so links.
# Prints one "abi: PASS|FAIL <check>" line per check; exit status 1 on failure.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mdb=${QUEUE_MARIADB_ROOT:-${QUEUE_CACHE:-$HOME/.cache/queue}/current}
so=${1:-$root/build/plugin/ha_queue.so}
server=${MARIADBD:-/usr/sbin/mariadbd}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

# 1. THD::killed
S=$mdb/src B=$mdb/build
cat > "$tmp/offset.cc" <<'CC'
#define MYSQL_SERVER 1
#include <my_global.h>
#include "sql_class.h"
#include <stddef.h>
extern "C" const unsigned long queue_thd_killed_offset;
const unsigned long queue_thd_killed_offset= offsetof(THD, killed);
CC
g++ -std=gnu++11 -S -o "$tmp/offset.s" -DMYSQL_SERVER -DMYSQL_DYNAMIC_PLUGIN -DDBUG_OFF -DNDEBUG \
  -D_FILE_OFFSET_BITS=64 -DHAVE_CONFIG_H -Wno-invalid-offsetof \
  -I"$S/wsrep-lib/include" -I"$S/wsrep-lib/wsrep-API/v26" -I"$B/include" \
  -I"$S/include/providers" -I"$S/include" -I"$S/sql" "$tmp/offset.cc"
ours=$(awk '/^queue_thd_killed_offset:/{getline; print $2; exit}' "$tmp/offset.s")
addr=$(nm -D "$server" | awk '$3=="thd_kill_level"{print $1}')
disp=$(objdump -d --no-show-raw-insn --start-address=0x"$addr" --stop-address=$((0x$addr + 64)) "$server" |
       grep -m1 -oE 'mov +0x[0-9a-f]+\(%rdi\)' | grep -oE '0x[0-9a-f]+' || true)
theirs=$(( ${disp:-0} ))
if [ -n "$ours" ] && [ "$ours" = "$theirs" ] && [ "$theirs" != 0 ]; then
  echo "abi: PASS THD::killed offset $ours matches $server thd_kill_level"
else
  echo "abi: FAIL THD::killed offset: ours '${ours:-?}', $server reads '${theirs}'"
  fail=1
fi

# 2. undefined symbols
libs_of() { ldd "$1" | awk '/=> \//{print $3} /^\t\/[^ ]+ \(/{print $1}'; }
{
  nm -D --defined-only "$server"
  for l in $(libs_of "$server") $(libs_of "$so"); do nm -D --defined-only "$l"; done
} 2>/dev/null | awk 'NF>=3{print $3}' | sed 's/@.*//' | sort -u > "$tmp/defined"
nm -D --undefined-only "$so" | awk '$1=="U"{print $2}' | sed 's/@.*//' | sort -u > "$tmp/undef"
missing=$(comm -23 "$tmp/undef" "$tmp/defined")
if [ -z "$missing" ]; then
  echo "abi: PASS every undefined symbol of $(basename "$so") is provided"
else
  echo "abi: FAIL symbols of $(basename "$so") nobody provides:"; printf '  %s\n' $missing
  fail=1
fi
exit $fail
