package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// machine describes where a run happened, so that numbers from different
// machines or from a loaded machine are not compared blindly.
type machine struct {
	Cores        int
	CPU          string
	MemGiB       float64
	Kernel       string
	LoadStart    string
	LoadEnd      string
	FsyncDir     string
	FsyncP50     time.Duration // fdatasync of a 4 KiB overwrite
	FsyncP99     time.Duration
	FsyncSamples int
}

func probeMachine(fsyncDir string, samples int) (machine, error) {
	m := machine{Cores: runtime.NumCPU(), CPU: cpuModel(), LoadStart: loadAvg(), FsyncDir: fsyncDir}
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		m.MemGiB = float64(si.Totalram) * float64(si.Unit) / (1 << 30)
	}
	var un unix.Utsname
	if unix.Uname(&un) == nil {
		m.Kernel = unix.ByteSliceToString(un.Release[:])
	}
	lat, err := fdatasyncLatency(fsyncDir, samples)
	if err != nil {
		return m, err
	}
	m.FsyncSamples = len(lat)
	m.FsyncP50, m.FsyncP99 = percentile(lat, 50), percentile(lat, 99)
	return m, nil
}

// fdatasyncLatency times an append-and-fdatasync of 4 KiB, the cost every
// durable acknowledgement pays at least once, on the file system the
// servers' data lives on.
func fdatasyncLatency(dir string, samples int) ([]time.Duration, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "fsync-probe-*")
	if err != nil {
		return nil, err
	}
	name := f.Name()
	defer os.Remove(name)
	defer f.Close()
	buf := make([]byte, 4096)
	lat := make([]time.Duration, 0, samples)
	for i := 0; i < samples; i++ {
		t := time.Now()
		if _, err := f.Write(buf); err != nil {
			return nil, err
		}
		if err := unix.Fdatasync(int(f.Fd())); err != nil {
			return nil, fmt.Errorf("fdatasync %s: %w", filepath.Base(name), err)
		}
		lat = append(lat, time.Since(t))
	}
	sortDurations(lat)
	return lat, nil
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
