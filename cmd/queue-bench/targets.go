package main

import (
	"fmt"
	"io"
	"math"
	"time"
)

// The project's targets for this engine (docs/BENCHMARKS.md). They are
// reported, never asserted: the report says for each one where the engine
// stands on this run.
const targetSize = 100

// target is one line of the targets table: a measured figure against the
// wanted bound. For ratios and counts "met" means measured >= want, for
// times and per-message costs (atMost) measured <= want.
type target struct {
	what     string
	measured float64 // NaN or <0 when it could not be computed
	want     float64
	atMost   bool
	unit     string // "×" for ratios, else the unit printed after the number
	note     string
}

func (rp *report) targets(w io.Writer, cells map[cellKey]*cell) {
	rate := func(sc, sys string, conns int) float64 {
		if c := cells[cellKey{sc, sys, conns, targetSize}]; c != nil && !c.Failed {
			return c.Rate
		}
		return -1
	}
	cost := func(sc, sys string, conns int) *costs {
		if c := cells[cellKey{sc, sys, conns, targetSize}]; c != nil && !c.Failed {
			return c.Cost
		}
		return nil
	}
	innodb := func(sc string, c int) float64 { return max(rate(sc, "innodb-rr", c), rate(sc, "innodb-rc", c)) }
	div := func(a, b float64) float64 {
		if a <= 0 || b <= 0 {
			return -1
		}
		return a / b
	}
	ratio := func(what string, m, want float64) target {
		return target{what: what, measured: m, want: want, unit: "×"}
	}
	var ts []target

	// Consume: the two-statement loop against the SQL layer's bound (the
	// SELECT 1 rate divided by the statements per message) and the peers;
	// the one-statement form against one SELECT 1 and Redis BRPOP.
	for _, c := range []int{16, 64} {
		sel1 := rate(scConsume, "blackhole", c)
		q := rate(scConsume, "queue", c)
		q1 := rate(scConsume, "queue-1stmt", c)
		ts = append(ts,
			ratio(fmt.Sprintf("consume, %d conn: queue / (SELECT 1 rate ÷ 2 statements)", c), div(q, sel1/2), 0.8),
			ratio(fmt.Sprintf("consume, %d conn: queue-1stmt / SELECT 1 rate", c), div(q1, sel1), 0.8),
			ratio(fmt.Sprintf("consume, %d conn: best queue form / PostgreSQL SKIP LOCKED", c), div(max(q, q1), rate(scConsume, "postgres", c)), 2.5),
			ratio(fmt.Sprintf("consume, %d conn: best queue form / best InnoDB SKIP LOCKED", c), div(max(q, q1), innodb(scConsume, c)), 10),
			ratio(fmt.Sprintf("consume, %d conn: queue-1stmt / Redis BRPOP", c), div(q1, rate(scConsume, "redis", c)), 0.8),
		)
	}
	ts = append(ts,
		ratio("consume, 1 conn: best queue form / PostgreSQL", div(max(rate(scConsume, "queue", 1), rate(scConsume, "queue-1stmt", 1)), rate(scConsume, "postgres", 1)), 1),
		ratio("mixed, 64 conn: best queue form / PostgreSQL", div(max(rate(scMixed, "queue", 64), rate(scMixed, "queue-1stmt", 64)), rate(scMixed, "postgres", 64)), 2),
		ratio("mixed, 64 conn: best queue form / Redis", div(max(rate(scMixed, "queue", 64), rate(scMixed, "queue-1stmt", 64)), rate(scMixed, "redis", 64)), 0.8),
		ratio("enqueue, 64 conn: queue / BLACKHOLE INSERT", div(rate(scEnqueue, "queue", 64), rate(scEnqueue, "blackhole", 64)), 0.9),
		ratio("enqueue, 1 conn: queue / best InnoDB", div(rate(scEnqueue, "queue", 1), innodb(scEnqueue, 1)), 1),
	)

	// Transactions: a queue table as the outbox against an InnoDB outbox
	// table, and exactly-once processing against autocommit processing.
	for _, c := range []int{16, 64} {
		q := rate(scOutbox, "queue-outbox", c)
		ts = append(ts,
			ratio(fmt.Sprintf("outbox, %d conn: queue-outbox / innodb-outbox", c), div(q, rate(scOutbox, "innodb-outbox", c)), 1),
			ratio(fmt.Sprintf("outbox, %d conn: queue-outbox / innodb-alone", c), div(q, rate(scOutbox, "innodb-alone", c)), 0.8),
		)
	}
	ts = append(ts, ratio("txconsume, 16 conn: queue-tx-consume / queue-ac-consume", div(rate(scTxConsume, "queue-tx-consume", 16), rate(scTxConsume, "queue-ac-consume", 16)), 1))

	// Delivery latency.
	var p50, p99 time.Duration = -1, -1
	if c := cells[cellKey{scLatency, "queue", rp.Latency.Consumers + 1, targetSize}]; c != nil && len(c.Latency) > 0 {
		p50, p99 = percentile(c.Latency, 50), percentile(c.Latency, 99)
	}
	bound := rp.Machine.FsyncP50 + 200*time.Microsecond
	ts = append(ts,
		target{what: fmt.Sprintf("delivery latency p50 ≤ fdatasync p50 + 0.2 ms = %.3f ms", ms(bound)), measured: msOrNeg(p50), want: ms(bound), atMost: true, unit: " ms"},
		target{what: "delivery latency p99", measured: msOrNeg(p99), want: 2, atMost: true, unit: " ms"},
	)

	// Per consumed message at 16 consumers, for both consume forms.
	for _, sys := range []string{"queue", "queue-1stmt"} {
		c := cost(scConsume, sys, 16)
		cs, cpu, perSync := math.NaN(), math.NaN(), math.NaN()
		if c != nil {
			cs, cpu = c.CtxSw, c.CPUMicros
			if c.Syncs > 0 {
				perSync = 1 / c.Syncs
			}
		}
		ts = append(ts,
			target{what: "consume, 16 conn, " + sys + ": context switches per message", measured: cs, want: 2, atMost: true},
			target{what: "consume, 16 conn, " + sys + ": mariadbd CPU µs per message", measured: cpu, want: 60, atMost: true, unit: " µs"},
			target{what: "consume, 16 conn, " + sys + ": removals per fdatasync", measured: perSync, want: 10},
		)
	}

	fmt.Fprintf(w, "## Targets (%s messages; reported, not asserted)\n\n", sizeName(targetSize))
	fmt.Fprintf(w, "| target | measured | wanted | met |\n|---|---:|---:|---|\n")
	for _, t := range ts {
		m, met := "not measured", "—"
		if t.measured >= 0 && !math.IsNaN(t.measured) {
			m = fmt.Sprintf("%.2f%s", t.measured, t.unit)
			ok := t.measured >= t.want
			if t.atMost {
				ok = t.measured <= t.want
			}
			met = map[bool]string{true: "yes", false: "no"}[ok]
		}
		if t.note != "" {
			m += " (" + t.note + ")"
		}
		rel := "≥"
		if t.atMost {
			rel = "≤"
		}
		fmt.Fprintf(w, "| %s | %s | %s %.2f%s | %s |\n", t.what, m, rel, t.want, t.unit, met)
	}
	fmt.Fprintln(w)
}

// msOrNeg is d in milliseconds, or -1 for a duration not measured.
func msOrNeg(d time.Duration) float64 {
	if d < 0 {
		return -1
	}
	return ms(d)
}
