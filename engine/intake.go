package main

/*
#define QC_TYPES_ONLY
#include <stdlib.h>
#include "intake.h"

// Calls a request's completion function. It points into the caller's
// library (ha_queue.so is linked -z nodelete).
static void qc_call_done(qc_done_fn f, void *arg)
{
  if (f)
    f(arg);
}
*/
import "C"

import (
	"github.com/queue-engine/queue/core"
)

// Durable requests (qc_submit). The server's threads do not enter Go for
// them: intake.c queues the request and the thread waits for the group
// commit in C. A goroutine running a cgo callback is locked to its thread,
// so blocking it in Go would hand the scheduler's P between threads several
// times per message, and every entry into Go from a server thread may have
// to wait for one of the few Ps.
//
// Under load one intake goroutine takes all queued requests at once (when it
// is asleep, the calling thread enters Go itself, see intake.c), checks and
// copies their arguments and queues them for their tables' committers. Then,
// exactly once per request, the committer (after the fdatasync or the
// failure, with no core lock held), or the intake goroutine itself when the
// request fails before reaching a committer, writes the final status and
// calls done(arg). The request (caller memory) is not touched after that.

func init() { go intakeLoop() }

// intakeLoop runs for the life of the process. It sleeps in C (a blocking
// cgo call) while nothing is queued.
func intakeLoop() {
	for {
		for q := C.qc_intake_take(); q != nil; {
			next := q.next // q may be gone once started
			startRequest(q)
			q = next
		}
	}
}

// qc_intake_direct starts one request on the calling server thread, when
// the intake goroutine is asleep (intake.c). Not part of the ABI.
//
//export qc_intake_direct
func qc_intake_direct(q *C.qc_request) {
	goEntries.Add(1)
	startRequest(q)
}

// startRequest queues q for its committer, or completes it at once when it
// fails (or there is nothing to write).
func startRequest(q *C.qc_request) {
	var pending bool
	rc := C.int(qcEPANIC)
	func() {
		defer recoverInside(&rc, &q.err)
		switch q.kind {
		case C.QC_REQ_APPEND:
			pending, rc = startAppend(q)
		case C.QC_REQ_REMOVE:
			pending, rc = startRemove(q)
		case C.QC_REQ_END:
			pending, rc = startEnd(q)
		default:
			rc = setErr(&q.err, errCode(qcEINVAL, "queue: unknown request kind %d", int(q.kind)))
		}
	}()
	if !pending {
		finish(q, rc)
	}
}

// finish writes q's status and signals its caller; q is not touched after.
func finish(q *C.qc_request, rc C.int) {
	q.rc = rc
	C.qc_call_done(q.done, q.arg)
}

// completion returns core's done function for q: result runs on the
// committer and produces the status (writing q.value). The caller is
// signalled even if result panics (QC_EPANIC): a server thread must never
// be left waiting.
func completion(q *C.qc_request, result func(core.Pending) C.int) func(core.Pending) {
	return func(p core.Pending) {
		rc := C.int(qcEPANIC)
		defer func() { finish(q, rc) }()
		defer recoverInside(&rc, &q.err)
		rc = result(p)
	}
}

// startEnd consumes the session's owned row (queue_end). The session leaves
// owner mode at once; a failed removal gives the row back.
func startEnd(q *C.qc_request) (pending bool, rc C.int) {
	s, err := sessionOf(q.session)
	if err != nil {
		return false, setErr(&q.err, err)
	}
	s.cancelWait()
	p, err := s.s.ConsumeAsync(completion(q, func(p core.Pending) C.int {
		return setErr(&q.err, p.Err())
	}))
	if p == nil || err != nil {
		return false, setErr(&q.err, err)
	}
	return true, qcPending
}
