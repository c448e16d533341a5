package core

// Stats are a table's counters (queue_stats(), SHOW ENGINE QUEUE STATUS).
type Stats struct {
	RowsWritten, RowsRemoved   uint64
	BytesTotal, BytesRemoved   uint64
	WaitImmediate, WaitDelayed uint64
	WaitTimeout                uint64
	RestoredByAbort            uint64
	RestoredByClose            uint64
	Syncs, Compactions         uint64
	LiveRows                   uint64
	NextRowID                  uint64
}

// Stats returns a snapshot of the table's counters.
func (t *Table) Stats() Stats { return Stats{} }

// CountWaitTimeout records a queue_wait that timed out on this table.
func (t *Table) CountWaitTimeout() {}
