package core

import (
	"bytes"
	"path/filepath"
	"testing"
)

// fuzzSeeds returns real writer output: the segment files of a small table.
func fuzzSeeds(t testing.TB) (files map[string][]byte, segs []string) {
	m := newMemFS(1)
	m.MkdirAll("/db")
	opts := Options{FS: m, SegmentSize: 1500, NoBackground: true, Prealloc: PreallocGrow}
	if err := Create(testDir, opts); err != nil {
		t.Fatal(err)
	}
	tb, err := Open(testDir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for b := 0; b < 12; b++ {
		if _, _, err := tb.Append([][]byte{row(2 * b), row(2*b + 1)}, &Relay{Slot: b % 3, RowID: uint64(b + 1)}); err != nil {
			t.Fatal(err)
		}
		if b%3 == 2 {
			if _, err := tb.Remove([]uint64{uint64(2*b - 1)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	_ = tb.Compact()
	_ = tb.shutdown(false)
	files = m.snapshot()
	for k := range files {
		segs = append(segs, k)
	}
	return files, segs
}

func FuzzRecordDecode(f *testing.F) {
	files, _ := fuzzSeeds(f)
	for _, d := range files {
		for off := 0; off < len(d); {
			fr, st := decodeFrame(d[off:])
			if st != frameOK {
				break
			}
			f.Add(d[off : off+fr.size])
			off += fr.size
		}
	}
	f.Add(appendOldCommitFrame(nil, 3, 40)) // before COMMIT frames carried a time
	f.Add([]byte{})
	f.Add(make([]byte, frameHeaderSize))
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, st := decodeFrame(data)
		if st != frameOK {
			return
		}
		again := appendFrame(nil, fr.typ, fr.body)
		if !bytes.Equal(again, data[:fr.size]) {
			t.Fatalf("decode/encode mismatch")
		}
		switch fr.typ {
		case recSegment:
			_, _ = decodeSegmentHeader(fr.body)
		case recState:
			_ = decodeState(fr.body)
		case recCommit:
			_, _ = decodeCommit(fr.body)
		}
	})
}

// FuzzRecover replaces one segment file of a real table with fuzzed bytes:
// Open must return a table or an error, never panic or hang, and an opened
// table must serve scans and accept appends.
func FuzzRecover(f *testing.F) {
	files, segs := fuzzSeeds(f)
	for i, s := range segs {
		f.Add(uint8(i), files[s])
		f.Add(uint8(i), files[s][:len(files[s])/2])
		if seq, ok := parseSegmentName(filepath.Base(s)); ok {
			f.Add(uint8(i), oldFormatSegment(seq))
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		f2 := map[string][]byte{}
		for k, v := range files {
			f2[k] = v
		}
		name := segs[int(which)%len(segs)]
		f2[name] = data
		m := memFSFrom(f2)
		tb, err := Open(testDir, Options{FS: m, SegmentSize: 1500, NoBackground: true, Prealloc: PreallocGrow})
		if err != nil {
			return
		}
		defer tb.Close()
		c := tb.Scan(nil)
		n := uint64(0)
		for {
			_, _, ok, err := c.Next(nil)
			if err != nil {
				t.Fatalf("scan of %s: %v", filepath.Base(name), err)
			}
			if !ok {
				break
			}
			n++
		}
		if n != tb.Count() {
			t.Fatalf("scan saw %d rows, count %d", n, tb.Count())
		}
		if _, _, err := tb.Append([][]byte{[]byte("after")}, nil); err != nil {
			t.Fatalf("append after recovery: %v", err)
		}
	})
}
