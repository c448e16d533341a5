package cond

import (
	"math"
	"math/bits"
	"strings"
)

type tokenKind uint8

const (
	tokEOF    tokenKind = iota
	tokNumber           // integer literal; val holds it
	tokIdent            // bare identifier (text); may be a keyword, see kw
	tokQuoted           // `quoted identifier`; text holds the unquoted name
	tokOp               // operator or punctuation; text holds it
)

// keyword is set on a bare identifier that is one of the language's reserved
// words, matched case-insensitively.
type keyword uint8

const (
	kwNone keyword = iota
	kwOr
	kwXor
	kwAnd
	kwNot
	kwIs
	kwTrue
	kwFalse
	kwNull
	kwDiv
	kwMod
	kwPow
)

var keywords = map[string]keyword{
	"or": kwOr, "xor": kwXor, "and": kwAnd, "not": kwNot, "is": kwIs, "true": kwTrue,
	"false": kwFalse, "null": kwNull, "div": kwDiv, "mod": kwMod, "pow": kwPow,
}

type token struct {
	kind tokenKind
	pos  int
	text string
	kw   keyword
	val  value
}

// describe names the token in error messages.
func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of condition"
	case tokNumber:
		return "number " + t.text
	case tokQuoted:
		return "column name `" + t.text + "`"
	case tokIdent:
		if t.kw != kwNone {
			return strings.ToUpper(t.text)
		}
		return "name " + t.text
	}
	return "`" + t.text + "`"
}

// lexer splits a condition into tokens. Identifiers follow MariaDB's rules for
// unquoted names: letters, digits, '_', '$' and any non-ASCII byte, and a name
// may start with a digit as long as it is not all digits.
type lexer struct {
	src string
	pos int
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isIdentByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '$' || c >= 0x80
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// Operators, longest first so that maximal munch picks "<=>" over "<=".
var operators = []string{
	"<=>", "||", "&&", "<=", ">=", "<>", "!=", "<<", ">>",
	"=", "<", ">", "|", "&", "+", "-", "*", "%", "^", "~", "!", "(", ")", ",",
}

func (l *lexer) next() (token, *Error) {
	for l.pos < len(l.src) && isSpace(l.src[l.pos]) {
		l.pos++
	}
	start := l.pos
	if start >= len(l.src) {
		return token{kind: tokEOF, pos: start}, nil
	}
	c := l.src[start]
	switch {
	case c == '`':
		return l.quoted()
	case isIdentByte(c):
		for l.pos < len(l.src) && isIdentByte(l.src[l.pos]) {
			l.pos++
		}
		text := l.src[start:l.pos]
		if isDigit(c) {
			if t, ok, err := number(text, start); ok || err != nil {
				if err == nil && l.pos < len(l.src) && l.src[l.pos] == '.' {
					return token{}, errorf(start, "decimal and floating-point numbers are not supported; values are integers")
				}
				return t, err
			}
		}
		t := token{kind: tokIdent, pos: start, text: text}
		if len(text) <= 5 {
			t.kw = keywords[strings.ToLower(text)]
		}
		return t, nil
	}
	for _, op := range operators {
		if strings.HasPrefix(l.src[start:], op) {
			l.pos += len(op)
			return token{kind: tokOp, pos: start, text: op}, nil
		}
	}
	switch c {
	case '/':
		return token{}, errorf(start, "`/` is not supported; use div for integer division")
	case '\'', '"':
		return token{}, errorf(start, "strings are not supported; quote column names with backquotes")
	case '.':
		return token{}, errorf(start, "decimal and floating-point numbers are not supported; values are integers")
	}
	return token{}, errorf(start, "unexpected character %q", rune(c))
}

// quoted reads a `name`; a doubled backquote stands for one backquote.
func (l *lexer) quoted() (token, *Error) {
	start := l.pos
	var b strings.Builder
	i := start + 1
	for {
		j := strings.IndexByte(l.src[i:], '`')
		if j < 0 {
			return token{}, errorf(start, "unterminated quoted column name")
		}
		b.WriteString(l.src[i : i+j])
		i += j + 1
		if i < len(l.src) && l.src[i] == '`' {
			b.WriteByte('`')
			i++
			continue
		}
		break
	}
	l.pos = i
	if b.Len() == 0 {
		return token{}, errorf(start, "empty column name")
	}
	return token{kind: tokQuoted, pos: start, text: b.String()}, nil
}

// number converts a run of identifier bytes that starts with a digit. It
// returns ok=false when the run is an identifier instead (e.g. "1st", "0xg").
// Literals up to 2^63-1 are signed; larger ones, up to 2^64-1, are unsigned,
// as in MariaDB.
func number(text string, pos int) (token, bool, *Error) {
	base, digits := uint64(10), text
	switch {
	case len(text) > 2 && text[0] == '0' && text[1] == 'x':
		base, digits = 16, text[2:]
	case len(text) > 1 && text[0] == '0' && strings.Trim(text, "01234567") == "":
		base, digits = 8, text[1:]
	}
	var x uint64
	for i := 0; i < len(digits); i++ {
		d, ok := digitValue(digits[i])
		if !ok || d >= base {
			return token{}, false, nil
		}
		hi, lo := bits.Mul64(x, base)
		lo, carry := bits.Add64(lo, d, 0)
		if hi != 0 || carry != 0 {
			return token{}, false, errorf(pos, "number %s is out of range (at most 18446744073709551615)", text)
		}
		x = lo
	}
	return token{kind: tokNumber, pos: pos, text: text, val: value{v: int64(x), u: x > math.MaxInt64}}, true, nil
}

func digitValue(c byte) (uint64, bool) {
	switch {
	case c >= '0' && c <= '9':
		return uint64(c - '0'), true
	case c >= 'a' && c <= 'f':
		return uint64(c-'a') + 10, true
	case c >= 'A' && c <= 'F':
		return uint64(c-'A') + 10, true
	}
	return 0, false
}
