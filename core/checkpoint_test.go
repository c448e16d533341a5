package core

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// cleanlyClosed appends rows in several batches, closes the table cleanly
// (writing the checkpoint) and returns the active segment's path and the
// offsets of its last batch and its last commit frame.
func cleanlyClosed(t *testing.T, mode PreallocMode) (m *memFS, seg string, lastBatch, lastCommit, end int64) {
	t.Helper()
	m = newMemFS(1)
	m.MkdirAll("/db")
	opts := Options{FS: m, SegmentSize: 4 << 10, NoBackground: true, Prealloc: mode}
	require.NoError(t, Create(testDir, opts))
	tb, err := Open(testDir, opts)
	require.NoError(t, err)
	for i := 0; i < 10; i++ {
		_, _, err := tb.Append([][]byte{row(2 * i), row(2*i + 1)}, nil)
		require.NoError(t, err)
	}
	tb.mu.RLock()
	s := tb.segs[len(tb.segs)-1]
	seg, end = filepath.Join(testDir, s.name), s.end
	tb.mu.RUnlock()
	require.NoError(t, tb.Close())
	m.mu.Lock()
	data := m.cur[clean(seg)].data
	m.mu.Unlock()
	lastCommit = end - frameHeaderSize - commitBodySize
	c, ok := decodeCommit(data[lastCommit+frameHeaderSize:])
	require.True(t, ok)
	return m, seg, int64(c.batchStart), lastCommit, end
}

// After a clean shutdown the checkpoint proves which commits exist: a
// truncation inside the last rows is damage, reported with the file and
// the offset, never cut as a torn tail (which would reuse the ids).
func TestCheckpointProvesTailTruncation(t *testing.T) {
	for _, mode := range []PreallocMode{PreallocZeroFill, PreallocGrow} {
		m, seg, batch, _, _ := cleanlyClosed(t, mode)
		// Cut inside the first row of the last batch. Open twice: a
		// refused open keeps the proof.
		m.SetSize(seg, batch+frameHeaderSize+rowBodyMin+3)
		for try := 0; try < 2; try++ {
			tb, err := Open(testDir, Options{FS: m, SegmentSize: 4 << 10, NoBackground: true, Prealloc: mode})
			require.ErrorIs(t, err, ErrCorrupt, "mode %d, open %d", mode, try)
			require.Nil(t, tb)
			require.Contains(t, err.Error(), filepath.Base(seg))
			require.Regexp(t, `at offset \d+`, err.Error())
		}
	}
}

// A flipped byte in the last commit frame after a clean shutdown is
// damage too.
func TestCheckpointProvesLastCommit(t *testing.T) {
	for _, mode := range []PreallocMode{PreallocZeroFill, PreallocGrow} {
		for _, at := range []int64{0, 5, frameHeaderSize + 3, frameHeaderSize + commitBodySize - 1} {
			m, seg, _, commit, _ := cleanlyClosed(t, mode)
			m.Corrupt(seg, commit+at)
			tb, err := Open(testDir, Options{FS: m, SegmentSize: 4 << 10, NoBackground: true, Prealloc: mode})
			require.ErrorIs(t, err, ErrCorrupt, "mode %d, byte %d of the commit", mode, at)
			require.Nil(t, tb)
			require.Contains(t, err.Error(), filepath.Base(seg))
		}
	}
}
