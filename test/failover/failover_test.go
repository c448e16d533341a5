// Package failover tests a primary -> replica pair of servers with queue
// tables: producers and consumers on the primary, kill -9 of the primary,
// promotion of the replica, consumers going on there.
//
// scripts/failover-test.sh starts the two servers (binary log, GTID,
// semi-synchronous replication) and sets QUEUE_FAILOVER_PRIMARY and
// QUEUE_FAILOVER_REPLICA to DIR:PORT (the sandbox directory, whose
// mysqld.sock and mysqld.pid are used, and the TCP port) and
// QUEUE_FAILOVER_MODE to "delete" (consumers remove rows with the owner's
// DELETE: client.Consumer.LogRemovals) or "end" (queue_end, which the
// binary log does not record). Without them the test skips.
package failover

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/queue-engine/queue/client"
	"github.com/queue-engine/queue/test/sandboxtest"
)

type box = sandboxtest.Box

func parseBox(t *testing.T, env string) box {
	v := os.Getenv(env)
	if v == "" {
		t.Skip(env + " not set (make failover-test sets it)")
	}
	return sandboxtest.Parse(t, v)
}

// slaveStatus returns SHOW SLAVE STATUS as a map (empty without replication).
func slaveStatus(t *testing.T, db *sql.DB) map[string]string {
	rows, err := db.Query("SHOW SLAVE STATUS")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	st := map[string]string{}
	if rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, c := range cols {
			st[c] = vals[i].String
		}
	}
	return st
}

func count(t *testing.T, db *sql.DB, q string) int64 {
	var n int64
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// ledger records what producers had acknowledged and what consumers got.
type ledger struct {
	mu       sync.Mutex
	acked    map[int64]bool
	received map[int64]int // id -> deliveries
	primary  int           // deliveries on the primary
}

func (l *ledger) receive(id int64, onPrimary bool) {
	l.mu.Lock()
	l.received[id]++
	if onPrimary {
		l.primary++
	}
	l.mu.Unlock()
}

const (
	producers = 3
	consumers = 3
	batch     = 10
)

// TestReplicaMirrors: producers and LogRemovals consumers on the primary,
// no failover: once the replica has applied everything, it holds exactly
// the primary's rows.
func TestReplicaMirrors(t *testing.T) {
	pb, rb := parseBox(t, "QUEUE_FAILOVER_PRIMARY"), parseBox(t, "QUEUE_FAILOVER_REPLICA")
	if os.Getenv("QUEUE_FAILOVER_MODE") != "delete" {
		t.Skip("mode delete only")
	}
	prim, repl := pb.Open(t, 50), rb.Open(t, 50)
	sandboxtest.Exec(t, prim, "DROP TABLE IF EXISTS mirror",
		"CREATE TABLE mirror (id BIGINT NOT NULL, producer INT NOT NULL, payload VARCHAR(100)) ENGINE=queue")
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var pw sync.WaitGroup
	for p := 0; p < producers; p++ {
		pw.Add(1)
		go func(p int) {
			defer pw.Done()
			pr := client.NewProducer(prim, "mirror", "id", "producer", "payload")
			for n := int64(0); n < 3000; n++ {
				if err := pr.Add(ctx, int64(p)<<40|n, p, strings.Repeat("x", 50)); err != nil {
					t.Error(err)
					return
				}
				if n%batch == batch-1 {
					if err := pr.Flush(ctx); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}(p)
	}
	var mu sync.Mutex
	got := 0
	for i := 0; i < consumers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := client.NewConsumer(prim)
			c.LogRemovals = true
			defer c.Close()
			for {
				if _, err := c.Wait(ctx, "mirror"); err != nil {
					return
				}
				mu.Lock()
				got++
				mu.Unlock()
				if err := c.End(ctx); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	pw.Wait()
	time.Sleep(time.Second)
	stop()
	wg.Wait()
	var pos string
	if err := prim.QueryRow("SELECT @@gtid_binlog_pos").Scan(&pos); err != nil {
		t.Fatal(err)
	}
	if n := count(t, repl, "SELECT MASTER_GTID_WAIT('"+pos+"', 60)"); n != 0 {
		t.Fatalf("the replica did not reach %s", pos)
	}
	list := func(db *sql.DB) map[int64]bool {
		rows, err := db.Query("SELECT id FROM mirror")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		m := map[int64]bool{}
		for rows.Next() {
			var id int64
			_ = rows.Scan(&id)
			m[id] = true
		}
		return m
	}
	pm, rm := list(prim), list(repl)
	diff := 0
	for id := range pm {
		if !rm[id] {
			diff++
			t.Logf("on the primary only: %d", id)
		}
	}
	for id := range rm {
		if !pm[id] {
			diff++
			t.Logf("on the replica only: %d", id)
		}
	}
	t.Logf("consumed %d of %d; primary %d rows, replica %d rows", got, producers*3000, len(pm), len(rm))
	if diff > 0 {
		t.Errorf("%d rows differ", diff)
	}
}

func TestFailover(t *testing.T) {
	pb, rb := parseBox(t, "QUEUE_FAILOVER_PRIMARY"), parseBox(t, "QUEUE_FAILOVER_REPLICA")
	mode := os.Getenv("QUEUE_FAILOVER_MODE")
	if mode != "delete" && mode != "end" {
		t.Fatalf("QUEUE_FAILOVER_MODE=%q: want delete or end", mode)
	}
	run := 4 * time.Second
	if v, err := time.ParseDuration(os.Getenv("QUEUE_FAILOVER_RUN")); err == nil {
		run = v
	}
	prim, repl := pb.Open(t, 50), rb.Open(t, 50)

	sandboxtest.Exec(t, prim, "DROP TABLE IF EXISTS jobs",
		"CREATE TABLE jobs (id BIGINT NOT NULL, producer INT NOT NULL, payload VARCHAR(100)) ENGINE=queue")
	// Every acknowledged commit must be on the replica (semi-synchronous,
	// AFTER_SYNC): otherwise a kill -9 may lose acknowledged rows.
	deadline := time.Now().Add(30 * time.Second)
	for count(t, prim, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'RPL_SEMI_SYNC_MASTER_CLIENTS'") < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the replica is not connected semi-synchronously")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for count(t, repl, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'test' AND TABLE_NAME = 'jobs'") < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the table did not reach the replica")
		}
		time.Sleep(100 * time.Millisecond)
	}

	l := &ledger{acked: map[int64]bool{}, received: map[int64]int{}}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			pr := client.NewProducer(prim, "jobs", "id", "producer", "payload")
			pr.BatchSize = batch + 1 // Flush by hand
			for n := int64(0); ; n += batch {
				var ids []int64
				for i := int64(0); i < batch; i++ {
					id := int64(p)<<40 | (n + i)
					ids = append(ids, id)
					if err := pr.Add(ctx, id, p, strings.Repeat("x", 50)); err != nil {
						return
					}
				}
				if err := pr.Flush(ctx); err != nil {
					return // not acknowledged: may or may not be there
				}
				l.mu.Lock()
				for _, id := range ids {
					l.acked[id] = true
				}
				l.mu.Unlock()
				time.Sleep(5 * time.Millisecond) // a backlog the replica drains in seconds
			}
		}(p)
	}
	consume := func(db *sql.DB, onPrimary bool, ctx context.Context, idle time.Duration) {
		c := client.NewConsumer(db)
		c.LogRemovals = mode == "delete"
		c.PollTimeout = time.Second
		defer c.Close()
		for {
			wctx, cancel := context.WithTimeout(ctx, idle)
			m, err := c.Wait(wctx, "jobs")
			cancel()
			if err != nil {
				return // killed server, or idle: drained
			}
			v, _ := m.Get("id")
			l.receive(v.(int64), onPrimary)
			if err := c.End(ctx); err != nil {
				return
			}
		}
	}
	for i := 0; i < consumers; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); consume(prim, true, ctx, time.Hour) }()
	}

	time.Sleep(run)
	pid, err := os.ReadFile(pb.Dir + "/mysqld.pid")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(strings.TrimSpace(string(pid)))
	if err := syscall.Kill(p, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	stop() // producers and consumers of the primary give up
	wg.Wait()

	// Promote: apply what the replica received, stop replicating, accept writes.
	for {
		st := slaveStatus(t, repl)
		if st["Master_Log_File"] == st["Relay_Master_Log_File"] && st["Read_Master_Log_Pos"] == st["Exec_Master_Log_Pos"] {
			break
		}
		if st["Last_SQL_Error"] != "" {
			t.Fatalf("replica SQL thread: %s", st["Last_SQL_Error"])
		}
		if time.Since(killed) > 60*time.Second {
			t.Fatalf("the replica did not apply its relay log: %v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	sandboxtest.Exec(t, repl, "STOP SLAVE", "RESET SLAVE ALL", "SET GLOBAL read_only = OFF")
	promoted := time.Since(killed)
	left := count(t, repl, "SELECT COUNT(*) FROM jobs")

	var cw sync.WaitGroup
	for i := 0; i < consumers; i++ {
		cw.Add(1)
		go func() { defer cw.Done(); consume(repl, false, context.Background(), 2*time.Second) }()
	}
	cw.Wait()
	if n := count(t, repl, "SELECT COUNT(*) FROM jobs"); n != 0 {
		t.Errorf("%d rows left on the promoted replica after draining", n)
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	var missing, again int
	for id := range l.acked {
		if l.received[id] == 0 {
			if missing < 10 {
				t.Logf("acknowledged, never delivered: producer %d, row %d (id %d)", id>>40, id&(1<<40-1), id)
			}
			missing++
		}
	}
	for _, n := range l.received {
		if n > 1 {
			again += n - 1
		}
	}
	t.Logf("failover (%s): %d rows acknowledged, %d delivered on the primary, %d left on the replica at promotion (%.1f s after the kill), %d delivered again, %d missing",
		mode, len(l.acked), l.primary, left, promoted.Seconds(), again, missing)
	fmt.Printf("failover-test: mode %s: %d acknowledged, %d consumed on the primary, %d delivered again after the failover, %d missing\n",
		mode, len(l.acked), l.primary, again, missing)
	if len(l.acked) == 0 || l.primary == 0 {
		t.Fatal("nothing produced or consumed before the failover")
	}
	if missing > 0 {
		t.Errorf("%d acknowledged rows never delivered", missing)
	}
	switch mode {
	case "delete":
		// Only the rows owned at the kill, at most one per consumer.
		if again > consumers {
			t.Errorf("%d rows delivered again, more than the %d consumers owned", again, consumers)
		}
	case "end":
		// queue_end is not logged: the replica kept (almost) every consumed row.
		if again < l.primary-consumers {
			t.Errorf("%d rows delivered again, want about the %d consumed on the primary", again, l.primary)
		}
	}
}
