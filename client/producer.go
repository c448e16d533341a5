package client

import (
	"context"
	"database/sql"
	"errors"
	"strings"
)

// Producer batches rows for one queue table into multi-row INSERT
// statements. Each Flush is one statement: its rows are durable together
// when it returns, or none of them is. It is not safe for concurrent use.
type Producer struct {
	db      *sql.DB
	table   string
	columns []string
	head    string // "INSERT INTO t (c1, c2) VALUES "
	tuple   string // "(?, ?)"

	// BatchSize is the number of rows after which Add flushes (default 100).
	BatchSize int

	rows int
	args []any
}

// NewProducer returns a producer inserting into table ("t" or "db.t") the
// given columns, in that order.
func NewProducer(db *sql.DB, table string, columns ...string) *Producer {
	q := make([]string, len(columns))
	marks := make([]string, len(columns))
	for i, c := range columns {
		q[i] = quoteOne(c)
		marks[i] = "?"
	}
	return &Producer{
		db: db, table: table, columns: columns,
		head:  "INSERT INTO " + QuoteIdent(table) + " (" + strings.Join(q, ", ") + ") VALUES ",
		tuple: "(" + strings.Join(marks, ", ") + ")",
	}
}

// Add queues one row (one value per column) and flushes when the batch is
// full.
func (p *Producer) Add(ctx context.Context, values ...any) error {
	if len(values) != len(p.columns) {
		return errors.New("client: Producer.Add: wrong number of values")
	}
	p.args = append(p.args, values...)
	p.rows++
	n := p.BatchSize
	if n <= 0 {
		n = 100
	}
	if p.rows >= n {
		return p.Flush(ctx)
	}
	return nil
}

// Pending is the number of rows added but not yet flushed.
func (p *Producer) Pending() int { return p.rows }

// Flush inserts the pending rows in one statement. On error the rows stay
// pending (a retry after a lost connection may insert them twice if the
// first statement was committed before the connection broke).
func (p *Producer) Flush(ctx context.Context) error {
	if p.rows == 0 {
		return nil
	}
	var b strings.Builder
	b.Grow(len(p.head) + p.rows*(len(p.tuple)+2))
	b.WriteString(p.head)
	for i := 0; i < p.rows; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p.tuple)
	}
	if _, err := p.db.ExecContext(ctx, b.String(), p.args...); err != nil {
		return err
	}
	p.rows, p.args = 0, p.args[:0]
	return nil
}
