package main

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// getlockSystem is the polling pattern many applications built before SKIP
// LOCKED existed: serialize consumers with a named lock, read a batch of the
// oldest rows, delete them, release the lock. Each statement autocommits, so
// the batch is durably removed before the consumer uses it.
type getlockSystem struct {
	srv   *mysqlServer
	batch int
	poll  time.Duration
}

const getlockTable = "bench_getlock"

func newGetLock(ctx context.Context, srv *mysqlServer, batch int, poll time.Duration) (*getlockSystem, error) {
	if batch < 1 {
		return nil, fmt.Errorf("GET_LOCK batch must be at least 1, not %d", batch)
	}
	if err := srv.engineAvailable(ctx, "InnoDB", ""); err != nil {
		return nil, err
	}
	return &getlockSystem{srv: srv, batch: batch, poll: poll}, nil
}

func (s *getlockSystem) Name() string { return "getlock" }
func (s *getlockSystem) Settings() string {
	return fmt.Sprintf("InnoDB table; consume = GET_LOCK + SELECT ... LIMIT %d + DELETE + RELEASE_LOCK (autocommit), poll every %v when empty",
		s.batch, s.poll)
}
func (s *getlockSystem) Bound() bool  { return false }
func (s *getlockSystem) Polls() bool  { return true }
func (s *getlockSystem) Close() error { return nil }

func (s *getlockSystem) Reset(ctx context.Context) error {
	return s.srv.execAll(ctx, "DROP TABLE IF EXISTS "+getlockTable,
		"CREATE TABLE "+getlockTable+" (seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, "+
			"id BIGINT UNSIGNED NOT NULL, payload VARBINARY(8192) NOT NULL) ENGINE=InnoDB")
}

func (s *getlockSystem) Prefill(ctx context.Context, payloads [][]byte) error {
	return s.srv.prefill(ctx, getlockTable, payloads)
}

func (s *getlockSystem) Remaining(ctx context.Context) ([]uint64, error) {
	return s.srv.remainingIDs(ctx, "SELECT id FROM "+getlockTable)
}

func (s *getlockSystem) NewProducer(ctx context.Context) (Producer, error) {
	db, err := s.srv.conn(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &sqlProducer{db: db, insert: "INSERT INTO " + getlockTable + " (id, payload) VALUES (?, ?)"}, nil
}

func (s *getlockSystem) NewConsumer(ctx context.Context) (Consumer, error) {
	db, err := s.srv.conn(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &getlockConsumer{db: db, batch: s.batch, poll: s.poll}, nil
}

type getlockConsumer struct {
	db    *sql.DB
	batch int
	poll  time.Duration
}

func (c *getlockConsumer) Get() ([][]byte, error) { return pollWait(c.poll, c.once) }

func (c *getlockConsumer) once() (msgs [][]byte, err error) {
	var got sql.NullInt64
	if err := c.db.QueryRow("SELECT GET_LOCK('" + getlockTable + "', 1)").Scan(&got); err != nil {
		return nil, err
	}
	if !got.Valid || got.Int64 != 1 {
		return nil, nil // someone else held it for a second: poll again
	}
	defer func() {
		var released sql.NullInt64
		if rerr := c.db.QueryRow("SELECT RELEASE_LOCK('" + getlockTable + "')").Scan(&released); rerr != nil && err == nil {
			msgs, err = nil, rerr
		}
	}()
	rows, err := c.db.Query(fmt.Sprintf("SELECT seq, payload FROM %s ORDER BY seq LIMIT %d", getlockTable, c.batch))
	if err != nil {
		return nil, err
	}
	var seqs []string
	for rows.Next() {
		var seq int64
		var payload []byte
		if err := rows.Scan(&seq, &payload); err != nil {
			rows.Close()
			return nil, err
		}
		seqs = append(seqs, fmt.Sprint(seq))
		msgs = append(msgs, payload)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if len(seqs) == 0 {
		return nil, nil
	}
	if _, err := c.db.Exec("DELETE FROM " + getlockTable + " WHERE seq IN (" + strings.Join(seqs, ",") + ")"); err != nil {
		return nil, err
	}
	return msgs, nil
}

func (c *getlockConsumer) Close() error { return c.db.Close() }

func (s *getlockSystem) costProbe() *costProbe { return &costProbe{srv: s.srv} }
