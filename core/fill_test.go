package core

import (
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// ranOnCommitter reports whether the calling goroutine is a table's
// committer goroutine.
func ranOnCommitter() bool {
	buf := make([]byte, 64<<10)
	return strings.Contains(string(buf[:runtime.Stack(buf, false)]), ".commitLoop(")
}

// gatedFS holds the writes that hold selects until gate is closed, and
// reports each held one on held.
type gatedFS struct {
	FS
	hold func(p []byte, off int64) bool
	held chan struct{}
	gate chan struct{}
	n    atomic.Int64 // held so far
}

func newGatedFS(fs FS, hold func(p []byte, off int64) bool) *gatedFS {
	return &gatedFS{FS: fs, hold: hold, held: make(chan struct{}, 1), gate: make(chan struct{})}
}

type gatedFile struct {
	File
	fs *gatedFS
}

func (g *gatedFS) Create(name string) (File, error) {
	f, err := g.FS.Create(name)
	if err != nil {
		return nil, err
	}
	return gatedFile{f, g}, nil
}

func (g *gatedFS) OpenRW(name string) (File, error) {
	f, err := g.FS.OpenRW(name)
	if err != nil {
		return nil, err
	}
	return gatedFile{f, g}, nil
}

func (g *gatedFS) wait(p []byte, off int64) {
	if !g.hold(p, off) {
		return
	}
	g.n.Add(1)
	select {
	case g.held <- struct{}{}:
	default:
	}
	<-g.gate
}

// open lets everything through from now on (idempotent).
func (g *gatedFS) open() {
	select {
	case <-g.gate:
	default:
		close(g.gate)
	}
}

func (f gatedFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.wait(p, off)
	return f.File.WriteAt(p, off)
}

// A request that finds the table idle commits on its caller's goroutine
// (a server thread, CommitLead), which must never wait inside Go for the
// committer's zero-fill I/O: while a fill runs, the request is queued and
// its caller returns at once; the committer commits it after the fill.
func TestLeadRequestDoesNotWaitForTheZeroFill(t *testing.T) {
	m := newMemFS(1)
	m.MkdirAll("/db")
	// Hold the committer's zero-fills beyond the first chunk.
	g := newGatedFS(m, func(p []byte, off int64) bool {
		return len(p) >= preallocChunk/2 && off >= preallocChunk && ranOnCommitter()
	})
	opts := Options{FS: g, SegmentSize: 8 << 20, NoBackground: true, Committer: CommitLead}
	require.NoError(t, Create(testDir, opts))
	tb, err := Open(testDir, opts)
	require.NoError(t, err)
	defer func() {
		g.open()
		require.NoError(t, tb.Close())
	}()

	// appendAsync queues one row; the call itself must return at once.
	appendAsync := func(row []byte) chan Pending {
		done := make(chan Pending, 1)
		returned := make(chan error, 1)
		go func() {
			_, err := tb.AppendAsync([][]byte{row}, nil, func(p Pending) { done <- p })
			returned <- err
		}()
		select {
		case err := <-returned:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Fatalf("AppendAsync waited for the zero-fill (fills held: %d)", g.n.Load())
		}
		return done
	}

	// Commit rows one at a time until the space prepared runs low: the
	// commit that sees it asks the committer for a fill, which starts at
	// once (nothing else is in flight) and is held.
	row := make([]byte, 4<<10)
	filling := false
	for i := 0; i < 1000 && !filling; i++ {
		p := <-appendAsync(row)
		require.NoError(t, p.Err())
		if tb.spaceLow() {
			select {
			case <-g.held:
				filling = true
			case <-time.After(10 * time.Second):
				t.Fatal("the committer did not start the fill it was asked for")
			}
		}
	}
	require.True(t, filling, "no zero-fill started")
	queued := appendAsync(row)
	select {
	case <-queued:
		t.Fatal("acknowledged while the fill still holds the writer")
	default:
	}
	g.open()
	p := <-queued
	require.NoError(t, p.Err())
}
