package core

import (
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var updateGolden = flag.Bool("update", false, "rewrite core/testdata/golden")

// TestGolden writes a fixed workload and compares every byte of the files
// with core/testdata/golden: it fails when the on-disk format changes by
// accident (see docs/FORMAT.md).
func TestGolden(t *testing.T) {
	m := newMemFS(1)
	m.MkdirAll("/db")
	// The clock advances 700 ms per batch, so that compaction groups rows
	// into batches by their enqueue times (compactTimeGrain).
	clock := int64(1_700_000_000_000)
	now := func() int64 { clock += 700; return clock }
	opts := Options{FS: m, SegmentSize: 700, NoBackground: true, Prealloc: PreallocGrow, Now: now}
	require.NoError(t, Create(testDir, opts))
	tb, err := Open(testDir, opts)
	require.NoError(t, err)
	_, _, err = tb.Append([][]byte{[]byte("alpha"), []byte("beta")}, &Relay{Slot: 7, RowID: 42})
	require.NoError(t, err)
	_, err = tb.Remove([]uint64{1})
	require.NoError(t, err)
	for i := 0; i < 12; i++ {
		_, _, err = tb.Append([][]byte{[]byte(strings.Repeat("g", i))}, nil)
		require.NoError(t, err)
	}
	_, err = tb.Remove([]uint64{2, 3, 4, 5, 6, 7, 8, 9, 10})
	require.NoError(t, err)
	require.NoError(t, tb.Compact())
	require.NoError(t, tb.Close()) // writes the checkpoint too

	files := m.snapshot()
	var names []string
	for p := range files {
		names = append(names, p)
	}
	sort.Strings(names)
	var sb strings.Builder
	for _, p := range names {
		sb.WriteString("== " + filepath.Base(p) + "\n")
		sb.WriteString(hex.Dump(files[p]))
	}
	got := sb.String()
	golden := filepath.Join("testdata", "golden", "table.hex")
	if *updateGolden {
		require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.Equal(t, string(want), got, "on-disk format changed: update docs/FORMAT.md and run with -update")
}
