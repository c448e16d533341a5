package core

// Session is one connection's ownership state. A session owns at most one
// row. Methods must not be called concurrently for the same session (one
// connection runs one statement at a time); different sessions run in parallel.
type Session struct {
	// implementation-defined
}

// NewSession returns a session outside owner mode.
func NewSession() *Session { return &Session{} }

// OwnerMode reports whether the session is in owner mode (after a take or a
// wait timeout, until Consume/Release/Leave).
func (s *Session) OwnerMode() bool { return false }

// Owned returns the owned row's table and id; t is nil when nothing is owned
// (or the ownership became inert through Drop/Truncate/Remove).
func (s *Session) Owned() (t *Table, id uint64) { return nil, 0 }

// TryTake gives the session the oldest live, unowned row passing the filter
// of the first spec that has one, and enters owner mode. Returns the 0-based
// spec index, or -1 if no spec has a row (owner mode is entered anyway, as
// Q4M does on timeout). The session must own nothing (call Consume first).
func (s *Session) TryTake(specs []Spec) (int, error) { return -1, ErrNotImplemented }

// Consume durably removes the owned row (if any, and if still live) and
// leaves owner mode (queue_end, and the first step of queue_wait).
func (s *Session) Consume() error { return ErrNotImplemented }

// Release returns the owned row to its original position (delivered next),
// leaves owner mode and wakes waiters (queue_abort, disconnect). byClose
// selects which statistic counts it. Returns whether a row was released.
func (s *Session) Release(byClose bool) bool { return false }

// Leave leaves owner mode; the session must own nothing.
func (s *Session) Leave() {}
