package core

import (
	"sync/atomic"
	"time"
)

// Stats are a table's counters (queue_stats(), SHOW ENGINE QUEUE STATUS).
// Counters count since the table was opened, except LiveRows, NextRowID and
// the byte figures, which describe the table's data.
type Stats struct {
	RowsWritten, RowsRemoved   uint64
	BytesTotal, BytesRemoved   uint64 // row frame bytes in segment files; of removed rows
	WaitImmediate, WaitDelayed uint64
	WaitTimeout                uint64
	RestoredByAbort            uint64
	RestoredByClose            uint64
	Syncs, Compactions         uint64
	LiveRows                   uint64
	NextRowID                  uint64
	// RecoveredBytes is how many bytes the last open scanned (0 after a
	// clean close thanks to the checkpoint).
	RecoveredBytes uint64
	// Segments is the number of segment files.
	Segments int
	// Owned is the number of live rows owned by consumers; Waiters the
	// number of queue_wait calls registered on the table.
	Owned, Waiters uint64
	// LastCompaction is when a compaction of the table last completed
	// since it was opened (unix seconds, 0 if none).
	LastCompaction int64
	// CorruptSkipped is how many damaged rows takes skipped (each row
	// once while the table is open).
	CorruptSkipped uint64
	// Oldest is when the oldest live row that no consumer or prepared
	// transaction owns was enqueued (unix ms); 0 when there is none or its
	// time is unknown (written before COMMIT frames carried a time).
	Oldest int64
}

// Global are the counters of every table of the process since it started,
// tables dropped or closed included (SHOW ENGINE QUEUE STATUS, status
// variables).
type Global struct {
	RowsWritten, RowsRemoved uint64
	// AppendCommits and RemoveCommits are the group commits that wrote at
	// least one row, removed at least one row.
	AppendCommits, RemoveCommits uint64
	Syncs, Compactions           uint64 // group commits synced; compactions done
	// CorruptSkipped is how many damaged rows takes skipped: rows whose
	// frame failed its check when a consumer was about to get them.
	CorruptSkipped uint64
}

// global backs GlobalStats: the table counters below add to it too.
var global struct {
	rowsWritten, rowsRemoved     atomic.Uint64
	appendCommits, removeCommits atomic.Uint64
	syncs, compactions           atomic.Uint64
	corruptSkipped               atomic.Uint64
}

// GlobalStats returns the process-wide counters.
func GlobalStats() Global {
	return Global{
		RowsWritten:    global.rowsWritten.Load(),
		RowsRemoved:    global.rowsRemoved.Load(),
		AppendCommits:  global.appendCommits.Load(),
		RemoveCommits:  global.removeCommits.Load(),
		Syncs:          global.syncs.Load(),
		Compactions:    global.compactions.Load(),
		CorruptSkipped: global.corruptSkipped.Load(),
	}
}

// The counters of a table that also count process-wide: Add adds to the
// table's count and to global's. The group commit adds rows written and
// rows removed once per commit (zero included), which is how commits with
// appends and with removals are counted.
type (
	writtenCounter    struct{ atomic.Uint64 }
	removedCounter    struct{ atomic.Uint64 }
	syncCounter       struct{ atomic.Uint64 }
	compactionCounter struct {
		atomic.Uint64
		last atomic.Int64 // unix seconds of the last Add
	}
)

func (c *writtenCounter) Add(n uint64) uint64 {
	if n > 0 {
		global.appendCommits.Add(1)
		global.rowsWritten.Add(n)
	}
	return c.Uint64.Add(n)
}

func (c *removedCounter) Add(n uint64) uint64 {
	if n > 0 {
		global.removeCommits.Add(1)
		global.rowsRemoved.Add(n)
	}
	return c.Uint64.Add(n)
}

func (c *syncCounter) Add(n uint64) uint64 {
	global.syncs.Add(n)
	return c.Uint64.Add(n)
}

func (c *compactionCounter) Add(n uint64) uint64 {
	global.compactions.Add(n)
	c.last.Store(time.Now().Unix())
	return c.Uint64.Add(n)
}

// counters are the table's event counters, updated without locks.
type counters struct {
	rowsWritten                writtenCounter
	rowsRemoved                removedCounter
	bytesWritten               atomic.Uint64
	waitImmediate, waitDelayed atomic.Uint64
	waitTimeout                atomic.Uint64
	restoredByAbort            atomic.Uint64
	restoredByClose            atomic.Uint64
	syncs                      syncCounter
	compactions                compactionCounter
	recoveredBytes             atomic.Uint64
	corruptSkipped             atomic.Uint64

	// damaged are the rows takes found damaged (see takeLocked); guarded
	// by Table.mu, unlike the counters.
	damaged map[uint64]damagedRow

	ownerEpoch atomic.Uint64          // see OwnerEpoch
	observer   atomic.Pointer[func()] // see SetObserver
}

// Stats returns a snapshot of the table's counters.
func (t *Table) Stats() Stats {
	s := Stats{
		RowsWritten:     t.st.rowsWritten.Load(),
		RowsRemoved:     t.st.rowsRemoved.Load(),
		WaitImmediate:   t.st.waitImmediate.Load(),
		WaitDelayed:     t.st.waitDelayed.Load(),
		WaitTimeout:     t.st.waitTimeout.Load(),
		RestoredByAbort: t.st.restoredByAbort.Load(),
		RestoredByClose: t.st.restoredByClose.Load(),
		Syncs:           t.st.syncs.Load(),
		Compactions:     t.st.compactions.Load(),
		RecoveredBytes:  t.st.recoveredBytes.Load(),
		Waiters:         uint64(max(t.nwaiters.Load(), 0)),
		LastCompaction:  t.st.compactions.last.Load(),
		CorruptSkipped:  t.st.corruptSkipped.Load(),
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	s.LiveRows = t.live
	s.NextRowID = t.nextID
	s.Segments = len(t.segs)
	s.Owned = uint64(len(t.owned))
	s.BytesTotal, s.BytesRemoved = t.bytesLocked()
	s.Oldest = t.oldestLocked()
	return s
}

// bytesLocked returns the bytes of the table's segments and those of
// removed rows. Caller holds t.mu.
func (t *Table) bytesLocked() (total, removed uint64) {
	for _, seg := range t.segs {
		total += uint64(seg.liveBytes + seg.deadBytes)
		removed += uint64(seg.deadBytes)
	}
	return total, removed
}

// oldestLocked is Stats.Oldest. Rows are in id order along t.segs, and a
// batch's rows are enqueued after those of earlier batches (a prepared
// transaction's rows carry the time of its PREPARE, which precedes their
// ids' successors' commits), so the first live unowned row is the oldest.
// It skips at most len(t.owned) rows. Caller holds t.mu.
func (t *Table) oldestLocked() int64 {
	for _, seg := range t.segs {
		for i := seg.nextLive(0); i < seg.nrows(); i = seg.nextLive(i + 1) {
			if t.owned[seg.idAt(i)] != nil {
				continue
			}
			return seg.timeAt(i)
		}
	}
	return 0
}

// CountWaitTimeout records a queue_wait that timed out on this table.
func (t *Table) CountWaitTimeout() { t.st.waitTimeout.Add(1) }

// Figures is what a handler asks about a table many times per statement
// (SHOW TABLE STATUS, the optimizer's row estimate). The layer above keeps
// a copy where it can read it without calling core: SetObserver tells it
// when to refresh.
type Figures struct {
	ID         uint64 // the table's identity in this process, never reused
	OwnerEpoch uint64 // see OwnerEpoch
	LiveRows   uint64
	BytesTotal uint64
	BytesFree  uint64
	AvgRow     uint64
	CreateTime int64 // unix seconds
	UpdateTime int64 // unix seconds, 0 if never
}

// Figures returns the table's current figures.
func (t *Table) Figures() Figures {
	f := Figures{
		ID:         t.id,
		OwnerEpoch: t.st.ownerEpoch.Load(),
		CreateTime: unixOrZero(t.created),
	}
	// Called after every group commit: one short read lock, and not
	// Stats, whose oldest row search walks the removed rows at the head.
	t.mu.RLock()
	f.LiveRows = t.live
	total, removed := t.bytesLocked()
	f.UpdateTime = unixOrZero(t.updated)
	t.mu.RUnlock()
	f.BytesTotal, f.BytesFree = total, removed
	// Mean payload of the live rows: their frame bytes less each frame's
	// header and row id.
	if live := total - removed; f.LiveRows > 0 && live > 0 {
		if per := live / f.LiveRows; per > frameHeaderSize+rowBodyMin {
			f.AvgRow = per - (frameHeaderSize + rowBodyMin)
		}
	}
	return f
}

// OwnerEpoch changes whenever an owned row of the table loses its owner
// other than through that owner's own Consume or Release: the row was
// removed by someone else, or the table was truncated or closed. A layer
// that caches an owned row's image may use it only while the epoch it saw
// at the take is unchanged.
func (t *Table) OwnerEpoch() uint64 { return t.st.ownerEpoch.Load() }

// SetObserver registers fn, called (with no table lock held, from the
// goroutine that made the change) after every change of the table's
// Figures: a group commit, a compaction, TRUNCATE and close. It must be
// quick and must not call the table. nil unregisters.
func (t *Table) SetObserver(fn func()) {
	if fn == nil {
		t.st.observer.Store(nil)
		return
	}
	t.st.observer.Store(&fn)
}

// observe calls the observer, if any; a panic in it is not the table's.
func (t *Table) observe() {
	if fn := t.st.observer.Load(); fn != nil {
		defer func() { _ = recover() }()
		(*fn)()
	}
}

func unixOrZero(tm time.Time) int64 {
	if tm.IsZero() {
		return 0
	}
	return tm.Unix()
}

// ID is the table's identity in this process (Figures.ID), never reused.
func (t *Table) ID() uint64 { return t.id }
