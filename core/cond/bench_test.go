package cond

import (
	"encoding/binary"
	"testing"
)

// benchCols is a typical queue table: id BIGINT UNSIGNED, prio INT NULL,
// kind TINYINT, due DATETIME(0) (MySQL 5.6 format), then a payload column
// conditions do not use. Byte 0 holds the NULL flags.
var benchCols = []Column{
	{Name: "id", Type: TypeLongLong, Unsigned: true, Offset: 1, Length: 8, NullOffset: -1},
	{Name: "prio", Type: TypeLong, Offset: 9, Length: 4, NullOffset: 0, NullMask: 0x02},
	{Name: "kind", Type: TypeTiny, Offset: 13, Length: 1, NullOffset: -1},
	{Name: "due", Type: TypeDatetime2, Offset: 14, Length: 5, NullOffset: -1},
	{Name: "body", Type: TypeBlob, Offset: 19, Length: 10, NullOffset: 0, NullMask: 0x04},
}

func benchRow(prio int32, kind int8) []byte {
	p := make([]byte, 29)
	binary.LittleEndian.PutUint64(p[1:], 12345)
	binary.LittleEndian.PutUint32(p[9:], uint32(prio))
	p[13] = byte(kind)
	copy(p[14:], encDatetime2(tm{year: 2024, month: 2, day: 29, hour: 13, minute: 45, second: 30}, 0))
	return p
}

const benchCond = "prio > 5 and kind = 3"

func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Compile(benchCond, benchCols); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompileLonger(b *testing.B) {
	const ok = "(prio > 5 and kind = 3 or kind = 7) or due >= 20240101000000 and id mod 4 = 1 or prio is null"
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Compile(ok, benchCols); err != nil {
			b.Fatal(err)
		}
	}
}

// benchRows alternate between matching and failing each side, so that the
// branch predictor sees a realistic mix.
var benchRows = [][]byte{benchRow(9, 3), benchRow(1, 3), benchRow(9, 4), benchRow(6, 3)}

var sink bool

func BenchmarkEval(b *testing.B) {
	e, err := Compile(benchCond, benchCols)
	if err != nil {
		b.Fatal(err)
	}
	match := e.Match // as core holds it: a MatchFunc
	b.ReportAllocs()
	n := 0
	for i := 0; i < b.N; i++ {
		if match(benchRows[i&3]) {
			n++
		}
	}
	sink = n > 0
}

// handWritten is the benchmark condition written in Go, reading the same
// bytes with the same NULL and bounds checks. It is held in a variable of
// the type core.MatchFunc has, so that, like Expr.Match passed as a
// MatchFunc, it is called indirectly and not inlined into the loop.
var handWritten func(p []byte) bool = func(p []byte) bool {
	if len(p) < 14 || p[0]&0x02 != 0 {
		return false
	}
	prio := int32(binary.LittleEndian.Uint32(p[9:]))
	return prio > 5 && int8(p[13]) == 3
}

// BenchmarkClosure is the floor for BenchmarkEval: the same condition
// hand-written in Go.
func BenchmarkClosure(b *testing.B) {
	match := handWritten
	b.ReportAllocs()
	n := 0
	for i := 0; i < b.N; i++ {
		if match(benchRows[i&3]) {
			n++
		}
	}
	sink = n > 0
}

func BenchmarkEvalDatetime(b *testing.B) {
	e, err := Compile("due >= 20240101000000 and due < 20250101000000", benchCols)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	n := 0
	for i := 0; i < b.N; i++ {
		if e.Match(benchRows[i&3]) {
			n++
		}
	}
	sink = n > 0
}

// TestHandWrittenAgrees keeps the benchmark honest: the hand-written
// closure and the compiled condition agree on the benchmark rows.
func TestHandWrittenAgrees(t *testing.T) {
	e, err := Compile(benchCond, benchCols)
	if err != nil {
		t.Fatal(err)
	}
	rows := append(benchRows, nil, benchRow(5, 3), benchRow(6, 3)[:13])
	nullPrio := benchRow(9, 3)
	nullPrio[0] |= 0x02
	for _, p := range append(rows, nullPrio) {
		if e.Match(p) != handWritten(p) {
			t.Errorf("row % x: Match %v, hand-written %v", p, e.Match(p), handWritten(p))
		}
	}
}

// TestEvalDoesNotAllocate: evaluation runs for every candidate row while
// the table's lock is held, so it must not allocate.
func TestEvalDoesNotAllocate(t *testing.T) {
	e, err := Compile("prio > 5 and kind = 3 or pow(prio, 2) div 3 > id or due is null", benchCols)
	if err != nil {
		t.Fatal(err)
	}
	p := benchRow(7, 3)
	if n := testing.AllocsPerRun(100, func() { e.Match(p) }); n != 0 {
		t.Errorf("Match allocates %v times per row", n)
	}
}
