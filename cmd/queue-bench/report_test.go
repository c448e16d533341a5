package main

import (
	"bytes"
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPercentileNearestRank(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 1000; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	require.Equal(t, 500*time.Millisecond, percentile(d, 50))
	require.Equal(t, 990*time.Millisecond, percentile(d, 99))
	require.Equal(t, 999*time.Millisecond, percentile(d, 99.9))
	require.Equal(t, 3*time.Millisecond, percentile(d[:3], 99.9), "few samples: p99.9 is the maximum")
	require.Equal(t, time.Duration(-1), percentile(nil, 50))
}

func TestMedian(t *testing.T) {
	require.Equal(t, 2.0, median([]float64{3, 1, 2}))
	require.Equal(t, 2.5, median([]float64{4, 1, 2, 3}))
	require.Zero(t, median(nil))
}

func sampleReport() *report {
	lat := []time.Duration{time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond}
	return &report{
		Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Mode: "smoke", Baseline: "queue", Repeat: 1,
		Latency: latencyPlan{Samples: 3, Consumers: 1}, Prefill: map[int]int{100: 10},
		Systems: []systemInfo{{Name: "queue", Settings: "s"}, {Name: "redis", Settings: "r"}, {Name: "postgres", Why: "down"}},
		Results: []Result{
			{Scenario: scEnqueue, System: "queue", Conns: 1, Size: 100, Rate: 1000, Check: "ok"},
			{Scenario: scEnqueue, System: "redis", Conns: 1, Size: 100, Rate: 500, Check: "ok"},
			{Scenario: scEnqueue, System: "queue", Conns: 4, Size: 100, Rate: 4000, Check: "ok"},
			{Scenario: scEnqueue, System: "redis", Conns: 4, Size: 100, Rate: 1000, Failed: true, Check: "FAIL: 1 lost"},
			{Scenario: scLatency, System: "queue", Conns: 2, Size: 100, Latency: lat, Check: "ok"},
			{Scenario: scLatency, System: "redis", Conns: 2, Size: 100, Latency: lat[1:], Check: "ok"},
		},
	}
}

func TestMarkdownShowsRatiosFailuresAndUnavailable(t *testing.T) {
	var b bytes.Buffer
	sampleReport().writeMarkdown(&b)
	md := b.String()
	require.Contains(t, md, "| redis | 500 (0.50×) | 1.00k (0.25×) FAIL | **FAIL** |")
	require.Contains(t, md, "| queue | 1.00k | 4.00k | ok |")
	require.Contains(t, md, "**postgres**: not available — down")
	require.Contains(t, md, "enqueue redis, 4 conn, 100 B: FAIL: 1 lost")
	require.Contains(t, md, "| redis | 2.000 | 3.000 | 3.000 | 2 | 1.00× | ok |") // nearest rank: p50 of {2,3} ms is 2
}

func TestCSVHasOneRowPerStepWithRatio(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, sampleReport().writeCSV(&b))
	rows, err := csv.NewReader(&b).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 7)
	head := rows[0]
	col := func(name string) int {
		for i, h := range head {
			if h == name {
				return i
			}
		}
		t.Fatalf("no column %s", name)
		return -1
	}
	require.Equal(t, "redis", rows[2][col("system")])
	require.Equal(t, "0.50", rows[2][col("ratio_vs_baseline")])
	require.Equal(t, "true", rows[4][col("failed")])
	require.Equal(t, "2.000", rows[5][col("p50_ms")])
}

func TestChartsAreWritten(t *testing.T) {
	dir := t.TempDir()
	files, err := sampleReport().writeCharts(dir)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{
		filepath.Join(dir, "throughput_enqueue_100.png"), filepath.Join(dir, "latency_cdf_100.png"),
	}, files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		require.True(t, bytes.HasPrefix(b, []byte("\x89PNG")), f)
	}
}

func TestMakePlanRejectsUnknownNames(t *testing.T) {
	o := withDefaults(options{warmup: -1, duration: -1}, modes["quick"])
	o.systems = "queue,mongodb"
	_, err := makePlan(o)
	require.ErrorContains(t, err, "mongodb")
	o.systems = "queue"
	o.conns = "0"
	_, err = makePlan(o)
	require.Error(t, err)
	o.conns = "1,64"
	p, err := makePlan(o)
	require.NoError(t, err)
	require.Equal(t, []int{1, 64}, p.conns)
	require.Equal(t, 50000, p.prefill[100])
}

// costReport is sampleReport with server costs: two repetitions of the
// queue's enqueue (one from an engine without the counters) and InnoDB
// with CPU and switches only.
func costReport() *report {
	rp := sampleReport()
	nan := math.NaN()
	rp.Results = append(rp.Results,
		Result{Scenario: scConsume, System: "queue", Conns: 1, Size: 100, Rate: 900, Check: "ok",
			Cost: &costs{Msgs: 1000, GoEntries: 3, Syncs: 0.25, CPUMicros: 180, CtxSw: 4.5}},
		Result{Scenario: scConsume, System: "queue", Conns: 1, Size: 100, Rep: 1, Rate: 1100, Check: "ok",
			Cost: &costs{Msgs: 1200, GoEntries: nan, Syncs: nan, CPUMicros: 220, CtxSw: 5.5}},
		Result{Scenario: scConsume, System: "innodb-rc", Conns: 1, Size: 100, Rate: 300, Check: "ok",
			Cost: &costs{Msgs: 600, GoEntries: nan, Syncs: nan, CPUMicros: 7.25, CtxSw: 12}},
		Result{Scenario: scConsume, System: "redis", Conns: 1, Size: 100, Rate: 2000, Check: "ok"},
	)
	rp.Results[4].Cost = &costs{Msgs: 3, GoEntries: 7, Syncs: 1, CPUMicros: 950, CtxSw: 20}
	rp.CostNote = "mariadbd at 127.0.0.1:3307 is process 42"
	return rp
}

func TestMarkdownShowsCostsPerMessage(t *testing.T) {
	var b bytes.Buffer
	costReport().writeMarkdown(&b)
	md := b.String()
	require.Contains(t, md, "| system | conn | Go entries/msg | fdatasyncs/msg | CPU µs/msg | ctx switches/msg | messages |")
	// Medians over the repetitions that measured each figure.
	require.Contains(t, md, "| queue | 1 | 3.00 | 0.250 | 200 | 5.00 | 2200 |")
	require.Contains(t, md, "| innodb-rc | 1 | n/a | n/a | 7.2 | 12.00 | 600 |")
	require.NotContains(t, md, "| redis | 1 | ", "systems outside the server have no cost row")
	// Latency: the columns follow the delivery column.
	require.Contains(t, md, "| queue | 2.000 | 3.000 | 3.000 | 3 |  | ok | 7.00 | 1.000 | 950 | 20.00 |")
	require.Contains(t, md, "| redis | 2.000 | 3.000 | 3.000 | 2 | 1.00× | ok | — | — | — | — |")
	require.Contains(t, md, "is process 42")
	// The enqueue section has no costs: no cost table there.
	enq := md[strings.Index(md, "## Enqueue only"):strings.Index(md, "## Consume only")]
	require.NotContains(t, enq, "Per message")
}

func TestCSVHasCostColumns(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, costReport().writeCSV(&b))
	rows, err := csv.NewReader(&b).ReadAll()
	require.NoError(t, err)
	head := rows[0]
	get := func(row []string, name string) string {
		i := slices.Index(head, name)
		require.GreaterOrEqual(t, i, 0, name)
		return row[i]
	}
	q := rows[7] // first consume repetition of queue
	require.Equal(t, "consume", get(q, "scenario"))
	require.Equal(t, "1000", get(q, "cost_msgs"))
	require.Equal(t, "3.00", get(q, "go_entries_per_msg"))
	require.Equal(t, "0.250", get(q, "fdatasyncs_per_msg"))
	require.Equal(t, "180", get(q, "cpu_us_per_msg"))
	require.Equal(t, "4.50", get(q, "ctxsw_per_msg"))
	require.Equal(t, "", get(rows[8], "go_entries_per_msg"), "not reported: empty")
	require.Equal(t, "220", get(rows[8], "cpu_us_per_msg"))
	require.Equal(t, "", get(rows[10], "cost_msgs"), "redis: no costs")
	require.Equal(t, "", get(rows[1], "cpu_us_per_msg"))
}

// The targets table compares ratios (at least) and per-message costs and
// latencies (at most) with the wanted bounds, and says "not measured"
// where a system did not run.
func TestTargetsCompareInBothDirections(t *testing.T) {
	rp := &report{Latency: latencyPlan{Consumers: 1}}
	rp.Machine.FsyncP50 = 100 * time.Microsecond
	c16 := &costs{Msgs: 100, CtxSw: 1.5, CPUMicros: 90, Syncs: 0.05}
	cells := map[cellKey]*cell{
		{scConsume, "queue", 16, 100}:       {Rate: 9000, Cost: c16},
		{scConsume, "blackhole", 16, 100}:   {Rate: 20000},
		{scConsume, "postgres", 16, 100}:    {Rate: 3000},
		{scLatency, "queue", 2, 100}:        {Latency: []time.Duration{250 * time.Microsecond, 3 * time.Millisecond}},
		{scEnqueue, "queue", 64, 100}:       {Rate: 50},
		{scEnqueue, "blackhole", 64, 100}:   {Rate: 100},
		{scConsume, "queue-1stmt", 16, 100}: {Rate: 1, Failed: true},
	}
	var b bytes.Buffer
	rp.targets(&b, cells)
	md := b.String()
	require.Contains(t, md, "| consume, 16 conn: queue / (SELECT 1 rate ÷ 2 statements) | 0.90× | ≥ 0.80× | yes |")
	require.Contains(t, md, "| consume, 16 conn: best queue form / PostgreSQL SKIP LOCKED | 3.00× | ≥ 2.50× | yes |")
	require.Contains(t, md, "| enqueue, 64 conn: queue / BLACKHOLE INSERT | 0.50× | ≥ 0.90× | no |")
	require.Contains(t, md, "| consume, 16 conn, queue: context switches per message | 1.50 | ≤ 2.00 | yes |")
	require.Contains(t, md, "| consume, 16 conn, queue: mariadbd CPU µs per message | 90.00 µs | ≤ 60.00 µs | no |")
	require.Contains(t, md, "| consume, 16 conn, queue: removals per fdatasync | 20.00 | ≥ 10.00 | yes |")
	require.Contains(t, md, "| delivery latency p50 ≤ fdatasync p50 + 0.2 ms = 0.300 ms | 0.25 ms | ≤ 0.30 ms | yes |")
	require.Contains(t, md, "| delivery latency p99 | 3.00 ms | ≤ 2.00 ms | no |")
	require.Contains(t, md, "| consume, 16 conn: queue-1stmt / SELECT 1 rate | not measured | ≥ 0.80× | — |")
}

func TestOutboxSectionGivesRatiosToBothBaselinesAndFsyncs(t *testing.T) {
	k := noCosts()
	k.InnoFsyncs, k.Syncs, k.Prepares = 0.5, 0.25, 2
	rp := &report{Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Mode: "smoke", Baseline: "queue", Repeat: 1,
		Results: []Result{
			{Scenario: scOutbox, System: "innodb-alone", Conns: 16, Size: 100, Rate: 4000, Check: "ok"},
			{Scenario: scOutbox, System: "innodb-outbox", Conns: 16, Size: 100, Rate: 2000, Check: "ok"},
			{Scenario: scOutbox, System: "queue-outbox", Conns: 16, Size: 100, Rate: 3000, Check: "ok", Cost: &k},
			{Scenario: scTxConsume, System: "queue-tx-consume", Conns: 1, Size: 100, Rate: 600, Check: "ok"},
			{Scenario: scTxConsume, System: "queue-ac-consume", Conns: 1, Size: 100, Rate: 400, Failed: true, Check: "FAIL: x"},
		}}
	var b bytes.Buffer
	rp.writeMarkdown(&b)
	md := b.String()
	require.Contains(t, md, "| queue-outbox | 16 | 3.00k | 1.50× | 0.75× | 0.75 | 0.50 | 0.25 | n/a | 2.00 | n/a | n/a | ok |")
	require.Contains(t, md, "| innodb-outbox | 16 | 2.00k |  | 0.50× |")
	require.Contains(t, md, "| queue-tx-consume | 1 | 600 | 1.50× |")
	require.Contains(t, md, "| queue-ac-consume | 1 | 400 |  |")
	require.Contains(t, md, "| outbox, 16 conn: queue-outbox / innodb-outbox | 1.50× | ≥ 1.00× | yes |")
	require.Contains(t, md, "| outbox, 16 conn: queue-outbox / innodb-alone | 0.75× | ≥ 0.80× | no |")
	require.Contains(t, md, "txconsume queue-ac-consume, 1 conn, 100 B: FAIL: x")
}

func TestScenarioSystemsRunOnlyInTheirScenario(t *testing.T) {
	require.True(t, runsIn(&outboxSystem{}, scOutbox))
	require.False(t, runsIn(&outboxSystem{}, scEnqueue))
	require.True(t, runsIn(&txConsumeSystem{}, scTxConsume))
	require.False(t, runsIn(&txConsumeSystem{}, scConsume))
	require.True(t, runsIn(&queueSystem{}, scMixed))
	require.False(t, runsIn(&queueSystem{}, scOutbox))
}
