package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// mysqlServer is the MariaDB server shared by every SQL-layer system (the
// queue engine, InnoDB, BLACKHOLE, GET_LOCK), so they are measured on one
// server with one configuration.
type mysqlServer struct {
	addr  string  // host:port, for the report
	dsn   string  // with interpolateParams, so a statement is one round trip
	admin *sql.DB // for DDL, checks and pre-filling; not used by workers

	// The server's process on this machine, for its CPU time and context
	// switches: /proc/<pid> and where the pid came from, or why unknown.
	procDir, procFrom, procWhy string
}

func openMySQL(ctx context.Context, dsn string) (*mysqlServer, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("bad MySQL DSN: %w", err)
	}
	// Client-side interpolation: one round trip per statement, as an
	// application using text queries would do; server-side prepares would
	// add a round trip per statement with this driver.
	cfg.InterpolateParams = true
	cfg.Timeout = 5 * time.Second
	cfg.MaxAllowedPacket = 64 << 20
	s := &mysqlServer{dsn: cfg.FormatDSN(), addr: cfg.Addr}
	s.admin, err = sql.Open("mysql", s.dsn)
	if err != nil {
		return nil, err
	}
	s.admin.SetMaxOpenConns(4)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.admin.PingContext(pctx); err != nil {
		s.admin.Close()
		return nil, fmt.Errorf("MariaDB at %s: %w", cfg.Addr, err)
	}
	if dir, from, err := serverProcess(pctx, s.admin); err != nil {
		s.procWhy = err.Error()
	} else {
		s.procDir, s.procFrom = dir, from
	}
	return s, nil
}

// conn opens one dedicated connection for a worker. Extra session settings
// are given as name=value system variables so that they also apply if the
// driver has to reconnect. The *sql.DB holds at most one connection, so
// statements of one worker always run on the same server session (the
// queue engine keeps a consumer's owned row in its session).
func (s *mysqlServer) conn(ctx context.Context, sessionVars map[string]string) (*sql.DB, error) {
	dsn := s.dsn
	if len(sessionVars) > 0 {
		var b strings.Builder
		for k, v := range sessionVars {
			fmt.Fprintf(&b, "&%s=%s", k, url.QueryEscape(v))
		}
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		dsn += sep + b.String()[1:]
	}
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func (s *mysqlServer) close() error { return s.admin.Close() }

// variable reads a global server variable (empty if unknown).
func (s *mysqlServer) variable(ctx context.Context, name string) string {
	var v sql.NullString
	if err := s.admin.QueryRowContext(ctx, "SELECT @@GLOBAL."+name).Scan(&v); err != nil {
		return ""
	}
	return v.String
}

// globalStatus reads integer SHOW GLOBAL STATUS counters by name; a
// counter the server does not have is absent from the map.
func (s *mysqlServer) globalStatus(ctx context.Context, names []string) (map[string]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	q := "SHOW GLOBAL STATUS WHERE Variable_name IN ('" + strings.Join(names, "','") + "')"
	rows, err := s.admin.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return nil, err
		}
		if n, err := strconv.ParseInt(value, 10, 64); err == nil {
			out[name] = n
		}
	}
	return out, rows.Err()
}

// engineAvailable reports whether a storage engine can be used, installing
// a bundled plugin (BLACKHOLE) when the server has it but did not load it.
func (s *mysqlServer) engineAvailable(ctx context.Context, engine, soname string) error {
	var support string
	err := s.admin.QueryRowContext(ctx,
		"SELECT SUPPORT FROM information_schema.ENGINES WHERE ENGINE = ?", engine).Scan(&support)
	if err == nil && (support == "YES" || support == "DEFAULT") {
		return nil
	}
	if soname == "" {
		return fmt.Errorf("storage engine %s is not installed in the server", engine)
	}
	if _, err := s.admin.ExecContext(ctx, "INSTALL SONAME '"+soname+"'"); err != nil {
		return fmt.Errorf("storage engine %s is not installed and INSTALL SONAME '%s' failed: %w", engine, soname, err)
	}
	return nil
}

// execAll runs DDL statements in order.
func (s *mysqlServer) execAll(ctx context.Context, stmts ...string) error {
	for _, q := range stmts {
		if _, err := s.admin.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// prefill inserts (id, payload) rows in multi-row INSERTs of about 1 MiB.
func (s *mysqlServer) prefill(ctx context.Context, table string, payloads [][]byte) error {
	for start := 0; start < len(payloads); {
		var b strings.Builder
		args := []any{}
		b.WriteString("INSERT INTO " + table + " (id, payload) VALUES ")
		size := 0
		end := start
		for end < len(payloads) && (size < 1<<20 || end == start) && end-start < 2000 {
			if end > start {
				b.WriteString(",")
			}
			b.WriteString("(?,?)")
			args = append(args, messageID(payloads[end]), payloads[end])
			size += len(payloads[end])
			end++
		}
		if _, err := s.admin.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("pre-filling %s: %w", table, err)
		}
		start = end
	}
	return nil
}

// remainingIDs reads the id column of every row.
func (s *mysqlServer) remainingIDs(ctx context.Context, query string) ([]uint64, error) {
	rows, err := s.admin.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []uint64
	for rows.Next() {
		var id uint64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// sqlProducer enqueues with one INSERT per message (autocommit).
type sqlProducer struct {
	db     *sql.DB
	insert string
}

func (p *sqlProducer) Put(payload []byte) error {
	_, err := p.db.Exec(p.insert, messageID(payload), payload)
	return err
}

func (p *sqlProducer) Close() error { return p.db.Close() }

// pollWait is how a polling consumer spends a second: it polls, and sleeps
// about interval between empty polls, until something arrives or a second
// passed. The sleep is jittered (0.5–1.5× interval) as in real pollers;
// without it, idle consumers fall into step with the producer (all poll just
// after a delivery) and the latency measured is the full interval.
func pollWait(interval time.Duration, poll func() ([][]byte, error)) ([][]byte, error) {
	deadline := time.Now().Add(time.Second)
	for {
		msgs, err := poll()
		if err != nil || len(msgs) > 0 || time.Now().After(deadline) {
			return msgs, err
		}
		time.Sleep(interval/2 + rand.N(interval+1))
	}
}
