package core

import (
	"fmt"
	"sync"
)

// waitMu guards every table's waiter list and every Waiter's done/result.
// It is the first lock of the lock order (before any Table.mu), so a waker
// never holds one table's lock while taking another's (Q4M L9): it takes
// waitMu, then one table's mu at a time. Notify callbacks run after waitMu
// is released.
var waitMu sync.Mutex

// Waiter is a registered, pending queue_wait.
type Waiter struct {
	s      *Session
	specs  []Spec
	notify func()

	// guarded by waitMu
	done   bool
	result int
	// ended: the wait ended without a row because a table of the wait
	// was closed, dropped, truncated or renamed (cancelWaiters).
	ended bool

	// nmu serialises notify against Cancel: fire holds it while calling
	// notify and Cancel takes it after marking the waiter cancelled, so
	// once Cancel returns notify is neither running nor called later.
	nmu       sync.Mutex
	cancelled bool // guarded by nmu
	fired     bool // guarded by nmu
}

// Register is TryTake that, when no spec has a row, registers the session as
// a waiter on every spec's table, atomically with respect to commits and
// releases (no lost wake-up). If a row was taken at once, idx >= 0 and w is
// nil. Otherwise w is pending: when a matching row commits or is released,
// the oldest waiter whose filter matches (FIFO among waiters; each waiter's
// own spec order respected) gets the row assigned (the session owns it) and
// notify is called exactly once. notify is also called when a table of the
// waiter is closed/dropped/truncated.
//
// notify runs on the goroutine that handed the row over (the committer, or
// a connection releasing rows), or that closed the table, after the index
// and wait locks are released; so it must be quick, must not block and
// must not call core (it may take the caller's own mutex). It is never
// called after Cancel has returned: a Cancel that comes first suppresses it
// (Cancel then reports the assignment). The caller must not hold the mutex
// that notify takes while calling Cancel (Cancel waits for a notify in
// progress).
func (s *Session) Register(specs []Spec, notify func()) (idx int, w *Waiter, err error) {
	defer recoverError(&err)
	if notify == nil {
		return -1, nil, fmt.Errorf("%w: nil notify", ErrBadArgument)
	}
	if t, _ := s.Owned(); t != nil {
		return -1, nil, ErrOwning
	}
	// A take that finds a row needs no registration, so it runs without
	// waitMu: waitMu orders only the check that finds nothing against the
	// registration (below). Consumers of a busy table then share only the
	// table's lock.
	if idx, err = s.tryTake(specs); err != nil || idx >= 0 {
		return idx, nil, err
	}
	waitMu.Lock()
	defer waitMu.Unlock()
	// Under waitMu no waker can run between this check and the
	// registration below: a row committed after the check is handed to us
	// by the waker that runs after the commit. The waiter is counted in
	// nwaiters before the check, so that waker cannot skip the table as
	// having no waiters: it waits for waitMu instead.
	announce(specs, 1)
	idx, err = s.tryTake(specs)
	if err != nil || idx >= 0 {
		announce(specs, -1)
		return idx, nil, err
	}
	w = &Waiter{s: s, specs: append([]Spec(nil), specs...), notify: notify, result: -1}
	for i, sp := range specs {
		if seenBefore(specs, i) {
			continue
		}
		sp.Table.waiters = append(sp.Table.waiters, w) // counted by announce
	}
	s.mu.Lock()
	s.ownerMode = true
	s.table, s.id = nil, 0
	s.waiter = w
	s.mu.Unlock()
	return -1, w, nil
}

// announce adds d to nwaiters of every distinct table of specs. Caller
// holds waitMu.
func announce(specs []Spec, d int32) {
	for i, sp := range specs {
		if sp.Table != nil && !seenBefore(specs, i) {
			sp.Table.nwaiters.Add(d)
		}
	}
}

func seenBefore(specs []Spec, i int) bool {
	for j := 0; j < i; j++ {
		if specs[j].Table == specs[i].Table {
			return true
		}
	}
	return false
}

// unlinkLocked removes w from every table list. Caller holds waitMu.
func (w *Waiter) unlinkLocked() {
	for i, sp := range w.specs {
		if seenBefore(w.specs, i) {
			continue
		}
		t := sp.Table
		for k, x := range t.waiters {
			if x == w {
				copy(t.waiters[k:], t.waiters[k+1:])
				t.waiters[len(t.waiters)-1] = nil
				t.waiters = t.waiters[:len(t.waiters)-1]
				t.nwaiters.Add(-1)
				break
			}
		}
	}
}

// fire calls notify once unless the waiter was cancelled.
func (w *Waiter) fire() {
	w.nmu.Lock()
	defer w.nmu.Unlock()
	if w.cancelled || w.fired {
		return
	}
	w.fired = true
	defer func() { _ = recover() }()
	w.notify()
}

// Result returns the index of the spec whose row was assigned, or -1.
func (w *Waiter) Result() int {
	waitMu.Lock()
	defer waitMu.Unlock()
	return w.result
}

// Cancel unregisters the waiter (timeout, KILL, disconnect). It is safe at
// any moment and idempotent. It returns the assigned index if a row was
// assigned before the cancel took effect (the session then owns it), or -1.
// After Cancel returns, notify is not running and will not be called.
func (w *Waiter) Cancel() int {
	waitMu.Lock()
	if !w.done {
		w.done = true
		w.unlinkLocked()
	}
	res := w.result
	waitMu.Unlock()
	w.nmu.Lock()
	w.cancelled = true
	w.nmu.Unlock()
	w.s.mu.Lock()
	if w.s.waiter == w {
		w.s.waiter = nil
	}
	w.s.mu.Unlock()
	return res
}

// wake hands rows of t to its waiters, oldest waiter first, after rows
// committed, a row was released or a DELETE ended.
func (t *Table) wake() {
	if t.nwaiters.Load() == 0 {
		return
	}
	waitMu.Lock()
	t.mu.Lock()
	t.wakeLocked()
}

// tryWake is wake for a caller that must not block on the locks (a
// server thread leading a commit: Register holds waitMu while it reads
// rows). It reports false, having done nothing, when a lock is taken.
func (t *Table) tryWake() bool {
	if t.nwaiters.Load() == 0 {
		return true
	}
	if !waitMu.TryLock() {
		return false
	}
	if !t.mu.TryLock() {
		waitMu.Unlock()
		return false
	}
	t.wakeLocked()
	return true
}

// wakeLocked is wake's body: the caller holds waitMu and t.mu, which it
// releases.
func (t *Table) wakeLocked() {
	var fired []*Waiter
	for i := 0; i < len(t.waiters) && t.deleting == 0 && !t.closed; {
		w := t.waiters[i]
		got := -1
		for j, sp := range w.specs {
			if sp.Table != t {
				continue
			}
			if _, ok, err := t.takeLocked(sp.filter(), w.s); err == nil && ok {
				got = j
				break
			}
		}
		if got < 0 {
			i++
			continue
		}
		t.st.waitDelayed.Add(1)
		w.done, w.result = true, got
		w.unlinkLocked() // removes w from t.waiters at index i
		fired = append(fired, w)
	}
	t.mu.Unlock()
	waitMu.Unlock()
	fireAll(fired)
}

// fireAll calls the notify callbacks, on the caller's goroutine (the
// committer after a commit, or the connection that released rows) with no
// core lock held. A notify only sets a flag and wakes a thread; a goroutine
// of its own per wake cost a goroutine start and a thread hand-off each.
func fireAll(fired []*Waiter) {
	for _, w := range fired {
		w.fire()
	}
}

// Ended reports whether the wait ended without a row because a table of
// the wait was closed, dropped, truncated or renamed.
func (w *Waiter) Ended() bool {
	waitMu.Lock()
	defer waitMu.Unlock()
	return w.ended
}

// cancelWaiters wakes every waiter of t with no row (Close, Drop, Truncate,
// Rename).
func (t *Table) cancelWaiters() {
	waitMu.Lock()
	fired := append([]*Waiter(nil), t.waiters...)
	for _, w := range fired {
		w.done = true
		w.ended = true
		w.unlinkLocked()
	}
	waitMu.Unlock()
	fireAll(fired)
}
