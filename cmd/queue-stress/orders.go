package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The -orders mode: the transactional outbox and exactly-once processing
// across kill -9 of the server.
//
// Producers write an order (InnoDB table <table>_orders) and its message
// (queue table <table>) in one transaction; consumers process a message by
// updating its order in the transaction that removes it:
//
//	BEGIN; SELECT queue_wait('t', 1); SELECT order_id FROM t;
//	UPDATE t_orders SET processed = processed + 1 WHERE id = ?;
//	SELECT queue_end(); COMMIT
//
// Each cycle runs them for a random moment, kills the server with SIGKILL,
// restarts it on the same data directory and checks the tables (nobody
// owns a row right after the restart, so a scan sees every message):
//
//   - every order has exactly one message and processed = 0, or no message
//     and processed = 1;
//   - no message exists without its order, and no order is processed twice;
//   - an order whose COMMIT returned is there, a processing whose COMMIT
//     returned is kept, an order whose ROLLBACK returned is not there.
//
// After the last cycle the queue is drained the same way and every order
// must be processed exactly once.

// orderLedger is what the clients were told; mu guards it.
type orderLedger struct {
	mu         sync.Mutex
	committed  map[int64]bool // order COMMIT returned success
	rolledBack map[int64]bool // order ROLLBACK returned success
	processed  map[int64]bool // processing COMMIT returned success
	orphans    map[int64]bool // a consumer's UPDATE found no order for its message
}

func (l *orderLedger) note(m map[int64]bool, id int64) {
	l.mu.Lock()
	m[id] = true
	l.mu.Unlock()
}

func runOrders(ctx context.Context, db *sql.DB, c config, cycles int) error {
	if err := waitServer(ctx, db); err != nil {
		return err
	}
	orders := c.table + "_orders"
	for _, q := range []string{
		"DROP TABLE IF EXISTS " + c.table, "DROP TABLE IF EXISTS " + orders,
		"CREATE TABLE " + orders + " (id BIGINT NOT NULL PRIMARY KEY, processed INT NOT NULL DEFAULT 0) ENGINE=InnoDB",
		"CREATE TABLE " + c.table + " (order_id BIGINT NOT NULL, note VARCHAR(100)) ENGINE=queue",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	l := &orderLedger{committed: map[int64]bool{}, rolledBack: map[int64]bool{}, processed: map[int64]bool{}, orphans: map[int64]bool{}}
	seqs := make([]int, c.producers) // next order of each producer, across cycles
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	start := time.Now()
	for cycle := 1; cycle <= cycles; cycle++ {
		cctx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		var progress atomic.Int64
		errs := make(chan error, c.producers+c.consumers)
		for p := 0; p < c.producers; p++ {
			wg.Add(1)
			go func(p int) {
				defer wg.Done()
				if err := orderProducer(cctx, db, c, l, p, &seqs[p], &progress); err != nil {
					errs <- fmt.Errorf("producer %d: %w", p, err)
				}
			}(p)
		}
		for i := 0; i < c.consumers; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				if err := orderConsumer(cctx, db, c, l, i, false, &progress); err != nil {
					errs <- fmt.Errorf("consumer %d: %w", i, err)
				}
			}(i)
		}
		// Kill at a random moment once some transactions went through, so
		// that the kill falls in every phase of the transactions.
		delay := time.Duration(200+rng.Intn(1300)) * time.Millisecond
		timer := time.NewTimer(delay)
		var err error
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-timer.C:
		}
		for err == nil && progress.Load() < 20 {
			select {
			case <-ctx.Done():
				err = fmt.Errorf("cycle %d: no progress: %w", cycle, ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
		}
		if err == nil {
			err = killServer(ctx, c)
		}
		stop()
		wg.Wait()
		close(errs)
		for e := range errs {
			if err == nil {
				err = e
			}
		}
		if err != nil {
			return err
		}
		if err := restartServer(ctx, db, c); err != nil {
			return err
		}
		n, err := checkOrders(ctx, db, c.table, l, false)
		if err != nil {
			return fmt.Errorf("after kill -9 %d: %w", cycle, err)
		}
		if c.verbose {
			fmt.Printf("queue-stress: cycle %d: %s\n", cycle, n)
		}
	}
	var progress atomic.Int64
	if err := orderConsumer(ctx, db, c, l, 0, true, &progress); err != nil {
		return fmt.Errorf("drain: %w", err)
	}
	n, err := checkOrders(ctx, db, c.table, l, true)
	if err != nil {
		return fmt.Errorf("after the drain: %w", err)
	}
	fmt.Printf("queue-stress: orders, %d kill -9 cycles, %d producers, %d consumers: %s in %.1fs\n",
		cycles, c.producers, c.consumers, n, time.Since(start).Seconds())
	return nil
}

// endOfCycle reports whether err ends a worker's cycle quietly: the server
// was killed, or the cycle is over.
func endOfCycle(ctx context.Context, err error) bool {
	return ctx.Err() != nil || lostConnection(err)
}

// orderProducer writes orders with their messages until the cycle ends;
// one transaction in five rolls back.
func orderProducer(ctx context.Context, db *sql.DB, c config, l *orderLedger, p int, seq *int, progress *atomic.Int64) error {
	rng := rand.New(rand.NewSource(int64(p)*7919 + int64(*seq)))
	conn, err := db.Conn(ctx)
	if err != nil {
		if endOfCycle(ctx, err) {
			return nil
		}
		return err
	}
	defer conn.Close()
	for ctx.Err() == nil {
		id := idOf(p, *seq)
		*seq++
		stmts := []string{"BEGIN",
			fmt.Sprintf("INSERT INTO %s_orders (id) VALUES (%d)", c.table, id),
			fmt.Sprintf("INSERT INTO %s (order_id, note) VALUES (%d, 'order %d')", c.table, id, id)}
		commit := rng.Intn(5) > 0
		for _, q := range stmts {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				if endOfCycle(ctx, err) {
					return nil
				}
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		end := map[bool]string{true: "COMMIT", false: "ROLLBACK"}[commit]
		if _, err := conn.ExecContext(ctx, end); err != nil {
			if endOfCycle(ctx, err) {
				return nil // outcome unknown: either is allowed
			}
			return fmt.Errorf("%s: %w", end, err)
		}
		if commit {
			l.note(l.committed, id)
		} else {
			l.note(l.rolledBack, id)
		}
		progress.Add(1)
	}
	return nil
}

// orderConsumer processes messages until the cycle ends (drain: until the
// queue is empty); one transaction in ten rolls back and gives the row
// back with queue_abort.
func orderConsumer(ctx context.Context, db *sql.DB, c config, l *orderLedger, i int, drain bool, progress *atomic.Int64) error {
	rng := rand.New(rand.NewSource(time.Now().UnixNano() + int64(i)))
	conn, err := db.Conn(ctx)
	if err != nil {
		if !drain && endOfCycle(ctx, err) {
			return nil
		}
		return err
	}
	defer conn.Close()
	timeout := 1
	if drain {
		timeout = 0
	}
	wait := fmt.Sprintf("SELECT queue_wait('%s', %d)", c.table, timeout)
	for ctx.Err() == nil {
		id, done, err := processOne(ctx, conn, c.table, wait, drain || rng.Intn(10) > 0, l)
		if err != nil {
			if !drain && endOfCycle(ctx, err) {
				return nil
			}
			return err
		}
		if id != 0 && done {
			l.note(l.processed, id)
			progress.Add(1)
		}
		if drain && id == 0 {
			return nil
		}
	}
	return nil
}

// processOne is one consumer transaction. It returns the order id of the
// message taken (0: none) and whether the transaction committed.
func processOne(ctx context.Context, conn *sql.Conn, table, wait string, commit bool, l *orderLedger) (int64, bool, error) {
	if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
		return 0, false, err
	}
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, wait).Scan(&got); err != nil {
		return 0, false, err
	}
	var id int64
	if got.Int64 == 1 {
		rows, err := conn.QueryContext(ctx, "SELECT order_id FROM "+table)
		if err != nil {
			return 0, false, err
		}
		n := 0
		for rows.Next() {
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return 0, false, err
			}
			n++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return 0, false, err
		}
		if n != 1 {
			return 0, false, fmt.Errorf("queue_wait returned 1 but owner mode showed %d rows", n)
		}
		res, err := conn.ExecContext(ctx, fmt.Sprintf("UPDATE %s_orders SET processed = processed + 1 WHERE id = %d", table, id))
		if err != nil {
			return 0, false, err
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			l.note(l.orphans, id)
		}
	}
	if _, err := conn.ExecContext(ctx, "SELECT queue_end()"); err != nil {
		return 0, false, err
	}
	if commit {
		_, err := conn.ExecContext(ctx, "COMMIT")
		return id, err == nil, err
	}
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		return 0, false, err
	}
	if _, err := conn.ExecContext(ctx, "SELECT queue_abort()"); err != nil && !strings.Contains(err.Error(), "not in owner mode") {
		return 0, false, fmt.Errorf("queue_abort after ROLLBACK: %w", err)
	}
	return id, false, nil
}

// orderCounts summarises a check.
type orderCounts struct{ Orders, Processed, Queued int }

func (n orderCounts) String() string {
	return fmt.Sprintf("%d orders, %d processed, %d messages queued", n.Orders, n.Processed, n.Queued)
}

// checkOrders checks the tables against each other and the ledger. It must
// run while no connection owns a row (after a restart, or after the
// drain), when a scan of the queue table shows every message. final: the
// queue must also be empty.
func checkOrders(ctx context.Context, db *sql.DB, table string, l *orderLedger, final bool) (orderCounts, error) {
	var n orderCounts
	processed := map[int64]int{}
	rows, err := db.QueryContext(ctx, "SELECT id, processed FROM "+table+"_orders")
	if err != nil {
		return n, err
	}
	for rows.Next() {
		var id int64
		var p int
		if err := rows.Scan(&id, &p); err != nil {
			rows.Close()
			return n, err
		}
		processed[id] = p
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return n, err
	}
	msgs := map[int64]int{}
	rows, err = db.QueryContext(ctx, "SELECT order_id FROM "+table)
	if err != nil {
		return n, err
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return n, err
		}
		msgs[id]++
		n.Queued++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return n, err
	}
	n.Orders = len(processed)
	bad := map[string][]int64{} // violation -> order ids
	add := func(kind string, id int64) { bad[kind] = append(bad[kind], id) }
	for id, p := range processed {
		m := msgs[id]
		if p == 1 {
			n.Processed++
		}
		switch {
		case p > 1:
			add(fmt.Sprintf("processed %d times", p), id)
		case m > 1:
			add(fmt.Sprintf("%d messages", m), id)
		case p == 1 && m == 1:
			add("processed but its message is still queued", id)
		case p == 0 && m == 0:
			add("neither processed nor queued (message lost)", id)
		case final && m != 0:
			add("still queued after the drain", id)
		}
	}
	for id := range msgs {
		if _, ok := processed[id]; !ok {
			add("message without its order", id)
		}
	}
	l.mu.Lock()
	for id := range l.committed {
		if _, ok := processed[id]; !ok {
			add("committed but missing", id)
		}
	}
	for id := range l.rolledBack {
		if _, ok := processed[id]; ok {
			add("rolled back but present", id)
		}
	}
	for id := range l.processed {
		if _, ok := processed[id]; ok && processed[id] == 0 {
			add("processing committed but not kept", id)
		}
	}
	for id := range l.orphans {
		add("a consumer took a message without its order", id)
	}
	l.mu.Unlock()
	if len(bad) > 0 {
		var kinds []string
		for k, ids := range bad {
			sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
			kinds = append(kinds, fmt.Sprintf("%s: %d (e.g. orders %v)", k, len(ids), ids[:min(len(ids), 3)]))
		}
		sort.Strings(kinds)
		return n, fmt.Errorf("violations (%s): %s", n, strings.Join(kinds, "; "))
	}
	return n, nil
}

// killServer kills the server with SIGKILL and waits until it is gone.
func killServer(ctx context.Context, c config) error {
	b, err := os.ReadFile(c.pidFile)
	if err != nil {
		return fmt.Errorf("kill: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return fmt.Errorf("kill: bad pid in %s: %q", c.pidFile, b)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill -9 %d: %w", pid, err)
	}
	for syscall.Kill(pid, 0) == nil {
		select {
		case <-ctx.Done():
			return fmt.Errorf("server %d did not die", pid)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// restartServer starts the server with c.restartCmd and waits until it
// answers.
func restartServer(ctx context.Context, db *sql.DB, c config) error {
	cmd := exec.CommandContext(ctx, "sh", "-c", c.restartCmd)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("restart %q: %w\n%s", c.restartCmd, err, out)
	}
	return waitServer(ctx, db)
}
