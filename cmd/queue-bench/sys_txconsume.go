package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// The txconsume scenario: a consumer processes each message by updating an
// InnoDB row, either in one transaction with the removal (exactly-once
// processing) or with autocommit (the removal and the update commit
// separately: a crash between them processes the message twice or not at
// all). Both end every message with queue_end, so that the removal is
// part of the message's own unit of work:
//
//   - queue-tx-consume: BEGIN; SELECT queue_wait('q', 1); SELECT id,
//     payload FROM q; UPDATE accounts SET n = n + 1 WHERE id = ?;
//     SELECT queue_end(); COMMIT
//   - queue-ac-consume: the same statements without BEGIN and COMMIT.
type txConsumeSystem struct {
	srv      *mysqlServer
	tx       bool
	table    string
	accounts string
	settings string
}

// txAccounts is the number of InnoDB rows the consumers update (message id
// modulo this), few enough to be hot in the buffer pool, enough that 64
// consumers rarely wait for each other's row locks.
const txAccounts = 1024

func newTxConsume(ctx context.Context, srv *mysqlServer, tx bool) (*txConsumeSystem, error) {
	s := &txConsumeSystem{srv: srv, tx: tx, table: "bench_txc_ac", accounts: "bench_txc_ac_accounts"}
	if tx {
		s.table, s.accounts = "bench_txc_tx", "bench_txc_tx_accounts"
	}
	for _, e := range []string{"QUEUE", "InnoDB"} {
		if err := srv.engineAvailable(ctx, e, ""); err != nil {
			return nil, err
		}
	}
	var n int
	if err := srv.admin.QueryRowContext(ctx,
		"SELECT COUNT(*) FROM mysql.func WHERE name IN ('queue_wait', 'queue_end')").Scan(&n); err != nil || n != 2 {
		return nil, fmt.Errorf("the SQL functions queue_wait/queue_end are not installed (%v)", err)
	}
	flush := srv.variable(ctx, "innodb_flush_log_at_trx_commit")
	if flush != "1" {
		return nil, fmt.Errorf("innodb_flush_log_at_trx_commit=%s: not durable", flush)
	}
	if err := s.Reset(ctx); err != nil {
		return nil, err
	}
	form := "autocommit: SELECT queue_wait(); SELECT * FROM q; UPDATE accounts; SELECT queue_end()"
	if tx {
		form = "BEGIN; SELECT queue_wait(); SELECT * FROM q; UPDATE accounts; SELECT queue_end(); COMMIT"
	}
	s.settings = fmt.Sprintf("%s; innodb_flush_log_at_trx_commit=%s, log_bin=%s, sync_binlog=%s",
		form, flush, srv.variable(ctx, "log_bin"), srv.variable(ctx, "sync_binlog"))
	return s, nil
}

func (s *txConsumeSystem) Name() string {
	if s.tx {
		return "queue-tx-consume"
	}
	return "queue-ac-consume"
}
func (s *txConsumeSystem) Settings() string      { return s.settings }
func (s *txConsumeSystem) Bound() bool           { return false }
func (s *txConsumeSystem) Polls() bool           { return false }
func (s *txConsumeSystem) Close() error          { return nil }
func (s *txConsumeSystem) Scenarios() []string   { return []string{scTxConsume} }
func (s *txConsumeSystem) costProbe() *costProbe { return &costProbe{srv: s.srv, queue: true} }
func (s *txConsumeSystem) NewProducer(context.Context) (Producer, error) {
	return nil, fmt.Errorf("%s has no producers", s.Name())
}

func (s *txConsumeSystem) Reset(ctx context.Context) error {
	stmts := []string{"DROP TABLE IF EXISTS " + s.table,
		"CREATE TABLE " + s.table + " (id BIGINT UNSIGNED NOT NULL, payload VARBINARY(8192) NOT NULL) ENGINE=QUEUE",
		"DROP TABLE IF EXISTS " + s.accounts,
		"CREATE TABLE " + s.accounts + " (id INT NOT NULL PRIMARY KEY, n BIGINT NOT NULL) ENGINE=InnoDB",
		fmt.Sprintf("INSERT INTO %s (id, n) SELECT seq, 0 FROM seq_0_to_%d", s.accounts, txAccounts-1),
	}
	if err := s.srv.execAll(ctx, stmts...); err != nil {
		// Without the SEQUENCE engine: fill the accounts in one statement.
		stmts = stmts[:4]
		q := "INSERT INTO " + s.accounts + " (id, n) VALUES "
		for i := 0; i < txAccounts; i++ {
			if i > 0 {
				q += ","
			}
			q += fmt.Sprintf("(%d,0)", i)
		}
		return s.srv.execAll(ctx, append(stmts, q)...)
	}
	return nil
}

func (s *txConsumeSystem) Prefill(ctx context.Context, payloads [][]byte) error {
	return s.srv.prefill(ctx, s.table, payloads)
}

func (s *txConsumeSystem) Remaining(ctx context.Context) ([]uint64, error) {
	return s.srv.remainingIDs(ctx, "SELECT id FROM "+s.table)
}

// Verify checks that the accounts were updated once per delivered message:
// the processing and the removal committed together, as often as messages
// were delivered.
func (s *txConsumeSystem) Verify(ctx context.Context, consumed, remaining []uint64) error {
	var sum sql.NullInt64
	if err := s.srv.admin.QueryRowContext(ctx, "SELECT SUM(n) FROM "+s.accounts).Scan(&sum); err != nil {
		return err
	}
	if sum.Int64 != int64(len(consumed)) {
		return fmt.Errorf("%d messages delivered but %d updates of the accounts committed", len(consumed), sum.Int64)
	}
	return nil
}

func (s *txConsumeSystem) NewConsumer(ctx context.Context) (Consumer, error) {
	db, err := s.srv.conn(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &txConsumer{db: db, tx: s.tx,
		wait:   "SELECT queue_wait('test." + s.table + "', 1)",
		read:   "SELECT id, payload FROM " + s.table,
		update: "UPDATE " + s.accounts + " SET n = n + 1 WHERE id = ?"}, nil
}

type txConsumer struct {
	db                 *sql.DB
	tx                 bool
	wait, read, update string
}

func (c *txConsumer) exec(q string, args ...any) error {
	_, err := c.db.Exec(q, args...)
	return err
}

// Get processes at most one message; it counts as delivered only once its
// unit of work (the COMMIT, or the autocommit queue_end) succeeded.
func (c *txConsumer) Get() (msgs [][]byte, err error) {
	if c.tx {
		if err := c.exec("BEGIN"); err != nil {
			return nil, err
		}
		defer func() {
			if err != nil {
				c.exec("ROLLBACK")
				msgs = nil
			}
		}()
	}
	var got sql.NullInt64
	if err := c.db.QueryRow(c.wait).Scan(&got); err != nil {
		return nil, err
	}
	if !got.Valid {
		return nil, errors.New("queue_wait returned NULL")
	}
	if got.Int64 == 1 {
		rows, err := c.db.Query(c.read)
		if err != nil {
			return nil, err
		}
		msgs, err = scanOwned(rows)
		rows.Close()
		if err == nil && len(msgs) != 1 {
			err = fmt.Errorf("queue_wait returned 1 but the table showed %d rows to the owner", len(msgs))
		}
		if err != nil {
			return nil, err
		}
		if err := c.exec(c.update, messageID(msgs[0])%txAccounts); err != nil {
			return nil, err
		}
	}
	var ignored sql.NullInt64
	if err := c.db.QueryRow("SELECT queue_end()").Scan(&ignored); err != nil {
		return nil, err
	}
	if c.tx {
		if err := c.exec("COMMIT"); err != nil {
			return nil, err
		}
	}
	return msgs, nil
}

func (c *txConsumer) Close() error { return c.db.Close() }
