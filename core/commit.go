package core

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"time"
)

// Group commit. Append and Remove queue a request and block; one committer
// goroutine per table takes every queued request, encodes them into one
// buffer ending in a commit frame, writes it at the known end of the active
// segment with one positional write, syncs once, publishes the result in the
// index under t.mu and acknowledges all requests. Requests queued while a
// batch is being synced form the next batch, so under load many requests
// share one fdatasync.
//
// AppendAsync and RemoveAsync queue the same request without blocking: the
// committer calls the request's done function instead of waking a blocked
// goroutine. The C ABI uses them so that a server thread waits for the
// fdatasync on its own condition variable, outside Go: a goroutine running
// a cgo callback is locked to its thread, and blocking it inside Go costs
// several scheduler hand-offs per message.

// request is one Append or Remove waiting for the committer.
type request struct {
	rows    [][]byte
	relay   *Relay
	removes []uint64

	// Results, written by the committer before completed is set.
	firstID uint64
	skipped bool
	removed int
	err     error

	// done is called exactly once by the committer (after completed is set,
	// with no table lock held) and is given the request's results; it must
	// not block.
	done      func(Pending)
	completed atomic.Bool
}

// Pending is a queued Append or Remove. Its results may be read once its
// done function has been called (Done reports it).
type Pending struct{ r *request }

// Done reports whether the committer has completed the request; the
// results below are valid only then.
func (p *Pending) Done() bool { return p.r.completed.Load() }

// FirstID is the row id of the first appended row (AppendAsync).
func (p *Pending) FirstID() uint64 { return p.r.firstID }

// Skipped reports an append whose relay mark was a duplicate (nothing written).
func (p *Pending) Skipped() bool { return p.r.skipped }

// Removed is the number of rows actually removed (RemoveAsync).
func (p *Pending) Removed() int { return p.r.removed }

// Err is the request's error; nil means durable.
func (p *Pending) Err() error { return p.r.err }

// complete publishes r's results and calls its done function. A panicking
// done function must not stop the committer: every other request of the
// batch still has to be completed.
func (r *request) complete() {
	r.completed.Store(true)
	defer func() { _ = recover() }()
	r.done(Pending{r})
}

// wait runs f (which queues a request with done) and blocks until the
// committer has completed it. It is the synchronous form of the *Async calls.
func wait(f func(done func(Pending)) (*Pending, error)) (*Pending, error) {
	ch := make(chan struct{})
	p, err := f(func(Pending) { close(ch) })
	if p == nil || err != nil {
		return p, err
	}
	<-ch
	return p, nil
}

// Append writes rows (one statement's worth) durably: it returns only after
// the rows and a commit frame are fdatasync'ed. Rows are atomic across a crash.
// Concurrent Appends (and Removes) share one write and one sync.
// With relay != nil and !relay.Reset, if relay.RowID <= the table's mark for
// relay.Slot, nothing is written and skipped is true. Otherwise the mark is
// set to relay.RowID in the same commit as the rows.
// firstID is the row id of rows[0]; the others follow by +1.
// After commit, waiting sessions whose filter matches are handed rows.
func (t *Table) Append(rows [][]byte, relay *Relay) (firstID uint64, skipped bool, err error) {
	defer recoverError(&err)
	p, err := wait(func(done func(Pending)) (*Pending, error) { return t.AppendAsync(rows, relay, done) })
	if p == nil || err != nil {
		return 0, false, err
	}
	return p.r.firstID, p.r.skipped, p.r.err
}

// AppendAsync is Append without waiting. It returns (nil, err) when it
// fails at once or (nil, nil) when there is nothing to write; done is then
// never called. Otherwise done is called exactly once, from the committer
// goroutine after the fdatasync (or the failure) with no table lock held,
// with the results (the same as the returned Pending's, valid from then on;
// done may run before AppendAsync returns). done must not block.
func (t *Table) AppendAsync(rows [][]byte, relay *Relay, done func(Pending)) (p *Pending, err error) {
	defer recoverError(&err)
	if relay != nil && (relay.Slot < 0 || relay.Slot >= MaxRelaySlots) {
		return nil, fmt.Errorf("%w: relay slot %d not in 0..%d", ErrBadArgument, relay.Slot, MaxRelaySlots-1)
	}
	if relay != nil && relay.RowID == 0 {
		relay = nil // "no source"
	}
	total := 0
	for _, r := range rows {
		if len(r) > MaxRowSize {
			return nil, fmt.Errorf("%w: %d bytes (max %d)", ErrTooLarge, len(r), MaxRowSize)
		}
		total += frameHeaderSize + rowBodyMin + len(r)
		if total > maxBatchBytes {
			return nil, fmt.Errorf("%w: statement of more than %d bytes", ErrTooLarge, maxBatchBytes)
		}
	}
	if len(rows) == 0 && relay == nil {
		return nil, nil
	}
	r := &request{rows: rows, relay: relay, done: done}
	if err := t.submit(r); err != nil {
		return nil, err
	}
	return &Pending{r}, nil
}

// Remove removes rows by id durably (returns after fdatasync). Ids that are
// unknown or already removed are ignored and change no counter. Rows owned by
// a session are removed too (the caller decides visibility); their owner's
// ownership becomes inert. Returns the number of rows actually removed.
func (t *Table) Remove(ids []uint64) (removed int, err error) {
	defer recoverError(&err)
	p, err := wait(func(done func(Pending)) (*Pending, error) { return t.RemoveAsync(ids, done) })
	if p == nil || err != nil {
		return 0, err
	}
	return p.r.removed, p.r.err
}

// RemoveAsync is Remove without waiting, with AppendAsync's contract:
// (nil, nil) for an empty list, (nil, err) for an immediate failure,
// otherwise done is called exactly once by the committer.
func (t *Table) RemoveAsync(ids []uint64, done func(Pending)) (p *Pending, err error) {
	defer recoverError(&err)
	if len(ids) == 0 {
		return nil, nil
	}
	if 8*len(ids) > maxBatchBytes/2 {
		return nil, fmt.Errorf("%w: %d ids in one removal", ErrTooLarge, len(ids))
	}
	r := &request{removes: ids, done: done}
	if err := t.submit(r); err != nil {
		return nil, err
	}
	return &Pending{r}, nil
}

// submit queues r for the committer; r.done is called once it is
// acknowledged. It fails (and done is never called) only when the table
// is closing.
//
// With CommitLead, a request that finds no commit in progress, nothing
// queued and the last batch a lone request is committed at once on the
// calling goroutine (it leads): a lone request then costs no hand-off to
// the committer goroutine and back. The requests that arrive meanwhile
// queue up and are taken by the committer goroutine as one batch after the
// leader's sync. Once batches hold several requests (several connections
// at work) the committer goroutine keeps them: a leader would commit alone
// and halve the batching.
func (t *Table) submit(r *request) error {
	t.cmu.Lock()
	if t.stopping {
		t.cmu.Unlock()
		return ErrClosed
	}
	if t.opts.Committer == CommitLead && !t.committing && len(t.pending) == 0 && t.lastBatch <= 1 {
		t.committing = true
		t.lastBatch = 1
		t.cmu.Unlock()
		t.commitAndComplete([]*request{r}, true)
		t.cmu.Lock()
		t.committing = false
		if len(t.pending) > 0 || t.stopping || t.fillWanted || t.wakeWanted {
			t.ccond.Signal()
		}
		t.cmu.Unlock()
		return nil
	}
	t.pending = append(t.pending, r)
	if len(t.pending) == 1 && !t.committing {
		t.ccond.Signal()
	}
	t.cmu.Unlock()
	return nil
}

// commitLoop is the committer goroutine. It exits once stopping is set,
// the queue is drained and no leader is committing. committing (under
// cmu) makes the committer and a leading submitter take turns.
func (t *Table) commitLoop() {
	defer close(t.loopDone)
	var batch []*request
	for {
		t.cmu.Lock()
		for t.committing || (len(t.pending) == 0 && !t.fillWanted && !t.wakeWanted && !t.stopping) {
			t.ccond.Wait()
		}
		if t.wakeWanted {
			t.wakeWanted = false
			t.cmu.Unlock()
			t.wake()
			continue
		}
		if len(t.pending) == 0 && t.fillWanted && !t.stopping {
			t.fillWanted = false
			t.cmu.Unlock()
			t.fillWhenIdle()
			continue
		}
		if len(t.pending) == 0 {
			stop := t.stopping
			t.cmu.Unlock()
			if stop {
				return
			}
			continue
		}
		batch, t.pending = t.pending, batch[:0]
		t.committing = true
		t.lastBatch = len(batch)
		t.cmu.Unlock()
		t.commitAndComplete(batch, false)
		for i := range batch {
			batch[i] = nil
		}
		t.cmu.Lock()
		t.committing = false
		t.cmu.Unlock()
		t.fillWhenIdle()
	}
}

// commitAndComplete commits one batch and completes its requests, then
// hands rows to waiters. A leader (lead) does not block on the waiters'
// locks (tryWake), and leaves zero-filling ahead of the writer to the
// committer goroutine: both are then requested with wakeWanted and
// fillWanted.
func (t *Table) commitAndComplete(batch []*request, lead bool) {
	appended := t.commitBatch(batch)
	for _, r := range batch {
		r.complete()
	}
	if appended {
		if !lead {
			t.wake()
		} else if !t.tryWake() {
			t.cmu.Lock()
			t.wakeWanted = true
			t.cmu.Unlock()
		}
	}
	if t.opts.Committer == CommitLead && t.opts.Prealloc == PreallocZeroFill && t.spaceLow() {
		t.cmu.Lock()
		t.fillWanted = true
		t.cmu.Unlock()
	}
}

// spaceLow reports whether the active segment's prepared space ahead of
// the writer is below half a chunk.
func (t *Table) spaceLow() bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if len(t.segs) == 0 {
		return false
	}
	seg := t.segs[len(t.segs)-1]
	return seg.allocated-seg.end < preallocChunk/2 && seg.allocated < t.opts.SegmentSize
}

// commitBatch writes, syncs and publishes one batch. It reports whether rows
// were appended (waiters should be woken). Every request gets its result.
func (t *Table) commitBatch(batch []*request) (appended bool) {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			err := fmt.Errorf("queue: internal error in commit: %v", r)
			t.broken = fmt.Errorf("%w: %w", ErrIO, err)
			for _, q := range batch {
				q.err = err
			}
			appended = false
		}
	}()
	fail := func(err error) bool {
		for _, q := range batch {
			q.err = err
		}
		return false
	}
	if t.broken != nil {
		return fail(t.broken)
	}

	// Plan: assign ids, check relay marks, select removals, under a read
	// lock (only this goroutine changes ids, marks and liveness).
	t.mu.RLock()
	active := t.segs[len(t.segs)-1]
	nextID, marks := t.nextID, t.marks
	startID, startMarks := nextID, marks
	end, commits := active.end, active.commits
	var removeSet map[uint64]bool
	size := frameHeaderSize + commitBodySize
	nrows := 0
	for _, q := range batch {
		if q.removes != nil {
			for _, id := range q.removes {
				if removeSet[id] {
					continue
				}
				if s, i, ok := t.locateLocked(id); ok && s.isLive(i) {
					if removeSet == nil {
						removeSet = make(map[uint64]bool)
					}
					removeSet[id] = true
					q.removed++
				}
			}
			if q.removed > 0 {
				size += frameHeaderSize + 8*q.removed
			}
			continue
		}
		if q.relay != nil && !q.relay.Reset && q.relay.RowID <= marks[q.relay.Slot] {
			q.skipped = true
			continue
		}
		q.firstID = nextID
		nextID += uint64(len(q.rows))
		nrows += len(q.rows)
		for _, row := range q.rows {
			size += frameHeaderSize + rowBodyMin + len(row)
		}
		if q.relay != nil {
			marks[q.relay.Slot] = q.relay.RowID
			size += frameHeaderSize + relayBodySize
		}
	}
	dir := t.dir
	t.mu.RUnlock()

	if nrows == 0 && len(removeSet) == 0 && marks == startMarks {
		return false // nothing to write: skipped relays, no-op removals
	}

	// Rotate when the batch does not fit and the active segment has rows.
	var fresh *segment
	seg := active
	if end+int64(size) > t.opts.SegmentSize && active.nrows() > 0 {
		var err error
		fresh, err = t.createSegment(dir, active.seq+1)
		if err != nil {
			return fail(err)
		}
		seg = fresh
		fresh.maxID = startID - 1
		end, commits = 0, 0
	}

	// Encode.
	buf := t.wbuf[:0]
	if fresh != nil {
		buf = segmentHeader{seq: fresh.seq, base: fresh.seq, kind: kindLog}.encode(buf)
		st := stateRecord{nextRowID: startID, prevCommits: active.commits, marks: startMarks}
		buf = st.encode(buf)
	}
	type placed struct {
		id  uint64
		off int64
		n   int
	}
	rowsAt := make([]placed, 0, nrows)
	for _, q := range batch {
		if q.removes != nil || q.skipped {
			continue
		}
		for k, row := range q.rows {
			rowsAt = append(rowsAt, placed{q.firstID + uint64(k), end + int64(len(buf)), len(row)})
			buf = appendRowFrame(buf, q.firstID+uint64(k), row)
		}
		if q.relay != nil {
			buf = appendRelayFrame(buf, q.relay.Slot, q.relay.RowID)
		}
	}
	for _, q := range batch {
		if q.removes == nil || q.removed == 0 {
			continue
		}
		ids := make([]uint64, 0, q.removed)
		for _, id := range q.removes {
			if removeSet[id] {
				ids = append(ids, id)
				delete(removeSet, id) // a duplicate id later in the batch is not logged twice
			}
		}
		buf = appendRemoveFrame(buf, ids)
		q.removes = ids
	}
	buf = appendCommitFrame(buf, commits+1, uint32(end))
	if cap(buf) <= 4<<20 {
		t.wbuf = buf
	}

	// Write and sync.
	if err := t.prepareSpace(seg, end, int64(len(buf))); err != nil {
		if !errors.Is(err, ErrNoSpace) {
			t.broken = err
		}
		t.discardSegment(fresh)
		return fail(err)
	}
	if _, err := seg.f.WriteAt(buf, end); err != nil {
		err = classifyWriteError(filepath.Join(dir, seg.name), end, err)
		if !errors.Is(err, ErrNoSpace) {
			t.broken = err
		}
		t.discardSegment(fresh)
		return fail(err)
	}
	if err := seg.f.Sync(); err != nil {
		t.broken = fileError(ErrIO, filepath.Join(dir, seg.name), end, err)
		t.discardSegment(fresh)
		return fail(t.broken)
	}
	t.st.syncs.Add(1)
	if fresh != nil {
		if err := t.fs.SyncDir(dir); err != nil {
			t.broken = fileError(ErrIO, dir, 0, err)
			t.discardSegment(fresh)
			return fail(t.broken)
		}
	}

	// Publish.
	t.mu.Lock()
	if fresh != nil {
		t.segs = append(t.segs, fresh)
	}
	for _, p := range rowsAt {
		seg.addRow(p.id, p.off, p.n, true)
		t.st.bytesWritten.Add(uint64(p.n))
	}
	seg.end = end + int64(len(buf))
	seg.commits = commits + 1
	t.nextID, t.marks = nextID, marks
	t.live += uint64(nrows)
	removed := 0
	for _, q := range batch {
		if q.removes == nil {
			continue
		}
		for _, id := range q.removes {
			if s, i, ok := t.locateLocked(id); ok && s.kill(i) {
				removed++
				if o := t.owned[id]; o != nil {
					if !o.consuming {
						t.st.ownerEpoch.Add(1)
					}
					delete(t.owned, id)
				}
			}
		}
	}
	t.live -= uint64(removed)
	t.updated = time.Now()
	t.mu.Unlock()
	t.st.rowsWritten.Add(uint64(nrows))
	t.st.rowsRemoved.Add(uint64(removed))
	t.observe()
	if removed > 0 {
		t.kickCompaction()
	}
	return nrows > 0
}

// createSegment creates log segment seq (not yet durable: the caller syncs
// the file and the directory before acknowledging anything written to it).
func (t *Table) createSegment(dir string, seq uint64) (*segment, error) {
	name := filepath.Join(dir, segmentName(seq))
	f, err := t.fs.Create(name)
	if err != nil {
		err = classifyWriteError(name, 0, err)
		if !errors.Is(err, ErrNoSpace) {
			t.broken = err
		}
		return nil, err
	}
	return newSegment(seq, seq, kindLog, f), nil
}

// discardSegment deletes a segment created for a batch that failed.
func (t *Table) discardSegment(s *segment) {
	if s == nil {
		return
	}
	s.release()
	_ = t.fs.Remove(filepath.Join(t.dir, s.name))
}
