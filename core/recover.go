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
func (t *Table) recover() error {
	dir := t.dir
	names, err := t.fs.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: table directory %s", ErrNotFound, dir)
		}
		return fmt.Errorf("queue: open %s: %w", dir, err)
	}
	var seqs []uint64
	hasCheckpoint := false
	for _, n := range names {
		switch {
		case strings.HasSuffix(n, tmpSuffix):
			// Temp files are never referenced before their rename: an
			// interrupted compaction, truncate or checkpoint.
			if err := t.fs.Remove(filepath.Join(dir, n)); err != nil {
				return fileError(ErrIO, filepath.Join(dir, n), 0, err)
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
		return fmt.Errorf("%w: %s has no segment files", ErrCorrupt, dir)
	}

	// Headers first: compacted and truncate segments make older ones obsolete.
	hdrs := make([]segmentHeader, len(seqs))
	valid := make([]bool, len(seqs))
	for i, seq := range seqs {
		h, err := t.readHeader(filepath.Join(dir, segmentName(seq)))
		if err == nil && h.seq != seq {
			err = fmt.Errorf("header names segment %d", h.seq)
		}
		if err != nil {
			if i == len(seqs)-1 && i > 0 {
				// A log segment whose creation was interrupted: nothing in it
				// was acknowledged (the directory sync comes first).
				continue
			}
			return fileError(ErrCorrupt, filepath.Join(dir, segmentName(seq)), 0, err)
		}
		hdrs[i], valid[i] = h, true
	}
	obsolete := func(seq uint64) bool {
		for i := range seqs {
			if valid[i] && hdrs[i].base <= seq && seq < hdrs[i].seq {
				return true
			}
		}
		return false
	}
	var keep []int
	for i, seq := range seqs {
		if !valid[i] || obsolete(seq) {
			if err := t.fs.Remove(filepath.Join(dir, segmentName(seq))); err != nil {
				return fileError(ErrIO, filepath.Join(dir, segmentName(seq)), 0, err)
			}
			continue
		}
		keep = append(keep, i)
	}
	// Each kept segment continues the previous one: a log segment has
	// base == seq, a compacted one replaces [base, seq].
	for k := 1; k < len(keep); k++ {
		if hdrs[keep[k]].base != seqs[keep[k-1]]+1 {
			return fmt.Errorf("%w: %s: segment %s is missing", ErrCorrupt, dir, segmentName(seqs[keep[k-1]]+1))
		}
	}
	if len(keep) == 0 {
		return fmt.Errorf("%w: %s has no valid segment", ErrCorrupt, dir)
	}

	if hasCheckpoint {
		ok, err := t.loadCheckpoint(seqs, keep, hdrs)
		if err != nil {
			return err
		}
		// The checkpoint describes the table only until the next write:
		// remove it before anything is written.
		if err := t.fs.Remove(filepath.Join(dir, checkpointName)); err != nil {
			return fileError(ErrIO, filepath.Join(dir, checkpointName), 0, err)
		}
		if err := t.fs.SyncDir(dir); err != nil {
			return fileError(ErrIO, dir, 0, err)
		}
		if ok {
			return t.makeDurable()
		}
		t.resetIndex()
	}

	t.nextID = 1
	var lastRowID uint64
	for n, i := range keep {
		last := n == len(keep)-1
		name := filepath.Join(dir, segmentName(seqs[i]))
		f, err := t.fs.OpenRW(name)
		if err != nil {
			return fileError(ErrIO, name, 0, err)
		}
		s := newSegment(seqs[i], hdrs[i].base, hdrs[i].kind, f)
		s.maxID = lastRowID
		var prev *segment
		if len(t.segs) > 0 {
			prev = t.segs[len(t.segs)-1]
		}
		t.segs = append(t.segs, s)
		if err := t.loadSegment(s, prev, name, last, &lastRowID); err != nil {
			return err
		}
		if s.commits == 0 {
			if last && n > 0 && s.kind == kindLog {
				// Torn creation of a new log segment.
				t.segs = t.segs[:len(t.segs)-1]
				s.release()
				if err := t.fs.Remove(name); err != nil {
					return fileError(ErrIO, name, 0, err)
				}
				// The previous segment is active again: cut its tail too.
				prev := t.segs[len(t.segs)-1]
				if err := cutTail(prev, filepath.Join(dir, prev.name)); err != nil {
					return err
				}
				continue
			}
			return fileError(ErrCorrupt, name, 0, errors.New("segment has no commit"))
		}
	}
	return t.makeDurable()
}

// makeDurable syncs what recovery adopted before the table serves. A
// process that died may have left a segment whose directory entry, or a
// batch whose bytes, were never synced: recovery reads them from the page
// cache like durable ones, and rows acknowledged later (in that segment, or
// in segments whose STATE counts its commits) would depend on them. The
// sealed segments were synced before the next one was started; only the
// active one can hold unsynced bytes.
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
// prev is the segment before s (nil for the first).
func (t *Table) loadSegment(s, prev *segment, name string, last bool, lastRowID *uint64) error {
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
		if st == frameOK && fr.typ == recCommit {
			c, ok := decodeCommit(fr.body)
			if !ok || c.n != s.commits+1 {
				st = frameBad
			}
		}
		if st == frameEnd {
			break
		}
		if st != frameOK {
			// Torn tail or damage? Damage if a valid commit follows.
			if later := findCommit(data, off+1); later >= 0 {
				return fileError(ErrCorrupt, name, off, fmt.Errorf("damaged record before a commit at offset %d", later))
			}
			break
		}
		if fr.typ != recCommit {
			pending = append(pending, op{fr.typ, fr.body, off})
			off += int64(fr.size)
			continue
		}
		for _, p := range pending {
			if err := t.applyRecord(s, prev, name, p.typ, p.body, p.off, lastRowID); err != nil {
				return err
			}
		}
		pending = pending[:0]
		off += int64(fr.size)
		s.commits++
		committedEnd = off
	}
	s.end = committedEnd
	s.allocated = committedEnd
	if last && size > committedEnd {
		// Cut what follows the last commit unless it is only zero fill,
		// so stale frames cannot be mistaken for log later.
		if !allZero(data[committedEnd:]) {
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
func cutTail(s *segment, name string) error {
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
	if err := s.f.Truncate(s.end); err != nil {
		return fileError(ErrIO, name, s.end, err)
	}
	if err := s.f.Sync(); err != nil {
		return fileError(ErrIO, name, s.end, err)
	}
	s.allocated = s.end
	return nil
}
