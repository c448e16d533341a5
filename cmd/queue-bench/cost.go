package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Per-message costs of a step on the MariaDB server: how often the server
// entered the engine's Go library, how many fdatasyncs the queue tables
// did, how much CPU mariadbd used and how often its threads were switched
// out — each counter sampled just before and just after the step's
// measured window and divided by the messages of that window.

// costs are a step's per-message figures. A figure that was not measured
// (the server does not report it, or it does not apply to the system) is
// NaN; Msgs is the number of messages it was divided by.
type costs struct {
	Msgs      int64
	GoEntries float64 // calls into Go (engine status line go_entries)
	Syncs     float64 // fdatasyncs of queue tables (engine status line sys_sync)
	CPUMicros float64 // mariadbd's utime+stime, µs
	CtxSw     float64 // voluntary + involuntary context switches of mariadbd's threads

	// Server-wide status counters (SHOW GLOBAL STATUS), read for every
	// system in the MariaDB server; shown per transaction in the outbox
	// and txconsume sections.
	InnoFsyncs float64 // Innodb_data_fsyncs: InnoDB's fsyncs, redo log included
	BinlogGC   float64 // Binlog_group_commits: one binlog write (and fsync if sync_binlog=1) each
	Prepares   float64 // Handler_prepare: engines prepared in two-phase commits
}

func noCosts() costs {
	nan := math.NaN()
	return costs{GoEntries: nan, Syncs: nan, CPUMicros: nan, CtxSw: nan, InnoFsyncs: nan, BinlogGC: nan, Prepares: nan}
}

// serverSample is one reading of the counters. A counter that could not be
// read is absent (its has* flag false).
type serverSample struct {
	GoEntries, Syncs int64
	HasGo, HasSync   bool
	CPUTicks         uint64
	HasCPU           bool
	CtxSw            map[int]uint64   // context switches per thread id; nil if not read
	Status           map[string]int64 // globalStatusNames; nil if not read
}

// globalStatusNames are the SHOW GLOBAL STATUS counters sampled.
var globalStatusNames = []string{"Innodb_data_fsyncs", "Binlog_group_commits", "Handler_prepare"}

// perMessage divides the change of each counter between two samples by n
// messages. clkTck is the kernel's clock ticks per second (USER_HZ).
func perMessage(before, after serverSample, n int64, clkTck float64) costs {
	c := noCosts()
	c.Msgs = n
	if n <= 0 {
		return c
	}
	per := func(d float64) float64 { return d / float64(n) }
	if before.HasGo && after.HasGo && after.GoEntries >= before.GoEntries {
		c.GoEntries = per(float64(after.GoEntries - before.GoEntries))
	}
	if before.HasSync && after.HasSync && after.Syncs >= before.Syncs {
		c.Syncs = per(float64(after.Syncs - before.Syncs))
	}
	if before.HasCPU && after.HasCPU && after.CPUTicks >= before.CPUTicks && clkTck > 0 {
		c.CPUMicros = per(float64(after.CPUTicks-before.CPUTicks) * 1e6 / clkTck)
	}
	if before.CtxSw != nil && after.CtxSw != nil {
		c.CtxSw = per(float64(ctxSwDelta(before.CtxSw, after.CtxSw)))
	}
	status := func(name string) float64 {
		b, ok1 := before.Status[name]
		a, ok2 := after.Status[name]
		if !ok1 || !ok2 || a < b {
			return math.NaN()
		}
		return per(float64(a - b))
	}
	c.InnoFsyncs = status("Innodb_data_fsyncs")
	c.BinlogGC = status("Binlog_group_commits")
	c.Prepares = status("Handler_prepare")
	return c
}

// ctxSwDelta is the number of context switches between two readings of
// per-thread counts: for a thread in both, the difference; for a thread
// born in between, all of its count. A thread that exited in between is
// lost (the kernel keeps no per-process total of context switches), which
// is why the readings are per thread: summing all threads at each end
// would subtract the whole history of a thread that exited.
func ctxSwDelta(before, after map[int]uint64) uint64 {
	var d uint64
	for tid, a := range after {
		b, ok := before[tid]
		if !ok || a < b { // new thread (or a thread id reused)
			b = 0
		}
		d += a - b
	}
	return d
}

// parseProcStat returns utime+stime (clock ticks) from the text of
// /proc/<pid>/stat: for a process (not a single thread) both are totals
// over all its threads, those that exited included. The command name,
// field 2, is in parentheses and may itself contain spaces and
// parentheses, so fields are counted from the last ')'.
func parseProcStat(b []byte) (uint64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("no ')' after the command name")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("%d fields after the command name, want at least 13", len(f))
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("utime/stime: %w", err)
	}
	return ut + st, nil
}

// parseCtxSwitches returns voluntary_ctxt_switches +
// nonvoluntary_ctxt_switches from the text of /proc/<pid>/task/<tid>/status.
func parseCtxSwitches(b []byte) (uint64, error) {
	var sum uint64
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "voluntary_ctxt_switches" && k != "nonvoluntary_ctxt_switches") {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", k, err)
		}
		sum += n
		found++
	}
	if found != 2 {
		return 0, errors.New("no voluntary_ctxt_switches/nonvoluntary_ctxt_switches lines")
	}
	return sum, nil
}

// readProcCPU reads utime+stime of the process whose /proc directory is dir.
func readProcCPU(dir string) (uint64, error) {
	b, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return 0, err
	}
	return parseProcStat(b)
}

// readProcCtxSw reads the context switches of every thread of the process
// whose /proc directory is dir. A thread that exits while the directory is
// read is skipped.
func readProcCtxSw(dir string) (map[int]uint64, error) {
	ents, err := os.ReadDir(filepath.Join(dir, "task"))
	if err != nil {
		return nil, err
	}
	out := make(map[int]uint64, len(ents))
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, "task", e.Name(), "status"))
		if err != nil {
			continue // exited meanwhile
		}
		n, err := parseCtxSwitches(b)
		if err != nil {
			return nil, fmt.Errorf("task %d: %w", tid, err)
		}
		out[tid] = n
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no thread readable in %s/task", dir)
	}
	return out, nil
}

// statusLine is a counter line of SHOW ENGINE QUEUE STATUS ("go_entries 123").
var statusLine = regexp.MustCompile(`^(\w+)\s+(\d+)$`)

// parseEngineStatus returns the counter lines of the engine's status text;
// other lines (per-table lines, headers) are ignored.
func parseEngineStatus(text string) map[string]int64 {
	out := map[string]int64{}
	for _, line := range strings.Split(text, "\n") {
		m := statusLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		if n, err := strconv.ParseInt(m[2], 10, 64); err == nil {
			out[m[1]] = n
		}
	}
	return out
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc: getconf
// CLK_TCK, or 100 (Linux's USER_HZ on common platforms) if that fails.
var clockTicks = sync.OnceValue(func() float64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil && n > 0 {
			return float64(n)
		}
	}
	return 100
})

// serverProcess finds the mariadbd process of a server on this machine:
// the pid in @@pid_file (relative to @@datadir if not absolute), else the
// sandbox's pid file. It returns the process's /proc directory and where
// the pid came from, or an error saying why CPU and context switches
// cannot be measured.
func serverProcess(ctx context.Context, db *sql.DB) (dir, from string, err error) {
	var tried []string
	var pidFile, dataDir sql.NullString
	var port int
	if err := db.QueryRowContext(ctx, "SELECT @@pid_file, @@datadir, @@port").Scan(&pidFile, &dataDir, &port); err != nil {
		tried = append(tried, "@@pid_file: "+err.Error())
	} else if pidFile.String != "" {
		p := pidFile.String
		if !filepath.IsAbs(p) && dataDir.String != "" {
			p = filepath.Join(dataDir.String, p)
		}
		if dir, err := procDirFromPidFile(p, port); err == nil {
			return dir, "@@pid_file " + p, nil
		} else {
			tried = append(tried, err.Error())
		}
	}
	p := filepath.Join("var", "sandbox", "mysqld.pid")
	if dir, err := procDirFromPidFile(p, port); err == nil {
		return dir, "the sandbox's " + p, nil
	} else {
		tried = append(tried, err.Error())
	}
	return "", "", fmt.Errorf("mariadbd's process not found (%s)", strings.Join(tried, "; "))
}

// procDirFromPidFile reads a pid file and checks that the process is a
// MariaDB server running on this machine and, if its command line names a
// port and port is known, that it is the server's.
func procDirFromPidFile(path string, port int) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return "", fmt.Errorf("%s: no pid in it", path)
	}
	dir := fmt.Sprintf("/proc/%d", pid)
	comm, err := os.ReadFile(filepath.Join(dir, "comm"))
	if err != nil {
		return "", fmt.Errorf("%s: process %d: %w", path, pid, err)
	}
	if c := strings.TrimSpace(string(comm)); c != "mariadbd" && c != "mysqld" {
		return "", fmt.Errorf("%s: process %d is %q, not mariadbd", path, pid, c)
	}
	if cmd, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil && port > 0 {
		if p, ok := cmdlinePort(cmd); ok && p != port {
			return "", fmt.Errorf("%s: process %d listens on port %d, not %d", path, pid, p, port)
		}
	}
	return dir, nil
}

// cmdlinePort returns the --port=N (or --port N, -P N) of a NUL-separated
// command line, if it has one.
func cmdlinePort(cmdline []byte) (int, bool) {
	args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	for i, a := range args {
		v, ok := strings.CutPrefix(a, "--port=")
		if !ok && (a == "--port" || a == "-P") && i+1 < len(args) {
			v, ok = args[i+1], true
		}
		if ok {
			n, err := strconv.Atoi(v)
			return n, err == nil
		}
	}
	return 0, false
}

// costProbe samples one server's counters. queue says whether the system
// measured uses the queue engine (whose Go entries and fdatasyncs are then
// read); for other systems only CPU and context switches are.
type costProbe struct {
	srv   *mysqlServer
	queue bool
}

// A costSystem runs in a MariaDB server whose costs can be sampled.
type costSystem interface {
	costProbe() *costProbe
}

// sample reads the counters; what cannot be read is left absent.
func (p *costProbe) sample(ctx context.Context) serverSample {
	var s serverSample
	if p == nil || p.srv == nil {
		return s
	}
	if p.queue {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		var typ, name, status string
		err := p.srv.admin.QueryRowContext(ctx, "SHOW ENGINE QUEUE STATUS").Scan(&typ, &name, &status)
		cancel()
		if err == nil {
			st := parseEngineStatus(status)
			s.GoEntries, s.HasGo = st["go_entries"]
			s.Syncs, s.HasSync = st["sys_sync"]
		}
	}
	if st, err := p.srv.globalStatus(ctx, globalStatusNames); err == nil {
		s.Status = st
	}
	if dir := p.srv.procDir; dir != "" {
		if t, err := readProcCPU(dir); err == nil {
			s.CPUTicks, s.HasCPU = t, true
		}
		if m, err := readProcCtxSw(dir); err == nil {
			s.CtxSw = m
		}
	}
	return s
}

// costWindow brackets a step's measured window: start and end sample the
// counters and read the step's message count right after, so that both
// readings are shifted alike by the time a sample takes. The first start's
// reading is kept too, for a step whose measured window turns out too
// short to divide by (end's whole).
type costWindow struct {
	probe         *costProbe
	count         func() int64
	first, before serverSample
	n0first, n0   int64
	ok            bool
}

func newCostWindow(sys System, count func() int64) *costWindow {
	cs, ok := sys.(costSystem)
	if !ok {
		return nil
	}
	return &costWindow{probe: cs.costProbe(), count: count}
}

func (w *costWindow) start(ctx context.Context) {
	if w == nil {
		return
	}
	w.before = w.probe.sample(ctx)
	w.n0 = w.count()
	if !w.ok {
		w.first, w.n0first = w.before, w.n0
	}
	w.ok = true
}

// end returns the per-message costs since the last start (since the first
// one if whole), or nil if the system has none or the window was not
// started.
func (w *costWindow) end(ctx context.Context, whole bool) *costs {
	if w == nil || !w.ok {
		return nil
	}
	before, n0 := w.before, w.n0
	if whole {
		before, n0 = w.first, w.n0first
	}
	after := w.probe.sample(ctx)
	c := perMessage(before, after, w.count()-n0, clockTicks())
	return &c
}
