/*
  queue_core.h: the C ABI of libqueue_core.so (Go, package engine) used by
  ha_queue.so (the storage engine handler and the SQL functions).

  The ABI is shaped around the message: one call per step of a consumer's
  loop (qc_wait consumes the previous row and takes the next one, returning
  its image; qc_abort; the removal of queue_end is a qc_submit), one call
  per INSERT or DELETE statement (qc_submit), and counters in C memory for
  what the handler asks about a table many times per statement
  (qc_table_counters), so a consumed message enters Go once when a row is
  ready, and an INSERT at most once.

  Rules:
  - Handles are uint64_t, 0 is never valid. They index a registry on the Go
    side; a stale handle gives QC_EBADF, never a crash.
  - Every function returns an int status (QC_OK = 0, errors < 0, a few
    positive "soft" results documented per function). Results go to
    out-parameters. Payloads are copied into caller memory.
  - Functions that can fail with a message take a qc_err*, which may be NULL;
    the message is NUL-terminated and truncated to fit.
  - A Go panic inside any function is recovered and reported as QC_EPANIC.
  - No function blocks inside Go: durable work completes through a
    qc_done_fn callback and the caller waits in C; a qc_wait without a row
    registers and returns, and the caller waits in C for the notify
    callback. (Exceptions: DDL calls, which do I/O, and a call racing a
    DROP/RENAME of the same table, which waits for it.)

  Table paths: "./db/table" exactly as the server passes them to the handler
  (relative to the data directory, filename-encoded). The table's directory
  is path + ".queue".
*/
#ifndef QUEUE_CORE_H
#define QUEUE_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define QC_ABI_VERSION 6

/* qc_wait flags. QC_WAIT_IN_ORDER (queue_wait_in_order): the take never
   passes a row of a spec that another session owns; while one is owned the
   spec has no row (the wait goes on until it is consumed or given back). */
#define QC_WAIT_IN_ORDER 1

/* Status codes. The Go side uses these definitions (engine/status.go). */
#define QC_OK         0
#define QC_EOF        1   /* end of a scan */
#define QC_PENDING    2   /* queued (qc_submit) or registered (qc_wait) */
#define QC_SKIPPED    3   /* append: relay duplicate, nothing written (success) */
#define QC_ERR       -1   /* unspecified */
#define QC_EBADF     -2   /* unknown/stale handle */
#define QC_ENOENT    -3   /* table or row does not exist */
#define QC_EEXIST    -4   /* table exists */
#define QC_EIO       -5   /* I/O error; table read-only until reopened */
#define QC_ENOSPC    -6   /* disk full; nothing acknowledged lost */
#define QC_ETOOBIG   -7   /* row or statement too large */
#define QC_EINVAL    -8   /* bad argument (condition syntax, relay slot, ABI, ...) */
#define QC_ECORRUPT  -9   /* corrupt table file (message has file and offset) */
#define QC_EPANIC   -10   /* internal error (recovered panic) */
#define QC_ECLOSED  -11   /* table dropped/closed */
#define QC_ERANGE   -12   /* qc_admin: buffer too small, *len has the size */
#define QC_ESTATE   -13   /* wrong state (e.g. not in owner mode) */

typedef struct qc_err { char msg[512]; } qc_err;

/* One column, as the handler stores it in a row payload (see
   docs/ROW-PAYLOAD.md). Used by conditions; recorded with the table at
   create. */
typedef struct qc_column {
  const char *name;
  uint8_t  type;        /* Field::real_type() */
  uint8_t  is_unsigned;
  uint8_t  null_mask;   /* 0 if NOT NULL */
  uint8_t  decimals;
  int32_t  offset;      /* offset of the field image in the payload, -1 if variable */
  int32_t  length;      /* Field::pack_length() */
  int32_t  null_offset; /* payload byte holding the NULL bit, -1 if NOT NULL */
} qc_column;

/* A table's figures, in C memory, kept current by the library after every
   group commit, compaction, TRUNCATE and close, so the handler's info() and
   records() never enter Go. Read each field with an atomic load; fields
   may be from different instants. Valid while the handle that returned it
   is open. */
typedef struct qc_table_counters {
  uint64_t table_id;     /* unique in the process, never reused */
  uint64_t owner_epoch;  /* changes when an owned row of the table loses its
                            owner other than through that owner (a DELETE,
                            TRUNCATE, DROP, RENAME, close) */
  uint64_t rows;         /* live rows, owned ones included */
  uint64_t data_bytes;   /* bytes on disk */
  uint64_t free_bytes;   /* bytes of removed rows not yet reclaimed */
  uint64_t avg_row;      /* mean payload bytes */
  int64_t  create_time;  /* unix seconds */
  int64_t  update_time;  /* unix seconds, 0 if never */
} qc_table_counters;

/* A row image in caller memory. buf is NULL or from malloc(); when the
   image does not fit in cap bytes the library replaces it with realloc()
   and updates cap. The caller frees buf. */
typedef struct qc_row {
  unsigned char *buf;
  size_t cap;
  size_t len;
  uint64_t id;
} qc_row;

typedef void (*qc_notify_fn)(uint64_t token);

/* Completion of a queued durable request: called once from a Go thread (no
   THD, no library lock held) after the group commit's fdatasync or the
   failure. It must only signal the waiting thread: lock a mutex, set a
   flag, signal a condition, unlock. */
typedef void (*qc_done_fn)(void *arg);

enum { QC_REQ_APPEND = 1, QC_REQ_REMOVE = 2, QC_REQ_END = 3,
       /* only as qc_wait's consume kind: the connection is in a
          transaction, the owned row's removal joins it (qc_txn_stage
          QC_TXN_CONSUME) and nothing is queued */
       QC_REQ_HOLD = 4 };

/*
  A durable request, in caller memory, which must stay valid (and
  unchanged) until done(arg) has been called.
  APPEND: n rows stored back to back in buf (lens[i] bytes each) into
    table; relay_mode 'a' or 'w' arms a relay mark (queue_set_srcid) for
    slot relay_slot with source row relay_rowid, 0 = none. value = the
    first row id; rc QC_SKIPPED when the relay mark made it a duplicate.
  REMOVE: the n row ids in ids, from table; already-removed ids are
    ignored. value = rows removed.
  END: the session's owned row (queue_end); the session leaves owner mode
    at once. On failure the row has been given back to the queue.
*/
typedef struct qc_request {
  int kind;
  uint64_t table, session;
  const unsigned char *buf;
  const uint32_t *lens;
  const uint64_t *ids;
  int n;
  int relay_slot;
  char relay_mode;
  uint64_t relay_rowid;
  qc_done_fn done;
  void *arg;
  /* results, written before done is called */
  int rc;
  uint64_t value;
  qc_err err;
  /* the library's */
  struct qc_request *next;
} qc_request;

/* What a queue_wait got. */
typedef struct qc_owned {
  int idx;            /* 0-based winning spec, -1 none (owner mode, no row) */
  uint64_t table_id;  /* the owned row's table (qc_table_counters.table_id) */
  uint64_t epoch;     /* that table's owner_epoch when the row was taken */
  int ended;          /* qc_wait_end, idx -1: the wait ended because a table
                         of the wait was dropped, truncated, renamed or
                         closed (its DDL may still be finishing) */
  qc_row row;         /* the owned row's image and id */
  /* Damaged rows (frame check failed) this wait's takes skipped: they are
     never handed out while the table is open, and each is reported once,
     here, to the connection whose take met it. Set with idx -1 too. */
  uint32_t skipped;
  char skipped_msg[512]; /* the first one: table directory, file, offset */
} qc_owned;

enum { QC_ADMIN_STATS = 1, QC_ADMIN_COMPACT = 2, QC_ADMIN_STATUS = 3,
       QC_ADMIN_COUNTERS = 4, QC_ADMIN_TABLES = 5, QC_ADMIN_CHECK = 6,
       QC_ADMIN_CHECK_QUICK = 7, QC_ADMIN_REPAIR = 8, QC_ADMIN_OPTIMIZE = 9,
       QC_ADMIN_LOG = 10, QC_ADMIN_COPIED = 11, QC_ADMIN_SYNC = 12,
       QC_ADMIN_SET = 13, QC_ADMIN_DROP = 14, QC_ADMIN_RENAME = 15,
       QC_ADMIN_TRUNCATE = 16, QC_ADMIN_XA_RECOVER = 17 };

/* QC_ADMIN_SET: path is "name=value", a setting of the library for every
   table (docs/OPERATIONS.md, "Settings"): segment_size (bytes),
   compact_live_percent, compact_rest_ms, sync ("fdatasync" or "off").
   QC_EINVAL (nothing changed) for an unknown name or a value out of range. */

/* QC_ADMIN_COUNTERS: the library's counters, one snapshot (fields from
   nearly the same instant). Counters count since the library was loaded,
   over every table (dropped ones included); the figures marked "now" are
   sums over the open tables. docs/OPERATIONS.md defines each one. */
typedef struct qc_counters {
  uint64_t sys_read;         /* pread calls on table files */
  uint64_t sys_write;        /* pwrite calls on table files */
  uint64_t sys_sync;         /* fdatasync/fsync calls (files and directories) */
  uint64_t read_cachehit;    /* always 0: the library keeps no row cache */
  uint64_t append;           /* group commits that wrote rows */
  uint64_t remove;           /* group commits that removed rows */
  uint64_t evaluation;       /* condition evaluations (one row, one condition) */
  uint64_t compile;          /* condition look-ups of queue_wait, hits included */
  uint64_t compile_cachehit; /* of which found already compiled */
  uint64_t rows_written;
  uint64_t rows_removed;
  uint64_t syncs;            /* group commits made durable */
  uint64_t compactions;      /* compactions completed */
  uint64_t io_errors;        /* failed file operations (end of file excluded) */
  uint64_t corrupt_skipped;  /* damaged rows skipped by takes (once a row) */
  uint64_t go_entries;       /* calls into the library */
  uint64_t open_tables;      /* now */
  uint64_t rows_queued;      /* now: live rows, owned ones included */
  uint64_t rows_owned;       /* now */
  uint64_t waiting;          /* now: sessions in a pending queue_wait */
  uint64_t bytes_total;      /* now: row bytes in table files */
  uint64_t bytes_free;       /* now: of removed rows, not yet reclaimed */
  uint64_t segments;         /* now: segment files */
  uint64_t oldest_age;       /* now: seconds since the oldest queued row of any
                                open table was enqueued (max over the tables;
                                0 when none is known) */
  uint64_t sync_off;         /* now: 1 when syncs are off (sync=off) */
} qc_counters;

/* QC_ADMIN_TABLES: one entry per open table, then one per table found on
   disk only (open = 0, figures 0), ordered by path. */
typedef struct qc_table_info {
  char     path[512];        /* "./db/table", filename-encoded, NUL-terminated */
  int32_t  open;             /* 1 if open in this process */
  int32_t  segments;
  uint64_t rows_queued;      /* live rows, owned ones included */
  uint64_t rows_owned;
  uint64_t waiting;          /* queue_wait calls registered on the table */
  uint64_t bytes_live;       /* row bytes of live rows */
  uint64_t bytes_total;      /* row bytes in the table's files */
  uint64_t rows_written;     /* since the table was opened */
  uint64_t rows_removed;     /* since the table was opened */
  int64_t  last_compaction;  /* unix seconds, 0 if none since opened */
  int64_t  oldest_age;       /* seconds since the oldest live row no consumer
                                owns was enqueued; -1: no such row, or its
                                time is unknown (written by an older version) */
} qc_table_info;
enum { QC_SCAN_VISIBLE = 0, QC_SCAN_ALL = 1 };

/* Transactions (docs/SQL.md, "Transactions"). */
enum { QC_TXN_ROWS = 1, QC_TXN_DELETE = 2, QC_TXN_CONSUME = 3 };
enum { QC_TXN_PREPARE = 1, QC_TXN_COMMIT = 2, QC_TXN_ROLLBACK = 3,
       QC_TXN_COMMIT_NOSYNC = 4, QC_XA_COMMIT = 5, QC_XA_ROLLBACK = 6 };
/* The largest record of QC_ADMIN_XA_RECOVER: 2 + the largest xid. */
#define QC_XA_RECORD_MAX (2 + 256)
enum { QC_SP_SET = 1, QC_SP_ROLLBACK = 2, QC_SP_RELEASE = 3, QC_SP_STMT = 4 };

/* The Go side includes this header with QC_TYPES_ONLY defined: cgo declares
   the exported functions itself (with non-const pointers, the same ABI). */
#ifndef QC_TYPES_ONLY

/* --- library --- */
/* Idempotent. QC_EINVAL if abi is not QC_ABI_VERSION. notify is called
   from a Go thread (no THD) when a pending wait got a row or must re-check,
   and with token 0 when error-log lines are waiting (QC_ADMIN_LOG). */
int  qc_init(int abi, qc_notify_fn notify);
/* Closes every table (checkpoint), for plugin deinit. */
int  qc_shutdown(void);

/* --- tables (handler) --- */
int  qc_table_create(const char *path, const qc_column *cols, int ncols, qc_err *e);
/* Drop, rename and truncate are qc_admin operations (QC_ADMIN_DROP,
   QC_ADMIN_RENAME, QC_ADMIN_TRUNCATE). */
/* Refcounted. *counters (may be NULL) stays valid until qc_table_close. */
int  qc_table_open(const char *path, uint64_t *table,
                   const qc_table_counters **counters, qc_err *e);
int  qc_table_close(uint64_t table);
/* A non-owner DELETE statement's interlock (begin != 0 starts, 0 ends): no
   row is handed to consumers while one runs. */
int  qc_delete_bracket(uint64_t table, int begin);

/* Queues a durable request (see qc_request) and returns QC_PENDING; then
   done(arg) is called exactly once. Any other return is final and done is
   never called: QC_EINVAL for a NULL request or done. Argument errors, a
   stale handle and a closed table are reported through done. */
int  qc_submit(qc_request *r);

/* Scans, in row-id order: QC_SCAN_VISIBLE gives the rows session (0 =
   none) may see (in owner mode only its owned row of this table);
   QC_SCAN_ALL every live row, owned ones included (a table copy). */
int  qc_scan_open(uint64_t table, uint64_t session, int mode, uint64_t *cursor);
/* QC_OK with the row in *row; QC_EOF at the end. */
int  qc_scan_next(uint64_t cursor, qc_row *row, qc_err *e);
int  qc_scan_close(uint64_t cursor);
/* Row by id (rnd_pos); QC_ENOENT if removed. */
int  qc_get(uint64_t table, uint64_t id, qc_row *row, qc_err *e);

/* --- sessions (one per connection; SQL functions) --- */
int  qc_session_new(uint64_t *session);
/* Cancels a pending wait, gives the owned row back, frees. */
int  qc_session_free(uint64_t session);

/* queue_wait: if the session owns a row, its removal is queued as
   *consume (kind, session and done set by the caller; the library sets the
   rest) and *consuming = 1: the caller waits for consume->done before
   returning, and on a failed removal the row has been given back. Then the
   oldest eligible row of paths[0..n) with conds[i] (NULL or "" = all rows)
   is taken.
   QC_OK: *out holds the winning spec, the row and its image.
   QC_PENDING: registered; notify(token) is called once (row assigned, or
   a table went away); then, or on timeout/KILL, call qc_wait_end.
   Errors (owner mode left, nothing taken): QC_ENOENT (not a queue table),
   QC_EINVAL (condition error; the message has the position), QC_EIO, ... */
int  qc_wait(uint64_t session, const char *const *paths, const char *const *conds,
             int n, int flags, uint64_t token, qc_request *consume, int *consuming,
             qc_owned *out, qc_err *e);
/* The end of a pending qc_wait: unregisters; out->idx = the spec whose row
   was assigned (with the row), or -1 (timeout: owner mode without a row;
   out->ended = 1 when a table of the wait went away instead: a row assigned
   before a RENAME went back to the queue and is not reported).
   After it returns notify(token) is never called again. */
int  qc_wait_end(uint64_t session, qc_owned *out, qc_err *e);
/* queue_abort, KILL of a wait, a failed consume: cancels a pending wait,
   gives the owned row back to its original position, leaves owner mode.
   QC_ESTATE outside owner mode. */
int  qc_abort(uint64_t session);

/* --- transactions (one per session; the handlerton's calls) ---
   qc_txn_stage adds to the session's transaction, starting it:
   QC_TXN_ROWS: n rows (buf, lens as in QC_REQ_APPEND) of table, appended
     at commit; the transaction's rows in that table may not exceed limit
     bytes (QC_ETOOBIG, nothing of this call added).
   QC_TXN_DELETE: the n row ids of table are removed at commit and held
     meanwhile (delivered to nobody); rows other sessions own are left
     alone; *count = rows held.
   QC_TXN_CONSUME: the session's owned row (table unused) is removed at
     commit; the session leaves owner mode.
   Nothing is written before qc_txn_end. */
int  qc_txn_stage(uint64_t session, int op, uint64_t table, const unsigned char *buf,
                  const uint32_t *lens, const uint64_t *ids, int n, uint64_t limit,
                  uint64_t *count, qc_err *e);
/* Savepoints (SAVEPOINT, and each statement of a transaction):
   QC_SP_SET stores a new mark in *mark; QC_SP_ROLLBACK undoes what was
   staged after *mark (held rows go back to the queue) and forgets later
   marks; QC_SP_RELEASE forgets *mark; QC_SP_STMT (a statement's mark)
   forgets *mark unless it is 0 and stores a new mark in *mark. */
int  qc_txn_savepoint(uint64_t session, int op, uint64_t *mark);
/* Ends the session's transaction: QC_TXN_PREPARE (xid: the server's
   transaction id, serialized, at most 256 bytes) writes its rows and
   removals durably as prepared; QC_TXN_COMMIT (one-phase, or after a
   prepare) and QC_TXN_ROLLBACK apply or drop them. Only r->done, r->arg,
   r->rc and r->err are used. Returns QC_OK or an error when finished (done
   is not called), QC_PENDING when done(arg) will be called once with
   r->rc set. No transaction: QC_OK. QC_TXN_COMMIT_NOSYNC is QC_TXN_COMMIT
   where a prepared transaction's commit is acknowledged before it is
   durable: only when the server's binary log coordinates (it commits the
   transaction again at recovery until its commit checkpoint, which calls
   qc_admin QC_ADMIN_SYNC). */
int  qc_txn_end(uint64_t session, int op, const unsigned char *xid, size_t xidlen,
                qc_request *r);
/* QC_XA_COMMIT / QC_XA_ROLLBACK (session unused): commit or roll back the
   prepared transaction xid that no session holds (recovered, or its
   connection has gone), like QC_TXN_COMMIT / QC_TXN_ROLLBACK; QC_ENOENT
   if unknown. The list of prepared transactions is qc_admin's
   QC_ADMIN_XA_RECOVER. */

/* --- administration ---
   QC_ADMIN_STATS: queue_stats() text of the table at path (QC_ENOENT if
   unknown); QC_ADMIN_COMPACT: compact it (no text); QC_ADMIN_STATUS: SHOW
   ENGINE QUEUE STATUS text of the library and its tables (path unused).
   Text goes to buf (cap bytes, NUL-terminated), its length to *len;
   QC_ERANGE if it does not fit.
   QC_ADMIN_COUNTERS: a qc_counters into buf (path unused); *len =
   sizeof(qc_counters), QC_ERANGE if cap is smaller.
   QC_ADMIN_TABLES: an array of qc_table_info into buf (path unused); *len =
   the bytes of the whole array, QC_ERANGE if cap is smaller.
   QC_ADMIN_CHECK / QC_ADMIN_CHECK_QUICK (CHECK TABLE), QC_ADMIN_REPAIR
   (REPAIR TABLE), QC_ADMIN_OPTIMIZE (OPTIMIZE TABLE): the table at path;
   a table whose recovery fails is checked or repaired from its files. The
   text is one line per message, "<level>\t<message>\n" with level error,
   warning or status, cut to fit buf (a last line says how many were left
   out; never QC_ERANGE). Returns QC_OK, or QC_ECORRUPT when a check found
   errors or a repair could not make the table valid (text filled in both
   cases); other errors as usual.
   QC_ADMIN_LOG (path unused): the next error-log line the library has for
   the server, "<level>\t<message>" with level 1 error, 2 warning, 3 note;
   QC_EOF when there is none. The library calls notify(0) (token 0 is never
   a connection's) when lines are waiting; the handler then takes them all.
   Lines are written only for what normal operation does not produce. */
/* QC_ADMIN_DROP: drop the table at path (missing is OK).
   QC_ADMIN_RENAME: rename the table at path to the path in buf (cap bytes,
   NUL-terminated); QC_EEXIST if that exists.
   QC_ADMIN_TRUNCATE (path unused): empty the open table whose handle is
   the uint64_t in buf (cap 8); row ids restart at 1.
   QC_ADMIN_XA_RECOVER (path unused; recovery): opens every queue table of
   the data directory and lists the prepared transactions not listed
   before into buf as records (2-byte little-endian length, xid bytes):
   at most cap / QC_XA_RECORD_MAX records, so that a buffer of k *
   QC_XA_RECORD_MAX bytes never gets more than k; *len = the bytes
   written. Those not listed are listed by the next call. */
/* QC_ADMIN_SYNC (path, buf unused): makes every commit acknowledged before
   its fdatasync (QC_TXN_COMMIT_NOSYNC) durable, in every open table. */
/* QC_ADMIN_COPIED: an ALTER's table copy (path unused): buf holds uint64_t
   values {src table handle, dst table handle, then per run: old first id,
   new first id, count}, cap their size in bytes; dst holds the rows of
   src in these runs. The next rename of src moves the ownerships of copied
   rows to their copies (kept when dst is then renamed to src's former
   name). */
int  qc_admin(int op, const char *path, char *buf, size_t cap, size_t *len, qc_err *e);

#endif /* QC_TYPES_ONLY */

#ifdef __cplusplus
}
#endif
#endif
