/*
  queue_core.h: the C ABI of libqueue_core.so (Go, package engine) used by
  ha_queue.so (the storage engine handler and the SQL functions).

  Rules:
  - Handles are uint64_t, 0 is never valid. They index a registry on the Go
    side; a stale handle gives QC_EBADF, never a crash.
  - Every function returns an int status (QC_OK = 0, errors < 0, a few
    positive "soft" results documented per function). Results go to
    out-parameters. Payloads are copied into caller buffers.
  - Functions that can fail with a message take a qc_err*, which may be NULL;
    the message is NUL-terminated and truncated to fit.
  - A Go panic inside any function is recovered and reported as QC_EPANIC.
  - No function blocks for long except the synchronous durable ones
    (append, remove, end, wait_begin's consume step), which wait for one
    group fsync inside Go. Their *_async forms wait in C instead: the call
    queues the request (without entering Go) and returns QC_PENDING; after
    the fsync the library writes the result into the caller's memory and
    calls done(arg) once.
    Waiting for rows happens in C too: qc_wait_begin registers, the notify callback
    signals, qc_wait_end collects the result.

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

#define QC_ABI_VERSION 1

/* status codes */
#define QC_OK         0
#define QC_EOF        1   /* end of a scan */
#define QC_PENDING    2   /* qc_wait_begin: registered, wait for notify */
#define QC_SKIPPED    3   /* qc_append: relay duplicate, nothing written (success) */
#define QC_ERR       -1   /* unspecified */
#define QC_EBADF     -2   /* unknown/stale handle */
#define QC_ENOENT    -3   /* table or row does not exist */
#define QC_EEXIST    -4   /* table exists */
#define QC_EIO       -5   /* I/O error; table read-only until reopened */
#define QC_ENOSPC    -6   /* disk full; nothing acknowledged lost */
#define QC_ETOOBIG   -7   /* row or statement too large */
#define QC_EINVAL    -8   /* bad argument (condition syntax, relay slot, ...) */
#define QC_ECORRUPT  -9   /* corrupt table file (message has file and offset) */
#define QC_EPANIC   -10   /* internal error (recovered panic) */
#define QC_ECLOSED  -11   /* table dropped/closed */
#define QC_ERANGE   -12   /* caller buffer too small; *len has the needed size */
#define QC_ESTATE   -13   /* wrong state (e.g. not in owner mode) */

typedef struct qc_err { char msg[512]; } qc_err;

/* One column, as the handler stores it in a row payload (see docs/FORMAT.md,
   "Row payload"). Used by conditions; recorded with the table at create. */
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

typedef struct qc_table_info {
  uint64_t rows;          /* live rows (owned included), or 0/1 in owner mode */
  uint64_t data_bytes;    /* bytes on disk */
  uint64_t free_bytes;    /* bytes of removed rows not yet reclaimed */
  uint64_t avg_row;       /* mean payload bytes */
  int64_t  create_time;   /* unix seconds */
  int64_t  update_time;   /* unix seconds, 0 if never */
} qc_table_info;

typedef void (*qc_notify_fn)(uint64_t token);

/* Completion of an asynchronous durable operation (qc_*_async): called once
   from a Go thread (no THD, no core lock held) after the group commit's
   fdatasync or its failure. It must only signal the waiting thread: lock a
   mutex, set a flag, signal a condition, unlock. */
typedef void (*qc_done_fn)(void *arg);

/* The Go side includes this header with QC_TYPES_ONLY defined: cgo declares
   the exported functions itself (with non-const pointers, the same ABI). */
#ifndef QC_TYPES_ONLY

/* --- library --- */
int  qc_abi_version(void);
/* Idempotent (the Go library is never unloaded). notify is called from a Go
   thread (no THD) when a pending wait got a row or must re-check. */
int  qc_init(qc_notify_fn notify);
/* Closes every table (checkpoint), for plugin deinit. */
int  qc_shutdown(void);
/* Number of live handles of all kinds (leak checks in tests). */
int  qc_handle_count(void);

/* --- tables (handler) --- */
int  qc_table_create(const char *path, const qc_column *cols, int ncols, qc_err *e);
int  qc_table_drop(const char *path, qc_err *e);          /* missing is OK */
int  qc_table_rename(const char *from, const char *to, qc_err *e);
int  qc_table_open(const char *path, uint64_t *table, qc_err *e);  /* refcounted */
int  qc_table_close(uint64_t table);
int  qc_table_truncate(uint64_t table, qc_err *e);         /* row ids restart at 1 */
int  qc_table_info_get(uint64_t table, uint64_t session, qc_table_info *out);

/* Append nrows rows stored back to back in buf (lens[i] bytes each), durably.
   If session has an armed relay mark (qc_set_srcid) it applies and is
   disarmed. Returns QC_OK, QC_SKIPPED, or an error. */
int  qc_append(uint64_t table, uint64_t session, const unsigned char *buf,
               const uint32_t *lens, int nrows, uint64_t *first_id, qc_err *e);
/* Durable removal; already-removed ids are ignored. */
int  qc_remove(uint64_t table, const uint64_t *ids, int n, uint64_t *removed, qc_err *e);

/* Asynchronous forms of qc_append, qc_remove and qc_end: the server's
   threads wait for the fsync in C, and these calls do not enter Go at all
   (plain C in the library, engine/intake.c: they queue the request for a Go
   goroutine and return).
   QC_PENDING: queued. Then exactly once, from a Go thread, after the fsync
   or the failure (also for argument errors, a stale handle, a table closed
   or dropped meanwhile, or nothing to do), the library writes the
   synchronous call's status to *rc (QC_OK, QC_SKIPPED or an error, with its
   message in e), *first_id / *removed (when not NULL, on success), and
   calls done(arg). All of these and the row/id buffers must stay valid
   until done has been called, so the caller waits for it even when the
   query is killed. Any other return value (QC_EINVAL for a NULL done or rc,
   QC_ERR out of memory) is final: nothing is written and done is never
   called. */
int  qc_append_async(uint64_t table, uint64_t session, const unsigned char *buf,
                     const uint32_t *lens, int nrows, qc_done_fn done, void *arg,
                     int *rc, uint64_t *first_id, qc_err *e);
int  qc_remove_async(uint64_t table, const uint64_t *ids, int n, qc_done_fn done,
                     void *arg, int *rc, uint64_t *removed, qc_err *e);
/* The session still owns the row until done; by then it has left owner
   mode (and given the row back on failure). The session must not be used
   before done. */
int  qc_end_async(uint64_t session, qc_done_fn done, void *arg, int *rc,
                  qc_err *e);

int  qc_delete_begin(uint64_t table);  /* non-owner DELETE interlock (counter) */
int  qc_delete_end(uint64_t table);

/* Scans: rows visible to session (0 = none) in row-id order. */
int  qc_scan_open(uint64_t table, uint64_t session, uint64_t *cursor);
/* Every live row, owned ones included, whatever the session's mode: for
   copying a table (ALTER TABLE), so a row a consumer owns is not lost. */
int  qc_scan_open_copy(uint64_t table, uint64_t *cursor);
/* QC_OK with *len bytes copied and *id set; QC_EOF at the end; QC_ERANGE if
   cap is too small (*len = needed; call again with a bigger buffer: the same
   row is returned). */
int  qc_scan_next(uint64_t cursor, unsigned char *buf, size_t cap, size_t *len, uint64_t *id,
                   qc_err *e);
int  qc_scan_close(uint64_t cursor);
/* Row by id (rnd_pos); QC_ENOENT if removed; QC_ERANGE as above. */
int  qc_get(uint64_t table, uint64_t id, unsigned char *buf, size_t cap, size_t *len, qc_err *e);

/* --- sessions (one per connection; SQL functions) --- */
int  qc_session_new(uint64_t *session);
/* Releases the owned row (counted as restored_by_close) and frees. */
int  qc_session_free(uint64_t session);
int  qc_owner_mode(uint64_t session);   /* 1 or 0, or error */

/* queue_wait, first half: consume the owned row durably, then take the
   oldest eligible row of paths[0..n) with conds[i] (NULL or "" = all rows).
   QC_OK: *idx is the 0-based index of the spec that produced a row.
   QC_PENDING: registered; notify(token) will be called once (row assigned,
   or a table went away); then or on timeout/KILL call qc_wait_end.
   Errors (owner mode left): QC_ENOENT (not a queue table), QC_EINVAL
   (condition error; message has the position), QC_EIO ... */
int  qc_wait_begin(uint64_t session, const char *const *paths, const char *const *conds,
                   int n, uint64_t token, int *idx, qc_err *e);
/* queue_wait, second half: unregister; *idx = index of the spec whose row was
   assigned, or -1 (timeout: owner mode without a row, counted as
   wait_timeout). After it returns notify(token) is never called again. */
int  qc_wait_end(uint64_t session, int *idx);
/* queue_end: consume the owned row durably, leave owner mode. */
int  qc_end(uint64_t session, qc_err *e);
/* queue_abort: QC_ESTATE outside owner mode; else release the row to its
   original position and leave owner mode. */
int  qc_abort(uint64_t session);
/* queue_rowid: QC_ESTATE outside owner mode; *has_row=0 when owning nothing. */
int  qc_rowid(uint64_t session, uint64_t *id, int *has_row);
/* queue_set_srcid: arms the session's next append. mode 'a' or 'w'.
   QC_EINVAL for a bad slot (0..63) or mode. */
int  qc_set_srcid(uint64_t session, int slot, char mode, uint64_t rowid);
/* The table a path names, and its owned-row state, for privilege checks and
   owner-mode scans: the path of the owned row's table (empty if none). */
int  qc_owned_path(uint64_t session, char *buf, size_t cap);

/* --- administration --- */
/* queue_stats(): the 9-line text; QC_ENOENT for an unknown table. */
int  qc_stats_text(const char *path, char *buf, size_t cap, size_t *len);
int  qc_compact(const char *path, qc_err *e);
/* SHOW ENGINE QUEUE STATUS text. */
int  qc_engine_status(char *buf, size_t cap, size_t *len);

#endif /* QC_TYPES_ONLY */

#ifdef __cplusplus
}
#endif
#endif
