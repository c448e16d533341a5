package core

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The process-wide counters add up every table's, and a table's figures
// include its owned rows, waiting sessions and last compaction.
func TestGlobalStatsAndFigures(t *testing.T) {
	_, tb := newMemTable(t)
	g0 := GlobalStats()
	require.Zero(t, tb.Stats().LastCompaction)
	fillAndRemove(t, tb, 600, func(id uint64) bool { return id%10 != 3 })
	g1 := GlobalStats()
	require.GreaterOrEqual(t, g1.RowsWritten-g0.RowsWritten, uint64(600))
	require.GreaterOrEqual(t, g1.RowsRemoved-g0.RowsRemoved, uint64(540))
	require.GreaterOrEqual(t, g1.AppendCommits-g0.AppendCommits, uint64(600))
	require.GreaterOrEqual(t, g1.RemoveCommits-g0.RemoveCommits, uint64(1))
	require.GreaterOrEqual(t, g1.Syncs-g0.Syncs, uint64(601))

	owner := NewSession()
	_, err := owner.TryTake([]Spec{{Table: tb}})
	require.NoError(t, err)
	require.Equal(t, uint64(1), tb.Stats().Owned)

	require.NoError(t, tb.Compact())
	st := tb.Stats()
	require.Greater(t, st.Compactions, uint64(0))
	require.Greater(t, st.LastCompaction, int64(0))
	require.GreaterOrEqual(t, GlobalStats().Compactions-g1.Compactions, st.Compactions)
	require.NoError(t, owner.Consume())
	require.Zero(t, tb.Stats().Owned)

	// A session waiting on the table once every row is consumed is counted.
	for {
		s := NewSession()
		idx, err := s.TryTake([]Spec{{Table: tb}})
		require.NoError(t, err)
		if idx < 0 {
			break
		}
		require.NoError(t, s.Consume())
	}
	w := NewSession()
	idx, waiter, err := w.Register([]Spec{{Table: tb}}, func() {})
	require.NoError(t, err)
	require.Equal(t, -1, idx)
	require.Equal(t, uint64(1), tb.Stats().Waiters)
	waiter.Cancel()
	w.Leave()
	require.Zero(t, tb.Stats().Waiters)
}
