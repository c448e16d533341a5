package main

/*
#define QC_TYPES_ONLY
#include <stdlib.h>
#include "queue_core.h"
*/
import "C"

import (
	"errors"
	"unsafe"

	"github.com/queue-engine/queue/core"
)

// maxStatementBytes bounds one append request (the handler caps its bulk
// buffer at the same size and reports QC_ETOOBIG beyond it).
const maxStatementBytes = 1 << 30

// appendArgs checks an append request and copies its rows into Go memory:
// core may keep payloads after the append, and C memory must not be
// retained.
func appendArgs(q *C.qc_request) (*tableEntry, [][]byte, *core.Relay, error) {
	ent, err := tableOf(q.table)
	if err != nil {
		return nil, nil, nil, err
	}
	if q.n <= 0 || q.lens == nil {
		return nil, nil, nil, errCode(qcEINVAL, "queue: an append needs at least one row")
	}
	var relay *core.Relay
	switch q.relay_mode {
	case 0:
	case 'a', 'w':
		if q.relay_slot < 0 || int(q.relay_slot) >= core.MaxRelaySlots {
			return nil, nil, nil, errCode(qcEINVAL, "queue: relay slot %d not in 0..%d", int(q.relay_slot), core.MaxRelaySlots-1)
		}
		relay = &core.Relay{Slot: int(q.relay_slot), RowID: uint64(q.relay_rowid), Reset: q.relay_mode == 'w'}
	default:
		return nil, nil, nil, errCode(qcEINVAL, "queue: relay mode must be 'a' or 'w'")
	}
	sizes := unsafe.Slice(q.lens, int(q.n))
	total := 0
	for _, n := range sizes {
		total += int(n)
	}
	if total > maxStatementBytes {
		return nil, nil, nil, errCode(qcETOOBIG, "queue: statement of %d bytes exceeds the %d byte limit", total, maxStatementBytes)
	}
	if total > 0 && q.buf == nil {
		return nil, nil, nil, errCode(qcEINVAL, "queue: NULL row buffer")
	}
	var data []byte
	if total > 0 {
		data = C.GoBytes(unsafe.Pointer(q.buf), C.int(total))
	}
	rows := make([][]byte, len(sizes))
	off := 0
	for i, n := range sizes {
		rows[i] = data[off : off+int(n) : off+int(n)]
		off += int(n)
	}
	return ent, rows, relay, nil
}

// startAppend queues an append request: it reports whether the committer
// will complete it; otherwise rc is final.
func startAppend(q *C.qc_request) (pending bool, rc C.int) {
	ent, rows, relay, err := appendArgs(q)
	if err != nil {
		return false, setErr(&q.err, err)
	}
	p, err := ent.t.AppendAsync(rows, relay, completion(q, func(p core.Pending) C.int {
		if err := p.Err(); err != nil {
			return setErr(&q.err, err)
		}
		q.value = C.uint64_t(p.FirstID())
		if p.Skipped() {
			return qcSkipped
		}
		return qcOK
	}))
	if p == nil || err != nil {
		return false, setErr(&q.err, err)
	}
	return true, qcPending
}

// startRemove queues a removal request, like startAppend.
func startRemove(q *C.qc_request) (pending bool, rc C.int) {
	ent, err := tableOf(q.table)
	if err != nil {
		return false, setErr(&q.err, err)
	}
	if q.n < 0 || (q.n > 0 && q.ids == nil) {
		return false, setErr(&q.err, errCode(qcEINVAL, "queue: bad id list"))
	}
	list := make([]uint64, int(q.n))
	for i, id := range unsafe.Slice(q.ids, int(q.n)) {
		list[i] = uint64(id)
	}
	p, err := ent.t.RemoveAsync(list, completion(q, func(p core.Pending) C.int {
		q.value = C.uint64_t(p.Removed())
		return setErr(&q.err, p.Err())
	}))
	if p == nil || err != nil {
		return false, setErr(&q.err, err)
	}
	return true, qcPending
}

//export qc_delete_bracket
func qc_delete_bracket(table C.uint64_t, begin C.int) (rc C.int) {
	defer recoverToCode(&rc, nil)
	if begin != 0 {
		ent, err := tableOf(table)
		if err != nil {
			return C.int(codeOf(err))
		}
		ent.t.BeginDelete()
		return qcOK
	}
	// A handle of a table dropped meanwhile still ends its bracket: core's
	// counter must not stay raised.
	ent, ok := tableHandles.get(uint64(table))
	if !ok {
		return qcEBADF
	}
	ent.t.EndDelete()
	return qcOK
}

//export qc_get
func qc_get(table, id C.uint64_t, row *C.qc_row, e *C.qc_err) (rc C.int) {
	defer recoverToCode(&rc, e)
	ent, err := tableOf(table)
	if err != nil {
		return setErr(e, err)
	}
	if row == nil {
		return setErr(e, errCode(qcEINVAL, "queue: NULL row"))
	}
	payload, err := ent.t.Get(uint64(id), rowBuffer(row))
	if err != nil {
		if errors.Is(err, core.ErrCorrupt) {
			logCorruptRead(ent.t.Dir(), err)
		}
		return setErr(e, err)
	}
	return setErr(e, putRow(row, uint64(id), payload))
}

// rowBuffer is the caller's row buffer as an empty Go slice: core reads a
// payload that fits straight into it (core keeps no reference to it).
func rowBuffer(row *C.qc_row) []byte {
	if row.buf == nil || row.cap == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(row.buf)), int(row.cap))[:0]
}

// putRow stores payload as row's image: in place when core read it into
// the caller's buffer, else copied, growing the buffer with realloc.
func putRow(row *C.qc_row, id uint64, payload []byte) error {
	row.id = C.uint64_t(id)
	row.len = C.size_t(len(payload))
	if len(payload) == 0 {
		return nil
	}
	if row.buf != nil && unsafe.Pointer(&payload[0]) == unsafe.Pointer(row.buf) {
		return nil
	}
	if int(row.cap) < len(payload) {
		p := C.realloc(unsafe.Pointer(row.buf), C.size_t(len(payload)))
		if p == nil {
			row.len = 0
			return errCode(qcErr, "queue: out of memory for a row of %d bytes", len(payload))
		}
		row.buf, row.cap = (*C.uchar)(p), C.size_t(len(payload))
	}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(row.buf)), len(payload)), payload)
	return nil
}
