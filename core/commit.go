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
// fdatasync on a futex word of its own, outside Go: a goroutine running
// a cgo callback is locked to its thread, and blocking it inside Go costs
// several scheduler hand-offs per message.

// request is one Append or Remove waiting for the committer.
type request struct {
	rows    [][]byte
	relay   *Relay
	removes []uint64 // with rows too: a transaction's one-phase commit
	// prepare: rows (and the Txn's held removals) written as prepared
	// under its xid (txn.go); resolve: the RESOLVE frame of a prepared Txn.
	prepare *Txn
	resolve *Txn
	outcome byte
	// noSync: the request may be acknowledged before its fdatasync (a
	// RESOLVE whose outcome the server's binary log keeps until
	// Table.SyncLazy). A batch is synced unless all its requests are.
	noSync bool

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
// With CommitLead, a request that finds no other request in flight (none
// queued, none being committed) is committed at once on the calling
// goroutine (it leads): a lone request then costs no hand-off to the
// committer goroutine and back. The requests that arrive meanwhile queue
// up and are taken by the committer goroutine as one batch after the
// leader's sync. While others are in flight (several connections at work)
// requests go to the committer: a leader would commit alone and halve the
// batching, and would hold one of the scheduler's Ps through its sync.
func (t *Table) submit(r *request) error {
	t.cmu.Lock()
	if t.stopping {
		t.cmu.Unlock()
		return ErrClosed
	}
	inflight := t.inflight
	t.inflight++
	if t.opts.Committer == CommitLead && !t.committing && inflight == 0 {
		t.committing = true
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
	wake := t.commitBatch(batch)
	t.cmu.Lock()
	t.inflight -= len(batch)
	t.cmu.Unlock()
	for _, r := range batch {
		r.complete()
	}
	if wake {
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
	return seg.allocated-seg.end < preallocChunk/2 && seg.allocated < t.segmentSize()
}

// commitBatch writes, syncs and publishes one batch. It reports whether
// waiters should be woken: rows were appended, or a removed row was owned
// by a connection. Every request gets its result.
//
// Steps: plan (ids, relay marks, removals, under t.mu read), place (the
// active segment or a new one when the batch does not fit), encode, write,
// sync, publish (the index under t.mu). Nothing is visible to readers or
// acknowledged before the sync; a failure before it leaves the index as it
// was, and the logical end does not move.
func (t *Table) commitBatch(batch []*request) (wake bool) {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			err := fmt.Errorf("queue: internal error in commit: %v", r)
			t.broken = fmt.Errorf("%w: %w", ErrIO, err)
			failAll(batch, err)
			wake = false
		}
	}()
	if t.broken != nil {
		return failAll(batch, t.broken)
	}
	p := t.planBatch(batch)
	if p.nrows == 0 && len(p.removeSet) == 0 && p.marks == p.startMarks && !p.txns {
		return false // nothing to write: skipped relays, no-op removals
	}
	if err := t.placeBatch(&p); err != nil {
		return failAll(batch, err)
	}
	t.encodeBatch(&p, batch)
	p.sync = p.fresh != nil
	for _, q := range batch {
		p.sync = p.sync || !q.noSync
	}
	if err := t.writeBatch(&p); err != nil {
		t.discardSegment(p.fresh)
		return failAll(batch, err)
	}
	t.publishBatch(&p, batch)
	// A removed row that a connection owned may have held back an
	// in-order waiter (Session.SetInOrder).
	return p.nrows > 0 || p.deliverable || p.ownerRemoved
}

// failAll gives every request of the batch err; it returns false (no rows
// appended) for commitBatch.
func failAll(batch []*request, err error) bool {
	for _, q := range batch {
		q.err = err
	}
	return false
}

// batchPlan is one batch on its way through commitBatch.
type batchPlan struct {
	dir               string
	active            *segment // the last segment of the index
	seg               *segment // where the batch is written: active or fresh
	fresh             *segment // a new log segment (rotation), else nil
	startID, nextID   uint64
	startMarks, marks [MaxRelaySlots]uint64
	end               int64  // offset of the batch in seg
	commits           uint64 // commit frames in seg before the batch
	removeSet         map[uint64]bool
	size              int // encoded size, segment header and state excluded
	nrows             int
	ownerRemoved      bool // a removed row was owned by a connection (not by Consume's placeholder)
	rowsAt            []placedRow
	buf               []byte
	txns              bool  // PREPARE or RESOLVE frames to write
	sync              bool  // fdatasync the batch (false: every request is noSync)
	ms                int64 // enqueue time of the batch's rows (COMMIT frame)
	deliverable       bool  // a RESOLVE made rows deliverable
}

type placedRow struct {
	id  uint64
	off int64
	n   int
}

// planBatch assigns ids, checks relay marks and selects the removals that
// change something, under a read lock: only the committer changes ids,
// marks and liveness, so the plan stays valid until publishBatch.
func (t *Table) planBatch(batch []*request) batchPlan {
	t.mu.RLock()
	defer t.mu.RUnlock()
	p := batchPlan{dir: t.dir, active: t.segs[len(t.segs)-1], nextID: t.nextID, marks: t.marks}
	p.startID, p.startMarks = p.nextID, p.marks
	p.end, p.commits = p.active.end, p.active.commits
	p.size = frameHeaderSize + commitBodySize
	for _, q := range batch {
		if q.resolve != nil {
			p.txns = true
			p.size += frameHeaderSize + resolveBodyMin + len(q.resolve.xid)
			continue
		}
		if q.prepare != nil {
			p.txns = true
			p.size += frameHeaderSize + prepareBodyMin + len(q.prepare.xid) + 8*len(q.prepare.removes)
		}
		if q.removes != nil {
			for _, id := range q.removes {
				if p.removeSet[id] {
					continue
				}
				if s, i, ok := t.locateLocked(id); ok && s.isLive(i) {
					if p.removeSet == nil {
						p.removeSet = make(map[uint64]bool)
					}
					p.removeSet[id] = true
					q.removed++
				}
			}
			if q.removed > 0 {
				p.size += frameHeaderSize + 8*q.removed
			}
			if len(q.rows) == 0 {
				continue
			}
		}
		if q.relay != nil && !q.relay.Reset && q.relay.RowID <= p.marks[q.relay.Slot] {
			q.skipped = true
			continue
		}
		q.firstID = p.nextID
		p.nextID += uint64(len(q.rows))
		p.nrows += len(q.rows)
		for _, row := range q.rows {
			p.size += frameHeaderSize + rowBodyMin + len(row)
		}
		if q.relay != nil {
			p.marks[q.relay.Slot] = q.relay.RowID
			p.size += frameHeaderSize + relayBodySize
		}
	}
	return p
}

// placeBatch chooses the segment: the active one, or a new log segment
// when the batch does not fit and the active segment has rows, or when the
// active segment is of an older format version (its COMMIT frames have
// another size: formatVersion).
func (t *Table) placeBatch(p *batchPlan) error {
	p.seg = p.active
	current := p.active.version == formatVersion
	if current && (p.end+int64(p.size) <= t.segmentSize() || p.active.nrows() == 0) {
		return nil
	}
	// A sealed segment is durable before the next one starts.
	if err := t.syncUnsyncedLocked(p.active); err != nil {
		return err
	}
	fresh, err := t.createSegment(p.dir, p.active.seq+1)
	if err != nil {
		return err
	}
	fresh.maxID = p.startID - 1
	p.seg, p.fresh = fresh, fresh
	p.end, p.commits = 0, 0
	return nil
}

// encodeBatch encodes the batch into p.buf: for a new segment its header
// and STATE first, then each append's rows (and relay frame), each
// removal's REMOVE frame, and the COMMIT.
func (t *Table) encodeBatch(p *batchPlan, batch []*request) {
	buf := t.wbuf[:0]
	if p.fresh != nil {
		buf = segmentHeader{seq: p.fresh.seq, base: p.fresh.seq, kind: kindLog}.encode(buf)
		st := stateRecord{nextRowID: p.startID, prevCommits: p.active.commits, marks: p.startMarks}
		buf = st.encode(buf)
	}
	p.rowsAt = make([]placedRow, 0, p.nrows)
	for _, q := range batch {
		if q.resolve != nil {
			buf = appendResolveFrame(buf, q.resolve.xid, q.outcome)
			continue
		}
		if q.skipped {
			continue
		}
		for k, row := range q.rows {
			id := q.firstID + uint64(k)
			p.rowsAt = append(p.rowsAt, placedRow{id, p.end + int64(len(buf)), len(row)})
			buf = appendRowFrame(buf, id, row)
		}
		if q.relay != nil {
			buf = appendRelayFrame(buf, q.relay.Slot, q.relay.RowID)
		}
		if x := q.prepare; x != nil {
			buf = appendPrepareFrame(buf, prepareRecord{xid: x.xid, firstID: q.firstID, nrows: uint32(len(q.rows)), removes: x.removes})
		}
	}
	for _, q := range batch {
		if q.removes == nil || q.removed == 0 {
			continue
		}
		ids := make([]uint64, 0, q.removed)
		for _, id := range q.removes {
			if p.removeSet[id] {
				ids = append(ids, id)
				delete(p.removeSet, id) // a duplicate id later in the batch is not logged twice
			}
		}
		buf = appendRemoveFrame(buf, ids)
		q.removes = ids
	}
	p.ms = t.nowMs()
	buf = appendCommitFrame(buf, p.commits+1, uint32(p.end), p.ms)
	if cap(buf) <= 4<<20 {
		t.wbuf = buf
	}
	p.buf = buf
}

// writeBatch prepares space, writes the batch with one positional write at
// the segment's logical end and syncs it; for a new segment it then syncs
// the directory, so the segment's entry is durable before anything in it
// is acknowledged. ErrNoSpace leaves the table writable (nothing is
// acknowledged, the next batch overwrites the partial bytes); any other
// failure makes it read-only (t.broken).
func (t *Table) writeBatch(p *batchPlan) error {
	name := filepath.Join(p.dir, p.seg.name)
	sticky := func(err error) error {
		if !errors.Is(err, ErrNoSpace) {
			t.broken = err
		}
		return err
	}
	if err := t.prepareSpace(p.seg, p.end, int64(len(p.buf))); err != nil {
		return sticky(err)
	}
	if _, err := p.seg.f.WriteAt(p.buf, p.end); err != nil {
		return sticky(classifyWriteError(name, p.end, err))
	}
	if !p.sync {
		t.unsynced = true
		return nil
	}
	if err := p.seg.f.Sync(); err != nil {
		return sticky(fileError(ErrIO, name, p.end, err))
	}
	t.unsynced = false
	t.st.syncs.Add(1)
	if p.fresh != nil {
		if err := t.fs.SyncDir(p.dir); err != nil {
			return sticky(fileError(ErrIO, p.dir, 0, err))
		}
	}
	return nil
}

// publishBatch makes the durable batch visible: the new segment, the rows,
// the segment's end and commit count, ids and marks, and the removals
// (looked up again: a compaction may have swapped the segment holding a
// row since planBatch).
func (t *Table) publishBatch(p *batchPlan, batch []*request) {
	t.mu.Lock()
	if p.fresh != nil {
		t.segs = append(t.segs, p.fresh)
	}
	first := p.seg.nrows()
	for _, r := range p.rowsAt {
		p.seg.addRow(r.id, r.off, r.n, true)
		t.st.bytesWritten.Add(uint64(r.n))
	}
	p.seg.noteBatch(first, p.ms)
	p.seg.end = p.end + int64(len(p.buf))
	p.seg.commits = p.commits + 1
	t.nextID, t.marks = p.nextID, p.marks
	t.live += uint64(p.nrows)
	removed := 0
	for _, q := range batch {
		if x := q.resolve; x != nil {
			n, d := t.applyResolveLocked(x, p.seg, q.outcome)
			removed += n
			p.deliverable = p.deliverable || d
			continue
		}
		if x := q.prepare; x != nil && !q.skipped {
			t.publishPrepareLocked(x, p.seg, q.firstID, uint32(len(q.rows)))
		}
		if q.removes == nil {
			continue
		}
		for _, id := range q.removes {
			if s, i, ok := t.locateLocked(id); ok && s.kill(i) {
				removed++
				if o := t.owned[id]; o != nil {
					if !o.consuming {
						t.st.ownerEpoch.Add(1)
						p.ownerRemoved = true
					}
					delete(t.owned, id)
				}
			}
		}
	}
	t.live -= uint64(removed)
	t.updated = time.Now()
	t.mu.Unlock()
	t.st.rowsWritten.Add(uint64(p.nrows))
	t.st.rowsRemoved.Add(uint64(removed))
	t.observe()
	if removed > 0 {
		t.kickCompaction()
	}
}

// nowMs is the enqueue time of a batch being written (unix ms).
func (t *Table) nowMs() int64 {
	if t.opts.Now != nil {
		return t.opts.Now()
	}
	return time.Now().UnixMilli()
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

// syncUnsyncedLocked makes the unsynced batches of the active segment s
// durable. Caller holds wmu.
func (t *Table) syncUnsyncedLocked(s *segment) error {
	if !t.unsynced {
		return nil
	}
	if err := s.f.Sync(); err != nil {
		err = fileError(ErrIO, filepath.Join(t.dir, s.name), 0, err)
		t.broken = err
		return err
	}
	t.unsynced = false
	t.st.syncs.Add(1)
	return nil
}

// SyncLazy makes every batch written without an fdatasync durable (the
// server's commit checkpoint, before its binary log forgets the outcomes).
func (t *Table) SyncLazy() (err error) {
	defer recoverError(&err)
	t.wmu.Lock()
	defer t.wmu.Unlock()
	if !t.unsynced {
		return nil
	}
	t.mu.RLock()
	var active *segment
	if len(t.segs) > 0 {
		active = t.segs[len(t.segs)-1]
	}
	t.mu.RUnlock()
	if active == nil {
		return nil
	}
	return t.syncUnsyncedLocked(active)
}
