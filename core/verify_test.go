package core

import (
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// busyTable fills a table over several segments with removals, relay
// marks and a compaction, so every kind of record is in its files.
func busyTable(t *testing.T) (*memFS, *Table) {
	t.Helper()
	m, tb := newMemTable(t)
	for b := 0; b < 40; b++ {
		_, _, err := tb.Append([][]byte{row(2 * b), row(2*b + 1)}, &Relay{Slot: 2, RowID: uint64(b + 1)})
		require.NoError(t, err)
		if b%2 == 1 {
			_, err = tb.Remove([]uint64{uint64(2*b - 1), uint64(2 * b)})
			require.NoError(t, err)
		}
	}
	require.NoError(t, tb.Compact())
	return m, tb
}

func problemsText(r *CheckReport) string {
	var b strings.Builder
	for _, p := range r.Problems {
		b.WriteString(p.Level + ": " + p.String() + "\n")
	}
	return b.String()
}

// A healthy table checks clean, open (against its index) and closed
// (against its checkpoint), with the figures of the index.
func TestCheckHealthyTable(t *testing.T) {
	m, tb := busyTable(t)
	for _, quick := range []bool{true, false} {
		rep, err := tb.Check(CheckOptions{Quick: quick, Decode: func(p []byte) error { return nil }})
		require.NoError(t, err)
		require.Empty(t, rep.Problems, problemsText(rep))
		require.Equal(t, tb.Count(), rep.Rows)
		require.Greater(t, rep.Segments, 1)
		require.Equal(t, uint64(40), rep.Marks[2])
	}
	live := tb.Count()
	require.NoError(t, tb.Close())
	rep, err := Verify(m, testDir, CheckOptions{})
	require.NoError(t, err)
	require.Empty(t, rep.Problems, problemsText(rep))
	require.Equal(t, "valid", rep.Checkpoint)
	require.Equal(t, live, rep.Rows)
	require.Equal(t, uint64(81), rep.NextID)
}

// A row whose frame fails its checksum is reported with its file and
// offset by both levels, and listed as damaged.
func TestCheckFindsDamagedRow(t *testing.T) {
	tb, first, name, off := damageSecond(t)
	for _, quick := range []bool{true, false} {
		rep, err := tb.Check(CheckOptions{Quick: quick})
		require.NoError(t, err)
		require.Equal(t, 1, rep.Errors(), problemsText(rep))
		p := rep.Problems[0]
		require.Equal(t, name, p.File)
		require.Equal(t, off, p.Offset)
		require.Contains(t, p.Text, "does not check")
		require.Equal(t, []DamagedRow{{ID: first + 1, File: name, Offset: off, Live: true}}, rep.Damaged)
	}
}

// A full check decodes every row; quick does not.
func TestCheckDecodesRows(t *testing.T) {
	_, tb := newMemTable(t)
	_, _, err := tb.Append([][]byte{[]byte("good"), []byte("BAD!"), []byte("good")}, nil)
	require.NoError(t, err)
	dec := func(p []byte) error {
		if string(p) == "BAD!" {
			return errors.New("too short")
		}
		return nil
	}
	rep, err := tb.Check(CheckOptions{Decode: dec})
	require.NoError(t, err)
	require.Equal(t, 1, rep.Errors(), problemsText(rep))
	require.Contains(t, rep.Problems[0].Text, "row 2 does not decode: too short")
	rep, err = tb.Check(CheckOptions{Quick: true, Decode: dec})
	require.NoError(t, err)
	require.Empty(t, rep.Problems)
}

// The checkpoint must agree with the files: a row the checkpoint says is
// removed while the files say live is an error.
func TestVerifyCheckpointDisagrees(t *testing.T) {
	m, tb := busyTable(t)
	tb.mu.Lock()
	s := tb.segs[len(tb.segs)-1]
	i := s.nextLive(0)
	id := s.idAt(i)
	s.kill(i) // in memory only: no removal record
	tb.mu.Unlock()
	require.NoError(t, tb.Close())
	rep, err := Verify(m, testDir, CheckOptions{})
	require.NoError(t, err)
	require.Equal(t, 1, rep.Errors(), problemsText(rep))
	require.Contains(t, rep.Problems[0].Text, "removed in the checkpoint, live in the files")
	require.Contains(t, rep.Problems[0].Text, "row "+itoa(id)+" ")
	// quick checks the frames only
	rep, err = Verify(m, testDir, CheckOptions{Quick: true})
	require.NoError(t, err)
	require.Empty(t, rep.Problems)
}

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }

// What recovery tolerates is a warning offline: a torn last batch and a
// leftover temporary file. Damage before a commit is an error.
func TestVerifyTornTailAndDamage(t *testing.T) {
	files, lastSeg, start, end := buildTable(t, 30)
	torn := copyFiles(files)
	torn[lastSeg] = torn[lastSeg][:end-3]
	torn[testDir+"/0000000000000009.seg.tmp"] = []byte("x")
	rep, err := Verify(memFSFrom(torn), testDir, CheckOptions{})
	require.NoError(t, err)
	require.Zero(t, rep.Errors(), problemsText(rep))
	require.Len(t, rep.Problems, 2, problemsText(rep))
	require.Contains(t, problemsText(rep), "recovery discards")
	require.Contains(t, problemsText(rep), "temporary file")
	require.Equal(t, "none", rep.Checkpoint)

	bad := copyFiles(files)
	b := append([]byte(nil), bad[lastSeg]...)
	b[start+frameHeaderSize+2] ^= 0xff // inside the last batch's first row id
	bad[lastSeg] = b
	// a batch before the last one: damage, not a torn tail
	first := firstSegment(files)
	fb := append([]byte(nil), bad[first]...)
	fb[len(fb)/2] ^= 0x55
	bad[first] = fb
	rep, err = Verify(memFSFrom(bad), testDir, CheckOptions{})
	require.NoError(t, err)
	require.Positive(t, rep.Errors(), problemsText(rep))
	var firstErr Problem
	for _, p := range rep.Problems {
		if p.Level == LevelError {
			firstErr = p
			break
		}
	}
	require.Equal(t, filepath.Base(first), firstErr.File, problemsText(rep))
	_, err = openFiles(t, bad)
	require.ErrorIs(t, err, ErrCorrupt)
}

func copyFiles(files map[string][]byte) map[string][]byte {
	out := make(map[string][]byte, len(files))
	for k, v := range files {
		out[k] = append([]byte(nil), v...)
	}
	return out
}

func firstSegment(files map[string][]byte) string {
	first := ""
	for k := range files {
		if strings.HasSuffix(k, ".seg") && (first == "" || k < first) {
			first = k
		}
	}
	return first
}

// A removal record naming a row id that was never written is an error.
func TestVerifyRemovalOfUnknownRow(t *testing.T) {
	m, tb := newMemTable(t)
	_, _, err := tb.Append([][]byte{row(1)}, nil)
	require.NoError(t, err)
	tb.mu.RLock()
	s := tb.segs[len(tb.segs)-1]
	name, end, commits := filepath.Join(testDir, s.name), s.end, s.commits
	tb.mu.RUnlock()
	require.NoError(t, tb.shutdown(false))
	var b []byte
	b = appendRemoveFrame(b, []uint64{1, 77})
	b = appendCommitFrame(b, commits+1, uint32(end), 0)
	f, err := m.OpenRW(name)
	require.NoError(t, err)
	_, err = f.WriteAt(b, end)
	require.NoError(t, err)
	require.NoError(t, f.Sync())
	rep, err := Verify(m, testDir, CheckOptions{})
	require.NoError(t, err)
	require.Equal(t, 1, rep.Errors(), problemsText(rep))
	require.Contains(t, rep.Problems[0].Text, "removal of row 77, which was never written")
	require.Equal(t, uint64(0), rep.Rows)
}

// REPAIR keeps the valid rows with their ids, drops the damaged one and
// reports it; the table then checks clean, takes new rows and reopens
// (without a checkpoint too) with the same rows.
func TestRepairDropsDamagedRow(t *testing.T) {
	tb, first, name, off := damageSecond(t)
	m := tb.fs.(*memFS)
	rep, err := tb.Repair(CheckOptions{})
	require.NoError(t, err)
	require.True(t, rep.Rewritten)
	require.Equal(t, uint64(2), rep.Kept)
	require.Equal(t, []LostRow{{first + 1, name, off, "frame does not check"}}, rep.Lost)
	require.Equal(t, []uint64{first, first + 2}, liveIDs(t, tb))
	chk, err := tb.Check(CheckOptions{})
	require.NoError(t, err)
	require.Empty(t, chk.Problems, problemsText(chk))

	id, _, err := tb.Append([][]byte{row(9)}, nil)
	require.NoError(t, err)
	require.Equal(t, first+3, id)
	rep, err = tb.Repair(CheckOptions{})
	require.NoError(t, err)
	require.False(t, rep.Rewritten, "nothing to repair")
	require.NoError(t, tb.shutdown(false))
	tb2, err := Open(testDir, memOpts(m))
	require.NoError(t, err)
	require.Equal(t, []uint64{first, first + 2, first + 3}, liveIDs(t, tb2))
	require.NoError(t, tb2.Close())
}

// A table recovery refuses (damage in the middle of a segment) is
// repaired offline: what is valid opens again, the damaged batch is
// reported lost.
func TestRepairDirMakesTableOpen(t *testing.T) {
	files, _, _, _ := buildTable(t, 30)
	bad := copyFiles(files)
	first := firstSegment(files)
	fb := append([]byte(nil), bad[first]...)
	fb[len(fb)/2] ^= 0x55
	bad[first] = fb
	m := memFSFrom(bad)
	_, err := Open(testDir, Options{FS: m, SegmentSize: 1500, NoBackground: true})
	require.ErrorIs(t, err, ErrCorrupt)
	rep, err := RepairDir(m, testDir, CheckOptions{})
	require.NoError(t, err)
	require.True(t, rep.Rewritten)
	require.Positive(t, rep.Kept)
	tb, err := Open(testDir, Options{FS: m, SegmentSize: 1500, NoBackground: true})
	require.NoError(t, err)
	require.Equal(t, rep.Kept, tb.Count())
	chk, err := tb.Check(CheckOptions{})
	require.NoError(t, err)
	require.Empty(t, chk.Problems, problemsText(chk))
	require.NoError(t, tb.Close())
}

// A scan that meets a damaged row returns its id with ErrCorrupt and
// moves past it, so a DELETE without WHERE can remove it unread.
func TestScanGivesDamagedRowID(t *testing.T) {
	tb, first, _, _ := damageSecond(t)
	c := tb.Scan(nil)
	id, _, ok, err := c.Next(nil)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, first, id)
	id, _, ok, err = c.Next(nil)
	require.ErrorIs(t, err, ErrCorrupt)
	require.False(t, ok)
	require.Equal(t, first+1, id)
	id, _, ok, err = c.Next(nil)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, first+2, id)
	n, err := tb.Remove([]uint64{first + 1})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, []uint64{first, first + 2}, liveIDs(t, tb))
}
