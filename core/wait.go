package core

// Waiter is a registered, pending queue_wait.
type Waiter struct {
	// implementation-defined
}

// Register is TryTake that, when no spec has a row, registers the session as
// a waiter on every spec's table, atomically with respect to commits and
// releases (no lost wake-up). If a row was taken at once, idx >= 0 and w is
// nil. Otherwise w is pending: when a matching row commits or is released,
// the oldest waiter whose filter matches (FIFO among waiters; each waiter's
// own spec order respected) gets the row assigned (the session owns it) and
// notify is called exactly once, from another goroutine, after core released
// its locks (so notify may take the caller's mutex; it must not call core).
// notify is also called when a table of the waiter is closed/dropped/truncated.
func (s *Session) Register(specs []Spec, notify func()) (idx int, w *Waiter, err error) {
	return -1, nil, ErrNotImplemented
}

// Result returns the index of the spec whose row was assigned, or -1.
func (w *Waiter) Result() int { return -1 }

// Cancel unregisters the waiter (timeout, KILL, disconnect). It is safe at
// any moment and idempotent. It returns the assigned index if a row was
// assigned before the cancel took effect (the session then owns it), or -1.
func (w *Waiter) Cancel() int { return -1 }
