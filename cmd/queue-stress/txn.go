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

// stallAfter is how long consumers keep waiting, once the producers are
// done, for committed messages that do not arrive.
const stallAfter = 10 * time.Second

// runTxnStress is the -txn mode: producers insert inside transactions that
// randomly commit or roll back (some with a ROLLBACK TO SAVEPOINT, some
// through XA, some with autocommit=0 instead of BEGIN), consumers consume
// inside transactions that randomly commit or roll back; the txLedger
// checks the transactional guarantees.
func runTxnStress(ctx context.Context, db *sql.DB, c config) error {
	if err := waitServer(ctx, db); err != nil {
		return err
	}
	if err := createTable(ctx, db, c.table); err != nil {
		return err
	}
	l := newTxLedger()
	var producersDone, giveUp atomic.Bool
	var xids atomic.Int64
	start := time.Now()
	errs := make(chan error, c.producers+c.consumers)
	var wg, cwg sync.WaitGroup
	per := (c.messages + c.producers - 1) / c.producers
	for p := 0; p < c.producers; p++ {
		n := min(per, c.messages-p*per)
		wg.Add(1)
		go func(p, n int) {
			defer wg.Done()
			if err := txProduce(ctx, db, c, l, p, n, &xids); err != nil {
				errs <- fmt.Errorf("producer %d: %w", p, err)
			}
		}(p, n)
	}
	for i := 0; i < c.consumers; i++ {
		cwg.Add(1)
		go func(i int) {
			defer cwg.Done()
			if err := txConsume(ctx, db, c, l, i, &producersDone, &giveUp); err != nil {
				errs <- fmt.Errorf("consumer %d: %w", i, err)
			}
		}(i)
	}
	// Once the producers are done, consumers give up when no committed
	// message was consumed for stallAfter (a message that will never come
	// back): the check then reports it lost instead of the run timing out.
	monitorDone := make(chan struct{})
	defer close(monitorDone)
	go func() {
		last, since := -1, time.Now()
		for {
			select {
			case <-monitorDone:
				return
			case <-time.After(500 * time.Millisecond):
			}
			m := l.missing()
			if m != last {
				last, since = m, time.Now()
			}
			if c.verbose {
				fmt.Printf("queue-stress: %.0fs, producers done %v, committed messages not consumed yet %d\n",
					time.Since(start).Seconds(), producersDone.Load(), m)
			}
			if producersDone.Load() && time.Since(since) > stallAfter {
				giveUp.Store(true)
			}
		}
	}()
	wg.Wait()
	producersDone.Store(true)
	cwg.Wait()
	close(errs)
	r := l.check()
	fmt.Printf("queue-stress: txn, %d producers, %d consumers: %s in %.1fs\n",
		c.producers, c.consumers, r, time.Since(start).Seconds())
	// Both the guarantees and the workers' errors are reported: a worker
	// that failed may be why a message never came.
	var werrs []error
	for err := range errs {
		werrs = append(werrs, err)
	}
	if err := r.ok(); err != nil {
		return errors.Join(append([]error{err}, werrs...)...)
	}
	if len(werrs) > 0 {
		return errors.Join(werrs...)
	}
	var left int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+c.table).Scan(&left); err != nil {
		return err
	}
	if left != 0 {
		return fmt.Errorf("%d rows left in %s after every committed message was consumed", left, c.table)
	}
	return nil
}

// txConn opens a worker's connection (autocommit=0 when noBegin) and an
// exec function that names the failed statement.
func txConn(ctx context.Context, db *sql.DB, noBegin bool) (*sql.Conn, func(string) error, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	exec := func(q string) error {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
		return nil
	}
	if noBegin {
		if err := exec("SET autocommit=0"); err != nil {
			conn.Close()
			return nil, nil, err
		}
	}
	return conn, exec, nil
}

// txProduce makes n message ids of producer p into transactions: about
// two thirds commit. Odd producers run with autocommit=0 (no BEGIN); one
// transaction in ten is an XA transaction, one in ten a plain autocommit
// INSERT; a third of the others roll back to a savepoint in the middle.
func txProduce(ctx context.Context, db *sql.DB, c config, l *txLedger, p, n int, xids *atomic.Int64) error {
	rng := rand.New(rand.NewSource(int64(p) + 101))
	noBegin := p%2 == 1
	conn, exec, err := txConn(ctx, db, noBegin)
	if err != nil {
		return err
	}
	defer conn.Close()
	seq := 0
	// insert adds up to k of the producer's ids in one statement and
	// marks them pending before it is sent: a consumer may not see them
	// before their COMMIT is sent.
	insert := func(k int) ([]int64, error) {
		k = min(k, n-seq)
		if k <= 0 {
			return nil, nil
		}
		ids := make([]int64, k)
		var q strings.Builder
		q.WriteString("INSERT INTO " + c.table + " (id, producer, payload) VALUES ")
		for i := range ids {
			ids[i] = idOf(p, seq+i)
			if i > 0 {
				q.WriteString(",")
			}
			fmt.Fprintf(&q, "(%d,%d,'message %d of producer %d')", ids[i], p, seq+i, p)
		}
		seq += k
		l.set(txPending, ids...)
		return ids, exec(q.String())
	}
	for seq < n {
		switch r := rng.Intn(10); {
		case r == 0 && !noBegin: // autocommit INSERT, as without transactions
			ids := []int64{idOf(p, seq)}
			seq++
			l.set(txCommitting, ids...)
			if err := exec(fmt.Sprintf("INSERT INTO %s (id, producer, payload) VALUES (%d,%d,'autocommit')", c.table, ids[0], p)); err != nil {
				return err
			}
			l.set(txCommitted, ids...)
		case r == 1 && !noBegin: // XA: prepared, then committed or rolled back
			xid := fmt.Sprintf("'stress-%d-%d'", p, xids.Add(1))
			if err := exec("XA START " + xid); err != nil {
				return err
			}
			ids, err := insert(1 + rng.Intn(3))
			if err != nil {
				return err
			}
			if err := exec("XA END " + xid); err != nil {
				return err
			}
			if err := exec("XA PREPARE " + xid); err != nil {
				return err
			}
			if rng.Intn(3) > 0 {
				l.set(txCommitting, ids...)
				if err := exec("XA COMMIT " + xid); err != nil {
					return err
				}
				l.set(txCommitted, ids...)
			} else {
				if err := exec("XA ROLLBACK " + xid); err != nil {
					return err
				}
				l.set(txRolledBack, ids...)
			}
		default:
			if !noBegin {
				if err := exec("BEGIN"); err != nil {
					return err
				}
			}
			kept, err := insert(1 + rng.Intn(3))
			if err != nil {
				return err
			}
			if rng.Intn(3) == 0 {
				if err := exec("SAVEPOINT sp"); err != nil {
					return err
				}
				more, err := insert(1 + rng.Intn(2))
				if err != nil {
					return err
				}
				if rng.Intn(2) == 0 {
					if err := exec("ROLLBACK TO SAVEPOINT sp"); err != nil {
						return err
					}
					l.set(txRolledBack, more...)
				} else {
					kept = append(kept, more...)
				}
				after, err := insert(rng.Intn(2))
				if err != nil {
					return err
				}
				kept = append(kept, after...)
			}
			if rng.Intn(3) > 0 {
				l.set(txCommitting, kept...)
				if err := exec("COMMIT"); err != nil {
					return err
				}
				l.set(txCommitted, kept...)
			} else {
				if err := exec("ROLLBACK"); err != nil {
					return err
				}
				l.set(txRolledBack, kept...)
			}
		}
	}
	return nil
}

// txConsume consumes in transactions until the producers are done and
// every committed message was consumed. Odd consumers run with
// autocommit=0. A transaction takes one row or two (the second queue_wait
// removes the first), then removes the last with queue_end, with the
// owner's DELETE, or leaves it owned for the next transaction's queue_wait
// to remove; then commits (about 70%) or rolls back. After a rollback,
// queue_abort gives back a row still owned, so every row a rolled-back
// transaction removed or owned is in the queue again.
func txConsume(ctx context.Context, db *sql.DB, c config, l *txLedger, i int, producersDone, giveUp *atomic.Bool) error {
	rng := rand.New(rand.NewSource(int64(i) + 1001))
	noBegin := i%2 == 1
	conn, exec, err := txConn(ctx, db, noBegin)
	if err != nil {
		return err
	}
	defer conn.Close()
	wait := fmt.Sprintf("SELECT queue_wait('%s', 1)", c.table)
	// owned is the message owned across transactions (the next removal
	// consumes it), -1: none. Message ids start at 0.
	owned := int64(-1)
	for {
		if !noBegin {
			if err := exec("BEGIN"); err != nil {
				return err
			}
		}
		var removed []int64 // removals in this transaction
		got := 0
		takes := 1 + rng.Intn(2)
		for k := 0; k < takes; k++ {
			var idx sql.NullInt64
			if err := conn.QueryRowContext(ctx, wait).Scan(&idx); err != nil {
				return fmt.Errorf("%s: %w", wait, err)
			}
			if owned >= 0 {
				removed = append(removed, owned)
				owned = -1
			}
			if !idx.Valid {
				return fmt.Errorf("queue_wait returned NULL")
			}
			if idx.Int64 == 0 {
				break
			}
			id, err := readOwnedTx(ctx, conn, c.table, l)
			if err != nil {
				return err
			}
			owned = id
			got++
		}
		finishing := producersDone.Load() && got == 0 && (l.missing() == 0 || giveUp.Load())
		switch r := rng.Intn(10); {
		case finishing || r < 5:
			if err := exec("SELECT queue_end()"); err != nil {
				return err
			}
		case r < 8:
			if owned >= 0 {
				if err := exec("DELETE FROM " + c.table); err != nil {
					return err
				}
			}
			if err := exec("SELECT queue_end()"); err != nil {
				return err
			}
		default:
			// Keep the row owned into the next transaction, whose first
			// queue_wait removes it.
			goto decide
		}
		if owned >= 0 {
			removed = append(removed, owned)
			owned = -1
		}
	decide:
		if finishing || rng.Intn(10) < 7 {
			if err := exec("COMMIT"); err != nil {
				return err
			}
			l.commitConsume(removed...)
			if finishing {
				return nil
			}
			continue
		}
		if err := exec("ROLLBACK"); err != nil {
			return err
		}
		if owned >= 0 {
			removed = append(removed, owned)
			owned = -1
		}
		l.rollbackConsume(removed...)
		if _, err := conn.ExecContext(ctx, "SELECT queue_abort()"); err != nil && !strings.Contains(err.Error(), "not in owner mode") {
			return fmt.Errorf("queue_abort after ROLLBACK: %w", err)
		}
		if noBegin {
			if err := exec("COMMIT"); err != nil {
				return err
			}
		}
	}
}

// readOwnedTx reads the owned row in owner mode: exactly one.
func readOwnedTx(ctx context.Context, conn *sql.Conn, table string, l *txLedger) (int64, error) {
	rows, err := conn.QueryContext(ctx, "SELECT id FROM "+table)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return 0, err
		}
		l.deliver(id)
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if len(ids) != 1 {
		return 0, fmt.Errorf("queue_wait returned 1 but owner mode showed %d rows %v", len(ids), ids)
	}
	return ids[0], nil
}
