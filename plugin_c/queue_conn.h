/*
  queue_conn.h: per-connection state shared by the storage engine handler
  (ha_queue.cc) and the SQL functions (udf/queue_udf.cc), both in ha_queue.so.

  A Queue_conn is created lazily by the first handler call or SQL function
  that needs it, stored with thd_set_ha_data(thd, queue_hton, conn), and
  freed in the handlerton's close_connection, which first frees the Go
  session (qc_session_free returns an owned row to the queue).

  Owner mode lives here too: queue_wait's one call into the library
  (qc_wait, or qc_wait_end after a wait) returns the owned row's image,
  which is kept in the connection, so the owner-mode SELECT that follows
  reads it without entering Go. The image is valid while the owned row's
  table reports the same owner_epoch as at the take (the library changes
  it when anyone but the owner ends an ownership); otherwise the handler
  asks the library.

  Waiting (queue_wait): the SQL function calls qc_wait with
  token = (uint64_t)(uintptr_t) conn. When it returns QC_PENDING the
  function waits on conn->cond under conn->mutex (thd_enter_cond, so KILL and
  shutdown wake it) until conn->notified is set, the deadline passes or the
  query is killed, then calls qc_wait_end. The Go library calls
  queue_notify(token) from a Go thread: it locks conn->mutex, sets notified,
  signals conn->cond. No qc_* function is ever called with conn->mutex held
  (lock order: Go's locks, then conn->mutex).

  Durable operations (INSERT, DELETE, queue_end and queue_wait's consume
  step) wait for the group commit in C and do not enter Go: qc_submit is
  plain C that queues the request for the library; the thread sleeps on a
  Queue_done until the committer has written the result and called
  queue_done_signal after the fdatasync. The sleep ignores KILL: an
  acknowledgement must not be lost (durability first; the wait is one
  fsync long) and the request must outlive the signal. It cannot hang: the
  library completes every queued request, on failure and on close too.
*/
#ifndef QUEUE_CONN_H
#define QUEUE_CONN_H

#include <string>
#include <vector>
#include "queue_core.h"

class THD;
struct handlerton;

/* The owned row of a connection in owner mode. Only the connection's own
   thread reads or writes it. */
struct Queue_owned
{
  bool owner_mode;       /* between queue_wait and queue_end/abort/failure */
  uint64_t table_id;     /* the owned row's table, 0: no row, or not cached */
  uint64_t epoch;        /* that table's owner_epoch at the take */
  bool maybe_row;        /* table_id 0 but a row may be owned: ask the library */
  std::string db, table; /* names of the table queue_wait took the row from */
  qc_row row;            /* image and id (buf from malloc) */
};

/* A relay mark armed by queue_set_srcid for the connection's next INSERT. */
struct Queue_relay
{
  int slot;
  char mode;             /* 0 (none), 'a' or 'w' */
  uint64_t rowid;
};

/* The one-statement consume, SELECT ... FROM t WHERE queue_wait(...): the
   WHERE is a constant the server evaluates once before it reads t, which
   then shows the row queue_wait took (owner mode). Any further evaluation
   in the same statement returns the first result: query_id ties the
   fields to one statement. */
struct Queue_one_stmt
{
  unsigned long long query_id;   /* statement of result/is_null */
  long long result;
  bool is_null;
  /* queue_wait_init saw the one-statement form in this statement: the
     handler then never reports fewer than 2 rows (ha_queue::info). */
  unsigned long long init_query_id;
};

/* The connection's part in a transaction (queue_txn.cc). Only the
   connection's own thread uses it. */
struct Queue_txn
{
  bool active;           /* something staged since the last commit/rollback */
  bool took;             /* a queue_wait of the transaction took a row */
  bool lazy_commit;      /* prepared under a server XID with the binary log
                            coordinating: its commit need not be synced */
  unsigned long long stmt_query_id; /* statement of stmt_mark, 0: none */
  uint64_t stmt_mark;    /* the library's savepoint at that statement's start */
};

/* An ALTER's table copy run by this connection: the old table's handler
   (rnd_next) logs the ids it reads, the new table's handler
   (flush_inserts) pairs them with the ids its appends got, in order (the
   server writes each row it reads, in read order, unless the ALTER has an
   ORDER BY), and end_bulk_insert hands the pairs to the library
   (qc_admin QC_ADMIN_COPIED), which moves the ownerships of copied rows to their
   copies when the ALTER renames the old table away. */
struct Queue_copy
{
  uint64_t src= 0;              /* the old table's handle, 0: no copy */
  unsigned long long query_id= 0; /* the ALTER statement src belongs to */
  bool broken= false;           /* pairing unknown: nothing is registered */
  std::vector<uint64_t> pending; /* ids read from src, not yet paired */
  std::vector<uint64_t> runs;   /* {old first id, new first id, count}... */
  void reset(uint64_t from, unsigned long long query, bool unknown)
  {
    src= from;
    query_id= query;
    broken= unknown;
    pending.clear();
    runs.clear();
  }
};

struct Queue_conn
{
  uint64_t session;      /* qc session handle, 0 until created */
  mysql_mutex_t mutex;   /* guards notified */
  mysql_cond_t cond;     /* signalled by queue_notify and by kill_query */
  bool notified;
  Queue_owned owned;
  Queue_relay relay;
  Queue_one_stmt one_stmt;
  Queue_txn txn;
  Queue_copy copy;
};

extern handlerton *queue_hton;

/* The connection's queue_wait_in_order (session variable). */
bool queue_thd_wait_in_order(THD *thd);

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

/*
  Completion of one durable request, on the waiting thread's stack. The
  library writes the request's results before calling queue_done_signal.

  state is a private futex word: QUEUE_DONE_PENDING until the committer
  completes req, QUEUE_DONE_SLEEPING once the waiter has gone to sleep on
  it, QUEUE_DONE_DONE after completion. A futex rather than a mutex and
  condition variable: a waiter woken by a signal sent under the mutex
  often ran into the still-held mutex and slept a second time (about one
  waiter in ten with 16 consumers on two cores). The signalling side
  makes one atomic exchange, and a wake only if the waiter sleeps.

  The waiter may see QUEUE_DONE_DONE and return (destroying the struct)
  before the committer's wake; that wake then lands on whatever futex word
  reuses the address, and every futex user (glibc's mutexes, conditions
  and semaphores, the Go runtime, this wait) treats a wake as possibly
  spurious and checks its word again.
*/
enum { QUEUE_DONE_PENDING= 0, QUEUE_DONE_DONE= 1, QUEUE_DONE_SLEEPING= 2 };

struct Queue_done
{
  qc_request req;
  int state;

  Queue_done(int kind);
  /* Submits req and waits for its completion (not interruptible); returns
     its status. thd may be NULL (no thread-pool notification). */
  int run(THD *thd);
  /* Waits for a request the library accepted (QC_PENDING). */
  int wait(THD *thd);
};

/* Durable append / removal / queue_end (same results as the requests).
   Must not be called with any Queue_conn mutex held. */
int queue_durable_append(THD *thd, Queue_conn *conn, uint64_t table,
                         const unsigned char *buf, const uint32_t *lens,
                         int nrows, uint64_t *first_id, qc_err *e);
int queue_durable_remove(THD *thd, uint64_t table, const uint64_t *ids, int n,
                         uint64_t *removed, qc_err *e);
int queue_durable_end(THD *thd, Queue_conn *conn, qc_err *e);

/* Stores what qc_wait/qc_wait_end returned as the connection's owned row. */
void queue_conn_own(Queue_conn *conn, const qc_owned &got,
                    const std::string &db, const std::string &table);
/* Leaves owner mode in the connection's state (the library's is left by
   the call that ended it). */
void queue_conn_leave(Queue_conn *conn);

/* Frees thd's Queue_conn (handlerton close_connection; the server resets
   the ha_data pointer afterwards). */
void queue_conn_free(THD *thd);

/* Wakes thd's pending wait, if any (handlerton kill_query; called with the
   victim's LOCK_thd_data held, so it only signals). */
void queue_conn_kill(THD *thd);

#endif
