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
// qc_end_async). The caller's thread enters Go only to queue the request and
// to collect its result; it waits for the group commit in C. A goroutine
// running a cgo callback is locked to its thread, so blocking it in Go would
// hand the scheduler's P between threads several times per message.
//
// Protocol: an *_async call returns QC_PENDING with *op set, and then
// done(arg) is called exactly once, from the table's committer goroutine
// after the fdatasync (or the failure), with no core lock held; the caller
// then calls qc_op_finish(op) for the result. Any other return value is the
// final result and done is never called. Nothing between queueing the request
// and returning QC_PENDING can fail (a panic there would leave the caller
// not waiting for a done call that still comes).

// asyncOp is a queued operation between QC_PENDING and qc_op_finish.
// finish produces the result and runs on the caller's thread.
type asyncOp struct {
	p      *core.Pending
	finish func(value *C.uint64_t, e *C.qc_err) C.int
}

var ops = newRegistry[*asyncOp]()

// doneFunc wraps a C completion function for core. It runs on the
// committer goroutine; the C function only signals and must not block.
func doneFunc(done C.qc_done_fn, arg unsafe.Pointer) func() {
	return func() { C.qc_call_done(done, arg) }
}

//export qc_op_finish
func qc_op_finish(op C.uint64_t, value *C.uint64_t, e *C.qc_err) (rc C.int) {
	defer recoverToCode(&rc, e)
	o, ok := ops.get(uint64(op))
	if !ok {
		return qcEBADF
	}
	if !o.p.Done() {
		// Called before done: the operation is still queued; the op stays.
		return setErr(e, errCode(qcESTATE, "queue: qc_op_finish before the operation completed"))
	}
	ops.take(uint64(op))
	return o.finish(value, e)
}

//export qc_end_async
func qc_end_async(h C.uint64_t, done C.qc_done_fn, arg unsafe.Pointer, op *C.uint64_t, e *C.qc_err) (rc C.int) {
	defer recoverToCode(&rc, e)
	if op == nil || done == nil {
		return setErr(e, errCode(qcEINVAL, "queue: qc_end_async needs op and done"))
	}
	*op = 0
	s, err := sessionOf(h)
	if err != nil {
		return setErr(e, err)
	}
	p, err := s.s.ConsumeAsync(doneFunc(done, arg))
	if p == nil || err != nil {
		return setErr(e, err)
	}
	*op = C.uint64_t(ops.add(&asyncOp{p: p, finish: func(_ *C.uint64_t, e *C.qc_err) C.int {
		return setErr(e, s.s.FinishConsume(p))
	}}))
	return qcPending
}
