package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// queueSystem is this engine. Enqueue is a plain INSERT. Consume is the Q4M
// loop: SELECT queue_wait('test.q', 1) takes the oldest row for this
// connection (and durably removes the row it owned before), SELECT id,
// payload FROM q returns exactly that owned row; queue_end() on Close
// removes the last one.
//
// Variants of the consume (queueMode):
//   - queueTwo: the two statements above, two round trips per message;
//   - queueOneStatement: SELECT id, payload FROM q WHERE
//     queue_wait('test.q', 1), one statement per message: the statement
//     consumes the row owned before and returns the row it now owns
//     (docs/FUNCTIONS.md, "The one-statement consume");
//   - queueMultiStatement: both statements sent in one round trip
//     ("SELECT queue_wait(...); SELECT id, payload FROM q", the client's
//     multi-statement mode). Safe because after a timeout the connection
//     stays in owner mode and sees no rows (docs/FUNCTIONS.md).
type queueSystem struct {
	srv      *mysqlServer
	mode     queueMode
	table    string
	settings string
}

type queueMode int

const (
	queueTwo queueMode = iota
	queueOneStatement
	queueMultiStatement
)

func newQueue(ctx context.Context, srv *mysqlServer, mode queueMode) (*queueSystem, error) {
	s := &queueSystem{srv: srv, mode: mode, table: [...]string{"bench_queue", "bench_queue1", "bench_queuem"}[mode]}
	if err := srv.engineAvailable(ctx, "QUEUE", ""); err != nil {
		return nil, err
	}
	var n int
	if err := srv.admin.QueryRowContext(ctx,
		"SELECT COUNT(*) FROM mysql.func WHERE name IN ('queue_wait', 'queue_end')").Scan(&n); err != nil || n != 2 {
		return nil, fmt.Errorf("the SQL functions queue_wait/queue_end are not installed (%v)", err)
	}
	if err := s.Reset(ctx); err != nil {
		return nil, err
	}
	if mode == queueOneStatement {
		// Probe the idiom on the empty queue (timeout 0): an engine that
		// does not support it fails here, and the system is reported as
		// not available rather than failing in the middle of the run.
		db, err := srv.conn(ctx, nil)
		if err != nil {
			return nil, err
		}
		defer db.Close()
		rows, err := db.QueryContext(ctx, "SELECT id, payload FROM "+s.table+" WHERE queue_wait('test."+s.table+"', 0)")
		if err != nil {
			return nil, fmt.Errorf("one-statement consume not supported: %w", err)
		}
		rows.Close()
	}
	s.settings = "queue engine in the same server; consume = " + [...]string{
		"SELECT queue_wait() + SELECT * (two statements, two round trips per message)",
		"SELECT ... WHERE queue_wait() (one statement per message)",
		"SELECT queue_wait(); SELECT * sent together (two statements, one round trip per message)",
	}[mode]
	return s, nil
}

func (s *queueSystem) Name() string {
	return [...]string{"queue", "queue-1stmt", "queue-multi"}[s.mode]
}
func (s *queueSystem) Settings() string { return s.settings }
func (s *queueSystem) Bound() bool      { return false }
func (s *queueSystem) Polls() bool      { return false }
func (s *queueSystem) Close() error     { return nil }

func (s *queueSystem) Reset(ctx context.Context) error {
	return s.srv.execAll(ctx, "DROP TABLE IF EXISTS "+s.table,
		"CREATE TABLE "+s.table+" (id BIGINT UNSIGNED NOT NULL, payload VARBINARY(8192) NOT NULL) ENGINE=QUEUE")
}

func (s *queueSystem) Prefill(ctx context.Context, payloads [][]byte) error {
	return s.srv.prefill(ctx, s.table, payloads)
}

// Remaining reads the table from a connection that owns nothing, which sees
// every live row not owned by a consumer (all of them once consumers left).
func (s *queueSystem) Remaining(ctx context.Context) ([]uint64, error) {
	return s.srv.remainingIDs(ctx, "SELECT id FROM "+s.table)
}

func (s *queueSystem) NewProducer(ctx context.Context) (Producer, error) {
	db, err := s.srv.conn(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &sqlProducer{db: db, insert: "INSERT INTO " + s.table + " (id, payload) VALUES (?, ?)"}, nil
}

func (s *queueSystem) NewConsumer(ctx context.Context) (Consumer, error) {
	var vars map[string]string
	if s.mode == queueMultiStatement {
		vars = map[string]string{"multiStatements": "true"}
	}
	db, err := s.srv.conn(ctx, vars)
	if err != nil {
		return nil, err
	}
	return &queueConsumer{db: db, table: s.table, mode: s.mode}, nil
}

type queueConsumer struct {
	db    *sql.DB
	table string
	mode  queueMode
}

func (c *queueConsumer) Get() ([][]byte, error) {
	wait := "SELECT queue_wait('test." + c.table + "', 1)"
	switch c.mode {
	case queueOneStatement:
		msgs, err := c.readOwned("SELECT id, payload FROM " + c.table + " WHERE queue_wait('test." + c.table + "', 1)")
		if err == nil && len(msgs) > 1 {
			err = fmt.Errorf("the one-statement consume returned %d rows", len(msgs))
		}
		return msgs, err
	case queueMultiStatement:
		return c.getMulti(wait + "; SELECT id, payload FROM " + c.table)
	}
	var got sql.NullInt64
	if err := c.db.QueryRow(wait).Scan(&got); err != nil {
		return nil, err
	}
	if !got.Valid {
		return nil, errors.New("queue_wait returned NULL")
	}
	if got.Int64 != 1 {
		return nil, nil // timed out
	}
	msgs, err := c.readOwned("SELECT id, payload FROM " + c.table)
	if err == nil && len(msgs) != 1 {
		err = fmt.Errorf("queue_wait returned 1 but the table showed %d rows to the owner", len(msgs))
	}
	return msgs, err
}

// getMulti runs queue_wait and the owner's SELECT in one round trip.
func (c *queueConsumer) getMulti(query string) ([][]byte, error) {
	rows, err := c.db.Query(query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var got sql.NullInt64
	if !rows.Next() {
		return nil, fmt.Errorf("queue_wait returned no row: %v", rows.Err())
	}
	if err := rows.Scan(&got); err != nil {
		return nil, err
	}
	if !rows.NextResultSet() {
		return nil, fmt.Errorf("no result for the owner's SELECT: %v", rows.Err())
	}
	msgs, err := scanOwned(rows)
	if err != nil {
		return nil, err
	}
	switch {
	case !got.Valid:
		// Out of owner mode: the SELECT saw unowned rows, which are not
		// ours. Fail rather than count them.
		return nil, errors.New("queue_wait returned NULL")
	case got.Int64 == 0 && len(msgs) != 0:
		return nil, fmt.Errorf("queue_wait timed out but the owner's SELECT returned %d rows", len(msgs))
	case got.Int64 == 1 && len(msgs) != 1:
		return nil, fmt.Errorf("queue_wait returned 1 but the table showed %d rows to the owner", len(msgs))
	}
	return msgs, nil
}

func (c *queueConsumer) readOwned(query string) ([][]byte, error) {
	rows, err := c.db.Query(query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanOwned(rows)
}

// scanOwned reads (id, payload) rows and checks that each payload carries
// its row's id.
func scanOwned(rows *sql.Rows) ([][]byte, error) {
	var msgs [][]byte
	for rows.Next() {
		var id uint64
		var payload []byte
		if err := rows.Scan(&id, &payload); err != nil {
			return nil, err
		}
		if messageID(payload) != id {
			return nil, fmt.Errorf("row id column %d does not match its payload's id %d", id, messageID(payload))
		}
		msgs = append(msgs, payload)
	}
	return msgs, rows.Err()
}

// Close ends owner mode, which durably removes the last owned row, then
// disconnects.
func (c *queueConsumer) Close() error {
	var ignored sql.NullInt64
	err := c.db.QueryRow("SELECT queue_end()").Scan(&ignored)
	if cerr := c.db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("queue_end: %w", err)
	}
	return nil
}

func (s *queueSystem) costProbe() *costProbe { return &costProbe{srv: s.srv, queue: true} }
