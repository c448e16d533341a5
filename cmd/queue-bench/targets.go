package main

import (
	"fmt"
	"io"
	"time"
)

// The project's targets for this engine (docs/BENCHMARKS.md). They are
// reported, never asserted: the report says for each one where the engine
// stands on this run.
const targetSize = 100

type target struct {
	what     string
	measured float64 // ratio achieved; <0 when it could not be computed
	want     float64
	note     string
}

func (rp *report) targets(w io.Writer, cells map[cellKey]*cell) {
	rate := func(sc, sys string, conns int) float64 {
		if c := cells[cellKey{sc, sys, conns, targetSize}]; c != nil && !c.Failed {
			return c.Rate
		}
		return -1
	}
	best := func(a, b float64) float64 { return max(a, b) }
	div := func(a, b float64) float64 {
		if a <= 0 || b <= 0 {
			return -1
		}
		return a / b
	}
	var ts []target
	for _, c := range []int{64} {
		q := rate(scEnqueue, "queue", c)
		ts = append(ts,
			target{fmt.Sprintf("enqueue, %d conn: queue / BLACKHOLE INSERT", c), div(q, rate(scEnqueue, "blackhole", c)), 0.9, ""},
			target{fmt.Sprintf("enqueue, %d conn: queue / best InnoDB", c), div(q, best(rate(scEnqueue, "innodb-rr", c), rate(scEnqueue, "innodb-rc", c))), 2.5, ""},
			target{fmt.Sprintf("enqueue, %d conn: queue / PostgreSQL", c), div(q, rate(scEnqueue, "postgres", c)), 2.5, ""},
			target{fmt.Sprintf("enqueue, %d conn: queue / Redis LPUSH", c), div(q, rate(scEnqueue, "redis", c)), 0.9, ""},
		)
	}
	for _, c := range []int{16, 64} {
		sel1 := rate(scConsume, "blackhole", c) // SELECT 1 per message
		q := rate(scConsume, "queue", c)
		q1 := rate(scConsume, "queue-1stmt", c)
		qm := rate(scConsume, "queue-multi", c)
		ts = append(ts,
			target{fmt.Sprintf("consume, %d conn: queue / (SELECT 1 rate ÷ 2 statements)", c), div(q, sel1/2), 0.8, ""},
			target{fmt.Sprintf("consume, %d conn: queue / PostgreSQL SKIP LOCKED", c), div(q, rate(scConsume, "postgres", c)), 4, ""},
			target{fmt.Sprintf("consume, %d conn: queue / best InnoDB SKIP LOCKED", c), div(q, best(rate(scConsume, "innodb-rr", c), rate(scConsume, "innodb-rc", c))), 10, ""},
			target{fmt.Sprintf("consume, %d conn: queue (2 statements) / Redis BRPOP", c), div(q, rate(scConsume, "redis", c)), 0.5, ""},
			target{fmt.Sprintf("consume, %d conn: queue-multi / (SELECT 1 rate ÷ 2 statements)", c), div(qm, sel1/2), 0.8, ""},
			target{fmt.Sprintf("consume, %d conn: queue-multi / Redis BRPOP", c), div(qm, rate(scConsume, "redis", c)), 0.5, ""},
			target{fmt.Sprintf("consume, %d conn: queue-1stmt / SELECT 1 rate", c), div(q1, sel1), 0.8, ""},
			target{fmt.Sprintf("consume, %d conn: queue-1stmt / Redis BRPOP", c), div(q1, rate(scConsume, "redis", c)), 0.8, ""},
		)
	}
	// Latency: p50 at most one fdatasync + 0.5 ms.
	var p50 time.Duration = -1
	if c := cells[cellKey{scLatency, "queue", rp.Latency.Consumers + 1, targetSize}]; c != nil && len(c.Latency) > 0 {
		p50 = percentile(c.Latency, 50)
	}
	bound := rp.Machine.FsyncP50 + 500*time.Microsecond
	lat := target{what: fmt.Sprintf("latency p50 ≤ fdatasync p50 + 0.5 ms = %.3f ms", ms(bound)), measured: -1, want: 1}
	if p50 >= 0 {
		lat.measured = float64(bound) / float64(p50)
		lat.note = fmt.Sprintf("p50 %.3f ms", ms(p50))
	}
	ts = append(ts, lat)

	fmt.Fprintf(w, "## Targets (%s messages; reported, not asserted)\n\n", sizeName(targetSize))
	fmt.Fprintf(w, "| target | measured | wanted | met |\n|---|---:|---:|---|\n")
	for _, t := range ts {
		m, met := "not measured", "—"
		if t.measured >= 0 {
			m = fmt.Sprintf("%.2f×", t.measured)
			met = "no"
			if t.measured >= t.want {
				met = "yes"
			}
		}
		if t.note != "" {
			m += " (" + t.note + ")"
		}
		fmt.Fprintf(w, "| %s | %s | ≥ %.2f× | %s |\n", t.what, m, t.want, met)
	}
	fmt.Fprintln(w)
}
