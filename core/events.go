package core

import "time"

// What a table reports for the server's error log: recovery after a crash
// and background compactions. The layer above decides what to log (a
// compaction is routine: only a slow or failed one is worth a line).

// RecoveryInfo says what the open of a table did to its files.
type RecoveryInfo struct {
	// Replayed is set when the table was not closed cleanly (no usable
	// checkpoint) and recovery read its segments; a table opened for the
	// first time after CREATE is not counted.
	Replayed bool
	// Rows is the live rows recovered.
	Rows uint64
	// BytesTruncated is the bytes cut after the last commit (never
	// acknowledged) and of interrupted segment creations.
	BytesTruncated int64
}

// Recovery returns what the open of the table did.
func (t *Table) Recovery() RecoveryInfo { return t.recovery }

// noteReplay records that recovery replayed the segments. A table whose
// only segment holds only its creation (one commit, no row) was never
// written: its first open is not a recovery.
func (t *Table) noteReplay() {
	fresh := len(t.segs) == 1 && t.segs[0].commits == 1 && t.segs[0].nrows() == 0
	if !fresh || t.recovery.BytesTruncated > 0 {
		t.recovery.Replayed = true
	}
	t.recovery.Rows = t.live
}

// CompactionInfo describes one background compaction.
type CompactionInfo struct {
	Duration    time.Duration
	BytesBefore uint64 // bytes of the table's files before
	BytesAfter  uint64
	Err         error
}
