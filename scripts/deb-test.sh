#!/usr/bin/env bash
# The Debian package on this machine's own server (as root): builds it,
# apt-get installs it, starts Debian's mariadb-server the way Debian does
# (service mariadb start), creates the SQL functions with dpkg-reconfigure,
# produces and consumes through a queue table across a restart, then
# apt-get remove and purge: the server still starts and the queue table's
# files are untouched. Ends with the package purged, the test database
# removed and the system server stopped, as it found them.
#
# The system server (datadir /var/lib/mysql, socket /run/mysqld, port 3306)
# must not be in use by anything else. It is stopped with mariadb-admin
# shutdown and waited for by its pid, never with "service mariadb stop":
# when that script's shutdown fails it kills every mariadbd on the machine
# by name (killall), sandbox and test servers included. While the test runs,
# /usr/sbin/policy-rc.d keeps the package scripts from restarting the
# server (mariadb-server's dpkg trigger on /etc/mysql would).
# Ends with "deb-test: N passed, N failed".
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
pkg=mariadb-plugin-queue
db=queue_pkg_test
datadir=/var/lib/mysql
export DEBIAN_FRONTEND=noninteractive
[ "$(id -u)" = 0 ] || { echo "deb-test: must run as root (it installs a package)" >&2; exit 1; }
# One run at a time on the machine (the system server and dpkg are shared);
# apt-get waits for dpkg's lock rather than failing.
exec 9>/run/lock/queue-deb-test.lock
flock -w 600 9 || { echo "deb-test: another run holds /run/lock/queue-deb-test.lock" >&2; exit 1; }
aptq() { apt-get -o DPkg::Lock::Timeout=300 "$@"; }
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
check() { if [ "$2" = "$3" ]; then ok; else bad "$1: got '$2', want '$3'"; fi; }

sql() { mariadb --defaults-file=/etc/mysql/debian.cnf -N -B "$@"; }
alive() { mariadb-admin --defaults-file=/etc/mysql/debian.cnf ping >/dev/null 2>&1; }
sys_start() {
  if command -v service >/dev/null; then service mariadb start >/dev/null 2>&1; else /etc/init.d/mariadb start >/dev/null 2>&1; fi
  alive || { bad "the system server did not start"; return 1; }
}
sys_stop() {
  local pid
  pid=$(cat /run/mysqld/mysqld.pid 2>/dev/null || true)
  alive && mariadb-admin --defaults-file=/etc/mysql/debian.cnf shutdown >/dev/null 2>&1
  if [ -n "$pid" ]; then
    for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then echo "deb-test: system server $pid did not stop; sending TERM" >&2; kill -TERM "$pid"; sleep 5; fi
  fi
  ! alive
}
files_sum() { (cd "$datadir/$db" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }

made_policy=0
cleanup() {
  sys_stop || true
  dpkg -s $pkg >/dev/null 2>&1 && aptq purge -y -qq $pkg >/dev/null 2>&1
  rm -rf "${datadir:?}/$db"
  [ $made_policy = 0 ] || rm -f /usr/sbin/policy-rc.d
}
trap cleanup EXIT
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
fi

deb=$(scripts/deb.sh) || exit 1
echo "deb-test: $deb"
# A clean start: the server stopped, no package, no test database.
sys_stop || { echo "deb-test: cannot stop the system server" >&2; exit 1; }
dpkg -s $pkg >/dev/null 2>&1 && aptq purge -y -qq $pkg >/dev/null
rm -rf "${datadir:?}/$db"
plugin_dir=$(/usr/sbin/mariadbd --verbose --help 2>/dev/null | awk '$1=="plugin-dir"{print $2}')
nfuncs=$(grep -c '^queue_' scripts/functions.list)

# Install while the server is stopped: the engine loads at start.
out=$(aptq install -y "./$deb" 2>&1) || { echo "$out"; bad "apt-get install"; exit 1; }
check "postinst says the server is stopped" "$(grep -c 'the server is not running' <<<"$out")" 1
check "depends on the exact server version" "$(dpkg-query -W -f='${Depends}' $pkg | grep -o "mariadb-server (= $(dpkg-query -W -f='${Version}' mariadb-server))")" \
  "mariadb-server (= $(dpkg-query -W -f='${Version}' mariadb-server))"
for f in "$plugin_dir/ha_queue.so" "$plugin_dir/libqueue_core.so" /etc/mysql/mariadb.conf.d/queue.cnf /usr/bin/queue-backup; do
  [ -f "$f" ] && ok || bad "$f not installed"
done
sys_start || exit 1
check "engine loaded from queue.cnf" "$(sql -e "SELECT PLUGIN_STATUS FROM information_schema.PLUGINS WHERE PLUGIN_NAME='QUEUE'")" ACTIVE
check "no functions before the server ran the SQL" "$(sql -e "SELECT COUNT(*) FROM mysql.func WHERE dl='ha_queue.so'")" 0
out=$(dpkg-reconfigure $pkg 2>&1)
check "dpkg-reconfigure creates the functions" "$(sql -e "SELECT COUNT(*) FROM mysql.func WHERE dl='ha_queue.so'")" "$nfuncs"
check "dpkg-reconfigure output" "$(grep -c 'SQL functions are installed in the running server' <<<"$out")" 1

# Produce and consume, across a restart of the server.
sql -e "CREATE DATABASE $db"
sql $db -e "CREATE TABLE q (id INT NOT NULL, body VARCHAR(20)) ENGINE=queue;
  INSERT INTO q SELECT seq, CONCAT('m', seq) FROM seq_1_to_5;"
for _ in 1 2; do sql $db -e "SELECT queue_wait('q', 1); SELECT queue_end();" >/dev/null; done
check "rows after consuming 2" "$(sql -e "SELECT GROUP_CONCAT(id ORDER BY id) FROM $db.q")" "3,4,5"
sys_stop || bad "stop"
sys_start || exit 1
check "rows after a restart" "$(sql -e "SELECT GROUP_CONCAT(id ORDER BY id) FROM $db.q")" "3,4,5"
check "consume after a restart" "$(sql $db -e "SELECT queue_wait('q', 1); SELECT id FROM q; SELECT queue_end();" | sed -n 2p)" 3
check "QUEUE_TABLES" "$(sql -e "SELECT CONCAT(TABLE_SCHEMA,'.',TABLE_NAME,' ',ROWS_QUEUED) FROM information_schema.QUEUE_TABLES")" "$db.q 2"
check "status variables" "$(sql -e "SHOW GLOBAL STATUS LIKE 'Queue_rows_removed'" | cut -f2)" 1

# Remove while the server runs: the functions go, the data stays.
out=$(aptq remove -y $pkg 2>&1) || { echo "$out"; bad "apt-get remove"; }
check "functions dropped on remove" "$(sql -e "SELECT COUNT(*) FROM mysql.func WHERE dl='ha_queue.so'")" 0
check "no plugin row left" "$(sql -e "SELECT COUNT(*) FROM mysql.plugin WHERE dl='ha_queue.so'")" 0
[ ! -e "$plugin_dir/ha_queue.so" ] && [ ! -e "$plugin_dir/libqueue_core.so" ] && ok || bad "libraries left after remove"
check "package state after remove" "$(dpkg-query -W -f='${db:Status-Abbrev}' $pkg | tr -d ' ')" rc
sys_stop || bad "stop after remove"
before=$(files_sum)
[ -n "$before" ] && ok || bad "no queue table files"
# The conffile still loads ha_queue.so, which is gone: the server starts anyway.
[ -f /etc/mysql/mariadb.conf.d/queue.cnf ] && ok || bad "queue.cnf removed before purge"
sys_start && check "server up after remove" "$(sql -e 'SELECT COUNT(*) FROM mysql.user' | grep -c '^[0-9]')" 1
check "table still listed" "$(sql -e "SHOW TABLES FROM $db")" q
check "without the engine" "$(sql -e "SELECT COUNT(*) FROM $db.q" 2>&1 | grep -o 'Unknown storage engine .QUEUE.')" "Unknown storage engine 'QUEUE'"
sys_stop || bad "stop"
out=$(aptq purge -y $pkg 2>&1) || { echo "$out"; bad "apt-get purge"; }
[ ! -e /etc/mysql/mariadb.conf.d/queue.cnf ] && ok || bad "queue.cnf left after purge"
check "package gone" "$(dpkg-query -W -f='${db:Status-Abbrev}' $pkg 2>/dev/null | tr -d ' ')" ""
sys_start && check "server up after purge" "$(sql -e 'SELECT 1')" 1
sys_stop || bad "stop after purge"
check "queue table files untouched by remove and purge" "$(files_sum)" "$before"

# Install while the server runs: the postinst loads the engine and creates
# the functions at once; the table and its rows are back.
sys_start || exit 1
out=$(aptq install -y "./$deb" 2>&1) || { echo "$out"; bad "apt-get install (server running)"; }
check "postinst with the server up" "$(grep -c 'SQL functions are installed in the running server' <<<"$out")" 1
check "engine loaded without a restart" "$(sql -e "SELECT PLUGIN_STATUS FROM information_schema.PLUGINS WHERE PLUGIN_NAME='QUEUE'")" ACTIVE
check "functions created" "$(sql -e "SELECT COUNT(*) FROM mysql.func WHERE dl='ha_queue.so'")" "$nfuncs"
check "rows kept through remove and purge" "$(sql -e "SELECT GROUP_CONCAT(id ORDER BY id) FROM $db.q")" "4,5"
sys_stop || bad "stop"
sys_start || exit 1
check "engine from queue.cnf and mysql.plugin at once" "$(sql -e "SELECT PLUGIN_STATUS FROM information_schema.PLUGINS WHERE PLUGIN_NAME='QUEUE'")" ACTIVE
aptq purge -y $pkg >/dev/null 2>&1 || bad "apt-get purge (server running)"
check "functions dropped on purge" "$(sql -e "SELECT COUNT(*) FROM mysql.func WHERE dl='ha_queue.so'")" 0
check "plugin row dropped on purge" "$(sql -e "SELECT COUNT(*) FROM mysql.plugin WHERE dl='ha_queue.so'")" 0
sys_stop || bad "stop at the end"
echo "deb-test: $passed passed, $failed failed"
[ "$failed" = 0 ]
