package core

import (
	"errors"
	"path/filepath"
)

// Compaction works on a prefix of sealed segments [0..k] (never the active
// one). Removal records only refer to rows written before them, so every
// removal logged in the prefix refers to a row in the prefix: dropping the
// prefix's removed rows together with its removal records cannot bring a
// row back. Removals logged later (in segments after k) stay valid because
// row ids do not change.
//
//   - If no row of the prefix is live, its files are deleted oldest first
//     (a crash leaves a shorter prefix, still consistent), then the
//     directory is synced.
//   - Otherwise the live rows are copied into "<seq k>.seg.tmp" with a
//     header {kind: compacted, base: seq 0, seq: seq k}, synced, renamed
//     over segment k and the directory synced (the commit point). Recovery
//     then treats segments [base, seq) as obsolete and deletes them, so a
//     crash after the rename finishes the compaction and a crash before it
//     leaves the old files (and a temp file that recovery deletes).
//
// Appends, takes and removals go on meanwhile: compaction holds t.mu only
// to snapshot the prefix and to swap in the new index; rows removed during
// the copy are copied too but stay dead (their removal is logged after k).

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

func (t *Table) compact() error {
	_, err := t.compactOnce()
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

	t.mu.RLock()
	if t.closed || len(t.segs) < 2 {
		t.mu.RUnlock()
		return false, nil
	}
	// Longest sealed prefix that is at most half live and whose live rows
	// fit in one output file.
	k := -1
	var live, total int64
	limit := max(t.opts.SegmentSize, 1<<20)
	for i, s := range t.segs[:len(t.segs)-1] {
		live += s.liveBytes
		total += s.end
		if live > limit {
			break
		}
		if live*2 <= total && !(i == 0 && s.kind == kindCompacted && s.deadBytes == 0) {
			k = i
		}
	}
	if k < 0 {
		t.mu.RUnlock()
		return false, nil
	}
	prefix := append([]*segment(nil), t.segs[:k+1]...)
	var rows []liveRow
	for _, s := range prefix {
		for i := s.nextLive(0); i < s.nrows(); i = s.nextLive(i + 1) {
			rows = append(rows, liveRow{s, s.idAt(i), s.offs[i], s.lens[i]})
		}
		s.acquire()
	}
	dir := t.dir
	t.mu.RUnlock()
	defer func() {
		for _, s := range prefix {
			s.release()
		}
	}()

	if len(rows) == 0 {
		return true, t.dropPrefix(dir, prefix)
	}
	return true, t.rewritePrefix(dir, prefix, rows)
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

// rewritePrefix copies the live rows of prefix into one compacted segment
// that replaces the last segment of the prefix.
func (t *Table) rewritePrefix(dir string, prefix []*segment, rows []liveRow) error {
	last := prefix[len(prefix)-1]
	name := filepath.Join(dir, last.name)
	tmp := name + tmpSuffix
	_ = t.fs.Remove(tmp)
	f, err := t.fs.Create(tmp)
	if err != nil {
		return classifyWriteError(tmp, 0, err)
	}
	out := newSegment(last.seq, prefix[0].seq, kindCompacted, f)
	out.maxID = last.maxID
	ok := false
	defer func() {
		if !ok {
			out.release()
			_ = t.fs.Remove(tmp)
		}
	}()
	buf := segmentHeader{seq: out.seq, base: out.base, kind: kindCompacted}.encode(nil)
	var off int64
	var payload []byte
	offs := make([]uint32, len(rows))
	flush := func() error {
		if _, err := f.WriteAt(buf, off); err != nil {
			return classifyWriteError(tmp, off, err)
		}
		off += int64(len(buf))
		buf = buf[:0]
		return nil
	}
	for i, r := range rows {
		payload, err = readPayload(r.seg.f, r.off, r.n, payload)
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
	ok = true // the file is now the segment; never delete it as a temp
	if err := compactStep("renamed"); err != nil {
		return err
	}
	if err := t.fs.SyncDir(dir); err != nil {
		return fileError(ErrIO, dir, 0, err)
	}
	out.end, out.allocated, out.commits = off, off, 1

	// Swap in the new index; rows removed during the copy stay removed.
	t.mu.Lock()
	if t.closed || len(t.segs) < len(prefix) || t.segs[0] != prefix[0] {
		t.mu.Unlock()
		out.release()
		return errors.New("queue: compaction raced with a close")
	}
	for i, r := range rows {
		k, _ := r.seg.find(r.id)
		out.addRow(r.id, int64(offs[i]), int(r.n), r.seg.isLive(k))
	}
	t.segs = append([]*segment{out}, t.segs[len(prefix):]...)
	t.mu.Unlock()
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
