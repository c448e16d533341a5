#!/usr/bin/env bash
# bench-services.sh — the comparison servers that `make bench` runs next to the
# queue engine, each as a private instance under var/ on loopback only:
#
#   postgres  Debian's PostgreSQL 15, var/bench-pg, 127.0.0.1:5433 and a unix
#             socket in var/bench-pg/run; synchronous_commit=on, fsync=on.
#   redis     Debian's redis-server, var/bench-redis, 127.0.0.1:6380;
#             appendonly yes, appendfsync always.
#   mariadb   Debian's mariadbd with InnoDB, BLACKHOLE and GET_LOCK,
#             var/bench-mariadb, 127.0.0.1:3308; innodb_flush_log_at_trx_commit=1.
#             Used only when the sandbox server with the queue engine is not
#             available, so that the other systems can still be measured.
#
# Usage: scripts/bench-services.sh install|start|stop|status [postgres|redis|mariadb ...]
#        scripts/bench-services.sh run BENCH_BINARY [ARGS...]
# BENCH_PG_PORT, BENCH_REDIS_PORT and BENCH_MY_PORT change the ports above
# (another tree's benchmark may be using the defaults at the same time).
# With no service named, install/start/stop act on postgres and redis.
# install is idempotent (apt-get only when a package is missing); start is a
# no-op for a service that already answers; stop stops only our instances.
#
# run is what `make bench` uses: it installs and starts what the benchmark
# needs — the sandbox server with the queue engine on 127.0.0.1:3307 (or, if
# the sandbox cannot be started, the fallback MariaDB on 3308, where the
# queue engine is then reported as not available), PostgreSQL and Redis —
# runs the benchmark binary with --mysql pointing at that server, and on exit
# (also on error or Ctrl-C) stops exactly the servers it started.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VAR="$ROOT/var"
PG_BIN=/usr/lib/postgresql/15/bin
PG_DIR="$VAR/bench-pg"
PG_PORT=${BENCH_PG_PORT:-5433}
REDIS_DIR="$VAR/bench-redis"
REDIS_PORT=${BENCH_REDIS_PORT:-6380}
MY_DIR="$VAR/bench-mariadb"
MY_PORT=${BENCH_MY_PORT:-3308}

log() { echo "[bench-services] $*" >&2; }

need_root() {
	if [ "$(id -u)" -ne 0 ]; then
		log "$1 needs root (apt-get, and postgres runs as the postgres user)"
		exit 1
	fi
}

apt_install() {
	local missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -qE "^(install|hold) ok installed$" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	need_root "installing ${missing[*]}"
	log "apt-get install ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2 ||
		{ apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2; }
}

# ---- PostgreSQL ------------------------------------------------------------

pg_up() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" 2>/dev/null; }

pg_as() {
	# postgres refuses to run as root: run its tools as the package's user.
	if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_start() {
	if pg_up; then log "postgres already up on $PG_PORT"; return 0; fi
	[ -x "$PG_BIN/postgres" ] || { log "postgres not installed (run: $0 install postgres)"; return 1; }
	mkdir -p "$PG_DIR/run"
	if [ "$(id -u)" -eq 0 ]; then
		chown -R postgres:postgres "$PG_DIR"
		# The postgres user must be able to reach var/ through the tree.
		chmod o+x "$VAR" "$ROOT" 2>/dev/null || true
	fi
	if [ ! -f "$PG_DIR/data/PG_VERSION" ]; then
		log "initdb $PG_DIR/data"
		pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 >"$PG_DIR/initdb.log" 2>&1 ||
			{ cat "$PG_DIR/initdb.log" >&2; return 1; }
	fi
	log "starting postgres on 127.0.0.1:$PG_PORT"
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t 60 \
		-o "-p $PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$PG_DIR/run \
			-c synchronous_commit=on -c fsync=on -c full_page_writes=on \
			-c max_connections=300 -c shared_buffers=256MB" start >&2
	pg_as "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -Atqc \
		"SELECT 1 FROM pg_database WHERE datname='bench'" | grep -q 1 ||
		pg_as "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE bench" >&2
}

pg_stop() {
	[ -f "$PG_DIR/data/postmaster.pid" ] || return 0
	log "stopping postgres"
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 60 stop >&2 || true
}

# ---- Redis -----------------------------------------------------------------

redis_up() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

redis_start() {
	if redis_up; then log "redis already up on $REDIS_PORT"; return 0; fi
	command -v redis-server >/dev/null || { log "redis-server not installed (run: $0 install redis)"; return 1; }
	mkdir -p "$REDIS_DIR"
	log "starting redis on 127.0.0.1:$REDIS_PORT"
	# Durable settings: every write is in the AOF and fsynced before the reply.
	# RDB snapshots are off so that forks do not add noise to the measurement.
	redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$REDIS_DIR" \
		--appendonly yes --appendfsync always --save "" \
		--daemonize yes --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log" \
		--maxclients 1000 >&2
	for _ in $(seq 1 50); do redis_up && return 0; sleep 0.1; done
	log "redis did not answer; see $REDIS_DIR/redis.log"
	return 1
}

redis_stop() {
	[ -f "$REDIS_DIR/redis.pid" ] || return 0
	log "stopping redis"
	redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
	for _ in $(seq 1 50); do [ -f "$REDIS_DIR/redis.pid" ] || return 0; sleep 0.1; done
}

# ---- MariaDB (fallback server for the SQL-based systems) -------------------

my_up() { mariadb-admin --no-defaults -h 127.0.0.1 -P "$MY_PORT" -u root ping >/dev/null 2>&1; }

my_start() {
	if my_up; then log "mariadb already up on $MY_PORT"; return 0; fi
	mkdir -p "$MY_DIR"
	if [ ! -d "$MY_DIR/data/mysql" ]; then
		log "mariadb-install-db $MY_DIR/data"
		mariadb-install-db --no-defaults --datadir="$MY_DIR/data" --user="$(id -un)" \
			--auth-root-authentication-method=normal --skip-test-db >"$MY_DIR/install.log" 2>&1 ||
			{ cat "$MY_DIR/install.log" >&2; return 1; }
	fi
	log "starting mariadbd on 127.0.0.1:$MY_PORT"
	setsid /usr/sbin/mariadbd --no-defaults --user="$(id -un)" --datadir="$MY_DIR/data" \
		--socket="$MY_DIR/mysqld.sock" --port="$MY_PORT" --bind-address=127.0.0.1 \
		--pid-file="$MY_DIR/mysqld.pid" --log-error="$MY_DIR/error.log" \
		--plugin-load-add=ha_blackhole --innodb-flush-log-at-trx-commit=1 \
		--innodb-buffer-pool-size=512M --innodb-log-file-size=256M \
		--max-connections=400 --skip-name-resolve >/dev/null 2>&1 &
	for _ in $(seq 1 300); do
		if my_up; then
			mariadb --no-defaults -h 127.0.0.1 -P "$MY_PORT" -u root -e "CREATE DATABASE IF NOT EXISTS test"
			return 0
		fi
		sleep 0.1
	done
	log "mariadbd did not answer; see $MY_DIR/error.log"
	return 1
}

my_stop() {
	[ -f "$MY_DIR/mysqld.pid" ] || return 0
	local pid
	pid="$(cat "$MY_DIR/mysqld.pid")"
	log "stopping mariadbd ($pid)"
	mariadb-admin --no-defaults -h 127.0.0.1 -P "$MY_PORT" -u root shutdown >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
	for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	log "mariadbd $pid still running"
}

# ---- run: start, benchmark, stop what was started -------------------------------

# The sandbox's port; another port runs this tree's own sandbox when 3307 is
# taken by a server from elsewhere (e.g. BENCH_SANDBOX_PORT=3309 make bench,
# or QUEUE_SANDBOX_PORT=3309, the sandbox's own setting).
SANDBOX_PORT=${BENCH_SANDBOX_PORT:-${QUEUE_SANDBOX_PORT:-3307}}
export QUEUE_SANDBOX_PORT=$SANDBOX_PORT
STARTED=()

sandbox_up() { mariadb-admin --no-defaults -h 127.0.0.1 -P "$SANDBOX_PORT" -u root ping >/dev/null 2>&1; }

# sandbox_start uses the project's sandbox (make sandbox-start, or
# scripts/sandbox.sh start) when the tree has it.
sandbox_start() {
	if make -C "$ROOT" -n sandbox-start >/dev/null 2>&1; then
		make -C "$ROOT" --no-print-directory sandbox-start >&2
	elif [ -x "$ROOT/scripts/sandbox.sh" ]; then
		"$ROOT/scripts/sandbox.sh" start >&2
	else
		return 1
	fi
}

sandbox_stop() {
	if make -C "$ROOT" -n sandbox-stop >/dev/null 2>&1; then
		make -C "$ROOT" --no-print-directory sandbox-stop >&2 || true
	elif [ -x "$ROOT/scripts/sandbox.sh" ]; then
		"$ROOT/scripts/sandbox.sh" stop >&2 || true
	fi
}

stop_started() {
	local s
	for s in "${STARTED[@]}"; do
		case "$s" in
		sandbox) sandbox_stop ;;
		postgres) pg_stop ;;
		redis) redis_stop ;;
		mariadb) my_stop ;;
		esac
	done
}

run_bench() {
	[ $# -ge 1 ] || { echo "usage: $0 run BENCH_BINARY [ARGS...]" >&2; exit 2; }
	trap stop_started EXIT
	trap 'exit 130' INT TERM
	local dsn
	if sandbox_up; then
		log "using the running sandbox on $SANDBOX_PORT"
		dsn="root@tcp(127.0.0.1:$SANDBOX_PORT)/test"
	elif sandbox_start && sandbox_up; then
		STARTED+=(sandbox)
		dsn="root@tcp(127.0.0.1:$SANDBOX_PORT)/test"
	else
		log "no sandbox server with the queue engine: using plain MariaDB on $MY_PORT (queue engine not available)"
		if ! my_up; then
			[ -x /usr/sbin/mariadbd ] || { log "mariadbd missing: run scripts/setup.sh"; exit 1; }
			my_start
			STARTED+=(mariadb)
		fi
		dsn="root@tcp(127.0.0.1:$MY_PORT)/test"
	fi
	# BLACKHOLE: the sandbox loads plugins from its own plugin_dir. If that
	# is this tree's build directory, link Debian's ha_blackhole.so into it
	# (the bench then loads it with INSTALL SONAME); if it is elsewhere,
	# measure BLACKHOLE on the plain MariaDB instead (same binary).
	local extra=()
	if [ "$dsn" != "root@tcp(127.0.0.1:$MY_PORT)/test" ]; then
		local pdir
		pdir="$(mariadb --no-defaults -h 127.0.0.1 -P "$SANDBOX_PORT" -u root -N -e 'SELECT @@plugin_dir' 2>/dev/null || true)"
		pdir="${pdir%/}"
		if [ -n "$pdir" ] && [ ! -e "$pdir/ha_blackhole.so" ]; then
			case "$pdir" in
			"$ROOT"/*) ln -sf /usr/lib/mysql/plugin/ha_blackhole.so "$pdir/ha_blackhole.so" ;;
			*)
				log "the sandbox's plugin_dir $pdir has no ha_blackhole.so: BLACKHOLE runs on the plain MariaDB on $MY_PORT"
				if ! my_up; then
					my_start
					STARTED+=(mariadb)
				fi
				extra=(--blackhole-mysql "root@tcp(127.0.0.1:$MY_PORT)/test")
				;;
			esac
		fi
	fi
	# PostgreSQL or Redis failing to install or start does not stop the
	# run: the benchmark then reports that system as not available.
	apt_install postgresql-15 || log "could not install postgresql-15"
	apt_install redis-server redis-tools || log "could not install redis-server"
	if ! pg_up; then
		STARTED+=(postgres)
		pg_start || log "postgres did not start; it is reported as not available"
	fi
	if ! redis_up; then
		STARTED+=(redis)
		redis_start || log "redis did not start; it is reported as not available"
	fi
	local bin="$1"
	shift
	"$bin" --mysql "$dsn" "${extra[@]}" --fsync-dir "$VAR" \
		--pg "postgres://postgres@127.0.0.1:$PG_PORT/bench?sslmode=disable" \
		--redis "127.0.0.1:$REDIS_PORT" "$@"
}

# ---- dispatch ----------------------------------------------------------------

cmd="${1:-}"
shift || true
if [ "$cmd" = run ]; then
	run_bench "$@"
	exit $?
fi
services=("$@")
[ ${#services[@]} -eq 0 ] && services=(postgres redis)

for s in "${services[@]}"; do
	case "$cmd:$s" in
	install:postgres) apt_install postgresql-15 ;;
	install:redis) apt_install redis-server redis-tools ;;
	# The server itself is pinned and installed by scripts/setup.sh; never
	# apt-get it here, which could upgrade it past the pinned version.
	install:mariadb) [ -x /usr/sbin/mariadbd ] || { log "mariadbd missing: run scripts/setup.sh"; exit 1; } ;;
	start:postgres) pg_start ;;
	start:redis) redis_start ;;
	start:mariadb) my_start ;;
	stop:postgres) pg_stop ;;
	stop:redis) redis_stop ;;
	stop:mariadb) my_stop ;;
	status:postgres) pg_up && echo "postgres up" || echo "postgres down" ;;
	status:redis) redis_up && echo "redis up" || echo "redis down" ;;
	status:mariadb) my_up && echo "mariadb up" || echo "mariadb down" ;;
	*)
		echo "usage: $0 install|start|stop|status [postgres|redis|mariadb ...]" >&2
		exit 2
		;;
	esac
done
