package main

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/queue-engine/queue/core"
	"github.com/stretchr/testify/require"
)

// openLoop opens key over and over (as queue_wait, queue_stats and
// queue_compact do, without the server's metadata locks) until stop closes.
func openLoop(key string, stop chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	for {
		select {
		case <-stop:
			return
		default:
		}
		_, _ = openPath(key)
	}
}

// staleEntry reports whether the registry holds an open table for key whose
// directory does not exist (or is another directory).
func staleEntry(key string) bool {
	tablesMu.Lock()
	e := tables[key]
	tablesMu.Unlock()
	if e == nil {
		return false
	}
	<-e.ready
	if e.openErr != nil {
		return false
	}
	if e.t.Dir() != tableDir(key) {
		return true
	}
	_, err := os.Stat(tableDir(key))
	return errors.Is(err, os.ErrNotExist)
}

func forget(key string) {
	tablesMu.Lock()
	e := tables[key]
	delete(tables, key)
	tablesMu.Unlock()
	if e != nil && e.openErr == nil {
		_ = e.t.Close()
	}
}

// A table opened by a SQL function while DROP TABLE runs must not stay in
// the registry: a table created again under the name would get the old,
// deleted files and lose every row written to it.
func TestDropRacingOpenLeavesNoStaleTable(t *testing.T) {
	key := filepath.Join(t.TempDir(), "q")
	for i := 0; i < 100; i++ {
		require.NoError(t, core.Create(tableDir(key), core.Options{}))
		require.NoError(t, writeColumns(key, nil))
		_, err := openPath(key)
		require.NoError(t, err)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go openLoop(key, stop, &wg)
		require.NoError(t, dropTable(key))
		close(stop)
		wg.Wait()
		if staleEntry(key) {
			forget(key)
			t.Fatalf("round %d: the registry holds a dropped table", i)
		}
		forget(key)
	}
}

// The same for RENAME TABLE: the source name must not be opened again on
// the moved files.
func TestRenameRacingOpenLeavesNoStaleTable(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	require.NoError(t, core.Create(tableDir(a), core.Options{}))
	require.NoError(t, writeColumns(a, nil))
	for i := 0; i < 100; i++ {
		src, dst := a, b
		if i%2 == 1 {
			src, dst = b, a
		}
		_, err := openPath(src)
		require.NoError(t, err)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go openLoop(src, stop, &wg)
		require.NoError(t, renameTable(src, dst))
		close(stop)
		wg.Wait()
		if staleEntry(src) {
			forget(src)
			forget(dst)
			t.Fatalf("round %d: the registry holds a renamed table under its old name", i)
		}
	}
	forget(a)
	forget(b)
}
