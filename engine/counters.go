package main

/*
#define QC_TYPES_ONLY
#include "queue_core.h"
*/
import "C"

import (
	"errors"
	"io"
	"io/fs"
	"path/filepath"
	"sort"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/queue-engine/queue/core"
)

// The library's process-wide counters (QC_ADMIN_COUNTERS, SHOW ENGINE
// QUEUE STATUS, the status variables). Counters that core keeps (rows,
// commits, compactions) come from core.GlobalStats; these are the ones
// this layer sees: file calls, conditions.
var (
	fileReads, fileWrites, fileSyncs, fileErrors atomic.Uint64

	condLookups, condCompiles, condEvaluations atomic.Uint64
)

// tableFS is the file system of the tables this library opens and
// creates: the real one, with every call counted.
var tableFS core.FS = countingFS{core.OSFS{}}

// countingFS counts the calls that reach the disk: reads, writes, syncs
// (of files and of directories) and the ones that failed.
type countingFS struct{ fs core.FS }

type countingFile struct{ f core.File }

// counted records a failed call. Reaching the end of a file, a missing
// file and an existing one are answers core asks for (recovery reads to
// the end, an open tells a table that is not there), not failures.
func counted(err error) error {
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, fs.ErrNotExist) &&
		!errors.Is(err, fs.ErrExist) {
		fileErrors.Add(1)
	}
	return err
}

func (c countingFS) Create(name string) (core.File, error) {
	f, err := c.fs.Create(name)
	if counted(err) != nil {
		return nil, err
	}
	return countingFile{f}, nil
}

func (c countingFS) OpenRW(name string) (core.File, error) {
	f, err := c.fs.OpenRW(name)
	if counted(err) != nil {
		return nil, err
	}
	return countingFile{f}, nil
}

func (c countingFS) Mkdir(name string) error               { return counted(c.fs.Mkdir(name)) }
func (c countingFS) ReadDir(name string) ([]string, error) { return c.fs.ReadDir(name) }
func (c countingFS) Remove(name string) error              { return c.fs.Remove(name) }
func (c countingFS) Rename(o, n string) error              { return counted(c.fs.Rename(o, n)) }
func (c countingFS) Exists(name string) (bool, error)      { return c.fs.Exists(name) }

// Syncs skipped by queue_sync=off (core.SetSyncOff) do not reach the disk
// and are not counted.
func (c countingFS) SyncDir(name string) error {
	if !core.SyncOff() {
		fileSyncs.Add(1)
	}
	return counted(c.fs.SyncDir(name))
}

func (f countingFile) ReadAt(p []byte, off int64) (int, error) {
	fileReads.Add(1)
	n, err := f.f.ReadAt(p, off)
	return n, counted(err)
}

func (f countingFile) WriteAt(p []byte, off int64) (int, error) {
	fileWrites.Add(1)
	n, err := f.f.WriteAt(p, off)
	return n, counted(err)
}

func (f countingFile) Sync() error {
	if !core.SyncOff() {
		fileSyncs.Add(1)
	}
	return counted(f.f.Sync())
}

func (f countingFile) Size() (int64, error)        { return f.f.Size() }
func (f countingFile) Truncate(size int64) error   { return counted(f.f.Truncate(size)) }
func (f countingFile) Allocate(off, n int64) error { return counted(f.f.Allocate(off, n)) }
func (f countingFile) Close() error                { return f.f.Close() }

// countedMatch counts the evaluations of a compiled condition.
func countedMatch(m core.MatchFunc) core.MatchFunc {
	return func(p []byte) bool {
		condEvaluations.Add(1)
		return m(p)
	}
}

// openTables returns the tables that are open (not opening, not failed),
// by key.
func openTables() map[string]*tableEntry {
	tablesMu.Lock()
	all := make(map[string]*tableEntry, len(tables))
	for k, v := range tables {
		all[k] = v
	}
	tablesMu.Unlock()
	for k, ent := range all {
		select {
		case <-ent.ready:
			if ent.openErr == nil {
				continue
			}
		default:
		}
		delete(all, k)
	}
	return all
}

// waitingSessions counts the sessions with a pending queue_wait.
func waitingSessions() uint64 {
	sessions.mu.Lock()
	all := make([]*session, 0, len(sessions.items))
	for _, s := range sessions.items {
		all = append(all, s)
	}
	sessions.mu.Unlock()
	var n uint64
	for _, s := range all {
		s.mu.Lock()
		if s.w != nil {
			n++
		}
		s.mu.Unlock()
	}
	return n
}

// counters is QC_ADMIN_COUNTERS's snapshot.
func counters() C.qc_counters {
	g := core.GlobalStats()
	var c C.qc_counters
	c.sys_read = C.uint64_t(fileReads.Load())
	c.sys_write = C.uint64_t(fileWrites.Load())
	c.sys_sync = C.uint64_t(fileSyncs.Load())
	c.read_cachehit = 0
	c.append = C.uint64_t(g.AppendCommits)
	c.remove = C.uint64_t(g.RemoveCommits)
	c.evaluation = C.uint64_t(condEvaluations.Load())
	lookups, compiles := condLookups.Load(), condCompiles.Load()
	c.compile = C.uint64_t(lookups)
	if lookups > compiles {
		c.compile_cachehit = C.uint64_t(lookups - compiles)
	}
	c.rows_written = C.uint64_t(g.RowsWritten)
	c.rows_removed = C.uint64_t(g.RowsRemoved)
	c.syncs = C.uint64_t(g.Syncs)
	c.compactions = C.uint64_t(g.Compactions)
	c.io_errors = C.uint64_t(fileErrors.Load())
	c.corrupt_skipped = C.uint64_t(g.CorruptSkipped)
	c.go_entries = C.uint64_t(goEntries.Load())
	open := openTables()
	now := time.Now().UnixMilli()
	c.open_tables = C.uint64_t(len(open))
	for _, ent := range open {
		st := ent.t.Stats()
		c.rows_queued += C.uint64_t(st.LiveRows)
		c.rows_owned += C.uint64_t(st.Owned)
		c.bytes_total += C.uint64_t(st.BytesTotal)
		c.bytes_free += C.uint64_t(st.BytesRemoved)
		c.segments += C.uint64_t(st.Segments)
		if age := oldestAge(st, now); age > 0 && uint64(age) > uint64(c.oldest_age) {
			c.oldest_age = C.uint64_t(age)
		}
	}
	if core.SyncOff() {
		c.sync_off = 1
	}
	c.waiting = C.uint64_t(waitingSessions())
	return c
}

// tableInfos is QC_ADMIN_TABLES's list: the open tables, then the tables
// found in the data directory ("./db/t.queue") that are not open.
func tableInfos() []C.qc_table_info {
	open := openTables()
	keys := make([]string, 0, len(open))
	for k := range open {
		keys = append(keys, k)
	}
	if dirs, err := filepath.Glob("*/*.queue"); err == nil {
		for _, d := range dirs {
			k := pathOfDir(d)
			if _, ok := open[k]; !ok && readable(k) {
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	out := make([]C.qc_table_info, 0, len(keys))
	now := time.Now().UnixMilli()
	for _, k := range keys {
		var ti C.qc_table_info
		ti.oldest_age = -1
		copyCString(&ti.path[0], C.size_t(len(ti.path)), k)
		if ent, ok := open[k]; ok {
			st := ent.t.Stats()
			ti.open = 1
			ti.segments = C.int32_t(st.Segments)
			ti.rows_queued = C.uint64_t(st.LiveRows)
			ti.rows_owned = C.uint64_t(st.Owned)
			ti.waiting = C.uint64_t(st.Waiters)
			ti.bytes_live = C.uint64_t(st.BytesTotal - st.BytesRemoved)
			ti.bytes_total = C.uint64_t(st.BytesTotal)
			ti.rows_written = C.uint64_t(st.RowsWritten)
			ti.rows_removed = C.uint64_t(st.RowsRemoved)
			ti.last_compaction = C.int64_t(st.LastCompaction)
			ti.oldest_age = C.int64_t(oldestAge(st, now))
		}
		out = append(out, ti)
	}
	return out
}

// oldestAge is the age in whole seconds of the table's oldest queued row
// at now (unix ms); -1 when it has none or its time is unknown. A clock
// that went back counts as age 0.
func oldestAge(st core.Stats, now int64) int64 {
	if st.Oldest == 0 {
		return -1
	}
	return max(now-st.Oldest, 0) / 1000
}

// readable reports whether key's table is a queue table of the server
// (its column list exists): leftovers of a crashed DROP are not listed.
func readable(key string) bool {
	ok, err := core.OSFS{}.Exists(key + ".qcol")
	return err == nil && ok
}

// copyStruct hands a snapshot to C: *length is its full size; QC_ERANGE
// when buf cannot hold it.
func copyStruct(src unsafe.Pointer, size int, buf *C.char, capacity C.size_t, length *C.size_t) C.int {
	if length != nil {
		*length = C.size_t(size)
	}
	if size > 0 && (buf == nil || int(capacity) < size) {
		return qcERANGE
	}
	if size > 0 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(buf)), size), unsafe.Slice((*byte)(src), size))
	}
	return qcOK
}

func adminCounters(buf *C.char, capacity C.size_t, length *C.size_t) C.int {
	c := counters()
	return copyStruct(unsafe.Pointer(&c), int(unsafe.Sizeof(c)), buf, capacity, length)
}

func adminTables(buf *C.char, capacity C.size_t, length *C.size_t) C.int {
	list := tableInfos()
	if len(list) == 0 {
		return copyStruct(nil, 0, nil, capacity, length)
	}
	return copyStruct(unsafe.Pointer(&list[0]), len(list)*int(unsafe.Sizeof(list[0])), buf, capacity, length)
}
