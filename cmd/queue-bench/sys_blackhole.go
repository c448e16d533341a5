package main

import (
	"context"
	"database/sql"
	"fmt"
)

// blackholeSystem measures the SQL layer's own cost: an INSERT into a
// BLACKHOLE table parses, opens and "writes" but stores nothing, and a
// consumer runs SELECT 1 — one statement per message, the least any
// SQL-based consume can cost. Nobody can beat these numbers through SQL;
// they are bounds, not a queue, so delivery is not checked.
type blackholeSystem struct {
	srv  *mysqlServer
	note string // where it runs, when not on the main server
}

const blackholeTable = "bench_blackhole"

// newBlackhole uses the main server when it has (or can load) BLACKHOLE.
// Otherwise, if a fallback DSN is given — a plain MariaDB running the same
// mariadbd binary with the same settings — BLACKHOLE is measured there and
// the report says so: the sandbox loads plugins from the project's build
// directory, which need not contain ha_blackhole.so.
func newBlackhole(ctx context.Context, srv *mysqlServer, fallbackDSN string) (*blackholeSystem, error) {
	err := srv.engineAvailable(ctx, "BLACKHOLE", "ha_blackhole")
	if err == nil {
		return &blackholeSystem{srv: srv}, nil
	}
	if fallbackDSN == "" {
		return nil, err
	}
	alt, aerr := openMySQL(ctx, fallbackDSN)
	if aerr != nil {
		return nil, fmt.Errorf("%v; fallback server: %w", err, aerr)
	}
	if aerr := alt.engineAvailable(ctx, "BLACKHOLE", "ha_blackhole"); aerr != nil {
		alt.close()
		return nil, fmt.Errorf("%v; fallback server: %w", err, aerr)
	}
	return &blackholeSystem{srv: alt, note: "; measured on the separate server " + alt.addr +
		" (same mariadbd binary) because the main server has no BLACKHOLE plugin"}, nil
}

func (s *blackholeSystem) Name() string { return "blackhole" }
func (s *blackholeSystem) Settings() string {
	return "BLACKHOLE engine: INSERT stores nothing; consume = SELECT 1 (bounds of the SQL layer)" + s.note
}
func (s *blackholeSystem) Bound() bool { return true }
func (s *blackholeSystem) Polls() bool { return false }
func (s *blackholeSystem) Close() error {
	if s.note != "" {
		return s.srv.close() // the fallback server's connection is ours
	}
	return nil
}

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

func (s *blackholeSystem) costProbe() *costProbe { return &costProbe{srv: s.srv} }
