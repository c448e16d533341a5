package main

import (
	"errors"

	"github.com/queue-engine/queue/core"
	"github.com/queue-engine/queue/core/cond"
)

// compileCond compiles a queue_wait condition against the table's columns
// (as recorded at CREATE TABLE). A syntax or type error becomes QC_EINVAL
// with the position in the message.
func compileCond(expr string, cols []columnMeta) (core.MatchFunc, error) {
	cc := make([]cond.Column, len(cols))
	for i, c := range cols {
		cc[i] = cond.Column{
			Name: c.Name, Type: c.Type, Unsigned: c.Unsigned,
			Offset: int(c.Offset), Length: int(c.Length), Decimals: int(c.Decimals),
			NullOffset: int(c.NullOffset), NullMask: c.NullMask,
		}
	}
	condCompiles.Add(1)
	x, err := cond.Compile(expr, cc)
	if err != nil {
		var ce *cond.Error
		if errors.As(err, &ce) {
			return nil, errCode(qcEINVAL, "queue: condition %q: %s", expr, ce.Error())
		}
		return nil, errCode(qcEINVAL, "queue: condition %q: %v", expr, err)
	}
	return countedMatch(x.Match), nil
}
