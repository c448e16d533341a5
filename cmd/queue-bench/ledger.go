package main

import (
	"fmt"
	"slices"
	"strings"
)

// ledger is one worker's record of the message ids it handled. Each worker
// owns its ledger (no lock); the step merges them after all workers stopped.
type ledger struct {
	ids []uint64
}

func (l *ledger) add(id uint64) { l.ids = append(l.ids, id) }

// deliveryCheck compares what was put into a queue with what came out.
//
// Invariant checked: every id in expected appears exactly once in
// consumed+remaining, and nothing else appears there. A message that is in
// neither was lost; one that is in both, or twice in either, was duplicated;
// one that was never produced is foreign (a leftover or a corrupted payload).
type deliveryCheck struct {
	Expected  int // messages acknowledged to producers (or pre-filled)
	Consumed  int
	Remaining int
	Lost      int
	Duplicate int
	Foreign   int
	Examples  []string // a few offending ids, for the report
}

// OK reports whether every message was delivered exactly once.
func (c deliveryCheck) OK() bool { return c.Lost == 0 && c.Duplicate == 0 && c.Foreign == 0 }

func (c deliveryCheck) String() string {
	if c.OK() {
		return fmt.Sprintf("ok (%d produced = %d consumed + %d remaining)", c.Expected, c.Consumed, c.Remaining)
	}
	return fmt.Sprintf("FAIL: %d lost, %d duplicated, %d foreign of %d produced (%d consumed, %d remaining; e.g. %s)",
		c.Lost, c.Duplicate, c.Foreign, c.Expected, c.Consumed, c.Remaining, strings.Join(c.Examples, ", "))
}

// checkDelivery merges the ledgers and computes the check. It sorts its
// inputs' copies, so it is O(n log n) in the number of messages.
func checkDelivery(expected, consumed []uint64, remaining []uint64) deliveryCheck {
	c := deliveryCheck{Expected: len(expected), Consumed: len(consumed), Remaining: len(remaining)}
	want := slices.Clone(expected)
	slices.Sort(want)
	got := make([]uint64, 0, len(consumed)+len(remaining))
	got = append(got, consumed...)
	got = append(got, remaining...)
	slices.Sort(got)

	note := func(kind string, id uint64) {
		if len(c.Examples) < 5 {
			c.Examples = append(c.Examples, fmt.Sprintf("%s %d", kind, id))
		}
	}
	// Duplicates among the expected ids themselves would be a harness bug;
	// count them as duplicates so they cannot hide.
	i, j := 0, 0
	for i < len(want) || j < len(got) {
		switch {
		case j >= len(got) || (i < len(want) && want[i] < got[j]):
			c.Lost++
			note("lost", want[i])
			i++
		case i >= len(want) || got[j] < want[i]:
			c.Foreign++
			note("foreign", got[j])
			j++
		default: // want[i] == got[j]
			id := want[i]
			i++
			j++
			for j < len(got) && got[j] == id {
				c.Duplicate++
				note("duplicate", id)
				j++
			}
			for i < len(want) && want[i] == id {
				c.Duplicate++
				note("duplicate-produced", id)
				i++
			}
		}
	}
	return c
}

// mergeLedgers concatenates the ids of several workers.
func mergeLedgers(ls []*ledger) []uint64 {
	n := 0
	for _, l := range ls {
		n += len(l.ids)
	}
	out := make([]uint64, 0, n)
	for _, l := range ls {
		out = append(out, l.ids...)
	}
	return out
}
