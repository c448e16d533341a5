package cond

import (
	"strconv"
	"strings"
)

// op is the operation of an AST node.
type op uint8

const (
	opConst op = iota
	opColumn
	// logical, Q4M's NULL rules
	opOr
	opXor
	opAnd
	opNot
	// comparisons, 0 or 1 (NULL if an operand is NULL, except <=> and IS)
	opEq
	opNullEq
	opNe
	opLt
	opLe
	opGt
	opGe
	opIsTrue
	opIsNotTrue
	opIsFalse
	opIsNotFalse
	opIsNull
	opIsNotNull
	// arithmetic and bitwise, NULL if an operand is NULL
	opBitOr
	opBitAnd
	opShl
	opShr
	opAdd
	opSub
	opMul
	opDiv
	opMod
	opBitXor
	opNeg
	opBitNot
	opPow
)

var opText = [...]string{
	opOr: "OR", opXor: "XOR", opAnd: "AND", opNot: "NOT",
	opEq: "=", opNullEq: "<=>", opNe: "!=", opLt: "<", opLe: "<=", opGt: ">", opGe: ">=",
	opIsTrue: "IS TRUE", opIsNotTrue: "IS NOT TRUE", opIsFalse: "IS FALSE",
	opIsNotFalse: "IS NOT FALSE", opIsNull: "IS NULL", opIsNotNull: "IS NOT NULL",
	opBitOr: "|", opBitAnd: "&", opShl: "<<", opShr: ">>", opAdd: "+", opSub: "-",
	opMul: "*", opDiv: "DIV", opMod: "MOD", opBitXor: "^", opNeg: "-", opBitNot: "~",
	opPow: "POW",
}

// node is one operation of a parsed condition.
type node struct {
	op        op
	pos       int    // where the operator or operand starts in the source
	a, b      *node  // operands; b is nil for unary operations
	val       value  // opConst
	col       int    // opColumn: index into the columns given to Compile
	name      string // opColumn: the column's name, for String
	depth     int    // height of the tree rooted here, bounded by maxDepth
	hasColumn bool   // the subtree reads a column, so it cannot be folded
}

// String renders the tree fully parenthesised; tests use it to check
// precedence and associativity.
func (n *node) String() string {
	var b strings.Builder
	n.write(&b)
	return b.String()
}

func (n *node) write(b *strings.Builder) {
	switch n.op {
	case opConst:
		switch {
		case n.val.null:
			b.WriteString("NULL")
		case n.val.u:
			b.WriteString(strconv.FormatUint(uint64(n.val.v), 10))
		default:
			b.WriteString(strconv.FormatInt(n.val.v, 10))
		}
	case opColumn:
		b.WriteString("`" + n.name + "`")
	case opNot, opNeg, opBitNot:
		b.WriteString("(" + opText[n.op])
		if n.op == opNot {
			b.WriteByte(' ')
		}
		n.a.write(b)
		b.WriteByte(')')
	case opIsTrue, opIsNotTrue, opIsFalse, opIsNotFalse, opIsNull, opIsNotNull:
		b.WriteByte('(')
		n.a.write(b)
		b.WriteString(" " + opText[n.op] + ")")
	case opPow:
		b.WriteString("POW(")
		n.a.write(b)
		b.WriteString(", ")
		n.b.write(b)
		b.WriteByte(')')
	default:
		b.WriteByte('(')
		n.a.write(b)
		b.WriteString(" " + opText[n.op] + " ")
		n.b.write(b)
		b.WriteByte(')')
	}
}
