package core

import (
	"path/filepath"
	"time"
)

// Truncate removes every row durably and restarts row ids at 1. Rows owned
// at that moment become inert for their owners; relay marks are reset.
//
// Commit point: the rename of a fresh kindTruncate segment (which obsoletes
// every older segment) followed by the directory sync. Older files are
// deleted afterwards; recovery finishes an interrupted deletion.
func (t *Table) Truncate() (err error) {
	defer recoverError(&err)
	swapped, err := t.truncate()
	if swapped {
		t.observe()
		// After the table locks are released: waitMu comes first in the
		// lock order.
		t.cancelWaiters()
	}
	return err
}

// truncate does the work of Truncate; swapped reports whether the table
// now shows the fresh segment (waiters must then be woken).
func (t *Table) truncate() (swapped bool, err error) {
	t.compactMu.Lock()
	defer t.compactMu.Unlock()
	t.wmu.Lock()
	defer t.wmu.Unlock()
	t.mu.RLock()
	closed, dir := t.closed, t.dir
	if closed || len(t.segs) == 0 { // closeFiles empties segs
		t.mu.RUnlock()
		return false, ErrClosed
	}
	last := t.segs[len(t.segs)-1].seq
	t.mu.RUnlock()
	if t.broken != nil {
		return false, t.broken
	}
	seq := last + 1
	st := stateRecord{nextRowID: 1}
	if err := writeFreshSegment(t.fs, dir, seq, 0, kindTruncate, &st); err != nil {
		return false, err
	}
	name := filepath.Join(dir, segmentName(seq))
	f, err := t.fs.OpenRW(name)
	if err != nil {
		t.broken = fileError(ErrIO, name, 0, err)
		return false, t.broken
	}
	fresh := newSegment(seq, 0, kindTruncate, f)
	size, err := f.Size()
	if err != nil {
		t.broken = fileError(ErrIO, name, 0, err)
		return false, t.broken
	}
	fresh.end, fresh.allocated, fresh.commits = size, size, 1

	t.mu.Lock()
	old := t.segs
	t.segs = []*segment{fresh}
	t.nextID = 1
	t.marks = [MaxRelaySlots]uint64{}
	t.live = 0
	t.owned = make(map[uint64]*Session)
	t.endPreparedLocked()
	t.st.ownerEpoch.Add(1)
	for _, f := range t.filters {
		f.pos = 1
	}
	t.updated = time.Now()
	t.mu.Unlock()
	t.staleIndex.Store(false) // the index is the one fresh segment again

	for _, s := range old {
		s.release()
		if err := t.fs.Remove(filepath.Join(dir, s.name)); err != nil {
			t.broken = fileError(ErrIO, filepath.Join(dir, s.name), 0, err)
			return true, t.broken
		}
	}
	if err := t.fs.SyncDir(dir); err != nil {
		t.broken = fileError(ErrIO, dir, 0, err)
		return true, t.broken
	}
	return true, nil
}
