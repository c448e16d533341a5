package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
)

// buildDriver builds libqueue_core.so (with -tags queuetest, for the test
// hooks such as QUEUE_CORE_TEST_PANIC, see testhook.go) and the C driver
// (testdata/cdriver.c) against queue_core.h into a scratch directory. The
// test drives the library exactly as ha_queue.so does: through the C header
// only.
func buildDriver(t *testing.T) (dir, driver string) {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	dir = t.TempDir()
	lib := filepath.Join(dir, "libqueue_core.so")
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	exports, err := filepath.Abs("exports.map")
	if err != nil {
		t.Fatal(err)
	}
	build := exec.Command(gobin, "build", "-tags", "queuetest", "-buildmode=c-shared",
		"-ldflags=-extldflags=-Wl,--version-script="+exports, "-o", lib, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -tags queuetest -buildmode=c-shared: %v\n%s", err, out)
	}
	driver = filepath.Join(dir, "cdriver")
	cc := exec.Command("gcc", "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror", "-I.",
		"-o", driver, "testdata/cdriver.c", "-L"+dir, "-lqueue_core", "-Wl,-rpath,"+dir, "-lpthread")
	if out, err := cc.CombinedOutput(); err != nil {
		t.Fatalf("compiling the C driver: %v\n%s", err, out)
	}
	return dir, driver
}

func runDriver(t *testing.T, dir, driver string, env []string, args ...string) {
	t.Helper()
	work := filepath.Join(dir, "data")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(driver, args...)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("C driver %v failed: %v", args, err)
	}
}

func TestCDriver(t *testing.T) {
	dir, driver := buildDriver(t)
	t.Run("exports", func(t *testing.T) { checkExports(t, filepath.Join(dir, "libqueue_core.so")) })
	t.Run("abi", func(t *testing.T) { runDriver(t, dir, driver, nil) })
	t.Run("panic", func(t *testing.T) {
		runDriver(t, dir, driver, []string{"QUEUE_CORE_TEST_PANIC=qc_table_open"}, "panic")
	})
}

// checkExports checks that the library's dynamic symbols are exactly the
// functions queue_core.h declares, and that there are at most 20 of them.
func checkExports(t *testing.T, lib string) {
	if _, err := exec.LookPath("nm"); err != nil {
		t.Skip("nm not installed")
	}
	header, err := os.ReadFile("queue_core.h")
	if err != nil {
		t.Fatal(err)
	}
	var declared []string
	for _, m := range regexp.MustCompile(`(?m)^int\s+(qc_\w+)\(`).FindAllStringSubmatch(string(header), -1) {
		declared = append(declared, m[1])
	}
	out, err := exec.Command("nm", "-D", "--defined-only", lib).Output()
	if err != nil {
		t.Fatal(err)
	}
	var exported []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[1] == "T" {
			exported = append(exported, f[2])
		}
	}
	sort.Strings(declared)
	sort.Strings(exported)
	if !slices.Equal(declared, exported) {
		t.Fatalf("exported functions %v, header declares %v", exported, declared)
	}
	// Tables, rows, sessions, administration and transactions (stage,
	// savepoint, end); drop, rename, truncate and the XA recovery list are
	// qc_admin operations, resolving an XA transaction is qc_txn_end's.
	if len(declared) > 20 {
		t.Fatalf("the ABI has %d functions, at most 20 wanted", len(declared))
	}
}
