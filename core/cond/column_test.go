package cond

import (
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"
)

// The encoders below mirror how MariaDB 10.11 writes each field into
// table->record[0]; each names the function it follows. The decoders in
// column.go mirror the reading side, so these tests check one against the
// other. TestHandComputedImages pins a few images computed independently.

// storeBigEndian mirrors store_bigendian() (sql/field.h), i.e. mi_intNstore.
func storeBigEndian(x uint64, n int) []byte {
	b := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		b[i] = byte(x)
		x >>= 8
	}
	return b
}

func storeLE(x uint64, n int) []byte {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint64(b, x)
	return b[:n]
}

// tm is a MYSQL_TIME.
type tm struct {
	neg                                        bool
	year, month, day, hour, minute, second, us int64
}

// packTime mirrors pack_time() (sql/sql_time.cc).
func packTime(t tm) int64 {
	p := ((((((t.year*13+t.month)*32+t.day)*24+t.hour)*60+t.minute)*60+t.second)*1000000 + t.us)
	if t.neg {
		return -p
	}
	return p
}

func secPartShift(x int64, dec int) int64 { return x / pow10[6-dec] }

// encTime0 mirrors Field_time0::store_TIME.
func encTime0(t tm) []byte {
	v := (t.day*24+t.hour)*10000 + t.minute*100 + t.second
	if t.neg {
		v = -v
	}
	return storeLE(uint64(v), 3)
}

// encTimeHires mirrors Field_time_hires::store_TIME and its zero_point.
func encTimeHires(t tm, dec int) []byte {
	zero := secPartShift((838*3600+59*60+59+1)*1000000, dec)
	return storeBigEndian(uint64(secPartShift(packTime(t), dec)+zero), timeHiresBytes[dec])
}

// encTime2 mirrors TIME_to_longlong_time_packed and my_time_packed_to_binary
// (sql/compat56.cc). Go's >> and % on negative numbers behave like the C code's.
func encTime2(t tm, dec int) []byte {
	hms := ((t.day*24 + t.hour) << 12) | (t.minute << 6) | t.second
	nr := hms<<24 + t.us
	if t.neg {
		nr = -nr
	}
	intPart, frac := nr>>24, nr%(1<<24)
	b := make([]byte, 3+(dec+1)/2)
	switch dec {
	case 0:
		copy(b, storeBigEndian(uint64(0x800000+intPart), 3))
	case 1, 2:
		copy(b, storeBigEndian(uint64(0x800000+intPart), 3))
		b[3] = byte(int8(frac / 10000))
	case 3, 4:
		copy(b, storeBigEndian(uint64(0x800000+intPart), 3))
		copy(b[3:], storeBigEndian(uint64(frac/100), 2))
	default:
		copy(b, storeBigEndian(uint64(nr+0x800000000000), 6))
	}
	return b
}

func encDatetime0(t tm) []byte {
	v := ((t.year*10000+t.month*100+t.day)*100+t.hour)*10000 + t.minute*100 + t.second
	return storeLE(uint64(v), 8) // Field_datetime0::store_TIME: int8store
}

// encDatetimeHires mirrors Field_datetime_hires::store_TIME.
func encDatetimeHires(t tm, dec int) []byte {
	return storeBigEndian(uint64(secPartShift(packTime(t), dec)), datetimeHiresBytes[dec])
}

// encDatetime2 mirrors TIME_to_longlong_datetime_packed and
// my_datetime_packed_to_binary (sql/compat56.cc).
func encDatetime2(t tm, dec int) []byte {
	ymd := ((t.year*13 + t.month) << 5) | t.day
	hms := (t.hour << 12) | (t.minute << 6) | t.second
	nr := ((ymd<<17)|hms)<<24 + t.us
	b := make([]byte, 5+(dec+1)/2)
	copy(b, storeBigEndian(uint64(nr>>24+0x8000000000), 5))
	frac := nr % (1 << 24)
	switch dec {
	case 1, 2:
		b[5] = byte(int8(frac / 10000))
	case 3, 4:
		copy(b[5:], storeBigEndian(uint64(frac/100), 2))
	case 5, 6:
		copy(b[5:], storeBigEndian(uint64(frac), 3))
	}
	return b
}

// encTimestamp0 mirrors Field_timestamp0::store_TIMEVAL (int4store).
func encTimestamp0(sec int64) []byte { return storeLE(uint64(sec), 4) }

// encTimestampHires mirrors Field_timestamp_hires::store_TIMEVAL.
func encTimestampHires(sec, us int64, dec int) []byte {
	return append(storeBigEndian(uint64(sec), 4),
		storeBigEndian(uint64(secPartShift(us, dec)), timestampSecPartBytes[dec])...)
}

// encTimestamp2 mirrors my_timestamp_to_binary (sql/compat56.cc).
func encTimestamp2(sec, us int64, dec int) []byte {
	b := storeBigEndian(uint64(sec), 4)
	switch dec {
	case 1, 2:
		b = append(b, byte(us/10000))
	case 3, 4:
		b = append(b, storeBigEndian(uint64(us/100), 2)...)
	case 5, 6:
		b = append(b, storeBigEndian(uint64(us), 3)...)
	}
	return b
}

// evalColumn evaluates the bare column c over image, stored at offset 3 of
// a payload whose byte 1 holds c's NULL flag (bit 0x10); bytes around the
// image are filled with 0xA5 so that reading out of bounds shows.
func evalColumn(t *testing.T, c Column, image []byte) string {
	t.Helper()
	c.Name, c.Offset, c.Length, c.NullOffset, c.NullMask = "c", 3, len(image), 1, 0x10
	e, err := Compile("c", []Column{c})
	if err != nil {
		t.Fatalf("Compile for %+v: %v", c, err)
	}
	p := make([]byte, 3+len(image)+3)
	for i := range p {
		p[i] = 0xA5
	}
	p[1] = 0xEF // every NULL bit but ours
	copy(p[3:], image)
	got := show(e.Eval(p))
	// The NULL flag wins over the bytes, and a cut image is NULL.
	p[1] = 0x10
	if n := show(e.Eval(p)); n != "NULL" {
		t.Errorf("%s with NULL flag set = %s", typeName(c.Type), n)
	}
	p[1] = 0
	if n := show(e.Eval(p[:3+len(image)-1])); n != "NULL" {
		t.Errorf("%s cut short = %s", typeName(c.Type), n)
	}
	return got
}

func TestIntegerColumns(t *testing.T) {
	tests := []struct {
		typ      uint8
		unsigned bool
		width    int
		bits     uint64
		want     string
	}{
		{TypeTiny, false, 1, 0x7f, "127"},
		{TypeTiny, false, 1, 0x80, "-128"},
		{TypeTiny, false, 1, 0xff, "-1"},
		{TypeTiny, true, 1, 0xff, "255u"},
		{TypeTiny, true, 1, 0x80, "128u"},
		{TypeShort, false, 2, 0x7fff, "32767"},
		{TypeShort, false, 2, 0x8000, "-32768"},
		{TypeShort, true, 2, 0xffff, "65535u"},
		{TypeShort, false, 2, 0x1234, "4660"},
		{TypeInt24, false, 3, 0x7fffff, "8388607"},
		{TypeInt24, false, 3, 0x800000, "-8388608"},
		{TypeInt24, false, 3, 0xffffff, "-1"},
		{TypeInt24, true, 3, 0xffffff, "16777215u"},
		{TypeInt24, true, 3, 0x800000, "8388608u"},
		{TypeLong, false, 4, 0x7fffffff, "2147483647"},
		{TypeLong, false, 4, 0x80000000, "-2147483648"},
		{TypeLong, true, 4, 0xffffffff, "4294967295u"},
		{TypeLong, false, 4, 0x01020304, "16909060"},
		{TypeLongLong, false, 8, 0x7fffffffffffffff, "9223372036854775807"},
		{TypeLongLong, false, 8, 0x8000000000000000, "-9223372036854775808"},
		{TypeLongLong, false, 8, 0xffffffffffffffff, "-1"},
		{TypeLongLong, true, 8, 0xffffffffffffffff, "18446744073709551615u"},
		{TypeLongLong, true, 8, 0x8000000000000000, "9223372036854775808u"},
		{TypeLongLong, true, 8, 0x0102030405060708, "72623859790382856u"},
	}
	for _, tt := range tests {
		c := Column{Type: tt.typ, Unsigned: tt.unsigned}
		if got := evalColumn(t, c, storeLE(tt.bits, tt.width)); got != tt.want {
			t.Errorf("%s unsigned=%v %#x = %s, want %s", typeName(tt.typ), tt.unsigned, tt.bits, got, tt.want)
		}
	}
}

func TestYearAndDateColumns(t *testing.T) {
	tests := []struct {
		typ   uint8
		image []byte
		want  string
	}{
		// Field_year::store keeps year-1900 in one byte; 0 is the zero year.
		// (Also for YEAR(2): '24' is stored as 124 and reads as 2024.)
		{TypeYear, []byte{0}, "0"},
		{TypeYear, []byte{1}, "1901"},
		{TypeYear, []byte{124}, "2024"},
		{TypeYear, []byte{255}, "2155"},
		// Field_date (pre-5.0 DATE): int4store(YYYYMMDD).
		{TypeDate, storeLE(20240229, 4), "20240229"},
		{TypeDate, storeLE(0, 4), "0"},
		// Field_newdate::store_TIME: int3store(year*16*32 + month*32 + day).
		{TypeNewDate, storeLE(2024*512+2*32+29, 3), "20240229"},
		{TypeNewDate, storeLE(9999*512+12*32+31, 3), "99991231"},
		{TypeNewDate, storeLE(1000*512+1*32+1, 3), "10000101"},
		{TypeNewDate, storeLE(0, 3), "0"},
		{TypeNewDate, storeLE(2024*512, 3), "20240000"}, // zero month and day are allowed
	}
	for _, tt := range tests {
		if got := evalColumn(t, Column{Type: tt.typ}, tt.image); got != tt.want {
			t.Errorf("%s % x = %s, want %s", typeName(tt.typ), tt.image, got, tt.want)
		}
	}
}

// times are TIME values and their ±hhmmss, with the fraction dropped.
var times = []struct {
	t    tm
	want string
}{
	{tm{}, "0"},
	{tm{hour: 12, minute: 34, second: 56}, "123456"},
	{tm{neg: true, hour: 12, minute: 34, second: 56}, "-123456"},
	{tm{hour: 838, minute: 59, second: 59}, "8385959"},
	{tm{neg: true, hour: 838, minute: 59, second: 59}, "-8385959"},
	{tm{hour: 100, minute: 0, second: 1}, "1000001"},
	{tm{hour: 800}, "8000000"}, // beyond 32 days: unpack_time's month carry
	{tm{day: 2, hour: 3}, "510000"},
	{tm{second: 1, us: 500000}, "1"},
	{tm{neg: true, second: 1, us: 500000}, "-1"},
	{tm{neg: true, us: 10000}, "0"},
	{tm{neg: true, second: 1, us: 10000}, "-1"},
	{tm{neg: true, minute: 59, second: 59, us: 990000}, "-5959"},
	{tm{hour: 23, minute: 59, second: 59, us: 990000}, "235959"},
}

func TestTimeColumns(t *testing.T) {
	for _, tt := range times {
		if tt.t.us == 0 {
			if got := evalColumn(t, Column{Type: TypeTime}, encTime0(tt.t)); got != tt.want {
				t.Errorf("TIME %+v = %s, want %s", tt.t, got, tt.want)
			}
		}
		for dec := 0; dec <= 6; dec++ {
			// A stored value carries only dec digits of fraction.
			v := tt.t
			v.us = secPartShift(v.us, dec) * pow10[6-dec]
			want := tt.want
			if dec > 0 {
				if got := evalColumn(t, Column{Type: TypeTime, Decimals: dec}, encTimeHires(v, dec)); got != want {
					t.Errorf("TIME(%d) MariaDB 5.3 format %+v = %s, want %s", dec, v, got, want)
				}
			}
			if got := evalColumn(t, Column{Type: TypeTime2, Decimals: dec}, encTime2(v, dec)); got != want {
				t.Errorf("TIME(%d) MySQL 5.6 format %+v = %s, want %s (image % x)", dec, v, got, want, encTime2(v, dec))
			}
		}
	}
}

var datetimes = []struct {
	t    tm
	want string
}{
	{tm{}, "0"},
	{tm{year: 2024, month: 2, day: 29, hour: 13, minute: 45, second: 30}, "20240229134530"},
	{tm{year: 2024, month: 2, day: 29, hour: 13, minute: 45, second: 30, us: 999999}, "20240229134530"},
	{tm{year: 9999, month: 12, day: 31, hour: 23, minute: 59, second: 59, us: 999999}, "99991231235959"},
	{tm{year: 1000, month: 1, day: 1}, "10000101000000"},
	{tm{year: 1970, month: 1, day: 1, second: 1, us: 1}, "19700101000001"},
	{tm{year: 2000, day: 0}, "20000000000000"},
}

func TestDatetimeColumns(t *testing.T) {
	for _, tt := range datetimes {
		if tt.t.us == 0 {
			if got := evalColumn(t, Column{Type: TypeDatetime}, encDatetime0(tt.t)); got != tt.want {
				t.Errorf("DATETIME %+v = %s, want %s", tt.t, got, tt.want)
			}
		}
		for dec := 0; dec <= 6; dec++ {
			v := tt.t
			v.us = secPartShift(v.us, dec) * pow10[6-dec]
			if dec > 0 {
				if got := evalColumn(t, Column{Type: TypeDatetime, Decimals: dec}, encDatetimeHires(v, dec)); got != tt.want {
					t.Errorf("DATETIME(%d) MariaDB 5.3 format %+v = %s, want %s", dec, v, got, tt.want)
				}
			}
			if got := evalColumn(t, Column{Type: TypeDatetime2, Decimals: dec}, encDatetime2(v, dec)); got != tt.want {
				t.Errorf("DATETIME(%d) MySQL 5.6 format %+v = %s, want %s", dec, v, got, tt.want)
			}
		}
	}
}

func TestTimestampColumns(t *testing.T) {
	for _, tt := range []struct {
		sec, us int64
		want    string
	}{
		{0, 0, "0"},
		{1, 0, "1"},
		{1700000000, 0, "1700000000"},
		{1700000000, 999999, "1700000000"},
		{2147483647, 999999, "2147483647"},
	} {
		if tt.us == 0 {
			if got := evalColumn(t, Column{Type: TypeTimestamp}, encTimestamp0(tt.sec)); got != tt.want {
				t.Errorf("TIMESTAMP %d = %s, want %s", tt.sec, got, tt.want)
			}
		}
		for dec := 0; dec <= 6; dec++ {
			us := secPartShift(tt.us, dec) * pow10[6-dec]
			if dec > 0 {
				if got := evalColumn(t, Column{Type: TypeTimestamp, Decimals: dec}, encTimestampHires(tt.sec, us, dec)); got != tt.want {
					t.Errorf("TIMESTAMP(%d) MariaDB 5.3 format %d.%06d = %s, want %s", dec, tt.sec, us, got, tt.want)
				}
			}
			if got := evalColumn(t, Column{Type: TypeTimestamp2, Decimals: dec}, encTimestamp2(tt.sec, us, dec)); got != tt.want {
				t.Errorf("TIMESTAMP(%d) MySQL 5.6 format %d.%06d = %s, want %s", dec, tt.sec, us, got, tt.want)
			}
		}
	}
}

// TestHandComputedImages pins record images worked out by hand from the
// bit layouts documented in sql/compat56.cc and sql/field.cc, independently
// of the encoders above.
func TestHandComputedImages(t *testing.T) {
	tests := []struct {
		c     Column
		image string
		want  string
	}{
		// DATETIME2(0) 2024-02-29 13:45:30: ymd=((2024*13+2)<<5)|29,
		// hms=(13<<12)|(45<<6)|30, ((ymd<<17)|hms) + 0x8000000000, 5 bytes BE.
		{Column{Type: TypeDatetime2}, "99b2badb5e", "20240229134530"},
		// The same with DATETIME(6) and .123456 (0x01e240) after it.
		{Column{Type: TypeDatetime2, Decimals: 6}, "99b2badb5e01e240", "20240229134530"},
		// TIME2(0): hms=(12<<12)|(34<<6)|56 = 0x48b8; ±hms + 0x800000.
		{Column{Type: TypeTime2}, "80c8b8", "123456"},
		{Column{Type: TypeTime2}, "7f3748", "-123456"},
		// TIME2(2) -00:00:01.01 is 7FFFFE.FF (table in my_time_packed_from_binary).
		{Column{Type: TypeTime2, Decimals: 2}, "7ffffeff", "-1"},
		{Column{Type: TypeTime2, Decimals: 2}, "7fffffff", "0"},  // -00:00:00.01
		{Column{Type: TypeTime2, Decimals: 2}, "7fffff00", "-1"}, // -00:00:01.00
		{Column{Type: TypeTime2, Decimals: 2}, "80000000", "0"},
		// TIME(3) MariaDB 5.3: zero_point = 3020400000 = 0xb407a580 (5 bytes).
		{Column{Type: TypeTime, Decimals: 3}, "00b407a580", "0"},
		{Column{Type: TypeTime, Decimals: 3}, "00b407a968", "1"}, // +1000 ms
		{Column{Type: TypeTime, Decimals: 3}, "00b407a198", "-1"},
		// TIME(0) old: int3store(-123456) = 0xfe1dc0 little-endian.
		{Column{Type: TypeTime}, "c01dfe", "-123456"},
		// NEWDATE 2024-02-29: 2024*512 + 2*32 + 29 = 0x0fd05d, little-endian.
		{Column{Type: TypeNewDate}, "5dd00f", "20240229"},
		// TIMESTAMP2(0) 1700000000 = 0x6553f100 big-endian; TIMESTAMP(0) old is little-endian.
		{Column{Type: TypeTimestamp2}, "6553f100", "1700000000"},
		{Column{Type: TypeTimestamp}, "00f15365", "1700000000"},
		{Column{Type: TypeTimestamp, Decimals: 4}, "6553f100ffff", "1700000000"},
		// DATETIME(0) old: int8store(20240229134530).
		{Column{Type: TypeDatetime}, "c2f0aa8b68120000", "20240229134530"},
	}
	for _, tt := range tests {
		image, err := hex.DecodeString(tt.image)
		if err != nil {
			t.Fatal(err)
		}
		if got := evalColumn(t, tt.c, image); got != tt.want {
			t.Errorf("%s(%d) %s = %s, want %s", typeName(tt.c.Type), tt.c.Decimals, tt.image, got, tt.want)
		}
	}
}

func TestColumnValidation(t *testing.T) {
	tests := []struct {
		c    Column
		frag string
	}{
		{Column{Type: TypeFloat, Length: 4}, "has type FLOAT which conditions cannot use"},
		{Column{Type: TypeDouble, Length: 8}, "has type DOUBLE"},
		{Column{Type: TypeNewDecimal, Length: 5}, "has type DECIMAL"},
		{Column{Type: TypeVarchar, Length: 11}, "has type VARCHAR"},
		{Column{Type: TypeString, Length: 10}, "has type CHAR"},
		{Column{Type: TypeBlob, Length: 10}, "has type BLOB"},
		{Column{Type: TypeEnum, Length: 1}, "has type ENUM"},
		{Column{Type: TypeSet, Length: 1}, "has type SET"},
		{Column{Type: 140, Length: 10}, "has type compressed BLOB"},
		{Column{Type: 141, Length: 11}, "has type compressed VARCHAR"},
		{Column{Type: TypeBit, Length: 1}, "has type BIT"},
		{Column{Type: TypeGeometry, Length: 12}, "has type GEOMETRY"},
		{Column{Type: 99, Length: 1}, "has type type 99"},
		{Column{Type: TypeLong, Length: 4, Offset: -1}, "not stored at a fixed offset"},
		{Column{Type: TypeLong, Length: 4, Offset: 1<<62 - 1}, "beyond any row"},
		{Column{Type: TypeLong, Length: 4, NullOffset: 1 << 40}, "beyond any row"},
		{Column{Type: TypeLong, Length: 8}, "has length 8 but type INT stores 4 bytes"},
		{Column{Type: TypeNewDate, Length: 4}, "has length 4 but type DATE stores 3 bytes"},
		{Column{Type: TypeDatetime2, Length: 8, Decimals: 0}, "stores 5 bytes"},
		{Column{Type: TypeTime, Length: 3, Decimals: 7}, "at most 6"},
		{Column{Type: TypeTimestamp2, Length: 4, Decimals: -1}, "at most 6"},
	}
	for _, tt := range tests {
		tt.c.Name = "x"
		_, err := Compile("1 + x", []Column{tt.c})
		e, ok := err.(*Error)
		if !ok || e.Pos != 4 || !strings.Contains(e.Msg, "column `x` "+tt.frag) && !strings.Contains(e.Msg, tt.frag) {
			t.Errorf("%+v: %v, want %q at position 4", tt.c, err, tt.frag)
		}
	}
	// An unusable column is fine as long as the condition does not use it.
	cols := []Column{{Name: "f", Type: TypeFloat, Length: 4}, {Name: "x", Type: TypeTiny, Offset: 4, Length: 1, NullOffset: -1}}
	if _, err := Compile("x = 1", cols); err != nil {
		t.Errorf("unused FLOAT column: %v", err)
	}
}

// Every usable format decodes any bytes at all without panicking.
func TestDecodersTotal(t *testing.T) {
	images := [][]byte{make([]byte, 8), {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		{0x80, 0, 0, 0, 0, 0, 0, 0}, {0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	for _, typ := range []uint8{TypeTime, TypeTime2, TypeDatetime, TypeDatetime2, TypeTimestamp, TypeTimestamp2} {
		for dec := 0; dec <= 6; dec++ {
			c := Column{Type: typ, Decimals: dec}
			_, width, _ := columnDecoder(Column{Type: typ, Decimals: dec, Length: -1})
			for _, w := range []int{3, 4, 5, 6, 7, 8} {
				c.Length = w
				if _, got, err := columnDecoder(c); err == nil {
					width = got
				}
			}
			if width == 0 {
				t.Fatalf("no width for %s(%d)", typeName(typ), dec)
			}
			for _, img := range images {
				evalColumn(t, c, img[:width])
			}
		}
	}
}
