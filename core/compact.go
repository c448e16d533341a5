package core

import (
	"errors"
	"io"
	"path/filepath"
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
//     deleted oldest first (a crash leaves a shorter prefix, still
//     consistent), then the directory is synced.
//   - Otherwise the live rows (and the carried removals) are written to
//     "<seq k>.seg.tmp" with a header {kind: compacted, base: seq a,
//     seq: seq k}, synced, renamed over segment k and the directory synced
//     (the commit point). Recovery treats segments [base, seq) as obsolete
//     and deletes them, so a crash after the rename finishes the compaction
//     and a crash before it leaves the old files (and a temp file that
//     recovery deletes).
//
// No group commit runs meanwhile: compaction holds the committer's write
// lock (t.wmu) from choosing the range to the last delete, so appends and
// removals wait for it (see compactOnce). Takes and scans go on: t.mu is
// held only to snapshot the range and to swap in the new index.

// background runs compaction when removals make it worthwhile.
func (t *Table) background() {
	defer close(t.bgDone)
	for {
		select {
		case <-t.bgStop:
			return
		case <-t.bgKick:
			_ = t.compact()
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
	defer recoverError(&err)
	_, err = t.compactOnce()
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
	id  uint64
	off uint32
	n   uint32
}

// compactOnce compacts the best prefix, reporting whether it did anything.
func (t *Table) compactOnce() (bool, error) {
	t.compactMu.Lock()
	defer t.compactMu.Unlock()
	// No batch commits while a compaction runs. The randomized crash test
	// (appends, removals and compactions running concurrently) lost
	// acknowledged rows and brought back acknowledged removals in a few
	// percent of its runs when commits went on during the rewrite, and never
	// with compaction off; excluding the committer closes that window. The
	// cost: INSERTs and removals wait for a running compaction.
	t.wmu.Lock()
	defer t.wmu.Unlock()

	t.mu.RLock()
	if t.closed || len(t.segs) < 2 {
		t.mu.RUnlock()
		return false, nil
	}
	// The range starts at the first sealed segment that is at most half
	// live and has something to reclaim; it extends while the whole range
	// stays at most half live and its live rows fit in one output file.
	sealed := t.segs[:len(t.segs)-1]
	a, k := -1, -1
	var live, total int64
	limit := max(t.opts.SegmentSize, 1<<20)
	for i, s := range sealed {
		if a < 0 {
			// Rewriting a segment without removed rows would reclaim
			// only framing; a segment without rows holds only records.
			reclaimable := s.deadBytes > 0 || s.nrows() == 0
			if !reclaimable || s.liveBytes*2 > s.end {
				continue
			}
			a = i
		}
		live += s.liveBytes
		total += s.end
		if live > limit {
			break
		}
		if live*2 <= total {
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
			rows = append(rows, liveRow{s, s.idAt(i), s.offs[i], s.lens[i]})
		}
		s.acquire()
	}
	var carried []uint64 // removed rows stored before the range
	for _, s := range t.segs[:a] {
		for i := 0; i < s.nrows(); i++ {
			if !s.isLive(i) {
				carried = append(carried, s.idAt(i))
			}
		}
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

// dropPrefix deletes segments that hold no live row.
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
	}
	if err := t.fs.SyncDir(dir); err != nil {
		return fileError(ErrIO, dir, 0, err)
	}
	t.st.compactions.Add(1)
	return nil
}

// rewritePrefix copies the live rows of prefix (= t.segs[a:a+len(prefix)])
// and the carried removals into one compacted segment that replaces the
// last segment of the range.
func (t *Table) rewritePrefix(dir string, a int, prefix []*segment, rows []liveRow, carried []uint64) error {
	last := prefix[len(prefix)-1]
	name := filepath.Join(dir, last.name)
	tmp := name + tmpSuffix
	_ = t.fs.Remove(tmp)
	f, err := t.fs.Create(tmp)
	if err != nil {
		return classifyWriteError(tmp, 0, err)
	}
	out := newSegment(last.seq, prefix[0].base, kindCompacted, f)
	out.maxID = last.maxID
	ok := false      // the file is the segment: never delete it as a temp
	swapped := false // the table holds out: never close it here
	defer func() {
		if !swapped {
			out.release()
		}
		if !ok {
			_ = t.fs.Remove(tmp)
		}
	}()
	buf := segmentHeader{seq: out.seq, base: out.base, kind: kindCompacted}.encode(nil)
	var off, synced int64
	offs := make([]uint32, len(rows))
	flush := func() error {
		if _, err := f.WriteAt(buf, off); err != nil {
			return classifyWriteError(tmp, off, err)
		}
		off += int64(len(buf))
		buf = buf[:0]
		// Sync as we go so the final sync is short and the committer's
		// fdatasync never queues behind a large writeback.
		if off-synced >= 4<<20 {
			if err := f.Sync(); err != nil {
				return fileError(ErrIO, tmp, off, err)
			}
			synced = off
		}
		return nil
	}
	var rd windowReader
	for i, r := range rows {
		payload, err := rd.read(r.seg, r.off, r.n)
		if err != nil {
			return fileError(ErrIO, r.seg.name, int64(r.off), err)
		}
		offs[i] = uint32(off + int64(len(buf)))
		buf = appendRowFrame(buf, r.id, payload)
		if len(buf) >= 1<<20 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if len(carried) > 0 {
		buf = appendRemoveFrame(buf, carried)
	}
	buf = appendCommitFrame(buf, 1, 0)
	if err := flush(); err != nil {
		return err
	}
	if err := compactStep("synced-temp"); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fileError(ErrIO, tmp, 0, err)
	}
	if err := compactStep("before-rename"); err != nil {
		return err
	}
	if err := t.fs.Rename(tmp, name); err != nil {
		return fileError(ErrIO, name, 0, err)
	}
	ok = true
	if err := compactStep("renamed"); err != nil {
		return err
	}
	if err := t.fs.SyncDir(dir); err != nil {
		return fileError(ErrIO, dir, 0, err)
	}
	out.end, out.allocated, out.commits = off, off, 1

	// Swap in the new index; rows removed during the copy stay removed.
	t.mu.Lock()
	if t.closed || len(t.segs) < a+len(prefix) || t.segs[a] != prefix[0] {
		t.mu.Unlock()
		return errors.New("queue: compaction raced with a close")
	}
	for i, r := range rows {
		k, _ := r.seg.find(r.id)
		out.addRow(r.id, int64(offs[i]), int(r.n), r.seg.isLive(k))
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
