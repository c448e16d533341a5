package core

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Repair (REPAIR TABLE) keeps every valid row and drops what cannot be
// read: it verifies the table like Check and, if anything is wrong,
// rewrites the live rows that pass their check (and decode, when a decoder
// is given) into one fresh segment that replaces all others.
//
// The fresh segment is of kind truncate (it obsoletes every older segment)
// and carries the table's next row id and relay marks in its STATE record
// and the kept rows with their ids, so ids, ownerships and filter
// positions stay valid. Commit point: its rename and directory sync
// (WriteFileAtomic); older files are deleted afterwards, and recovery
// finishes an interrupted deletion as it does for TRUNCATE.

// LostRow is a row a repair dropped: its id and where it was.
type LostRow struct {
	ID     uint64
	File   string
	Offset int64
	Reason string
}

// RepairReport says what a repair found and did.
type RepairReport struct {
	Check     *CheckReport // the verification before the repair
	Rewritten bool         // the files were rewritten
	Kept      uint64       // live rows kept
	Lost      []LostRow    // live rows dropped
	// LostRecords is true when damaged bytes hid records that cannot be
	// counted (a batch whose frames are unreadable): rows of such a batch
	// are lost without an id to report.
	LostRecords bool
}

type keptRow struct {
	id      uint64
	payload []byte
	ms      int64 // enqueue time (unix ms, 0: unknown)
}

// writeRepaired writes the fresh segment seq holding rows (ascending ids)
// durably under its final name and returns each row's frame offset and
// the size. The rows get one COMMIT frame, with the time of the oldest of
// them whose time is known: ages are overstated, never understated.
func writeRepaired(fsys FS, dir string, seq, nextID uint64, marks [MaxRelaySlots]uint64, rows []keptRow) ([]uint32, int64, error) {
	b := segmentHeader{seq: seq, base: 0, kind: kindTruncate}.encode(nil)
	st := stateRecord{nextRowID: nextID, marks: marks}
	b = st.encode(b)
	offs := make([]uint32, len(rows))
	for i, r := range rows {
		if len(b)+len(r.payload) > maxBatchBytes {
			return nil, 0, fmt.Errorf("%w: the live rows exceed %d bytes: repair the table with queue-check offline", ErrTooLarge, maxBatchBytes)
		}
		offs[i] = uint32(len(b))
		b = appendRowFrame(b, r.id, r.payload)
	}
	b = appendCommitFrame(b, 1, 0, oldestKnown(rows))
	if err := WriteFileAtomic(fsys, filepath.Join(dir, segmentName(seq)), b); err != nil {
		return nil, 0, err
	}
	return offs, int64(len(b)), nil
}

// oldestKnown is the earliest known enqueue time of rows (0: none known).
func oldestKnown(rows []keptRow) int64 {
	var ms int64
	for _, r := range rows {
		if r.ms != 0 && (ms == 0 || r.ms < ms) {
			ms = r.ms
		}
	}
	return ms
}

// Repair verifies the open table and, if it found errors, rewrites it
// without the rows that cannot be read. Commits wait while it runs
// (producers and consumers block for its duration); takes and reads go on.
func (t *Table) Repair(opts CheckOptions) (rep *RepairReport, err error) {
	defer recoverError(&err)
	opts.Quick = false
	t.compactMu.Lock()
	defer t.compactMu.Unlock()
	t.wmu.Lock()
	defer t.wmu.Unlock()
	if t.broken != nil {
		return nil, t.broken
	}
	v, idx, nextID, marks, release, err := t.snapshotForCheck(opts)
	if err != nil {
		return nil, err
	}
	v.run()
	v.compareIndex("table's index", idx, nextID, marks)
	release()
	rep = &RepairReport{Check: v.rep}
	if v.rep.Errors() == 0 {
		rep.Kept = v.rep.Rows
		return rep, nil
	}

	// The index (built by recovery and kept by durable commits) says
	// which rows are live; each is read and checked again.
	type ref struct {
		seg    *segment
		id     uint64
		off, n uint32
		ms     int64
	}
	t.mu.RLock()
	var refs []ref
	for _, s := range t.segs {
		for i := s.nextLive(0); i < s.nrows(); i = s.nextLive(i + 1) {
			refs = append(refs, ref{s, s.idAt(i), s.offs[i], s.lens[i], s.timeAt(i)})
		}
		s.acquire()
	}
	old := append([]*segment(nil), t.segs...)
	dir, lastSeq, maxID := t.dir, old[len(old)-1].seq, old[len(old)-1].maxID
	nextID, marks = t.nextID, t.marks
	t.mu.RUnlock()
	defer func() {
		for _, s := range old {
			s.release()
		}
	}()
	var kept []keptRow
	lostIDs := map[uint64]bool{}
	for _, r := range refs {
		p, err := readPayload(r.seg, r.off, r.n, r.id, nil)
		reason := ""
		if err != nil {
			reason = "frame does not check"
		} else if opts.Decode != nil {
			if derr := opts.Decode(p); derr != nil {
				reason = "does not decode: " + derr.Error()
			}
		}
		if reason != "" {
			rep.Lost = append(rep.Lost, LostRow{r.id, r.seg.name, int64(r.off), reason})
			lostIDs[r.id] = true
			continue
		}
		kept = append(kept, keptRow{r.id, p, r.ms})
	}
	seq := lastSeq + 1
	offs, size, err := writeRepaired(t.fs, dir, seq, nextID, marks, kept)
	if err != nil {
		return rep, err
	}
	name := filepath.Join(dir, segmentName(seq))
	f, err := t.fs.OpenRW(name)
	if err != nil {
		t.broken = fileError(ErrIO, name, 0, err)
		return rep, t.broken
	}
	fresh := newSegment(seq, 0, kindTruncate, f)
	fresh.end, fresh.allocated, fresh.commits = size, size, 1
	for i, r := range kept {
		fresh.addRow(r.id, int64(offs[i]), len(r.payload), true)
	}
	fresh.noteBatch(0, oldestKnown(kept))
	fresh.maxID = max(fresh.maxID, maxID)

	t.mu.Lock()
	t.segs = []*segment{fresh}
	t.live = uint64(len(kept))
	for id := range lostIDs {
		if o := t.owned[id]; o != nil {
			delete(t.owned, id)
			t.st.ownerEpoch.Add(1)
		}
		delete(t.st.damaged, id)
	}
	t.updated = time.Now()
	t.mu.Unlock()
	t.staleIndex.Store(false)
	rep.Rewritten, rep.Kept = true, uint64(len(kept))
	for _, s := range old {
		s.release() // the table's reference
	}
	for _, s := range old {
		if err := t.fs.Remove(filepath.Join(dir, s.name)); err != nil {
			t.broken = fileError(ErrIO, filepath.Join(dir, s.name), 0, err)
			return rep, t.broken
		}
	}
	if err := t.fs.SyncDir(dir); err != nil {
		t.broken = fileError(ErrIO, dir, 0, err)
		return rep, t.broken
	}
	t.observe()
	return rep, nil
}

// RepairDir repairs the table directory dir of a table that is not open
// (one that recovery refuses to open): it keeps every row of every
// committed batch whose frame checks, and writes them into one fresh
// segment that replaces all others, so the table opens again. Nothing is
// written when the verification finds no error.
func RepairDir(fsys FS, dir string, opts CheckOptions) (rep *RepairReport, err error) {
	defer recoverError(&err)
	opts.Quick = false
	v, closeAll, err := openForVerify(fsys, dir, opts)
	if err != nil {
		return nil, err
	}
	defer closeAll()
	v.run()
	v.checkpoint(fsys, dir)
	rep = &RepairReport{Check: v.rep}
	if v.rep.Errors() == 0 {
		rep.Kept = v.rep.Rows
		return rep, nil
	}
	for _, p := range v.rep.Problems {
		if p.Level == LevelError && (containsAny(p.Text, "batch are lost", "damaged record", "missing", "unreadable segment header")) {
			rep.LostRecords = true
		}
	}
	var kept []keptRow
	for _, s := range v.segs {
		for i, id := range s.ids {
			if !s.live[i] {
				continue
			}
			if s.bad[i] {
				rep.Lost = append(rep.Lost, LostRow{id, s.name, int64(s.offs[i]), "frame does not check"})
				continue
			}
			buf := make([]byte, frameHeaderSize+rowBodyMin+int(s.lens[i]))
			if _, err := s.f.ReadAt(buf, int64(s.offs[i])); err != nil {
				return rep, fileError(ErrIO, s.name, int64(s.offs[i]), err)
			}
			kept = append(kept, keptRow{id, buf[frameHeaderSize+rowBodyMin:], 0})
		}
	}
	names, err := fsys.ReadDir(dir)
	if err != nil {
		return rep, fmt.Errorf("queue: list %s: %w", dir, err)
	}
	var last uint64
	for _, n := range names {
		if seq, ok := parseSegmentName(n); ok {
			last = max(last, seq)
		}
	}
	sort.Slice(kept, func(i, j int) bool { return kept[i].id < kept[j].id })
	if _, _, err := writeRepaired(fsys, dir, last+1, v.nextID, v.marks, kept); err != nil {
		return rep, err
	}
	rep.Rewritten, rep.Kept = true, uint64(len(kept))
	for _, n := range names {
		if _, ok := parseSegmentName(n); ok || n == checkpointName {
			if err := fsys.Remove(filepath.Join(dir, n)); err != nil {
				return rep, fileError(ErrIO, filepath.Join(dir, n), 0, err)
			}
		}
	}
	if err := fsys.SyncDir(dir); err != nil {
		return rep, fileError(ErrIO, dir, 0, err)
	}
	return rep, nil
}

func containsAny(s string, subs ...string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}
