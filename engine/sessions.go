package main

/*
#define QC_TYPES_ONLY
#include "queue_core.h"
*/
import "C"

import (
	"sync"
	"unsafe"

	"github.com/queue-engine/queue/core"
)

// session is one connection's state. The server runs one statement per
// connection at a time, but close_connection and a late qc_wait_end may
// race with nothing else; mu guards w, specs and relay all the same.
type session struct {
	s *core.Session

	mu    sync.Mutex
	w     *core.Waiter // pending queue_wait, between qc_wait_begin and qc_wait_end
	specs []core.Spec  // the pending wait's specs (timeout statistics)
	relay *core.Relay  // armed by qc_set_srcid, used by the next append
}

var sessions = newRegistry[*session]()

func sessionOf(h C.uint64_t) (*session, error) {
	s, ok := sessions.get(uint64(h))
	if !ok {
		return nil, errBadHandle
	}
	return s, nil
}

// takeRelay returns and disarms the armed relay mark (nil-safe).
func (s *session) takeRelay() *core.Relay {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.relay
	s.relay = nil
	return r
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
func qc_init(fn C.qc_notify_fn) (rc C.int) {
	defer recoverToCode(&rc, nil)
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
	s.s.Release(true)
	return qcOK
}

//export qc_owner_mode
func qc_owner_mode(h C.uint64_t) (rc C.int) {
	defer recoverToCode(&rc, nil)
	s, err := sessionOf(h)
	if err != nil {
		return C.int(codeOf(err))
	}
	if s.s.OwnerMode() {
		return 1
	}
	return 0
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
		f, err := ent.t.Filter(expr, func() (core.MatchFunc, error) { return compileCond(expr, cols) })
		if err != nil {
			return nil, err
		}
		specs[i].Filter = f
	}
	return specs, nil
}

//export qc_wait_begin
func qc_wait_begin(h C.uint64_t, paths, conds **C.char, n C.int, token C.uint64_t,
	idx *C.int, e *C.qc_err) (rc C.int) {
	defer recoverToCode(&rc, e)
	s, err := sessionOf(h)
	if err != nil {
		return setErr(e, err)
	}
	if n <= 0 || paths == nil || idx == nil {
		return setErr(e, errCode(qcEINVAL, "queue: queue_wait needs at least one table"))
	}
	s.mu.Lock()
	busy := s.w != nil
	s.mu.Unlock()
	if busy {
		return setErr(e, errCode(qcESTATE, "queue: a wait is already pending on this connection"))
	}
	specs, err := specsFor(paths, conds, int(n))
	if err != nil {
		return setErr(e, err)
	}
	if err := s.s.Consume(); err != nil {
		return setErr(e, err)
	}
	tok := uint64(token)
	got, w, err := s.s.Register(specs, func() { notify(tok) })
	if err != nil {
		return setErr(e, err)
	}
	if w == nil {
		*idx = C.int(got)
		return qcOK
	}
	s.mu.Lock()
	s.w, s.specs = w, specs
	s.mu.Unlock()
	*idx = -1
	return qcPending
}

//export qc_wait_end
func qc_wait_end(h C.uint64_t, idx *C.int) (rc C.int) {
	defer recoverToCode(&rc, nil)
	s, err := sessionOf(h)
	if err != nil {
		return C.int(codeOf(err))
	}
	got, specs := s.cancelWait()
	if specs == nil {
		return qcESTATE
	}
	if got < 0 {
		for _, sp := range specs {
			sp.Table.CountWaitTimeout()
		}
	}
	if idx != nil {
		*idx = C.int(got)
	}
	return qcOK
}

//export qc_end
func qc_end(h C.uint64_t, e *C.qc_err) (rc C.int) {
	defer recoverToCode(&rc, e)
	s, err := sessionOf(h)
	if err != nil {
		return setErr(e, err)
	}
	return setErr(e, s.s.Consume())
}

//export qc_abort
func qc_abort(h C.uint64_t) (rc C.int) {
	defer recoverToCode(&rc, nil)
	s, err := sessionOf(h)
	if err != nil {
		return C.int(codeOf(err))
	}
	if !s.s.OwnerMode() {
		return qcESTATE
	}
	s.s.Release(false)
	return qcOK
}

//export qc_rowid
func qc_rowid(h C.uint64_t, id *C.uint64_t, hasRow *C.int) (rc C.int) {
	defer recoverToCode(&rc, nil)
	s, err := sessionOf(h)
	if err != nil {
		return C.int(codeOf(err))
	}
	if !s.s.OwnerMode() {
		return qcESTATE
	}
	t, rid := s.s.Owned()
	if id != nil {
		*id = C.uint64_t(rid)
	}
	if hasRow != nil {
		*hasRow = 0
		if t != nil {
			*hasRow = 1
		}
	}
	return qcOK
}

//export qc_set_srcid
func qc_set_srcid(h C.uint64_t, slot C.int, mode C.char, rowid C.uint64_t) (rc C.int) {
	defer recoverToCode(&rc, nil)
	s, err := sessionOf(h)
	if err != nil {
		return C.int(codeOf(err))
	}
	if slot < 0 || int(slot) >= core.MaxRelaySlots || (mode != 'a' && mode != 'w') {
		return qcEINVAL
	}
	s.mu.Lock()
	s.relay = &core.Relay{Slot: int(slot), RowID: uint64(rowid), Reset: mode == 'w'}
	s.mu.Unlock()
	return qcOK
}

//export qc_owned_path
func qc_owned_path(h C.uint64_t, buf *C.char, capacity C.size_t) (rc C.int) {
	defer recoverToCode(&rc, nil)
	s, err := sessionOf(h)
	if err != nil {
		return C.int(codeOf(err))
	}
	path := ""
	if t, _ := s.s.Owned(); t != nil {
		path = pathOfDir(t.Dir())
	}
	if int(capacity) < len(path)+1 {
		return qcERANGE
	}
	copyCString(buf, capacity, path)
	return qcOK
}
