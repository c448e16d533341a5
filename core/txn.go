package core

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
)

// Txn is one transaction's writes to one table: the rows it appends and
// the rows it removes, both applied when it commits.
//
// Until then the appended rows stay in the Txn's memory (the caller bounds
// their size) and the rows it removes are held: a placeholder owner
// (holder) owns them, so no consumer takes them and no scan shows them,
// and a rollback gives them back to the queue at their original position.
//
// One-phase commit writes the rows and REMOVE frames in one batch, like an
// INSERT. Two-phase commit (PrepareAsync, then CommitAsync or
// RollbackAsync) writes the rows and a PREPARE frame naming the
// transaction's xid and listing its removals; the prepared rows are held
// too. A RESOLVE frame then commits or rolls it back. Recovery rebuilds a
// prepared transaction that has no RESOLVE frame (PreparedTxns), to be
// resolved the way the server decides.
//
// The methods of one Txn are called by one thread at a time (a connection,
// or the server thread resolving a recovered transaction). mu guards the
// fields against a second caller; the committer reads and writes them
// without it while it prepares or resolves the transaction, when the
// caller is waiting for that request (its done function orders the two).
// Lock order: Txn.mu, then Table.mu.
type Txn struct {
	t      *Table
	holder *Session // placeholder owner of the held rows (consuming)

	mu      sync.Mutex
	rows    [][]byte // appended rows, not yet written
	bytes   int      // frame bytes of rows
	removes []uint64 // held rows this transaction removes
	state   txnState
	xid     string
	// Once prepared (guarded by t.mu): the PREPARE frame's segment and
	// the prepared rows [first, first+n).
	prepSeg *segment
	first   uint64
	n       uint32
}

type txnState int

const (
	txnOpen     txnState = iota
	txnPrepared          // PREPARE durable, no RESOLVE yet
	txnDone              // committed, rolled back, or made inert by TRUNCATE/DROP
)

// ErrTxnState is returned by a Txn call that its state does not allow
// (adding to a prepared transaction, preparing twice).
var ErrTxnState = errors.New("queue: transaction state does not allow this")

// Begin starts a transaction's part in t.
func (t *Table) Begin() *Txn {
	return &Txn{t: t, holder: &Session{consuming: true}}
}

// XID is the prepared transaction's identifier ("" before PrepareAsync).
func (x *Txn) XID() string {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.xid
}

// Add buffers rows (copied) to append at commit. limit bounds the
// transaction's row bytes in this table (0: the batch limit); beyond it
// Add fails with ErrTooLarge and buffers nothing of this call.
func (x *Txn) Add(rows [][]byte, limit int) (err error) {
	defer recoverError(&err)
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.state != txnOpen {
		return ErrTxnState
	}
	if limit <= 0 || limit > maxBatchBytes {
		limit = maxBatchBytes
	}
	n := x.bytes
	for _, r := range rows {
		if len(r) > MaxRowSize {
			return fmt.Errorf("%w: %d bytes (max %d)", ErrTooLarge, len(r), MaxRowSize)
		}
		n += frameHeaderSize + rowBodyMin + len(r)
		if n > limit {
			return fmt.Errorf("%w: the transaction's rows in this table exceed %d bytes", ErrTooLarge, limit)
		}
	}
	for _, r := range rows {
		x.rows = append(x.rows, append([]byte(nil), r...))
	}
	x.bytes = n
	return nil
}

// HoldOwned moves s's owned row, if it is in x's table, into the
// transaction: its removal happens at commit, and s leaves owner mode at
// once (queue_end, or the consume step of queue_wait, in a transaction).
// It reports whether a row was held; when not, s owns nothing any more,
// unless its row is now in another table (an ALTER's copy took it over):
// then s keeps it and the caller holds it in that table's part.
func (x *Txn) HoldOwned(s *Session) bool {
	t, id := s.Owned()
	if t != x.t {
		return false
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.state != txnOpen {
		return false
	}
	handed, moved := s.handOver(t, id, x.holder)
	if handed {
		x.removes = append(x.removes, id)
	}
	if handed || !moved {
		s.clear()
	}
	return handed
}

// Hold moves the live rows ids into the transaction (a DELETE in a
// transaction): they are removed at commit and delivered to nobody
// meanwhile. A row owned by another session is left alone (a DELETE never
// removes a row somebody else owns); a row s owns is taken from s, whose
// ownership becomes inert. It returns the number of rows held.
func (x *Txn) Hold(ids []uint64, s *Session) (n int, err error) {
	defer recoverError(&err)
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.state != txnOpen {
		return 0, ErrTxnState
	}
	t := x.t
	n, fromOwner, err := t.holdLocked(x, ids, s)
	if fromOwner {
		// The owner's cached image of the row is stale now.
		t.st.ownerEpoch.Add(1)
		t.observe()
	}
	return n, err
}

// holdLocked is Hold's work under t.mu.
func (t *Table) holdLocked(x *Txn, ids []uint64, s *Session) (n int, fromOwner bool, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return 0, false, ErrClosed
	}
	for _, id := range ids {
		seg, i, ok := t.locateLocked(id)
		if !ok || !seg.isLive(i) {
			continue
		}
		switch o := t.owned[id]; {
		case o == nil:
		case o == s && s != nil:
			fromOwner = true
		default:
			continue
		}
		t.owned[id] = x.holder
		x.removes = append(x.removes, id)
		n++
	}
	return n, fromOwner, nil
}

// TxnMark is a savepoint of a Txn.
type TxnMark struct{ rows, removes int }

// Mark returns the transaction's current point (SAVEPOINT).
func (x *Txn) Mark() TxnMark {
	x.mu.Lock()
	defer x.mu.Unlock()
	return TxnMark{len(x.rows), len(x.removes)}
}

// RollbackTo undoes what was added after m (ROLLBACK TO SAVEPOINT): later
// rows are dropped, later held rows go back to the queue.
func (x *Txn) RollbackTo(m TxnMark) {
	x.mu.Lock()
	if x.state != txnOpen || m.rows > len(x.rows) || m.removes > len(x.removes) {
		x.mu.Unlock()
		return
	}
	for _, r := range x.rows[m.rows:] {
		x.bytes -= frameHeaderSize + rowBodyMin + len(r)
	}
	clear(x.rows[m.rows:])
	x.rows = x.rows[:m.rows]
	back := append([]uint64(nil), x.removes[m.removes:]...)
	x.removes = x.removes[:m.removes]
	x.mu.Unlock()
	x.giveBack(back)
}

// giveBack returns held rows to the queue and wakes waiters.
func (x *Txn) giveBack(ids []uint64) {
	if len(ids) == 0 {
		return
	}
	released := false
	for _, id := range ids {
		if x.t.release(x.holder, id) {
			released = true
		}
	}
	if released {
		x.t.wake()
	}
}

// CommitAsync commits the transaction: one batch with its rows and
// removals (one-phase), or its RESOLVE frame when prepared. (nil, nil):
// nothing to write, done is never called. Otherwise done is called once
// after the fdatasync; on failure the held rows have been given back (the
// transaction is rolled back), except for a prepared one, which stays
// prepared (the server retries or recovery resolves it).
func (x *Txn) CommitAsync(done func(Pending)) (p *Pending, err error) {
	return x.commitAsync(false, done)
}

// CommitNoSyncAsync is CommitAsync where the RESOLVE frame of a prepared
// transaction may be acknowledged before it is durable: the server's binary
// log, which has the commit, re-commits the transaction at recovery until
// Table.SyncLazy has run (the commit checkpoint). A one-phase commit is
// synced all the same.
func (x *Txn) CommitNoSyncAsync(done func(Pending)) (p *Pending, err error) {
	return x.commitAsync(true, done)
}

func (x *Txn) commitAsync(noSync bool, done func(Pending)) (p *Pending, err error) {
	defer recoverError(&err)
	x.mu.Lock()
	switch x.state {
	case txnPrepared:
		x.mu.Unlock()
		return x.resolveAsync(resolveCommit, noSync, done)
	case txnDone:
		x.mu.Unlock()
		return nil, nil
	}
	rows, removes := x.rows, x.removes
	x.rows, x.removes, x.bytes, x.state = nil, nil, 0, txnDone
	x.mu.Unlock()
	if len(rows) == 0 && len(removes) == 0 {
		return nil, nil
	}
	r := &request{rows: rows, removes: removes}
	r.done = func(p Pending) {
		if p.Err() != nil {
			x.giveBack(removes)
		}
		done(p)
	}
	if err := x.t.submit(r); err != nil {
		x.giveBack(removes)
		return nil, err
	}
	return &Pending{r}, nil
}

// PrepareAsync makes the transaction's rows and removals durable as
// prepared under xid (two-phase commit), invisible until CommitAsync.
// (nil, nil): nothing to write (a read-only part: the transaction is then
// done, and its commit or rollback is a no-op). On failure the transaction
// stays open (the server rolls it back).
func (x *Txn) PrepareAsync(xid string, done func(Pending)) (p *Pending, err error) {
	defer recoverError(&err)
	if len(xid) == 0 || len(xid) > MaxXIDSize {
		return nil, fmt.Errorf("%w: transaction id of %d bytes", ErrBadArgument, len(xid))
	}
	x.mu.Lock()
	if x.state != txnOpen {
		x.mu.Unlock()
		return nil, ErrTxnState
	}
	if len(x.rows) == 0 && len(x.removes) == 0 {
		x.state = txnDone
		x.mu.Unlock()
		return nil, nil
	}
	x.xid = xid
	r := &request{rows: x.rows, prepare: x, done: done}
	x.mu.Unlock()
	if err := x.t.submit(r); err != nil {
		return nil, err
	}
	return &Pending{r}, nil
}

// RollbackAsync rolls the transaction back: an open one at once (held
// rows go back to the queue, buffered rows are dropped; (nil, nil)); a
// prepared one with a durable RESOLVE frame, done being called after it.
func (x *Txn) RollbackAsync(done func(Pending)) (p *Pending, err error) {
	defer recoverError(&err)
	x.mu.Lock()
	switch x.state {
	case txnPrepared:
		x.mu.Unlock()
		return x.resolveAsync(resolveRollback, false, done)
	case txnDone:
		x.mu.Unlock()
		return nil, nil
	}
	back := x.removes
	x.rows, x.removes, x.bytes, x.state = nil, nil, 0, txnDone
	x.mu.Unlock()
	x.giveBack(back)
	return nil, nil
}

func (x *Txn) resolveAsync(outcome byte, noSync bool, done func(Pending)) (*Pending, error) {
	r := &request{resolve: x, outcome: outcome, noSync: noSync, done: done}
	if err := x.t.submit(r); err != nil {
		return nil, err
	}
	return &Pending{r}, nil
}

// Commit and Rollback are the synchronous forms (tests, tools).
func (x *Txn) Commit() error   { return waitErr(x.CommitAsync) }
func (x *Txn) Rollback() error { return waitErr(x.RollbackAsync) }

// Prepare is the synchronous PrepareAsync.
func (x *Txn) Prepare(xid string) error {
	return waitErr(func(done func(Pending)) (*Pending, error) { return x.PrepareAsync(xid, done) })
}

func waitErr(f func(done func(Pending)) (*Pending, error)) (err error) {
	defer recoverError(&err)
	p, err := wait(f)
	if p == nil || err != nil {
		return err
	}
	return p.Err()
}

// PreparedTxns returns the table's prepared transactions that have no
// outcome yet, those recovered from the log included.
func (t *Table) PreparedTxns() []*Txn {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]*Txn, 0, len(t.prepared))
	for _, x := range t.prepared {
		out = append(out, x)
	}
	return out
}

// publishPrepareLocked records the durable PREPARE of x, whose rows were
// written at [first, first+n) of seg: they and its removals stay held.
// Caller holds t.mu (write).
func (t *Table) publishPrepareLocked(x *Txn, seg *segment, first uint64, n uint32) {
	for id := first; id < first+uint64(n); id++ {
		t.owned[id] = x.holder
	}
	x.state, x.prepSeg, x.first, x.n = txnPrepared, seg, first, n
	x.rows, x.bytes = nil, 0
	seg.unresolved++
	if t.prepared == nil {
		t.prepared = make(map[string]*Txn)
	}
	t.prepared[x.xid] = x
}

// applyResolveLocked applies the outcome of the prepared x, whose RESOLVE
// frame is in seg: on commit its rows become visible and its removals take
// effect; on rollback its rows are removed and its held rows go back to
// the queue. It reports the rows removed (the caller updates t.live) and
// whether rows became deliverable. Caller holds t.mu (write).
func (t *Table) applyResolveLocked(x *Txn, seg *segment, outcome byte) (removed int, deliverable bool) {
	first, n, removes, prepSeg := x.first, x.n, x.removes, x.prepSeg
	x.state, x.removes = txnDone, nil
	delete(t.prepared, x.xid)
	if prepSeg != nil {
		prepSeg.unresolved--
		if seg.resolvesFrom == 0 || prepSeg.seq < seg.resolvesFrom {
			seg.resolvesFrom = prepSeg.seq
		}
	}
	kill := func(id uint64) {
		if s, i, ok := t.locateLocked(id); ok && s.kill(i) {
			removed++
		}
		if t.owned[id] == x.holder {
			delete(t.owned, id)
		}
	}
	if outcome == resolveCommit {
		for _, id := range removes {
			kill(id)
		}
		for id := first; id < first+uint64(n); id++ {
			if t.owned[id] == x.holder {
				delete(t.owned, id)
			}
		}
		if n > 0 {
			for _, f := range t.filters {
				f.pos = min(f.pos, first)
			}
			deliverable = true
		}
	} else {
		for id := first; id < first+uint64(n); id++ {
			kill(id)
		}
		for _, id := range removes {
			if t.releaseLocked(x.holder, id) {
				deliverable = true
			}
		}
	}
	return removed, deliverable
}

// endPreparedLocked makes every prepared transaction inert (TRUNCATE, a
// failed recovery attempt): its rows are gone, and its commit or rollback
// writes nothing. Caller holds t.mu (write).
func (t *Table) endPreparedLocked() {
	for _, x := range t.prepared {
		x.state, x.removes = txnDone, nil
	}
	t.prepared = nil
}

// MayHavePrepared reports whether the table in dir, not open, may hold
// prepared transactions: false only when its last close wrote a
// checkpoint, which it does only without transaction frames to replay.
// Server recovery opens the tables for which it is true.
func MayHavePrepared(fsys FS, dir string) bool {
	ok, err := fsys.Exists(filepath.Join(dir, checkpointName))
	return err != nil || !ok
}
