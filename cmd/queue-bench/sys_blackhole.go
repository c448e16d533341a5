package main

import (
	"context"
	"database/sql"
)

// blackholeSystem measures the SQL layer's own cost: an INSERT into a
// BLACKHOLE table parses, opens and "writes" but stores nothing, and a
// consumer runs SELECT 1 — one statement per message, the least any
// SQL-based consume can cost. Nobody can beat these numbers through SQL;
// they are bounds, not a queue, so delivery is not checked.
type blackholeSystem struct {
	srv *mysqlServer
}

const blackholeTable = "bench_blackhole"

func newBlackhole(ctx context.Context, srv *mysqlServer) (*blackholeSystem, error) {
	if err := srv.engineAvailable(ctx, "BLACKHOLE", "ha_blackhole"); err != nil {
		return nil, err
	}
	return &blackholeSystem{srv: srv}, nil
}

func (s *blackholeSystem) Name() string { return "blackhole" }
func (s *blackholeSystem) Settings() string {
	return "BLACKHOLE engine in the same server: INSERT stores nothing; consume = SELECT 1 (bounds of the SQL layer)"
}
func (s *blackholeSystem) Bound() bool  { return true }
func (s *blackholeSystem) Polls() bool  { return false }
func (s *blackholeSystem) Close() error { return nil }

func (s *blackholeSystem) Reset(ctx context.Context) error {
	return s.srv.execAll(ctx, "DROP TABLE IF EXISTS "+blackholeTable,
		"CREATE TABLE "+blackholeTable+" (seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, "+
			"id BIGINT UNSIGNED NOT NULL, payload VARBINARY(8192) NOT NULL) ENGINE=BLACKHOLE")
}

func (s *blackholeSystem) Prefill(context.Context, [][]byte) error     { return nil }
func (s *blackholeSystem) Remaining(context.Context) ([]uint64, error) { return nil, nil }

func (s *blackholeSystem) NewProducer(ctx context.Context) (Producer, error) {
	db, err := s.srv.conn(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &sqlProducer{db: db, insert: "INSERT INTO " + blackholeTable + " (id, payload) VALUES (?, ?)"}, nil
}

func (s *blackholeSystem) NewConsumer(ctx context.Context) (Consumer, error) {
	db, err := s.srv.conn(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &selectOneConsumer{db: db}, nil
}

// selectOneConsumer "consumes" one placeholder message per SELECT 1.
type selectOneConsumer struct{ db *sql.DB }

func (c *selectOneConsumer) Get() ([][]byte, error) {
	var one int
	if err := c.db.QueryRow("SELECT 1").Scan(&one); err != nil {
		return nil, err
	}
	return [][]byte{nil}, nil
}

func (c *selectOneConsumer) Close() error { return c.db.Close() }
