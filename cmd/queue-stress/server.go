package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// waitServer polls until the server answers, or the context ends.
func waitServer(ctx context.Context, db *sql.DB) error {
	for {
		err := db.PingContext(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("server not reachable: %w", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// crashAndRestart waits until half of the messages were produced, kills the
// server with SIGKILL, waits for it to die, starts it again with
// c.restartCmd and waits until it answers.
func crashAndRestart(ctx context.Context, db *sql.DB, c config, produced *atomic.Int64) error {
	for produced.Load() < int64(c.messages/2) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("crash: only %d messages produced before the deadline", produced.Load())
		case <-time.After(10 * time.Millisecond):
		}
	}
	b, err := os.ReadFile(c.pidFile)
	if err != nil {
		return fmt.Errorf("crash: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return fmt.Errorf("crash: bad pid in %s: %q", c.pidFile, b)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("crash: kill -9 %d: %w", pid, err)
	}
	for syscall.Kill(pid, 0) == nil {
		select {
		case <-ctx.Done():
			return fmt.Errorf("crash: server %d did not die", pid)
		case <-time.After(20 * time.Millisecond):
		}
	}
	fmt.Printf("queue-stress: killed server %d after %d messages\n", pid, produced.Load())
	cmd := exec.CommandContext(ctx, "sh", "-c", c.restartCmd)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("crash: restart %q: %w", c.restartCmd, err)
	}
	return waitServer(ctx, db)
}
