package core

import "time"

// Options configure a table. The zero value is the production setting.
type Options struct {
	FS          FS    // nil: the real file system
	SegmentSize int64 // 0: default (64 MiB)
	// NoBackground disables the background compaction goroutine (tests).
	NoBackground bool
}

// Table is one open queue table. All methods are safe for concurrent use.
// One *Table exists per table directory in a process: the layer above keeps
// the registry (path -> *Table) and must not open the same directory twice.
type Table struct {
	// implementation-defined
}

// Create makes a new, empty table directory (fsyncs it and its parent).
// It fails with ErrExists if dir already exists.
func Create(dir string, opts Options) error { return ErrNotImplemented }

// Open opens (recovering if needed) the table in dir.
func Open(dir string, opts Options) (*Table, error) { return nil, ErrNotImplemented }

// Destroy removes a table directory that is not open, durably.
// A missing directory is not an error.
func Destroy(dir string, opts Options) error { return ErrNotImplemented }

// Close writes a checkpoint, stops background work and closes the files.
// Waiters registered on the table are woken with no row; sessions that own a
// row of this table keep a harmless, inert ownership (Consume/Release do nothing).
func (t *Table) Close() error { return ErrNotImplemented }

// Drop closes the table and deletes its directory durably (DROP TABLE).
// Same effect on waiters and owners as Close.
func (t *Table) Drop() error { return ErrNotImplemented }

// Rename moves the open table to newDir (RENAME TABLE / ALTER). The *Table
// stays valid and keeps its rows, owners and waiters.
func (t *Table) Rename(newDir string) error { return ErrNotImplemented }

// Truncate removes every row durably and restarts row ids at 1. Rows owned
// at that moment become inert for their owners; relay marks are reset.
func (t *Table) Truncate() error { return ErrNotImplemented }

// Dir returns the table's current directory.
func (t *Table) Dir() string { return "" }

// Append writes rows (one statement's worth) durably: it returns only after
// the rows and a commit frame are fdatasync'ed. Rows are atomic across a crash.
// Concurrent Appends (and Removes) share one write and one sync.
// With relay != nil and !relay.Reset, if relay.RowID <= the table's mark for
// relay.Slot, nothing is written and skipped is true. Otherwise the mark is
// set to relay.RowID in the same commit as the rows.
// firstID is the row id of rows[0]; the others follow by +1.
// After commit, waiting sessions whose filter matches are handed rows.
func (t *Table) Append(rows [][]byte, relay *Relay) (firstID uint64, skipped bool, err error) {
	return 0, false, ErrNotImplemented
}

// Remove removes rows by id durably (returns after fdatasync). Ids that are
// unknown or already removed are ignored and change no counter. Rows owned by
// a session are removed too (the caller decides visibility); their owner's
// ownership becomes inert. Returns the number of rows actually removed.
func (t *Table) Remove(ids []uint64) (removed int, err error) { return 0, ErrNotImplemented }

// Get returns a copy of the payload of row id, appended to buf[:0].
// ErrNotFound if the id was never written or is removed.
func (t *Table) Get(id uint64, buf []byte) ([]byte, error) { return nil, ErrNotImplemented }

// Count is the number of live rows, owned ones included (COUNT(*)).
func (t *Table) Count() uint64 { return 0 }

// RelayMark returns the relay high-water mark of a slot.
func (t *Table) RelayMark(slot int) uint64 { return 0 }

// CreateTime and UpdateTime feed SHOW TABLE STATUS.
func (t *Table) CreateTime() time.Time { return time.Time{} }
func (t *Table) UpdateTime() time.Time { return time.Time{} }

// Compact runs a compaction now (queue_compact); normally it runs in the background.
func (t *Table) Compact() error { return ErrNotImplemented }

// BeginDelete / EndDelete bracket a non-owner DELETE statement: while any is
// running (a counter, not a flag) no row is handed to takers or waiters.
// EndDelete wakes waiters.
func (t *Table) BeginDelete() {}
func (t *Table) EndDelete()   {}

// Filter returns the table's cached filter for key, compiling it with compile
// on first use. Key "" is the match-all filter. Each filter keeps its own scan
// position so finding the oldest eligible row is not a scan of the queue.
func (t *Table) Filter(key string, compile func() (MatchFunc, error)) (*Filter, error) {
	return nil, ErrNotImplemented
}

// Filter is a compiled condition bound to one table.
type Filter struct {
	// implementation-defined
}

// Cursor iterates the rows a session may see, in row-id order.
type Cursor struct {
	// implementation-defined
}

// Scan returns a cursor over the rows visible to s (s may be nil = no
// session). Visibility: if s is in owner mode, only s's owned row if it is
// live and belongs to t; otherwise all live rows not owned by any session.
// Rows committed after the cursor was created may or may not be seen.
func (t *Table) Scan(s *Session) *Cursor { return &Cursor{} }

// Next copies the next visible row's payload into buf[:0] and returns it with
// its id. ok is false at the end.
func (c *Cursor) Next(buf []byte) (id uint64, payload []byte, ok bool, err error) {
	return 0, nil, false, ErrNotImplemented
}

// Close releases the cursor.
func (c *Cursor) Close() {}
