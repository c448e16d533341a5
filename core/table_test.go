package core

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const testDir = "/db/t.queue"

func memOpts(m *memFS) Options {
	return Options{FS: m, SegmentSize: 4 << 10, NoBackground: true}
}

func newMemTable(t *testing.T) (*memFS, *Table) {
	t.Helper()
	return newMemTableWith(t, nil)
}

// newMemTableWith is newMemTable with memOpts changed by set (nil: none).
func newMemTableWith(t *testing.T, set func(*Options)) (*memFS, *Table) {
	t.Helper()
	m := newMemFS(1)
	m.MkdirAll("/db")
	opts := memOpts(m)
	if set != nil {
		set(&opts)
	}
	require.NoError(t, Create(testDir, opts))
	tb, err := Open(testDir, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tb.Close() })
	return m, tb
}

func row(i int) []byte { return []byte(fmt.Sprintf("row-%06d", i)) }

func scanAll(t *testing.T, tb *Table, s *Session) (ids []uint64, rows []string) {
	t.Helper()
	c := tb.Scan(s)
	defer c.Close()
	for {
		id, p, ok, err := c.Next(nil)
		require.NoError(t, err)
		if !ok {
			return ids, rows
		}
		ids = append(ids, id)
		rows = append(rows, string(p))
	}
}

func TestAppendGetScanReopen(t *testing.T) {
	m, tb := newMemTable(t)
	first, skipped, err := tb.Append([][]byte{row(1), row(2), row(3)}, nil)
	require.NoError(t, err)
	require.False(t, skipped)
	require.Equal(t, uint64(1), first)
	first, _, err = tb.Append([][]byte{row(4)}, nil)
	require.NoError(t, err)
	require.Equal(t, uint64(4), first)
	p, err := tb.Get(2, nil)
	require.NoError(t, err)
	require.Equal(t, row(2), p)
	_, err = tb.Get(9, nil)
	require.ErrorIs(t, err, ErrNotFound)
	require.Equal(t, uint64(4), tb.Count())

	ids, rows := scanAll(t, tb, nil)
	require.Equal(t, []uint64{1, 2, 3, 4}, ids)
	require.Equal(t, string(row(3)), rows[2])

	// Many rows across several segments, then reopen.
	for i := 5; i <= 400; i++ {
		_, _, err := tb.Append([][]byte{row(i)}, nil)
		require.NoError(t, err)
	}
	n, err := tb.Remove([]uint64{2, 3, 100})
	require.NoError(t, err)
	require.Equal(t, 3, n)
	require.Greater(t, tb.Stats().Segments, 1)
	require.NoError(t, tb.Close())
	m.Crash() // a crash after a clean close loses nothing

	tb, err = Open(testDir, memOpts(m))
	require.NoError(t, err)
	defer tb.Close()
	require.Equal(t, uint64(397), tb.Count())
	ids, _ = scanAll(t, tb, nil)
	require.Len(t, ids, 397)
	require.Equal(t, uint64(1), ids[0])
	require.Equal(t, uint64(4), ids[1])
	first, _, err = tb.Append([][]byte{row(401)}, nil)
	require.NoError(t, err)
	require.Equal(t, uint64(401), first)
	p, err = tb.Get(401, nil)
	require.NoError(t, err)
	require.Equal(t, row(401), p)
}

func TestRemoveIsIdempotent(t *testing.T) {
	_, tb := newMemTable(t)
	_, _, err := tb.Append([][]byte{row(1), row(2)}, nil)
	require.NoError(t, err)
	n, err := tb.Remove([]uint64{1, 1, 7})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	syncs := tb.Stats().Syncs
	n, err = tb.Remove([]uint64{1})
	require.NoError(t, err)
	require.Equal(t, 0, n)
	st := tb.Stats()
	require.Equal(t, uint64(1), st.RowsRemoved)
	require.Equal(t, syncs, st.Syncs, "a no-op removal writes nothing")
	require.Equal(t, uint64(1), tb.Count())
}

func TestRelayMarks(t *testing.T) {
	m, tb := newMemTable(t)
	_, skipped, err := tb.Append([][]byte{row(1)}, &Relay{Slot: 3, RowID: 10})
	require.NoError(t, err)
	require.False(t, skipped)
	_, skipped, err = tb.Append([][]byte{row(2)}, &Relay{Slot: 3, RowID: 10})
	require.NoError(t, err)
	require.True(t, skipped)
	_, skipped, err = tb.Append([][]byte{row(3)}, &Relay{Slot: 3, RowID: 5, Reset: true})
	require.NoError(t, err)
	require.False(t, skipped)
	require.Equal(t, uint64(5), tb.RelayMark(3))
	_, _, err = tb.Append([][]byte{row(3)}, &Relay{Slot: 64, RowID: 5})
	require.ErrorIs(t, err, ErrBadArgument)
	require.Equal(t, uint64(2), tb.Count())
	// Durable without a clean close.
	m.Crash()
	tb2, err := Open(testDir, memOpts(m))
	require.NoError(t, err)
	defer tb2.Close()
	require.Equal(t, uint64(5), tb2.RelayMark(3))
	require.Equal(t, uint64(2), tb2.Count())
}

func TestTooLarge(t *testing.T) {
	_, tb := newMemTable(t)
	_, _, err := tb.Append([][]byte{make([]byte, MaxRowSize+1)}, nil)
	require.ErrorIs(t, err, ErrTooLarge)
}

func TestTakeReleaseConsume(t *testing.T) {
	_, tb := newMemTable(t)
	for i := 1; i <= 5; i++ {
		_, _, err := tb.Append([][]byte{row(i)}, nil)
		require.NoError(t, err)
	}
	a, b := NewSession(), NewSession()
	spec := []Spec{{Table: tb}}
	idx, err := a.TryTake(spec)
	require.NoError(t, err)
	require.Equal(t, 0, idx)
	_, id := a.Owned()
	require.Equal(t, uint64(1), id)
	_, err = a.TryTake(spec)
	require.ErrorIs(t, err, ErrOwning)

	idx, err = b.TryTake(spec)
	require.NoError(t, err)
	require.Equal(t, 0, idx)
	_, id = b.Owned()
	require.Equal(t, uint64(2), id)

	// Visibility: owners see only their row, others see unowned rows.
	ids, _ := scanAll(t, tb, a)
	require.Equal(t, []uint64{1}, ids)
	ids, _ = scanAll(t, tb, nil)
	require.Equal(t, []uint64{3, 4, 5}, ids)

	// Release puts row 1 back first in line.
	require.True(t, a.Release(false))
	require.False(t, a.OwnerMode())
	c := NewSession()
	_, err = c.TryTake(spec)
	require.NoError(t, err)
	_, id = c.Owned()
	require.Equal(t, uint64(1), id)

	require.NoError(t, b.Consume())
	require.False(t, b.OwnerMode())
	_, err = tb.Get(2, nil)
	require.ErrorIs(t, err, ErrNotFound)
	st := tb.Stats()
	require.Equal(t, uint64(1), st.RestoredByAbort)
	require.Equal(t, uint64(3), st.WaitImmediate)
	require.Equal(t, uint64(4), tb.Count())

	// A removal by someone else makes the ownership inert.
	_, err = tb.Remove([]uint64{1})
	require.NoError(t, err)
	ot, _ := c.Owned()
	require.Nil(t, ot)
	require.True(t, c.OwnerMode())
	require.False(t, c.Release(false))
	require.Equal(t, uint64(1), tb.Stats().RestoredByAbort)

	// Nothing to take: owner mode anyway, scans show nothing.
	d := NewSession()
	for i := 0; i < 3; i++ {
		s := NewSession()
		idx, err := s.TryTake(spec)
		require.NoError(t, err)
		require.Equal(t, 0, idx)
	}
	idx, err = d.TryTake(spec)
	require.NoError(t, err)
	require.Equal(t, -1, idx)
	require.True(t, d.OwnerMode())
	ids, _ = scanAll(t, tb, d)
	require.Empty(t, ids)
}

func TestFilterTakeAndPriority(t *testing.T) {
	_, tb := newMemTable(t)
	_, tb2 := newMemTable(t)
	for i := 1; i <= 20; i++ {
		_, _, err := tb.Append([][]byte{row(i)}, nil)
		require.NoError(t, err)
	}
	compiled := 0
	even := func() (MatchFunc, error) {
		compiled++
		return func(p []byte) bool { return (p[len(p)-1]-'0')%2 == 0 }, nil
	}
	f, err := tb.Filter("even", even)
	require.NoError(t, err)
	f2, err := tb.Filter("even", even)
	require.NoError(t, err)
	require.Same(t, f, f2)
	require.Equal(t, 1, compiled)
	_, err = tb.Filter("bad", func() (MatchFunc, error) { return nil, errors.New("syntax") })
	require.Error(t, err)

	var got []uint64
	var sessions []*Session
	for i := 0; i < 10; i++ {
		s := NewSession()
		idx, err := s.TryTake([]Spec{{Table: tb2}, {Table: tb, Filter: f}})
		require.NoError(t, err)
		require.Equal(t, 1, idx)
		_, id := s.Owned()
		got = append(got, id)
		sessions = append(sessions, s)
	}
	require.Equal(t, []uint64{2, 4, 6, 8, 10, 12, 14, 16, 18, 20}, got)
	s := NewSession()
	idx, err := s.TryTake([]Spec{{Table: tb, Filter: f}})
	require.NoError(t, err)
	require.Equal(t, -1, idx)
	// Releasing row 6 makes it the next even row.
	require.True(t, sessions[2].Release(true))
	s = NewSession()
	idx, err = s.TryTake([]Spec{{Table: tb, Filter: f}})
	require.NoError(t, err)
	require.Equal(t, 0, idx)
	_, id := s.Owned()
	require.Equal(t, uint64(6), id)
	require.Equal(t, uint64(1), tb.Stats().RestoredByClose)
	// The match-all filter still starts at row 1.
	s = NewSession()
	_, err = s.TryTake([]Spec{{Table: tb}})
	require.NoError(t, err)
	_, id = s.Owned()
	require.Equal(t, uint64(1), id)
}

func TestDeleteInterlock(t *testing.T) {
	_, tb := newMemTable(t)
	_, _, err := tb.Append([][]byte{row(1)}, nil)
	require.NoError(t, err)
	tb.BeginDelete()
	tb.BeginDelete()
	s := NewSession()
	idx, err := s.TryTake([]Spec{{Table: tb}})
	require.NoError(t, err)
	require.Equal(t, -1, idx)
	s.Leave()
	notified := make(chan struct{}, 2)
	idx, w, err := s.Register([]Spec{{Table: tb}}, func() { notified <- struct{}{} })
	require.NoError(t, err)
	require.Equal(t, -1, idx)
	tb.EndDelete()
	require.Equal(t, -1, w.Result(), "one DELETE still runs")
	tb.EndDelete()
	require.Equal(t, 0, w.Result())
	<-notified
	require.Equal(t, 0, w.Cancel())
	require.Empty(t, notified, "notify runs once")
	_, id := s.Owned()
	require.Equal(t, uint64(1), id)
	require.Equal(t, uint64(1), tb.Stats().WaitDelayed)
}

func TestWaitersFIFOAndSpecOrder(t *testing.T) {
	_, tb := newMemTable(t)
	odd, err := tb.Filter("odd", func() (MatchFunc, error) {
		return func(p []byte) bool { return (p[len(p)-1]-'0')%2 == 1 }, nil
	})
	require.NoError(t, err)
	even, err := tb.Filter("even", func() (MatchFunc, error) {
		return func(p []byte) bool { return (p[len(p)-1]-'0')%2 == 0 }, nil
	})
	require.NoError(t, err)
	type reg struct {
		s *Session
		w *Waiter
		n chan struct{}
	}
	register := func(specs []Spec) reg {
		r := reg{s: NewSession(), n: make(chan struct{}, 2)}
		idx, w, err := r.s.Register(specs, func() { r.n <- struct{}{} })
		require.NoError(t, err)
		require.Equal(t, -1, idx)
		r.w = w
		return r
	}
	w1 := register([]Spec{{Table: tb, Filter: odd}, {Table: tb, Filter: even}})
	w2 := register([]Spec{{Table: tb}})
	w3 := register([]Spec{{Table: tb, Filter: odd}})
	// One batch with an odd and an even row: w1 prefers odd (its spec
	// order) and gets row 3 even though row 2 is older; w2 gets row 2.
	_, _, err = tb.Append([][]byte{row(2), row(3)}, nil)
	require.NoError(t, err)
	<-w1.n
	<-w2.n
	require.Equal(t, 0, w1.w.Result())
	_, id := w1.s.Owned()
	require.Equal(t, uint64(2), id) // row(3) has id 2
	require.Equal(t, 0, w2.w.Result())
	_, id = w2.s.Owned()
	require.Equal(t, uint64(1), id)
	require.Equal(t, -1, w3.w.Result())
	require.Equal(t, -1, w3.w.Cancel())
	require.Equal(t, -1, w3.w.Cancel())
	_, _, err = tb.Append([][]byte{row(5)}, nil)
	require.NoError(t, err)
	select {
	case <-w3.n:
		t.Fatal("notify after Cancel")
	default:
	}
	// Release wakes a waiter.
	w4 := register([]Spec{{Table: tb, Filter: even}})
	require.True(t, w2.s.Release(false))
	<-w4.n
	_, id = w4.s.Owned()
	require.Equal(t, uint64(1), id)
}

func TestCloseTruncateWakeWaitersAndInertOwners(t *testing.T) {
	m, tb := newMemTable(t)
	_, _, err := tb.Append([][]byte{row(1), row(2)}, &Relay{Slot: 1, RowID: 7})
	require.NoError(t, err)
	owner := NewSession()
	_, err = owner.TryTake([]Spec{{Table: tb}})
	require.NoError(t, err)
	s2 := NewSession()
	_, err = s2.TryTake([]Spec{{Table: tb}})
	require.NoError(t, err)
	s2.Release(false)
	_, err = s2.TryTake([]Spec{{Table: tb}})
	require.NoError(t, err)
	require.NoError(t, s2.Consume())
	waiter := NewSession()
	fired := make(chan struct{}, 1)
	_, w, err := waiter.Register([]Spec{{Table: tb}}, func() { fired <- struct{}{} })
	require.NoError(t, err)

	require.NoError(t, tb.Truncate())
	<-fired
	require.Equal(t, -1, w.Result())
	ot, _ := owner.Owned()
	require.Nil(t, ot)
	require.NoError(t, owner.Consume())
	require.Equal(t, uint64(0), tb.Count())
	require.Equal(t, uint64(0), tb.RelayMark(1))
	first, _, err := tb.Append([][]byte{row(9)}, nil)
	require.NoError(t, err)
	require.Equal(t, uint64(1), first)

	// Truncate is durable.
	m.Crash()
	tb2, err := Open(testDir, memOpts(m))
	require.NoError(t, err)
	ids, rows := scanAll(t, tb2, nil)
	require.Equal(t, []uint64{1}, ids)
	require.Equal(t, string(row(9)), rows[0])
	require.Equal(t, uint64(0), tb2.RelayMark(1))

	// Close wakes waiters and makes owners inert.
	o := NewSession()
	_, err = o.TryTake([]Spec{{Table: tb2}})
	require.NoError(t, err)
	_, w, err = NewSession().Register([]Spec{{Table: tb2}}, func() { fired <- struct{}{} })
	require.NoError(t, err)
	require.NoError(t, tb2.Close())
	<-fired
	require.Equal(t, -1, w.Cancel())
	require.False(t, o.Release(true))
	require.NoError(t, o.Consume())
	_, _, err = tb2.Append([][]byte{row(1)}, nil)
	require.ErrorIs(t, err, ErrClosed)
}

func TestCreateDropRename(t *testing.T) {
	m := newMemFS(2)
	m.MkdirAll("/db")
	opts := memOpts(m)
	require.NoError(t, Create(testDir, opts))
	require.ErrorIs(t, Create(testDir, opts), ErrExists)
	_, err := Open("/db/missing.queue", opts)
	require.ErrorIs(t, err, ErrNotFound)
	tb, err := Open(testDir, opts)
	require.NoError(t, err)
	_, _, err = tb.Append([][]byte{row(1)}, nil)
	require.NoError(t, err)
	require.NoError(t, tb.Rename("/db/u.queue"))
	require.Equal(t, "/db/u.queue", tb.Dir())
	for i := 2; i < 200; i++ { // rotates segments in the new directory
		_, _, err = tb.Append([][]byte{row(i)}, nil)
		require.NoError(t, err)
	}
	m.Crash()
	ok, _ := m.Exists(testDir)
	require.False(t, ok)
	tb, err = Open("/db/u.queue", opts)
	require.NoError(t, err)
	require.Equal(t, uint64(199), tb.Count())
	require.NoError(t, tb.Drop())
	m.Crash()
	ok, _ = m.Exists("/db/u.queue")
	require.False(t, ok)
	require.NoError(t, Destroy("/db/u.queue", opts))
}

func TestConcurrentAppendersShareSyncs(t *testing.T) {
	fs, tb := newMemTable(t)
	var wg sync.WaitGroup
	const n, per = 16, 50
	// Hold the first sync until the other appenders have queued behind it,
	// so the next batch must carry them all, however the goroutines are
	// scheduled (the in-memory sync is otherwise instant).
	var held sync.Once
	fs.mu.Lock()
	fs.failSync = func(string) error {
		held.Do(func() {
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
				tb.cmu.Lock()
				queued := len(tb.pending)
				tb.cmu.Unlock()
				if queued >= n-1 {
					return
				}
				time.Sleep(time.Millisecond)
			}
		})
		return nil
	}
	fs.mu.Unlock()
	ids := make([][]uint64, n)
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				id, _, err := tb.Append([][]byte{row(g*1000 + i), row(g*1000 + i)}, nil)
				if err != nil {
					t.Error(err)
					return
				}
				ids[g] = append(ids[g], id)
			}
		}(g)
	}
	wg.Wait()
	seen := map[uint64]bool{}
	for g := range ids {
		for _, id := range ids[g] {
			require.False(t, seen[id])
			seen[id] = true
			a, _ := tb.Get(id, nil)
			b, _ := tb.Get(id+1, nil)
			require.True(t, bytes.Equal(a, b), "rows of one append are adjacent")
		}
	}
	require.Equal(t, uint64(2*n*per), tb.Count())
	require.Less(t, tb.Stats().Syncs, uint64(n*per))
}

func TestPanickingFilterIsNoMatch(t *testing.T) {
	_, tb := newMemTable(t)
	f, err := tb.Filter("boom", func() (MatchFunc, error) {
		return func(p []byte) bool { panic("bad filter") }, nil
	})
	require.NoError(t, err)
	s := NewSession()
	fired := make(chan struct{}, 1)
	_, w, err := s.Register([]Spec{{Table: tb, Filter: f}}, func() { fired <- struct{}{} })
	require.NoError(t, err)
	_, _, err = tb.Append([][]byte{row(1)}, nil) // the committer evaluates the filter
	require.NoError(t, err)
	require.Equal(t, -1, w.Cancel())
	s.Leave()
	idx, err := s.TryTake([]Spec{{Table: tb, Filter: f}, {Table: tb}})
	require.NoError(t, err)
	require.Equal(t, 1, idx)
	require.True(t, s.Release(false)) // release evaluates filters too
	require.Equal(t, uint64(1), tb.Count())
}

// Damage after recovery (a bad block while the table is open, or after a
// clean close whose checkpoint skips the rescan) is caught when the row is
// read: the row is refused with ErrCorrupt naming file and offset, never
// returned with wrong bytes, and the other rows stay readable.
func TestDamagedRowIsRefusedOnRead(t *testing.T) {
	tb, first, name, off := damageSecond(t)

	_, err := tb.Get(first+1, nil)
	require.ErrorIs(t, err, ErrCorrupt)
	require.Contains(t, err.Error(), name)
	require.Contains(t, err.Error(), fmt.Sprintf("offset %d", off))

	p, err := tb.Get(first, nil)
	require.NoError(t, err)
	require.Equal(t, "first-row", string(p))

	c := tb.Scan(nil)
	_, p, ok, err := c.Next(nil)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "first-row", string(p))
	_, _, _, err = c.Next(nil)
	require.ErrorIs(t, err, ErrCorrupt)
}

// The filter cache of a table is bounded, and a filter dropped from it while
// a consumer still uses it stays correct: a row released below its old
// position is still found (its scans start at the first row).
func TestFilterCacheIsBoundedAndEvictedFiltersStayCorrect(t *testing.T) {
	_, tb := newMemTable(t)
	for i := 1; i <= 3; i++ {
		_, _, err := tb.Append([][]byte{row(i)}, nil)
		require.NoError(t, err)
	}
	all := func() (MatchFunc, error) { return func([]byte) bool { return true }, nil }
	kept, err := tb.Filter("kept", all)
	require.NoError(t, err)

	owner := NewSession()
	idx, err := owner.TryTake([]Spec{{Table: tb, Filter: kept}})
	require.NoError(t, err)
	require.Equal(t, 0, idx)
	_, first := owner.Owned()

	for i := 0; i < 3*maxFilters; i++ {
		_, err := tb.Filter(fmt.Sprintf("t%d", i), all)
		require.NoError(t, err)
	}
	tb.mu.RLock()
	n := len(tb.filters)
	stillCached := tb.filters["kept"] == kept
	tb.mu.RUnlock()
	require.LessOrEqual(t, n, maxFilters+2)
	require.False(t, stillCached, "the first filter was evicted")

	owner.Release(false)
	other := NewSession()
	_, err = other.TryTake([]Spec{{Table: tb, Filter: kept}})
	require.NoError(t, err)
	_, got := other.Owned()
	require.Equal(t, first, got, "the released row is delivered first through the evicted filter")
}

// A rename ends the waits and ownerships on the table: waiters are woken
// with no row, owned rows go back to the queue and the owner's later
// Consume removes nothing; the owner epoch changes.
func TestRenameEndsWaitsAndOwnerships(t *testing.T) {
	m := newMemFS(2)
	m.MkdirAll("/db")
	opts := memOpts(m)
	require.NoError(t, Create(testDir, opts))
	tb, err := Open(testDir, opts)
	require.NoError(t, err)
	defer tb.Close()
	_, _, err = tb.Append([][]byte{row(1)}, nil)
	require.NoError(t, err)
	owner := NewSession()
	idx, err := owner.TryTake([]Spec{{Table: tb}})
	require.NoError(t, err)
	require.Equal(t, 0, idx)
	waiter := NewSession()
	fired := make(chan struct{}, 1)
	_, w, err := waiter.Register([]Spec{{Table: tb}}, func() { fired <- struct{}{} })
	require.NoError(t, err)
	epoch := tb.OwnerEpoch()

	require.NoError(t, tb.Rename("/db/u.queue"))
	<-fired
	require.Equal(t, -1, w.Cancel())
	require.True(t, w.Ended())
	require.NotEqual(t, epoch, tb.OwnerEpoch())
	ot, _ := owner.Owned()
	require.Nil(t, ot)
	require.NoError(t, owner.Consume())
	require.Equal(t, uint64(1), tb.Count())

	// The row is delivered again, under the new name.
	s := NewSession()
	idx, err = s.TryTake([]Spec{{Table: tb}})
	require.NoError(t, err)
	require.Equal(t, 0, idx)
	_, id := s.Owned()
	require.Equal(t, uint64(1), id)
	require.NoError(t, s.Consume())
	require.Equal(t, uint64(0), tb.Count())
}
