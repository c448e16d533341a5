package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// systemInfo is what the report says about a system, available or not.
type systemInfo struct {
	Name     string
	Settings string
	Why      string // non-empty: not available, and why
}

// report holds a whole run and renders it.
type report struct {
	Started  time.Time
	Finished time.Time
	Mode     string
	Timing   timing
	Repeat   int
	Latency  latencyPlan
	Prefill  map[int]int
	Poll     time.Duration
	Machine  machine
	Baseline string
	Systems  []systemInfo
	CostNote string   // where mariadbd's process was found, or why not
	Results  []Result // every repetition of every step
}

type cellKey struct {
	Scenario, System string
	Conns, Size      int
}

// cell is the aggregate of a step's repetitions: the median rate, all
// latency samples, and whether any repetition failed.
type cell struct {
	Rate, EnqRate, DeqRate float64
	Drained                bool
	Latency                []time.Duration
	Failed                 bool
	Check                  string
	Reps                   int
	Cost                   *costs // medians over the repetitions that have costs
}

func (rp *report) cells() map[cellKey]*cell {
	groups := map[cellKey][]Result{}
	for _, r := range rp.Results {
		k := cellKey{r.Scenario, r.System, r.Conns, r.Size}
		groups[k] = append(groups[k], r)
	}
	out := map[cellKey]*cell{}
	for k, rs := range groups {
		c := &cell{Reps: len(rs)}
		var rates, enq, deq []float64
		var cs []costs
		for _, r := range rs {
			if r.Cost != nil {
				cs = append(cs, *r.Cost)
			}
			rates, enq, deq = append(rates, r.Rate), append(enq, r.EnqRate), append(deq, r.DeqRate)
			c.Drained = c.Drained || r.Drained
			c.Latency = append(c.Latency, r.Latency...)
			if r.Failed && !c.Failed {
				c.Failed, c.Check = true, r.Check
			}
			if c.Check == "" {
				c.Check = r.Check
			}
		}
		c.Rate, c.EnqRate, c.DeqRate = median(rates), median(enq), median(deq)
		c.Cost = medianCosts(cs)
		sortDurations(c.Latency)
		out[k] = c
	}
	return out
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ratio formats a/b as "1.23×", or "" when either is missing.
func ratio(a, b float64) string {
	if a <= 0 || b <= 0 {
		return ""
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func fmtRate(r float64) string {
	switch {
	case r >= 10000:
		return fmt.Sprintf("%.1fk", r/1000)
	case r >= 1000:
		return fmt.Sprintf("%.2fk", r/1000)
	default:
		return fmt.Sprintf("%.0f", r)
	}
}

// axes returns the scenarios, sizes, connection counts and systems that
// have results, in run order.
func (rp *report) axes() (scenarios []string, sizes, conns map[string][]int, systems []string) {
	sizes, conns = map[string][]int{}, map[string][]int{}
	for _, r := range rp.Results {
		if !slices.Contains(scenarios, r.Scenario) {
			scenarios = append(scenarios, r.Scenario)
		}
		if !slices.Contains(sizes[r.Scenario], r.Size) {
			sizes[r.Scenario] = append(sizes[r.Scenario], r.Size)
		}
		if !slices.Contains(conns[r.Scenario], r.Conns) {
			conns[r.Scenario] = append(conns[r.Scenario], r.Conns)
		}
		if !slices.Contains(systems, r.System) {
			systems = append(systems, r.System)
		}
	}
	for _, s := range scenarios {
		sort.Ints(sizes[s])
		sort.Ints(conns[s])
	}
	return
}

var scenarioTitle = map[string]string{
	scEnqueue:   "Enqueue only — messages/s enqueued",
	scConsume:   "Consume only (pre-filled) — messages/s delivered",
	scMixed:     "Mixed (half producers, half consumers) — messages/s delivered",
	scLatency:   "Delivery latency with idle consumers",
	scOutbox:    "Outbox (one InnoDB business row + one message per transaction) — transactions/s",
	scTxConsume: "Transactional consume (processing UPDATE committed with the removal) — messages/s",
}

// txBaselines are the systems the outbox and txconsume sections give
// ratios against, measured in the same run.
var txBaselines = map[string][]string{
	scOutbox:    {"innodb-outbox", "innodb-alone"},
	scTxConsume: {"queue-ac-consume"},
}

func sizeName(n int) string {
	if n >= 1024 && n%1024 == 0 {
		return fmt.Sprintf("%d KiB", n/1024)
	}
	return fmt.Sprintf("%d B", n)
}

// writeMarkdown renders the report.
func (rp *report) writeMarkdown(w io.Writer) {
	cells := rp.cells()
	scenarios, sizes, conns, systems := rp.axes()
	m := rp.Machine
	fmt.Fprintf(w, "# queue benchmark — %s (%s mode)\n\n", rp.Started.UTC().Format("2006-01-02 15:04 UTC"), rp.Mode)
	fmt.Fprintf(w, "## Machine\n\n")
	fmt.Fprintf(w, "- %d cores (%s), %.1f GiB RAM, Linux %s\n", m.Cores, m.CPU, m.MemGiB, m.Kernel)
	fmt.Fprintf(w, "- fdatasync of 4 KiB in `%s`: p50 %.3f ms, p99 %.3f ms (%d samples)\n",
		m.FsyncDir, ms(m.FsyncP50), ms(m.FsyncP99), m.FsyncSamples)
	fmt.Fprintf(w, "- load average at start %s, at end %s (other work on the machine shows here)\n", m.LoadStart, m.LoadEnd)
	fmt.Fprintf(w, "- clients run on the same cores as the servers\n\n")
	fmt.Fprintf(w, "## Run\n\n")
	fmt.Fprintf(w, "- each throughput step: %v warm-up, then %v measured; %d repetition(s), median shown; systems interleaved within each cell\n",
		rp.Timing.Warmup, rp.Timing.Duration, rp.Repeat)
	fmt.Fprintf(w, "- consume-only steps pre-fill %s; a step that empties the queue early is measured up to its last delivery (marked *), over its whole run if its window after the warm-up delivered less than a tenth of them\n",
		prefillText(rp.Prefill))
	fmt.Fprintf(w, "- latency: %d messages sent one at a time to %d idle consumers, %v apart (plus a random 0–%v for polling systems, which sleep 0.5–1.5× %v after an empty poll)\n",
		rp.Latency.Samples, rp.Latency.Consumers, rp.Latency.Gap, rp.Latency.Jitter, rp.Poll)
	fmt.Fprintf(w, "- every step checks that each message was delivered exactly once (produced = consumed + remaining)\n")
	fmt.Fprintf(w, "- per-message costs on the MariaDB server (docs/BENCHMARKS.md): counters sampled at the start and end of each measured window, divided by its messages (enqueued for enqueue, delivered otherwise)")
	if rp.CostNote != "" {
		fmt.Fprintf(w, "; %s", rp.CostNote)
	}
	fmt.Fprintf(w, "\n")
	fmt.Fprintf(w, "- ratios are to **%s** at the same connection count and message size: for rates, above 1× means faster than %s; for latency, above 1× means slower\n\n", rp.Baseline, rp.Baseline)
	fmt.Fprintf(w, "## Systems\n\n")
	for _, s := range rp.Systems {
		if s.Why != "" {
			fmt.Fprintf(w, "- **%s**: not available — %s\n", s.Name, s.Why)
		} else {
			fmt.Fprintf(w, "- **%s**: %s\n", s.Name, s.Settings)
		}
	}
	fmt.Fprintln(w)

	for _, sc := range scenarios {
		for _, size := range sizes[sc] {
			fmt.Fprintf(w, "## %s, %s messages\n\n", scenarioTitle[sc], sizeName(size))
			if sc == scLatency {
				rp.latencyTable(w, cells, systems, size)
				continue
			}
			if bs, ok := txBaselines[sc]; ok {
				txTable(w, cells, systems, sc, conns[sc], size, bs)
				continue
			}
			cs := conns[sc]
			fmt.Fprintf(w, "| system |")
			for _, c := range cs {
				fmt.Fprintf(w, " %d conn |", c)
			}
			fmt.Fprintf(w, " delivery |\n|---|")
			for range cs {
				fmt.Fprintf(w, "---:|")
			}
			fmt.Fprintf(w, "---|\n")
			for _, sys := range systems {
				row, any, failed := "", false, false
				for _, c := range cs {
					cl := cells[cellKey{sc, sys, c, size}]
					if cl == nil {
						row += " — |"
						continue
					}
					any = true
					failed = failed || cl.Failed
					txt := fmtRate(cl.Rate)
					if cl.Drained {
						txt += "*"
					}
					if base := cells[cellKey{sc, rp.Baseline, c, size}]; base != nil && sys != rp.Baseline {
						if r := ratio(cl.Rate, base.Rate); r != "" {
							txt += " (" + r + ")"
						}
					}
					if cl.Failed {
						txt += " FAIL"
					}
					row += " " + txt + " |"
				}
				if !any {
					continue
				}
				fmt.Fprintf(w, "| %s |%s %s |\n", sys, row, deliveryWord(sys, cells, sc, size, failed))
			}
			fmt.Fprintln(w)
			costTable(w, cells, systems, sc, cs, size)
		}
	}
	rp.targets(w, cells)
	rp.failures(w)
}

func prefillText(p map[int]int) string {
	var sizes []int
	for s := range p {
		sizes = append(sizes, s)
	}
	sort.Ints(sizes)
	var parts []string
	for _, s := range sizes {
		parts = append(parts, fmt.Sprintf("%d messages of %s", p[s], sizeName(s)))
	}
	return strings.Join(parts, ", ")
}

func deliveryWord(sys string, cells map[cellKey]*cell, sc string, size int, failed bool) string {
	if failed {
		return "**FAIL**"
	}
	for k, c := range cells {
		if k.System == sys && k.Scenario == sc && k.Size == size && strings.HasPrefix(c.Check, "n/a") {
			return "n/a"
		}
	}
	return "ok"
}

func (rp *report) latencyTable(w io.Writer, cells map[cellKey]*cell, systems []string, size int) {
	fmt.Fprintf(w, "| system | p50 ms | p99 ms | p99.9 ms | samples | p50 vs %s | delivery | %s |\n|---|---:|---:|---:|---:|---:|---|%s\n",
		rp.Baseline, strings.Join(costHeads, " | "), strings.Repeat("---:|", len(costHeads)))
	var base *cell
	for k, c := range cells {
		if k.Scenario == scLatency && k.System == rp.Baseline && k.Size == size {
			base = c
		}
	}
	for _, sys := range systems {
		for k, c := range cells {
			if k.Scenario != scLatency || k.System != sys || k.Size != size {
				continue
			}
			if len(c.Latency) == 0 {
				fmt.Fprintf(w, "| %s | — | — | — | 0 | | %s | %s |\n", sys, shortCheck(c), costCells(c.Cost))
				continue
			}
			rel := ""
			if base != nil && len(base.Latency) > 0 && sys != rp.Baseline {
				rel = ratio(float64(percentile(c.Latency, 50)), float64(percentile(base.Latency, 50)))
			}
			fmt.Fprintf(w, "| %s | %.3f | %.3f | %.3f | %d | %s | %s | %s |\n", sys,
				ms(percentile(c.Latency, 50)), ms(percentile(c.Latency, 99)), ms(percentile(c.Latency, 99.9)),
				len(c.Latency), rel, shortCheck(c), costCells(c.Cost))
		}
	}
	fmt.Fprintln(w)
}

func shortCheck(c *cell) string {
	switch {
	case c.Failed:
		return "**FAIL**"
	case strings.HasPrefix(c.Check, "n/a"):
		return "n/a"
	default:
		return "ok"
	}
}

func (rp *report) failures(w io.Writer) {
	var lines []string
	for _, r := range rp.Results {
		if r.Failed {
			lines = append(lines, fmt.Sprintf("- %s %s, %d conn, %s: %s", r.Scenario, r.System, r.Conns, sizeName(r.Size), r.Check))
		}
	}
	fmt.Fprintf(w, "## Failures\n\n")
	if len(lines) == 0 {
		fmt.Fprintf(w, "None: every step delivered every message exactly once and no step had an error.\n")
		return
	}
	fmt.Fprintln(w, strings.Join(lines, "\n"))
}

// writeCSV writes one row per repetition of every step, with the ratio of
// its rate (or p50 latency) to the baseline's median in the same cell.
func (rp *report) writeCSV(w io.Writer) error {
	cells := rp.cells()
	cw := csv.NewWriter(w)
	cw.Write([]string{"started", "mode", "scenario", "system", "conns", "msg_bytes", "rep",
		"rate", "enq_rate", "deq_rate", "drained", "p50_ms", "p99_ms", "p999_ms", "samples",
		"baseline", "ratio_vs_baseline", "failed", "check",
		"cost_msgs", "go_entries_per_msg", "fdatasyncs_per_msg", "cpu_us_per_msg", "ctxsw_per_msg",
		"innodb_fsyncs_per_msg", "binlog_group_commits_per_msg", "prepares_per_msg"})
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
	for _, r := range rp.Results {
		p50, p99, p999 := "", "", ""
		rel := ""
		base := cells[cellKey{r.Scenario, rp.Baseline, r.Conns, r.Size}]
		if r.Scenario == scLatency {
			if len(r.Latency) > 0 {
				p50 = strconv.FormatFloat(ms(percentile(r.Latency, 50)), 'f', 3, 64)
				p99 = strconv.FormatFloat(ms(percentile(r.Latency, 99)), 'f', 3, 64)
				p999 = strconv.FormatFloat(ms(percentile(r.Latency, 99.9)), 'f', 3, 64)
				if base != nil && len(base.Latency) > 0 {
					rel = strings.TrimSuffix(ratio(float64(percentile(r.Latency, 50)), float64(percentile(base.Latency, 50))), "×")
				}
			}
		} else if base != nil {
			rel = strings.TrimSuffix(ratio(r.Rate, base.Rate), "×")
		}
		row := []string{rp.Started.UTC().Format(time.RFC3339), rp.Mode, r.Scenario, r.System,
			strconv.Itoa(r.Conns), strconv.Itoa(r.Size), strconv.Itoa(r.Rep),
			f(r.Rate), f(r.EnqRate), f(r.DeqRate), strconv.FormatBool(r.Drained), p50, p99, p999,
			strconv.Itoa(len(r.Latency)), rp.Baseline, rel, strconv.FormatBool(r.Failed), r.Check}
		row = append(row, costCSV(r.Cost)...)
		cw.Write(row)
	}
	cw.Flush()
	return cw.Error()
}

// costHeads are the per-message cost columns, in the order of costCells.
var costHeads = []string{"Go entries/msg", "fdatasyncs/msg", "CPU µs/msg", "ctx switches/msg"}

// medianCosts is the median of each figure over the repetitions that
// measured it, and the messages of all of them; nil if none has costs.
func medianCosts(cs []costs) *costs {
	if len(cs) == 0 {
		return nil
	}
	out := noCosts()
	pick := func(get func(costs) float64) float64 {
		var v []float64
		for _, c := range cs {
			if x := get(c); !math.IsNaN(x) {
				v = append(v, x)
			}
		}
		if len(v) == 0 {
			return math.NaN()
		}
		return median(v)
	}
	for _, c := range cs {
		out.Msgs += c.Msgs
	}
	out.GoEntries = pick(func(c costs) float64 { return c.GoEntries })
	out.Syncs = pick(func(c costs) float64 { return c.Syncs })
	out.CPUMicros = pick(func(c costs) float64 { return c.CPUMicros })
	out.CtxSw = pick(func(c costs) float64 { return c.CtxSw })
	out.InnoFsyncs = pick(func(c costs) float64 { return c.InnoFsyncs })
	out.BinlogGC = pick(func(c costs) float64 { return c.BinlogGC })
	out.Prepares = pick(func(c costs) float64 { return c.Prepares })
	return &out
}

// costFigures formats the four figures; NaN (not measured) as na.
func costFigures(c *costs, na string) []string {
	if c == nil {
		return []string{na, na, na, na}
	}
	f := func(v float64, prec int) string {
		if math.IsNaN(v) {
			return na
		}
		return strconv.FormatFloat(v, 'f', prec, 64)
	}
	cpuPrec := 0
	if c.CPUMicros < 10 {
		cpuPrec = 1
	}
	return []string{f(c.GoEntries, 2), f(c.Syncs, 3), f(c.CPUMicros, cpuPrec), f(c.CtxSw, 2)}
}

// costCells is the cost columns of a Markdown row ("—" for a system
// outside the MariaDB server, "n/a" for a figure not measured).
func costCells(c *costs) string {
	if c == nil {
		return "— | — | — | —"
	}
	return strings.Join(costFigures(c, "n/a"), " | ")
}

// costCSV is the cost columns of a CSV row, empty when not measured.
func costCSV(c *costs) []string {
	if c == nil {
		return []string{"", "", "", "", "", "", "", ""}
	}
	out := append([]string{strconv.FormatInt(c.Msgs, 10)}, costFigures(c, "")...)
	return append(out, statusFigures(c, "")...)
}

// statusFigures formats the server-wide status counters per message:
// InnoDB fsyncs, binlog group commits, two-phase-commit prepares.
func statusFigures(c *costs, na string) []string {
	f := func(v float64) string {
		if math.IsNaN(v) {
			return na
		}
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
	return []string{f(c.InnoFsyncs), f(c.BinlogGC), f(c.Prepares)}
}

// costTable lists the per-message costs of a throughput section's steps
// on the MariaDB server, one row per system and connection count; nothing
// if no step of the section has them.
func costTable(w io.Writer, cells map[cellKey]*cell, systems []string, sc string, conns []int, size int) {
	var rows []string
	for _, sys := range systems {
		for _, c := range conns {
			cl := cells[cellKey{sc, sys, c, size}]
			if cl == nil || cl.Cost == nil {
				continue
			}
			rows = append(rows, fmt.Sprintf("| %s | %d | %s | %d |", sys, c, costCells(cl.Cost), cl.Cost.Msgs))
		}
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "Per message on the MariaDB server, in the measured window (n/a: not reported):\n\n")
	fmt.Fprintf(w, "| system | conn | %s | messages |\n|---|---:|%s---:|\n", strings.Join(costHeads, " | "), strings.Repeat("---:|", len(costHeads)))
	fmt.Fprintln(w, strings.Join(rows, "\n"))
	fmt.Fprintln(w)
}

// txTable renders an outbox or txconsume section: per system and
// connection count the rate (transactions/s: one message each), the ratios
// to the baselines of the same run, and the durability work per
// transaction on the server.
func txTable(w io.Writer, cells map[cellKey]*cell, systems []string, sc string, conns []int, size int, baselines []string) {
	fmt.Fprintf(w, "| system | conn | per s |")
	for _, b := range baselines {
		fmt.Fprintf(w, " vs %s |", b)
	}
	fmt.Fprintf(w, " fsyncs/tx | InnoDB fsyncs/tx | queue fdatasyncs/tx | binlog group commits/tx | 2PC prepares/tx | CPU µs/tx | ctx switches/tx | delivery |\n|---|---:|---:|")
	fmt.Fprintf(w, "%s", strings.Repeat("---:|", len(baselines)+7))
	fmt.Fprintf(w, "---|\n")
	for _, sys := range systems {
		for _, c := range conns {
			cl := cells[cellKey{sc, sys, c, size}]
			if cl == nil {
				continue
			}
			txt := fmtRate(cl.Rate)
			if cl.Drained {
				txt += "*"
			}
			row := fmt.Sprintf("| %s | %d | %s |", sys, c, txt)
			for _, b := range baselines {
				r := ""
				if base := cells[cellKey{sc, b, c, size}]; base != nil && b != sys {
					r = ratio(cl.Rate, base.Rate)
				}
				row += " " + r + " |"
			}
			f := func(v float64, prec int) string {
				if math.IsNaN(v) {
					return "n/a"
				}
				return strconv.FormatFloat(v, 'f', prec, 64)
			}
			if k := cl.Cost; k != nil {
				row += fmt.Sprintf(" %s | %s | %s | %s | %s | %s | %s |", f(totalFsyncs(k), 2), f(k.InnoFsyncs, 2), f(k.Syncs, 2),
					f(k.BinlogGC, 2), f(k.Prepares, 2), f(k.CPUMicros, 0), f(k.CtxSw, 1))
			} else {
				row += strings.Repeat(" n/a |", 7)
			}
			row += " " + shortCheck(cl) + " |"
			fmt.Fprintln(w, row)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "fsyncs/tx = InnoDB fsyncs (redo log and data files, `Innodb_data_fsyncs`) + queue fdatasyncs (`sys_sync`); "+
		"with `sync_binlog=1` each binlog group commit adds one more. Per transaction of the measured window, whole server.\n\n")
}

// totalFsyncs is InnoDB's fsyncs plus the queue tables' fdatasyncs per
// message (the latter 0 when not read: a system that does not touch a
// queue table).
func totalFsyncs(c *costs) float64 {
	t := c.InnoFsyncs
	if !math.IsNaN(c.Syncs) {
		t += c.Syncs
	}
	return t
}
