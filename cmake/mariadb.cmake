# Locates the MariaDB source tree and build dir prepared by scripts/setup.sh
# (Debian's source package of the installed server, configured like Debian's
# build) and defines the compile flags a dynamic storage engine needs
# (guide §5.1): the same defines as the release build, so that THD and the
# handler classes have the server's layout.

# scripts/setup.sh keeps the tree in $QUEUE_CACHE (default ~/.cache/queue).
if(DEFINED ENV{QUEUE_CACHE})
  set(queue_cache "$ENV{QUEUE_CACHE}")
else()
  set(queue_cache "$ENV{HOME}/.cache/queue")
endif()
set(QUEUE_MARIADB_ROOT "${queue_cache}/current" CACHE PATH
    "Directory holding src/ and build/ of the configured MariaDB tree")
set(MARIADB_SRC "${QUEUE_MARIADB_ROOT}/src")
set(MARIADB_BUILD "${QUEUE_MARIADB_ROOT}/build")

foreach(f "${MARIADB_SRC}/sql/handler.h" "${MARIADB_BUILD}/include/mysqld_error.h"
          "${MARIADB_BUILD}/libservices/libmysqlservices.a")
  if(NOT EXISTS "${f}")
    message(FATAL_ERROR "${f} is missing: run scripts/setup.sh (or make setup) first")
  endif()
endforeach()

set(MARIADB_INCLUDE_DIRS
    "${MARIADB_SRC}/wsrep-lib/include"
    "${MARIADB_SRC}/wsrep-lib/wsrep-API/v26"
    "${MARIADB_BUILD}/include"
    "${MARIADB_SRC}/include/providers"
    "${MARIADB_SRC}/include"
    "${MARIADB_SRC}/sql")
set(MARIADB_DEFINITIONS MYSQL_SERVER MYSQL_DYNAMIC_PLUGIN DBUG_OFF NDEBUG
    _FILE_OFFSET_BITS=64 HAVE_CONFIG_H)
set(MARIADB_SERVICES_LIB "${MARIADB_BUILD}/libservices/libmysqlservices.a")
