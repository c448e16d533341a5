package core

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fillAndRemove appends n rows one by one and removes those for which
// remove(id) is true; it returns the live ids.
func fillAndRemove(t *testing.T, tb *Table, n int, remove func(uint64) bool) []uint64 {
	t.Helper()
	var liveIDs, dead []uint64
	for i := 1; i <= n; i++ {
		id, _, err := tb.Append([][]byte{row(i)}, &Relay{Slot: 2, RowID: uint64(i)})
		require.NoError(t, err)
		if remove(id) {
			dead = append(dead, id)
		} else {
			liveIDs = append(liveIDs, id)
		}
	}
	_, err := tb.Remove(dead)
	require.NoError(t, err)
	return liveIDs
}

func TestCompactionKeepsRowsIDsOwnersAndMarks(t *testing.T) {
	m, tb := newMemTable(t)
	want := fillAndRemove(t, tb, 600, func(id uint64) bool { return id%10 != 3 })
	owner := NewSession()
	_, err := owner.TryTake([]Spec{{Table: tb}})
	require.NoError(t, err)
	_, owned := owner.Owned()
	require.Equal(t, uint64(3), owned)
	before := tb.Stats()
	require.NoError(t, tb.Compact())
	after := tb.Stats()
	require.Greater(t, after.Compactions, before.Compactions)
	require.Less(t, after.Segments, before.Segments)
	require.Less(t, after.BytesTotal, before.BytesTotal)

	ids, rows := scanAll(t, tb, nil)
	require.Equal(t, want[1:], ids) // row 3 is owned
	require.Equal(t, string(row(13)), rows[0])
	ot, oid := owner.Owned()
	require.Same(t, tb, ot)
	require.Equal(t, uint64(3), oid)
	require.NoError(t, owner.Consume())
	require.Equal(t, uint64(600), tb.RelayMark(2))

	// And after a crash.
	m.Crash()
	tb2, err := Open(testDir, memOpts(m))
	require.NoError(t, err)
	defer tb2.Close()
	ids, _ = scanAll(t, tb2, nil)
	require.Equal(t, want[1:], ids)
	require.Equal(t, uint64(600), tb2.RelayMark(2))
	id, _, err := tb2.Append([][]byte{row(601)}, nil)
	require.NoError(t, err)
	require.Equal(t, uint64(601), id)
}

func TestCompactionDropsEmptySegments(t *testing.T) {
	_, tb := newMemTable(t)
	fillAndRemove(t, tb, 600, func(id uint64) bool { return id <= 500 })
	before := tb.Stats()
	require.NoError(t, tb.Compact())
	after := tb.Stats()
	require.Less(t, after.Segments, before.Segments)
	ids, _ := scanAll(t, tb, nil)
	require.Len(t, ids, 100)
	require.Equal(t, uint64(501), ids[0])
}

// TestCrashDuringCompaction stops compaction at each step, crashes, and
// checks that recovery yields exactly the live rows.
func TestCrashDuringCompaction(t *testing.T) {
	steps := []string{"synced-temp", "before-rename", "renamed", "swapped", "deleted-old", "drop-file"}
	for _, step := range steps {
		for _, sparse := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/sparse=%v", step, sparse), func(t *testing.T) {
				m, tb := newMemTable(t)
				rm := func(id uint64) bool { return id%10 != 3 }
				if !sparse {
					rm = func(id uint64) bool { return id <= 500 }
				}
				want := fillAndRemove(t, tb, 600, rm)
				stop := errors.New("crash")
				compactTestHook = func(s string) error {
					if s == step {
						return stop
					}
					return nil
				}
				defer func() { compactTestHook = nil }()
				_ = tb.Compact()
				compactTestHook = nil
				m.Crash()
				tb2, err := Open(testDir, memOpts(m))
				require.NoError(t, err)
				defer tb2.Close()
				ids, _ := scanAll(t, tb2, nil)
				require.Equal(t, want, ids)
				require.Equal(t, uint64(600), tb2.RelayMark(2))
				require.NoError(t, tb2.Compact())
				ids, _ = scanAll(t, tb2, nil)
				require.Equal(t, want, ids)
			})
		}
	}
}

func TestCheckpointSkipsReplay(t *testing.T) {
	m, tb := newMemTable(t)
	want := fillAndRemove(t, tb, 500, func(id uint64) bool { return id%3 == 0 })
	require.NoError(t, tb.Compact())
	for i := 0; i < 20; i++ {
		id, _, err := tb.Append([][]byte{row(i)}, nil)
		require.NoError(t, err)
		want = append(want, id)
	}
	require.NoError(t, tb.Close())

	tb2, err := Open(testDir, memOpts(m))
	require.NoError(t, err)
	st := tb2.Stats()
	require.Zero(t, st.RecoveredBytes, "a clean close must not need a replay")
	ids, _ := scanAll(t, tb2, nil)
	require.Equal(t, want, ids)
	require.Equal(t, uint64(500), tb2.RelayMark(2))
	id, _, err := tb2.Append([][]byte{row(1)}, nil)
	require.NoError(t, err)
	require.Equal(t, uint64(521), id)

	// The checkpoint is gone once the table is open: a crash now replays.
	m.Crash()
	tb3, err := Open(testDir, memOpts(m))
	require.NoError(t, err)
	defer tb3.Close()
	require.NotZero(t, tb3.Stats().RecoveredBytes)
	ids, _ = scanAll(t, tb3, nil)
	require.Equal(t, append(want, 521), ids)
}

func TestDamagedCheckpointFallsBackToReplay(t *testing.T) {
	m, tb := newMemTable(t)
	want := fillAndRemove(t, tb, 100, func(id uint64) bool { return id%2 == 0 })
	require.NoError(t, tb.Close())
	m.Corrupt(testDir+"/checkpoint", 20)
	tb2, err := Open(testDir, memOpts(m))
	require.NoError(t, err)
	defer tb2.Close()
	require.NotZero(t, tb2.Stats().RecoveredBytes)
	ids, _ := scanAll(t, tb2, nil)
	require.Equal(t, want, ids)
}

// TestCompactionSkipsDenseHead: dense old segments (here full of rows that
// are never consumed) do not block compaction of the sparse ones after
// them, and removals of rows stored in the dense head survive.
func TestCompactionSkipsDenseHead(t *testing.T) {
	m, tb := newMemTable(t)
	// A dense head: big rows, a few removed.
	var keep, dead []uint64
	for i := 0; i < 20; i++ {
		id, _, err := tb.Append([][]byte{bytes.Repeat([]byte{'h'}, 400), bytes.Repeat([]byte{'h'}, 400)}, nil)
		require.NoError(t, err)
		keep = append(keep, id, id+1)
		if i%7 == 3 {
			dead = append(dead, keep[len(keep)-1])
			keep = keep[:len(keep)-1]
		}
	}
	_, err := tb.Remove(dead)
	require.NoError(t, err)
	headSegs := tb.Stats().Segments
	var later []uint64
	for i := 0; i < 600; i++ {
		id, _, err := tb.Append([][]byte{row(1000 + i)}, nil)
		require.NoError(t, err)
		later = append(later, id)
	}
	_, err = tb.Remove(later[:580])
	require.NoError(t, err)
	before := tb.Stats()
	require.NoError(t, tb.Compact())
	after := tb.Stats()
	require.Greater(t, after.Compactions, before.Compactions)
	require.Less(t, after.BytesTotal, before.BytesTotal)
	tb.mu.RLock()
	require.Equal(t, kindTruncate, tb.segs[0].kind, "the dense head was not rewritten")
	require.Greater(t, headSegs, 1)
	tb.mu.RUnlock()
	want := append(append([]uint64(nil), keep...), later[580:]...)
	ids, _ := scanAll(t, tb, nil)
	require.Equal(t, want, ids)
	m.Crash()
	tb2, err := Open(testDir, memOpts(m))
	require.NoError(t, err)
	defer tb2.Close()
	ids, _ = scanAll(t, tb2, nil)
	require.Equal(t, want, ids, "removals of head rows are carried by the compacted segment")
}

// TestDropPrefixCrashKeepsAChain: dropping a prefix of dead segments
// deletes several files. A power loss may persist a later deletion and
// revert an earlier one; the segments left must still form a chain that
// recovery accepts.
func TestDropPrefixCrashKeepsAChain(t *testing.T) {
	m, tb := newMemTable(t)
	fillAndRemove(t, tb, 600, func(uint64) bool { return true })
	require.Greater(t, tb.Stats().Segments, 4)
	var removed []string
	drops := 0
	compactTestHook = func(step string) error {
		if step == "drop-file" {
			drops++
			if drops == 3 {
				return errors.New("power loss")
			}
		}
		return nil
	}
	defer func() { compactTestHook = nil }()
	m.mu.Lock()
	m.failSync = nil
	m.mu.Unlock()
	_ = tb.Compact()
	require.Equal(t, 3, drops, "the prefix is dropped, not rewritten")
	m.mu.Lock()
	for _, op := range m.dirOps {
		if op.kind == 'r' {
			removed = append(removed, op.name)
		}
	}
	// Only the second deletion (if it is still pending) reaches the disk.
	m.keepDirOp = func(op memDirOp) bool { return len(removed) > 1 && op.kind == 'r' && op.name == removed[1] }
	m.crashLocked()
	m.keepDirOp = nil
	m.mu.Unlock()
	tb2, err := Open(testDir, memOpts(m))
	require.NoError(t, err)
	defer tb2.Close()
	ids, _ := scanAll(t, tb2, nil)
	require.Empty(t, ids)
	id, _, err := tb2.Append([][]byte{row(1)}, nil)
	require.NoError(t, err)
	require.Equal(t, uint64(601), id)
}

// TestCommitsGoOnDuringCompaction: appends and removals are acknowledged
// while a compaction is in the middle of its rewrite (here: paused after
// the temp file is written), and the result is right in memory and after
// a power loss: rows removed during the copy stay removed, rows appended
// during it survive, ids are never reused.
func TestCommitsGoOnDuringCompaction(t *testing.T) {
	for _, step := range []string{"synced-temp", "before-rename", "renamed", "swapped"} {
		t.Run(step, func(t *testing.T) {
			m, tb := newMemTable(t)
			live := fillAndRemove(t, tb, 600, func(id uint64) bool { return id%10 != 3 })
			// live rows: 3, 13, 23, ...; the compaction copies them.
			var appended []uint64
			removedDuring := []uint64{live[1], live[2], live[len(live)-1]}
			var hookErr error
			ran := false
			compactTestHook = func(s string) error {
				if s != step || ran {
					return nil
				}
				ran = true
				done := make(chan error, 1)
				go func() {
					for i := 0; i < 60; i++ { // enough to rotate the active segment
						id, _, err := tb.Append([][]byte{row(1000 + i)}, nil)
						if err != nil {
							done <- err
							return
						}
						appended = append(appended, id)
					}
					_, err := tb.Remove(removedDuring)
					done <- err
				}()
				select {
				case hookErr = <-done:
				case <-time.After(10 * time.Second):
					hookErr = errors.New("appends and removals wait for the compaction")
				}
				return nil
			}
			defer func() { compactTestHook = nil }()
			require.NoError(t, tb.Compact())
			compactTestHook = nil
			require.NoError(t, hookErr)
			require.True(t, ran)

			want := append([]uint64{live[0]}, live[3:len(live)-1]...)
			want = append(want, appended...)
			ids, _ := scanAll(t, tb, nil)
			require.Equal(t, want, ids)
			require.Equal(t, uint64(len(want)), tb.Count())
			id, _, err := tb.Append([][]byte{row(5000)}, nil)
			require.NoError(t, err)
			want = append(want, id)
			require.Equal(t, appended[len(appended)-1]+1, id)

			m.mu.Lock()
			m.loseAll = true
			m.crashLocked()
			m.loseAll = false
			m.mu.Unlock()
			tb2, err := Open(testDir, memOpts(m))
			require.NoError(t, err)
			defer tb2.Close()
			ids, _ = scanAll(t, tb2, nil)
			require.Equal(t, want, ids)
			require.NoError(t, tb2.Compact())
			ids, _ = scanAll(t, tb2, nil)
			require.Equal(t, want, ids)
		})
	}
}

// appendDead lists exactly the removed rows, whatever the row count modulo 64.
func TestSegmentAppendDead(t *testing.T) {
	for _, n := range []int{0, 1, 63, 64, 65, 200} {
		s := newSegment(1, 1, kindLog, nil)
		var want []uint64
		for i := 0; i < n; i++ {
			s.addRow(uint64(10+i), int64(i), 1, true)
		}
		for i := 0; i < n; i++ {
			if i%3 == 1 || i == n-1 {
				s.kill(i)
				want = append(want, uint64(10+i))
			}
		}
		require.Equal(t, want, s.appendDead(nil), "%d rows", n)
	}
}
