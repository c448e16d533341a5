package core

import (
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// Both committer modes give every request its own result, exactly once,
// under concurrent appends and removals, and what was acknowledged
// survives a reopen. In CommitLead the requests of an idle table commit on
// their own goroutine and the rest go to the committer goroutine, so this
// runs both paths and their hand-over.
func TestCommitterModes(t *testing.T) {
	for _, mode := range []CommitterMode{CommitLead, CommitGoroutine} {
		t.Run([]string{"lead", "goroutine"}[mode], func(t *testing.T) {
			m, tb := newMemTableWith(t, func(o *Options) { o.Committer = mode })

			const workers, each = 8, 100
			var mu sync.Mutex
			ids := map[uint64]bool{}
			var wg sync.WaitGroup
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					for i := 0; i < each; i++ {
						id, _, err := tb.Append([][]byte{row(w*each + i)}, nil)
						require.NoError(t, err)
						mu.Lock()
						require.False(t, ids[id], "id %d given twice", id)
						ids[id] = true
						mu.Unlock()
						if i%2 == 0 {
							n, err := tb.Remove([]uint64{id})
							require.NoError(t, err)
							require.Equal(t, 1, n)
						}
					}
				}(w)
			}
			wg.Wait()
			require.Len(t, ids, workers*each)
			require.Equal(t, uint64(workers*each/2), tb.Count())
			// A lone request on the idle table.
			_, _, err := tb.Append([][]byte{row(-1)}, nil)
			require.NoError(t, err)
			require.NoError(t, tb.Close())

			opts := memOpts(m)
			opts.Committer = mode
			tb, err = Open(testDir, opts)
			require.NoError(t, err)
			defer tb.Close()
			require.Equal(t, uint64(workers*each/2+1), tb.Count())
		})
	}
}

// ranOnCommitter reports whether the calling goroutine is a table's
// committer goroutine (otherwise, in a done function, a leader's).
func ranOnCommitter() bool {
	buf := make([]byte, 64<<10)
	return strings.Contains(string(buf[:runtime.Stack(buf, false)]), ".commitLoop(")
}

// With CommitLead, a request that finds the table idle commits on its own
// goroutine only after leadAfterLone batches of one request in a row: one
// connection at a time then pays no hand-off, while several keep the
// committer goroutine (a leader would hold its server thread through the
// sync and split the batches). A batch of several requests sends requests
// back to the committer until lone batches come again.
func TestLeadOnlyAfterLoneBatches(t *testing.T) {
	m := newMemFS(1)
	m.MkdirAll("/db")
	opts := Options{FS: m, SegmentSize: 8 << 20, NoBackground: true, Committer: CommitLead}
	require.NoError(t, Create(testDir, opts))
	var holdSyncs atomic.Bool
	g := newGatedFS(m, func(p []byte, off int64, sync bool) bool { return sync && holdSyncs.Load() })
	opts.FS = g
	tb, err := Open(testDir, opts)
	require.NoError(t, err)
	defer func() {
		g.open()
		require.NoError(t, tb.Close())
	}()

	// submit queues one row; its channel tells where it was committed.
	submit := func() chan bool {
		where := make(chan bool, 1)
		_, err := tb.AppendAsync([][]byte{row(1)}, nil, func(p Pending) { where <- ranOnCommitter() })
		require.NoError(t, err)
		return where
	}
	lone := func(what string) {
		for i := 0; i < leadAfterLone; i++ {
			require.True(t, <-submit(), "%s: request %d led before %d lone batches", what, i, leadAfterLone)
		}
		for i := 0; i < 2; i++ {
			require.False(t, <-submit(), "%s: a request after %d lone batches did not lead", what, leadAfterLone)
		}
	}
	lone("new table")

	// Hold the next leader in its sync; two requests queue meanwhile and
	// are committed as one batch by the committer.
	holdSyncs.Store(true)
	leader := make(chan chan bool, 1)
	go func() {
		where := make(chan bool, 1)
		_, err := tb.AppendAsync([][]byte{row(2)}, nil, func(p Pending) { where <- ranOnCommitter() })
		if err != nil {
			where <- true
		}
		leader <- where
	}()
	<-g.held
	holdSyncs.Store(false)
	a, b := submit(), submit()
	g.open()
	require.False(t, <-<-leader, "the held request was not a leader")
	require.True(t, <-a)
	require.True(t, <-b)
	lone("after a batch of two")
}
