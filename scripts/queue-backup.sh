#!/usr/bin/env bash
# Hot backup of a server with queue tables: mariabackup plus the queue
# tables' files, taken at mariabackup's consistent point.
#
#   queue-backup --backup --target-dir=DIR [mariabackup options]
#   queue-backup --copy-back --target-dir=DIR [--datadir=D] [mariabackup options]
#   (--prepare needs nothing extra: run mariabackup --prepare as usual)
#
# mariabackup copies only the files of the engines it knows (.frm, .opt,
# InnoDB, Aria, MyISAM, ...): it copies a queue table's .frm but neither its
# .qcol file nor its .queue directory, and --copy-back skips directories
# inside a database directory. So this script runs mariabackup and copies
# the queue tables itself while mariabackup holds its backup locks. An
# INSERT, a DELETE and the removal step of a consume take the backup lock
# for a non-transactional write (MDL_BACKUP_DML), which BACKUP STAGE FLUSH
# blocks for new statements and BLOCK_DDL waits out for running ones: from
# the moment mariabackup holds BLOCK_DDL until its BACKUP STAGE END, no
# statement changes a queue table. BLOCK_COMMIT, the point at which
# mariabackup ends its copy of the InnoDB log, falls inside that interval,
# so a copy made anywhere in it is the queue tables at the backup's point.
#
# How: mariabackup reports "Acquired locks for BACKUP STAGE BLOCK_DDL" on
# stderr; the script then stops mariabackup (SIGSTOP), checks that it has
# not yet begun BACKUP STAGE END (every stage is reported before it is run,
# and stderr is unbuffered), copies the queue tables and lets mariabackup go
# on (SIGCONT). Its connection keeps the locks while it is stopped. If
# mariabackup was already past its last stage (a small server gets there in
# milliseconds), the backup is removed and taken again (at most
# QUEUE_BACKUP_TRIES times, default 5). While the copy runs, the server's
# DDL and non-transactional writes wait, as they do during mariabackup's own
# BLOCK_DDL stage, and mariabackup does not follow the InnoDB log: the pause
# lasts as long as copying the queue tables' files (their live rows, plus
# what compaction has not reclaimed yet).
#
# Compaction of a queue table may still replace and delete segment files
# while writes are blocked, and a table closed or opened meanwhile writes or
# deletes its checkpoint; a table directory is copied again until the
# directory (names, inodes, sizes) is the same before and after its copy.
#
# The client options (--defaults-file, --defaults-extra-file, --user,
# --password, --host, --port, --socket) are passed to mariabackup and to
# the mariadb client that asks the server for its datadir; run it on the
# server's host, like mariabackup. DIR/queue_backup_info records the copy
# (the tables and the copy's start and end, in ns since the epoch).
# QUEUE_BACKUP_HOLD=SECONDS keeps the locks that long after the copy
# (tests use it to widen the window).
set -euo pipefail
me=queue-backup
log() { printf '[%s] %s\n' "$me" "$*" >&2; }
die() { log "$*"; exit 1; }

mode="" target="" datadir_opt=""
client=() passthru=()
for a in "$@"; do
  case "$a" in
    --backup) mode=backup ;;
    --copy-back) mode=copy-back ;;
    --target-dir=*) target=${a#*=}; passthru+=("$a") ;;
    --datadir=*) datadir_opt=${a#*=}; passthru+=("$a") ;;
    --no-lock) die "--no-lock takes no BACKUP STAGE locks: the queue tables could not be copied consistently" ;;
    --defaults-file=*|--defaults-extra-file=*|--user=*|--password=*|--host=*|--port=*|--socket=*)
      client+=("$a"); passthru+=("$a") ;;
    *) passthru+=("$a") ;;
  esac
done
[ -n "$mode" ] || die "usage: $me --backup|--copy-back --target-dir=DIR [mariabackup options]"
[ -n "$target" ] || die "--target-dir=DIR is required"
# mariadb wants --defaults-file and --defaults-extra-file first.
sorted=()
for a in "${client[@]}"; do case "$a" in --defaults*) sorted=("$a" "${sorted[@]}") ;; *) sorted+=("$a") ;; esac; done
client=("${sorted[@]}")

# Copies one queue table directory SRC to DST until the directory did not
# change while it was copied. Temporary files (*.tmp) are never needed:
# recovery deletes them.
listing() { find "$1" -maxdepth 1 -type f ! -name '*.tmp' -printf '%f %i %s\n' | sort; }
copy_table_dir() {
  local src=$1 dst=$2 before after f
  for _ in $(seq 1 50); do
    before=$(listing "$src")
    rm -rf "$dst" && mkdir -p "$dst"
    local ok=1
    while read -r f _; do
      [ -n "$f" ] || continue
      cp -p --sparse=always "$src/$f" "$dst/$f" 2>/dev/null || { ok=0; break; }
    done <<<"$before"
    after=$(listing "$src")
    [ $ok = 1 ] && [ "$before" = "$after" ] && return 0
    log "$src changed while it was copied (compaction); copying it again"
    sleep 0.05
  done
  return 1
}

# Copies every queue table of DATADIR into DIR: <db>/<t>.qcol and
# <db>/<t>.queue/, and <db>/<t>.frm when WITH_FRM is 1 (mariabackup --backup
# copies the .frm itself during BLOCK_DDL, and refuses to overwrite it).
# Prints one line per table.
copy_queue_tables() {
  local from=$1 to=$2 with_frm=$3 qd dbdir db t f
  shopt -s nullglob
  for qd in "$from"/*/*.queue; do
    [ -d "$qd" ] || continue
    dbdir=$(dirname "$qd"); db=$(basename "$dbdir"); t=$(basename "$qd" .queue)
    mkdir -p "$to/$db"
    for f in "$t.qcol" "$t.frm"; do
      [ "$f" != "$t.frm" ] || [ "$with_frm" = 1 ] || continue
      if [ -f "$dbdir/$f" ]; then cp -p "$dbdir/$f" "$to/$db/$f"; fi
    done
    copy_table_dir "$qd" "$to/$db/$t.queue" || { log "$qd kept changing while it was copied"; return 1; }
    echo "$db/$t"
  done
}

case "$mode" in
copy-back)
  mariabackup --copy-back "${passthru[@]}"
  datadir=$datadir_opt
  if [ -z "$datadir" ]; then
    datadir=$(my_print_defaults "${client[@]}" mysqld mariadb mariadbd 2>/dev/null |
              sed -n 's/^--datadir=//p' | tail -1)
  fi
  datadir=${datadir:-/var/lib/mysql}
  n=$(copy_queue_tables "$target" "$datadir" 1 | wc -l)
  log "copied $n queue table(s) from $target into $datadir"
  exit 0
  ;;
esac

# --backup
datadir=$(mariadb "${client[@]}" -N -B -e 'SELECT @@datadir') ||
  die "cannot connect to the server (pass the client options mariabackup gets)"
datadir=${datadir%/}
tries=${QUEUE_BACKUP_TRIES:-5}
for try in $(seq 1 "$tries"); do
  if [ -e "$target" ] && [ -n "$(ls -A "$target" 2>/dev/null)" ]; then
    [ "$try" = 1 ] && die "$target is not empty"
    rm -rf "$target"
  fi
  coproc MB { exec mariabackup --backup "${passthru[@]}" 2>&1; }
  mb_pid=$MB_PID
  exec {mb_out}<&"${MB[0]}"
  stopped=0
  # Never leave mariabackup stopped: it holds the server's backup locks.
  trap 'if [ $stopped = 1 ]; then kill -CONT $mb_pid 2>/dev/null; fi' EXIT
  # Interrupted: the backup is abandoned; mariabackup ends (and with it its
  # connection and the server's backup locks) rather than running on.
  trap 'log "interrupted"; kill -CONT $mb_pid 2>/dev/null; kill -TERM $mb_pid 2>/dev/null; exit 130' INT TERM HUP
  copied=no
  while IFS= read -r line <&"$mb_out"; do
    printf '%s\n' "$line" >&2
    case "$line" in
      *"Acquired locks for BACKUP STAGE BLOCK_DDL"*)
        kill -STOP "$mb_pid"; stopped=1
        past=0
        while IFS= read -r -t 0.3 line <&"$mb_out"; do
          printf '%s\n' "$line" >&2
          case "$line" in *"BACKUP STAGE END"*|*"completed OK"*) past=1 ;; esac
        done
        if [ $past = 1 ]; then
          log "mariabackup reached BACKUP STAGE END before the queue tables were copied"
          copied=missed
        else
          start=$(date +%s%N)
          tables=$(copy_queue_tables "$datadir" "$target" 0) || copied=failed
          end=$(date +%s%N)
          if [ "$copied" = no ]; then
            copied=yes
            { echo "copy_start_ns=$start"; echo "copy_end_ns=$end"
              echo "tables=$(printf '%s' "$tables" | grep -c . || true)"
              printf '%s\n' "$tables" | sed '/^$/d; s/^/table=/'; } > "$target/queue_backup_info"
            log "copied $(printf '%s' "$tables" | grep -c . || true) queue table(s) under the backup locks in $(( (end - start) / 1000000 )) ms"
            # In the background, so that a signal is handled at once.
            if [ -n "${QUEUE_BACKUP_HOLD:-}" ]; then sleep "$QUEUE_BACKUP_HOLD" & wait $!; fi
          fi
        fi
        kill -CONT "$mb_pid"; stopped=0
        ;;
    esac
  done
  rc=0; wait "$mb_pid" || rc=$?
  exec {mb_out}<&-
  trap - EXIT INT TERM HUP
  [ $rc = 0 ] || die "mariabackup failed (status $rc)"
  case "$copied" in
    yes) exit 0 ;;
    failed) die "copying the queue tables failed; $target is incomplete" ;;
    no) die "mariabackup never reported BACKUP STAGE BLOCK_DDL; $target has no queue tables" ;;
  esac
  log "taking the backup again (try $((try + 1)) of $tries)"
done
die "no try copied the queue tables while mariabackup held its locks"
