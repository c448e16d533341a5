package core

import (
	"bytes"
	"errors"
	"sync"
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

// A compaction that replaced its file on disk but could not swap its index
// in (here: a failure right after the rename) must not lead the clean
// shutdown into a checkpoint that contradicts the files, which the next
// open would take as proof of damage.
func TestCheckpointAfterCompactionFailedPastItsRename(t *testing.T) {
	m, tb := newMemTable(t)
	p := bytes.Repeat([]byte{'p'}, 100)
	appendN := func(n int) (ids []uint64) {
		for i := 0; i < n; i++ {
			id, _, err := tb.Append([][]byte{p}, nil)
			require.NoError(t, err)
			ids = append(ids, id)
		}
		return ids
	}
	// A compacted segment C holding 20 rows, then dense sealed segments.
	var odd, even []uint64
	for i, id := range appendN(40) {
		if i%2 == 1 {
			odd = append(odd, id)
		} else {
			even = append(even, id)
		}
	}
	_, err := tb.Remove(odd)
	require.NoError(t, err)
	dense := appendN(70)
	require.NoError(t, tb.Compact())
	// C becomes sparse: the next compaction rewrites C alone, under the
	// same number, base and kind.
	_, err = tb.Remove(append(append([]uint64(nil), even[:18]...), dense[:16]...))
	require.NoError(t, err)
	compactTestHook = func(s string) error {
		if s == "renamed" {
			return errors.New("directory sync failed")
		}
		return nil
	}
	require.Error(t, tb.Compact())
	compactTestHook = nil
	require.NoError(t, tb.Close())
	tb2, err := Open(testDir, memOpts(m))
	require.NoError(t, err)
	defer tb2.Close()
	ids, _ := scanAll(t, tb2, nil)
	require.Equal(t, append(even[18:], dense[16:]...), ids)
}

// A clean shutdown that finds a background compaction past its rename
// waits for it to swap its index in rather than failing it.
func TestCloseDuringCompactionPastItsRename(t *testing.T) {
	m := newMemFS(1)
	m.MkdirAll("/db")
	opts := memOpts(m)
	opts.NoBackground = false
	require.NoError(t, Create(testDir, opts))
	tb, err := Open(testDir, opts)
	require.NoError(t, err)
	renamed := make(chan struct{})
	var once sync.Once
	compactTestHook = func(s string) error {
		if s != "renamed" {
			return nil
		}
		once.Do(func() { close(renamed) })
		for { // hold the compaction here until the close has begun
			tb.mu.RLock()
			closed := tb.closed
			tb.mu.RUnlock()
			if closed {
				return nil
			}
			time.Sleep(time.Millisecond)
		}
	}
	defer func() { compactTestHook = nil }()
	want := fillAndRemove(t, tb, 600, func(id uint64) bool { return id%10 != 3 })
	<-renamed
	require.NoError(t, tb.Close())
	compactTestHook = nil
	tb2, err := Open(testDir, opts)
	require.NoError(t, err)
	defer tb2.Close()
	ids, _ := scanAll(t, tb2, nil)
	require.Equal(t, want, ids)
}

// The background compaction rests between looks, but a kick that arrives
// during the rest is still taken: removals made while it rests are
// compacted without any further kick.
func TestBackgroundCompactionTakesTheLastKick(t *testing.T) {
	_, tb := newMemTableWith(t, func(o *Options) { o.NoBackground = false })

	var looks atomic.Int32
	compactTestHook = func(string) error { looks.Add(1); return nil }
	// The table is closed (its compaction goroutine stopped) before the
	// hook is reset: the goroutine reads it.
	defer func() { _ = tb.Close(); compactTestHook = nil }()
	// Two rounds of removals in quick succession: the second falls in the
	// rest after the first look, and must still be compacted.
	fillAndRemove(t, tb, 300, func(id uint64) bool { return id <= 100 })
	_, err := tb.Remove(idRange(101, 300))
	require.NoError(t, err)
	// Removed rows may stay in the active segment, which is never compacted.
	require.Eventually(t, func() bool {
		tb.mu.RLock()
		defer tb.mu.RUnlock()
		for _, s := range tb.segs[:len(tb.segs)-1] {
			if s.deadBytes > 0 {
				return false
			}
		}
		return true
	}, 5*time.Second, 10*time.Millisecond, "removed rows still in sealed segments: %+v", tb.Stats())
	require.Positive(t, looks.Load())
}

func idRange(from, to uint64) []uint64 {
	ids := make([]uint64, 0, to-from+1)
	for id := from; id <= to; id++ {
		ids = append(ids, id)
	}
	return ids
}
