package main

/*
#define QC_TYPES_ONLY
#include <stdlib.h>
#include "intake.h"

// Calls a completion function of an asynchronous durable operation. It
// points into the caller's library (ha_queue.so is linked -z nodelete).
static void qc_call_done(qc_done_fn f, void *arg)
{
  if (f)
    f(arg);
}
*/
import "C"

import (
	"unsafe"

	"github.com/queue-engine/queue/core"
)

// Asynchronous durable operations (qc_append_async, qc_remove_async,
// qc_end_async). The server's threads never enter Go for them: intake.c
// queues the request and the thread waits for the group commit in C. A
// goroutine running a cgo callback is locked to its thread, so blocking it
// in Go would hand the scheduler's P between threads several times per
// message, and every entry into Go from a server thread may have to wait
// for one of the few Ps.
//
// Under load one intake goroutine takes all queued requests at once (when it
// is asleep, the calling thread enters Go itself, see intake.c), checks and copies
// their arguments and queues them for their tables' committers. Then,
// exactly once per request, the committer (after the fdatasync or the
// failure, with no core lock held), or the intake goroutine itself when the
// request fails before reaching a committer, writes the final status to
// *rc, the value and the message, and calls done(arg).

// intakeReq is a qc_req copied into Go memory (the C struct is freed at
// once; the pointers in it belong to the waiting caller).
type intakeReq struct {
	kind           C.int
	table, session C.uint64_t
	buf            *C.uchar
	lens           *C.uint32_t
	ids            *C.uint64_t
	n              C.int
	done           C.qc_done_fn
	arg            unsafe.Pointer
	rc             *C.int
	value          *C.uint64_t
	e              *C.qc_err
}

func init() { go intakeLoop() }

// intakeLoop runs for the life of the process. It sleeps in C (a blocking
// cgo call) while nothing is queued.
func intakeLoop() {
	for {
		for q := C.qc_intake_take(); q != nil; {
			next := q.next
			startReq(q)
			q = next
		}
	}
}

// startReq copies and frees the C request q and starts it.
func startReq(q *C.qc_req) {
	r := intakeReq{kind: q.kind, table: q.table, session: q.session, buf: q.buf,
		lens: q.lens, ids: q.ids, n: q.n, done: q.done, arg: q.arg, rc: q.rc,
		value: q.value, e: q.e}
	C.free(unsafe.Pointer(q))
	r.start()
}

// qc_intake_direct starts one request on the calling server thread, when
// the intake goroutine is asleep (intake.c). Not part of the ABI.
//
//export qc_intake_direct
func qc_intake_direct(q *C.qc_req) {
	startReq(q)
}

// start queues r for its committer, or completes it at once when it fails
// (or there is nothing to write).
func (r *intakeReq) start() {
	var pending bool
	rc := C.int(qcEPANIC)
	func() {
		defer recoverToCode(&rc, r.e)
		switch r.kind {
		case C.QC_REQ_APPEND:
			pending, rc = startAppend(r)
		case C.QC_REQ_REMOVE:
			pending, rc = startRemove(r)
		case C.QC_REQ_END:
			pending, rc = startEnd(r)
		default:
			rc = qcEINVAL
		}
	}()
	if !pending {
		*r.rc = rc
		C.qc_call_done(r.done, r.arg)
	}
}

// completion returns core's done function for r: result runs on the
// committer and produces the status (writing the value). The caller is
// signalled even if result panics (QC_EPANIC): a server thread must never
// be left waiting.
func (r *intakeReq) completion(result func(core.Pending) C.int) func(core.Pending) {
	done, arg, rcOut, e := r.done, r.arg, r.rc, r.e
	return func(p core.Pending) {
		rc := C.int(qcEPANIC)
		defer func() {
			*rcOut = rc
			C.qc_call_done(done, arg)
		}()
		defer recoverToCode(&rc, e)
		rc = result(p)
	}
}

// startEnd consumes the session's owned row for qc_end_async.
// FinishConsume runs on the committer: the connection's thread waits in C
// meanwhile and does not use the session.
func startEnd(r *intakeReq) (pending bool, rc C.int) {
	defer recoverToCode(&rc, r.e)
	s, err := sessionOf(r.session)
	if err != nil {
		return false, setErr(r.e, err)
	}
	e := r.e
	p, err := s.s.ConsumeAsync(r.completion(func(p core.Pending) C.int {
		return setErr(e, s.s.FinishConsume(p))
	}))
	if p == nil || err != nil {
		return false, setErr(r.e, err)
	}
	return true, qcPending
}
