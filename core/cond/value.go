package cond

import (
	"math"
	"math/bits"
)

// value is one intermediate result. When u is set, v holds a uint64 bit pattern
// (a BIGINT UNSIGNED value); otherwise v is a signed integer. When null is set,
// v and u are meaningless.
type value struct {
	v    int64
	u    bool
	null bool
}

var (
	nullValue  = value{null: true}
	falseValue = value{}
	trueValue  = value{v: 1}
)

func boolValue(b bool) value {
	if b {
		return trueValue
	}
	return falseValue
}

// truth reports whether a non-NULL value counts as true: any non-zero integer.
func (x value) truth() bool { return x.v != 0 }

// negative reports whether x is below zero as a mathematical integer.
func (x value) negative() bool { return !x.u && x.v < 0 }

// magnitude returns |x| as an unsigned integer (exact, even for math.MinInt64).
func (x value) magnitude() uint64 {
	if x.negative() {
		return uint64(-x.v) // -MinInt64 wraps to 1<<63, which is the right magnitude
	}
	return uint64(x.v)
}

// compare orders two non-NULL values as mathematical integers, so that a
// BIGINT UNSIGNED above 2^63-1 is greater than every signed value.
func compare(a, b value) int {
	an, bn := a.negative(), b.negative()
	switch {
	case an && !bn:
		return -1
	case !an && bn:
		return 1
	case an && bn:
		// Both signed and negative.
		switch {
		case a.v < b.v:
			return -1
		case a.v > b.v:
			return 1
		}
		return 0
	}
	// Both non-negative: the bit patterns order correctly as unsigned.
	au, bu := uint64(a.v), uint64(b.v)
	switch {
	case au < bu:
		return -1
	case au > bu:
		return 1
	}
	return 0
}

// fromMagnitude builds the value neg*mag in the result type (unsigned when u),
// reporting false when the exact result does not fit that type.
func fromMagnitude(mag uint64, neg, u bool) (value, bool) {
	if neg && mag != 0 {
		if u || mag > 1<<63 {
			return nullValue, false
		}
		return value{v: -int64(mag)}, true // mag == 1<<63 wraps to MinInt64, exactly -2^63
	}
	if !u && mag > math.MaxInt64 {
		return nullValue, false
	}
	return value{v: int64(mag), u: u}, true
}

// The arithmetic below follows MariaDB's result types (Item_func_plus & co.):
// +, -, * and div give an unsigned result when either operand is unsigned,
// mod takes the dividend's type, and the bitwise operators are always
// unsigned. Where MariaDB raises "value is out of range", +, - and * wrap
// modulo 2^64 (as Q4M did) and div gives NULL.

func add(a, b value) value { return value{v: a.v + b.v, u: a.u || b.u} }
func sub(a, b value) value { return value{v: a.v - b.v, u: a.u || b.u} }
func mul(a, b value) value { return value{v: a.v * b.v, u: a.u || b.u} }

// intDiv truncates toward zero (Item_func_int_div::val_int). Division by zero
// and quotients outside the result type (MinInt64 div -1) give NULL.
func intDiv(a, b value) value {
	if b.v == 0 {
		return nullValue
	}
	q := a.magnitude() / b.magnitude()
	r, _ := fromMagnitude(q, a.negative() != b.negative(), a.u || b.u)
	return r
}

// mod has the sign of the dividend (Item_func_mod::int_op); its magnitude is
// below the dividend's, so it always fits: MinInt64 mod -1 is 0.
func mod(a, b value) value {
	if b.v == 0 {
		return nullValue
	}
	m := a.magnitude() % b.magnitude()
	r, _ := fromMagnitude(m, a.negative(), a.u)
	return r
}

func bitOr(a, b value) value  { return value{v: a.v | b.v, u: true} }
func bitAnd(a, b value) value { return value{v: a.v & b.v, u: true} }
func bitXor(a, b value) value { return value{v: a.v ^ b.v, u: true} }
func bitNot(a value) value    { return value{v: ^a.v, u: true} }

// shiftCount returns the shift distance, or false when the count is negative
// or 64 or more; MariaDB then gives 0 (Item_func_shift_left::val_int).
func shiftCount(b value) (uint, bool) {
	if b.negative() || uint64(b.v) >= 64 {
		return 0, false
	}
	return uint(b.v), true
}

func shiftLeft(a, b value) value {
	n, ok := shiftCount(b)
	if !ok {
		return value{u: true}
	}
	return value{v: int64(uint64(a.v) << n), u: true}
}

// shiftRight is a logical shift of the 64-bit pattern, as in MariaDB.
func shiftRight(a, b value) value {
	n, ok := shiftCount(b)
	if !ok {
		return value{u: true}
	}
	return value{v: int64(uint64(a.v) >> n), u: true}
}

// neg gives a signed result; -(2^63 unsigned) is exactly MinInt64, larger
// unsigned values wrap.
func neg(a value) value { return value{v: -a.v} }

// pow computes a^b exactly over the integers. A result that fits neither
// BIGINT nor BIGINT UNSIGNED is NULL. Negative exponents give 1/a^|b|
// truncated toward zero (so 0 unless |a| is 1); 0 to a negative power is NULL,
// like division by zero.
func pow(a, b value) value {
	base := a.magnitude()
	negBase := a.negative()
	odd := b.v&1 != 0
	resultNeg := negBase && odd
	if b.negative() {
		switch base {
		case 0:
			return nullValue
		case 1:
			r, _ := fromMagnitude(1, resultNeg, false)
			return r
		}
		return falseValue
	}
	e := uint64(b.v)
	var mag uint64
	switch {
	case e == 0:
		mag = 1
	case base <= 1:
		mag = base
	case e >= 64:
		return nullValue // |a| >= 2, so |a|^64 >= 2^64
	default:
		mag = 1
		sq := base
		sqOverflow := false
		for e > 0 {
			if e&1 != 0 {
				if sqOverflow {
					return nullValue
				}
				hi, lo := bits.Mul64(mag, sq)
				if hi != 0 {
					return nullValue
				}
				mag = lo
			}
			e >>= 1
			if e > 0 && !sqOverflow {
				hi, lo := bits.Mul64(sq, sq)
				sq, sqOverflow = lo, hi != 0
			}
		}
	}
	if resultNeg {
		r, ok := fromMagnitude(mag, true, false)
		if !ok {
			return nullValue
		}
		return r
	}
	return value{v: int64(mag), u: mag > math.MaxInt64}
}
