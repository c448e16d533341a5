package main

/*
#define QC_TYPES_ONLY
#include "queue_core.h"
*/
import "C"

import (
	"unsafe"

	"github.com/queue-engine/queue/core"
)

// maxStatementBytes bounds one qc_append call (the handler caps its bulk
// buffer at the same size and reports QC_ETOOBIG beyond it).
const maxStatementBytes = 1 << 30

// appendArgs checks qc_append's arguments and copies the rows into Go
// memory: core may keep payloads after the append (for handing rows to
// waiters), and C memory must not be retained. It disarms the session's
// relay mark, which applies to this append.
func appendArgs(table, sessionH C.uint64_t, buf *C.uchar, lens *C.uint32_t, nrows C.int) (*tableEntry, [][]byte, *core.Relay, error) {
	ent, err := tableOf(table)
	if err != nil {
		return nil, nil, nil, err
	}
	if nrows <= 0 || lens == nil {
		return nil, nil, nil, errCode(qcEINVAL, "queue: qc_append needs at least one row")
	}
	sizes := unsafe.Slice(lens, int(nrows))
	total := 0
	for _, n := range sizes {
		total += int(n)
	}
	if total > maxStatementBytes {
		return nil, nil, nil, errCode(qcETOOBIG, "queue: statement of %d bytes exceeds the %d byte limit", total, maxStatementBytes)
	}
	if total > 0 && buf == nil {
		return nil, nil, nil, errCode(qcEINVAL, "queue: NULL row buffer")
	}
	var s *session
	if sessionH != 0 {
		if s, err = sessionOf(sessionH); err != nil {
			return nil, nil, nil, err
		}
	}
	var data []byte
	if total > 0 {
		data = C.GoBytes(unsafe.Pointer(buf), C.int(total))
	}
	rows := make([][]byte, len(sizes))
	off := 0
	for i, n := range sizes {
		rows[i] = data[off : off+int(n) : off+int(n)]
		off += int(n)
	}
	return ent, rows, s.takeRelay(), nil
}

//export qc_append
func qc_append(table, sessionH C.uint64_t, buf *C.uchar, lens *C.uint32_t, nrows C.int,
	firstID *C.uint64_t, e *C.qc_err) (rc C.int) {
	defer recoverToCode(&rc, e)
	ent, rows, relay, err := appendArgs(table, sessionH, buf, lens, nrows)
	if err != nil {
		return setErr(e, err)
	}
	id, skipped, err := ent.t.Append(rows, relay)
	if err != nil {
		return setErr(e, err)
	}
	if firstID != nil {
		*firstID = C.uint64_t(id)
	}
	if skipped {
		return qcSkipped
	}
	return qcOK
}

// startAppend queues an append for qc_append_async (see intake.go): it
// reports whether the committer will complete it; otherwise rc is final.
func startAppend(r *intakeReq) (pending bool, rc C.int) {
	defer recoverToCode(&rc, r.e)
	ent, rows, relay, err := appendArgs(r.table, r.session, r.buf, r.lens, r.n)
	if err != nil {
		return false, setErr(r.e, err)
	}
	e, value := r.e, r.value
	p, err := ent.t.AppendAsync(rows, relay, r.completion(func(p core.Pending) C.int {
		if err := p.Err(); err != nil {
			return setErr(e, err)
		}
		if value != nil {
			*value = C.uint64_t(p.FirstID())
		}
		if p.Skipped() {
			return qcSkipped
		}
		return qcOK
	}))
	if p == nil || err != nil {
		return false, setErr(r.e, err)
	}
	return true, qcPending
}

// removeArgs copies qc_remove's id list into Go memory.
func removeArgs(table C.uint64_t, ids *C.uint64_t, n C.int) (*tableEntry, []uint64, error) {
	ent, err := tableOf(table)
	if err != nil {
		return nil, nil, err
	}
	if n < 0 || (n > 0 && ids == nil) {
		return nil, nil, errCode(qcEINVAL, "queue: bad id list")
	}
	list := make([]uint64, int(n))
	for i, id := range unsafe.Slice(ids, int(n)) {
		list[i] = uint64(id)
	}
	return ent, list, nil
}

//export qc_remove
func qc_remove(table C.uint64_t, ids *C.uint64_t, n C.int, removed *C.uint64_t, e *C.qc_err) (rc C.int) {
	defer recoverToCode(&rc, e)
	ent, list, err := removeArgs(table, ids, n)
	if err != nil {
		return setErr(e, err)
	}
	count, err := ent.t.Remove(list)
	if removed != nil {
		*removed = C.uint64_t(count)
	}
	return setErr(e, err)
}

// startRemove queues a removal for qc_remove_async, like startAppend.
func startRemove(r *intakeReq) (pending bool, rc C.int) {
	defer recoverToCode(&rc, r.e)
	ent, list, err := removeArgs(r.table, r.ids, r.n)
	if err != nil {
		return false, setErr(r.e, err)
	}
	e, value := r.e, r.value
	p, err := ent.t.RemoveAsync(list, r.completion(func(p core.Pending) C.int {
		if value != nil {
			*value = C.uint64_t(p.Removed())
		}
		return setErr(e, p.Err())
	}))
	if p == nil || err != nil {
		return false, setErr(r.e, err)
	}
	return true, qcPending
}

//export qc_delete_begin
func qc_delete_begin(table C.uint64_t) (rc C.int) {
	defer recoverToCode(&rc, nil)
	ent, err := tableOf(table)
	if err != nil {
		return C.int(codeOf(err))
	}
	ent.t.BeginDelete()
	return qcOK
}

//export qc_delete_end
func qc_delete_end(table C.uint64_t) (rc C.int) {
	defer recoverToCode(&rc, nil)
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
func qc_get(table, id C.uint64_t, buf *C.uchar, capacity C.size_t, length *C.size_t, e *C.qc_err) (rc C.int) {
	defer recoverToCode(&rc, e)
	ent, err := tableOf(table)
	if err != nil {
		return setErr(e, err)
	}
	payload, err := ent.t.Get(uint64(id), nil)
	if err != nil {
		return setErr(e, err)
	}
	return copyRow(payload, buf, capacity, length)
}

// copyRow copies a payload to the caller's buffer, or reports the size
// needed with QC_ERANGE.
func copyRow(payload []byte, buf *C.uchar, capacity C.size_t, length *C.size_t) C.int {
	if length != nil {
		*length = C.size_t(len(payload))
	}
	if len(payload) > int(capacity) || (len(payload) > 0 && buf == nil) {
		return qcERANGE
	}
	if len(payload) > 0 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(buf)), len(payload)), payload)
	}
	return qcOK
}
