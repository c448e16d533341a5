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
	"sync"
	"time"

	"github.com/queue-engine/queue/core"
)

// Error-log lines. The library has no call into the server's log: a line
// is queued here and the handler is told through the notify callback with
// token 0 (never a connection's token); it then takes the lines with
// qc_admin(QC_ADMIN_LOG) and writes each with sql_print_*. Lines are only
// written for events that normal operation does not produce: recovery
// after a crash, corruption, a failed or slow compaction, an I/O error,
// a repair.

const (
	logError   = 1
	logWarning = 2
	logNote    = 3
)

// maxLogQueue bounds the lines waiting for the handler; beyond it lines
// are counted and the count is logged with the next one taken.
const maxLogQueue = 1000

var logq struct {
	sync.Mutex
	lines   []string // "<level>\t<message>"
	dropped int
	kicked  bool // a notify(0) is on its way and has not found the queue empty
}

// logLine queues one error-log line and tells the handler.
func logLine(level int, format string, args ...any) {
	msg := strings.ReplaceAll(fmt.Sprintf(format, args...), "\n", " ")
	logq.Lock()
	if len(logq.lines) >= maxLogQueue {
		logq.dropped++
		logq.Unlock()
		return
	}
	logq.lines = append(logq.lines, fmt.Sprintf("%d\t%s", level, msg))
	kick := !logq.kicked
	logq.kicked = true
	logq.Unlock()
	if kick {
		// Not on the caller's goroutine: it may hold a table's locks, and
		// the handler calls back into the library to take the lines.
		go notify(0)
	}
}

// takeLogLine returns the next queued line, "" when there is none.
func takeLogLine() string {
	logq.Lock()
	defer logq.Unlock()
	if logq.dropped > 0 {
		n := logq.dropped
		logq.dropped = 0
		return fmt.Sprintf("%d\tQUEUE: %d error-log lines were left out (too many at once)", logWarning, n)
	}
	if len(logq.lines) == 0 {
		logq.kicked = false
		return ""
	}
	l := logq.lines[0]
	logq.lines = logq.lines[1:]
	return l
}

// tableName turns a registry key ("./db/t") into "db.t" for log lines.
func tableName(key string) string {
	k := strings.TrimPrefix(key, "./")
	if i := strings.LastIndexByte(k, '/'); i >= 0 {
		return decodeFilename(k[:i]) + "." + decodeFilename(k[i+1:])
	}
	return decodeFilename(k)
}

// decodeFilename undoes the server's filename encoding of the simple
// cases (@XXXX hex code points); anything else is left as it is.
func decodeFilename(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '@' && i+4 < len(s) {
			var r rune
			if _, err := fmt.Sscanf(s[i+1:i+5], "%04x", &r); err == nil {
				b.WriteRune(r)
				i += 4
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// corruptLogged holds the damaged places already written to the error log,
// so that a damaged row read by every SELECT is logged once.
var corruptLogged struct {
	sync.Mutex
	seen map[string]bool
}

// logCorruptRead writes one error-log line for a read that found damage
// in the table at dir (err names the file and offset), once per place.
func logCorruptRead(dir string, err error) {
	key := dir + "\x00" + err.Error()
	corruptLogged.Lock()
	if corruptLogged.seen == nil {
		corruptLogged.seen = map[string]bool{}
	}
	if corruptLogged.seen[key] || len(corruptLogged.seen) > 10000 {
		corruptLogged.Unlock()
		return
	}
	corruptLogged.seen[key] = true
	corruptLogged.Unlock()
	logLine(logError, "QUEUE: table %s: %v", tableName(pathOfDir(dir)), err)
}

// logOpen writes the line of an open that recovered a table after a crash
// or that failed on damage.
func logOpen(key string, e *tableEntry) {
	if e.openErr != nil {
		if errors.Is(e.openErr, core.ErrCorrupt) {
			logCorruptRead(tableDir(key), fmt.Errorf("cannot be opened: %w", e.openErr))
		}
		return
	}
	if r := e.t.Recovery(); r.Replayed {
		logLine(logNote, "QUEUE: table %s recovered after an unclean shutdown: %d rows recovered, %d bytes truncated",
			tableName(key), r.Rows, r.BytesTruncated)
	}
}

// slowCompaction is how long a background compaction may take before it
// is worth an error-log line.
const slowCompaction = 10 * time.Second

// logCompaction writes the line of a background compaction that failed or
// was slow; routine compactions write nothing.
func logCompaction(e *tableEntry, ci core.CompactionInfo) {
	name := tableName(pathOfDir(e.t.Dir()))
	switch {
	case ci.Err != nil:
		logLine(logWarning, "QUEUE: compaction of table %s failed after %.1f s (%d bytes before, %d after): %v",
			name, ci.Duration.Seconds(), ci.BytesBefore, ci.BytesAfter, ci.Err)
	case ci.Duration >= slowCompaction:
		logLine(logWarning, "QUEUE: compaction of table %s took %.1f s: %d bytes before, %d after",
			name, ci.Duration.Seconds(), ci.BytesBefore, ci.BytesAfter)
	}
}

// ioLogged bounds the I/O error lines: a sticky error repeats its message
// on every statement (logged once); a full disk is logged at most once a
// minute.
var ioLogged struct {
	sync.Mutex
	seen      map[string]bool
	lastSpace time.Time
}

// logIOError writes one error-log line for an I/O error (its message names
// the table's file and offset).
func logIOError(err error) {
	msg := err.Error()
	ioLogged.Lock()
	if errors.Is(err, core.ErrNoSpace) {
		if time.Since(ioLogged.lastSpace) < time.Minute {
			ioLogged.Unlock()
			return
		}
		ioLogged.lastSpace = time.Now()
	} else {
		if ioLogged.seen == nil {
			ioLogged.seen = map[string]bool{}
		}
		if ioLogged.seen[msg] || len(ioLogged.seen) > 10000 {
			ioLogged.Unlock()
			return
		}
		ioLogged.seen[msg] = true
	}
	ioLogged.Unlock()
	logLine(logError, "QUEUE: %v", err)
}
