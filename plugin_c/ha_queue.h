/*
  ha_queue.h: the QUEUE storage engine handler. A thin layer over the Go
  library (queue_core.h): each method packs or unpacks rows and makes one
  qc_* call. Row payload format: docs/ROW-PAYLOAD.md.
*/
#ifndef HA_QUEUE_H
#define HA_QUEUE_H

#include <vector>
#include "queue_core.h"

/* One per TABLE_SHARE: only the THR_LOCK lives here. Queue state is in the
   Go library, keyed by table path, because a share is destroyed by FLUSH
   TABLES while rows and their owners must survive. */
class Queue_share : public Handler_share
{
public:
  THR_LOCK lock;
  Queue_share() { thr_lock_init(&lock); }
  ~Queue_share() override { thr_lock_delete(&lock); }
};

struct Queue_owned;
struct Queue_copy;

class ha_queue final : public handler
{
  THR_LOCK_DATA lock;
  Queue_share *share= nullptr;
  uint64_t tbl= 0;            /* qc table handle, 0 when closed */
  const qc_table_counters *counters= nullptr; /* the table's, while tbl is open */
  uint64_t cursor= 0;         /* qc scan handle, 0 outside a scan */
  uint64_t cur_id= 0;         /* row id of the row last read */
  /* The row last read is damaged and was passed to a DELETE without WHERE
     unread (record = the table's defaults): removed, never logged. */
  bool cur_damaged= false;
  bool delete_removes_damaged() const;
  /* An owner-mode scan served from the connection's cached row: 1 before
     the row is returned, 2 after; 0 for a library scan. */
  int owned_scan= 0;
  /* A table copy's read of the old table: the connection's log of the
     ids read (see Queue_copy), NULL otherwise. */
  Queue_copy *copy_log= nullptr;

  qc_row rowbuf= {nullptr, 0, 0, 0}; /* last row read; BLOB fields point into it */
  std::vector<uchar> packbuf; /* payloads being written: one row, or a bulk */
  std::vector<uint32_t> lens; /* payload sizes in packbuf */
  bool bulk_insert= false;    /* between start_ and end_bulk_insert */
  bool bulk_chunked= false;   /* copying into a new table (ALTER): append in chunks */

  std::vector<uint64_t> delete_ids; /* ids collected by a bulk delete */
  bool bulk_delete= false;
  /* A bulk delete logged row by row: it keeps the row images in packbuf
     and logs them after the removal (delete_row). */
  bool delete_log_rows= false;
  bool delete_maps_before= false; /* table maps written before it began */
  bool delete_stmt= false;    /* this statement is a DELETE with a write lock */
  bool delete_bracket= false; /* qc_delete_bracket(1) called, (0) due */

  Queue_share *get_share();
  uint64_t session() const;
  int report(int rc, const qc_err &e, bool raise= true);
  int pack_row(const uchar *record);
  int unpack_row(uchar *record, const uchar *payload, size_t len);
  int flush_inserts();
  void pair_copied(Queue_copy &c, uint64_t first_id, size_t n);
  bool copying_from(const Queue_copy &c);
  int flush_deletes();
  bool staging() const;
  int stage_deletes(const uint64_t *ids, size_t n);
  int log_deleted_rows();
  int read_row(uchar *buf, int rc, const qc_err &e);
  int copy_owned(const Queue_owned *o);

  void end_scan();
  void end_delete_bracket();
  /* The connection's owned row if it is in this table and its cached image
     is valid; *owner_mode tells whether the connection is in owner mode. */
  const Queue_owned *cached_owned(bool *owner_mode) const;

public:
  ha_queue(handlerton *hton, TABLE_SHARE *ts) : handler(hton, ts) {}
  ~ha_queue() override;

  const char *index_type(uint) override { return "NONE"; }
  ulonglong table_flags() const override;
  ulong index_flags(uint, uint, bool) const override { return 0; }
  uint max_supported_keys() const override { return 0; }

  int open(const char *name, int mode, uint test_if_locked) override;
  int close() override;
  int create(const char *name, TABLE *form, HA_CREATE_INFO *info) override;
  int delete_table(const char *name) override;
  int rename_table(const char *from, const char *to) override;
  int truncate() override;
  int delete_all_rows() override { return HA_ERR_WRONG_COMMAND; }

  int write_row(const uchar *buf) override;
  int update_row(const uchar *, const uchar *) override { return HA_ERR_WRONG_COMMAND; }
  int delete_row(const uchar *buf) override;
  void start_bulk_insert(ha_rows rows, uint flags) override;
  int end_bulk_insert() override;
  bool start_bulk_delete() override;
  int end_bulk_delete() override;

  int rnd_init(bool scan) override;
  int rnd_next(uchar *buf) override;
  int rnd_end() override;
  void position(const uchar *) override;
  int rnd_pos(uchar *buf, uchar *pos) override;

  int info(uint flag) override;

  int check(THD *thd, HA_CHECK_OPT *check_opt) override;
  int repair(THD *thd, HA_CHECK_OPT *check_opt) override;
  int optimize(THD *thd, HA_CHECK_OPT *check_opt) override;

  ha_rows records() override;
  int external_lock(THD *thd, int lock_type) override;
  int start_stmt(THD *thd, thr_lock_type lock_type) override;
  int reset() override;
  THR_LOCK_DATA **store_lock(THD *thd, THR_LOCK_DATA **to,
                             enum thr_lock_type lock_type) override;
};

#endif
