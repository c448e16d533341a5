package main

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
)

// The outbox scenario: each transaction writes one business row to InnoDB
// and, in the same transaction, one message — the transactional outbox an
// application uses so that a message exists if and only if its business
// change committed. Three ways, one transaction per message each:
//
//   - innodb-alone: the business row only (BEGIN; INSERT order; COMMIT),
//     the floor: what the application costs without any message;
//   - innodb-outbox: the business row and a row in an InnoDB outbox table;
//   - queue-outbox: the business row and a row in a queue table, one
//     transaction across both engines (two-phase commit).
//
// The "message" of innodb-alone is the order row itself, so the delivery
// check (produced = remaining) holds for all three; the outbox systems
// also check that the set of order ids equals the set of message ids.
type outboxSystem struct {
	srv      *mysqlServer
	kind     outboxKind
	orders   string
	outbox   string // "" for innodb-alone
	settings string
}

type outboxKind int

const (
	outboxAlone outboxKind = iota
	outboxInnoDB
	outboxQueue
)

var outboxNames = [...]string{"innodb-alone", "innodb-outbox", "queue-outbox"}

func newOutbox(ctx context.Context, srv *mysqlServer, kind outboxKind) (*outboxSystem, error) {
	s := &outboxSystem{srv: srv, kind: kind, orders: "bench_ob_orders_" + [...]string{"a", "i", "q"}[kind]}
	if err := srv.engineAvailable(ctx, "InnoDB", ""); err != nil {
		return nil, err
	}
	flush := srv.variable(ctx, "innodb_flush_log_at_trx_commit")
	if flush != "1" {
		return nil, fmt.Errorf("innodb_flush_log_at_trx_commit=%s: not durable", flush)
	}
	what := "BEGIN; INSERT INTO orders; COMMIT"
	switch kind {
	case outboxInnoDB:
		s.outbox = "bench_ob_outbox"
		what = "BEGIN; INSERT INTO orders; INSERT INTO outbox (InnoDB); COMMIT"
	case outboxQueue:
		if err := srv.engineAvailable(ctx, "QUEUE", ""); err != nil {
			return nil, err
		}
		s.outbox = "bench_ob_queue"
		what = "BEGIN; INSERT INTO orders; INSERT INTO a queue table; COMMIT"
	}
	if err := s.Reset(ctx); err != nil {
		return nil, err
	}
	s.settings = fmt.Sprintf("%s; innodb_flush_log_at_trx_commit=%s, log_bin=%s, sync_binlog=%s",
		what, flush, srv.variable(ctx, "log_bin"), srv.variable(ctx, "sync_binlog"))
	return s, nil
}

func (s *outboxSystem) Name() string        { return outboxNames[s.kind] }
func (s *outboxSystem) Settings() string    { return s.settings }
func (s *outboxSystem) Bound() bool         { return false }
func (s *outboxSystem) Polls() bool         { return false }
func (s *outboxSystem) Close() error        { return nil }
func (s *outboxSystem) Scenarios() []string { return []string{scOutbox} }
func (s *outboxSystem) costProbe() *costProbe {
	return &costProbe{srv: s.srv, queue: s.kind == outboxQueue}
}

func (s *outboxSystem) Reset(ctx context.Context) error {
	stmts := []string{"DROP TABLE IF EXISTS " + s.orders,
		"CREATE TABLE " + s.orders + " (id BIGINT UNSIGNED NOT NULL PRIMARY KEY, customer INT NOT NULL, " +
			"amount INT NOT NULL, payload VARBINARY(8192) NOT NULL) ENGINE=InnoDB"}
	switch s.kind {
	case outboxInnoDB:
		stmts = append(stmts, "DROP TABLE IF EXISTS "+s.outbox,
			"CREATE TABLE "+s.outbox+" (seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, "+
				"id BIGINT UNSIGNED NOT NULL, payload VARBINARY(8192) NOT NULL) ENGINE=InnoDB")
	case outboxQueue:
		stmts = append(stmts, "DROP TABLE IF EXISTS "+s.outbox,
			"CREATE TABLE "+s.outbox+" (id BIGINT UNSIGNED NOT NULL, payload VARBINARY(8192) NOT NULL) ENGINE=QUEUE")
	}
	return s.srv.execAll(ctx, stmts...)
}

func (s *outboxSystem) Prefill(ctx context.Context, payloads [][]byte) error {
	return fmt.Errorf("%s has no consumers to pre-fill for", s.Name())
}

func (s *outboxSystem) NewConsumer(ctx context.Context) (Consumer, error) {
	return nil, fmt.Errorf("%s has no consumers", s.Name())
}

// Remaining returns the message ids: the outbox's rows, or the orders for
// innodb-alone.
func (s *outboxSystem) Remaining(ctx context.Context) ([]uint64, error) {
	if s.outbox == "" {
		return s.srv.remainingIDs(ctx, "SELECT id FROM "+s.orders)
	}
	return s.srv.remainingIDs(ctx, "SELECT id FROM "+s.outbox)
}

// Verify checks that every order has its message and every message its
// order: what the transaction promises.
func (s *outboxSystem) Verify(ctx context.Context, consumed, remaining []uint64) error {
	if s.outbox == "" {
		return nil
	}
	orders, err := s.srv.remainingIDs(ctx, "SELECT id FROM "+s.orders)
	if err != nil {
		return err
	}
	msgs := slices.Clone(remaining)
	slices.Sort(orders)
	slices.Sort(msgs)
	if !slices.Equal(orders, msgs) {
		return fmt.Errorf("%d orders but %d messages, or different ids: order and message not committed together", len(orders), len(msgs))
	}
	return nil
}

func (s *outboxSystem) NewProducer(ctx context.Context) (Producer, error) {
	db, err := s.srv.conn(ctx, nil)
	if err != nil {
		return nil, err
	}
	p := &outboxProducer{db: db, order: "INSERT INTO " + s.orders + " (id, customer, amount, payload) VALUES (?, ?, ?, ?)"}
	if s.outbox != "" {
		p.message = "INSERT INTO " + s.outbox + " (id, payload) VALUES (?, ?)"
	}
	return p, nil
}

// outboxProducer runs one transaction per message on its own connection
// (the *sql.DB holds one connection, so BEGIN and COMMIT are on the same
// session). The business row carries the payload too, as an order would
// carry its data; the message is the same payload.
type outboxProducer struct {
	db      *sql.DB
	order   string
	message string
}

func (p *outboxProducer) Put(payload []byte) error {
	id := messageID(payload)
	if _, err := p.db.Exec("BEGIN"); err != nil {
		return err
	}
	fail := func(err error) error {
		p.db.Exec("ROLLBACK")
		return err
	}
	if _, err := p.db.Exec(p.order, id, id%1000, id%997, payload); err != nil {
		return fail(err)
	}
	if p.message != "" {
		if _, err := p.db.Exec(p.message, id, payload); err != nil {
			return fail(err)
		}
	}
	_, err := p.db.Exec("COMMIT")
	return err
}

func (p *outboxProducer) Close() error { return p.db.Close() }
