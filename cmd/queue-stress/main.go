// Command queue-stress drives a running server with the queue engine
// (by default the sandbox: 127.0.0.1:3307, root, database test) with
// several producer and consumer connections and checks the delivery
// guarantees:
//
//   - without a crash every message is delivered exactly once and the table
//     ends empty;
//   - with -crash the server is killed with SIGKILL in the middle and
//     restarted; no acknowledged message may be lost (redelivery of rows
//     owned at the crash is allowed);
//   - with -txn producers and consumers work inside transactions that
//     commit or roll back (txn.go);
//   - with -orders an InnoDB table of orders and a queue table of their
//     messages are written and processed in transactions across repeated
//     kill -9 of the server (orders.go).
//
// -measure instead prints delivery latency and consume throughput beside
// the cost of plain SELECT 1 round trips on the same number of connections.
//
// Exit status 0 means every check passed.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/go-sql-driver/mysql"
)

type config struct {
	dsn        string
	table      string
	producers  int
	consumers  int
	messages   int
	timeout    time.Duration
	crash      bool
	pidFile    string
	restartCmd string
	verbose    bool
	// oneStatement consumes with SELECT id FROM t WHERE queue_wait(t, 1):
	// one statement per message instead of queue_wait then SELECT.
	oneStatement bool
	// txn runs producers and consumers inside transactions that commit or
	// roll back (txn.go).
	txn bool
}

func main() {
	var c config
	quick := flag.Bool("quick", false, "small bounded run for make test (< 1 minute)")
	measure := flag.Bool("measure", false, "measure latency and throughput instead of checking guarantees")
	samples := flag.Int("samples", 500, "-measure: latency samples")
	prefill := flag.Int("prefill", 4000, "-measure: rows consumed per throughput run")
	flag.StringVar(&c.dsn, "dsn", "root@tcp(127.0.0.1:3307)/test", "server DSN (go-sql-driver/mysql syntax)")
	flag.StringVar(&c.table, "table", "stress_queue", "queue table to create (dropped and recreated)")
	flag.IntVar(&c.producers, "producers", 4, "producer connections")
	flag.IntVar(&c.consumers, "consumers", 6, "consumer connections")
	flag.IntVar(&c.messages, "messages", 20000, "messages in total")
	flag.DurationVar(&c.timeout, "timeout", 3*time.Minute, "give up (and fail) after this long")
	flag.BoolVar(&c.crash, "crash", false, "kill -9 the server in the middle and restart it")
	flag.StringVar(&c.pidFile, "pidfile", "var/sandbox/mysqld.pid", "-crash: the server's pid file")
	flag.StringVar(&c.restartCmd, "restart", "scripts/sandbox.sh start", "-crash: shell command that starts the server again")
	flag.BoolVar(&c.verbose, "v", false, "progress output")
	flag.BoolVar(&c.oneStatement, "one-statement", false, "consume with SELECT id FROM t WHERE queue_wait('t', 1) (one statement per message)")
	flag.BoolVar(&c.txn, "txn", false, "insert and consume inside transactions that randomly commit or roll back, and check the transactional guarantees")
	orders := flag.Bool("orders", false, "orders (InnoDB) and their messages written and processed in transactions across -cycles kill -9 of the server; checks the tables after each restart")
	cycles := flag.Int("cycles", 5, "-orders: kill -9 cycles")
	flag.Parse()
	if *quick {
		c.producers, c.consumers, c.messages, c.timeout = 3, 4, 3000, 50*time.Second
	}
	if !c.verbose {
		// The driver logs every connection the crash breaks; the ledger
		// accounts for them.
		_ = mysql.SetLogger(log.New(io.Discard, "", 0))
	}
	if c.producers < 1 || c.consumers < 1 || c.messages < 1 {
		fmt.Fprintln(os.Stderr, "queue-stress: -producers, -consumers and -messages must be positive")
		os.Exit(2)
	}
	db, err := sql.Open("mysql", withParams(c.dsn))
	if err != nil {
		fmt.Fprintln(os.Stderr, "queue-stress:", err)
		os.Exit(2)
	}
	db.SetMaxIdleConns(64)
	defer db.Close()

	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	switch {
	case c.txn && c.crash:
		fmt.Fprintln(os.Stderr, "queue-stress: -txn does not combine with -crash (see make txn-crash-test)")
		os.Exit(2)
	case *orders:
		if *cycles < 1 {
			fmt.Fprintln(os.Stderr, "queue-stress: -cycles must be positive")
			os.Exit(2)
		}
		err = runOrders(ctx, db, c, *cycles)
	case *measure:
		err = runMeasure(ctx, db, c, *samples, *prefill)
	case c.txn:
		err = runTxnStress(ctx, db, c)
	default:
		err = runStress(ctx, db, c)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "queue-stress: FAIL:", err)
		os.Exit(1)
	}
}

// withParams adds the driver options the tool relies on: timeouts that let
// a queue_wait of a few seconds finish, and no client-side retries hidden
// from the ledger.
func withParams(dsn string) string {
	sep := "?"
	for _, ch := range dsn {
		if ch == '?' {
			sep = "&"
		}
	}
	return dsn + sep + "timeout=5s&readTimeout=30s&writeTimeout=30s"
}
