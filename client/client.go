// Package client is a small Go client for the queue storage engine, on top of
// database/sql and github.com/go-sql-driver/mysql.
//
// A Consumer holds one dedicated connection and runs the consumer loop of
// docs/FUNCTIONS.md: Wait calls queue_wait (which first consumes the row
// owned so far), then reads the one owned row with SELECT * FROM the table
// that delivered it. End consumes the last row, Abort gives it back.
//
// Delivery is at least once. When the consumer's connection is lost (server
// restart, network, KILL CONNECTION) the row it owned goes back to the queue
// and will be delivered again, to this consumer after it reconnected or to
// another one; Wait reconnects with backoff and carries on. An application
// that must not act twice on a message deduplicates by its content, or
// relays it with queue_set_srcid (see cmd/queue-forward).
//
// A Producer batches rows into multi-row INSERT statements.
package client

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/go-sql-driver/mysql"
)

// Open opens a database handle for dsn (go-sql-driver's DSN form, e.g.
// "root@unix(/path/mysqld.sock)/test") with client-side interpolation of
// statement arguments, so a statement with arguments is one round trip.
func Open(dsn string) (*sql.DB, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	return OpenConfig(cfg)
}

// OpenConfig is Open for a parsed configuration (it is modified: argument
// interpolation is switched on).
func OpenConfig(cfg *mysql.Config) (*sql.DB, error) {
	cfg.InterpolateParams = true
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(conn), nil
}

// ErrConnLost wraps errors that mean the connection to the server is gone:
// whatever the connection owned went back to the queue.
var ErrConnLost = errors.New("connection to the server lost")

// IsConnLost reports whether err means the connection to the server is gone
// (or could not be made), as opposed to an error of the statement.
func IsConnLost(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrConnLost) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ENOENT) || errors.Is(err, sql.ErrConnDone) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1053, // server shutdown in progress
			1077,                                                 // normal shutdown
			1079,                                                 // shutdown complete
			1080,                                                 // forcing close of thread
			1152,                                                 // aborted connection
			1153, 1154, 1155, 1156, 1157, 1158, 1159, 1160, 1161, // network errors
			1927, // connection was killed
			2002, 2003, 2006, 2013, 2055:
			return true
		}
		return false
	}
	s := err.Error()
	for _, m := range []string{"invalid connection", "bad connection", "connection refused",
		"broken pipe", "connection reset", "no such file or directory"} {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}

// IsInterrupted reports whether err is the server's "Query execution was
// interrupted" (KILL QUERY).
func IsInterrupted(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1317
}

// QuoteIdent quotes a table name for SQL: "db.t" becomes `db`.`t` (split at
// the first dot, as queue_wait does), backquotes inside are doubled.
func QuoteIdent(name string) string {
	if i := strings.IndexByte(name, '.'); i >= 0 {
		return quoteOne(name[:i]) + "." + quoteOne(name[i+1:])
	}
	return quoteOne(name)
}

func quoteOne(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// quoteString makes an SQL string literal of s that means the same with and
// without NO_BACKSLASH_ESCAPES: plain '...' when s has no backslash and no
// control bytes, otherwise a hex literal.
func quoteString(s string) string {
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\\' || c < 0x20 || c == 0x7f {
			plain = false
			break
		}
	}
	if plain {
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	return fmt.Sprintf("X'%x'", s)
}

// SpecTable returns the table part of a queue_wait spec ("db.t:cond" gives
// "db.t"): the spec is split at the first colon.
func SpecTable(spec string) string {
	if i := strings.IndexByte(spec, ':'); i >= 0 {
		return spec[:i]
	}
	return spec
}
