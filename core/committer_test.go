package core

import (
	"sync"
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
