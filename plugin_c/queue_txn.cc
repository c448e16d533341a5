/*
  queue_txn.cc: the handlerton's transaction callbacks (see queue_txn.h).
*/
#define MYSQL_SERVER 1
#include <my_global.h>
#include <mysql/plugin.h>
#include "sql_class.h"
#include "handler.h"
#include "log.h"
#include "mysqld.h"
#include "queue_txn.h"

bool queue_txn_active(THD *thd)
{
  return thd_test_options(thd, OPTION_NOT_AUTOCOMMIT | OPTION_BEGIN) ||
         thd->in_sub_stmt;
}

/* A multi-statement transaction (the statement's end is not its end). */
static bool multi_statement(THD *thd)
{
  return thd_test_options(thd, OPTION_NOT_AUTOCOMMIT | OPTION_BEGIN);
}

void queue_txn_join(THD *thd, Queue_conn *conn)
{
  bool all= multi_statement(thd);
  trans_register_ha(thd, false, queue_hton, 0);
  thd->ha_data[queue_hton->slot].ha_info[0].set_trx_read_write();
  if (all)
  {
    trans_register_ha(thd, true, queue_hton, 0);
    thd->ha_data[queue_hton->slot].ha_info[1].set_trx_read_write();
  }
  Queue_txn &t= conn->txn;
  t.active= true;
  if (all && t.stmt_query_id != thd->query_id)
  {
    /* One call replaces the previous statement's mark (kept until now:
       a statement that ends well needs no call). */
    uint64_t mark= t.stmt_mark;
    if (qc_txn_savepoint(conn->session, QC_SP_STMT, &mark) == QC_OK)
    {
      t.stmt_mark= mark;
      t.stmt_query_id= thd->query_id;
    }
    else
      t.stmt_mark= t.stmt_query_id= 0;
  }
}

static void reset_txn(Queue_conn *conn)
{
  conn->txn.active= false;
  conn->txn.took= false;
  conn->txn.lazy_commit= false;
  conn->txn.stmt_query_id= 0;
  conn->txn.stmt_mark= 0;
}

/* Serializes an XID: formatID (8 bytes, little endian), gtrid and bqual
   lengths (1 byte each), then their bytes. */
static size_t pack_xid(const XID *x, unsigned char *buf)
{
  int64_t f= x->formatID;
  for (int i= 0; i < 8; i++)
    buf[i]= (unsigned char) (((uint64_t) f) >> (8 * i));
  buf[8]= (unsigned char) x->gtrid_length;
  buf[9]= (unsigned char) x->bqual_length;
  size_t n= (size_t) (x->gtrid_length + x->bqual_length);
  memcpy(buf + 10, x->data, n);
  return 10 + n;
}

static bool unpack_xid(const unsigned char *buf, size_t len, XID *x)
{
  if (len < 10)
    return false;
  uint64_t f= 0;
  for (int i= 0; i < 8; i++)
    f|= ((uint64_t) buf[i]) << (8 * i);
  size_t g= buf[8], b= buf[9];
  if (g + b > XIDDATASIZE || 10 + g + b != len)
    return false;
  x->formatID= (long) (int64_t) f;
  x->gtrid_length= (long) g;
  x->bqual_length= (long) b;
  memcpy(x->data, buf + 10, g + b);
  return true;
}

/* Runs qc_txn_end through a Queue_done and waits. */
static int finish_end(THD *thd, Queue_done &d, int rc, const char *what)
{
  if (rc == QC_PENDING)
    rc= d.wait(thd);
  if (rc != QC_OK)
    sql_print_error("QUEUE: %s failed: %s (%d)", what,
                    d.req.err.msg[0] ? d.req.err.msg : "error", rc);
  return rc;
}

static int txn_end(THD *thd, int op, const char *what)
{
  Queue_conn *conn= queue_conn_get(thd, false);
  if (!conn || !conn->txn.active)
    return 0;
  unsigned char xid[10 + XIDDATASIZE];
  size_t xlen= 0;
  if (op == QC_TXN_PREPARE)
  {
    MYSQL_XID mx;
    thd_get_xid(thd, &mx);
    xlen= pack_xid(reinterpret_cast<const XID*>(&mx), xid);
  }
  Queue_done d(0);
  int rc= finish_end(thd, d, qc_txn_end(conn->session, op, xlen ? xid : nullptr, xlen, &d.req), what);
  if (op != QC_TXN_PREPARE)
    reset_txn(conn);
  return rc;
}

static int queue_prepare(handlerton *, THD *thd, bool all)
{
  /* A statement's end inside a transaction prepares nothing. */
  if (!all && multi_statement(thd))
    return 0;
  /* Without the binary log the server coordinates with tc.log, and its
     recovery in this version rolls back every prepared transaction, the
     ones it had committed too (docs/SQL.md, "Transactions and crashes"). */
  static bool warned= false;
  MYSQL_XID mx;
  thd_get_xid(thd, &mx);
  bool internal= reinterpret_cast<XID*>(&mx)->get_my_xid() != 0;
  if (internal && !opt_bin_log && !__atomic_exchange_n(&warned, true, __ATOMIC_RELAXED))
    sql_print_warning("QUEUE: a transaction spans a queue table and another "
                      "transactional engine without the binary log: after a "
                      "crash the server's recovery rolls back every prepared "
                      "transaction, acknowledged ones too; enable log_bin for "
                      "atomic commits across a crash");
  if (txn_end(thd, QC_TXN_PREPARE, "PREPARE"))
    return HA_ERR_INTERNAL_ERROR;
  /* The binary log keeps the commit decision of a server XID until its
     commit checkpoint (queue_commit_checkpoint_request): the commit that
     follows need not be synced. An explicit XA's is. */
  Queue_conn *conn= queue_conn_get(thd, false);
  if (conn && conn->txn.active)
    conn->txn.lazy_commit= internal && opt_bin_log;
  return 0;
}

static int queue_commit(handlerton *, THD *thd, bool all)
{
  /* A statement's end inside a transaction: its savepoint is replaced by
     the next statement that writes. */
  if (!all && multi_statement(thd))
    return 0;
  Queue_conn *conn= queue_conn_get(thd, false);
  int op= conn && conn->txn.lazy_commit ? QC_TXN_COMMIT_NOSYNC : QC_TXN_COMMIT;
  return txn_end(thd, op, "COMMIT") ? HA_ERR_INTERNAL_ERROR : 0;
}

/* The binary log asks before it forgets the commits logged so far (at
   rotation): every commit acknowledged without an fdatasync is synced,
   then the server is told. */
static void queue_commit_checkpoint_request(void *cookie)
{
  size_t len= 0;
  qc_err e= {{0}};
  if (qc_admin(QC_ADMIN_SYNC, nullptr, nullptr, 0, &len, &e) != QC_OK)
    sql_print_error("QUEUE: syncing the commits for the binary log checkpoint failed: %s",
                    e.msg);
  commit_checkpoint_notify_ha(cookie);
}

static int queue_rollback(handlerton *, THD *thd, bool all)
{
  Queue_conn *conn= queue_conn_get(thd, false);
  if (!conn)
    return 0;
  if (!all && multi_statement(thd))
  {
    /* A failed statement: undo its part only (if it wrote). */
    if (conn->txn.stmt_query_id == thd->query_id && conn->txn.stmt_mark)
    {
      qc_txn_savepoint(conn->session, QC_SP_ROLLBACK, &conn->txn.stmt_mark);
      conn->txn.stmt_query_id= 0;
    }
    return 0;
  }
  /* The rows the transaction took go back: consumed ones (held in the
     transaction) and the one the connection still owns. */
  if (conn->txn.took && conn->owned.owner_mode)
  {
    qc_abort(conn->session);
    queue_conn_leave(conn);
  }
  return txn_end(thd, QC_TXN_ROLLBACK, "ROLLBACK") ? HA_ERR_INTERNAL_ERROR : 0;
}

static int queue_savepoint_set(handlerton *, THD *thd, void *sv)
{
  Queue_conn *conn= queue_conn_get(thd, true);
  if (!conn)
    return HA_ERR_OUT_OF_MEM;
  uint64_t mark= 0;
  int rc= qc_txn_savepoint(conn->session, QC_SP_SET, &mark);
  memcpy(sv, &mark, sizeof(mark));
  return rc == QC_OK ? 0 : HA_ERR_INTERNAL_ERROR;
}

static int queue_savepoint_rollback(handlerton *, THD *thd, void *sv)
{
  Queue_conn *conn= queue_conn_get(thd, false);
  if (!conn)
    return 0;
  uint64_t mark;
  memcpy(&mark, sv, sizeof(mark));
  return qc_txn_savepoint(conn->session, QC_SP_ROLLBACK, &mark) == QC_OK ? 0 : HA_ERR_INTERNAL_ERROR;
}

static int queue_savepoint_release(handlerton *, THD *thd, void *sv)
{
  Queue_conn *conn= queue_conn_get(thd, false);
  if (!conn)
    return 0;
  uint64_t mark;
  memcpy(&mark, sv, sizeof(mark));
  qc_txn_savepoint(conn->session, QC_SP_RELEASE, &mark);
  return 0;
}

/* Holding no locks, a savepoint rollback can release metadata locks. */
static bool queue_savepoint_rollback_can_release_mdl(handlerton *, THD *)
{
  return true;
}

static int queue_recover(handlerton *, XID *list, uint len)
{
  if (len == 0)
    return 0;
  /* The library lists at most len records into this buffer. */
  std::vector<unsigned char> buf((size_t) len * QC_XA_RECORD_MAX);
  size_t used= 0;
  qc_err e= {{0}};
  int rc= qc_admin(QC_ADMIN_XA_RECOVER, nullptr, (char *) buf.data(), buf.size(),
                   &used, &e);
  if (rc != QC_OK)
    sql_print_error("QUEUE: listing prepared transactions: %s", e.msg);
  int got= 0;
  size_t off= 0;
  while (got < (int) len && off + 2 <= used)
  {
    size_t l= buf[off] | (size_t) buf[off + 1] << 8;
    if (off + 2 + l > used)
      break;
    if (unpack_xid(buf.data() + off + 2, l, &list[got]))
      got++;
    off+= 2 + l;
  }
  if (got)
    sql_print_information("QUEUE: %d prepared transaction(s) found in queue tables", got);
  return got;
}

/* X/Open XA results of commit_by_xid/rollback_by_xid (as InnoDB's). */
static const int xa_ok= 0, xaer_rmerr= -3, xaer_nota= -4;

/* The XID for the error log: the server's own (one number) or gtrid and
   bqual in hex. */
static void xid_text(XID *x, char *buf, size_t len)
{
  if (my_xid m= x->get_my_xid())
  {
    my_snprintf(buf, len, "%llu", (ulonglong) m);
    return;
  }
  size_t n= my_snprintf(buf, len, "formatID %ld data ", x->formatID);
  for (long i= 0; i < x->gtrid_length + x->bqual_length && n + 3 < len; i++)
    n+= my_snprintf(buf + n, len - n, "%02x", (uchar) x->data[i]);
}

static int resolve_xid(XID *x, int commit)
{
  unsigned char xid[10 + XIDDATASIZE];
  size_t xlen= pack_xid(x, xid);
  char text[2 * XIDDATASIZE + 40];
  xid_text(x, text, sizeof(text));
  sql_print_information("QUEUE: %s prepared transaction %s",
                        commit ? "committing" : "rolling back", text);
  Queue_done d(0);
  int rc= qc_txn_end(0, commit ? QC_XA_COMMIT : QC_XA_ROLLBACK, xid, xlen, &d.req);
  if (rc == QC_ENOENT)
    return xaer_nota;
  rc= finish_end(nullptr, d, rc, commit ? "COMMIT of a prepared transaction" :
                                         "ROLLBACK of a prepared transaction");
  return rc == QC_OK ? xa_ok : xaer_rmerr;
}

static int queue_commit_by_xid(handlerton *, XID *x) { return resolve_xid(x, 1); }
static int queue_rollback_by_xid(handlerton *, XID *x) { return resolve_xid(x, 0); }

void queue_txn_init(handlerton *hton)
{
  hton->savepoint_offset= sizeof(uint64_t);
  hton->savepoint_set= queue_savepoint_set;
  hton->savepoint_rollback= queue_savepoint_rollback;
  hton->savepoint_release= queue_savepoint_release;
  hton->savepoint_rollback_can_release_mdl= queue_savepoint_rollback_can_release_mdl;
  hton->commit= queue_commit;
  hton->rollback= queue_rollback;
  hton->prepare= queue_prepare;
  hton->recover= queue_recover;
  hton->commit_by_xid= queue_commit_by_xid;
  hton->commit_checkpoint_request= queue_commit_checkpoint_request;
  hton->rollback_by_xid= queue_rollback_by_xid;
}
