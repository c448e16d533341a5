package main

// Tests of the forwarder between two real servers. They run when
// QUEUE_FWD_SRC and QUEUE_FWD_DST name two sandbox servers as DIR:PORT
// (make forward-test starts them; see forward.mk) and skip otherwise.

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/queue-engine/queue/client"
)

type sandbox struct {
	dir  string
	port int
	db   *sql.DB
}

func (s *sandbox) sock() string { return filepath.Join(s.dir, "mysqld.sock") }

// dbi is the server's Q4M DSN for table.
func (s *sandbox) dbi(table string) string {
	return "dbi:mysql:database=test;mysql_socket=" + s.sock() + ";table=" + table
}

// start (re)starts the server with the sandbox script.
func (s *sandbox) start(t *testing.T) {
	t.Helper()
	cmd := exec.Command("../../scripts/sandbox.sh", "start")
	cmd.Env = append(os.Environ(), "QUEUE_SANDBOX_DIR="+s.dir, "QUEUE_SANDBOX_PORT="+strconv.Itoa(s.port))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sandbox start %s: %v\n%s", s.dir, err, out)
	}
}

// crash kills the server with SIGKILL and waits until it is gone.
func (s *sandbox) crash(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.dir, "mysqld.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(50 * time.Millisecond)
	}
}

var (
	srcBox, dstBox *sandbox
	forwardBin     string
)

func TestMain(m *testing.M) {
	_ = mysql.SetLogger(&mysql.NopLogger{}) // expected broken connections
	code := func() int {
		s, d := os.Getenv("QUEUE_FWD_SRC"), os.Getenv("QUEUE_FWD_DST")
		if s == "" || d == "" {
			return m.Run() // the server tests skip
		}
		var err error
		if srcBox, err = openBox(s); err == nil {
			dstBox, err = openBox(d)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		tmp, err := os.MkdirTemp("", "queue-forward-test")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(tmp)
		forwardBin = filepath.Join(tmp, "queue-forward")
		if out, err := exec.Command("go", "build", "-o", forwardBin, ".").CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

func openBox(spec string) (*sandbox, error) {
	dir, port, ok := strings.Cut(spec, ":")
	p, err := strconv.Atoi(port)
	if !ok || err != nil {
		return nil, fmt.Errorf("want DIR:PORT, got %q", spec)
	}
	s := &sandbox{dir: dir, port: p}
	s.db, err = client.Open("root@unix(" + s.sock() + ")/test?timeout=2s")
	if err != nil {
		return nil, err
	}
	s.db.SetMaxIdleConns(2)
	return s, nil
}

func needServers(t *testing.T) {
	if srcBox == nil {
		t.Skip("QUEUE_FWD_SRC / QUEUE_FWD_DST not set (make forward-test sets them)")
	}
}

func exec1(t *testing.T, db *sql.DB, qs ...string) {
	t.Helper()
	for _, q := range qs {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// count is COUNT(*) of table, -1 while the server does not answer.
func count(db *sql.DB, table string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		return -1
	}
	return n
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// syncBuf is the forwarder's stderr.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type proc struct {
	cmd  *exec.Cmd
	out  *syncBuf
	done chan error
}

func startForwarder(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{out: &syncBuf{}, done: make(chan error, 1)}
	p.cmd = exec.Command(forwardBin, append([]string{"--stats", "1s", "--defaults-file", ""}, args...)...)
	p.cmd.Env = append(os.Environ(), "MYSQL_USER=root")
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("forwarder %v output:\n%s", args, p.out)
		}
	})
	return p
}

// stop sends SIGTERM and expects a clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	// The signal handler is installed before the first line.
	waitFor(t, "the forwarder's first line", 10*time.Second, func() bool { return strings.Contains(p.out.String(), "forwarding ") })
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("forwarder after SIGTERM: %v\n%s", err, p.out)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("forwarder still running 10 s after SIGTERM\n%s", p.out)
	}
	if !strings.Contains(p.out.String(), "stopped:") {
		t.Errorf("no final line:\n%s", p.out)
	}
}

func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// The columns of the mixed-types tables: the destination has them in
// another order and the TEXT column in another character set.
const (
	srcCols = "id BIGINT NOT NULL, name VARCHAR(60) CHARACTER SET utf8mb4, price DECIMAL(12,3), ratio DOUBLE, " +
		"small FLOAT, flag TINYINT, big BIGINT UNSIGNED, body BLOB, note TEXT CHARACTER SET utf8mb4, " +
		"at DATETIME(6), day DATE, n INT, bits BIT(12), e ENUM('x','y z'), st SET('a','b','c'), tm TIME(3), " +
		"ts TIMESTAMP(2) NULL"
	dstCols = "ts TIMESTAMP(2) NULL, tm TIME(3), st SET('a','b','c'), e ENUM('x','y z'), bits BIT(12), n INT, day DATE, at DATETIME(6), note TEXT CHARACTER SET latin1, body BLOB, big BIGINT UNSIGNED, " +
		"flag TINYINT, small FLOAT, ratio DOUBLE, price DECIMAL(12,3), name VARCHAR(60) CHARACTER SET utf8mb4, " +
		"id BIGINT NOT NULL"
	// canon is one comparable string per row, independent of column order
	// and character set.
	canon = "CONCAT_WS('|', id, IFNULL(HEX(name),'N'), IFNULL(price,'N'), IFNULL(ratio,'N'), IFNULL(small,'N'), " +
		"IFNULL(flag,'N'), IFNULL(big,'N'), IFNULL(HEX(body),'N'), IFNULL(HEX(CONVERT(note USING utf8mb4)),'N'), " +
		"IFNULL(at,'N'), IFNULL(day,'N'), IFNULL(n,'N'), IFNULL(HEX(bits),'N'), IFNULL(e,'N'), IFNULL(st,'N'), " +
		"IFNULL(tm,'N'), IFNULL(ts,'N'))"
)

// fill creates the source table src (and its InnoDB copy src_expect) and
// the destination table dst, and puts n rows of mixed values in src.
func fill(t *testing.T, src, dst string, n int) {
	t.Helper()
	exec1(t, srcBox.db, "DROP TABLE IF EXISTS "+src, "DROP TABLE IF EXISTS "+src+"_expect",
		"CREATE TABLE "+src+" ("+srcCols+") ENGINE=queue",
		"CREATE TABLE "+src+"_expect ("+srcCols+") ENGINE=InnoDB")
	exec1(t, dstBox.db, "DROP TABLE IF EXISTS "+dst, "CREATE TABLE "+dst+" ("+dstCols+") ENGINE=queue")
	rng := rand.New(rand.NewSource(int64(n)))
	names := []string{"plain", "it's", `back\slash`, "emoji 😀", "", "tab\tand\nnewline", "ünïcödé"}
	notes := []string{"café", "", "quote ' and \" double", `\N`, "NULL", "x"}
	p := client.NewProducer(srcBox.db, src, "id", "name", "price", "ratio", "small", "flag", "big", "body",
		"note", "at", "day", "n", "bits", "e", "st", "tm", "ts")
	p.BatchSize = 200
	null := func(v any) any {
		if rng.Intn(8) == 0 {
			return nil
		}
		return v
	}
	ctx := context.Background()
	for i := 1; i <= n; i++ {
		body := make([]byte, rng.Intn(40))
		rng.Read(body)
		if len(body) > 2 {
			body[0], body[1] = 0, '\''
		}
		at := time.Date(2000+rng.Intn(30), time.Month(1+rng.Intn(12)), 1+rng.Intn(28), rng.Intn(24), rng.Intn(60),
			rng.Intn(60), rng.Intn(1e6)*1000, time.UTC).Format("2006-01-02 15:04:05.000000")
		err := p.Add(ctx, i,
			null(names[rng.Intn(len(names))]),
			null(fmt.Sprintf("%d.%03d", rng.Intn(1e6)-5e5, rng.Intn(1000))),
			null(rng.NormFloat64()*1e6),
			null(strconv.FormatFloat(float64(rng.Float32()), 'g', -1, 32)),
			null(rng.Intn(256)-128),
			null(rng.Uint64()),
			null(body),
			null(notes[rng.Intn(len(notes))]),
			null(at),
			null(at[:10]),
			null(rng.Int31()),
			null(rng.Intn(4096)),
			null([]string{"x", "y z"}[rng.Intn(2)]),
			null([]string{"", "a", "b,c", "a,b,c"}[rng.Intn(4)]),
			null(fmt.Sprintf("%d:%02d:%02d.%03d", rng.Intn(1600)-800, rng.Intn(60), rng.Intn(60), rng.Intn(1000))),
			null(at[:22]),
		)
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	exec1(t, srcBox.db, "INSERT INTO "+src+"_expect SELECT * FROM "+src)
}

func canonRows(t *testing.T, db *sql.DB, table string) []string {
	t.Helper()
	rows, err := db.Query("SELECT " + canon + " FROM " + table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var r []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		r = append(r, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(r)
	return r
}

// checkExactlyOnce compares the destination with the source's copy: every
// row once, same values.
func checkExactlyOnce(t *testing.T, src, dst string, n int) {
	t.Helper()
	if left := count(srcBox.db, src); left != 0 {
		t.Errorf("%d rows left in the source", left)
	}
	want := canonRows(t, srcBox.db, src+"_expect")
	got := canonRows(t, dstBox.db, dst)
	if len(want) != n {
		t.Fatalf("source copy has %d rows, want %d", len(want), n)
	}
	if slices.Equal(got, want) {
		return
	}
	seen := map[string]int{}
	for _, g := range got {
		seen[g]++
	}
	dups, lost := 0, 0
	for _, w := range want {
		switch seen[w] {
		case 0:
			lost++
		case 1:
		default:
			dups++
		}
		delete(seen, w)
	}
	t.Fatalf("destination has %d rows for %d: %d lost, %d duplicated, %d unexpected", len(got), n, lost, dups, len(seen))
}

// N rows of mixed types arrive once, with the columns matched by name.
func TestForwardMixedTypes(t *testing.T) {
	needServers(t)
	const n = 1500
	fill(t, "fw_mixed", "fw_mixed", n)
	p := startForwarder(t, "--sender", "1", srcBox.dbi("fw_mixed"), dstBox.dbi("fw_mixed"))
	waitFor(t, "all rows at the destination", 60*time.Second, func() bool { return count(dstBox.db, "fw_mixed") >= n })
	p.stop(t)
	checkExactlyOnce(t, "fw_mixed", "fw_mixed", n)
	t.Logf("%s", lastLine(p.out.String()))
}

// SIGKILL of the forwarder at random moments, then a restart: nothing
// lost, nothing duplicated.
func TestForwardKillForwarder(t *testing.T) {
	needServers(t)
	const n = 5000
	fill(t, "fw_kill", "fw_kill", n)
	// A Go DSN on one side, Q4M's on the other.
	dst := "root@tcp(127.0.0.1:" + strconv.Itoa(dstBox.port) + ")/test"
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	kills := 0
	for i := 0; i < 15 && count(srcBox.db, "fw_kill") != 0; i++ {
		p := startForwarder(t, "--sender", "2", "--dst-table", "fw_kill", srcBox.dbi("fw_kill"), dst)
		time.Sleep(time.Duration(50+rng.Intn(300)) * time.Millisecond)
		p.kill()
		kills++
	}
	p := startForwarder(t, "--sender", "2", "--dst-table", "fw_kill", srcBox.dbi("fw_kill"), dst)
	waitFor(t, "the source drained", 60*time.Second, func() bool {
		return count(srcBox.db, "fw_kill") == 0 && count(dstBox.db, "fw_kill") >= n
	})
	p.stop(t)
	var stats string
	_ = srcBox.db.QueryRow("SELECT queue_stats('fw_kill')").Scan(&stats)
	for _, l := range strings.Split(stats, "\n") {
		if strings.HasPrefix(l, "restored_by_close") {
			stats = l
		}
	}
	t.Logf("%d kills (source %s); %s", kills, stats, lastLine(p.out.String()))
	checkExactlyOnce(t, "fw_kill", "fw_kill", n)
}

// kill -9 of the destination server while rows are forwarded, then a
// restart: the forwarder reconnects; nothing lost, nothing duplicated.
func TestForwardDestinationCrash(t *testing.T) {
	needServers(t)
	const n = 3000
	fill(t, "fw_crash", "fw_crash", n)
	p := startForwarder(t, "--sender", "3", srcBox.dbi("fw_crash"), dstBox.dbi("fw_crash"))
	waitFor(t, "a third of the rows", 60*time.Second, func() bool { return count(dstBox.db, "fw_crash") >= n/3 })
	dstBox.crash(t)
	time.Sleep(300 * time.Millisecond)
	dstBox.start(t)
	waitFor(t, "the source drained", 90*time.Second, func() bool {
		return count(srcBox.db, "fw_crash") == 0 && count(dstBox.db, "fw_crash") >= n
	})
	p.stop(t)
	out := p.out.String()
	if c := strings.Count(out, "destination"); c < 1 || c > 4 {
		t.Errorf("%d log lines about the destination for one crash:\n%s", c, out)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "destination") {
			t.Log(l)
		}
	}
	t.Logf("%s", lastLine(out))
	checkExactlyOnce(t, "fw_crash", "fw_crash", n)
}

// kill -9 of the source server: the row in flight is offered again after
// the restart and dropped by the destination.
func TestForwardSourceCrash(t *testing.T) {
	needServers(t)
	const n = 2000
	fill(t, "fw_scrash", "fw_scrash", n)
	p := startForwarder(t, "--sender", "4", srcBox.dbi("fw_scrash"), dstBox.dbi("fw_scrash"))
	waitFor(t, "a third of the rows", 60*time.Second, func() bool { return count(dstBox.db, "fw_scrash") >= n/3 })
	srcBox.crash(t)
	time.Sleep(300 * time.Millisecond)
	srcBox.start(t)
	waitFor(t, "the source drained", 90*time.Second, func() bool {
		return count(srcBox.db, "fw_scrash") == 0 && count(dstBox.db, "fw_scrash") >= n
	})
	p.stop(t)
	for _, l := range strings.Split(p.out.String(), "\n") {
		if strings.Contains(l, "source") && !strings.Contains(l, "forwarding") {
			t.Log(l)
		}
	}
	t.Logf("%s", lastLine(p.out.String()))
	checkExactlyOnce(t, "fw_scrash", "fw_scrash", n)
}

// After the source table is recreated its row ids restart: without --reset
// the destination drops them as already received; --reset sets the mark
// with the first row.
func TestForwardReset(t *testing.T) {
	needServers(t)
	exec1(t, srcBox.db, "DROP TABLE IF EXISTS fw_reset", "CREATE TABLE fw_reset (id INT NOT NULL, v VARCHAR(10)) ENGINE=queue",
		"INSERT INTO fw_reset SELECT seq, CONCAT('a', seq) FROM seq_1_to_100")
	exec1(t, dstBox.db, "DROP TABLE IF EXISTS fw_reset", "CREATE TABLE fw_reset (v VARCHAR(10), id INT NOT NULL) ENGINE=queue")
	run := func(want int, args ...string) string {
		t.Helper()
		p := startForwarder(t, append(args, srcBox.dbi("fw_reset"), dstBox.dbi("fw_reset"))...)
		waitFor(t, "the source drained", 30*time.Second, func() bool {
			return count(srcBox.db, "fw_reset") == 0 && count(dstBox.db, "fw_reset") >= want
		})
		p.stop(t)
		if got := count(dstBox.db, "fw_reset"); got != want {
			t.Fatalf("destination has %d rows, want %d\n%s", got, want, p.out)
		}
		return p.out.String()
	}
	run(100, "--sender", "5")

	exec1(t, srcBox.db, "DROP TABLE fw_reset", "CREATE TABLE fw_reset (id INT NOT NULL, v VARCHAR(10)) ENGINE=queue",
		"INSERT INTO fw_reset VALUES (1000, 'dropped')")
	run(100, "--sender", "5") // row 1 of the new table is dropped as already received
	exec1(t, srcBox.db, "INSERT INTO fw_reset SELECT 1000 + seq, CONCAT('b', seq) FROM seq_1_to_50")
	if out := run(150, "--sender", "5", "--reset"); !strings.Contains(out, "reset: relay mark of sender 5 set to source row 2") {
		t.Errorf("no reset line:\n%s", out)
	}
	exec1(t, srcBox.db, "INSERT INTO fw_reset SELECT 2000 + seq, CONCAT('c', seq) FROM seq_1_to_10")
	run(160, "--sender", "5")
	var ids string
	if err := dstBox.db.QueryRow("SELECT CONCAT(MIN(id), '..', MAX(id), ' ', COUNT(DISTINCT id)) FROM fw_reset WHERE id > 1000").Scan(&ids); err != nil {
		t.Fatal(err)
	}
	if ids != "1001..2010 60" {
		t.Errorf("rows after the reset: %s", ids)
	}
}

// Fan-in: two source tables into one destination table, one sender slot
// each. Fan-out: one source table split by disjoint conditions over two
// forwarders into two destination tables. A forwarder of each kind is
// killed once on the way.
func TestForwardFanInFanOut(t *testing.T) {
	needServers(t)
	const n = 600
	exec1(t, dstBox.db, "DROP TABLE IF EXISTS fw_in", "CREATE TABLE fw_in (src CHAR(1), id BIGINT NOT NULL) ENGINE=queue",
		"DROP TABLE IF EXISTS fw_even", "CREATE TABLE fw_even (id BIGINT NOT NULL, src CHAR(1)) ENGINE=queue",
		"DROP TABLE IF EXISTS fw_odd", "CREATE TABLE fw_odd (id BIGINT NOT NULL, src CHAR(1)) ENGINE=queue")
	for _, s := range []string{"a", "b", "c"} {
		exec1(t, srcBox.db, "DROP TABLE IF EXISTS fw_"+s, "CREATE TABLE fw_"+s+" (id BIGINT NOT NULL, src CHAR(1)) ENGINE=queue",
			fmt.Sprintf("INSERT INTO fw_%s SELECT seq, '%s' FROM seq_1_to_%d", s, s, n))
	}
	start := func(args ...string) *proc { return startForwarder(t, args...) }
	ps := []*proc{
		start("--sender", "6", srcBox.dbi("fw_a"), dstBox.dbi("fw_in")),
		start("--sender", "7", srcBox.dbi("fw_b"), dstBox.dbi("fw_in")),
		start("--sender", "8", "--src-cond", "id % 2 = 0", srcBox.dbi("fw_c"), dstBox.dbi("fw_even")),
		start("--sender", "8", "--src-cond", "id % 2 = 1", srcBox.dbi("fw_c"), dstBox.dbi("fw_odd")),
	}
	time.Sleep(300 * time.Millisecond)
	for _, i := range []int{1, 3} {
		ps[i].kill()
	}
	ps[1] = start("--sender", "7", srcBox.dbi("fw_b"), dstBox.dbi("fw_in"))
	ps[3] = start("--sender", "8", "--src-cond", "id % 2 = 1", srcBox.dbi("fw_c"), dstBox.dbi("fw_odd"))
	waitFor(t, "the sources drained", 60*time.Second, func() bool {
		return count(srcBox.db, "fw_a")+count(srcBox.db, "fw_b")+count(srcBox.db, "fw_c") == 0 &&
			count(dstBox.db, "fw_in") >= 2*n && count(dstBox.db, "fw_even")+count(dstBox.db, "fw_odd") >= n
	})
	for _, p := range ps {
		p.stop(t)
	}
	for _, c := range []struct{ q, want string }{
		{"SELECT CONCAT(COUNT(*), ' ', COUNT(DISTINCT src, id)) FROM fw_in", fmt.Sprintf("%d %d", 2*n, 2*n)},
		{"SELECT CONCAT(COUNT(*), ' ', COUNT(DISTINCT id), ' ', SUM(id % 2)) FROM fw_even", fmt.Sprintf("%d %d 0", n/2, n/2)},
		{"SELECT CONCAT(COUNT(*), ' ', COUNT(DISTINCT id), ' ', SUM(id % 2)) FROM fw_odd", fmt.Sprintf("%d %d %d", n/2, n/2, n/2)},
	} {
		var got string
		if err := dstBox.db.QueryRow(c.q).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("%s: %s, want %s", c.q, got, c.want)
		}
	}
}

// A row still owned by another connection of the source (the server has
// not yet closed the connection of a forwarder that was killed) is
// delivered before any row after it: the forwarder waits for it instead of
// overtaking it. Overtaken, it would come back below the destination's
// mark for the slot and be dropped there as already received: lost.
func TestForwardWaitsForOwnedRow(t *testing.T) {
	needServers(t)
	const n = 40
	exec1(t, srcBox.db, "DROP TABLE IF EXISTS fw_held", "CREATE TABLE fw_held (id BIGINT NOT NULL) ENGINE=queue",
		fmt.Sprintf("INSERT INTO fw_held SELECT seq FROM seq_1_to_%d", n))
	exec1(t, dstBox.db, "DROP TABLE IF EXISTS fw_held", "CREATE TABLE fw_held (id BIGINT NOT NULL) ENGINE=queue")
	// The connection of the forwarder that died: it owns row 3 (id 3), the
	// first odd row after the rows 1 and 2 that are consumed.
	exec1(t, srcBox.db, "DELETE FROM fw_held WHERE id < 3")
	ctx := context.Background()
	held, err := srcBox.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	var got int
	if err := held.QueryRowContext(ctx, "SELECT queue_wait('fw_held:id % 2 = 1', 1)").Scan(&got); err != nil || got != 1 {
		t.Fatalf("queue_wait: %d %v", got, err)
	}
	var owned int
	if err := held.QueryRowContext(ctx, "SELECT id FROM fw_held").Scan(&owned); err != nil || owned != 3 {
		t.Fatalf("owned row: %d %v", owned, err)
	}
	p := startForwarder(t, "--sender", "10", "--src-cond", "id % 2 = 1", srcBox.dbi("fw_held"), dstBox.dbi("fw_held"))
	waitFor(t, "the forwarder's first line", 10*time.Second, func() bool { return strings.Contains(p.out.String(), "forwarding ") })
	time.Sleep(time.Second)
	if c := count(dstBox.db, "fw_held"); c != 0 {
		t.Errorf("%d rows delivered while row 3 was owned by another connection", c)
	}
	// The connection ends: row 3 goes back to the queue.
	_ = held.Raw(func(any) error { return driver.ErrBadConn })
	held.Close()
	waitFor(t, "the odd rows delivered", 30*time.Second, func() bool {
		var left int
		_ = srcBox.db.QueryRow("SELECT COUNT(*) FROM fw_held WHERE id % 2 = 1").Scan(&left)
		return left == 0
	})
	p.stop(t)
	var ids string
	if err := dstBox.db.QueryRow("SELECT CONCAT(COUNT(*), ' ', COUNT(DISTINCT id), ' ', MIN(id), ' ', SUM(id % 2)) FROM fw_held").Scan(&ids); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%d %d 3 %d", n/2-1, n/2-1, n/2-1); ids != want {
		t.Errorf("destination: count, distinct, min, odd = %s, want %s\n%s", ids, want, p.out)
	}
}

// SIGTERM while the destination is unreachable: the owned source row is
// given back with queue_abort and the forwarder exits 0.
func TestForwardSignalGivesRowBack(t *testing.T) {
	needServers(t)
	exec1(t, srcBox.db, "DROP TABLE IF EXISTS fw_sig", "CREATE TABLE fw_sig (v INT) ENGINE=queue",
		"INSERT INTO fw_sig VALUES (1), (2)")
	// Nothing listens on port 1: connection refused, retried with backoff.
	p := startForwarder(t, srcBox.dbi("fw_sig"), "dbi:mysql:database=test;host=127.0.0.1;port=1;table=fw_sig")
	waitFor(t, "the unreachable destination logged", 10*time.Second, func() bool {
		return strings.Contains(p.out.String(), "unreachable")
	})
	p.stop(t)
	if c := strings.Count(p.out.String(), "unreachable"); c != 1 {
		t.Errorf("%d lines about the unreachable destination:\n%s", c, p.out)
	}
	var stats string
	if err := srcBox.db.QueryRow("SELECT queue_stats('fw_sig')").Scan(&stats); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stats, "restored_by_abort: 1\n") || !strings.Contains(stats, "restored_by_close: 0\n") {
		t.Errorf("the row was not given back by queue_abort:\n%s", stats)
	}
	if c := count(srcBox.db, "fw_sig"); c != 2 {
		t.Errorf("source has %d rows, want 2", c)
	}
}

// A bad destination table is an error that ends the forwarder (status 1)
// and gives the source row back.
func TestForwardMissingTable(t *testing.T) {
	needServers(t)
	exec1(t, srcBox.db, "DROP TABLE IF EXISTS fw_missing", "CREATE TABLE fw_missing (v INT) ENGINE=queue",
		"INSERT INTO fw_missing VALUES (1)")
	exec1(t, dstBox.db, "DROP TABLE IF EXISTS fw_missing")
	p := startForwarder(t, srcBox.dbi("fw_missing"), dstBox.dbi("fw_missing"))
	select {
	case err := <-p.done:
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Errorf("exit: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("forwarder did not give up on a missing table")
	}
	if !strings.Contains(p.out.String(), "doesn't exist") {
		t.Errorf("output:\n%s", p.out)
	}
	if c := count(srcBox.db, "fw_missing"); c != 1 {
		t.Errorf("source has %d rows, want the row back", c)
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
