/*
  ha_queue.cc: the QUEUE storage engine: handler, handlerton and plugin
  declaration. Rows live in the Go library (libqueue_core.so); this file
  turns records into payloads (docs/ROW-PAYLOAD.md) and back, and maps each
  handler call to one qc_* call.
*/
#define MYSQL_SERVER 1
#include <my_global.h>
#include <mysql/plugin.h>
#include "sql_class.h"
#include "field.h"
#include "log_event.h"          // Delete_rows_log_event
#include <my_dir.h>
#include <my_check_opt.h>
#include "protocol.h"
#include <mysqld_error.h>
#include "ha_queue.h"
#include "queue_conn.h"
#include "queue_txn.h"
#include "queue_status.h"

handlerton *queue_hton= nullptr;
static int engine_ready= 0;     /* atomic: 1 between init and deinit */

/* The rows of one INSERT statement, and the row ids of one DELETE, are
   buffered (statement atomicity) and capped: beyond the cap the statement
   fails with a clear error instead of exhausting memory. Sysvar
   queue_max_statement_size. */
static ulonglong max_statement_bytes= 1ULL << 30;
/* Chunk size of table copies (ALTER TABLE), see start_bulk_insert. */
static const size_t bulk_chunk_bytes= 16ULL << 20;

bool queue_engine_ready()
{
  return __atomic_load_n(&engine_ready, __ATOMIC_ACQUIRE) != 0;
}

/* ---------------- error mapping ---------------- */

/* The one place that turns a qc status into a handler error. With raise,
   the library's message becomes the statement's error text (it names the
   table file and offset for corruption, the limit for oversized rows). */
static int qc_to_ha_err(int rc, const qc_err *e, bool raise)
{
  int ha;
  bool with_msg= true;
  switch (rc) {
  case QC_OK: case QC_SKIPPED: return 0;
  case QC_EOF:      return HA_ERR_END_OF_FILE;
  case QC_ENOENT:   ha= HA_ERR_NO_SUCH_TABLE; with_msg= false; break;
  case QC_EEXIST:   ha= HA_ERR_TABLE_EXIST; with_msg= false; break;
  case QC_ENOSPC:   ha= HA_ERR_DISK_FULL; break;
  case QC_ETOOBIG:  ha= HA_ERR_TO_BIG_ROW; break;
  case QC_ECORRUPT: ha= HA_ERR_CRASHED_ON_USAGE; break;
  default:          ha= HA_ERR_INTERNAL_ERROR; break;
  }
  if (raise && with_msg)
  {
    const char *msg= e && e->msg[0] ? e->msg : "queue: internal error";
    my_error(ER_GET_ERRMSG, MYF(0), rc, msg, "QUEUE");
  }
  return ha;
}

int ha_queue::report(int rc, const qc_err &e, bool raise)
{
  return qc_to_ha_err(rc, &e, raise);
}

/* ---------------- row payload ---------------- */

/* Fields stored by pack(): their image size depends on the value. */
static bool is_variable(const Field *f)
{
  switch (f->real_type()) {
  case MYSQL_TYPE_STRING: case MYSQL_TYPE_VARCHAR: case MYSQL_TYPE_VAR_STRING:
  case MYSQL_TYPE_TINY_BLOB: case MYSQL_TYPE_MEDIUM_BLOB:
  case MYSQL_TYPE_LONG_BLOB: case MYSQL_TYPE_BLOB: case MYSQL_TYPE_GEOMETRY:
    return true;
  default:
    return (f->flags & BLOB_FLAG) != 0;
  }
}

/* Appends the payload of record to packbuf and its size to lens. Layout:
   null bytes, fixed fields' raw images, then variable fields packed; NULL
   variable fields are not stored (their NULL bit says so). */
int ha_queue::pack_row(const uchar *record)
{
  const my_ptrdiff_t diff= record - table->record[0];
  size_t need= table->s->null_bytes;
  for (Field **fp= table->field; *fp; fp++)
  {
    Field *f= *fp;
    if (!f->stored_in_db())
      continue;
    need+= f->pack_length() + 4;
    if (f->flags & BLOB_FLAG)
      need+= static_cast<Field_blob*>(f)->get_length(f->ptr + diff);
  }
  size_t start= packbuf.size();
  if (start + need > max_statement_bytes)
    return -1;
  packbuf.resize(start + need);
  uchar *to= packbuf.data() + start;
  memcpy(to, record, table->s->null_bytes);
  to+= table->s->null_bytes;
  for (Field **fp= table->field; *fp; fp++)
  {
    Field *f= *fp;
    if (!f->stored_in_db() || is_variable(f))
      continue;
    memcpy(to, f->ptr + diff, f->pack_length());
    to+= f->pack_length();
  }
  for (Field **fp= table->field; *fp; fp++)
  {
    Field *f= *fp;
    if (!f->stored_in_db() || !is_variable(f) || f->is_null_in_record(record))
      continue;
    to= f->pack(to, f->ptr + diff, UINT_MAX);
  }
  size_t len= to - (packbuf.data() + start);
  packbuf.resize(start + len);
  lens.push_back(static_cast<uint32_t>(len));
  return 0;
}

int ha_queue::unpack_row(uchar *record, const uchar *p, size_t len)
{
  const my_ptrdiff_t diff= record - table->record[0];
  const uchar *end= p + len;
  if (len < table->s->null_bytes)
    return HA_ERR_WRONG_IN_RECORD;
  memcpy(record, p, table->s->null_bytes);
  p+= table->s->null_bytes;
  for (Field **fp= table->field; *fp; fp++)
  {
    Field *f= *fp;
    if (!f->stored_in_db() || is_variable(f))
      continue;
    if (p + f->pack_length() > end)
      return HA_ERR_WRONG_IN_RECORD;
    memcpy(f->ptr + diff, p, f->pack_length());
    p+= f->pack_length();
  }
  for (Field **fp= table->field; *fp; fp++)
  {
    Field *f= *fp;
    if (!f->stored_in_db() || !is_variable(f))
      continue;
    if (f->is_null_in_record(record))
    {
      memset(f->ptr + diff, 0, f->pack_length());
      continue;
    }
    if (!(p= f->unpack(f->ptr + diff, p, end, 0)))
      return HA_ERR_WRONG_IN_RECORD;
  }
  return 0;
}

/* ---------------- open / close / DDL ---------------- */

ha_queue::~ha_queue()
{
  end_scan();
  if (tbl)
    qc_table_close(tbl);
  free(rowbuf.buf);
}

Queue_share *ha_queue::get_share()
{
  Queue_share *s;
  lock_shared_ha_data();
  if (!(s= static_cast<Queue_share*>(get_ha_share_ptr())))
  {
    s= new (std::nothrow) Queue_share;
    if (s)
      set_ha_share_ptr(s);
  }
  unlock_shared_ha_data();
  return s;
}

uint64_t ha_queue::session() const
{
  Queue_conn *conn= queue_conn_get(ha_thd(), false);
  return conn ? conn->session : 0;
}

ulonglong ha_queue::table_flags() const
{
  /* No HA_CAN_BIT_FIELD: BIT values stay in their field, not in the null
     bytes, so conditions find them at a fixed payload offset. */
  return HA_REC_NOT_IN_SEQ | HA_STATS_RECORDS_IS_EXACT |
         HA_HAS_RECORDS | HA_NO_AUTO_INCREMENT | HA_BINLOG_ROW_CAPABLE |
         HA_BINLOG_STMT_CAPABLE | HA_FILE_BASED | HA_CAN_GEOMETRY |
         HA_CAN_FORCE_BULK_DELETE | HA_CONCURRENT_OPTIMIZE;
}

int ha_queue::open(const char *name, int, uint test_if_locked)
{
  qc_err e= {{0}};
  if (!(share= get_share()))
    return HA_ERR_OUT_OF_MEM;
  int rc= qc_table_open(name, &tbl, &counters, &e);
  /* CHECK and REPAIR TABLE open with HA_OPEN_FOR_REPAIR: a table whose
     recovery fails is then opened without a library handle, and the
     library checks or repairs its files (qc_admin). */
  if (rc == QC_ECORRUPT && (test_if_locked & HA_OPEN_FOR_REPAIR))
  {
    tbl= 0;
    counters= nullptr;
    rc= QC_OK;
  }
  if (rc != QC_OK)
    return report(rc, e);
  thr_lock_data_init(&share->lock, &lock, nullptr);
  ref_length= sizeof(uint64_t);   /* the row id; must be set in open() */
  return 0;
}

int ha_queue::close()
{
  end_scan();
  if (tbl)
    qc_table_close(tbl);
  tbl= 0;
  counters= nullptr;
  return 0;
}

int ha_queue::create(const char *name, TABLE *form, HA_CREATE_INFO *info)
{
  /* A queue table's files are always in the data directory. */
  if (info && info->data_file_name)
    push_warning_printf(ha_thd(), Sql_condition::WARN_LEVEL_WARN,
                        WARN_OPTION_IGNORED, ER_THD(ha_thd(), WARN_OPTION_IGNORED),
                        "DATA DIRECTORY");
  if (info && info->index_file_name)
    push_warning_printf(ha_thd(), Sql_condition::WARN_LEVEL_WARN,
                        WARN_OPTION_IGNORED, ER_THD(ha_thd(), WARN_OPTION_IGNORED),
                        "INDEX DIRECTORY");
  std::vector<qc_column> cols;
  int32_t offset= form->s->null_bytes;
  for (Field **fp= form->field; *fp; fp++)
  {
    Field *f= *fp;
    if (!f->stored_in_db())
      continue;
    qc_column c;
    memset(&c, 0, sizeof(c));
    c.name= f->field_name.str;
    c.type= static_cast<uint8_t>(f->real_type());
    c.is_unsigned= (f->flags & UNSIGNED_FLAG) != 0;
    c.null_mask= f->null_ptr ? f->null_bit : 0;
    c.null_offset= f->null_ptr ? static_cast<int32_t>(f->null_ptr - form->record[0]) : -1;
    c.decimals= static_cast<uint8_t>(f->decimals());
    c.length= static_cast<int32_t>(f->pack_length());
    if (is_variable(f))
      c.offset= -1;
    else
    {
      c.offset= offset;
      offset+= f->pack_length();
    }
    cols.push_back(c);
  }
  qc_err e= {{0}};
  int rc= qc_table_create(name, cols.data(), static_cast<int>(cols.size()), &e);
  return report(rc, e);
}

/* qc_admin QC_ADMIN_DROP: also DROP DATABASE's leftovers. */
static int queue_drop_table(const char *name, qc_err *e)
{
  return qc_admin(QC_ADMIN_DROP, name, nullptr, 0, nullptr, e);
}

int ha_queue::delete_table(const char *name)
{
  qc_err e= {{0}};
  return report(queue_drop_table(name, &e), e);
}

int ha_queue::rename_table(const char *from, const char *to)
{
  qc_err e= {{0}};
  return report(qc_admin(QC_ADMIN_RENAME, from, const_cast<char *>(to),
                         strlen(to) + 1, nullptr, &e), e);
}

int ha_queue::truncate()
{
  qc_err e= {{0}};
  uint64_t h= tbl;
  return report(qc_admin(QC_ADMIN_TRUNCATE, nullptr, reinterpret_cast<char *>(&h),
                         sizeof(h), nullptr, &e), e);
}

/* ---------------- INSERT ---------------- */

static bool is_table_copy(THD *thd);

int ha_queue::write_row(const uchar *buf)
{
  int failed= pack_row(buf);
  if (failed && bulk_chunked && !lens.empty())
  {
    /* A table copy: write what is buffered and retry the row alone. */
    if (int rc= flush_inserts())
      return rc;
    failed= pack_row(buf);
  }
  if (failed)
  {
    packbuf.clear();
    lens.clear();
    char msg[128];
    my_snprintf(msg, sizeof(msg),
                "queue: the statement's rows exceed queue_max_statement_size (%llu bytes)",
                max_statement_bytes);
    my_error(ER_GET_ERRMSG, MYF(0), QC_ETOOBIG, msg, "QUEUE");
    return HA_ERR_TO_BIG_ROW;
  }
  if (bulk_insert && !(bulk_chunked && packbuf.size() >= bulk_chunk_bytes))
    return 0;
  return flush_inserts();
}

/* In a transaction a statement's rows are staged and written at commit
   (queue_txn.h); a table copy (ALTER) is never part of one. */
bool ha_queue::staging() const
{
  return !bulk_chunked && queue_txn_active(ha_thd());
}

int ha_queue::flush_inserts()
{
  if (lens.empty())
    return 0;
  qc_err e= {{0}};
  if (staging())
  {
    THD *thd= ha_thd();
    Queue_conn *conn= queue_conn_get(thd, true);
    int rc= QC_ERR;
    if (!conn)
      my_snprintf(e.msg, sizeof(e.msg), "queue: out of memory");
    else if (conn->relay.mode)
    {
      /* A relay mark must commit with its rows at once (queue-forward
         relies on it): refused rather than silently made transactional. */
      conn->relay.mode= 0;
      rc= QC_ESTATE;
      my_snprintf(e.msg, sizeof(e.msg),
                  "queue: queue_set_srcid cannot be used inside a transaction");
    }
    else
    {
      queue_txn_join(thd, conn);
      rc= qc_txn_stage(conn->session, QC_TXN_ROWS, tbl, packbuf.data(), lens.data(),
                       nullptr, static_cast<int>(lens.size()), max_statement_bytes,
                       nullptr, &e);
    }
    packbuf.clear();
    lens.clear();
    return report(rc, e);
  }
  uint64_t first_id= 0;
  Queue_conn *conn= queue_conn_get(ha_thd(), false);
  size_t n= lens.size();
  int rc= queue_durable_append(ha_thd(), conn, tbl, packbuf.data(),
                               lens.data(), static_cast<int>(n),
                               &first_id, &e);
  packbuf.clear();
  lens.clear();
  if (rc == QC_OK && conn && copying_from(conn->copy))
    pair_copied(conn->copy, first_id, n);
  return report(rc, e);
}

/* True when this handler writes the copy c logs the reads of: the same
   ALTER statement, another table. */
bool ha_queue::copying_from(const Queue_copy &c)
{
  THD *thd= ha_thd();
  return c.src && c.src != tbl &&
         c.query_id == (unsigned long long) thd->query_id && is_table_copy(thd);
}

/* The n rows just appended (ids first_id...) are the copies of the next n
   ids the old table's scan logged. */
void ha_queue::pair_copied(Queue_copy &c, uint64_t first_id, size_t n)
{
  if (c.broken || c.pending.size() < n)
  {
    c.broken= true;
    return;
  }
  try
  {
    for (size_t i= 0; i < n; i++)
    {
      uint64_t o= c.pending[i], w= first_id + i;
      size_t k= c.runs.size();
      if (k && c.runs[k - 3] + c.runs[k - 1] == o && c.runs[k - 2] + c.runs[k - 1] == w)
        c.runs[k - 1]++;
      else
      {
        c.runs.push_back(o);
        c.runs.push_back(w);
        c.runs.push_back(1);
      }
    }
  }
  catch (...)
  {
    c.broken= true;
    return;
  }
  c.pending.erase(c.pending.begin(), c.pending.begin() + n);
}

/* ALTER TABLE and friends copy the table's rows into a new table that
   replaces it. */
static bool is_table_copy(THD *thd)
{
  switch (thd_sql_command(thd)) {
  case SQLCOM_ALTER_TABLE: case SQLCOM_OPTIMIZE: case SQLCOM_CREATE_INDEX:
  case SQLCOM_DROP_INDEX:
    return true;
  default:
    return false;
  }
}

void ha_queue::start_bulk_insert(ha_rows, uint)
{
  bulk_insert= true;
  /* A table copy writes into a table nobody sees until the final rename,
     so it need not be one append: chunks keep tables larger than a
     statement's limit alterable. */
  bulk_chunked= is_table_copy(ha_thd());
}

int ha_queue::end_bulk_insert()
{
  bulk_insert= false;
  bulk_chunked= false;
  /* A statement that failed (a bad value in strict mode, a killed
     INSERT ... SELECT) writes none of its rows: statements are atomic. */
  int rc= 0;
  if (ha_thd()->is_error())
  {
    packbuf.clear();
    lens.clear();
  }
  else
    rc= flush_inserts();
  /* A complete table copy: every row read was written, in order. */
  Queue_conn *conn= queue_conn_get(ha_thd(), false);
  if (conn && copying_from(conn->copy))
  {
    Queue_copy &c= conn->copy;
    if (!rc && !ha_thd()->is_error() && !c.broken &&
        c.pending.empty() && !c.runs.empty())
    {
      qc_err e= {{0}};
      bool ok= true;
      try { c.runs.insert(c.runs.begin(), {c.src, tbl}); }
      catch (...) { ok= false; }
      if (ok && qc_admin(QC_ADMIN_COPIED, nullptr, reinterpret_cast<char*>(c.runs.data()),
                   c.runs.size() * sizeof(uint64_t), nullptr, &e) != QC_OK)
        sql_print_warning("QUEUE: rows owned during ALTER TABLE will be "
                          "delivered again: %s", e.msg);
    }
    c.reset(0, 0, false);
    c.pending.shrink_to_fit();
    c.runs.shrink_to_fit();
  }
  if (packbuf.capacity() > (1U << 20))
    std::vector<uchar>().swap(packbuf);
  return rc;
}

/* ---------------- DELETE ---------------- */

/* The core takes at most maxBatchBytes/2 (512 MiB) of 8-byte row ids in
   one removal (core/commit.go RemoveAsync). */
static const ulonglong core_max_remove_bytes= 1ULL << 29;

/* Row ids one DELETE statement may remove: 8 bytes each, within
   queue_max_statement_size and the core's cap. */
static size_t max_delete_ids()
{
  ulonglong bytes= max_statement_bytes < core_max_remove_bytes ?
                   max_statement_bytes : core_max_remove_bytes;
  return static_cast<size_t>(bytes / sizeof(uint64_t));
}

/* A DELETE statement (HA_CAN_FORCE_BULK_DELETE: every single-table DELETE
   without AFTER DELETE triggers, and the tables a multi-table DELETE
   removes from after its join) only collects row ids here; end_bulk_delete
   removes them in one durable request. Outside a bulk delete (AFTER DELETE
   triggers, the first table of a multi-table DELETE) each row is removed
   durably at once, as those statements expect.

   With row-based binary logging the server would log each row as
   delete_row returns, before anything is removed, and a statement that
   fails later would still log them. A bulk delete therefore logs its rows
   itself, after the removal is durable: their images are kept (packed as
   for INSERT, within queue_max_statement_size) and the server's row
   logging of this table is off until end_bulk_delete. */
int ha_queue::delete_row(const uchar *buf)
{
  if (bulk_delete)
  {
    if (delete_ids.size() >= max_delete_ids())
    {
      delete_ids.clear();
      char msg[160];
      my_snprintf(msg, sizeof(msg),
                  "queue: the statement removes more than %llu rows "
                  "(8 bytes each within queue_max_statement_size)",
                  (ulonglong) max_delete_ids());
      my_error(ER_GET_ERRMSG, MYF(0), QC_ETOOBIG, msg, "QUEUE");
      return HA_ERR_TO_BIG_ROW;
    }
    if (delete_log_rows && !cur_damaged && pack_row(buf))
    {
      delete_ids.clear();
      char msg[160];
      my_snprintf(msg, sizeof(msg),
                  "queue: the images of the statement's rows for the binary log "
                  "exceed queue_max_statement_size (%llu bytes)",
                  max_statement_bytes);
      my_error(ER_GET_ERRMSG, MYF(0), QC_ETOOBIG, msg, "QUEUE");
      return HA_ERR_TO_BIG_ROW;
    }
    delete_ids.push_back(cur_id);
    return 0;
  }
  qc_err e= {{0}};
  uint64_t removed= 0;
  if (staging())
    return stage_deletes(&cur_id, 1);
  return report(queue_durable_remove(ha_thd(), tbl, &cur_id, 1, &removed, &e), e);
}

/* A DELETE in a transaction: the rows are held and removed at commit. */
int ha_queue::stage_deletes(const uint64_t *ids, size_t n)
{
  THD *thd= ha_thd();
  Queue_conn *conn= queue_conn_get(thd, true);
  if (!conn)
    return HA_ERR_OUT_OF_MEM;
  queue_txn_join(thd, conn);
  qc_err e= {{0}};
  uint64_t held= 0;
  return report(qc_txn_stage(conn->session, QC_TXN_DELETE, tbl, nullptr, nullptr, ids,
                             static_cast<int>(n), 0, &held, &e), e);
}

bool ha_queue::start_bulk_delete()
{
  bulk_delete= true;
  delete_ids.clear();
  packbuf.clear();
  lens.clear();
  /* row_logging: this statement is logged row by row (handler.h). */
  delete_log_rows= row_logging;
  if (delete_log_rows)
  {
    delete_maps_before= ha_thd()->binlog_table_maps;
    row_logging= false;
  }
  return false;       /* false: bulk delete supported */
}

/* The end of a DELETE's scan, before the statement reports its row count:
   the collected rows are removed in one request (one group commit), or
   none of them when the statement failed or was killed. */
int ha_queue::end_bulk_delete()
{
  bulk_delete= false;
  bool log_rows= delete_log_rows;
  if (log_rows)
    row_logging= true;
  delete_log_rows= false;
  THD *thd= ha_thd();
  int rc= 0;
  if (thd->is_error() || thd->killed != NOT_KILLED)
    delete_ids.clear();
  else
  {
    rc= flush_deletes();
    if (!rc && log_rows)
      rc= log_deleted_rows();
  }
  packbuf.clear();
  lens.clear();
  if (delete_ids.capacity() > (1U << 17))
    std::vector<uint64_t>().swap(delete_ids);
  if (packbuf.capacity() > (1U << 20))
    std::vector<uchar>().swap(packbuf);
  return rc;
}

/* Logs the rows a bulk delete removed as Delete_rows events, from the
   images delete_row kept. */
int ha_queue::log_deleted_rows()
{
  THD *thd= ha_thd();
  if (lens.empty())
    return 0;
  /* Another table's rows logged during the scan (a trigger, a function,
     a multi-table DELETE) wrote the statement's table maps while this
     table's row logging was off. THD::binlog_write_table_maps then maps
     it only when it is not marked as used by the statement being logged
     (a trigger's or function's statement), and clears row_logging_init
     when it does; otherwise its map is missing: add it. */
  if (!delete_maps_before && thd->binlog_table_maps && row_logging_init &&
      thd->binlog_write_table_map(table))
    return HA_ERR_RBR_LOGGING_FAILED;
  row_logging_init= true;
  const uchar *p= packbuf.data();
  for (uint32_t len : lens)
  {
    if (int err= unpack_row(table->record[0], p, len))
      return err;
    if (binlog_log_row(table, table->record[0], nullptr,
                       Delete_rows_log_event::binlog_row_logging_function))
      return HA_ERR_RBR_LOGGING_FAILED;
    p+= len;
  }
  return 0;
}

int ha_queue::flush_deletes()
{
  if (delete_ids.empty())
    return 0;
  if (staging())
  {
    int rc= stage_deletes(delete_ids.data(), delete_ids.size());
    delete_ids.clear();
    return rc;
  }
  qc_err e= {{0}};
  uint64_t removed= 0;
  int rc= queue_durable_remove(ha_thd(), tbl, delete_ids.data(),
                               static_cast<int>(delete_ids.size()), &removed, &e);
  delete_ids.clear();
  return report(rc, e);
}

/* ---------------- scans ---------------- */

void ha_queue::end_scan()
{
  if (cursor)
    qc_scan_close(cursor);
  cursor= 0;
  owned_scan= 0;
}

static uint64_t load(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static int64_t load(const int64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }

const Queue_owned *ha_queue::cached_owned(bool *owner_mode) const
{
  *owner_mode= false;
  Queue_conn *conn= queue_conn_get(ha_thd(), false);
  if (!conn || !conn->owned.owner_mode)
    return nullptr;
  *owner_mode= true;
  const Queue_owned &o= conn->owned;
  if (!counters || o.table_id != load(&counters->table_id) ||
      o.epoch != load(&counters->owner_epoch))
    return nullptr;
  return &o;
}

int ha_queue::rnd_init(bool)
{
  end_scan();
  bool copy= is_table_copy(ha_thd());
  bool owner_mode= false;
  const Queue_owned *o= cached_owned(&owner_mode);
  /* A DELETE outside owner mode stops rows from being handed to consumers
     while it runs (Q4M's interlock); ended at external_lock(F_UNLCK). */
  if (delete_stmt && !delete_bracket && !owner_mode)
  {
    if (qc_delete_bracket(tbl, 1) == QC_OK)
      delete_bracket= true;
  }
  if (owner_mode && !copy)
  {
    Queue_conn *conn= queue_conn_get(ha_thd(), false);
    if (o)
    {
      /* The row queue_wait returned: no call into the library. Copied now,
         while the image is known to be current: another connection's
         DELETE of its own owned row moves the epoch on at any moment, and
         a second check at rnd_next would then see no row at all. */
      owned_scan= 1;
      return copy_owned(o);
    }
    if (!conn->owned.maybe_row && conn->owned.table_id == 0)
    {
      owned_scan= 2;            /* owner mode without a row: nothing */
      return 0;
    }
    /* The image is not cached or may be stale: the library knows. */
  }
  /* A table copy reads every row, owned ones included: the old table is
     dropped at the end, so a row a consumer owns would be lost otherwise.
     The ids read are logged so that owned rows stay owned in the copy. */
  copy_log= nullptr;
  if (copy)
  {
    THD *thd= ha_thd();
    Queue_conn *conn= queue_conn_get(thd, true);
    if (conn)
    {
      SELECT_LEX *sel= thd->lex->first_select_lex();
      conn->copy.reset(tbl, (unsigned long long) thd->query_id,
                       sel && sel->order_list.elements != 0);
      copy_log= &conn->copy;
    }
  }
  int rc= qc_scan_open(tbl, session(), copy ? QC_SCAN_ALL : QC_SCAN_VISIBLE, &cursor);
  return qc_to_ha_err(rc, nullptr, rc != QC_OK);
}

/* Unpacks the row a qc_* call put into rowbuf. */
int ha_queue::read_row(uchar *buf, int rc, const qc_err &e)
{
  if (rc == QC_OK)
  {
    int err= unpack_row(buf, rowbuf.buf, rowbuf.len);
    if (!err)
      cur_id= rowbuf.id;
    return err;
  }
  if (rc == QC_EOF)
    return HA_ERR_END_OF_FILE;
  if (rc == QC_ENOENT)
    return HA_ERR_KEY_NOT_FOUND;
  return qc_to_ha_err(rc, &e, true);
}

/* Copies the connection's cached owned row into rowbuf (read_row unpacks
   it): BLOB fields point into rowbuf, which lives as long as the handler,
   while the connection's buffer is reused by the next queue_wait. */
int ha_queue::copy_owned(const Queue_owned *o)
{
  if (rowbuf.cap < o->row.len)
  {
    unsigned char *p= static_cast<unsigned char*>(realloc(rowbuf.buf, o->row.len));
    if (!p)
      return HA_ERR_OUT_OF_MEM;
    rowbuf.buf= p;
    rowbuf.cap= o->row.len;
  }
  if (o->row.len)
    memcpy(rowbuf.buf, o->row.buf, o->row.len);
  rowbuf.len= o->row.len;
  rowbuf.id= o->row.id;
  return 0;
}

int ha_queue::rnd_next(uchar *buf)
{
  if (owned_scan)
  {
    if (owned_scan == 2)
      return HA_ERR_END_OF_FILE;
    owned_scan= 2;
    return read_row(buf, QC_OK, qc_err());   /* copied by rnd_init */
  }
  if (!cursor)
    return HA_ERR_END_OF_FILE;
  qc_err e;
  e.msg[0]= 0;
  cur_damaged= false;
  rowbuf.id= 0;
  int rc= qc_scan_next(cursor, &rowbuf, &e);
  if (rc == QC_ECORRUPT && rowbuf.id && delete_stmt)
  {
    if (delete_removes_damaged())
    {
      /* A damaged row: its bytes fail their check, so it has no column
         values. A DELETE without WHERE removes every row it reads, so
         it removes this one unread. */
      memcpy(buf, table->s->default_values, table->s->reclength);
      cur_id= rowbuf.id;
      cur_damaged= true;
      return 0;
    }
    /* A WHERE cannot be evaluated on a row that cannot be read: the
       statement fails rather than guess. */
    size_t n= strlen(e.msg);
    my_snprintf(e.msg + n, sizeof(e.msg) - n,
                "; a DELETE cannot evaluate its WHERE on a damaged row: remove it "
                "with REPAIR TABLE or a DELETE without WHERE");
  }
  rc= read_row(buf, rc, e);
  if (rc == 0 && copy_log)
  {
    try { copy_log->pending.push_back(cur_id); }
    catch (...) { copy_log->broken= true; }
  }
  return rc;
}

/* A single-table DELETE without WHERE, batched (its rows are logged from
   the images it keeps, so the damaged row's missing image is left out). */
bool ha_queue::delete_removes_damaged() const
{
  THD *thd= ha_thd();
  return bulk_delete && thd_sql_command(thd) == SQLCOM_DELETE && thd->lex &&
         thd->lex->first_select_lex()->where == nullptr;
}

int ha_queue::rnd_end()
{
  end_scan();
  copy_log= nullptr;
  return 0;
}

void ha_queue::position(const uchar *)
{
  my_store_ptr(ref, ref_length, cur_id);
}

int ha_queue::rnd_pos(uchar *buf, uchar *pos)
{
  uint64_t id= my_get_ptr(pos, ref_length);
  bool owner_mode;
  const Queue_owned *o= cached_owned(&owner_mode);
  if (o && o->row.id == id)
  {
    int err= copy_owned(o);
    return err ? err : read_row(buf, QC_OK, qc_err());
  }
  qc_err e;
  e.msg[0]= 0;
  return read_row(buf, qc_get(tbl, id, &rowbuf, &e), e);
}

/* ---------------- CHECK, REPAIR, OPTIMIZE ---------------- */

/* The library does the work (engine/check.go) and returns one
   "<level>\t<message>" line per message; each becomes a row of the
   statement's result set, before the server's final status row. */
static int queue_admin(THD *thd, TABLE *table, int op, const char *op_name)
{
  char name[2 * NAME_LEN + 2];
  my_snprintf(name, sizeof(name), "%s.%s", table->s->db.str, table->s->table_name.str);
  std::vector<char> buf(64 * 1024);
  size_t len= 0;
  qc_err e= {{0}};
  int rc= qc_admin(op, table->s->normalized_path.str, buf.data(), buf.size(), &len, &e);
  const char *text= buf.data();
  if (rc != QC_OK && rc != QC_ECORRUPT)
  {
    my_snprintf(buf.data(), buf.size(), "error\t%s", e.msg[0] ? e.msg : "queue: internal error");
    len= strlen(buf.data());
  }
  Protocol *protocol= thd->protocol;
  for (const char *p= text, *end= text + len; p < end;)
  {
    const char *nl= static_cast<const char*>(memchr(p, '\n', end - p));
    const char *stop= nl ? nl : end;
    const char *tab= static_cast<const char*>(memchr(p, '\t', stop - p));
    if (tab)
    {
      protocol->prepare_for_resend();
      protocol->store(name, strlen(name), system_charset_info);
      protocol->store(op_name, strlen(op_name), system_charset_info);
      protocol->store(p, tab - p, system_charset_info);
      protocol->store(tab + 1, stop - tab - 1, system_charset_info);
      if (protocol->write())
        return HA_ADMIN_FAILED;
    }
    p= stop + 1;
  }
  if (rc == QC_OK)
    return HA_ADMIN_OK;
  return rc == QC_ECORRUPT ? HA_ADMIN_CORRUPT : HA_ADMIN_FAILED;
}

/* QUICK checks the frames (framing, checksums); the default, MEDIUM and
   EXTENDED check everything. */
int ha_queue::check(THD *thd, HA_CHECK_OPT *check_opt)
{
  bool quick= (check_opt->flags & T_QUICK) && !(check_opt->flags & (T_MEDIUM | T_EXTEND));
  return queue_admin(thd, table, quick ? QC_ADMIN_CHECK_QUICK : QC_ADMIN_CHECK, "check");
}

int ha_queue::repair(THD *thd, HA_CHECK_OPT *)
{
  return queue_admin(thd, table, QC_ADMIN_REPAIR, "repair");
}

/* The background compaction, run now; producers and consumers go on
   (HA_CONCURRENT_OPTIMIZE keeps the statement's metadata lock shared). */
int ha_queue::optimize(THD *thd, HA_CHECK_OPT *)
{
  return queue_admin(thd, table, QC_ADMIN_OPTIMIZE, "optimize");
}

/* ---------------- statistics, locks ---------------- */

/* Rows the connection sees: in owner mode its owned row of this table (0
   or 1), else every live row. From counters in C memory: no call into
   the library. */
ha_rows ha_queue::records()
{
  if (!counters)
    return HA_POS_ERROR;
  bool owner_mode;
  const Queue_owned *o= cached_owned(&owner_mode);
  if (!owner_mode)
    return load(&counters->rows);
  if (o)
    return 1;
  Queue_conn *conn= queue_conn_get(ha_thd(), false);
  if (!conn->owned.maybe_row && conn->owned.table_id == 0)
    return 0;
  /* Stale or uncached: count what a scan would return. */
  uint64_t c= 0;
  if (qc_scan_open(tbl, session(), QC_SCAN_VISIBLE, &c) != QC_OK)
    return HA_POS_ERROR;
  ha_rows n= 0;
  qc_err e;
  while (qc_scan_next(c, &rowbuf, &e) == QC_OK)
    n++;
  qc_scan_close(c);
  return n;
}

int ha_queue::info(uint)
{
  /* Called by SHOW TABLE STATUS without external_lock and from other
     connections: never an error here, and no lock that can block long. */
  if (!counters)
    return 0;
  bool owner_mode;
  const Queue_owned *o= cached_owned(&owner_mode);
  /* In owner mode an estimate of the one row at most (records() is exact). */
  stats.records= owner_mode ? (o ? 1 : 0) : load(&counters->rows);
  /* The one-statement consume (SELECT ... FROM t WHERE queue_wait(...))
     works because the server evaluates the constant WHERE once before it
     reads the table, which then shows the row queue_wait took. A table of
     0 or 1 exact rows would be read as a constant first, before the
     WHERE: report at least 2 in such a statement. */
  Queue_conn *conn= queue_conn_get(ha_thd(), false);
  if (conn && conn->one_stmt.init_query_id == (unsigned long long) ha_thd()->query_id &&
      stats.records < 2)
    stats.records= 2;
  stats.deleted= 0;
  stats.data_file_length= load(&counters->data_bytes);
  stats.delete_length= load(&counters->free_bytes);
  stats.mean_rec_length= static_cast<ulong>(load(&counters->avg_row));
  stats.index_file_length= 0;
  stats.create_time= static_cast<ulong>(load(&counters->create_time));
  stats.update_time= static_cast<ulong>(load(&counters->update_time));
  return 0;
}

/* binlog_format=MIXED logs a statement that uses a queue table as row
   events. What such a statement sees depends on which rows consumers own
   on this server (a DELETE or INSERT ... SELECT skips them, like SKIP
   LOCKED), and a replica has no consumers: the statement itself would
   act there on the rows the primary skipped. Marking it unsafe makes the
   server choose row events (THD::decide_logging_format, which runs after
   external_lock and start_stmt). binlog_format=STATEMENT is left as
   chosen: statements are logged as written (docs/SQL.md). */
static void log_rows_if_mixed(THD *thd)
{
  if (thd->variables.binlog_format == BINLOG_FORMAT_MIXED && thd->lex)
    thd->lex->set_stmt_unsafe(LEX::BINLOG_STMT_UNSAFE_SKIP_LOCKED);
}

/* A DELETE outside owner mode takes the interlock (qc_delete_bracket) in
   rnd_init; it ends with the statement: at external_lock(F_UNLCK), or
   at reset() under LOCK TABLES. */
static bool is_delete(THD *thd, bool write)
{
  int cmd= thd_sql_command(thd);
  return write && (cmd == SQLCOM_DELETE || cmd == SQLCOM_DELETE_MULTI);
}

void ha_queue::end_delete_bracket()
{
  if (delete_bracket)
    qc_delete_bracket(tbl, 0);
  delete_bracket= false;
  delete_stmt= false;
}

int ha_queue::start_stmt(THD *thd, thr_lock_type lock_type)
{
  /* Each statement under LOCK TABLES (no external_lock then). */
  log_rows_if_mixed(thd);
  end_delete_bracket();
  delete_stmt= is_delete(thd, lock_type >= TL_FIRST_WRITE);
  return 0;
}

int ha_queue::reset()
{
  /* After every statement, for the tables it used. */
  end_delete_bracket();
  return 0;
}

int ha_queue::external_lock(THD *thd, int lock_type)
{
  if (lock_type == F_UNLCK)
  {
    end_scan();
    /* A bulk delete always ends in end_bulk_delete; ids left here belong
       to a statement that stopped before it and must not be removed. */
    bulk_delete= false;
    delete_ids.clear();
    if (delete_log_rows)
      row_logging= true;
    delete_log_rows= false;
    end_delete_bracket();
    return 0;
  }
  log_rows_if_mixed(thd);
  delete_stmt= is_delete(thd, lock_type == F_WRLCK);
  return 0;
}

THR_LOCK_DATA **ha_queue::store_lock(THD *thd, THR_LOCK_DATA **to,
                                     enum thr_lock_type lock_type)
{
  /* As the archive engine: writers run concurrently outside LOCK TABLES;
     the Go library serialises what needs serialising. */
  if (lock_type != TL_IGNORE && lock.type == TL_UNLOCK)
  {
    if (lock_type >= TL_WRITE_CONCURRENT_INSERT && lock_type <= TL_WRITE &&
        !thd_in_lock_tables(thd) && !thd_tablespace_op(thd))
      lock_type= TL_WRITE_ALLOW_WRITE;
    if (lock_type == TL_READ_NO_INSERT && !thd_in_lock_tables(thd))
      lock_type= TL_READ;
    lock.type= lock_type;
  }
  *to++= &lock;
  return to;
}

/* ---------------- handlerton ---------------- */

static const char *queue_exts[]= { ".qcol", NullS };

static handler *queue_create_handler(handlerton *hton, TABLE_SHARE *ts,
                                     MEM_ROOT *mem_root)
{
  return new (mem_root) ha_queue(hton, ts);   /* ts is NULL for DROP/RENAME */
}

static int queue_close_connection(handlerton *, THD *thd)
{
  queue_conn_free(thd);
  return 0;
}

static void queue_kill_query(handlerton *, THD *thd, enum thd_kill_levels)
{
  queue_conn_kill(thd);
}

static bool queue_show_status(handlerton *, THD *thd, stat_print_fn *print,
                              enum ha_stat_type stat)
{
  if (stat != HA_ENGINE_STATUS)
    return false;
  return queue_show_engine_status(thd, print);   /* queue_status.cc */
}

/* DROP DATABASE: the server drops each table through its .frm first; what
   is left here are table directories and column lists of tables whose .frm
   is gone (a crash between steps). Remove them so rmdir succeeds. */
static void queue_drop_database(handlerton *, char *path)
{
  MY_DIR *dir= my_dir(path, MYF(MY_DONT_SORT | MY_WANT_STAT));
  if (!dir)
    return;
  for (size_t i= 0; i < dir->number_of_files; i++)
  {
    const char *n= dir->dir_entry[i].name;
    size_t len= strlen(n);
    static const char *const sfx[]= { ".queue", ".qcol", ".qcol.tmp" };
    for (const char *s : sfx)
    {
      size_t sl= strlen(s);
      if (len > sl && strcmp(n + len - sl, s) == 0)
      {
        char table[FN_REFLEN];
        my_snprintf(table, sizeof(table), "%s%.*s", path, (int) (len - sl), n);
        qc_err e= {{0}};
        if (queue_drop_table(table, &e) != QC_OK)
          sql_print_warning("QUEUE: DROP DATABASE could not remove %s: %s", table, e.msg);
        if (strcmp(s, ".qcol.tmp") == 0)
        {
          char f[FN_REFLEN];
          my_snprintf(f, sizeof(f), "%s%s", path, n);
          my_delete(f, MYF(0));
        }
        break;
      }
    }
  }
  my_dirend(dir);
}

static void push_settings();

static int queue_init(void *p)
{
  queue_hton= static_cast<handlerton*>(p);
  queue_hton->create= queue_create_handler;
  /* TRUNCATE -> handler::truncate(). No TEMPORARY tables: the SQL
     functions reach a table by name through the library, where a
     connection's temporary table has no name others could use; the
     server refuses CREATE TEMPORARY TABLE ... ENGINE=queue with
     ER_ILLEGAL_HA_CREATE_OPTION. */
  queue_hton->flags= HTON_NO_PARTITION | HTON_TEMPORARY_NOT_SUPPORTED;
  queue_hton->tablefile_extensions= queue_exts;
  queue_hton->close_connection= queue_close_connection;
  queue_hton->kill_query= queue_kill_query;
  queue_hton->show_status= queue_show_status;
  queue_hton->drop_database= queue_drop_database;
  queue_txn_init(queue_hton);
  if (qc_init(QC_ABI_VERSION, queue_notify) != QC_OK)
  {
    sql_print_error("QUEUE: libqueue_core.so does not have ABI %d", QC_ABI_VERSION);
    return 1;
  }
  __atomic_store_n(&engine_ready, 1, __ATOMIC_RELEASE);
  push_settings();
  return 0;
}

static int queue_deinit(void *)   /* called with NULL, not the handlerton */
{
  __atomic_store_n(&engine_ready, 0, __ATOMIC_RELEASE);
  int rc= qc_shutdown();
  if (rc != QC_OK)
    sql_print_warning("QUEUE: closing tables at shutdown returned %d", rc);
  queue_hton= nullptr;
  return 0;
}

static MYSQL_SYSVAR_ULONGLONG(max_statement_size, max_statement_bytes,
  PLUGIN_VAR_RQCMDARG,
  "Largest total size in bytes of the rows one INSERT statement may write "
  "into a queue table, and of the row ids (8 bytes each, at most 512 MiB) "
  "one DELETE statement may remove; larger statements fail and change nothing",
  nullptr, nullptr, 1ULL << 30, 1024, 1ULL << 30, 0);

static MYSQL_SYSVAR_ULONG(default_wait_timeout, queue_default_wait_timeout,
  PLUGIN_VAR_RQCMDARG,
  "Seconds queue_wait waits for a row when it is called without a timeout "
  "argument (0: check once)",
  nullptr, nullptr, 60, 0, 365UL * 24 * 3600, 0);

static MYSQL_THDVAR_BOOL(wait_in_order, PLUGIN_VAR_OPCMDARG,
  "queue_wait of this connection never passes a row that another connection "
  "owns: it waits until that row is consumed or given back (a relay, which "
  "must deliver its rows in row id order)",
  nullptr, nullptr, FALSE);

bool queue_thd_wait_in_order(THD *thd)
{
  return THDVAR(thd, wait_in_order);
}

/* Settings of the library (docs/OPERATIONS.md, "Settings"): each is
   handed to it as "name=value" (QC_ADMIN_SET) when it changes and once at
   init. The server checks the ranges, which are the library's. */
static ulonglong segment_size= 64ULL << 20;
static uint compact_live_percent= 50;
static ulong compact_rest_ms= 50;
static ulong sync_method= 0;              /* index into sync_names */
static const char *sync_names[]= { "fdatasync", "off", nullptr };
static TYPELIB sync_typelib= { 2, "queue_sync", sync_names, nullptr };

static void warn_sync_off()
{
  sql_print_warning("QUEUE: queue_sync=off: commits are acknowledged without "
                    "fdatasync; a crash of the machine can lose acknowledged "
                    "rows and damage queue tables. For tests only");
}

static void set_library(const char *name, unsigned long long v)
{
  if (!queue_engine_ready())
    return;
  char kv[96];
  if (strcmp(name, "sync") == 0)
    my_snprintf(kv, sizeof(kv), "sync=%s", sync_names[v ? 1 : 0]);
  else
    my_snprintf(kv, sizeof(kv), "%s=%llu", name, v);
  qc_err e= {{0}};
  if (qc_admin(QC_ADMIN_SET, kv, nullptr, 0, nullptr, &e) != QC_OK)
    sql_print_error("QUEUE: setting %s: %s", kv, e.msg);
}

static void push_settings()
{
  set_library("segment_size", segment_size);
  set_library("compact_live_percent", compact_live_percent);
  set_library("compact_rest_ms", compact_rest_ms);
  set_library("sync", sync_method);
  if (sync_method)
    warn_sync_off();
}

static void update_segment_size(MYSQL_THD, struct st_mysql_sys_var *, void *ptr, const void *save)
{
  *static_cast<ulonglong*>(ptr)= *static_cast<const ulonglong*>(save);
  set_library("segment_size", segment_size);
}

static void update_live_percent(MYSQL_THD, struct st_mysql_sys_var *, void *ptr, const void *save)
{
  *static_cast<uint*>(ptr)= *static_cast<const uint*>(save);
  set_library("compact_live_percent", compact_live_percent);
}

static void update_compact_rest(MYSQL_THD, struct st_mysql_sys_var *, void *ptr, const void *save)
{
  *static_cast<ulong*>(ptr)= *static_cast<const ulong*>(save);
  set_library("compact_rest_ms", compact_rest_ms);
}

static void update_sync(MYSQL_THD, struct st_mysql_sys_var *, void *ptr, const void *save)
{
  *static_cast<ulong*>(ptr)= *static_cast<const ulong*>(save);
  set_library("sync", sync_method);
  if (sync_method)
    warn_sync_off();
  else
    sql_print_information("QUEUE: queue_sync=fdatasync: commits are durable again");
}

static MYSQL_SYSVAR_ULONGLONG(segment_size, segment_size, PLUGIN_VAR_RQCMDARG,
  "Size in bytes at which a queue table starts a new segment file; "
  "compaction reclaims space by whole segments, and its output file holds "
  "at most this much. Takes effect at each table's next new segment",
  nullptr, update_segment_size, 64ULL << 20, 1ULL << 20, 1ULL << 30, 0);

static MYSQL_SYSVAR_UINT(compact_live_percent, compact_live_percent, PLUGIN_VAR_RQCMDARG,
  "Background compaction rewrites a range of sealed segments once at most "
  "this percentage of its bytes belongs to queued rows (lower: less "
  "rewriting, more disk space)",
  nullptr, update_live_percent, 50, 1, 99, 0);

static MYSQL_SYSVAR_ULONG(compact_rest_ms, compact_rest_ms, PLUGIN_VAR_RQCMDARG,
  "Milliseconds the background compaction of a table rests between two "
  "looks at it (higher: fewer wake-ups under a steady stream of consumed "
  "rows, space reclaimed later)",
  nullptr, update_compact_rest, 50, 0, 60000, 0);

static MYSQL_SYSVAR_ENUM(sync, sync_method, PLUGIN_VAR_RQCMDARG,
  "How commits are made durable: fdatasync (default), or off: no syncs at "
  "all, a crash of the machine can lose acknowledged rows. off is for tests "
  "only and is logged as a warning",
  nullptr, update_sync, 0, &sync_typelib);

static struct st_mysql_sys_var *queue_sysvars[]= {
  MYSQL_SYSVAR(compact_live_percent),
  MYSQL_SYSVAR(compact_rest_ms),
  MYSQL_SYSVAR(default_wait_timeout),
  MYSQL_SYSVAR(max_statement_size),
  MYSQL_SYSVAR(segment_size),
  MYSQL_SYSVAR(sync),
  MYSQL_SYSVAR(wait_in_order),
  nullptr
};

static struct st_mysql_storage_engine queue_storage_engine=
{ MYSQL_HANDLERTON_INTERFACE_VERSION };

maria_declare_plugin(queue)
{
  MYSQL_STORAGE_ENGINE_PLUGIN,
  &queue_storage_engine,
  "QUEUE",
  "queue-engine",
  "Durable message queue tables (Q4M compatible)",
  PLUGIN_LICENSE_GPL,
  queue_init,
  queue_deinit,
  0x0100,                 /* >= 0.8: Q4M client libraries check it */
  queue_status_vars,      /* queue_status.cc */
  queue_sysvars,
  "1.0",
  MariaDB_PLUGIN_MATURITY_GAMMA
},
{
  MYSQL_INFORMATION_SCHEMA_PLUGIN,
  &queue_tables_is,       /* queue_status.cc */
  "QUEUE_TABLES",
  "queue-engine",
  "The queue tables: rows queued and owned, consumers waiting, space",
  PLUGIN_LICENSE_GPL,
  queue_tables_is_init,
  nullptr,
  0x0100,
  nullptr,
  nullptr,
  "1.0",
  MariaDB_PLUGIN_MATURITY_GAMMA
}
maria_declare_plugin_end;
