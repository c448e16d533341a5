/*
  queue_udf.cc: the SQL functions of the queue (classic UDFs in ha_queue.so):
  queue_wait, queue_end, queue_abort, queue_rowid, queue_set_srcid,
  queue_compact and queue_stats. docs/FUNCTIONS.md describes their
  behaviour for users.

  This file only translates: it turns arguments into table paths and
  condition texts, checks privileges, and does the blocking part of
  queue_wait with thd_enter_cond so that KILL and shutdown wake it. Which
  row is taken, who owns what and who is woken is decided by the Go core
  behind engine/queue_core.h.

  Invariants:
  - Every _init checks queue_engine_ready(): the functions stay mapped after
    UNINSTALL SONAME (their own dlopen handle) and must not touch engine
    state then.
  - No qc_* function is called with conn->mutex held (plugin_c/queue_conn.h).
  - A call that returns NULL pushes a warning saying why.
  - An error that fails the statement (access denied, KILL, I/O) goes through
    my_error/my_printf_error and sets *error.
*/
#define MYSQL_SERVER 1
#include <my_global.h>
#include <mysql/plugin.h>
#include "sql_class.h"
#include "sql_parse.h"          // check_table_access
#include "sql_table.h"
#include "sql_error.h"          // push_warning_printf
#include <mysqld_error.h>
#include <mysql_com.h>
#include <string>
#include <vector>
#include "queue_conn.h"
#include "queue_txn.h"
#include "queue_status.h"

/* include/queues.h (pulled in by the server headers) defines queue_end()
   as a macro; the SQL function of that name must win. */
#undef queue_end

/* Longest spec text accepted ("db.table:condition"), as Q4M. */
static const size_t max_spec_len= FN_REFLEN * 2;
/* The cap of any timeout: one year keeps every deadline computation far
   from overflow. With one argument queue_wait waits
   queue_default_wait_timeout seconds (sysvar, default 60 as Q4M). */
static const long long max_timeout_s= 365LL * 24 * 3600;
/* Longest single sleep; the wait re-checks KILL at least this often even
   if a wake-up were lost (the server's KILL and kill_query both signal). */
static const long long wait_slice_s= 1;

static PSI_stage_info stage_waiting_on_queue= { 0, "Waiting on queue", 0 };

static const char not_loaded_msg[]= "the QUEUE storage engine is not loaded";

/* ---------------- helpers ---------------- */

static void warn(THD *thd, const char *fmt, const char *a= "", const char *b= "")
{
  push_warning_printf(thd, Sql_condition::WARN_LEVEL_WARN, ER_UNKNOWN_ERROR,
                      fmt, a, b);
}

/* One resolved "[db.]tbl[:cond]" argument. */
struct Queue_spec
{
  std::string db, table, cond, path;
};

/*
  Splits text (len bytes, not NUL-terminated) at the first ':' and then the
  table part at the first '.', defaults the database to the current one and
  builds the table path. On failure pushes a warning naming fn and returns
  false.
*/
static bool resolve_spec(THD *thd, const char *fn, const char *text, size_t len,
                         bool allow_cond, Queue_spec *out)
{
  if (!text)
  {
    warn(thd, "%s: a table argument is NULL", fn);
    return false;
  }
  std::string s(text, len);
  if (s.size() > max_spec_len)
  {
    warn(thd, "%s: table argument is too long", fn);
    return false;
  }
  if (s.find('\0') != std::string::npos)
  {
    warn(thd, "%s: table argument contains a NUL byte", fn);
    return false;
  }
  size_t colon= s.find(':');
  std::string name= s.substr(0, colon);
  if (colon != std::string::npos)
  {
    if (!allow_cond)
    {
      warn(thd, "%s: a condition is not allowed here: '%s'", fn, s.c_str());
      return false;
    }
    out->cond= s.substr(colon + 1);
    /* "tbl:" is a mistake, not "every row" (Q4M rejects it too). */
    if (out->cond.find_first_not_of(" \t\r\n") == std::string::npos)
    {
      warn(thd, "%s: empty condition after ':' in '%s'", fn, s.c_str());
      return false;
    }
  }
  size_t dot= name.find('.');
  if (dot != std::string::npos)
  {
    out->db= name.substr(0, dot);
    out->table= name.substr(dot + 1);
  }
  else
  {
    if (!thd->db.str || !thd->db.length)
    {
      warn(thd, "%s: No database selected (use db.table): '%s'", fn, name.c_str());
      return false;
    }
    out->db.assign(thd->db.str, thd->db.length);
    out->table= name;
  }
  if (out->db.empty() || out->table.empty())
  {
    warn(thd, "%s: empty database or table name in '%s'", fn, name.c_str());
    return false;
  }
  if (out->db.size() > NAME_LEN || out->table.size() > NAME_LEN)
  {
    warn(thd, "%s: database or table name too long in '%s'", fn, name.c_str());
    return false;
  }
  char path[FN_REFLEN + 1];
  if (!queue_table_path(path, sizeof(path), out->db.c_str(), out->table.c_str()))
  {
    warn(thd, "%s: table path too long for '%s'", fn, name.c_str());
    return false;
  }
  out->path= path;
  return true;
}

/*
  Checks that the current user has every privilege in want on db.table.
  On failure the server's access-denied error is raised (the statement
  fails) and true is returned.
*/
static bool deny_access(THD *thd, privilege_t want, const std::string &db,
                        const std::string &table)
{
  TABLE_LIST tl;
  /* thd's mem_root holds the names for the statement's lifetime; the
     server's checks may keep pointers into them while reporting. */
  char *d= thd->strmake(db.c_str(), db.size());
  char *t= thd->strmake(table.c_str(), table.size());
  if (!d || !t)
    return true;
  LEX_CSTRING dbl= { d, db.size() }, tbl= { t, table.size() };
  tl.init_one_table(&dbl, &tbl, nullptr, TL_READ);
  return check_table_access(thd, want, &tl, false, 1, false);
}

/* The queue session of the connection, created on first use. Raises an
   out-of-memory error and returns NULL on failure. */
static Queue_conn *conn_for(THD *thd)
{
  Queue_conn *conn= queue_conn_get(thd, true);
  if (!conn)
    my_error(ER_OUT_OF_RESOURCES, MYF(0));
  return conn;
}

static const char *qc_text(int rc, const qc_err &e)
{
  /* The library prefixes its messages with "queue: "; ours name the
     function already. */
  static const char prefix[]= "queue: ";
  if (e.msg[0])
    return strncmp(e.msg, prefix, sizeof(prefix) - 1) == 0 ?
           e.msg + sizeof(prefix) - 1 : e.msg;
  switch (rc) {
  case QC_ENOENT:  return "not a queue table";
  case QC_EINVAL:  return "invalid argument";
  case QC_EIO:     return "I/O error";
  case QC_ENOSPC:  return "disk full";
  case QC_ECLOSED: return "table was dropped";
  case QC_ESTATE:  return "not in owner mode";
  default:         return "internal error";
  }
}

/* True when the statement that calls queue_wait reads any table. */
static bool statement_reads_tables(THD *thd)
{
  return thd->lex && thd->lex->query_tables != nullptr;
}

/* True when path names an existing queue table. */
static bool is_queue_table(const std::string &path)
{
  size_t len= 0;
  return qc_admin(QC_ADMIN_STATS, path.c_str(), nullptr, 0, &len, nullptr) != QC_ENOENT;
}

/* The warning for QC_ENOENT from qc_wait: names the first spec whose
   table does not exist or is not a queue table. */
/* Damaged rows the wait's takes skipped (poison messages: never handed
   out): one error-log line and one warning each report, naming the table
   directory, the segment file and the offset. The library cannot write
   the server's error log; it hands the report to us in qc_owned. */
static void report_skipped(THD *thd, const qc_owned &got)
{
  if (got.skipped == 0)
    return;
  sql_print_error("QUEUE: queue_wait skipped a damaged row: %s",
                  got.skipped_msg);
  warn(thd, "queue_wait skipped a damaged row: %s", got.skipped_msg);
}

static void warn_missing_table(THD *thd, const std::vector<Queue_spec> &specs,
                               const qc_err &e)
{
  for (const Queue_spec &s : specs)
    if (!is_queue_table(s.path))
    {
      std::string name= s.db + "." + s.table;
      warn(thd, "queue_wait: table %s does not exist or is not a queue table",
           name.c_str());
      return;
    }
  warn(thd, "queue_wait: %s", qc_text(QC_ENOENT, e));
}

extern "C" {

/* ---------------- queue_wait ---------------- */

my_bool queue_wait_init(UDF_INIT *initid, UDF_ARGS *args, char *msg)
{
  if (!queue_engine_ready())
  {
    snprintf(msg, MYSQL_ERRMSG_SIZE, "%s", not_loaded_msg);
    return 1;
  }
  if (args->arg_count < 1)
  {
    snprintf(msg, MYSQL_ERRMSG_SIZE, "queue_wait(table_name[,timeout]): argument error");
    return 1;
  }
  /*
    A statement that reads tables may call queue_wait only as the
    one-statement consume, SELECT ... FROM t WHERE queue_wait(...) with t a
    queue table and the call the whole WHERE: the call is then a constant
    (its arguments must be constants) that the server evaluates once,
    before it reads t, which shows the row taken (docs/FUNCTIONS.md). A
    table of 0 or 1 rows would be read as a constant before that, so the
    handler reports at least 2 rows in such a statement. Anything else
    (joins, INSERT ... SELECT, a trigger, a WHERE with more conditions,
    which could hide the row taken) is refused here.
  */
  bool one_statement= false;
  /* In a trigger, or in a stored function called by a statement that
     uses tables, current_thd->lex is the routine's statement (often
     without tables) while the calling statement has its tables open: the
     call would run once per row and could hide the row taken. Refused
     like any statement with tables. */
  if (current_thd->in_sub_stmt && current_thd->open_tables)
  {
    snprintf(msg, MYSQL_ERRMSG_SIZE,
             "with tables only as: SELECT ... FROM q WHERE queue_wait(...)");
    return 1;
  }
  if (statement_reads_tables(current_thd))
  {
    THD *thd= current_thd;
    LEX *lex= thd->lex;
    TABLE_LIST *tl= lex->query_tables;
    SELECT_LEX *sel= lex->first_select_lex();
    Item *where= sel ? sel->where : nullptr;
    bool whole_where= where && where->type() == Item::FUNC_ITEM &&
      static_cast<Item_func*>(where)->functype() == Item_func::UDF_FUNC &&
      my_strcasecmp(system_charset_info,
                    static_cast<Item_func*>(where)->func_name_cstring().str,
                    "queue_wait") == 0;
    if (lex->sql_command != SQLCOM_SELECT || tl->next_global || !tl->table ||
        tl->table->file->ht != queue_hton || sel->next_select() || !whole_where)
    {
      /* The server shows at most 80 characters of this message. */
      snprintf(msg, MYSQL_ERRMSG_SIZE,
               "with tables only as: SELECT ... FROM q WHERE queue_wait(...)");
      return 1;
    }
    for (unsigned i= 0; i < args->arg_count; i++)
      if (!args->args[i])
      {
        /* args[i] is set for constant, non-NULL arguments only */
        snprintf(msg, MYSQL_ERRMSG_SIZE,
                 "queue_wait(): arguments must be constants in a SELECT from q");
        return 1;
      }
    Queue_conn *conn= queue_conn_get(thd, true);
    if (!conn)
    {
      snprintf(msg, MYSQL_ERRMSG_SIZE, "out of memory");
      return 1;
    }
    conn->one_stmt.init_query_id= thd->query_id;
    one_statement= true;
  }
  unsigned nspecs= args->arg_count == 1 ? 1 : args->arg_count - 1;
  for (unsigned i= 0; i < nspecs; i++)
    args->arg_type[i]= STRING_RESULT;
  /* The timeout as a DOUBLE: UDF arguments carry no unsigned flag, so as
     INT_RESULT an unsigned value above the signed range (18446744073709551615)
     would arrive negative. */
  if (args->arg_count >= 2)
    args->arg_type[args->arg_count - 1]= REAL_RESULT;
  initid->maybe_null= 1;
  /* Otherwise never a constant: it changes state, and a non-constant
     function in a WHERE would run once per row. */
  initid->const_item= one_statement;
  return 0;
}

void queue_wait_deinit(UDF_INIT *) {}

/*
  Blocks until queue_notify marks conn notified, the deadline passes or the
  query is killed. Returns true if killed.
*/
static bool wait_for_notify(THD *thd, Queue_conn *conn, long long timeout_s)
{
  struct timespec deadline;
  set_timespec(deadline, (ulonglong) timeout_s);
  PSI_stage_info old_stage;
  thd_wait_begin(thd, THD_WAIT_USER_LOCK);
  mysql_mutex_lock(&conn->mutex);
  thd_enter_cond(thd, &conn->cond, &conn->mutex, &stage_waiting_on_queue,
                 &old_stage, __func__, __FILE__, __LINE__);
  while (!conn->notified && thd_kill_level(thd) == THD_IS_NOT_KILLED)
  {
    struct timespec slice;
    set_timespec(slice, (ulonglong) wait_slice_s);
    bool last= cmp_timespec(slice, deadline) >= 0;
    if (last)
      slice= deadline;
    int rc= mysql_cond_timedwait(&conn->cond, &conn->mutex, &slice);
    if (rc == ETIMEDOUT && last)
      break;
  }
  thd_exit_cond(thd, &old_stage, __func__, __FILE__, __LINE__); /* unlocks */
  thd_wait_end(thd);
  return thd_kill_level(thd) != THD_IS_NOT_KILLED;
}

/*
  Consuming a row writes to its table (the removal), so it respects what a
  DELETE respects: the global read lock (FLUSH TABLES WITH READ LOCK),
  BACKUP STAGE and another connection's LOCK TABLES ... WRITE. Before the
  owned row's removal is queued, the connection takes the backup lock for
  a data change (MDL_BACKUP_DML, as a DELETE's open_tables does) and a
  shared-write metadata lock on the owned row's table, and keeps them
  until the removal is durable. The wait for them is bounded by
  lock_wait_timeout (for queue_wait also by its own timeout) and
  interrupted by KILL; on failure the server's error is raised and
  nothing is consumed (the row stays owned). The connection's own FLUSH
  TABLES WITH READ LOCK, BACKUP STAGE or BACKUP LOCK refuse the removal
  with the error a DELETE gets; its own LOCK TABLES ... WRITE satisfies
  the table lock (a context never conflicts with its own locks).
  Only the removal is guarded: taking a row changes nothing on disk, and a
  queue_wait blocked waiting for rows holds no lock (it must not hold off
  FLUSH TABLES WITH READ LOCK, BACKUP STAGE or DDL).
*/
class Consume_locks
{
  THD *thd;
  MDL_ticket *backup= nullptr, *table= nullptr;
public:
  explicit Consume_locks(THD *t) : thd(t) {}
  ~Consume_locks() { release(); }
  /* True (error raised) when the locks could not be had within
     min(lock_wait_timeout, max_wait_s) seconds (max_wait_s < 0: no
     bound of its own). Nothing to lock when the connection owns no row. */
  bool acquire(const Queue_owned &o, long long max_wait_s= -1)
  {
    if (!o.owner_mode || o.table.empty())
      return false;
    if (thd->has_read_only_protection())
      return true;
    double timeout= (double) thd->variables.lock_wait_timeout;
    if (max_wait_s >= 0 && (double) max_wait_s < timeout)
      timeout= (double) max_wait_s;
    MDL_request b;
    MDL_REQUEST_INIT(&b, MDL_key::BACKUP, "", "", MDL_BACKUP_DML, MDL_EXPLICIT);
    if (thd->mdl_context.acquire_lock(&b, timeout))
      return true;
    backup= b.ticket;
    MDL_request t;
    MDL_REQUEST_INIT(&t, MDL_key::TABLE, o.db.c_str(), o.table.c_str(),
                     MDL_SHARED_WRITE, MDL_EXPLICIT);
    if (thd->mdl_context.acquire_lock(&t, timeout))
    {
      release();
      return true;
    }
    table= t.ticket;
    /* A KILL that raced with the grant still stops the removal. */
    if (thd_kill_level(thd) != THD_IS_NOT_KILLED)
    {
      release();
      my_error(ER_QUERY_INTERRUPTED, MYF(0));
      return true;
    }
    return false;
  }
  void release()
  {
    if (table)
      thd->mdl_context.release_lock(table);
    if (backup)
      thd->mdl_context.release_lock(backup);
    table= backup= nullptr;
  }
};

/*
  An error that makes queue_wait return NULL: like Q4M, the connection has
  consumed the row it owned and is no longer in owner mode.
*/
static long long wait_failed(THD *thd, Queue_conn *conn, char *is_null)
{
  qc_err e;
  e.msg[0]= 0;
  Consume_locks locks(thd);
  if (conn && conn->owned.owner_mode && !locks.acquire(conn->owned))
  {
    int rc= queue_durable_end(thd, conn, &e);
    if (rc != QC_OK)
      warn(thd, "queue_wait: consuming the owned row failed: %s", qc_text(rc, e));
  }
  *is_null= 1;
  return 0;
}

/* Gives back what a queue_wait took or registered for, in the library and
   in the connection's state. */
static void abort_wait(Queue_conn *conn)
{
  qc_abort(conn->session);
  queue_conn_leave(conn);
}

static long long wait_once(THD *thd, UDF_ARGS *args, char *is_null, char *error);

long long queue_wait(UDF_INIT *, UDF_ARGS *args, char *is_null, char *error)
{
  THD *thd= current_thd;
  Queue_conn *conn= nullptr;
  bool one_statement= statement_reads_tables(thd);
  if (one_statement)
  {
    /* The one-statement consume: the first evaluation in the statement
       does the work, any other gets its result. */
    conn= conn_for(thd);
    if (!conn)
    {
      *error= 1;
      return 0;
    }
    const Queue_one_stmt &p= conn->one_stmt;
    if (p.query_id == (unsigned long long) thd->query_id)
    {
      *is_null= p.is_null;
      return p.result;
    }
  }
  long long r= wait_once(thd, args, is_null, error);
  if (one_statement)
  {
    conn->one_stmt.query_id= thd->query_id;
    conn->one_stmt.result= r;
    conn->one_stmt.is_null= *is_null || *error;
  }
  return r;
}

/* A wait that a DROP, TRUNCATE or RENAME of one of its tables ended is
   woken from inside that statement, while it still holds the table's
   exclusive metadata lock. Waiting for a shared lock on every table of the
   wait (released at once) makes queue_wait return only once the statement
   has finished, so what the connection runs next sees the table gone,
   emptied or renamed. Bounded by lock_wait_timeout (at most a minute);
   a timeout only returns earlier. True when the connection was killed
   meanwhile (the error is raised). */
static bool wait_for_ddl(THD *thd, const std::vector<Queue_spec> &specs)
{
  double timeout= (double) thd->variables.lock_wait_timeout;
  if (timeout > 60)
    timeout= 60;
  for (const Queue_spec &s : specs)
  {
    MDL_request req;
    MDL_REQUEST_INIT(&req, MDL_key::TABLE, s.db.c_str(), s.table.c_str(),
                     MDL_SHARED_HIGH_PRIO, MDL_EXPLICIT);
    if (thd->mdl_context.acquire_lock(&req, timeout))
    {
      if (thd_kill_level(thd) != THD_IS_NOT_KILLED)
        return true;
      thd->clear_error();       /* timed out: return all the same */
      continue;
    }
    thd->mdl_context.release_lock(req.ticket);
  }
  return false;
}

/* queue_wait's work: consume the owned row, take the next (waiting for
   one up to the timeout). */
static long long wait_once(THD *thd, UDF_ARGS *args, char *is_null, char *error)
{
  queue_count(&queue_fn_counters.wait);
  unsigned nspecs= args->arg_count == 1 ? 1 : args->arg_count - 1;
  long long timeout= (long long) __atomic_load_n(&queue_default_wait_timeout, __ATOMIC_RELAXED);
  if (args->arg_count >= 2)
  {
    const char *t= args->args[args->arg_count - 1];
    if (!t)
    {
      warn(thd, "queue_wait: timeout is NULL, checking once");
      timeout= 0;
    }
    else
    {
      /* Rounded to whole seconds, as a conversion to INT would. */
      double d= *reinterpret_cast<const double*>(t);
      if (d < 0 || d != d)
      {
        warn(thd, "queue_wait: negative timeout, checking once");
        timeout= 0;
      }
      else if (d > (double) max_timeout_s)
      {
        warn(thd, "queue_wait: timeout capped at one year");
        timeout= max_timeout_s;
      }
      else
        timeout= llround(d);
    }
  }

  Queue_conn *conn= conn_for(thd);
  if (!conn)
  {
    *error= 1;
    return 0;
  }

  std::vector<Queue_spec> specs(nspecs);
  for (unsigned i= 0; i < nspecs; i++)
    if (!resolve_spec(thd, "queue_wait", args->args[i], args->lengths[i], true,
                      &specs[i]))
      return wait_failed(thd, conn, is_null);

  /* The one-statement consume returns the row through the table it reads:
     a row taken from another table would be consumed unseen. */
  if (statement_reads_tables(thd))
  {
    TABLE_LIST *tl= thd->lex->query_tables;
    char path[FN_REFLEN + 1];
    if (!queue_table_path(path, sizeof(path), tl->db.str, tl->table_name.str))
      path[0]= 0;
    for (const Queue_spec &s : specs)
      if (s.path != path)
      {
        my_printf_error(ER_UNKNOWN_ERROR,
                        "queue_wait(): SELECT ... FROM %s WHERE queue_wait() may "
                        "wait only on that table, not %s.%s", MYF(0),
                        tl->table_name.str, s.db.c_str(), s.table.c_str());
        *error= 1;
        return 0;
      }
  }

  /* Consuming rows needs SELECT and DELETE on every table named; nothing
     changes hands when that is missing. */
  for (const Queue_spec &s : specs)
    if (deny_access(thd, SELECT_ACL | DELETE_ACL, s.db, s.table))
    {
      *error= 1;
      return 0;
    }

  std::vector<const char*> paths(nspecs), conds(nspecs);
  for (unsigned i= 0; i < nspecs; i++)
  {
    paths[i]= specs[i].path.c_str();
    conds[i]= specs[i].cond.c_str();
  }

  /* Reset before registering: queue_notify may run as soon as the wait
     is registered inside qc_wait. */
  mysql_mutex_lock(&conn->mutex);
  conn->notified= false;
  mysql_mutex_unlock(&conn->mutex);

  /* One call: the owned row's removal is queued (we wait for its fsync
     below, in C) and the next row is taken, its image returned. */
  qc_err e;
  e.msg[0]= 0;
  /* In a transaction the owned row's removal, and the row taken, belong
     to it: the removal commits with it, a rollback gives both back. */
  bool in_txn= queue_txn_active(thd);
  if (in_txn)
  {
    queue_txn_join(thd, conn);
    conn->txn.took= true;
  }
  Queue_done consume(in_txn ? QC_REQ_HOLD : QC_REQ_END);
  consume.req.session= conn->session;
  int consuming= 0;
  qc_owned got;
  memset(&got, 0, sizeof(got));
  got.row= conn->owned.row;
  uint64_t token= (uint64_t) (uintptr_t) conn;
  /* The wait for the consume locks counts against the timeout: the
     wait for rows gets what is left of it. */
  Consume_locks locks(thd);
  ulonglong started_us= microsecond_interval_timer();
  if (locks.acquire(conn->owned, timeout))
  {
    *error= 1;                  /* KILL or a lock timeout: nothing changed */
    return 0;
  }
  long long locked_s= (long long) ((microsecond_interval_timer() - started_us)
                                   / 1000000);
  timeout= locked_s >= timeout ? 0 : timeout - locked_s;
  int flags= queue_thd_wait_in_order(thd) ? QC_WAIT_IN_ORDER : 0;
  int rc= qc_wait(conn->session, paths.data(), conds.data(), (int) nspecs, flags,
                  token, &consume.req, &consuming, &got, &e);
  conn->owned.row= got.row;     /* the buffer, possibly grown */
  if (rc == QC_OK)
    report_skipped(thd, got);
  queue_conn_leave(conn);       /* the previous row is no longer ours */
  int crc= consuming ? consume.wait(thd) : QC_OK;
  locks.release();
  if (crc != QC_OK && crc != QC_ECLOSED && crc != QC_ENOENT)
  {
    /* The previous row was not removed (it is in the queue again): that is
       this statement's failure, and nothing new may stay owned. */
    if (rc == QC_OK || rc == QC_PENDING)
      qc_abort(conn->session);
    warn(thd, "queue_wait: consuming the owned row failed: %s",
         qc_text(crc, consume.req.err));
    *is_null= 1;
    return 0;
  }
  if (rc == QC_OK)
  {
    queue_conn_own(conn, got, specs[got.idx].db, specs[got.idx].table);
    return got.idx + 1;
  }
  if (rc != QC_PENDING)
  {
    if (rc == QC_ENOENT)
      warn_missing_table(thd, specs, e);
    else if (rc == QC_EINVAL)
      warn(thd, "queue_wait: bad condition: %s", qc_text(rc, e));
    else
      warn(thd, "queue_wait: %s", qc_text(rc, e));
    *is_null= 1;
    return 0;
  }

  bool killed= timeout > 0 ? wait_for_notify(thd, conn, timeout)
                           : thd_kill_level(thd) != THD_IS_NOT_KILLED;
  got.row= conn->owned.row;
  rc= qc_wait_end(conn->session, &got, &e);
  conn->owned.row= got.row;
  if (rc == QC_OK)
    report_skipped(thd, got);
  if (killed)
  {
    /* A row assigned in the race with KILL goes back to the queue at its
       position; the connection leaves owner mode either way. */
    abort_wait(conn);
    my_error(ER_QUERY_INTERRUPTED, MYF(0));
    *error= 1;
    return 0;
  }
  if (rc != QC_OK)
  {
    warn(thd, "queue_wait: %s", qc_text(rc, e));
    abort_wait(conn);
    *is_null= 1;
    return 0;
  }
  if (got.idx < 0 && got.ended && wait_for_ddl(thd, specs))
  {
    abort_wait(conn);
    if (!thd->is_error())
      my_error(ER_QUERY_INTERRUPTED, MYF(0));
    *error= 1;
    return 0;
  }
  const Queue_spec &won= specs[got.idx >= 0 ? got.idx : 0];
  queue_conn_own(conn, got, won.db, won.table);
  return got.idx >= 0 ? got.idx + 1 : 0;
}

/* ---------------- queue_end ---------------- */

my_bool queue_end_init(UDF_INIT *initid, UDF_ARGS *, char *msg)
{
  if (!queue_engine_ready())
  {
    snprintf(msg, MYSQL_ERRMSG_SIZE, "%s", not_loaded_msg);
    return 1;
  }
  initid->maybe_null= 0;
  initid->const_item= 0;
  return 0;
}

void queue_end_deinit(UDF_INIT *) {}

/* Checks SELECT and DELETE on the owned row's table, if a row is owned.
   True (error raised) when denied. */
static bool deny_owned_table(THD *thd, Queue_conn *conn)
{
  const Queue_owned &o= conn->owned;
  if (!o.owner_mode || o.table.empty())
    return false;
  return deny_access(thd, SELECT_ACL | DELETE_ACL, o.db, o.table);
}

long long queue_end(UDF_INIT *, UDF_ARGS *, char *, char *error)
{
  queue_count(&queue_fn_counters.end);
  THD *thd= current_thd;
  Queue_conn *conn= queue_conn_get(thd, false);
  if (!conn)
    return 1;                   /* never owned anything */
  if (deny_owned_table(thd, conn))
  {
    *error= 1;
    return 0;
  }
  Consume_locks locks(thd);
  if (locks.acquire(conn->owned))
  {
    *error= 1;                  /* KILL or lock_wait_timeout: still owned */
    return 0;
  }
  qc_err e;
  e.msg[0]= 0;
  int rc= queue_durable_end(thd, conn, &e);
  locks.release();
  /* The owned row's table was dropped or truncated meanwhile: there is
     nothing left to consume, and owner mode is left all the same. */
  if (rc == QC_ECLOSED || rc == QC_ENOENT)
    rc= QC_OK;
  if (rc != QC_OK)
  {
    /* Not acknowledged: the row is in the queue again. */
    my_printf_error(ER_UNKNOWN_ERROR, "queue_end(): %s", MYF(0), qc_text(rc, e));
    *error= 1;
    return 0;
  }
  return 1;
}

/* ---------------- queue_abort ---------------- */

static bool in_owner_mode(THD *thd)
{
  Queue_conn *conn= queue_conn_get(thd, false);
  return conn && conn->owned.owner_mode;
}

my_bool queue_abort_init(UDF_INIT *initid, UDF_ARGS *, char *msg)
{
  if (!queue_engine_ready())
  {
    snprintf(msg, MYSQL_ERRMSG_SIZE, "%s", not_loaded_msg);
    return 1;
  }
  if (!in_owner_mode(current_thd))
  {
    snprintf(msg, MYSQL_ERRMSG_SIZE, "queue_abort(): not in owner mode");
    return 1;
  }
  initid->maybe_null= 0;
  initid->const_item= 0;
  return 0;
}

void queue_abort_deinit(UDF_INIT *) {}

long long queue_abort(UDF_INIT *, UDF_ARGS *, char *, char *error)
{
  queue_count(&queue_fn_counters.abort);
  THD *thd= current_thd;
  Queue_conn *conn= queue_conn_get(thd, false);
  int rc= conn && conn->owned.owner_mode ? qc_abort(conn->session) : QC_ESTATE;
  if (conn && rc == QC_OK)
    queue_conn_leave(conn);
  if (rc != QC_OK)
  {
    /* e.g. queue_abort() twice in one statement */
    my_printf_error(ER_UNKNOWN_ERROR, "queue_abort(): not in owner mode", MYF(0));
    *error= 1;
    return 0;
  }
  return 1;
}

/* ---------------- queue_rowid ---------------- */

my_bool queue_rowid_init(UDF_INIT *initid, UDF_ARGS *args, char *msg)
{
  if (!queue_engine_ready())
  {
    snprintf(msg, MYSQL_ERRMSG_SIZE, "%s", not_loaded_msg);
    return 1;
  }
  if (args->arg_count != 0)
  {
    snprintf(msg, MYSQL_ERRMSG_SIZE, "queue_rowid(): argument error");
    return 1;
  }
  if (!in_owner_mode(current_thd))
  {
    snprintf(msg, MYSQL_ERRMSG_SIZE, "queue_rowid(): not in owner mode");
    return 1;
  }
  initid->maybe_null= 1;
  initid->const_item= 0;
  return 0;
}

void queue_rowid_deinit(UDF_INIT *) {}

long long queue_rowid(UDF_INIT *, UDF_ARGS *, char *is_null, char *error)
{
  queue_count(&queue_fn_counters.rowid);
  Queue_conn *conn= queue_conn_get(current_thd, false);
  if (!conn || !conn->owned.owner_mode)
  {
    my_printf_error(ER_UNKNOWN_ERROR, "queue_rowid(): not in owner mode", MYF(0));
    *error= 1;
    return 0;
  }
  const Queue_owned &o= conn->owned;
  if (o.table_id == 0 && !o.maybe_row)
  {
    *is_null= 1;
    return 0;
  }
  return (long long) o.row.id;
}

/* ---------------- queue_set_srcid ---------------- */

my_bool queue_set_srcid_init(UDF_INIT *initid, UDF_ARGS *args, char *msg)
{
  if (!queue_engine_ready())
  {
    snprintf(msg, MYSQL_ERRMSG_SIZE, "%s", not_loaded_msg);
    return 1;
  }
  if (args->arg_count != 3)
  {
    snprintf(msg, MYSQL_ERRMSG_SIZE, "queue_set_srcid(source,mode,rowid): argument error");
    return 1;
  }
  args->arg_type[0]= INT_RESULT;
  args->arg_type[1]= STRING_RESULT;
  args->arg_type[2]= INT_RESULT;
  initid->maybe_null= 1;
  initid->const_item= 0;
  return 0;
}

void queue_set_srcid_deinit(UDF_INIT *) {}

long long queue_set_srcid(UDF_INIT *, UDF_ARGS *args, char *is_null, char *error)
{
  queue_count(&queue_fn_counters.set_srcid);
  THD *thd= current_thd;
  if (!args->args[0] || !args->args[1] || !args->args[2])
  {
    warn(thd, "queue_set_srcid: NULL argument");
    *is_null= 1;
    return 0;
  }
  long long slot= *reinterpret_cast<const long long*>(args->args[0]);
  long long rowid= *reinterpret_cast<const long long*>(args->args[2]);
  if (slot < 0 || slot > 63)
  {
    warn(thd, "queue_set_srcid: source slot must be 0..63");
    *is_null= 1;
    return 0;
  }
  if (args->lengths[1] != 1 || (args->args[1][0] != 'a' && args->args[1][0] != 'w'))
  {
    warn(thd, "queue_set_srcid: mode must be 'a' or 'w'");
    *is_null= 1;
    return 0;
  }
  if (rowid < 0)
  {
    warn(thd, "queue_set_srcid: rowid must not be negative");
    *is_null= 1;
    return 0;
  }
  Queue_conn *conn= conn_for(thd);
  if (!conn)
  {
    *error= 1;
    return 0;
  }
  /* Applies to the connection's next INSERT (into any queue table). */
  conn->relay.slot= (int) slot;
  conn->relay.mode= args->args[1][0];
  conn->relay.rowid= (uint64_t) rowid;
  return 1;
}

/* ---------------- queue_compact ---------------- */

static my_bool one_table_init(UDF_INIT *initid, UDF_ARGS *args, char *msg,
                              const char *usage)
{
  if (!queue_engine_ready())
  {
    snprintf(msg, MYSQL_ERRMSG_SIZE, "%s", not_loaded_msg);
    return 1;
  }
  if (args->arg_count != 1)
  {
    snprintf(msg, MYSQL_ERRMSG_SIZE, "%s: argument error", usage);
    return 1;
  }
  args->arg_type[0]= STRING_RESULT;
  initid->maybe_null= 1;
  initid->const_item= 0;
  return 0;
}

my_bool queue_compact_init(UDF_INIT *initid, UDF_ARGS *args, char *msg)
{
  return one_table_init(initid, args, msg, "queue_compact(table_name)");
}

void queue_compact_deinit(UDF_INIT *) {}

long long queue_compact(UDF_INIT *, UDF_ARGS *args, char *is_null, char *error)
{
  THD *thd= current_thd;
  Queue_spec s;
  if (!resolve_spec(thd, "queue_compact", args->args[0], args->lengths[0], false, &s))
  {
    *is_null= 1;
    return 0;
  }
  /* Rewrites the table's file: the same right as deleting its rows. */
  if (deny_access(thd, SELECT_ACL | DELETE_ACL, s.db, s.table))
  {
    *error= 1;
    return 0;
  }
  qc_err e;
  e.msg[0]= 0;
  int rc= qc_admin(QC_ADMIN_COMPACT, s.path.c_str(), nullptr, 0, nullptr, &e);
  if (rc != QC_OK)
  {
    warn(thd, "queue_compact: %s: %s", s.table.c_str(),
         rc == QC_ENOENT ? "does not exist or is not a queue table" : qc_text(rc, e));
    *is_null= 1;
    return 0;
  }
  return 1;
}

/* ---------------- queue_stats ---------------- */

my_bool queue_stats_init(UDF_INIT *initid, UDF_ARGS *args, char *msg)
{
  if (one_table_init(initid, args, msg, "queue_stats(table_name)"))
    return 1;
  initid->ptr= nullptr;         /* result text, grown as needed */
  initid->max_length= 1024;
  return 0;
}

void queue_stats_deinit(UDF_INIT *initid)
{
  free(initid->ptr);
  initid->ptr= nullptr;
}

char *queue_stats(UDF_INIT *initid, UDF_ARGS *args, char *result,
                  unsigned long *length, char *is_null, char *error)
{
  THD *thd= current_thd;
  Queue_spec s;
  if (!resolve_spec(thd, "queue_stats", args->args[0], args->lengths[0], false, &s))
  {
    *is_null= 1;
    return nullptr;
  }
  if (deny_access(thd, SELECT_ACL, s.db, s.table))
  {
    *error= 1;
    return nullptr;
  }
  size_t cap= 1024, len= 0;
  for (int attempt= 0; attempt < 3; attempt++)
  {
    char *buf= static_cast<char*>(realloc(initid->ptr, cap));
    if (!buf)
    {
      my_error(ER_OUT_OF_RESOURCES, MYF(0));
      *error= 1;
      return nullptr;
    }
    initid->ptr= buf;
    int rc= qc_admin(QC_ADMIN_STATS, s.path.c_str(), buf, cap, &len, nullptr);
    if (rc == QC_OK)
    {
      *length= (unsigned long) len;
      return buf;
    }
    if (rc != QC_ERANGE)
    {
      qc_err e;
      e.msg[0]= 0;
      warn(thd, "queue_stats: %s: %s", s.table.c_str(),
           rc == QC_ENOENT ? "does not exist or is not a queue table" : qc_text(rc, e));
      *is_null= 1;
      return nullptr;
    }
    cap= len + 1;
  }
  warn(thd, "queue_stats: %s: statistics text keeps growing", s.table.c_str());
  *is_null= 1;
  return nullptr;
}

} /* extern "C" */
