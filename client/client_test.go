package client_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/queue-engine/queue/client"
)

func TestQuoteIdent(t *testing.T) {
	for in, want := range map[string]string{
		"t":      "`t`",
		"db.t":   "`db`.`t`",
		"a`b":    "`a``b`",
		"db.t.x": "`db`.`t.x`",
		"":       "``",
	} {
		if got := client.QuoteIdent(in); got != want {
			t.Errorf("QuoteIdent(%q) = %s, want %s", in, got, want)
		}
	}
	if got := client.SpecTable("db.t:a > 1 AND b:c"); got != "db.t" {
		t.Errorf("SpecTable: %q", got)
	}
}

func TestIsConnLost(t *testing.T) {
	if !client.IsConnLost(mysql.ErrInvalidConn) || !client.IsConnLost(&mysql.MySQLError{Number: 2013}) ||
		!client.IsConnLost(fmt.Errorf("x: %w", client.ErrConnLost)) {
		t.Error("lost connections not recognized")
	}
	if client.IsConnLost(&mysql.MySQLError{Number: 1146}) || client.IsConnLost(errors.New("no")) || client.IsConnLost(nil) {
		t.Error("statement errors taken for lost connections")
	}
	if !client.IsInterrupted(&mysql.MySQLError{Number: 1317}) {
		t.Error("1317 not an interruption")
	}
}

func TestBackoff(t *testing.T) {
	b := client.Backoff{Min: time.Millisecond, Max: 3 * time.Millisecond}
	start := time.Now()
	for i := 0; i < 4; i++ {
		if err := b.Sleep(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 9*time.Millisecond {
		t.Errorf("4 sleeps 1+2+3+3 ms took %v", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Sleep(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep with cancelled context: %v", err)
	}
}

// Values come back typed, columns by name; quotes and backslashes in specs
// survive.
func TestTypes(t *testing.T) {
	db := needServer(t)
	mustExec(t, db, "DROP TABLE IF EXISTS ct_types",
		"CREATE TABLE ct_types (i INT, u BIGINT UNSIGNED, f FLOAT, d DOUBLE, dec1 DECIMAL(10,3), s VARCHAR(20), b VARBINARY(10), "+
			"dt DATETIME(3), n TEXT) ENGINE=queue",
		`INSERT INTO ct_types VALUES (-5, 18446744073709551615, 1.5, 2.25, 3.125, 'it''s \\ ok', x'00ff', '2024-02-29 12:34:56.789', NULL)`)
	c := client.NewConsumer(db)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := c.Wait(ctx, "ct_types:i > 0", "test.ct_types")
	if err != nil {
		t.Fatal(err)
	}
	if m.Index != 2 || m.Table != "test.ct_types" || m.RowID != 1 {
		t.Errorf("message %+v", m)
	}
	got := fmt.Sprintf("%#v", m.Map())
	want := fmt.Sprintf("%#v", map[string]any{"i": int64(-5), "u": uint64(18446744073709551615), "f": float32(1.5),
		"d": 2.25, "dec1": "3.125", "s": `it's \ ok`, "b": []byte{0, 0xff}, "dt": "2024-02-29 12:34:56.789", "n": nil})
	if got != want {
		t.Errorf("row\n got %s\nwant %s", got, want)
	}
	if err := c.End(ctx); err != nil {
		t.Fatal(err)
	}
	// A bad condition is an error naming the server's warning.
	_, err = c.Wait(ctx, `ct_types:no_such_col \ 1`)
	if err == nil {
		t.Fatal("bad condition accepted")
	}
	t.Log(err)
}

// KILL CONNECTION of the consumer's connection while it owns a row: the
// row goes back and the next Wait, on a new connection, gets it again.
func TestReconnect(t *testing.T) {
	db := needServer(t)
	mustExec(t, db, "DROP TABLE IF EXISTS ct_lost", "CREATE TABLE ct_lost (v INT) ENGINE=queue",
		"INSERT INTO ct_lost VALUES (1), (2)")
	c := client.NewConsumer(db)
	defer c.Close()
	var logs []string
	c.Logf = func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := c.Wait(ctx, "ct_lost")
	if err != nil || m.RowID != 1 {
		t.Fatalf("%v %+v", err, m)
	}
	id := c.ConnectionID()
	mustExec(t, db, fmt.Sprintf("KILL CONNECTION %d", id))
	m, err = c.Wait(ctx, "ct_lost")
	if err != nil {
		t.Fatal(err)
	}
	if m.RowID != 1 || c.ConnectionID() == id {
		t.Errorf("after the lost connection: row %d on connection %d (was %d)", m.RowID, c.ConnectionID(), id)
	}
	if len(logs) == 0 {
		t.Error("no log line for the lost connection")
	}
	t.Log(logs)
	m, err = c.Wait(ctx, "ct_lost")
	if err != nil || m.RowID != 2 {
		t.Fatalf("%v %+v", err, m)
	}
	if err := c.End(ctx); err != nil {
		t.Fatal(err)
	}
	// A deadline ends the wait with DeadlineExceeded, owning nothing.
	short, cancel2 := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel2()
	if _, err := c.Wait(short, "ct_lost"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait past the deadline: %v", err)
	}
	// The connection still works after the KILL QUERY.
	mustExec(t, db, "INSERT INTO ct_lost VALUES (3)")
	m, err = c.Wait(ctx, "ct_lost")
	if err != nil || m.RowID != 3 {
		t.Fatalf("%v %+v", err, m)
	}
	_ = c.End(ctx)
}

// LogRemovals removes each consumed row with the owner's DELETE (counted
// by the server as Com_delete, and what the binary log records), both in
// End and in a Wait that finishes the row owned so far; STATEMENT logging
// is refused.
func TestLogRemovals(t *testing.T) {
	db := needServer(t)
	mustExec(t, db, "DROP TABLE IF EXISTS logrm",
		"CREATE TABLE logrm (id INT NOT NULL) ENGINE=queue",
		"INSERT INTO logrm VALUES (1), (2), (3)")
	defer db.Exec("DROP TABLE IF EXISTS logrm")
	comDelete := func() int64 {
		var name string
		var n int64
		if err := db.QueryRow("SHOW GLOBAL STATUS LIKE 'Com_delete'").Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	ctx := context.Background()
	c := client.NewConsumer(db)
	c.LogRemovals = true
	defer c.Close()
	before := comDelete()
	for want := int64(1); want <= 2; want++ {
		m, err := c.Wait(ctx, "logrm")
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := m.Get("id"); v != want {
			t.Fatalf("got id %v, want %d", v, want)
		}
	}
	if err := c.End(ctx); err != nil {
		t.Fatal(err)
	}
	if d := comDelete() - before; d != 2 {
		t.Errorf("%d DELETE statements for two consumed rows, want 2", d)
	}
	var left []int64
	rows, err := db.Query("SELECT id FROM logrm")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		_ = rows.Scan(&id)
		left = append(left, id)
	}
	rows.Close()
	if len(left) != 1 || left[0] != 3 {
		t.Errorf("rows left %v, want [3]", left)
	}

	mustExec(t, db, "SET GLOBAL binlog_format = 'STATEMENT'")
	defer db.Exec("SET GLOBAL binlog_format = 'MIXED'")
	fresh, err := client.Open(dsn) // connections that start under STATEMENT
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	s := client.NewConsumer(fresh)
	s.LogRemovals = true
	defer s.Close()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := s.Wait(wctx, "logrm"); err == nil || !strings.Contains(err.Error(), "STATEMENT") {
		t.Errorf("Wait under binlog_format=STATEMENT: %v, want a refusal", err)
	}
}
