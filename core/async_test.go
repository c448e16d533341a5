package core

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// asyncDone records the Pending that done was given and how often it ran.
type asyncDone struct {
	calls atomic.Int32
	got   chan Pending
}

func newAsyncDone() *asyncDone { return &asyncDone{got: make(chan Pending, 4)} }

func (d *asyncDone) done(p Pending) {
	d.calls.Add(1)
	d.got <- p
}

func TestAppendAsyncCompletesOnce(t *testing.T) {
	_, tb := newMemTable(t)
	d := newAsyncDone()
	p, err := tb.AppendAsync([][]byte{row(1), row(2)}, nil, d.done)
	require.NoError(t, err)
	require.NotNil(t, p)
	got := <-d.got
	require.True(t, got.Done())
	require.True(t, p.Done())
	require.NoError(t, got.Err())
	require.Equal(t, uint64(1), got.FirstID())
	require.Equal(t, uint64(2), tb.Count())

	// Immediate results: done is never called.
	p, err = tb.AppendAsync(nil, nil, d.done)
	require.NoError(t, err)
	require.Nil(t, p)
	p, err = tb.AppendAsync([][]byte{make([]byte, MaxRowSize+1)}, nil, d.done)
	require.ErrorIs(t, err, ErrTooLarge)
	require.Nil(t, p)
	p, err = tb.RemoveAsync(nil, d.done)
	require.NoError(t, err)
	require.Nil(t, p)

	p, err = tb.RemoveAsync([]uint64{1, 99}, d.done)
	require.NoError(t, err)
	got = <-d.got
	require.NoError(t, got.Err())
	require.Equal(t, 1, got.Removed())
	require.Equal(t, int32(2), d.calls.Load())
}

// A panicking done function neither stops the committer nor keeps the other
// requests of its batch from completing.
func TestAsyncDonePanicKeepsCommitter(t *testing.T) {
	_, tb := newMemTable(t)
	_, err := tb.AppendAsync([][]byte{row(1)}, nil, func(Pending) { panic("done") })
	require.NoError(t, err)
	_, _, err = tb.Append([][]byte{row(2)}, nil)
	require.NoError(t, err)
	require.Equal(t, uint64(2), tb.Count())
}

// A failed sync completes every request with the error.
func TestAsyncFailureCompletes(t *testing.T) {
	m, tb := newMemTable(t)
	m.mu.Lock()
	m.failSync = func(string) error { return errors.New("disk gone") }
	m.mu.Unlock()
	d := newAsyncDone()
	_, err := tb.AppendAsync([][]byte{row(1)}, nil, d.done)
	require.NoError(t, err)
	got := <-d.got
	require.Error(t, got.Err())
}

// Requests queued before Close are all completed; after it they fail at once.
func TestAsyncCloseCompletesQueued(t *testing.T) {
	m := newMemFS(1)
	m.MkdirAll("/db")
	require.NoError(t, Create(testDir, memOpts(m)))
	tb, err := Open(testDir, memOpts(m))
	require.NoError(t, err)
	const n = 50
	var wg sync.WaitGroup
	wg.Add(n)
	queued := 0
	for i := 0; i < n; i++ {
		p, err := tb.AppendAsync([][]byte{row(i)}, nil, func(Pending) { wg.Done() })
		require.NoError(t, err)
		require.NotNil(t, p)
		queued++
	}
	require.NoError(t, tb.Close())
	wg.Wait()
	p, err := tb.AppendAsync([][]byte{row(0)}, nil, func(Pending) { t.Error("done after close") })
	require.ErrorIs(t, err, ErrClosed)
	require.Nil(t, p)
	require.Equal(t, n, queued)
}

func TestConsumeAsync(t *testing.T) {
	_, tb := newMemTable(t)
	_, _, err := tb.Append([][]byte{row(1), row(2)}, nil)
	require.NoError(t, err)
	s := NewSession()
	idx, err := s.TryTake([]Spec{{Table: tb}})
	require.NoError(t, err)
	require.Equal(t, 0, idx)
	d := newAsyncDone()
	p, err := s.ConsumeAsync(d.done)
	require.NoError(t, err)
	require.NotNil(t, p)
	require.False(t, s.OwnerMode(), "owner mode is left at once")
	// While the removal is in flight the row is nobody's to take: the next
	// take gets row 2, and another session gets nothing.
	idx, err = s.TryTake([]Spec{{Table: tb}})
	require.NoError(t, err)
	require.Equal(t, 0, idx)
	_, id := s.Owned()
	require.Equal(t, uint64(2), id)
	other := NewSession()
	idx, err = other.TryTake([]Spec{{Table: tb}})
	require.NoError(t, err)
	require.Equal(t, -1, idx)
	got := <-d.got
	require.NoError(t, got.Err())
	require.Equal(t, uint64(1), tb.Count())
	epoch := tb.OwnerEpoch()
	require.NoError(t, s.Consume())
	require.Equal(t, uint64(0), tb.Count())
	require.Equal(t, epoch, tb.OwnerEpoch(), "the owner's own consume keeps the epoch")
	// Owning nothing: finished at once.
	p, err = s.ConsumeAsync(d.done)
	require.NoError(t, err)
	require.Nil(t, p)
}

func TestConsumeAsyncFailureGivesRowBack(t *testing.T) {
	fs, tb := newMemTable(t)
	_, _, err := tb.Append([][]byte{row(1)}, nil)
	require.NoError(t, err)
	s := NewSession()
	idx, err := s.TryTake([]Spec{{Table: tb}})
	require.NoError(t, err)
	require.Equal(t, 0, idx)
	fs.mu.Lock()
	fs.failSync = func(string) error { return errors.New("disk gone") }
	fs.mu.Unlock()
	d := newAsyncDone()
	p, err := s.ConsumeAsync(d.done)
	require.NoError(t, err)
	require.NotNil(t, p)
	got := <-d.got
	require.Error(t, got.Err())
	// The row was not removed: it is in the queue again, unowned.
	require.Equal(t, uint64(1), tb.Count())
	other := NewSession()
	idx, err = other.TryTake([]Spec{{Table: tb}})
	require.NoError(t, err)
	require.Equal(t, 0, idx)
}

func TestOwnerEpochChangesWhenOthersRemoveAnOwnedRow(t *testing.T) {
	_, tb := newMemTable(t)
	_, _, err := tb.Append([][]byte{row(1)}, nil)
	require.NoError(t, err)
	s := NewSession()
	_, err = s.TryTake([]Spec{{Table: tb}})
	require.NoError(t, err)
	ot, id, epoch := s.OwnedAt()
	require.Equal(t, tb, ot)
	n, err := tb.Remove([]uint64{id})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.NotEqual(t, epoch, tb.OwnerEpoch())
	ot, _, _ = s.OwnedAt()
	require.Nil(t, ot)
}

func TestObserverSeesCommits(t *testing.T) {
	_, tb := newMemTable(t)
	var calls atomic.Int32
	tb.SetObserver(func() { calls.Add(1) })
	_, _, err := tb.Append([][]byte{row(1)}, nil)
	require.NoError(t, err)
	require.GreaterOrEqual(t, calls.Load(), int32(1))
	f := tb.Figures()
	require.Equal(t, uint64(1), f.LiveRows)
	require.NotZero(t, f.ID)
	require.NotZero(t, f.BytesTotal)
	require.Equal(t, uint64(len(row(1))), f.AvgRow, "mean payload of the live rows")
	before := calls.Load()
	require.NoError(t, tb.Truncate())
	require.Greater(t, calls.Load(), before)
	require.Equal(t, uint64(0), tb.Figures().LiveRows)
}

func TestConsumeAndTake(t *testing.T) {
	_, tb := newMemTable(t)
	_, other := newMemTable(t)
	_, _, err := tb.Append([][]byte{row(1), row(2), row(3)}, nil)
	require.NoError(t, err)
	s := NewSession()
	_, err = s.TryTake([]Spec{{Table: tb}})
	require.NoError(t, err)
	immediate := tb.Stats().WaitImmediate

	// A spec of the consumed row's table: row 1 is consumed and row 2
	// taken in the same call.
	d := newAsyncDone()
	p, took, err := s.ConsumeAndTake(&Spec{Table: tb}, d.done)
	require.NoError(t, err)
	require.NotNil(t, p)
	require.True(t, took)
	ot, id := s.Owned()
	require.Equal(t, tb, ot)
	require.Equal(t, uint64(2), id)
	require.True(t, s.OwnerMode())
	require.Equal(t, immediate+1, tb.Stats().WaitImmediate)
	got := <-d.got
	require.NoError(t, got.Err())
	require.Equal(t, uint64(2), tb.Count(), "row 1 removed, row 2 owned")

	// A filter that passes nothing: consumed, nothing taken, owner mode left.
	none, err := tb.Filter("none", func() (MatchFunc, error) {
		return func([]byte) bool { return false }, nil
	})
	require.NoError(t, err)
	p, took, err = s.ConsumeAndTake(&Spec{Table: tb, Filter: none}, d.done)
	require.NoError(t, err)
	require.NotNil(t, p)
	require.False(t, took)
	require.False(t, s.OwnerMode())
	got = <-d.got
	require.NoError(t, got.Err())

	// A spec of another table takes nothing there.
	_, err = s.TryTake([]Spec{{Table: tb}})
	require.NoError(t, err)
	_, _, err = other.Append([][]byte{row(9)}, nil)
	require.NoError(t, err)
	p, took, err = s.ConsumeAndTake(&Spec{Table: other}, d.done)
	require.NoError(t, err)
	require.NotNil(t, p)
	require.False(t, took)
	got = <-d.got
	require.NoError(t, got.Err())
	require.Equal(t, uint64(0), tb.Count())
	require.Equal(t, uint64(1), other.Count())

	// Owning nothing: nothing consumed, nothing taken.
	p, took, err = s.ConsumeAndTake(&Spec{Table: other}, d.done)
	require.NoError(t, err)
	require.Nil(t, p)
	require.False(t, took)
}

func TestConsumeAndTakeOnClosedTableOwnsNothing(t *testing.T) {
	_, tb := newMemTable(t)
	_, _, err := tb.Append([][]byte{row(1), row(2)}, nil)
	require.NoError(t, err)
	s := NewSession()
	_, err = s.TryTake([]Spec{{Table: tb}})
	require.NoError(t, err)
	require.NoError(t, tb.Close())
	p, took, err := s.ConsumeAndTake(&Spec{Table: tb}, func(Pending) { t.Error("done after close") })
	require.Nil(t, p)
	require.False(t, took)
	if err != nil {
		require.ErrorIs(t, err, ErrClosed)
	}
	require.False(t, s.OwnerMode())
}
