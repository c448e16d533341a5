package core

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// crashReopen simulates a power loss and opens the table again.
func crashReopen(t *testing.T, m *memFS) *Table {
	t.Helper()
	m.Crash()
	tb, err := Open(testDir, memOpts(m))
	require.NoError(t, err)
	t.Cleanup(func() { _ = tb.Close() })
	return tb
}

func takeNew(t *testing.T, tb *Table) (*Session, uint64) {
	t.Helper()
	s := NewSession()
	idx, err := s.TryTake([]Spec{{Table: tb}})
	require.NoError(t, err)
	if idx < 0 {
		return s, 0
	}
	_, id := s.Owned()
	return s, id
}

func TestTxnRowsInvisibleUntilCommit(t *testing.T) {
	m, tb := newMemTable(t)
	x := tb.Begin()
	require.NoError(t, x.Add([][]byte{row(1), row(2)}, 0))
	ids, _ := scanAll(t, tb, nil)
	require.Empty(t, ids)
	_, id := takeNew(t, tb)
	require.Zero(t, id, "an uncommitted row was delivered")
	require.NoError(t, x.Commit())
	ids, rows := scanAll(t, tb, nil)
	require.Equal(t, []uint64{1, 2}, ids)
	require.Equal(t, []string{string(row(1)), string(row(2))}, rows)
	tb2 := crashReopen(t, m)
	ids, _ = scanAll(t, tb2, nil)
	require.Equal(t, []uint64{1, 2}, ids)
}

func TestTxnRollbackWritesNothingAndReturnsHeldRows(t *testing.T) {
	m, tb := newMemTable(t)
	_, _, err := tb.Append([][]byte{row(1), row(2), row(3)}, nil)
	require.NoError(t, err)
	x := tb.Begin()
	require.NoError(t, x.Add([][]byte{row(9)}, 0))
	s, id := takeNew(t, tb)
	require.Equal(t, uint64(1), id)
	require.True(t, x.HoldOwned(s))
	require.False(t, s.OwnerMode())
	// The held row is delivered to nobody, shown by no scan.
	s2, id2 := takeNew(t, tb)
	require.Equal(t, uint64(2), id2)
	s2.Release(false)
	ids, _ := scanAll(t, tb, nil)
	require.Equal(t, []uint64{2, 3}, ids)
	require.NoError(t, x.Rollback())
	// Back at its position: delivered first.
	_, id = takeNew(t, tb)
	require.Equal(t, uint64(1), id)
	tb2 := crashReopen(t, m)
	ids, _ = scanAll(t, tb2, nil)
	require.Equal(t, []uint64{1, 2, 3}, ids)
}

func TestTxnCommitRemovesHeldRowsAtomicallyWithRows(t *testing.T) {
	m, tb := newMemTable(t)
	_, _, err := tb.Append([][]byte{row(1), row(2), row(3)}, nil)
	require.NoError(t, err)
	x := tb.Begin()
	s, id := takeNew(t, tb)
	require.True(t, x.HoldOwned(s))
	n, err := x.Hold([]uint64{id, 3, 77}, nil) // id already held: not twice
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.NoError(t, x.Add([][]byte{row(4)}, 0))
	require.NoError(t, x.Commit())
	ids, _ := scanAll(t, tb, nil)
	require.Equal(t, []uint64{2, 4}, ids)
	require.Equal(t, uint64(2), tb.Count())
	tb2 := crashReopen(t, m)
	ids, _ = scanAll(t, tb2, nil)
	require.Equal(t, []uint64{2, 4}, ids)
}

func TestTxnHoldLeavesRowsOwnedByOthers(t *testing.T) {
	_, tb := newMemTable(t)
	_, _, err := tb.Append([][]byte{row(1), row(2)}, nil)
	require.NoError(t, err)
	other, id := takeNew(t, tb)
	require.Equal(t, uint64(1), id)
	x := tb.Begin()
	n, err := x.Hold([]uint64{1, 2}, nil)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.NoError(t, x.Commit())
	ot, oid := other.Owned()
	require.Equal(t, tb, ot)
	require.Equal(t, uint64(1), oid)
	// The owner's own DELETE in a transaction takes the row from it.
	y := tb.Begin()
	epoch := tb.OwnerEpoch()
	n, err = y.Hold([]uint64{1}, other)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.NotEqual(t, epoch, tb.OwnerEpoch())
	ot, _ = other.Owned()
	require.Nil(t, ot)
	require.NoError(t, y.Commit())
	require.Zero(t, tb.Count())
}

func TestTxnSavepoint(t *testing.T) {
	_, tb := newMemTable(t)
	_, _, err := tb.Append([][]byte{row(1), row(2)}, nil)
	require.NoError(t, err)
	x := tb.Begin()
	require.NoError(t, x.Add([][]byte{row(10)}, 0))
	s, _ := takeNew(t, tb)
	require.True(t, x.HoldOwned(s))
	m := x.Mark()
	require.NoError(t, x.Add([][]byte{row(11)}, 0))
	s, id := takeNew(t, tb)
	require.Equal(t, uint64(2), id)
	require.True(t, x.HoldOwned(s))
	x.RollbackTo(m)
	// Row 2 is back; row 1 stays held.
	_, id = takeNew(t, tb)
	require.Equal(t, uint64(2), id)
	require.NoError(t, x.Commit())
	ids, rows := scanAll(t, tb, nil)
	require.Equal(t, []uint64{3}, ids)
	require.Equal(t, []string{string(row(10))}, rows)
}

func TestTxnSizeLimit(t *testing.T) {
	_, tb := newMemTable(t)
	x := tb.Begin()
	require.NoError(t, x.Add([][]byte{make([]byte, 100)}, 300))
	require.ErrorIs(t, x.Add([][]byte{make([]byte, 100), make([]byte, 100)}, 300), ErrTooLarge)
	require.NoError(t, x.Commit())
	require.Equal(t, uint64(1), tb.Count())
}

func TestTxnPrepareCommitAcrossCrash(t *testing.T) {
	for _, outcome := range []string{"commit", "rollback"} {
		t.Run(outcome, func(t *testing.T) {
			m, tb := newMemTable(t)
			_, _, err := tb.Append([][]byte{row(1), row(2)}, nil)
			require.NoError(t, err)
			x := tb.Begin()
			require.NoError(t, x.Add([][]byte{row(3), row(4)}, 0))
			s, id := takeNew(t, tb)
			require.Equal(t, uint64(1), id)
			require.True(t, x.HoldOwned(s))
			require.NoError(t, x.Prepare("xid-1"))
			require.Error(t, x.Add([][]byte{row(5)}, 0))
			// Prepared: nothing new visible, the removed row still held.
			ids, _ := scanAll(t, tb, nil)
			require.Equal(t, []uint64{2}, ids)

			tb2 := crashReopen(t, m)
			ids, _ = scanAll(t, tb2, nil)
			require.Equal(t, []uint64{2}, ids, "a prepared transaction is invisible after recovery")
			_, id = takeNew(t, tb2)
			require.Equal(t, uint64(2), id)
			px := tb2.PreparedTxns()
			require.Len(t, px, 1)
			require.Equal(t, "xid-1", px[0].XID())
			if outcome == "commit" {
				require.NoError(t, px[0].Commit())
			} else {
				require.NoError(t, px[0].Rollback())
			}
			require.Empty(t, tb2.PreparedTxns())
			want := []uint64{2, 3, 4}
			if outcome == "rollback" {
				want = []uint64{1, 2}
			}
			ids, _ = scanAll(t, tb2, NewSession())
			wantVisible := want[1:] // row 2 is owned by the take above
			if outcome == "rollback" {
				wantVisible = []uint64{1}
			}
			require.Equal(t, wantVisible, ids)

			tb3 := crashReopen(t, m)
			ids, _ = scanAll(t, tb3, nil)
			require.Equal(t, want, ids)
			require.Empty(t, tb3.PreparedTxns())
			require.Equal(t, uint64(len(want)), tb3.Count())
		})
	}
}

func TestTxnPreparedRowsDeliveredAfterCommitToWaitingFilter(t *testing.T) {
	_, tb := newMemTable(t)
	x := tb.Begin()
	require.NoError(t, x.Add([][]byte{row(1)}, 0))
	require.NoError(t, x.Prepare("x"))
	// A take that finds nothing moves the filter position past the
	// prepared row; the commit must move it back.
	_, id := takeNew(t, tb)
	require.Zero(t, id)
	_, _, err := tb.Append([][]byte{row(2)}, nil)
	require.NoError(t, err)
	require.NoError(t, x.Commit())
	_, id = takeNew(t, tb)
	require.Equal(t, uint64(1), id)
}

func TestTxnFramesSurviveCompaction(t *testing.T) {
	for _, resolve := range []bool{false, true} {
		t.Run(fmt.Sprintf("resolved=%v", resolve), func(t *testing.T) {
			m, tb := newMemTable(t)
			x := tb.Begin()
			require.NoError(t, x.Add([][]byte{row(0)}, 0))
			require.NoError(t, x.Prepare("early"))
			prepared, _ := scanAll(t, tb, nil)
			require.Empty(t, prepared)
			// Fill several segments and remove almost everything, so
			// compaction wants the segments around the PREPARE.
			var ids []uint64
			for i := 1; i <= 400; i++ {
				id, _, err := tb.Append([][]byte{row(i)}, nil)
				require.NoError(t, err)
				ids = append(ids, id)
			}
			if resolve {
				require.NoError(t, x.Commit())
			}
			for i := 1; i <= 400; i++ {
				id, _, err := tb.Append([][]byte{row(1000 + i)}, nil)
				require.NoError(t, err)
				ids = append(ids, id)
			}
			_, err := tb.Remove(ids)
			require.NoError(t, err)
			for i := 0; i < 5; i++ {
				require.NoError(t, tb.Compact())
			}
			tb2 := crashReopen(t, m)
			got, rows := scanAll(t, tb2, nil)
			if resolve {
				require.Equal(t, []uint64{1}, got)
				require.Equal(t, []string{string(row(0))}, rows)
				require.Empty(t, tb2.PreparedTxns())
			} else {
				require.Empty(t, got)
				px := tb2.PreparedTxns()
				require.Len(t, px, 1)
				require.NoError(t, px[0].Commit())
				got, _ = scanAll(t, tb2, nil)
				require.Equal(t, []uint64{1}, got)
			}
		})
	}
}

func TestTxnNoCheckpointWhilePrepared(t *testing.T) {
	m, tb := newMemTable(t)
	x := tb.Begin()
	require.NoError(t, x.Add([][]byte{row(1)}, 0))
	require.NoError(t, x.Prepare("p"))
	require.NoError(t, tb.Close())
	tb2, err := Open(testDir, memOpts(m))
	require.NoError(t, err)
	defer tb2.Close()
	require.Len(t, tb2.PreparedTxns(), 1)
	ids, _ := scanAll(t, tb2, nil)
	require.Empty(t, ids)
}

func TestTxnTruncateEndsPrepared(t *testing.T) {
	_, tb := newMemTable(t)
	x := tb.Begin()
	require.NoError(t, x.Add([][]byte{row(1)}, 0))
	require.NoError(t, x.Prepare("p"))
	require.NoError(t, tb.Truncate())
	require.Empty(t, tb.PreparedTxns())
	require.NoError(t, x.Commit()) // inert
	ids, _ := scanAll(t, tb, nil)
	require.Empty(t, ids)
}

func TestTxnCommitNoSyncIsDurableAfterSyncLazy(t *testing.T) {
	m, tb := newMemTable(t)
	x := tb.Begin()
	require.NoError(t, x.Add([][]byte{row(1)}, 0))
	require.NoError(t, x.Prepare("lazy"))
	syncs := tb.Stats().Syncs
	require.NoError(t, waitErr(x.CommitNoSyncAsync))
	require.Equal(t, syncs, tb.Stats().Syncs, "a lazy RESOLVE is not synced")
	ids, _ := scanAll(t, tb, nil)
	require.Equal(t, []uint64{1}, ids)
	require.NoError(t, tb.SyncLazy())
	require.Equal(t, syncs+1, tb.Stats().Syncs)
	tb2 := crashReopen(t, m)
	ids, _ = scanAll(t, tb2, nil)
	require.Equal(t, []uint64{1}, ids)
	require.Empty(t, tb2.PreparedTxns())
}

func TestTxnCommitNoSyncLostByPowerLossStaysPrepared(t *testing.T) {
	m, tb := newMemTable(t)
	x := tb.Begin()
	require.NoError(t, x.Add([][]byte{row(1)}, 0))
	require.NoError(t, x.Prepare("lazy"))
	require.NoError(t, waitErr(x.CommitNoSyncAsync))
	// Power loss before the commit checkpoint: the RESOLVE may be lost, the
	// transaction is then prepared again and the server's binary log
	// commits it; never half applied.
	tb2 := crashReopen(t, m)
	ids, _ := scanAll(t, tb2, nil)
	if len(ids) == 0 {
		px := tb2.PreparedTxns()
		require.Len(t, px, 1)
		require.NoError(t, px[0].Commit())
		ids, _ = scanAll(t, tb2, nil)
	}
	require.Equal(t, []uint64{1}, ids)
}

func TestTxnUnsyncedBatchSyncedBeforeRotation(t *testing.T) {
	m, tb := newMemTable(t)
	x := tb.Begin()
	require.NoError(t, x.Add([][]byte{row(1)}, 0))
	require.NoError(t, x.Prepare("lazy"))
	require.NoError(t, waitErr(x.CommitNoSyncAsync))
	// Fill past the segment size: the rotation syncs the lazy RESOLVE.
	for i := 2; i < 400; i++ {
		_, _, err := tb.Append([][]byte{row(i)}, nil)
		require.NoError(t, err)
	}
	tb2 := crashReopen(t, m)
	require.Empty(t, tb2.PreparedTxns())
	require.Equal(t, uint64(399), tb2.Count())
}
