package core

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// gatedFS holds every zero-fill ahead of the writer beyond the first chunk
// (a write of at least half a chunk at or past preallocChunk) until gate
// is closed, and reports it on filling.
type gatedFS struct {
	FS
	filling chan struct{}
	gate    chan struct{}
	held    atomic.Int64
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

func (f gatedFile) WriteAt(p []byte, off int64) (int, error) {
	if len(p) >= preallocChunk/2 && off >= preallocChunk {
		f.fs.held.Add(1)
		select {
		case f.fs.filling <- struct{}{}:
		default:
		}
		<-f.fs.gate
	}
	return f.File.WriteAt(p, off)
}

// A request that finds the table idle commits on its caller's goroutine
// (a server thread, CommitLead), which must never wait inside Go for the
// committer's zero-fill I/O: while a fill runs, the request is queued and
// its caller returns at once; the committer commits it after the fill.
func TestLeadRequestDoesNotWaitForTheZeroFill(t *testing.T) {
	m := newMemFS(1)
	m.MkdirAll("/db")
	g := &gatedFS{FS: m, filling: make(chan struct{}, 1), gate: make(chan struct{})}
	opts := Options{FS: g, SegmentSize: 8 << 20, NoBackground: true, Committer: CommitLead}
	require.NoError(t, Create(testDir, opts))
	tb, err := Open(testDir, opts)
	require.NoError(t, err)
	defer func() {
		select {
		case <-g.gate:
		default:
			close(g.gate)
		}
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
			t.Fatalf("AppendAsync waited for the zero-fill (fills held: %d)", g.held.Load())
		}
		return done
	}

	// Commit rows one at a time until the committer starts filling the
	// second chunk; the next request is then queued behind the fill.
	row := make([]byte, 4<<10)
	var queued chan Pending
	for i := 0; i < 1000 && queued == nil; i++ {
		done := appendAsync(row)
		select {
		case p := <-done:
			require.NoError(t, p.Err())
		case <-g.filling:
			queued = done
		}
		select {
		case <-g.filling:
			queued = appendAsync(row)
		default:
		}
	}
	require.NotNil(t, queued, "no zero-fill started")
	select {
	case <-queued:
		t.Fatal("acknowledged while the fill still holds the writer")
	default:
	}
	close(g.gate)
	p := <-queued
	require.NoError(t, p.Err())
}
