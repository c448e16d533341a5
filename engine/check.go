package main

/*
#define QC_TYPES_ONLY
#include "queue_core.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"

	"github.com/queue-engine/queue/core"
	"github.com/queue-engine/queue/engine/rowfmt"
)

// CHECK, REPAIR and OPTIMIZE TABLE (qc_admin). The verification is core's
// (core/verify.go); here the table's column list supplies the row decoder
// and the result becomes the lines the handler turns into the statement's
// result set.

// adminLines collects "<level>\t<message>" lines.
type adminLines struct{ lines []string }

func (a *adminLines) add(level, format string, args ...any) {
	msg := strings.ReplaceAll(fmt.Sprintf(format, args...), "\n", " ")
	a.lines = append(a.lines, level+"\t"+msg)
}

// text joins the lines, leaving out the last ones (and saying how many)
// so that the text and its NUL fit in capacity bytes.
func (a *adminLines) text(capacity int) string {
	var b strings.Builder
	for i, l := range a.lines {
		rest := len(a.lines) - i - 1
		if b.Len()+len(l)+1+80 >= capacity && rest > 0 || b.Len()+len(l)+1 >= capacity {
			fmt.Fprintf(&b, "warning\t%d more messages left out\n", len(a.lines)-i)
			break
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	s := b.String()
	if len(s) >= capacity {
		s = s[:max(capacity-1, 0)]
	}
	return s
}

// decoderOf returns a row check for the table's columns, nil when the
// table has no column list.
func decoderOf(cols []columnMeta) func([]byte) error {
	if len(cols) == 0 {
		return nil
	}
	return rowfmt.New(cols).Check
}

func addProblems(a *adminLines, rep *core.CheckReport) {
	for _, p := range rep.Problems {
		a.add(p.Level, "%s", p.String())
	}
}

func addFigures(a *adminLines, rep *core.CheckReport) {
	damaged := 0
	for _, d := range rep.Damaged {
		if d.Live {
			damaged++
		}
	}
	a.add("status", "%d rows (%d damaged), %d segments, %d of %d bytes live, next row id %d",
		rep.Rows, damaged, rep.Segments, rep.BytesLive, rep.BytesTotal, rep.NextID)
}

// adminTableOp runs CHECK, REPAIR or OPTIMIZE on path; the text goes to buf.
func adminTableOp(op C.int, path string, buf *C.char, capacity C.size_t, length *C.size_t) error {
	key := normPath(path)
	var a adminLines
	var result error
	ent, err := openPath(path)
	var unopenable error
	if err != nil {
		if !errors.Is(err, core.ErrCorrupt) || op == C.QC_ADMIN_OPTIMIZE {
			return err
		}
		unopenable = err
	}
	switch {
	case unopenable != nil:
		result = adminOffline(op, key, unopenable, &a)
	case op == C.QC_ADMIN_CHECK || op == C.QC_ADMIN_CHECK_QUICK:
		rep, err := ent.t.Check(core.CheckOptions{Quick: op == C.QC_ADMIN_CHECK_QUICK, Decode: decoderOf(ent.cols)})
		if err != nil {
			return err
		}
		addProblems(&a, rep)
		addFigures(&a, rep)
		if n := rep.Errors(); n > 0 {
			logCorrupt(key, rep)
			result = errCode(qcECORRUPT, "queue: %d errors", n)
		}
	case op == C.QC_ADMIN_REPAIR:
		rep, err := ent.t.Repair(core.CheckOptions{Decode: decoderOf(ent.cols)})
		if err != nil {
			return err
		}
		addRepair(&a, key, rep)
	case op == C.QC_ADMIN_OPTIMIZE:
		before := ent.t.Figures()
		segsBefore := ent.t.Stats().Segments
		if err := ent.t.Compact(); err != nil {
			return err
		}
		after := ent.t.Figures()
		a.add("status", "compacted: %d bytes in %d segments before, %d bytes in %d segments after, %d rows",
			before.BytesTotal, segsBefore, after.BytesTotal, ent.t.Stats().Segments, after.LiveRows)
	}
	if length != nil {
		text := a.text(int(capacity))
		*length = C.size_t(len(text))
		if buf != nil && capacity > 0 {
			copyCString(buf, capacity, text)
		}
	}
	return result
}

func addRepair(a *adminLines, key string, rep *core.RepairReport) {
	for _, p := range rep.Check.Problems {
		a.add("warning", "found: %s", p.String())
	}
	if !rep.Rewritten {
		a.add("status", "nothing to repair: %d rows", rep.Kept)
		return
	}
	ids := make([]string, 0, len(rep.Lost))
	for _, l := range rep.Lost {
		ids = append(ids, fmt.Sprint(l.ID))
	}
	a.add("status", "rewritten: %d rows kept, %d rows lost%s", rep.Kept, len(rep.Lost), idList(ids))
	for _, l := range rep.Lost {
		a.add("warning", "lost row %d: %s at offset %d: %s", l.ID, l.File, l.Offset, l.Reason)
	}
	if rep.LostRecords {
		a.add("warning", "damaged bytes hid records whose rows cannot be counted; they are lost")
	}
	logLine(logWarning, "QUEUE: REPAIR TABLE %s: %d rows kept, %d rows lost%s", tableName(key), rep.Kept, len(rep.Lost), idList(ids))
}

func idList(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	if len(ids) > 20 {
		return fmt.Sprintf(" (ids %s, ...)", strings.Join(ids[:20], ", "))
	}
	return fmt.Sprintf(" (ids %s)", strings.Join(ids, ", "))
}

// adminOffline checks or repairs a table whose recovery fails, from its
// files. The table's key is claimed, so nothing opens it meanwhile.
func adminOffline(op C.int, key string, openErr error, a *adminLines) error {
	defer claimKeys(key)()
	cols, _ := readColumns(key)
	opts := core.CheckOptions{Quick: op == C.QC_ADMIN_CHECK_QUICK, Decode: decoderOf(cols)}
	if op == C.QC_ADMIN_REPAIR {
		rep, err := core.RepairDir(tableFS, tableDir(key), opts)
		if err != nil {
			return err
		}
		addRepair(a, key, rep)
		if _, err := openKey(key, false); err != nil {
			a.add("error", "the table still does not open: %v", err)
			return errCode(qcECORRUPT, "queue: %v", err)
		}
		return nil
	}
	a.add("error", "the table does not open: %v", openErr)
	rep, err := core.Verify(tableFS, tableDir(key), opts)
	if err != nil {
		return err
	}
	addProblems(a, rep)
	addFigures(a, rep)
	return errCode(qcECORRUPT, "queue: the table does not open")
}

// logCorrupt writes the error-log line of a check that found errors.
func logCorrupt(key string, rep *core.CheckReport) {
	first := ""
	for _, p := range rep.Problems {
		if p.Level == core.LevelError {
			first = p.String()
			break
		}
	}
	logLine(logError, "QUEUE: table %s is corrupt: %s (%d errors found by CHECK TABLE)", tableName(key), first, rep.Errors())
}
