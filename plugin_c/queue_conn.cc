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
