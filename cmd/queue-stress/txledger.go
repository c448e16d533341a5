package main

import (
	"fmt"
	"sort"
	"sync"
)

// txLedger is the record of a -txn run: producers insert inside
// transactions that commit or roll back, consumers consume inside
// transactions that commit or roll back. mu guards every field.
//
// The states of a message id, as the producer tells them:
//
//	pending    inserted in an open transaction (COMMIT not yet sent)
//	committing COMMIT (or XA COMMIT) sent, no answer yet
//	committed  COMMIT returned success (or an autocommit INSERT did)
//	rolledBack ROLLBACK, ROLLBACK TO SAVEPOINT or XA ROLLBACK undid it
//
// What consumers report: a delivery (the owner's SELECT showed the id) in
// a transaction, then that transaction's outcome: each removal it made
// (queue_wait of the next row, queue_end, the owner's DELETE) counts as a
// committed consume if it committed and as a returned row if it rolled
// back.
type txLedger struct {
	mu         sync.Mutex
	state      map[int64]txState
	delivered  map[int64]int // deliveries, committed or not
	consumed   map[int64]int // removals whose transaction committed
	returned   map[int64]int // removals (or ownerships) whose transaction rolled back
	dirty      []int64       // delivered while still pending: an uncommitted insert was visible
	undone     []int64       // delivered although its insert was rolled back
	afterTaken []int64       // delivered again after a committed consume
	unknown    []int64       // delivered but never inserted
}

type txState int

const (
	txNone txState = iota
	txPending
	txCommitting
	txCommitted
	txRolledBack
)

func newTxLedger() *txLedger {
	return &txLedger{state: map[int64]txState{}, delivered: map[int64]int{}, consumed: map[int64]int{},
		returned: map[int64]int{}}
}

func (l *txLedger) set(s txState, ids ...int64) {
	l.mu.Lock()
	for _, id := range ids {
		l.state[id] = s
	}
	l.mu.Unlock()
}

// deliver records that a consumer's owner-mode SELECT showed id.
func (l *txLedger) deliver(id int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.delivered[id]++
	switch l.state[id] {
	case txNone:
		l.unknown = append(l.unknown, id)
	case txPending:
		l.dirty = append(l.dirty, id)
	case txRolledBack:
		l.undone = append(l.undone, id)
	}
	if l.consumed[id] > 0 {
		l.afterTaken = append(l.afterTaken, id)
	}
}

// commitConsume records the removals of a committed consumer transaction.
func (l *txLedger) commitConsume(ids ...int64) {
	l.mu.Lock()
	for _, id := range ids {
		l.consumed[id]++
	}
	l.mu.Unlock()
}

// rollbackConsume records rows a rolled-back consumer transaction removed
// or owned: they must come back.
func (l *txLedger) rollbackConsume(ids ...int64) {
	l.mu.Lock()
	for _, id := range ids {
		l.returned[id]++
	}
	l.mu.Unlock()
}

// missing is the number of committed messages without a committed consume.
func (l *txLedger) missing() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for id, s := range l.state {
		if s == txCommitted && l.consumed[id] == 0 {
			n++
		}
	}
	return n
}

// txReport is the outcome of the checks.
type txReport struct {
	Committed, RolledBack, Deliveries, Consumes, ConsumeRollbacks int
	Lost, Twice, Undone, Dirty, AfterTaken, Unknown, NotCommitted []int64
	ReturnedNotRedone                                             []int64
}

func (r txReport) String() string {
	return fmt.Sprintf("committed %d, rolled back %d, deliveries %d, committed consumes %d, rolled-back consumes %d; "+
		"lost %d, consumed twice %d, rolled-back delivered %d, uncommitted delivered %d, delivered after consume %d, "+
		"unknown %d, consumed but not committed %d, returned but not consumed later %d",
		r.Committed, r.RolledBack, r.Deliveries, r.Consumes, r.ConsumeRollbacks, len(r.Lost), len(r.Twice), len(r.Undone),
		len(r.Dirty), len(r.AfterTaken), len(r.Unknown), len(r.NotCommitted), len(r.ReturnedNotRedone))
}

func (l *txLedger) check() txReport {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := txReport{Undone: append([]int64(nil), l.undone...), Dirty: append([]int64(nil), l.dirty...),
		AfterTaken: append([]int64(nil), l.afterTaken...), Unknown: append([]int64(nil), l.unknown...)}
	for id, s := range l.state {
		switch s {
		case txCommitted:
			r.Committed++
			switch n := l.consumed[id]; {
			case n == 0:
				r.Lost = append(r.Lost, id)
			case n > 1:
				r.Twice = append(r.Twice, id)
			}
		case txRolledBack:
			r.RolledBack++
		}
	}
	for id, n := range l.consumed {
		r.Consumes += n
		if l.state[id] != txCommitted {
			r.NotCommitted = append(r.NotCommitted, id)
		}
	}
	for id, n := range l.returned {
		r.ConsumeRollbacks += n
		if l.state[id] == txCommitted && l.consumed[id] == 0 {
			r.ReturnedNotRedone = append(r.ReturnedNotRedone, id)
		}
	}
	for _, n := range l.delivered {
		r.Deliveries += n
	}
	for _, s := range [][]int64{r.Lost, r.Twice, r.Undone, r.Dirty, r.AfterTaken, r.Unknown, r.NotCommitted, r.ReturnedNotRedone} {
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	}
	return r
}

// ok is the guarantee of transactional enqueue and consume without a
// crash: every committed message is consumed exactly once by a committed
// consume; nothing rolled back, uncommitted or unknown is ever delivered;
// nothing is delivered after its committed consume; a row whose consume
// rolled back is consumed later.
func (r txReport) ok() error {
	if len(r.Lost)+len(r.Twice)+len(r.Undone)+len(r.Dirty)+len(r.AfterTaken)+len(r.Unknown)+
		len(r.NotCommitted)+len(r.ReturnedNotRedone) > 0 {
		first := func(s []int64) []int64 { return s[:min(len(s), 5)] }
		return fmt.Errorf("transactional guarantees violated: %s (lost e.g. %v, twice e.g. %v, rolled-back delivered e.g. %v, "+
			"uncommitted delivered e.g. %v, after consume e.g. %v)", r, first(r.Lost), first(r.Twice), first(r.Undone),
			first(r.Dirty), first(r.AfterTaken))
	}
	return nil
}
