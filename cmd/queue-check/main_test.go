package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/queue-engine/queue/core"
	"github.com/stretchr/testify/require"
)

// The column list the handler records for
// CREATE TABLE t (id INT NOT NULL, v VARCHAR(40)).
const qcol = `[{"name":"id","type":3,"offset":1,"length":4,"null_offset":-1},` +
	`{"name":"v","type":15,"null_mask":2,"offset":-1,"length":41,"null_offset":0}]`

// payload is a row as the handler packs it (docs/ROW-PAYLOAD.md).
func payload(id int32, v string) []byte {
	b := []byte{0}
	b = binary.LittleEndian.AppendUint32(b, uint32(id))
	b = append(b, byte(len(v)))
	return append(b, v...)
}

// makeTable writes a table directory with core, as the server does:
// rows 1..4, row 3 removed, a relay mark, closed cleanly (checkpoint).
func makeTable(t *testing.T) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "db")
	require.NoError(t, os.Mkdir(db, 0o755))
	dir := filepath.Join(db, "t.queue")
	require.NoError(t, core.Create(dir, core.Options{}))
	require.NoError(t, os.WriteFile(filepath.Join(db, "t.qcol"), []byte(qcol), 0o644))
	tb, err := core.Open(dir, core.Options{NoBackground: true})
	require.NoError(t, err)
	_, _, err = tb.Append([][]byte{payload(1, "first"), payload(2, "MARKER-TO-CORRUPT")}, &core.Relay{Slot: 3, RowID: 70})
	require.NoError(t, err)
	_, _, err = tb.Append([][]byte{payload(3, "third"), payload(4, "fourth")}, nil)
	require.NoError(t, err)
	_, err = tb.Remove([]uint64{3})
	require.NoError(t, err)
	require.NoError(t, tb.Close())
	return dir
}

func runCheck(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func damage(t *testing.T, dir string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		if i := bytes.Index(b, []byte("MARKER-TO-CORRUPT")); i >= 0 {
			b[i+3] = 'X'
			require.NoError(t, os.WriteFile(f, b, 0o644))
			return
		}
	}
	t.Fatal("marker not found")
}

func TestVerifyStatsDumpHealthy(t *testing.T) {
	dir := makeTable(t)
	code, out, _ := runCheck("verify", dir)
	require.Equal(t, exitOK, code, out)
	require.Contains(t, out, "full check: 0 errors, 0 warnings; 3 rows, 1 segments")
	code, out, _ = runCheck("verify", "--quick", strings.TrimSuffix(dir, ".queue"))
	require.Equal(t, exitOK, code, out)

	code, out, _ = runCheck("stats", dir)
	require.Equal(t, exitOK, code, out)
	require.Contains(t, out, "rows: 3\n")
	require.Contains(t, out, "row_frames: 4\n")
	require.Contains(t, out, "segments: 1\n")
	require.Contains(t, out, "next_row_id: 5\n")
	require.Contains(t, out, "checkpoint: valid\n")
	require.Contains(t, out, "relay_mark 3: 70\n")

	code, out, _ = runCheck("dump", dir)
	require.Equal(t, exitOK, code, out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 4)
	var r dumpRow
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &r))
	require.Equal(t, uint64(1), r.ID)
	require.Equal(t, map[string]any{"id": float64(1), "v": "first"}, r.Columns)
	require.NoError(t, json.Unmarshal([]byte(lines[2]), &r))
	require.Equal(t, uint64(4), r.ID)
	var meta map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[3]), &meta))
	require.Equal(t, "table", meta["type"])
	require.Equal(t, map[string]any{"3": float64(70)}, meta["relay_marks"])
	require.Contains(t, meta["owned"], "not stored")

	// without a column list the payload is given in base64
	require.NoError(t, os.Remove(strings.TrimSuffix(dir, ".queue")+".qcol"))
	code, out, _ = runCheck("dump", dir)
	require.Equal(t, exitOK, code)
	require.Contains(t, out, `"payload_base64"`)
}

func TestDamagedTable(t *testing.T) {
	dir := makeTable(t)
	damage(t, dir)
	code, out, _ := runCheck("verify", dir)
	require.Equal(t, exitProblems, code, out)
	require.Regexp(t, `error: [0-9a-f]{16}\.seg at offset \d+: row 2: frame does not check`, out)
	code, _, _ = runCheck("verify", "--quick", dir)
	require.Equal(t, exitProblems, code)
	code, out, _ = runCheck("dump", dir)
	require.Equal(t, exitProblems, code)
	require.Contains(t, out, `{"type":"row","id":2,`)
	require.Contains(t, out, `"damaged":true`)
	code, out, _ = runCheck("stats", dir)
	require.Equal(t, exitProblems, code)
	require.Contains(t, out, "errors: 1")
}

func TestUsage(t *testing.T) {
	code, _, _ := runCheck()
	require.Equal(t, exitUsage, code)
	code, out, _ := runCheck("--help")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "Exit status: 0 no problem, 1 the files have errors, 2 usage")
	code, _, _ = runCheck("fix", t.TempDir())
	require.Equal(t, exitUsage, code)
	code, _, _ = runCheck("dump", "--quick", t.TempDir())
	require.Equal(t, exitUsage, code)
	code, _, errs := runCheck("verify", filepath.Join(t.TempDir(), "missing"))
	require.Equal(t, exitUsage, code)
	require.Contains(t, errs, "no such file")
	// an empty directory is not a table
	code, out, _ = runCheck("verify", t.TempDir())
	require.Equal(t, exitProblems, code)
	require.Contains(t, out, "has no segment files")
}

// A process with a file of the table open (a running server) makes it
// refuse; --force runs with a warning.
func TestRefusesOpenTable(t *testing.T) {
	dir := makeTable(t)
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	f, err := os.Open(segs[0])
	require.NoError(t, err)
	defer f.Close()
	cmd := exec.Command("sleep", "60")
	cmd.ExtraFiles = []*os.File{f}
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	code, _, errs := runCheck("verify", dir)
	require.Equal(t, exitUsage, code)
	require.Contains(t, errs, "is open in process")
	require.Contains(t, errs, "(sleep)")
	code, _, errs = runCheck("verify", "--force", dir)
	require.Equal(t, exitOK, code)
	require.Contains(t, errs, "WARNING")
}
