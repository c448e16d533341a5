/*
  queue_conn.h: per-connection state shared by the storage engine handler
  (ha_queue.cc) and the SQL functions (udf/queue_udf.cc), both in ha_queue.so.

  A Queue_conn is created lazily by the first handler call or SQL function
  that needs it, stored with thd_set_ha_data(thd, queue_hton, conn), and
  freed in the handlerton's close_connection, which first frees the Go
  session (qc_session_free returns an owned row to the queue).

  Waiting (queue_wait): the SQL function calls qc_wait_begin with
  token = (uint64_t)(uintptr_t) conn. When it returns QC_PENDING the
  function waits on conn->cond under conn->mutex (thd_enter_cond, so KILL and
  shutdown wake it) until conn->notified is set, the deadline passes or the
  query is killed, then calls qc_wait_end. The Go library calls
  queue_notify(token) from a Go thread: it locks conn->mutex, sets notified,
  signals conn->cond. No qc_* function is ever called with conn->mutex held
  (lock order: Go's locks, then conn->mutex).

  Durable operations (INSERT, DELETE, queue_end and queue_wait's consume
  step) wait for the group commit in C too, and do not enter Go at all:
  queue_durable_* call the library's *_async function (plain C that queues
  the request for the library's intake goroutine) with a completion struct
  on the caller's stack
  and sleep on its condition variable until the committer has written the
  result into it and called queue_done_signal after the fdatasync. The
  sleep ignores KILL: an acknowledgement must not be lost
  (durability first; the wait is one fsync long) and the stack struct must
  outlive the signal. It cannot hang: the library completes every queued
  request, on failure and on close too.
*/
#ifndef QUEUE_CONN_H
#define QUEUE_CONN_H

#include "queue_core.h"

class THD;
struct handlerton;

struct Queue_conn
{
  uint64_t session;      /* qc session handle, 0 until created */
  mysql_mutex_t mutex;   /* guards notified */
  mysql_cond_t cond;     /* signalled by queue_notify and by kill_query */
  bool notified;
};

extern handlerton *queue_hton;

/* True between the engine's init and deinit. The SQL functions may outlive
   UNINSTALL SONAME (their own dlopen handle keeps the code mapped), so they
   check this before touching any engine state. */
bool queue_engine_ready();

/* The connection's state; with create=true it is created (and the Go session
   with it) if missing. NULL on out-of-memory or when create=false and none
   exists. Must not be called with any Queue_conn mutex held. */
Queue_conn *queue_conn_get(THD *thd, bool create);

/* The path the handler and the Go library use for table db.name:
   "./db/name" with the server's filename encoding (build_table_filename).
   Returns the length, 0 if it does not fit. */
size_t queue_table_path(char *buf, size_t len, const char *db, const char *name);

/* The callback given to qc_init: wakes the connection whose Queue_conn
   address is token. Runs on a Go thread (no THD); only locks conn->mutex. */
extern "C" void queue_notify(uint64_t token);

/* qc_append, qc_remove and qc_end with the wait for the fsync done in C
   (same results). thd may be NULL (no thread-pool notification). Must not
   be called with any Queue_conn mutex held. */
int queue_durable_append(THD *thd, uint64_t table, uint64_t session,
                         const unsigned char *buf, const uint32_t *lens,
                         int nrows, uint64_t *first_id, qc_err *e);
int queue_durable_remove(THD *thd, uint64_t table, const uint64_t *ids, int n,
                         uint64_t *removed, qc_err *e);
int queue_durable_end(THD *thd, uint64_t session, qc_err *e);

/* Frees thd's Queue_conn (handlerton close_connection; the server resets
   the ha_data pointer afterwards). */
void queue_conn_free(THD *thd);

/* Wakes thd's pending wait, if any (handlerton kill_query; called with the
   victim's LOCK_thd_data held, so it only signals). */
void queue_conn_kill(THD *thd);

#endif
