// Package spider tests producers sharded through a Spider table: a front
// server whose table `jobs` (ENGINE=SPIDER, PARTITION BY HASH (id)) has one
// partition per backend server, each backend holding a queue table `jobs`.
// Consumers wait on the backends, one client.Consumer per backend.
//
// scripts/spider-test.sh starts the servers and sets QUEUE_SPIDER_FRONT and
// QUEUE_SPIDER_BACKENDS (DIR:PORT, comma-separated for the backends, in
// partition order). Without them the test skips.
package spider

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
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

func servers(t *testing.T) (box, []box) {
	f, bs := os.Getenv("QUEUE_SPIDER_FRONT"), os.Getenv("QUEUE_SPIDER_BACKENDS")
	if f == "" || bs == "" {
		t.Skip("QUEUE_SPIDER_FRONT / QUEUE_SPIDER_BACKENDS not set (make spider-test sets them)")
	}
	var backs []box
	for _, b := range strings.Split(bs, ",") {
		backs = append(backs, sandboxtest.Parse(t, b))
	}
	return sandboxtest.Parse(t, f), backs
}

// setup creates the queue tables on the backends and the Spider table on
// the front, one partition per backend (partition k holds id % n = k).
func setup(t *testing.T, front *sql.DB, backs []box, backDBs []*sql.DB) {
	for _, db := range backDBs {
		sandboxtest.Exec(t, db, "DROP TABLE IF EXISTS jobs",
			"CREATE TABLE jobs (id BIGINT NOT NULL, payload VARCHAR(100)) ENGINE=queue")
	}
	sandboxtest.Exec(t, front, "DROP TABLE IF EXISTS jobs")
	var parts []string
	for i, b := range backs {
		sandboxtest.Exec(t, front, fmt.Sprintf("DROP SERVER IF EXISTS backend%d", i),
			fmt.Sprintf("CREATE SERVER backend%d FOREIGN DATA WRAPPER mysql OPTIONS (HOST '127.0.0.1', PORT %s, USER 'root', PASSWORD '', DATABASE 'test')", i, b.Port))
		parts = append(parts, fmt.Sprintf(`PARTITION p%d COMMENT = 'srv "backend%d"'`, i, i))
	}
	sandboxtest.Exec(t, front, `CREATE TABLE jobs (id BIGINT NOT NULL, payload VARCHAR(100)) ENGINE=SPIDER
		COMMENT = 'wrapper "mysql", table "jobs"'
		PARTITION BY HASH (id) (`+strings.Join(parts, ", ")+`)`)
}

// produce inserts ids [from, to) into db's jobs with `workers` producers,
// batches of `batch` rows, and returns the elapsed time.
func produce(t *testing.T, dbFor func(id int64) *sql.DB, from, to int64, workers, batch int) time.Duration {
	start := time.Now()
	var wg sync.WaitGroup
	ctx := context.Background()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			prods := map[*sql.DB]*client.Producer{}
			for id := from + int64(w); id < to; id += int64(workers) {
				db := dbFor(id)
				p := prods[db]
				if p == nil {
					p = client.NewProducer(db, "jobs", "id", "payload")
					p.BatchSize = batch
					prods[db] = p
				}
				if err := p.Add(ctx, id, strings.Repeat("x", 50)); err != nil {
					t.Error(err)
					return
				}
			}
			for _, p := range prods {
				if err := p.Flush(ctx); err != nil {
					t.Error(err)
				}
			}
		}(w)
	}
	wg.Wait()
	return time.Since(start)
}

// consumeAll drains every backend with one client.Consumer each and
// returns how often each id was delivered, and by which backend.
func consumeAll(t *testing.T, backDBs []*sql.DB) (map[int64]int, map[int64]int) {
	var mu sync.Mutex
	seen, where := map[int64]int{}, map[int64]int{}
	var wg sync.WaitGroup
	for i, db := range backDBs {
		wg.Add(1)
		go func(i int, db *sql.DB) {
			defer wg.Done()
			c := client.NewConsumer(db)
			c.PollTimeout = time.Second
			defer c.Close()
			for {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				m, err := c.Wait(ctx, "jobs")
				cancel()
				if err != nil {
					return
				}
				v, _ := m.Get("id")
				mu.Lock()
				seen[v.(int64)]++
				where[v.(int64)] = i
				mu.Unlock()
				if err := c.End(context.Background()); err != nil {
					t.Error(err)
					return
				}
			}
		}(i, db)
	}
	wg.Wait()
	return seen, where
}

func restart(t *testing.T, b box) {
	pid, err := os.ReadFile(b.Dir + "/mysqld.pid")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(strings.TrimSpace(string(pid)))
	if err := syscall.Kill(p, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for syscall.Kill(p, 0) == nil {
		time.Sleep(20 * time.Millisecond)
	}
	cmd := exec.Command("../../scripts/sandbox.sh", "start")
	cmd.Env = append(os.Environ(), "QUEUE_SANDBOX_DIR="+b.Dir, "QUEUE_SANDBOX_PORT="+b.Port)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("restart %s: %v\n%s", b.Dir, err, out)
	}
}

// Rows inserted through the front land on the backend their partition
// names, durably (a kill -9 of every backend right after the INSERTs were
// acknowledged loses none), and the consumers of the backends get each
// exactly once.
func TestSpiderShards(t *testing.T) {
	fb, backs := servers(t)
	front := fb.Open(t, 20)
	var backDBs []*sql.DB
	for _, b := range backs {
		backDBs = append(backDBs, b.Open(t, 20))
	}
	setup(t, front, backs, backDBs)
	const rows = 3000
	n := int64(len(backs))
	produce(t, func(int64) *sql.DB { return front }, 0, rows, 4, 10)
	for _, b := range backs {
		restart(t, b)
	}
	seen, where := consumeAll(t, backDBs)
	bad := 0
	for id := int64(0); id < rows; id++ {
		switch {
		case seen[id] != 1:
			bad++
			if bad < 10 {
				t.Errorf("id %d delivered %d times", id, seen[id])
			}
		case int64(where[id]) != id%n:
			bad++
			if bad < 10 {
				t.Errorf("id %d on backend %d, its partition is %d", id, where[id], id%n)
			}
		}
	}
	if len(seen) != rows {
		t.Errorf("%d distinct ids delivered, want %d", len(seen), rows)
	}
	// The front reconnects to the restarted backends on its own.
	var err error
	for i := 0; i < 3; i++ {
		if _, err = front.Exec("INSERT INTO jobs VALUES (1, 'after the restart'), (2, 'after the restart')"); err == nil {
			break
		}
		t.Logf("INSERT through the front after the backends restarted: %v", err)
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	seen, _ = consumeAll(t, backDBs)
	if len(seen) != 2 {
		t.Errorf("after the restart: %v delivered, want ids 1 and 2", seen)
	}
}

// The rate of INSERTs through the front against the same INSERTs sent by
// the producers straight to the backend of each row (client-side sharding).
func TestSpiderRate(t *testing.T) {
	fb, backs := servers(t)
	if os.Getenv("QUEUE_SPIDER_MEASURE") == "" {
		t.Skip("QUEUE_SPIDER_MEASURE not set")
	}
	front := fb.Open(t, 20)
	var backDBs []*sql.DB
	for _, b := range backs {
		backDBs = append(backDBs, b.Open(t, 20))
	}
	setup(t, front, backs, backDBs)
	rows, _ := strconv.ParseInt(os.Getenv("QUEUE_SPIDER_MEASURE"), 10, 64)
	n := int64(len(backs))
	for _, batch := range []int{1, 10} {
		viaFront := produce(t, func(int64) *sql.DB { return front }, 0, rows, 4, batch)
		consumeAll(t, backDBs)
		direct := produce(t, func(id int64) *sql.DB { return backDBs[id%n] }, 0, rows, 4, batch)
		consumeAll(t, backDBs)
		line := fmt.Sprintf("spider-measure: %d rows, 4 producers, %d rows per INSERT, %d backends: through Spider %.0f rows/s, straight to the backends %.0f rows/s",
			rows, batch, n, float64(rows)/viaFront.Seconds(), float64(rows)/direct.Seconds())
		t.Log(line)
		fmt.Println(line)
	}
}
