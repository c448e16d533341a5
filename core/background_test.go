package core

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A panic in a background compaction must not take the process (the
// server) down: it is an error of that compaction only.
func TestBackgroundCompactionPanicIsContained(t *testing.T) {
	m := newMemFS(1)
	m.MkdirAll("/db")
	opts := memOpts(m)
	opts.NoBackground = false
	require.NoError(t, Create(testDir, opts))
	tb, err := Open(testDir, opts)
	require.NoError(t, err)
	defer tb.Close()

	hit := make(chan struct{}, 1)
	compactTestHook = func(string) error {
		select {
		case hit <- struct{}{}:
		default:
		}
		panic("compaction failure")
	}
	defer func() { compactTestHook = nil }()
	want := fillAndRemove(t, tb, 600, func(id uint64) bool { return id <= 500 })
	select {
	case <-hit:
	case <-time.After(5 * time.Second):
		t.Fatal("no background compaction ran")
	}
	time.Sleep(50 * time.Millisecond)
	ids, _ := scanAll(t, tb, nil)
	require.Equal(t, want, ids)
}
