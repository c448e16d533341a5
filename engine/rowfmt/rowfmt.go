// Package rowfmt reads the handler's row payloads (docs/ROW-PAYLOAD.md)
// with the column list recorded at CREATE TABLE (<table>.qcol), without the
// server: CHECK TABLE uses it to check that every row decodes, queue-check
// to dump rows as column values.
package rowfmt

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"unicode/utf8"

	"github.com/queue-engine/queue/core/cond"
)

// Column is one entry of a .qcol file (engine/columns.go writes it).
type Column struct {
	Name       string `json:"name"`
	Type       uint8  `json:"type"`
	Unsigned   bool   `json:"unsigned,omitempty"`
	NullMask   uint8  `json:"null_mask,omitempty"`
	Decimals   uint8  `json:"decimals,omitempty"`
	Offset     int32  `json:"offset"`
	Length     int32  `json:"length"`
	NullOffset int32  `json:"null_offset"`
}

// Load reads a .qcol file.
func Load(file string) ([]Column, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var cols []Column
	if err := json.Unmarshal(data, &cols); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return cols, nil
}

// ptrSize is portable_sizeof_char_ptr: a BLOB field's pointer.
const ptrSize = 8

// Layout is a table's payload layout, prepared once.
type Layout struct {
	cols  []Column
	exprs []*cond.Expr // fixed columns conditions can read; nil otherwise
}

// New prepares the layout of cols.
func New(cols []Column) *Layout {
	l := &Layout{cols: cols, exprs: make([]*cond.Expr, len(cols))}
	cc := make([]cond.Column, len(cols))
	for i, c := range cols {
		cc[i] = cond.Column{Name: c.Name, Type: c.Type, Unsigned: c.Unsigned, Offset: int(c.Offset),
			Length: int(c.Length), Decimals: int(c.Decimals), NullOffset: int(c.NullOffset), NullMask: c.NullMask}
	}
	for i, c := range cols {
		if c.Offset < 0 || c.Type == cond.TypeFloat || c.Type == cond.TypeDouble {
			continue
		}
		if x, err := cond.Compile("`"+c.Name+"`", cc); err == nil {
			l.exprs[i] = x
		}
	}
	return l
}

// lengthBytes is the size of the length prefix Field::pack writes for a
// variable field, 0 when the type is not one the layout knows.
func lengthBytes(c Column) int {
	switch c.Type {
	case cond.TypeVarchar, cond.TypeVarString, cond.TypeVarcharCompressed:
		if c.Length <= 256 {
			return 1
		}
		return 2
	case cond.TypeString:
		if c.Length > 255 {
			return 2
		}
		return 1
	case cond.TypeTinyBlob, cond.TypeBlob, cond.TypeMediumBlob, cond.TypeLongBlob, cond.TypeGeometry, cond.TypeBlobCompressed:
		if n := int(c.Length) - ptrSize; n >= 1 && n <= 4 {
			return n
		}
	}
	return 0
}

// nullBytes returns the candidate sizes of the payload's NULL bytes: the
// offset of the first fixed field when there is one, else what the NULL
// flags allow.
func (l *Layout) nullBytes() []int {
	first := -1
	maxNull := -1
	for _, c := range l.cols {
		if c.Offset >= 0 && (first < 0 || int(c.Offset) < first) {
			first = int(c.Offset)
		}
		maxNull = max(maxNull, int(c.NullOffset))
	}
	if first >= 0 {
		return []int{first}
	}
	return []int{maxNull + 1, maxNull + 2, 0}
}

// Decode returns the column values of payload, in column order: nil for
// NULL, int64/uint64 for integers (temporal types as their number, e.g.
// 20240131235959), float64, a string for text that is valid UTF-8, else
// "0x" and hex. It fails when the payload does not have the layout.
func (l *Layout) Decode(p []byte) ([]any, error) {
	var lastErr error
	for _, nb := range l.nullBytes() {
		v, err := l.decode(p, nb)
		if err == nil {
			return v, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

// Check reports whether payload has the layout (CHECK TABLE).
func (l *Layout) Check(p []byte) error {
	_, err := l.Decode(p)
	return err
}

func (l *Layout) isNull(p []byte, c Column) bool {
	return c.NullOffset >= 0 && int(c.NullOffset) < len(p) && p[c.NullOffset]&c.NullMask != 0
}

func (l *Layout) decode(p []byte, nullBytes int) ([]any, error) {
	if len(p) < nullBytes {
		return nil, fmt.Errorf("%d bytes, shorter than the NULL bytes", len(p))
	}
	out := make([]any, len(l.cols))
	pos := nullBytes
	for i, c := range l.cols {
		if c.Offset < 0 {
			continue
		}
		end := int(c.Offset) + int(c.Length)
		if int(c.Offset) != pos || end > len(p) {
			return nil, fmt.Errorf("column %s: fixed field at %d..%d of a %d-byte row", c.Name, c.Offset, end, len(p))
		}
		pos = end
		if l.isNull(p, c) {
			continue
		}
		img := p[c.Offset:end]
		switch {
		case c.Type == cond.TypeFloat && c.Length == 4:
			out[i] = float64(math.Float32frombits(le(img)))
		case c.Type == cond.TypeDouble && c.Length == 8:
			out[i] = math.Float64frombits(uint64(le(img[:4])) | uint64(le(img[4:]))<<32)
		case l.exprs[i] != nil:
			v, unsigned, _ := l.exprs[i].Eval(p)
			if unsigned {
				out[i] = uint64(v)
			} else {
				out[i] = v
			}
		default:
			out[i] = "0x" + hex.EncodeToString(img)
		}
	}
	for i, c := range l.cols {
		if c.Offset >= 0 || l.isNull(p, c) {
			continue
		}
		lb := lengthBytes(c)
		if lb == 0 {
			return nil, fmt.Errorf("column %s: type %d is not known", c.Name, c.Type)
		}
		if pos+lb > len(p) {
			return nil, fmt.Errorf("column %s: length at %d past the end of a %d-byte row", c.Name, pos, len(p))
		}
		n := 0
		for k := lb - 1; k >= 0; k-- {
			n = n<<8 | int(p[pos+k])
		}
		pos += lb
		if pos+n > len(p) {
			return nil, fmt.Errorf("column %s: %d bytes at %d past the end of a %d-byte row", c.Name, n, pos, len(p))
		}
		b := p[pos : pos+n]
		pos += n
		if utf8.Valid(b) {
			out[i] = string(b)
		} else {
			out[i] = "0x" + hex.EncodeToString(b)
		}
	}
	if pos != len(p) {
		return nil, fmt.Errorf("%d bytes left after the last column of a %d-byte row", len(p)-pos, len(p))
	}
	return out, nil
}

func le(b []byte) uint32 { return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24 }

// Names returns the column names in order.
func (l *Layout) Names() []string {
	n := make([]string, len(l.cols))
	for i, c := range l.cols {
		n[i] = c.Name
	}
	return n
}
