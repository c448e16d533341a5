/*
  queue_status.cc: what the server shows about the engine, all read from
  one snapshot of the library's counters (qc_admin QC_ADMIN_COUNTERS, or
  QC_ADMIN_TABLES for the per-table figures) plus the SQL functions'
  counters kept here:
  - SHOW ENGINE QUEUE STATUS: Q4M's sections and counter names, one
    "name value" line per counter, then the library's own lines and one
    line per open table;
  - status variables Queue_%: the same counters and the figures of the
    open tables, as plain numbers (what monitoring agents scrape);
  - INFORMATION_SCHEMA.QUEUE_TABLES: one row per queue table.
  docs/OPERATIONS.md ("Monitoring") defines every figure.
*/
#define MYSQL_SERVER 1
#include <my_global.h>
#include <mysql/plugin.h>
#include "sql_class.h"
#include "sql_i_s.h"            // ST_FIELD_INFO, Show::Column
#include "sql_acl.h"            // check_global_access, PROCESS_ACL
#include "sql_table.h"          // filename_to_tablename
#include "sql_plugin.h"         // st_plugin_int, PLUGIN_IS_DELETED
#include "handler.h"            // hton2plugin
#include <mysqld_error.h>
#include <string>
#include <vector>
#include "queue_conn.h"          // queue_engine_ready
#include "queue_status.h"

Queue_fn_counters queue_fn_counters;
unsigned long queue_default_wait_timeout= 60;

/* One snapshot of the library's counters; zeros when the engine is not
   loaded (status variables can be read during UNINSTALL). */
static qc_counters counters_now()
{
  qc_counters c;
  memset(&c, 0, sizeof(c));
  size_t len= 0;
  if (!queue_engine_ready() ||
      qc_admin(QC_ADMIN_COUNTERS, nullptr, reinterpret_cast<char*>(&c),
               sizeof(c), &len, nullptr) != QC_OK)
    memset(&c, 0, sizeof(c));
  return c;
}

static unsigned long long fn_count(const unsigned long long *c)
{
  return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/* ---------------- SHOW ENGINE QUEUE STATUS ---------------- */

/* Q4M's layout: a section is a newline, its title, a newline, 36 dashes,
   a newline, then "%-16s %20llu" lines. Titles and dashes never parse as
   a counter line (^(\w+)\s+(\d+)$). */
static void section(std::string *out, const char *title)
{
  out->append("\n");
  out->append(title);
  out->append("\n------------------------------------\n");
}

static void line(std::string *out, const char *name, unsigned long long v)
{
  char b[64];
  int n= snprintf(b, sizeof(b), "%-16s %20llu\n", name, v);
  out->append(b, (size_t) n);
}

bool queue_show_engine_status(THD *thd, stat_print_fn *print)
{
  qc_counters c= counters_now();
  std::string s;
  section(&s, "I/O calls");
  line(&s, "sys_read", c.sys_read);
  line(&s, "sys_write", c.sys_write);
  line(&s, "sys_sync", c.sys_sync);
  line(&s, "read_cachehit", c.read_cachehit);
  section(&s, "Writer thread");
  line(&s, "append", c.append);
  line(&s, "remove", c.remove);
  section(&s, "Conditional subscription");
  line(&s, "evaluation", c.evaluation);
  line(&s, "compile", c.compile);
  line(&s, "compile_cachehit", c.compile_cachehit);
  section(&s, "High-level stats");
  line(&s, "rows_written", c.rows_written);
  line(&s, "rows_removed", c.rows_removed);
  line(&s, "queue_wait", fn_count(&queue_fn_counters.wait));
  line(&s, "queue_end", fn_count(&queue_fn_counters.end));
  line(&s, "queue_abort", fn_count(&queue_fn_counters.abort));
  line(&s, "queue_rowid", fn_count(&queue_fn_counters.rowid));
  line(&s, "queue_set_srcid", fn_count(&queue_fn_counters.set_srcid));
  section(&s, "Durability and space");
  line(&s, "syncs", c.syncs);
  line(&s, "compactions", c.compactions);
  line(&s, "io_errors", c.io_errors);
  line(&s, "corrupt_skipped", c.corrupt_skipped);
  line(&s, "rows_queued", c.rows_queued);
  line(&s, "rows_owned", c.rows_owned);
  line(&s, "oldest_age", c.oldest_age);
  line(&s, "sync_off", c.sync_off);
  line(&s, "waiting", c.waiting);
  line(&s, "bytes_total", c.bytes_total);
  line(&s, "bytes_free", c.bytes_free);
  line(&s, "segments", c.segments);
  /* The library's lines (go_entries, open_tables, handles) and tables. */
  section(&s, "Library and tables");
  std::vector<char> buf(4096);
  size_t len= 0;
  int rc= QC_ERR;
  if (queue_engine_ready())
    while ((rc= qc_admin(QC_ADMIN_STATUS, nullptr, buf.data(), buf.size(), &len,
                         nullptr)) == QC_ERANGE && len + 1 > buf.size())
      buf.resize(len + 1);
  if (rc == QC_OK)
    s.append(buf.data(), len);
  else
  {
    char b[32];
    s.append(b, (size_t) snprintf(b, sizeof(b), "error %d\n", rc));
  }
  return print(thd, "QUEUE", 5, "", 0, s.data(), s.size());
}

/* ---------------- status variables ---------------- */

/* The variables, in SHOW STATUS order; each reads one field of a
   snapshot. */
struct Status_var
{
  const char *name;
  unsigned long long (*get)(const qc_counters &c);
};

#define LIB(n, f) { n, [](const qc_counters &c) -> unsigned long long { return c.f; } }
#define FN(n, f) { n, [](const qc_counters &) -> unsigned long long { \
      return fn_count(&queue_fn_counters.f); } }
static const Status_var queue_var_defs[]= {
  LIB("append", append),
  LIB("bytes_free", bytes_free),
  LIB("bytes_on_disk", bytes_total),
  LIB("compactions", compactions),
  LIB("compile", compile),
  LIB("compile_cachehit", compile_cachehit),
  LIB("corrupt_rows_skipped", corrupt_skipped),
  LIB("evaluation", evaluation),
  LIB("go_entries", go_entries),
  LIB("io_errors", io_errors),
  LIB("oldest_age", oldest_age),
  LIB("open_tables", open_tables),
  FN("queue_abort", abort),
  FN("queue_end", end),
  FN("queue_rowid", rowid),
  FN("queue_set_srcid", set_srcid),
  FN("queue_wait", wait),
  LIB("read_cachehit", read_cachehit),
  LIB("remove", remove),
  LIB("rows_owned", rows_owned),
  LIB("rows_queued", rows_queued),
  LIB("rows_removed", rows_removed),
  LIB("rows_written", rows_written),
  LIB("segments", segments),
  LIB("sync_off", sync_off),
  LIB("syncs", syncs),
  LIB("sys_read", sys_read),
  LIB("sys_sync", sys_sync),
  LIB("sys_write", sys_write),
  LIB("waiting_consumers", waiting),
};
#undef LIB
#undef FN
static const size_t n_status_vars= sizeof(queue_var_defs) / sizeof(queue_var_defs[0]);

/* SHOW_FUNC: one snapshot per SHOW STATUS, returned as an array of
   SHOW_ULONGLONG laid out in buf (the server's SHOW_VAR_FUNC_BUFF_SIZE
   bytes, alive while it reads the array). */
struct Status_buf
{
  st_mysql_show_var vars[n_status_vars + 1];
  unsigned long long values[n_status_vars];
};
static_assert(sizeof(Status_buf) <= SHOW_VAR_FUNC_BUFF_SIZE,
              "the status variables fit in the server's buffer");

static int show_queue_vars(MYSQL_THD, struct st_mysql_show_var *var, void *buf,
                           struct system_status_var *, enum enum_var_type)
{
  Status_buf *b= static_cast<Status_buf*>(buf);
  qc_counters c= counters_now();
  for (size_t i= 0; i < n_status_vars; i++)
  {
    b->values[i]= queue_var_defs[i].get(c);
    b->vars[i].name= queue_var_defs[i].name;
    b->vars[i].value= reinterpret_cast<char*>(&b->values[i]);
    b->vars[i].type= SHOW_ULONGLONG;
  }
  b->vars[n_status_vars].name= nullptr;
  b->vars[n_status_vars].value= nullptr;
  b->vars[n_status_vars].type= SHOW_UNDEF;
  var->type= SHOW_ARRAY;
  var->value= reinterpret_cast<char*>(b->vars);
  return 0;
}

/* The name starts with the plugin's: the server adds no prefix of its own,
   and the array's names become Queue_<name>. */
struct st_mysql_show_var queue_status_vars[]= {
  {"Queue", reinterpret_cast<char*>(&show_queue_vars), SHOW_FUNC},
  {nullptr, nullptr, SHOW_UNDEF}
};

/* ---------------- INFORMATION_SCHEMA.QUEUE_TABLES ---------------- */

bool schema_table_store_record(THD *thd, TABLE *table);   /* server, C++ */

namespace Show {
static ST_FIELD_INFO queue_tables_fields[]= {
  Column("TABLE_SCHEMA", Name(), NOT_NULL),
  Column("TABLE_NAME", Name(), NOT_NULL),
  Column("IS_OPEN", Varchar(3), NOT_NULL),
  Column("ROWS_QUEUED", ULonglong(), NULLABLE),
  Column("ROWS_OWNED", ULonglong(), NULLABLE),
  Column("WAITING_CONSUMERS", ULonglong(), NULLABLE),
  Column("BYTES_LIVE", ULonglong(), NULLABLE),
  Column("BYTES_TOTAL", ULonglong(), NULLABLE),
  Column("SEGMENTS", ULonglong(), NULLABLE),
  Column("ROWS_WRITTEN", ULonglong(), NULLABLE),
  Column("ROWS_REMOVED", ULonglong(), NULLABLE),
  Column("LAST_COMPACTION", Datetime(0), NULLABLE),
  Column("OLDEST_AGE", ULonglong(), NULLABLE),
  CEnd()
};
}

enum {
  F_SCHEMA, F_NAME, F_OPEN, F_QUEUED, F_OWNED, F_WAITING, F_LIVE, F_TOTAL,
  F_SEGMENTS, F_WRITTEN, F_REMOVED, F_COMPACTION, F_OLDEST_AGE
};

/* "./db/table" (filename-encoded) into the schema and table names. */
static bool split_path(const char *path, char *db, size_t dbcap, char *tbl, size_t tblcap)
{
  if (strncmp(path, "./", 2) != 0)
    return false;
  const char *d= path + 2;
  const char *slash= strchr(d, '/');
  if (!slash || slash == d || !slash[1] || strchr(slash + 1, '/'))
    return false;
  std::string enc_db(d, (size_t) (slash - d));
  filename_to_tablename(enc_db.c_str(), db, dbcap, true);
  filename_to_tablename(slash + 1, tbl, tblcap, true);
  return true;
}

static void store_figure(Field *f, unsigned long long v, bool known)
{
  if (!known)
  {
    f->set_null();
    return;
  }
  f->set_notnull();
  f->store((longlong) v, true);
}

static int queue_tables_fill(THD *thd, TABLE_LIST *tables, Item *)
{
  /* As the server's own engine tables: figures of every table for the
     holders of PROCESS only. */
  if (!queue_engine_ready() || check_global_access(thd, PROCESS_ACL, true))
    return 0;
  std::vector<qc_table_info> list(16);
  size_t len= 0;
  int rc;
  while ((rc= qc_admin(QC_ADMIN_TABLES, nullptr, reinterpret_cast<char*>(list.data()),
                       list.size() * sizeof(qc_table_info), &len, nullptr)) == QC_ERANGE)
    list.resize(len / sizeof(qc_table_info) + 16);
  if (rc != QC_OK)
    return 0;
  TABLE *t= tables->table;
  for (size_t i= 0; i < len / sizeof(qc_table_info); i++)
  {
    const qc_table_info &ti= list[i];
    char db[NAME_LEN + 1], tbl[NAME_LEN + 1];
    if (!split_path(ti.path, db, sizeof(db), tbl, sizeof(tbl)))
      continue;
    bool open= ti.open != 0;
    t->field[F_SCHEMA]->store(db, strlen(db), system_charset_info);
    t->field[F_NAME]->store(tbl, strlen(tbl), system_charset_info);
    t->field[F_OPEN]->store(open ? "YES" : "NO", open ? 3 : 2, system_charset_info);
    store_figure(t->field[F_QUEUED], ti.rows_queued, open);
    store_figure(t->field[F_OWNED], ti.rows_owned, open);
    store_figure(t->field[F_WAITING], ti.waiting, open);
    store_figure(t->field[F_LIVE], ti.bytes_live, open);
    store_figure(t->field[F_TOTAL], ti.bytes_total, open);
    store_figure(t->field[F_SEGMENTS], (unsigned long long) ti.segments, open);
    store_figure(t->field[F_WRITTEN], ti.rows_written, open);
    store_figure(t->field[F_REMOVED], ti.rows_removed, open);
    Field *fc= t->field[F_COMPACTION];
    if (open && ti.last_compaction > 0)
    {
      fc->set_notnull();
      fc->store_timestamp((my_time_t) ti.last_compaction, 0);
    }
    else
      fc->set_null();
    store_figure(t->field[F_OLDEST_AGE], (unsigned long long) ti.oldest_age,
                 open && ti.oldest_age >= 0);
    if (schema_table_store_record(thd, t))
      return 1;
  }
  return 0;
}

/*
  UNINSTALL SONAME 'ha_queue.so' while queue tables are open (or a
  connection holds engine state) leaves the engine plugin DELETED until the
  last of them is closed; the library stays loaded. An INSTALL SONAME
  meanwhile would skip the engine (the server still has it) and re-add only
  this table: it would succeed and change nothing. This table's init is
  the one hook such an INSTALL reaches, so it refuses the INSTALL with an
  error saying what to do.
*/
static bool engine_being_uninstalled()
{
  handlerton *h= queue_hton;
  if (!queue_engine_ready() || !h)
    return false;
  st_plugin_int *pi= hton2plugin[h->slot];
  return pi && pi->state == PLUGIN_IS_DELETED;
}

int queue_tables_is_init(void *p)
{
  if (engine_being_uninstalled())
  {
    static const char msg[]=
      "QUEUE: the engine is still being uninstalled: queue tables are open "
      "or connections that used them are still there. Close them (FLUSH "
      "TABLES, end those connections) and run INSTALL SONAME again, or "
      "restart the server";
    if (current_thd)
      my_printf_error(ER_UNKNOWN_ERROR, "%s", MYF(0), msg);
    sql_print_error("%s", msg);
    return 1;
  }

  ST_SCHEMA_TABLE *st= static_cast<ST_SCHEMA_TABLE*>(p);
  st->fields_info= Show::queue_tables_fields;
  st->fill_table= queue_tables_fill;
  return 0;
}

struct st_mysql_information_schema queue_tables_is=
{ MYSQL_INFORMATION_SCHEMA_INTERFACE_VERSION };
