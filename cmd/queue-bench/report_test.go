package main

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
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
