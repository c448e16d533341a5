package main

/*
#define QC_TYPES_ONLY
#include "queue_core.h"
*/
import "C"

import (
	"github.com/queue-engine/queue/core"
)

// cursor is an open scan. A row that did not fit the caller's buffer is kept
// in pending and returned again by the next qc_scan_next. One statement uses
// a cursor at a time; no lock is needed.
type cursor struct {
	c       *core.Cursor
	buf     []byte
	pending []byte
	id      uint64
	hasRow  bool
}

var cursors = newRegistry[*cursor]()

//export qc_scan_open
func qc_scan_open(table, session C.uint64_t, out *C.uint64_t) (rc C.int) {
	defer recoverToCode(&rc, nil)
	var s *core.Session
	if session != 0 {
		sess, err := sessionOf(session)
		if err != nil {
			return C.int(codeOf(err))
		}
		s = sess.s
	}
	return openCursor(table, out, func(t *core.Table) *core.Cursor { return t.Scan(s) })
}

//export qc_scan_open_copy
func qc_scan_open_copy(table C.uint64_t, out *C.uint64_t) (rc C.int) {
	defer recoverToCode(&rc, nil)
	return openCursor(table, out, (*core.Table).ScanAll)
}

// openCursor registers the cursor scan makes over table's rows in *out.
func openCursor(table C.uint64_t, out *C.uint64_t, scan func(*core.Table) *core.Cursor) C.int {
	ent, err := tableOf(table)
	if err != nil {
		return C.int(codeOf(err))
	}
	if out == nil {
		return qcEINVAL
	}
	*out = C.uint64_t(cursors.add(&cursor{c: scan(ent.t)}))
	return qcOK
}

//export qc_scan_next
func qc_scan_next(h C.uint64_t, buf *C.uchar, capacity C.size_t, length *C.size_t, id *C.uint64_t, e *C.qc_err) (rc C.int) {
	defer recoverToCode(&rc, e)
	testPanic("qc_scan_next")
	c, ok := cursors.get(uint64(h))
	if !ok {
		return qcEBADF
	}
	if !c.hasRow {
		rid, payload, ok, err := c.c.Next(c.buf[:0])
		if err != nil {
			return setErr(e, err)
		}
		if !ok {
			return qcEOF
		}
		c.buf = payload
		c.pending, c.id, c.hasRow = payload, rid, true
	}
	if id != nil {
		*id = C.uint64_t(c.id)
	}
	if rc := copyRow(c.pending, buf, capacity, length); rc != qcOK {
		return rc
	}
	c.hasRow = false
	return qcOK
}

//export qc_scan_close
func qc_scan_close(h C.uint64_t) (rc C.int) {
	defer recoverToCode(&rc, nil)
	c, ok := cursors.take(uint64(h))
	if !ok {
		return qcEBADF
	}
	c.c.Close()
	return qcOK
}
