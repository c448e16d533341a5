package core

import "sync/atomic"

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
}

// counters are the table's event counters, updated without locks.
type counters struct {
	rowsWritten, rowsRemoved   atomic.Uint64
	bytesWritten               atomic.Uint64
	waitImmediate, waitDelayed atomic.Uint64
	waitTimeout                atomic.Uint64
	restoredByAbort            atomic.Uint64
	restoredByClose            atomic.Uint64
	syncs, compactions         atomic.Uint64
	recoveredBytes             atomic.Uint64
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
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	s.LiveRows = t.live
	s.NextRowID = t.nextID
	s.Segments = len(t.segs)
	for _, seg := range t.segs {
		s.BytesTotal += uint64(seg.liveBytes + seg.deadBytes)
		s.BytesRemoved += uint64(seg.deadBytes)
	}
	return s
}

// CountWaitTimeout records a queue_wait that timed out on this table.
func (t *Table) CountWaitTimeout() { t.st.waitTimeout.Add(1) }
