package core

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// copyFixture is an ALTER in the making: q holds rows 1..5 (row 2 removed),
// alt holds their copies (new ids 1..4) and a session owns q's row 4.
func copyFixture(t *testing.T) (q, alt *Table, owner *Session, runs []CopyRun) {
	t.Helper()
	m := newMemFS(3)
	m.MkdirAll("/db")
	opts := memOpts(m)
	require.NoError(t, Create("/db/q.queue", opts))
	require.NoError(t, Create("/db/alt.queue", opts))
	q, err := Open("/db/q.queue", opts)
	require.NoError(t, err)
	alt, err = Open("/db/alt.queue", opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = q.Close(); _ = alt.Close() })
	for i := 1; i <= 5; i++ {
		_, _, err := q.Append([][]byte{row(i)}, nil)
		require.NoError(t, err)
	}
	_, err = q.Remove([]uint64{2})
	require.NoError(t, err)
	// take 1 and 3 and give them back: the owner gets 4
	owner = NewSession()
	other := NewSession()
	_, err = other.TryTake([]Spec{{Table: q}})
	require.NoError(t, err)
	_, err = owner.TryTake([]Spec{{Table: q}})
	require.NoError(t, err)
	other.Release(false)
	owner.Release(false)
	for _, s := range []*Session{other, NewSession(), owner} {
		_, err = s.TryTake([]Spec{{Table: q}})
		require.NoError(t, err)
	}
	_, id := owner.Owned()
	require.Equal(t, uint64(4), id)
	for _, i := range []int{1, 3, 4, 5} {
		_, _, err := alt.Append([][]byte{row(i)}, nil)
		require.NoError(t, err)
	}
	runs = []CopyRun{{Old: 1, New: 1, N: 1}, {Old: 3, New: 2, N: 3}}
	return q, alt, owner, runs
}

// The ALTER's renames: the owner of a copied row owns its copy, sees it
// and consumes it there; nobody else gets it.
func TestCopyMovesOwnershipOnRename(t *testing.T) {
	q, alt, owner, runs := copyFixture(t)
	require.NoError(t, q.SetCopy(alt, runs))
	epoch := alt.OwnerEpoch()
	require.NoError(t, q.Rename("/db/backup.queue"))
	ot, id := owner.Owned()
	require.Equal(t, alt, ot)
	require.Equal(t, uint64(3), id)
	require.NotEqual(t, epoch, alt.OwnerEpoch())
	// renamed to the name the owner knew: kept
	require.NoError(t, alt.Rename("/db/q.queue"))
	ot, id = owner.Owned()
	require.Equal(t, alt, ot)
	require.Equal(t, uint64(3), id)
	_, rows := scanAll(t, alt, owner)
	require.Equal(t, []string{string(row(4))}, rows)
	// the rows the fixture's other sessions own moved too: others take
	// only row 4, never the owner's row
	var got []uint64
	for {
		s := NewSession()
		idx, err := s.TryTake([]Spec{{Table: alt}})
		require.NoError(t, err)
		if idx < 0 {
			break
		}
		_, id := s.Owned()
		got = append(got, id)
	}
	require.Equal(t, []uint64{4}, got)
	require.NoError(t, owner.Consume())
	require.Equal(t, uint64(3), alt.Count())
	_, err := alt.Get(3, nil)
	require.Error(t, err)
}

// queue_abort (or a disconnect) after the ALTER returns the row to the copy.
func TestCopyMovedOwnershipReleasesIntoCopy(t *testing.T) {
	q, alt, owner, runs := copyFixture(t)
	require.NoError(t, q.SetCopy(alt, runs))
	require.NoError(t, q.Rename("/db/backup.queue"))
	require.NoError(t, alt.Rename("/db/q.queue"))
	require.True(t, owner.Release(true))
	s := NewSession()
	for i := 0; i < 3; i++ {
		idx, err := s.TryTake([]Spec{{Table: alt}})
		require.NoError(t, err)
		require.Equal(t, 0, idx)
		_, id := s.Owned()
		require.NoError(t, s.Consume())
		if id == 3 {
			return
		}
	}
	t.Fatal("the released row was not delivered from the copy")
}

// Without a copy record, or with a rename of the copy to another name, the
// ownership ends as for any rename (the row is delivered again).
func TestCopyOwnershipEndsOtherwise(t *testing.T) {
	q, alt, owner, runs := copyFixture(t)
	require.NoError(t, q.SetCopy(alt, runs))
	require.NoError(t, q.Rename("/db/backup.queue"))
	require.NoError(t, alt.Rename("/db/elsewhere.queue"))
	ot, _ := owner.Owned()
	require.Nil(t, ot)

	q2, alt2, owner2, _ := copyFixture(t)
	require.NoError(t, q2.Rename("/db/backup2.queue"))
	ot, _ = owner2.Owned()
	require.Nil(t, ot)
	require.NoError(t, alt2.Rename("/db/q2.queue"))
	ot, _ = owner2.Owned()
	require.Nil(t, ot)
}

// A row given back before the rename is not moved (the owner cleared it),
// and a bad copy record is refused.
func TestCopyReleasedBeforeRenameAndBadRuns(t *testing.T) {
	q, alt, owner, runs := copyFixture(t)
	require.ErrorIs(t, q.SetCopy(alt, []CopyRun{{Old: 1, New: 1, N: 2}, {Old: 2, New: 5, N: 1}}), ErrBadArgument)
	require.ErrorIs(t, q.SetCopy(q, runs), ErrBadArgument)
	require.NoError(t, q.SetCopy(alt, runs))
	require.True(t, owner.Release(false))
	require.NoError(t, q.Rename("/db/backup.queue"))
	ot, _ := owner.Owned()
	require.Nil(t, ot)
	alt.mu.RLock()
	s := alt.owned[3]
	alt.mu.RUnlock()
	require.Nil(t, s)
}
