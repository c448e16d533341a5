package client_test

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/queue-engine/queue/client"
)

// dsn is the server the examples and tests use: QUEUE_TEST_DSN, or the
// sandbox server's socket (var/sandbox/mysqld.sock of the repository).
var dsn string

// server is set when dsn answers.
var server bool

func TestMain(m *testing.M) {
	flag.Parse()
	dsn = os.Getenv("QUEUE_TEST_DSN")
	if dsn == "" {
		sock, _ := filepath.Abs("../var/sandbox/mysqld.sock")
		dsn = "root@unix(" + sock + ")/test"
	}
	server = reachable(dsn)
	if !server {
		// Examples cannot skip themselves: leave them out.
		_ = flag.Set("test.skip", "^Example")
		fmt.Println("client: no server (QUEUE_TEST_DSN unset and no sandbox socket); examples and server tests skipped")
	}
	os.Exit(m.Run())
}

func reachable(dsn string) bool {
	db, err := client.Open(dsn)
	if err != nil {
		return false
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var n sql.NullInt64
	// The engine and its functions must be there too.
	return db.QueryRowContext(ctx, "SELECT COUNT(*) FROM mysql.func WHERE name = 'queue_wait'").Scan(&n) == nil && n.Int64 == 1
}

// needServer skips t without a server and returns a handle to it.
func needServer(t *testing.T) *sql.DB {
	t.Helper()
	if !server {
		t.Skip("no server: set QUEUE_TEST_DSN or start the sandbox (make sandbox-start)")
	}
	db, err := client.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mustExec(t *testing.T, db *sql.DB, qs ...string) {
	t.Helper()
	for _, q := range qs {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}
