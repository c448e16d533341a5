package cond

import (
	"strings"
	"testing"
)

// fuzzCols extends testCols with one column of every other usable format,
// so fuzzed conditions reach every decoder. Byte 29 holds their NULL flags.
var fuzzCols = append(append([]Column(nil), testCols...),
	Column{Name: "m", Type: TypeInt24, Unsigned: true, Offset: 30, Length: 3, NullOffset: 29, NullMask: 0x01},
	Column{Name: "y", Type: TypeYear, Offset: 33, Length: 1, NullOffset: 29, NullMask: 0x02},
	Column{Name: "d", Type: TypeNewDate, Offset: 34, Length: 3, NullOffset: 29, NullMask: 0x04},
	Column{Name: "dold", Type: TypeDate, Offset: 37, Length: 4, NullOffset: -1},
	Column{Name: "t0", Type: TypeTime, Offset: 41, Length: 3, NullOffset: -1},
	Column{Name: "th", Type: TypeTime, Decimals: 4, Offset: 44, Length: 5, NullOffset: -1},
	Column{Name: "t2", Type: TypeTime2, Decimals: 3, Offset: 49, Length: 5, NullOffset: 29, NullMask: 0x08},
	Column{Name: "dt0", Type: TypeDatetime, Offset: 54, Length: 8, NullOffset: -1},
	Column{Name: "dth", Type: TypeDatetime, Decimals: 6, Offset: 62, Length: 8, NullOffset: -1},
	Column{Name: "dt2", Type: TypeDatetime2, Decimals: 6, Offset: 70, Length: 8, NullOffset: 29, NullMask: 0x10},
	Column{Name: "ts0", Type: TypeTimestamp, Offset: 78, Length: 4, NullOffset: -1},
	Column{Name: "tsh", Type: TypeTimestamp, Decimals: 5, Offset: 82, Length: 7, NullOffset: -1},
	Column{Name: "ts2", Type: TypeTimestamp2, Decimals: 2, Offset: 89, Length: 5, NullOffset: 29, NullMask: 0x20},
	Column{Name: "t26", Type: TypeTime2, Decimals: 6, Offset: 94, Length: 6, NullOffset: -1},
	Column{Name: "t21", Type: TypeTime2, Decimals: 1, Offset: 100, Length: 4, NullOffset: -1},
)

const fuzzRowLen = 104

// seedExprs are the valid conditions of the tests.
func seedExprs() []string {
	var s []string
	for _, cases := range allEvalCases {
		for _, c := range cases {
			s = append(s, c.in)
		}
	}
	for _, c := range precedenceTests {
		s = append(s, c.in)
	}
	return append(s, "prio > 5 and kind = 3", "d >= 20240101 and t2 < 0 or dt2 div 1000000 = 20240229",
		"ts2 - tsh > 3600 xor y = 2024", "pow(th, 2) + t0 * dold - m mod 7 > dth", "`t26` <=> t21")
}

func fuzzPayloads(extra []byte) [][]byte {
	ones := make([]byte, fuzzRowLen)
	for i := range ones {
		ones[i] = 0xff
	}
	return [][]byte{nil, {}, make([]byte, fuzzRowLen), ones, ones[:fuzzRowLen/2], extra}
}

// FuzzCompile: arbitrary text never panics; an error has a position inside
// the text; a compiled condition evaluates any payload without panicking.
func FuzzCompile(f *testing.F) {
	for _, s := range seedExprs() {
		f.Add(s)
	}
	for _, s := range []string{"", "(", "`", "``", "a +", "0x", "pow(", "1 is", "\xff\xfe", "18446744073709551616"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := Compile(src, fuzzCols)
		if err != nil {
			ce, ok := err.(*Error)
			if !ok {
				t.Fatalf("Compile(%q) error %T %v", src, err, err)
			}
			if ce.Pos < 0 || ce.Pos > len(src) || ce.Msg == "" || strings.HasPrefix(ce.Msg, "internal error") {
				t.Fatalf("Compile(%q) = %v", src, err)
			}
			return
		}
		for _, p := range fuzzPayloads([]byte(src)) {
			v, u, null := e.Eval(p)
			if null && (v != 0 || u) {
				t.Fatalf("%q: NULL with v=%d u=%v", src, v, u)
			}
			if e.Match(p) != (!null && v != 0) {
				t.Fatalf("%q: Match disagrees with Eval", src)
			}
		}
	})
}

// FuzzEval: a compiled condition over an arbitrary payload never panics and
// gives the same result as a direct interpretation of its parse tree, which
// checks constant folding and the specialised closures.
func FuzzEval(f *testing.F) {
	for i, s := range seedExprs() {
		p := make([]byte, fuzzRowLen)
		for j := range p {
			p[j] = byte(i*31 + j*7)
		}
		f.Add(s, p)
	}
	f.Fuzz(func(t *testing.T, src string, payload []byte) {
		e, err := Compile(src, fuzzCols)
		if err != nil {
			return
		}
		n, perr := parse(src, fuzzCols)
		if perr != nil {
			t.Fatalf("Compile(%q) succeeded but parse failed: %v", src, perr)
		}
		kind := (&compiler{cols: fuzzCols}).sign(n)
		for _, p := range [][]byte{payload, nil, payload[:len(payload)/2]} {
			v, u, null := e.Eval(p)
			if !null && kind != kindDynamic && u != (kind == kindUnsigned) {
				t.Fatalf("%q on % x: result %s, but its sign was derived as %d", src, p, show(v, u, null), kind)
			}
			got := show(v, u, null)
			r := interpret(n, fuzzCols, p)
			if want := show(r.v, r.u, r.null); r.null && (r.v != 0 || r.u) || !r.null && got != want || r.null && got != "NULL" {
				t.Fatalf("%q on % x: compiled %s, interpreted %s", src, p, got, want)
			}
		}
	})
}

// interpret evaluates a parse tree directly, without folding or closures.
func interpret(n *node, cols []Column, p []byte) value {
	switch n.op {
	case opConst:
		return n.val
	case opColumn:
		c := cols[n.col]
		dec, width, err := columnDecoder(c)
		if err != nil {
			panic(err)
		}
		if c.NullOffset >= 0 && (c.NullOffset >= len(p) || p[c.NullOffset]&c.NullMask != 0) || c.Offset+width > len(p) {
			return nullValue
		}
		return dec(p[c.Offset : c.Offset+width])
	}
	x := interpret(n.a, cols, p)
	var y value
	if n.b != nil {
		y = interpret(n.b, cols, p)
	}
	switch n.op {
	case opOr:
		switch {
		case !x.null && x.truth() || !y.null && y.truth():
			return trueValue
		case x.null || y.null:
			return nullValue
		}
		return falseValue
	case opAnd:
		if x.null && y.null {
			return nullValue
		}
		return boolValue(!x.null && x.truth() && !y.null && y.truth())
	case opNullEq:
		if x.null || y.null {
			return boolValue(x.null && y.null)
		}
		return boolValue(compare(x, y) == 0)
	case opIsTrue:
		return boolValue(!x.null && x.truth())
	case opIsNotTrue:
		return boolValue(x.null || !x.truth())
	case opIsFalse:
		return boolValue(!x.null && !x.truth())
	case opIsNotFalse:
		return boolValue(x.null || x.truth())
	case opIsNull:
		return boolValue(x.null)
	case opIsNotNull:
		return boolValue(!x.null)
	}
	if x.null || n.b != nil && y.null {
		return nullValue
	}
	switch n.op {
	case opXor:
		return boolValue(x.truth() != y.truth())
	case opNot:
		return boolValue(!x.truth())
	case opEq:
		return boolValue(compare(x, y) == 0)
	case opNe:
		return boolValue(compare(x, y) != 0)
	case opLt:
		return boolValue(compare(x, y) < 0)
	case opLe:
		return boolValue(compare(x, y) <= 0)
	case opGt:
		return boolValue(compare(x, y) > 0)
	case opGe:
		return boolValue(compare(x, y) >= 0)
	case opBitOr:
		return bitOr(x, y)
	case opBitAnd:
		return bitAnd(x, y)
	case opShl:
		return shiftLeft(x, y)
	case opShr:
		return shiftRight(x, y)
	case opAdd:
		return add(x, y)
	case opSub:
		return sub(x, y)
	case opMul:
		return mul(x, y)
	case opDiv:
		return intDiv(x, y)
	case opMod:
		return mod(x, y)
	case opBitXor:
		return bitXor(x, y)
	case opNeg:
		return neg(x)
	case opBitNot:
		return bitNot(x)
	case opPow:
		return pow(x, y)
	}
	panic("unknown op")
}
