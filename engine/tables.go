package main

/*
#define QC_TYPES_ONLY
#include <stdlib.h>
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

	// figures is the table's qc_table_counters in C memory (allocated on
	// the first qc_table_open), refreshed by core's observer and freed once
	// the entry is closed and no handle uses it. fmu guards figures and
	// handles.
	fmu     sync.Mutex
	figures *C.qc_table_counters
	handles int
}

var (
	// tablesMu guards tables. It is never held while opening, closing or
	// dropping a core table (those can do I/O for a long time).
	tablesMu sync.Mutex
	tables   = map[string]*tableEntry{}

	tableHandles = newRegistry[*tableEntry]()

	// busy holds the keys of tables being dropped or renamed (guarded by
	// tablesMu). openPath waits for them: the SQL functions open tables
	// without the server's metadata locks, and a table opened again while
	// its directory is being deleted or moved would be a second
	// *core.Table on the same files (rows written to it are lost).
	busy = map[string]chan struct{}{}
)

// claimKeys marks keys busy (waiting for any earlier claim on them to end)
// and returns the function that ends the claim.
func claimKeys(keys ...string) (release func()) {
	ch := make(chan struct{})
	tablesMu.Lock()
	for {
		var wait chan struct{}
		for _, k := range keys {
			if c := busy[k]; c != nil {
				wait = c
				break
			}
		}
		if wait == nil {
			break
		}
		tablesMu.Unlock()
		<-wait
		tablesMu.Lock()
	}
	for _, k := range keys {
		busy[k] = ch
	}
	tablesMu.Unlock()
	return func() {
		tablesMu.Lock()
		for _, k := range keys {
			if busy[k] == ch {
				delete(busy, k)
			}
		}
		tablesMu.Unlock()
		close(ch)
	}
}

// committerMode is who runs group commits (core.CommitterMode): by
// default a lone request commits on its own server thread; the environment
// variable QUEUE_COMMITTER=goroutine hands every commit to the table's
// committer goroutine instead (for measuring one against the other).
var committerMode = func() core.CommitterMode {
	if os.Getenv("QUEUE_COMMITTER") == "goroutine" {
		return core.CommitGoroutine
	}
	return core.CommitLead
}()

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
	return openKey(normPath(path), true)
}

// openKey is openPath for a registry key; waitBusy false is for the holder
// of the key's claim.
func openKey(key string, waitBusy bool) (*tableEntry, error) {
	tablesMu.Lock()
	for waitBusy && busy[key] != nil {
		c := busy[key]
		tablesMu.Unlock()
		<-c
		tablesMu.Lock()
	}
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
		e.t, e.openErr = core.Open(tableDir(key), core.Options{Committer: committerMode, FS: tableFS,
			OnCompaction: func(ci core.CompactionInfo) { logCompaction(e, ci) }})
		if e.openErr != nil && errors.Is(e.openErr, os.ErrNotExist) {
			e.openErr = errCode(qcENOENT, "queue: %s is not a queue table (no %s)", key, tableDir(key))
		}
		logOpen(key, e)
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
	e.markClosed()
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
	if err := core.Create(tableDir(key), core.Options{FS: tableFS}); err != nil {
		return setErr(e, err)
	}
	if err := writeColumns(key, meta); err != nil {
		_ = core.Destroy(tableDir(key), core.Options{})
		return setErr(e, err)
	}
	return qcOK
}

func dropTable(key string) error {
	defer claimKeys(key)()
	var err error
	if ent := detach(key); ent != nil {
		err = ent.t.Drop()
	} else {
		err = core.Destroy(tableDir(key), core.Options{})
	}
	if err != nil {
		return err
	}
	return removeColumns(key)
}

func renameTable(src, dst string) error {
	defer claimKeys(src, dst)()
	if _, err := os.Stat(tableDir(dst)); err == nil {
		return errCode(qcEEXIST, "queue: %s already exists", tableDir(dst))
	}
	// Rename through the open table so handles, owners and waiters follow it.
	ent, err := openKey(src, false)
	if err != nil {
		return err
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
		return err
	}
	return renameColumns(src, dst)
}

//export qc_table_open
func qc_table_open(path *C.char, table *C.uint64_t, counters **C.qc_table_counters, e *C.qc_err) (rc C.int) {
	defer recoverToCode(&rc, e)
	testPanic("qc_table_open")
	if path == nil || table == nil {
		return setErr(e, errCode(qcEINVAL, "queue: NULL argument"))
	}
	ent, err := openPath(C.GoString(path))
	if err != nil {
		return setErr(e, err)
	}
	f := ent.acquireFigures()
	if f == nil {
		return setErr(e, errCode(qcErr, "queue: out of memory"))
	}
	*table = C.uint64_t(tableHandles.add(ent))
	if counters != nil {
		*counters = f
	}
	return qcOK
}

//export qc_table_close
func qc_table_close(table C.uint64_t) (rc C.int) {
	defer recoverToCode(&rc, nil)
	ent, ok := tableHandles.take(uint64(table))
	if !ok {
		return qcEBADF
	}
	ent.releaseFigures()
	return qcOK
}

// acquireFigures counts a handle and returns the entry's counters,
// allocating and registering them on first use (nil: out of memory).
func (ent *tableEntry) acquireFigures() *C.qc_table_counters {
	ent.fmu.Lock()
	defer ent.fmu.Unlock()
	if ent.figures == nil {
		ent.figures = (*C.qc_table_counters)(C.calloc(1, C.size_t(unsafe.Sizeof(C.qc_table_counters{}))))
		if ent.figures == nil {
			return nil
		}
		ent.storeFiguresLocked()
		ent.t.SetObserver(ent.refreshFigures)
	}
	ent.handles++
	return ent.figures
}

// releaseFigures ends a handle's use of the counters; the last handle of
// a closed entry frees them.
func (ent *tableEntry) releaseFigures() {
	ent.fmu.Lock()
	defer ent.fmu.Unlock()
	ent.handles--
	ent.freeFiguresLocked()
}

// freeFiguresLocked frees the counters of a closed entry without handles.
func (ent *tableEntry) freeFiguresLocked() {
	if ent.handles > 0 || !ent.closed.Load() || ent.figures == nil {
		return
	}
	ent.t.SetObserver(nil)
	C.free(unsafe.Pointer(ent.figures))
	ent.figures = nil
}

// refreshFigures is the core observer: it copies the table's figures to C.
func (ent *tableEntry) refreshFigures() {
	ent.fmu.Lock()
	defer ent.fmu.Unlock()
	ent.storeFiguresLocked()
}

func (ent *tableEntry) storeFiguresLocked() {
	c := ent.figures
	if c == nil {
		return
	}
	f := ent.t.Figures()
	atomic.StoreUint64((*uint64)(unsafe.Pointer(&c.table_id)), f.ID)
	atomic.StoreUint64((*uint64)(unsafe.Pointer(&c.owner_epoch)), f.OwnerEpoch)
	atomic.StoreUint64((*uint64)(unsafe.Pointer(&c.rows)), f.LiveRows)
	atomic.StoreUint64((*uint64)(unsafe.Pointer(&c.data_bytes)), f.BytesTotal)
	atomic.StoreUint64((*uint64)(unsafe.Pointer(&c.free_bytes)), f.BytesFree)
	atomic.StoreUint64((*uint64)(unsafe.Pointer(&c.avg_row)), f.AvgRow)
	atomic.StoreInt64((*int64)(unsafe.Pointer(&c.create_time)), f.CreateTime)
	atomic.StoreInt64((*int64)(unsafe.Pointer(&c.update_time)), f.UpdateTime)
}

// markClosed marks the entry closed (handles give QC_ECLOSED); its
// counters are freed now if no handle uses them.
func (ent *tableEntry) markClosed() {
	ent.closed.Store(true)
	ent.fmu.Lock()
	ent.freeFiguresLocked()
	ent.fmu.Unlock()
}

// adminCopied is QC_ADMIN_COPIED: buf holds {src handle, dst handle,
// runs as (old, new, count) triples} as uint64 values.
func adminCopied(buf *C.char, capacity C.size_t) error {
	n := int(capacity) / 8
	if buf == nil || n < 5 || (n-2)%3 != 0 {
		return errCode(qcEINVAL, "queue: bad arguments to QC_ADMIN_COPIED")
	}
	raw := unsafe.Slice((*uint64)(unsafe.Pointer(buf)), n)
	from, err := tableOf(C.uint64_t(raw[0]))
	if err != nil {
		return err
	}
	to, err := tableOf(C.uint64_t(raw[1]))
	if err != nil {
		return err
	}
	rs := make([]core.CopyRun, (n-2)/3)
	for i := range rs {
		rs[i] = core.CopyRun{Old: raw[2+3*i], New: raw[3+3*i], N: raw[4+3*i]}
	}
	return from.t.SetCopy(to.t, rs)
}

// adminTruncate empties the table whose handle buf holds (QC_ADMIN_TRUNCATE).
func adminTruncate(buf *C.char, capacity C.size_t) error {
	if buf == nil || capacity != 8 {
		return errCode(qcEINVAL, "queue: bad arguments to QC_ADMIN_TRUNCATE")
	}
	ent, err := tableOf(C.uint64_t(*(*uint64)(unsafe.Pointer(buf))))
	if err != nil {
		return err
	}
	return ent.t.Truncate()
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
		err := ent.t.Close()
		ent.markClosed()
		if err != nil && rc == qcOK {
			rc = C.int(codeOf(err))
		}
	}
	return rc
}
