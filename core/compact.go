package core

import (
	"errors"
	"io"
	"path/filepath"
	"time"
)

// Compaction rewrites a range [a..k] of sealed segments (never the active
// one) into one compacted segment that replaces them.
//
// Removal records only refer to rows written before them. So a removal
// logged in [a..k] refers to a row in [a..k] or in a segment before a. The
// first kind disappear with the rows; the second kind must survive: the
// compacted segment carries one REMOVE frame listing every removed row
// still stored in the segments before a. Removals logged after k stay valid
// because row ids never change. Leading dense segments (often holding a
// few long-lived rows) are thus left alone instead of blocking compaction.
//
//   - If a is the first segment and no row of [a..k] is live, the files are
//     deleted oldest first, each deletion made durable before the next
//     (nothing marks them obsolete, so what is left must stay a suffix of
//     the chain of segments).
//   - Otherwise the live rows (and the carried removals) are written to
//     "<seq k>.seg.tmp" with a header {kind: compacted, base: seq a,
//     seq: seq k}, synced, renamed over segment k and the directory synced
//     (the commit point, before any deletion). Recovery treats segments
//     [base, seq) as obsolete and deletes them, so a crash after the rename
//     finishes the compaction, whatever subset of the later deletions
//     reached the disk, and a crash before it leaves the old files (and a
//     temp file that recovery deletes).
//
// Appends, takes and removals go on meanwhile: compaction holds only
// compactMu (which excludes truncate, rename and close) while it copies,
// and t.mu to snapshot the range and to swap in the new index. This is
// safe because the committer never writes to a sealed segment, and:
//   - a row removed during the copy is copied as live, but its REMOVE
//     record is in a segment after k, so replay kills it again; in memory
//     the swap takes each row's liveness from the old segment at the swap,
//     and a batch published after the swap finds the row in the new
//     segment (publication looks rows up again under t.mu);
//   - a row appended during the copy is in a segment after k, untouched.
//   - a removal is published (in memory) only after its record is synced,
//     so the carried list, taken from memory, never names a removal that
//     is not durable, and one not yet published is logged after k.

// background runs compaction when removals make it worthwhile.
//
// Every group commit that removes rows kicks it. After each look it rests
// for Tuning.CompactRest before it takes the next kick: kicks meanwhile only
// fill the one-slot channel, which wakes no goroutine, so a steady stream of
// consumed messages costs a few wake-ups a second instead of one per commit,
// and the last kick is still taken after the rest.
func (t *Table) background() {
	defer close(t.bgDone)
	rest := time.NewTimer(0)
	<-rest.C
	for {
		select {
		case <-t.bgStop:
			return
		case <-t.bgKick:
			_ = t.compact()
		}
		rest.Reset(time.Duration(tuneCompactRest.Load()))
		select {
		case <-t.bgStop:
			return
		case <-rest.C:
		}
	}
}

// kickCompaction asks the background goroutine to look for work.
func (t *Table) kickCompaction() {
	select {
	case t.bgKick <- struct{}{}:
	default:
	}
}

// Compact runs a compaction now (queue_compact); normally it runs in the background.
func (t *Table) Compact() (err error) {
	defer recoverError(&err)
	for {
		did, err := t.compactOnce()
		if err != nil || !did {
			return err
		}
	}
}

// compact runs one compaction for the background goroutine. A panic there
// would end the process (the server): it becomes this compaction's error,
// like in Compact.
func (t *Table) compact() (err error) {
	start, before := time.Now(), t.Figures().BytesTotal
	did := false
	defer func() {
		if hook := t.opts.OnCompaction; hook != nil && (did || err != nil) {
			hook(CompactionInfo{Duration: time.Since(start), BytesBefore: before, BytesAfter: t.Figures().BytesTotal, Err: err})
		}
	}()
	defer recoverError(&err)
	did, err = t.compactOnce()
	return err
}

// compactTestHook, when set by tests, is called at each step with its name;
// an error stops the compaction there (simulating a crash at that step).
var compactTestHook func(step string) error

func compactStep(step string) error {
	if compactTestHook != nil {
		return compactTestHook(step)
	}
	return nil
}

type liveRow struct {
	seg *segment
	i   int // index in seg
	id  uint64
	off uint32
	n   uint32
	ms  int64 // enqueue time (unix ms, 0: unknown)
}

// compactOnce compacts the best prefix, reporting whether it did anything.
func (t *Table) compactOnce() (bool, error) {
	// compactMu alone: the committer goes on meanwhile. Only the index
	// swap (under t.mu) excludes publishing a batch.
	t.compactMu.Lock()
	defer t.compactMu.Unlock()

	t.mu.RLock()
	if t.closed || len(t.segs) < 2 {
		t.mu.RUnlock()
		return false, nil
	}
	// The range starts at the first sealed segment that is at most pct
	// percent live (Tuning.CompactLivePercent, half by default) and has
	// something to reclaim; it extends while the whole range stays at
	// most pct percent live and its live rows fit in one output file.
	sealed := t.segs[:len(t.segs)-1]
	a, k := -1, -1
	var live, total int64
	limit := max(t.segmentSize(), 1<<20)
	pct := tuneLivePercent.Load()
	for i, s := range sealed {
		// A PREPARE frame without an outcome must stay, and so must a
		// RESOLVE frame while the PREPARE frame it resolves stays in a
		// segment before the range: replaying that PREPARE alone would
		// bring the transaction back as prepared.
		start := s
		if a >= 0 {
			start = sealed[a]
		}
		if s.unresolved > 0 || (s.resolvesFrom != 0 && s.resolvesFrom < start.seq && t.logSegmentLocked(s.resolvesFrom)) {
			if a < 0 {
				continue
			}
			break
		}
		if a < 0 {
			// Rewriting a segment without removed rows would reclaim
			// only framing; a segment without rows holds only records.
			// A compacted segment without rows after the first one
			// (left by a range that could not start at the head) would
			// only be rewritten into itself again.
			reclaimable := s.deadBytes > 0 || (s.nrows() == 0 && (s.kind != kindCompacted || i == 0))
			if !reclaimable || s.liveBytes*100 > s.end*pct {
				continue
			}
			a = i
		}
		live += s.liveBytes
		total += s.end
		if live > limit {
			break
		}
		if live*100 <= total*pct {
			k = i
		}
	}
	if k < 0 {
		t.mu.RUnlock()
		return false, nil
	}
	prefix := append([]*segment(nil), t.segs[a:k+1]...)
	var rows []liveRow
	for _, s := range prefix {
		for i := s.nextLive(0); i < s.nrows(); i = s.nextLive(i + 1) {
			rows = append(rows, liveRow{s, i, s.idAt(i), s.offs[i], s.lens[i], s.timeAt(i)})
		}
		s.acquire()
	}
	var carried []uint64 // removed rows stored before the range
	for _, s := range t.segs[:a] {
		carried = s.appendDead(carried)
	}
	dir := t.dir
	t.mu.RUnlock()
	defer func() {
		for _, s := range prefix {
			s.release()
		}
	}()

	if a == 0 && len(rows) == 0 {
		return true, t.dropPrefix(dir, prefix)
	}
	return true, t.rewritePrefix(dir, a, prefix, rows, carried)
}

// dropPrefix deletes leading segments that hold no live row, oldest first,
// each deletion made durable (directory fsync) before the next one. No file
// states that the prefix is obsolete, so recovery relies on what remains
// being a suffix of the chain: a deletion that persists while an earlier one
// reverts would leave a gap, which recovery must refuse as a missing
// segment.
func (t *Table) dropPrefix(dir string, prefix []*segment) error {
	t.mu.Lock()
	if t.closed || t.segs[0] != prefix[0] {
		t.mu.Unlock()
		return nil
	}
	t.segs = append([]*segment(nil), t.segs[len(prefix):]...)
	t.mu.Unlock()
	for _, s := range prefix {
		s.release() // the table's reference
	}
	for _, s := range prefix {
		if err := compactStep("drop-file"); err != nil {
			return err
		}
		if err := t.fs.Remove(filepath.Join(dir, s.name)); err != nil {
			return fileError(ErrIO, filepath.Join(dir, s.name), 0, err)
		}
		if err := t.fs.SyncDir(dir); err != nil {
			return fileError(ErrIO, dir, 0, err)
		}
	}
	t.st.compactions.Add(1)
	return nil
}

// rewritePrefix copies the live rows of prefix (= t.segs[a:a+len(prefix)])
// and the carried removals into one compacted segment that replaces the
// last segment of the range.
func (t *Table) rewritePrefix(dir string, a int, prefix []*segment, rows []liveRow, carried []uint64) error {
	last := prefix[len(prefix)-1]
	hdr := segmentHeader{seq: last.seq, base: prefix[0].base, kind: kindCompacted}
	offs := make([]uint32, len(rows))
	var w compactedFile
	f, renamed, err := replaceFile(t.fs, filepath.Join(dir, last.name), compactStep, func(f File, tmp string) error {
		var err error
		w, err = writeCompacted(f, tmp, hdr, rows, carried, offs, t.bgStop)
		return err
	})
	if err != nil {
		if renamed {
			// Segment k on disk is the new file, the index still
			// describes the old one: a checkpoint written from it would
			// contradict the files.
			t.staleIndex.Store(true)
		}
		return err
	}
	out := newSegment(hdr.seq, hdr.base, kindCompacted, f)
	out.maxID = last.maxID
	swapped := false // the table holds out: never close it here
	defer func() {
		if !swapped {
			out.release()
		}
	}()
	out.end, out.allocated, out.commits = w.size, w.size, w.commits
	for i, r := range rows {
		out.addRow(r.id, int64(offs[i]), int(r.n), true)
	}
	out.bRow, out.bMs = w.bRow, w.bMs

	// Swap in the new index. The committer publishes removals under t.mu
	// too, so a row is killed either in the old segment before this point
	// (and is killed here in out) or in out after it.
	// A close does not stop the swap: it waits for compactMu before it
	// writes the checkpoint or closes the files, and the checkpoint must
	// describe the file now on disk.
	t.mu.Lock()
	if len(t.segs) < a+len(prefix) || t.segs[a] != prefix[0] {
		t.mu.Unlock()
		t.staleIndex.Store(true)
		return errors.New("queue: compaction found its range changed")
	}
	for i, r := range rows {
		if !r.seg.isLive(r.i) {
			out.kill(i)
		}
	}
	segs := append([]*segment(nil), t.segs[:a]...)
	segs = append(segs, out)
	t.segs = append(segs, t.segs[a+len(prefix):]...)
	swapped = true
	t.mu.Unlock()
	t.observe()
	for _, s := range prefix {
		s.release() // the table's reference
	}
	if err := compactStep("swapped"); err != nil {
		return err
	}
	for _, s := range prefix[:len(prefix)-1] {
		if err := t.fs.Remove(filepath.Join(dir, s.name)); err != nil {
			return fileError(ErrIO, filepath.Join(dir, s.name), 0, err)
		}
		if err := compactStep("deleted-old"); err != nil {
			return err
		}
	}
	if err := t.fs.SyncDir(dir); err != nil {
		return fileError(ErrIO, dir, 0, err)
	}
	t.st.compactions.Add(1)
	return nil
}

// compactedFile describes a compacted segment writeCompacted wrote.
type compactedFile struct {
	size    int64
	commits uint64
	bRow    []uint32 // the segment's enqueue times (segment.bRow, bMs)
	bMs     []int64
}

// compactTimeGrain is how far apart the enqueue times of the rows of one
// batch of a compacted segment may be: the batch's COMMIT frame carries
// the time of its first (oldest) row, so a row's age may be overstated by
// less than this, and rows enqueued close together (the common case: many
// small batches) share one COMMIT frame instead of one each.
const compactTimeGrain = 1000 // ms

// sameRun reports whether a row enqueued at ms joins the batch whose first
// row was enqueued at runMs.
func sameRun(runMs, ms int64) bool {
	return (runMs == 0) == (ms == 0) && ms >= runMs && ms-runMs < compactTimeGrain
}

// writeCompacted writes a compacted segment to f: the header, the rows
// (their frame offsets go to offs) in batches of close enqueue times, each
// closed by a COMMIT frame carrying the time of its first row, and the
// carried REMOVE frame in the last batch.
//
// The writes are paced so that commits keep their latency while it runs: a
// commit's fdatasync waits for whatever the device has queued before it, so
// the file is written in chunks of compactChunk, each synced, and after
// each one compaction pauses as long as the chunk took (at most half of the
// device's time goes to compaction). The pause ends early when the table
// is closing (stop).
func writeCompacted(f File, name string, hdr segmentHeader, rows []liveRow, carried []uint64, offs []uint32, stop <-chan struct{}) (compactedFile, error) {
	buf := hdr.encode(nil)
	var off int64
	var w compactedFile
	var runStart, runMs int64 // the current batch: its offset, its time
	runRows := 0
	flush := func() error {
		t0 := time.Now()
		if _, err := f.WriteAt(buf, off); err != nil {
			return classifyWriteError(name, off, err)
		}
		off += int64(len(buf))
		buf = buf[:0]
		if err := f.Sync(); err != nil {
			return fileError(ErrIO, name, off, err)
		}
		pause := time.NewTimer(time.Since(t0))
		defer pause.Stop()
		select {
		case <-pause.C:
		case <-stop:
		}
		return nil
	}
	var rd windowReader
	for i, r := range rows {
		payload, err := rd.read(r.seg, r.off, r.n)
		if err != nil {
			return w, fileError(ErrIO, r.seg.name, int64(r.off), err)
		}
		if runRows > 0 && !sameRun(runMs, r.ms) {
			w.commits++
			buf = appendCommitFrame(buf, w.commits, uint32(runStart), runMs)
			runStart, runRows = off+int64(len(buf)), 0
		}
		if runRows == 0 {
			runMs = r.ms
			w.bRow = append(w.bRow, uint32(i))
			w.bMs = append(w.bMs, r.ms)
		}
		runRows++
		offs[i] = uint32(off + int64(len(buf)))
		buf = appendRowFrame(buf, r.id, payload)
		if len(buf) >= compactChunk {
			if err := flush(); err != nil {
				return w, err
			}
		}
	}
	if len(carried) > 0 {
		buf = appendRemoveFrame(buf, carried)
	}
	if runRows == 0 {
		runMs = 0
	}
	w.commits++
	buf = appendCommitFrame(buf, w.commits, uint32(runStart), runMs)
	if err := flush(); err != nil {
		return w, err
	}
	w.size = off
	return w, nil
}

// compactChunk is the unit of compaction's paced writes (writeCompacted).
// Measured with BenchmarkAppendP99DuringCompaction on a shared 2-core VM:
// one unpaced write and sync of a ~1 MiB compacted file put the p99 of
// appends running meanwhile at 3-4x that of the others; 128 KiB chunks
// with the pause at 1.4-1.9x.
const compactChunk = 128 << 10

// windowReader reads row payloads of a segment through a 1 MiB window, so
// copying the rows of a segment costs a few large reads, not one per row.
type windowReader struct {
	seg   *segment
	start int64
	buf   []byte
}

func (w *windowReader) read(s *segment, off, n uint32) ([]byte, error) {
	lo := int64(off) + frameHeaderSize + rowBodyMin
	hi := lo + int64(n)
	if w.seg != s || lo < w.start || hi > w.start+int64(len(w.buf)) {
		size := max(int64(1<<20), hi-lo)
		if cap(w.buf) < int(size) {
			w.buf = make([]byte, size)
		}
		w.buf = w.buf[:size]
		k, err := s.f.ReadAt(w.buf, lo)
		if int64(k) < hi-lo {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			w.seg = nil
			return nil, err
		}
		w.seg, w.start, w.buf = s, lo, w.buf[:k]
	}
	return w.buf[lo-w.start : hi-w.start], nil
}

// logSegmentLocked reports whether log segment seq is still in the table
// (not deleted or replaced by a compacted one). Caller holds t.mu.
func (t *Table) logSegmentLocked(seq uint64) bool {
	for _, s := range t.segs {
		if s.seq == seq {
			return s.kind == kindLog
		}
	}
	return false
}
