package main

import (
	"fmt"
	"sort"
	"sync"
)

// ledger records what producers sent and what consumers received, and
// checks the delivery guarantees at the end. mu guards every field.
type ledger struct {
	mu        sync.Mutex
	acked     map[int64]bool // INSERT returned success
	uncertain map[int64]bool // INSERT failed with a lost connection: may or may not exist
	delivered map[int64]int  // times a consumer read the row in owner mode
	consumed  map[int64]bool // its removal was acknowledged (the consumer's next statement succeeded)
	returned  []int64        // delivered again after its removal was acknowledged
}

func newLedger() *ledger {
	return &ledger{acked: map[int64]bool{}, uncertain: map[int64]bool{}, delivered: map[int64]int{},
		consumed: map[int64]bool{}}
}

func (l *ledger) ack(ids ...int64) {
	l.mu.Lock()
	for _, id := range ids {
		l.acked[id] = true
		delete(l.uncertain, id)
	}
	l.mu.Unlock()
}

func (l *ledger) maybe(ids ...int64) {
	l.mu.Lock()
	for _, id := range ids {
		if !l.acked[id] {
			l.uncertain[id] = true
		}
	}
	l.mu.Unlock()
}

func (l *ledger) deliver(id int64) {
	l.mu.Lock()
	l.delivered[id]++
	if l.consumed[id] {
		l.returned = append(l.returned, id)
	}
	l.mu.Unlock()
}

// consume records that the removal of a delivered row was acknowledged: the
// statement that consumed it (the consumer's next queue_wait, or
// queue_end) returned success. Such a row must never be delivered again,
// crash or not.
func (l *ledger) consume(id int64) {
	l.mu.Lock()
	l.consumed[id] = true
	l.mu.Unlock()
}

// missing is the number of acknowledged messages not delivered yet.
func (l *ledger) missing() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for id := range l.acked {
		if l.delivered[id] == 0 {
			n++
		}
	}
	return n
}

// report is the outcome of a check.
type report struct {
	Acked, Uncertain, Delivered, Distinct int
	Lost, Duplicated, Phantom             []int64
	Returned                              []int64 // acknowledged removals that came back
}

func (r report) String() string {
	return fmt.Sprintf("acked %d, uncertain %d, deliveries %d (distinct %d), lost %d, duplicated %d, phantom %d, removals back %d",
		r.Acked, r.Uncertain, r.Delivered, r.Distinct, len(r.Lost), len(r.Duplicated), len(r.Phantom), len(r.Returned))
}

// check compares sends and deliveries. Lost: acknowledged but never
// delivered. Duplicated: delivered more than once. Phantom: delivered but
// never sent.
func (l *ledger) check() report {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := report{Acked: len(l.acked), Uncertain: len(l.uncertain), Distinct: len(l.delivered),
		Returned: append([]int64(nil), l.returned...)}
	for id, n := range l.delivered {
		r.Delivered += n
		if n > 1 {
			r.Duplicated = append(r.Duplicated, id)
		}
		if !l.acked[id] && !l.uncertain[id] {
			r.Phantom = append(r.Phantom, id)
		}
	}
	for id := range l.acked {
		if l.delivered[id] == 0 {
			r.Lost = append(r.Lost, id)
		}
	}
	for _, s := range [][]int64{r.Lost, r.Duplicated, r.Phantom, r.Returned} {
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	}
	return r
}

// exactlyOnce is the guarantee when nothing crashes: every message sent is
// acknowledged and delivered exactly once.
func (r report) exactlyOnce() error {
	if r.Uncertain > 0 || len(r.Lost) > 0 || len(r.Duplicated) > 0 || len(r.Phantom) > 0 || len(r.Returned) > 0 {
		return fmt.Errorf("exactly-once violated: %s%s", r, r.samples())
	}
	return nil
}

// atLeastOnce is the guarantee across a server crash: no acknowledged
// message is lost, nothing appears that was never sent, and no row whose
// removal was acknowledged comes back; redelivery of rows owned at the
// crash is allowed.
func (r report) atLeastOnce() error {
	if len(r.Lost) > 0 || len(r.Phantom) > 0 || len(r.Returned) > 0 {
		return fmt.Errorf("at-least-once violated: %s%s", r, r.samples())
	}
	return nil
}

func (r report) samples() string {
	first := func(s []int64) []int64 {
		if len(s) > 5 {
			return s[:5]
		}
		return s
	}
	return fmt.Sprintf(" (lost e.g. %v, duplicated e.g. %v, phantom e.g. %v, removals back e.g. %v)",
		first(r.Lost), first(r.Duplicated), first(r.Phantom), first(r.Returned))
}
