package core

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestConcurrentDeliveryExactlyOnce runs appenders, consumers (immediate
// takes and waits, some releases) and compaction at once: every row is
// consumed exactly once and the queue ends empty.
func TestConcurrentDeliveryExactlyOnce(t *testing.T) {
	m := newMemFS(5)
	m.MkdirAll("/db")
	opts := Options{FS: m, SegmentSize: 8 << 10}
	require.NoError(t, Create(testDir, opts))
	tb, err := Open(testDir, opts)
	require.NoError(t, err)
	defer tb.Close()

	const appenders, perAppender, consumers = 4, 250, 4
	total := appenders * perAppender * 2
	var consumed sync.Map
	var nconsumed atomic.Int64
	var producing sync.WaitGroup
	for a := 0; a < appenders; a++ {
		producing.Add(1)
		go func(a int) {
			defer producing.Done()
			for i := 0; i < perAppender; i++ {
				if _, _, err := tb.Append([][]byte{row(a*10000 + i), row(a*10000 + i)}, nil); err != nil {
					t.Error(err)
					return
				}
			}
		}(a)
	}
	stop := make(chan struct{})
	var compactor sync.WaitGroup
	compactor.Add(1)
	go func() {
		defer compactor.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				if err := tb.Compact(); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	var consuming sync.WaitGroup
	for c := 0; c < consumers; c++ {
		consuming.Add(1)
		go func(c int) {
			defer consuming.Done()
			s := NewSession()
			notified := make(chan struct{}, 1)
			releases := 0
			for nconsumed.Load() < int64(total) {
				idx, w, err := s.Register([]Spec{{Table: tb}}, func() { notified <- struct{}{} })
				if err != nil {
					t.Error(err)
					return
				}
				if w != nil {
					select {
					case <-notified:
					case <-time.After(20 * time.Millisecond):
					}
					idx = w.Cancel()
					select { // drain a notify that raced with the timeout
					case <-notified:
					default:
					}
				}
				if idx < 0 {
					s.Leave()
					continue
				}
				_, id := s.Owned()
				if id%7 == 0 && releases < 20 {
					releases++
					s.Release(false)
					continue
				}
				if err := s.Consume(); err != nil {
					t.Error(err)
					return
				}
				if _, dup := consumed.LoadOrStore(id, c); dup {
					t.Errorf("row %d consumed twice", id)
				}
				nconsumed.Add(1)
			}
		}(c)
	}
	producing.Wait()
	consuming.Wait()
	close(stop)
	compactor.Wait()
	require.Equal(t, int64(total), nconsumed.Load())
	require.Equal(t, uint64(0), tb.Count())
	for id := uint64(1); id <= uint64(total); id++ {
		_, ok := consumed.Load(id)
		require.True(t, ok, "row %d never delivered", id)
	}
	st := tb.Stats()
	require.Equal(t, uint64(total), st.RowsWritten)
	require.Equal(t, uint64(total), st.RowsRemoved)
	require.NotZero(t, st.Compactions)
	t.Logf("stats: %+v", st)
}
