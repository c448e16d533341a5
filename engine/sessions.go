package main

/*
#define QC_TYPES_ONLY
#include "queue_core.h"
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/queue-engine/queue/core"
)

// session is one connection's state. The server runs one statement per
// connection at a time, but close_connection and a late qc_wait_end may
// race with nothing else; mu guards w and specs all the same.
type session struct {
	s *core.Session

	mu    sync.Mutex
	w     *core.Waiter // pending queue_wait, between qc_wait and qc_wait_end
	specs []core.Spec  // the pending wait's specs (timeout statistics)
	txn   *sessionTxn  // the connection's transaction (txn.go), nil outside one
}

var sessions = newRegistry[*session]()

func sessionOf(h C.uint64_t) (*session, error) {
	s, ok := sessions.get(uint64(h))
	if !ok {
		return nil, errBadHandle
	}
	return s, nil
}

// cancelWait unregisters a pending wait and returns the assigned spec index
// or -1. After it returns, notify is not called for this wait any more.
func (s *session) cancelWait() (idx int, specs []core.Spec) {
	s.mu.Lock()
	w, specs := s.w, s.specs
	s.w, s.specs = nil, nil
	s.mu.Unlock()
	if w == nil {
		return -1, nil
	}
	return w.Cancel(), specs
}

//export qc_init
func qc_init(abi C.int, fn C.qc_notify_fn) (rc C.int) {
	defer recoverToCode(&rc, nil)
	if abi != C.QC_ABI_VERSION {
		return qcEINVAL
	}
	setNotify(fn)
	return qcOK
}

//export qc_session_new
func qc_session_new(out *C.uint64_t) (rc C.int) {
	defer recoverToCode(&rc, nil)
	if out == nil {
		return qcEINVAL
	}
	*out = C.uint64_t(sessions.add(&session{s: core.NewSession()}))
	return qcOK
}

//export qc_session_free
func qc_session_free(h C.uint64_t) (rc C.int) {
	defer recoverToCode(&rc, nil)
	s, ok := sessions.take(uint64(h))
	if !ok {
		return qcEBADF
	}
	s.cancelWait()
	s.dropTxn()
	s.s.Release(true)
	return qcOK
}

// specsFor opens the tables of a queue_wait and resolves their filters.
func specsFor(paths, conds **C.char, n int) ([]core.Spec, error) {
	ps := unsafe.Slice(paths, n)
	var cs []*C.char
	if conds != nil {
		cs = unsafe.Slice(conds, n)
	}
	specs := make([]core.Spec, n)
	for i := range specs {
		if ps[i] == nil {
			return nil, errCode(qcEINVAL, "queue: NULL table name")
		}
		ent, err := openPath(C.GoString(ps[i]))
		if err != nil {
			return nil, err
		}
		specs[i].Table = ent.t
		var expr string
		if cs != nil && cs[i] != nil {
			expr = C.GoString(cs[i])
		}
		if expr == "" {
			continue
		}
		cols := ent.cols
		condLookups.Add(1)
		f, err := ent.t.Filter(expr, func() (core.MatchFunc, error) { return compileCond(expr, cols) })
		if err != nil {
			return nil, err
		}
		specs[i].Filter = f
	}
	return specs, nil
}

//export qc_wait
func qc_wait(h C.uint64_t, paths, conds **C.char, n C.int, flags C.int, token C.uint64_t,
	consume *C.qc_request, consuming *C.int, out *C.qc_owned, e *C.qc_err) (rc C.int) {
	defer recoverToCode(&rc, e)
	if consuming != nil {
		*consuming = 0
	}
	s, err := sessionOf(h)
	if err != nil {
		return setErr(e, err)
	}
	if n <= 0 || paths == nil || out == nil || consume == nil || consuming == nil {
		return setErr(e, errCode(qcEINVAL, "queue: queue_wait needs at least one table"))
	}
	out.idx, out.table_id, out.ended = -1, 0, 0
	s.mu.Lock()
	busy := s.w != nil
	s.mu.Unlock()
	if busy {
		return setErr(e, errCode(qcESTATE, "queue: a wait is already pending on this connection"))
	}
	// The owned row's removal joins the next group commit; the caller
	// waits for it in C. Meanwhile the row is nobody's to take. Like Q4M,
	// a queue_wait that fails has still consumed the row owned before.
	// In a transaction (QC_REQ_HOLD) the removal waits for its commit.
	specs, specErr := specsFor(paths, conds, int(n))
	// Also for the takes of qc_wait_end (after a damaged row).
	s.s.SetInOrder(flags&C.QC_WAIT_IN_ORDER != 0)
	took := false
	if consume.kind == C.QC_REQ_HOLD {
		if err := s.holdOwned(); err != nil {
			return setErr(e, err)
		}
	} else {
		// With the first spec on the consumed row's table, the next row is
		// taken in the same hold of the table's lock.
		var next *core.Spec
		if specErr == nil {
			next = &specs[0]
		}
		p, ok, err := s.s.ConsumeAndTake(next, completion(consume, func(p core.Pending) C.int {
			return setErr(&consume.err, p.Err())
		}))
		if err != nil {
			return setErr(e, err)
		}
		if p != nil {
			*consuming = 1
		}
		took = ok
	}
	if specErr != nil {
		return setErr(e, specErr)
	}
	tok := uint64(token)
	for skips := 0; ; skips++ {
		var got int // took: the first spec's row, taken with the consume
		var w *core.Waiter
		var err error
		if !took {
			got, w, err = s.s.Register(specs, func() { notify(tok) })
		}
		took = false
		if err != nil {
			reportSkipped(s, out)
			return setErr(e, err)
		}
		if w != nil {
			s.mu.Lock()
			s.w, s.specs = w, specs
			s.mu.Unlock()
			reportSkipped(s, out)
			return qcPending
		}
		err = fillOwned(s, got, out)
		if err == errSkippedDamaged && skips < maxSkippedPerWait {
			continue // the row taken was damaged: take the next one
		}
		reportSkipped(s, out)
		return setErr(e, err)
	}
}

// maxSkippedPerWait bounds the damaged rows one queue_wait skips before it
// fails (each is marked damaged, so the next call goes on from there).
const maxSkippedPerWait = 1000

// errSkippedDamaged: the row the session had taken was damaged and has
// been skipped (core.Session.SkipDamaged); take another.
var errSkippedDamaged = errCode(qcECORRUPT, "queue: too many damaged rows skipped in one queue_wait")

// fillOwned reports the spec idx that won and the owned row with its
// image. A filtered take read and verified the row already (core keeps the
// payload: one read per message); otherwise the row is read here, outside
// the table's locks. A damaged row is skipped (errSkippedDamaged: the
// caller takes another); a row that cannot be read for another reason is
// reported without its image (table_id 0): the handler then reads it
// through a scan, which reports the error.
func fillOwned(s *session, idx int, out *C.qc_owned) error {
	out.idx, out.table_id, out.row.len, out.row.id = C.int(idx), 0, 0, 0
	out.ended = 0
	if idx < 0 {
		return nil
	}
	t, id, epoch := s.s.OwnedAt()
	if t == nil {
		return nil
	}
	payload, ok := s.s.CopyTaken(t, id, rowBuffer(&out.row))
	if !ok {
		var err error
		if payload, err = t.Get(id, rowBuffer(&out.row)); err != nil {
			if s.s.SkipDamaged(err) {
				out.idx = -1
				return errSkippedDamaged
			}
			return nil
		}
	}
	if err := putRow(&out.row, id, payload); err != nil {
		return err
	}
	out.table_id, out.epoch = C.uint64_t(t.ID()), C.uint64_t(epoch)
	return nil
}

// reportSkipped puts the count of damaged rows the session's takes skipped
// and the first one's message into out; the caller (the SQL function)
// writes them to the connection's warnings and the error log.
func reportSkipped(s *session, out *C.qc_owned) {
	skipped := s.s.TakeSkipped()
	out.skipped = C.uint32_t(len(skipped))
	out.skipped_msg[0] = 0
	if len(skipped) == 0 {
		return
	}
	msg := skipped[0].Error()
	if len(skipped) > 1 {
		msg = fmt.Sprintf("%s (and %d more)", msg, len(skipped)-1)
	}
	buf := unsafe.Slice((*byte)(unsafe.Pointer(&out.skipped_msg[0])), len(out.skipped_msg))
	n := copy(buf[:len(buf)-1], msg)
	buf[n] = 0
}

//export qc_wait_end
func qc_wait_end(h C.uint64_t, out *C.qc_owned, e *C.qc_err) (rc C.int) {
	defer recoverToCode(&rc, e)
	s, err := sessionOf(h)
	if err != nil {
		return setErr(e, err)
	}
	if out == nil {
		return qcEINVAL
	}
	s.mu.Lock()
	w := s.w
	s.mu.Unlock()
	got, specs := s.cancelWait()
	if specs == nil {
		return qcESTATE
	}
	ended := w != nil && w.Ended()
	if got < 0 {
		for _, sp := range specs {
			sp.Table.CountWaitTimeout()
		}
	} else if t, _ := s.s.Owned(); t == nil {
		// A row assigned just before its table was renamed went back to
		// the queue with the rename: the session owns nothing it could see.
		got, ended = -1, true
	}
	err = fillOwned(s, got, out)
	for skips := 0; err == errSkippedDamaged && skips < maxSkippedPerWait; skips++ {
		// The row assigned was damaged: take another at once; without one
		// the wait ends as a timeout (owner mode without a row).
		if got, err = s.s.TryTake(specs); err == nil {
			err = fillOwned(s, got, out)
		}
	}
	reportSkipped(s, out)
	if ended {
		out.ended = 1
	}
	return setErr(e, err)
}

//export qc_abort
func qc_abort(h C.uint64_t) (rc C.int) {
	defer recoverToCode(&rc, nil)
	s, err := sessionOf(h)
	if err != nil {
		return C.int(codeOf(err))
	}
	_, specs := s.cancelWait()
	if !s.s.OwnerMode() && specs == nil {
		return qcESTATE
	}
	s.s.Release(false)
	return qcOK
}
