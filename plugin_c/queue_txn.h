/*
  queue_txn.h: queue tables as transaction participants (docs/SQL.md,
  "Transactions").

  Inside a transaction (BEGIN, autocommit=0, XA) and in a trigger or
  stored function of any statement, a queue write is staged in the
  connection's transaction in the library instead of being written:
  INSERTed rows, DELETEd rows and the consumption of owned rows (queue_end,
  the next queue_wait). The handlerton's commit writes them in one batch
  (one-phase) or resolves their prepared batch (two-phase: prepare writes
  them durably as prepared under the server's XID); rollback drops them and
  gives held rows back to the queue. Every statement of a transaction that
  writes gets a savepoint in the library (replacing the previous
  statement's), so a failed statement undoes only its own part. With the
  binary log coordinating, the commit of a prepared transaction is not
  synced: the binary log re-commits it at recovery until the handlerton's
  commit_checkpoint_request has synced it.
*/
#ifndef QUEUE_TXN_H
#define QUEUE_TXN_H

#include "queue_conn.h"

class THD;
struct handlerton;

/* True when thd's queue writes now belong to a transaction. */
bool queue_txn_active(THD *thd);

/* Registers the engine in thd's statement and transaction as a read-write
   participant and, at the first write of a statement, sets the statement's
   savepoint. Call before each qc_txn_stage. */
void queue_txn_join(THD *thd, Queue_conn *conn);

/* Sets the handlerton's transaction callbacks. */
void queue_txn_init(handlerton *hton);

#endif
