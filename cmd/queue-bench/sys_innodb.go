package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// innodbSystem is the usual "table as a queue" on InnoDB: an auto-increment
// key gives the order; a consumer locks the oldest row nobody else locked
// (FOR UPDATE SKIP LOCKED), deletes it and commits. Measured under both
// REPEATABLE READ (the default) and READ COMMITTED.
type innodbSystem struct {
	srv       *mysqlServer
	name      string
	isolation string // value of tx_isolation
	table     string
	poll      time.Duration
	settings  string
}

func newInnoDB(ctx context.Context, srv *mysqlServer, name, isolation string, poll time.Duration) (*innodbSystem, error) {
	s := &innodbSystem{srv: srv, name: name, isolation: isolation, table: "bench_" + strings.ReplaceAll(name, "-", "_"), poll: poll}
	if err := srv.engineAvailable(ctx, "InnoDB", ""); err != nil {
		return nil, err
	}
	flush := srv.variable(ctx, "innodb_flush_log_at_trx_commit")
	if flush != "1" {
		return nil, fmt.Errorf("innodb_flush_log_at_trx_commit=%s: not durable", flush)
	}
	s.settings = fmt.Sprintf("InnoDB, %s, innodb_flush_log_at_trx_commit=%s, log_bin=%s, sync_binlog=%s",
		isolation, flush, srv.variable(ctx, "log_bin"), srv.variable(ctx, "sync_binlog"))
	return s, nil
}

func (s *innodbSystem) Name() string     { return s.name }
func (s *innodbSystem) Settings() string { return s.settings }
func (s *innodbSystem) Bound() bool      { return false }
func (s *innodbSystem) Polls() bool      { return true }
func (s *innodbSystem) Close() error     { return nil }

func (s *innodbSystem) Reset(ctx context.Context) error {
	return s.srv.execAll(ctx, "DROP TABLE IF EXISTS "+s.table,
		"CREATE TABLE "+s.table+" (seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, "+
			"id BIGINT UNSIGNED NOT NULL, payload VARBINARY(8192) NOT NULL) ENGINE=InnoDB")
}

func (s *innodbSystem) Prefill(ctx context.Context, payloads [][]byte) error {
	return s.srv.prefill(ctx, s.table, payloads)
}

func (s *innodbSystem) Remaining(ctx context.Context) ([]uint64, error) {
	return s.srv.remainingIDs(ctx, "SELECT id FROM "+s.table)
}

func (s *innodbSystem) session() map[string]string {
	return map[string]string{"tx_isolation": "'" + s.isolation + "'"}
}

func (s *innodbSystem) NewProducer(ctx context.Context) (Producer, error) {
	db, err := s.srv.conn(ctx, s.session())
	if err != nil {
		return nil, err
	}
	return &sqlProducer{db: db, insert: "INSERT INTO " + s.table + " (id, payload) VALUES (?, ?)"}, nil
}

func (s *innodbSystem) NewConsumer(ctx context.Context) (Consumer, error) {
	db, err := s.srv.conn(ctx, s.session())
	if err != nil {
		return nil, err
	}
	return &innodbConsumer{db: db, table: s.table, poll: s.poll}, nil
}

type innodbConsumer struct {
	db    *sql.DB
	table string
	poll  time.Duration
}

func (c *innodbConsumer) Get() ([][]byte, error) { return pollWait(c.poll, c.once) }

// once is one transaction: BEGIN; SELECT ... FOR UPDATE SKIP LOCKED;
// DELETE; COMMIT. The message counts as consumed only once COMMIT returned.
func (c *innodbConsumer) once() ([][]byte, error) {
	tx, err := c.db.Begin()
	if err != nil {
		return nil, err
	}
	var seq int64
	var payload []byte
	err = tx.QueryRow("SELECT seq, payload FROM "+c.table+
		" ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED").Scan(&seq, &payload)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, tx.Commit()
	}
	if err != nil {
		tx.Rollback()
		return nil, err
	}
	if _, err := tx.Exec("DELETE FROM "+c.table+" WHERE seq = ?", seq); err != nil {
		tx.Rollback()
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return [][]byte{payload}, nil
}

func (c *innodbConsumer) Close() error { return c.db.Close() }

func (s *innodbSystem) costProbe() *costProbe { return &costProbe{srv: s.srv} }
