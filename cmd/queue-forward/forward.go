package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/queue-engine/queue/client"
)

// forwarder moves rows from the source table to the destination table,
// exactly once, with queue_set_srcid(sender, 'a', rowid) before each INSERT.
type forwarder struct {
	src, dst     endpoint
	spec         string // queue_wait's spec: the source table[:condition]
	srcDB, dstDB *sql.DB
	sender       int
	reset        bool // the next transfer uses mode 'w'
	log          *log.Logger
	stmtTimeout  time.Duration

	cons    *client.Consumer
	dstConn *sql.Conn

	insertCols string // the column list insertSQL was built for
	insertSQL  string

	// forwarded counts rows the destination acknowledged (a row offered
	// again after a failure, which the destination drops, counts again).
	forwarded atomic.Int64
}

func newForwarder(src, dst endpoint, cond string, sender int, reset bool, logger *log.Logger) (*forwarder, error) {
	// The destination drops a row at or below its mark for the slot, so
	// rows must reach it in source row id order. A connection of a
	// forwarder that was killed may still own a row (the server closes it
	// when it notices); an ordinary queue_wait would pass that row, and when
	// it came back it would be dropped as already received. In order,
	// queue_wait waits for it instead.
	if src.cfg.Params == nil {
		src.cfg.Params = map[string]string{}
	}
	src.cfg.Params["queue_wait_in_order"] = "1"
	srcDB, err := client.OpenConfig(src.cfg)
	if err != nil {
		return nil, err
	}
	dstDB, err := client.OpenConfig(dst.cfg)
	if err != nil {
		srcDB.Close()
		return nil, err
	}
	spec := src.table
	if cond != "" {
		spec += ":" + cond
	}
	f := &forwarder{src: src, dst: dst, spec: spec, srcDB: srcDB, dstDB: dstDB, sender: sender, reset: reset,
		log: logger, stmtTimeout: 60 * time.Second}
	f.cons = client.NewConsumer(srcDB)
	f.cons.Logf = func(format string, args ...any) {
		f.log.Printf("source: "+strings.TrimPrefix(format, "client: "), args...)
	}
	return f, nil
}

func (f *forwarder) close() {
	f.cons.Close()
	f.dropDst()
	f.srcDB.Close()
	f.dstDB.Close()
}

// run forwards until ctx is done (nil) or an error that retrying cannot
// cure (a missing table, columns that do not match). On return the source
// row is either consumed (it reached the destination) or given back.
func (f *forwarder) run(ctx context.Context) error {
	defer f.close()
	for {
		m, err := f.cons.Wait(ctx, f.spec)
		if ctx.Err() != nil {
			return nil // Wait owns nothing after a cancelled context
		}
		if err != nil {
			return fmt.Errorf("source: %v", err)
		}
		if err := f.deliver(ctx, m); err != nil {
			// Not delivered: give the row back at once.
			if aerr := f.cons.Abort(context.Background()); aerr != nil {
				f.log.Printf("source: queue_abort: %v", aerr)
			}
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("destination: row %d: %v", m.RowID, err)
		}
		if ctx.Err() != nil {
			// Delivered: consume it before leaving.
			if err := f.cons.End(context.Background()); err != nil {
				f.log.Printf("source: queue_end: %v (the row will be offered again and dropped as a duplicate)", err)
			}
			return nil
		}
		// The next Wait consumes the row on the source.
	}
}

// deliver inserts m at the destination, reconnecting while the destination
// is unreachable. It returns nil once the destination acknowledged the
// INSERT (or dropped it as already received).
func (f *forwarder) deliver(ctx context.Context, m client.Message) error {
	mode := "a"
	if f.reset {
		mode = "w"
	}
	b := client.Backoff{}
	down := false
	for {
		if err := f.connectDst(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !client.IsConnLost(err) {
				return err
			}
			if !down {
				f.log.Printf("destination %s unreachable, retrying: %v", f.dst, err)
				down = true
			}
			if err := b.Sleep(ctx); err != nil {
				return err
			}
			continue
		}
		err := f.insert(m, mode)
		if err == nil {
			if down {
				f.log.Printf("destination back, row %d delivered", m.RowID)
			}
			if f.reset {
				f.log.Printf("reset: relay mark of sender %d set to source row %d", f.sender, m.RowID)
				f.reset = false
			}
			f.forwarded.Add(1)
			return nil
		}
		// A statement that outlived stmtTimeout had its connection closed
		// by the driver: the same as a lost connection.
		if !client.IsConnLost(err) && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		f.dropDst()
		if !down {
			f.log.Printf("destination connection lost, retrying row %d: %v", m.RowID, err)
			down = true
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := b.Sleep(ctx); err != nil {
			return err
		}
	}
}

func (f *forwarder) connectDst(ctx context.Context) error {
	if f.dstConn != nil {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := f.dstDB.Conn(cctx)
	if err != nil {
		return err
	}
	if err := conn.PingContext(cctx); err != nil {
		conn.Close()
		return err
	}
	f.dstConn = conn
	return nil
}

func (f *forwarder) dropDst() {
	if f.dstConn != nil {
		// Not back to the pool: the next user must not inherit an armed mark.
		_ = f.dstConn.Raw(func(any) error { return driver.ErrBadConn })
		_ = f.dstConn.Close()
		f.dstConn = nil
	}
}

// insert arms the relay mark and inserts the row, on the one destination
// connection. A row the destination had already received is dropped there
// and reported as success all the same.
func (f *forwarder) insert(m client.Message, mode string) error {
	ctx, cancel := context.WithTimeout(context.Background(), f.stmtTimeout)
	defer cancel()
	var ok sql.NullInt64
	q := "SELECT queue_set_srcid(" + strconv.Itoa(f.sender) + ", '" + mode + "', " +
		strconv.FormatInt(m.RowID, 10) + ")"
	if err := f.dstConn.QueryRowContext(ctx, q).Scan(&ok); err != nil {
		return err
	}
	if !ok.Valid || ok.Int64 != 1 {
		return fmt.Errorf("%s returned NULL (is the function installed, the sender 0..63?)", q)
	}
	_, err := f.dstConn.ExecContext(ctx, f.insertStatement(m.Columns), insertArgs(m.Values)...)
	return err
}

// insertStatement is INSERT INTO dst (columns by name) VALUES (?, ...),
// built once per column list.
func (f *forwarder) insertStatement(cols []string) string {
	key := strings.Join(cols, "\x00")
	if key == f.insertCols && f.insertSQL != "" {
		return f.insertSQL
	}
	var b strings.Builder
	b.WriteString("INSERT INTO ")
	b.WriteString(client.QuoteIdent(f.dst.table))
	b.WriteString(" (")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("`" + strings.ReplaceAll(c, "`", "``") + "`")
	}
	b.WriteString(") VALUES (")
	for i := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("?")
	}
	b.WriteString(")")
	f.insertCols, f.insertSQL = key, b.String()
	return f.insertSQL
}

// insertArgs passes the values as the source sent them: numbers as
// numbers, FLOAT as its shortest text (a float64 would add digits), text as
// strings (converted by the server to the destination column's character
// set) and binary strings as binary.
func insertArgs(vals []any) []any {
	args := make([]any, len(vals))
	for i, v := range vals {
		if f, ok := v.(float32); ok {
			args[i] = strconv.FormatFloat(float64(f), 'g', -1, 32)
		} else {
			args[i] = v
		}
	}
	return args
}

// report logs the throughput every interval until ctx is done.
func (f *forwarder) report(ctx context.Context, every time.Duration) {
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	last, lastT := int64(0), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			n := f.forwarded.Load()
			d := now.Sub(lastT).Seconds()
			f.log.Printf("forwarded %d rows in %.1fs (%.0f rows/s); total %d", n-last, d, float64(n-last)/d, n)
			last, lastT = n, now
		}
	}
}
