package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// postgresSystem is the PostgreSQL "SKIP LOCKED" queue: a bigserial key
// gives the order, and one autocommitted statement takes and deletes the
// oldest unlocked row:
//
//	DELETE FROM q WHERE seq = (SELECT seq FROM q ORDER BY seq
//	  FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING payload
type postgresSystem struct {
	dsn      string
	admin    *pgx.Conn
	poll     time.Duration
	settings string
}

const pgTable = "bench_q"

func newPostgres(ctx context.Context, dsn string, poll time.Duration) (*postgresSystem, error) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	admin, err := pgx.Connect(cctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL: %w", err)
	}
	s := &postgresSystem{dsn: dsn, admin: admin, poll: poll}
	var version, syncCommit, fsync string
	for q, dst := range map[string]*string{
		"SHOW server_version": &version, "SHOW synchronous_commit": &syncCommit, "SHOW fsync": &fsync,
	} {
		if err := admin.QueryRow(ctx, q).Scan(dst); err != nil {
			admin.Close(ctx)
			return nil, fmt.Errorf("PostgreSQL %s: %w", q, err)
		}
	}
	if syncCommit != "on" || fsync != "on" {
		admin.Close(ctx)
		return nil, fmt.Errorf("PostgreSQL not durable: synchronous_commit=%s fsync=%s", syncCommit, fsync)
	}
	s.settings = fmt.Sprintf("PostgreSQL %s, synchronous_commit=%s, fsync=%s", version, syncCommit, fsync)
	return s, nil
}

func (s *postgresSystem) Name() string     { return "postgres" }
func (s *postgresSystem) Settings() string { return s.settings }
func (s *postgresSystem) Bound() bool      { return false }
func (s *postgresSystem) Polls() bool      { return true }
func (s *postgresSystem) Close() error     { return s.admin.Close(context.Background()) }

func (s *postgresSystem) Reset(ctx context.Context) error {
	for _, q := range []string{
		"DROP TABLE IF EXISTS " + pgTable,
		"CREATE TABLE " + pgTable + " (seq bigserial PRIMARY KEY, id bigint NOT NULL, payload bytea NOT NULL)",
	} {
		if _, err := s.admin.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

func (s *postgresSystem) Prefill(ctx context.Context, payloads [][]byte) error {
	_, err := s.admin.CopyFrom(ctx, pgx.Identifier{pgTable}, []string{"id", "payload"},
		pgx.CopyFromSlice(len(payloads), func(i int) ([]any, error) {
			return []any{int64(messageID(payloads[i])), payloads[i]}, nil
		}))
	return err
}

func (s *postgresSystem) Remaining(ctx context.Context) ([]uint64, error) {
	rows, err := s.admin.Query(ctx, "SELECT id FROM "+pgTable)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []uint64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, uint64(id))
	}
	return ids, rows.Err()
}

func (s *postgresSystem) connect(ctx context.Context) (*pgx.Conn, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return pgx.Connect(cctx, s.dsn)
}

func (s *postgresSystem) NewProducer(ctx context.Context) (Producer, error) {
	c, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	return &pgProducer{c: c}, nil
}

func (s *postgresSystem) NewConsumer(ctx context.Context) (Consumer, error) {
	c, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	return &pgConsumer{c: c, poll: s.poll}, nil
}

type pgProducer struct{ c *pgx.Conn }

func (p *pgProducer) Put(payload []byte) error {
	_, err := p.c.Exec(context.Background(), "INSERT INTO "+pgTable+" (id, payload) VALUES ($1, $2)",
		int64(messageID(payload)), payload)
	return err
}

func (p *pgProducer) Close() error { return p.c.Close(context.Background()) }

type pgConsumer struct {
	c    *pgx.Conn
	poll time.Duration
}

func (c *pgConsumer) Get() ([][]byte, error) { return pollWait(c.poll, c.once) }

func (c *pgConsumer) once() ([][]byte, error) {
	var payload []byte
	err := c.c.QueryRow(context.Background(), "DELETE FROM "+pgTable+" WHERE seq = (SELECT seq FROM "+pgTable+
		" ORDER BY seq FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING payload").Scan(&payload)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return [][]byte{payload}, nil
}

func (c *pgConsumer) Close() error { return c.c.Close(context.Background()) }
