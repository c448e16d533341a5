package core

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The first open of a new table and an open after a clean close are not
// recoveries; an open after a crash is, with the bytes it cut.
func TestRecoveryInfo(t *testing.T) {
	m, tb := newMemTable(t)
	require.False(t, tb.Recovery().Replayed, "first open of a new table")
	_, _, err := tb.Append([][]byte{row(1), row(2)}, nil)
	require.NoError(t, err)
	require.NoError(t, tb.Close())
	tb, err = Open(testDir, memOpts(m))
	require.NoError(t, err)
	require.False(t, tb.Recovery().Replayed, "clean close")
	tb.mu.RLock()
	last := tb.segs[len(tb.segs)-1]
	name, end := filepath.Join(testDir, last.name), last.end
	tb.mu.RUnlock()
	require.NoError(t, tb.shutdown(false)) // a crash: no checkpoint
	f, err := m.OpenRW(name)
	require.NoError(t, err)
	size, err := f.Size()
	require.NoError(t, err)
	_, err = f.WriteAt([]byte("garbage"), size)
	require.NoError(t, err)
	require.NoError(t, f.Sync())
	tb, err = Open(testDir, memOpts(m))
	require.NoError(t, err)
	r := tb.Recovery()
	require.True(t, r.Replayed)
	require.Equal(t, uint64(2), r.Rows)
	require.Equal(t, size+7-end, r.BytesTruncated)
	require.NoError(t, tb.Close())
}

// The background compaction reports each compaction it did, with the
// bytes before and after.
func TestOnCompactionReports(t *testing.T) {
	got := make(chan CompactionInfo, 16)
	_, tb := newMemTableWith(t, func(o *Options) {
		o.NoBackground = false
		o.OnCompaction = func(ci CompactionInfo) { got <- ci }
	})
	var ids []uint64
	for i := 0; i < 60; i++ {
		id, _, err := tb.Append([][]byte{make([]byte, 200)}, nil)
		require.NoError(t, err)
		ids = append(ids, id)
	}
	_, err := tb.Remove(ids[:55])
	require.NoError(t, err)
	select {
	case ci := <-got:
		require.NoError(t, ci.Err)
		require.Less(t, ci.BytesAfter, ci.BytesBefore)
	case <-time.After(10 * time.Second):
		t.Fatal("no compaction reported")
	}
	require.NoError(t, tb.Close())
}
