// queue-check reads a queue table's directory while the server is stopped.
//
//	queue-check verify [--quick] [--force] DIR
//	queue-check dump [--force] DIR
//	queue-check stats [--force] DIR
//
// DIR is a table's directory in the server's data directory,
// <datadir>/<database>/<table>.queue (the table name filename-encoded as
// the server does); <datadir>/<database>/<table> is accepted too. The
// column list next to it (<table>.qcol) lets dump show column values.
//
// verify runs the checks of CHECK TABLE (--quick: those of CHECK TABLE
// QUICK) and compares the checkpoint with the files. dump writes one JSON
// object per live row. stats writes the table's figures.
//
// Exit status: 0 no problem found; 1 the files have errors (warnings, which
// recovery resolves by itself, do not count); 2 usage error, I/O error, or
// the table is open in a running server.
//
// It only reads. It refuses to run when a process (the server) has a file
// of the table open: the files change under a running server. The check
// looks at /proc/*/fd, so run it as root or as the server's user; --force
// runs anyway (with a warning).
package main

import (
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/queue-engine/queue/core"
	"github.com/queue-engine/queue/engine/rowfmt"
)

const usage = `usage: queue-check verify [--quick] [--force] DIR
       queue-check dump [--force] DIR
       queue-check stats [--force] DIR

DIR is a queue table's directory, <datadir>/<database>/<table>.queue.
Run it while the server is stopped; it only reads.

  verify  the checks of CHECK TABLE (--quick: CHECK TABLE QUICK), and the
          checkpoint against the files; one line per problem
  dump    one JSON object per live row: id, file, offset, the column
          values when <table>.qcol decodes the row, else the payload in
          base64 ("damaged": true for a row whose bytes fail their check)
  stats   rows, bytes live and total, segments, next row id, relay marks

Exit status: 0 no problem, 1 the files have errors, 2 usage or I/O error or
the table is open in a running server (--force: run anyway).
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

const (
	exitOK       = 0
	exitProblems = 1
	exitUsage    = 2
)

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmd := args[0]
	fs := flag.NewFlagSet("queue-check "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	quick := fs.Bool("quick", false, "verify: check the frames only (framing, checksums)")
	force := fs.Bool("force", false, "run even when a process has a file of the table open")
	if err := fs.Parse(args[1:]); err != nil {
		return exitUsage
	}
	if fs.NArg() != 1 || (cmd != "verify" && cmd != "dump" && cmd != "stats") || (*quick && cmd != "verify") {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	dir, err := tableDir(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "queue-check: %v\n", err)
		return exitUsage
	}
	if users := openBy(dir); len(users) > 0 {
		if !*force {
			fmt.Fprintf(stderr, "queue-check: %s is open in process %s (a running server?): stop the server first, or use --force\n",
				dir, strings.Join(users, ", "))
			return exitUsage
		}
		fmt.Fprintf(stderr, "queue-check: WARNING: %s is open in process %s; its files may change while they are read\n",
			dir, strings.Join(users, ", "))
	}
	cols := strings.TrimSuffix(dir, ".queue") + ".qcol"
	var layout *rowfmt.Layout
	if c, err := rowfmt.Load(cols); err == nil {
		layout = rowfmt.New(c)
	}
	switch cmd {
	case "verify":
		return verify(dir, layout, *quick, stdout, stderr)
	case "dump":
		return dump(dir, layout, stdout, stderr)
	default:
		return stats(dir, stdout, stderr)
	}
}

// tableDir resolves the argument to an existing table directory.
func tableDir(arg string) (string, error) {
	dir := filepath.Clean(arg)
	if !strings.HasSuffix(dir, ".queue") {
		if st, err := os.Stat(dir + ".queue"); err == nil && st.IsDir() {
			dir += ".queue"
		}
	}
	st, err := os.Stat(dir)
	if err != nil {
		return "", err
	}
	if !st.IsDir() {
		return "", fmt.Errorf("%s is not a directory", dir)
	}
	return dir, nil
}

// openBy lists the processes that have a file inside dir open (from
// /proc/*/fd; processes whose descriptors cannot be read are skipped).
func openBy(dir string) []string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil
	}
	abs, _ = filepath.EvalSymlinks(abs)
	procs, _ := filepath.Glob("/proc/[0-9]*")
	self := fmt.Sprint(os.Getpid())
	var users []string
	for _, p := range procs {
		pid := filepath.Base(p)
		if pid == self {
			continue
		}
		fds, err := os.ReadDir(filepath.Join(p, "fd"))
		if err != nil {
			continue
		}
		for _, fd := range fds {
			target, err := os.Readlink(filepath.Join(p, "fd", fd.Name()))
			if err == nil && (target == abs || strings.HasPrefix(target, abs+"/")) {
				name, _ := os.ReadFile(filepath.Join(p, "comm"))
				users = append(users, fmt.Sprintf("%s (%s)", pid, strings.TrimSpace(string(name))))
				break
			}
		}
	}
	return users
}

func decoder(layout *rowfmt.Layout) func([]byte) error {
	if layout == nil {
		return nil
	}
	return layout.Check
}

func verify(dir string, layout *rowfmt.Layout, quick bool, stdout, stderr io.Writer) int {
	rep, err := core.Verify(core.OSFS{}, dir, core.CheckOptions{Quick: quick, Decode: decoder(layout)})
	if err != nil {
		fmt.Fprintf(stderr, "queue-check: %v\n", err)
		return exitUsage
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(stdout, "%s: %s\n", p.Level, p)
	}
	if rep.Checkpoint == "none" {
		fmt.Fprintln(stdout, "note: no checkpoint: the server did not close the table cleanly (or has it open); its next open reads every segment")
	}
	if layout == nil && !quick {
		fmt.Fprintln(stdout, "note: no readable column list (.qcol): rows were not decoded")
	}
	level := "full"
	if quick {
		level = "quick"
	}
	fmt.Fprintf(stdout, "%s check: %d errors, %d warnings; %d rows, %d segments\n",
		level, rep.Errors(), len(rep.Problems)-rep.Errors(), rep.Rows, rep.Segments)
	if rep.Errors() > 0 {
		return exitProblems
	}
	return exitOK
}

type dumpRow struct {
	Type    string         `json:"type"`
	ID      uint64         `json:"id"`
	File    string         `json:"file"`
	Offset  int64          `json:"offset"`
	Columns map[string]any `json:"columns,omitempty"`
	Payload string         `json:"payload_base64,omitempty"`
	Damaged bool           `json:"damaged,omitempty"`
}

func dump(dir string, layout *rowfmt.Layout, stdout, stderr io.Writer) int {
	enc := json.NewEncoder(stdout)
	rep, err := core.VisitRows(core.OSFS{}, dir, func(id uint64, file string, off int64, payload []byte, bad bool) error {
		r := dumpRow{Type: "row", ID: id, File: file, Offset: off, Damaged: bad}
		if !bad {
			var vals []any
			if layout != nil {
				vals, _ = layout.Decode(payload)
			}
			if vals != nil {
				r.Columns = map[string]any{}
				for i, n := range layout.Names() {
					r.Columns[n] = vals[i]
				}
			} else {
				r.Payload = base64.StdEncoding.EncodeToString(payload)
			}
		}
		return enc.Encode(r)
	})
	if err != nil {
		fmt.Fprintf(stderr, "queue-check: %v\n", err)
		return exitUsage
	}
	_ = enc.Encode(map[string]any{
		"type":        "table",
		"rows":        rep.Rows,
		"next_row_id": rep.NextID,
		"relay_marks": marks(rep),
		"errors":      rep.Errors(),
		"owned":       "not stored: ownership lives in the server's memory only, so a row owned when the server stopped is a queued row here and is delivered again",
	})
	if rep.Errors() > 0 {
		fmt.Fprintf(stderr, "queue-check: %d errors in the files (run verify)\n", rep.Errors())
		return exitProblems
	}
	return exitOK
}

// marks returns the relay marks that are set, by slot.
func marks(rep *core.CheckReport) map[string]uint64 {
	m := map[string]uint64{}
	for i, v := range rep.Marks {
		if v != 0 {
			m[fmt.Sprint(i)] = v
		}
	}
	return m
}

func stats(dir string, stdout, stderr io.Writer) int {
	rep, err := core.Verify(core.OSFS{}, dir, core.CheckOptions{Quick: true})
	if err != nil {
		fmt.Fprintf(stderr, "queue-check: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(stdout, "rows: %d\n", rep.Rows)
	fmt.Fprintf(stdout, "row_frames: %d\n", rep.RowFrames)
	fmt.Fprintf(stdout, "bytes_live: %d\n", rep.BytesLive)
	fmt.Fprintf(stdout, "bytes_total: %d\n", rep.BytesTotal)
	fmt.Fprintf(stdout, "segments: %d\n", rep.Segments)
	fmt.Fprintf(stdout, "next_row_id: %d\n", rep.NextID)
	fmt.Fprintf(stdout, "checkpoint: %s\n", rep.Checkpoint)
	m := marks(rep)
	slots := make([]string, 0, len(m))
	for k := range m {
		slots = append(slots, k)
	}
	sort.Slice(slots, func(i, j int) bool {
		return len(slots[i]) < len(slots[j]) || len(slots[i]) == len(slots[j]) && slots[i] < slots[j]
	})
	for _, k := range slots {
		fmt.Fprintf(stdout, "relay_mark %s: %d\n", k, m[k])
	}
	if n := rep.Errors(); n > 0 {
		fmt.Fprintf(stdout, "errors: %d (run verify)\n", n)
		return exitProblems
	}
	return exitOK
}
