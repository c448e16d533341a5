package main

import (
	"context"
	"database/sql"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestQuickAgainstServer runs the quick exactly-once check against the
// server named by QUEUE_STRESS_DSN (e.g. the sandbox:
// "root@tcp(127.0.0.1:3307)/test"). make stress runs the same check, and the
// kill -9 one, through the binary.
func TestQuickAgainstServer(t *testing.T) {
	dsn := os.Getenv("QUEUE_STRESS_DSN")
	if dsn == "" {
		t.Skip("QUEUE_STRESS_DSN not set (make stress runs this against the sandbox)")
	}
	db, err := sql.Open("mysql", withParams(dsn))
	require.NoError(t, err)
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	c := config{table: "stress_go_test", producers: 2, consumers: 3, messages: 600, timeout: 50 * time.Second}
	require.NoError(t, runStress(ctx, db, c))
	_, err = db.ExecContext(ctx, "DROP TABLE "+c.table)
	require.NoError(t, err)
}

func TestWithParams(t *testing.T) {
	require.Equal(t, "u@tcp(h:1)/d?timeout=5s&readTimeout=30s&writeTimeout=30s", withParams("u@tcp(h:1)/d"))
	require.Equal(t, "u@tcp(h:1)/d?x=1&timeout=5s&readTimeout=30s&writeTimeout=30s", withParams("u@tcp(h:1)/d?x=1"))
}
