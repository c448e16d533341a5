package core

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// appendOldCommitFrame appends a COMMIT frame as written before it
// carried a time.
func appendOldCommitFrame(dst []byte, n uint64, batchStart uint32) []byte {
	var b [commitBodyOld]byte
	copy(b[:], commitMagic)
	binary.LittleEndian.PutUint64(b[8:], n)
	binary.LittleEndian.PutUint32(b[16:], batchStart)
	return appendFrame(dst, recCommit, b[:])
}

// oldFormatSegment is a truncate segment seq holding row 1 ("old") as
// written before COMMIT frames carried a time.
func oldFormatSegment(seq uint64) []byte {
	var b []byte
	b = segmentHeader{seq: seq, base: 0, kind: kindTruncate, version: 1}.encode(b)
	st := stateRecord{nextRowID: 1}
	b = st.encode(b)
	b = appendRowFrame(b, 1, []byte("old"))
	return appendOldCommitFrame(b, 1, 0)
}

// testClock is a settable clock for Options.Now.
type testClock struct{ ms int64 }

func (c *testClock) now() int64 { return c.ms }

// The oldest live unowned row's enqueue time: owned rows are skipped,
// removed rows go, and the time survives a clean close (checkpoint), a
// replay (COMMIT frames) and a compaction (per-batch COMMIT times).
func TestOldestEnqueueTime(t *testing.T) {
	clk := &testClock{ms: 1_000_000}
	m, tb := newMemTableWith(t, func(o *Options) { o.Now = clk.now })
	require.Zero(t, tb.Stats().Oldest, "empty table")
	for i := 1; i <= 200; i++ {
		clk.ms += 300 // several batches per compactTimeGrain
		_, _, err := tb.Append([][]byte{row(i)}, nil)
		require.NoError(t, err)
	}
	require.Equal(t, int64(1_000_300), tb.Stats().Oldest)

	s := NewSession()
	_, err := s.TryTake([]Spec{{Table: tb}})
	require.NoError(t, err)
	require.Equal(t, int64(1_000_600), tb.Stats().Oldest, "the owned row is skipped")
	require.True(t, s.Release(false))
	require.Equal(t, int64(1_000_300), tb.Stats().Oldest, "released: queued again")

	// Remove rows 1..149 except row 100: compaction copies row 100 and the
	// rows after the removed range, with their times.
	var dead []uint64
	for id := uint64(1); id < 150; id++ {
		if id != 100 {
			dead = append(dead, id)
		}
	}
	_, err = tb.Remove(dead)
	require.NoError(t, err)
	require.Equal(t, int64(1_000_000+100*300), tb.Stats().Oldest)
	require.NoError(t, tb.Compact())
	require.Positive(t, tb.Stats().Compactions)
	require.Equal(t, int64(1_000_000+100*300), tb.Stats().Oldest)
	_, err = tb.Remove([]uint64{100})
	require.NoError(t, err)
	check := func(tb *Table) {
		t.Helper()
		// Row 150's time, or at most compactTimeGrain earlier when it
		// shares a compacted batch with older rows.
		got := tb.Stats().Oldest
		want := int64(1_000_000 + 150*300)
		require.LessOrEqual(t, got, want)
		require.Greater(t, got, want-compactTimeGrain)
		tb.mu.RLock()
		defer tb.mu.RUnlock()
		for _, seg := range tb.segs {
			for i := 0; i < seg.nrows(); i++ {
				w := int64(1_000_000 + 300*int64(seg.idAt(i)))
				require.LessOrEqual(t, seg.timeAt(i), w, "row %d", seg.idAt(i))
				require.Greater(t, seg.timeAt(i), w-compactTimeGrain, "row %d", seg.idAt(i))
			}
		}
	}
	require.NoError(t, tb.Compact())
	check(tb)

	require.NoError(t, tb.Close()) // checkpoint
	tb, err = Open(testDir, memOpts(m))
	require.NoError(t, err)
	require.Zero(t, tb.Stats().RecoveredBytes, "opened from the checkpoint")
	check(tb)
	require.NoError(t, tb.shutdown(false)) // no checkpoint: replay
	tb, err = Open(testDir, memOpts(m))
	require.NoError(t, err)
	require.Positive(t, tb.Stats().RecoveredBytes, "replayed")
	check(tb)
	require.NoError(t, tb.Close())
}

// A compacted segment has one COMMIT frame per grain of its rows' times,
// not one per source batch.
func TestCompactedBatchesFollowTimes(t *testing.T) {
	clk := &testClock{ms: 5_000_000}
	_, tb := newMemTableWith(t, func(o *Options) { o.Now = clk.now })
	defer tb.Close()
	for i := 1; i <= 300; i++ {
		if i%50 == 0 {
			clk.ms += 10_000
		}
		_, _, err := tb.Append([][]byte{row(i)}, nil)
		require.NoError(t, err)
	}
	var dead []uint64
	for id := uint64(1); id <= 300; id += 2 {
		dead = append(dead, id)
	}
	_, err := tb.Remove(dead)
	require.NoError(t, err)
	require.NoError(t, tb.Compact())
	tb.mu.RLock()
	defer tb.mu.RUnlock()
	c := tb.segs[0]
	require.Equal(t, kindCompacted, c.kind)
	require.Equal(t, uint64(len(c.bMs)), c.commits, "one COMMIT frame per time")
	require.LessOrEqual(t, len(c.bMs), 7)
	for i := 0; i < c.nrows(); i++ {
		id := c.idAt(i)
		require.Equal(t, int64(5_000_000+10_000*(int64(id)/50)), c.timeAt(i), "row %d", id)
	}
}

// Files written before COMMIT frames carried a time stay readable; their
// rows' time is unknown (0), and a checkpoint of a segment ending in such
// a frame is used.
func TestOldCommitFramesReadable(t *testing.T) {
	m := newMemFS(1)
	m.MkdirAll("/db")
	opts := memOpts(m)
	require.NoError(t, Create(testDir, opts))
	require.NoError(t, WriteFileAtomic(m, filepath.Join(testDir, segmentName(1)), oldFormatSegment(1)))

	tb, err := Open(testDir, opts)
	require.NoError(t, err)
	ids, rows := scanAll(t, tb, nil)
	require.Equal(t, []uint64{1}, ids)
	require.Equal(t, []string{"old"}, rows)
	require.Zero(t, tb.Stats().Oldest, "unknown time")
	require.NoError(t, tb.Close())
	tb, err = Open(testDir, opts)
	require.NoError(t, err)
	require.Zero(t, tb.Stats().RecoveredBytes, "the checkpoint of a segment ending in an old COMMIT frame is used")
	_, err = tb.Remove([]uint64{1})
	require.NoError(t, err)
	_, _, err = tb.Append([][]byte{[]byte("new")}, nil)
	require.NoError(t, err)
	require.Positive(t, tb.Stats().Oldest)
	// Nothing was appended to the version 1 file: an engine that knows
	// only version 1 refuses the table rather than misreading it.
	require.Equal(t, 2, tb.Stats().Segments)
	require.Equal(t, oldFormatSegment(1), m.snapshot()[filepath.Join(testDir, segmentName(1))])
	require.NoError(t, tb.Close())
	rep, err := Verify(m, testDir, CheckOptions{})
	require.NoError(t, err)
	require.Zero(t, rep.Errors(), problemsText(rep))
}

// Tuning: ranges are checked, and the live percentage and the segment
// size take effect on open tables.
func TestTuning(t *testing.T) {
	defer func() { require.NoError(t, SetTuning(DefaultTuning)) }()
	bad := []Tuning{
		{SegmentSize: MinSegmentSize - 1, CompactLivePercent: 50},
		{SegmentSize: MaxSegmentSize + 1, CompactLivePercent: 50},
		{SegmentSize: MinSegmentSize, CompactLivePercent: 0},
		{SegmentSize: MinSegmentSize, CompactLivePercent: 100},
		{SegmentSize: MinSegmentSize, CompactLivePercent: 50, CompactRest: -1},
		{SegmentSize: MinSegmentSize, CompactLivePercent: 50, CompactRest: 2 * time.Minute},
	}
	for _, tu := range bad {
		require.ErrorIs(t, SetTuning(tu), ErrBadArgument, "%+v", tu)
	}
	require.Equal(t, DefaultTuning, CurrentTuning())

	_, tb := newMemTableWith(t, func(o *Options) { o.SegmentSize = 0 })
	defer tb.Close()
	tu := DefaultTuning
	tu.SegmentSize = MinSegmentSize
	require.NoError(t, SetTuning(tu))
	p := make([]byte, 1000)
	for i := 0; i < 3000; i++ { // ~3 MiB
		_, _, err := tb.Append([][]byte{p}, nil)
		require.NoError(t, err)
	}
	require.GreaterOrEqual(t, tb.Stats().Segments, 3, "segments of the tuned size")
	// Remove 2 rows of 5: sealed segments are 60% live.
	var dead []uint64
	for id := uint64(1); id <= 3000; id++ {
		if id%5 < 2 {
			dead = append(dead, id)
		}
	}
	_, err := tb.Remove(dead)
	require.NoError(t, err)
	require.NoError(t, tb.Compact())
	require.Zero(t, tb.Stats().Compactions, "60% live: kept at 50")
	tu.CompactLivePercent = 70
	require.NoError(t, SetTuning(tu))
	require.NoError(t, tb.Compact())
	require.Positive(t, tb.Stats().Compactions, "60% live: compacted at 70")
}

// With syncs off, OSFS's Sync and SyncDir do not reach the system: they
// succeed even where the system call would fail.
func TestSyncOff(t *testing.T) {
	dir := t.TempDir()
	f, err := OSFS{}.Create(filepath.Join(dir, "f"))
	require.NoError(t, err)
	require.NoError(t, f.Sync())
	require.NoError(t, f.Close())
	require.Error(t, f.Sync(), "a closed file cannot be synced")
	require.Error(t, OSFS{}.SyncDir(filepath.Join(dir, "missing")))

	SetSyncOff(true)
	defer SetSyncOff(false)
	require.True(t, SyncOff())
	require.NoError(t, f.Sync(), "skipped")
	require.NoError(t, OSFS{}.SyncDir(filepath.Join(dir, "missing")), "skipped")

	// The files are the same: a table written without syncs reopens.
	tdir := filepath.Join(dir, "t.queue")
	require.NoError(t, Create(tdir, Options{}))
	tb, err := Open(tdir, Options{})
	require.NoError(t, err)
	_, _, err = tb.Append([][]byte{[]byte("x")}, nil)
	require.NoError(t, err)
	require.NoError(t, tb.Close())
	SetSyncOff(false)
	tb, err = Open(tdir, Options{})
	require.NoError(t, err)
	ids, _ := scanAll(t, tb, nil)
	require.Equal(t, []uint64{1}, ids)
	require.NoError(t, tb.Close())
	_, err = os.Stat(tdir)
	require.NoError(t, err)
}

// A prepared transaction's rows do not count until it commits; then they
// carry the time of the PREPARE.
func TestOldestWithPreparedRows(t *testing.T) {
	clk := &testClock{ms: 2_000_000}
	_, tb := newMemTableWith(t, func(o *Options) { o.Now = clk.now })
	defer tb.Close()
	x := tb.Begin()
	require.NoError(t, x.Add([][]byte{row(1)}, 0))
	require.NoError(t, x.Prepare("xid-1"))
	require.Zero(t, tb.Stats().Oldest, "prepared rows are not queued yet")
	clk.ms += 5000
	_, _, err := tb.Append([][]byte{row(2)}, nil)
	require.NoError(t, err)
	require.Equal(t, int64(2_005_000), tb.Stats().Oldest)
	clk.ms += 5000
	require.NoError(t, x.Commit())
	require.Equal(t, int64(2_000_000), tb.Stats().Oldest, "the time of the PREPARE")
}
