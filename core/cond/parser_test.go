package cond

import (
	"strings"
	"testing"
)

// testCols is the table most tests compile against. Its payload layout is
// made by testRow: a NULL-flag byte, then the fields.
//
//	byte 0: NULL flags (bit 0: n, bit 1: u64)
//	a      INT          offset 1
//	abc    INT          offset 5
//	Prio   SMALLINT     offset 9
//	n      INT NULL     offset 11
//	u64    BIGINT UNSIGNED NULL offset 15
//	and    TINYINT      offset 23   (a reserved word)
//	kind   TINYINT      offset 24
//	f      FLOAT        offset 25
//	txt    VARCHAR      offset -1
var testCols = []Column{
	{Name: "a", Type: TypeLong, Offset: 1, Length: 4, NullOffset: -1},
	{Name: "abc", Type: TypeLong, Offset: 5, Length: 4, NullOffset: -1},
	{Name: "Prio", Type: TypeShort, Offset: 9, Length: 2, NullOffset: -1},
	{Name: "n", Type: TypeLong, Offset: 11, Length: 4, NullOffset: 0, NullMask: 1},
	{Name: "u64", Type: TypeLongLong, Unsigned: true, Offset: 15, Length: 8, NullOffset: 0, NullMask: 2},
	{Name: "and", Type: TypeTiny, Offset: 23, Length: 1, NullOffset: -1},
	{Name: "kind", Type: TypeTiny, Offset: 24, Length: 1, NullOffset: -1},
	{Name: "f", Type: TypeFloat, Offset: 25, Length: 4, NullOffset: -1},
	{Name: "txt", Type: TypeVarchar, Offset: -1, Length: 10, NullOffset: -1},
}

var precedenceTests = []struct{ in, want string }{
	// one level against the next, lowest first
	{"1 or 2 xor 3", "(1 OR (2 XOR 3))"},
	{"1 xor 2 and 3", "(1 XOR (2 AND 3))"},
	{"1 and not 2", "(1 AND (NOT 2))"},
	{"not a = 3", "(NOT (`a` = 3))"},
	{"not a is null", "(NOT (`a` IS NULL))"},
	{"a = 1 | 2", "(`a` = (1 | 2))"},
	{"1 | 2 & 3", "(1 | (2 & 3))"},
	{"1 & 2 << 3", "(1 & (2 << 3))"},
	{"1 << 2 + 3", "(1 << (2 + 3))"},
	{"1 + 2 * 3", "(1 + (2 * 3))"},
	{"1 - 2 div 3", "(1 - (2 DIV 3))"},
	{"1 + 2 % 3", "(1 + (2 MOD 3))"},
	{"1 + 2 mod 3", "(1 + (2 MOD 3))"},
	{"2 ^ 3 * 2", "((2 ^ 3) * 2)"},
	{"2 * 3 ^ 2", "(2 * (3 ^ 2))"},
	{"-2 ^ 3", "((-2) ^ 3)"},
	{"~1 ^ 3", "((~1) ^ 3)"},
	{"!1 ^ 3", "((NOT 1) ^ 3)"},
	{"!a = 1", "((NOT `a`) = 1)"},
	// left associativity at every binary level
	{"1 or 2 or 3", "((1 OR 2) OR 3)"},
	{"1 || 2 OR 3", "((1 OR 2) OR 3)"},
	{"1 xor 2 xor 3", "((1 XOR 2) XOR 3)"},
	{"1 and 2 && 3", "((1 AND 2) AND 3)"},
	{"3 > 2 > 1", "((3 > 2) > 1)"},
	{"1 = 2 != 3 <> 4", "(((1 = 2) != 3) != 4)"},
	{"1 < 2 <= 3 >= 4 <=> 5", "((((1 < 2) <= 3) >= 4) <=> 5)"},
	{"a is null is not true", "((`a` IS NULL) IS NOT TRUE)"},
	{"a = 1 is false", "((`a` = 1) IS FALSE)"},
	{"a is not false = 0", "((`a` IS NOT FALSE) = 0)"},
	{"1 | 2 | 3", "((1 | 2) | 3)"},
	{"1 & 2 & 3", "((1 & 2) & 3)"},
	{"1 << 2 >> 3", "((1 << 2) >> 3)"},
	{"1 - 2 - 3", "((1 - 2) - 3)"},
	{"1 - 2 + 3", "((1 - 2) + 3)"},
	{"8 div 4 div 2", "((8 DIV 4) DIV 2)"},
	{"8 * 4 % 3", "((8 * 4) MOD 3)"},
	{"1 ^ 2 ^ 3", "((1 ^ 2) ^ 3)"},
	// prefix operators nest and are right-to-left
	{"not not a", "(NOT (NOT `a`))"},
	{"NOT NOT NOT a", "(NOT (NOT (NOT `a`)))"},
	{"- - a", "(-(-`a`))"},
	{"-~a", "(-(~`a`))"},
	{"+a", "`a`"},
	{"+-+a", "(-`a`)"},
	{"a--1", "(`a` - (-1))"},
	// parentheses override precedence
	{"(1 + 2) * 3", "((1 + 2) * 3)"},
	{"1 - (2 - 3)", "(1 - (2 - 3))"},
	{"not (a = 1 or a = 2)", "(NOT ((`a` = 1) OR (`a` = 2)))"},
	{"((((a))))", "`a`"},
	// pow, literals and keywords
	{"pow(2, 3)", "POW(2, 3)"},
	{"POW (a + 1 , 2) * 2", "(POW((`a` + 1), 2) * 2)"},
	{"pow(pow(2,2),2)", "POW(POW(2, 2), 2)"},
	{"true and false", "(1 AND 0)"},
	{"NULL or Null", "(NULL OR NULL)"},
	{"a IS NOT NULL", "(`a` IS NOT NULL)"},
	{"a iS tRuE", "(`a` IS TRUE)"},
	{"1 DIV 2 MOD 3 Xor 4 oR 5 AnD 6", "((((1 DIV 2) MOD 3) XOR 4) OR (5 AND 6))"},
}

func TestPrecedenceAndAssociativity(t *testing.T) {
	for _, tt := range precedenceTests {
		n, err := parse(tt.in, testCols)
		if err != nil {
			t.Errorf("parse(%q): %v", tt.in, err)
			continue
		}
		if got := n.String(); got != tt.want {
			t.Errorf("parse(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestLiterals(t *testing.T) {
	tests := []struct {
		in   string
		want string // n.String() of the literal
		u    bool
	}{
		{"0", "0", false},
		{"42", "42", false},
		{"007", "7", false},
		{"077", "63", false},
		{"0777777777777777777777", "9223372036854775807", false},
		{"01777777777777777777777", "18446744073709551615", true},
		{"08", "8", false},
		{"0789", "789", false},
		{"09223372036854775807", "9223372036854775807", false},
		{"9223372036854775807", "9223372036854775807", false},
		{"9223372036854775808", "9223372036854775808", true},
		{"18446744073709551615", "18446744073709551615", true},
		{"0x0", "0", false},
		{"0x1F", "31", false},
		{"0xff", "255", false},
		{"0x7fffffffffffffff", "9223372036854775807", false},
		{"0x8000000000000000", "9223372036854775808", true},
		{"0xffffffffffffffff", "18446744073709551615", true},
		{"0x00000000000000000001", "1", false},
		{"true", "1", false},
		{"FALSE", "0", false},
		{"null", "NULL", false},
	}
	for _, tt := range tests {
		n, err := parse(tt.in, nil)
		if err != nil {
			t.Errorf("parse(%q): %v", tt.in, err)
			continue
		}
		if n.op != opConst || n.String() != tt.want || n.val.u != tt.u {
			t.Errorf("parse(%q) = %s (unsigned %v), want %s (unsigned %v)", tt.in, n, n.val.u, tt.want, tt.u)
		}
	}
}

func TestColumnNames(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a", "`a`"},
		{"A", "`a`"},
		{"abc", "`abc`"},
		{"ABC", "`abc`"},
		{"prio", "`Prio`"}, // bare names match whatever the case (Q4M: only lower-case columns)
		{"PRIO", "`Prio`"},
		{"`Prio`", "`Prio`"},
		{"`prio`", "`Prio`"},
		{"`and`", "`and`"}, // a reserved word as a column name
		{"`AND` = 1", "(`and` = 1)"},
		{"`and` and kind", "(`and` AND `kind`)"},
		{"kind=3", "(`kind` = 3)"},
		{"`a``b`", ""}, // see TestErrors: unknown column a`b
	}
	for _, tt := range tests {
		if tt.want == "" {
			continue
		}
		n, err := parse(tt.in, testCols)
		if err != nil {
			t.Errorf("parse(%q): %v", tt.in, err)
			continue
		}
		if got := n.String(); got != tt.want {
			t.Errorf("parse(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
	// Backquotes may hold any character, and a doubled backquote is one.
	cols := []Column{
		{Name: "a`b", Type: TypeTiny, Offset: 0, Length: 1, NullOffset: -1},
		{Name: "two words", Type: TypeTiny, Offset: 1, Length: 1, NullOffset: -1},
		{Name: "Größe", Type: TypeTiny, Offset: 2, Length: 1, NullOffset: -1},
		{Name: "1st", Type: TypeTiny, Offset: 3, Length: 1, NullOffset: -1},
		{Name: "pow", Type: TypeTiny, Offset: 4, Length: 1, NullOffset: -1},
	}
	for in, want := range map[string]string{
		"`a``b`":           "`a`b`",
		"`two words` > 1":  "(`two words` > 1)",
		"größe":            "`Größe`",
		"GRÖSSE":           "", // not the same name: ß does not fold to SS
		"1st + 1":          "(`1st` + 1)",
		"`pow` + pow(1,1)": "(`pow` + POW(1, 1))",
	} {
		n, err := parse(in, cols)
		if want == "" {
			if err == nil {
				t.Errorf("parse(%q) = %s, want an error", in, n)
			}
			continue
		}
		if err != nil {
			t.Errorf("parse(%q): %v", in, err)
		} else if n.String() != want {
			t.Errorf("parse(%q) = %s, want %s", in, n, want)
		}
	}
}

func TestWhitespace(t *testing.T) {
	for _, in := range []string{"a=1", " a = 1", "a = 1 ", "\ta\t=\t1\t", "a\n=\r\n1\n", "a = 1   \t \n"} {
		n, err := parse(in, testCols)
		if err != nil {
			t.Errorf("parse(%q): %v", in, err)
		} else if n.String() != "(`a` = 1)" {
			t.Errorf("parse(%q) = %s", in, n)
		}
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		in   string
		pos  int
		frag string // part of the message
	}{
		{"", 0, "empty condition"},
		{"   ", 3, "empty condition"},
		{"a +", 3, "unexpected end of condition"},
		{"a = = 1", 4, "unexpected `=`"},
		{"(a = 1", 6, "expected `)`"},
		{"a = 1)", 5, "unexpected `)`"},
		{"a = 1 2", 6, "unexpected number 2"},
		{"a b", 2, "unexpected name b"},
		{"zz = 1", 0, "unknown column `zz`"},
		{"a = 1 and ab = 2", 10, "unknown column `ab`"}, // never a prefix match
		{"`ab` = 1", 0, "unknown column `ab`"},
		{"`b` = 1", 0, "unknown column `b`"},
		{"`a", 0, "unterminated quoted column name"},
		{"a = `", 4, "unterminated quoted column name"},
		{"``", 0, "empty column name"},
		{"`a``b`", 0, "unknown column `a`b`"},
		{"and = 1", 0, "unexpected AND (a reserved word; quote a column of that name as `and`)"},
		{"a = not 1", 4, "unexpected NOT"},
		{"a is 1", 5, "expected TRUE, FALSE or NULL after IS, found number 1"},
		{"a is not", 8, "expected TRUE, FALSE or NULL after IS, found end of condition"},
		{"a isnull", 2, "unexpected name isnull"},
		{"pow", 3, "expected `(` after POW"},
		{"pow(1)", 5, "expected `,` in POW"},
		{"pow(1,2", 7, "expected `)`"},
		{"pow(1,2,3)", 7, "expected `)`"},
		{"a / 2", 2, "`/` is not supported; use div"},
		{"1.5 > a", 0, "floating-point numbers are not supported"},
		{"a > .5", 4, "floating-point numbers are not supported"},
		{"a = 'x'", 4, "strings are not supported"},
		{"a = \"x\"", 4, "strings are not supported"},
		{"a == 1", 3, "unexpected `=`"},
		{"a = 1 # comment", 6, "unexpected character '#'"},
		{"a @ 1", 2, "unexpected character '@'"},
		{"18446744073709551616", 0, "number 18446744073709551616 is out of range"},
		{"a < 0x10000000000000000", 4, "number 0x10000000000000000 is out of range"},
		{"02000000000000000000000", 0, "out of range"},
		{"0X1f", 0, "unknown column `0X1f`"}, // as in MariaDB, only 0x is hexadecimal
		{"0xg", 0, "unknown column `0xg`"},
		{"1e5", 0, "unknown column `1e5`"},
		{"f > 1", 0, "column `f` has type FLOAT which conditions cannot use"},
		{"a = 1 or txt", 9, "column `txt` is not stored at a fixed offset"},
		{"div", 0, "unexpected DIV"},
		{"a div", 5, "unexpected end of condition"},
		{"(", 1, "unexpected end of condition"},
		{"()", 1, "unexpected `)`"},
		{",", 0, "unexpected `,`"},
		{"a,b", 1, "unexpected `,`"},
		{"- ", 2, "unexpected end of condition"},
		{"not", 3, "unexpected end of condition"},
		{"a <=", 4, "unexpected end of condition"},
		{"a between 1 and 2", 2, "unexpected name between"},
		{"a in (1)", 2, "unexpected name in"},
		{"a like 1", 2, "unexpected name like"},
	}
	for _, tt := range tests {
		_, err := Compile(tt.in, testCols)
		e, ok := err.(*Error)
		if !ok {
			t.Errorf("Compile(%q) error = %v, want *Error", tt.in, err)
			continue
		}
		if e.Pos != tt.pos || !strings.Contains(e.Msg, tt.frag) {
			t.Errorf("Compile(%q) = %q (pos %d), want pos %d and %q", tt.in, e.Msg, e.Pos, tt.pos, tt.frag)
		}
		if want := " at position "; !strings.Contains(e.Error(), want) {
			t.Errorf("Error() = %q lacks %q", e.Error(), want)
		}
	}
}

func TestNestingLimits(t *testing.T) {
	deep := strings.Repeat("(", maxNesting) + "1" + strings.Repeat(")", maxNesting)
	if _, err := Compile(deep, nil); err != nil {
		t.Errorf("%d nested parentheses: %v", maxNesting, err)
	}
	tooDeep := strings.Repeat("(", maxNesting+1) + "1" + strings.Repeat(")", maxNesting+1)
	_, err := Compile(tooDeep, nil)
	if e, ok := err.(*Error); !ok || e.Pos != maxNesting || !strings.Contains(e.Msg, "nested too deeply") {
		t.Errorf("%d nested parentheses: %v", maxNesting+1, err)
	}
	if _, err := Compile(strings.Repeat("not ", 1000000)+"1", nil); err == nil {
		t.Error("a million NOTs compiled")
	}
	if _, err := Compile(strings.Repeat("-", 1000000)+"1", nil); err == nil {
		t.Error("a million minus signs compiled")
	}
	long := "a" + strings.Repeat(" + a", maxDepth-1)
	if _, err := Compile(long, testCols); err != nil {
		t.Errorf("chain of %d: %v", maxDepth, err)
	}
	tooLong := "a" + strings.Repeat(" + a", 100000)
	_, err = Compile(tooLong, testCols)
	if e, ok := err.(*Error); !ok || !strings.Contains(e.Msg, "too long") {
		t.Errorf("chain of 100001: %v", err)
	}
}
