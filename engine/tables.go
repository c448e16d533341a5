package main

/*
#define QC_TYPES_ONLY
#include "queue_core.h"
*/
import "C"

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/queue-engine/queue/core"
)

// tableEntry is one table directory opened in this process. There is at most
// one per path (core requires one *core.Table per directory); handler
// instances and SQL functions share it. Entries stay open until DROP, RENAME
// moves them, or qc_shutdown closes them all: closing a table when the last
// handler goes would break ownership of its rows held by sessions.
type tableEntry struct {
	ready   chan struct{} // closed when t/cols/openErr are set
	t       *core.Table
	cols    []columnMeta
	openErr error
	closed  atomic.Bool // dropped or shut down: handles give QC_ECLOSED
}

var (
	// tablesMu guards tables. It is never held while opening, closing or
	// dropping a core table (those can do I/O for a long time).
	tablesMu sync.Mutex
	tables   = map[string]*tableEntry{}

	tableHandles = newRegistry[*tableEntry]()
)

// normPath gives the registry key of a server table path ("./db/t").
func normPath(p string) string {
	c := filepath.Clean(p)
	if !filepath.IsAbs(c) {
		c = "./" + c
	}
	return c
}

func tableDir(key string) string { return key + ".queue" }

// pathOfDir is the inverse of tableDir.
func pathOfDir(dir string) string { return normPath(strings.TrimSuffix(dir, ".queue")) }

// openPath returns the open entry for path, opening the table on first use.
func openPath(path string) (*tableEntry, error) {
	key := normPath(path)
	tablesMu.Lock()
	e, ok := tables[key]
	if !ok {
		e = &tableEntry{ready: make(chan struct{})}
		tables[key] = e
	}
	tablesMu.Unlock()
	if ok {
		<-e.ready
		if e.openErr != nil {
			return nil, e.openErr
		}
		return e, nil
	}

	e.cols, e.openErr = readColumns(key)
	if e.openErr == nil {
		e.t, e.openErr = core.Open(tableDir(key), core.Options{})
		if e.openErr != nil && errors.Is(e.openErr, os.ErrNotExist) {
			e.openErr = errCode(qcENOENT, "queue: %s is not a queue table (no %s)", key, tableDir(key))
		}
	}
	if e.openErr != nil {
		tablesMu.Lock()
		if tables[key] == e {
			delete(tables, key)
		}
		tablesMu.Unlock()
	}
	close(e.ready)
	return e, e.openErr
}

// detach removes key's entry from the registry and returns it (nil if the
// table was not open), waiting for a concurrent open to finish.
func detach(key string) *tableEntry {
	tablesMu.Lock()
	e := tables[key]
	delete(tables, key)
	tablesMu.Unlock()
	if e == nil {
		return nil
	}
	<-e.ready
	if e.openErr != nil {
		return nil
	}
	e.closed.Store(true)
	return e
}

func tableOf(h C.uint64_t) (*tableEntry, error) {
	e, ok := tableHandles.get(uint64(h))
	if !ok {
		return nil, errBadHandle
	}
	if e.closed.Load() {
		return nil, core.ErrClosed
	}
	return e, nil
}

//export qc_table_create
func qc_table_create(path *C.char, cols *C.qc_column, ncols C.int, e *C.qc_err) (rc C.int) {
	defer recoverToCode(&rc, e)
	if path == nil || ncols < 0 || (ncols > 0 && cols == nil) {
		return setErr(e, errCode(qcEINVAL, "queue: bad arguments to qc_table_create"))
	}
	key := normPath(C.GoString(path))
	meta := make([]columnMeta, int(ncols))
	for i, c := range unsafe.Slice(cols, int(ncols)) {
		meta[i] = columnMeta{
			Name: C.GoString(c.name), Type: uint8(c._type), Unsigned: c.is_unsigned != 0,
			NullMask: uint8(c.null_mask), Decimals: uint8(c.decimals),
			Offset: int32(c.offset), Length: int32(c.length), NullOffset: int32(c.null_offset),
		}
	}
	if err := core.Create(tableDir(key), core.Options{}); err != nil {
		return setErr(e, err)
	}
	if err := writeColumns(key, meta); err != nil {
		_ = core.Destroy(tableDir(key), core.Options{})
		return setErr(e, err)
	}
	return qcOK
}

//export qc_table_drop
func qc_table_drop(path *C.char, e *C.qc_err) (rc C.int) {
	defer recoverToCode(&rc, e)
	if path == nil {
		return setErr(e, errCode(qcEINVAL, "queue: NULL path"))
	}
	key := normPath(C.GoString(path))
	var err error
	if ent := detach(key); ent != nil {
		err = ent.t.Drop()
	} else {
		err = core.Destroy(tableDir(key), core.Options{})
	}
	if err != nil {
		return setErr(e, err)
	}
	return setErr(e, removeColumns(key))
}

//export qc_table_rename
func qc_table_rename(from, to *C.char, e *C.qc_err) (rc C.int) {
	defer recoverToCode(&rc, e)
	if from == nil || to == nil {
		return setErr(e, errCode(qcEINVAL, "queue: NULL path"))
	}
	src, dst := normPath(C.GoString(from)), normPath(C.GoString(to))
	if _, err := os.Stat(tableDir(dst)); err == nil {
		return setErr(e, errCode(qcEEXIST, "queue: %s already exists", tableDir(dst)))
	}
	// Rename through the open table so handles, owners and waiters follow it.
	ent, err := openPath(src)
	if err != nil {
		return setErr(e, err)
	}
	tablesMu.Lock()
	if tables[src] == ent {
		delete(tables, src)
	}
	tables[dst] = ent
	tablesMu.Unlock()
	if err := ent.t.Rename(tableDir(dst)); err != nil {
		tablesMu.Lock()
		delete(tables, dst)
		tables[src] = ent
		tablesMu.Unlock()
		return setErr(e, err)
	}
	return setErr(e, renameColumns(src, dst))
}

//export qc_table_open
func qc_table_open(path *C.char, table *C.uint64_t, e *C.qc_err) (rc C.int) {
	defer recoverToCode(&rc, e)
	testPanic("qc_table_open")
	if path == nil || table == nil {
		return setErr(e, errCode(qcEINVAL, "queue: NULL argument"))
	}
	ent, err := openPath(C.GoString(path))
	if err != nil {
		return setErr(e, err)
	}
	*table = C.uint64_t(tableHandles.add(ent))
	return qcOK
}

//export qc_table_close
func qc_table_close(table C.uint64_t) (rc C.int) {
	defer recoverToCode(&rc, nil)
	if _, ok := tableHandles.take(uint64(table)); !ok {
		return qcEBADF
	}
	return qcOK
}

//export qc_table_truncate
func qc_table_truncate(table C.uint64_t, e *C.qc_err) (rc C.int) {
	defer recoverToCode(&rc, e)
	ent, err := tableOf(table)
	if err != nil {
		return setErr(e, err)
	}
	return setErr(e, ent.t.Truncate())
}

//export qc_table_info_get
func qc_table_info_get(table, session C.uint64_t, out *C.qc_table_info) (rc C.int) {
	defer recoverToCode(&rc, nil)
	ent, err := tableOf(table)
	if err != nil {
		return C.int(codeOf(err))
	}
	if out == nil {
		return qcEINVAL
	}
	rows := ent.t.Count()
	if session != 0 {
		s, err := sessionOf(session)
		if err != nil {
			return C.int(codeOf(err))
		}
		if s.s.OwnerMode() {
			rows = 0
			if t, _ := s.s.Owned(); t == ent.t {
				rows = 1
			}
		}
	}
	st := ent.t.Stats()
	*out = C.qc_table_info{}
	out.rows = C.uint64_t(rows)
	out.data_bytes = C.uint64_t(st.BytesTotal)
	out.free_bytes = C.uint64_t(st.BytesRemoved)
	if st.RowsWritten > 0 {
		out.avg_row = C.uint64_t(st.BytesTotal / st.RowsWritten)
	}
	out.create_time = C.int64_t(unixOrZero(ent.t.CreateTime()))
	out.update_time = C.int64_t(unixOrZero(ent.t.UpdateTime()))
	return qcOK
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

//export qc_shutdown
func qc_shutdown() (rc C.int) {
	defer recoverToCode(&rc, nil)
	tablesMu.Lock()
	all := tables
	tables = map[string]*tableEntry{}
	tablesMu.Unlock()
	rc = qcOK
	for _, ent := range all {
		<-ent.ready
		if ent.openErr != nil {
			continue
		}
		ent.closed.Store(true)
		if err := ent.t.Close(); err != nil && rc == qcOK {
			rc = C.int(codeOf(err))
		}
	}
	return rc
}

//export qc_abi_version
func qc_abi_version() C.int { return 1 }

//export qc_handle_count
func qc_handle_count() (rc C.int) {
	defer recoverToCode(&rc, nil)
	return C.int(tableHandles.len() + cursors.len() + sessions.len())
}
