package core

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A row committed to a table after Register looked at it but before
// Register put the waiter on the table's list must still be handed to the
// waiter: the committer's wake must not skip the table as "no waiters".
func TestRegisterNoLostWakeupDuringRegistration(t *testing.T) {
	m, empty := newMemTable(t)
	const otherDir = "/db/other.queue"
	require.NoError(t, Create(otherDir, memOpts(m)))
	slow, err := Open(otherDir, memOpts(m))
	require.NoError(t, err)
	t.Cleanup(func() { _ = slow.Close() })

	// slow holds one row its filter rejects; the filter blocks until told,
	// which holds Register between looking at empty and registering.
	_, _, err = slow.Append([][]byte{[]byte("x")}, nil)
	require.NoError(t, err)
	entered := make(chan struct{})
	proceed := make(chan struct{})
	f, err := slow.Filter("block", func() (MatchFunc, error) {
		return func([]byte) bool {
			close(entered)
			<-proceed
			return false
		}, nil
	})
	require.NoError(t, err)

	s := NewSession()
	notified := make(chan struct{}, 1)
	type res struct {
		idx int
		w   *Waiter
		err error
	}
	done := make(chan res, 1)
	go func() {
		idx, w, err := s.Register([]Spec{{Table: empty}, {Table: slow, Filter: f}},
			func() { notified <- struct{}{} })
		done <- res{idx, w, err}
	}()
	<-entered // empty was found empty; the waiter is not registered yet
	_, _, err = empty.Append([][]byte{row(1)}, nil)
	require.NoError(t, err)
	close(proceed)
	r := <-done
	require.NoError(t, r.err)
	if r.idx == 0 {
		return // took the row at once: also correct
	}
	require.Equal(t, -1, r.idx)
	select {
	case <-notified:
	case <-time.After(3 * time.Second):
		r.w.Cancel()
		t.Fatal("a row committed during registration was not handed to the waiter")
	}
	require.Equal(t, 0, r.w.Cancel())
	ot, id := s.Owned()
	require.Equal(t, empty, ot)
	require.Equal(t, uint64(1), id)
}

// Truncate of a closed table is refused without leaving a lock held.
func TestTruncateClosedTable(t *testing.T) {
	m := newMemFS(1)
	m.MkdirAll("/db")
	require.NoError(t, Create(testDir, memOpts(m)))
	tb, err := Open(testDir, memOpts(m))
	require.NoError(t, err)
	require.NoError(t, tb.Close())
	require.ErrorIs(t, tb.Truncate(), ErrClosed)
	done := make(chan error, 1)
	go func() { done <- tb.Close() }()
	select {
	case err := <-done:
		require.ErrorIs(t, err, ErrClosed)
	case <-time.After(3 * time.Second):
		t.Fatal("the table's lock is still held after Truncate")
	}
}
