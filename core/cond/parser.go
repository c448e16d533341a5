package cond

import (
	"strings"
)

// Limits that keep parsing and evaluation recursion bounded whatever the
// input: maxNesting counts parentheses, pow() and prefix operators open at
// once; maxDepth bounds the height of the finished tree (a chain such as
// a+a+...+a is as deep as it is long).
const (
	maxNesting = 200
	maxDepth   = 1000
)

// parser is a recursive-descent parser with one token of lookahead. Each
// precedence level has its own method, lowest first:
//
//	OR ||  <  XOR  <  AND &&  <  NOT  <  comparisons, IS  <  |  <  &  <
//	<< >>  <  + -  <  * DIV % MOD  <  ^  <  unary - + ~ !  <  primaries
//
// All binary operators are left-associative.
type parser struct {
	lex     lexer
	tok     token
	cols    []Column
	nesting int
}

// parse parses a whole condition into a tree.
func parse(src string, cols []Column) (*node, *Error) {
	p := &parser{lex: lexer{src: src}, cols: cols}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tokEOF {
		return nil, errorf(p.tok.pos, "empty condition")
	}
	n, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		return nil, p.unexpected()
	}
	return n, nil
}

func (p *parser) advance() *Error {
	t, err := p.lex.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) unexpected() *Error {
	return errorf(p.tok.pos, "syntax error: unexpected %s", p.tok.describe())
}

func (p *parser) isOp(text string) bool { return p.tok.kind == tokOp && p.tok.text == text }

func (p *parser) isKw(k keyword) bool { return p.tok.kind == tokIdent && p.tok.kw == k }

// enter and leave bound the recursion of nested constructs.
func (p *parser) enter() *Error {
	p.nesting++
	if p.nesting > maxNesting {
		return errorf(p.tok.pos, "condition is nested too deeply (at most %d levels)", maxNesting)
	}
	return nil
}

func (p *parser) leave() { p.nesting-- }

func mkNode(o op, pos int, a, b *node) (*node, *Error) {
	n := &node{op: o, pos: pos, a: a, b: b, depth: a.depth + 1, hasColumn: a.hasColumn}
	if b != nil {
		n.depth = max(n.depth, b.depth+1)
		n.hasColumn = n.hasColumn || b.hasColumn
	}
	if n.depth > maxDepth {
		return nil, errorf(pos, "condition is too long or nested too deeply (at most %d levels)", maxDepth)
	}
	return n, nil
}

// binaryLevel parses one left-associative level: operand { operator operand }.
// match reports the operator of the current token, if it belongs to the level.
func (p *parser) binaryLevel(operand func() (*node, *Error), match func() (op, bool)) (*node, *Error) {
	left, err := operand()
	if err != nil {
		return nil, err
	}
	for {
		o, ok := match()
		if !ok {
			return left, nil
		}
		pos := p.tok.pos
		if err := p.advance(); err != nil {
			return nil, err
		}
		right, err := operand()
		if err != nil {
			return nil, err
		}
		if left, err = mkNode(o, pos, left, right); err != nil {
			return nil, err
		}
	}
}

func (p *parser) parseOr() (*node, *Error) {
	return p.binaryLevel(p.parseXor, func() (op, bool) {
		return opOr, p.isOp("||") || p.isKw(kwOr)
	})
}

func (p *parser) parseXor() (*node, *Error) {
	return p.binaryLevel(p.parseAnd, func() (op, bool) { return opXor, p.isKw(kwXor) })
}

func (p *parser) parseAnd() (*node, *Error) {
	return p.binaryLevel(p.parseNot, func() (op, bool) {
		return opAnd, p.isOp("&&") || p.isKw(kwAnd)
	})
}

// parseNot: NOT binds looser than comparisons, so NOT a = 3 is NOT (a = 3).
// Unlike Q4M, NOT NOT x is allowed.
func (p *parser) parseNot() (*node, *Error) {
	if !p.isKw(kwNot) {
		return p.parseComparison()
	}
	pos := p.tok.pos
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	if err := p.advance(); err != nil {
		return nil, err
	}
	x, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	return mkNode(opNot, pos, x, nil)
}

var comparisonOps = map[string]op{
	"=": opEq, "<=>": opNullEq, "!=": opNe, "<>": opNe, "<": opLt, "<=": opLe, ">": opGt, ">=": opGe,
}

// parseComparison: comparisons and the postfix IS [NOT] TRUE|FALSE|NULL share
// one left-associative level, so 3 > 2 > 1 is (3 > 2) > 1.
func (p *parser) parseComparison() (*node, *Error) {
	left, err := p.parseBitOr()
	if err != nil {
		return nil, err
	}
	for {
		pos := p.tok.pos
		if p.isKw(kwIs) {
			if left, err = p.parseIs(left); err != nil {
				return nil, err
			}
			continue
		}
		o, ok := comparisonOps[p.tok.text]
		if p.tok.kind != tokOp || !ok {
			return left, nil
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		right, err := p.parseBitOr()
		if err != nil {
			return nil, err
		}
		if left, err = mkNode(o, pos, left, right); err != nil {
			return nil, err
		}
	}
}

func (p *parser) parseIs(left *node) (*node, *Error) {
	pos := p.tok.pos
	if err := p.advance(); err != nil {
		return nil, err
	}
	not := false
	if p.isKw(kwNot) {
		not = true
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	var o op
	switch {
	case p.isKw(kwTrue):
		o = opIsTrue
	case p.isKw(kwFalse):
		o = opIsFalse
	case p.isKw(kwNull):
		o = opIsNull
	default:
		return nil, errorf(p.tok.pos, "syntax error: expected TRUE, FALSE or NULL after IS, found %s", p.tok.describe())
	}
	if not {
		o++ // each IS op is followed by its IS NOT form
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	return mkNode(o, pos, left, nil)
}

func (p *parser) parseBitOr() (*node, *Error) {
	return p.binaryLevel(p.parseBitAnd, func() (op, bool) { return opBitOr, p.isOp("|") })
}

func (p *parser) parseBitAnd() (*node, *Error) {
	return p.binaryLevel(p.parseShift, func() (op, bool) { return opBitAnd, p.isOp("&") })
}

func (p *parser) parseShift() (*node, *Error) {
	return p.binaryLevel(p.parseAdditive, func() (op, bool) {
		switch {
		case p.isOp("<<"):
			return opShl, true
		case p.isOp(">>"):
			return opShr, true
		}
		return 0, false
	})
}

func (p *parser) parseAdditive() (*node, *Error) {
	return p.binaryLevel(p.parseMultiplicative, func() (op, bool) {
		switch {
		case p.isOp("+"):
			return opAdd, true
		case p.isOp("-"):
			return opSub, true
		}
		return 0, false
	})
}

func (p *parser) parseMultiplicative() (*node, *Error) {
	return p.binaryLevel(p.parseBitXor, func() (op, bool) {
		switch {
		case p.isOp("*"):
			return opMul, true
		case p.isKw(kwDiv):
			return opDiv, true
		case p.isOp("%"), p.isKw(kwMod):
			return opMod, true
		}
		return 0, false
	})
}

// parseBitXor: ^ binds tighter than *, as in MariaDB: 2 ^ 3 * 2 is 2.
func (p *parser) parseBitXor() (*node, *Error) {
	return p.binaryLevel(p.parseUnary, func() (op, bool) { return opBitXor, p.isOp("^") })
}

// parseUnary: prefix -, +, ~ and ! bind tighter than every binary operator.
// ! is NOT with this high precedence, as in MariaDB.
func (p *parser) parseUnary() (*node, *Error) {
	var o op
	switch {
	case p.isOp("-"):
		o = opNeg
	case p.isOp("~"):
		o = opBitNot
	case p.isOp("!"):
		o = opNot
	case p.isOp("+"):
		o = opConst // no operation
	default:
		return p.parsePrimary()
	}
	pos := p.tok.pos
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	if err := p.advance(); err != nil {
		return nil, err
	}
	x, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	if o == opConst {
		return x, nil
	}
	return mkNode(o, pos, x, nil)
}

func (p *parser) parsePrimary() (*node, *Error) {
	t := p.tok
	switch t.kind {
	case tokNumber:
		return p.constant(t.val)
	case tokQuoted:
		return p.column(t, func(c Column) bool { return strings.EqualFold(c.Name, t.text) })
	case tokOp:
		if t.text == "(" {
			return p.parenthesised()
		}
	case tokIdent:
		switch t.kw {
		case kwNone:
			return p.column(t, func(c Column) bool { return strings.EqualFold(c.Name, t.text) })
		case kwNull:
			return p.constant(nullValue)
		case kwTrue:
			return p.constant(trueValue)
		case kwFalse:
			return p.constant(falseValue)
		case kwPow:
			return p.pow()
		}
		return nil, errorf(t.pos, "syntax error: unexpected %s (a reserved word; quote a column of that name as `%s`)",
			t.describe(), t.text)
	}
	return nil, p.unexpected()
}

func (p *parser) constant(v value) (*node, *Error) {
	n := &node{op: opConst, pos: p.tok.pos, val: v, depth: 1}
	return n, p.advance()
}

// column resolves a column reference. Names match whole column names without
// regard to case, as MariaDB's column names do; never by prefix.
func (p *parser) column(t token, match func(Column) bool) (*node, *Error) {
	for i, c := range p.cols {
		if !match(c) {
			continue
		}
		if _, _, err := columnDecoder(c); err != nil {
			return nil, errorf(t.pos, "column `%s` %s", c.Name, err)
		}
		n := &node{op: opColumn, pos: t.pos, col: i, name: c.Name, depth: 1, hasColumn: true}
		return n, p.advance()
	}
	return nil, errorf(t.pos, "unknown column `%s`", t.text)
}

func (p *parser) parenthesised() (*node, *Error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	if err := p.advance(); err != nil {
		return nil, err
	}
	n, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if !p.isOp(")") {
		return nil, errorf(p.tok.pos, "syntax error: expected `)`, found %s", p.tok.describe())
	}
	return n, p.advance()
}

// pow parses pow(a, b). Any case and spacing is accepted.
func (p *parser) pow() (*node, *Error) {
	pos := p.tok.pos
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	if err := p.advance(); err != nil {
		return nil, err
	}
	if !p.isOp("(") {
		return nil, errorf(p.tok.pos, "syntax error: expected `(` after POW, found %s", p.tok.describe())
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	a, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if !p.isOp(",") {
		return nil, errorf(p.tok.pos, "syntax error: expected `,` in POW, found %s", p.tok.describe())
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	b, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if !p.isOp(")") {
		return nil, errorf(p.tok.pos, "syntax error: expected `)`, found %s", p.tok.describe())
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	return mkNode(opPow, pos, a, b)
}
