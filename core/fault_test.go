package core

import (
	"io/fs"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFailedSyncIsSticky(t *testing.T) {
	m, tb := newMemTable(t)
	first, _, err := tb.Append([][]byte{row(1)}, nil)
	require.NoError(t, err)
	m.mu.Lock()
	m.failSync = func(name string) error {
		if strings.HasSuffix(name, ".seg") {
			return &fs.PathError{Op: "fdatasync", Path: name, Err: syscall.EIO}
		}
		return nil
	}
	m.mu.Unlock()
	_, _, err = tb.Append([][]byte{row(2)}, nil)
	require.ErrorIs(t, err, ErrIO)
	require.ErrorIs(t, err, syscall.EIO)
	require.Contains(t, err.Error(), ".seg at offset")
	m.mu.Lock()
	m.failSync = nil
	m.mu.Unlock()
	// Sticky: the disk works again, the table still refuses writes.
	_, _, err = tb.Append([][]byte{row(3)}, nil)
	require.ErrorIs(t, err, ErrIO)
	_, err = tb.Remove([]uint64{first})
	require.ErrorIs(t, err, ErrIO)
	// Reads still work.
	p, err := tb.Get(first, nil)
	require.NoError(t, err)
	require.Equal(t, row(1), p)
	require.NoError(t, tb.Close())

	m.Crash()
	tb2, err := Open(testDir, memOpts(m))
	require.NoError(t, err)
	defer tb2.Close()
	ids, _ := scanAll(t, tb2, nil)
	require.Contains(t, ids, first)
	_, _, err = tb2.Append([][]byte{row(4)}, nil)
	require.NoError(t, err, "reopening clears the sticky error")
}

func TestNoSpaceFailsCleanly(t *testing.T) {
	for _, mode := range []PreallocMode{PreallocGrow, PreallocZeroFill, PreallocFallocate} {
		m := newMemFS(3)
		m.MkdirAll("/db")
		opts := Options{FS: m, SegmentSize: 64 << 10, NoBackground: true, Prealloc: mode}
		require.NoError(t, Create(testDir, opts))
		tb, err := Open(testDir, opts)
		require.NoError(t, err)
		var acked []uint64
		for i := 0; i < 10; i++ {
			id, _, err := tb.Append([][]byte{row(i)}, nil)
			require.NoError(t, err)
			acked = append(acked, id)
		}
		m.mu.Lock()
		m.capacity = m.used() + 100 // room for a little, not for a big statement
		m.mu.Unlock()
		big := make([][]byte, 50)
		for i := range big {
			big[i] = []byte("big-" + strings.Repeat("x", 2000)) // more than a segment
		}
		_, _, err = tb.Append(big, nil)
		require.ErrorIs(t, err, ErrNoSpace, "mode %d", mode)
		require.NotErrorIs(t, err, ErrIO)
		require.Equal(t, uint64(len(acked)), tb.Count())
		m.mu.Lock()
		m.capacity = 0
		m.mu.Unlock()
		// Not sticky: once space is back the table writes again.
		id, _, err := tb.Append([][]byte{row(2000)}, nil)
		require.NoError(t, err)
		acked = append(acked, id)
		m.Crash()
		tb2, err := Open(testDir, Options{FS: m, SegmentSize: 64 << 10, NoBackground: true, Prealloc: mode})
		require.NoError(t, err)
		ids, rows := scanAll(t, tb2, nil)
		for _, a := range acked {
			require.Contains(t, ids, a)
		}
		for _, r := range rows {
			require.NotContains(t, r, "big-", "rows of the failed statement must not appear")
		}
		tb2.Close()
		_ = tb.shutdown(false)
	}
}
