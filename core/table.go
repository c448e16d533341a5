package core

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a table. The zero value is the production setting.
type Options struct {
	FS          FS    // nil: the real file system
	SegmentSize int64 // 0: default (64 MiB)
	// NoBackground disables the background compaction goroutine (tests).
	NoBackground bool
	// Prealloc selects how segment space is prepared ahead of the writer
	// (see prealloc.go). The zero value is the fastest durable mode measured.
	Prealloc PreallocMode
	// Committer selects who writes and syncs a group commit (commit.go).
	Committer CommitterMode
	// Now, when set, is the clock of enqueue times in unix milliseconds
	// (tests); nil: the system clock.
	Now func() int64
	// OnCompaction, when set, is called after each background compaction
	// that did something or failed (from the compaction goroutine, no
	// table lock held).
	OnCompaction func(CompactionInfo)
}

// CommitterMode selects who runs a group commit.
type CommitterMode int

const (
	// CommitLead: a request that finds the table idle commits on the
	// caller's goroutine; requests arriving meanwhile go to the committer
	// goroutine as one batch.
	CommitLead CommitterMode = iota
	// CommitGoroutine: every request is handed to the committer goroutine.
	CommitGoroutine
)

const (
	defaultSegmentSize = 64 << 20
	// MinSegmentSize and MaxSegmentSize bound SetTuning's SegmentSize.
	MinSegmentSize = 1 << 20
	MaxSegmentSize = 1 << 30
)

func (o *Options) norm() {
	if o.FS == nil {
		o.FS = OSFS{}
	}
	if o.SegmentSize > MaxSegmentSize {
		o.SegmentSize = MaxSegmentSize
	}
}

// Tuning is the process-wide setting of the tables that do not set their
// own (SetTuning). It may change while tables are open: each value is read
// where it is used.
type Tuning struct {
	// SegmentSize is the size at which a table starts a new segment file
	// (tables whose Options.SegmentSize is 0). Default 64 MiB.
	SegmentSize int64
	// CompactLivePercent: compaction rewrites a range of sealed segments
	// when at most this percentage of its bytes belong to live rows.
	// Default 50.
	CompactLivePercent int
	// CompactRest is the background compaction's pause between two looks
	// at a table. Default 50 ms.
	CompactRest time.Duration
}

// DefaultTuning is the setting of a process that never calls SetTuning.
var DefaultTuning = Tuning{SegmentSize: defaultSegmentSize, CompactLivePercent: 50, CompactRest: 50 * time.Millisecond}

var (
	tuneSegmentSize atomic.Int64
	tuneLivePercent atomic.Int64
	tuneCompactRest atomic.Int64 // nanoseconds
)

func init() { _ = SetTuning(DefaultTuning) }

// SetTuning changes the process-wide Tuning; ErrBadArgument (and nothing
// changed) for a value out of its range: SegmentSize in
// [MinSegmentSize, MaxSegmentSize], CompactLivePercent in [1, 99],
// CompactRest in [0, 1 min].
func SetTuning(tu Tuning) error {
	if tu.SegmentSize < MinSegmentSize || tu.SegmentSize > MaxSegmentSize {
		return fmt.Errorf("%w: segment size %d not in %d..%d", ErrBadArgument, tu.SegmentSize, MinSegmentSize, MaxSegmentSize)
	}
	if tu.CompactLivePercent < 1 || tu.CompactLivePercent > 99 {
		return fmt.Errorf("%w: compaction live percentage %d not in 1..99", ErrBadArgument, tu.CompactLivePercent)
	}
	if tu.CompactRest < 0 || tu.CompactRest > time.Minute {
		return fmt.Errorf("%w: compaction rest %v not in 0..1m", ErrBadArgument, tu.CompactRest)
	}
	tuneSegmentSize.Store(tu.SegmentSize)
	tuneLivePercent.Store(int64(tu.CompactLivePercent))
	tuneCompactRest.Store(int64(tu.CompactRest))
	return nil
}

// CurrentTuning returns the process-wide Tuning.
func CurrentTuning() Tuning {
	return Tuning{
		SegmentSize:        tuneSegmentSize.Load(),
		CompactLivePercent: int(tuneLivePercent.Load()),
		CompactRest:        time.Duration(tuneCompactRest.Load()),
	}
}

// segmentSize is the table's segment size now: its own, or the process's.
func (t *Table) segmentSize() int64 {
	if t.opts.SegmentSize > 0 {
		return t.opts.SegmentSize
	}
	return tuneSegmentSize.Load()
}

// tableSeq numbers tables for a canonical lock order and identity.
var tableSeq atomic.Uint64

// Table is one open queue table. All methods are safe for concurrent use.
// One *Table exists per table directory in a process: the layer above keeps
// the registry (path -> *Table) and must not open the same directory twice.
//
// Lock order: waitMu (global, wait.go) → compactMu → wmu → mu → Session.mu.
// cmu is a leaf lock; notify callbacks run with no lock held.
type Table struct {
	fs   FS
	opts Options
	id   uint64 // from tableSeq

	mu     tableLock
	dir    string                // guarded by mu (written with wmu held too)
	segs   []*segment            // guarded by mu; ordered by seq, last is active
	nextID uint64                // guarded by mu: next row id to assign
	marks  [MaxRelaySlots]uint64 // guarded by mu
	owned  map[uint64]*Session   // guarded by mu: row id -> owner
	// prepared transactions without an outcome, by xid (txn.go)
	prepared map[string]*Txn    // guarded by mu
	filters  map[string]*Filter // guarded by mu
	// filterClock orders filter lookups for the LRU eviction of filters.
	filterClock atomic.Uint64
	all         *Filter // match-all filter
	live        uint64  // guarded by mu: live rows
	closed      bool    // guarded by mu
	deleting    int     // guarded by mu: running non-owner DELETEs
	// copy is the table an ALTER copied t's rows into (SetCopy), adopted
	// the directory name whose owners a copy moved into t; both guarded
	// by mu and used by the next Rename (copy.go).
	copy    *tableCopy
	adopted string
	updated time.Time // guarded by mu

	// Committer state (commit.go).
	cmu        sync.Mutex // guards pending, stopping, committing, fillWanted, wakeWanted, inflight
	ccond      *sync.Cond
	pending    []*request
	stopping   bool
	committing bool       // a batch is being committed (by the committer or a leader)
	fillWanted bool       // a leader left space ahead of the writer low
	wakeWanted bool       // a leader could not hand new rows to waiters
	inflight   int        // requests submitted and not yet completed
	wmu        sync.Mutex // held while a batch is written; excludes truncate/rename/close
	broken     error      // guarded by wmu: sticky I/O error
	wbuf       []byte     // guarded by wmu
	// unsynced: a batch of lazy requests (noSync) was written to the
	// active segment without an fdatasync; guarded by wmu. The next synced
	// batch, a rotation, SyncLazy or close makes it durable.
	unsynced bool
	loopDone chan struct{}

	compactMu sync.Mutex // serialises compactions and excludes truncate/rename/close
	// staleIndex is set when a compaction replaced a segment file but could
	// not swap its index in: the index no longer describes the files, so
	// no checkpoint is written (the next open replays the segments).
	staleIndex atomic.Bool
	bgStop     chan struct{}
	bgKick     chan struct{}
	bgDone     chan struct{}

	// waiters is guarded by the global waitMu (wait.go).
	waiters  []*Waiter
	nwaiters atomic.Int32

	created  time.Time
	st       counters
	recovery RecoveryInfo // set by recover, then read only
}

// Create makes a new, empty table directory (fsyncs it and its parent).
// It fails with ErrExists if dir already exists.
func Create(dir string, opts Options) (err error) {
	defer recoverError(&err)
	opts.norm()
	fsys := opts.FS
	if ok, err := fsys.Exists(dir); err != nil {
		return fmt.Errorf("queue: create %s: %w", dir, err)
	} else if ok {
		return fmt.Errorf("%w: %s", ErrExists, dir)
	}
	if err := fsys.Mkdir(dir); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w: %s", ErrExists, dir)
		}
		return fmt.Errorf("queue: create %s: %w", dir, err)
	}
	// The first segment is written like a truncate segment: temp file,
	// sync, rename, directory sync.
	var st stateRecord
	st.nextRowID = 1
	if err := writeFreshSegment(fsys, dir, 1, 0, kindTruncate, &st); err != nil {
		_ = removeAll(fsys, dir)
		return err
	}
	if err := fsys.SyncDir(filepath.Dir(dir)); err != nil {
		return fileError(ErrIO, filepath.Dir(dir), 0, err)
	}
	return nil
}

// writeFreshSegment writes a segment holding only its header, a state
// record and a commit, durably under its final name (WriteFileAtomic).
func writeFreshSegment(fsys FS, dir string, seq, base uint64, kind byte, st *stateRecord) error {
	var b []byte
	b = segmentHeader{seq: seq, base: base, kind: kind}.encode(b)
	b = st.encode(b)
	b = appendCommitFrame(b, 1, 0, 0)
	return WriteFileAtomic(fsys, filepath.Join(dir, segmentName(seq)), b)
}

// Open opens (recovering if needed) the table in dir.
func Open(dir string, opts Options) (t *Table, err error) {
	defer recoverError(&err)
	opts.norm()
	t = &Table{
		fs:       opts.FS,
		opts:     opts,
		id:       tableSeq.Add(1),
		dir:      dir,
		owned:    make(map[uint64]*Session),
		filters:  make(map[string]*Filter),
		loopDone: make(chan struct{}),
		bgStop:   make(chan struct{}),
		bgKick:   make(chan struct{}, 1),
		bgDone:   make(chan struct{}),
		created:  time.Now(),
	}
	t.all = &Filter{t: t, pos: 1}
	t.filters[""] = t.all
	t.ccond = sync.NewCond(&t.cmu)
	if err := t.recover(); err != nil {
		t.closeFiles()
		return nil, err
	}
	go t.commitLoop()
	if !opts.NoBackground {
		go t.background()
	} else {
		close(t.bgDone)
	}
	return t, nil
}

// Destroy removes a table directory that is not open, durably.
// A missing directory is not an error.
func Destroy(dir string, opts Options) (err error) {
	defer recoverError(&err)
	opts.norm()
	if err := removeAll(opts.FS, dir); err != nil {
		return fmt.Errorf("queue: destroy %s: %w", dir, err)
	}
	if err := opts.FS.SyncDir(filepath.Dir(dir)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fileError(ErrIO, filepath.Dir(dir), 0, err)
	}
	return nil
}

// Close writes a checkpoint, stops background work and closes the files.
// Waiters registered on the table are woken with no row; sessions that own a
// row of this table keep a harmless, inert ownership (Consume/Release do nothing).
func (t *Table) Close() (err error) {
	defer recoverError(&err)
	return t.shutdown(true)
}

// shutdown stops the committer and background work, makes owners inert,
// wakes waiters, optionally writes a checkpoint and closes files.
func (t *Table) shutdown(checkpoint bool) error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return ErrClosed
	}
	t.closed = true
	t.owned = make(map[uint64]*Session)
	t.st.ownerEpoch.Add(1)
	// A prepared transaction, or an outcome whose PREPARE frame is still
	// on disk, is known only to a replay of the log: no checkpoint then.
	txnFrames := false
	for _, s := range t.segs {
		txnFrames = txnFrames || s.unresolved > 0 || s.resolvesFrom != 0
	}
	t.mu.Unlock()
	t.observe()

	t.cancelWaiters()

	// Stop background compaction first (it may hold compactMu), then let the
	// committer drain requests already queued.
	close(t.bgStop)
	<-t.bgDone
	t.compactMu.Lock() // wait for a Compact call in progress
	t.compactMu.Unlock()
	t.cmu.Lock()
	t.stopping = true
	t.ccond.Broadcast()
	t.cmu.Unlock()
	<-t.loopDone

	var err error
	t.wmu.Lock()
	if checkpoint && t.broken == nil {
		t.mu.RLock()
		active := t.segs[len(t.segs)-1]
		t.mu.RUnlock()
		err = t.syncUnsyncedLocked(active)
	}
	if err == nil && checkpoint && t.broken == nil && !t.staleIndex.Load() && !txnFrames {
		err = t.writeCheckpoint()
	}
	t.wmu.Unlock()
	t.closeFiles()
	return err
}

func (t *Table) closeFiles() {
	t.mu.Lock()
	segs := t.segs
	t.segs = nil
	t.mu.Unlock()
	for _, s := range segs {
		s.release()
	}
}

// Drop closes the table and deletes its directory durably (DROP TABLE).
// Same effect on waiters and owners as Close.
func (t *Table) Drop() (err error) {
	defer recoverError(&err)
	if err := t.shutdown(false); err != nil && !errors.Is(err, ErrClosed) {
		return err
	}
	return Destroy(t.Dir(), t.opts)
}

// Rename moves the open table to newDir (RENAME TABLE / ALTER). The *Table
// stays valid and keeps its rows. Like Drop, a rename ends the waits and
// ownerships on the table: its waiters are woken with no row, and every
// owned row goes back to the queue (delivered again, under the new name);
// the owners' ownership becomes inert, so their next Consume removes
// nothing, and the owner epoch changes, so no cached copy of an owned row
// is shown any more. A connection that waited on or owned a row of the old
// name never consumes a row it could not see under that name.
//
// Two exceptions keep the owners of an ALTER's copy (copy.go): when t
// was copied (SetCopy), the owners of copied rows move to the copy
// before the others are given back; and when the copy itself is renamed
// to the name its owners knew, it keeps them.
func (t *Table) Rename(newDir string) (err error) {
	defer recoverError(&err)
	oldDir := t.Dir()
	if err := t.rename(newDir); err != nil {
		return err
	}
	t.mu.Lock()
	c, adopted := t.copy, t.adopted
	t.copy, t.adopted = nil, ""
	t.mu.Unlock()
	if c != nil {
		t.moveOwnerships(c, oldDir)
	}
	if adopted != "" && adopted == newDir {
		t.keepOwnerships()
		return nil
	}
	t.endOwnerships()
	return nil
}

// endOwnerships wakes the waiters of t with no row, gives every owned row
// back to the queue (placeholders of removals in flight keep theirs) and
// changes the owner epoch. Called with no table lock held.
func (t *Table) endOwnerships() {
	// Waiters first: a released row must not be handed to a waiter of the
	// old name.
	t.cancelWaiters()
	type owner struct {
		s  *Session
		id uint64
	}
	var owners []owner
	t.mu.RLock()
	for id, s := range t.owned {
		if !s.consuming {
			owners = append(owners, owner{s, id})
		}
	}
	t.mu.RUnlock()
	for _, o := range owners {
		t.release(o.s, o.id)
	}
	t.st.ownerEpoch.Add(1)
	t.observe()
	// No wake: a waiter that registered while the rename ran named the
	// old name; it is woken with no row too. Waits registered from now on
	// find the released rows when they register.
	t.cancelWaiters()
}

func (t *Table) rename(newDir string) (err error) {
	t.compactMu.Lock()
	defer t.compactMu.Unlock()
	t.wmu.Lock()
	defer t.wmu.Unlock()
	t.mu.RLock()
	closed, old := t.closed, t.dir
	t.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	if ok, err := t.fs.Exists(newDir); err != nil {
		return fmt.Errorf("queue: rename %s: %w", newDir, err)
	} else if ok {
		return fmt.Errorf("%w: %s", ErrExists, newDir)
	}
	if err := t.fs.Rename(old, newDir); err != nil {
		return fmt.Errorf("queue: rename %s to %s: %w", old, newDir, err)
	}
	t.mu.Lock()
	t.dir = newDir
	t.mu.Unlock()
	if err := t.fs.SyncDir(filepath.Dir(newDir)); err != nil {
		return fileError(ErrIO, filepath.Dir(newDir), 0, err)
	}
	if filepath.Dir(old) != filepath.Dir(newDir) {
		if err := t.fs.SyncDir(filepath.Dir(old)); err != nil {
			return fileError(ErrIO, filepath.Dir(old), 0, err)
		}
	}
	return nil
}

// Dir returns the table's current directory.
func (t *Table) Dir() string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.dir
}

// Get returns a copy of the payload of row id, appended to buf[:0].
// ErrNotFound if the id was never written or is removed.
func (t *Table) Get(id uint64, buf []byte) (out []byte, err error) {
	defer recoverError(&err)
	t.mu.RLock()
	if t.closed {
		t.mu.RUnlock()
		return nil, ErrClosed
	}
	s, i, ok := t.locateLocked(id)
	if !ok || !s.isLive(i) {
		t.mu.RUnlock()
		return nil, fmt.Errorf("%w: row %d", ErrNotFound, id)
	}
	off, n := s.offs[i], s.lens[i]
	s.acquire()
	t.mu.RUnlock()
	defer s.release()
	out, err = readPayload(s, off, n, id, buf)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// locateLocked finds the segment and index of row id. Caller holds mu.
func (t *Table) locateLocked(id uint64) (*segment, int, bool) {
	k := t.segForLocked(id)
	if k >= len(t.segs) {
		return nil, 0, false
	}
	s := t.segs[k]
	i, ok := s.find(id)
	return s, i, ok
}

// segForLocked returns the index of the first segment whose maxID is
// >= id (the only segment that can hold id, or the start of a forward walk).
func (t *Table) segForLocked(id uint64) int {
	return sort.Search(len(t.segs), func(k int) bool {
		return t.segs[k].maxID >= id
	})
}

// nextVisibleLocked returns the first live row with id >= from that pred
// accepts, walking segments in id order. Caller holds mu.
func (t *Table) nextLiveLocked(from uint64, pred func(id uint64) bool) (*segment, int, bool) {
	for k := t.segForLocked(from); k < len(t.segs); k++ {
		s := t.segs[k]
		for i := s.nextLive(s.lowerBound(from)); i < s.nrows(); i = s.nextLive(i + 1) {
			if pred == nil || pred(s.idAt(i)) {
				return s, i, true
			}
		}
	}
	return nil, 0, false
}

// Count is the number of live rows, owned ones included (COUNT(*)).
func (t *Table) Count() uint64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.live
}

// RelayMark returns the relay high-water mark of a slot.
func (t *Table) RelayMark(slot int) uint64 {
	if slot < 0 || slot >= MaxRelaySlots {
		return 0
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.marks[slot]
}

// CreateTime and UpdateTime feed SHOW TABLE STATUS.
func (t *Table) CreateTime() time.Time { return t.created }
func (t *Table) UpdateTime() time.Time {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.updated
}

// BeginDelete / EndDelete bracket a non-owner DELETE statement: while any is
// running (a counter, not a flag) no row is handed to takers or waiters.
// EndDelete wakes waiters.
func (t *Table) BeginDelete() {
	t.mu.Lock()
	t.deleting++
	t.mu.Unlock()
}

func (t *Table) EndDelete() {
	t.mu.Lock()
	if t.deleting > 0 {
		t.deleting--
	}
	t.mu.Unlock()
	t.wake()
}

// Filter returns the table's cached filter for key, compiling it with compile
// on first use. Key "" is the match-all filter. Each filter keeps its own scan
// position so finding the oldest eligible row is not a scan of the queue.
func (t *Table) Filter(key string, compile func() (MatchFunc, error)) (f *Filter, err error) {
	defer recoverError(&err)
	t.mu.RLock()
	f, ok := t.filters[key]
	closed := t.closed
	t.mu.RUnlock()
	if closed {
		return nil, ErrClosed
	}
	if ok {
		f.used.Store(t.filterClock.Add(1))
		return f, nil
	}
	m, err := compile()
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if f, ok := t.filters[key]; ok {
		f.used.Store(t.filterClock.Add(1))
		return f, nil
	}
	f = &Filter{t: t, key: key, match: m, pos: 1}
	f.used.Store(t.filterClock.Add(1))
	if len(t.filters) > maxFilters {
		t.evictFilterLocked()
	}
	t.filters[key] = f
	return f, nil
}

// maxFilters bounds the cached filters of a table (the match-all one
// aside). Conditions whose text changes with every call (a timestamp or an
// id in the text) would otherwise grow the cache without limit, and every
// release evaluates every cached filter.
const maxFilters = 256

// evictFilterLocked drops the least recently used cached filter other than
// the match-all one. A waiter may still hold it: it is marked
// detached, so its scans start at the first row instead of at its position,
// which release no longer maintains. Correct, only slower, and only until
// that waiter's next queue_wait compiles a fresh filter. Caller holds mu
// for writing.
func (t *Table) evictFilterLocked() {
	var victim *Filter
	for key, f := range t.filters {
		if key != "" && (victim == nil || f.used.Load() < victim.used.Load()) {
			victim = f
		}
	}
	if victim != nil {
		victim.detached = true
		delete(t.filters, victim.key)
	}
}

// Filter is a compiled condition bound to one table.
type Filter struct {
	t     *Table
	key   string
	match MatchFunc // nil: every row
	// pos is guarded by t.mu. Invariant: every row with id < pos is
	// removed, owned, or fails match. Release of a matching row below pos
	// moves pos back to it; nothing else moves it backwards.
	pos uint64
	// detached (guarded by t.mu) is set when the filter leaves the table's
	// cache: release no longer maintains pos, so scans ignore it.
	detached bool
	// used is the table's filterClock at the last lookup (LRU eviction).
	used atomic.Uint64
}

// Cursor iterates the rows a session may see, in row-id order.
type Cursor struct {
	t    *Table
	s    *Session
	all  bool // ScanAll: owned rows too, whatever s's mode
	next uint64
	done bool
}

// Scan returns a cursor over the rows visible to s (s may be nil = no
// session). Visibility: if s is in owner mode, only s's owned row if it is
// live and belongs to t; otherwise all live rows not owned by any session.
// Rows committed after the cursor was created may or may not be seen.
func (t *Table) Scan(s *Session) *Cursor { return &Cursor{t: t, s: s, next: 1} }

// ScanAll returns a cursor over every live row, owned ones included. It is
// for copying a table (ALTER TABLE): a row a consumer owns at that moment
// must reach the new table, or it would be lost when the old one is
// dropped (the owner's later queue_end/queue_abort act on the old table and
// do nothing, so the row is delivered again: at least once, never lost).
func (t *Table) ScanAll() *Cursor { return &Cursor{t: t, all: true, next: 1} }

// Next copies the next visible row's payload into buf[:0] and returns it with
// its id. ok is false at the end.
func (c *Cursor) Next(buf []byte) (id uint64, payload []byte, ok bool, err error) {
	defer recoverError(&err)
	if c.done || c.t == nil {
		return 0, nil, false, nil
	}
	t := c.t
	if c.s != nil && c.s.OwnerMode() {
		c.done = true
		ot, oid := c.s.Owned()
		if ot != t {
			return 0, nil, false, nil
		}
		p, err := t.Get(oid, buf)
		if errors.Is(err, ErrNotFound) {
			return 0, nil, false, nil
		}
		if err != nil {
			return 0, nil, false, err
		}
		return oid, p, true, nil
	}
	t.mu.RLock()
	if t.closed {
		t.mu.RUnlock()
		return 0, nil, false, ErrClosed
	}
	seg, i, found := t.nextLiveLocked(c.next, func(id uint64) bool { return c.all || t.owned[id] == nil })
	if !found {
		t.mu.RUnlock()
		c.done = true
		return 0, nil, false, nil
	}
	id = seg.idAt(i)
	off, n := seg.offs[i], seg.lens[i]
	seg.acquire()
	t.mu.RUnlock()
	defer seg.release()
	c.next = id + 1
	payload, err = readPayload(seg, off, n, id, buf)
	if err != nil {
		// The id goes with the error: the caller may remove a damaged
		// row it cannot read; the cursor has moved past it.
		return id, nil, false, err
	}
	return id, payload, true, nil
}

// Dir is the directory of the cursor's table.
func (c *Cursor) Dir() string {
	if c.t == nil {
		return ""
	}
	return c.t.Dir()
}

// Close releases the cursor.
func (c *Cursor) Close() { c.done = true }
