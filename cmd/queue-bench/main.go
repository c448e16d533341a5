package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// allSystems is the run order within each cell; it rotates between
// repetitions so that no system always runs first.
var allSystems = []string{"queue", "queue-multi", "queue-1stmt", "innodb-rr", "innodb-rc", "blackhole", "postgres", "redis", "getlock",
	"innodb-alone", "innodb-outbox", "queue-outbox", "queue-tx-consume", "queue-ac-consume"}

// classicScenarios are the scenarios of a System without a Scenarios
// method; the outbox and txconsume systems run only in their own scenario.
var classicScenarios = []string{scEnqueue, scConsume, scMixed, scLatency}

// scenarioSystem is a System that runs only in some scenarios.
type scenarioSystem interface {
	Scenarios() []string
}

// runsIn reports whether sys takes part in scenario sc.
func runsIn(sys System, sc string) bool {
	if ss, ok := sys.(scenarioSystem); ok {
		return slices.Contains(ss.Scenarios(), sc)
	}
	return slices.Contains(classicScenarios, sc)
}

// options are the command line.
type options struct {
	mode       string
	mysqlDSN   string
	bhDSN      string
	pgDSN      string
	redisAddr  string
	systems    string
	scenarios  string
	conns      string
	outboxCons string // connection counts of the outbox scenario
	txCons     string // connection counts of the txconsume scenario
	sizes      string
	warmup     time.Duration
	duration   time.Duration
	repeat     int
	prefill    string
	latSamples int
	latConns   int
	latGap     time.Duration
	poll       time.Duration
	batch      int
	out        string
	fsyncDir   string
	baseline   string
	cpuProfile string
}

// modes give defaults; explicit flags override them.
var modes = map[string]options{
	// Under 15 minutes on a 2-core machine with every system available.
	"default": {scenarios: "enqueue,consume,mixed,latency,outbox,txconsume", conns: "1,4,16,64",
		outboxCons: "1,16,64", txCons: "1,16", sizes: "100,4096",
		warmup: 500 * time.Millisecond, duration: 2 * time.Second, repeat: 1,
		prefill: "100:60000,4096:10000", latSamples: 1000, latConns: 4},
	// Under 2 minutes: 100-byte messages, the extremes of concurrency.
	"quick": {scenarios: "enqueue,consume,mixed,latency,outbox,txconsume", conns: "1,64",
		outboxCons: "1,16,64", txCons: "1,16", sizes: "100",
		warmup: 300 * time.Millisecond, duration: time.Second, repeat: 1,
		prefill: "100:50000", latSamples: 200, latConns: 4},
	// Seconds: keeps the harness working (make test); numbers mean nothing.
	"smoke": {scenarios: "enqueue,consume,mixed,latency,outbox,txconsume", conns: "1",
		outboxCons: "1", txCons: "1", sizes: "100",
		warmup: 0, duration: 200 * time.Millisecond, repeat: 1,
		prefill: "100:300", latSamples: 10, latConns: 1},
}

func main() {
	os.Exit(run())
}

func run() int {
	var o options
	fs := flag.NewFlagSet("queue-bench", flag.ExitOnError)
	fs.StringVar(&o.mode, "mode", "default", "default (<15 min), quick (<2 min) or smoke (seconds, for tests)")
	quick := fs.Bool("quick", false, "same as --mode=quick")
	smoke := fs.Bool("smoke", false, "same as --mode=smoke")
	fs.StringVar(&o.mysqlDSN, "mysql", "root@tcp(127.0.0.1:3307)/test", "MariaDB server for queue, InnoDB, BLACKHOLE and GET_LOCK (go-sql-driver DSN)")
	fs.StringVar(&o.bhDSN, "blackhole-mysql", "", "server for BLACKHOLE when the main one has no BLACKHOLE plugin (same mariadbd binary)")
	fs.StringVar(&o.pgDSN, "pg", "postgres://postgres@127.0.0.1:5433/bench?sslmode=disable", "PostgreSQL connection string")
	fs.StringVar(&o.redisAddr, "redis", "127.0.0.1:6380", "Redis address")
	fs.StringVar(&o.systems, "systems", strings.Join(allSystems, ","), "systems to run")
	fs.StringVar(&o.scenarios, "scenarios", "", "scenarios: enqueue,consume,mixed,latency,outbox,txconsume (default: per mode)")
	fs.StringVar(&o.conns, "conns", "", "connection counts, e.g. 1,4,16,64 (default: per mode)")
	fs.StringVar(&o.outboxCons, "outbox-conns", "", "connection counts of the outbox scenario (default: per mode, 1,16,64)")
	fs.StringVar(&o.txCons, "txconsume-conns", "", "connection counts of the txconsume scenario (default: per mode, 1,16)")
	fs.StringVar(&o.sizes, "sizes", "", "message sizes in bytes, e.g. 100,4096 (default: per mode)")
	fs.DurationVar(&o.warmup, "warmup", -1, "warm-up per throughput step (default: per mode)")
	fs.DurationVar(&o.duration, "duration", -1, "measured time per throughput step (default: per mode)")
	fs.IntVar(&o.repeat, "repeat", 0, "repetitions of every step, interleaved (default: per mode)")
	fs.StringVar(&o.prefill, "prefill", "", "messages pre-filled for consume, per size, e.g. 100:60000,4096:10000")
	fs.IntVar(&o.latSamples, "latency-samples", 0, "messages in the latency scenario (default: per mode)")
	fs.IntVar(&o.latConns, "latency-consumers", 0, "idle consumers in the latency scenario (default: per mode)")
	fs.DurationVar(&o.latGap, "latency-gap", time.Millisecond, "pause between latency messages")
	fs.DurationVar(&o.poll, "poll", 10*time.Millisecond, "sleep between empty polls (InnoDB, PostgreSQL, GET_LOCK)")
	fs.IntVar(&o.batch, "getlock-batch", 10, "rows taken per GET_LOCK round")
	fs.StringVar(&o.out, "out", "bench/results", "directory under which a run's results directory is created")
	fs.StringVar(&o.fsyncDir, "fsync-dir", "var", "directory on the servers' file system, for the fdatasync probe")
	fs.StringVar(&o.baseline, "baseline", "queue", "system the ratios are relative to (falls back to blackhole if not available)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the harness itself to this file")
	fs.Parse(os.Args[1:])
	if *quick {
		o.mode = "quick"
	}
	if *smoke {
		o.mode = "smoke"
	}
	def, ok := modes[o.mode]
	if !ok {
		fmt.Fprintf(os.Stderr, "queue-bench: unknown mode %q\n", o.mode)
		return 2
	}
	o = withDefaults(o, def)
	plan, err := makePlan(o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "queue-bench: %v\n", err)
		return 2
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "queue-bench: cpu profile: %v\n", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return execute(ctx, o, plan)
}

func withDefaults(o, d options) options {
	if o.scenarios == "" {
		o.scenarios = d.scenarios
	}
	if o.conns == "" {
		o.conns = d.conns
	}
	if o.outboxCons == "" {
		o.outboxCons = d.outboxCons
	}
	if o.txCons == "" {
		o.txCons = d.txCons
	}
	if o.sizes == "" {
		o.sizes = d.sizes
	}
	if o.warmup < 0 {
		o.warmup = d.warmup
	}
	if o.duration < 0 {
		o.duration = d.duration
	}
	if o.repeat == 0 {
		o.repeat = d.repeat
	}
	if o.prefill == "" {
		o.prefill = d.prefill
	}
	if o.latSamples == 0 {
		o.latSamples = d.latSamples
	}
	if o.latConns == 0 {
		o.latConns = d.latConns
	}
	return o
}

// plan is the parsed, validated matrix of a run.
type plan struct {
	systems   []string
	scenarios []string
	conns     []int
	scConns   map[string][]int // per-scenario connection counts (outbox, txconsume)
	sizes     []int
	prefill   map[int]int
}

// connsFor returns the connection counts of a throughput scenario.
func (p plan) connsFor(sc string) []int {
	if c, ok := p.scConns[sc]; ok {
		return c
	}
	return p.conns
}

func makePlan(o options) (plan, error) {
	var p plan
	var err error
	p.systems = splitList(o.systems)
	for _, s := range p.systems {
		if !slices.Contains(allSystems, s) {
			return p, fmt.Errorf("unknown system %q (known: %s)", s, strings.Join(allSystems, ", "))
		}
	}
	p.scenarios = splitList(o.scenarios)
	for _, s := range p.scenarios {
		if !slices.Contains([]string{scEnqueue, scConsume, scMixed, scLatency, scOutbox, scTxConsume}, s) {
			return p, fmt.Errorf("unknown scenario %q", s)
		}
	}
	if p.conns, err = intList(o.conns, 1, 1024); err != nil {
		return p, fmt.Errorf("--conns: %w", err)
	}
	p.scConns = map[string][]int{}
	if p.scConns[scOutbox], err = intList(o.outboxCons, 1, 1024); err != nil {
		return p, fmt.Errorf("--outbox-conns: %w", err)
	}
	if p.scConns[scTxConsume], err = intList(o.txCons, 1, 1024); err != nil {
		return p, fmt.Errorf("--txconsume-conns: %w", err)
	}
	if p.sizes, err = intList(o.sizes, headerSize, 8192); err != nil {
		return p, fmt.Errorf("--sizes: %w", err)
	}
	p.prefill = map[int]int{}
	for _, kv := range splitList(o.prefill) {
		k, v, ok := strings.Cut(kv, ":")
		size, err1 := strconv.Atoi(k)
		n, err2 := strconv.Atoi(v)
		if !ok || err1 != nil || err2 != nil || n < 1 {
			return p, fmt.Errorf("--prefill: bad entry %q (want size:count)", kv)
		}
		p.prefill[size] = n
	}
	for _, s := range p.sizes {
		if p.prefill[s] == 0 {
			p.prefill[s] = max(1000, 10_000_000/s) // about 10 MB
		}
	}
	if o.latSamples < 1 || o.latConns < 1 || o.repeat < 1 {
		return p, fmt.Errorf("--latency-samples, --latency-consumers and --repeat must be at least 1")
	}
	return p, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func intList(s string, lo, hi int) ([]int, error) {
	var out []int
	for _, f := range splitList(s) {
		n, err := strconv.Atoi(f)
		if err != nil || n < lo || n > hi {
			return nil, fmt.Errorf("%q is not a number from %d to %d", f, lo, hi)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty list")
	}
	return out, nil
}

// execute opens the systems, runs the matrix and writes the results.
func execute(ctx context.Context, o options, p plan) int {
	rp := &report{Started: time.Now(), Mode: o.mode, Timing: timing{o.warmup, o.duration}, Repeat: o.repeat,
		Latency: latencyPlan{Samples: o.latSamples, Consumers: o.latConns, Gap: o.latGap, Jitter: o.poll}, Prefill: p.prefill, Poll: o.poll}

	fmt.Fprintf(os.Stderr, "queue-bench: %s mode; measuring fdatasync in %s\n", o.mode, o.fsyncDir)
	m, err := probeMachine(o.fsyncDir, map[bool]int{true: 30, false: 200}[o.mode == "smoke"])
	if err != nil {
		fmt.Fprintf(os.Stderr, "queue-bench: fdatasync probe: %v\n", err)
		return 1
	}
	rp.Machine = m
	fmt.Fprintf(os.Stderr, "queue-bench: %d cores, fdatasync p50 %.3f ms p99 %.3f ms, load %s\n",
		m.Cores, ms(m.FsyncP50), ms(m.FsyncP99), m.LoadStart)

	systems, infos, costNote := openSystems(ctx, o, p.systems, p.scenarios)
	defer func() {
		for _, s := range systems {
			s.Close()
		}
	}()
	rp.Systems = infos
	rp.CostNote = costNote
	if costNote != "" {
		fmt.Fprintf(os.Stderr, "queue-bench: costs: %s\n", costNote)
	}
	for _, in := range infos {
		if in.Why != "" {
			fmt.Fprintf(os.Stderr, "queue-bench: %s not available: %s\n", in.Name, in.Why)
		}
	}
	if len(systems) == 0 {
		fmt.Fprintf(os.Stderr, "queue-bench: no system is available\n")
		return 1
	}
	rp.Baseline = o.baseline
	if !slices.ContainsFunc(systems, func(s System) bool { return s.Name() == o.baseline }) {
		rp.Baseline = "blackhole"
		fmt.Fprintf(os.Stderr, "queue-bench: baseline %s not available; ratios are relative to %s\n", o.baseline, rp.Baseline)
	}

	// Count the steps for the progress display.
	total := 0
	for _, sc := range p.scenarios {
		n := 0
		for _, s := range systems {
			if runsIn(s, sc) {
				n++
			}
		}
		if sc == scLatency {
			total += len(p.sizes) * o.repeat * n
		} else {
			total += len(p.sizes) * len(p.connsFor(sc)) * o.repeat * n
		}
	}
	pr := newProgress(os.Stderr, total)
	r := &runner{epoch: time.Now(), progress: pr, prefill: p.prefill,
		latency: latencyPlan{Samples: o.latSamples, Consumers: o.latConns, Gap: o.latGap, Jitter: o.poll}}
	t := timing{o.warmup, o.duration}

	// Interleave: for each cell, every system runs once per repetition,
	// in an order that rotates, so slow drifts of the machine (other
	// work, caches, disk) hit all systems alike.
	runCell := func(sc string, rep int, do func(System) Result) {
		for i := range systems {
			s := systems[(i+rep)%len(systems)]
			if ctx.Err() != nil {
				return
			}
			if !runsIn(s, sc) {
				continue
			}
			res := do(s)
			if ctx.Err() != nil {
				// Interrupted in the middle: neither a measurement nor
				// a delivery failure. Leave it out.
				pr.end("interrupted")
				return
			}
			res.Rep = rep
			rp.Results = append(rp.Results, res)
			pr.end(summary(res))
		}
	}
	for _, size := range p.sizes {
		for _, sc := range p.scenarios {
			if sc == scLatency {
				for rep := 0; rep < o.repeat; rep++ {
					runCell(sc, rep, func(s System) Result {
						pr.begin("%-8s %-12s %s", sc, s.Name(), sizeName(size))
						return r.latencyStep(ctx, s, size)
					})
				}
				continue
			}
			for _, c := range p.connsFor(sc) {
				for rep := 0; rep < o.repeat; rep++ {
					runCell(sc, rep, func(s System) Result {
						pr.begin("%-8s %-12s %2d conn %s", sc, s.Name(), c, sizeName(size))
						return r.throughput(ctx, s, sc, c, size, t)
					})
				}
			}
		}
	}
	rp.Finished = time.Now()
	rp.Machine.LoadEnd = loadAvg()
	if ctx.Err() != nil {
		pr.note("queue-bench: interrupted; writing the results measured so far")
		writeResults(rp, o.out, pr)
		return 130
	}
	return writeResults(rp, o.out, pr)
}

func summary(r Result) string {
	if r.Scenario == scLatency {
		if len(r.Latency) == 0 {
			return r.Check
		}
		return fmt.Sprintf("p50 %.3f ms p99 %.3f ms — %s [%.1f s]", ms(percentile(r.Latency, 50)), ms(percentile(r.Latency, 99)), r.Check, r.Elapsed.Seconds())
	}
	s := fmt.Sprintf("%s/s", fmtRate(r.Rate))
	if r.Scenario == scMixed {
		s = fmt.Sprintf("%s/s delivered, %s/s enqueued", fmtRate(r.DeqRate), fmtRate(r.EnqRate))
	}
	if r.Drained {
		s += " (drained)"
	}
	return fmt.Sprintf("%s — %s [%.1f s]", s, r.Check, r.Elapsed.Seconds())
}

// openSystems connects to every requested system; one that cannot be used
// is reported as not available, with the reason, and does not stop the run.
// The note says where the MariaDB server's process was found (for its CPU
// time and context switches), or why it was not.
func openSystems(ctx context.Context, o options, names, scenarios []string) ([]System, []systemInfo, string) {
	var srv *mysqlServer
	var srvErr error
	needsMySQL := slices.ContainsFunc(names, func(n string) bool { return n != "postgres" && n != "redis" })
	// The outbox and txconsume systems are opened only when their scenario
	// runs, so that a run of the classic scenarios does not create their
	// tables (nor report them as not available).
	names = slices.DeleteFunc(slices.Clone(names), func(n string) bool {
		return (strings.HasPrefix(n, "innodb-alone") || strings.HasSuffix(n, "-outbox")) && !slices.Contains(scenarios, scOutbox) ||
			strings.HasSuffix(n, "-consume") && !slices.Contains(scenarios, scTxConsume)
	})
	if needsMySQL {
		srv, srvErr = openMySQL(ctx, o.mysqlDSN)
	}
	note := ""
	switch {
	case srv != nil && srv.procDir != "":
		note = fmt.Sprintf("mariadbd at %s is process %s (from %s), %g clock ticks/s",
			srv.addr, strings.TrimPrefix(srv.procDir, "/proc/"), srv.procFrom, clockTicks())
	case srv != nil:
		note = fmt.Sprintf("CPU and context switches of mariadbd at %s not measured: %s", srv.addr, srv.procWhy)
	}
	var systems []System
	var infos []systemInfo
	for _, n := range names {
		var s System
		var err error
		switch {
		case n == "postgres":
			s, err = newPostgres(ctx, o.pgDSN, o.poll)
		case n == "redis":
			s, err = newRedis(ctx, o.redisAddr)
		case srvErr != nil:
			err = srvErr
		case n == "queue":
			s, err = newQueue(ctx, srv, queueTwo)
		case n == "queue-multi":
			s, err = newQueue(ctx, srv, queueMultiStatement)
		case n == "queue-1stmt":
			s, err = newQueue(ctx, srv, queueOneStatement)
		case n == "innodb-rr":
			s, err = newInnoDB(ctx, srv, n, "REPEATABLE-READ", o.poll)
		case n == "innodb-rc":
			s, err = newInnoDB(ctx, srv, n, "READ-COMMITTED", o.poll)
		case n == "blackhole":
			s, err = newBlackhole(ctx, srv, o.bhDSN)
		case n == "getlock":
			s, err = newGetLock(ctx, srv, o.batch, o.poll)
		case n == "innodb-alone":
			s, err = newOutbox(ctx, srv, outboxAlone)
		case n == "innodb-outbox":
			s, err = newOutbox(ctx, srv, outboxInnoDB)
		case n == "queue-outbox":
			s, err = newOutbox(ctx, srv, outboxQueue)
		case n == "queue-tx-consume":
			s, err = newTxConsume(ctx, srv, true)
		case n == "queue-ac-consume":
			s, err = newTxConsume(ctx, srv, false)
		}
		if err != nil {
			infos = append(infos, systemInfo{Name: n, Why: err.Error()})
			continue
		}
		systems = append(systems, s)
		infos = append(infos, systemInfo{Name: n, Settings: s.Settings()})
	}
	return systems, infos, note
}

// writeResults prints the Markdown report on stdout and writes it, the CSV
// and the charts to a new directory under out. The exit status is 1 if any
// step failed its delivery check or had an error.
func writeResults(rp *report, out string, pr *progress) int {
	dir := filepath.Join(out, rp.Started.UTC().Format("20060102-150405")+"-"+rp.Mode)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "queue-bench: %v\n", err)
		return 1
	}
	rp.writeMarkdown(os.Stdout)
	status := 0
	md, err := os.Create(filepath.Join(dir, "results.md"))
	if err == nil {
		rp.writeMarkdown(md)
		err = md.Close()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "queue-bench: results.md: %v\n", err)
		status = 1
	}
	cf, err := os.Create(filepath.Join(dir, "results.csv"))
	if err == nil {
		err = rp.writeCSV(cf)
		if cerr := cf.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "queue-bench: results.csv: %v\n", err)
		status = 1
	}
	charts, err := rp.writeCharts(dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "queue-bench: charts: %v\n", err)
		status = 1
	}
	pr.note("queue-bench: results in %s (results.md, results.csv, %d charts)", dir, len(charts))
	for _, r := range rp.Results {
		if r.Failed {
			pr.note("queue-bench: FAILED: %s %s %d conn %s: %s", r.Scenario, r.System, r.Conns, sizeName(r.Size), r.Check)
			status = 1
		}
	}
	return status
}
