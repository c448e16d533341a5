package client

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Message is the row a Consumer owns after Wait.
type Message struct {
	// Index is the 1-based index of the spec that delivered the row (the
	// result of queue_wait), Spec that spec and Table its table part.
	Index int
	Spec  string
	Table string
	// RowID is the row's id in its table (queue_rowid()).
	RowID int64
	// Columns are the row's column names in table order; Values the values
	// in the same order. A value is nil (NULL), int64, uint64 (BIGINT
	// UNSIGNED), float32 (FLOAT), float64 (DOUBLE), []byte (binary string,
	// BLOB, BIT) or string (every other type: text, DECIMAL, dates and times
	// in SQL form unless the DSN has parseTime=true, then time.Time).
	Columns []string
	Values  []any
}

// Get returns the value of the named column (nil, false when there is no
// such column).
func (m Message) Get(name string) (any, bool) {
	for i, c := range m.Columns {
		if c == name {
			return m.Values[i], true
		}
	}
	return nil, false
}

// Map returns the row as a map from column name to value.
func (m Message) Map() map[string]any {
	r := make(map[string]any, len(m.Columns))
	for i, c := range m.Columns {
		r[c] = m.Values[i]
	}
	return r
}

// Consumer consumes rows on one dedicated connection. It is not safe for
// concurrent use; run one Consumer per goroutine.
type Consumer struct {
	db   *sql.DB
	conn *sql.Conn
	id   int64 // the server's CONNECTION_ID() of conn

	inOwner bool     // the connection is in owner mode
	wasLost bool     // a lost connection was logged and not yet replaced
	owned   *Message // the owned row, nil when none

	// PollTimeout is the timeout of each queue_wait call (default 60 s);
	// Wait repeats the call until a row arrives or its context is done. A
	// context deadline shortens it.
	PollTimeout time.Duration
	// MinBackoff and MaxBackoff bound the pause between reconnection
	// attempts (defaults 100 ms and 5 s; it doubles after each failure).
	MinBackoff, MaxBackoff time.Duration
	// Logf, when set, receives one line per lost connection and one when it
	// is back.
	Logf func(format string, args ...any)
	// LogRemovals makes End (and Wait, for the row owned so far) remove the
	// owned row with the owner's DELETE before queue_end. queue_end and
	// queue_wait remove rows outside any statement, so the binary log does
	// not see them; a DELETE is logged (as a Delete_rows event of exactly
	// that row), so a replica removes the row too and, promoted, delivers
	// only the rows that were owned at the failover (docs/SCALING.md). The
	// server must log queue tables as rows: the connection refuses
	// binlog_format=STATEMENT, under which the logged "DELETE FROM t" would
	// empty the replica's table.
	LogRemovals bool
}

// NewConsumer returns a consumer that takes its connection from db (on the
// first Wait) and uses another connection of db to interrupt a wait whose
// context is cancelled.
func NewConsumer(db *sql.DB) *Consumer { return &Consumer{db: db} }

func (c *Consumer) logf(format string, args ...any) {
	if c.Logf != nil {
		c.Logf(format, args...)
	}
}

// RowID is the id of the owned row, 0 when none is owned.
func (c *Consumer) RowID() int64 {
	if c.owned == nil {
		return 0
	}
	return c.owned.RowID
}

// Owned returns the owned row, if any.
func (c *Consumer) Owned() (Message, bool) {
	if c.owned == nil {
		return Message{}, false
	}
	return *c.owned, true
}

// ConnectionID is the server's id of the consumer's connection (0 before the
// first Wait and after a lost connection).
func (c *Consumer) ConnectionID() int64 { return c.id }

// Wait finishes the row owned so far (queue_wait consumes it), then waits
// until one of specs has a row and returns it. specs are queue_wait's table
// specs, "[db.]table[:condition]", tried in order (the first has the highest
// priority).
//
// Wait blocks until a row arrives, an error occurs or ctx is done. A
// cancelled context interrupts the server-side wait at once (KILL QUERY on
// another connection); Wait then returns ctx.Err() and owns nothing. A lost
// connection is re-established with backoff; the row owned on it went back
// to the queue and will be delivered again.
func (c *Consumer) Wait(ctx context.Context, specs ...string) (Message, error) {
	if len(specs) == 0 {
		return Message{}, errors.New("client: Wait needs at least one table spec")
	}
	if c.LogRemovals && c.owned != nil {
		// queue_wait would remove it unlogged.
		if err := c.End(ctx); err != nil && !errors.Is(err, ErrConnLost) {
			return Message{}, err
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return Message{}, err
		}
		if err := c.connect(ctx); err != nil {
			return Message{}, err
		}
		idx, err := c.queueWait(ctx, specs)
		if err != nil {
			if IsConnLost(err) {
				c.lost(err)
				continue
			}
			c.inOwner, c.owned = false, nil
			if ctx.Err() != nil && IsInterrupted(err) {
				return Message{}, ctx.Err()
			}
			return Message{}, err
		}
		c.inOwner, c.owned = true, nil
		if idx == 0 {
			continue // timeout: owner mode without a row; ask again
		}
		if idx < 0 || idx > len(specs) {
			return Message{}, fmt.Errorf("client: queue_wait returned %d for %d specs", idx, len(specs))
		}
		m, ok, err := c.read(specs, idx)
		if err != nil {
			if IsConnLost(err) {
				c.lost(err)
				continue
			}
			return Message{}, err
		}
		if !ok {
			// The row queue_wait took is not there for this connection (a
			// DROP or TRUNCATE removed it). Give it back rather than let the
			// next queue_wait remove a row nobody read: at worst it is
			// delivered again.
			if err := c.Abort(ctx); err != nil {
				return Message{}, err
			}
			continue
		}
		c.owned = &m
		if ctx.Err() != nil {
			_ = c.Abort(context.Background())
			return Message{}, ctx.Err()
		}
		return m, nil
	}
}

// queueWait runs one queue_wait and returns its result; a NULL result is an
// error carrying the server's warning.
func (c *Consumer) queueWait(ctx context.Context, specs []string) (int, error) {
	timeout := c.PollTimeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	if dl, ok := ctx.Deadline(); ok {
		if r := time.Until(dl); r < timeout {
			timeout = r
		}
	}
	secs := int64((timeout + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	var b strings.Builder
	b.WriteString("SELECT queue_wait(")
	for _, s := range specs {
		b.WriteString(quoteString(s))
		b.WriteString(", ")
	}
	b.WriteString(strconv.FormatInt(secs, 10))
	b.WriteString(")")

	stop := c.watch(ctx)
	var v sql.NullInt64
	err := c.conn.QueryRowContext(context.WithoutCancel(ctx), b.String()).Scan(&v)
	stop()
	if err != nil {
		return 0, err
	}
	if !v.Valid {
		return 0, fmt.Errorf("client: queue_wait(%s) failed: %s", strings.Join(specs, ", "), c.warnings())
	}
	return int(v.Int64), nil
}

// watch interrupts the statement running on the consumer's connection when
// ctx is done, with KILL QUERY on another connection. The returned function
// ends the watch and returns once no KILL can be sent any more.
func (c *Consumer) watch(ctx context.Context) func() {
	if ctx.Done() == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	id := c.id
	go func() {
		defer wg.Done()
		select {
		case <-done:
		case <-ctx.Done():
			select {
			case <-done:
				return
			default:
			}
			kctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := c.db.ExecContext(kctx, "KILL QUERY "+strconv.FormatInt(id, 10)); err != nil {
				c.logf("client: KILL QUERY %d: %v", id, err)
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// read fetches the owned row: its id and its columns.
func (c *Consumer) read(specs []string, idx int) (Message, bool, error) {
	spec := specs[idx-1]
	m := Message{Index: idx, Spec: spec, Table: SpecTable(spec)}
	q := "SELECT queue_rowid(), q.* FROM " + QuoteIdent(m.Table) + " AS q"
	var ok bool
	err := retryInterrupted(func() error {
		var err error
		ok, err = readRow(c.conn, q, &m)
		return err
	})
	return m, ok, err
}

// readRow runs q, whose first column is the row id and the others the row.
func readRow(conn *sql.Conn, q string, m *Message) (bool, error) {
	rows, err := conn.QueryContext(context.Background(), q)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return false, err
	}
	if !rows.Next() {
		return false, rows.Err()
	}
	vals := make([]any, len(types))
	ptrs := make([]any, len(types))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return false, err
	}
	switch id := vals[0].(type) {
	case int64:
		m.RowID = id
	case uint64:
		m.RowID = int64(id)
	case nil:
		return false, nil
	default:
		return false, fmt.Errorf("client: queue_rowid() returned %T", vals[0])
	}
	m.Columns = make([]string, 0, len(types)-1)
	m.Values = make([]any, 0, len(types)-1)
	for i, t := range types[1:] {
		m.Columns = append(m.Columns, t.Name())
		m.Values = append(m.Values, convert(vals[i+1], t.DatabaseTypeName()))
	}
	return true, rows.Err()
}

// convert turns the driver's []byte into string for text types.
func convert(v any, typ string) any {
	b, ok := v.([]byte)
	if !ok {
		return v
	}
	switch typ {
	case "BINARY", "VARBINARY", "BLOB", "TINYBLOB", "MEDIUMBLOB", "LONGBLOB", "BIT", "GEOMETRY":
		return append([]byte{}, b...)
	}
	return string(b)
}

// warnings returns the connection's warnings as one line.
func (c *Consumer) warnings() string {
	rows, err := c.conn.QueryContext(context.Background(), "SHOW WARNINGS")
	if err != nil {
		return "(no warning: " + err.Error() + ")"
	}
	defer rows.Close()
	var msgs []string
	for rows.Next() {
		var level, msg string
		var code int
		if rows.Scan(&level, &code, &msg) == nil {
			msgs = append(msgs, msg)
		}
	}
	if len(msgs) == 0 {
		return "NULL result without a warning"
	}
	return strings.Join(msgs, "; ")
}

// retryInterrupted runs f again once if it was interrupted by a KILL QUERY
// that arrived after the statement it was meant for had finished.
func retryInterrupted(f func() error) error {
	err := f()
	if IsInterrupted(err) {
		err = f()
	}
	return err
}

// End consumes the owned row (if any) and leaves owner mode; ctx is not
// used to interrupt it (that would close the connection). When the
// connection is lost the result is unknown: the error wraps ErrConnLost and
// the row may be delivered again.
func (c *Consumer) End(ctx context.Context) error {
	if c.conn == nil || !c.inOwner {
		return nil
	}
	err := retryInterrupted(func() error {
		if c.LogRemovals && c.owned != nil {
			// In owner mode a DELETE removes exactly the owned row.
			res, err := c.conn.ExecContext(context.WithoutCancel(ctx),
				"DELETE FROM "+QuoteIdent(c.owned.Table))
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				// queue_end would remove the row unlogged: keep it owned.
				return &keptError{fmt.Errorf("client: the owner's DELETE removed %d rows instead of row %d; the row stays owned", n, c.owned.RowID)}
			}
		}
		_, err := c.conn.ExecContext(context.WithoutCancel(ctx), "SELECT queue_end()")
		return err
	})
	var kept *keptError
	if errors.As(err, &kept) {
		return kept.err
	}
	c.inOwner, c.owned = false, nil
	if err != nil {
		if IsConnLost(err) {
			c.lost(err)
			return fmt.Errorf("%w: queue_end: %v", ErrConnLost, err)
		}
		return err
	}
	return nil
}

// Abort gives the owned row back to the queue (it is delivered next) and
// leaves owner mode. A lost connection has given it back already.
func (c *Consumer) Abort(ctx context.Context) error {
	if c.conn == nil || !c.inOwner {
		return nil
	}
	err := retryInterrupted(func() error {
		_, err := c.conn.ExecContext(context.WithoutCancel(ctx), "SELECT queue_abort()")
		return err
	})
	c.inOwner, c.owned = false, nil
	if err != nil {
		if IsConnLost(err) {
			c.lost(err)
			return nil
		}
		return err
	}
	return nil
}

// Close ends the consumer's connection; an owned row goes back to the queue.
func (c *Consumer) Close() error {
	c.drop()
	return nil
}

// connect gets a connection, retrying with backoff while the server is
// unreachable.
func (c *Consumer) connect(ctx context.Context) error {
	if c.conn != nil {
		return nil
	}
	b := Backoff{Min: c.MinBackoff, Max: c.MaxBackoff}
	for attempt := 1; ; attempt++ {
		err := c.dial(ctx)
		if err == nil {
			c.wasLost = false
			if attempt > 1 {
				c.logf("client: connected again after %d attempts (connection %d)", attempt, c.id)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !IsConnLost(err) {
			return err
		}
		if attempt == 1 && !c.wasLost {
			c.logf("client: cannot connect, retrying: %v", err)
		}
		if err := b.Sleep(ctx); err != nil {
			return err
		}
	}
}

func (c *Consumer) dial(ctx context.Context) error {
	conn, err := c.db.Conn(ctx)
	if err != nil {
		return err
	}
	var id int64
	if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		discard(conn)
		return err
	}
	if c.LogRemovals {
		var format string
		if err := conn.QueryRowContext(ctx, "SELECT @@SESSION.binlog_format").Scan(&format); err != nil {
			discard(conn)
			return err
		}
		if strings.EqualFold(format, "STATEMENT") {
			_ = conn.Close()
			return errors.New("client: LogRemovals needs binlog_format MIXED or ROW, the connection has STATEMENT")
		}
	}
	c.conn, c.id = conn, id
	return nil
}

// lost notes a lost connection: the owned row went back to the queue.
func (c *Consumer) lost(err error) {
	if c.owned != nil {
		c.logf("client: connection %d lost (%v); row %d of %s goes back to the queue",
			c.id, err, c.owned.RowID, c.owned.Table)
	} else {
		c.logf("client: connection %d lost (%v)", c.id, err)
	}
	c.drop()
	c.wasLost = true
}

func (c *Consumer) drop() {
	if c.conn != nil {
		discard(c.conn)
	}
	c.conn, c.id, c.inOwner, c.owned = nil, 0, false, nil
}

// discard closes conn's underlying connection instead of returning it to
// the pool (where it would keep its owner mode and owned row).
func discard(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = conn.Close()
}

// Backoff is an exponential pause between retries.
type Backoff struct {
	Min, Max time.Duration
	cur      time.Duration
}

// Sleep pauses for the next interval (or until ctx is done).
func (b *Backoff) Sleep(ctx context.Context) error {
	if b.Min <= 0 {
		b.Min = 100 * time.Millisecond
	}
	if b.Max <= 0 {
		b.Max = 5 * time.Second
	}
	if b.cur == 0 {
		b.cur = b.Min
	} else if b.cur *= 2; b.cur > b.Max {
		b.cur = b.Max
	}
	t := time.NewTimer(b.cur)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Reset starts the intervals again at Min.
func (b *Backoff) Reset() { b.cur = 0 }

// keptError is an End that left the row owned (and the consumer's state).
type keptError struct{ err error }

func (e *keptError) Error() string { return e.err.Error() }
