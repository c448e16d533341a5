// Package sandboxtest holds what the tests that drive several sandbox
// servers (test/failover, test/spider) share: a server named by its
// directory and port, a connection to it, and statements that must succeed.
package sandboxtest

import (
	"database/sql"
	"strings"
	"testing"

	"github.com/queue-engine/queue/client"
)

// Box is a sandbox server: its directory (socket, pid file) and TCP port.
type Box struct{ Dir, Port string }

// Parse reads "DIR:PORT", the form the make targets pass in the environment.
func Parse(t testing.TB, v string) Box {
	t.Helper()
	i := strings.LastIndex(v, ":")
	if i < 0 {
		t.Fatalf("%q: want DIR:PORT", v)
	}
	return Box{v[:i], v[i+1:]}
}

// Open connects to the server's socket as root, database test, with at most
// maxConns connections; the pool is closed when the test ends.
func (b Box) Open(t testing.TB, maxConns int) *sql.DB {
	t.Helper()
	db, err := client.Open("root@unix(" + b.Dir + "/mysqld.sock)/test")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(maxConns)
	t.Cleanup(func() { db.Close() })
	return db
}

// Exec runs each statement and fails the test on the first error.
func Exec(t testing.TB, db *sql.DB, qs ...string) {
	t.Helper()
	for _, q := range qs {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}
