package core

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// inOrderTable has rows 1..8 (row i has id i) and the odd filter.
func inOrderTable(t *testing.T) (*Table, *Filter) {
	t.Helper()
	_, tb := newMemTable(t)
	for i := 1; i <= 8; i++ {
		_, _, err := tb.Append([][]byte{row(i)}, nil)
		require.NoError(t, err)
	}
	odd, err := tb.Filter("odd", func() (MatchFunc, error) {
		return func(p []byte) bool { return (p[len(p)-1]-'0')%2 == 1 }, nil
	})
	require.NoError(t, err)
	return tb, odd
}

func takeOne(t *testing.T, s *Session, specs []Spec) uint64 {
	t.Helper()
	idx, err := s.TryTake(specs)
	require.NoError(t, err)
	if idx < 0 {
		s.Leave()
		return 0
	}
	_, id := s.Owned()
	return id
}

// A connection of a relay that died still owns row 1 when the relay's new
// connection takes: an ordinary take passes row 1, an in-order take does
// not, and its wait gets row 1 when it is given back.
func TestInOrderTakeWaitsForOlderOwnedRow(t *testing.T) {
	tb, odd := inOrderTable(t)
	specs := []Spec{{Table: tb, Filter: odd}}
	dead := NewSession()
	require.Equal(t, uint64(1), takeOne(t, dead, specs))

	plain := NewSession()
	require.Equal(t, uint64(3), takeOne(t, plain, specs), "an ordinary take passes the owned row")
	require.True(t, plain.Release(false))

	relay := NewSession()
	relay.SetInOrder(true)
	require.Equal(t, uint64(0), takeOne(t, relay, specs), "row 1 is owned by another session")
	notified := make(chan struct{}, 1)
	idx, w, err := relay.Register(specs, func() { notified <- struct{}{} })
	require.NoError(t, err)
	require.Equal(t, -1, idx)
	require.NotNil(t, w)
	// An even row owned elsewhere does not hold the odd rows back, and
	// rows appended meanwhile do not pass row 1.
	even := NewSession()
	require.Equal(t, uint64(2), takeOne(t, even, []Spec{{Table: tb}}))
	_, _, err = tb.Append([][]byte{row(9)}, nil)
	require.NoError(t, err)
	require.Equal(t, -1, w.Result())

	require.True(t, dead.Release(true)) // the connection ends
	select {
	case <-notified:
	case <-time.After(5 * time.Second):
		t.Fatal("the in-order waiter was not woken by the release")
	}
	require.Equal(t, 0, w.Cancel())
	_, id := relay.Owned()
	require.Equal(t, uint64(1), id)
	require.NoError(t, relay.Consume())
	require.Equal(t, uint64(3), takeOne(t, relay, specs))
}

// An owned row removed by its owner (DELETE) wakes an in-order waiter it
// held back.
func TestInOrderWaiterWokenByOwnerRemoval(t *testing.T) {
	tb, odd := inOrderTable(t)
	specs := []Spec{{Table: tb, Filter: odd}}
	owner := NewSession()
	require.Equal(t, uint64(1), takeOne(t, owner, specs))
	relay := NewSession()
	relay.SetInOrder(true)
	notified := make(chan struct{}, 1)
	idx, w, err := relay.Register(specs, func() { notified <- struct{}{} })
	require.NoError(t, err)
	require.Equal(t, -1, idx)
	n, err := tb.Remove([]uint64{1})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	select {
	case <-notified:
	case <-time.After(5 * time.Second):
		t.Fatal("the in-order waiter was not woken by the removal")
	}
	require.Equal(t, 0, w.Cancel())
	_, id := relay.Owned()
	require.Equal(t, uint64(3), id)
}

// A row whose removal by Consume is in flight (owned by the placeholder)
// does not hold an in-order take back: it was delivered already.
func TestInOrderPassesRowsBeingConsumed(t *testing.T) {
	tb, odd := inOrderTable(t)
	specs := []Spec{{Table: tb, Filter: odd}}
	tb.mu.Lock()
	tb.owned[1] = &Session{consuming: true}
	tb.mu.Unlock()
	relay := NewSession()
	relay.SetInOrder(true)
	require.Equal(t, uint64(3), takeOne(t, relay, specs))
	require.NoError(t, relay.Consume())
	relay.SetInOrder(false)
	other := NewSession()
	require.Equal(t, uint64(5), takeOne(t, other, specs))
	require.Equal(t, uint64(7), takeOne(t, relay, specs), "not in order any more")
}
