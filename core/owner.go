package core

import (
	"errors"
	"fmt"
	"sync"
)

// Session is one connection's ownership state. A session owns at most one
// row. Methods must not be called concurrently for the same session (one
// connection runs one statement at a time); different sessions run in parallel.
//
// Ownership lives in memory only: the table's owned map (guarded by its mu)
// is the truth; the session's table/id are a pointer into it. When the table
// forgets the ownership (Remove of the row, Truncate, Close, Drop) the
// session's pointer becomes inert.
type Session struct {
	// mu guards the fields below: a waker goroutine assigns rows to a
	// waiting session while its connection may call Cancel.
	mu        sync.Mutex
	ownerMode bool
	table     *Table
	id        uint64
	waiter    *Waiter
	// takenEpoch is table's OwnerEpoch read under table.mu (write) when
	// the take assigned (epochTable, id): the ownership held then, so it
	// holds at least until the epoch changes (OwnedAt). An ALTER's copy
	// that moves the ownership changes table, and the pair is stale.
	epochTable *Table
	takenEpoch uint64

	// The take verifies the row it hands out by reading it (its frame
	// CRC); the verified payload is kept here for the row's image
	// (CopyTaken), so a delivery reads the row once. spare is a buffer
	// for the next take's read.
	takenTable *Table
	takenID    uint64
	taken      []byte
	spare      []byte
	// skipped are the damaged rows this session's takes met and skipped
	// (ErrCorrupt errors naming file and offset), until TakeSkipped.
	skipped []error

	// consuming marks a placeholder owner: a row whose removal by its
	// owner's Consume is in flight stays owned by such a session (never a
	// connection's), so nobody takes it before the removal commits.
	consuming bool

	// inOrder (guarded by mu): this session's takes never pass a row of
	// the spec that another session owns (SetInOrder).
	inOrder bool
}

// NewSession returns a session outside owner mode.
func NewSession() *Session { return &Session{} }

// SetInOrder makes the session's takes (TryTake, Register and the wake-ups
// of its waits) deliver rows in row id order with respect to the other
// sessions: a take does not hand out a row while an older row that passes
// the spec's filter is owned by another session; it finds nothing instead
// (a wait goes on until that row is consumed or given back). Rows whose
// removal by their owner's Consume is in flight do not hold it back.
//
// A relay needs it: the destination drops a row at or below its mark for
// the relay's slot, so a row given back after the relay has delivered a
// newer one (a connection of a killed relay that the server has not closed
// yet owned it) would be dropped there as already received.
func (s *Session) SetInOrder(on bool) {
	s.mu.Lock()
	s.inOrder = on
	s.mu.Unlock()
}

// OwnerMode reports whether the session is in owner mode (after a take or a
// wait timeout, until Consume/Release/Leave).
func (s *Session) OwnerMode() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ownerMode
}

// Owned returns the owned row's table and id; t is nil when nothing is owned
// (or the ownership became inert through Drop/Truncate/Remove).
func (s *Session) Owned() (t *Table, id uint64) {
	for {
		s.mu.Lock()
		t, id = s.table, s.id
		s.mu.Unlock()
		if t == nil {
			return nil, 0
		}
		t.mu.RLock()
		owner := t.owned[id]
		t.mu.RUnlock()
		if owner == s {
			return t, id
		}
		if !s.movedFrom(t, id) {
			return nil, 0
		}
		// An ALTER's copy took the ownership over meanwhile: look there.
	}
}

// setOwned records an assignment; the caller holds t.mu (write) and has put
// s in t.owned.
func (s *Session) setOwned(t *Table, id uint64, payload []byte) {
	s.mu.Lock()
	s.ownerMode = true
	s.table, s.id = t, id
	s.epochTable, s.takenEpoch = t, t.st.ownerEpoch.Load()
	s.dropTakenLocked()
	if payload != nil {
		s.takenTable, s.takenID, s.taken = t, id, payload
	}
	s.mu.Unlock()
}

func (s *Session) clear() {
	s.mu.Lock()
	s.ownerMode = false
	s.table, s.id = nil, 0
	s.dropTakenLocked()
	s.mu.Unlock()
}

// dropTakenLocked forgets the kept payload, keeping its buffer as spare.
func (s *Session) dropTakenLocked() {
	if s.taken != nil && cap(s.taken) > cap(s.spare) {
		s.spare = s.taken[:0]
	}
	s.takenTable, s.takenID, s.taken = nil, 0, nil
}

// takeBuffer hands the spare buffer to a take (nil if another take of the
// session holds it).
func (s *Session) takeBuffer() []byte {
	s.mu.Lock()
	b := s.spare
	s.spare = nil
	s.mu.Unlock()
	return b
}

func (s *Session) addSkipped(err error) {
	s.mu.Lock()
	s.skipped = append(s.skipped, err)
	s.mu.Unlock()
}

// CopyTaken appends to dst[:0] the payload the take of row id of t read
// and verified, and forgets it. ok is false when the take kept none (the
// caller then reads the row itself, e.g. with Table.Get).
func (s *Session) CopyTaken(t *Table, id uint64, dst []byte) (out []byte, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.taken == nil || s.takenTable != t || s.takenID != id {
		return dst, false
	}
	out = append(dst[:0], s.taken...)
	s.dropTakenLocked()
	return out, true
}

// TakeSkipped returns and forgets the damaged rows this session's takes
// skipped since the last call: each is an ErrCorrupt naming the segment
// file and offset. A damaged row is reported once, to the session whose
// take found it.
func (s *Session) TakeSkipped() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.skipped
	s.skipped = nil
	return out
}

// TryTake gives the session the oldest live, unowned row passing the filter
// of the first spec that has one, and enters owner mode. Returns the 0-based
// spec index, or -1 if no spec has a row (owner mode is entered anyway, as
// Q4M does on timeout). The session must own nothing (call Consume first).
func (s *Session) TryTake(specs []Spec) (idx int, err error) {
	defer recoverError(&err)
	if t, _ := s.Owned(); t != nil {
		return -1, ErrOwning
	}
	idx, err = s.tryTake(specs)
	if err != nil {
		return -1, err
	}
	if idx < 0 {
		s.mu.Lock()
		s.ownerMode = true
		s.table, s.id = nil, 0
		s.mu.Unlock()
	}
	return idx, nil
}

// tryTake tries the specs in order, locking one table at a time.
func (s *Session) tryTake(specs []Spec) (int, error) {
	for i, sp := range specs {
		if sp.Table == nil {
			return -1, fmt.Errorf("%w: spec %d has no table", ErrBadArgument, i)
		}
		if sp.Filter != nil && sp.Filter.t != sp.Table {
			return -1, fmt.Errorf("%w: spec %d: filter of another table", ErrBadArgument, i)
		}
	}
	for i, sp := range specs {
		t := sp.Table
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			return -1, ErrClosed
		}
		_, ok, err := t.takeLocked(sp.filter(), s)
		t.mu.Unlock()
		if err != nil {
			return -1, err
		}
		if ok {
			t.st.waitImmediate.Add(1)
			return i, nil
		}
	}
	return -1, nil
}

func (sp Spec) filter() *Filter {
	if sp.Filter != nil {
		return sp.Filter
	}
	return sp.Table.all
}

// takeLocked assigns to s the oldest live unowned row at or after f.pos that
// passes f. Caller holds t.mu for writing.
//
// With a filter every candidate row is read (one pread, under the lock;
// rows are in the page cache in the common case) and its frame CRC checked;
// the verified payload is kept on the session for the row's image
// (CopyTaken), so a delivery reads the row once. Without a filter the row
// is handed out unread, and the caller, reading it for its image outside
// the lock, reports damage with SkipDamaged. A damaged row (ErrCorrupt) is
// a poison message: it is marked damaged (see markDamagedLocked), skipped
// for every consumer while the table is open, reported to s (TakeSkipped)
// and counted; it stays live, so a scan, a DELETE or TRUNCATE still sees it.
func (t *Table) takeLocked(f *Filter, s *Session) (uint64, bool, error) {
	if t.deleting > 0 || t.closed {
		return 0, false, nil
	}
	buf := s.takeBuffer()
	var ioErr error
	var got []byte
	if f.detached {
		f.pos = 1 // see evictFilterLocked
	}
	seg, i, found := t.nextLiveLocked(f.pos, func(id uint64) bool {
		if t.owned[id] != nil {
			return false
		}
		seg, k, _ := t.locateLocked(id)
		if t.damagedLocked(id, seg, seg.offs[k]) {
			return false
		}
		if f.match == nil {
			// Not read here: the write lock would be held for the read,
			// and every consumer of the table waits for it. The caller
			// reads the row for its image and reports damage with
			// SkipDamaged.
			return true
		}
		p, err := readPayload(seg, seg.offs[k], seg.lens[k], id, buf)
		if errors.Is(err, ErrCorrupt) {
			t.markDamagedLocked(id, seg, seg.offs[k])
			s.addSkipped(fmt.Errorf("table %s: %w", t.dir, err))
			return false
		}
		if err != nil {
			ioErr = err
			return true
		}
		buf = p
		if safeMatch(f.match, p) {
			got = p
			return true
		}
		f.pos = id + 1 // rows before pos fail, are owned, removed or damaged
		return false
	})
	if ioErr != nil {
		return 0, false, ioErr
	}
	if !found {
		if buf != nil {
			s.mu.Lock()
			if s.spare == nil {
				s.spare = buf[:0]
			}
			s.mu.Unlock()
		}
		if t.nextID > f.pos {
			f.pos = t.nextID
		}
		return 0, false, nil
	}
	id := seg.idAt(i)
	if s.isInOrder() && t.olderOwnedLocked(f, s, id) {
		// Not handed out: f.pos stays at or below id.
		if got != nil {
			buf = got
		}
		if buf != nil {
			s.mu.Lock()
			if s.spare == nil {
				s.spare = buf[:0]
			}
			s.mu.Unlock()
		}
		return 0, false, nil
	}
	f.pos = id + 1
	t.owned[id] = s
	s.setOwned(t, id, got)
	return id, true, nil
}

func (s *Session) isInOrder() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inOrder
}

// olderOwnedLocked reports whether a live row older than id that passes f
// is owned by a session other than s, not counting rows whose removal by
// Consume is in flight. A row that cannot be read counts as passing f.
// Caller holds t.mu; the owned rows are few (one per consumer).
func (t *Table) olderOwnedLocked(f *Filter, s *Session, id uint64) bool {
	for oid, o := range t.owned {
		if oid >= id || o == s || o.consuming {
			continue
		}
		seg, k, found := t.locateLocked(oid)
		if !found || !seg.isLive(k) {
			continue
		}
		if f.match == nil {
			return true
		}
		p, err := readPayload(seg, seg.offs[k], seg.lens[k], oid, nil)
		if err != nil || safeMatch(f.match, p) {
			return true
		}
	}
	return false
}

// SkipDamaged handles err, the error of reading the row s owns: when it is
// ErrCorrupt the row is marked damaged (never handed out again while the
// table is open), reported to s (TakeSkipped) and counted, s's ownership of
// it ends, and SkipDamaged reports true: the caller takes another row.
func (s *Session) SkipDamaged(err error) bool {
	if !errors.Is(err, ErrCorrupt) {
		return false
	}
	t, id := s.Owned()
	if t == nil {
		return false
	}
	t.mu.Lock()
	seg, k, found := t.locateLocked(id)
	ok := found && t.owned[id] == s
	if ok {
		t.markDamagedLocked(id, seg, seg.offs[k])
		delete(t.owned, id)
	}
	t.mu.Unlock()
	if !ok {
		return false
	}
	s.addSkipped(fmt.Errorf("table %s: %w", t.Dir(), err))
	s.clear()
	t.wake() // an in-order waiter may have been held back by this row
	return true
}

// damagedRow is where a damaged row was found: after Truncate (ids restart
// at 1) or a compaction the same id names another frame, which is checked
// anew.
type damagedRow struct {
	seg *segment
	off uint32
}

// damagedLocked reports whether row id, at off of seg, is known damaged.
// Caller holds t.mu.
func (t *Table) damagedLocked(id uint64, seg *segment, off uint32) bool {
	d, ok := t.st.damaged[id]
	if !ok {
		return false
	}
	if d.seg == seg && d.off == off {
		return true
	}
	delete(t.st.damaged, id)
	return false
}

// markDamagedLocked records row id as damaged and counts it (the table's
// and the process's corrupt_skipped). Caller holds t.mu for writing.
func (t *Table) markDamagedLocked(id uint64, seg *segment, off uint32) {
	if t.st.damaged == nil {
		t.st.damaged = make(map[uint64]damagedRow)
	}
	t.st.damaged[id] = damagedRow{seg, off}
	t.st.corruptSkipped.Add(1)
	global.corruptSkipped.Add(1)
}

// Consume durably removes the owned row (if any, and if still live) and
// leaves owner mode (queue_end, and the first step of queue_wait).
func (s *Session) Consume() (err error) {
	defer recoverError(&err)
	p, err := wait(s.ConsumeAsync)
	if p == nil || err != nil {
		return err
	}
	return p.Err()
}

// ConsumeAsync starts Consume without waiting for the fdatasync: the
// session leaves owner mode at once and may take its next row, while the
// consumed row stays owned by a placeholder until its removal commits, so
// no one else takes it meanwhile. With (nil, err) or (nil, nil) (nothing
// owned) it has finished and done is never called. Otherwise done is called
// once by the committer; if the removal failed the row has been given back
// to the queue by then (it is delivered again).
func (s *Session) ConsumeAsync(done func(Pending)) (p *Pending, err error) {
	p, _, err = s.ConsumeAndTake(nil, done)
	return p, err
}

// ConsumeAndTake is ConsumeAsync followed, when next is not nil and names
// the consumed row's table, by a take from next (as TryTake with that one
// spec) in the same hold of the table's lock: a consumer of a busy table
// then locks it once per message. took reports a row taken; otherwise the
// caller takes or waits as usual (Register), and an error of the take is
// left for that call to meet again.
func (s *Session) ConsumeAndTake(next *Spec, done func(Pending)) (p *Pending, took bool, err error) {
	defer recoverError(&err)
	holder := &Session{consuming: true}
	var t *Table
	var id uint64
	for {
		// consumeLocked confirms the ownership under t.mu; no Owned() first.
		s.mu.Lock()
		t, id = s.table, s.id
		s.mu.Unlock()
		if t == nil {
			s.clear()
			return nil, false, nil
		}
		if next != nil && (next.Table != t || (next.Filter != nil && next.Filter.t != t)) {
			next = nil
		}
		var handed, moved bool
		handed, moved, took = s.consumeLocked(t, id, holder, next)
		if handed {
			break
		}
		if !moved {
			s.clear()
			return nil, false, nil // ownership became inert meanwhile
		}
	}
	p, err = t.RemoveAsync([]uint64{id}, func(p Pending) {
		if p.Err() != nil && t.release(holder, id) {
			t.wake()
		}
		done(p)
	})
	if err != nil || p == nil {
		if t.release(holder, id) {
			t.wake()
		}
		if took {
			s.Release(false) // the statement fails: it owns nothing new
		}
		return nil, false, err
	}
	return p, took, nil
}

// handOver gives s's ownership of row id of t to holder (a placeholder
// owner: a removal in flight, a transaction). When s does not own it any
// more, moved reports whether an ALTER's copy took the ownership over
// meanwhile (the caller looks again with Owned).
func (s *Session) handOver(t *Table, id uint64, holder *Session) (handed, moved bool) {
	t.mu.Lock()
	handed = t.owned[id] == s
	if handed {
		t.owned[id] = holder
	}
	t.mu.Unlock()
	if handed {
		return true, false
	}
	return false, s.movedFrom(t, id)
}

// consumeLocked is handOver for a Consume: once handed, s leaves owner
// mode and, with next (a spec of t), takes its next row in the same hold
// of t.mu.
func (s *Session) consumeLocked(t *Table, id uint64, holder *Session, next *Spec) (handed, moved, took bool) {
	t.mu.Lock()
	handed = t.owned[id] == s
	if handed {
		t.owned[id] = holder
		s.clear()
		if next != nil && !t.closed {
			if _, ok, err := t.takeLocked(next.filter(), s); ok && err == nil {
				took = true
				t.st.waitImmediate.Add(1)
			}
		}
	}
	t.mu.Unlock()
	if handed {
		return true, false, took
	}
	return false, s.movedFrom(t, id), false
}

// OwnedAt returns the owned row's table and id, and the table's OwnerEpoch
// read while the ownership held (at the take, or before confirming it):
// the ownership holds at least until the epoch changes. t is nil when
// nothing is owned.
func (s *Session) OwnedAt() (t *Table, id, epoch uint64) {
	s.mu.Lock()
	t, id, epoch = s.table, s.id, s.takenEpoch
	fresh := t != nil && s.epochTable == t
	s.mu.Unlock()
	if t == nil {
		return nil, 0, 0
	}
	if fresh && t.st.ownerEpoch.Load() == epoch {
		// Read when the take assigned the row, under t.mu, and unchanged
		// since: the ownership holds, with no need to confirm it under
		// t.mu again.
		return t, id, epoch
	}
	epoch = t.OwnerEpoch()
	t, id = s.Owned()
	return t, id, epoch
}

// Release returns the owned row to its original position (delivered next),
// leaves owner mode and wakes waiters (queue_abort, disconnect). byClose
// selects which statistic counts it. Returns whether a row was released.
func (s *Session) Release(byClose bool) bool {
	var t *Table
	var id uint64
	for {
		t, id = s.Owned()
		if t == nil {
			s.clear()
			return false
		}
		// Cleared only while the ownership is still (t, id): an ALTER's
		// copy that took it over meanwhile (moveOwnerships) is looked at
		// again, and once cleared it is no longer moved.
		if s.clearIf(t, id) {
			break
		}
	}
	if !t.release(s, id) {
		return false
	}
	if byClose {
		t.st.restoredByClose.Add(1)
	} else {
		t.st.restoredByAbort.Add(1)
	}
	t.wake()
	return true
}

// release forgets s's ownership of id and moves back the position of every
// filter the row passes, so it is delivered next. It reports whether s owned
// the row.
func (t *Table) release(s *Session, id uint64) (ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.releaseLocked(s, id)
}

// releaseLocked is release with t.mu held (write).
func (t *Table) releaseLocked(s *Session, id uint64) (ok bool) {
	if t.owned[id] != s {
		return false
	}
	delete(t.owned, id)
	seg, i, found := t.locateLocked(id)
	if !found || !seg.isLive(i) {
		return true
	}
	var payload []byte
	for _, f := range t.filters {
		if f.pos <= id {
			continue
		}
		if f.match != nil {
			if payload == nil {
				p, err := readPayload(seg, seg.offs[i], seg.lens[i], id, nil)
				if err != nil {
					f.pos = id // cannot evaluate: rescan from here
					continue
				}
				payload = p
			}
			if !safeMatch(f.match, payload) {
				continue
			}
		}
		f.pos = id
	}
	return true
}

// Leave leaves owner mode; the session must own nothing.
func (s *Session) Leave() {
	s.clear()
}

// safeMatch evaluates a caller-supplied filter; a panic in it counts as "no
// match" so it can neither unwind through core's locks nor kill the
// committer goroutine (and with it the server).
func safeMatch(m MatchFunc, p []byte) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			ok = false
		}
	}()
	return m(p)
}
