package cond

import "fmt"

// evalFunc evaluates one compiled sub-expression over a row payload. It must
// not panic for any payload, including nil.
type evalFunc func(payload []byte) value

// Expr is a compiled condition. It is immutable, so one Expr may be used by
// any number of goroutines at once.
type Expr struct {
	src  string
	eval evalFunc
}

// Compile parses expr against cols. Errors are *Error with a 0-based byte
// position. Sub-expressions that read no column are evaluated once here.
func Compile(expr string, cols []Column) (e *Expr, err error) {
	// The parser and compiler are written not to panic; this is the last line
	// of defence, because a panic here would take the whole server down.
	defer func() {
		if r := recover(); r != nil {
			e, err = nil, &Error{Pos: 0, Msg: fmt.Sprintf("internal error compiling condition: %v", r)}
		}
	}()
	n, perr := parse(expr, cols)
	if perr != nil {
		return nil, perr
	}
	c := compiler{cols: cols}
	f, _ := c.build(n)
	return &Expr{src: expr, eval: f}, nil
}

// String returns the condition's source text.
func (e *Expr) String() string { return e.src }

// Eval evaluates the expression over a payload. When unsigned is set, v holds
// the bit pattern of a BIGINT UNSIGNED value. It never panics, whatever the
// bytes: a column whose bytes lie beyond the payload reads as NULL.
func (e *Expr) Eval(payload []byte) (v int64, unsigned bool, null bool) {
	// Evaluation is written not to panic (and fuzzed for it); the recover is
	// the last line of defence inside the server: a panic reads as NULL.
	defer recoverEval(&v, &unsigned, &null)
	r := e.eval(payload)
	if r.null {
		return 0, false, true
	}
	return r.v, r.u, false
}

// Match reports whether the row passes: the value is non-NULL and non-zero.
func (e *Expr) Match(payload []byte) (ok bool) {
	defer recoverMatch(&ok)
	r := e.eval(payload)
	return !r.null && r.v != 0
}

// The deferred functions are named functions taking pointers, which the
// compiler open-codes: a closure literal here cost several times more.
func recoverEval(v *int64, unsigned, null *bool) {
	if recover() != nil {
		*v, *unsigned, *null = 0, false, true
	}
}

func recoverMatch(ok *bool) {
	if recover() != nil {
		*ok = false
	}
}

// compiler turns a parse tree into a tree of closures.
type compiler struct {
	cols []Column
}

func constFunc(v value) evalFunc { return func([]byte) value { return v } }

// build compiles n. It reports whether the result is a constant, in which
// case the returned function ignores its payload.
func (c *compiler) build(n *node) (evalFunc, bool) {
	switch n.op {
	case opConst:
		return constFunc(n.val), true
	case opColumn:
		return columnReader(c.cols[n.col]), false
	}
	a, _ := c.build(n.a)
	var b evalFunc
	if n.b != nil {
		b, _ = c.build(n.b)
	}
	var f evalFunc
	if isComparison(n.op) {
		f = c.comparison(n, a, b)
	} else {
		f = combine(n.op, a, b)
	}
	if !n.hasColumn {
		return constFunc(f(nil)), true
	}
	return f, false
}

// combine makes the closure for one operation over compiled operands.
func combine(o op, a, b evalFunc) evalFunc {
	switch o {
	case opOr:
		return func(p []byte) value {
			x := a(p)
			if !x.null && x.truth() {
				return trueValue
			}
			y := b(p)
			if !y.null && y.truth() {
				return trueValue
			}
			if x.null || y.null {
				return nullValue
			}
			return falseValue
		}
	case opAnd:
		// Q4M's rule: NULL only when both sides are NULL; otherwise 1 when
		// both are true, else 0. So NULL AND 1 is 0.
		return func(p []byte) value {
			x := a(p)
			if !x.null && !x.truth() {
				return falseValue
			}
			y := b(p)
			if x.null {
				if y.null {
					return nullValue
				}
				return falseValue
			}
			return boolValue(!y.null && y.truth())
		}
	case opXor:
		return strict(a, b, func(x, y value) value { return boolValue(x.truth() != y.truth()) })
	case opNot:
		return func(p []byte) value {
			x := a(p)
			if x.null {
				return nullValue
			}
			return boolValue(!x.truth())
		}
	case opNullEq:
		return func(p []byte) value {
			x, y := a(p), b(p)
			if x.null || y.null {
				return boolValue(x.null && y.null)
			}
			return boolValue(compare(x, y) == 0)
		}
	case opIsTrue, opIsNotTrue, opIsFalse, opIsNotFalse, opIsNull, opIsNotNull:
		return isTest(o, a)
	case opBitOr:
		return strict(a, b, bitOr)
	case opBitAnd:
		return strict(a, b, bitAnd)
	case opShl:
		return strict(a, b, shiftLeft)
	case opShr:
		return strict(a, b, shiftRight)
	case opAdd:
		return strict(a, b, add)
	case opSub:
		return strict(a, b, sub)
	case opMul:
		return strict(a, b, mul)
	case opDiv:
		return strict(a, b, intDiv)
	case opMod:
		return strict(a, b, mod)
	case opBitXor:
		return strict(a, b, bitXor)
	case opPow:
		return strict(a, b, pow)
	case opNeg:
		return unary(a, neg)
	case opBitNot:
		return unary(a, bitNot)
	}
	// Unreachable: every op the parser makes is handled above.
	return constFunc(nullValue)
}

// strict applies a binary operation that is NULL when either operand is.
func strict(a, b evalFunc, f func(x, y value) value) evalFunc {
	return func(p []byte) value {
		x := a(p)
		if x.null {
			return nullValue
		}
		y := b(p)
		if y.null {
			return nullValue
		}
		return f(x, y)
	}
}

func unary(a evalFunc, f func(x value) value) evalFunc {
	return func(p []byte) value {
		x := a(p)
		if x.null {
			return nullValue
		}
		return f(x)
	}
}

func isTest(o op, a evalFunc) evalFunc {
	var f func(x value) bool
	switch o {
	case opIsTrue:
		f = func(x value) bool { return !x.null && x.truth() }
	case opIsNotTrue:
		f = func(x value) bool { return x.null || !x.truth() }
	case opIsFalse:
		f = func(x value) bool { return !x.null && !x.truth() }
	case opIsNotFalse:
		f = func(x value) bool { return x.null || x.truth() }
	case opIsNull:
		f = func(x value) bool { return x.null }
	default:
		f = func(x value) bool { return !x.null }
	}
	return func(p []byte) value { return boolValue(f(a(p))) }
}
