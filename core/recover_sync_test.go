package core

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// killedOpts: grow mode, so a batch is one write and one sync.
func killedOpts(m *memFS) Options {
	return Options{FS: m.View(), SegmentSize: 1024, NoBackground: true, Prealloc: PreallocGrow}
}

// afterKill kills the process at the first sync that killAt selects
// (before it runs), reopens, appends n acknowledged rows, loses power
// (every unsynced change lost) and returns whether those rows survived.
func afterKill(t *testing.T, killAt func(name string, size int64) bool, n int) bool {
	m := newMemFS(1)
	m.MkdirAll("/db")
	require.NoError(t, Create(testDir, Options{FS: m}))
	tb, err := Open(testDir, killedOpts(m))
	require.NoError(t, err)
	m.mu.Lock()
	m.failSync = func(name string) error {
		var size int64
		if n := m.cur[name]; n != nil {
			size = int64(len(n.data))
		}
		if killAt(name, size) {
			m.gen++ // the process dies here (m.mu is held)
			return errCrashed
		}
		return nil
	}
	m.mu.Unlock()
	for i := 0; ; i++ {
		require.Less(t, i, 1000, "the injected sync failure never happened")
		if _, _, err := tb.Append([][]byte{row(i)}, nil); err != nil {
			break
		}
	}
	m.mu.Lock()
	m.failSync = nil
	m.mu.Unlock()
	_ = tb.Close()

	tb, err = Open(testDir, killedOpts(m))
	require.NoError(t, err)
	var ids []uint64
	for i := 0; i < n; i++ {
		id, _, err := tb.Append([][]byte{[]byte("acknowledged")}, nil)
		require.NoError(t, err)
		ids = append(ids, id)
	}
	m.mu.Lock()
	m.loseAll = true
	m.crashLocked()
	m.mu.Unlock()
	_ = tb.Close()

	tb, err = Open(testDir, killedOpts(m))
	require.NoError(t, err, "recovery after the power loss")
	defer tb.Close()
	for _, id := range ids {
		if p, err := tb.Get(id, nil); err != nil || string(p) != "acknowledged" {
			return false
		}
	}
	return true
}

// A process dies after creating the next log segment but before the
// directory sync. The next process adopts the segment and appends to it:
// its directory entry must be made durable before that is acknowledged.
func TestRecoverySyncsDirectoryOfAdoptedSegment(t *testing.T) {
	ok := afterKill(t, func(name string, _ int64) bool { return name == testDir }, 1)
	require.True(t, ok, "row acknowledged after recovery lost with the adopted segment's directory entry")
}

// A process dies after writing a batch but before its fdatasync. The next
// process sees the batch and goes on, into the next segment: the batch must
// be made durable first, or losing it later breaks the chain of segments
// (the next one's STATE counts its commits).
func TestRecoverySyncsAdoptedActiveSegment(t *testing.T) {
	ok := afterKill(t, func(name string, size int64) bool {
		// the last batch that fits in the segment: the next one rotates
		return name != testDir && size > 1024-60
	}, 40)
	require.True(t, ok, "row acknowledged after recovery lost behind an unsynced batch")
}
