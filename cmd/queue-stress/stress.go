package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// idOf makes message ids unique across producers.
func idOf(producer, seq int) int64 { return int64(producer)*1_000_000_000 + int64(seq) }

// runStress creates the table, runs producers and consumers (and the crash,
// if asked), drains what is left and checks the ledger.
func runStress(ctx context.Context, db *sql.DB, c config) error {
	if err := waitServer(ctx, db); err != nil {
		return err
	}
	if err := createTable(ctx, db, c.table); err != nil {
		return err
	}
	l := newLedger()
	var produced atomic.Int64
	var producersDone atomic.Bool
	start := time.Now()

	errs := make(chan error, c.producers+c.consumers+1)
	var wg sync.WaitGroup
	per := (c.messages + c.producers - 1) / c.producers
	for p := 0; p < c.producers; p++ {
		n := per
		if (p+1)*per > c.messages {
			n = c.messages - p*per
		}
		wg.Add(1)
		go func(p, n int) {
			defer wg.Done()
			if err := produce(ctx, db, c, l, p, n, &produced); err != nil {
				errs <- fmt.Errorf("producer %d: %w", p, err)
			}
		}(p, n)
	}
	var cwg sync.WaitGroup
	for i := 0; i < c.consumers; i++ {
		cwg.Add(1)
		go func(i int) {
			defer cwg.Done()
			if err := consume(ctx, db, c, l, &producersDone); err != nil {
				errs <- fmt.Errorf("consumer %d: %w", i, err)
			}
		}(i)
	}
	crashed := make(chan error, 1)
	if c.crash {
		go func() { crashed <- crashAndRestart(ctx, db, c, &produced) }()
	} else {
		crashed <- nil
	}
	wg.Wait()
	producersDone.Store(true)
	cwg.Wait()
	if err := <-crashed; err != nil {
		return err
	}
	close(errs)
	for err := range errs {
		return err
	}
	if err := drain(ctx, db, c, l); err != nil {
		return err
	}
	r := l.check()
	elapsed := time.Since(start)
	fmt.Printf("queue-stress: %d producers, %d consumers, crash=%v: %s in %.1fs\n",
		c.producers, c.consumers, c.crash, r, elapsed.Seconds())
	if c.crash {
		return r.atLeastOnce()
	}
	if err := r.exactlyOnce(); err != nil {
		return err
	}
	var left int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+c.table).Scan(&left); err != nil {
		return err
	}
	if left != 0 {
		return fmt.Errorf("%d rows left in %s after every message was delivered", left, c.table)
	}
	return nil
}

func createTable(ctx context.Context, db *sql.DB, table string) error {
	for _, q := range []string{
		"DROP TABLE IF EXISTS " + table,
		"CREATE TABLE " + table + " (id BIGINT NOT NULL, producer INT NOT NULL, payload VARCHAR(200)) ENGINE=queue",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// lostConnection reports whether err means the server went away (crash
// mode tolerates these and reconnects).
func lostConnection(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false
	}
	s := err.Error()
	for _, m := range []string{"invalid connection", "bad connection", "connection refused",
		"broken pipe", "connection reset", "EOF", "i/o timeout", "Server shutdown", "2013", "1053"} {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}

// pause sleeps a little before reconnecting, or returns the context error.
func pause(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(100 * time.Millisecond):
		return nil
	}
}

// produce inserts n messages of producer p, in single- and multi-row
// statements, and records each acknowledged one.
func produce(ctx context.Context, db *sql.DB, c config, l *ledger, p, n int, produced *atomic.Int64) error {
	rng := rand.New(rand.NewSource(int64(p) + 1))
	conn, err := db.Conn(ctx)
	for seq := 0; seq < n; {
		if err != nil {
			if !c.crash || !lostConnection(err) {
				return err
			}
			if err := pause(ctx); err != nil {
				return err
			}
			conn, err = db.Conn(ctx)
			continue
		}
		batch := 1 + rng.Intn(4)
		if seq+batch > n {
			batch = n - seq
		}
		ids := make([]int64, batch)
		var q strings.Builder
		q.WriteString("INSERT INTO " + c.table + " (id, producer, payload) VALUES ")
		for i := range ids {
			ids[i] = idOf(p, seq+i)
			if i > 0 {
				q.WriteString(",")
			}
			fmt.Fprintf(&q, "(%d,%d,'message %d of producer %d')", ids[i], p, seq+i, p)
		}
		if _, err = conn.ExecContext(ctx, q.String()); err != nil {
			l.maybe(ids...)
			conn.Close()
			seq += batch // a lost INSERT is not retried: its rows are "uncertain"
			continue
		}
		l.ack(ids...)
		produced.Add(int64(batch))
		seq += batch
	}
	if conn != nil {
		conn.Close()
	}
	return nil
}

// consume loops on queue_wait, reads the owned row and records it, until
// the producers are done and every acknowledged message was delivered.
// The next queue_wait consumes the row; queue_end consumes the last one.
func consume(ctx context.Context, db *sql.DB, c config, l *ledger, producersDone *atomic.Bool) error {
	wait := fmt.Sprintf("SELECT queue_wait('%s', 1)", c.table)
	read := "SELECT id FROM " + c.table
	if c.oneStatement {
		wait, read = fmt.Sprintf("SELECT id FROM %s WHERE queue_wait('%s', 1)", c.table, c.table), ""
	}
	var conn *sql.Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	// prev is the row this connection owns (read, not yet consumed); the
	// next statement that succeeds acknowledges its removal.
	var prev int64
	ack := func() {
		if prev != 0 {
			l.consume(prev)
			prev = 0
		}
	}
	for {
		if conn == nil {
			var err error
			if conn, err = db.Conn(ctx); err != nil {
				if c.crash && lostConnection(err) {
					if err := pause(ctx); err != nil {
						return err
					}
					continue
				}
				return err
			}
		}
		id, err := consumeOne(ctx, conn, wait, read, l, ack)
		got := id != 0
		if got {
			prev = id
		}
		if err != nil {
			conn.Close()
			conn = nil
			prev = 0 // given back with the connection, or removed: unknown
			if c.crash && lostConnection(err) {
				if err := pause(ctx); err != nil {
					return err
				}
				continue
			}
			return err
		}
		if !got && producersDone.Load() && l.missing() == 0 {
			_, err := conn.ExecContext(ctx, "SELECT queue_end()")
			if err == nil {
				ack()
			}
			if err != nil && !(c.crash && lostConnection(err)) {
				return err
			}
			return nil
		}
	}
}

// consumeOne is one queue_wait and, when it returns a row, the read. With
// read empty, wait is the one-statement consume, which returns the row
// itself (or nothing on timeout). ack is called once the statement that
// consumed the previously owned row has succeeded. It returns the id of the
// row now owned, 0 for none.
func consumeOne(ctx context.Context, conn *sql.Conn, wait, read string, l *ledger, ack func()) (int64, error) {
	if read == "" {
		id, err := readOwned(ctx, conn, wait, l, 0, 1)
		if err == nil {
			ack()
		}
		return id, err
	}
	var idx sql.NullInt64
	if err := conn.QueryRowContext(ctx, wait).Scan(&idx); err != nil {
		return 0, err
	}
	ack()
	if !idx.Valid {
		return 0, fmt.Errorf("queue_wait returned NULL")
	}
	if idx.Int64 == 0 {
		return 0, nil
	}
	return readOwned(ctx, conn, read, l, 1, 1)
}

// readOwned runs query, records the ids it returns as delivered and checks
// that there are between min and max of them. It returns the last id read
// (0 for none).
func readOwned(ctx context.Context, conn *sql.Conn, query string, l *ledger, min, max int) (int64, error) {
	rows, err := conn.QueryContext(ctx, query)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	var last int64
	for rows.Next() {
		if err := rows.Scan(&last); err != nil {
			return 0, err
		}
		l.deliver(last)
		n++
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if n < min || n > max {
		return 0, fmt.Errorf("owner mode showed %d rows, want %d to %d", n, min, max)
	}
	return last, nil
}

// drain consumes whatever is left (rows of INSERTs whose acknowledgement was
// lost in a crash) so that they are accounted for.
func drain(ctx context.Context, db *sql.DB, c config, l *ledger) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	wait := fmt.Sprintf("SELECT queue_wait('%s', 0)", c.table)
	var prev int64
	ack := func() {
		if prev != 0 {
			l.consume(prev)
			prev = 0
		}
	}
	for {
		id, err := consumeOne(ctx, conn, wait, "SELECT id FROM "+c.table, l, ack)
		if err != nil {
			return fmt.Errorf("drain: %w", err)
		}
		if id == 0 {
			_, err := conn.ExecContext(ctx, "SELECT queue_end()")
			return err
		}
		prev = id
	}
}
