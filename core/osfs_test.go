package core

import (
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOSFSRoundTrip(t *testing.T) {
	for _, mode := range []PreallocMode{PreallocZeroFill, PreallocFallocate, PreallocGrow} {
		t.Run(fmt.Sprint(mode), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "t.queue")
			opts := Options{SegmentSize: 64 << 10, Prealloc: mode}
			require.NoError(t, Create(dir, opts))
			tb, err := Open(dir, opts)
			require.NoError(t, err)
			for i := 1; i <= 2000; i++ {
				_, _, err := tb.Append([][]byte{row(i)}, nil)
				require.NoError(t, err)
			}
			_, err = tb.Remove([]uint64{1, 5})
			require.NoError(t, err)
			require.NoError(t, tb.Close())
			tb, err = Open(dir, opts)
			require.NoError(t, err)
			require.Equal(t, uint64(1998), tb.Count())
			p, err := tb.Get(2000, nil)
			require.NoError(t, err)
			require.Equal(t, row(2000), p)
			first, _, err := tb.Append([][]byte{row(2001)}, nil)
			require.NoError(t, err)
			require.Equal(t, uint64(2001), first)
			require.NoError(t, tb.Drop())
			require.NoDirExists(t, dir)
		})
	}
}

// TestCancelNeverRacesNotify: after Cancel returns, notify is not running
// and is never called again, while commits hand rows to waiters.
func TestCancelNeverRacesNotify(t *testing.T) {
	_, tb := newMemTable(t)
	var wg, appender sync.WaitGroup
	stop := make(chan struct{})
	appender.Add(1)
	go func() {
		defer appender.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_, _, _ = tb.Append([][]byte{row(i)}, nil)
		}
	}()
	var violations atomic.Int32
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				s := NewSession()
				var cancelled atomic.Bool
				var inNotify atomic.Int32
				idx, w, err := s.Register([]Spec{{Table: tb}}, func() {
					inNotify.Add(1)
					if cancelled.Load() {
						violations.Add(1)
					}
					inNotify.Add(-1)
				})
				if err != nil {
					t.Error(err)
					return
				}
				if w != nil {
					idx = w.Cancel()
					cancelled.Store(true)
					if inNotify.Load() != 0 {
						violations.Add(1)
					}
				}
				if idx >= 0 {
					require.NoError(t, s.Consume())
				} else {
					s.Leave()
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	appender.Wait()
	require.Zero(t, violations.Load())
}
