/*
  queue_conn.cc: per-connection state (see queue_conn.h for the protocol).
*/
#define MYSQL_SERVER 1
#include <my_global.h>
#include <mysql/plugin.h>
#include "sql_class.h"
#include "sql_table.h"          // build_table_filename
#include "queue_conn.h"

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

extern "C" void queue_notify(uint64_t token)
{
  Queue_conn *conn= reinterpret_cast<Queue_conn*>(static_cast<uintptr_t>(token));
  if (!conn)
    return;
  mysql_mutex_lock(&conn->mutex);
  conn->notified= true;
  mysql_cond_broadcast(&conn->cond);
  mysql_mutex_unlock(&conn->mutex);
}

/*
  Completion of one durable operation, on the waiting thread's stack. The
  library writes rc (and the caller's other out-parameters) before calling
  queue_done_signal. mutex guards done. Plain pthread objects: the
  signalling side runs on a Go thread and touches nothing after unlocking
  (the waiter may return and destroy the struct right then, which POSIX
  allows once it has seen done under the mutex).
*/
namespace {
struct Queue_done
{
  pthread_mutex_t mutex;
  pthread_cond_t cond;
  bool done;
  int rc;

  Queue_done() : done(false), rc(QC_ERR)
  {
    pthread_mutex_init(&mutex, nullptr);
    pthread_cond_init(&cond, nullptr);
  }
  ~Queue_done()
  {
    pthread_cond_destroy(&cond);
    pthread_mutex_destroy(&mutex);
  }
};
}

/* The qc_done_fn: runs on the table's committer (a Go thread, no THD). */
extern "C" void queue_done_signal(void *arg)
{
  Queue_done *d= static_cast<Queue_done*>(arg);
  pthread_mutex_lock(&d->mutex);
  d->done= true;
  pthread_cond_signal(&d->cond);
  pthread_mutex_unlock(&d->mutex);
}

/*
  Ends an *_async call: for QC_PENDING waits (not interruptible, see
  queue_conn.h) for the committer's signal and returns the status it wrote;
  any other rc is already final.
*/
static int await_durable(THD *thd, int rc, Queue_done *d)
{
  if (rc != QC_PENDING)
    return rc;
  pthread_mutex_lock(&d->mutex);
  if (!d->done)
  {
    /* Lets a thread pool run other connections meanwhile. */
    if (thd)
      thd_wait_begin(thd, THD_WAIT_DISKIO);
    while (!d->done)
      pthread_cond_wait(&d->cond, &d->mutex);
    pthread_mutex_unlock(&d->mutex);
    if (thd)
      thd_wait_end(thd);
  }
  else
    pthread_mutex_unlock(&d->mutex);
  return d->rc;
}

int queue_durable_append(THD *thd, uint64_t table, uint64_t session,
                         const unsigned char *buf, const uint32_t *lens,
                         int nrows, uint64_t *first_id, qc_err *e)
{
  Queue_done d;
  int rc= qc_append_async(table, session, buf, lens, nrows, queue_done_signal,
                          &d, &d.rc, first_id, e);
  return await_durable(thd, rc, &d);
}

int queue_durable_remove(THD *thd, uint64_t table, const uint64_t *ids, int n,
                         uint64_t *removed, qc_err *e)
{
  Queue_done d;
  int rc= qc_remove_async(table, ids, n, queue_done_signal, &d, &d.rc, removed, e);
  return await_durable(thd, rc, &d);
}

int queue_durable_end(THD *thd, uint64_t session, qc_err *e)
{
  Queue_done d;
  int rc= qc_end_async(session, queue_done_signal, &d, &d.rc, e);
  return await_durable(thd, rc, &d);
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
