package cond_test

import (
	"fmt"

	"github.com/queue-engine/queue/core/cond"
)

func ExampleCompile() {
	// CREATE TABLE jobs (prio INT NULL, kind TINYINT NOT NULL, body BLOB) ENGINE=queue:
	// record[0] is one NULL-flag byte, then prio at offset 1 and kind at 5.
	cols := []cond.Column{
		{Name: "prio", Type: 3, Offset: 1, Length: 4, NullOffset: 0, NullMask: 0x02},
		{Name: "kind", Type: 1, Offset: 5, Length: 1, NullOffset: -1},
		{Name: "body", Type: 252, Offset: 6, Length: 10, NullOffset: 0, NullMask: 0x04},
	}
	e, err := cond.Compile("prio > 5 and kind = 3", cols)
	if err != nil {
		panic(err)
	}
	fmt.Println(e.Match([]byte{0, 9, 0, 0, 0, 3}))    // prio 9, kind 3
	fmt.Println(e.Match([]byte{0, 2, 0, 0, 0, 3}))    // prio 2
	fmt.Println(e.Match([]byte{0x02, 9, 0, 0, 0, 3})) // prio NULL

	_, err = cond.Compile("prio > 5 and body = 1", cols)
	fmt.Println(err)
	_, err = cond.Compile("prio > > 5", cols)
	fmt.Println(err)
	// Output:
	// true
	// false
	// false
	// column `body` has type BLOB which conditions cannot use at position 13
	// syntax error: unexpected `>` at position 7
}
