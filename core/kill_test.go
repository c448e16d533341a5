package core

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const killChildEnv = "QUEUE_KILL_CHILD_DIR"

// killChild is the child process: it appends groups of rows and removes
// some, printing each acknowledgement only after the call returned.
func killChild(dir string) {
	opts := Options{SegmentSize: 256 << 10}
	if _, err := os.Stat(dir); err != nil {
		if err := Create(dir, opts); err != nil {
			fmt.Println("ERR", err)
			os.Exit(2)
		}
	}
	tb, err := Open(dir, opts)
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	r := rand.New(rand.NewSource(time.Now().UnixNano()))
	g, _ := strconv.Atoi(os.Getenv("QUEUE_KILL_GROUP"))
	out := os.Stdout // unbuffered: a line is out before the next call starts
	var live []uint64
	for {
		if len(live) > 0 && r.Intn(3) == 0 {
			k := r.Intn(len(live))
			id := live[k]
			fmt.Fprintf(out, "r %d\n", id)
			if _, err := tb.Remove([]uint64{id}); err != nil {
				fmt.Fprintln(out, "ERR", err)
				os.Exit(2)
			}
			fmt.Fprintf(out, "R %d\n", id)
			live = append(live[:k], live[k+1:]...)
			continue
		}
		n := 1 + r.Intn(4)
		rows := make([][]byte, n)
		for k := range rows {
			rows[k] = groupPayload(g, k, n)
		}
		id, _, err := tb.Append(rows, nil)
		if err != nil {
			fmt.Fprintln(out, "ERR", err)
			os.Exit(2)
		}
		fmt.Fprintf(out, "A %d %d g%d\n", id, n, g)
		for k := 0; k < n; k++ {
			live = append(live, id+uint64(k))
		}
		g++
	}
}

// TestKillChildProcess SIGKILLs a child process that appends and removes
// on a real directory at random moments, 20 times, and checks after each
// recovery: acknowledged rows are present unless their removal was
// acknowledged, acknowledged removals stay removed, appends are whole.
func TestKillChildProcess(t *testing.T) {
	if dir := os.Getenv(killChildEnv); dir != "" {
		killChild(dir)
		return
	}
	kills := envInt("QUEUE_KILLS", 20)
	dir := filepath.Join(t.TempDir(), "t.queue")
	acked := map[uint64]string{} // id -> payload
	removed := map[uint64]bool{}
	attempted := map[uint64]bool{}
	r := rand.New(rand.NewSource(1))
	group := 0
	for kill := 0; kill < kills; kill++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillChildProcess$")
		cmd.Env = append(os.Environ(), killChildEnv+"="+dir, fmt.Sprintf("QUEUE_KILL_GROUP=%d", group))
		var stdout bytes.Buffer
		cmd.Stdout = &stdout
		cmd.Stderr = os.Stderr
		require.NoError(t, cmd.Start())
		time.Sleep(time.Duration(30+r.Intn(250)) * time.Millisecond)
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		_ = cmd.Wait()

		lines := strings.Split(stdout.String(), "\n")
		lines = lines[:len(lines)-1] // the last one is empty or torn
		for _, l := range lines {
			f := strings.Fields(l)
			switch f[0] {
			case "A":
				id, _ := strconv.ParseUint(f[1], 10, 64)
				n, _ := strconv.Atoi(f[2])
				g, _ := strconv.Atoi(strings.TrimPrefix(f[3], "g"))
				for k := 0; k < n; k++ {
					acked[id+uint64(k)] = string(groupPayload(g, k, n))
				}
				group = g + 1
			case "r":
				id, _ := strconv.ParseUint(f[1], 10, 64)
				attempted[id] = true
			case "R":
				id, _ := strconv.ParseUint(f[1], 10, 64)
				removed[id] = true
			case "ERR":
				t.Fatalf("child: %s", l)
			}
		}
		group += 1000 // groups of unacknowledged appends never collide

		tb, err := Open(dir, Options{SegmentSize: 256 << 10})
		require.NoError(t, err, "kill %d", kill)
		got := map[uint64]string{}
		c := tb.Scan(nil)
		for {
			id, p, ok, err := c.Next(nil)
			require.NoError(t, err)
			if !ok {
				break
			}
			got[id] = string(p)
		}
		for id, p := range acked {
			if removed[id] || (attempted[id] && got[id] == "") {
				continue
			}
			if p != got[id] {
				t.Log(dumpTable(OSFS{}, dir))
				t.Fatalf("kill %d: acknowledged row %d: %q", kill, id, got[id])
			}
		}
		for id := range removed {
			_, back := got[id]
			require.False(t, back, "kill %d: removed row %d came back", kill, id)
		}
		groups := map[string][]uint64{}
		for id, p := range got {
			g, _, _ := parsePayload(p)
			groups[g] = append(groups[g], id)
		}
		for g, ids := range groups {
			sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
			_, k0, n := parsePayload(got[ids[0]])
			start := ids[0] - uint64(k0)
			touched := false
			for id := start; id < start+uint64(n); id++ {
				touched = touched || attempted[id]
			}
			if !touched {
				require.Len(t, ids, n, "kill %d: partial append %s", kill, g)
			}
		}
		// Rows recovered but never acknowledged are durable from now on.
		for id, p := range got {
			acked[id] = p
		}
		t.Logf("kill %d: %d lines, %d live rows", kill, len(lines), len(got))
		require.NoError(t, tb.Close())
	}
}
