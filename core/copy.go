package core

import (
	"fmt"
	"sort"
)

// An ALTER TABLE that rebuilds a queue table copies its rows, in order, into
// a new table, then renames the old table away, renames the new one to the
// old name and drops the old one. Rows consumers own during the ALTER must
// stay owned: otherwise the owners' ownership ends with the old table while
// the copied row is queued again in the new one, and is delivered twice.
//
// The copy reports which old row became which new row (SetCopy on the old
// table). When the old table is renamed away (Rename), every ownership of a
// copied row moves to the row's copy in the new table: the owner keeps
// owning it, sees it (now in the new table's format) and its queue_end,
// queue_abort or disconnect acts on the new table. The new table remembers
// the old name (adopted); renamed to that name, it keeps these owners,
// while a rename to any other name ends them as every rename does. A row
// whose copy is unknown is given back as before (delivered again: at least
// once, never lost).

// CopyRun says that the N rows Old, Old+1, ... of the copied table became
// the rows New, New+1, ... of the copy.
type CopyRun struct {
	Old, New, N uint64
}

type tableCopy struct {
	dst  *Table
	runs []CopyRun // sorted by Old, not overlapping
}

// SetCopy records that dst holds a copy of t's rows as runs describes
// (replacing an earlier record). The next Rename of t moves the owners of
// copied rows to dst.
func (t *Table) SetCopy(dst *Table, runs []CopyRun) (err error) {
	defer recoverError(&err)
	if dst == nil || dst == t {
		return fmt.Errorf("%w: copy into itself or nil", ErrBadArgument)
	}
	rs := append([]CopyRun(nil), runs...)
	sort.Slice(rs, func(i, j int) bool { return rs[i].Old < rs[j].Old })
	for i, r := range rs {
		if r.N == 0 || r.Old+r.N < r.Old || r.New+r.N < r.New {
			return fmt.Errorf("%w: bad copy run %+v", ErrBadArgument, r)
		}
		if i > 0 && rs[i-1].Old+rs[i-1].N > r.Old {
			return fmt.Errorf("%w: overlapping copy runs", ErrBadArgument)
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	t.copy = &tableCopy{dst: dst, runs: rs}
	return nil
}

// copyOf returns the id of row id's copy.
func (c *tableCopy) copyOf(id uint64) (uint64, bool) {
	i := sort.Search(len(c.runs), func(i int) bool { return c.runs[i].Old+c.runs[i].N > id })
	if i == len(c.runs) || c.runs[i].Old > id {
		return 0, false
	}
	r := c.runs[i]
	return r.New + (id - r.Old), true
}

// moveOwnerships moves each ownership of a copied row of t to the row's
// copy in c.dst, which adopts oldDir (the name the owners knew). Locks t,
// then c.dst, then the session: no other path holds two tables' locks.
// The session's own view moves in the same step, so a concurrent Release
// or Consume (which re-check it) acts on exactly one of the two tables.
func (t *Table) moveOwnerships(c *tableCopy, oldDir string) {
	dst := c.dst
	t.mu.RLock()
	ids := make([]uint64, 0, len(t.owned))
	for id, s := range t.owned {
		if !s.consuming {
			ids = append(ids, id)
		}
	}
	t.mu.RUnlock()
	moved := 0
	for _, id := range ids {
		newID, ok := c.copyOf(id)
		if !ok {
			continue
		}
		t.mu.Lock()
		dst.mu.Lock()
		if s := t.owned[id]; s != nil && !s.consuming && !dst.closed && dst.owned[newID] == nil && dst.liveLocked(newID) {
			s.mu.Lock()
			if s.table == t && s.id == id {
				delete(t.owned, id)
				dst.owned[newID] = s
				s.table, s.id = dst, newID
				s.epochTable = nil // OwnedAt confirms under dst.mu
				s.dropTakenLocked()
				moved++
			}
			s.mu.Unlock()
		}
		dst.mu.Unlock()
		t.mu.Unlock()
	}
	dst.mu.Lock()
	dst.adopted = oldDir
	dst.mu.Unlock()
	if moved > 0 {
		dst.st.ownerEpoch.Add(1)
		dst.observe()
	}
}

// liveLocked reports whether row id is live. Caller holds t.mu.
func (t *Table) liveLocked(id uint64) bool {
	seg, i, found := t.locateLocked(id)
	return found && seg.isLive(i)
}

// keepOwnerships is endOwnerships for a copy renamed to the name its owners
// knew: waiters (of the copy's temporary name) are woken with no row, the
// owners keep their rows, and the owner epoch changes, so no image cached
// under the old table is shown.
func (t *Table) keepOwnerships() {
	t.cancelWaiters()
	t.st.ownerEpoch.Add(1)
	t.observe()
}

// movedFrom reports whether the session's ownership is no longer (t, id)
// but a row of another table (moveOwnerships ran meanwhile).
func (s *Session) movedFrom(t *Table, id uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.table != nil && (s.table != t || s.id != id)
}

// clearIf leaves owner mode if the session's ownership is still (t, id);
// false when it moved meanwhile.
func (s *Session) clearIf(t *Table, id uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.table != t || s.id != id {
		return false
	}
	s.ownerMode = false
	s.table, s.id = nil, 0
	s.dropTakenLocked()
	return true
}
