package main

/*
#define QC_TYPES_ONLY
#include "queue_core.h"
*/
import "C"

import (
	"path/filepath"
	"sort"
	"sync"
	"unsafe"

	"github.com/queue-engine/queue/core"
)

// sessionTxn is a connection's transaction over the queue tables it
// writes: one core.Txn per table, in the order first touched. The
// connection's thread is its only user until it is prepared; a prepared
// one is also in the prepared registry (commit_by_xid, recovery).
type sessionTxn struct {
	parts []*core.Txn
	byTbl map[*core.Table]*core.Txn
	// savepoints: the parts' marks (for parts[:len]) by mark number
	marks    map[uint64][]core.TxnMark
	lastMark uint64
	xid      string // set by the prepare: no more staging, only commit or rollback
}

func (tx *sessionTxn) part(t *core.Table) *core.Txn {
	if x := tx.byTbl[t]; x != nil {
		return x
	}
	x := t.Begin()
	tx.byTbl[t] = x
	tx.parts = append(tx.parts, x)
	return x
}

// preparedSet is one prepared transaction: its parts in every table.
type preparedSet struct {
	parts    []*core.Txn
	reported bool // listed by QC_ADMIN_XA_RECOVER already
}

var (
	preparedMu sync.Mutex
	// prepared maps an xid to its prepared parts, live (a connection
	// prepared it) or recovered from the tables' logs.
	prepared = map[string]*preparedSet{}
)

// txnOpen returns the session's open transaction, starting one.
func (s *session) txnOpen() (*sessionTxn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.txn == nil {
		s.txn = &sessionTxn{byTbl: map[*core.Table]*core.Txn{}, marks: map[uint64][]core.TxnMark{}}
	}
	if s.txn.xid != "" {
		return nil, errCode(qcESTATE, "queue: the transaction is prepared; it can only commit or roll back")
	}
	return s.txn, nil
}

// holdOwned moves the session's owned row into its transaction (queue_end
// or queue_wait's consume step inside a transaction); the session leaves
// owner mode.
func (s *session) holdOwned() error {
	tx, err := s.txnOpen()
	if err != nil {
		return err
	}
	// A few tries: an ALTER may move the row to its copy meanwhile.
	for range 3 {
		t, _ := s.s.Owned()
		if t == nil || tx.part(t).HoldOwned(s.s) {
			break
		}
	}
	s.s.Leave()
	return nil
}

//export qc_txn_stage
func qc_txn_stage(h C.uint64_t, op C.int, table C.uint64_t, buf *C.uchar, lens *C.uint32_t,
	ids *C.uint64_t, n C.int, limit C.uint64_t, count *C.uint64_t, e *C.qc_err) (rc C.int) {
	defer recoverToCode(&rc, e)
	s, err := sessionOf(h)
	if err != nil {
		return setErr(e, err)
	}
	if count != nil {
		*count = 0
	}
	if op == C.QC_TXN_CONSUME {
		return setErr(e, s.holdOwned())
	}
	ent, ok := tableHandles.get(uint64(table))
	if !ok {
		return setErr(e, errBadHandle)
	}
	if ent.closed.Load() {
		return setErr(e, errCode(qcECLOSED, "queue: the table was dropped or closed"))
	}
	if n < 0 || (n > 0 && ((op == C.QC_TXN_ROWS && (buf == nil || lens == nil)) || (op == C.QC_TXN_DELETE && ids == nil))) {
		return setErr(e, errCode(qcEINVAL, "queue: bad transaction rows"))
	}
	tx, err := s.txnOpen()
	if err != nil {
		return setErr(e, err)
	}
	x := tx.part(ent.t)
	switch op {
	case C.QC_TXN_ROWS:
		rows := splitRows(unsafe.Pointer(buf), unsafe.Slice((*uint32)(unsafe.Pointer(lens)), int(n)))
		if err := x.Add(rows, int(min(uint64(limit), 1<<30))); err != nil {
			return setErr(e, err)
		}
		if count != nil {
			*count = C.uint64_t(n)
		}
	case C.QC_TXN_DELETE:
		held, err := x.Hold(unsafe.Slice((*uint64)(unsafe.Pointer(ids)), int(n)), s.s)
		if err != nil {
			return setErr(e, err)
		}
		if count != nil {
			*count = C.uint64_t(held)
		}
	default:
		return setErr(e, errCode(qcEINVAL, "queue: unknown transaction operation %d", int(op)))
	}
	return qcOK
}

// splitRows views n rows stored back to back in C memory (lens bytes each)
// without copying: core copies what it keeps.
func splitRows(buf unsafe.Pointer, lens []uint32) [][]byte {
	rows := make([][]byte, len(lens))
	off := uintptr(0)
	for i, l := range lens {
		rows[i] = unsafe.Slice((*byte)(unsafe.Add(buf, off)), int(l))
		off += uintptr(l)
	}
	return rows
}

//export qc_txn_savepoint
func qc_txn_savepoint(h C.uint64_t, op C.int, mark *C.uint64_t) (rc C.int) {
	defer recoverToCode(&rc, nil)
	s, err := sessionOf(h)
	if err != nil {
		return setErr(nil, err)
	}
	if mark == nil {
		return qcEINVAL
	}
	tx, err := s.txnOpen()
	if err != nil {
		return setErr(nil, err)
	}
	k := uint64(*mark)
	switch op {
	case C.QC_SP_SET, C.QC_SP_STMT:
		if op == C.QC_SP_STMT && k != 0 {
			delete(tx.marks, k)
		}
		m := make([]core.TxnMark, len(tx.parts))
		for i, x := range tx.parts {
			m[i] = x.Mark()
		}
		tx.lastMark++
		tx.marks[tx.lastMark] = m
		*mark = C.uint64_t(tx.lastMark)
	case C.QC_SP_ROLLBACK:
		m, ok := tx.marks[k]
		if !ok {
			return qcEINVAL
		}
		for i, x := range tx.parts {
			if i < len(m) {
				x.RollbackTo(m[i])
			} else {
				x.RollbackTo(core.TxnMark{})
			}
		}
		// The mark stays (ROLLBACK TO may be repeated); later ones go.
		for j := range tx.marks {
			if j > k {
				delete(tx.marks, j)
			}
		}
	case C.QC_SP_RELEASE:
		delete(tx.marks, k)
	default:
		return qcEINVAL
	}
	return qcOK
}

// joinAll runs start on every part and completes q once all of them have
// completed. It returns QC_OK or an error when everything finished before
// it returned (q's done is then not called), or QC_PENDING.
func joinAll(parts []*core.Txn, q *C.qc_request,
	start func(x *core.Txn, done func(core.Pending)) (*core.Pending, error), after func(err error)) C.int {
	var mu sync.Mutex
	remaining := len(parts) + 1 // +1: this launching call
	var first error
	one := func(err error) (last bool) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil && first == nil {
			first = err
		}
		remaining--
		return remaining == 0
	}
	for _, x := range parts {
		p, err := start(x, func(p core.Pending) {
			if one(p.Err()) {
				rc := C.int(qcEPANIC)
				defer func() { finish(q, rc) }()
				defer recoverInside(&rc, &q.err)
				after(first)
				rc = setErr(&q.err, first)
			}
		})
		if p == nil {
			one(err) // finished at once: done is never called
		}
	}
	mu.Lock()
	remaining--
	done := remaining == 0
	err := first
	mu.Unlock()
	if !done {
		return qcPending
	}
	after(err)
	return setErr(&q.err, err)
}

//export qc_txn_end
func qc_txn_end(h C.uint64_t, op C.int, xid *C.uchar, xidlen C.size_t, q *C.qc_request) (rc C.int) {
	defer recoverToCode(&rc, nil)
	if q == nil || q.done == nil {
		return qcEINVAL
	}
	if op == C.QC_XA_COMMIT || op == C.QC_XA_ROLLBACK {
		return xaResolve(xid, xidlen, op == C.QC_XA_COMMIT, q)
	}
	s, err := sessionOf(h)
	if err != nil {
		return setErr(&q.err, err)
	}
	s.mu.Lock()
	tx := s.txn
	if op != C.QC_TXN_PREPARE {
		s.txn = nil // the transaction ends here, whatever the outcome
	}
	s.mu.Unlock()
	if tx == nil {
		return qcOK
	}
	switch op {
	case C.QC_TXN_PREPARE:
		if tx.xid != "" {
			return setErr(&q.err, errCode(qcESTATE, "queue: the transaction is already prepared"))
		}
		if xid == nil || xidlen == 0 || xidlen > core.MaxXIDSize {
			return setErr(&q.err, errCode(qcEINVAL, "queue: bad transaction id"))
		}
		key := C.GoStringN((*C.char)(unsafe.Pointer(xid)), C.int(xidlen))
		tx.xid = key
		set := &preparedSet{parts: tx.parts, reported: true}
		preparedMu.Lock()
		if _, dup := prepared[key]; dup {
			preparedMu.Unlock()
			return setErr(&q.err, errCode(qcEINVAL, "queue: transaction id already prepared"))
		}
		prepared[key] = set
		preparedMu.Unlock()
		return joinAll(tx.parts, q, func(x *core.Txn, done func(core.Pending)) (*core.Pending, error) {
			return x.PrepareAsync(key, done)
		}, func(err error) {})
	case C.QC_TXN_COMMIT, C.QC_TXN_COMMIT_NOSYNC, C.QC_TXN_ROLLBACK:
		forget := func(error) {
			if tx.xid != "" {
				preparedMu.Lock()
				delete(prepared, tx.xid)
				preparedMu.Unlock()
			}
		}
		switch op {
		case C.QC_TXN_COMMIT:
			return joinAll(tx.parts, q, (*core.Txn).CommitAsync, forget)
		case C.QC_TXN_COMMIT_NOSYNC:
			return joinAll(tx.parts, q, (*core.Txn).CommitNoSyncAsync, forget)
		}
		return joinAll(tx.parts, q, (*core.Txn).RollbackAsync, forget)
	}
	return setErr(&q.err, errCode(qcEINVAL, "queue: unknown transaction end %d", int(op)))
}

// dropTxn rolls back the session's transaction unless it is prepared (a
// prepared transaction outlives its connection: XA COMMIT or ROLLBACK
// from another one, or recovery, decides it). At disconnect.
func (s *session) dropTxn() {
	s.mu.Lock()
	tx := s.txn
	s.txn = nil
	s.mu.Unlock()
	if tx == nil || tx.xid != "" {
		return
	}
	for _, x := range tx.parts {
		_, _ = x.RollbackAsync(func(core.Pending) {})
	}
}

// recoverPrepared opens every queue table in the data directory (their
// recovery rebuilds prepared transactions) and adds the prepared
// transactions to the registry.
func recoverPrepared() error {
	dirs, err := filepath.Glob("*/*.queue")
	if err != nil {
		return err
	}
	sort.Strings(dirs)
	var firstErr error
	for _, d := range dirs {
		k := pathOfDir(d)
		if !readable(k) {
			continue
		}
		tablesMu.Lock()
		_, open := tables[k]
		tablesMu.Unlock()
		if !open && !core.MayHavePrepared(tableFS, d) {
			continue // closed cleanly: nothing prepared, no need to open it now
		}
		ent, err := openKey(k, true)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		for _, x := range ent.t.PreparedTxns() {
			key := x.XID()
			preparedMu.Lock()
			set := prepared[key]
			if set == nil {
				set = &preparedSet{}
				prepared[key] = set
			}
			known := false
			for _, y := range set.parts {
				known = known || y == x
			}
			if !known {
				set.parts = append(set.parts, x)
			}
			preparedMu.Unlock()
		}
	}
	return firstErr
}

// xaRecover (qc_admin QC_ADMIN_XA_RECOVER) lists the prepared
// transactions not listed before, as records of a 2-byte little-endian
// length and the xid, into buf; *length is the bytes written. Each is
// listed once: the server resolves or keeps it, and asks again until none
// is left.
func xaRecover(buf *C.char, capacity C.size_t, length *C.size_t, e *C.qc_err) C.int {
	if buf == nil || length == nil {
		return setErr(e, errCode(qcEINVAL, "queue: bad arguments to QC_ADMIN_XA_RECOVER"))
	}
	err := recoverPrepared()
	out := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(capacity))
	off := listPrepared(out, int(capacity)/C.QC_XA_RECORD_MAX)
	*length = C.size_t(off)
	if err != nil && off == 0 {
		return setErr(e, err)
	}
	return qcOK
}

// listPrepared writes at most max of the prepared transactions not listed
// before into out, as xaRecover's records, marks them listed and returns
// the bytes written.
func listPrepared(out []byte, max int) int {
	preparedMu.Lock()
	defer preparedMu.Unlock()
	keys := make([]string, 0, len(prepared))
	for k, set := range prepared {
		if !set.reported {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	off := 0
	for i, k := range keys {
		if i == max || off+2+len(k) > len(out) {
			break
		}
		out[off], out[off+1] = byte(len(k)), byte(len(k)>>8)
		copy(out[off+2:], k)
		off += 2 + len(k)
		prepared[k].reported = true
	}
	return off
}

// xaResolve (qc_txn_end QC_XA_COMMIT, QC_XA_ROLLBACK) commits or rolls
// back the prepared transaction xid that no connection holds
// (commit_by_xid, rollback_by_xid: recovery, or XA COMMIT/ROLLBACK of a
// transaction whose connection has gone). QC_ENOENT when no table knows it.
func xaResolve(xid *C.uchar, xidlen C.size_t, commit bool, q *C.qc_request) C.int {
	if xid == nil || xidlen == 0 {
		return setErr(&q.err, errCode(qcEINVAL, "queue: bad transaction id"))
	}
	key := C.GoStringN((*C.char)(unsafe.Pointer(xid)), C.int(xidlen))
	preparedMu.Lock()
	set := prepared[key]
	preparedMu.Unlock()
	if set == nil {
		return qcENOENT
	}
	forget := func(err error) {
		if err == nil {
			preparedMu.Lock()
			if prepared[key] == set {
				delete(prepared, key)
			}
			preparedMu.Unlock()
		}
	}
	if commit {
		return joinAll(set.parts, q, (*core.Txn).CommitAsync, forget)
	}
	return joinAll(set.parts, q, (*core.Txn).RollbackAsync, forget)
}

// syncLazy makes the commits acknowledged before their fdatasync durable in
// every open table (QC_ADMIN_SYNC: the server's commit checkpoint).
func syncLazy() error {
	var first error
	for _, ent := range openTables() {
		if err := ent.t.SyncLazy(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
