package core

import (
	"encoding/binary"
	"errors"
	"io"
	"math/bits"
	"path/filepath"

	"github.com/klauspost/crc32"
)

// The checkpoint (docs/FORMAT.md section 7) is the in-memory index written
// at a clean close so that reopening a large queue reads one file instead
// of every segment. It is deleted at open before any write, so it can only
// ever describe the segments exactly as they are.

const (
	checkpointMagic   = "QCHECKPT"
	checkpointVersion = 2 // 2: per-segment enqueue times
)

// writeCheckpoint writes the index durably. Caller holds wmu and the
// committer has stopped.
func (t *Table) writeCheckpoint() error {
	t.mu.RLock()
	b := make([]byte, 0, 1<<16)
	b = append(b, checkpointMagic...)
	b = binary.LittleEndian.AppendUint32(b, checkpointVersion)
	b = binary.LittleEndian.AppendUint64(b, t.nextID)
	for _, m := range t.marks {
		b = binary.LittleEndian.AppendUint64(b, m)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(t.segs)))
	for _, s := range t.segs {
		b = binary.LittleEndian.AppendUint64(b, s.seq)
		b = binary.LittleEndian.AppendUint64(b, s.base)
		b = append(b, s.kind)
		b = binary.LittleEndian.AppendUint64(b, uint64(s.end))
		b = binary.LittleEndian.AppendUint64(b, s.commits)
		b = binary.LittleEndian.AppendUint64(b, s.maxID)
		n := s.nrows()
		b = binary.LittleEndian.AppendUint32(b, uint32(n))
		if s.ids == nil {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
		b = binary.LittleEndian.AppendUint64(b, s.firstID)
		if s.ids != nil {
			for _, id := range s.ids {
				b = binary.LittleEndian.AppendUint64(b, id)
			}
		}
		for _, o := range s.offs {
			b = binary.LittleEndian.AppendUint32(b, o)
		}
		for _, l := range s.lens {
			b = binary.LittleEndian.AppendUint32(b, l)
		}
		for _, w := range s.live[:(n+63)/64] {
			b = binary.LittleEndian.AppendUint64(b, w)
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(len(s.bRow)))
		for j := range s.bRow {
			b = binary.LittleEndian.AppendUint32(b, s.bRow[j])
			b = binary.LittleEndian.AppendUint64(b, uint64(s.bMs[j]))
		}
	}
	dir := t.dir
	t.mu.RUnlock()
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))

	return WriteFileAtomic(t.fs, filepath.Join(dir, checkpointName), b)
}

// cpReader decodes the checkpoint; any short read sets err.
type cpReader struct {
	b   []byte
	err error
}

func (r *cpReader) take(n int) []byte {
	if r.err != nil || len(r.b) < n {
		r.err = errors.New("short checkpoint")
		return make([]byte, n)
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}
func (r *cpReader) u8() byte    { return r.take(1)[0] }
func (r *cpReader) u32() uint32 { return binary.LittleEndian.Uint32(r.take(4)) }
func (r *cpReader) u64() uint64 { return binary.LittleEndian.Uint64(r.take(8)) }

// cpSegment is one segment as the checkpoint describes it.
type cpSegment struct {
	seq, base      uint64
	kind           byte
	end            int64
	commits, maxID uint64
	firstID        uint64
	ids            []uint64 // nil when contiguous
	offs, lens     []uint32
	live           []uint64
	bRow           []uint32
	bMs            []int64
}

// loadCheckpoint loads the index from the checkpoint if it matches the
// segments kept by recovery (seqs[keep[i]] with headers hdrs). It reports
// false (and loads nothing usable) when the checkpoint does not apply.
//
// proven is set when the checkpoint is intact and names exactly the kept
// segments (numbers, bases, kinds): it then proves that each of them was
// committed up to the recorded end at the clean shutdown, and recovery
// must not accept less (recoverSegments reports it as ErrCorrupt).
func (t *Table) loadCheckpoint(seqs []uint64, keep []int, hdrs []segmentHeader) (ok bool, proven map[uint64]int64) {
	cp, marks, nextID, ok := t.readCheckpoint()
	if !ok || len(cp) != len(keep) {
		return false, nil
	}
	for k, c := range cp {
		h := hdrs[keep[k]]
		if c.seq != seqs[keep[k]] || c.seq != h.seq || c.base != h.base || c.kind != h.kind {
			return false, nil
		}
	}
	proven = make(map[uint64]int64, len(cp))
	for _, c := range cp {
		proven[c.seq] = c.end
	}
	var live uint64
	for k, c := range cp {
		segName := filepath.Join(t.dir, segmentName(c.seq))
		sf, err := t.fs.OpenRW(segName)
		if err != nil {
			return false, proven
		}
		s := newSegment(c.seq, c.base, c.kind, sf)
		s.version = hdrs[keep[k]].version
		t.segs = append(t.segs, s)
		if ok, err := checkEnd(sf, c.end); err != nil || !ok {
			return false, proven
		}
		s.end, s.allocated, s.commits, s.maxID, s.firstID = c.end, c.end, c.commits, c.maxID, c.firstID
		if sz, err := sf.Size(); err == nil && sz > c.end {
			s.allocated = sz // zero fill, checked at end by checkEnd
		}
		s.ids, s.offs, s.lens, s.live = c.ids, c.offs, c.lens, c.live
		s.bRow, s.bMs = c.bRow, c.bMs
		for i := range s.offs {
			fb := int64(frameHeaderSize + rowBodyMin + int(s.lens[i]))
			if s.isLive(i) {
				s.liveBytes += fb
			} else {
				s.deadBytes += fb
			}
		}
		for _, w := range s.live {
			s.nlive += bits.OnesCount64(w)
		}
		live += uint64(s.nlive)
	}
	t.nextID, t.marks, t.live = nextID, marks, live
	return true, proven
}

// readCheckpoint decodes the checkpoint file; ok is false when it is
// missing, damaged or of another version.
func (t *Table) readCheckpoint() (segs []cpSegment, marks [MaxRelaySlots]uint64, nextID uint64, ok bool) {
	f, err := t.fs.OpenRW(filepath.Join(t.dir, checkpointName))
	if err != nil {
		return nil, marks, 0, false
	}
	size, err := f.Size()
	if err != nil || size < 16 {
		_ = f.Close()
		return nil, marks, 0, false
	}
	data := make([]byte, size)
	_, err = f.ReadAt(data, 0)
	_ = f.Close()
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, marks, 0, false
	}
	body := data[:len(data)-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(data[len(data)-4:]) {
		return nil, marks, 0, false
	}
	r := &cpReader{b: body}
	if string(r.take(8)) != checkpointMagic || r.u32() != checkpointVersion {
		return nil, marks, 0, false
	}
	nextID = r.u64()
	for i := range marks {
		marks[i] = r.u64()
	}
	nsegs := int(r.u32())
	if r.err != nil || nsegs > len(r.b) {
		return nil, marks, 0, false
	}
	for k := 0; k < nsegs; k++ {
		var c cpSegment
		c.seq, c.base, c.kind = r.u64(), r.u64(), r.u8()
		c.end, c.commits, c.maxID = int64(r.u64()), r.u64(), r.u64()
		n := int(r.u32())
		contiguous := r.u8() == 1
		c.firstID = r.u64()
		if r.err != nil || n < 0 || n > len(r.b) {
			return nil, marks, 0, false
		}
		if !contiguous {
			c.ids = make([]uint64, n)
			for i := range c.ids {
				c.ids[i] = r.u64()
			}
		}
		c.offs = make([]uint32, n)
		for i := range c.offs {
			c.offs[i] = r.u32()
		}
		c.lens = make([]uint32, n)
		for i := range c.lens {
			c.lens[i] = r.u32()
		}
		c.live = make([]uint64, (n+63)/64)
		for i := range c.live {
			c.live[i] = r.u64()
		}
		nb := int(r.u32())
		if r.err != nil || nb > len(r.b)/12 {
			return nil, marks, 0, false
		}
		if nb > 0 {
			c.bRow, c.bMs = make([]uint32, nb), make([]int64, nb)
		}
		for j := 0; j < nb; j++ {
			c.bRow[j], c.bMs[j] = r.u32(), int64(r.u64())
			if (j > 0 && c.bRow[j] <= c.bRow[j-1]) || int(c.bRow[j]) >= n {
				return nil, marks, 0, false
			}
		}
		if r.err != nil {
			return nil, marks, 0, false
		}
		segs = append(segs, c)
	}
	if len(r.b) != 0 {
		return nil, marks, 0, false
	}
	return segs, marks, nextID, true
}

// checkEnd verifies that a segment's log ends exactly at end: a COMMIT frame
// (of either size) just before it and nothing but zeros (or the end of the
// file) at it.
func checkEnd(f File, end int64) (bool, error) {
	for _, size := range []int64{commitBodySize, commitBodyOld} {
		ok, err := checkEndSize(f, end, size)
		if ok || err != nil {
			return ok, err
		}
	}
	return false, nil
}

func checkEndSize(f File, end, body int64) (bool, error) {
	if end < frameHeaderSize+body {
		return false, nil
	}
	b := make([]byte, 2*frameHeaderSize+body)
	n, err := f.ReadAt(b, end-frameHeaderSize-body)
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	b = b[:n]
	if len(b) < frameHeaderSize+int(body) {
		return false, nil
	}
	fr, st := decodeFrame(b)
	if st != frameOK || fr.typ != recCommit || fr.size != frameHeaderSize+int(body) {
		return false, nil
	}
	return allZero(b[frameHeaderSize+body:]), nil
}
