package main

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/queue-engine/queue/core"
	"github.com/stretchr/testify/require"
)

func drainLog() []string {
	var out []string
	for l := takeLogLine(); l != ""; l = takeLogLine() {
		out = append(out, l)
	}
	return out
}

// A sticky I/O error repeats on every statement: it is logged once.
func TestIOErrorLoggedOnce(t *testing.T) {
	drainLog()
	err := fmt.Errorf("%w: ./db/t.queue/0000000000000001.seg at offset 77: bad disk", core.ErrIO)
	for i := 0; i < 3; i++ {
		logIOError(err)
	}
	lines := drainLog()
	require.Len(t, lines, 1)
	require.Regexp(t, `^1\tQUEUE: queue: I/O error.*0000000000000001\.seg at offset 77: bad disk$`, lines[0])
}

// Compactions are routine: only a failed or slow one is logged, with the
// table and the bytes before and after.
func TestCompactionLogged(t *testing.T) {
	drainLog()
	dir := t.TempDir() + "/x.queue"
	require.NoError(t, core.Create(dir, core.Options{}))
	tb, err := core.Open(dir, core.Options{NoBackground: true})
	require.NoError(t, err)
	defer tb.Close()
	e := &tableEntry{t: tb}
	logCompaction(e, core.CompactionInfo{Duration: time.Second, BytesBefore: 10, BytesAfter: 5})
	require.Empty(t, drainLog())
	logCompaction(e, core.CompactionInfo{Duration: 12 * time.Second, BytesBefore: 1000, BytesAfter: 400})
	logCompaction(e, core.CompactionInfo{Duration: time.Second, BytesBefore: 1000, BytesAfter: 1000, Err: errors.New("disk gone")})
	lines := drainLog()
	require.Len(t, lines, 2)
	require.Regexp(t, `^2\tQUEUE: compaction of table .*x took 12\.0 s: 1000 bytes before, 400 after$`, lines[0])
	require.Regexp(t, `^2\tQUEUE: compaction of table .*x failed after 1\.0 s \(1000 bytes before, 1000 after\): disk gone$`, lines[1])
}
