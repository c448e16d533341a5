package core

import "path/filepath"

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

// preallocChunk is how far ahead of the writer space is prepared.
const preallocChunk = 4 << 20

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
		size = min(size, max(need, t.opts.SegmentSize))
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
