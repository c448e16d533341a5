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
# the queue tables itself, while mariabackup holds BACKUP STAGE
# BLOCK_COMMIT: from BACKUP STAGE FLUSH on, no statement and no consume
# changes a queue table (both wait for the backup lock, MDL_BACKUP_DML), and
# BLOCK_COMMIT is the point at which mariabackup ends its copy of the InnoDB
# log. The queue tables are therefore copied at the same point as the rest.
#
# How: mariabackup reports "Acquired locks for BACKUP STAGE BLOCK_COMMIT" on
# stderr; the script then stops mariabackup (SIGSTOP), checks that it has
# not yet begun BACKUP STAGE END (every stage is reported before it is
# run, and stderr is unbuffered), copies the queue tables and lets
# mariabackup go on (SIGCONT). Its connection keeps the locks while it is
# stopped. If mariabackup was already past BLOCK_COMMIT, the backup is
# removed and taken again (at most QUEUE_BACKUP_TRIES times, default 3).
# While the copy runs, commits on the whole server wait, as they do during
# mariabackup's own BLOCK_COMMIT stage: the pause lasts as long as copying
# the queue tables' files (their live rows, plus what compaction has not
# reclaimed yet).
#
# Compaction of a queue table may still replace and delete segment files
# while writes are blocked; a table directory is copied again until the
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
    sleep 0.05
  done
  return 1
}

# Copies every queue table of DATADIR into DIR: <db>/<t>.frm, <db>/<t>.qcol
# and <db>/<t>.queue/. Prints one line per table.
copy_queue_tables() {
  local from=$1 to=$2 qd dbdir db t
  shopt -s nullglob
  for qd in "$from"/*/*.queue; do
    [ -d "$qd" ] || continue
    dbdir=$(dirname "$qd"); db=$(basename "$dbdir"); t=$(basename "$qd" .queue)
    mkdir -p "$to/$db"
    for f in "$t.frm" "$t.qcol"; do
      [ -f "$dbdir/$f" ] && cp -p "$dbdir/$f" "$to/$db/$f"
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
  n=$(copy_queue_tables "$target" "$datadir" | wc -l)
  log "copied $n queue table(s) from $target into $datadir"
  exit 0
  ;;
esac

# --backup
datadir=$(mariadb "${client[@]}" -N -B -e 'SELECT @@datadir') ||
  die "cannot connect to the server (pass the client options mariabackup gets)"
datadir=${datadir%/}
tries=${QUEUE_BACKUP_TRIES:-3}
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
  copied=no
  while IFS= read -r line <&"$mb_out"; do
    printf '%s\n' "$line" >&2
    case "$line" in
      *"Acquired locks for BACKUP STAGE BLOCK_COMMIT"*)
        kill -STOP "$mb_pid"; stopped=1
        past=0
        while IFS= read -r -t 0.3 line <&"$mb_out"; do
          printf '%s\n' "$line" >&2
          case "$line" in *"BACKUP STAGE END"*|*"completed OK"*) past=1 ;; esac
        done
        if [ $past = 1 ]; then
          log "mariabackup left BLOCK_COMMIT before the queue tables were copied"
          copied=missed
        else
          start=$(date +%s%N)
          tables=$(copy_queue_tables "$datadir" "$target") || copied=failed
          end=$(date +%s%N)
          if [ "$copied" = no ]; then
            copied=yes
            { echo "copy_start_ns=$start"; echo "copy_end_ns=$end"
              echo "tables=$(printf '%s' "$tables" | grep -c . || true)"
              printf '%s\n' "$tables" | sed '/^$/d; s/^/table=/'; } > "$target/queue_backup_info"
            log "copied $(printf '%s' "$tables" | grep -c . || true) queue table(s) at BACKUP STAGE BLOCK_COMMIT in $(( (end - start) / 1000000 )) ms"
            [ -z "${QUEUE_BACKUP_HOLD:-}" ] || sleep "$QUEUE_BACKUP_HOLD"
          fi
        fi
        kill -CONT "$mb_pid"; stopped=0
        ;;
    esac
  done
  rc=0; wait "$mb_pid" || rc=$?
  exec {mb_out}<&-
  trap - EXIT
  [ $rc = 0 ] || die "mariabackup failed (status $rc)"
  case "$copied" in
    yes) exit 0 ;;
    failed) die "copying the queue tables failed; $target is incomplete" ;;
    no) die "mariabackup never reported BACKUP STAGE BLOCK_COMMIT; $target has no queue tables" ;;
  esac
  log "taking the backup again (try $((try + 1)) of $tries)"
done
die "no try copied the queue tables inside BACKUP STAGE BLOCK_COMMIT"
