package cond

import "encoding/binary"

// This file holds the specialised closures for the shapes that dominate
// real conditions: reading an integer column, and comparing two operands
// whose signedness is known at compile time (such as "prio > 5").

// location is where a column's bytes and NULL flag are in the payload.
type location struct {
	off, end int // the field's bytes are payload[off:end]
	nullOff  int // -1: NOT NULL
	nullMask uint8
}

// absent reports whether the column reads as NULL: its NULL flag is set, or
// the payload is too short to hold the flag or the field.
func (l *location) absent(p []byte) bool {
	return l.nullOff >= 0 && (l.nullOff >= len(p) || p[l.nullOff]&l.nullMask != 0) || l.end > len(p)
}

// columnReader returns the reader of one column, validated when the column
// was referenced (so the error cannot occur here). Integer columns, the
// common case, get closures that decode inline.
func columnReader(col Column) evalFunc {
	dec, width, err := columnDecoder(col)
	if err != nil {
		return constFunc(nullValue)
	}
	l := location{off: col.Offset, end: col.Offset + width, nullOff: col.NullOffset, nullMask: col.NullMask}
	off := l.off
	switch {
	case col.Type == TypeTiny && !col.Unsigned:
		return func(p []byte) value {
			if l.absent(p) {
				return nullValue
			}
			return value{v: int64(int8(p[off]))}
		}
	case col.Type == TypeTiny:
		return func(p []byte) value {
			if l.absent(p) {
				return nullValue
			}
			return value{v: int64(p[off]), u: true}
		}
	case col.Type == TypeShort && !col.Unsigned:
		return func(p []byte) value {
			if l.absent(p) {
				return nullValue
			}
			return value{v: int64(int16(binary.LittleEndian.Uint16(p[off:])))}
		}
	case col.Type == TypeLong && !col.Unsigned:
		return func(p []byte) value {
			if l.absent(p) {
				return nullValue
			}
			return value{v: int64(int32(binary.LittleEndian.Uint32(p[off:])))}
		}
	case col.Type == TypeLong:
		return func(p []byte) value {
			if l.absent(p) {
				return nullValue
			}
			return value{v: int64(binary.LittleEndian.Uint32(p[off:])), u: true}
		}
	case col.Type == TypeLongLong:
		u := col.Unsigned
		return func(p []byte) value {
			if l.absent(p) {
				return nullValue
			}
			return value{v: int64(binary.LittleEndian.Uint64(p[off:])), u: u}
		}
	}
	return func(p []byte) value {
		if l.absent(p) {
			return nullValue
		}
		return dec(p[l.off:l.end])
	}
}

// signKind is what is known at compile time about a sub-expression's
// unsigned flag.
type signKind uint8

const (
	kindSigned signKind = iota
	kindUnsigned
	kindDynamic // depends on the value (pow)
)

// sign derives n's unsigned flag from the typing rules in value.go; it must
// agree with the flag evaluation produces for every non-NULL result (the
// fuzz test FuzzEval checks this).
func (c *compiler) sign(n *node) signKind {
	switch n.op {
	case opConst:
		if n.val.u {
			return kindUnsigned
		}
		return kindSigned
	case opColumn:
		if c.cols[n.col].Unsigned && isIntegerType(c.cols[n.col].Type) {
			return kindUnsigned
		}
		return kindSigned
	case opAdd, opSub, opMul, opDiv:
		a, b := c.sign(n.a), c.sign(n.b)
		switch {
		case a == kindUnsigned || b == kindUnsigned:
			return kindUnsigned
		case a == kindDynamic || b == kindDynamic:
			return kindDynamic
		}
		return kindSigned
	case opMod:
		return c.sign(n.a)
	case opBitOr, opBitAnd, opBitXor, opBitNot, opShl, opShr:
		return kindUnsigned
	case opPow:
		return kindDynamic
	}
	return kindSigned // negation, logical operators, comparisons, IS
}

func isIntegerType(t uint8) bool {
	switch t {
	case TypeTiny, TypeShort, TypeInt24, TypeLong, TypeLongLong:
		return true
	}
	return false
}

func isComparison(o op) bool {
	switch o {
	case opEq, opNe, opLt, opLe, opGt, opGe:
		return true
	}
	return false
}

// comparison compiles =, !=, <, <=, > and >=. When both operands have the
// same known signedness, the comparison is a single integer comparison
// (unsigned values with the top bit flipped order like signed ones);
// otherwise compare() orders mixed values exactly.
func (c *compiler) comparison(n *node, a, b evalFunc) evalFunc {
	sa, sb := c.sign(n.a), c.sign(n.b)
	if sa != sb || sa == kindDynamic {
		return mixedComparison(n.op, a, b)
	}
	var flip int64
	if sa == kindUnsigned {
		flip = -1 << 63
	}
	if n.b.hasColumn {
		return func(p []byte) value {
			x := a(p)
			if x.null {
				return nullValue
			}
			y := b(p)
			if y.null {
				return nullValue
			}
			return boolValue(intTest(n.op, x.v^flip, y.v^flip))
		}
	}
	yv := b(nil)
	if yv.null {
		return constFunc(nullValue)
	}
	y := yv.v ^ flip
	switch n.op {
	case opEq:
		return func(p []byte) value {
			x := a(p)
			if x.null {
				return nullValue
			}
			return boolValue(x.v^flip == y)
		}
	case opNe:
		return func(p []byte) value {
			x := a(p)
			if x.null {
				return nullValue
			}
			return boolValue(x.v^flip != y)
		}
	case opLt:
		return func(p []byte) value {
			x := a(p)
			if x.null {
				return nullValue
			}
			return boolValue(x.v^flip < y)
		}
	case opLe:
		return func(p []byte) value {
			x := a(p)
			if x.null {
				return nullValue
			}
			return boolValue(x.v^flip <= y)
		}
	case opGt:
		return func(p []byte) value {
			x := a(p)
			if x.null {
				return nullValue
			}
			return boolValue(x.v^flip > y)
		}
	default:
		return func(p []byte) value {
			x := a(p)
			if x.null {
				return nullValue
			}
			return boolValue(x.v^flip >= y)
		}
	}
}

func intTest(o op, x, y int64) bool {
	switch o {
	case opEq:
		return x == y
	case opNe:
		return x != y
	case opLt:
		return x < y
	case opLe:
		return x <= y
	case opGt:
		return x > y
	}
	return x >= y
}

func mixedComparison(o op, a, b evalFunc) evalFunc {
	return strict(a, b, func(x, y value) value { return boolValue(cmpTest(o, compare(x, y))) })
}

func cmpTest(o op, c int) bool {
	switch o {
	case opEq:
		return c == 0
	case opNe:
		return c != 0
	case opLt:
		return c < 0
	case opLe:
		return c <= 0
	case opGt:
		return c > 0
	}
	return c >= 0
}
