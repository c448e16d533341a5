package core

import (
	"errors"
	"sync/atomic"
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

// countingFS counts the files opened and not yet closed.
type countingFS struct {
	FS
	open *int64
}

type countedFile struct {
	File
	open *int64
}

func (c countingFS) Create(name string) (File, error) {
	f, err := c.FS.Create(name)
	if err != nil {
		return nil, err
	}
	atomic.AddInt64(c.open, 1)
	return countedFile{f, c.open}, nil
}

func (c countingFS) OpenRW(name string) (File, error) {
	f, err := c.FS.OpenRW(name)
	if err != nil {
		return nil, err
	}
	atomic.AddInt64(c.open, 1)
	return countedFile{f, c.open}, nil
}

func (f countedFile) Close() error {
	atomic.AddInt64(f.open, -1)
	return f.File.Close()
}

// A compaction that fails after its rename keeps the old index; the file
// it wrote must still be closed.
func TestCompactionFailingAfterRenameClosesItsFile(t *testing.T) {
	m := newMemFS(1)
	m.MkdirAll("/db")
	var open int64
	opts := memOpts(m)
	opts.FS = countingFS{m, &open}
	require.NoError(t, Create(testDir, opts))
	tb, err := Open(testDir, opts)
	require.NoError(t, err)
	fillAndRemove(t, tb, 600, func(id uint64) bool { return id%10 != 3 })
	compactTestHook = func(s string) error {
		if s == "renamed" {
			return errors.New("directory sync failed")
		}
		return nil
	}
	require.Error(t, tb.Compact())
	compactTestHook = nil
	require.NoError(t, tb.Close())
	require.Equal(t, int64(0), atomic.LoadInt64(&open), "files left open")
}
