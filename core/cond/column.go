package cond

import (
	"encoding/binary"
	"fmt"
)

// Column describes one column of the table as stored in a row payload.
type Column struct {
	Name string
	// Type is MariaDB's enum_field_types of Field::real_type(): MYSQL_TYPE_TINY=1,
	// SHORT=2, LONG=3, FLOAT=4, DOUBLE=5, TIMESTAMP=7, LONGLONG=8, INT24=9, DATE=10,
	// TIME=11, DATETIME=12, YEAR=13, NEWDATE=14, VARCHAR=15, BIT=16, TIMESTAMP2=17,
	// DATETIME2=18, TIME2=19, NEWDECIMAL=246, ENUM=247, SET=248, BLOB=252,
	// VAR_STRING=253, STRING=254, GEOMETRY=255.
	Type     uint8
	Unsigned bool
	// Offset is the byte offset of the field's record image (Field::ptr bytes)
	// in the payload; -1 when the field is not stored at a fixed offset (such a
	// column cannot be used in conditions).
	Offset int
	// Length is Field::pack_length().
	Length int
	// Decimals is the number of fractional-second digits (temporal types).
	Decimals int
	// NullOffset is the byte index in the payload of the column's NULL flag
	// byte; -1 for a NOT NULL column.
	NullOffset int
	// NullMask is the bit in that byte that is set when the value is NULL.
	NullMask uint8
}

// MariaDB's enum_field_types values (include/mysql_com.h): the Type of a
// Column. The handler's other readers of row payloads (engine/rowfmt) use
// them too.
const (
	TypeTiny              = 1
	TypeShort             = 2
	TypeLong              = 3
	TypeFloat             = 4
	TypeDouble            = 5
	TypeNull              = 6
	TypeTimestamp         = 7
	TypeLongLong          = 8
	TypeInt24             = 9
	TypeDate              = 10
	TypeTime              = 11
	TypeDatetime          = 12
	TypeYear              = 13
	TypeNewDate           = 14
	TypeVarchar           = 15
	TypeBit               = 16
	TypeTimestamp2        = 17
	TypeDatetime2         = 18
	TypeTime2             = 19
	TypeBlobCompressed    = 140
	TypeVarcharCompressed = 141
	TypeNewDecimal        = 246
	TypeEnum              = 247
	TypeSet               = 248
	TypeTinyBlob          = 249
	TypeMediumBlob        = 250
	TypeLongBlob          = 251
	TypeBlob              = 252
	TypeVarString         = 253
	TypeString            = 254
	TypeGeometry          = 255
)

var typeNames = map[uint8]string{
	TypeTiny: "TINYINT", TypeShort: "SMALLINT", TypeLong: "INT", TypeFloat: "FLOAT",
	TypeDouble: "DOUBLE", TypeNull: "NULL", TypeTimestamp: "TIMESTAMP", TypeLongLong: "BIGINT",
	TypeInt24: "MEDIUMINT", TypeDate: "DATE", TypeTime: "TIME", TypeDatetime: "DATETIME",
	TypeYear: "YEAR", TypeNewDate: "DATE", TypeVarchar: "VARCHAR", TypeBit: "BIT",
	TypeTimestamp2: "TIMESTAMP", TypeDatetime2: "DATETIME", TypeTime2: "TIME",
	TypeBlobCompressed: "compressed BLOB", TypeVarcharCompressed: "compressed VARCHAR",
	TypeNewDecimal: "DECIMAL", TypeEnum: "ENUM", TypeSet: "SET", TypeTinyBlob: "TINYBLOB",
	TypeMediumBlob: "MEDIUMBLOB", TypeLongBlob: "LONGBLOB", TypeBlob: "BLOB",
	TypeVarString: "VARCHAR", TypeString: "CHAR", TypeGeometry: "GEOMETRY",
}

func typeName(t uint8) string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("type %d", t)
}

// Sizes of the fractional-second formats, by number of digits 0..6
// (sql/sql_type.cc: Type_handler_timestamp::m_sec_part_bytes,
// Type_handler_datetime::m_hires_bytes, Type_handler_time::m_hires_bytes).
var (
	timestampSecPartBytes = [7]int{0, 1, 1, 2, 2, 3, 3}
	datetimeHiresBytes    = [7]int{5, 6, 6, 7, 7, 7, 8}
	timeHiresBytes        = [7]int{3, 4, 4, 5, 5, 5, 6}
)

// maxOffset bounds column offsets: MariaDB rows are at most 64 KiB, so this
// is far beyond any real one.
const maxOffset = 1 << 30

// decoder turns the record image of one field (exactly its pack length) into
// a value. It is never given fewer bytes than the pack length.
type decoder func(b []byte) value

// columnDecoder validates that conditions can use c and returns the decoder
// for its format. The error message is completed by the caller with the
// column name and position.
func columnDecoder(c Column) (decoder, int, error) {
	if c.Offset < 0 {
		return nil, 0, fmt.Errorf("is not stored at a fixed offset, so conditions cannot use it")
	}
	if c.Offset > maxOffset || c.NullOffset > maxOffset {
		// Keeps Offset+Length from overflowing in the bounds checks.
		return nil, 0, fmt.Errorf("has offset %d, beyond any row", max(c.Offset, c.NullOffset))
	}
	temporal := false
	var want int
	var dec decoder
	switch c.Type {
	case TypeTiny:
		want, dec = 1, intDecoder(1, c.Unsigned)
	case TypeShort:
		want, dec = 2, intDecoder(2, c.Unsigned)
	case TypeInt24:
		want, dec = 3, intDecoder(3, c.Unsigned)
	case TypeLong:
		want, dec = 4, intDecoder(4, c.Unsigned)
	case TypeLongLong:
		want, dec = 8, intDecoder(8, c.Unsigned)
	case TypeYear:
		want, dec = 1, decodeYear
	case TypeDate:
		want, dec = 4, decodeDate
	case TypeNewDate:
		want, dec = 3, decodeNewDate
	case TypeTime, TypeTime2, TypeDatetime, TypeDatetime2, TypeTimestamp, TypeTimestamp2:
		temporal = true
	default:
		return nil, 0, fmt.Errorf("has type %s which conditions cannot use", typeName(c.Type))
	}
	if temporal {
		d := c.Decimals
		if d < 0 || d > 6 {
			return nil, 0, fmt.Errorf("has %d fractional-second digits; at most 6 are possible", d)
		}
		switch c.Type {
		case TypeTime:
			if d == 0 {
				want, dec = 3, decodeTime0
			} else {
				want, dec = timeHiresBytes[d], timeHiresDecoder(d)
			}
		case TypeTime2:
			want, dec = 3+(d+1)/2, time2Decoder(d)
		case TypeDatetime:
			if d == 0 {
				want, dec = 8, decodeDatetime0
			} else {
				want, dec = datetimeHiresBytes[d], datetimeHiresDecoder(d)
			}
		case TypeDatetime2:
			want, dec = 5+(d+1)/2, decodeDatetime2
		case TypeTimestamp:
			if d == 0 {
				want, dec = 4, decodeTimestamp0
			} else {
				want, dec = 4+timestampSecPartBytes[d], decodeTimestampBE
			}
		case TypeTimestamp2:
			want, dec = 4+(d+1)/2, decodeTimestampBE
		}
	}
	if c.Length != want {
		return nil, 0, fmt.Errorf("has length %d but type %s stores %d bytes", c.Length, typeName(c.Type), want)
	}
	return dec, want, nil
}

// intDecoder reads little-endian integers as Field_tiny..Field_longlong store
// them (int2store, int3store, ...; sql/field.cc Field_*::store).
func intDecoder(width int, unsigned bool) decoder {
	switch width {
	case 1:
		if unsigned {
			return func(b []byte) value { return value{v: int64(b[0]), u: true} }
		}
		return func(b []byte) value { return value{v: int64(int8(b[0]))} }
	case 2:
		if unsigned {
			return func(b []byte) value { return value{v: int64(binary.LittleEndian.Uint16(b)), u: true} }
		}
		return func(b []byte) value { return value{v: int64(int16(binary.LittleEndian.Uint16(b)))} }
	case 3:
		if unsigned {
			return func(b []byte) value { return value{v: int64(uint3korr(b)), u: true} }
		}
		return func(b []byte) value { return value{v: int64(sint3korr(b))} }
	case 4:
		if unsigned {
			return func(b []byte) value { return value{v: int64(binary.LittleEndian.Uint32(b)), u: true} }
		}
		return func(b []byte) value { return value{v: int64(int32(binary.LittleEndian.Uint32(b)))} }
	default:
		if unsigned {
			return func(b []byte) value { return value{v: int64(binary.LittleEndian.Uint64(b)), u: true} }
		}
		return func(b []byte) value { return value{v: int64(binary.LittleEndian.Uint64(b))} }
	}
}

func uint3korr(b []byte) uint32 { return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 }

func sint3korr(b []byte) int32 { return int32(uint3korr(b)<<8) >> 8 }

// readBigEndian is read_bigendian() of sql/field.h: 1..7 bytes unsigned, 8 signed.
func readBigEndian(b []byte) int64 {
	var x uint64
	for _, c := range b {
		x = x<<8 | uint64(c)
	}
	return int64(x)
}

// decodeYear: Field_year::store keeps the year minus 1900, 0 for the zero
// year. This is Field_year::val_int for YEAR(4); a YEAR(2) column (whose
// field_length a Column does not carry) also reads as the 4-digit year.
func decodeYear(b []byte) value {
	y := int64(b[0])
	if y != 0 {
		y += 1900
	}
	return value{v: y}
}

// decodeDate: the pre-5.0 DATE (Field_date), int4store of YYYYMMDD;
// Field_date::val_int reads it as (uint32) sint4korr.
func decodeDate(b []byte) value { return value{v: int64(binary.LittleEndian.Uint32(b))} }

// decodeNewDate: Field_newdate stores day | month<<5 | year<<9 with int3store
// (Field_newdate::store_TIME); Field_newdate::val_int gives YYYYMMDD.
func decodeNewDate(b []byte) value {
	j := int64(uint3korr(b))
	return value{v: j%32 + (j/32%16)*100 + (j/(16*32))*10000}
}

// hms makes the ±hhmmss value of a TIME (TIME_to_ulonglong_time).
func hms(neg bool, hour, minute, second int64) value {
	v := hour*10000 + minute*100 + second
	if neg {
		v = -v
	}
	return value{v: v}
}

// decodeTime0: Field_time0::store_TIME stores ±hhmmss with int3store;
// Field_time0::val_int is sint3korr.
func decodeTime0(b []byte) value { return value{v: int64(sint3korr(b))} }

// unpackTime is unpack_time() of sql/sql_time.cc for the packed microsecond
// count that pack_time() makes; it returns the calendar fields.
func unpackTime(packed int64) (neg bool, year, month, day, hour, minute, second int64) {
	// packed is never MinInt64 here: callers read at most 7 unsigned bytes or
	// divide a signed 8-byte value by at least 1.
	u := uint64(packed)
	if packed < 0 {
		neg = true
		u = uint64(-packed)
	}
	u /= 1000000
	second = int64(u % 60)
	u /= 60
	minute = int64(u % 60)
	u /= 60
	hour = int64(u % 24)
	u /= 24
	day = int64(u % 32)
	u /= 32
	month = int64(u % 13)
	year = int64(u / 13)
	return
}

var pow10 = [7]int64{1, 10, 100, 1000, 10000, 100000, 1000000}

// timeHiresDecoder: Field_time_hires (MariaDB 5.3 TIME(1..6)) stores
// sec_part_shift(pack_time(t), dec) + zero_point big-endian
// (Field_time_hires::store_TIME); get_date reverses it with read_bigendian,
// sec_part_unshift and unpack_time(..., MYSQL_TIMESTAMP_TIME).
func timeHiresDecoder(d int) decoder {
	unit := pow10[6-d]
	// zero_point = sec_part_shift((TIME_MAX_VALUE_SECONDS+1) * 1e6, dec),
	// TIME_MAX_VALUE_SECONDS = 838:59:59.
	zero := (838*3600 + 59*60 + 59 + 1) * 1000000 / unit
	return func(b []byte) value {
		packed := (readBigEndian(b) - zero) * unit
		neg, _, month, day, hour, minute, second := unpackTime(packed)
		hour += (month*32 + day) * 24
		return hms(neg, hour, minute, second)
	}
}

// time2Decoder: the MySQL 5.6 TIME(0..6) format (Field_timef), written by
// my_time_packed_to_binary and read by my_time_packed_from_binary
// (sql/compat56.cc); fields by TIME_from_longlong_time_packed.
func time2Decoder(d int) decoder {
	return func(b []byte) value {
		const intOfs = 0x800000
		var packed int64 // MySQL 5.6 packed time: hms<<24 | microseconds
		switch d {
		case 0:
			packed = (int64(mi3(b)) - intOfs) << 24
		case 1, 2:
			intpart := int64(mi3(b)) - intOfs
			frac := int64(b[3])
			if intpart < 0 && frac != 0 {
				intpart++
				frac -= 0x100
			}
			packed = intpart<<24 + frac*10000
		case 3, 4:
			intpart := int64(mi3(b)) - intOfs
			frac := int64(uint16(b[3])<<8 | uint16(b[4]))
			if intpart < 0 && frac != 0 {
				intpart++
				frac -= 0x10000
			}
			packed = intpart<<24 + frac*100
		default:
			packed = readBigEndian(b[:6]) - 0x800000000000
		}
		neg := packed < 0
		if neg {
			packed = -packed
		}
		h := packed >> 24
		return hms(neg, (h>>12)%(1<<10), (h>>6)%(1<<6), h%(1<<6))
	}
}

func mi3(b []byte) uint32 { return uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]) }

// datetime makes the YYYYMMDDhhmmss value of a DATETIME
// (TIME_to_ulonglong_datetime).
func datetime(year, month, day, hour, minute, second int64) value {
	return value{v: ((year*10000+month*100+day)*100+hour)*10000 + minute*100 + second}
}

// decodeDatetime0: Field_datetime0 stores YYYYMMDDhhmmss with int8store;
// Field_datetime0::val_int reads it back with sint8korr.
func decodeDatetime0(b []byte) value { return value{v: int64(binary.LittleEndian.Uint64(b))} }

// datetimeHiresDecoder: Field_datetime_hires (MariaDB 5.3 DATETIME(1..6))
// stores sec_part_shift(pack_time(t), dec) big-endian
// (Field_datetime_hires::store_TIME); read back with read_bigendian,
// sec_part_unshift and unpack_time(..., MYSQL_TIMESTAMP_DATETIME).
func datetimeHiresDecoder(d int) decoder {
	unit := pow10[6-d]
	return func(b []byte) value {
		packed := readBigEndian(b) * unit
		_, year, month, day, hour, minute, second := unpackTime(packed)
		return datetime(year, month, day, hour, minute, second)
	}
}

// decodeDatetime2: the MySQL 5.6 DATETIME(0..6) format (Field_datetimef),
// written by my_datetime_packed_to_binary (sql/compat56.cc). The integer part
// is the first 5 bytes, big-endian, offset by DATETIMEF_INT_OFS; the fraction
// that follows is dropped. Fields as in TIME_from_longlong_datetime_packed.
func decodeDatetime2(b []byte) value {
	intpart := readBigEndian(b[:5]) - 0x8000000000
	if intpart < 0 {
		intpart = -intpart // impossible for stored values; keep the arithmetic sane
	}
	ymd := intpart >> 17
	ym := ymd >> 5
	t := intpart % (1 << 17)
	return datetime(ym/13, ym%13, ymd%(1<<5), t>>12, (t>>6)%(1<<6), t%(1<<6))
}

// decodeTimestamp0: Field_timestamp0 stores the Unix time with int4store;
// Field_timestamp0::get_timestamp reads it with sint4korr.
func decodeTimestamp0(b []byte) value {
	return value{v: int64(int32(binary.LittleEndian.Uint32(b)))}
}

// decodeTimestampBE: both Field_timestamp_hires (MariaDB 5.3 TIMESTAMP(1..6),
// Field_timestamp_hires::store_TIMEVAL) and Field_timestampf (MySQL 5.6,
// my_timestamp_to_binary) store the Unix time in the first 4 bytes with
// mi_int4store, followed by the fraction, which is dropped.
func decodeTimestampBE(b []byte) value {
	return value{v: int64(binary.BigEndian.Uint32(b))}
}
