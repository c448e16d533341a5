/*
  queue_conn.cc: per-connection state (see queue_conn.h for the protocol).
*/
#define MYSQL_SERVER 1
#include <my_global.h>
#include <mysql/plugin.h>
#include "sql_class.h"
#include "sql_table.h"          // build_table_filename
#include "queue_conn.h"
#include "queue_txn.h"
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

Queue_conn *queue_conn_get(THD *thd, bool create)
{
  if (!thd || !queue_hton)
    return nullptr;
  Queue_conn *conn= static_cast<Queue_conn*>(thd_get_ha_data(thd, queue_hton));
  if (conn || !create)
    return conn;
  uint64_t session= 0;
  if (qc_session_new(&session) != QC_OK)
    return nullptr;
  conn= new (std::nothrow) Queue_conn;
  if (!conn)
  {
    qc_session_free(session);
    return nullptr;
  }
  conn->session= session;
  conn->notified= false;
  conn->owned.owner_mode= false;
  conn->owned.table_id= 0;
  conn->owned.epoch= 0;
  conn->owned.maybe_row= false;
  memset(&conn->owned.row, 0, sizeof(conn->owned.row));
  conn->relay.slot= 0;
  conn->relay.mode= 0;
  conn->relay.rowid= 0;
  conn->one_stmt.query_id= 0;
  conn->one_stmt.result= 0;
  conn->one_stmt.is_null= true;
  conn->one_stmt.init_query_id= 0;
  memset(&conn->txn, 0, sizeof(conn->txn));
  mysql_mutex_init(0, &conn->mutex, MY_MUTEX_INIT_FAST);
  mysql_cond_init(0, &conn->cond, nullptr);
  /* Also locks the engine plugin until close_connection (guide §2.2). */
  thd_set_ha_data(thd, queue_hton, conn);
  return conn;
}

void queue_conn_free(THD *thd)
{
  Queue_conn *conn= static_cast<Queue_conn*>(thd_get_ha_data(thd, queue_hton));
  if (!conn)
    return;
  /* Returns an owned row to the queue; afterwards notify is never called
     with this conn as token (qc_session_free cancels a pending wait). */
  qc_session_free(conn->session);
  /* The server clears the pointer and releases the engine lock after
     close_connection returns; doing it here could free the handlerton of
     an uninstalled engine while the server still uses it. */
  mysql_cond_destroy(&conn->cond);
  mysql_mutex_destroy(&conn->mutex);
  free(conn->owned.row.buf);
  delete conn;
}

void queue_conn_kill(THD *thd)
{
  Queue_conn *conn= static_cast<Queue_conn*>(thd_get_ha_data(thd, queue_hton));
  if (!conn)
    return;
  mysql_mutex_lock(&conn->mutex);
  mysql_cond_broadcast(&conn->cond);
  mysql_mutex_unlock(&conn->mutex);
}

/* Token 0: the library has error-log lines (QC_ADMIN_LOG). */
static void queue_write_log()
{
  char line[1024];
  size_t len= 0;
  while (qc_admin(QC_ADMIN_LOG, nullptr, line, sizeof(line), &len, nullptr) == QC_OK)
  {
    const char *msg= strchr(line, '\t');
    msg= msg ? msg + 1 : line;
    switch (line[0]) {
    case '1': sql_print_error("%s", msg); break;
    case '2': sql_print_warning("%s", msg); break;
    default:  sql_print_information("%s", msg); break;
    }
  }
}

extern "C" void queue_notify(uint64_t token)
{
  Queue_conn *conn= reinterpret_cast<Queue_conn*>(static_cast<uintptr_t>(token));
  if (!conn)
  {
    queue_write_log();
    return;
  }
  /* The broadcast follows the unlock, so that the woken thread does not
     run into the mutex still held here and sleep again. conn outlives the
     call: the library calls notify under the waiter's lock that
     qc_wait_end takes before it returns (no notify after it). */
  mysql_mutex_lock(&conn->mutex);
  conn->notified= true;
  mysql_mutex_unlock(&conn->mutex);
  mysql_cond_broadcast(&conn->cond);
}

static long futex(int *word, int op, int val)
{
  return syscall(SYS_futex, word, op, val, nullptr, nullptr, 0);
}

/* The qc_done_fn: runs on the table's committer (a Go thread, no THD).
   Nothing of d is touched after the exchange but the futex word's address
   (see Queue_done in queue_conn.h). */
extern "C" void queue_done_signal(void *arg)
{
  Queue_done *d= static_cast<Queue_done*>(arg);
  int *word= &d->state;
  if (__atomic_exchange_n(word, QUEUE_DONE_DONE, __ATOMIC_RELEASE) ==
      QUEUE_DONE_SLEEPING)
    futex(word, FUTEX_WAKE_PRIVATE, 1);
}

Queue_done::Queue_done(int kind) : state(QUEUE_DONE_PENDING)
{
  memset(&req, 0, sizeof(req));
  req.kind= kind;
  req.done= queue_done_signal;
  req.arg= this;
}

int Queue_done::wait(THD *thd)
{
  int s= __atomic_load_n(&state, __ATOMIC_ACQUIRE);
  if (s != QUEUE_DONE_DONE)
  {
    /* Lets a thread pool run other connections meanwhile. */
    if (thd)
      thd_wait_begin(thd, THD_WAIT_DISKIO);
    /* PENDING -> SLEEPING, then sleep while it stays SLEEPING; a failed
       exchange means the committer got there first (DONE). */
    if (s == QUEUE_DONE_SLEEPING ||
        __atomic_compare_exchange_n(&state, &s, QUEUE_DONE_SLEEPING, false,
                                    __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE))
      while (__atomic_load_n(&state, __ATOMIC_ACQUIRE) == QUEUE_DONE_SLEEPING)
        futex(&state, FUTEX_WAIT_PRIVATE, QUEUE_DONE_SLEEPING);
    if (thd)
      thd_wait_end(thd);
  }
  return req.rc;
}

int Queue_done::run(THD *thd)
{
  int rc= qc_submit(&req);
  if (rc != QC_PENDING)
    return rc;
  return wait(thd);
}

static void copy_err(qc_err *e, const Queue_done &d)
{
  if (e)
    memcpy(e, &d.req.err, sizeof(*e));
}

int queue_durable_append(THD *thd, Queue_conn *conn, uint64_t table,
                         const unsigned char *buf, const uint32_t *lens,
                         int nrows, uint64_t *first_id, qc_err *e)
{
  Queue_done d(QC_REQ_APPEND);
  d.req.table= table;
  d.req.buf= buf;
  d.req.lens= lens;
  d.req.n= nrows;
  if (conn && conn->relay.mode)
  {
    /* The armed mark applies to this statement, and only to it. */
    d.req.relay_slot= conn->relay.slot;
    d.req.relay_mode= conn->relay.mode;
    d.req.relay_rowid= conn->relay.rowid;
    conn->relay.mode= 0;
  }
  int rc= d.run(thd);
  if (first_id)
    *first_id= d.req.value;
  copy_err(e, d);
  return rc;
}

int queue_durable_remove(THD *thd, uint64_t table, const uint64_t *ids, int n,
                         uint64_t *removed, qc_err *e)
{
  Queue_done d(QC_REQ_REMOVE);
  d.req.table= table;
  d.req.ids= ids;
  d.req.n= n;
  int rc= d.run(thd);
  if (removed)
    *removed= d.req.value;
  copy_err(e, d);
  return rc;
}

int queue_durable_end(THD *thd, Queue_conn *conn, qc_err *e)
{
  if (queue_txn_active(thd))
  {
    /* The removal commits with the transaction. */
    queue_txn_join(thd, conn);
    int rc= qc_txn_stage(conn->session, QC_TXN_CONSUME, 0, nullptr, nullptr,
                         nullptr, 0, 0, nullptr, e);
    queue_conn_leave(conn);
    return rc;
  }
  Queue_done d(QC_REQ_END);
  d.req.session= conn->session;
  int rc= d.run(thd);
  queue_conn_leave(conn);
  copy_err(e, d);
  return rc;
}

void queue_conn_own(Queue_conn *conn, const qc_owned &got,
                    const std::string &db, const std::string &table)
{
  Queue_owned &o= conn->owned;
  o.owner_mode= true;
  o.table_id= got.idx >= 0 ? got.table_id : 0;
  o.epoch= got.epoch;
  /* A row the library could not return the image of is still owned. */
  o.maybe_row= got.idx >= 0 && got.table_id == 0;
  o.db= got.idx >= 0 ? db : std::string();
  o.table= got.idx >= 0 ? table : std::string();
  o.row= got.row;
}

void queue_conn_leave(Queue_conn *conn)
{
  Queue_owned &o= conn->owned;
  o.owner_mode= false;
  o.table_id= 0;
  o.maybe_row= false;
  o.db.clear();
  o.table.clear();
}

size_t queue_table_path(char *buf, size_t len, const char *db, const char *name)
{
  char tmp[FN_REFLEN + 1];
  if (!buf || !db || !name || len == 0)
    return 0;
  size_t n= build_table_filename(tmp, sizeof(tmp) - 1, db, name, "", 0);
  /* build_table_filename gives "<mysql_data_home>/db/name"; the handler sees
     "./db/name", which is what the Go registry is keyed by. */
  const char *p= tmp;
  size_t home= strlen(mysql_data_home);
  if (home && strncmp(tmp, mysql_data_home, home) == 0)
  {
    p= tmp + home;
    while (*p == '/')
      p++;
    n= my_snprintf(buf, len, "./%s", p);
  }
  else
    n= my_snprintf(buf, len, "%s", p);
  return n + 1 < len ? n : 0;
}
