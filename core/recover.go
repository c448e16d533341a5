package core

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
)

// recover rebuilds the in-memory state from the table directory (steps in
// docs/FORMAT.md, "Recovery"). It runs before the committer starts, so it
// owns the table alone; it still takes mu where it publishes.
//
// Steps: list the directory (deleting temp files), read the segment
// headers, delete obsolete segments and check that the rest form a chain,
// load the checkpoint or replay the segments, then make what was adopted
// durable before anything is served.
func (t *Table) recover() error {
	seqs, hasCheckpoint, err := t.listSegments()
	if err != nil {
		return err
	}
	hdrs, err := t.readHeaders(seqs)
	if err != nil {
		return err
	}
	keep, err := t.dropObsolete(seqs, hdrs)
	if err != nil {
		return err
	}
	var proven map[uint64]int64
	if hasCheckpoint {
		var ok bool
		ok, proven = t.loadCheckpoint(seqs, keep, hdrs)
		if ok {
			if err := t.removeCheckpoint(); err != nil {
				return err
			}
			return t.makeDurable()
		}
		t.resetIndex()
	}
	// The checkpoint stays until the replay has succeeded, so that an open
	// refused for damage it proves is refused again. Replay writes nothing
	// it contradicts: it only cuts bytes after the last commit, which a
	// checkpoint that bound the replay does not count.
	if err := t.replay(seqs, keep, hdrs, proven); err != nil {
		return err
	}
	t.noteReplay()
	if hasCheckpoint {
		if err := t.removeCheckpoint(); err != nil {
			return err
		}
	}
	return t.makeDurable()
}

// removeCheckpoint deletes the checkpoint durably. It describes the table
// only until the next write, so it must be gone before the table accepts
// one.
func (t *Table) removeCheckpoint() error {
	name := filepath.Join(t.dir, checkpointName)
	if err := t.fs.Remove(name); err != nil {
		return fileError(ErrIO, name, 0, err)
	}
	if err := t.fs.SyncDir(t.dir); err != nil {
		return fileError(ErrIO, t.dir, 0, err)
	}
	return nil
}

// listSegments lists the directory: the segment numbers in order and
// whether a checkpoint exists. Temp files are deleted: nothing refers to
// one before its rename (an interrupted compaction, truncate or checkpoint).
func (t *Table) listSegments() (seqs []uint64, hasCheckpoint bool, err error) {
	dir := t.dir
	names, err := t.fs.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, false, fmt.Errorf("%w: table directory %s", ErrNotFound, dir)
		}
		return nil, false, fmt.Errorf("queue: open %s: %w", dir, err)
	}
	for _, n := range names {
		switch {
		case strings.HasSuffix(n, tmpSuffix):
			if err := t.fs.Remove(filepath.Join(dir, n)); err != nil {
				return nil, false, fileError(ErrIO, filepath.Join(dir, n), 0, err)
			}
		case n == checkpointName:
			hasCheckpoint = true
		default:
			if seq, ok := parseSegmentName(n); ok {
				seqs = append(seqs, seq)
			}
		}
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	if len(seqs) == 0 {
		return nil, false, fmt.Errorf("%w: %s has no segment files", ErrCorrupt, dir)
	}
	return seqs, hasCheckpoint, nil
}

// readHeaders reads the SEGMENT frame of every segment. An unreadable
// header is tolerated on the last segment only (a log segment whose
// creation was interrupted: nothing in it was acknowledged, the directory
// sync comes first); its entry gets kind 0, which dropObsolete deletes.
func (t *Table) readHeaders(seqs []uint64) ([]segmentHeader, error) {
	hdrs := make([]segmentHeader, len(seqs))
	for i, seq := range seqs {
		name := filepath.Join(t.dir, segmentName(seq))
		h, err := t.readHeader(name)
		if err == nil && h.seq != seq {
			err = fmt.Errorf("header names segment %d", h.seq)
		}
		if err != nil {
			if i == len(seqs)-1 && i > 0 {
				continue
			}
			return nil, fileError(ErrCorrupt, name, 0, err)
		}
		hdrs[i] = h
	}
	return hdrs, nil
}

// dropObsolete deletes the segments with an unreadable header and those
// made obsolete by a later compacted or truncate segment (base <= seq <
// that seq), which finishes an interrupted compaction or truncate, in any
// order: obsolescence is decided by the headers alone. The remaining
// segments (indexes into seqs) must form a chain: each one's base is the
// previous one's seq + 1.
func (t *Table) dropObsolete(seqs []uint64, hdrs []segmentHeader) ([]int, error) {
	obsolete := func(seq uint64) bool {
		for i := range seqs {
			if hdrs[i].kind != 0 && hdrs[i].base <= seq && seq < hdrs[i].seq {
				return true
			}
		}
		return false
	}
	var keep []int
	for i, seq := range seqs {
		if hdrs[i].kind == 0 || obsolete(seq) {
			name := filepath.Join(t.dir, segmentName(seq))
			if err := t.fs.Remove(name); err != nil {
				return nil, fileError(ErrIO, name, 0, err)
			}
			continue
		}
		keep = append(keep, i)
	}
	for k := 1; k < len(keep); k++ {
		if hdrs[keep[k]].base != seqs[keep[k-1]]+1 {
			return nil, fmt.Errorf("%w: %s: segment %s is missing", ErrCorrupt, t.dir, segmentName(seqs[keep[k-1]]+1))
		}
	}
	if len(keep) == 0 {
		return nil, fmt.Errorf("%w: %s has no valid segment", ErrCorrupt, t.dir)
	}
	return keep, nil
}

// replay rebuilds the index by reading every kept segment. proven (from an
// intact checkpoint, may be nil) gives, per segment, the end its commits
// reached at the last clean shutdown.
func (t *Table) replay(seqs []uint64, keep []int, hdrs []segmentHeader, proven map[uint64]int64) error {
	t.nextID = 1
	var lastRowID uint64
	for n, i := range keep {
		last := n == len(keep)-1
		name := filepath.Join(t.dir, segmentName(seqs[i]))
		f, err := t.fs.OpenRW(name)
		if err != nil {
			return fileError(ErrIO, name, 0, err)
		}
		s := newSegment(seqs[i], hdrs[i].base, hdrs[i].kind, f)
		s.version = hdrs[i].version
		s.maxID = lastRowID
		var prev *segment
		if len(t.segs) > 0 {
			prev = t.segs[len(t.segs)-1]
		}
		t.segs = append(t.segs, s)
		if err := t.loadSegment(s, prev, name, last, &lastRowID, proven[s.seq]); err != nil {
			return err
		}
		if s.commits > 0 {
			continue
		}
		if !last || n == 0 || s.kind != kindLog {
			return fileError(ErrCorrupt, name, 0, errors.New("segment has no commit"))
		}
		// Torn creation of a new log segment: nothing in it was
		// acknowledged. The previous segment is active again: cut its
		// tail too.
		t.segs = t.segs[:len(t.segs)-1]
		if size, err := s.f.Size(); err == nil {
			t.recovery.BytesTruncated += size
		}
		s.release()
		if err := t.fs.Remove(name); err != nil {
			return fileError(ErrIO, name, 0, err)
		}
		if err := t.cutTail(prev, filepath.Join(t.dir, prev.name)); err != nil {
			return err
		}
	}
	return nil
}

// makeDurable syncs what recovery adopted before the table serves. A
// process that died may have left a segment whose directory entry, or a
// batch whose bytes, were never synced: recovery reads them from the page
// cache like durable ones, and rows acknowledged later (in that segment, or
// in segments whose STATE counts its commits) would depend on them. The
// sealed segments were synced before the next one was started; only the
// active one can hold unsynced bytes. The directory sync also makes the
// deletions of recovery durable.
func (t *Table) makeDurable() error {
	active := t.segs[len(t.segs)-1]
	if err := active.f.Sync(); err != nil {
		return fileError(ErrIO, filepath.Join(t.dir, active.name), 0, err)
	}
	if err := t.fs.SyncDir(t.dir); err != nil {
		return fileError(ErrIO, t.dir, 0, err)
	}
	return nil
}

func (t *Table) resetIndex() {
	for _, s := range t.segs {
		s.release()
	}
	t.segs = nil
	t.live = 0
	t.nextID = 1
	t.owned = make(map[uint64]*Session)
	t.endPreparedLocked()
	t.marks = [MaxRelaySlots]uint64{}
}

func (t *Table) readHeader(name string) (segmentHeader, error) {
	f, err := t.fs.OpenRW(name)
	if err != nil {
		return segmentHeader{}, err
	}
	defer f.Close()
	var b [frameHeaderSize + segmentBodySize]byte
	if _, err := f.ReadAt(b[:], 0); err != nil {
		return segmentHeader{}, err
	}
	fr, st := decodeFrame(b[:])
	if st != frameOK || fr.typ != recSegment {
		return segmentHeader{}, errors.New("bad segment header frame")
	}
	return decodeSegmentHeader(fr.body)
}

// loadSegment parses s's file, applying every committed batch to the index.
// prev is the segment before s (nil for the first). proven (0: unknown) is
// the end of the commits the checkpoint of the last clean shutdown recorded
// for s: stopping before it is damage, never a torn tail.
//
// Where the frames stop being valid decides between a torn tail and damage:
//   - the end of the file, or a zero header (zero fill ahead of the writer)
//     or an invalid frame with no valid COMMIT after it: the end of the log,
//     whatever follows is a torn tail, discarded;
//   - in the last segment, the only valid COMMIT after it continues the
//     commit numbers and its batch start is where the bad frames begin:
//     the last batch, written with one unsynced write, reached the disk in
//     part (its COMMIT in a sector that did, earlier frames in sectors
//     that did not). It was never acknowledged: discarded like a torn tail;
//   - any other valid COMMIT after it: damage in the middle, ErrCorrupt.
func (t *Table) loadSegment(s, prev *segment, name string, last bool, lastRowID *uint64, proven int64) error {
	size, err := s.f.Size()
	if err != nil {
		return fileError(ErrIO, name, 0, err)
	}
	data := make([]byte, size)
	if _, err := s.f.ReadAt(data, 0); err != nil && !errors.Is(err, io.EOF) {
		return fileError(ErrIO, name, 0, err)
	}
	t.st.recoveredBytes.Add(uint64(size))
	type op struct {
		typ  byte
		body []byte
		off  int64
	}
	var pending []op
	off := int64(0)
	committedEnd := int64(0)
	for {
		fr, st := decodeFrame(data[off:])
		if st == frameOK && off == 0 && fr.typ != recSegment {
			st = frameBad
		}
		var c commitRecord
		if st == frameOK && fr.typ == recCommit {
			var ok bool
			c, ok = decodeCommit(fr.body)
			if !ok || c.n != s.commits+1 {
				st = frameBad
			}
		}
		if st != frameOK {
			// A zero header is the end of the log only if no valid
			// commit follows: zeros before one are a lost block.
			later := findCommit(data, off+1)
			if later >= 0 && !(last && tornLastBatch(data, later, committedEnd, s.commits)) {
				return fileError(ErrCorrupt, name, off, fmt.Errorf("damaged record before a commit at offset %d", later))
			}
			break
		}
		if fr.typ != recCommit {
			pending = append(pending, op{fr.typ, fr.body, off})
			off += int64(fr.size)
			continue
		}
		first := s.nrows()
		for _, p := range pending {
			if err := t.applyRecord(s, prev, name, p.typ, p.body, p.off, lastRowID); err != nil {
				return err
			}
		}
		s.noteBatch(first, c.ms)
		pending = pending[:0]
		off += int64(fr.size)
		s.commits++
		committedEnd = off
	}
	if committedEnd < proven {
		return fileError(ErrCorrupt, name, off, fmt.Errorf(
			"the log ends at offset %d but the checkpoint of the last clean shutdown recorded commits up to %d", committedEnd, proven))
	}
	s.end = committedEnd
	s.allocated = committedEnd
	if last && size > committedEnd {
		// Cut what follows the last commit unless it is only zero fill,
		// so stale frames cannot be mistaken for log later.
		if !allZero(data[committedEnd:]) {
			t.recovery.BytesTruncated += size - committedEnd
			if err := s.f.Truncate(committedEnd); err != nil {
				return fileError(ErrIO, name, committedEnd, err)
			}
			if err := s.f.Sync(); err != nil {
				return fileError(ErrIO, name, committedEnd, err)
			}
		} else {
			s.allocated = size
		}
	}
	return nil
}

// tornLastBatch reports whether the valid COMMIT frame at offset at closes
// the batch that starts at committedEnd (its number follows commits and its
// batch start is committedEnd) and no valid COMMIT follows it.
func tornLastBatch(data []byte, at, committedEnd int64, commits uint64) bool {
	fr, st := decodeFrame(data[at:])
	if st != frameOK {
		return false
	}
	c, ok := decodeCommit(fr.body)
	return ok && c.n == commits+1 && int64(c.batchStart) == committedEnd && findCommit(data, at+int64(fr.size)) < 0
}

// findCommit returns the offset of a valid commit frame at or after from.
func findCommit(data []byte, from int64) int64 {
	magic := []byte(commitMagic)
	for from < int64(len(data)) {
		i := bytes.Index(data[from:], magic)
		if i < 0 {
			return -1
		}
		p := from + int64(i) - frameHeaderSize
		if p >= 0 {
			if fr, st := decodeFrame(data[p:]); st == frameOK && fr.typ == recCommit {
				return p
			}
		}
		from += int64(i) + 1
	}
	return -1
}

func (t *Table) applyRecord(s, prev *segment, name string, typ byte, body []byte, off int64, lastRowID *uint64) error {
	switch typ {
	case recSegment:
		if off != 0 {
			return fileError(ErrCorrupt, name, off, errors.New("segment header inside the file"))
		}
	case recState:
		st := decodeState(body)
		if s.kind == kindLog && prev != nil && prev.kind != kindCompacted && prev.commits != st.prevCommits {
			return fileError(ErrCorrupt, filepath.Join(filepath.Dir(name), prev.name), prev.end,
				fmt.Errorf("segment has %d commits, the next one says %d", prev.commits, st.prevCommits))
		}
		if s.kind == kindTruncate {
			*lastRowID = 0
		}
		if st.nextRowID <= *lastRowID {
			return fileError(ErrCorrupt, name, off, fmt.Errorf("next row id %d not after row %d", st.nextRowID, *lastRowID))
		}
		t.nextID = st.nextRowID
		t.marks = st.marks
	case recRow:
		id := leUint64(body)
		if id <= *lastRowID || id == 0 {
			return fileError(ErrCorrupt, name, off, fmt.Errorf("row id %d not after %d", id, *lastRowID))
		}
		*lastRowID = id
		s.addRow(id, off, len(body)-rowBodyMin, true)
		t.live++
		if id >= t.nextID {
			t.nextID = id + 1
		}
	case recRemove:
		for i := 0; i < len(body); i += 8 {
			if seg, k, ok := t.locateLocked(leUint64(body[i:])); ok && seg.kill(k) {
				t.live--
			}
		}
	case recPrepare:
		r, ok := decodePrepare(body)
		if !ok {
			return fileError(ErrCorrupt, name, off, errors.New("bad PREPARE record"))
		}
		if _, dup := t.prepared[r.xid]; dup {
			return fileError(ErrCorrupt, name, off, fmt.Errorf("transaction %q prepared twice", r.xid))
		}
		x := t.Begin()
		x.xid, x.removes = r.xid, r.removes
		for _, id := range r.removes {
			if seg, i, ok := t.locateLocked(id); ok && seg.isLive(i) && t.owned[id] == nil {
				t.owned[id] = x.holder
			}
		}
		t.publishPrepareLocked(x, s, r.firstID, r.nrows)
	case recResolve:
		xid, outcome, ok := decodeResolve(body)
		if !ok {
			return fileError(ErrCorrupt, name, off, errors.New("bad RESOLVE record"))
		}
		// No PREPARE: it was in a segment compaction rewrote after the
		// outcome was applied (compact.go keeps it otherwise).
		if x := t.prepared[xid]; x != nil {
			removed, _ := t.applyResolveLocked(x, s, outcome)
			t.live -= uint64(removed)
		}
	case recRelay:
		slot := int(body[0])
		if slot >= MaxRelaySlots {
			return fileError(ErrCorrupt, name, off, fmt.Errorf("relay slot %d", slot))
		}
		t.marks[slot] = leUint64(body[1:])
	}
	return nil
}

// cutTail truncates s after its last commit unless only zeros follow.
func (t *Table) cutTail(s *segment, name string) error {
	size, err := s.f.Size()
	if err != nil {
		return fileError(ErrIO, name, 0, err)
	}
	if size <= s.end {
		return nil
	}
	tail := make([]byte, size-s.end)
	if _, err := s.f.ReadAt(tail, s.end); err != nil && !errors.Is(err, io.EOF) {
		return fileError(ErrIO, name, s.end, err)
	}
	if allZero(tail) {
		s.allocated = size
		return nil
	}
	t.recovery.BytesTruncated += size - s.end
	if err := s.f.Truncate(s.end); err != nil {
		return fileError(ErrIO, name, s.end, err)
	}
	if err := s.f.Sync(); err != nil {
		return fileError(ErrIO, name, s.end, err)
	}
	s.allocated = s.end
	return nil
}
