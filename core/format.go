package core

import (
	"encoding/binary"
	"fmt"

	"github.com/klauspost/crc32"
)

// The on-disk format is specified in docs/FORMAT.md; this file is its code.
// Every change here must change that document and the golden test.

// Frame header: crc32c(4) | length(4) | type(1), little endian. The CRC
// covers the length, the type and the body, so a frame is either wholly
// valid or rejected. An all-zero header marks the end of the written log
// (segments may be zero-filled ahead of the writer).
const frameHeaderSize = 9

// Frame types.
const (
	recSegment byte = 1 // segment header, first frame of every file
	recState   byte = 2 // next row id + relay marks, second frame of a log segment
	recRow     byte = 3 // row id + payload
	recRemove  byte = 4 // removed row ids
	recRelay   byte = 5 // relay mark update
	recCommit  byte = 6 // closes a group commit
	recPrepare byte = 7 // a transaction's rows and removals, prepared (two-phase commit)
	recResolve byte = 8 // a prepared transaction committed or rolled back
)

// Segment kinds.
const (
	kindLog       byte = 1 // written by the committer
	kindCompacted byte = 2 // written by compaction, replaces segments [base, seq]
	kindTruncate  byte = 3 // first segment after TRUNCATE, obsoletes all older
)

const (
	// formatVersion is written in every new segment. Version 2 added the
	// enqueue time to COMMIT frames; version 1 segments (20-byte COMMIT
	// frames) are read but never appended to, so that an engine that only
	// knows version 1 refuses a version 2 table instead of taking its
	// longer COMMIT frames for a torn tail.
	formatVersion    = 2
	minFormatVersion = 1
	segmentMagic     = "QUEUESEG"
	commitMagic      = "QCOMMIT!"

	segmentBodySize = 8 + 4 + 8 + 8 + 1       // magic, version, seq, base, kind
	stateBodySize   = 8 + 8 + 8*MaxRelaySlots // nextRowID, prevCommits, marks
	rowBodyMin      = 8                       // row id
	relayBodySize   = 1 + 8                   // slot, row id
	commitBodySize  = 8 + 8 + 4 + 8           // magic, commit number, batch start, time
	commitBodyOld   = 8 + 8 + 4               // written before the time was added
	prepareBodyMin  = 2 + 8 + 4 + 4           // xid length, first row, rows, removals (+ xid, ids)
	resolveBodyMin  = 1 + 2                   // outcome, xid length (+ xid)

	// MaxXIDSize bounds a transaction identifier (the server's XID is at
	// most 152 bytes serialized).
	MaxXIDSize = 256

	// MaxRowSize is the largest row payload accepted.
	MaxRowSize = 64 << 20
	// maxBatchBytes bounds one Append (one statement) so offsets fit in 32 bits.
	maxBatchBytes = 1 << 30
	maxFrameBody  = maxBatchBytes
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendFrame appends one framed record with the given body to dst.
func appendFrame(dst []byte, typ byte, body ...[]byte) []byte {
	n := 0
	for _, b := range body {
		n += len(b)
	}
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0, typ)
	binary.LittleEndian.PutUint32(dst[start+4:], uint32(n))
	for _, b := range body {
		dst = append(dst, b...)
	}
	binary.LittleEndian.PutUint32(dst[start:], crc32.Checksum(dst[start+4:], castagnoli))
	return dst
}

// frame is a decoded record: its type and body (aliasing the input).
type frame struct {
	typ  byte
	body []byte
	size int // header + body
}

// frame decoding outcomes.
type decodeStatus int

const (
	frameOK    decodeStatus = iota
	frameEnd                // all-zero header or end of data: clean end of log
	frameShort              // header or body extends past the data
	frameBad                // CRC mismatch, unknown type or bad length
)

// decodeFrame decodes the frame at the start of b.
func decodeFrame(b []byte) (frame, decodeStatus) {
	if len(b) == 0 {
		return frame{}, frameEnd
	}
	if len(b) < frameHeaderSize {
		if allZero(b) {
			return frame{}, frameEnd
		}
		return frame{}, frameShort
	}
	crc := binary.LittleEndian.Uint32(b)
	n := binary.LittleEndian.Uint32(b[4:])
	typ := b[8]
	if crc == 0 && n == 0 && typ == 0 {
		return frame{}, frameEnd
	}
	if typ < recSegment || typ > recResolve || n > maxFrameBody {
		return frame{}, frameBad
	}
	if uint64(len(b)) < uint64(frameHeaderSize)+uint64(n) {
		return frame{}, frameShort
	}
	end := frameHeaderSize + int(n)
	if crc32.Checksum(b[4:end], castagnoli) != crc {
		return frame{}, frameBad
	}
	if !validBodySize(typ, int(n)) {
		return frame{}, frameBad
	}
	return frame{typ: typ, body: b[frameHeaderSize:end], size: end}, frameOK
}

func validBodySize(typ byte, n int) bool {
	switch typ {
	case recSegment:
		return n == segmentBodySize
	case recState:
		return n == stateBodySize
	case recRow:
		return n >= rowBodyMin && n-rowBodyMin <= MaxRowSize
	case recRemove:
		return n%8 == 0 && n > 0
	case recRelay:
		return n == relayBodySize
	case recCommit:
		return n == commitBodySize || n == commitBodyOld
	case recPrepare:
		return n >= prepareBodyMin
	case recResolve:
		return n >= resolveBodyMin && n <= resolveBodyMin+MaxXIDSize
	}
	return false
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// segmentHeader is the body of recSegment.
type segmentHeader struct {
	seq     uint64 // file sequence number (also in the file name)
	base    uint64 // segments with seq in [base, seq) are obsolete once this file exists
	kind    byte
	version uint32 // read: the file's; written: formatVersion when 0
}

func (h segmentHeader) encode(dst []byte) []byte {
	var b [segmentBodySize]byte
	copy(b[:], segmentMagic)
	v := h.version
	if v == 0 {
		v = formatVersion
	}
	binary.LittleEndian.PutUint32(b[8:], v)
	binary.LittleEndian.PutUint64(b[12:], h.seq)
	binary.LittleEndian.PutUint64(b[20:], h.base)
	b[28] = h.kind
	return appendFrame(dst, recSegment, b[:])
}

func decodeSegmentHeader(body []byte) (segmentHeader, error) {
	if string(body[:8]) != segmentMagic {
		return segmentHeader{}, fmt.Errorf("bad segment magic")
	}
	v := binary.LittleEndian.Uint32(body[8:])
	if v < minFormatVersion || v > formatVersion {
		return segmentHeader{}, fmt.Errorf("unsupported format version %d", v)
	}
	h := segmentHeader{
		seq:     binary.LittleEndian.Uint64(body[12:]),
		base:    binary.LittleEndian.Uint64(body[20:]),
		kind:    body[28],
		version: v,
	}
	if h.kind < kindLog || h.kind > kindTruncate || h.base > h.seq {
		return segmentHeader{}, fmt.Errorf("bad segment header kind %d base %d seq %d", h.kind, h.base, h.seq)
	}
	return h, nil
}

// stateRecord is the body of recState: the table state at the start of a
// log segment, so older segments can be deleted without losing it.
type stateRecord struct {
	nextRowID   uint64
	prevCommits uint64 // commits in the previous log segment (0 for truncate/first)
	marks       [MaxRelaySlots]uint64
}

func (s *stateRecord) encode(dst []byte) []byte {
	var b [stateBodySize]byte
	binary.LittleEndian.PutUint64(b[0:], s.nextRowID)
	binary.LittleEndian.PutUint64(b[8:], s.prevCommits)
	for i, m := range s.marks {
		binary.LittleEndian.PutUint64(b[16+8*i:], m)
	}
	return appendFrame(dst, recState, b[:])
}

func decodeState(body []byte) stateRecord {
	var s stateRecord
	s.nextRowID = binary.LittleEndian.Uint64(body[0:])
	s.prevCommits = binary.LittleEndian.Uint64(body[8:])
	for i := range s.marks {
		s.marks[i] = binary.LittleEndian.Uint64(body[16+8*i:])
	}
	return s
}

func appendRowFrame(dst []byte, id uint64, payload []byte) []byte {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], id)
	return appendFrame(dst, recRow, b[:], payload)
}

func appendRemoveFrame(dst []byte, ids []uint64) []byte {
	b := make([]byte, 8*len(ids))
	for i, id := range ids {
		binary.LittleEndian.PutUint64(b[8*i:], id)
	}
	return appendFrame(dst, recRemove, b)
}

func appendRelayFrame(dst []byte, slot int, rowID uint64) []byte {
	var b [relayBodySize]byte
	b[0] = byte(slot)
	binary.LittleEndian.PutUint64(b[1:], rowID)
	return appendFrame(dst, recRelay, b[:])
}

// appendCommitFrame appends a COMMIT frame. ms is when the batch's rows
// were enqueued (unix milliseconds; 0: unknown).
func appendCommitFrame(dst []byte, n uint64, batchStart uint32, ms int64) []byte {
	var b [commitBodySize]byte
	copy(b[:], commitMagic)
	binary.LittleEndian.PutUint64(b[8:], n)
	binary.LittleEndian.PutUint32(b[16:], batchStart)
	binary.LittleEndian.PutUint64(b[20:], uint64(ms))
	return appendFrame(dst, recCommit, b[:])
}

type commitRecord struct {
	n          uint64 // commit number within the segment, from 1
	batchStart uint32 // offset of the batch's first frame
	ms         int64  // enqueue time of the batch's rows, unix ms; 0: unknown (old frame)
}

func decodeCommit(body []byte) (commitRecord, bool) {
	if string(body[:8]) != commitMagic {
		return commitRecord{}, false
	}
	c := commitRecord{n: binary.LittleEndian.Uint64(body[8:]), batchStart: binary.LittleEndian.Uint32(body[16:])}
	if len(body) == commitBodySize {
		c.ms = int64(binary.LittleEndian.Uint64(body[20:]))
		if c.ms < 0 {
			c.ms = 0
		}
	}
	return c, true
}

// prepareRecord is the body of recPrepare: the transaction xid prepared
// the nrows rows from firstID on (written in the same batch, before this
// frame) and the removal of the rows in removes. Until a RESOLVE frame
// with the same xid follows, the rows are not visible and the removed rows
// are not delivered.
type prepareRecord struct {
	xid     string
	firstID uint64
	nrows   uint32
	removes []uint64
}

func appendPrepareFrame(dst []byte, r prepareRecord) []byte {
	b := make([]byte, prepareBodyMin+len(r.xid)+8*len(r.removes))
	binary.LittleEndian.PutUint16(b[0:], uint16(len(r.xid)))
	n := 2 + copy(b[2:], r.xid)
	binary.LittleEndian.PutUint64(b[n:], r.firstID)
	binary.LittleEndian.PutUint32(b[n+8:], r.nrows)
	binary.LittleEndian.PutUint32(b[n+12:], uint32(len(r.removes)))
	n += 16
	for i, id := range r.removes {
		binary.LittleEndian.PutUint64(b[n+8*i:], id)
	}
	return appendFrame(dst, recPrepare, b)
}

func decodePrepare(body []byte) (prepareRecord, bool) {
	xl := int(binary.LittleEndian.Uint16(body))
	if xl == 0 || xl > MaxXIDSize || len(body) < prepareBodyMin+xl {
		return prepareRecord{}, false
	}
	r := prepareRecord{xid: string(body[2 : 2+xl])}
	n := 2 + xl
	r.firstID = binary.LittleEndian.Uint64(body[n:])
	r.nrows = binary.LittleEndian.Uint32(body[n+8:])
	nrem := int(binary.LittleEndian.Uint32(body[n+12:]))
	n += 16
	if len(body)-n != 8*nrem || (r.nrows > 0 && r.firstID == 0) {
		return prepareRecord{}, false
	}
	r.removes = make([]uint64, nrem)
	for i := range r.removes {
		r.removes[i] = binary.LittleEndian.Uint64(body[n+8*i:])
	}
	return r, true
}

// Outcomes of a RESOLVE frame.
const (
	resolveCommit   byte = 1
	resolveRollback byte = 2
)

func appendResolveFrame(dst []byte, xid string, outcome byte) []byte {
	b := make([]byte, resolveBodyMin+len(xid))
	b[0] = outcome
	binary.LittleEndian.PutUint16(b[1:], uint16(len(xid)))
	copy(b[3:], xid)
	return appendFrame(dst, recResolve, b)
}

func decodeResolve(body []byte) (xid string, outcome byte, ok bool) {
	xl := int(binary.LittleEndian.Uint16(body[1:]))
	if xl == 0 || len(body) != resolveBodyMin+xl || (body[0] != resolveCommit && body[0] != resolveRollback) {
		return "", 0, false
	}
	return string(body[3:]), body[0], true
}

// segmentName is the file name of segment seq; names sort by seq.
func segmentName(seq uint64) string { return fmt.Sprintf("%016x.seg", seq) }

// parseSegmentName returns the seq of a segment file name.
func parseSegmentName(name string) (uint64, bool) {
	if len(name) != 20 || name[16:] != ".seg" {
		return 0, false
	}
	var seq uint64
	for _, c := range name[:16] {
		switch {
		case c >= '0' && c <= '9':
			seq = seq<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			seq = seq<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return seq, true
}

const (
	tmpSuffix      = ".tmp"
	checkpointName = "checkpoint"
)

func leUint64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }
