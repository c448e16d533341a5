package cond

import (
	"encoding/binary"
	"math"
	"strconv"
	"testing"
)

// row is one row of testCols; nil pointers are NULL.
type row struct {
	a, abc int32
	prio   int16
	n      *int32
	u64    *uint64
	and    int8
	kind   int8
}

// testRow lays r out as described at testCols.
func testRow(r row) []byte {
	p := make([]byte, 29)
	binary.LittleEndian.PutUint32(p[1:], uint32(r.a))
	binary.LittleEndian.PutUint32(p[5:], uint32(r.abc))
	binary.LittleEndian.PutUint16(p[9:], uint16(r.prio))
	if r.n == nil {
		p[0] |= 1
	} else {
		binary.LittleEndian.PutUint32(p[11:], uint32(*r.n))
	}
	if r.u64 == nil {
		p[0] |= 2
	} else {
		binary.LittleEndian.PutUint64(p[15:], *r.u64)
	}
	p[23] = byte(r.and)
	p[24] = byte(r.kind)
	return p
}

func i32(v int32) *int32   { return &v }
func u64(v uint64) *uint64 { return &v }
func show(v int64, u, null bool) string {
	switch {
	case null:
		return "NULL"
	case u:
		return strconv.FormatUint(uint64(v), 10) + "u"
	}
	return strconv.FormatInt(v, 10)
}

// evalCase is a condition, the row it is evaluated on and the expected
// result: "NULL", a signed integer, or an unsigned one with a "u" suffix.
type evalCase struct {
	in   string
	row  row
	want string
}

func runEval(t *testing.T, tests []evalCase) {
	t.Helper()
	for _, tt := range tests {
		e, err := Compile(tt.in, testCols)
		if err != nil {
			t.Errorf("Compile(%q): %v", tt.in, err)
			continue
		}
		p := testRow(tt.row)
		got := show(e.Eval(p))
		if got != tt.want {
			t.Errorf("%q on %+v = %s, want %s", tt.in, tt.row, got, tt.want)
		}
		v, _, null := e.Eval(p)
		if m := e.Match(p); m != (!null && v != 0) {
			t.Errorf("Match(%q) = %v, Eval = %s", tt.in, m, got)
		}
	}
}

var r0 = row{}

var arithmeticCases = []evalCase{
	{"1 + 2", r0, "3"},
	{"1 - 2", r0, "-1"},
	{"6 * 7", r0, "42"},
	{"7 div 2", r0, "3"},
	{"-7 div 2", r0, "-3"}, // truncates toward zero
	{"7 div -2", r0, "-3"},
	{"-7 div -2", r0, "3"},
	{"7 % 3", r0, "1"},
	{"-7 % 3", r0, "-1"}, // sign of the dividend
	{"7 mod -3", r0, "1"},
	{"-7 MOD -3", r0, "-1"},
	{"1 div 0", r0, "NULL"},
	{"1 % 0", r0, "NULL"},
	{"0 mod 0", r0, "NULL"},
	{"a div 0", row{a: 5}, "NULL"},
	{"a div abc", row{a: 5}, "NULL"},
	{"a mod abc", row{a: 5}, "NULL"},
	// no trap: LLONG_MIN div -1 does not fit and is NULL, LLONG_MIN mod -1 is 0
	{"-9223372036854775808 div -1", r0, "NULL"},
	{"(-9223372036854775807 - 1) div -1", r0, "NULL"},
	{"-9223372036854775808 % -1", r0, "0"},
	{"-9223372036854775808 div 1", r0, "-9223372036854775808"},
	{"-9223372036854775808 div 2", r0, "-4611686018427387904"},
	// overflow wraps
	{"9223372036854775807 + 1", r0, "-9223372036854775808"},
	{"-9223372036854775808 - 1", r0, "9223372036854775807"},
	{"4611686018427387904 * 2", r0, "-9223372036854775808"},
	{"-(-9223372036854775808)", r0, "-9223372036854775808"},
	{"- 9223372036854775808", r0, "-9223372036854775808"},
	// ^ is bitwise XOR, unsigned as in MariaDB
	{"5 ^ 3", r0, "6u"},
	{"2 ^ 3 * 2", r0, "2u"}, // (2 ^ 3) * 2: ^ binds tighter
	{"a + 1", row{a: 41}, "42"},
	{"a * abc - prio", row{a: 6, abc: 7, prio: 2}, "40"},
	{"-a", row{a: 41}, "-41"},
	{"a + n", row{a: 1, n: nil}, "NULL"},
	{"n - 1", row{n: i32(1)}, "0"},
	{"-n", row{}, "NULL"},
	{"n div 2", row{}, "NULL"},
	{"n % 2", row{}, "NULL"},
	{"2 div n", row{}, "NULL"},
	{"2 * n", row{}, "NULL"},
	{"1 + null", r0, "NULL"},
	{"null * 0", r0, "NULL"},
}

var bitwiseCases = []evalCase{
	{"12 | 3", r0, "15u"},
	{"12 & 6", r0, "4u"},
	{"12 ^ 6", r0, "10u"},
	{"~0", r0, "18446744073709551615u"},
	{"~a", row{a: 1}, "18446744073709551614u"},
	{"~~5", r0, "5u"},
	{"-1 & 255", r0, "255u"},
	{"-1 | 0", r0, "18446744073709551615u"},
	{"1 << 3", r0, "8u"},
	{"1 << 63", r0, "9223372036854775808u"},
	{"1 << 64", r0, "0u"},
	{"1 << 1000", r0, "0u"},
	{"1 << -1", r0, "0u"},
	{"-8 >> 1", r0, "9223372036854775804u"}, // logical shift, as MariaDB
	{"256 >> 4", r0, "16u"},
	{"256 >> 64", r0, "0u"},
	{"256 >> -3", r0, "0u"},
	{"1 << 18446744073709551615", r0, "0u"},
	{"a << abc", row{a: 3, abc: 2}, "12u"},
	{"n | 1", row{}, "NULL"},
	{"1 & n", row{}, "NULL"},
	{"n << 1", row{}, "NULL"},
	{"1 >> n", row{}, "NULL"},
	{"~n", row{}, "NULL"},
	{"n ^ 1", row{}, "NULL"},
	{"(a & 1) = 1", row{a: 5}, "1"},
	{"a & 1 = 1", row{a: 5}, "1"}, // = binds looser than &
}

var comparisonsCases = []evalCase{
	{"1 = 1", r0, "1"},
	{"1 = 2", r0, "0"},
	{"1 != 2", r0, "1"},
	{"1 <> 2", r0, "1"},
	{"2 <> 2", r0, "0"},
	{"1 < 2", r0, "1"},
	{"2 < 2", r0, "0"},
	{"2 <= 2", r0, "1"},
	{"3 <= 2", r0, "0"},
	{"3 > 2", r0, "1"},
	{"2 > 2", r0, "0"},
	{"2 >= 2", r0, "1"},
	{"1 >= 2", r0, "0"},
	{"3 > 2 > 1", r0, "0"}, // (3 > 2) > 1
	{"1 < 2 < 3", r0, "1"},
	{"-1 < 0", r0, "1"},
	{"a = 5", row{a: 5}, "1"},
	{"5 = a", row{a: 5}, "1"},
	{"a < abc", row{a: -5, abc: 3}, "1"},
	{"n = 1", row{}, "NULL"},
	{"1 = n", row{}, "NULL"},
	{"n != 1", row{}, "NULL"},
	{"n < 1", row{}, "NULL"},
	{"n <= n", row{}, "NULL"},
	{"n > 1", row{}, "NULL"},
	{"n >= 1", row{}, "NULL"},
	{"n = null", row{}, "NULL"},
	{"null = null", r0, "NULL"},
	{"a = null", row{a: 1}, "NULL"},
	{"n <=> null", row{}, "1"},
	{"n <=> 1", row{}, "0"},
	{"1 <=> n", row{}, "0"},
	{"n <=> 1", row{n: i32(1)}, "1"},
	{"null <=> null", r0, "1"},
	{"2 <=> 3", r0, "0"},
}

var unsignedCases = []evalCase{
	{"u64", row{u64: u64(math.MaxUint64)}, "18446744073709551615u"},
	{"u64", row{u64: u64(5)}, "5u"},
	{"u64 > 0", row{u64: u64(math.MaxUint64)}, "1"},
	{"u64 > -1", row{u64: u64(math.MaxUint64)}, "1"},
	{"u64 = -1", row{u64: u64(math.MaxUint64)}, "0"},
	{"u64 != -1", row{u64: u64(math.MaxUint64)}, "1"},
	{"u64 < 0", row{u64: u64(math.MaxUint64)}, "0"},
	{"-1 < u64", row{u64: u64(0)}, "1"},
	{"u64 = 18446744073709551615", row{u64: u64(math.MaxUint64)}, "1"},
	{"u64 = 0xffffffffffffffff", row{u64: u64(math.MaxUint64)}, "1"},
	{"u64 = ~0", row{u64: u64(math.MaxUint64)}, "1"},
	{"u64 > 9223372036854775807", row{u64: u64(1 << 63)}, "1"},
	{"u64 = 9223372036854775808", row{u64: u64(1 << 63)}, "1"},
	{"u64 = -9223372036854775808", row{u64: u64(1 << 63)}, "0"},
	{"u64 > a", row{u64: u64(1 << 63), a: math.MaxInt32}, "1"},
	{"a < u64", row{u64: u64(1 << 63), a: -1}, "1"},
	{"u64 >= 9223372036854775807", row{u64: u64(math.MaxInt64)}, "1"},
	{"u64 <=> 18446744073709551615", row{u64: u64(math.MaxUint64)}, "1"},
	{"18446744073709551615 > 9223372036854775807", r0, "1"},
	{"18446744073709551615 > -1", r0, "1"},
	{"-1 = 18446744073709551615", r0, "0"},
	{"9223372036854775808 = -9223372036854775808", r0, "0"},
	// result types follow MariaDB: unsigned when an operand is unsigned
	{"u64 + 1", row{u64: u64(1 << 63)}, "9223372036854775809u"},
	{"u64 + 1", row{u64: u64(math.MaxUint64)}, "0u"}, // wraps
	{"u64 - 1", row{u64: u64(0)}, "18446744073709551615u"},
	{"u64 * 2", row{u64: u64(1 << 63)}, "0u"},
	{"u64 div 2", row{u64: u64(math.MaxUint64)}, "9223372036854775807u"},
	{"u64 div -1", row{u64: u64(5)}, "NULL"}, // negative quotient of an unsigned type
	{"u64 div -1", row{u64: u64(0)}, "0u"},
	{"-10 div u64", row{u64: u64(3)}, "NULL"},
	{"u64 div 3", row{u64: u64(10)}, "3u"},
	{"-9223372036854775808 div 18446744073709551615", r0, "0u"},
	{"18446744073709551615 div -2", r0, "NULL"},
	{"-(18446744073709551615)", r0, "1"}, // negation wraps
	{"u64 % 10", row{u64: u64(math.MaxUint64)}, "5u"},
	{"u64 % -10", row{u64: u64(math.MaxUint64)}, "5u"},
	{"-7 % u64", row{u64: u64(3)}, "-1"}, // mod takes the dividend's type
	{"18446744073709551615 % 10", r0, "5u"},
	{"-u64", row{u64: u64(5)}, "-5"},
	{"-u64", row{u64: u64(1 << 63)}, "-9223372036854775808"},
	{"u64 >> 63", row{u64: u64(math.MaxUint64)}, "1u"},
	{"u64 + n", row{u64: u64(1)}, "NULL"},
	{"u64", row{}, "NULL"},
	{"u64 is null", row{}, "1"},
}

// logicCases keep Q4M's NULL rules, which applications depend on.
var logicCases = []evalCase{
	{"1 or 0", r0, "1"},
	{"0 or 0", r0, "0"},
	{"0 || 2", r0, "1"},
	{"null or 1", r0, "1"},
	{"1 or null", r0, "1"},
	{"null or 0", r0, "NULL"},
	{"0 or null", r0, "NULL"},
	{"null or null", r0, "NULL"},
	{"1 and 1", r0, "1"},
	{"5 && -3", r0, "1"},
	{"1 and 0", r0, "0"},
	{"0 and 1", r0, "0"},
	{"null and 1", r0, "0"}, // NULL only if both sides are NULL
	{"1 and null", r0, "0"},
	{"null and 0", r0, "0"},
	{"0 and null", r0, "0"},
	{"null and null", r0, "NULL"},
	{"n and 1", row{}, "0"},
	{"n and u64", row{}, "NULL"},
	{"n and n", row{n: i32(3)}, "1"},
	{"not (n = 1 and 1)", row{}, "1"}, // SQL would give NULL
	{"(n = 1 and 1) xor 1", row{}, "1"},
	{"1 xor 0", r0, "1"},
	{"1 xor 1", r0, "0"},
	{"0 xor 0", r0, "0"},
	{"2 xor 3", r0, "0"},
	{"null xor 1", r0, "NULL"},
	{"0 xor null", r0, "NULL"},
	{"not 0", r0, "1"},
	{"not 5", r0, "0"},
	{"not null", r0, "NULL"},
	{"not not 5", r0, "1"},
	{"!0", r0, "1"},
	{"!7", r0, "0"},
	{"!n", row{}, "NULL"},
	{"not n", row{}, "NULL"},
	{"not a = 3", row{a: 3}, "0"},
	{"not a = 3", row{a: 4}, "1"},
	{"18446744073709551615 and 9223372036854775808", r0, "1"},
	{"-1 and 1", r0, "1"},
	// IS never gives NULL
	{"1 is true", r0, "1"},
	{"0 is true", r0, "0"},
	{"null is true", r0, "0"},
	{"-5 is true", r0, "1"},
	{"1 is not true", r0, "0"},
	{"0 is not true", r0, "1"},
	{"null is not true", r0, "1"},
	{"0 is false", r0, "1"},
	{"2 is false", r0, "0"},
	{"null is false", r0, "0"},
	{"0 is not false", r0, "0"},
	{"2 is not false", r0, "1"},
	{"null is not false", r0, "1"},
	{"null is null", r0, "1"},
	{"0 is null", r0, "0"},
	{"null is not null", r0, "0"},
	{"0 is not null", r0, "1"},
	{"n is null", row{}, "1"},
	{"n is null", row{n: i32(0)}, "0"},
	{"n is not null", row{n: i32(0)}, "1"},
	{"n = 1 is null", row{}, "1"},
	{"a = 1 is true", row{a: 1}, "1"},
	// short circuits must not hide NULL rules
	{"a = 1 or n = 1", row{a: 1}, "1"},
	{"a = 2 or n = 1", row{a: 1}, "NULL"},
	{"a = 2 and n = 1", row{a: 1}, "0"},
	{"a = 1 and n = 1", row{a: 1}, "0"},
}

var powCases = []evalCase{
	{"pow(2, 10)", r0, "1024"},
	{"pow(2, 0)", r0, "1"},
	{"pow(0, 0)", r0, "1"},
	{"pow(0, 5)", r0, "0"},
	{"pow(1, 1000000)", r0, "1"},
	{"pow(-1, 1000001)", r0, "-1"},
	{"pow(-1, 1000000)", r0, "1"},
	{"pow(-2, 3)", r0, "-8"},
	{"pow(-2, 4)", r0, "16"},
	{"pow(2, 62)", r0, "4611686018427387904"},
	{"pow(2, 63)", r0, "9223372036854775808u"}, // fits BIGINT UNSIGNED
	{"pow(2, 64)", r0, "NULL"},                 // fits nothing
	{"pow(-2, 63)", r0, "-9223372036854775808"},
	{"pow(-2, 65)", r0, "NULL"},
	{"pow(3, 40)", r0, "12157665459056928801u"},
	{"pow(3, 41)", r0, "NULL"},
	{"pow(10, 19)", r0, "10000000000000000000u"},
	{"pow(10, 20)", r0, "NULL"},
	{"pow(-10, 19)", r0, "NULL"},
	{"pow(-10, 18)", r0, "1000000000000000000"},
	{"pow(2, 18446744073709551615)", r0, "NULL"},
	{"pow(1, 18446744073709551615)", r0, "1"},
	{"pow(-1, 18446744073709551615)", r0, "-1"},
	{"pow(0, 18446744073709551615)", r0, "0"},
	{"pow(4294967296, 2)", r0, "NULL"},
	{"pow(4294967295, 2)", r0, "18446744065119617025u"},
	// negative exponents truncate toward zero
	{"pow(2, -1)", r0, "0"},
	{"pow(-3, -2)", r0, "0"},
	{"pow(1, -5)", r0, "1"},
	{"pow(-1, -3)", r0, "-1"},
	{"pow(-1, -4)", r0, "1"},
	{"pow(0, -1)", r0, "NULL"},
	{"pow(null, 2)", r0, "NULL"},
	{"pow(2, null)", r0, "NULL"},
	{"pow(a, 2)", row{a: -12}, "144"},
	{"pow(2, a)", row{a: 3}, "8"},
	{"pow(u64, 1)", row{u64: u64(math.MaxUint64)}, "18446744073709551615u"},
	{"pow(n, 0)", row{}, "NULL"},
	{"pow(2,3) * 2", r0, "16"},
}

func TestArithmetic(t *testing.T)  { runEval(t, arithmeticCases) }
func TestBitwise(t *testing.T)     { runEval(t, bitwiseCases) }
func TestComparisons(t *testing.T) { runEval(t, comparisonsCases) }
func TestUnsigned(t *testing.T)    { runEval(t, unsignedCases) }
func TestLogic(t *testing.T)       { runEval(t, logicCases) }
func TestPow(t *testing.T)         { runEval(t, powCases) }

// allEvalCases lists every evaluation case; the fuzz targets use them as seeds.
var allEvalCases = [][]evalCase{arithmeticCases, bitwiseCases, comparisonsCases, unsignedCases, logicCases, powCases}

// Condition evaluation reads only the bytes of the columns it uses, and a row
// too short for a column reads that column as NULL.
func TestShortPayload(t *testing.T) {
	tests := []struct {
		in   string
		p    []byte
		want string
	}{
		{"a", nil, "NULL"},
		{"a", []byte{0, 1, 0, 0}, "NULL"},
		{"a", []byte{0, 1, 0, 0, 0}, "1"},
		{"n", []byte{}, "NULL"}, // the NULL-flag byte itself is missing
		{"n", []byte{0}, "NULL"},
		{"n is null", nil, "1"},
		{"a is null and 1", nil, "1"},
		{"kind = 3", testRow(row{kind: 3})[:25], "1"},
		{"kind = 3", testRow(row{kind: 3})[:24], "NULL"},
		{"1 + 1", nil, "2"},
	}
	for _, tt := range tests {
		e, err := Compile(tt.in, testCols)
		if err != nil {
			t.Fatalf("Compile(%q): %v", tt.in, err)
		}
		if got := show(e.Eval(tt.p)); got != tt.want {
			t.Errorf("%q on % x = %s, want %s", tt.in, tt.p, got, tt.want)
		}
	}
}

func TestNullFlag(t *testing.T) {
	// The value bytes are ignored when the column's NULL bit is set, and
	// other bits of the NULL-flag byte do not matter.
	p := testRow(row{n: i32(7), u64: u64(9)})
	e, _ := Compile("n", testCols)
	if got := show(e.Eval(p)); got != "7" {
		t.Fatalf("n = %s", got)
	}
	p[0] = 0xfe // every bit but n's
	if got := show(e.Eval(p)); got != "7" {
		t.Errorf("n with other NULL bits set = %s", got)
	}
	p[0] = 0x01
	if got := show(e.Eval(p)); got != "NULL" {
		t.Errorf("n with its NULL bit set = %s", got)
	}
}

func TestConstantFolding(t *testing.T) {
	// Constant sub-expressions are evaluated at compile time, without trapping.
	for in, want := range map[string]string{
		"-9223372036854775808 div -1 is null": "1",
		"1 div 0 or a":                        "1",
		"pow(2, 64) is null and a":            "1",
	} {
		e, err := Compile(in, testCols)
		if err != nil {
			t.Fatalf("Compile(%q): %v", in, err)
		}
		if got := show(e.Eval(testRow(row{a: 1}))); got != want {
			t.Errorf("%q = %s, want %s", in, got, want)
		}
	}
	n, _ := parse("a + (2 * 3)", testCols)
	if n.b.hasColumn || !n.hasColumn {
		t.Errorf("constness of %s wrong", n)
	}
}

func TestExprString(t *testing.T) {
	e, err := Compile(" prio > 5 ", testCols)
	if err != nil {
		t.Fatal(err)
	}
	if e.String() != " prio > 5 " {
		t.Errorf("String() = %q", e.String())
	}
}

// An Expr holds no mutable state: many goroutines may evaluate it at once
// (run with -race).
func TestConcurrentEval(t *testing.T) {
	e, err := Compile("a > 5 and kind = 3 or u64 is null", testCols)
	if err != nil {
		t.Fatal(err)
	}
	rows := [][]byte{testRow(row{a: 6, kind: 3, u64: u64(1)}), testRow(row{a: 1, kind: 3, u64: u64(1)}), testRow(row{})}
	want := []bool{true, false, true}
	done := make(chan bool)
	for g := 0; g < 4; g++ {
		go func() {
			ok := true
			for i := 0; i < 1000; i++ {
				ok = ok && e.Match(rows[i%3]) == want[i%3]
			}
			done <- ok
		}()
	}
	for g := 0; g < 4; g++ {
		if !<-done {
			t.Error("concurrent Match gave a wrong result")
		}
	}
}
