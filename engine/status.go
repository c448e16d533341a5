package main

/*
#define QC_TYPES_ONLY
#include "queue_core.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"unsafe"

	"github.com/queue-engine/queue/core"
)

// Status codes: queue_core.h defines them, once.
const (
	qcOK       = C.QC_OK
	qcEOF      = C.QC_EOF
	qcPending  = C.QC_PENDING
	qcSkipped  = C.QC_SKIPPED
	qcErr      = C.QC_ERR
	qcEBADF    = C.QC_EBADF
	qcENOENT   = C.QC_ENOENT
	qcEEXIST   = C.QC_EEXIST
	qcEIO      = C.QC_EIO
	qcENOSPC   = C.QC_ENOSPC
	qcETOOBIG  = C.QC_ETOOBIG
	qcEINVAL   = C.QC_EINVAL
	qcECORRUPT = C.QC_ECORRUPT
	qcEPANIC   = C.QC_EPANIC
	qcECLOSED  = C.QC_ECLOSED
	qcERANGE   = C.QC_ERANGE
	qcESTATE   = C.QC_ESTATE
)

// codeError is an error that carries its status code (errors raised by this
// layer itself: stale handles, bad arguments).
type codeError struct {
	code int
	msg  string
}

func (e *codeError) Error() string { return e.msg }

func errCode(code int, format string, args ...any) error {
	return &codeError{code: code, msg: fmt.Sprintf(format, args...)}
}

var errBadHandle = errCode(qcEBADF, "queue: unknown or stale handle")

// codeOf maps an error to its status code. Order matters only for errors that
// wrap several sentinels, which core does not do.
func codeOf(err error) int {
	var ce *codeError
	switch {
	case err == nil:
		return qcOK
	case errors.As(err, &ce):
		return ce.code
	case errors.Is(err, core.ErrNotFound):
		return qcENOENT
	case errors.Is(err, core.ErrExists):
		return qcEEXIST
	case errors.Is(err, core.ErrClosed):
		return qcECLOSED
	case errors.Is(err, core.ErrCorrupt):
		return qcECORRUPT
	case errors.Is(err, core.ErrNoSpace):
		return qcENOSPC
	case errors.Is(err, core.ErrIO):
		return qcEIO
	case errors.Is(err, core.ErrTooLarge):
		return qcETOOBIG
	case errors.Is(err, core.ErrBadArgument):
		return qcEINVAL
	}
	return qcErr
}

// setErr copies err's message into e (may be NULL), truncated and
// NUL-terminated, and returns err's status code.
func setErr(e *C.qc_err, err error) C.int {
	code := codeOf(err)
	if code == qcEIO || code == qcENOSPC {
		logIOError(err)
	}
	if err != nil && e != nil {
		copyCString(&e.msg[0], C.size_t(len(e.msg)), err.Error())
	}
	return C.int(code)
}

// copyCString writes s into the C buffer buf of cap bytes, truncated and
// NUL-terminated. Returns the number of bytes of s written.
func copyCString(buf *C.char, capacity C.size_t, s string) int {
	if buf == nil || capacity == 0 {
		return 0
	}
	dst := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(capacity))
	n := copy(dst[:len(dst)-1], s)
	dst[n] = 0
	return n
}

// goEntries counts the calls from the server's threads into Go (every
// exported function defers recoverToCode once): SHOW ENGINE QUEUE STATUS
// reports it as go_entries, and the benchmark divides it by messages.
var goEntries atomic.Uint64

// recoverToCode turns a panic in an exported function into QC_EPANIC with
// the panic value and stack in e, and counts the entry into Go. Deferred
// first thing in every export.
func recoverToCode(rc *C.int, e *C.qc_err) {
	goEntries.Add(1)
	if r := recover(); r != nil {
		panicToCode(r, rc, e)
	}
}

// recoverInside is recoverToCode for code that runs inside the library
// (goroutines, completions): it does not count an entry.
func recoverInside(rc *C.int, e *C.qc_err) {
	if r := recover(); r != nil {
		panicToCode(r, rc, e)
	}
}

func panicToCode(r any, rc *C.int, e *C.qc_err) {
	*rc = qcEPANIC
	if e != nil {
		copyCString(&e.msg[0], C.size_t(len(e.msg)),
			fmt.Sprintf("queue: internal error: %v\n%s", r, debug.Stack()))
	}
}
