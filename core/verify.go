package core

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
)

// Verification (CHECK TABLE, queue-check verify) reads a table's segment
// files and reports every problem with file and offset, without changing
// anything. It applies the rules of recovery (recover.go) but goes on
// after a problem to find the next one, and it also reports what recovery
// tolerates (a torn tail, leftovers of an interrupted compaction) as
// warnings.
//
// Levels: quick checks the frames only (framing, checksums, commit
// numbers); a full check also checks that row ids increase, that removal
// records name rows that were written, that every row decodes (when the
// caller gives a decoder) and that the index agrees with the files (the
// open table's index, or the checkpoint of a table that is not open).

// Problem levels.
const (
	LevelError   = "error"
	LevelWarning = "warning"
)

// Problem is one finding. File is the segment (or checkpoint) file name
// inside the table directory, Offset the byte offset in it.
type Problem struct {
	Level  string
	File   string
	Offset int64
	Text   string
}

func (p Problem) String() string {
	if p.File == "" {
		return p.Text
	}
	return fmt.Sprintf("%s at offset %d: %s", p.File, p.Offset, p.Text)
}

// CheckOptions select what a verification checks.
type CheckOptions struct {
	// Quick checks the frames only.
	Quick bool
	// Decode, when set, is called with each row's payload in a full
	// check; an error is reported as a row that does not decode.
	Decode func(payload []byte) error
}

// DamagedRow is a row whose frame fails its check (or whose payload does
// not decode): where it is and its id (0 when the id itself is unreadable).
type DamagedRow struct {
	ID     uint64
	File   string
	Offset int64
	Live   bool // not removed by a later removal record
}

// CheckReport is the result of a verification.
type CheckReport struct {
	Problems   []Problem
	Segments   int
	Rows       uint64 // live rows (damaged ones included)
	RowFrames  uint64 // row frames in the files, removed ones included
	BytesLive  int64  // frame bytes of live rows
	BytesTotal int64  // bytes of the segment files
	NextID     uint64
	Marks      [MaxRelaySlots]uint64
	Damaged    []DamagedRow
	// Checkpoint describes the checkpoint file: "none", "valid",
	// "ignored" (does not match the segments: recovery replays) or
	// "damaged". Empty for an open table (it has none while open).
	Checkpoint string
}

// Errors counts the problems of level error.
func (r *CheckReport) Errors() int {
	n := 0
	for _, p := range r.Problems {
		if p.Level == LevelError {
			n++
		}
	}
	return n
}

// vseg is one segment as verification reads it.
type vseg struct {
	name  string
	f     File
	hdr   segmentHeader
	limit int64 // bytes to read; -1: the whole file
	last  bool

	ids     []uint64
	offs    []uint32
	lens    []uint32
	live    []bool
	bad     []bool // frame fails its check or payload does not decode
	end     int64
	commits uint64
	maxID   uint64
}

func (s *vseg) find(id uint64) (int, bool) {
	i := sort.Search(len(s.ids), func(i int) bool { return s.ids[i] >= id })
	return i, i < len(s.ids) && s.ids[i] == id
}

type verifier struct {
	opts      CheckOptions
	rep       *CheckReport
	segs      []*vseg
	lastRowID uint64
	nextID    uint64
	marks     [MaxRelaySlots]uint64
}

func (v *verifier) problem(level, file string, off int64, format string, args ...any) {
	v.rep.Problems = append(v.rep.Problems, Problem{level, file, off, fmt.Sprintf(format, args...)})
}

// locate finds row id among the segments read so far.
func (v *verifier) locate(id uint64) (*vseg, int, bool) {
	k := sort.Search(len(v.segs), func(k int) bool { return v.segs[k].maxID >= id })
	if k >= len(v.segs) {
		return nil, 0, false
	}
	i, ok := v.segs[k].find(id)
	return v.segs[k], i, ok
}

// run reads every segment in order, then fills the report's figures.
func (v *verifier) run() {
	v.nextID = 1
	for k, s := range v.segs {
		if k > 0 {
			s.maxID = v.segs[k-1].maxID
		}
		var prev *vseg
		if k > 0 {
			prev = v.segs[k-1]
		}
		v.scan(s, prev)
	}
	r := v.rep
	r.Segments = len(v.segs)
	r.NextID, r.Marks = v.nextID, v.marks
	for _, s := range v.segs {
		if sz, err := s.f.Size(); err == nil {
			r.BytesTotal += sz
		}
		for i := range s.ids {
			r.RowFrames++
			if s.live[i] {
				r.Rows++
				r.BytesLive += int64(frameHeaderSize + rowBodyMin + int(s.lens[i]))
			}
			if s.bad[i] {
				r.Damaged = append(r.Damaged, DamagedRow{ID: s.ids[i], File: s.name, Offset: int64(s.offs[i]), Live: s.live[i]})
				if !s.live[i] {
					v.noteRemoved(s.name, int64(s.offs[i]))
				}
			}
		}
	}
}

// noteRemoved adds to the problem at file and off that its row was
// removed: the damaged bytes stay in the file (recovery without a
// checkpoint refuses them) until the segment is rewritten.
func (v *verifier) noteRemoved(file string, off int64) {
	for i := range v.rep.Problems {
		p := &v.rep.Problems[i]
		if p.File == file && p.Offset == off && p.Level == LevelError {
			p.Text += " (the row is removed; its damaged bytes stay in the file until REPAIR TABLE or a compaction rewrites it)"
		}
	}
}

type vop struct {
	typ  byte
	body []byte
	off  int64
	bad  bool // a row frame that fails its check (id from its body)
}

// scan reads one segment. Like loadSegment it applies only committed
// batches; unlike it, it reports and goes on.
func (v *verifier) scan(s *vseg, prev *vseg) {
	size, err := s.f.Size()
	if err != nil {
		v.problem(LevelError, s.name, 0, "cannot read the file: %v", err)
		return
	}
	if s.limit >= 0 && s.limit < size {
		size = s.limit
	}
	data := make([]byte, size)
	if n, err := s.f.ReadAt(data, 0); err != nil && !(errors.Is(err, io.EOF) && int64(n) == size) {
		v.problem(LevelError, s.name, 0, "cannot read the file: %v", err)
		return
	}
	var pending []vop
	off := int64(0)
	committedEnd := int64(0)
	for off < int64(len(data)) {
		fr, st := decodeFrame(data[off:])
		if st == frameEnd {
			break
		}
		if st == frameOK && off == 0 && fr.typ != recSegment {
			st = frameBad
		}
		if st == frameOK && fr.typ == recCommit {
			c, ok := decodeCommit(fr.body)
			switch {
			case !ok:
				st = frameBad
			case c.n != s.commits+1:
				v.problem(LevelError, s.name, off, "commit number %d, expected %d", c.n, s.commits+1)
				s.commits = c.n - 1
			case int64(c.batchStart) != committedEnd:
				v.problem(LevelError, s.name, off, "commit %d says its batch starts at offset %d, the previous commit ends at %d",
					c.n, c.batchStart, committedEnd)
			}
		}
		if st == frameOK {
			if fr.typ != recCommit {
				pending = append(pending, vop{typ: fr.typ, body: fr.body, off: off})
				off += int64(fr.size)
				continue
			}
			for _, p := range pending {
				v.apply(s, prev, p)
			}
			pending = pending[:0]
			off += int64(fr.size)
			s.commits++
			committedEnd = off
			continue
		}
		// An invalid frame. With no valid commit after it, it is the end
		// of the log (a torn tail); otherwise damage.
		later := findCommit(data, off+1)
		if later < 0 {
			break
		}
		if s.last && s.limit < 0 && tornLastBatch(data, later, committedEnd, s.commits) {
			v.problem(LevelWarning, s.name, off,
				"the last batch (commit %d) reached the disk in part; it was never acknowledged and recovery discards it", s.commits+1)
			break
		}
		// Damage in the middle. A frame whose header is intact and is
		// followed by a valid frame is skipped by its length: if it is
		// a row, the row is damaged and the rest of its batch is kept.
		if len(data[off:]) >= frameHeaderSize {
			n := int64(leUint32(data[off+4:]))
			typ := data[off+8]
			next := off + frameHeaderSize + n
			if n <= maxFrameBody && next < int64(len(data)) {
				if _, nst := decodeFrame(data[next:]); nst == frameOK {
					if typ == recRow && n >= rowBodyMin {
						id := leUint64(data[off+frameHeaderSize:])
						v.problem(LevelError, s.name, off, "row %d: frame does not check (checksum)", id)
						pending = append(pending, vop{typ: recRow, body: data[off+frameHeaderSize : next], off: off, bad: true})
					} else {
						v.problem(LevelError, s.name, off, "damaged record (type %d, %d bytes): frame does not check", typ, n)
					}
					off = next
					continue
				}
			}
		}
		v.problem(LevelError, s.name, off, "damaged bytes up to the commit at offset %d: the records of that batch are lost", later)
		pending = pending[:0]
		fr, _ = decodeFrame(data[later:])
		c, _ := decodeCommit(fr.body)
		s.commits = c.n
		off = later + int64(fr.size)
		committedEnd = off
	}
	if len(pending) > 0 && s.limit < 0 {
		v.problem(LevelWarning, s.name, committedEnd, "%d records after the last commit (never acknowledged); recovery discards them", len(pending))
	}
	s.end = committedEnd
	if s.commits == 0 {
		if s.last && s.limit < 0 && prev != nil && s.hdr.kind == kindLog {
			v.problem(LevelWarning, s.name, 0, "the last segment has no commit (its creation was interrupted); recovery deletes it")
		} else {
			v.problem(LevelError, s.name, 0, "segment has no commit")
		}
	}
	if s.limit < 0 && int64(len(data)) > committedEnd && !allZero(data[committedEnd:]) && len(pending) == 0 {
		v.problem(LevelWarning, s.name, committedEnd, "%d bytes after the last commit; recovery discards them", int64(len(data))-committedEnd)
	}
}

func leUint32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// apply applies one committed record to the verification's index.
func (v *verifier) apply(s, prev *vseg, p vop) {
	full := !v.opts.Quick
	switch p.typ {
	case recSegment:
		if p.off != 0 {
			v.problem(LevelError, s.name, p.off, "segment header inside the file")
		}
	case recState:
		st := decodeState(p.body)
		if full && s.hdr.kind == kindLog && prev != nil && prev.hdr.kind != kindCompacted && prev.commits != st.prevCommits {
			v.problem(LevelError, prev.name, prev.end, "segment has %d commits, the next one says %d", prev.commits, st.prevCommits)
		}
		if s.hdr.kind == kindTruncate {
			v.lastRowID = 0
		}
		if full && st.nextRowID <= v.lastRowID {
			v.problem(LevelError, s.name, p.off, "next row id %d not after row %d", st.nextRowID, v.lastRowID)
		}
		v.nextID = st.nextRowID
		v.marks = st.marks
	case recRow:
		id := leUint64(p.body)
		if id <= v.lastRowID || id == 0 {
			if full && !p.bad {
				v.problem(LevelError, s.name, p.off, "row id %d not after %d", id, v.lastRowID)
			}
			return
		}
		v.lastRowID = id
		bad := p.bad
		if !bad && full && v.opts.Decode != nil {
			if err := v.opts.Decode(p.body[rowBodyMin:]); err != nil {
				v.problem(LevelError, s.name, p.off, "row %d does not decode: %v", id, err)
				bad = true
			}
		}
		s.ids = append(s.ids, id)
		s.offs = append(s.offs, uint32(p.off))
		s.lens = append(s.lens, uint32(len(p.body)-rowBodyMin))
		s.live = append(s.live, true)
		s.bad = append(s.bad, bad)
		s.maxID = max(s.maxID, id)
		if id >= v.nextID {
			v.nextID = id + 1
		}
	case recRemove:
		for i := 0; i < len(p.body); i += 8 {
			id := leUint64(p.body[i:])
			if seg, k, ok := v.locate(id); ok {
				seg.live[k] = false
			} else if full && (id == 0 || id >= v.nextID) {
				v.problem(LevelError, s.name, p.off, "removal of row %d, which was never written (next row id %d)", id, v.nextID)
			}
		}
	case recRelay:
		slot := int(p.body[0])
		if slot >= MaxRelaySlots {
			v.problem(LevelError, s.name, p.off, "relay slot %d", slot)
			return
		}
		v.marks[slot] = leUint64(p.body[1:])
	}
}

// compareIndex reports where an index (the open table's, or the
// checkpoint's) disagrees with what the files say. what names it.
func (v *verifier) compareIndex(what string, idx []cpSegment, nextID uint64, marks [MaxRelaySlots]uint64) {
	if len(idx) != len(v.segs) {
		v.problem(LevelError, "", 0, "the %s has %d segments, the directory %d", what, len(idx), len(v.segs))
		return
	}
	for k, c := range idx {
		s := v.segs[k]
		if c.seq != s.hdr.seq {
			v.problem(LevelError, s.name, 0, "the %s names segment %s here", what, segmentName(c.seq))
			return
		}
		if c.end != s.end || c.commits != s.commits {
			v.problem(LevelError, s.name, s.end, "the %s records %d commits ending at offset %d, the file has %d ending at %d",
				what, c.commits, c.end, s.commits, s.end)
		}
		if len(c.offs) != len(s.ids) {
			v.problem(LevelError, s.name, 0, "the %s records %d rows, the file has %d", what, len(c.offs), len(s.ids))
			continue
		}
		for i := range c.offs {
			id := c.firstID + uint64(i)
			if c.ids != nil {
				id = c.ids[i]
			}
			live := c.live[i/64]&(1<<(i%64)) != 0
			switch {
			case id != s.ids[i] || c.offs[i] != s.offs[i] || c.lens[i] != s.lens[i]:
				v.problem(LevelError, s.name, int64(s.offs[i]), "the %s records row %d at offset %d (%d bytes), the file has row %d (%d bytes)",
					what, id, c.offs[i], c.lens[i], s.ids[i], s.lens[i])
			case live != s.live[i]:
				state := func(b bool) string {
					if b {
						return "live"
					}
					return "removed"
				}
				v.problem(LevelError, s.name, int64(s.offs[i]), "row %d is %s in the %s, %s in the files", id, state(live), what, state(s.live[i]))
			}
		}
	}
	if nextID != v.nextID {
		v.problem(LevelError, "", 0, "the %s says the next row id is %d, the files %d", what, nextID, v.nextID)
	}
	if marks != v.marks {
		v.problem(LevelError, "", 0, "the %s's relay marks differ from the files'", what)
	}
}

// Check verifies the open table's files against its index. Producers and
// consumers go on meanwhile: it excludes compaction, TRUNCATE and RENAME
// (compactMu) and reads each segment up to the end of its commits at the
// moment the index was copied; the committer only writes after that end.
func (t *Table) Check(opts CheckOptions) (rep *CheckReport, err error) {
	defer recoverError(&err)
	t.compactMu.Lock()
	defer t.compactMu.Unlock()
	v, idx, nextID, marks, release, err := t.snapshotForCheck(opts)
	if err != nil {
		return nil, err
	}
	defer release()
	v.run()
	if !opts.Quick {
		v.compareIndex("table's index", idx, nextID, marks)
	}
	return v.rep, nil
}

// snapshotForCheck copies the index under t.mu and sets up a verifier over
// the segment files, each read up to its committed end. Caller holds
// compactMu. release drops the file references.
func (t *Table) snapshotForCheck(opts CheckOptions) (v *verifier, idx []cpSegment, nextID uint64, marks [MaxRelaySlots]uint64, release func(), err error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed || len(t.segs) == 0 {
		return nil, nil, 0, marks, nil, ErrClosed
	}
	v = &verifier{opts: opts, rep: &CheckReport{}}
	segs := append([]*segment(nil), t.segs...)
	for _, s := range segs {
		s.acquire()
		n := s.nrows()
		c := cpSegment{seq: s.seq, base: s.base, kind: s.kind, end: s.end, commits: s.commits, maxID: s.maxID, firstID: s.firstID}
		if s.ids != nil {
			c.ids = append([]uint64(nil), s.ids...)
		}
		c.offs = append([]uint32(nil), s.offs...)
		c.lens = append([]uint32(nil), s.lens...)
		c.live = append([]uint64(nil), s.live[:(n+63)/64]...)
		idx = append(idx, c)
		v.segs = append(v.segs, &vseg{name: s.name, f: s.f, hdr: segmentHeader{seq: s.seq, base: s.base, kind: s.kind}, limit: s.end})
	}
	v.segs[len(v.segs)-1].last = true
	release = func() {
		for _, s := range segs {
			s.release()
		}
	}
	return v, idx, t.nextID, t.marks, release, nil
}

// Verify checks the table directory dir of a table that is not open
// (queue-check verify). It only reads: leftovers that recovery would
// delete or cut are reported as warnings. An error is returned only when
// the directory cannot be listed.
func Verify(fsys FS, dir string, opts CheckOptions) (rep *CheckReport, err error) {
	defer recoverError(&err)
	v, closeAll, err := openForVerify(fsys, dir, opts)
	if err != nil {
		return nil, err
	}
	defer closeAll()
	v.run()
	v.checkpoint(fsys, dir)
	return v.rep, nil
}

// openForVerify lists dir, reads the segment headers and opens the
// segments recovery would keep, reporting what it would delete.
func openForVerify(fsys FS, dir string, opts CheckOptions) (*verifier, func(), error) {
	names, err := fsys.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("queue: list %s: %w", dir, err)
	}
	v := &verifier{opts: opts, rep: &CheckReport{Checkpoint: "none"}}
	var seqs []uint64
	for _, n := range names {
		switch {
		case strings.HasSuffix(n, tmpSuffix):
			v.problem(LevelWarning, n, 0, "temporary file of an interrupted write; recovery deletes it")
		case n == checkpointName:
			v.rep.Checkpoint = "present"
		default:
			if seq, ok := parseSegmentName(n); ok {
				seqs = append(seqs, seq)
			}
		}
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	if len(seqs) == 0 {
		v.problem(LevelError, "", 0, "%s has no segment files", dir)
		return v, func() {}, nil
	}
	t := &Table{fs: fsys, dir: dir}
	hdrs := make([]segmentHeader, len(seqs))
	for i, seq := range seqs {
		h, err := t.readHeader(filepath.Join(dir, segmentName(seq)))
		if err == nil && h.seq != seq {
			err = fmt.Errorf("header names segment %d", h.seq)
		}
		if err != nil {
			if i == len(seqs)-1 && i > 0 {
				v.problem(LevelWarning, segmentName(seq), 0, "unreadable header of the last segment (an interrupted creation); recovery deletes it: %v", err)
			} else {
				v.problem(LevelError, segmentName(seq), 0, "unreadable segment header: %v", err)
			}
			continue
		}
		hdrs[i] = h
	}
	var files []File
	closeAll := func() {
		for _, f := range files {
			_ = f.Close()
		}
	}
	var kept []uint64
	for i, seq := range seqs {
		if hdrs[i].kind == 0 {
			continue
		}
		obsolete := false
		for j := range seqs {
			if hdrs[j].kind != 0 && hdrs[j].base <= seq && seq < hdrs[j].seq {
				obsolete = true
			}
		}
		if obsolete {
			v.problem(LevelWarning, segmentName(seq), 0, "obsolete segment (an interrupted compaction or TRUNCATE); recovery deletes it")
			continue
		}
		if len(kept) > 0 && hdrs[i].base != kept[len(kept)-1]+1 {
			v.problem(LevelError, segmentName(seq), 0, "segment %s is missing before it", segmentName(kept[len(kept)-1]+1))
		}
		f, err := fsys.OpenRW(filepath.Join(dir, segmentName(seq)))
		if err != nil {
			v.problem(LevelError, segmentName(seq), 0, "cannot open: %v", err)
			continue
		}
		files = append(files, f)
		kept = append(kept, seq)
		v.segs = append(v.segs, &vseg{name: segmentName(seq), f: f, hdr: hdrs[i], limit: -1})
	}
	if len(v.segs) > 0 {
		v.segs[len(v.segs)-1].last = true
	} else {
		v.problem(LevelError, "", 0, "%s has no valid segment", dir)
	}
	return v, closeAll, nil
}

// checkpoint compares the checkpoint, if any, with the files.
func (v *verifier) checkpoint(fsys FS, dir string) {
	if v.rep.Checkpoint == "none" {
		return
	}
	t := &Table{fs: fsys, dir: dir}
	cp, marks, nextID, ok := t.readCheckpoint()
	if !ok {
		v.rep.Checkpoint = "damaged"
		v.problem(LevelWarning, checkpointName, 0, "the checkpoint is damaged or of another version; recovery ignores it and reads the segments")
		return
	}
	if len(cp) != len(v.segs) {
		v.rep.Checkpoint = "ignored"
		v.problem(LevelWarning, checkpointName, 0, "the checkpoint names %d segments, the directory holds %d; recovery ignores it", len(cp), len(v.segs))
		return
	}
	for k, c := range cp {
		h := v.segs[k].hdr
		if c.seq != h.seq || c.base != h.base || c.kind != h.kind {
			v.rep.Checkpoint = "ignored"
			v.problem(LevelWarning, checkpointName, 0, "the checkpoint names segment %s where the directory has %s; recovery ignores it",
				segmentName(c.seq), v.segs[k].name)
			return
		}
	}
	v.rep.Checkpoint = "valid"
	if !v.opts.Quick {
		v.compareIndex("checkpoint", cp, nextID, marks)
	}
}

// VisitRows calls fn with every live row of the table directory dir (not
// open), in id order, after verifying it (rep as Verify returns it); rows
// whose frame fails its check are passed with a nil payload and bad set.
func VisitRows(fsys FS, dir string, fn func(id uint64, file string, off int64, payload []byte, bad bool) error) (rep *CheckReport, err error) {
	defer recoverError(&err)
	v, closeAll, err := openForVerify(fsys, dir, CheckOptions{})
	if err != nil {
		return nil, err
	}
	defer closeAll()
	v.run()
	v.checkpoint(fsys, dir)
	for _, s := range v.segs {
		for i, id := range s.ids {
			if !s.live[i] {
				continue
			}
			var payload []byte
			bad := s.bad[i]
			if !bad {
				buf := make([]byte, frameHeaderSize+rowBodyMin+int(s.lens[i]))
				if _, err := s.f.ReadAt(buf, int64(s.offs[i])); err != nil {
					return v.rep, fileError(ErrIO, s.name, int64(s.offs[i]), err)
				}
				payload = buf[frameHeaderSize+rowBodyMin:]
			}
			if err := fn(id, s.name, int64(s.offs[i]), payload, bad); err != nil {
				return v.rep, err
			}
		}
	}
	return v.rep, nil
}
