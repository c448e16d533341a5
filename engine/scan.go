package main

/*
#define QC_TYPES_ONLY
#include "queue_core.h"
*/
import "C"

import (
	"errors"

	"github.com/queue-engine/queue/core"
)

// cursors are open scans. One statement uses a cursor at a time; no lock
// is needed beyond the registry's.
var cursors = newRegistry[*core.Cursor]()

//export qc_scan_open
func qc_scan_open(table, session C.uint64_t, mode C.int, out *C.uint64_t) (rc C.int) {
	defer recoverToCode(&rc, nil)
	ent, err := tableOf(table)
	if err != nil {
		return C.int(codeOf(err))
	}
	if out == nil {
		return qcEINVAL
	}
	var c *core.Cursor
	switch mode {
	case C.QC_SCAN_ALL:
		c = ent.t.ScanAll()
	case C.QC_SCAN_VISIBLE:
		var s *core.Session
		if session != 0 {
			sess, err := sessionOf(session)
			if err != nil {
				return C.int(codeOf(err))
			}
			s = sess.s
		}
		c = ent.t.Scan(s)
	default:
		return qcEINVAL
	}
	*out = C.uint64_t(cursors.add(c))
	return qcOK
}

//export qc_scan_next
func qc_scan_next(h C.uint64_t, row *C.qc_row, e *C.qc_err) (rc C.int) {
	defer recoverToCode(&rc, e)
	testPanic("qc_scan_next")
	c, ok := cursors.get(uint64(h))
	if !ok {
		return qcEBADF
	}
	if row == nil {
		return setErr(e, errCode(qcEINVAL, "queue: NULL row"))
	}
	id, payload, ok, err := c.Next(rowBuffer(row))
	if err != nil {
		if errors.Is(err, core.ErrCorrupt) {
			// The damaged row's id, so that a DELETE can remove it.
			row.id, row.len = C.uint64_t(id), 0
			logCorruptRead(c.Dir(), err)
		}
		return setErr(e, err)
	}
	if !ok {
		return qcEOF
	}
	return setErr(e, putRow(row, id, payload))
}

//export qc_scan_close
func qc_scan_close(h C.uint64_t) (rc C.int) {
	defer recoverToCode(&rc, nil)
	c, ok := cursors.take(uint64(h))
	if !ok {
		return qcEBADF
	}
	c.Close()
	return qcOK
}
