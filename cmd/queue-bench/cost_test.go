package main

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// testdata/proc/self is a copy of /proc/self of a three-thread process on
// this machine (stat of the process, status of each thread).
const procFixture = "testdata/proc/self"

func TestParseProcStatOfRealProcess(t *testing.T) {
	ticks, err := readProcCPU(procFixture)
	require.NoError(t, err)
	require.Equal(t, uint64(21+1), ticks, "utime 21 + stime 1 (fields 14 and 15)")
}

func TestParseProcStatCommandWithSpacesAndParens(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(procFixture, "stat"))
	require.NoError(t, err)
	odd := []byte("17145 (my (odd) 1 2 3) name)" + string(b[len("17145 (python3)"):]))
	ticks, err := parseProcStat(odd)
	require.NoError(t, err)
	require.Equal(t, uint64(22), ticks)

	_, err = parseProcStat([]byte("17145 python3 R 1 2"))
	require.Error(t, err)
	_, err = parseProcStat([]byte("17145 (python3) R 1 2 3"))
	require.Error(t, err)
}

func TestReadCtxSwitchesPerThread(t *testing.T) {
	m, err := readProcCtxSw(procFixture)
	require.NoError(t, err)
	require.Equal(t, map[int]uint64{17145: 106 + 4, 17190: 191 + 6, 17191: 186 + 5}, m)

	b, err := os.ReadFile(filepath.Join(procFixture, "status"))
	require.NoError(t, err)
	n, err := parseCtxSwitches(b)
	require.NoError(t, err)
	require.Equal(t, uint64(110), n, "the process's status has the main thread's counts only")

	_, err = parseCtxSwitches([]byte("Name:\tx\nvoluntary_ctxt_switches:\t3\n"))
	require.Error(t, err)
	_, err = readProcCtxSw(t.TempDir())
	require.Error(t, err)
}

func TestCtxSwDeltaKeepsNewThreadsAndDropsExited(t *testing.T) {
	before := map[int]uint64{1: 100, 2: 50, 3: 1000}
	after := map[int]uint64{1: 130, 2: 55, 4: 7} // 3 exited, 4 is new
	require.Equal(t, uint64(30+5+7), ctxSwDelta(before, after))
	// A thread id reused by a new thread: its count is all new.
	require.Equal(t, uint64(4), ctxSwDelta(map[int]uint64{9: 500}, map[int]uint64{9: 4}))
}

func TestParseEngineStatus(t *testing.T) {
	text := "open tables: 2, handles: 3\n" +
		"test/bench_queue: rows=0 written=10 removed=10 bytes=0 syncs=4 compactions=0\n" +
		"go_entries 123456\n" +
		"sys_sync\t789\r\n" +
		"not a number x\n"
	require.Equal(t, map[string]int64{"go_entries": 123456, "sys_sync": 789}, parseEngineStatus(text))
	require.Empty(t, parseEngineStatus("open tables: 0, handles: 0\n"))
}

func TestPerMessage(t *testing.T) {
	before := serverSample{GoEntries: 1000, Syncs: 10, HasGo: true, HasSync: true,
		CPUTicks: 500, HasCPU: true, CtxSw: map[int]uint64{1: 10, 2: 20}}
	after := serverSample{GoEntries: 4000, Syncs: 110, HasGo: true, HasSync: true,
		CPUTicks: 600, HasCPU: true, CtxSw: map[int]uint64{1: 1010, 2: 1020, 3: 500}}
	c := perMessage(before, after, 1000, 100)
	require.Equal(t, int64(1000), c.Msgs)
	require.InDelta(t, 3.0, c.GoEntries, 1e-9)
	require.InDelta(t, 0.1, c.Syncs, 1e-9)
	require.InDelta(t, 1000.0, c.CPUMicros, 1e-9, "100 ticks of 10 ms over 1000 messages")
	require.InDelta(t, 2.5, c.CtxSw, 1e-9)

	// Engine without the counters: n/a, the rest still measured.
	before.HasGo, before.HasSync, after.HasGo, after.HasSync = false, false, false, false
	c = perMessage(before, after, 1000, 250)
	require.True(t, math.IsNaN(c.GoEntries))
	require.True(t, math.IsNaN(c.Syncs))
	require.InDelta(t, 400.0, c.CPUMicros, 1e-9)

	// No process: CPU and switches n/a. No messages: all n/a.
	c = perMessage(serverSample{}, serverSample{}, 10, 100)
	require.True(t, math.IsNaN(c.CPUMicros))
	require.True(t, math.IsNaN(c.CtxSw))
	c = perMessage(before, after, 0, 100)
	require.True(t, math.IsNaN(c.CPUMicros))
	require.Zero(t, c.Msgs)

	// A counter that went backwards (server restarted) is not a cost.
	after.CPUTicks = 10
	require.True(t, math.IsNaN(perMessage(before, after, 10, 100).CPUMicros))
}

func TestCmdlinePort(t *testing.T) {
	p, ok := cmdlinePort([]byte("/usr/sbin/mariadbd\x00--no-defaults\x00--port=3317\x00--bind-address=127.0.0.1\x00"))
	require.True(t, ok)
	require.Equal(t, 3317, p)
	p, ok = cmdlinePort([]byte("mariadbd\x00-P\x003308\x00"))
	require.True(t, ok)
	require.Equal(t, 3308, p)
	_, ok = cmdlinePort([]byte("mariadbd\x00--datadir=/x\x00"))
	require.False(t, ok)
}

func TestClockTicks(t *testing.T) {
	require.Greater(t, clockTicks(), 0.0)
}

func TestPidFileMustNameAMariaDBServer(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "mysqld.pid")
	require.NoError(t, os.WriteFile(f, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644))
	_, err := procDirFromPidFile(f, 3307)
	require.ErrorContains(t, err, "not mariadbd", "this test's own process is no server")
	require.NoError(t, os.WriteFile(f, []byte("garbage\n"), 0o644))
	_, err = procDirFromPidFile(f, 3307)
	require.ErrorContains(t, err, "no pid")
	_, err = procDirFromPidFile(filepath.Join(dir, "missing.pid"), 3307)
	require.Error(t, err)
}
