package main

/*
#define QC_TYPES_ONLY
#include "queue_core.h"

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
// qc_end_async). The caller's thread enters Go only to queue the request; it
// waits for the group commit in C. A goroutine running a cgo callback is
// locked to its thread, so blocking it in Go would hand the scheduler's P
// between threads several times per message, and every entry into Go from
// a server thread may have to wait for a P: so the result is written into
// the caller's memory by the committer, not collected by a second call.
//
// Protocol: an *_async call returns QC_PENDING, and then, exactly once, the
// table's committer goroutine (after the fdatasync or the failure, with no
// core lock held) writes the final status to *rc, the value and e, and
// calls done(arg). Any other return value is the final result, and then
// nothing is written later and done is never called. Nothing between
// queueing the request and returning QC_PENDING can fail (a panic there
// would leave the caller not waiting for a done call that still comes).

// completion returns core's done function for an operation: result runs on
// the committer and produces the status (and writes the value). The caller
// is signalled even if result panics (QC_EPANIC): a server thread must never
// be left waiting.
func completion(done C.qc_done_fn, arg unsafe.Pointer, rcOut *C.int, e *C.qc_err,
	result func(core.Pending) C.int) func(core.Pending) {
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

//export qc_end_async
func qc_end_async(h C.uint64_t, done C.qc_done_fn, arg unsafe.Pointer, rcOut *C.int, e *C.qc_err) (rc C.int) {
	defer recoverToCode(&rc, e)
	if rcOut == nil || done == nil {
		return setErr(e, errCode(qcEINVAL, "queue: qc_end_async needs rc and done"))
	}
	s, err := sessionOf(h)
	if err != nil {
		return setErr(e, err)
	}
	// FinishConsume runs on the committer: the connection's thread waits in
	// C meanwhile and does not use the session.
	p, err := s.s.ConsumeAsync(completion(done, arg, rcOut, e, func(p core.Pending) C.int {
		return setErr(e, s.s.FinishConsume(p))
	}))
	if p == nil || err != nil {
		return setErr(e, err)
	}
	return qcPending
}
