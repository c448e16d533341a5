package main

/*
#define QC_TYPES_ONLY
#include "queue_core.h"
*/
import "C"

import (
	"fmt"
	"sort"
	"strings"

	"github.com/queue-engine/queue/core"
)

// statsText is queue_stats()'s text: Q4M's nine "name: value" lines, in
// Q4M's order, so existing monitoring parses it.
func statsText(st core.Stats) string {
	return fmt.Sprintf("rows_written: %d\nrows_removed: %d\nwait_immediate: %d\nwait_delayed: %d\n"+
		"wait_timeout: %d\nrestored_by_abort: %d\nrestored_by_close: %d\nbytes_total: %d\nbytes_removed: %d\n",
		st.RowsWritten, st.RowsRemoved, st.WaitImmediate, st.WaitDelayed, st.WaitTimeout,
		st.RestoredByAbort, st.RestoredByClose, st.BytesTotal, st.BytesRemoved)
}

// copyText hands text to C: *length is the full size; QC_ERANGE when buf
// cannot hold it and its NUL.
func copyText(text string, buf *C.char, capacity C.size_t, length *C.size_t) C.int {
	if length != nil {
		*length = C.size_t(len(text))
	}
	if int(capacity) < len(text)+1 || buf == nil {
		return qcERANGE
	}
	copyCString(buf, capacity, text)
	return qcOK
}

//export qc_admin
func qc_admin(op C.int, path *C.char, buf *C.char, capacity C.size_t, length *C.size_t, e *C.qc_err) (rc C.int) {
	defer recoverToCode(&rc, e)
	if op == C.QC_ADMIN_STATUS {
		return copyText(engineStatus(), buf, capacity, length)
	}
	if path == nil {
		return setErr(e, errCode(qcEINVAL, "queue: NULL path"))
	}
	ent, err := openPath(C.GoString(path))
	if err != nil {
		return setErr(e, err)
	}
	switch op {
	case C.QC_ADMIN_STATS:
		return copyText(statsText(ent.t.Stats()), buf, capacity, length)
	case C.QC_ADMIN_COMPACT:
		return setErr(e, ent.t.Compact())
	}
	return setErr(e, errCode(qcEINVAL, "queue: unknown administrative operation %d", int(op)))
}

// engineStatus is SHOW ENGINE QUEUE STATUS's text: the library's counters,
// one "name value" line each (a form monitoring parses as
// ^(\w+)\s+(\d+)$), then one line per open table.
func engineStatus() string {
	tablesMu.Lock()
	open := make(map[string]*tableEntry, len(tables))
	for k, v := range tables {
		open[k] = v
	}
	tablesMu.Unlock()
	keys := make([]string, 0, len(open))
	for k := range open {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var syncs uint64
	var lines strings.Builder
	for _, k := range keys {
		ent := open[k]
		select {
		case <-ent.ready:
		default:
			fmt.Fprintf(&lines, "%s: opening\n", k)
			continue
		}
		if ent.openErr != nil {
			continue
		}
		st := ent.t.Stats()
		syncs += st.Syncs
		fmt.Fprintf(&lines, "%s: rows=%d written=%d removed=%d bytes=%d syncs=%d compactions=%d\n",
			k, st.LiveRows, st.RowsWritten, st.RowsRemoved, st.BytesTotal, st.Syncs, st.Compactions)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "go_entries %d\n", goEntries.Load())
	fmt.Fprintf(&b, "sys_sync %d\n", syncs)
	fmt.Fprintf(&b, "open_tables %d\n", len(keys))
	fmt.Fprintf(&b, "handles %d\n", tableHandles.len()+cursors.len()+sessions.len())
	b.WriteString(lines.String())
	return b.String()
}
