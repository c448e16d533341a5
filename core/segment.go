package core

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"sort"
	"sync/atomic"
)

// segment is one segment file and the in-memory index of the rows in it.
//
// The index is compact (≈8 bytes per row in log segments, 16 in compacted
// ones, plus one bit): the rows of a log segment have consecutive ids, so
// only their frame offsets and payload lengths are stored.
//
// Fields below "guarded by Table.mu" are read under t.mu.RLock and written
// under t.mu.Lock. The file handle is safe for concurrent positional reads;
// only the committer (or compaction, before publication) writes to it.
type segment struct {
	seq     uint64
	base    uint64
	kind    byte
	version uint32 // of the file's header; below formatVersion: never appended to
	name    string // file name inside the table directory
	f       File

	// refs counts users of f: one for the table while the segment is in
	// t.segs, one per in-flight read. The file is closed at zero.
	refs atomic.Int32

	// allocated is the prepared size of the file (prealloc.go); guarded by Table.wmu.
	allocated int64

	// guarded by Table.mu
	// maxID is the highest row id in this segment or any before it, so
	// that maxID never decreases along t.segs (binary search by id).
	maxID     uint64
	end       int64    // logical end: bytes up to the last commit frame
	commits   uint64   // commit frames in this file
	firstID   uint64   // id of row 0 when ids == nil
	ids       []uint64 // row ids when they are not consecutive (compacted segments)
	offs      []uint32 // frame offset of each row
	lens      []uint32 // payload length of each row
	live      []uint64 // bitmap: row i is live
	nlive     int
	liveBytes int64 // frame bytes of live rows
	deadBytes int64 // frame bytes of removed rows still in the file
	// unresolved counts the PREPARE frames in this file whose transaction
	// has no outcome yet; resolvesFrom is the lowest seq of the segments
	// holding the PREPARE frames that this file's RESOLVE frames resolve
	// (0: none). Compaction must keep both kinds of frame (compact.go).
	unresolved   int
	resolvesFrom uint64
	// Enqueue times: rows from index bRow[j] up to bRow[j+1] were enqueued
	// at bMs[j] (unix ms, 0: unknown, from a COMMIT frame without a time).
	// One entry per batch with rows (log segments) or per run of rows of
	// close times (compacted segments); bRow increases.
	bRow []uint32
	bMs  []int64
}

func newSegment(seq, base uint64, kind byte, f File) *segment {
	s := &segment{seq: seq, base: base, kind: kind, version: formatVersion, name: segmentName(seq), f: f}
	s.refs.Store(1)
	return s
}

// acquire takes a read reference; the caller holds Table.mu (read or write)
// so the segment cannot be dropped concurrently.
func (s *segment) acquire() { s.refs.Add(1) }

// release drops a reference and closes the file at zero.
func (s *segment) release() {
	if s.refs.Add(-1) == 0 && s.f != nil {
		_ = s.f.Close()
	}
}

func (s *segment) nrows() int { return len(s.offs) }

func (s *segment) idAt(i int) uint64 {
	if s.ids != nil {
		return s.ids[i]
	}
	return s.firstID + uint64(i)
}

func (s *segment) lastID() uint64 { return s.idAt(len(s.offs) - 1) }

// addRow appends a row to the index; ids must increase.
func (s *segment) addRow(id uint64, off int64, n int, live bool) {
	i := len(s.offs)
	if i == 0 {
		s.firstID = id
	} else if s.ids == nil && id != s.firstID+uint64(i) {
		s.ids = make([]uint64, i, cap(s.offs))
		for j := range s.ids {
			s.ids[j] = s.firstID + uint64(j)
		}
	}
	if s.ids != nil {
		s.ids = append(s.ids, id)
	}
	s.maxID = max(s.maxID, id)
	s.offs = append(s.offs, uint32(off))
	s.lens = append(s.lens, uint32(n))
	if i/64 >= len(s.live) {
		s.live = append(s.live, 0)
	}
	fb := int64(frameHeaderSize + rowBodyMin + n)
	if live {
		s.live[i/64] |= 1 << (i % 64)
		s.nlive++
		s.liveBytes += fb
	} else {
		s.deadBytes += fb
	}
}

// noteBatch records that the rows from index first on were enqueued at ms.
// Consecutive batches of the same time share an entry.
func (s *segment) noteBatch(first int, ms int64) {
	if first >= len(s.offs) {
		return
	}
	if n := len(s.bMs); n > 0 && s.bMs[n-1] == ms {
		return
	}
	s.bRow = append(s.bRow, uint32(first))
	s.bMs = append(s.bMs, ms)
}

// timeAt is the enqueue time of row i (unix ms, 0: unknown).
func (s *segment) timeAt(i int) int64 {
	j := sort.Search(len(s.bRow), func(j int) bool { return s.bRow[j] > uint32(i) }) - 1
	if j < 0 {
		return 0
	}
	return s.bMs[j]
}

// find returns the index of row id, or ok=false.
func (s *segment) find(id uint64) (int, bool) {
	n := len(s.offs)
	if n == 0 {
		return 0, false
	}
	if s.ids == nil {
		if id < s.firstID || id >= s.firstID+uint64(n) {
			return 0, false
		}
		return int(id - s.firstID), true
	}
	i := sort.Search(n, func(i int) bool { return s.ids[i] >= id })
	return i, i < n && s.ids[i] == id
}

// lowerBound returns the index of the first row with id >= id.
func (s *segment) lowerBound(id uint64) int {
	n := len(s.offs)
	if s.ids == nil {
		if n == 0 || id <= s.firstID {
			return 0
		}
		if d := id - s.firstID; d < uint64(n) {
			return int(d)
		}
		return n
	}
	return sort.Search(n, func(i int) bool { return s.ids[i] >= id })
}

func (s *segment) isLive(i int) bool { return s.live[i/64]&(1<<(i%64)) != 0 }

// kill marks row i removed; it reports whether it was live.
func (s *segment) kill(i int) bool {
	if !s.isLive(i) {
		return false
	}
	s.live[i/64] &^= 1 << (i % 64)
	s.nlive--
	fb := int64(frameHeaderSize + rowBodyMin + int(s.lens[i]))
	s.liveBytes -= fb
	s.deadBytes += fb
	return true
}

// appendDead appends the ids of the removed rows to dst, skipping 64 live
// rows at a time (a dense segment costs a pass over its bitmap).
func (s *segment) appendDead(dst []uint64) []uint64 {
	n := len(s.offs)
	for w := 0; w*64 < n; w++ {
		dead := ^s.live[w]
		if rest := n - w*64; rest < 64 {
			dead &= 1<<rest - 1
		}
		for dead != 0 {
			b := bits.TrailingZeros64(dead)
			dst = append(dst, s.idAt(w*64+b))
			dead &= dead - 1
		}
	}
	return dst
}

// nextLive returns the first live row index >= i, or nrows().
func (s *segment) nextLive(i int) int {
	n := len(s.offs)
	for i < n {
		w := s.live[i/64] >> (i % 64)
		if w != 0 {
			j := i + bits.TrailingZeros64(w)
			if j < n {
				return j
			}
			return n
		}
		i = (i/64 + 1) * 64
	}
	return n
}

// readPayload reads the payload of row id, whose frame body is n payload
// bytes at offset off of segment s, into buf[:0]. The caller holds a
// reference (acquire) and copied off/n under Table.mu. The whole frame is
// read and its CRC checked, so damage that happened after the table was
// last recovered (a bad disk block, a stray write) is reported as
// ErrCorrupt with file and offset instead of being returned as a row.
// Errors are complete (sentinel, file, offset): callers do not wrap them.
func readPayload(s *segment, off uint32, n uint32, id uint64, buf []byte) ([]byte, error) {
	const head = frameHeaderSize + rowBodyMin
	total := int(head + n)
	if cap(buf) < total {
		buf = make([]byte, total)
	}
	buf = buf[:total]
	if _, err := s.f.ReadAt(buf, int64(off)); err != nil {
		return nil, fileError(ErrIO, s.name, int64(off), err)
	}
	fr, st := decodeFrame(buf)
	if st != frameOK || fr.typ != recRow || binary.LittleEndian.Uint64(fr.body) != id {
		return nil, fileError(ErrCorrupt, s.name, int64(off),
			fmt.Errorf("row %d: frame does not check", id))
	}
	copy(buf, buf[head:])
	return buf[:n], nil
}
