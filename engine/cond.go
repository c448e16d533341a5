package main

import (
	"github.com/queue-engine/queue/core"
)

// compileCond compiles a queue_wait condition against the table's columns.
// The condition language lives in core/cond; until it is part of this tree
// every non-empty condition is refused with a clear error.
func compileCond(expr string, cols []columnMeta) (core.MatchFunc, error) {
	return nil, errCode(qcEINVAL, "queue: conditions in queue_wait are not supported by this build (%q)", expr)
}
