package core

import (
	"fmt"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

// buildTable writes batches of rows (grow mode, so files end at the log
// end) and returns the file snapshot and the byte range of the last batch
// in the last segment.
func buildTable(t *testing.T, batches int) (files map[string][]byte, lastSeg string, lastStart, lastEnd int64) {
	t.Helper()
	m := newMemFS(1)
	m.MkdirAll("/db")
	opts := Options{FS: m, SegmentSize: 1500, NoBackground: true, Prealloc: PreallocGrow}
	require.NoError(t, Create(testDir, opts))
	tb, err := Open(testDir, opts)
	require.NoError(t, err)
	for b := 0; b < batches; b++ {
		_, _, err := tb.Append([][]byte{row(2 * b), row(2*b + 1)}, &Relay{Slot: 1, RowID: uint64(b + 1)})
		require.NoError(t, err)
		if b%3 == 2 {
			_, err = tb.Remove([]uint64{uint64(2*b - 1)})
			require.NoError(t, err)
		}
	}
	tb.mu.RLock()
	last := tb.segs[len(tb.segs)-1]
	lastSeg = filepath.Join(testDir, last.name)
	lastEnd = last.end
	tb.mu.RUnlock()
	// the last batch starts after the previous commit frame
	files = m.snapshot()
	data := files[lastSeg][:lastEnd]
	lastStart = int64(len(data) - frameHeaderSize - commitBodySize)
	c, ok := decodeCommit(data[lastStart+frameHeaderSize:])
	require.True(t, ok)
	lastStart = int64(c.batchStart)
	_ = tb.shutdown(false) // no checkpoint: recovery must replay
	return m.snapshot(), lastSeg, lastStart, lastEnd
}

func openFiles(t *testing.T, files map[string][]byte) (*Table, error) {
	t.Helper()
	m := memFSFrom(files)
	return Open(testDir, Options{FS: m, SegmentSize: 1500, NoBackground: true, Prealloc: PreallocGrow})
}

func liveIDs(t *testing.T, tb *Table) []uint64 {
	ids, _ := scanAll(t, tb, nil)
	return ids
}

// TestTornTailAtEveryByte cuts the last batch at every byte: recovery must
// succeed quietly, without the last batch unless it is complete.
func TestTornTailAtEveryByte(t *testing.T) {
	files, lastSeg, start, end := buildTable(t, 31) // the last batch is an append
	full, err := openFiles(t, files)
	require.NoError(t, err)
	want := liveIDs(t, full)
	wantMark := full.RelayMark(1)
	full.Close()
	require.Equal(t, uint64(31), wantMark)
	for cut := start; cut <= end; cut++ {
		f2 := map[string][]byte{}
		for k, v := range files {
			f2[k] = v
		}
		f2[lastSeg] = files[lastSeg][:cut]
		tb, err := openFiles(t, f2)
		require.NoError(t, err, "cut at %d", cut)
		got := liveIDs(t, tb)
		if cut == end {
			require.Equal(t, want, got)
			require.Equal(t, wantMark, tb.RelayMark(1))
		} else {
			require.Equal(t, want[:len(want)-2], got, "cut at %d", cut)
			require.Equal(t, wantMark-1, tb.RelayMark(1), "relay mark is atomic with its rows")
			// the table keeps working after the cut
			id, _, err := tb.Append([][]byte{row(99)}, nil)
			require.NoError(t, err)
			require.Equal(t, want[len(want)-1]-1, id)
		}
		tb.Close()
	}
}

// TestBitFlipInTheMiddleIsReported flips every byte of an early batch:
// recovery must refuse with ErrCorrupt naming the file and offset.
func TestBitFlipInTheMiddleIsReported(t *testing.T) {
	files, _, _, _ := buildTable(t, 30)
	first := filepath.Join(testDir, segmentName(1))
	second := filepath.Join(testDir, segmentName(2))
	require.Contains(t, files, second)
	data := files[first]
	for off := 0; off < len(data)-frameHeaderSize-commitBodySize; off++ {
		f2 := map[string][]byte{}
		for k, v := range files {
			f2[k] = v
		}
		d := append([]byte(nil), data...)
		d[off] ^= 0x04
		f2[first] = d
		tb, err := openFiles(t, f2)
		require.ErrorIs(t, err, ErrCorrupt, "flip at %d", off)
		require.Nil(t, tb)
		require.Contains(t, err.Error(), segmentName(1))
	}
	// Damage to the last commit of a sealed segment is caught by the next
	// segment's record of how many commits it had.
	f2 := map[string][]byte{}
	for k, v := range files {
		f2[k] = v
	}
	d := append([]byte(nil), data...)
	d[len(d)-3] ^= 0x01
	f2[first] = d
	_, err := openFiles(t, f2)
	require.ErrorIs(t, err, ErrCorrupt)
	require.Contains(t, err.Error(), "commits")
}

func TestMissingAndExtraFiles(t *testing.T) {
	files, _, _, _ := buildTable(t, 60)
	var segs []string
	for k := range files {
		segs = append(segs, k)
	}
	sort.Strings(segs)
	require.GreaterOrEqual(t, len(segs), 4)
	clone := func() map[string][]byte {
		f2 := map[string][]byte{}
		for k, v := range files {
			f2[k] = v
		}
		return f2
	}
	cases := []struct {
		name    string
		edit    func(map[string][]byte)
		wantErr error
	}{
		{"missing middle segment", func(f map[string][]byte) { delete(f, segs[1]) }, ErrCorrupt},
		{"all segments missing", func(f map[string][]byte) {
			for _, s := range segs {
				delete(f, s)
			}
			f[testDir+"/keep"] = nil
		}, ErrCorrupt},
		{"foreign file is ignored", func(f map[string][]byte) { f[testDir+"/table.meta"] = []byte("x") }, nil},
		{"leftover temp file is deleted", func(f map[string][]byte) { f[segs[1]+tmpSuffix] = []byte("garbage") }, nil},
		{"empty new segment after the last", func(f map[string][]byte) {
			f[filepath.Join(testDir, segmentName(uint64(len(segs)+1)))] = nil
		}, nil},
		{"torn header of a new segment", func(f map[string][]byte) {
			f[filepath.Join(testDir, segmentName(uint64(len(segs)+1)))] = []byte{1, 2, 3}
		}, nil},
		{"garbage segment in the middle", func(f map[string][]byte) { f[segs[1]] = []byte("garbage garbage garbage garbage garbage") }, ErrCorrupt},
		{"segment with a wrong number", func(f map[string][]byte) { f[segs[1]] = f[segs[2]] }, ErrCorrupt},
	}
	base, err := openFiles(t, files)
	require.NoError(t, err)
	want := liveIDs(t, base)
	base.Close()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f2 := clone()
			c.edit(f2)
			tb, err := openFiles(t, f2)
			if c.wantErr != nil {
				require.ErrorIs(t, err, c.wantErr)
				return
			}
			require.NoError(t, err)
			defer tb.Close()
			require.Equal(t, want, liveIDs(t, tb))
		})
	}
}

func TestCorruptErrorNamesFileAndOffset(t *testing.T) {
	files, _, _, _ := buildTable(t, 30)
	first := filepath.Join(testDir, segmentName(1))
	d := append([]byte(nil), files[first]...)
	d[700] ^= 0xff
	files[first] = d
	_, err := openFiles(t, files)
	require.ErrorIs(t, err, ErrCorrupt)
	require.Regexp(t, fmt.Sprintf(`%s at offset \d+`, segmentName(1)), err.Error())
}

// TestTornLastBatchSectors: a power loss during the last batch's unsynced
// write may persist its later sectors (the COMMIT) and not its earlier
// ones. That batch was never acknowledged: recovery drops it like a torn
// tail instead of refusing the table. Damage before an earlier commit of
// the same segment is still ErrCorrupt.
func TestTornLastBatchSectors(t *testing.T) {
	files, lastSeg, start, end := buildTable(t, 31)
	full, err := openFiles(t, files)
	require.NoError(t, err)
	want := liveIDs(t, full)
	full.Close()
	commitAt := end - frameHeaderSize - commitBodySize
	for off := start; off < commitAt; off++ {
		f2 := map[string][]byte{}
		for k, v := range files {
			f2[k] = v
		}
		d := append([]byte(nil), files[lastSeg]...)
		d[off] ^= 0x55
		f2[lastSeg] = d
		tb, err := openFiles(t, f2)
		require.NoError(t, err, "damage at %d", off)
		require.Equal(t, want[:len(want)-2], liveIDs(t, tb), "damage at %d", off)
		tb.Close()
	}
	if start > frameHeaderSize+segmentBodySize+frameHeaderSize+stateBodySize {
		f2 := map[string][]byte{}
		for k, v := range files {
			f2[k] = v
		}
		d := append([]byte(nil), files[lastSeg]...)
		d[start-frameHeaderSize-commitBodySize-5] ^= 0x55 // the previous batch's rows or commit
		f2[lastSeg] = d
		_, err := openFiles(t, f2)
		require.ErrorIs(t, err, ErrCorrupt)
	}
}

// TestZeroedFramesBeforeACommitAreDamage: zeros where a frame should be
// read as the end of the log only when no valid commit follows (zero fill
// ahead of the writer). Zeroed frames (a lost block) before later commits
// of the last segment are damage, not the end: cutting there would drop
// acknowledged rows.
func TestZeroedFramesBeforeACommitAreDamage(t *testing.T) {
	// A table whose last segment has at least three batches.
	var files map[string][]byte
	var lastSeg string
	var start, prev int64
	for n := 31; prev == 0; n++ {
		require.Less(t, n, 60)
		files, lastSeg, start, _ = buildTable(t, n)
		c, ok := decodeCommit(files[lastSeg][start-commitBodySize:])
		require.True(t, ok)
		prev = int64(c.batchStart)
	}
	data := files[lastSeg]
	// The batch before the last one: zero from its start to its commit.
	d := append([]byte(nil), data...)
	for i := prev; i < start-frameHeaderSize-commitBodySize; i++ {
		d[i] = 0
	}
	files[lastSeg] = d
	_, err := openFiles(t, files)
	require.ErrorIs(t, err, ErrCorrupt)
	require.Contains(t, err.Error(), filepath.Base(lastSeg))
}
