#!/usr/bin/env bash
# Builds build/mariadb-plugin-queue_<version>_<arch>.deb from build/plugin
# (make deb). The package depends on exactly the mariadb-server version the
# plugin was built against (a server point release needs a rebuilt plugin:
# MariaDB loads a storage engine only with the same server version), and
# installs:
#   <plugin_dir>/ha_queue.so, <plugin_dir>/libqueue_core.so
#   /etc/mysql/mariadb.conf.d/queue.cnf     plugin-load-add=ha_queue.so (conffile)
#   /usr/share/mariadb-plugin-queue/install.sql, uninstall.sql
#   /usr/bin/queue-backup                   scripts/queue-backup.sh
#   /usr/share/doc/mariadb-plugin-queue/    README.md, OPERATIONS.md, SQL.md, FUNCTIONS.md
# The maintainer scripts run install.sql (postinst) and uninstall.sql
# (prerm on remove) when the server answers; see docs/OPERATIONS.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
QUEUE_CACHE=${QUEUE_CACHE:-$HOME/.cache/queue}
pkg=mariadb-plugin-queue
plugin_version=${QUEUE_VERSION:-1.0}
die() { echo "deb: $*" >&2; exit 1; }

[ -f build/plugin/ha_queue.so ] && [ -f build/plugin/libqueue_core.so ] || die "build first (make build)"
sv=$(dpkg-query -W -f='${Version}' mariadb-server 2>/dev/null) || die "mariadb-server is not installed"
built=$(cat "$QUEUE_CACHE/version" 2>/dev/null || true)
[ "$built" = "$sv" ] || die "the plugin was built against mariadb $built, the installed server is $sv: run make setup build"
arch=$(dpkg --print-architecture)
upstream=${sv#*:}
version="$plugin_version+mariadb${upstream//-/.}"
plugin_dir=$(/usr/sbin/mariadbd --no-defaults --verbose --help 2>/dev/null | awk '$1=="plugin-dir"{print $2}')
plugin_dir=${plugin_dir%/}
[ -n "$plugin_dir" ] || die "cannot ask mariadbd for its plugin directory"

stage=build/deb/$pkg
rm -rf build/deb && mkdir -p "$stage/DEBIAN"
install -D -m 0644 build/plugin/ha_queue.so "$stage$plugin_dir/ha_queue.so"
install -D -m 0644 build/plugin/libqueue_core.so "$stage$plugin_dir/libqueue_core.so"
install -D -m 0755 scripts/queue-backup.sh "$stage/usr/bin/queue-backup"
share=$stage/usr/share/$pkg
mkdir -p "$share" "$stage/usr/share/doc/$pkg" "$stage/etc/mysql/mariadb.conf.d"
scripts/install-sql.sh build/plugin/ha_queue.so > "$share/install.sql"
scripts/install-sql.sh --uninstall build/plugin/ha_queue.so > "$share/uninstall.sql"
cp README.md docs/OPERATIONS.md docs/SQL.md docs/FUNCTIONS.md "$stage/usr/share/doc/$pkg/"
cat > "$stage/etc/mysql/mariadb.conf.d/queue.cnf" <<'EOF'
# The QUEUE storage engine (package mariadb-plugin-queue): loaded at every
# start of the server. Its SQL functions (queue_wait, queue_end, ...) are
# rows of mysql.func, created by the package when the server runs
# (dpkg-reconfigure mariadb-plugin-queue, or
# mariadb < /usr/share/mariadb-plugin-queue/install.sql).
[mariadbd]
plugin-load-add=ha_queue.so
EOF
echo /etc/mysql/mariadb.conf.d/queue.cnf > "$stage/DEBIAN/conffiles"

# The maintainer scripts reach the server the way Debian's init script does.
client='if [ -f /etc/mysql/debian.cnf ]; then sql() { mariadb --defaults-file=/etc/mysql/debian.cnf "$@"; }; else sql() { mariadb -uroot "$@"; }; fi'
cat > "$stage/DEBIAN/postinst" <<EOF
#!/bin/sh
# Creates the engine (INSTALL SONAME unless it is loaded already) and the SQL
# functions in the running server; never fails the installation for it.
set -e
$client
share=/usr/share/$pkg
if [ "\$1" = configure ]; then
  if sql -e 'DO 1' >/dev/null 2>&1; then
    if sql < "\$share/install.sql"; then
      echo "$pkg: the QUEUE engine and its SQL functions are installed in the running server."
      # An upgrade (not dpkg-reconfigure): the running server keeps the old library.
      [ -z "\$2" ] || [ -n "\${DEBCONF_RECONFIGURE:-}" ] ||
        echo "$pkg: restart the server to run the new version (it runs the one it loaded)."
    else
      echo "$pkg: WARNING: could not run \$share/install.sql; run it as the server's root user." >&2
    fi
  else
    echo "$pkg: the server is not running. The engine loads when it starts (/etc/mysql/mariadb.conf.d/queue.cnf);"
    echo "$pkg: then create the SQL functions: dpkg-reconfigure $pkg (or mariadb < \$share/install.sql)."
  fi
fi
exit 0
EOF
cat > "$stage/DEBIAN/prerm" <<EOF
#!/bin/sh
# On removal, drops the SQL functions and the INSTALL SONAME registration
# while the library is still there. Tables and their data are kept.
set -e
$client
if [ "\$1" = remove ] && sql -e 'DO 1' >/dev/null 2>&1; then
  sql < /usr/share/$pkg/uninstall.sql ||
    echo "$pkg: WARNING: could not run uninstall.sql; drop the queue functions by hand." >&2
  echo "$pkg: the QUEUE engine stays loaded until the server restarts; queue tables and their files are kept."
fi
exit 0
EOF
chmod 0755 "$stage/DEBIAN/postinst" "$stage/DEBIAN/prerm"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<EOF
Package: $pkg
Version: $version
Architecture: $arch
Maintainer: queue maintainers <root@localhost>
Section: database
Priority: optional
Installed-Size: $size
Depends: mariadb-server (= $sv), libc6, libstdc++6
Recommends: mariadb-backup (= $sv)
Description: QUEUE storage engine for MariaDB: a durable message queue
 Queue tables in the server: producers INSERT, consumers take rows with
 queue_wait() and consume them with queue_end(). Built for mariadb-server
 $sv exactly; a new server release needs a rebuilt package.
 Includes queue-backup (mariabackup plus the queue tables' files).
EOF
out=build/${pkg}_${version}_${arch}.deb
rm -f build/${pkg}_*.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$out" >/dev/null
echo "$out"
