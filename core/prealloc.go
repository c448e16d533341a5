package core

import (
	"errors"
	"path/filepath"
)

// PreallocMode selects how segment space is prepared ahead of the writer.
// fdatasync is cheapest when it overwrites blocks that already hold data
// (no allocation and no size change to journal), dearer into fallocate'd
// but unwritten extents, and dearest when the file grows.
type PreallocMode int

const (
	// PreallocZeroFill writes zeros ahead of the writer (and syncs them)
	// so commits overwrite already-written blocks. Readers treat an all-zero
	// frame header as the end of the log.
	PreallocZeroFill PreallocMode = iota
	// PreallocFallocate reserves space with fallocate(KEEP_SIZE).
	PreallocFallocate
	// PreallocGrow just appends: the file grows with every commit.
	PreallocGrow
)

// preallocChunk is how much space is prepared at a time: one zero-fill
// costs a write of this size and an fdatasync (about 4 ms per MiB here).
const preallocChunk = 1 << 20

// prepareSpace makes sure [end, end+n) of seg is prepared according to the
// mode. Caller holds wmu. Errors are classified (ENOSPC is clean: nothing
// was written to the log).
func (t *Table) prepareSpace(seg *segment, end, n int64) error {
	need := end + n
	if seg.allocated >= need {
		return nil
	}
	switch t.opts.Prealloc {
	case PreallocGrow:
		return nil
	case PreallocFallocate:
		size := max(need, seg.allocated+preallocChunk)
		if err := seg.f.Allocate(seg.allocated, size-seg.allocated); err != nil {
			return t.spaceError(seg, seg.allocated, err)
		}
		seg.allocated = size
		return nil
	default:
		// Zero-fill whole chunks beyond the current allocation. The zeros
		// are synced now so that a later commit's fdatasync only has to
		// write the overwritten blocks.
		from := max(seg.allocated, end)
		size := max(need, from+preallocChunk)
		size = min(size, max(need, t.segmentSize()))
		if size <= from {
			return nil
		}
		zeros := make([]byte, size-from)
		if _, err := seg.f.WriteAt(zeros, from); err != nil {
			return t.spaceError(seg, from, err)
		}
		if err := seg.f.Sync(); err != nil {
			return t.spaceError(seg, from, err)
		}
		seg.allocated = size
		return nil
	}
}

func (t *Table) spaceError(seg *segment, off int64, err error) error {
	return classifyWriteError(filepath.Join(t.dir, seg.name), off, err)
}

// fillWhenIdle prepares the next chunk of the active segment while no
// request waits, so commits rarely pay for zero-filling. Runs on the
// committer goroutine.
func (t *Table) fillWhenIdle() {
	if t.opts.Prealloc != PreallocZeroFill {
		return
	}
	// committing is set for the fill's duration, so that a request
	// arriving meanwhile queues for the committer instead of leading: a
	// leader would wait for wmu inside Go, on a server thread, through the
	// fill's write and fdatasync.
	t.cmu.Lock()
	idle := len(t.pending) == 0 && !t.stopping && !t.committing
	if idle {
		t.committing = true
	}
	t.cmu.Unlock()
	if !idle {
		return
	}
	defer func() {
		t.cmu.Lock()
		t.committing = false
		t.cmu.Unlock()
	}()
	t.wmu.Lock()
	defer t.wmu.Unlock()
	if t.broken != nil {
		return
	}
	t.mu.RLock()
	if len(t.segs) == 0 {
		t.mu.RUnlock()
		return
	}
	seg := t.segs[len(t.segs)-1]
	end := seg.end
	t.mu.RUnlock()
	if seg.allocated-end >= preallocChunk/2 || seg.allocated >= t.segmentSize() {
		return
	}
	if err := t.prepareSpace(seg, seg.allocated, 1); err != nil && !errors.Is(err, ErrNoSpace) {
		t.broken = err
	}
}
