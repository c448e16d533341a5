// Package ops holds the tests of the operations tools against real servers:
// a hot backup with scripts/queue-backup.sh (mariabackup plus the queue
// tables) taken while producers and consumers run, restored into a second
// server, and mariadb-dump of a queue table. They run when QUEUE_BACKUP_SRC
// and QUEUE_BACKUP_DST name two sandbox directories as DIR:PORT (make
// backup-test sets them; the source server is running, the destination is
// created by the test) and skip otherwise.
package ops

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
)

type server struct {
	dir  string
	port int
}

func (s server) sock() string { return filepath.Join(s.dir, "mysqld.sock") }

func (s server) dsn() string { return "root@unix(" + s.sock() + ")/test" }

func parseServer(t *testing.T, env string) server {
	v := os.Getenv(env)
	if v == "" {
		t.Skipf("%s not set (make backup-test sets it)", env)
	}
	i := strings.LastIndexByte(v, ':')
	port, err := strconv.Atoi(v[i+1:])
	if i < 0 || err != nil {
		t.Fatalf("%s=%q: want DIR:PORT", env, v)
	}
	return server{dir: v[:i], port: port}
}

func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func sandbox(t *testing.T, s server, action string) {
	t.Helper()
	run(t, []string{"QUEUE_SANDBOX_DIR=" + s.dir, "QUEUE_SANDBOX_PORT=" + strconv.Itoa(s.port)},
		"../scripts/sandbox.sh", action)
}

func open(t *testing.T, s server) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", s.dsn())
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(32)
	t.Cleanup(func() { db.Close() })
	return db
}

// One acknowledged event of the workload, with the client's clock before
// the statement was sent and after it returned.
type event struct {
	id         int64
	sent, done int64 // ns since the epoch
}

type ledger struct {
	mu        sync.Mutex
	inserted  []event // INSERT acknowledged
	attempted []event // INSERT sent (done = 0 if it failed)
	consumed  []event // queue_end acknowledged for the row id
}

func (l *ledger) add(list *[]event, e event) {
	l.mu.Lock()
	*list = append(*list, e)
	l.mu.Unlock()
}

// producer inserts ids p, p+n, p+2n, ... one row per statement.
func producer(ctx context.Context, db *sql.DB, l *ledger, p, n int64, errs chan<- error) {
	for id := p; ctx.Err() == nil; id += n {
		sent := time.Now().UnixNano()
		l.add(&l.attempted, event{id: id, sent: sent})
		if _, err := db.Exec("INSERT INTO bq VALUES (?, ?)", id, fmt.Sprintf("message %d", id)); err != nil {
			errs <- fmt.Errorf("producer %d: insert %d: %w", p, id, err)
			return
		}
		l.add(&l.inserted, event{id: id, sent: sent, done: time.Now().UnixNano()})
	}
}

// consumer takes a row, reads its id and consumes it with queue_end.
func consumer(ctx context.Context, db *sql.DB, l *ledger, errs chan<- error) {
	conn, err := db.Conn(context.Background())
	if err != nil {
		errs <- err
		return
	}
	defer conn.Close()
	for ctx.Err() == nil {
		var got sql.NullInt64
		if err := conn.QueryRowContext(context.Background(), "SELECT queue_wait('bq', 1)").Scan(&got); err != nil {
			errs <- fmt.Errorf("queue_wait: %w", err)
			return
		}
		if got.Int64 != 1 {
			continue
		}
		var id int64
		if err := conn.QueryRowContext(context.Background(), "SELECT id FROM bq").Scan(&id); err != nil {
			errs <- fmt.Errorf("owner SELECT: %w", err)
			return
		}
		sent := time.Now().UnixNano()
		if _, err := conn.ExecContext(context.Background(), "DO queue_end()"); err != nil {
			errs <- fmt.Errorf("queue_end %d: %w", id, err)
			return
		}
		l.add(&l.consumed, event{id: id, sent: sent, done: time.Now().UnixNano()})
	}
	conn.ExecContext(context.Background(), "DO queue_abort()")
}

func readInfo(t *testing.T, path string) (start, end int64, tables []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("the backup has no queue_backup_info: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		switch k {
		case "copy_start_ns":
			start, _ = strconv.ParseInt(v, 10, 64)
		case "copy_end_ns":
			end, _ = strconv.ParseInt(v, 10, 64)
		case "table":
			tables = append(tables, v)
		}
	}
	if start == 0 || end < start {
		t.Fatalf("%s: no copy window", path)
	}
	return
}

// TestHotBackup takes a backup with queue-backup while 3 producers and 2
// consumers run, restores it into a second server and checks that the
// restored queue table holds exactly the source's rows at the backup's
// point. The queue tables are copied while mariabackup holds its backup
// locks (from BACKUP STAGE BLOCK_DDL to END, which contains the point,
// BLOCK_COMMIT), during [S, E] (queue_backup_info, kept open one second more
// by QUEUE_BACKUP_HOLD); nothing changes a queue table in that interval, so
// the point is any instant of it. With the client's clocks:
//   - a row whose INSERT returned before S, and whose queue_end was not sent
//     before E, must be restored (acknowledged before the point, not
//     consumed by then);
//   - a row whose queue_end returned before S must not be (consumed before
//     the point), nor a row whose INSERT was sent after E;
//   - no INSERT and no queue_end returns during the window (they wait for
//     the backup lock): one that did would have changed the table while it
//     was being copied;
//   - every restored row was inserted, once.
func TestHotBackup(t *testing.T) {
	src := parseServer(t, "QUEUE_BACKUP_SRC")
	dst := parseServer(t, "QUEUE_BACKUP_DST")
	sdb := open(t, src)
	for _, q := range []string{"DROP TABLE IF EXISTS bq",
		"CREATE TABLE bq (id BIGINT NOT NULL, body VARCHAR(100)) ENGINE=queue"} {
		if _, err := sdb.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	l := &ledger{}
	const producers = 3
	for p := int64(1); p <= producers; p++ {
		wg.Add(1)
		go func() { defer wg.Done(); producer(ctx, sdb, l, p, producers, errs) }()
	}
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); consumer(ctx, sdb, l, errs) }()
	}
	time.Sleep(1500 * time.Millisecond)

	backup := filepath.Join(dst.dir, "backup")
	os.RemoveAll(dst.dir)
	if err := os.MkdirAll(dst.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	client := []string{"--user=root", "--socket=" + src.sock()}
	out := run(t, []string{"QUEUE_BACKUP_HOLD=1"}, "../scripts/queue-backup.sh",
		append([]string{"--backup", "--target-dir=" + backup}, client...)...)
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "[queue-backup]") {
			t.Log(line)
		}
	}
	if !strings.Contains(out, "queue table(s) under the backup locks") {
		t.Fatalf("queue-backup did not copy the queue tables:\n%s", out)
	}
	time.Sleep(1 * time.Second)
	stop()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}

	run(t, nil, "mariabackup", "--prepare", "--target-dir="+backup)
	run(t, nil, "../scripts/queue-backup.sh", "--copy-back", "--target-dir="+backup,
		"--datadir="+filepath.Join(dst.dir, "data"))
	sandbox(t, dst, "start")
	t.Cleanup(func() { sandbox(t, dst, "stop") })
	ddb := open(t, dst)

	S, E, tables := readInfo(t, filepath.Join(backup, "queue_backup_info"))
	t.Logf("queue tables %v copied in %.1f ms, then the locks held 1 s more", tables, float64(E-S)/1e6)
	E += int64(time.Second) // QUEUE_BACKUP_HOLD

	restored := map[int64]int{}
	rows, err := ddb.Query("SELECT id FROM bq")
	if err != nil {
		t.Fatalf("restored table does not open: %v", err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		restored[id]++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var isOpen string
	if err := ddb.QueryRow("SELECT IS_OPEN FROM information_schema.QUEUE_TABLES WHERE TABLE_NAME='bq'").Scan(&isOpen); err != nil || isOpen != "YES" {
		t.Fatalf("information_schema.QUEUE_TABLES on the restored server: %q %v", isOpen, err)
	}

	// The window is checked with a margin for the client's delay between a
	// statement's return and its reading of the clock.
	const slack = int64(300 * time.Millisecond)
	inserted := map[int64]event{}
	for _, e := range l.inserted {
		inserted[e.id] = e
		if e.done > S+slack && e.done < E {
			t.Errorf("INSERT of %d returned inside the backup window", e.id)
		}
	}
	consumed := map[int64]event{}
	for _, e := range l.consumed {
		consumed[e.id] = e
		if e.done > S+slack && e.done < E {
			t.Errorf("queue_end of %d returned inside the backup window", e.id)
		}
	}
	sentAt := map[int64]int64{}
	for _, e := range l.attempted {
		sentAt[e.id] = e.sent
	}
	var mustHave, consumedBefore, sentAfter, consumedAfter, unsure int
	for id, n := range restored {
		if n > 1 {
			t.Errorf("row %d restored %d times", id, n)
		}
		if _, ok := sentAt[id]; !ok {
			t.Errorf("row %d restored but never inserted", id)
		}
	}
	for id, sent := range sentAt {
		ins, acked := inserted[id]
		con, wasConsumed := consumed[id]
		_, have := restored[id]
		switch {
		case acked && ins.done < S && (!wasConsumed || con.sent > E):
			mustHave++
			if wasConsumed {
				consumedAfter++
			}
			if !have {
				t.Errorf("row %d acknowledged before the backup and not consumed by then is missing", id)
			}
		case wasConsumed && con.done < S:
			consumedBefore++
			if have {
				t.Errorf("row %d consumed before the backup was restored", id)
			}
		case sent > E:
			sentAfter++
			if have {
				t.Errorf("row %d inserted after the backup was restored", id)
			}
		default:
			unsure++
		}
	}
	t.Logf("%d rows inserted, %d consumed; restored %d: %d required (%d of them consumed after the point), %d consumed before it, %d inserted after it, %d near the window",
		len(l.inserted), len(l.consumed), len(restored), mustHave, consumedAfter, consumedBefore, sentAfter, unsure)
	// The workload must have produced each case, or the test proves nothing.
	if mustHave == 0 || consumedBefore == 0 || sentAfter == 0 || consumedAfter == 0 {
		t.Errorf("the workload did not cover every case (required %d, consumed after %d, consumed before %d, inserted after %d)",
			mustHave, consumedAfter, consumedBefore, sentAfter)
	}

	// The restored table takes writes and consumers as any queue table.
	if _, err := ddb.Exec("INSERT INTO bq VALUES (-1, 'after restore')"); err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := ddb.QueryRow("SELECT COUNT(*) FROM bq").Scan(&n); err != nil || n != int64(len(restored))+1 {
		t.Fatalf("COUNT(*) after an insert on the restored server: %d, %v", n, err)
	}

	testDump(t, src, dst, sdb, ddb)
}

// testDump checks what mariadb-dump writes for a queue table while a
// consumer owns one of its rows, and that the dump loads into a queue
// table on another server.
func testDump(t *testing.T, src, dst server, sdb, ddb *sql.DB) {
	for _, q := range []string{"DROP TABLE IF EXISTS dq",
		"CREATE TABLE dq (id INT NOT NULL, body VARCHAR(20)) ENGINE=queue",
		"INSERT INTO dq VALUES (1,'one'),(2,'two'),(3,'three')"} {
		if _, err := sdb.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
	owner, err := sdb.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	var got int64
	if err := owner.QueryRowContext(context.Background(), "SELECT queue_wait('dq', 1)").Scan(&got); err != nil || got != 1 {
		t.Fatalf("queue_wait: %d %v", got, err)
	}
	var ownedID int64
	owner.QueryRowContext(context.Background(), "SELECT id FROM dq").Scan(&ownedID)

	dump := filepath.Join(dst.dir, "dq.sql")
	run(t, nil, "mariadb-dump", "--no-defaults", "-uroot", "--socket="+src.sock(), "--result-file="+dump, "test", "dq")
	b, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	if !strings.Contains(text, "ENGINE=QUEUE") {
		t.Errorf("dump does not create a queue table:\n%s", text)
	}
	var dumped []string
	for _, id := range []int64{1, 2, 3} {
		if strings.Contains(text, fmt.Sprintf("(%d,'", id)) {
			dumped = append(dumped, strconv.FormatInt(id, 10))
		}
	}
	// A dump reads the table like any SELECT of a non-owner: the owned row
	// is not in it (it comes back only if its consumer gives it back).
	want := []string{}
	for _, id := range []int64{1, 2, 3} {
		if id != ownedID {
			want = append(want, strconv.FormatInt(id, 10))
		}
	}
	if strings.Join(dumped, ",") != strings.Join(want, ",") {
		t.Errorf("dump while row %d is owned holds rows %v, want %v", ownedID, dumped, want)
	}
	owner.ExecContext(context.Background(), "DO queue_abort()")

	if _, err := ddb.Exec("CREATE DATABASE IF NOT EXISTS dumpcopy"); err != nil {
		t.Fatal(err)
	}
	load := exec.Command("mariadb", "--no-defaults", "-uroot", "--socket="+dst.sock(), "dumpcopy")
	f, _ := os.Open(dump)
	defer f.Close()
	load.Stdin = f
	if out, err := load.CombinedOutput(); err != nil {
		t.Fatalf("loading the dump: %v\n%s", err, out)
	}
	var engine string
	ddb.QueryRow("SELECT ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA='dumpcopy' AND TABLE_NAME='dq'").Scan(&engine)
	if engine != "QUEUE" {
		t.Errorf("loaded table has engine %q", engine)
	}
	rows, err := ddb.Query("SELECT id FROM dumpcopy.dq")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		ids = append(ids, strconv.FormatInt(id, 10))
	}
	sort.Strings(ids)
	if strings.Join(ids, ",") != strings.Join(want, ",") {
		t.Errorf("loaded rows %v, want %v", ids, want)
	}
	// A consumer on the loaded table gets the rows in the dump's order.
	c, _ := ddb.Conn(context.Background())
	defer c.Close()
	var first int64
	c.QueryRowContext(context.Background(), "SELECT queue_wait('dumpcopy.dq', 1)").Scan(&got)
	c.QueryRowContext(context.Background(), "SELECT id FROM dumpcopy.dq").Scan(&first)
	c.ExecContext(context.Background(), "DO queue_end()")
	if strconv.FormatInt(first, 10) != want[0] {
		t.Errorf("first row consumed from the loaded table: %d, want %s", first, want[0])
	}
}
