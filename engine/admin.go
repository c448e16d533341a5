package main

/*
#define QC_TYPES_ONLY
#include "queue_core.h"
*/
import "C"

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unsafe"

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

// adminString reads the NUL-terminated string in buf's capacity bytes.
func adminString(buf *C.char, capacity C.size_t) (string, error) {
	if buf == nil || capacity == 0 {
		return "", errCode(qcEINVAL, "queue: NULL argument")
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(capacity))
	n := bytes.IndexByte(b, 0)
	if n < 0 {
		return "", errCode(qcEINVAL, "queue: argument not NUL-terminated")
	}
	return string(b[:n]), nil
}

//export qc_admin
func qc_admin(op C.int, path *C.char, buf *C.char, capacity C.size_t, length *C.size_t, e *C.qc_err) (rc C.int) {
	defer recoverToCode(&rc, e)
	switch op {
	case C.QC_ADMIN_STATUS:
		return copyText(engineStatus(), buf, capacity, length)
	case C.QC_ADMIN_COUNTERS:
		return adminCounters(buf, capacity, length)
	case C.QC_ADMIN_TABLES:
		return adminTables(buf, capacity, length)
	case C.QC_ADMIN_LOG:
		l := takeLogLine()
		if l == "" {
			return qcEOF
		}
		return copyText(l, buf, capacity, length)
	case C.QC_ADMIN_COPIED:
		return setErr(e, adminCopied(buf, capacity))
	case C.QC_ADMIN_SYNC:
		return setErr(e, syncLazy())
	case C.QC_ADMIN_SET:
		if path == nil {
			return setErr(e, errCode(qcEINVAL, "queue: NULL setting"))
		}
		return setErr(e, adminSet(C.GoString(path)))
	case C.QC_ADMIN_TRUNCATE:
		return setErr(e, adminTruncate(buf, capacity))
	case C.QC_ADMIN_XA_RECOVER:
		return xaRecover(buf, capacity, length, e)
	}
	if path == nil {
		return setErr(e, errCode(qcEINVAL, "queue: NULL path"))
	}
	switch op {
	case C.QC_ADMIN_DROP:
		return setErr(e, dropTable(normPath(C.GoString(path))))
	case C.QC_ADMIN_RENAME:
		to, err := adminString(buf, capacity)
		if err != nil {
			return setErr(e, err)
		}
		return setErr(e, renameTable(normPath(C.GoString(path)), normPath(to)))
	case C.QC_ADMIN_CHECK, C.QC_ADMIN_CHECK_QUICK, C.QC_ADMIN_REPAIR, C.QC_ADMIN_OPTIMIZE:
		return setErr(e, adminTableOp(op, C.GoString(path), buf, capacity, length))
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

// syncName is the sync setting's value.
func syncName() string {
	if core.SyncOff() {
		return "off"
	}
	return "fdatasync"
}

// adminSet applies one "name=value" setting (QC_ADMIN_SET).
func adminSet(kv string) error {
	name, val, ok := strings.Cut(kv, "=")
	if !ok {
		return errCode(qcEINVAL, "queue: setting %q is not name=value", kv)
	}
	if name == "sync" {
		switch val {
		case "fdatasync":
			core.SetSyncOff(false)
		case "off":
			core.SetSyncOff(true)
		default:
			return errCode(qcEINVAL, "queue: sync=%q: fdatasync or off", val)
		}
		return nil
	}
	n, err := strconv.ParseInt(val, 10, 64)
	if err != nil {
		return errCode(qcEINVAL, "queue: %s=%q: not a number", name, val)
	}
	tu := core.CurrentTuning()
	switch name {
	case "segment_size":
		tu.SegmentSize = n
	case "compact_live_percent":
		tu.CompactLivePercent = int(max(min(n, 1000), -1))
	case "compact_rest_ms":
		if n < 0 || n > 60_000 {
			return errCode(qcEINVAL, "queue: compact_rest_ms=%d not in 0..60000", n)
		}
		tu.CompactRest = time.Duration(n) * time.Millisecond
	default:
		return errCode(qcEINVAL, "queue: unknown setting %q", name)
	}
	if err := core.SetTuning(tu); err != nil {
		return errCode(qcEINVAL, "%v", err)
	}
	return nil
}

// engineStatus is the library's part of SHOW ENGINE QUEUE STATUS (the
// handler prints the counters of QC_ADMIN_COUNTERS before it): a few
// "name value" lines (a form monitoring parses as ^(\w+)\s+(\d+)$), then
// one line per open table, in a form that does not parse as a counter.
func engineStatus() string {
	open := openTables()
	keys := make([]string, 0, len(open))
	for k := range open {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "go_entries %d\n", goEntries.Load())
	fmt.Fprintf(&b, "open_tables %d\n", len(keys))
	fmt.Fprintf(&b, "handles %d\n", tableHandles.len()+cursors.len()+sessions.len())
	tu := core.CurrentTuning()
	fmt.Fprintf(&b, "settings: segment_size=%d compact_live_percent=%d compact_rest_ms=%d sync=%s\n",
		tu.SegmentSize, tu.CompactLivePercent, tu.CompactRest.Milliseconds(), syncName())
	if core.SyncOff() {
		b.WriteString("DURABILITY IS OFF: queue_sync=off, commits are acknowledged without fdatasync; a machine crash loses them (tests only)\n")
	}
	for _, k := range keys {
		st := open[k].t.Stats()
		fmt.Fprintf(&b, "%s: rows=%d owned=%d waiting=%d written=%d removed=%d bytes=%d syncs=%d compactions=%d\n",
			k, st.LiveRows, st.Owned, st.Waiters, st.RowsWritten, st.RowsRemoved, st.BytesTotal, st.Syncs, st.Compactions)
	}
	return b.String()
}
