package core

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// damageSecond appends three rows, flips a byte of the second one's
// payload and returns the first id with the damaged row's file and offset.
func damageSecond(t *testing.T) (*Table, uint64, string, int64) {
	m, tb := newMemTable(t)
	first, _, err := tb.Append([][]byte{[]byte("first-row"), []byte("MARKER-TO-CORRUPT"), []byte("third-row")}, nil)
	require.NoError(t, err)
	tb.mu.RLock()
	seg, i, ok := tb.locateLocked(first + 1)
	require.True(t, ok)
	name, off := seg.name, int64(seg.offs[i])
	tb.mu.RUnlock()
	m.Corrupt(testDir+"/"+name, off+frameHeaderSize+rowBodyMin+3)
	return tb, first, name, off
}

// takeRead is what the engine does for a queue_wait: take a row and read
// it; a damaged one is skipped (SkipDamaged) and the next one taken.
func takeRead(t *testing.T, s *Session, specs []Spec) (id uint64, payload []byte) {
	t.Helper()
	for {
		idx, err := s.TryTake(specs)
		require.NoError(t, err)
		if idx < 0 {
			return 0, nil
		}
		tb, id := s.Owned()
		if p, ok := s.CopyTaken(tb, id, nil); ok {
			return id, p
		}
		p, err := tb.Get(id, nil)
		if s.SkipDamaged(err) {
			continue
		}
		require.NoError(t, err)
		return id, p
	}
}

// A damaged row is a poison message: the taker that reads it marks it
// damaged (SkipDamaged), so it is never handed out again while the table
// is open, abort or not; it is reported once to the session that met it
// and counted.
func TestTakeSkipsDamagedRow(t *testing.T) {
	tb, first, name, off := damageSecond(t)
	before := GlobalStats().CorruptSkipped
	specs := []Spec{{Table: tb}}

	s := NewSession()
	id, p := takeRead(t, s, specs)
	require.Equal(t, first, id)
	require.Equal(t, "first-row", string(p))
	require.Empty(t, s.TakeSkipped())
	require.NoError(t, s.Consume())

	id, p = takeRead(t, s, specs)
	require.Equal(t, first+2, id, "the damaged row is skipped")
	require.Equal(t, "third-row", string(p))
	skipped := s.TakeSkipped()
	require.Len(t, skipped, 1)
	require.ErrorIs(t, skipped[0], ErrCorrupt)
	require.Contains(t, skipped[0].Error(), name)
	require.Contains(t, skipped[0].Error(), fmt.Sprintf("offset %d", off))
	require.Empty(t, s.TakeSkipped(), "reported once")
	require.Equal(t, before+1, GlobalStats().CorruptSkipped)
	require.Equal(t, uint64(1), tb.Stats().CorruptSkipped)
	require.False(t, s.SkipDamaged(nil), "only ErrCorrupt is skipped")

	require.True(t, s.Release(false)) // abort: the good row comes back first
	other := NewSession()
	id, _ = takeRead(t, other, specs)
	require.Equal(t, first+2, id)
	require.NoError(t, other.Consume())

	id, _ = takeRead(t, other, specs)
	require.Zero(t, id, "the damaged row is never handed out")
	require.Empty(t, other.TakeSkipped(), "a known damaged row is not reported again")
	require.Equal(t, before+1, GlobalStats().CorruptSkipped)
	require.Equal(t, uint64(1), tb.Count(), "the damaged row stays until removed")

	require.NoError(t, tb.Truncate())
	require.Equal(t, uint64(0), tb.Count())
}

// A waiter woken by a commit skips a damaged row too, and a filtered take
// does.
func TestWakeAndFilterSkipDamagedRow(t *testing.T) {
	tb, first, _, _ := damageSecond(t)
	s := NewSession()
	idx, err := s.TryTake([]Spec{{Table: tb}})
	require.NoError(t, err)
	require.Equal(t, 0, idx)
	_, id := s.Owned()
	require.Equal(t, first, id)

	// Filtered: the filter reads the payload; the damaged row is skipped.
	f, err := tb.Filter("all", func() (MatchFunc, error) { return func([]byte) bool { return true }, nil })
	require.NoError(t, err)
	fs := NewSession()
	idx, err = fs.TryTake([]Spec{{Table: tb, Filter: f}})
	require.NoError(t, err)
	require.Equal(t, 0, idx)
	_, id = fs.Owned()
	require.Equal(t, first+2, id)
	p, ok := fs.CopyTaken(tb, id, nil)
	require.True(t, ok)
	require.Equal(t, "third-row", string(p))
	require.Len(t, fs.TakeSkipped(), 1)

	// A waiter with no row now; the abort of the first row wakes it.
	w2 := NewSession()
	fired := make(chan struct{}, 1)
	got, w, err := w2.Register([]Spec{{Table: tb}}, func() { fired <- struct{}{} })
	require.NoError(t, err)
	require.Equal(t, -1, got)
	require.NotNil(t, w)
	require.True(t, s.Release(false))
	<-fired
	require.Equal(t, 0, w.Cancel())
	_, id = w2.Owned()
	require.Equal(t, first, id)
	_, ok = w2.CopyTaken(tb, id, nil)
	require.False(t, ok, "an unfiltered take hands the row out unread")
}
